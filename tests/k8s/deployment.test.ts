/**
 * The chart as a user installs it on the local cluster (k8s/cluster/values.yaml): the real images
 * on a real kubelet, in-cluster Redis on a provisioned volume, the cluster's Kafka, KEDA. What the
 * README promises about installing, testing, upgrading and uninstalling, checked on the cluster.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { helm, helmOk, kubectl, kubectlJson, ROOT, toolEnv, waitFor } from './helpers/cluster';
import { Release } from './helpers/release';
import { ConsoleBrowser, waitForText } from '../helpers/browser';
import { KEDA_PAUSED_ANNOTATION } from '../../services/shared/kubernetes/permissions';

const TAG = Date.now().toString(36);
const release = new Release('spillway', `deploy-${TAG}`, `k8s-deploy-${TAG}`);
const CLI = join(ROOT, 'dist', 'services', 'cli', 'main.js');

/** Generated Secrets before any upgrade: an upgrade must keep both. */
let secretsAtInstall: Record<string, string>;

beforeAll(async () => {
  // KEDA off first: the upgrade that turns it on is one of the checks.
  await release.install({ worker: { replicas: 2, autoscaling: { enabled: false } } });
  secretsAtInstall = await release.generatedSecrets();
}, 10 * 60_000);

afterAll(async () => {
  release.close();
  await kubectl(['delete', 'namespace', release.namespace, '--wait=false']).catch(() => undefined);
});

it('runs every pod Ready through its real probes, on the images built here', async () => {
  const pods: { metadata: { labels: Record<string, string> } }[] = (
    await kubectlJson(['get', 'pods', '-n', release.namespace])
  ).items;
  const byComponent = (c: string) =>
    pods.filter((p) => p.metadata.labels['app.kubernetes.io/component'] === c);
  expect(byComponent('api')).toHaveLength(1);
  expect(byComponent('worker')).toHaveLength(2);
  expect(byComponent('redis')).toHaveLength(1);
  for (const pod of pods as Awaited<ReturnType<typeof kubectlJson>>[]) {
    const ready = pod.status.conditions.find((c: { type: string }) => c.type === 'Ready');
    expect({ pod: pod.metadata.name, ready: ready?.status }).toEqual({
      pod: pod.metadata.name,
      ready: 'True',
    });
    const [container] = pod.spec.containers;
    expect(container.readinessProbe).toBeDefined();
    expect(container.image).toMatch(/^localhost\/spillway-(api|worker|redis):/);
  }
  // Redis keeps its data on a volume the provisioner made.
  const claim = await kubectlJson([
    'get',
    'pvc',
    `data-${release.fullname}-redis-0`,
    '-n',
    release.namespace,
  ]);
  expect(claim.status.phase).toBe('Bound');
});

it(
  'passes `helm test`: its pod submits a task through the Service and a worker runs it',
  async () => {
    const result = await helm(['test', release.name, '-n', release.namespace, '--logs', '--timeout', '3m']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/Phase:\s+Succeeded/);
    expect(result.stdout).toMatch(/task \S+ succeeded/);
  },
  5 * 60_000,
);

it('runs a task submitted through the API Service (kubectl port-forward)', async () => {
  const { submitted, id, task } = await release.echo({ from: 'kubernetes' });
  expect(submitted).toBe(202);
  expect(task).toMatchObject({ status: 'succeeded', result: { from: 'kubernetes' } });
  // Without the key the API refuses: the chart turned authentication on.
  expect((await fetch(`${await release.apiUrl()}/v1/tasks/${id}`)).status).toBe(401);
}, 60_000);

it('serves the console from the API image, and lists the task it ran', async () => {
  const url = await release.apiUrl();
  const page = await fetch(`${url}/console/`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  const html = await page.text();
  const scripts = [...html.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]!);
  expect(scripts.length).toBeGreaterThan(0);
  for (const src of scripts) {
    const asset = await fetch(new URL(src, `${url}/console/`));
    expect({ src, status: asset.status }).toEqual({ src, status: 200 });
  }
  const { id } = await release.echo({ from: 'console' });
  const listed = await fetch(`${url}/v1/tasks?type=echo&limit=200`, {
    headers: { authorization: `Bearer ${await release.apiKey()}` },
  });
  expect(listed.status).toBe(200);
  const body = (await listed.json()) as { items: { id: string; status: string }[] };
  expect(body.items.find((item) => item.id === id)?.status).toBe('succeeded');
}, 60_000);

