import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SystemName } from './serve';
import type { Role } from './systems/types';
import { ORPHAN_GUARD } from '../tests/helpers/orphans';

export interface Child {
  port: number;
  url: string;
  /** The process's pid, for its CPU time (cpu-time.ts). */
  pid: number;
  /** The kernel's peak resident set size of the process so far (VmHWM, bytes); undefined off Linux. */
  highWaterRss(): number | undefined;
  /** SIGTERM, then SIGKILL after a grace period; resolves with the peak RSS the child saw (bytes). */
  stop(): Promise<number>;
}

/** Partitions of a queue's tasks topic unless a scenario asks for another count. */
export const DEFAULT_PARTITIONS = 6;

const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;

/** Starts one system's API or worker in its own Node process (TypeScript through tsx). */
export async function startChild(
  system: SystemName,
  role: Role,
  queue: string,
  {
    partitions = DEFAULT_PARTITIONS,
    concurrency = 16,
    cpuProfile,
  }: {
    partitions?: number;
    concurrency?: number;
    /** Profile the process's CPU from when it has started until it stops, into this file (serve.ts). */
    cpuProfile?: string;
  } = {},
): Promise<Child> {
  const script = path.join(__dirname, 'serve.ts');
  // The guard stops the child (SIGTERM) if this bench is killed before it can.
  const node = ['--require', ORPHAN_GUARD, '--import', 'tsx'];
  const proc = spawn(
    process.execPath,
    [...node, script, system, role, queue, String(partitions), String(concurrency)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: cpuProfile ? { ...process.env, BENCH_CPU_PROFILE: cpuProfile } : process.env,
    },
  );
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    process.stderr.write(`[${system} ${role}] ${d.toString()}`);
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${system} ${role} did not start: ${err}`)),
      START_TIMEOUT_MS,
    );
    const check = () => {
      const m = /BENCH_READY (\{.*\})/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve((JSON.parse(m[1]!) as { port: number }).port);
      }
    };
    proc.stdout.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${system} ${role} exited with ${code}: ${err}`));
    });
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    pid: proc.pid!,
    highWaterRss: () => highWaterRss(proc.pid!),
    stop: () => stopChild(proc, () => out),
  };
}

function highWaterRss(pid: number): number | undefined {
  try {
    const kib = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

async function stopChild(proc: ChildProcess, output: () => string): Promise<number> {
  if (proc.exitCode === null) {
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
  const m = /BENCH_PEAK_RSS (\d+)/.exec(output());
  return m ? Number(m[1]) : 0;
}

/**
 * A system's API and one worker on `queue`. Together where they can start in any order (Spillway's
 * both create their topics, BullMQ needs none); the naive worker subscribes to the topic its API
 * creates, so that one goes first. Nothing is left running if either fails to start.
 */
export async function startApiAndWorker(
  system: SystemName,
  queue: string,
  shape: { partitions?: number; concurrency?: number } = {},
): Promise<{ api: Child; worker: Child }> {
  if (system === 'naive') {
    const api = await startChild(system, 'api', queue, shape);
    const worker = await startChild(system, 'worker', queue, shape).catch(async (err: unknown) => {
      await api.stop();
      throw err;
    });
    return { api, worker };
  }
  const [api, worker] = await Promise.allSettled([
    startChild(system, 'api', queue, shape),
    startChild(system, 'worker', queue, shape),
  ]);
  if (api.status === 'fulfilled' && worker.status === 'fulfilled')
    return { api: api.value, worker: worker.value };
  if (api.status === 'fulfilled') await api.value.stop();
  if (worker.status === 'fulfilled') await worker.value.stop();
  throw api.status === 'rejected' ? api.reason : (worker as PromiseRejectedResult).reason;
}
