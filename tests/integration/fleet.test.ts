import { EXIT } from '../../services/cli/exit-codes';
import { kafkaNames } from '../../services/shared/kafka/names';
import { countsSample, drainRate, DrainMeter } from '../../services/shared/kubernetes/drain';
import { hpaView, quantity, scaledObjectView, workersView } from '../../services/shared/kubernetes/fleet';
import { IN_CLUSTER_TOKEN, resolveKubeSource } from '../../services/shared/kubernetes/kube-source';
import { FLEET_PERMISSIONS, kedaHpaName, objectPath } from '../../services/shared/kubernetes/permissions';
import { spillway } from '../helpers/cli';
import {
  FAKE_TOKEN,
  fleetObjects,
  startFakeKubeApi,
  writeKubeconfig,
  type FakeKubeApi,
} from '../helpers/fake-kube-api';
import { freePort } from '../helpers/redis-server';
import { request } from '../helpers/http';
import { apiFor, workerFor } from '../helpers/services';
import { eventually, uniqueQueue } from '../helpers/stack';

const NAMESPACE = 'spillway';
const NAME = 'spillway-worker';

/**
 * `spillway fleet` as a process, reading a FAKE Kubernetes API server (tests/helpers/fake-kube-api.ts:
 * no cluster can run here) through a kubeconfig, and the real API on the local stack for the queue.
 */