it(
  'keeps the workers running when an upgrade turns KEDA on (helm must not drop replicas to 1)',
  async () => {
    await release.upgrade(
      { worker: { replicas: 2, autoscaling: { enabled: true, minReplicaCount: 1 } } },
      { wait: false },
    );
    // Read at once and for a while after: the HPA that KEDA makes starts from what runs.
    const seen: number[] = [];
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const deployment = await release.workers();
      seen.push(deployment.spec.replicas);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(Math.min(...seen)).toBe(2);
    await release.scaledObjectReady();
  },
  3 * 60_000,
);

it(
  'shows the real Deployment, ScaledObject and HPA in the fleet view, from the API and the CLI',
  async () => {
    await release.rolledOut();
    const url = await release.apiUrl();
    const key = await release.apiKey();
    const hpaName = `keda-hpa-${release.workerDeployment}`;
    await waitFor(
      'KEDA made the HPA',
      () => kubectlJson(['get', 'hpa', hpaName, '-n', release.namespace]),
      120_000,
    );
    const deployment = await release.workers();

    // In the cluster: the API reads them with its own ServiceAccount and the chart's Role.
    const fromApi = await waitFor(
      'the API fleet view with the HPA',
      async () => {
        const res = await fetch(`${url}/v1/fleet`, { headers: { authorization: `Bearer ${key}` } });
        const body = (await res.json()) as { hpa: unknown };
        return res.status === 200 && body.hpa ? body : undefined;
      },
      60_000,
      2000,
    );
    // From outside: the CLI reads them with the kubeconfig, beside the API's queue statistics.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        CLI,
        'fleet',
        '-n',
        release.namespace,
        '--deployment',
        release.workerDeployment,
        '--sample',
        '0',
        '--json',
        '--url',
        url,
      ],
      { env: { ...toolEnv(), SPILLWAY_API_KEY: key } },
    );
    const fromCli = JSON.parse(stdout);
    for (const view of [fromApi, fromCli] as Awaited<ReturnType<typeof kubectlJson>>[]) {
      expect(view.namespace).toBe(release.namespace);
      expect(view.workers).toMatchObject({
        name: release.workerDeployment,
        desiredReplicas: deployment.spec.replicas,
      });
      expect(view.scaledObject).toMatchObject({
        name: release.workerDeployment,
        hpaName,
        ready: { status: 'True' },
        // One trigger per lane: the priorities', highest first, then overflow.
        triggers: ['.high', '', '.low', '.overflow'].map((suffix) => ({
          type: 'kafka',
          topic: `spillway.${release.queue}.tasks${suffix}`,
          consumerGroup: `spillway.${release.queue}.workers${suffix}`,
        })),
      });
      expect(view.hpa).toMatchObject({ name: hpaName, minReplicas: 1 });
    }
    // In the console, in Debian's chromium: the Fleet panel shows the same Deployment and
    // ScaledObject, read by the API in the cluster.
    const browser = await ConsoleBrowser.start(url);
    try {
      const tab = await browser.signedIn(key);
      const fleet = tab.page.getByRole('region', { name: 'Fleet' });
      await waitForText(
        tab.page.getByTestId('fleet-replicas'),
        new RegExp(`${deployment.spec.replicas} desired`),
        60_000,
      );
      await expect(fleet.getByText(release.workerDeployment).first().isVisible()).resolves.toBe(true);
      await browser.endTest();
    } finally {
      await browser.close();
    }
  },
  5 * 60_000,
);

it(
  "pauses KEDA's ScaledObject while the queue is paused, through the API's Role, and resumes it",
  async () => {
    const url = await release.apiUrl();
    const headers = { authorization: `Bearer ${await release.apiKey()}` };
    const scaledObject = () =>
      kubectlJson(['get', 'scaledobject', release.workerDeployment, '-n', release.namespace]);
    const paused = await fetch(`${url}/v1/queue/pause`, { method: 'POST', headers });
    expect(await paused.json()).toMatchObject({ paused: true, autoscaling: 'paused' });
    expect((await scaledObject()).metadata.annotations?.[KEDA_PAUSED_ANNOTATION]).toBe('true');
    // KEDA honours it: its Paused condition turns True.
    await waitFor(
      'KEDA reports the ScaledObject paused',
      async () => {
        const conditions: { type: string; status: string }[] =
          (await scaledObject()).status?.conditions ?? [];
        return conditions.some((c) => c.type === 'Paused' && c.status === 'True') ? true : undefined;
      },
      60_000,
    );
    const resumed = await fetch(`${url}/v1/queue/resume`, { method: 'POST', headers });
    expect(await resumed.json()).toMatchObject({ paused: false, autoscaling: 'resumed' });
    expect((await scaledObject()).metadata.annotations ?? {}).not.toHaveProperty(KEDA_PAUSED_ANNOTATION);
  },
  3 * 60_000,
);

