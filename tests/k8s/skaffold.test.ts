/**
 * `npm run skaffold -- dev` on the local cluster, as a developer runs it: skaffold (built from its
 * Go module) builds both images with podman, they are imported into the node, the chart is
 * installed with their tags, the API is forwarded to this machine; a change under services/ is
 * rebuilt and redeployed; Ctrl-C removes the release.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { helm, kubectl, kubectlJson, ROOT, waitFor } from './helpers/cluster';

/** skaffold.yaml's `local` profile: release `spillway` in namespace `spillway`. */
const NAMESPACE = 'spillway';
/** A source file both images compile (a file tsc leaves out would not change the images). */
const CHANGE = join(ROOT, 'services', 'skaffold-dev-probe.ts');

let dev: ChildProcess | undefined;
let output = '';

/** Resolves with the output's first match of `pattern` after `from`, or throws after `timeoutMs`. */
async function nextInOutput(pattern: RegExp, from: number, timeoutMs: number): Promise<RegExpExecArray> {
  return waitFor(
    `skaffold dev printing ${pattern}`,
    async () => {
      if (dev?.exitCode !== null && dev?.exitCode !== undefined)
        throw new Error(`skaffold exited: ${output.slice(-2000)}`);
      return pattern.exec(output.slice(from)) ?? undefined;
    },
    timeoutMs,
    500,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nskaffold's output, last lines:\n${output.slice(-3000)}`);
  });
}

async function workerImage(): Promise<string> {
  const deployment = await kubectlJson(['get', 'deployment', 'spillway-worker', '-n', NAMESPACE]);
  return deployment.spec.template.spec.containers[0].image;
}

beforeAll(async () => {
  const existing = await helm(['status', 'spillway', '-n', NAMESPACE]);
  if (existing.status === 0) {
    throw new Error(
      'a release "spillway" already runs in namespace spillway: this test deploys skaffold.yaml\'s ' +
        'release there and deletes it at the end, so uninstall yours first (helm uninstall spillway -n spillway)',
    );
  }
});

afterAll(async () => {
  rmSync(CHANGE, { force: true });
  if (dev && dev.exitCode === null) {
    try {
      process.kill(-dev.pid!, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
    await helm(['uninstall', 'spillway', '-n', NAMESPACE, '--wait']);
  }
});

it(
  'builds, deploys and forwards the API, rebuilds on a change, and cleans up on Ctrl-C',
  async () => {
    // Its own process group, so Ctrl-C (SIGINT) reaches skaffold as from a terminal.
    // What `npm run skaffold -- dev` runs, without npm between the signal and skaffold.
    dev = spawn('bash', [join(ROOT, 'k8s', 'cluster', 'skaffold.sh'), 'dev', '--port-forward=user'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dev.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    dev.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

    const forwarded = await nextInOutput(/remote port 80 -> http:\/\/127\.0\.0\.1:(\d+)/, 0, 15 * 60_000);
    await nextInOutput(/Watching for changes/, 0, 10 * 60_000);
    const url = `http://127.0.0.1:${forwarded[1]}`;
    const firstImage = await workerImage();
    expect(firstImage).toMatch(/^localhost\/spillway-worker:[0-9a-f]{64}$/);

    // The API through skaffold's port-forward: a task runs to its outcome.
    const secret = await kubectlJson(['get', 'secret', 'spillway-api-keys', '-n', NAMESPACE]);
    const key = Buffer.from(secret.data['api-keys'], 'base64')
      .toString()
      .split(/[\s,]+/)[0];
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
    const sent = await fetch(`${url}/v1/tasks`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ type: 'echo', payload: 'dev' }),
    });
    expect(sent.status).toBe(202);
    const { id } = (await sent.json()) as { id: string };
    const task = (await (await fetch(`${url}/v1/tasks/${id}?wait=30`, { headers })).json()) as {
      status: string;
    };
    expect(task.status).toBe('succeeded');

    // A change to what the images copy: skaffold rebuilds, imports and redeploys.
    writeFileSync(CHANGE, `export const changedAt = '${new Date().toISOString()}';\n`);
    await waitFor(
      'the workers on the rebuilt image',
      async () => ((await workerImage()) !== firstImage ? true : undefined),
      10 * 60_000,
      2000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nskaffold's output, last lines:\n${output.slice(-3000)}`);
    });
    await kubectl(['rollout', 'status', 'deployment/spillway-worker', '-n', NAMESPACE, '--timeout=3m']);

    // Ctrl-C: skaffold dev deletes what it deployed.
    process.kill(-dev.pid!, 'SIGINT');
    await waitFor('skaffold to exit', async () => (dev!.exitCode !== null ? true : undefined), 180_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\nskaffold's output, last lines:\n${output.slice(-3000)}`);
      },
    );
    expect((await helm(['status', 'spillway', '-n', NAMESPACE])).status).not.toBe(0);
  },
  30 * 60_000,
);
