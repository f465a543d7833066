import { join } from 'node:path';
import { loadSecretsInitConfig, type SecretsInitConfig } from '../../services/secrets-init/config';
import { SECRETS_INIT_PERMISSIONS } from '../../services/secrets-init/permissions';
import {
  CHART,
  container,
  helm,
  HELM_INSTALL_TIMEOUT_MS,
  only,
  render,
  runHelm,
  valuesFile,
  type K8sObject,
} from './chart';

/**
 * generatedSecrets.mode `job`: the manifest holds no Secret, so a render that cannot read the
 * cluster (Argo CD's `helm template` on every sync) has nothing to rotate; hook Jobs make the
 * Secrets in the cluster (services/secrets-init). What runs is checked on the local cluster
 * (tests/k8s/generated-secrets.test.ts); here, what is rendered.
 */
const JOB = valuesFile('generatedSecrets:\n  mode: job\n');

beforeAll(() => {
  helm();
}, HELM_INSTALL_TIMEOUT_MS);

const annotations = (o: K8sObject) => o.metadata.annotations ?? {};
const hooksOf = (objects: K8sObject[], component: string) =>
  objects.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === component);

/** The generator's configuration, read by its own loader from the Job's env. */
function generatorConfig(job: K8sObject): SecretsInitConfig {
  const env = container(job, job.spec.template.spec.containers[0].name).env;
  return loadSecretsInitConfig({
    ...Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value])),
    // From the downward API in the pod.
    SECRETS_INIT_NAMESPACE: 'tasks',
  });
}

/** The Secret names and keys the workloads read the Redis password and the API key from. */
function referencedSecrets(objects: K8sObject[]): Record<string, string> {
  const api = only(objects, 'Deployment', '-api');
  const redisRef = container(api, 'api').env.find((e) => e.name === 'REDIS_PASSWORD')!.valueFrom!
    .secretKeyRef!;
  const keys = api.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'api-keys').secret;
  return { [redisRef.name]: redisRef.key, [keys.secretName]: keys.items[0].key };
}

