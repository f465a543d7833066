import Redis from 'ioredis';
import { RedisKeys } from '../services/shared/redis/keys';
import { STATUS_PHASE } from '../services/shared/redis/redis-task-store';
import { TERMINAL_STATUSES, type TaskStatus } from '../services/shared/task';

/** What one read of a task record showed; `gone`: the record vanished while Redis answered. */
export interface Observed {
  status: TaskStatus | 'gone';
  attempts: number;
}

/** Order of statuses within one attempt: the store's own order, and a vanished record below all. */
const RANK: Record<Observed['status'], number> = { gone: -1, ...STATUS_PHASE };

/**
 * True when `next` may follow `prev`: a finished status never changes; otherwise by attempt
 * first, then by status within the attempt (queued < running < retrying < finished).
 */
export function mayFollow(prev: Observed, next: Observed): boolean {
  if (prev.status !== 'gone' && TERMINAL_STATUSES.has(prev.status)) return next.status === prev.status;
  if (next.status === 'gone') return false;
  if (next.attempts !== prev.attempts) return next.attempts > prev.attempts;
  return RANK[next.status] >= RANK[prev.status];
}

export interface Backwards {
  id: string;
  from: Observed;
  to: Observed;
  at: number;
}

export interface StatusReport {
  /** Tasks whose record was read at least once. */
  tracked: number;
  rounds: number;
  /** Rounds skipped because Redis did not answer. */
  failedRounds: number;
  /** Status changes seen (each record's first sighting not counted). */
  changes: number;
  backwards: Backwards[];
}

/** Terminal records re-read per round at most (they must never change, but rarely need looking at). */
const TERMINAL_PER_ROUND = 500;

/**
 * Reads task records over and over while a scenario runs and checks that every change moves a
 * task forward. Unfinished tasks are read every round; finished ones a slice at a time. Rounds
 * in which Redis does not answer are skipped (and counted), not treated as changes.
 */
export class StatusSampler {
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly last = new Map<string, Observed>();
  private readonly unseen = new Set<string>();
  private readonly report: StatusReport = {
    tracked: 0,
    rounds: 0,
    failedRounds: 0,
    changes: 0,
    backwards: [],
  };
  private running = false;
  private loop?: Promise<void>;
  private stopping?: Promise<StatusReport>;
  private terminalCursor = 0;

  constructor(
    url: string,
    queue: string,
    private readonly intervalMs = 250,
  ) {
    this.keys = new RedisKeys(queue);
    // Fails fast while Redis is down (the round is skipped), reconnects by itself after.
    this.redis = new Redis(url, { maxRetriesPerRequest: 0, commandTimeout: 2000, enableOfflineQueue: false });
    this.redis.on('error', () => undefined);
  }

  track(id: string): void {
    if (!this.last.has(id)) this.unseen.add(id);
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.round();
        await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
      }
    })();
  }

  /** Ends the sampling after one last look at everything; safe to call twice. */
  stop(): Promise<StatusReport> {
    this.stopping ??= (async () => {
      this.running = false;
      await this.loop;
      await this.round();
      this.redis.disconnect();
      return { ...this.report, tracked: this.last.size };
    })();
    return this.stopping;
  }

  private async round(): Promise<void> {
    const open: string[] = [...this.unseen];
    const terminal: string[] = [];
    for (const [id, seen] of this.last) {
      if (seen.status !== 'gone' && TERMINAL_STATUSES.has(seen.status)) terminal.push(id);
      else open.push(id);
    }
    const start = terminal.length > 0 ? this.terminalCursor % terminal.length : 0;
    const slice = terminal.slice(start, start + TERMINAL_PER_ROUND);
    this.terminalCursor = start + slice.length;
    const ids = [...open, ...slice];
    if (ids.length === 0) return;
    let rows: [Error | null, unknown][] | null;
    try {
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hmget(this.keys.task(id), 'status', 'attempts');
      rows = await pipeline.exec();
    } catch {
      rows = null;
    }
    this.report.rounds++;
    if (!rows || rows.some(([err]) => err)) {
      this.report.failedRounds++;
      return;
    }
    const at = Date.now();
    rows.forEach(([, value], i) => {
      const id = ids[i]!;
      const [status, attempts] = value as [string | null, string | null];
      const prev = this.last.get(id);
      if (status === null && !prev) return; // not written yet
      const now: Observed =
        status === null
          ? { status: 'gone', attempts: -1 }
          : { status: status as TaskStatus, attempts: Number(attempts ?? 0) };
      this.unseen.delete(id);
      if (!prev) {
        this.last.set(id, now);
        return;
      }
      if (prev.status === now.status && prev.attempts === now.attempts) return;
      this.report.changes++;
      if (!mayFollow(prev, now)) this.report.backwards.push({ id, from: prev, to: now, at });
      // A record that went backwards is judged from where it is now, so one event counts once.
      this.last.set(id, now);
    });
  }
}
