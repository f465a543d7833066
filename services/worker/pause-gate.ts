import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { holdsType, NOTHING_PAUSED, type PauseState, type PauseStore } from '../shared/redis/pause-store';

/** What the pause gate reports; metrics.ts turns it into gauges. */
export interface PauseEvents {
  /** The paused scopes this worker knows of: the whole queue (0 or 1) and task types. */
  pausedScopes(queue: number, types: number): void;
  /** Tasks taken from Kafka and held here, unstarted, because their scope is paused. */
  tasksHeldByPause(count: number): void;
}

export interface PauseGateOptions {
  store: Pick<PauseStore, 'read' | 'watch' | 'close'>;
  events: PauseEvents;
  logger: Logger;
  /**
   * How often the state is read again besides announcements (default 5 s): a backstop for an
   * announcement missed while the subscription was down, not the way pauses normally arrive.
   */
  refreshMs?: number;
}

/** Why a task held by a pause gave up waiting: the worker is draining; it stays uncommitted. */
export class PauseWaitAborted extends Error {
  constructor() {
    super('stopped waiting for a pause to lift');
    this.name = 'PauseWaitAborted';
  }
}

/**
 * The worker's view of the queue's pause state (RedisPauseStore): read at start, read again on
 * every announcement (milliseconds after the API's answer) and every `refreshMs`. The lanes ask
 * it before starting each task, and stop fetching while the whole queue is paused.
 *
 * Redis not answering at start leaves the gate open (nothing paused) and logged, as the tenant
 * limits fail open: a worker that cannot reach Redis cannot record its tasks either, so nothing
 * runs to completion regardless; the next successful read closes the gate if a pause is in force.
 */
export class PauseGate {
  private state: PauseState = NOTHING_PAUSED;
  private readonly listeners: (() => void)[] = [];
  /** Tasks waiting in hold(); each wakes on every change and looks again. */
  private readonly waiters = new Set<() => void>();
  private held = 0;
  private reading?: Promise<void>;
  private readAgain = false;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: PauseGateOptions) {}

  async start(): Promise<void> {
    try {
      await this.options.store.watch(() => void this.refresh());
    } catch (err) {
      // The periodic read still catches every change, only later.
      this.options.logger.warn('cannot subscribe to pause announcements; reading the state periodically', {
        error: errorMessage(err),
      });
    }
    await this.refresh();
    this.options.events.pausedScopes(this.queuePaused ? 1 : 0, this.state.types.size);
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs ?? 5000);
    this.timer.unref();
  }

  /** True while the whole queue is paused: the lanes fetch nothing. */
  get queuePaused(): boolean {
    return this.state.queue !== undefined;
  }

  /** True while a task of `type` must not start. */
  holds(type: string): boolean {
    return holdsType(this.state, type);
  }

  /** Calls `listener` after every change of the state (not on reads that found it unchanged). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * Resolves once a task of `type` may start (at once when it may now); rejects with
   * PauseWaitAborted when `signal` aborts first. The task holds no slot while it waits.
   */
  async hold(type: string, signal: AbortSignal): Promise<void> {
    if (!this.holds(type)) return;
    this.countHeld(+1);
    try {
      while (this.holds(type)) {
        if (signal.aborted) throw new PauseWaitAborted();
        await new Promise<void>((resolve) => {
          const wake = () => {
            this.waiters.delete(wake);
            signal.removeEventListener('abort', wake);
            resolve();
          };
          this.waiters.add(wake);
          signal.addEventListener('abort', wake, { once: true });
        });
      }
    } finally {
      this.countHeld(-1);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.options.store.close();
  }

  /** Reads the state; overlapping calls share one read and one more after it. */
  private refresh(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.readAgain = false;
        try {
          this.apply(await this.options.store.read());
        } catch (err) {
          this.options.logger.warn('cannot read the pause state; keeping the last one', {
            error: errorMessage(err),
          });
        }
      } while (this.readAgain && !this.closed);
    })().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private apply(next: PauseState): void {
    const before = this.state;
    this.state = next;
    const sameTypes =
      before.types.size === next.types.size && [...next.types.keys()].every((t) => before.types.has(t));
    if (before.queue === next.queue && sameTypes) return;
    this.options.events.pausedScopes(next.queue === undefined ? 0 : 1, next.types.size);
    this.options.logger.info('pause state changed', {
      queuePaused: next.queue !== undefined,
      pausedTypes: [...next.types.keys()],
    });
    for (const listener of this.listeners) listener();
    for (const wake of [...this.waiters]) wake();
  }

  private countHeld(delta: number): void {
    this.held += delta;
    this.options.events.tasksHeldByPause(this.held);
  }
}
