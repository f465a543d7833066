import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './stack';

/** A free TCP port on loopback (asked of the kernel, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface PrivateRedisOptions {
  /**
   * Keep every write in an append-only file (default false: the data dies with the process).
   * With it, what Redis acknowledged survives stop() and start().
   */
  appendOnly?: boolean;
}

/**
 * A private, real redis-server for tests that stop Redis: stopping the shared one would break
 * every other test running beside them.
 */
export class PrivateRedis {
  private process?: ChildProcess;
  private readonly dir = mkdtempSync(join(tmpdir(), 'spillway-redis-'));

  constructor(
    readonly port: number,
    private readonly options: PrivateRedisOptions = {},
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    // stop() kills the process, not the machine: Redis writes the AOF to the kernel before it
    // answers, so every acknowledged write survives without fsync ('always' would make each
    // write wait for a disk the broker keeps busy).
    const persistence = this.options.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'no'] : [];
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', ...persistence],
      {
        stdio: 'ignore',
      },
    );
    this.process = child;
    await eventually(
      () =>
        new Promise<true | undefined>((resolve) => {
          const probe = createServer();
          probe.once('error', () => resolve(true)); // port taken: the server is listening
          probe.listen(this.port, '127.0.0.1', () => probe.close(() => resolve(undefined)));
        }),
      10_000,
      `redis-server on port ${this.port}`,
    );
  }

  /**
   * Freezes the server (SIGSTOP): connections stay open and commands are received but not
   * answered, as with a Redis stalled on a slow disk or starved of CPU. resume() answers them.
   */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}
