/**
 * Every charts/spillway/ci/*-values.yaml scenario installed with the real helm on the local
 * cluster's real API server: strict field validation (helm 4's default: an unknown field is an
 * error, not silently dropped), the CRDs' own schemas (KEDA, prometheus-operator, Strimzi), RBAC
 * objects, admission, and Pod Security "restricted" warnings on the workload templates.
 *
 * The scenarios point at servers that do not exist here (Strimzi's Kafka, an external Redis), so
 * their pods could only crash-loop: each namespace gets a quota of zero long-running pods, and the
 * controllers create none. The hook Jobs of generatedSecrets.mode job (the production profile) do
 * run, under the enforced "restricted" standard, with the API image built here: they only talk to
 * the API server, and their pods have a deadline, which the quota's NotTerminating scope leaves
 * out. What runs for real is tests/k8s/deployment.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { CHART, helm, helmOk, kubectl } from './helpers/cluster';
import { strimziCrdsInstalled } from './helpers/release';

const scenarios = [
  ...readdirSync(join(CHART, 'ci'))
    .filter((file) => file.endsWith('-values.yaml'))
    .map((file) => ({ name: file.replace(/-values\.yaml$/, ''), file: join(CHART, 'ci', file) })),
  // The production profile users pass with -f.
  { name: 'production', file: join(CHART, 'values-production.yaml') },
];

/** Secrets the scenarios name but expect their operator to have made. */
const PREEXISTING_SECRETS: Record<string, string> = {
  'spillway-api-keys': 'keys=a-key-of-sixteen-plus-chars',
  'spillway-redis': 'redis-password=not-a-real-password',
};

/** The image the hook Jobs run (the API's): the one built here, as k8s/cluster/values.yaml names it. */
const HOOK_IMAGE = [
  '--set',
  'api.image.repository=localhost/spillway-api,api.image.tag=dev,api.image.pullPolicy=Never',
];

interface ScenarioValues {
  kafka?: { create?: boolean };
  generatedSecrets?: { mode?: string };
}
const valuesOf = (file: string) => (parse(readFileSync(file, 'utf8')) as ScenarioValues | null) ?? {};

/** Whether the scenario creates Strimzi resources, which need Strimzi's CRDs. */
function needsStrimzi(file: string): boolean {
  return valuesOf(file).kafka?.create !== false;
}

async function prepareNamespace(namespace: string): Promise<void> {
  await kubectl(['create', 'namespace', namespace]);
  // Warnings for workload templates that break the "restricted" Pod Security Standard come back
  // to helm with the create, and this test fails on any warning.
  await kubectl([
    'label',
    'namespace',
    namespace,
    'pod-security.kubernetes.io/enforce=restricted',
    'pod-security.kubernetes.io/warn=restricted',
  ]);
  // Pods with a deadline (a Job's activeDeadlineSeconds) are "Terminating": not counted here.
  await kubectl(['create', 'quota', 'no-pods', '-n', namespace, '--hard=pods=0', '--scopes=NotTerminating']);
  for (const [name, data] of Object.entries(PREEXISTING_SECRETS)) {
    await kubectl(['create', 'secret', 'generic', name, '-n', namespace, `--from-literal=${data}`]);
  }
}

describe('every ci values scenario installs on the real API server', () => {
  const strimzi = strimziCrdsInstalled();

  beforeAll(async () => {
    if (!(await strimzi)) {
      console.warn(
        'Strimzi CRDs are not installed in this cluster (see k8s/cluster/lib/addons.sh: ' +
          'STRIMZI_CRDS_DIR): the scenarios that create Strimzi resources are checked to be ' +
          'refused for that reason only, not installed.',
      );
    }
  });

  it.each(scenarios)('$name', async ({ name, file }) => {
    const namespace = `matrix-${name}-${Date.now().toString(36)}`;
    await prepareNamespace(namespace);
    try {
      const result = await helm([
        'install',
        'sp',
        CHART,
        '-n',
        namespace,
        '-f',
        file,
        ...HOOK_IMAGE,
        '--timeout',
        '2m',
      ]);
      if (needsStrimzi(file) && !(await strimzi)) {
        expect(result.status).not.toBe(0);
        expect(result.stderr).toMatch(/no matches for kind "Kafka(NodePool|Topic|User)?"/);
        return;
      }
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);

      // Every object helm rendered is in the cluster, as rendered (nothing refused or pruned).
      const manifest = await helmOk(['get', 'manifest', 'sp', '-n', namespace]);
      const rendered = parseAllDocuments(manifest)
        .map((doc) => doc.toJS() as { kind: string; metadata: { name: string } } | null)
        .filter((o): o is { kind: string; metadata: { name: string } } => o !== null);
      expect(rendered.length).toBeGreaterThan(10);
      for (const object of rendered) {
        const live = JSON.parse(
          await kubectl(['get', object.kind, object.metadata.name, '-n', namespace, '-o', 'json']),
        );
        expect(live.metadata.name).toBe(object.metadata.name);
      }
      if (valuesOf(file).generatedSecrets?.mode === 'job') {
        // The hook Job ran, admitted under "restricted", and made the Secrets the pods will read.
        for (const secret of ['sp-spillway-api-keys', 'sp-spillway-redis']) {
          const live = JSON.parse(await kubectl(['get', 'secret', secret, '-n', namespace, '-o', 'json']));
          expect([secret, live.metadata.annotations?.['spillway.dev/generated-by']]).toEqual([
            secret,
            'secrets-init',
          ]);
        }
      }
    } finally {
      await helm(['uninstall', 'sp', '-n', namespace, '--wait', '--timeout', '2m']);
      await kubectl(['delete', 'namespace', namespace, '--wait=false']);
    }
  });
});
