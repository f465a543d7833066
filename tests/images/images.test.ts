import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../helpers/http';
import { freePort } from '../helpers/redis-server';
import { eventually, KAFKA_BROKERS, REDIS_URL, uniqueQueue } from '../helpers/stack';

/**
 * Builds Dockerfile.api and Dockerfile.worker as they are (podman, see scripts/images/) and runs
 * one container of each against the local Kafka and Redis over the host network.
 */
const ROOT = join(__dirname, '..', '..');
// The first build on a fresh machine installs podman and debootstraps the base image.
const BUILD_TIMEOUT_MS = 15 * 60_000;
// What `podman stop -t` grants before SIGKILL; Kubernetes grants 30 s by default.
const GRACE_SECONDS = 10;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Runs podman with the project's containers.conf; resolves with stdout, rejects on failure. */
async function podman(args: string[], input?: string): Promise<string> {
  const result = await run('bash', [join(ROOT, 'scripts', 'images', 'podman.sh'), ...args], input);
  if (result.code !== 0) throw new Error(`podman ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
  return result.stdout.trim();
}

/** package-lock.json paths (`node_modules/...`) of the packages only the dev dependencies need, and the others. */
function lockedPackages(): { dev: string[]; production: string[] } {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }>;
  };
  const dev: string[] = [];
  const production: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path.startsWith('node_modules/')) continue;
    if (entry.dev) dev.push(path);
    else if (!entry.devOptional && !entry.optional) production.push(path);
  }
  return { dev, production };
}

const SERVICES = ['api', 'worker'] as const;
type Service = (typeof SERVICES)[number];

describe('the container images', () => {
  const queue = uniqueQueue();
  const containers: Record<Service, { name: string; image: string; port: number }> = {
    api: { name: `spillway-api-${queue}`, image: 'spillway-api:dev', port: 0 },
    worker: { name: `spillway-worker-${queue}`, image: 'spillway-worker:dev', port: 0 },
  };
  const apiUrl = () => `http://127.0.0.1:${containers.api.port}`;

  beforeAll(async () => {
    const started = Date.now();
    // At the lowest CPU priority: on two cores, npm ci and tsc would otherwise slow down the
    // timing-sensitive tests that jest runs beside this one.
    const build = await run('nice', ['-n', '19', 'bash', join(ROOT, 'scripts', 'images', 'build.sh')]);
    if (build.code !== 0) throw new Error(`scripts/images/build.sh failed:\n${build.stderr}`);
    console.log(`images built in ${((Date.now() - started) / 1000).toFixed(1)} s:\n${build.stderr}`);

    for (const service of SERVICES) {
      const container = containers[service];
      container.port = await freePort();
      await podman([
        'run',
        '--detach',
        '--name',
        container.name,
        '--network',
        'host',
        '--env',
        `PORT=${container.port}`,
        '--env',
        `KAFKA_BROKERS=${KAFKA_BROKERS}`,
        '--env',
        `REDIS_URL=${REDIS_URL}`,
        '--env',
        `SPILLWAY_QUEUE=${queue}`,
        // The test's task is an echo: the demo types are off in the image unless asked for.
        '--env',
        'DEMO_HANDLERS=true',
        container.image,
      ]);
    }
    for (const service of SERVICES) {
      const { name, port } = containers[service];
      await eventually(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
          return res?.status === 200 ? true : undefined;
        },
        60_000,
        `${name} /readyz`,
      ).catch(async (err: unknown) => {
        const logs = await podman(['logs', name]).catch(() => '');
        throw new Error(`${String(err)}\n${logs}`);
      });
    }
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    // Always, even after a failed start: a leftover container would hold its port and queue.
    const names = SERVICES.map((service) => containers[service].name);
    await run('bash', [
      join(ROOT, 'scripts', 'images', 'podman.sh'),
      'rm',
      '--force',
      '--time',
      '0',
      ...names,
    ]);
  }, 60_000);

  it('serve: the API container accepts a task that the worker container completes', async () => {
    const payload = { from: 'a container', n: 42 };
    const submitted = await request(apiUrl(), 'POST', '/v1/tasks', { json: { type: 'echo', payload } });
    expect(submitted.status).toBe(202);
    const task = await request(apiUrl(), 'GET', `/v1/tasks/${submitted.body.id}?wait=20`);
    expect(task.status).toBe(200);
    expect(task.body).toMatchObject({ status: 'succeeded', result: payload });
  }, 60_000);

  it.each(SERVICES)('%s runs as the non-root node user', async (service) => {
    const { name, image } = containers[service];
    expect(await podman(['image', 'inspect', '--format', '{{.Config.User}}', image])).toBe('node');
    const uid = await podman(['exec', name, 'id', '-u']);
    expect(uid).toBe('1000');
  });

  it.each(SERVICES)(
    '%s ships compiled JavaScript and production dependencies only',
    async (service) => {
      const { image } = containers[service];
      const sh = (script: string, input?: string) =>
        podman(
          ['run', '--rm', '--interactive', '--network', 'none', '--entrypoint', 'sh', image, '-c', script],
          input,
        );

      // Outside node_modules: package.json and the compiled services, nothing else (no .ts, no tests);
      // the API also serves the built web console (dist/console: index.html and hashed assets).
      const files = (await sh('find /app -path /app/node_modules -prune -o -type f -print')).split('\n');
      const builtConsole = (file: string) => service === 'api' && /^\/app\/dist\/console\/[^/]+$/.test(file);
      const unexpected = files.filter(
        (file) =>
          file !== '/app/package.json' &&
          !/^\/app\/dist\/services\/.+\.js(\.map)?$/.test(file) &&
          !builtConsole(file),
      );
      expect(unexpected).toEqual([]);
      expect(files).toContain(`/app/dist/services/${service}/main.js`);
      if (service === 'api') expect(files).toContain('/app/dist/console/index.html');

      const { dev, production } = lockedPackages();
      const present = (paths: string[]) =>
        sh(
          'cd /app && while read -r p; do if [ -e "$p" ]; then echo "$p"; fi; done',
          paths.join('\n') + '\n',
        ).then((out) => out.split('\n').filter(Boolean));
      expect(await present(dev)).toEqual([]);
      expect(dev).toEqual(
        expect.arrayContaining(['node_modules/typescript', 'node_modules/jest', 'node_modules/ts-jest']),
      );
      expect((await present(production)).sort()).toEqual([...production].sort());
    },
    60_000,
  );

  it('reports the image sizes', async () => {
    const sizes = await Promise.all(
      SERVICES.map(async (service) => {
        const bytes = Number(
          await podman(['image', 'inspect', '--format', '{{.Size}}', containers[service].image]),
        );
        expect(bytes).toBeGreaterThan(0);
        return `${containers[service].image}: ${(bytes / 1e6).toFixed(0)} MB`;
      }),
    );
    console.log(sizes.join('\n'));
  });

  // Last: it stops the containers the other tests use.
  it.each(SERVICES)(
    `SIGTERM (podman stop) ends %s with exit code 0 within ${GRACE_SECONDS} s`,
    async (service) => {
      const { name } = containers[service];
      const started = Date.now();
      await podman(['stop', '--time', String(GRACE_SECONDS), name]);
      const elapsedMs = Date.now() - started;
      console.log(`${name} stopped in ${elapsedMs} ms`);
      // podman stop sends SIGKILL once the grace period is over, which would show as exit code 137.
      expect(await podman(['inspect', '--format', '{{.State.ExitCode}}', name])).toBe('0');
      expect(elapsedMs).toBeLessThan(GRACE_SECONDS * 1000);
    },
    30_000,
  );
});
