import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server';

const run = promisify(execFile);
const stackScript = join(__dirname, '..', '..', 'scripts', 'stack.sh');

/**
 * A private, real Kafka broker (one KRaft node, its own JVM) for tests that stop Kafka: stopping
 * the shared one would break every other test running beside them. Started and stopped by
 * `scripts/stack.sh up|down kafka` in a temp STACK_DIR, so it runs exactly like the shared broker
 * and a restart keeps its data (topics, offsets, producer state) as a real broker restart does.
 *
 * The script is run asynchronously on purpose: the API under test runs in this process, and a
 * blocking call would freeze it for the seconds a JVM takes to start or stop.
 */
export class PrivateKafka {
  readonly dir = mkdtempSync(join(tmpdir(), 'spillway-kafka-'));

  private constructor(
    readonly port: number,
    readonly controllerPort: number,
  ) {}

  /** Picks the broker's and the controller's ports; both stay the same across restarts. */
  static async create(): Promise<PrivateKafka> {
    const port = await freePort();
    let controllerPort = await freePort();
    while (controllerPort === port) controllerPort = await freePort();
    return new PrivateKafka(port, controllerPort);
  }

  /** The bootstrap address, as KAFKA_BROKERS wants it. */
  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The broker's log, for failure messages. */
  get logFile(): string {
    return join(this.dir, 'kafka', 'server.log');
  }

  /** Returns once the broker serves requests (~5-10 s of JVM start on two cores). */
  async start(): Promise<void> {
    await this.stack('up');
  }

  /** A clean shutdown (SIGTERM, as Kubernetes does); the data directory stays for `start()`. */
  async stop(): Promise<void> {
    await this.stack('down');
  }

  /** Stops the broker and deletes its files. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async stack(verb: 'up' | 'down'): Promise<void> {
    const env = {
      ...process.env,
      STACK_DIR: this.dir,
      // Set explicitly: the caller's KAFKA_HOST/KAFKA_PORT point at the shared broker.
      KAFKA_HOST: '127.0.0.1',
      KAFKA_PORT: String(this.port),
      KAFKA_CONTROLLER_PORT: String(this.controllerPort),
      // Small heap: this JVM runs beside the shared broker on a small machine.
      KAFKA_HEAP: '-Xms128m -Xmx512m',
    };
    try {
      await run('bash', [stackScript, verb, 'kafka'], { env, timeout: 120_000 });
    } catch (err) {
      const { stderr } = err as { stderr?: string };
      let log = '';
      try {
        log = readFileSync(this.logFile, 'utf8').split('\n').slice(-20).join('\n');
      } catch {
        // no log yet: the script failed before starting the JVM
      }
      throw new Error(`stack.sh ${verb} kafka failed: ${String(err)}\n${stderr ?? ''}\n${log}`);
    }
  }
}
