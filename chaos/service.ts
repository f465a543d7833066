import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ORPHAN_GUARD } from '../tests/helpers/orphans';

const DIST = join(__dirname, '..', 'dist', 'services');
/** Lines of output kept per process: enough to explain a failure, bounded for a soak of hours. */
const TAIL_LINES = 200;

/**
 * A compiled API or worker run as its own OS process, as `npm run start:*` does. Like
 * tests/helpers/processes.ts' ServiceProcess, plus what chaos needs: the pid (for /proc and
 * `kill -9`), the exit code and signal, and a bounded tail of the output instead of all of it.
 */
export class ServiceProcess {
  private readonly child: ChildProcess;
  private readonly tail: string[] = [];
  /** Error-level log messages (numbers blanked, so repeats group) and how often each came. */
  readonly errors = new Map<string, number>();
  /** When the worker logged that it joined its consumer group (epoch ms): once per rebalance. */
  readonly joins: number[] = [];
  /** The tasks topic partitions each join assigned, as `0,3`, in the order of `joins`. */
  readonly assignments: string[] = [];
  /**
   * Set when the worker logged that one of its Kafka consumers crashed and kafkajs will not
   * restart it (`restart: false`): the worker should then end its process.
   */
  deadConsumer?: string;
  /** The worker the deployment started in this one's place after it exited with a dead consumer. */
  replacement?: Promise<ServiceProcess>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly startedAt = Date.now();

  constructor(
    readonly service: 'api' | 'worker',
    /** A stable name in reports: `api`, `worker-1`, ... (a replacement gets a new one). */
    readonly name: string,
    readonly port: number,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, ['--require', ORPHAN_GUARD, join(DIST, service, 'main.js')], {
      // The scenarios' load includes demo types, which a worker registers only when asked.
      env: { PATH: process.env.PATH ?? '', PORT: String(port), DEMO_HANDLERS: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        this.tail.push(line);
        if (line.includes('"level":"error"')) this.countError(line);
        if (line.includes('"msg":"joined consumer group"')) {
          this.joins.push(Date.now());
          this.assignments.push(/"partitions":\[([\d,]*)\]/.exec(line)?.[1] ?? '?');
        }
      }
      if (this.tail.length > TAIL_LINES) this.tail.splice(0, this.tail.length - TAIL_LINES);
    };
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  private countError(line: string): void {
    let message = line;
    try {
      const entry = JSON.parse(line) as { msg?: string; error?: string };
      message = entry.error ? `${entry.msg}: ${entry.error}` : (entry.msg ?? line);
    } catch {
      // a partial line: counted as it is
    }
    if (line.includes('consumer crashed') && line.includes('"restart":false')) this.deadConsumer ??= message;
    const key = `${this.service}: ${message.replace(/\d+/g, 'N').slice(0, 160)}`;
    if (this.errors.size < 100 || this.errors.has(key)) this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  /** The tasks topic partitions of the worker's last join, as `0,3` ('' before any). */
  get partitions(): string {
    return this.assignments.at(-1) ?? '';
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines the process wrote (JSON log lines), oldest first. */
  output(): string[] {
    return [...this.tail];
  }

  /**
   * Resolves once /readyz answers 200. Fails at once if the process exits or one of its consumers
   * died for good (it would never be ready), else after `timeoutMs`, with the last answer and log.
   */
  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    for (;;) {
      let why: string | undefined;
      if (!this.alive) why = 'exited';
      else if (this.deadConsumer) why = `its consumer crashed for good (${this.deadConsumer})`;
      else if (Date.now() > deadline) why = `not ready within ${timeoutMs} ms`;
      if (why) {
        const lines = this.tail.slice(-8).map((line) => line.slice(0, 400));
        throw new Error(
          `${this.name} ${why}; last /readyz answer: ${last}; last log lines:\n${lines.join('\n')}`,
        );
      }
      const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(5000) }).catch(
        () => undefined,
      );
      if (res) last = `${res.status} ${await res.text().catch(() => '')}`;
      if (res?.status === 200) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** SIGTERM, as Kubernetes sends it; resolves with how the process ended. */
  terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) this.child.kill('SIGTERM');
    return this.exited;
  }

  /** `kill -9`: no cleanup of any kind runs in the process. */
  kill(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.alive) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.terminate();
    clearTimeout(timer);
  }
}
