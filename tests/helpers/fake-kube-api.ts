import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { kedaHpaName } from '../../services/shared/kubernetes/permissions';
import { KAFKA_BROKERS, REDIS_URL } from './stack';

/**
 * A FAKE Kubernetes API server. No cluster can run on the machines these tests run on, so the
 * fleet reader is tested against this: plain HTTP on loopback that answers GETs of namespaced
 * objects by their REST path, with Kubernetes' Status bodies for 401, 403 and 404. The objects
 * it serves are built with the typed models of `kubernetes-models` and
 * `@kubernetes-models/keda` and validated against their schemas before being served, so their
 * shape is the real API's. Besides GETs it takes merge patches (application/merge-patch+json,
 * RFC 7386), the one write the API makes (KEDA's pause annotation). It is not Kubernetes: no
 * watch, no list, no other patch types, no defaulting, no RBAC beyond the `forbid` list a test sets.
 */
export interface FakeKubeApi {
  url: string;
  /** A kubeconfig whose current context points here (namespace and token included). */
  kubeconfig: string;
  /** Every request received, in order. */
  requests: { method: string; path: string; authorization: string | undefined; contentType?: string }[];
  /** The object of `kind` named `name`, as served now (after any patches). */
  get(kind: string, name: string): KubeObject | undefined;
  /** Adds or replaces an object (validated first). */
  put(object: KubeObject): void;
  remove(kind: string, name: string): void;
  /** REST resources (e.g. "horizontalpodautoscalers") answered 403, as a Role without them would. */
  forbid: Set<string>;
  /** API groups the server has no resources of (e.g. "keda.sh": KEDA not installed). */
  missingGroups: Set<string>;
  close(): Promise<void>;
}

export type KubeObject = Deployment | ScaledObject | HorizontalPodAutoscaler;

export const FAKE_TOKEN = 'fake-kube-api-token';

export async function startFakeKubeApi(namespace: string, objects: KubeObject[] = []): Promise<FakeKubeApi> {
  const store = new Map<string, KubeObject>();
  const requests: FakeKubeApi['requests'] = [];
  const forbid = new Set<string>();
  const missingGroups = new Set<string>();
  const keyOf = (group: string, version: string, resource: string, ns: string, name: string) =>
    `/apis/${group}/${version}/namespaces/${ns}/${resource}/${name}`;
  const put = (object: KubeObject) => {
    object.validate();
    const [group, version] = object.apiVersion.split('/') as [string, string];
    const m = object.metadata!;
    store.set(keyOf(group, version, resourceOf(object.kind), m.namespace!, m.name!), object);
  };
  objects.forEach(put);

  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url!, 'http://fake').pathname;
    requests.push({
      method: req.method!,
      path,
      authorization: req.headers.authorization,
      ...(req.headers['content-type'] && { contentType: req.headers['content-type'] }),
    });
    const reply = (code: number, body: object) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const status = (code: number, reason: string, message: string) =>
      reply(code, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message,
        reason,
        code,
      });

    if (req.headers.authorization !== `Bearer ${FAKE_TOKEN}`)
      return status(401, 'Unauthorized', 'Unauthorized');
    const match = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
    const isPatch = req.method === 'PATCH' && req.headers['content-type'] === 'application/merge-patch+json';
    if ((req.method !== 'GET' && !isPatch) || !match)
      return status(404, 'NotFound', 'the server could not find the requested resource');
    const [, group, version, ns, resource, name] = match as unknown as string[];
    if (missingGroups.has(group!)) {
      return status(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (forbid.has(resource!)) {
      return status(
        403,
        'Forbidden',
        `${resource}.${group} "${name}" is forbidden: User "system:serviceaccount:${ns}:fake" cannot ${isPatch ? 'patch' : 'get'} resource "${resource}" in API group "${group}" in the namespace "${ns}"`,
      );
    }
    const found = store.get(keyOf(group!, version!, resource!, ns!, name!));
    if (!found) return status(404, 'NotFound', `${resource}.${group} "${name}" not found`);
    if (isPatch) {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      mergePatch(found as unknown as Record<string, unknown>, JSON.parse(Buffer.concat(chunks).toString()));
      found.validate();
    }
    reply(200, found.toJSON());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    kubeconfig: writeKubeconfig(url, namespace),
    requests,
    put,
    get: (kind, name) => [...store.values()].find((o) => o.kind === kind && o.metadata!.name === name),
    remove: (kind, name) => {
      for (const [key, object] of store) {
        if (object.kind === kind && object.metadata!.name === name) store.delete(key);
      }
    },
    forbid,
    missingGroups,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The environment of an API process (tests/helpers/processes.ts) whose fleet view reads `fake`
 * for the workers and ScaledObject named `name` in `namespace`; `extra` adds or overrides.
 */
export function fleetApiEnv(
  queue: string,
  fake: Pick<FakeKubeApi, 'kubeconfig'>,
  { namespace, name }: { namespace: string; name: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    SPILLWAY_QUEUE: queue,
    KAFKA_BROKERS,
    REDIS_URL,
    KAFKA_TASK_PARTITIONS: '3',
    TASK_TTL_SECONDS: '3600',
    FLEET_NAMESPACE: namespace,
    FLEET_WORKER_DEPLOYMENT: name,
    FLEET_SCALED_OBJECT: name,
    KUBECONFIG: fake.kubeconfig,
    ...extra,
  };
}

/** A kubeconfig for a server on `url` (plain HTTP: client-node 1.x then wants insecure-skip-tls-verify). */
export function writeKubeconfig(url: string, namespace: string, token = FAKE_TOKEN): string {
  const file = join(mkdtempSync(join(tmpdir(), 'spillway-kubeconfig-')), 'config');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '  - name: fake',
      `    cluster: { server: "${url}", insecure-skip-tls-verify: true }`,
      'users:',
      '  - name: fake',
      `    user: { token: "${token}" }`,
      'contexts:',
      '  - name: fake',
      `    context: { cluster: fake, user: fake, namespace: "${namespace}" }`,
      'current-context: fake',
      '',
    ].join('\n'),
  );
  return file;
}

