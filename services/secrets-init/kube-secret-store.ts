import { CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import { apiStatus, currentServer, loadKubeConfig, networkErrorCode } from '../shared/kubernetes/kube-client';
import type { KubeSource } from '../shared/kubernetes/kube-source';
import { TimeoutError, withTimeout } from '../shared/timeout';
import type { NewSecret, PatchOp, SecretStore, StoredSecret } from './generator';

/** A failure the generator cannot work around; its message says what to check. */
export class SecretsInitError extends Error {
  override readonly name = 'SecretsInitError';
}

/**
 * The generator's Secrets in one namespace, through the Kubernetes API: exactly the calls
 * SECRETS_INIT_PERMISSIONS lists (create; get, patch and delete by name). Loads
 * @kubernetes/client-node: import() it, as main.ts does.
 */
export class KubeSecretStore implements SecretStore {
  private constructor(
    private readonly core: CoreV1Api,
    /** The API server's URL, named in errors. */
    private readonly server: string,
    private readonly namespace: string,
    private readonly timeoutMs: number,
  ) {}

  /** In the cluster (a pod's ServiceAccount) unless `source` names kubeconfig files. */
  static create(source: KubeSource, namespace: string, timeoutMs: number): KubeSecretStore {
    const kubeConfig = loadKubeConfig(source);
    const server = currentServer(kubeConfig, source);
    return new KubeSecretStore(kubeConfig.makeApiClient(CoreV1Api), server, namespace, timeoutMs);
  }

  async read(name: string): Promise<StoredSecret | undefined> {
    const secret = await this.call('get', name, [404], () =>
      this.core.readNamespacedSecret({ name, namespace: this.namespace }),
    ).catch((err: unknown) => (isStatus(err, 404) ? undefined : Promise.reject(err)));
    if (!secret) return undefined;
    return {
      resourceVersion: secret.metadata?.resourceVersion ?? '',
      ...(secret.data && { data: secret.data }),
      ...(secret.metadata?.annotations && { annotations: secret.metadata.annotations }),
    };
  }

  async create(secret: NewSecret): Promise<'created' | 'exists'> {
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: secret.name, labels: secret.labels, annotations: secret.annotations },
      data: secret.data,
    };
    return this.call('create', secret.name, [409], () =>
      this.core.createNamespacedSecret({ namespace: this.namespace, body }),
    ).then(
      () => 'created' as const,
      (err: unknown) => (isStatus(err, 409) ? ('exists' as const) : Promise.reject(err)),
    );
  }

  async patch(name: string, ops: PatchOp[]): Promise<'patched' | 'conflict'> {
    // client-node sends patches as JSON Patch (application/json-patch+json), its first choice.
    return this.call('patch', name, [409, 422], () =>
      this.core.patchNamespacedSecret({ name, namespace: this.namespace, body: ops }),
    ).then(
      () => 'patched' as const,
      // A failed `test` op answers 422; a write racing this one, 409.
      (err: unknown) =>
        isStatus(err, 409) || isStatus(err, 422) ? ('conflict' as const) : Promise.reject(err),
    );
  }

  async delete(name: string): Promise<'deleted' | 'gone'> {
    return this.call('delete', name, [404], () =>
      this.core.deleteNamespacedSecret({ name, namespace: this.namespace }),
    ).then(
      () => 'deleted' as const,
      (err: unknown) => (isStatus(err, 404) ? ('gone' as const) : Promise.reject(err)),
    );
  }

  /**
   * One call, with a timeout. An answer with an `expected` status comes back as it is, for the
   * caller to judge; every other failure becomes a SecretsInitError saying what to check.
   */
  private async call<T>(verb: string, name: string, expected: number[], work: () => Promise<T>): Promise<T> {
    const what = `${verb} Secret ${name} in namespace ${this.namespace}`;
    try {
      return await withTimeout(work(), this.timeoutMs, what);
    } catch (err) {
      if (expected.some((status) => isStatus(err, status))) throw err;
      throw this.explain(err, verb, what);
    }
  }

  private explain(err: unknown, verb: string, what: string): SecretsInitError {
    const server = this.server;
    if (err instanceof TimeoutError) {
      return new SecretsInitError(
        `Kubernetes API ${server} did not answer within ${this.timeoutMs / 1000} s (${what}): is the API server reachable from this pod (NetworkPolicies)?`,
      );
    }
    const answered = apiStatus(err);
    if (answered?.status === 403) {
      return new SecretsInitError(
        `not allowed to ${what} (403: ${answered.message}): the ServiceAccount needs "${verb}" on secrets` +
          `${verb === 'create' ? '' : ' (resourceNames may name the Secret)'}; the chart's hook Role grants it`,
      );
    }
    if (answered?.status === 401) {
      return new SecretsInitError(`Kubernetes API ${server} rejected the credentials (401) on ${what}`);
    }
    if (answered) {
      return new SecretsInitError(
        `Kubernetes API ${server} answered ${answered.status} to ${what}: ${answered.message}`,
      );
    }
    const network = networkErrorCode(err);
    return new SecretsInitError(
      network
        ? `Kubernetes API ${server} unreachable (${network}) on ${what}`
        : `${what} failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function isStatus(err: unknown, status: number): boolean {
  return apiStatus(err)?.status === status;
}
