import { isLane, isPriority } from '../lanes/priority';
import Redis, { type Result } from 'ioredis';
import { TASK_STATUSES, TERMINAL_STATUSES, type JsonValue, type TaskRecord, type TaskStatus } from '../task';
import { withTimeout } from '../timeout';
import { RedisKeys } from './keys';
import type { Claim, TaskStore, TaskTotals, Transition, TransitionOutcome } from './task-store';
import { CLAIM_LUA, TRANSITION_LUA } from './transition-script';
import { connectRedis } from './connect';
import { hsetIfPresent } from './hset-if-present';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Defined in RedisTaskStore's constructor from TRANSITION_LUA; the first argument is the key count. */
    applyTransitions(...keysAndArgs: (string | number)[]): Result<(number | string)[], Context>;
    /** Defined from CLAIM_LUA: task key, claimant, attempt, claim length in ms. */
    claimAttempt(key: string, claimant: string, attempt: number, ms: number): Result<number, Context>;
  }
}

/**
 * Orders statuses within one attempt; see Transition. `queued` outranks `scheduled`: the
 * scheduler's release of a short delay may land before the API's own `scheduled` write.
 */
export const STATUS_PHASE: Readonly<Record<TaskStatus, number>> = {
  scheduled: 0,
  queued: 1,
  running: 2,
  retrying: 3,
  'waiting-children': 3,
  succeeded: 4,
  failed: 4,
  cancelled: 4,
};

/**
 * Most transitions sent in one script call; a call goes out as soon as it is full. Small calls
 * keep several in flight, so Redis and this process work at once:
 * - one call of 100 per turn made a worker wait for each whole call's reply (draining ran at
 *   3.8k tasks/s, against 4.9-5.4k with calls of 8, on the bench's machine);
 * - sending the full calls only when the turn ended still put a draining worker in lock step
 *   with Redis (about 32 transitions per turn, then nothing to do until they came back). Sending
 *   each as it fills lets Redis start on it while the worker handles the rest of the replies:
 *   11.7-12.8k tasks/s where it had 10.5-11.1k, and a `running` write's p50 round trip of
 *   0.53 ms where it had 0.84 ms, with the same CPU per task.
 * A call holds Redis for all of its transitions, about 20 µs each.
 */
export const MAX_TRANSITIONS_PER_CALL = 8;

interface QueuedTransition {
  /** The task hash's key. */
  key: string;
  /** The transition's own arguments (see transition-script.ts). */
  args: (string | number)[];
  resolve(reply: [number, string]): void;
  reject(err: unknown): void;
}

export interface RedisTaskStoreOptions {
  url: string;
  queue: string;
  /** How long an unfinished task's record lives after its last change. */
  ttlSeconds: number;
  /** How long a finished one's lives (default ttlSeconds): results are most of Redis' memory. */
  finishedTtlSeconds?: number;
  /** How long one command may take before it fails (default 2000): callers must not hang on a dead Redis. */
  commandTimeoutMs?: number;
  /**
   * Keep the listing indexes, totals and live events (index-script.ts; TASK_INDEXES, default
   * true). Every process writing a queue's records must agree, or the indexes miss changes.
   */
  indexing?: boolean;
}

export class RedisTaskStore implements TaskStore {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  /** Transitions not sent yet: fewer than a full call, sent when this turn of the event loop ends. */
  private queued: QueuedTransition[] = [];
  private sendScheduled = false;
  private closing?: Promise<void>;

  constructor(private readonly options: RedisTaskStoreOptions) {
    this.keys = new RedisKeys(options.queue);
    this.redis = connectRedis(options.url, options.commandTimeoutMs);
    this.redis.defineCommand('applyTransitions', { lua: TRANSITION_LUA });
    this.redis.defineCommand('claimAttempt', { lua: CLAIM_LUA, numberOfKeys: 1 });
  }

  /**
   * Transitions go to Redis together, in script calls of up to MAX_TRANSITIONS_PER_CALL,
   * applied in the order asked: a worker's "succeeded" for one task and "running" for the next,
   * or the records of a batch, share one command and one socket write (one write per
   * transition was a quarter of a draining worker's time). A call is sent once it is full, the
   * rest when this turn of the event loop ends.
   */
  async transition(change: Transition): Promise<TransitionOutcome> {
    const key = this.keys.task(change.id);
    const args = this.transitionArgs(change);
    const reply = await new Promise<[number, string]>((resolve, reject) => {
      this.queued.push({ key, args, resolve, reject });
      if (this.queued.length >= MAX_TRANSITIONS_PER_CALL) this.sendQueued();
      else if (!this.sendScheduled) {
        this.sendScheduled = true;
        process.nextTick(() => {
          this.sendScheduled = false;
          this.sendQueued();
        });
      }
    });
    return toOutcome(reply);
  }

