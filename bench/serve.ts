/**
 * Child-process entry: starts one system's API or worker, prints `BENCH_READY <json>` and stops
 * on SIGTERM. Servers run outside the bench process so the load generator does not share their
 * event loop.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Session, type Profiler } from 'node:inspector/promises';
import { findSourceMap, SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startNaiveApi } from './naive/api';
import { startNaiveWorker } from './naive/worker';
import { startBareApi } from './systems/bare';
import { startBullmqApi, startBullmqWorker } from './systems/bullmq';
import {
  startSpillwayApi,
  startSpillwayFairApi,
  startSpillwayTenantsApi,
  startSpillwayUnindexedApi,
  startSpillwayUnindexedWorker,
  startSpillwayWorker,
} from './systems/spillway';
import { startSpillwayFanoutApi, startSpillwayFanoutWorker } from './systems/spillway-fanout';
import type { Role, Starter } from './systems/types';

export const SYSTEMS = [
  'spillway',
  'spillway-tenants',
  'spillway-fair',
  'spillway-fanout',
  'spillway-unindexed',
  'bare',
  'naive',
  'bullmq',
] as const;
export type SystemName = (typeof SYSTEMS)[number];

const starters: Record<SystemName, Partial<Record<Role, Starter>>> = {
  spillway: { api: startSpillwayApi, worker: startSpillwayWorker },
  'spillway-tenants': { api: startSpillwayTenantsApi },
  // Two tenants (noisy-neighbour scenario); its worker is Spillway's, which needs no keys.
  'spillway-fair': { api: startSpillwayFairApi, worker: startSpillwayWorker },
  // Callbacks to the bench's loopback receiver, and a parent type that spawns (fan-out scenario).
  'spillway-fanout': { api: startSpillwayFanoutApi, worker: startSpillwayFanoutWorker },
  // TASK_INDEXES=false in both (upkeep scenario).
  'spillway-unindexed': { api: startSpillwayUnindexedApi, worker: startSpillwayUnindexedWorker },
  bare: { api: startBareApi },
  naive: { api: startNaiveApi, worker: startNaiveWorker },
  bullmq: { api: startBullmqApi, worker: startBullmqWorker },
};

/** Microseconds between CPU samples: finer than the 1 ms default, for short bench runs. */
const PROFILE_INTERVAL_US = 500;

/**
 * With BENCH_CPU_PROFILE=<file>, samples the CPU from when the system has started until it has
 * stopped, and writes a .cpuprofile (the format of `node --cpu-prof`). Started here rather than
 * with --cpu-prof so neither tsx's module loading nor the start-up (topic creation, connecting)
 * is in it.
 */
async function startProfiling(file: string | undefined): Promise<() => Promise<void>> {
  if (!file) return async () => undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(toSourcePositions(profile)));
    session.disconnect();
  };
}

/**
 * Profiles name the TypeScript file, line and column. tsx runs TypeScript compiled with its
 * whitespace minified (V8's positions are columns of one long line), and this process holds its
 * source maps; Spillway runs from dist/, whose maps tsc wrote beside each file.
 */
function toSourcePositions(profile: Profiler.Profile): Profiler.Profile {
  const maps = new Map<string, SourceMap | undefined>();
  const mapOf = (file: string) => {
    if (!maps.has(file)) maps.set(file, findSourceMap(file) ?? compiledMap(file));
    return maps.get(file);
  };
  for (const { callFrame } of profile.nodes) {
    if (!callFrame.url.startsWith('file://')) continue;
    const entry = mapOf(fileURLToPath(callFrame.url))?.findEntry(
      callFrame.lineNumber,
      callFrame.columnNumber,
    );
    if (entry && 'originalLine' in entry) {
      callFrame.lineNumber = entry.originalLine;
      callFrame.columnNumber = entry.originalColumn;
      if (entry.originalSource.startsWith('file://')) callFrame.url = entry.originalSource;
    }
  }
  return profile;
}

function compiledMap(file: string): SourceMap | undefined {
  if (!file.endsWith('.js') || !existsSync(`${file}.map`)) return undefined;
  return new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as SourceMapPayload);
}

async function main(): Promise<void> {
  const [system, role, queue, partitions, concurrency] = process.argv.slice(2);
  const start = starters[system as SystemName]?.[role as Role];
  if (!start || !queue)
    throw new Error(`usage: serve.ts <system> <api|worker> <queue> <partitions> <concurrency>`);
  const started = await start({ queue, partitions: Number(partitions), concurrency: Number(concurrency) });
  const stopProfiling = await startProfiling(process.env.BENCH_CPU_PROFILE);
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  process.stdout.write(`BENCH_READY ${JSON.stringify({ port: started.port })}\n`);
  process.once('SIGTERM', () => {
    clearInterval(sampler);
    started
      .stop()
      .catch((err: unknown) => process.stderr.write(`stop failed: ${String(err)}\n`))
      .then(stopProfiling)
      .catch((err: unknown) => process.stderr.write(`profile not written: ${String(err)}\n`))
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
