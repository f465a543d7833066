import { randomUUID } from 'node:crypto';
import type { Logger } from '../shared/logger';
import type { TaskIndex } from '../shared/redis/task-index';

/** How often the sweeper passes over the indexes, and how long its lease outlives a pass. */
export const SWEEP_INTERVAL_MS = 2000;
const LEASE_MS = 15_000;

/**
 * Keeps the listing's indexes as small as the records they point at: records expire by TTL
 * inside Redis, which cannot tell a sorted set, so one API process (holding a lease) walks every
 * index in passes of TaskIndex.sweep and drops the ids whose records are gone. At 1,000 entries
 * of each index per pass, every 2 s, the indexes trail their records' expiry by the time a
 * full cycle takes (at most minutes at a million entries), for about 1% of Redis' time.
 */
export class TaskIndexSweeper {
  private readonly holder = randomUUID();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly index: TaskIndex,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.pass().finally(() => (this.running = undefined));
    }, SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async pass(): Promise<void> {
    try {
      if (!(await this.index.holdSweepLease(this.holder, LEASE_MS))) return;
      const removed = await this.index.sweep();
      if (removed > 0) this.logger.debug('task index entries of expired records removed', { removed });
    } catch (err) {
      // Redis is away: the next pass tries again, and the listing skips expired ids meanwhile.
      this.logger.warn('task index sweep failed', { error: String(err) });
    }
  }
}