describe('spillway fleet (against a fake Kubernetes API server)', () => {
  const queue = uniqueQueue();
  const names = kafkaNames(queue);
  const fixture = { namespace: NAMESPACE, name: NAME, topic: names.tasksTopic, group: names.workerGroup };
  let api: Awaited<ReturnType<typeof apiFor>>;
  let fake: FakeKubeApi;
  let env: Record<string, string>;
  const fleet = (args: string[], extraEnv: Record<string, string> = {}) =>
    spillway(['fleet', ...args], { ...env, ...extraEnv });

  beforeAll(async () => {
    api = await apiFor(queue);
    fake = await startFakeKubeApi(NAMESPACE, fleetObjects(fixture));
    env = { SPILLWAY_URL: api.url, KUBECONFIG: fake.kubeconfig };
  });
  afterAll(async () => {
    await fake.close();
    await api.stop();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.forbid.clear();
    fake.missingGroups.clear();
    for (const object of fleetObjects(fixture)) fake.put(object);
  });

  it('--json: the Deployment, ScaledObject and HPA beside the queue, from exactly the permitted gets', async () => {
    const res = await fleet(['--json', '--sample', '0.3']);
    expect(res).toMatchObject({ code: EXIT.ok, stderr: '' });
    const view = JSON.parse(res.stdout);
    expect(view).toMatchObject({
      namespace: NAMESPACE,
      workers: {
        name: NAME,
        desiredReplicas: 4,
        replicas: 4,
        readyReplicas: 3,
        availableReplicas: 3,
        updatedReplicas: 4,
      },
      scaledObject: {
        name: NAME,
        ready: { status: 'True', reason: 'ScaledObjectReady' },
        active: { status: 'True', reason: 'ScalerActive' },
        paused: false,
        minReplicaCount: 1,
        maxReplicaCount: 6,
        triggers: [
          {
            type: 'kafka',
            metricName: `s0-kafka-${names.tasksTopic}`,
            topic: names.tasksTopic,
            consumerGroup: names.workerGroup,
            lagThreshold: 100,
          },
        ],
        hpaName: kedaHpaName(NAME),
      },
      hpa: {
        name: kedaHpaName(NAME),
        currentReplicas: 3,
        desiredReplicas: 4,
        minReplicas: 1,
        maxReplicas: 6,
        metrics: [{ name: `s0-kafka-${names.tasksTopic}`, targetType: 'AverageValue', target: 100 }],
        scalingLimited: null,
      },
      queue: { lag: { total: 0 }, oldestWaitingAgeSeconds: null, deadLetters: 0 },
      drain: { finishedPerSecond: 0, succeededPerSecond: 0, etaSeconds: 0 },
    });
    expect(view.hpa.metrics[0].current).toBeCloseTo(137.333, 3);
    expect(view.queue.lag.partitions).toHaveLength(12);
    expect(view.drain.windowSeconds).toBeGreaterThanOrEqual(0.3);

    // One GET per object, each on a path FLEET_PERMISSIONS (and so the chart's Role) allows.
    const allowed = [
      objectPath('workers', NAMESPACE, NAME),
      objectPath('scaledObject', NAMESPACE, NAME),
      objectPath('hpa', NAMESPACE, kedaHpaName(NAME)),
    ];
    expect(fake.requests.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      allowed.map((p) => `GET ${p}`).sort(),
    );
    expect(new Set(fake.requests.map((r) => r.authorization))).toEqual(new Set([`Bearer ${FAKE_TOKEN}`]));
  });

  it('prints Kubernetes and the queue side by side', async () => {
    const res = await fleet(['--sample', '0']);
    expect(res.code).toBe(EXIT.ok);
    expect(res.stdout.split('\n')[0]).toMatch(/^spillway fleet {3}namespace spillway {3}\d{4}-\d\d-\d\dT/);
    // Side by side: Kubernetes on the left, the queue on the right of the same lines.
    expect(res.stdout).toMatch(/^WORKERS {3}deployment spillway-worker {4,}QUEUE$/m);
    expect(res.stdout).toMatch(
      /^ {2}replicas {2}3 ready of 4 desired \(4 updated, 3 available\) {4,}lag +0 on 12 partitions$/m,
    );
    expect(res.stdout).toMatch(/^ {2}ready {5}True {2}ScaledObjectReady {4,}drain +measuring…$/m);
    expect(res.stdout).toMatch(/^ {2}active\s+True {2}ScalerActive/m);
    expect(res.stdout).toMatch(/^ {2}replicas\s+1 to 6/m);
    expect(res.stdout).toContain(`trigger   kafka, ${names.tasksTopic}, 100 lag per worker`);
    expect(res.stdout).toMatch(/^HPA {7}keda-hpa-spillway-worker/m);
    expect(res.stdout).toContain('replicas  3 now, 4 desired (1 to 6)');
    expect(res.stdout).toContain('metric    137.33 per worker now, target 100');
    expect(res.stdout).toMatch(/LANE\s+PARTITION\s+LAG\s+COMMITTED\s+LATEST$/m);
  });

  it('--watch redraws with a drain rate from the previous sample; --json gives a line per redraw', async () => {
    const res = await fleet(['--watch', '--json', '--interval', '0.3', '--count', '3']);
    expect(res.code).toBe(EXIT.ok);
    const frames = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(frames).toHaveLength(3);
    expect(frames[0].drain).toBeNull();
    expect(frames[2].drain.windowSeconds).toBeGreaterThanOrEqual(0.6);
    const human = await fleet(['--watch', '--interval', '0.2', '--count', '2']);
    expect(human.stdout.match(/^WORKERS /gm)).toHaveLength(2);
    expect(human.stderr).toContain('(every 0.2 s; Ctrl-C stops)');
  });

  it('shows the Deployment alone when KEDA is off, and an HPA KEDA has not made yet as such', async () => {
    const off = await fleet(['--json', '--sample', '0', '--no-scaled-object']);
    expect(JSON.parse(off.stdout)).toMatchObject({ scaledObject: null, hpa: null });
    expect(fake.requests.map((r) => r.path)).toEqual([objectPath('workers', NAMESPACE, NAME)]);
    expect((await fleet(['--sample', '0', '--no-scaled-object'])).stdout).toContain(
      'KEDA      off (no ScaledObject given)',
    );

    fake.remove('HorizontalPodAutoscaler', kedaHpaName(NAME));
    const res = await fleet(['--sample', '0']);
    expect(res.code).toBe(EXIT.ok);
    expect(res.stdout).toContain(
      'HPA       keda-hpa-spillway-worker: not created yet (KEDA makes it once Ready)',
    );
  });

  describe('clear errors', () => {
    it('4: the ScaledObject does not exist', async () => {
      fake.remove('ScaledObject', NAME);
      const res = await fleet([]);
      expect(res).toMatchObject({ code: EXIT.apiError, stdout: '' });
      expect(res.stderr).toBe(
        'spillway: ScaledObject spillway-worker not found in namespace spillway: name it with --scaled-object (FLEET_SCALED_OBJECT for the API), or leave it out when KEDA is off\n',
      );
    });

    it('4: the worker Deployment is not in that namespace', async () => {
      const res = await fleet(['-n', 'elsewhere']);
      expect(res.code).toBe(EXIT.apiError);
      expect(res.stderr).toContain(
        'Deployment spillway-worker not found in namespace elsewhere: name the worker',
      );
    });

    it('4: KEDA is not installed', async () => {
      fake.missingGroups.add(FLEET_PERMISSIONS.scaledObject.apiGroup);
      const res = await fleet([]);
      expect(res.code).toBe(EXIT.apiError);
      expect(res.stderr).toContain('is KEDA installed? (kubectl get crd scaledobjects.keda.sh)');
    });

    it('4: access denied names the permission to grant', async () => {
      fake.forbid.add(FLEET_PERMISSIONS.hpa.resource);
      const res = await fleet([]);
      expect(res.code).toBe(EXIT.apiError);
      expect(res.stderr).toContain(
        'not allowed to read HorizontalPodAutoscaler keda-hpa-spillway-worker in namespace spillway (403: ',
      );
      expect(res.stderr).toContain(
        'grant get on horizontalpodautoscalers.autoscaling "keda-hpa-spillway-worker"',
      );
    });

    it('4: the credentials are refused', async () => {
      const res = await fleet([], { KUBECONFIG: writeKubeconfig(fake.url, NAMESPACE, 'stale-token') });
      expect(res.code).toBe(EXIT.apiError);
      expect(res.stderr).toContain(`Kubernetes API ${fake.url} rejected the credentials (401)`);
    });

    it('3: the Kubernetes API server is down', async () => {
      const down = `http://127.0.0.1:${await freePort()}`;
      const res = await fleet([], { KUBECONFIG: writeKubeconfig(down, NAMESPACE) });
      expect(res.code).toBe(EXIT.unreachable);
      expect(res.stderr).toBe(
        `spillway: Kubernetes API ${down} unreachable (ECONNREFUSED): check that the cluster is up and the kubeconfig's current context (kubectl cluster-info)\n`,
      );
    });

    it('3: the Spillway API is down', async () => {
      const down = `http://127.0.0.1:${await freePort()}`;
      const res = await fleet(['--sample', '0'], { SPILLWAY_URL: down });
      expect(res.code).toBe(EXIT.unreachable);
      expect(res.stderr).toContain(`API ${down} unreachable (ECONNREFUSED)`);
    });

    it('2: no kubeconfig at all, a KUBECONFIG that names no file, a context that does not exist', async () => {
      const none = await spillway(['fleet'], { SPILLWAY_URL: api.url });
      expect(none.code).toBe(EXIT.usage);
      expect(none.stderr).toBe(
        'spillway: no kubeconfig: set KUBECONFIG or create ~/.kube/config (e.g. `kind export kubeconfig --name spillway`), or run inside the cluster\n',
      );
      const missing = await fleet([], { KUBECONFIG: '/nonexistent/kubeconfig' });
      expect(missing.code).toBe(EXIT.usage);
      expect(missing.stderr).toContain('KUBECONFIG names /nonexistent/kubeconfig, which does not exist');
      const context = await fleet(['--context', 'prod']);
      expect(context.code).toBe(EXIT.usage);
      expect(context.stderr).toContain('no context "prod" in the kubeconfig');
    });
  });
});

