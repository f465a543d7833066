import { join } from 'node:path';
import { loadApiConfig } from '../../services/api/config';
import { loadWorkerConfig } from '../../services/worker/config';
import {
  CHART,
  containerEnv,
  helm,
  HELM_INSTALL_TIMEOUT_MS,
  only,
  render,
  runHelm,
  valuesFile,
} from './chart';

/** The chart's Redis holds what its TTLs keep: a memory ceiling it refuses writes at, and the TTLs passed on. */

const redisCommand = (objects = render()) =>
  (only(objects, 'StatefulSet', '-redis').spec.template.spec.containers[0].args as string[]).join(' ');

beforeAll(() => {
  helm();
}, HELM_INSTALL_TIMEOUT_MS);

describe("the chart's Redis", () => {
  it('refuses writes at maxmemory instead of growing until it is OOM-killed', () => {
    expect(redisCommand()).toMatch(/--maxmemory 384mb --maxmemory-policy noeviction$/);
    expect(redisCommand(render([join(CHART, 'values-production.yaml')]))).toContain('--maxmemory 1536mb');
  });

  it('refuses a maxmemory Redis would not read', () => {
    const result = runHelm(['template', 'spw', CHART, '-f', valuesFile('redis:\n  maxmemory: lots\n')]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/maxmemory/);
  });

  it('passes the three TTLs to both processes, which read them', () => {
    const objects = render([valuesFile('finishedTaskTtlSeconds: 3600\ndeadLetterTtlSeconds: 172800\n')]);
    const api = containerEnv(only(objects, 'Deployment', '-api'), 'api');
    const worker = containerEnv(only(objects, 'Deployment', '-worker'), 'worker');
    const ttls = { taskTtlSeconds: 604800, finishedTaskTtlSeconds: 3600, deadLetterTtlSeconds: 172800 };
    expect(loadApiConfig(api)).toMatchObject(ttls);
    expect(loadWorkerConfig(worker)).toMatchObject(ttls);
  });
});
