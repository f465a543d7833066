import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './stack';

/**
 * A free TCP port for a server a test starts in another process.
 *
 * Picked below the kernel's ephemeral range on purpose: a port the kernel hands out for `listen(0)`
 * comes from the same range as every outgoing connection's local port, so between our releasing
 * it and the child binding it, one of the many client sockets the tests open (Kafka, Redis,
 * HTTP) could take it — a chaos run once lost a worker to EADDRINUSE that way. Below that range
 * only another listener can take a port, and each candidate is checked free on every address.
 */
export async function freePort(): Promise<number> {
  const [low, high] = portRange();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found in ${low}-${high - 1}`);
}

/** Ports this process already gave out: two servers started side by side never get the same one. */
const handedOut = new Set<number>();

/** [low, high): from 10000 up to where the ephemeral range starts (32768 on Linux by default). */
function portRange(): [number, number] {
  let ephemeralStart = 32768;
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
    if (Number.isInteger(first) && first > 11_000) ephemeralStart = first;
  } catch {
    // not Linux, or no /proc: keep the Linux default
  }
  return [10_000, ephemeralStart];
}

/** Whether a server could listen on the port on all addresses (as the services do) right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
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
