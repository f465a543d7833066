import {
  AppsV1Api,
  AutoscalingV2Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Deployment,
  type V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { TimeoutError, withTimeout } from '../timeout';
import {
  FleetError,
  hpaNameOf,
  hpaView,
  permissionHint,
  scaledObjectView,
  workersView,
  type FleetSource,
  type FleetTargets,
  type KubeFleet,
  type ScaledObjectLike,
} from './fleet';
import { apiStatus, currentServer, loadKubeConfig, networkErrorCode } from './kube-client';
import type { KubeSource } from './kube-source';
import { FLEET_PERMISSIONS, type FleetObject } from './permissions';

/**
 * The one module that talks to the Kubernetes API: three `get`s, exactly those FLEET_PERMISSIONS
 * lists (the chart's Role grants no more). Load it with import() only when the fleet view is
 * wanted: @kubernetes/client-node 1.x is an ES module, which Node 20.19+ require()s but jest does not.
 */
export class KubeFleetReader implements FleetSource {
  private readonly apps: AppsV1Api;
  private readonly autoscaling: AutoscalingV2Api;
  private readonly custom: CustomObjectsApi;

  private constructor(
    kubeConfig: KubeConfig,
    /** The API server's URL, named in errors. */
    readonly server: string,
    readonly targets: FleetTargets,
    private readonly timeoutMs: number,
  ) {
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.autoscaling = kubeConfig.makeApiClient(AutoscalingV2Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /**
   * @param targets without a namespace: the kubeconfig context's, else the pod's, else "default".
   * @param timeoutMs longest wait for one answer (default 10 s); then the cluster counts as unreachable.
   */
  static create(
    source: KubeSource,
    targets: Omit<FleetTargets, 'namespace'> & { namespace?: string },
    timeoutMs = 10_000,
  ): KubeFleetReader {
    const kubeConfig = loadKubeConfig(source);
    const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
    const server = currentServer(kubeConfig, source);
    const namespace = targets.namespace ?? context?.namespace?.trim() ?? 'default';
    return new KubeFleetReader(kubeConfig, server, { ...targets, namespace }, timeoutMs);
  }

  async read(): Promise<KubeFleet> {
    const { namespace, workerDeployment, scaledObject } = this.targets;
    const [deployment, so] = await Promise.all([
      this.get<V1Deployment>('workers', workerDeployment, () =>
        this.apps.readNamespacedDeployment({ name: workerDeployment, namespace }),
      ),
      scaledObject === undefined
        ? undefined
        : this.get<ScaledObjectLike>('scaledObject', scaledObject, () => {
            const { apiGroup, version, resource } = FLEET_PERMISSIONS.scaledObject;
            return this.custom.getNamespacedCustomObject({
              group: apiGroup,
              version,
              namespace,
              plural: resource,
              name: scaledObject,
            }) as Promise<ScaledObjectLike>;
          }),
    ]);
    const soView = so && scaledObjectView(so, scaledObject!);
    let hpa: V2HorizontalPodAutoscaler | undefined;
    if (so) {
      const name = hpaNameOf(so, scaledObject!);
      // KEDA creates the HPA once the ScaledObject is reconciled: none yet is a state, not an error.
      hpa = await this.get('hpa', name, () =>
        this.autoscaling.readNamespacedHorizontalPodAutoscaler({ name, namespace }),
      ).catch((err: unknown) => {
        if (err instanceof FleetError && err.reason === 'not-found') return undefined;
        throw err;
      });
    }
    return {
      namespace,
      workers: workersView(deployment, workerDeployment),
      scaledObject: soView ?? null,
      hpa: hpa && soView ? hpaView(hpa, soView.hpaName) : null,
    };
  }

  private async get<T>(object: FleetObject, name: string, call: () => Promise<T>): Promise<T> {
    const { kind, resource } = FLEET_PERMISSIONS[object];
    const what = `${kind} ${name} in namespace ${this.targets.namespace}`;
    try {
      return await withTimeout(call(), this.timeoutMs, `reading ${what}`);
    } catch (err) {
      throw this.explain(err, object, name, what, resource);
    }
  }

  /** Turns a client error into a FleetError whose message says what failed and how to fix it. */
  private explain(
    err: unknown,
    object: FleetObject,
    name: string,
    what: string,
    resource: string,
  ): FleetError {
    const server = this.server;
    if (err instanceof TimeoutError) {
      return new FleetError(
        'unreachable',
        `Kubernetes API ${server} did not answer within ${this.timeoutMs / 1000} s (${what}): check that the cluster is up (kubectl cluster-info)`,
      );
    }
    const answered = apiStatus(err);
    if (answered) {
      const { status, message } = answered;
      if (status === 404) {
        const hint =
          object === 'scaledObject' && /could not find the requested resource/.test(message)
            ? 'this cluster has no ScaledObject resource: is KEDA installed? (kubectl get crd scaledobjects.keda.sh)'
            : object === 'workers'
              ? 'name the worker Deployment with --deployment (FLEET_WORKER_DEPLOYMENT for the API)'
              : object === 'scaledObject'
                ? 'name it with --scaled-object (FLEET_SCALED_OBJECT for the API), or leave it out when KEDA is off'
                : `KEDA names it after the ScaledObject (${resource})`;
        return new FleetError('not-found', `${what.replace(' in ', ' not found in ')}: ${hint}`);
      }
      if (status === 401) {
        return new FleetError(
          'forbidden',
          `Kubernetes API ${server} rejected the credentials (401): log in again or refresh the kubeconfig`,
        );
      }
      if (status === 403) {
        return new FleetError(
          'forbidden',
          `not allowed to read ${what} (403: ${message}): grant ${permissionHint(object, name)} (the chart does with fleet.enabled=true)`,
        );
      }
      return new FleetError(
        'error',
        `Kubernetes API ${server} answered ${status} reading ${what}: ${message}`,
      );
    }
    const network = networkErrorCode(err);
    if (network) {
      return new FleetError(
        'unreachable',
        `Kubernetes API ${server} unreachable (${network}): check that the cluster is up and the kubeconfig's current context (kubectl cluster-info)`,
      );
    }
    return new FleetError(
      'error',
      `reading ${what} from ${server} failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
