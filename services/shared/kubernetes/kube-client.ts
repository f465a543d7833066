import { KubeConfig } from '@kubernetes/client-node';
import { FleetError } from './fleet';
import type { KubeSource } from './kube-source';

/**
 * What every Spillway caller of the Kubernetes API shares (the fleet reader, the secrets
 * generator): a KubeSource loaded into client-node's KubeConfig, and an API error read back as
 * its status. Loads @kubernetes/client-node, an ES module jest cannot load: import() it only
 * where a cluster is wanted, as fleet-reader.ts is.
 */

/** The KubeConfig of `source`; throws FleetError('no-config') naming the file or context at fault. */
export function loadKubeConfig(source: KubeSource): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (source.kubeconfig.length === 0) {
    kubeConfig.loadFromCluster();
    return kubeConfig;
  }
  for (const [i, file] of source.kubeconfig.entries()) {
    try {
      if (i === 0) {
        kubeConfig.loadFromFile(file);
      } else {
        const next = new KubeConfig();
        next.loadFromFile(file);
        // As kubectl merges: the first file that sets the current context wins.
        kubeConfig.mergeConfig(next, Boolean(kubeConfig.getCurrentContext()));
      }
    } catch (err) {
      throw new FleetError(
        'no-config',
        `cannot read kubeconfig ${file}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  if (source.context) {
    if (!kubeConfig.getContextObject(source.context)) {
      throw new FleetError(
        'no-config',
        `no context "${source.context}" in the kubeconfig (kubectl config get-contexts)`,
      );
    }
    kubeConfig.setCurrentContext(source.context);
  }
  return kubeConfig;
}

/** The API server's URL of the current context; throws FleetError('no-config') when there is none. */
export function currentServer(kubeConfig: KubeConfig, source: KubeSource): string {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server || server.includes('undefined')) {
    throw new FleetError(
      'no-config',
      source.kubeconfig.length > 0
        ? `no cluster in kubeconfig context "${kubeConfig.getCurrentContext()}" (kubectl config get-contexts)`
        : 'not inside a cluster (KUBERNETES_SERVICE_HOST is not set): set KUBECONFIG',
    );
  }
  return server;
}

/**
 * The HTTP status and Status message of an error the API server answered; undefined for any other
 * error (a network failure, a timeout). client-node 1.x throws an ApiException with `code` and the
 * body as text.
 */
export function apiStatus(err: unknown): { status: number; message: string } | undefined {
  const status = (err as { code?: unknown } | null)?.code;
  if (typeof status !== 'number' || !('body' in (err as object))) return undefined;
  return { status, message: statusMessage((err as { body: unknown }).body) };
}

/** The code of a network failure (ECONNREFUSED, ENOTFOUND, ...) before any answer; undefined otherwise. */
export function networkErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The message of a Kubernetes Status body (client-node 1.x passes it as text). */
function statusMessage(body: unknown): string {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.slice(0, 200);
    }
  }
  const message = (parsed as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : (JSON.stringify(parsed)?.slice(0, 200) ?? '');
}
