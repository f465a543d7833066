/** Every scenario `npm run bench` knows, in the order it runs them. */
export const SCENARIOS = [
  'enqueue',
  'drain',
  'slow',
  'e2e',
  'priority',
  'noisy',
  'burst',
  'scaleout',
  'fanout',
  'listing',
  'upkeep',
  'ceilings',
  'profiles',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** What one `npm run bench` run does; `--quick` shrinks every scenario to a smoke run of seconds. */
export interface BenchOptions {
  quick: boolean;
  /** Where the report goes (`--out`, default docs/benchmarks.md); the plots go beside it. */
  out: string;
  /** Scenarios to run (`--only enqueue,e2e`; default all). */
  scenarios: ScenarioName[];
  /** Repeated runs per measurement; the report shows their median and min–max. */
  repeats: number;
  /** Seconds of load per enqueue run. */
  enqueueSeconds: number;
  concurrencies: number[];
  /** Tasks per batch request (Spillway's batch endpoint, BullMQ's addBulk). */
  batchSize: number;
  /** Slow-task scenario: tasks for the concurrent consumers, and the smaller count for the sequential one. */
  slowTasks: number;
  /** Drain scenario: echo tasks queued before the worker starts. */
  drainTasks: number;
  slowTasksSequential: number;
  slowTaskMs: number;
  slowConcurrency: number;
  /** End-to-end latency: seconds of fixed-rate submissions per run, after `e2eWarmupSeconds` not counted. */
  e2eSeconds: number;
  e2eWarmupSeconds: number;
  /**
   * Priority: `low` `sleep` tasks queued before the worker starts, each this many ms (long enough
   * that the backlog outlasts the window at concurrency 16), then `high` tasks at a fixed rate for
   * `prioritySeconds`.
   */
  priorityLowTasks: number;
  priorityLowTaskMs: number;
  priorityRatePerSec: number;
  prioritySeconds: number;
  /**
   * Noisy neighbour: tenant B's steady `sleep` tasks (rate, ms each; alone for
   * `noisyBaselineSeconds`), tenant A's burst of `echo` tasks through the batch endpoint
   * (`noisyBurstClients` requests of 1,000 in flight).
   */
  noisyRatePerSec: number;
  noisyTaskMs: number;
  noisyBaselineSeconds: number;
  noisyBurstTasks: number;
  noisyBurstClients: number;
  /** Burst: tasks submitted at once, and how many clients submit them in parallel. */
  burstTasks: number;
  burstClients: number;
  /** Scale-out: worker processes per step, tasks per run, and the shape of the topic and tasks. */
  scaleWorkers: number[];
  scaleTasks: number;
  scalePartitions: number;
  scaleConcurrency: number;
  scaleTaskMs: number;
  /** Fan-out: children one parent spawns (Spillway ctx.spawn) or declares (BullMQ flow). */
  fanoutChildren: number;
  /**
   * Listing: task records written before GET /v1/tasks is asked; requests of each query; pages
   * the deep query follows before its timed ones.
   */
  listingRecords: number;
  listingRequests: number;
  listingDeepPages: number;
  /**
   * Upkeep (TASK_INDEXES on against off): turns of each; requests per redis-benchmark run;
   * seconds of each enqueue load; tasks per drain.
   */
  upkeepTurns: number;
  upkeepRedisRequests: number;
  upkeepSeconds: number;
  upkeepDrainTasks: number;
  /** Ceilings: records per ProducerPerformance run, requests per redis-benchmark run. */
  kafkaCeilingRecords: number;
  redisCeilingRequests: number;
  /** Profiles: seconds of enqueue load while the API is profiled. */
  profileSeconds: number;
}

function parseOnly(argv: string[]): ScenarioName[] {
  const at = argv.indexOf('--only');
  if (at < 0) return [...SCENARIOS];
  const names = (argv[at + 1] ?? '').split(',').filter(Boolean);
  const unknown = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`--only takes a comma-separated list of: ${SCENARIOS.join(', ')}`);
  }
  return SCENARIOS.filter((s) => names.includes(s));
}

