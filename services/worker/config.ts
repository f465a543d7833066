import { freeze, readCommonConfig, type CommonConfig } from '../shared/config';
import { EnvReader } from '../shared/env-reader';
import { DEFAULT_LANE_WEIGHTS, LANES, type LaneName } from '../shared/lanes/priority';
import { readCallbackAllowList } from '../shared/net/address-policy';
import type { CallbackOptions } from './callbacks';
import type { DispatchLimits } from './callback-dispatcher';
import type { RetryPolicy } from './retry-policy';
import type { FiringOptions } from './schedules/firer';

export interface WorkerConfig extends CommonConfig {
  /** Port of the probe and metrics server (PORT, default 8081). */
  port: number;
  /** Tasks run at once by one worker process, also from one partition (WORKER_CONCURRENCY, default 16). */
  concurrency: number;
  /**
   * Shares of free slots the lanes get while several have tasks waiting (LANE_WEIGHTS,
   * "high,normal,low,overflow", default "6,3,1,1"); see lane-slots.ts.
   */
  laneWeights: Readonly<Record<LaneName, number>>;
  /** How often finished offsets are committed (COMMIT_INTERVAL_MS, default 1000). */
  commitIntervalMs: number;
  /** Kafka consumer session timeout (KAFKA_SESSION_TIMEOUT_MS, default 30000). */
  sessionTimeoutMs: number;
  /**
   * How long a worker's claim on a running attempt lasts without being extended (TASK_CLAIM_MS,
   * default KAFKA_SESSION_TIMEOUT_MS; extended every third of it). Another worker that gets the
   * task's message meanwhile (a rebalance) waits for it instead of running it again; if the
   * claimant dies, the task runs again once its claim lapses, about when Kafka notices the death.
   */
  claimMs: number;
  /**
   * How long a task's place under its tenant's max-running lasts without being renewed
   * (TENANT_LEASE_MS, default 15000; renewed every third of it): a killed worker's places come
   * back to its tenant this late at most.
   */
  tenantLeaseMs: number;
  /** Longest wait for running tasks on shutdown (SHUTDOWN_TIMEOUT_MS, default 25000; the chart's grace period is 5 s more). */
  shutdownTimeoutMs: number;
  /**
   * Attempt timeouts (TASK_DEFAULT_TIMEOUT_MS, default 900000: 15 minutes, for tasks that set no
   * `timeoutMs`; TASK_MAX_TIMEOUT_MS, default 3600000, above which no attempt runs, whatever it
   * asked for). Without them one hung handler holds a slot, and its partition's commits, forever.
   */
  timeouts: { defaultMs: number; maxMs: number };
  /** Register the demo task types (DEMO_HANDLERS=true; default false, see demo-handlers.ts). */
  demoHandlers: boolean;
  /** A module that registers the user's handlers (HANDLERS_MODULE; see load-handlers.ts). */
  handlersModule?: string;
  /** Largest handler result stored, as JSON bytes (MAX_RESULT_BYTES, default 1 MiB); above it the task fails. */
  maxResultBytes: number;
  retry: RetryPolicy;
  callbacks: CallbackOptions;
  /** How this worker delivers the outbox's callbacks (CALLBACK_CONCURRENCY, CALLBACK_PER_HOST, CALLBACK_CLAIM_IDLE_MS). */
  callbackDispatch: DispatchLimits;
  /**
   * How this worker fires recurring schedules (SCHEDULE_POLL_MS, default 500: how often it looks
   * for due ticks; SCHEDULE_MISFIRE_GRACE_MS, default 10000: older ticks were missed, and follow
   * their schedule's policy). See docs/schedules.md.
   */
  schedules: FiringOptions;
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv): Readonly<WorkerConfig> {
  const reader = new EnvReader(env);
  const sessionTimeoutMs = reader.int('KAFKA_SESSION_TIMEOUT_MS', 30_000, { min: 6000, max: 300_000 });
  const maxTimeoutMs = reader.int('TASK_MAX_TIMEOUT_MS', 3_600_000, { min: 100, max: 24 * 3_600_000 });
  const config: WorkerConfig = {
    ...readCommonConfig(reader),
    port: reader.int('PORT', 8081, { min: 0, max: 65535 }),
    concurrency: reader.int('WORKER_CONCURRENCY', 16, { min: 1, max: 10_000 }),
    laneWeights: readWeights(reader),
    commitIntervalMs: reader.int('COMMIT_INTERVAL_MS', 1000, { min: 10, max: 60_000 }),
    sessionTimeoutMs,
    claimMs: reader.int('TASK_CLAIM_MS', sessionTimeoutMs, { min: 1000, max: 600_000 }),
    tenantLeaseMs: reader.int('TENANT_LEASE_MS', 15_000, { min: 1000, max: 600_000 }),
    shutdownTimeoutMs: reader.int('SHUTDOWN_TIMEOUT_MS', 25_000, { min: 0, max: 600_000 }),
    demoHandlers: reader.oneOf('DEMO_HANDLERS', 'false', ['true', 'false']) === 'true',
    maxResultBytes: reader.int('MAX_RESULT_BYTES', 1024 * 1024, { min: 1024, max: 64 * 1024 * 1024 }),
    timeouts: {
      // The default is checked against the most (a default above it could never apply).
      defaultMs: reader.int('TASK_DEFAULT_TIMEOUT_MS', Math.min(900_000, maxTimeoutMs), {
        min: 100,
        max: maxTimeoutMs,
      }),
      maxMs: maxTimeoutMs,
    },
    retry: {
      baseDelayMs: reader.int('RETRY_BASE_DELAY_MS', 1000, { min: 1, max: 3_600_000 }),
      maxDelayMs: reader.int('RETRY_MAX_DELAY_MS', 300_000, { min: 1, max: 30 * 24 * 3_600_000 }),
    },
    callbacks: {
      secret: reader.string('CALLBACK_SECRET', ''),
      timeoutMs: reader.int('CALLBACK_TIMEOUT_MS', 5000, { min: 100, max: 120_000 }),
      maxAttempts: reader.int('CALLBACK_MAX_ATTEMPTS', 5, { min: 1, max: 50 }),
      baseDelayMs: 500,
      maxDelayMs: 30_000,
      allow: readCallbackAllowList(reader),
    },
    schedules: readFiring(reader),
    callbackDispatch: {
      total: reader.int('CALLBACK_CONCURRENCY', 64, { min: 1, max: 10_000 }),
      perHost: reader.int('CALLBACK_PER_HOST', 4, { min: 1, max: 10_000 }),
      // Longer than one delivery with all its retries can take (5 attempts, 30 s Retry-After each).
      claimIdleMs: reader.int('CALLBACK_CLAIM_IDLE_MS', 300_000, { min: 1000, max: 24 * 3_600_000 }),
    },
  };
  const handlersModule = reader.string('HANDLERS_MODULE', '');
  if (handlersModule) config.handlersModule = handlersModule;
  reader.finish();
  return freeze(config);
}

