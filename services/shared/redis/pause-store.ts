import type Redis from 'ioredis';
import { connectRedis } from './connect';
import { RedisKeys } from './keys';

/**
 * What is paused now: the whole queue, task types, or both. The two are independent scopes:
 * resuming the queue leaves paused types paused, and the other way round.
 */
export interface PauseState {
  /** When the whole queue was paused (epoch ms); undefined: it is not. */
  queue?: number;
  /** Paused task types → when each was paused (epoch ms). */
  types: ReadonlyMap<string, number>;
}

/** Which scope a pause or resume applies to: the queue (no type), or one task type. */
export interface PauseScope {
  type?: string;
}

export const NOTHING_PAUSED: PauseState = Object.freeze({ types: new Map() });

/** True when anything at all is paused (the autoscaler is paused with it: pause-routes). */
export function anythingPaused(state: PauseState): boolean {
  return state.queue !== undefined || state.types.size > 0;
}

/** True when a task of `type` must not start: the queue or its type is paused. */
export function holdsType(state: PauseState, type: string): boolean {
  return state.queue !== undefined || state.types.has(type);
}

export interface PauseStore {
  read(): Promise<PauseState>;
  /** Pauses the scope (a no-op when it is paused already: its first pause time stays) and tells the workers. */
  pause(scope: PauseScope): Promise<PauseState>;
  /** Lifts the scope's pause (a no-op when it is not paused) and tells the workers. */
  resume(scope: PauseScope): Promise<PauseState>;
  /**
   * Calls `onChange` whenever the paused scopes may have changed: an announcement, and every
   * reconnection of the subscriber (announcements made while it was away are lost). The caller
   * reads the state again; the message carries none, so late or repeated ones cannot mislead.
   */
  watch(onChange: () => void): Promise<void>;
  close(): Promise<void>;
}

const QUEUE_FIELD = 'queue';
const TYPE_PREFIX = 'type:';

/**
 * The one owner of the pause state in Redis: a hash of paused scopes (keys.paused()), and an
 * announcement on keys.pauseChannel() after every change so that workers react within
 * milliseconds instead of a polling interval. The hash is the truth; workers read it at start
 * and after every announcement or reconnection.
 */
export class RedisPauseStore implements PauseStore {
  private readonly keys: RedisKeys;
  private readonly redis: Redis;
  private subscriber?: Redis;

  constructor(
    private readonly url: string,
    queue: string,
  ) {
    this.keys = new RedisKeys(queue);
    this.redis = connectRedis(url);
  }

  async read(): Promise<PauseState> {
    return parse(await this.redis.hgetall(this.keys.paused()));
  }

  async pause(scope: PauseScope): Promise<PauseState> {
    await this.redis.hsetnx(this.keys.paused(), fieldOf(scope), String(Date.now()));
    return this.announce();
  }

  async resume(scope: PauseScope): Promise<PauseState> {
    await this.redis.hdel(this.keys.paused(), fieldOf(scope));
    return this.announce();
  }

  async watch(onChange: () => void): Promise<void> {
    // Its own connection: a subscribed connection can run nothing else. No command timeout: it
    // is idle by design. ioredis subscribes again after a reconnect; 'ready' follows it.
    const subscriber = connectRedis(this.url, 0);
    this.subscriber = subscriber;
    subscriber.on('message', () => onChange());
    let connectedOnce = false;
    subscriber.on('ready', () => {
      if (connectedOnce) onChange();
      connectedOnce = true;
    });
    await subscriber.subscribe(this.keys.pauseChannel());
  }

  async close(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Tells the workers, then answers with the state as it is after the change. */
  private async announce(): Promise<PauseState> {
    await this.redis.publish(this.keys.pauseChannel(), 'changed');
    return this.read();
  }
}

function fieldOf({ type }: PauseScope): string {
  return type === undefined ? QUEUE_FIELD : `${TYPE_PREFIX}${type}`;
}

function parse(hash: Record<string, string>): PauseState {
  const types = new Map<string, number>();
  let queue: number | undefined;
  for (const [field, at] of Object.entries(hash)) {
    if (field === QUEUE_FIELD) queue = Number(at);
    else if (field.startsWith(TYPE_PREFIX)) types.set(field.slice(TYPE_PREFIX.length), Number(at));
  }
  return { ...(queue !== undefined && { queue }), types };
}
