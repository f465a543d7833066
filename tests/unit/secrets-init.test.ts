import { loadSecretsInitConfig } from '../../services/secrets-init/config';
import {
  completion,
  GENERATED_ANNOTATIONS,
  GENERATED_BY,
  newSecret,
  randomAlphanumeric,
  type StoredSecret,
} from '../../services/secrets-init/generator';
import { problemsOf } from '../helpers/config';

/**
 * The secrets generator's decisions, which need no cluster: its configuration, its values, and
 * what it adds to a Secret that exists. What it does against a real API server (create, 409 keep,
 * complete, remove) is tested on the local cluster: tests/k8s/generated-secrets.test.ts.
 */
const spec = {
  name: 'spw-spillway-redis',
  key: 'redis-password',
  length: 32,
  labels: { 'app.kubernetes.io/component': 'redis' },
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('secrets-init configuration', () => {
  const valid = {
    SECRETS_INIT_NAMESPACE: 'tasks',
    SECRETS_INIT_SECRETS: JSON.stringify([
      spec,
      { name: 'spw-spillway-api-keys', key: 'api-keys', length: 40 },
    ]),
  };

  it('reads the Secrets and defaults the rest', () => {
    const config = loadSecretsInitConfig(valid);
    expect(config).toEqual({
      action: 'ensure',
      namespace: 'tasks',
      secrets: [spec, { name: 'spw-spillway-api-keys', key: 'api-keys', length: 40, labels: {} }],
      timeoutMs: 10_000,
      logLevel: 'info',
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(loadSecretsInitConfig({ ...valid, SECRETS_INIT_ACTION: 'remove' }).action).toBe('remove');
  });

  it('names every bad variable and every bad entry at once', () => {
    const problems = problemsOf(() =>
      loadSecretsInitConfig({
        SECRETS_INIT_ACTION: 'rotate',
        SECRETS_INIT_SECRETS: JSON.stringify([
          { name: 'Not_A_Name', key: 'a/b', length: 8, labels: { 'bad key!': 'x' } },
          { name: 'twice', key: 'k', length: 16 },
          { name: 'twice', key: 'k', length: 257 },
        ]),
      }),
    );
    expect(problems).toEqual([
      'SECRETS_INIT_ACTION="rotate" is not valid: expected one of ensure, remove',
      'SECRETS_INIT_NAMESPACE is not set: the namespace of the Secrets',
      'SECRETS_INIT_SECRETS[0].name="Not_A_Name" is not valid: expected a Secret name',
      'SECRETS_INIT_SECRETS[0].key="a/b" is not valid: expected a Secret key ([-._a-zA-Z0-9]+)',
      'SECRETS_INIT_SECRETS[0].length=8 is not valid: expected an integer from 16 to 256',
      'SECRETS_INIT_SECRETS[0].labels={"bad key!":"x"} is not valid: expected an object of Kubernetes label keys and values',
      'SECRETS_INIT_SECRETS[2].length=257 is not valid: expected an integer from 16 to 256',
      'SECRETS_INIT_SECRETS names twice more than once',
    ]);
  });

  it('refuses Secrets that are missing, not JSON or empty', () => {
    expect(problemsOf(() => loadSecretsInitConfig({ SECRETS_INIT_NAMESPACE: 'tasks' }))).toEqual([
      'SECRETS_INIT_SECRETS is not set: the Secrets to make, as JSON',
    ]);
    expect(problemsOf(() => loadSecretsInitConfig({ ...valid, SECRETS_INIT_SECRETS: '[{' }))[0]).toMatch(
      /^SECRETS_INIT_SECRETS is not JSON/,
    );
    expect(problemsOf(() => loadSecretsInitConfig({ ...valid, SECRETS_INIT_SECRETS: '[]' }))).toEqual([
      'SECRETS_INIT_SECRETS must be a non-empty JSON array of {name, key, length, labels}',
    ]);
  });
});

describe('generated values', () => {
  it('are alphanumeric, as long as asked, drawn from all 62 characters', () => {
    const value = randomAlphanumeric(4000);
    expect(value).toMatch(/^[A-Za-z0-9]{4000}$/);
    expect(new Set(value).size).toBe(62);
    expect(randomAlphanumeric(32)).not.toBe(randomAlphanumeric(32));
    // The alphabet's ends: pick() is used as is, with no modulo of a wider number.
    expect(randomAlphanumeric(3, () => 0)).toBe('AAA');
    expect(randomAlphanumeric(3, (max) => max - 1)).toBe('999');
  });

  it('make a new Secret with the chart’s labels, the generator’s mark and nothing else', () => {
    expect(newSecret(spec, 'v'.repeat(32))).toEqual({
      name: 'spw-spillway-redis',
      labels: spec.labels,
      annotations: GENERATED_ANNOTATIONS,
      data: { 'redis-password': b64('v'.repeat(32)) },
    });
    expect(GENERATED_ANNOTATIONS).toMatchObject({
      [GENERATED_BY]: 'secrets-init',
      'argocd.argoproj.io/compare-options': 'IgnoreExtraneous',
      'argocd.argoproj.io/sync-options': 'Prune=false',
    });
  });
});

describe('completing a Secret that exists', () => {
  const value = () => 'n'.repeat(32);
  const rv = { resourceVersion: '41' };
  const helm = { 'meta.helm.sh/release-name': 'spw', 'meta.helm.sh/release-namespace': 'tasks' };

  it('changes nothing when the key is there, whatever its value', () => {
    for (const data of [{ 'redis-password': b64('old') }, { 'redis-password': '' }]) {
      expect(completion({ ...rv, data }, spec, value)).toEqual({ ops: [], added: [] });
    }
    // A Secret of someone else's with the key: not taken over either.
    const foreign = { ...rv, data: { 'redis-password': b64('old') }, annotations: { owner: 'me' } };
    expect(completion(foreign, spec, value).ops).toEqual([]);
  });

  it('adds only the missing key, conditional on the version it read', () => {
    const existing: StoredSecret = { ...rv, data: { other: b64('keep me') } };
    expect(completion(existing, spec, value)).toEqual({
      ops: [
        { op: 'test', path: '/metadata/resourceVersion', value: '41' },
        { op: 'add', path: '/data/redis-password', value: b64(value()) },
      ],
      added: ['key'],
    });
    expect(completion({ ...rv }, spec, value).ops[1]).toEqual({
      op: 'add',
      path: '/data',
      value: { 'redis-password': b64(value()) },
    });
  });

  it('takes over a Secret Helm rendered: kept by the upgrade that stops rendering it, removed on uninstall', () => {
    const rendered: StoredSecret = {
      ...rv,
      data: { 'redis-password': b64('old') },
      annotations: { ...helm },
    };
    expect(completion(rendered, spec, value)).toEqual({
      ops: [
        { op: 'test', path: '/metadata/resourceVersion', value: '41' },
        { op: 'add', path: '/metadata/annotations/helm.sh~1resource-policy', value: 'keep' },
        { op: 'add', path: '/metadata/annotations/spillway.dev~1generated-by', value: 'secrets-init' },
      ],
      added: ['keep-policy', 'mark'],
    });
    // The API-key Secret already carries the keep policy: only the mark is added, once.
    const keys = { ...rendered, annotations: { ...helm, 'helm.sh/resource-policy': 'keep' } };
    expect(completion(keys, spec, value).added).toEqual(['mark']);
    const taken = { ...keys, annotations: { ...keys.annotations, [GENERATED_BY]: 'secrets-init' } };
    expect(completion(taken, spec, value).ops).toEqual([]);
  });
});
