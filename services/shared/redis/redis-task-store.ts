import Redis, { type Result } from 'ioredis';
import { TASK_STATUSES, type TaskRecord, type TaskStatus } from '../task';
import { withTimeout } from '../timeout';
import { RedisKeys } from './keys';
import type { TaskStore, Transition, TransitionOutcome } from './task-store';
import { TRANSITION_LUA } from './transition-script';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Defined in RedisTaskStore's constructor from TRANSITION_LUA. */
    transition(key: string, ...args: (string | number)[]): Result<[number, string?], Context>;
  }
}

/** Orders statuses within one attempt; see Transition. */
const PHASE: Record<TaskStatus, number> = {
  queued: 0,
  scheduled: 0,
  running: 1,
  retrying: 2,
  succeeded: 3,
  failed: 3,
  cancelled: 3,
};

export interface RedisTaskStoreOptions {
  url: string;
  queue: string;
  ttlSeconds: number;
  /** How long ping() waits before calling Redis unreachable. */
  pingTimeoutMs?: number;
}

export class RedisTaskStore implements TaskStore {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private closing?: Promise<void>;

  constructor(private readonly options: RedisTaskStoreOptions) {
    this.keys = new RedisKeys(options.queue);
    // lazyConnect: constructing a store must not open sockets (createApp/createWorker stay pure).
    this.redis = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
    this.redis.defineCommand('transition', { numberOfKeys: 1, lua: TRANSITION_LUA });
    // ioredis reconnects by itself; without a listener an 'error' event would crash the process.
    this.redis.on('error', () => undefined);
  }

  async transition(change: Transition): Promise<TransitionOutcome> {
    const [outcome] = await this.transitionMany([change]);
    return outcome!;
  }

  async transitionMany(changes: Transition[]): Promise<TransitionOutcome[]> {
    const pipeline = this.redis.pipeline();
    for (const change of changes)
      pipeline.transition(this.keys.task(change.id), ...this.transitionArgs(change));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, reply]) => {
      if (err) throw err;
      const [applied, current] = reply as [number, string?];
      return applied === 1 ? { applied: true } : { applied: false, current: current as TaskStatus };
    });
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const hash = await this.redis.hgetall(this.keys.task(id));
    return hash.status ? toRecord(id, hash) : undefined;
  }

  async ping(): Promise<void> {
    await withTimeout(this.redis.ping(), this.options.pingTimeoutMs ?? 1000, 'redis ping');
  }

  close(): Promise<void> {
    this.closing ??= this.redis.quit().then(
      () => undefined,
      () => this.redis.disconnect(),
    );
    return this.closing;
  }

  private transitionArgs(change: Transition): (string | number)[] {
    const fields: (string | number)[] = [];
    const at = change.at.getTime();
    if (change.status === 'running') fields.push('startedAt', at);
    if (PHASE[change.status] === 3) fields.push('finishedAt', at);
    if (change.result !== undefined) fields.push('result', JSON.stringify(change.result));
    if (change.error !== undefined) fields.push('error', JSON.stringify(change.error));
    return [
      change.status,
      change.attempt,
      PHASE[change.status],
      this.options.ttlSeconds,
      change.type,
      change.createdAt.getTime(),
      ...fields,
    ];
  }
}

function toRecord(id: string, hash: Record<string, string>): TaskRecord {
  const date = (field: string) => (hash[field] ? new Date(Number(hash[field])) : undefined);
  const json = (field: string) => (hash[field] ? JSON.parse(hash[field]) : undefined);
  const status = hash.status as TaskStatus;
  if (!TASK_STATUSES.includes(status)) throw new Error(`task ${id} has an unknown status "${status}"`);
  const record: TaskRecord = {
    id,
    type: hash.type ?? '',
    status,
    attempts: Number(hash.attempts ?? 0),
    createdAt: date('createdAt') ?? new Date(0),
  };
  const optional = {
    startedAt: date('startedAt'),
    finishedAt: date('finishedAt'),
    result: json('result'),
    error: json('error'),
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) Object.assign(record, { [key]: value });
  }
  return record;
}
