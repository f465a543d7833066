import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import type { SystemName } from './serve';
import type { Role } from './systems/types';

export interface Child {
  port: number;
  url: string;
  /** SIGTERM, then SIGKILL after a grace period; resolves with the peak RSS the child saw (bytes). */
  stop(): Promise<number>;
}

const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;

/** Starts one system's API or worker in its own Node process (TypeScript through tsx). */
export async function startChild(
  system: SystemName,
  role: Role,
  queue: string,
  { partitions = 6, concurrency = 16 } = {},
): Promise<Child> {
  const script = path.join(__dirname, 'serve.ts');
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', script, system, role, queue, String(partitions), String(concurrency)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
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
  return { port, url: `http://127.0.0.1:${port}`, stop: () => stopChild(proc, () => out) };
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
