import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { clusterEnv, kubectl, ROOT } from './cluster';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered Kubernetes objects
type Rendered = { kind: string; metadata: { name: string; annotations?: Record<string, string> } } & any;

const hookOf = (o: Rendered): string[] =>
  (o.metadata.annotations?.['helm.sh/hook'] ?? '').split(',').filter(Boolean);
const weightOf = (o: Rendered) => Number(o.metadata.annotations?.['helm.sh/hook-weight'] ?? 0);

function tempFile(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'spillway-gitops-')), name);
  writeFileSync(file, text);
  return file;
}

async function apply(namespace: string, objects: Rendered[]): Promise<void> {
  const file = tempFile('objects.yaml', objects.map((o) => stringify(o)).join('---\n'));
  await kubectl(['apply', '-n', namespace, '-f', file]);
}

/**
 * An Argo CD sync of `manifest` (the output of `helm template`), as Argo CD runs one for a Helm
 * chart (docs: user-guide/helm.md, "Helm Hooks"): pre-install and pre-upgrade hooks are PreSync
 * hooks, applied wave by wave (hook-weight is the wave) after a leftover of the same name is
 * deleted (before-hook-creation), a Job waited for until it completes; then the manifest's other
 * objects are applied with `kubectl apply`; hooks that succeeded are deleted (hook-succeeded).
 * Test and post-delete hooks do not run in a sync. Returns the logs of the PreSync Jobs.
 */
export async function argoCdSync(namespace: string, manifest: string): Promise<string> {
  const objects: Rendered[] = parseAllDocuments(manifest)
    .map((doc) => doc.toJS() as Rendered | null)
    .filter((o): o is Rendered => o !== null);
  const preSync = objects.filter((o) => hookOf(o).some((h) => h === 'pre-install' || h === 'pre-upgrade'));
  const waves = [...new Set(preSync.map(weightOf))].sort((a, b) => a - b);
  let logs = '';
  for (const wave of waves) {
    const hooks = preSync.filter((o) => weightOf(o) === wave);
    for (const hook of hooks) {
      await kubectl([
        'delete',
        hook.kind,
        hook.metadata.name,
        '-n',
        namespace,
        '--ignore-not-found',
        '--wait',
      ]);
    }
    await apply(namespace, hooks);
    for (const job of hooks.filter((o) => o.kind === 'Job')) {
      const name = `job/${job.metadata.name}`;
      await kubectl(['wait', '--for=condition=complete', name, '-n', namespace, '--timeout=120s']);
      logs += await kubectl(['logs', name, '-n', namespace]);
    }
  }
  await apply(
    namespace,
    objects.filter((o) => hookOf(o).length === 0),
  );
  for (const hook of preSync) {
    await kubectl(['delete', hook.kind, hook.metadata.name, '-n', namespace, '--ignore-not-found']);
  }
  return logs;
}

export interface GeneratorRun {
  status: number;
  /** Its log lines, parsed. */
  lines: { level: string; msg: string; secret?: string; outcomes?: Record<string, string> }[];
  stderr: string;
}

/** The secrets generator as the hook Job runs it, from this machine with `kubeconfig`. */
export async function runGenerator(
  kubeconfig: string,
  namespace: string,
  action: 'ensure' | 'remove',
  secrets: { name: string; key: string; length: number }[],
): Promise<GeneratorRun> {
  const env = {
    PATH: process.env.PATH,
    KUBECONFIG: kubeconfig,
    SECRETS_INIT_ACTION: action,
    SECRETS_INIT_NAMESPACE: namespace,
    SECRETS_INIT_SECRETS: JSON.stringify(secrets),
  };
  const main = join(ROOT, 'dist', 'services', 'secrets-init', 'main.js');
  const result = await promisify(execFile)(process.execPath, [main], { env, timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ status: 0, stdout, stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({
      status: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    }),
  );
  const lines = result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as GeneratorRun['lines'][number]);
  return { status: result.status, lines, stderr: result.stderr };
}

/**
 * A kubeconfig for `serviceAccount` in `namespace`: the cluster's server and CA from the admin
 * kubeconfig, and a token of the ServiceAccount (`kubectl create token`).
 */
export async function serviceAccountKubeconfig(namespace: string, serviceAccount: string): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- kubeconfig YAML
  const admin = parse(readFileSync(clusterEnv().kubeconfig, 'utf8')) as any;
  const token = (await kubectl(['create', 'token', serviceAccount, '-n', namespace])).trim();
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: admin.clusters[0].cluster }],
    users: [{ name: serviceAccount, user: { token } }],
    contexts: [{ name: 'sa', context: { cluster: 'local', user: serviceAccount, namespace } }],
    'current-context': 'sa',
  };
  return tempFile('kubeconfig', stringify(config));
}
