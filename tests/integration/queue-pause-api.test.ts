import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaNames } from '../../services/shared/kafka/names';
import {
  AUTOSCALER_PAUSE_PERMISSION,
  KEDA_PAUSED_ANNOTATION,
} from '../../services/shared/kubernetes/permissions';
import { spillway } from '../helpers/cli';
import { fleetApiEnv, fleetObjects, startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api';
import { request } from '../helpers/http';
import { ServiceProcess } from '../helpers/processes';
import { freePort } from '../helpers/redis-server';
import { apiFor } from '../helpers/services';
import { uniqueQueue } from '../helpers/stack';

const ADMIN_KEY = 'admin-key-0123456789abcdef';
const SUBMIT_KEY = 'submit-key-0123456789abcdef';

describe('the pause routes: scope, input and answers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-keys-'));
  const file = join(dir, 'api-keys');
  let api: Awaited<ReturnType<typeof apiFor>>;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    writeFileSync(
      file,
      `tenant acme\nkey acme ${SUBMIT_KEY} tasks:submit,tasks:read,tasks:cancel,dead-letters:read,dead-letters:replay\nkey acme ${ADMIN_KEY} admin\n`,
    );
    api = await apiFor(uniqueQueue(), { API_KEYS_FILE: file, TASK_TYPES: 'email,report' });
  });
  afterAll(async () => {
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 401 without a key and 403 missing_scope without admin, changing nothing', async () => {
    expect((await request(api.url, 'POST', '/v1/queue/pause')).status).toBe(401);
    for (const [method, path] of [
      ['GET', '/v1/queue'],
      ['POST', '/v1/queue/pause'],
      ['POST', '/v1/queue/resume'],
    ] as const) {
      const res = await request(api.url, method, path, { headers: as(SUBMIT_KEY) });
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'missing_scope' });
    }
    const state = await request(api.url, 'GET', '/v1/queue', { headers: as(ADMIN_KEY) });
    expect(state.body).toEqual({ paused: false, pausedAt: null, pausedTypes: [] });
  });

  it.each([
    ['a number as type', { type: 5 }, 'type'],
    ['a type the pattern refuses', { type: ' spaces ' }, 'type'],
    ['a type outside TASK_TYPES', { type: 'nope' }, 'type'],
    ['an unknown field', { typo: 'email' }, 'typo'],
    ['an array', [1], 'body'],
    ['a string', 'email', 'body'],
  ])('answers 422 validation_failed naming the field for %s', async (_name, json, field) => {
    const res = await request(api.url, 'POST', '/v1/queue/pause', { json, headers: as(ADMIN_KEY) });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.map((d: { field: string }) => d.field)).toEqual([field]);
  });

  it('answers 415 for a body that is not JSON', async () => {
    const res = await request(api.url, 'POST', '/v1/queue/pause', {
      body: 'type=email',
      headers: { ...as(ADMIN_KEY), 'content-type': 'text/plain' },
    });
    expect(res.status).toBe(415);
  });

  it('pauses and resumes each scope on its own, and answers what the OpenAPI document says', async () => {
    const doc = (await request(api.url, 'GET', '/openapi.json')).body;
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    ajv.addSchema({ $id: 'doc', components: doc.components });
    const validate = ajv.getSchema('doc#/components/schemas/QueueState')!;
    const call = async (path: string, json?: unknown) => {
      const res = await request(api.url, path === '/v1/queue' ? 'GET' : 'POST', path, {
        json,
        headers: as(ADMIN_KEY),
      });
      expect(res.status).toBe(200);
      expect({ valid: validate(res.body), errors: validate.errors ?? null }).toEqual({
        valid: true,
        errors: null,
      });
      return res.body;
    };

    const first = await call('/v1/queue/pause', { type: 'email' });
    expect(first).toMatchObject({
      paused: false,
      pausedTypes: [{ type: 'email' }],
      autoscaling: 'unmanaged',
    });
    // Pausing again keeps the first pause time.
    expect((await call('/v1/queue/pause', { type: 'email' })).pausedTypes).toEqual(first.pausedTypes);
    const both = await call('/v1/queue/pause', {});
    expect(both).toMatchObject({ paused: true, pausedTypes: [{ type: 'email' }] });
    expect(Date.parse(both.pausedAt)).toBeGreaterThanOrEqual(Date.parse(first.pausedTypes[0].pausedAt));
    expect(await call('/v1/queue')).toEqual({
      paused: true,
      pausedAt: both.pausedAt,
      pausedTypes: first.pausedTypes,
    });
    expect(await call('/v1/queue/resume')).toMatchObject({ paused: false, pausedTypes: [{ type: 'email' }] });
    // Resuming what is not paused is a no-op, not an error.
    expect(await call('/v1/queue/resume', { type: 'report' })).toMatchObject({
      pausedTypes: [{ type: 'email' }],
    });
    expect(await call('/v1/queue/resume', { type: 'email' })).toMatchObject({
      paused: false,
      pausedTypes: [],
    });
  });

  it('is what `spillway queue pause|resume|status` does (the compiled CLI; needs `npm run build`)', async () => {
    const env = { SPILLWAY_URL: api.url, SPILLWAY_API_KEY: ADMIN_KEY };
    const paused = await spillway(['queue', 'pause', '--type', 'report'], env);
    expect(paused).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^queue {2}running\ntype report {2}paused since \S+\n$/),
    });
    expect(paused.stderr).toBe('autoscaler: unmanaged\n');
    const status = await spillway(['queue', 'status', '--json'], env);
    expect(JSON.parse(status.stdout)).toMatchObject({ paused: false, pausedTypes: [{ type: 'report' }] });
    expect((await spillway(['queue', 'resume', '-t', 'report'], env)).stdout).toBe('queue  running\n');
    // Without admin: the API's 403, exit 4; a bad type: its 422, exit 4.
    const denied = await spillway(['queue', 'pause'], { ...env, SPILLWAY_API_KEY: SUBMIT_KEY });
    expect(denied.code).toBe(4);
    expect(denied.stderr).toMatch(/missing_scope/);
    expect((await spillway(['queue', 'pause', '--type', 'nope'], env)).code).toBe(4);
    expect((await request(api.url, 'GET', '/v1/queue', { headers: as(ADMIN_KEY) })).body.pausedTypes).toEqual(
      [],
    );
  });
});

