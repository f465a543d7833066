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

/**
 * The two tenants of `spillway-fair`, the noisy-neighbour scenario's Spillway: A bursts, B
 * submits steadily. BullMQ has no tenants; there the tenant is only a tag in the payload.
 */
export const NOISY_TENANTS = ['a', 'b'] as const;
export type NoisyTenant = (typeof NOISY_TENANTS)[number];
export const NOISY_TENANT_KEYS: Readonly<Record<NoisyTenant, string>> = {
  a: 'bench-tenant-a-key-0123456789abcdef',
  b: 'bench-tenant-b-key-0123456789abcdef',
};

/** A tenant's spill allowance: tasks over it go to the overflow lane (`spill-rate=`, `spill-burst=`). */
export interface SpillAllowance {
  /** Tasks per second. */
  rate: number;
  /** Tasks at once. */
  burst: number;
}

/**
 * The spill allowance `spillway-fair` gives both tenants in its keys file, or undefined for none
 * (no `spill-` setting written): 100 tasks a second, 200 at once, twice B's steady rate, so B
 * never spills and A's burst goes to the overflow lane after its first 200 tasks.
 * BENCH_NOISY_SPILL=<rate>,<burst> replaces it (read here, so the bench and the API process it
 * starts agree; `off` measures without spill). An API that does not know the settings refuses
 * the keys file and does not start, so the scenario fails instead of measuring without them.
 */
const NOISY_SPILL_DEFAULT: SpillAllowance | undefined = { rate: 100, burst: 200 };

export const NOISY_SPILL: SpillAllowance | undefined = spillFrom(process.env.BENCH_NOISY_SPILL);

function spillFrom(env: string | undefined): SpillAllowance | undefined {
  if (env === undefined || env === '') return NOISY_SPILL_DEFAULT;
  if (env === 'off') return undefined;
  const m = /^(\d+(?:\.\d+)?),(\d+)$/.exec(env);
  if (!m) throw new Error(`BENCH_NOISY_SPILL="${env}": want <rate>,<burst> (tasks/s, tasks) or off`);
  return { rate: Number(m[1]), burst: Number(m[2]) };
}

/** What a noisy-neighbour client of `tenant` sends besides the body: its key on Spillway, nothing on BullMQ. */
export function tenantHeaders(system: string, tenant: NoisyTenant): Record<string, string> {
  return system === 'spillway-fair' ? { authorization: `Bearer ${NOISY_TENANT_KEYS[tenant]}` } : {};
}