it(
  'keeps the generated API key and Redis password across upgrades',
  async () => {
    await release.upgrade({ worker: { autoscaling: { enabled: true, maxReplicaCount: 4 } } });
    const now = await release.generatedSecrets();
    expect(now).toEqual(secretsAtInstall);
  },
  5 * 60_000,
);

it(
  'reads tenants declared in values beside the generated key, and a values change without a restart',
  async () => {
    const acmeKey = `acme-${TAG}-0123456789abcdef`;
    const digest = createHash('sha256').update(acmeKey).digest('hex');
    const withTenants = (keys: object[]) => ({
      worker: { autoscaling: { enabled: true, maxReplicaCount: 4 } },
      api: { auth: { tenants: [{ name: 'acme', maxRunning: 5, keys }] } },
    });
    await release.upgrade(withTenants([{ sha256: digest, scopes: ['tasks:submit', 'tasks:read'] }]));
    await release.rolledOut();
    const url = await release.apiUrl();
    const as = (key: string) => ({ 'content-type': 'application/json', authorization: `Bearer ${key}` });
    const sent = await fetch(`${url}/v1/tasks`, {
      method: 'POST',
      headers: as(acmeKey),
      body: JSON.stringify({ type: 'echo', payload: { tenant: 'acme' } }),
    });
    expect(sent.status).toBe(202);
    const { id } = (await sent.json()) as { id: string };
    const task = await (await fetch(`${url}/v1/tasks/${id}?wait=30`, { headers: as(acmeKey) })).json();
    expect(task).toMatchObject({ tenant: 'acme', status: 'succeeded' });
    // The generated key still works beside them: a bare key, the default tenant's with every
    // scope, admin included, so it sees acme's task too.
    const asAdmin = await fetch(`${url}/v1/tasks/${id}`, { headers: as(await release.apiKey()) });
    expect(asAdmin.status).toBe(200);
    expect(await asAdmin.json()).toMatchObject({ tenant: 'acme' });

    // The key's digest taken out of values: the ConfigMap changes, the pod stays, the key stops.
    // The API pods that run (one of the upgrade's old pods may still be terminating).
    const pods = async (): Promise<string[]> =>
      (
        await kubectlJson(['get', 'pods', '-n', release.namespace, '-l', 'app.kubernetes.io/component=api'])
      ).items
        .filter((p: { metadata: { deletionTimestamp?: string } }) => !p.metadata.deletionTimestamp)
        .map((p: { metadata: { name: string } }) => p.metadata.name)
        .sort();
    const before = await pods();
    await release.upgrade(withTenants([]));
    const revokedUrl = await release.apiUrl();
    await waitFor(
      'the API refusing the key taken out of values',
      async () =>
        (await fetch(`${revokedUrl}/v1/tasks/${id}`, { headers: as(acmeKey) })).status === 401 || undefined,
      180_000,
    );
    expect(await pods()).toEqual(before);
  },
  8 * 60_000,
);

it(
  'leaves only what the README says after `helm uninstall`: the API-key Secret and the Redis volume',
  async () => {
    release.close();
    await release.uninstall();
    const left = async (kind: string) =>
      (await kubectlJson(['get', kind, '-n', release.namespace])).items.map(
        (o: { metadata: { name: string } }) => `${kind}/${o.metadata.name}`,
      );
    const kinds = [
      'deployments',
      'statefulsets',
      'services',
      'pods',
      'secrets',
      'configmaps',
      'serviceaccounts',
      'roles',
      'rolebindings',
      'networkpolicies',
      'poddisruptionbudgets',
      'horizontalpodautoscalers',
      'scaledobjects',
      'servicemonitors',
      'prometheusrules',
      'persistentvolumeclaims',
    ];
    const expected = [
      `secrets/${release.fullname}-api-keys`,
      `persistentvolumeclaims/data-${release.fullname}-redis-0`,
      // Kubernetes' own, in every namespace.
      'configmaps/kube-root-ca.crt',
      'serviceaccounts/default',
    ].sort();
    // Pods go after their owners, by the garbage collector and their grace period.
    const remaining = await waitFor(
      'only the kept objects left',
      async () => {
        const now = (await Promise.all(kinds.map(left))).flat().sort();
        return JSON.stringify(now) === JSON.stringify(expected) ? now : undefined;
      },
      120_000,
      2000,
    ).catch(async () => (await Promise.all(kinds.map(left))).flat().sort());
    expect(remaining).toEqual(expected);
    // A reinstall finds the kept key: clients keep working.
    const kept = await release.secretData(`${release.fullname}-api-keys`);
    expect(kept['api-keys']).toBe(secretsAtInstall['api-keys']);
    await helmOk(['list', '-n', release.namespace]);
  },
  5 * 60_000,
);
