import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ORPHAN_GUARD } from './orphans';
import { eventually } from './stack';

const DIST = join(__dirname, '..', '..', 'dist', 'services');

/** A compiled API or worker started as its own OS process, exactly as `npm run start:*` does. */
export class ServiceProcess {
  readonly output: string[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;

  constructor(
    service: 'api' | 'worker',
    readonly port: number,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, ['--require', ORPHAN_GUARD, join(DIST, service, 'main.js')], {
      // The tests run the demo types (echo, sleep, ...), which a worker registers only when asked.
      env: { PATH: process.env.PATH, PORT: String(port), LOG_LEVEL: 'info', DEMO_HANDLERS: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => this.output.push(chunk.toString());
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async ready(timeoutMs = 30_000): Promise<void> {
    await eventually(
      async () => {
        if (this.child.exitCode !== null) throw new Error(`exited early:\n${this.output.join('')}`);
        const res = await fetch(`${this.url}/readyz`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      timeoutMs,
      `${this.url}/readyz`,
    );
  }

  /** Sends SIGTERM (what Kubernetes and `podman stop` send) and resolves with the exit code. */
  terminate(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }

  kill(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    return this.exited;
  }
}