/** RFC 7386 merge patch, in place: objects merge, `null` removes a member, anything else replaces. */
function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (value === null) delete target[key];
    else if (typeof value === 'object' && !Array.isArray(value)) {
      const into = typeof current === 'object' && current !== null && !Array.isArray(current) ? current : {};
      mergePatch(into as Record<string, unknown>, value as Record<string, unknown>);
      target[key] = into;
    } else target[key] = value;
  }
}

function resourceOf(kind: string): string {
  return `${kind.toLowerCase()}s`;
}

/** What a healthy, scaling Spillway fleet looks like: KEDA has scaled the workers from 1 to 4 on a lag of 412. */
export interface FleetFixture {
  namespace: string;
  /** The worker Deployment, and the ScaledObject of the same name (as the chart names them). */
  name: string;
  topic: string;
  group: string;
}

export function fleetObjects({ namespace, name, topic, group }: FleetFixture): KubeObject[] {
  const labels = { 'app.kubernetes.io/name': 'spillway', 'app.kubernetes.io/component': 'worker' };
  const metricName = `s0-kafka-${topic}`;
  const hpaName = kedaHpaName(name);
  const at = '2026-11-24T13:40:00Z';
  return [
    new Deployment({
      metadata: { name, namespace, labels },
      spec: {
        replicas: 4,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'worker', image: 'spillway-worker:0.1.0' }] },
        },
      },
      status: {
        replicas: 4,
        readyReplicas: 3,
        availableReplicas: 3,
        updatedReplicas: 4,
        observedGeneration: 7,
      },
    }),
    new ScaledObject({
      metadata: { name, namespace, labels },
      spec: {
        scaleTargetRef: { name },
        minReplicaCount: 1,
        maxReplicaCount: 6,
        pollingInterval: 5,
        triggers: [
          {
            type: 'kafka',
            metadata: {
              bootstrapServers: 'spillway-kafka-kafka-bootstrap.spillway.svc:9092',
              consumerGroup: group,
              topic,
              lagThreshold: '100',
            },
          },
        ],
      },
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'ScaledObjectReady',
            message: 'ScaledObject is defined correctly and is ready for scaling',
          },
          {
            type: 'Active',
            status: 'True',
            reason: 'ScalerActive',
            message: 'Scaling is performed because triggers are active',
          },
          { type: 'Fallback', status: 'False', reason: 'NoFallbackFound', message: 'No fallback was found' },
        ],
        externalMetricNames: [metricName],
        hpaName,
        lastActiveTime: at,
        originalReplicaCount: 1,
      },
    }),
    new HorizontalPodAutoscaler({
      metadata: { name: hpaName, namespace, labels },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
        minReplicas: 1,
        maxReplicas: 6,
        metrics: [
          {
            type: 'External',
            external: {
              metric: { name: metricName, selector: { matchLabels: { 'scaledobject.keda.sh/name': name } } },
              target: { type: 'AverageValue', averageValue: '100' },
            },
          },
        ],
      },
      status: {
        currentReplicas: 3,
        desiredReplicas: 4,
        currentMetrics: [
          {
            type: 'External',
            external: { metric: { name: metricName }, current: { averageValue: '137333m' } },
          },
        ],
        conditions: [
          { type: 'AbleToScale', status: 'True', reason: 'ReadyForNewScale' },
          { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound' },
          { type: 'ScalingLimited', status: 'False', reason: 'DesiredWithinRange' },
        ],
      },
    }),
  ];
}
