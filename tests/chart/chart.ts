import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ROOT = join(__dirname, '..', '..');
export const CHART = join(ROOT, 'charts', 'spillway');

/** A rendered Kubernetes object; tests read fields by path, so only the envelope is typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [field: string]: any;
}

let helmPath: string | undefined;

/**
 * The helm binary. scripts/helm.sh builds it with `go install` on first use (minutes), so test
 * files call this from beforeAll with a long timeout; later calls return the cached path.
 */
export function helm(): string {
  helmPath ??= execFileSync('bash', [join(ROOT, 'scripts', 'helm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return helmPath;
}

export const HELM_INSTALL_TIMEOUT_MS = 15 * 60_000;

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function runHelm(args: string[]): HelmResult {
  const result = spawnSync(helm(), args, { encoding: 'utf8', cwd: ROOT });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** A values file in a temporary folder, for cases the ci/ scenarios must not contain. */
export function valuesFile(yaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'spillway-values-')), 'values.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** `helm template` of the chart; throws with helm's message when rendering fails. */
export function render(valueFiles: string[] = [], extra: string[] = []): K8sObject[] {
  const args = [
    'template',
    'spw',
    CHART,
    '--namespace',
    'tasks',
    ...valueFiles.flatMap((f) => ['-f', f]),
    ...extra,
  ];
  const result = runHelm(args);
  if (result.status !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => {
      if (doc.errors.length) throw doc.errors[0];
      return doc.toJS() as K8sObject | null;
    })
    .filter((obj): obj is K8sObject => obj !== null);
}

export function only(objects: K8sObject[], kind: string, nameSuffix = ''): K8sObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name.endsWith(nameSuffix));
  if (found.length !== 1) throw new Error(`expected one ${kind} *${nameSuffix}, found ${found.length}`);
  return found[0]!;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

export interface Container {
  name: string;
  env: EnvVar[];
}

export function container(deployment: K8sObject, name: string): Container {
  const found = (deployment.spec.template.spec.containers as Container[]).find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name} in ${deployment.metadata.name}`);
  return found;
}

/** A container's literal env values (valueFrom entries are left out). */
export function envOf(deployment: K8sObject, name: string): Record<string, string> {
  return Object.fromEntries(
    container(deployment, name)
      .env.filter((e) => e.value !== undefined)
      .map((e) => [e.name, e.value!]),
  );
}

/** The env a container would see: valueFrom entries filled in, $(VAR) references expanded as the kubelet does. */
export function containerEnv(deployment: K8sObject, name: string): Record<string, string> {
  const entries = container(deployment, name).env;
  // The kubelet sets these in every container; the API's fleet view needs them in-cluster.
  const env: Record<string, string> = {
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    KUBERNETES_SERVICE_PORT: '443',
  };
  for (const entry of entries) {
    const value = entry.value ?? 'from-a-secret-0123456789';
    env[entry.name] = String(value).replace(
      /\$\(([A-Z_][A-Z0-9_]*)\)/g,
      (ref, name: string) => env[name] ?? ref,
    );
  }
  return env;
}