  /** Applied in order; sent with the other transitions of this turn. */
  transitionMany(changes: Transition[]): Promise<TransitionOutcome[]> {
    return Promise.all(changes.map((change) => this.transition(change)));
  }

  /**
   * The key count, keys and arguments of the one TRANSITION_LUA call this store would send for
   * `changes` (at most MAX_TRANSITIONS_PER_CALL), built without touching Redis: for tools that
   * run the script themselves (the bench's redis-benchmark runs), so they keep its layout.
   */
  callArgs(changes: Transition[]): (string | number)[] {
    const unused = () => undefined;
    return this.manyArgs(
      changes.map((change) => ({
        key: this.keys.task(change.id),
        args: this.transitionArgs(change),
        resolve: unused,
        reject: unused,
      })),
    );
  }

  /** Sends what is queued as one call: never more than MAX_TRANSITIONS_PER_CALL (see transition). */
  private sendQueued(): void {
    const call = this.queued;
    if (call.length === 0) return;
    this.queued = [];
    this.redis
      .applyTransitions(...this.manyArgs(call))
      .then(pairs)
      .then(
        (replies) => call.forEach((t, i) => t.resolve(replies[i]!)),
        (err: unknown) => call.forEach((t) => t.reject(err)),
      );
  }

  async cancel(id: string, at: Date): Promise<TransitionOutcome> {
    const outcome = await this.transition({
      id,
      type: '',
      createdAt: at,
      status: 'cancelled',
      attempt: -1,
      at,
    });
    if (outcome.applied && (outcome.previous === 'running' || outcome.previous === 'retrying')) {
      // A handler may be running somewhere: tell every worker of the queue (they listen on this channel).
      await this.redis.publish(this.keys.cancelChannel(), id);
    }
    return outcome;
  }

  async claim(id: string, attempt: number, claim: Claim): Promise<boolean> {
    return (await this.redis.claimAttempt(this.keys.task(id), claim.claimant, attempt, claim.ms)) === 1;
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const hash = await this.redis.hgetall(this.keys.task(id));
    return hash.status ? toRecord(id, hash) : undefined;
  }

  async progress(id: string, value: JsonValue): Promise<void> {
    await hsetIfPresent(this.redis, this.keys.task(id), 'progress', JSON.stringify(value));
  }

  async recordCallback(id: string, outcome: JsonValue): Promise<void> {
    await hsetIfPresent(this.redis, this.keys.task(id), 'callback', JSON.stringify(outcome));
  }

  async counts(): Promise<Record<TaskStatus, number>> {
    const hash = await this.redis.hgetall(this.keys.counts());
    return Object.fromEntries(TASK_STATUSES.map((s) => [s, Math.max(0, Number(hash[s] ?? 0))])) as Record<
      TaskStatus,
      number
    >;
  }

  async countsAndTotals(): Promise<{ counts: Record<TaskStatus, number>; totals: TaskTotals }> {
    const [counts, started] = await Promise.all([
      this.counts(),
      this.redis.hget(this.keys.totals(), 'started'),
    ]);
    const totals = {
      // Each task is in exactly one status of the counts hash, and finished ones stay counted.
      submitted: Object.values(counts).reduce((sum, n) => sum + n, 0),
      started: Math.max(0, Number(started ?? 0)),
      succeeded: counts.succeeded,
      failed: counts.failed,
      cancelled: counts.cancelled,
    };
    return { counts, totals };
  }

  async openTasks(tenant: string): Promise<number> {
    return Math.max(0, Number((await this.redis.hget(this.keys.openByTenant(), tenant)) ?? 0));
  }

  async openTasksByTenant(): Promise<Map<string, number>> {
    const hash = await this.redis.hgetall(this.keys.openByTenant());
    return new Map(Object.entries(hash).map(([tenant, n]) => [tenant, Math.max(0, Number(n))]));
  }

  async oldestWaitingSince(): Promise<Date | undefined> {
    const [, score] = await this.redis.zrange(this.keys.waiting(), 0, 0, 'WITHSCORES');
    return score === undefined ? undefined : new Date(Number(score));
  }

  async memoryUse(): Promise<{ usedBytes: number; maxBytes: number }> {
    const info = await this.redis.info('memory');
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    return { usedBytes: field('used_memory'), maxBytes: field('maxmemory') };
  }

