/** What one `npm run bench` run does; `--quick` shrinks every scenario to a smoke run of seconds. */
export interface BenchOptions {
  quick: boolean;
  /** Where the report goes (`--out`, default docs/benchmarks.md). */
  out: string;
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
}

export function parseOptions(argv: string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const outAt = argv.indexOf('--out');
  const out = outAt >= 0 ? argv[outAt + 1] : 'docs/benchmarks.md';
  if (!out) throw new Error('--out needs a file name');
  const unknown = argv.filter(
    (a, i) => a.startsWith('--') && !['--quick', '--out'].includes(a) && argv[i - 1] !== '--out',
  );
  if (unknown.length > 0) throw new Error(`unknown option(s): ${unknown.join(' ')}`);
  return quick
    ? {
        quick,
        out,
        repeats: 1,
        enqueueSeconds: 1,
        concurrencies: [16, 64],
        batchSize: 50,
        slowTasks: 100,
        drainTasks: 500,
        slowTasksSequential: 10,
        slowTaskMs: 100,
        slowConcurrency: 100,
      }
    : {
        quick,
        out,
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
      };
}