/**
 * KEDA's pause annotation through the API's Kubernetes client, as the compiled API process (the
 * client is an ES module jest cannot load) against a FAKE Kubernetes API server
 * (tests/helpers/fake-kube-api.ts) that applies merge patches. Needs `npm run build`.
 */
describe("pausing patches the workers' ScaledObject (against a fake Kubernetes API server)", () => {
  const NAMESPACE = 'spillway';
  const NAME = 'spillway-worker';
  const queue = uniqueQueue();
  const names = kafkaNames(queue);
  let fake: FakeKubeApi;
  let api: ServiceProcess;
  const annotations = () => fake.get('ScaledObject', NAME)?.metadata?.annotations ?? {};

  beforeAll(async () => {
    fake = await startFakeKubeApi(
      NAMESPACE,
      fleetObjects({ namespace: NAMESPACE, name: NAME, topic: names.tasksTopic, group: names.workerGroup }),
    );
    api = new ServiceProcess(
      'api',
      await freePort(),
      fleetApiEnv(queue, fake, { namespace: NAMESPACE, name: NAME }, { FLEET_PAUSE_AUTOSCALING: 'true' }),
    );
    await api.ready();
  }, 60_000);
  afterAll(async () => {
    await api?.terminate();
    await fake?.close();
  });

  it('sets the annotation while anything is paused and removes it once nothing is, with merge patches only', async () => {
    fake.requests.length = 0;
    const labels = { ...fake.get('ScaledObject', NAME)!.metadata!.labels };
    expect((await request(api.url, 'POST', '/v1/queue/pause')).body.autoscaling).toBe('paused');
    expect(annotations()[KEDA_PAUSED_ANNOTATION]).toBe('true');
    expect(
      (await request(api.url, 'POST', '/v1/queue/pause', { json: { type: 'echo' } })).body.autoscaling,
    ).toBe('paused');
    // The queue resumed, a type still paused: KEDA stays paused (the held tasks hold the lag back).
    expect((await request(api.url, 'POST', '/v1/queue/resume')).body.autoscaling).toBe('paused');
    expect(annotations()[KEDA_PAUSED_ANNOTATION]).toBe('true');
    const resumed = await request(api.url, 'POST', '/v1/queue/resume', { json: { type: 'echo' } });
    expect(resumed.body).toMatchObject({ paused: false, pausedTypes: [], autoscaling: 'resumed' });
    expect(annotations()).not.toHaveProperty(KEDA_PAUSED_ANNOTATION);
    // Nothing else of the object changed, and every call was the one patch the Role grants.
    expect(fake.get('ScaledObject', NAME)!.metadata!.labels).toEqual(labels);
    const path = `/apis/${AUTOSCALER_PAUSE_PERMISSION.apiGroup}/${AUTOSCALER_PAUSE_PERMISSION.version}/namespaces/${NAMESPACE}/${AUTOSCALER_PAUSE_PERMISSION.resource}/${NAME}`;
    expect(fake.requests.map((r) => `${r.method} ${r.path} ${r.contentType}`)).toEqual(
      Array(4).fill(`PATCH ${path} application/merge-patch+json`),
    );
  });

  it('still pauses the queue when the patch is refused, and says why', async () => {
    fake.forbid.add(AUTOSCALER_PAUSE_PERMISSION.resource);
    try {
      const res = await request(api.url, 'POST', '/v1/queue/pause');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ paused: true, autoscaling: 'failed' });
      expect(res.body.autoscalingError).toMatch(
        /forbidden.*grant patch on scaledobjects.keda.sh\/spillway-worker/,
      );
      expect((await request(api.url, 'GET', '/v1/queue')).body.paused).toBe(true);
    } finally {
      fake.forbid.clear();
    }
    expect((await request(api.url, 'POST', '/v1/queue/resume')).body.autoscaling).toBe('resumed');
  });
});