  async ping(): Promise<void> {
    await withTimeout(this.redis.ping(), this.options.commandTimeoutMs ?? 2000, 'redis ping');
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
    if (TERMINAL_STATUSES.has(change.status)) fields.push('finishedAt', at);
    if (change.runAt) fields.push('runAt', change.runAt.getTime());
    if (change.result !== undefined) fields.push('result', JSON.stringify(change.result));
    if (change.error !== undefined) fields.push('error', JSON.stringify(change.error));
    if (change.history !== undefined) fields.push('history', JSON.stringify(change.history));
    if (change.priority !== undefined) fields.push('priority', change.priority);
    if (change.lane !== undefined) fields.push('lane', change.lane);
    // The Redis key of the key's open tasks, which the transition script updates when it finishes.
    if (change.pin !== undefined) fields.push('pin', this.keys.pinnedTasks(change.pin));
    if (change.batch !== undefined) fields.push('batch', change.batch);
    if (change.children !== undefined) fields.push('children', change.children);
    if (change.schedule !== undefined) fields.push('schedule', change.schedule);
    if (change.key !== undefined) fields.push('key', change.key);
    if (change.spec !== undefined) fields.push('spec', JSON.stringify(change.spec));
    if (change.replayOf !== undefined) fields.push('replayOf', change.replayOf);
    return [
      change.id,
      change.status,
      change.attempt,
      STATUS_PHASE[change.status],
      TERMINAL_STATUSES.has(change.status)
        ? (this.options.finishedTtlSeconds ?? this.options.ttlSeconds)
        : this.options.ttlSeconds,
      change.type,
      change.createdAt.getTime(),
      this.keys.finishedChannel(change.id),
      change.status === 'queued' ? at : '',
      change.claim?.claimant ?? '',
      change.claim?.ms ?? 0,
      change.tenant ?? '',
      ...fields,
    ];
  }

  /** TRANSITION_LUA's key count, keys and arguments for the transitions of one call. */
  private manyArgs(call: QueuedTransition[]): (string | number)[] {
    const out: (string | number)[] = [
      call.length + 3,
      this.keys.counts(),
      this.keys.waiting(),
      this.keys.openByTenant(),
    ];
    for (const t of call) out.push(t.key);
    out.push(this.options.indexing === false ? '0' : '1');
    for (const t of call) out.push(t.args.length, ...t.args);
    return out;
  }
}

function pairs(flat: (number | string)[]): [number, string][] {
  const out: [number, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([Number(flat[i]), String(flat[i + 1])]);
  return out;
}

function toOutcome([applied, status]: [number, string]): TransitionOutcome {
  if (applied === 2) return { applied: false, current: status as TaskStatus, heldElsewhere: true };
  const known = status === '' ? {} : { [applied === 1 ? 'previous' : 'current']: status as TaskStatus };
  return { applied: applied === 1, ...known } as TransitionOutcome;
}

function toRecord(id: string, hash: Record<string, string>): TaskRecord {
  const date = (field: string) => (hash[field] ? new Date(Number(hash[field])) : undefined);
  const json = (field: string) => (hash[field] ? JSON.parse(hash[field]) : undefined);
  const status = hash.status as TaskStatus;
  if (!TASK_STATUSES.includes(status)) throw new Error(`task ${id} has an unknown status "${status}"`);
  const record: TaskRecord = {
    id,
    type: hash.type ?? '',
    ...(hash.tenant !== undefined && { tenant: hash.tenant }),
    ...(isPriority(hash.priority) && { priority: hash.priority }),
    ...(isLane(hash.lane) && { lane: hash.lane }),
    ...(hash.batch !== undefined && { batch: hash.batch }),
    ...(hash.children !== undefined && { children: hash.children }),
    ...(hash.schedule !== undefined && { schedule: hash.schedule }),
    ...(hash.key !== undefined && { key: hash.key }),
    ...(hash.replayOf !== undefined && { replayOf: hash.replayOf }),
    status,
    attempts: Number(hash.attempts ?? 0),
    createdAt: date('createdAt') ?? new Date(0),
  };
  const optional = {
    startedAt: date('startedAt'),
    finishedAt: date('finishedAt'),
    runAt: date('runAt'),
    result: json('result'),
    error: json('error'),
    progress: json('progress'),
    history: json('history'),
    callback: json('callback'),
    spec: json('spec'),
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) Object.assign(record, { [key]: value });
  }
  return record;
}
