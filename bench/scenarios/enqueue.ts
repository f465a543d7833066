import autocannon from 'autocannon';
import { startChild, type Child } from '../child';
import { dropQueues } from '../cleanup';
import { CpuMeter, medianCpu, stackPids, type CpuPerTask } from '../cpu-time';
import type { BenchOptions } from '../options';
import type { SystemName } from '../serve';
import { authHeaders } from '../systems/types';
import { benchQueue } from '../stack';
import { summarize, type Summary } from '../stats';

export interface EnqueueRow {
  endpoint: 'single' | 'batch';
  system: SystemName;
  concurrency: number;
  tasksPerSec: Summary;
  p50Ms: Summary;
  p99Ms: Summary;
  /** µs of CPU per accepted task of the API, Redis, the Kafka broker and autocannon (medians). */
  cpuPerTask: CpuPerTask;
  /** Non-2xx answers and socket errors over all runs: a fast error is not throughput. */
  failures: number;
}

type LoadResult = Awaited<ReturnType<typeof autocannon>>;

export const single = JSON.stringify({ type: 'echo', payload: { n: 1 } });
export const batchOf = (n: number) =>
  JSON.stringify({ tasks: Array.from({ length: n }, (_, i) => ({ type: 'echo', payload: { n: i } })) });

/** One autocannon run against loopback, bounded by its duration. */
export async function load(
  url: string,
  body: string,
  connections: number,
  seconds: number,
  headers: Record<string, string> = {},
) {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    connections,
    duration: seconds,
  });
  return result;
}

/**
 * Scenario 1: HTTP submissions at fixed concurrency. One API process per system for all its runs
 * (no worker: this measures intake), warmed up before the measured runs. The systems take turns
 * run by run (in a rotating order), so a machine that slows down or speeds up during the scenario
 * (Kafka's log growing, another process waking) weighs on each of them alike: the ratios between
 * them are what the report compares.
 */
export async function enqueueScenario(options: BenchOptions): Promise<EnqueueRow[]> {
  const rows: EnqueueRow[] = [];
  const plans: { endpoint: 'single' | 'batch'; systems: SystemName[] }[] = [
    { endpoint: 'single', systems: ['bare', 'spillway', 'spillway-tenants', 'bullmq', 'naive'] },
    { endpoint: 'batch', systems: ['spillway', 'spillway-tenants', 'bullmq'] },
  ];
  for (const { endpoint, systems } of plans) {
    const path = endpoint === 'single' ? '/v1/tasks' : '/v1/tasks/batch';
    const body = endpoint === 'single' ? single : batchOf(options.batchSize);
    const perRequest = endpoint === 'single' ? 1 : options.batchSize;
    const started: { system: SystemName; queue: string; api: Child; pids: Record<string, number> }[] = [];
    try {
      for (const system of systems) {
        const queue = benchQueue(system);
        const api = await startChild(system, 'api', queue);
        started.push({ system, queue, api, pids: { API: api.pid, ...(await stackPids()) } });
        await load(api.url + path, body, 16, options.quick ? 0.5 : 2, authHeaders(system));
      }
      for (const concurrency of options.concurrencies) {
        const runs = new Map(started.map(({ system }) => [system, [] as LoadResult[]]));
        const cpu = new Map(started.map(({ system }) => [system, [] as CpuPerTask[]]));
        for (let i = 0; i < options.repeats; i++) {
          for (const { system, api, pids } of rotated(started, i)) {
            const meter = new CpuMeter(pids, true);
            const run = await load(
              api.url + path,
              body,
              concurrency,
              options.enqueueSeconds,
              authHeaders(system),
            );
            cpu.get(system)!.push(meter.perTask(run['2xx'] * perRequest));
            runs.get(system)!.push(run);
          }
        }
        for (const { system } of started) {
          const of = runs.get(system)!;
          const row: EnqueueRow = {
            endpoint,
            system,
            concurrency,
            tasksPerSec: summarize(of.map((r) => (r['2xx'] * perRequest) / r.duration)),
            p50Ms: summarize(of.map((r) => r.latency.p50)),
            p99Ms: summarize(of.map((r) => r.latency.p99)),
            cpuPerTask: medianCpu(cpu.get(system)!),
            failures: of.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0),
          };
          rows.push(row);
          console.log(
            `enqueue ${endpoint} ${system} c=${concurrency}: ${Math.round(row.tasksPerSec.median)} tasks/s, p99 ${row.p99Ms.median} ms`,
          );
        }
      }
    } finally {
      for (const { api } of started) await api.stop();
      await dropQueues(started.map(({ system, queue }) => ({ system, queue })));
    }
  }
  return rows;
}

/** `items` starting at its `turn`th one (wrapping): who goes first changes from run to run. */
function rotated<T>(items: T[], turn: number): T[] {
  const at = turn % items.length;
  return [...items.slice(at), ...items.slice(0, at)];
}

/** The best single-endpoint median of a system over every concurrency of an enqueue run. */
export function maxSingleRate(rows: EnqueueRow[], system: SystemName): number | undefined {
  const rates = rows
    .filter((r) => r.endpoint === 'single' && r.system === system)
    .map((r) => r.tasksPerSec.median);
  return rates.length > 0 ? Math.max(...rates) : undefined;
}

/** When the enqueue scenario did not run: one short single-endpoint run at 64 connections. */
export async function measureSingleRate(system: SystemName, seconds: number): Promise<number> {
  const queue = benchQueue(system);
  const api = await startChild(system, 'api', queue);
  try {
    await load(api.url + '/v1/tasks', single, 16, 0.5);
    const r = await load(api.url + '/v1/tasks', single, 64, seconds);
    return r['2xx'] / r.duration;
  } finally {
    await api.stop();
    await dropQueues([{ system, queue }]);
  }
}
