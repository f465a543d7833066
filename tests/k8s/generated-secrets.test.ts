/**
 * generatedSecrets.mode `job` on the local cluster: the hook Job of the API image makes the API key
 * and the Redis password in the cluster, an Argo CD sync (a `helm template` render, its PreSync
 * hooks, `kubectl apply`) rotates neither, an uninstall leaves what render mode leaves, and a
 * release installed in render mode switches to job mode with both values kept. The generator
 * itself runs against the real API server too: 409 kept, a missing key added, a clear failure.
 */
import { clusterEnv, helmOk, kubectl, kubectlJson } from './helpers/cluster';
import { argoCdSync, runGenerator, serviceAccountKubeconfig } from './helpers/gitops';
import { Release } from './helpers/release';

const TAG = Date.now().toString(36);
const release = new Release('spillway', `gensec-${TAG}`, `k8s-gensec-${TAG}`);
const VALUES = {
  generatedSecrets: { mode: 'job' },
  worker: { replicas: 1, autoscaling: { enabled: false } },
};
const API_KEYS = `${release.fullname}-api-keys`;
const REDIS = `${release.fullname}-redis`;

/** The values at install, which nothing after it may change. */
let installed: Record<string, string>;
let taskId: string;

beforeAll(async () => {
  // "restricted" enforced: a hook pod that breaks it is refused, and the install fails.
  await kubectl(['create', 'namespace', release.namespace]);
  await kubectl(['label', 'namespace', release.namespace, 'pod-security.kubernetes.io/enforce=restricted']);
  await release.install(VALUES);
  installed = await release.generatedSecrets();
}, 10 * 60_000);

afterAll(async () => {
  release.close();
  await kubectl(['delete', 'namespace', release.namespace, '--wait=false']).catch(() => undefined);
});

/** A task through the API, which reads the key and the Redis password; a worker runs it with the password too. */
async function submitAndWait(): Promise<string> {
  const { submitted, id, task } = await release.echo({ secrets: 'generated' });
  expect(submitted).toBe(202);
  expect(task).toMatchObject({ status: 'succeeded', result: { secrets: 'generated' } });
  return id;
}