describe('spillway fleet while workers drain a backlog', () => {
  const queue = uniqueQueue();
  const names = kafkaNames(queue);
  let api: Awaited<ReturnType<typeof apiFor>>;
  let worker: Awaited<ReturnType<typeof workerFor>>;
  let fake: FakeKubeApi;

  beforeAll(async () => {
    api = await apiFor(queue);
    // 4 slots for 300 tasks of 200 ms: about 20 finish per second, for about 15 seconds.
    worker = await workerFor(queue, { WORKER_CONCURRENCY: '4', COMMIT_INTERVAL_MS: '200' });
    fake = await startFakeKubeApi(
      NAMESPACE,
      fleetObjects({ namespace: NAMESPACE, name: NAME, topic: names.tasksTopic, group: names.workerGroup }),
    );
  });
  afterAll(async () => {
    await fake.close();
    await worker.stop();
    await api.stop();
  });

  it('measures the drain rate and the time until the lag is gone', async () => {
    const tasks = Array.from({ length: 300 }, () => ({ type: 'sleep', payload: { ms: 200 } }));
    const submitted = await request(api.url, 'POST', '/v1/tasks/batch', { json: { tasks } });
    expect(submitted.status).toBe(202);
    await eventually(async () =>
      (await request(api.url, 'GET', '/v1/stats')).body.counts.succeeded >= 8 ? true : undefined,
    );

    const res = await spillway(['fleet', '--json', '--sample', '1.5'], {
      SPILLWAY_URL: api.url,
      KUBECONFIG: fake.kubeconfig,
    });
    expect(res.code).toBe(EXIT.ok);
    const { drain, queue: stats } = JSON.parse(res.stdout);
    expect(drain.windowSeconds).toBeGreaterThanOrEqual(1.5);
    expect(drain.finishedPerSecond).toBeGreaterThan(5);
    expect(drain.finishedPerSecond).toBeLessThan(40);
    expect(drain.succeededPerSecond).toBe(drain.finishedPerSecond);
    expect(stats.lag.total).toBeGreaterThan(0);
    expect(drain.etaSeconds).toBeCloseTo(stats.lag.total / drain.finishedPerSecond, 0);
  });
});