describe('generatedSecrets.mode job', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = render([JOB]);
  });

  it('renders no Secret at all, and the workloads still read the same Secrets by name', () => {
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const defaults = render();
    expect(referencedSecrets(objects)).toEqual(referencedSecrets(defaults));
    expect(referencedSecrets(objects)).toEqual({
      'spw-spillway-redis': 'redis-password',
      'spw-spillway-api-keys': 'api-keys',
    });
    // No checksum of a value the chart does not know: the pods roll only when their spec changes.
    expect(annotations(only(objects, 'Deployment', '-api').spec.template)).not.toHaveProperty(
      'checksum/api-keys',
    );
  });

  it('renders byte for byte the same every time, as an install or an upgrade (Argo CD cannot tell them apart)', () => {
    const args = ['template', 'spw', CHART, '--namespace', 'tasks', '-f', JOB];
    const first = runHelm(args);
    const second = runHelm(args);
    const upgrade = runHelm([...args, '--is-upgrade']);
    expect(first.status).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    // Render mode refuses a blind upgrade render (it would rotate the values); job mode has none to rotate.
    expect(upgrade.stderr).toBe('');
    expect(upgrade.stdout).toBe(first.stdout);
  });

  it('runs the generator before install and upgrade, after RBAC objects that go once it succeeded', () => {
    const hooks = hooksOf(objects, 'secrets-init');
    expect(hooks.map((o) => o.kind).sort()).toEqual(['Job', 'Role', 'RoleBinding', 'ServiceAccount']);
    for (const hook of hooks) {
      expect([hook.kind, annotations(hook)]).toMatchObject([
        hook.kind,
        {
          'helm.sh/hook': 'pre-install,pre-upgrade',
          'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
        },
      ]);
      expect(hook.metadata.name).toBe('spw-spillway-secrets-init');
    }
    const weight = (o: K8sObject) => Number(annotations(o)['helm.sh/hook-weight']);
    const job = only(hooks, 'Job');
    for (const rbac of hooks.filter((o) => o !== job)) expect(weight(rbac)).toBeLessThan(weight(job));
    expect(annotations(job)['helm.sh/hook-output-log-policy']).toBe('hook-failed');
    expect(only(hooks, 'RoleBinding')).toMatchObject({
      roleRef: { kind: 'Role', name: 'spw-spillway-secrets-init' },
      subjects: [{ kind: 'ServiceAccount', name: 'spw-spillway-secrets-init', namespace: 'tasks' }],
    });
    const pod = job.spec.template.spec;
    expect(pod.serviceAccountName).toBe('spw-spillway-secrets-init');
    expect(pod.containers[0].command).toEqual(['node', 'dist/services/secrets-init/main.js']);
    expect(pod.containers[0].image).toBe(
      only(objects, 'Deployment', '-api').spec.template.spec.containers[0].image,
    );
    expect(pod.restartPolicy).toBe('Never');
  });

  it('gives the generator exactly the Secrets the workloads read, with render mode’s labels', () => {
    const config = generatorConfig(only(hooksOf(objects, 'secrets-init'), 'Job'));
    expect(config.action).toBe('ensure');
    expect(Object.fromEntries(config.secrets.map((s) => [s.name, s.key]))).toEqual(
      referencedSecrets(objects),
    );
    // As render mode generates them: as long, alphanumeric (the generator's only alphabet), labelled alike.
    const rendered = render();
    for (const spec of config.secrets) {
      const secret = rendered.find((o) => o.kind === 'Secret' && o.metadata.name === spec.name)!;
      const value = Buffer.from(secret.data[spec.key], 'base64').toString();
      expect(value).toMatch(/^[A-Za-z0-9]+$/);
      expect([spec.name, spec.length]).toEqual([spec.name, value.length]);
      expect(spec.labels).toEqual(secret.metadata.labels);
    }
    expect(config.secrets.map((s) => s.length)).toEqual([32, 40]);
  });

  it('grants the generator only what it calls: create, then get and patch on its Secrets by name', () => {
    const role = only(hooksOf(objects, 'secrets-init'), 'Role');
    const { anyName, byName } = SECRETS_INIT_PERMISSIONS.ensure;
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: [...anyName] },
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: Object.keys(referencedSecrets(objects)),
        verbs: [...byName],
      },
    ]);
  });

  it('removes the Redis password after uninstall, and only it, as render mode does', () => {
    const hooks = hooksOf(objects, 'secrets-cleanup');
    expect(hooks.map((o) => o.kind).sort()).toEqual(['Job', 'Role', 'RoleBinding', 'ServiceAccount']);
    for (const hook of hooks) expect(annotations(hook)['helm.sh/hook']).toBe('post-delete');
    const config = generatorConfig(only(hooks, 'Job'));
    expect(config.action).toBe('remove');
    expect(config.secrets.map((s) => s.name)).toEqual(['spw-spillway-redis']);
    expect(only(hooks, 'Role').rules).toEqual([
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['spw-spillway-redis'],
        verbs: [...SECRETS_INIT_PERMISSIONS.remove.byName],
      },
    ]);
    expect(SECRETS_INIT_PERMISSIONS.remove.anyName).toEqual([]);
  });

  it('generates only what no Secret of the operator’s own provides', () => {
    const own = render([JOB], ['--set', 'redis.auth.existingSecret=my-redis']);
    expect(generatorConfig(only(hooksOf(own, 'secrets-init'), 'Job')).secrets.map((s) => s.name)).toEqual([
      'spw-spillway-api-keys',
    ]);
    expect(hooksOf(own, 'secrets-cleanup')).toEqual([]);
    const none = render(
      [JOB],
      ['--set', 'redis.auth.existingSecret=my-redis,api.auth.existingSecret=my-keys'],
    );
    expect([...hooksOf(none, 'secrets-init'), ...hooksOf(none, 'secrets-cleanup')]).toEqual([]);
  });

  it('is what the production profile uses', () => {
    const production = render([join(CHART, 'values-production.yaml')]);
    expect(production.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(hooksOf(production, 'secrets-init')).toHaveLength(4);
  });
});

describe('generatedSecrets.mode render (the default)', () => {
  it('renders both Secrets and no hook, as before', () => {
    const objects = render();
    expect(
      objects
        .filter((o) => o.kind === 'Secret')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['spw-spillway-api-keys', 'spw-spillway-redis']);
    expect([...hooksOf(objects, 'secrets-init'), ...hooksOf(objects, 'secrets-cleanup')]).toEqual([]);
    expect(annotations(only(objects, 'Deployment', '-api').spec.template)).toHaveProperty(
      'checksum/api-keys',
    );
  });

  it('is the only other mode the schema accepts', () => {
    const result = runHelm(['template', 'spw', CHART, '-f', valuesFile('generatedSecrets:\n  mode: argo\n')]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/generatedSecrets\/mode': value must be one of 'render', 'job'/);
  });
});
