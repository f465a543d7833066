import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { FleetError } from './fleet';

/** Where to reach the cluster from. */
export interface KubeSource {
  /** Kubeconfig files, merged in order as kubectl merges them; empty: in-cluster (the pod's service account). */
  kubeconfig: string[];
  /** A kubeconfig context other than the current one. */
  context?: string;
}

/** Where Kubernetes mounts a pod's service account token. */
export const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * As kubectl finds it: the files in KUBECONFIG, else ~/.kube/config, else the pod's service account.
 * Throws FleetError('no-config') naming what to set when there is none.
 */
export function resolveKubeSource(
  env: { KUBECONFIG?: string; HOME?: string },
  context?: string,
  exists: (path: string) => boolean = existsSync,
): KubeSource {
  const withContext = (kubeconfig: string[]): KubeSource => ({ kubeconfig, ...(context && { context }) });
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (listed.length > 0) {
    const found = listed.filter((path) => exists(path));
    if (found.length === 0) {
      throw new FleetError(
        'no-config',
        `no kubeconfig: KUBECONFIG names ${listed.join(delimiter)}, which does not exist; point it at your cluster's kubeconfig`,
      );
    }
    return withContext(found);
  }
  const home = env.HOME ? join(env.HOME, '.kube', 'config') : undefined;
  if (home && exists(home)) return withContext([home]);
  if (exists(IN_CLUSTER_TOKEN)) return withContext([]);
  throw new FleetError(
    'no-config',
    'no kubeconfig: set KUBECONFIG or create ~/.kube/config (e.g. `kind export kubeconfig --name spillway`), or run inside the cluster',
  );
}
