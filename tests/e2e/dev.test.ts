/**
 * `npm run dev` stopped with Ctrl-C, as in a terminal: SIGINT to its whole process group. The
 * services must drain and leave their groups while Kafka is still up, then the stack it started
 * stops; nothing logs an error. (Before, the broker got the SIGINT too and died first: the worker
 * logged ECONNREFUSED and consumer crashes, and the next start waited out a dead group member.)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from '../helpers/http';
import { freePort } from '../helpers/redis-server';
import { eventually } from '../helpers/stack';

const ROOT = join(__dirname, '..', '..');

it('stops the services first, then the stack it started, without an error, on Ctrl-C', async () => {
  const stackDir = mkdtempSync(join(tmpdir(), 'spillway-dev-'));
  const [apiPort, workerPort, kafkaPort, controllerPort, redisPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const dev = spawn('bash', [join(ROOT, 'scripts', 'dev.sh')], {
    cwd: ROOT,
    // Its own process group, as a terminal gives it: Ctrl-C signals the group.
    detached: true,
    env: {
      ...process.env,
      STACK_DIR: stackDir,
      API_PORT: String(apiPort),
      WORKER_PORT: String(workerPort),
      KAFKA_PORT: String(kafkaPort),
      KAFKA_CONTROLLER_PORT: String(controllerPort),
      REDIS_PORT: String(redisPort),
      SPILLWAY_QUEUE: `dev-${Date.now().toString(36)}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  dev.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  dev.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => dev.on('exit', (code) => resolve(code)));
  try {
    const api = `http://127.0.0.1:${apiPort}`;
    await eventually(
      async () => ((await request(api, 'GET', '/readyz')).status === 200 ? true : undefined),
      120_000,
    );
    await eventually(
      async () =>
        (await request(`http://127.0.0.1:${workerPort}`, 'GET', '/readyz')).status === 200 ? true : undefined,
      60_000,
    );
    const sent = await request(api, 'POST', '/v1/tasks', { json: { type: 'echo', payload: 'dev' } });
    expect(sent.status).toBe(202);
    const done = await request(api, 'GET', `/v1/tasks/${sent.body.id}?wait=20`);
    expect(done.body.status).toBe('succeeded');

    process.kill(-dev.pid!, 'SIGINT');
    expect(await exited).toBe(130);
  } finally {
    if (dev.exitCode === null) process.kill(-dev.pid!, 'SIGKILL');
  }
  const lines = output.split('\n');
  expect(lines.filter((l) => l.includes('"level":"error"') || /ECONNREFUSED/.test(l))).toEqual([]);
  // The worker left its groups while the broker still answered, and the stack stopped what it started.
  const stopped = lines.filter((l) => l.includes('"msg":"stopped"')).map((l) => JSON.parse(l).service);
  expect(stopped.sort()).toEqual(['spillway-api', 'spillway-worker']);
  expect(output).toContain('[stack] kafka stopped');
  expect(output).toContain('[stack] redis stopped');
  expect(readFileSync(join(stackDir, 'kafka', 'server.log'), 'utf8')).not.toMatch(/SIGINT/);
}, 240_000);
