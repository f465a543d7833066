/** One compared system's process, started by bench/serve.ts in a child process. */
export interface Started {
  /** HTTP port (the API's; a worker's is 0 when it serves nothing). */
  port: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  queue: string;
  /** Partitions of the tasks topic (Kafka designs). */
  partitions: number;
  /** Tasks a worker runs at once. */
  concurrency: number;
}

export type Role = 'api' | 'worker';

/**
 * The key of the one tenant of `spillway-tenants`: Spillway with its keys file, a tenant with
 * its own rate and maximum queued (both far above what the bench reaches, so every check runs
 * and none refuses), what enqueue costs with tenants on.
 */
export const TENANT_BENCH_KEY = 'bench-tenant-key-0123456789abcdef';

/** What a load generator sends to reach a system's API besides the body. */
export function authHeaders(system: string): Record<string, string> {
  return system === 'spillway-tenants' ? { authorization: `Bearer ${TENANT_BENCH_KEY}` } : {};
}
export type Starter = (options: StartOptions) => Promise<Started>;
