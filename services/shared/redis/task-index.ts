import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import { isPriority, DEFAULT_PRIORITY, type TaskPriority } from '../lanes/priority';
import type { TaskError, TaskStatus } from '../task';
import { DEFAULT_TENANT } from '../tenancy/tenant';
import { connectRedis } from './connect';
import { INDEXED_STATUSES } from './index-script';
import { RedisKeys } from './keys';
import { LISTED_FIELDS, SEARCH_LUA, SWEEP_LUA } from './task-search-script';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Defined in TaskIndex's constructor from SEARCH_LUA. */
    searchTasks(index: string, ...args: (string | number)[]): Result<string[], Context>;
    /** Defined in TaskIndex's constructor from SWEEP_LUA. */
    sweepTaskIndex(
      index: string,
      sweep: string,
      names: string,
      prefix: string,
      count: number,
    ): Result<number, Context>;
  }
}

/** What the listing filters on; every field narrows, none means every task. */
export interface TaskFilter {
  statuses?: readonly TaskStatus[];
  type?: string;
  tenant?: string;
  keyPrefix?: string;
  idPrefix?: string;
  /** createdAt bounds, epoch ms: since inclusive, until exclusive. */
  since?: number;
  until?: number;
  /** Text to find in the error's name or message, any case. */
  text?: string;
}

/** One task as the listing shows it: what a table row needs, not the whole record. */
export interface TaskSummary {
  id: string;
  type: string;
  tenant: string;
  status: TaskStatus;
  priority: TaskPriority;
  attempts: number;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  key?: string;
  error?: TaskError;
}

export interface TaskPage {
  /** Newest createdAt first. */
  items: TaskSummary[];
  /** Pass back with the same filter for the next page; undefined when there is none. */
  nextCursor?: string;
  /** Index entries examined for this page. */
  scanned: number;
}

/** A cursor this listing did not issue, or one issued for other filters. */
export class InvalidTaskCursorError extends Error {
  constructor() {
    super('not a cursor from a previous page of this listing');
    this.name = 'InvalidTaskCursorError';
  }
}

type IndexKind = 'status' | 'type' | 'tenant' | 'created';

/**
 * Most index entries one listing request examines (about 4 µs each inside Redis): bounds how
 * long a request holds Redis whatever its filters. A filter that matches rarely yields short
 * pages, each with a cursor, rather than one long scan.
 */
export const SEARCH_BUDGET = 4000;

/** Index entries the sweeper checks per index per pass (see sweep). */
export const SWEEP_CHUNK = 1000;

/**
 * Lists and searches task records through the indexes the transition script keeps
 * (index-script.ts), and sweeps out the entries of records that expired.
 */
export class TaskIndex {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;

  constructor(options: { url: string; queue: string; commandTimeoutMs?: number }) {
    this.keys = new RedisKeys(options.queue);
    this.redis = connectRedis(options.url, options.commandTimeoutMs);
    this.redis.defineCommand('searchTasks', { lua: SEARCH_LUA, numberOfKeys: 1 });
    this.redis.defineCommand('sweepTaskIndex', { lua: SWEEP_LUA, numberOfKeys: 3 });
  }

  async search(filter: TaskFilter, limit: number, cursor?: string): Promise<TaskPage> {
    const position = cursor === undefined ? undefined : decodeCursor(cursor);
    const kind = position?.kind ?? (await this.smallestIndex(filter));
    const index = this.indexOf(kind, filter);
    if (index === undefined) throw new InvalidTaskCursorError();
    const reply = await this.redis.searchTasks(
      index,
      this.keys.task(''),
      limit,
      SEARCH_BUDGET,
      filter.since ?? '',
      filter.until ?? '',
      position?.id ?? '',
      position?.score ?? '',
      (filter.statuses ?? []).join(','),
      filter.type ?? '',
      filter.tenant ?? '',
      filter.keyPrefix ?? '',
      filter.idPrefix ?? '',
      filter.text?.toLowerCase() ?? '',
    );
    const [done, lastId, lastScore, scanned] = reply;
    const items: TaskSummary[] = [];
    const width = LISTED_FIELDS.length + 1;
    for (let i = 4; i + width <= reply.length; i += width) items.push(summaryOf(reply.slice(i, i + width)));
    const more = Number(done) === 0 && lastId !== '';
    return {
      items,
      scanned: Number(scanned),
      ...(more && { nextCursor: encodeCursor({ kind, id: String(lastId), score: String(lastScore) }) }),
    };
  }

  /**
   * One pass over every index: removes the entries whose records expired, SWEEP_CHUNK entries
   * of each from where the last pass stopped. Returns how many it removed.
   */
  async sweep(): Promise<number> {
    const indexes = await this.indexes();
    let removed = 0;
    for (const index of indexes) {
      removed += await this.redis.sweepTaskIndex(
        index,
        this.keys.taskIndexSweep(),
        this.keys.taskIndexNames(),
        this.keys.task(''),
        SWEEP_CHUNK,
      );
    }
    return removed;
  }

