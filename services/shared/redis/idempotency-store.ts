import type Redis from 'ioredis';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';
import type { JsonValue } from '../task';

/** What a request with an Idempotency-Key finds when it begins. */
export type IdempotencyBegin =
  | { state: 'new' }
  /** Another request with this key is still running. */
  | { state: 'pending' }
  /** This key was used with a different request. */
  | { state: 'mismatch' }
  | { state: 'done'; status: number; body: JsonValue };

interface Stored {
  fingerprint: string;
  status?: number;
  body?: JsonValue;
}

/**
 * Remembers the response to each Idempotency-Key. A key is claimed with SET NX before the work
 * runs, so two concurrent requests with one key cannot both create tasks.
 */
export class IdempotencyStore {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;

  constructor(
    url: string,
    queue: string,
    private readonly ttlSeconds: number,
    /** How long a claim lasts if its request dies before completing: it must outlive the request. */
    private readonly pendingTtlSeconds: number,
  ) {
    this.redis = connectRedis(url);
    this.keys = new RedisKeys(queue);
  }

  async begin(scope: string, clientKey: string, fingerprint: string): Promise<IdempotencyBegin> {
    const key = this.keys.idempotency(scope, clientKey);
    const claim: Stored = { fingerprint };
    const claimed = await this.redis.set(key, JSON.stringify(claim), 'EX', this.pendingTtlSeconds, 'NX');
    if (claimed === 'OK') return { state: 'new' };
    const raw = await this.redis.get(key);
    if (raw === null) return this.begin(scope, clientKey, fingerprint); // expired between the two calls
    const stored = JSON.parse(raw) as Stored;
    if (stored.fingerprint !== fingerprint) return { state: 'mismatch' };
    if (stored.status === undefined) return { state: 'pending' };
    return { state: 'done', status: stored.status, body: stored.body ?? null };
  }

  async complete(scope: string, clientKey: string, fingerprint: string, status: number, body: JsonValue) {
    const stored: Stored = { fingerprint, status, body };
    await this.redis.set(
      this.keys.idempotency(scope, clientKey),
      JSON.stringify(stored),
      'EX',
      this.ttlSeconds,
    );
  }

  /** Releases a claim whose request created nothing, so a retry may run. */
  async abandon(scope: string, clientKey: string): Promise<void> {
    await this.redis.del(this.keys.idempotency(scope, clientKey));
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