const WEIGHT = '\\s*[1-9]\\d{0,2}\\s*';
const WEIGHTS_PATTERN = new RegExp(`^${LANES.map(() => WEIGHT).join(',')}$`);

function readFiring(reader: EnvReader): FiringOptions {
  const graceMs = reader.int('SCHEDULE_MISFIRE_GRACE_MS', 10_000, { min: 100, max: 24 * 3_600_000 });
  return {
    pollMs: reader.int('SCHEDULE_POLL_MS', 500, { min: 10, max: 60_000 }),
    graceMs,
    // Shorter than the grace: the ticks of a firer that died holding a lease are still on time
    // for the next one. A lease that lapses mid-publish costs a second publish of the same ids.
    leaseMs: Math.min(5000, Math.max(50, Math.floor(graceMs / 2))),
  };
}

function readWeights(reader: EnvReader): Readonly<Record<LaneName, number>> {
  const fallback = LANES.map((lane) => DEFAULT_LANE_WEIGHTS[lane]).join(',');
  const raw = reader.string('LANE_WEIGHTS', fallback, {
    re: WEIGHTS_PATTERN,
    hint: `${LANES.length} whole numbers from 1 to 999 for ${LANES.join(',')} (e.g. ${fallback})`,
  });
  const numbers = raw.split(',').map(Number);
  // A refused value is reported by reader.finish(); the defaults only stand in until then.
  if (numbers.length !== LANES.length || numbers.some((n) => !(n >= 1))) return DEFAULT_LANE_WEIGHTS;
  return Object.fromEntries(LANES.map((lane, i) => [lane, numbers[i]!])) as Record<LaneName, number>;
}