describe('the fleet view, piece by piece', () => {
  const [deployment, so, hpa] = fleetObjects({ namespace: 'ns', name: 'w', topic: 't', group: 'g' });

  it('reads KEDA defaults and a paused ScaledObject', () => {
    const bare = { metadata: { name: 'w', annotations: { 'autoscaling.keda.sh/paused': 'true' } }, spec: {} };
    expect(scaledObjectView(bare, 'w')).toMatchObject({
      minReplicaCount: 0,
      maxReplicaCount: 100,
      paused: true,
      ready: null,
      hpaName: 'keda-hpa-w',
    });
    expect(scaledObjectView(so!.toJSON() as never, 'w').hpaName).toBe('keda-hpa-w');
    expect(workersView(deployment!.toJSON() as never, 'w').desiredReplicas).toBe(4);
    expect(hpaView(hpa!.toJSON() as never, 'x').metrics[0]!.current).toBeCloseTo(137.333, 3);
  });

  it('turns Kubernetes quantities into numbers', () => {
    expect(quantity('137333m')).toBeCloseTo(137.333, 3);
    expect(quantity('12')).toBe(12);
    expect(quantity('2k')).toBe(2000);
    expect(quantity('1Ki')).toBe(1024);
    expect(quantity('1.5e3')).toBe(1500);
    expect(quantity(7)).toBe(7);
    expect(quantity('lots')).toBeNull();
  });

  it('computes the drain rate and when the lag is gone at that pace', () => {
    const counts = (succeeded: number, failed: number) => ({
      counts: { succeeded, failed, cancelled: 0 },
      oldestWaitingAgeSeconds: null,
      lag: { total: 0, partitions: [] },
      deadLetters: 0,
    });
    const older = countsSample(counts(100, 10), 0);
    const newer = countsSample(counts(190, 20), 2000);
    expect(drainRate(older, newer, 500)).toEqual({
      windowSeconds: 2,
      finishedPerSecond: 50,
      succeededPerSecond: 45,
      etaSeconds: 10,
    });
    expect(drainRate(newer, newer, 5)).toBeNull();
    expect(drainRate(older, countsSample(counts(100, 10), 1000), 5)?.etaSeconds).toBeNull();

    const meter = new DrainMeter(60_000, 1000);
    expect(meter.add(older, 0)).toBeNull();
    expect(meter.hasBaseline(500)).toBe(false);
    expect(meter.hasBaseline(1000)).toBe(true);
    expect(meter.add(newer, 500)?.finishedPerSecond).toBe(50);
    // Past the window the old sample no longer counts.
    expect(meter.hasBaseline(70_000)).toBe(false);
  });

  it('finds the cluster as kubectl does: KUBECONFIG, else ~/.kube/config, else in-cluster', () => {
    const files =
      (...present: string[]) =>
      (path: string) =>
        present.includes(path);
    expect(
      resolveKubeSource({ KUBECONFIG: '/a:/b', HOME: '/h' }, undefined, files('/b', '/h/.kube/config')),
    ).toEqual({
      kubeconfig: ['/b'],
    });
    expect(resolveKubeSource({ HOME: '/h' }, 'ctx', files('/h/.kube/config'))).toEqual({
      kubeconfig: ['/h/.kube/config'],
      context: 'ctx',
    });
    expect(resolveKubeSource({ HOME: '/h' }, undefined, files(IN_CLUSTER_TOKEN))).toEqual({ kubeconfig: [] });
    expect(() => resolveKubeSource({ HOME: '/h' }, undefined, files())).toThrow(
      /no kubeconfig: set KUBECONFIG/,
    );
  });
});
