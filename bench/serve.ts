/**
 * Child-process entry: starts one system's API or worker, prints `BENCH_READY <json>` and stops
 * on SIGTERM. Servers run outside the bench process so the load generator does not share their
 * event loop.
 */
import { startNaiveApi } from './naive/api';
import { startNaiveWorker } from './naive/worker';
import { startBareApi } from './systems/bare';
import { startBullmqApi, startBullmqWorker } from './systems/bullmq';
import { startSpillwayApi, startSpillwayWorker } from './systems/spillway';
import type { Role, Starter } from './systems/types';

export const SYSTEMS = ['spillway', 'bare', 'naive', 'bullmq'] as const;
export type SystemName = (typeof SYSTEMS)[number];

const starters: Record<SystemName, Partial<Record<Role, Starter>>> = {
  spillway: { api: startSpillwayApi, worker: startSpillwayWorker },
  bare: { api: startBareApi },
  naive: { api: startNaiveApi, worker: startNaiveWorker },
  bullmq: { api: startBullmqApi, worker: startBullmqWorker },
};

async function main(): Promise<void> {
  const [system, role, queue, partitions, concurrency] = process.argv.slice(2);
  const start = starters[system as SystemName]?.[role as Role];
  if (!start || !queue)
    throw new Error(`usage: serve.ts <system> <api|worker> <queue> <partitions> <concurrency>`);
  const started = await start({ queue, partitions: Number(partitions), concurrency: Number(concurrency) });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  process.stdout.write(`BENCH_READY ${JSON.stringify({ port: started.port })}\n`);
  process.once('SIGTERM', () => {
    clearInterval(sampler);
    started
      .stop()
      .catch((err: unknown) => process.stderr.write(`stop failed: ${String(err)}\n`))
      .finally(() => {
        process.stdout.write(`BENCH_PEAK_RSS ${peakRss}\n`);
        process.exit(0);
      });
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
