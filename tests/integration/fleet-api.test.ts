import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { loadApiConfig } from '../../services/api/config';
import { ConfigError } from '../../services/shared/env-reader';
import { kafkaNames } from '../../services/shared/kafka/names';
import { FLEET_PERMISSIONS, kedaHpaName, objectPath } from '../../services/shared/kubernetes/permissions';
import { spillway } from '../helpers/cli';
import { fleetApiEnv, fleetObjects, startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api';
import { request } from '../helpers/http';
import { ServiceProcess } from '../helpers/processes';
import { freePort } from '../helpers/redis-server';
import { apiFor } from '../helpers/services';
import { eventually, uniqueQueue } from '../helpers/stack';

const NAMESPACE = 'spillway';
const NAME = 'spillway-worker';

/**
 * GET /v1/fleet from the compiled API as its own process (the Kubernetes client is an ES module
 * that only Node itself loads, not jest), reading a FAKE Kubernetes API server
 * (tests/helpers/fake-kube-api.ts) through KUBECONFIG instead of the in-cluster service account.
 */
describe('GET /v1/fleet (against a fake Kubernetes API server)', () => {
  const queue = uniqueQueue();
  const names = kafkaNames(queue);
  let fake: FakeKubeApi;
  let api: ServiceProcess;
  const objects = () =>
    fleetObjects({ namespace: NAMESPACE, name: NAME, topic: names.tasksTopic, group: names.workerGroup });

  beforeAll(async () => {
    fake = await startFakeKubeApi(NAMESPACE, objects());
    api = new ServiceProcess(
      'api',
      await freePort(),
      fleetApiEnv(queue, fake, { namespace: NAMESPACE, name: NAME }),
    );
    await api.ready();
  }, 60_000);
  afterAll(async () => {
    await api?.terminate();
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.forbid.clear();
    for (const object of objects()) fake.put(object);
  });

  it('answers the fleet view the OpenAPI document describes, the same as `spillway fleet --json`', async () => {
    const started = Date.now();
    const res = await request(api.url, 'GET', '/v1/fleet');
    expect(res.status).toBe(200);
    // The first request waits for a second sample of the counts, so it has a drain rate.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(res.body.drain).toMatchObject({ finishedPerSecond: 0, etaSeconds: 0 });
    expect(res.body.drain.windowSeconds).toBeGreaterThanOrEqual(1);

    const doc = (await request(api.url, 'GET', '/openapi.json')).body;
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    ajv.addSchema({ $id: 'doc', components: doc.components });
    const validate = ajv.getSchema('doc#/components/schemas/Fleet')!;
    expect({ valid: validate(res.body), errors: validate.errors ?? null }).toEqual({
      valid: true,
      errors: null,
    });

    const cli = await spillway(['fleet', '--json', '--sample', '0'], {
      SPILLWAY_URL: api.url,
      KUBECONFIG: fake.kubeconfig,
    });
    const fromCli = JSON.parse(cli.stdout);
    for (const part of ['namespace', 'workers', 'scaledObject', 'hpa'])
      expect(res.body[part]).toEqual(fromCli[part]);
    expect(Object.keys(res.body).sort()).toEqual(Object.keys(fromCli).sort());

    // Later requests compare with the earlier sample and answer at once.
    const again = Date.now();
    expect((await request(api.url, 'GET', '/v1/fleet')).status).toBe(200);
    expect(Date.now() - again).toBeLessThan(1000);
  });

  it('reads only what the chart’s Role grants', async () => {
    await request(api.url, 'GET', '/v1/fleet');
    const granted = new Set([
      `GET ${objectPath('workers', NAMESPACE, NAME)}`,
      `GET ${objectPath('scaledObject', NAMESPACE, NAME)}`,
      `GET ${objectPath('hpa', NAMESPACE, kedaHpaName(NAME))}`,
    ]);
    expect(fake.requests.length).toBeGreaterThanOrEqual(3);
    for (const r of fake.requests) expect(granted).toContain(`${r.method} ${r.path}`);
  });

  it('502 fleet_object_not_found names the missing ScaledObject', async () => {
    fake.remove('ScaledObject', NAME);
    const res = await request(api.url, 'GET', '/v1/fleet');
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({
      code: 'fleet_object_not_found',
      message: expect.stringMatching(/^ScaledObject spillway-worker not found in namespace spillway: /),
    });
  });

  it('502 kubernetes_forbidden names the permission to grant', async () => {
    fake.forbid.add(FLEET_PERMISSIONS.workers.resource);
    const res = await request(api.url, 'GET', '/v1/fleet');
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('kubernetes_forbidden');
    expect(res.body.error.message).toContain('grant get on deployments.apps "spillway-worker"');
  });

  it('502 kubernetes_unreachable when the Kubernetes API server is down', async () => {
    await fake.close();
    const res = await request(api.url, 'GET', '/v1/fleet');
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({
      code: 'kubernetes_unreachable',
      message: expect.stringContaining(`Kubernetes API ${fake.url} unreachable (ECONNREFUSED)`),
    });
    // The rest of the API is unaffected (503 is Kafka's documented "busy, try again" on a loaded machine).
    const stats = await eventually(async () => {
      const reply = await request(api.url, 'GET', '/v1/stats');
      return reply.status === 503 ? undefined : reply;
    });
    expect(stats.status).toBe(200);
  });
});

describe('the fleet view when it is not configured', () => {
  it('404 fleet_unavailable says what to set', async () => {
    const api = await apiFor(uniqueQueue());
    try {
      const res = await request(api.url, 'GET', '/v1/fleet');
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({
        code: 'fleet_unavailable',
        message: expect.stringContaining('set FLEET_NAMESPACE and FLEET_WORKER_DEPLOYMENT'),
      });
    } finally {
      await api.stop();
    }
  });

  it('rejects half a configuration, and no cluster to read, with every variable named', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadApiConfig(env);
      } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
      }
      return [];
    };
    expect(problems({ FLEET_SCALED_OBJECT: 'w', KUBECONFIG: '/k' })).toEqual([
      expect.stringMatching(/^FLEET_NAMESPACE is not set/),
      expect.stringMatching(/^FLEET_WORKER_DEPLOYMENT is not set/),
    ]);
    expect(problems({ FLEET_NAMESPACE: 'ns', FLEET_WORKER_DEPLOYMENT: 'w' })).toEqual([
      'KUBECONFIG is not set: the fleet view needs a cluster, and the API runs outside one',
    ]);
    expect(
      problems({
        FLEET_NAMESPACE: 'Bad_NS',
        FLEET_WORKER_DEPLOYMENT: 'w',
        KUBERNETES_SERVICE_HOST: '10.0.0.1',
      }),
    ).toEqual([expect.stringMatching(/^FLEET_NAMESPACE="Bad_NS" is not valid/)]);
    expect(
      loadApiConfig({
        FLEET_NAMESPACE: 'ns',
        FLEET_WORKER_DEPLOYMENT: 'w',
        KUBERNETES_SERVICE_HOST: '10.0.0.1',
      }).fleet,
    ).toEqual({ targets: { namespace: 'ns', workerDeployment: 'w' }, source: { kubeconfig: [] } });
  });
});
