import type { Logger } from '../shared/logger';
import type { RedisTenantPermits } from '../shared/redis/tenant-permits';
import type { Tenant } from '../shared/tenancy/tenant';

/**
 * Writes each tenant's max-running into Redis, where the workers' leases read it: on start, on
 * every change of the keys file, and again every REPUBLISH_MS (a Redis that lost its data, or a
 * write that failed, is mended without a change). Every API replica writes the same thing.
 */
export class TenantLimitPublisher {
  private tenants: readonly Tenant[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly permits: Pick<RedisTenantPermits, 'setLimits'>,
    /** TENANT_MAX_RUNNING: for tenants without their own; 0: none. */
    private readonly defaultMax: number,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.write(), REPUBLISH_MS);
    this.timer.unref();
  }

  /** Publishes the limits of `tenants` (the ring in force); resolves once written or logged. */
  publish(tenants: readonly Tenant[]): Promise<void> {
    this.tenants = tenants;
    return this.write();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async write(): Promise<void> {
    const limits = new Map(this.tenants.map((t) => [t.name, t.maxRunning ?? this.defaultMax]));
    try {
      await this.permits.setLimits(limits);
    } catch (err) {
      this.logger.warn('tenant running limits not written to Redis; trying again later', {
        error: String(err),
      });
    }
  }
}

/** How often the limits are written again without a change. */
const REPUBLISH_MS = 30_000;
