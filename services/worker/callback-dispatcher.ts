import type { Logger } from '../shared/logger';
import type { CallbackOutbox, OutboxEntry } from '../shared/redis/callback-outbox';

export interface DispatchLimits {
  /** Deliveries in flight in this worker at most (CALLBACK_CONCURRENCY). */
  total: number;
  /** Deliveries in flight to one host (host:port) at most (CALLBACK_PER_HOST). */
  perHost: number;
  /** An entry another worker took and left unsettled this long is taken over (CALLBACK_CLAIM_IDLE_MS). */
  claimIdleMs: number;
}

/** Entries held in memory at most, waiting for their host: each is an id and a URL. */
const MAX_HELD = 10_000;
/** How long one read of the outbox waits for a new entry. */
const READ_BLOCK_MS = 1000;
/** Wait after a failed read (Redis down) before the next. */
const RETRY_MS = 1000;

/**
 * Delivers the callbacks of the outbox, outside any task's slot: a receiver that hangs or asks
 * for `Retry-After: 30` holds only its own host's few places (perHost), never the worker's intake
 * nor other hosts' deliveries. `deliver` sends one (signed, with its retries) and records the
 * outcome; the entry is settled after it, so a worker that dies mid-delivery leaves it for
 * another (claimAbandoned): at least once.
 */
export class CallbackDispatcher {
  private readonly waiting = new Map<string, OutboxEntry[]>();
  private readonly inFlightByHost = new Map<string, number>();
  /** Ids held or in delivery: an entry claimed back while this worker still holds it is not taken twice. */
  private readonly heldIds = new Set<string>();
  /** Ids taken and not settled: handed back on stop. */
  private readonly unsettled = new Set<string>();
  private running = false;
  private loop?: Promise<void>;
  /** The deliveries under way. */
  private readonly deliveries = new Set<Promise<void>>();
  private lastClaim = 0;

  constructor(
    private readonly outbox: Pick<CallbackOutbox, 'take' | 'claimAbandoned' | 'settle' | 'release'>,
    private readonly deliver: (entry: OutboxEntry) => Promise<void>,
    private readonly deps: { consumer: string; limits: DispatchLimits; logger: Logger },
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stops taking entries, waits for the deliveries under way (shutdown aborts their retries), and
   * hands back what it took and did not settle, for another worker to deliver at once.
   */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.allSettled([...this.deliveries]);
    const { consumer, limits, logger } = this.deps;
    await this.outbox.release(consumer, [...this.unsettled], limits.claimIdleMs).catch((err: unknown) =>
      // They are claimed after claimIdleMs instead.
      logger.warn('unsent callbacks not handed back', { count: this.unsettled.size, error: String(err) }),
    );
    this.waiting.clear();
  }

  private async run(): Promise<void> {
    const { consumer, limits, logger } = this.deps;
    while (this.running) {
      try {
        const room = MAX_HELD - this.heldIds.size;
        if (room <= 0) {
          await sleep(100);
          continue;
        }
        const now = Date.now();
        if (now - this.lastClaim >= limits.claimIdleMs / 2) {
          this.lastClaim = now;
          this.hold(await this.outbox.claimAbandoned(consumer, limits.claimIdleMs, Math.min(room, 100)));
        }
        this.hold(await this.outbox.take(consumer, Math.min(room, 100), READ_BLOCK_MS));
      } catch (err) {
        logger.warn('callback outbox not readable; trying again', { error: String(err) });
        await sleep(RETRY_MS);
      }
    }
  }

  private hold(entries: OutboxEntry[]): void {
    for (const entry of entries) {
      if (this.heldIds.has(entry.entryId)) continue;
      this.heldIds.add(entry.entryId);
      this.unsettled.add(entry.entryId);
      const host = hostOf(entry.url);
      const queue = this.waiting.get(host) ?? [];
      queue.push(entry);
      this.waiting.set(host, queue);
    }
    this.pump();
  }

  /** Starts what the limits allow, host by host. */
  private pump(): void {
    const { total, perHost } = this.deps.limits;
    for (const [host, queue] of this.waiting) {
      while (
        queue.length > 0 &&
        this.deliveries.size < total &&
        (this.inFlightByHost.get(host) ?? 0) < perHost
      ) {
        this.begin(host, queue.shift()!);
      }
      if (queue.length === 0) this.waiting.delete(host);
      if (this.deliveries.size >= total) return;
    }
  }

  private begin(host: string, entry: OutboxEntry): void {
    if (!this.running) return; // stopping: left unsettled and handed back
    this.inFlightByHost.set(host, (this.inFlightByHost.get(host) ?? 0) + 1);
    const delivery = this.deliverAndSettle(entry).finally(() => {
      this.deliveries.delete(delivery);
      this.heldIds.delete(entry.entryId);
      const left = (this.inFlightByHost.get(host) ?? 1) - 1;
      if (left === 0) this.inFlightByHost.delete(host);
      else this.inFlightByHost.set(host, left);
      this.pump();
    });
    this.deliveries.add(delivery);
  }

  private async deliverAndSettle(entry: OutboxEntry): Promise<void> {
    try {
      await this.deliver(entry);
      await this.outbox.settle(entry.entryId);
      this.unsettled.delete(entry.entryId);
    } catch (err) {
      // Left unsettled: this worker's own claim lapses after claimIdleMs and someone retries it.
      this.deps.logger.warn('callback not settled; it will be delivered again', {
        ...(entry.taskId !== undefined ? { taskId: entry.taskId } : { batchId: entry.batchId }),
        error: String(err),
      });
    }
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
