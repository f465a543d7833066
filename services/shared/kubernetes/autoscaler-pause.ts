import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { TimeoutError, withTimeout } from '../timeout';
import { apiStatus, currentServer, loadKubeConfig, networkErrorCode } from './kube-client';
import type { KubeSource } from './kube-source';
import { AUTOSCALER_PAUSE_PERMISSION, KEDA_PAUSED_ANNOTATION } from './permissions';

/** Pauses and resumes the autoscaler of the workers (KEDA's ScaledObject). */
export interface AutoscalerPause {
  /** What is patched, for messages: "ScaledObject spillway-worker in namespace spillway". */
  readonly target: string;
  /** Sets (true) or removes (false) KEDA's pause annotation; throws an Error saying what failed. */
  setPaused(paused: boolean): Promise<void>;
}

/**
 * While the queue is paused its lag grows, and KEDA would scale the workers to their maximum for
 * a backlog nobody may run. KEDA's `autoscaling.keda.sh/paused: "true"` annotation keeps the
 * replicas where they are until it is removed. One merge patch, exactly AUTOSCALER_PAUSE_PERMISSION
 * (the chart's Role grants no more). Loads @kubernetes/client-node: import() it, as main.ts does.
 */
export class KubeAutoscalerPause implements AutoscalerPause {
  readonly target: string;
  private readonly custom: CustomObjectsApi;
  private readonly server: string;

  /**
   * @param namespace the ScaledObject's (FLEET_NAMESPACE)
   * @param timeoutMs longest wait for the API server's answer (default 10 s)
   */
  constructor(
    source: KubeSource,
    private readonly namespace: string,
    private readonly scaledObject: string,
    private readonly timeoutMs = 10_000,
  ) {
    const kubeConfig = loadKubeConfig(source);
    this.server = currentServer(kubeConfig, source);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.target = `${AUTOSCALER_PAUSE_PERMISSION.kind} ${scaledObject} in namespace ${namespace}`;
  }

  async setPaused(paused: boolean): Promise<void> {
    const { apiGroup, version, resource } = AUTOSCALER_PAUSE_PERMISSION;
    // A merge patch: `null` removes the annotation, and nothing else of the object is touched.
    const body = { metadata: { annotations: { [KEDA_PAUSED_ANNOTATION]: paused ? 'true' : null } } };
    try {
      await withTimeout(
        this.custom.patchNamespacedCustomObject(
          {
            group: apiGroup,
            version,
            namespace: this.namespace,
            plural: resource,
            name: this.scaledObject,
            body,
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
        this.timeoutMs,
        `patching ${this.target}`,
      );
    } catch (err) {
      throw new Error(this.explain(err));
    }
  }

  private explain(err: unknown): string {
    const what = `patching ${this.target} at ${this.server}`;
    if (err instanceof TimeoutError) return `${what}: no answer within ${this.timeoutMs / 1000} s`;
    const answered = apiStatus(err);
    if (answered?.status === 403) {
      return `${what}: forbidden (${answered.message}); grant patch on scaledobjects.keda.sh/${this.scaledObject} (the chart does with fleet.pauseAutoscaling=true)`;
    }
    if (answered) return `${what}: ${answered.status} ${answered.message}`;
    const network = networkErrorCode(err);
    return `${what}: ${network ? `unreachable (${network})` : err instanceof Error ? err.message : String(err)}`;
  }
}