export function parseOptions(argv: string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const outAt = argv.indexOf('--out');
  const out = outAt >= 0 ? argv[outAt + 1] : 'docs/benchmarks.md';
  if (!out) throw new Error('--out needs a file name');
  const withValue = ['--out', '--only'];
  const unknown = argv.filter(
    (a, i) =>
      a.startsWith('--') && !['--quick', ...withValue].includes(a) && !withValue.includes(argv[i - 1]!),
  );
  if (unknown.length > 0) throw new Error(`unknown option(s): ${unknown.join(' ')}`);
  const scenarios = parseOnly(argv);
  const shared = {
    quick,
    out,
    scenarios,
    scaleWorkers: [1, 2, 4],
    scalePartitions: 8,
    scaleConcurrency: 20,
    priorityRatePerSec: 50,
    noisyRatePerSec: 50,
    noisyTaskMs: 10,
    noisyBurstClients: 4,
    listingDeepPages: 20,
  };
  return quick
    ? {
        ...shared,
        repeats: 1,
        enqueueSeconds: 1,
        concurrencies: [16, 64],
        batchSize: 50,
        slowTasks: 100,
        drainTasks: 500,
        slowTasksSequential: 10,
        slowTaskMs: 100,
        slowConcurrency: 100,
        e2eSeconds: 1,
        e2eWarmupSeconds: 0,
        // 5,000 × 40 ms / 16 at once = 12.5 s of backlog: the worker's start and the 4 s window.
        priorityLowTasks: 5000,
        priorityLowTaskMs: 40,
        prioritySeconds: 4,
        noisyBaselineSeconds: 6,
        noisyBurstTasks: 10_000,
        burstTasks: 2000,
        burstClients: 4,
        scaleTasks: 400,
        scaleTaskMs: 50,
        fanoutChildren: 200,
        listingRecords: 20_000,
        listingRequests: 30,
        upkeepTurns: 1,
        upkeepRedisRequests: 5000,
        upkeepSeconds: 1,
        upkeepDrainTasks: 3000,
        // Fewer and the producer's start-up (metadata, first connection) is most of the run.
        kafkaCeilingRecords: 100_000,
        redisCeilingRequests: 20_000,
        profileSeconds: 1,
      }
    : {
        ...shared,
        repeats: 3,
        enqueueSeconds: 5,
        concurrencies: [16, 64, 256],
        batchSize: 100,
        slowTasks: 2000,
        drainTasks: 100_000,
        // 2,000 × 100 ms one at a time is 200 s per run; the sequential rate is steady after a few.
        slowTasksSequential: 100,
        slowTaskMs: 100,
        slowConcurrency: 100,
        e2eSeconds: 10,
        e2eWarmupSeconds: 1,
        // 100,000 × 5 ms / 16 at once = 31 s of backlog, were every slot given to it.
        priorityLowTasks: 100_000,
        priorityLowTaskMs: 5,
        prioritySeconds: 10,
        noisyBaselineSeconds: 20,
        noisyBurstTasks: 100_000,
        burstTasks: 100_000,
        burstClients: 8,
        // One worker: 8,000 × 50 ms / 20 at once = 20 s; four workers about 5 s.
        scaleTasks: 8000,
        scaleTaskMs: 50,
        fanoutChildren: 10_000,
        listingRecords: 1_000_000,
        listingRequests: 200,
        upkeepTurns: 5,
        upkeepRedisRequests: 30_000,
        upkeepSeconds: 5,
        // One worker: 50,000 at about 8,000 tasks/s is 6 s of drain.
        upkeepDrainTasks: 50_000,
        kafkaCeilingRecords: 500_000,
        redisCeilingRequests: 100_000,
        profileSeconds: 5,
      };
}
