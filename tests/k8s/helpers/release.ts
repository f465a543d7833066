import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { RedisTaskStore } from '../../../services/shared/redis/redis-task-store';
import {
  CHART,
  CLUSTER_VALUES,
  helmOk,
  kubectl,
  kubectlJson,
  portForward,
  ROOT,
  type PortForward,
} from './cluster';

/** The worker image with tests/fixtures/counting-handlers.js added, as a user adds handlers. */
export const E2E_WORKER_REPOSITORY = 'localhost/spillway-worker-e2e';

/**
 * Builds the e2e worker image on top of the cluster's worker image and imports it into the
 * node under each tag (same content: a new tag is what a rolling upgrade needs).
 */
export function buildE2eWorkerImage(tags: string[]): void {
  const podman = join(ROOT, 'scripts', 'images', 'podman.sh');
  // Its base, localhost/spillway-worker:dev, is gone from podman after a `skaffold dev` rebuild
  // (skaffold removes its previous build by image id, every tag of it): rebuilt from podman's
  // layer cache in seconds when it is.
  execFileSync('bash', [join(ROOT, 'scripts', 'images', 'build.sh')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const first = `${E2E_WORKER_REPOSITORY}:${tags[0]}`;
  execFileSync(
    'bash',
    [
      podman,
      'build',
      '--isolation',
      'chroot',
      '--network',
      'host',
      '--pull=never',
      '-f',
      join(ROOT, 'tests', 'k8s', 'worker-e2e.Containerfile'),
      '-t',
      first,
      join(ROOT, 'tests', 'fixtures'),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  for (const tag of tags.slice(1)) {
    execFileSync('bash', [podman, 'tag', first, `${E2E_WORKER_REPOSITORY}:${tag}`]);
  }
  const images = tags.map((tag) => `${E2E_WORKER_REPOSITORY}:${tag}`);
  execFileSync('bash', [join(ROOT, 'k8s', 'cluster', 'cluster.sh'), 'import', ...images], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export async function strimziCrdsInstalled(): Promise<boolean> {
  try {
    await kubectl(['get', 'crd', 'kafkas.kafka.strimzi.io']);
    return true;
  } catch {
    return false;
  }
}

/** A values object written to a file helm can read. */
function valuesFile(values: object): string {
  const file = join(mkdtempSync(join(tmpdir(), 'spillway-k8s-')), 'values.yaml');
  writeFileSync(file, stringify(values));
  return file;
}

/**
 * One release of the chart on the local cluster, installed with k8s/cluster/values.yaml (the
 * images built here, the cluster's Kafka, in-cluster Redis) plus a test's own values.
 */
export class Release {
  readonly fullname: string;
  private forward?: PortForward;

  constructor(
    readonly name: string,
    readonly namespace: string,
    readonly queue: string,
  ) {
    // As the chart's spillway.fullname: a release name that already says "spillway" is used as is.
    this.fullname = name.includes('spillway') ? name : `${name}-spillway`;
  }

  get workerDeployment(): string {
    return `${this.fullname}-worker`;
  }

  /** The cluster values, then this release's queue and a test's own values. */
  private valuesArgs(values: object): string[] {
    return ['-f', CLUSTER_VALUES, '-f', valuesFile({ queue: this.queue, ...values })];
  }

  /** `helm install`; without `wait: false` it returns once every pod is ready (hooks are waited for anyway). */
  async install(values: object, options: { wait?: boolean } = {}): Promise<string> {
    return helmOk([
      'install',
      this.name,
      CHART,
      '-n',
      this.namespace,
      '--create-namespace',
      ...this.valuesArgs(values),
      ...(options.wait === false ? [] : ['--wait', '--timeout', '5m']),
    ]);
  }

  /** `helm template` of the release with the same values as install: what a GitOps tool renders. */
  async template(values: object): Promise<string> {
    return helmOk(['template', this.name, CHART, '-n', this.namespace, ...this.valuesArgs(values)]);
  }

  /**
   * `helm upgrade` with the cluster values and these values (nothing reused from the last
   * release). A port-forward goes to one pod, which an upgrade may replace: it is reopened.
   */
  async upgrade(values: object, options: { wait?: boolean; forceConflicts?: boolean } = {}): Promise<string> {
    this.close();
    return helmOk([
      'upgrade',
      this.name,
      CHART,
      '-n',
      this.namespace,
      ...this.valuesArgs(values),
      ...(options.wait === false ? [] : ['--wait', '--timeout', '5m']),
      ...(options.forceConflicts ? ['--force-conflicts'] : []),
    ]);
  }

  async uninstall(): Promise<string> {
    return helmOk(['uninstall', this.name, '-n', this.namespace, '--wait', '--timeout', '3m']);
  }

  /** Waits until KEDA says the worker ScaledObject is Ready (its trigger reached Kafka). */
  async scaledObjectReady(): Promise<void> {
    await kubectl([
      'wait',
      '--for=condition=Ready',
      `scaledobject/${this.workerDeployment}`,
      '-n',
      this.namespace,
      '--timeout=120s',
    ]);
  }

  /** The Secrets the chart generates (API key, Redis password), which upgrades must keep. */
  async generatedSecrets(): Promise<Record<string, string>> {
    return {
      ...(await this.secretData(`${this.fullname}-api-keys`)),
      ...(await this.secretData(`${this.fullname}-redis`)),
    };
  }

  /** Waits until the API and worker Deployments run their current template only. */
  async rolledOut(): Promise<void> {
    for (const component of ['api', 'worker']) {
      await kubectl([
        'rollout',
        'status',
        `deployment/${this.fullname}-${component}`,
        '-n',
        this.namespace,
        '--timeout=5m',
      ]);
    }
  }

  /** The API's Service through `kubectl port-forward`, opened once. */
  async apiUrl(): Promise<string> {
    this.forward ??= await portForward(this.namespace, `svc/${this.fullname}-api`, 80);
    return this.forward.url;
  }

  /**
   * An `echo` task submitted through the API's Service with the release's key, read back once it
   * finished (or after 30 s): `submitted` is the submission's HTTP status.
   */
  async echo(payload: object): Promise<{ submitted: number; id: string; task: unknown }> {
    const url = await this.apiUrl();
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${await this.apiKey()}` };
    const sent = await fetch(`${url}/v1/tasks`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ type: 'echo', payload }),
    });
    const { id } = (await sent.json()) as { id: string };
    if (sent.status !== 202) return { submitted: sent.status, id, task: undefined };
    const task = await (await fetch(`${url}/v1/tasks/${id}?wait=30`, { headers })).json();
    return { submitted: sent.status, id, task };
  }

  /** The first key of the API-key Secret the chart generated. */
  async apiKey(): Promise<string> {
    return (await this.secretData(`${this.fullname}-api-keys`))['api-keys']!.split(/[\s,]+/)[0]!;
  }

  async secretData(name: string): Promise<Record<string, string>> {
    const secret = await kubectlJson(['get', 'secret', name, '-n', this.namespace]);
    return Object.fromEntries(
      Object.entries(secret.data as Record<string, string>).map(([k, v]) => [
        k,
        Buffer.from(v, 'base64').toString(),
      ]),
    );
  }

  /** Redis of the release, reached from this machine at its pod's address on the node's bridge. */
  async redisUrl(): Promise<string> {
    const pod = await kubectlJson(['get', 'pod', `${this.fullname}-redis-0`, '-n', this.namespace]);
    const { 'redis-password': password } = await this.secretData(`${this.fullname}-redis`);
    return `redis://:${encodeURIComponent(password!)}@${pod.status.podIP}:6379`;
  }

  async taskStore(): Promise<RedisTaskStore> {
    // A reconciliation reads thousands of records at once from a busy node: no 2 s command timeout.
    return new RedisTaskStore({
      url: await this.redisUrl(),
      queue: this.queue,
      ttlSeconds: 3600,
      commandTimeoutMs: 30_000,
    });
  }

  /** The worker Deployment as the API server has it now. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes JSON
  async workers(): Promise<any> {
    return kubectlJson(['get', 'deployment', this.workerDeployment, '-n', this.namespace]);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes JSON
  async workerPods(): Promise<any[]> {
    const list = await kubectlJson([
      'get',
      'pods',
      '-n',
      this.namespace,
      '-l',
      'app.kubernetes.io/component=worker',
    ]);
    // Pods on their way out (deleted, draining) are not the fleet any more.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return list.items.filter((pod: any) => !pod.metadata.deletionTimestamp);
  }

  close(): void {
    this.forward?.close();
    this.forward = undefined;
  }
}
