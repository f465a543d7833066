import { execFile, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = join(__dirname, '..', '..', '..');
export const CHART = join(ROOT, 'charts', 'spillway');
export const CLUSTER_VALUES = join(ROOT, 'k8s', 'cluster', 'values.yaml');
const CLUSTER_SCRIPT = join(ROOT, 'k8s', 'cluster', 'cluster.sh');

/** What `cluster.sh env --json` says: where the local cluster's tools and Kafka are. */
export interface ClusterEnv {
  kubeconfig: string;
  kubectl: string;
  helm: string;
  skaffold: string;
  /** host:port of the cluster's Kafka, reachable from pods and from this machine. */
  kafka: string;
  nodeIp: string;
}

let env: ClusterEnv | undefined;
export function clusterEnv(): ClusterEnv {
  env ??= JSON.parse(execFileSync('bash', [CLUSTER_SCRIPT, 'env', '--json'], { encoding: 'utf8' }));
  return env!;
}

/** The environment every tool run against the cluster gets: its kubeconfig, its kubectl and helm first. */
export function toolEnv(): NodeJS.ProcessEnv {
  const { kubeconfig, kubectl, helm } = clusterEnv();
  const dirs = [kubectl, helm].map((bin) => bin.slice(0, bin.lastIndexOf('/')));
  return { ...process.env, KUBECONFIG: kubeconfig, PATH: [...dirs, process.env.PATH].join(':') };
}

const run = promisify(execFile);

export interface CommandResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command against the cluster; never throws for a non-zero exit (the result says). */
export async function command(file: string, args: string[], timeoutMs = 120_000): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await run(file, args, {
      env: toolEnv(),
      cwd: ROOT,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      status: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr || failed.message,
    };
  }
}

/** kubectl; throws with its stderr unless it succeeds. */
export async function kubectl(args: string[], timeoutMs?: number): Promise<string> {
  const result = await command(clusterEnv().kubectl, args, timeoutMs);
  if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary Kubernetes JSON
export async function kubectlJson(args: string[]): Promise<any> {
  return JSON.parse(await kubectl([...args, '-o', 'json']));
}

/** helm; the result carries its exit status, stdout and stderr (warnings are checked there). */
export function helm(args: string[], timeoutMs = 600_000): Promise<CommandResult> {
  return command(clusterEnv().helm, args, timeoutMs);
}

/** helm, expected to succeed and to warn about nothing. */
export async function helmOk(args: string[], timeoutMs?: number): Promise<string> {
  const result = await helm(args, timeoutMs);
  if (result.status !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

export interface PortForward {
  url: string;
  close(): void;
}

/**
 * `kubectl port-forward` to `target` (svc/name, pod/name) on a free local port: the path a user
 * takes to a ClusterIP Service, through the API server and the kubelet.
 */
export function portForward(namespace: string, target: string, remotePort: number): Promise<PortForward> {
  const child = spawn(
    clusterEnv().kubectl,
    ['port-forward', '-n', namespace, target, `0:${remotePort}`, '--address', '127.0.0.1'],
    { env: toolEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`port-forward to ${target} did not start in 30 s: ${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const port = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output)?.[1];
      if (!port) return;
      clearTimeout(timer);
      resolve({ url: `http://127.0.0.1:${port}`, close: () => child.kill() });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`port-forward to ${target} exited (${code}): ${output}`));
    });
  });
}

/** Polls `probe` until it returns something other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not within ${timeoutMs / 1000} s${last ? ` (last error: ${String(last)})` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