  /** Takes (or keeps) the sweeper's lease for `ms`: one API process sweeps at a time. */
  async holdSweepLease(holder: string, ms: number): Promise<boolean> {
    const key = this.keys.taskIndexSweepLease();
    if ((await this.redis.set(key, holder, 'PX', ms, 'NX')) === 'OK') return true;
    if ((await this.redis.get(key)) !== holder) return false;
    await this.redis.pexpire(key, ms);
    return true;
  }

  /** Entries and bytes of every index: what the listing costs in Redis memory. */
  async memory(): Promise<{ indexes: number; entries: number; bytes: number }> {
    const indexes = await this.indexes();
    let entries = 0;
    let bytes = 0;
    for (const index of indexes) {
      entries += await this.redis.zcard(index);
      bytes += Number((await this.redis.call('MEMORY', 'USAGE', index, 'SAMPLES', '0')) ?? 0);
    }
    return { indexes: indexes.length, entries, bytes };
  }

  close(): Promise<void> {
    return this.redis.quit().then(
      () => undefined,
      () => this.redis.disconnect(),
    );
  }

  /** Every index of the queue: every task's, the indexed statuses', and the type and tenant ones. */
  private async indexes(): Promise<string[]> {
    const named = await this.redis.smembers(this.keys.taskIndexNames());
    const statuses = INDEXED_STATUSES.map((status) => this.keys.tasksByStatus(status));
    return [this.keys.tasksByCreation(), ...statuses, ...named];
  }

  /** The index to walk: the smallest of those the filter names, else every task's. */
  private async smallestIndex(filter: TaskFilter): Promise<IndexKind> {
    const candidates: IndexKind[] = [];
    // Only some statuses have an index, and the default tenant none (index-script.ts): idx:created holds them.
    if (filter.statuses?.length === 1 && INDEXED_STATUSES.includes(filter.statuses[0]!))
      candidates.push('status');
    if (filter.type !== undefined) candidates.push('type');
    if (filter.tenant !== undefined && filter.tenant !== DEFAULT_TENANT) candidates.push('tenant');
    if (candidates.length <= 1) return candidates[0] ?? 'created';
    const sizes = await Promise.all(candidates.map((kind) => this.redis.zcard(this.indexOf(kind, filter)!)));
    return candidates[sizes.indexOf(Math.min(...sizes))]!;
  }

  private indexOf(kind: IndexKind, filter: TaskFilter): string | undefined {
    switch (kind) {
      case 'status':
        return filter.statuses?.length === 1 && INDEXED_STATUSES.includes(filter.statuses[0]!)
          ? this.keys.tasksByStatus(filter.statuses[0]!)
          : undefined;
      case 'type':
        return filter.type === undefined ? undefined : this.keys.tasksByType(filter.type);
      case 'tenant':
        return filter.tenant === undefined || filter.tenant === DEFAULT_TENANT
          ? undefined
          : this.keys.tasksByTenant(filter.tenant);
      case 'created':
        return this.keys.tasksByCreation();
    }
  }
}

interface Position {
  kind: IndexKind;
  id: string;
  score: string;
}

function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.kind, position.id, position.score])).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  try {
    const [kind, id, score] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (
      (kind === 'status' || kind === 'type' || kind === 'tenant' || kind === 'created') &&
      typeof id === 'string' &&
      id !== '' &&
      typeof score === 'string' &&
      /^\d+$/.test(score)
    ) {
      return { kind, id, score };
    }
  } catch {
    // Falls through to the error below.
  }
  throw new InvalidTaskCursorError();
}

function summaryOf([
  id,
  status,
  type,
  tenant,
  key,
  error,
  attempts,
  createdAt,
  startedAt,
  finishedAt,
  priority,
]: string[]): TaskSummary {
  const time = (value: string | undefined) => (value ? Number(value) : undefined);
  let parsedError: TaskError | undefined;
  try {
    parsedError = error ? (JSON.parse(error) as TaskError) : undefined;
  } catch {
    parsedError = { name: 'Error', message: String(error) };
  }
  const started = time(startedAt);
  const finished = time(finishedAt);
  return {
    id: id!,
    type: type ?? '',
    tenant: tenant || 'default',
    status: status as TaskStatus,
    priority: isPriority(priority) ? priority : DEFAULT_PRIORITY,
    attempts: Number(attempts || 0),
    createdAt: Number(createdAt || 0),
    ...(started !== undefined && { startedAt: started }),
    ...(finished !== undefined && { finishedAt: finished }),
    ...(key && { key }),
    ...(parsedError && { error: parsedError }),
  };
}