/** The secrets-init and secrets-cleanup hook objects still in the namespace. */
async function hookObjects(): Promise<string[]> {
  const list = await kubectlJson([
    'get',
    'serviceaccounts,roles,rolebindings,jobs',
    '-n',
    release.namespace,
    '-l',
    'app.kubernetes.io/component in (secrets-init,secrets-cleanup)',
  ]);
  return list.items.map((o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`);
}

it('makes both Secrets with the hook Job, outside the release, and every pod runs with them', async () => {
  expect(installed['redis-password']).toMatch(/^[A-Za-z0-9]{32}$/);
  expect(installed['api-keys']).toMatch(/^[A-Za-z0-9]{40}$/);
  for (const name of [API_KEYS, REDIS]) {
    const secret = await kubectlJson(['get', 'secret', name, '-n', release.namespace]);
    expect(secret.metadata.annotations).toMatchObject({ 'spillway.dev/generated-by': 'secrets-init' });
    // Made by the generator, not by Helm: not part of the release, so no render can replace it.
    expect(secret.metadata.annotations).not.toHaveProperty('meta.helm.sh/release-name');
    expect(secret.metadata.labels['app.kubernetes.io/instance']).toBe(release.name);
  }
  expect(await helmOk(['get', 'manifest', release.name, '-n', release.namespace])).not.toMatch(
    /^kind: Secret$/m,
  );
  // The hook objects, its Secret-writing Role among them, went once the Job succeeded.
  expect(await hookObjects()).toEqual([]);
  // The hook's own pod may still be on its way out with its Job: the release's workloads only.
  const pods = (
    await kubectlJson([
      'get',
      'pods',
      '-n',
      release.namespace,
      '-l',
      'app.kubernetes.io/component in (api,worker,redis)',
    ])
  ).items;
  expect(pods).toHaveLength(3);
  for (const pod of pods) {
    const ready = pod.status.conditions.find((c: { type: string }) => c.type === 'Ready');
    expect([pod.metadata.name, ready?.status]).toEqual([pod.metadata.name, 'True']);
  }
  taskId = await submitAndWait();
}, 120_000);

it('keeps both values through an Argo CD sync: a helm template render, its PreSync hooks, kubectl apply', async () => {
  const manifest = await release.template(VALUES);
  const logs = await argoCdSync(release.namespace, manifest);
  expect(logs).toContain('"secret":"' + REDIS + '","key":"redis-password"');
  expect(logs.match(/kept the Secret: it exists with its key, value unchanged/g)).toHaveLength(2);
  expect(await release.generatedSecrets()).toEqual(installed);
  await release.rolledOut();
  // Still answered with the same key, reading the task from before the sync out of the same Redis.
  release.close();
  const url = await release.apiUrl();
  const task = await fetch(`${url}/v1/tasks/${taskId}`, {
    headers: { authorization: `Bearer ${installed['api-keys']}` },
  });
  expect(task.status).toBe(200);
  expect(await task.json()).toMatchObject({ id: taskId, status: 'succeeded' });
  await submitAndWait();
}, 180_000);

describe('the generator against the API server', () => {
  const kubeconfig = () => clusterEnv().kubeconfig;
  const ns = () => release.namespace;

  it('keeps an existing value (409), adds only a missing key, and removes only its own Secrets', async () => {
    await kubectl(['create', 'secret', 'generic', 'partial', '-n', ns(), '--from-literal=other=keep-me']);
    const spec = { name: 'partial', key: 'token', length: 24 };
    const first = await runGenerator(kubeconfig(), ns(), 'ensure', [
      spec,
      { name: 'fresh', key: 'k', length: 16 },
    ]);
    expect(first.status).toBe(0);
    expect(first.lines.at(-1)!.outcomes).toEqual({ partial: 'completed', fresh: 'created' });
    const completed = await release.secretData('partial');
    expect(completed.other).toBe('keep-me');
    expect(completed.token).toMatch(/^[A-Za-z0-9]{24}$/);

    const again = await runGenerator(kubeconfig(), ns(), 'ensure', [spec]);
    expect(again.lines.at(-1)!.outcomes).toEqual({ partial: 'kept' });
    expect(await release.secretData('partial')).toEqual(completed);

    const removed = await runGenerator(kubeconfig(), ns(), 'remove', [
      spec,
      { name: 'fresh', key: 'k', length: 16 },
    ]);
    expect(removed.status).toBe(0);
    // `partial` is not the generator's (no mark): left as it is.
    expect(removed.lines.at(-1)!.outcomes).toEqual({ partial: 'not-ours', fresh: 'deleted' });
    expect(await release.secretData('partial')).toEqual(completed);
    await kubectl(['delete', 'secret', 'partial', '-n', ns()]);
  }, 60_000);

  it('exits 1 saying which permission is missing when its ServiceAccount has none', async () => {
    await kubectl(['create', 'serviceaccount', 'no-rights', '-n', ns()]);
    const run = await runGenerator(await serviceAccountKubeconfig(ns(), 'no-rights'), ns(), 'ensure', [
      { name: 'never-made', key: 'k', length: 16 },
    ]);
    expect(run.status).toBe(1);
    const error = run.lines.find((l) => l.level === 'error')!;
    expect(error.msg).toMatch(
      new RegExp(
        `^ensure failed: not allowed to create Secret never-made in namespace ${ns()} \\(403: .+\\): ` +
          'the ServiceAccount needs "create" on secrets; the chart\'s hook Role grants it$',
      ),
    );
  }, 60_000);
});

it(
  'leaves what render mode leaves after `helm uninstall`: the API key, not the Redis password',
  async () => {
    release.close();
    await release.uninstall();
    const secrets = await kubectlJson([
      'get',
      'secrets',
      '-n',
      release.namespace,
      '-l',
      `app.kubernetes.io/instance=${release.name}`,
    ]);
    expect(secrets.items.map((s: { metadata: { name: string } }) => s.metadata.name)).toEqual([API_KEYS]);
    expect((await release.secretData(API_KEYS))['api-keys']).toBe(installed['api-keys']);
    // The post-delete hook removed the password, then went itself.
    expect(await hookObjects()).toEqual([]);
    const claim = await kubectlJson(['get', 'pvc', `data-${REDIS}-0`, '-n', release.namespace]);
    expect(claim.metadata.name).toBe(`data-${REDIS}-0`);
  },
  5 * 60_000,
);

it(
  'switches a release installed in render mode to job mode with both values kept',
  async () => {
    const moved = new Release('spillway', `gensec-move-${TAG}`, `k8s-gensec-move-${TAG}`);
    // No pod needs to run to show it: what matters is which Secrets the upgrade leaves.
    const idle = { api: { replicas: 0 }, worker: { replicas: 0, autoscaling: { enabled: false } } };
    try {
      await moved.install(idle, { wait: false });
      const rendered = await moved.generatedSecrets();
      // Helm drops from the cluster what the new release no longer renders, unless it is kept.
      await moved.upgrade({ ...idle, generatedSecrets: { mode: 'job' } }, { wait: false });
      expect(await moved.generatedSecrets()).toEqual(rendered);
      const redis = await kubectlJson(['get', 'secret', `${moved.fullname}-redis`, '-n', moved.namespace]);
      expect(redis.metadata.annotations).toMatchObject({
        'helm.sh/resource-policy': 'keep',
        'spillway.dev/generated-by': 'secrets-init',
      });
      expect(await helmOk(['get', 'manifest', moved.name, '-n', moved.namespace])).not.toMatch(
        /^kind: Secret$/m,
      );
      // A second upgrade finds them as the first left them.
      await moved.upgrade({ ...idle, generatedSecrets: { mode: 'job' } }, { wait: false });
      expect(await moved.generatedSecrets()).toEqual(rendered);
    } finally {
      await kubectl(['delete', 'namespace', moved.namespace, '--wait=false']).catch(() => undefined);
    }
  },
  5 * 60_000,
);
