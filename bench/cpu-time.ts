import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { REDIS_URL } from './stack';
import { summarize } from './stats';

/**
 * CPU time per task, per process: what decides throughput on a machine whose cores every process
 * shares. Read from /proc (user + system time of all of a process's threads), so it costs the
 * processes nothing and is far steadier from run to run than a rate. Its unit is the kernel's
 * clock tick (10 ms): a short run reads coarsely.
 */

/** The processes a scenario meters, by the name its report column carries. */
export type MeteredPids = Record<string, number | undefined>;

/** µs of CPU per task, per process that could be read at both ends of the window. */
export type CpuPerTask = Record<string, number>;

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString()) || 100;
  } catch {
    return 100;
  }
})();

/** A process's CPU time so far in ms; undefined off Linux, for a pid we may not read, or once it exited. */
export function cpuMs(pid: number): number | undefined {
  try {
    // The command name (field 2) may hold spaces; the fields after it are space-separated.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const [utime, stime] = [Number(fields[11]), Number(fields[12])];
    return Number.isFinite(utime + stime) ? ((utime + stime) * 1000) / TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/** The bench process itself: where autocannon generates the load. */
export const LOAD_GENERATOR = 'load generator';

/** This process's CPU time in ms, at µs resolution. */
const ownCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * The local stack's Redis (from its own INFO, so a reused server is found too) and Kafka broker
 * (from scripts/stack.sh's pid file). Either is left out when it cannot be found.
 */
export async function stackPids(): Promise<MeteredPids> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let redisPid: number | undefined;
  try {
    await redis.connect();
    redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]) || undefined;
  } catch {
    redisPid = undefined;
  } finally {
    redis.disconnect();
  }
  let kafkaPid: number | undefined;
  try {
    const file = path.join(__dirname, '..', '.stack', 'kafka', 'kafka.pid');
    kafkaPid = Number(readFileSync(file, 'utf8').trim()) || undefined;
  } catch {
    kafkaPid = undefined;
  }
  return { Redis: redisPid, 'Kafka broker': kafkaPid };
}

/** Started at the beginning of a measured window; `perTask` at its end. */
export class CpuMeter {
  private readonly start: Map<string, number>;
  private readonly ownStart = ownCpuMs();

  constructor(
    private readonly pids: MeteredPids,
    private readonly withLoadGenerator = false,
  ) {
    this.start = readAll(pids);
  }

  perTask(tasks: number): CpuPerTask {
    const out: CpuPerTask = {};
    if (tasks <= 0) return out;
    const end = readAll(this.pids);
    for (const [name, before] of this.start) {
      const after = end.get(name);
      if (after !== undefined) out[name] = ((after - before) * 1000) / tasks;
    }
    if (this.withLoadGenerator) out[LOAD_GENERATOR] = ((ownCpuMs() - this.ownStart) * 1000) / tasks;
    return out;
  }
}

function readAll(pids: MeteredPids): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, pid] of Object.entries(pids)) {
    const ms = pid === undefined ? undefined : cpuMs(pid);
    if (ms !== undefined) out.set(name, ms);
  }
  return out;
}

/** The median of each process's figure over repeated runs, for the processes every run could read. */
export function medianCpu(runs: CpuPerTask[]): CpuPerTask {
  const names = Object.keys(runs[0] ?? {}).filter((name) => runs.every((r) => r[name] !== undefined));
  return Object.fromEntries(names.map((name) => [name, summarize(runs.map((r) => r[name]!)).median]));
}
