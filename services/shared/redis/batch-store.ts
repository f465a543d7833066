import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import type { BatchRecord, OnCompleteTemplate } from '../batches/batch';
import type { JsonValue } from '../task';
import { BATCH_ADMIT_LUA, BATCH_SEAL_LUA, BATCH_WITHDRAW_LUA } from './batch-script';
import { connectRedis } from './connect';
import { hsetIfPresent } from './hset-if-present';
import { RedisKeys } from './keys';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    batchCreate(...keysAndArgs: (string | number)[]): Result<number, Context>;
    batchAdmit(...keysAndArgs: (string | number)[]): Result<[string, string[]], Context>;
    batchWithdraw(...keysAndArgs: (string | number)[]): Result<number, Context>;
    batchSeal(...keysAndArgs: (string | number)[]): Result<[number, number], Context>;
  }
}

/**
 * Creates a batch unless it exists (a retried parent's spawn makes the same batch again):
 * KEYS [1] batch hash [2] open-batches counter; ARGV [1] ttl seconds [2..] field/value pairs.
 */
const CREATE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[2])
return 1
`;

export interface NewBatch {
  id: string;
  tenant: string;
  callbackUrl?: string;
  onComplete?: OnCompleteTemplate;
  metadata?: JsonValue;
  parent?: string;
  parentCallbackUrl?: string;
}

/** Why a batch took no children. */
export type AdmitRefusal = 'missing' | 'sealed' | 'cancelled' | 'tenant';

export class BatchAdmitRefused extends Error {
  constructor(readonly reason: AdmitRefusal) {
    super(`batch refused children: ${reason}`);
    this.name = 'BatchAdmitRefused';
  }
}

export interface RedisBatchStoreOptions {
  url: string;
  queue: string;
  /** How long a batch lives after its creation or its last admitted children (TASK_TTL_SECONDS). */
  ttlSeconds: number;
}

/** Where batches live: the one owner of their Redis keys outside the transition script. */
export class RedisBatchStore {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private closing?: Promise<void>;

  constructor(private readonly options: RedisBatchStoreOptions) {
    this.keys = new RedisKeys(options.queue);
    this.redis = connectRedis(options.url);
    this.redis.defineCommand('batchCreate', { lua: CREATE_LUA, numberOfKeys: 2 });
    this.redis.defineCommand('batchAdmit', { lua: BATCH_ADMIT_LUA, numberOfKeys: 2 });
    this.redis.defineCommand('batchWithdraw', { lua: BATCH_WITHDRAW_LUA, numberOfKeys: 2 });
    this.redis.defineCommand('batchSeal', { lua: BATCH_SEAL_LUA, numberOfKeys: 1 });
  }

  /** Resolves false when a batch with this id existed already (and leaves it as it was). */
  async create(batch: NewBatch, at = new Date()): Promise<boolean> {
    const fields: (string | number)[] = [
      'tenant',
      batch.tenant,
      'createdAt',
      at.getTime(),
      'total',
      0,
      'done',
      0,
    ];
    if (batch.callbackUrl !== undefined) fields.push('callbackUrl', batch.callbackUrl);
    if (batch.onComplete !== undefined) fields.push('onComplete', JSON.stringify(batch.onComplete));
    if (batch.metadata !== undefined) fields.push('metadata', JSON.stringify(batch.metadata));
    if (batch.parent !== undefined) fields.push('parent', batch.parent);
    if (batch.parentCallbackUrl !== undefined) fields.push('parentCallbackUrl', batch.parentCallbackUrl);
    const created = await this.redis.batchCreate(
      this.keys.batch(batch.id),
      this.keys.batchesOpen(),
      this.options.ttlSeconds,
      ...fields,
    );
    return created === 1;
  }

  /**
   * Counts children into an open batch of `tenant` before they are published (so none can finish
   * uncounted). Resolves the ids that were new (the others were counted before); throws
   * BatchAdmitRefused.
   */
  async admit(id: string, tenant: string, childIds: string[]): Promise<string[]> {
    const [outcome, added] = await this.redis.batchAdmit(
      this.keys.batch(id),
      this.keys.batchMembers(id),
      tenant,
      this.options.ttlSeconds,
      ...childIds,
    );
    if (outcome !== 'ok') throw new BatchAdmitRefused(outcome as AdmitRefusal);
    return added;
  }

  /** Uncounts children whose submission failed (Kafka never got them). */
  async withdraw(id: string, childIds: string[]): Promise<void> {
    if (childIds.length === 0) return;
    await this.redis.batchWithdraw(
      this.keys.batch(id),
      this.keys.batchMembers(id),
      this.keys.prefix,
      id,
      ...childIds,
    );
  }

  /**
   * Seals the batch (and with `cancel`, marks it cancelled). Resolves undefined when it does not
   * exist; `completed` when this call completed it (every child was terminal already).
   */
  async seal(id: string, options: { cancel?: boolean } = {}): Promise<{ completed: boolean } | undefined> {
    const [sealed, completed] = await this.redis.batchSeal(
      this.keys.batch(id),
      this.keys.prefix,
      id,
      options.cancel ? '1' : '0',
    );
    return sealed < 0 ? undefined : { completed: completed === 1 };
  }

  async get(id: string): Promise<BatchRecord | undefined> {
    const hash = await this.redis.hgetall(this.keys.batch(id));
    return hash.tenant === undefined ? undefined : toBatch(id, hash);
  }

  /** A page of the children that failed or were cancelled, oldest first; `next` resumes after it. */
  async unsuccessful(id: string, after: number, limit: number): Promise<{ ids: string[]; next?: number }> {
    const ids = await this.redis.zrange(this.keys.batchUnsuccessful(id), after, after + limit);
    return ids.length > limit ? { ids: ids.slice(0, limit), next: after + limit } : { ids };
  }

  /** Every child id, in pages (SSCAN: a member added meanwhile may be missed, none is repeated twice in a page). */
  async *children(id: string, pageSize = 500): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, ids] = await this.redis.sscan(this.keys.batchMembers(id), cursor, 'COUNT', pageSize);
      cursor = next;
      if (ids.length > 0) yield ids;
    } while (cursor !== '0');
  }

  /** Stores how the completion callback went; ignored once the batch is gone. */
  async recordCallback(id: string, outcome: JsonValue): Promise<void> {
    await hsetIfPresent(this.redis, this.keys.batch(id), 'callback', JSON.stringify(outcome));
  }

  /** Batches created and not completed (expired ones stay counted: see batchesOpen). */
  async openCount(): Promise<number> {
    return Math.max(0, Number((await this.redis.get(this.keys.batchesOpen())) ?? 0));
  }

  close(): Promise<void> {
    this.closing ??= this.redis.quit().then(
      () => undefined,
      () => this.redis.disconnect(),
    );
    return this.closing;
  }
}

function toBatch(id: string, hash: Record<string, string>): BatchRecord {
  const date = (field: string) => (hash[field] ? new Date(Number(hash[field])) : undefined);
  const json = (field: string) => (hash[field] ? (JSON.parse(hash[field]) as JsonValue) : undefined);
  const batch: BatchRecord = {
    id,
    tenant: hash.tenant!,
    createdAt: date('createdAt') ?? new Date(0),
    total: Number(hash.total ?? 0),
    succeeded: Number(hash.succeeded ?? 0),
    failed: Number(hash.failed ?? 0),
    cancelled: Number(hash.cancelled ?? 0),
  };
  const optional = {
    sealedAt: date('sealedAt'),
    finishedAt: date('finishedAt'),
    cancelledAt: date('cancelledAt'),
    callbackUrl: hash.callbackUrl,
    onComplete: json('onComplete'),
    metadata: json('metadata'),
    parent: hash.parent,
    parentCallbackUrl: hash.parentCallbackUrl,
    callback: json('callback'),
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) Object.assign(batch, { [key]: value });
  }
  return batch;
}
