import { FailOpen } from '../shared/fail-open';
import type { Logger } from '../shared/logger';
import type { TenantPermits } from '../shared/redis/tenant-permits';
import type { TaskMessage } from '../shared/task';
import { tenantOf } from '../shared/tenancy/tenant';
import type { WorkerEvents } from './events';

/** A task's hold on one of its tenant's running places; release it once the task is done. */
export interface Permit {
  /** Gives the place back; a no-op after the first call. */
  release(): void;
}

export interface TenantGateOptions {
  permits: TenantPermits;
  /**
   * This worker process (its claimant): leases are per process, so a copy of a task delivered to
   * another worker after a rebalance takes a place of its own and gives back only its own.
   */
  holder: string;
  /** How long a permit lasts unless renewed (TENANT_LEASE_MS): a killed worker's come back this late at most. */
  leaseMs: number;
  events: Pick<WorkerEvents, 'tenantLimitWait' | 'tenantLimitFailedOpen'>;
  logger: Logger;
}

/** How often the worker re-reads which tenants have a max-running: a change applies this late at most. */
const LIMITS_REFRESH_MS = 2000;
/** How often the first task waiting for one of a tenant's places tries again, besides local releases. */
const POLL_MS = 250;

const NO_PERMIT: Permit = { release: () => undefined };

/**
 * Admits tasks under their tenant's max-running across the whole fleet (Redis leases, see
 * RedisTenantPermits). Only tenants with a limit cost a Redis call per task. A task refused a
 * place waits here without its concurrency slot (the worker runs other tenants' tasks meanwhile);
 * a tenant's waiters form one line, whose first tries again when a place of that tenant frees on
 * this worker or every POLL_MS, and each success lets the next try at once, so a tenant at its
 * limit costs Redis a few calls a second, not one per waiting task.
 */
export class TenantGate {
  private readonly failOpen: FailOpen;
  private limited = new Set<string>();
  private limitsReadAt = -Infinity;
  private readingLimits?: Promise<void>;
  /** Per tenant: the wakers of its waiting tasks, first in line first. */
  private readonly lines = new Map<string, (() => void)[]>();
  private readonly pollers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: TenantGateOptions) {
    this.failOpen = new FailOpen('tenant running limit', options.logger, () =>
      options.events.tenantLimitFailedOpen(),
    );
  }

  /** A permit for the task now, or undefined when its tenant is at its limit (then wait()). */
  async tryEnter(task: TaskMessage): Promise<Permit | undefined> {
    const tenant = tenantOf(task);
    if (this.failOpen.bypassing) return NO_PERMIT;
    const { permits, leaseMs } = this.options;
    const holder = `${this.options.holder}/${task.id}:${task.attempt ?? 1}`;
    let answer;
    try {
      await this.refreshLimits();
      if (!this.limited.has(tenant)) return NO_PERMIT;
      answer = await permits.acquire(tenant, holder, leaseMs);
    } catch (err) {
      this.failOpen.failed(err);
      return NO_PERMIT;
    }
    if (answer === 'unlimited') return NO_PERMIT;
    if (answer === 'full') return undefined;
    this.wakeFirst(tenant); // a place was free: maybe another is
    const renewing = setInterval(
      () => void permits.extend(tenant, holder, leaseMs).catch(() => undefined),
      leaseMs / 3,
    );
    renewing.unref();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        clearInterval(renewing);
        void permits
          .release(tenant, holder)
          .catch(() => undefined)
          .finally(() => this.wakeFirst(tenant));
      },
    };
  }

  /**
   * Resolves when the task may try again: it is first in its tenant's line and a place may be
   * free. `again`: it was woken and refused, so it keeps its place at the front.
   */
  wait(task: TaskMessage, signal: AbortSignal, again: boolean): Promise<void> {
    const tenant = tenantOf(task);
    if (!again) this.options.events.tenantLimitWait(tenant);
    return new Promise((resolve) => {
      const line = this.lines.get(tenant) ?? [];
      this.lines.set(tenant, line);
      const onAbort = () => {
        const at = line.indexOf(wake);
        if (at >= 0) line.splice(at, 1);
        resolve();
      };
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      if (again) line.unshift(wake);
      else line.push(wake);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      this.poll(tenant);
    });
  }

  close(): void {
    for (const timer of this.pollers.values()) clearInterval(timer);
    this.pollers.clear();
    for (const line of this.lines.values()) for (const wake of line.splice(0)) wake();
  }

  private wakeFirst(tenant: string): void {
    const line = this.lines.get(tenant);
    line?.shift()?.();
    if (line && line.length === 0) {
      this.lines.delete(tenant);
      clearInterval(this.pollers.get(tenant));
      this.pollers.delete(tenant);
    }
  }

  private poll(tenant: string): void {
    if (this.pollers.has(tenant)) return;
    const timer = setInterval(() => this.wakeFirst(tenant), POLL_MS);
    timer.unref();
    this.pollers.set(tenant, timer);
  }

  private async refreshLimits(): Promise<void> {
    if (Date.now() - this.limitsReadAt < LIMITS_REFRESH_MS) return;
    this.readingLimits ??= this.options.permits
      .limits()
      .then((limits) => {
        this.limited = new Set(limits.keys());
        this.limitsReadAt = Date.now();
      })
      .finally(() => (this.readingLimits = undefined));
    await this.readingLimits;
  }
}
