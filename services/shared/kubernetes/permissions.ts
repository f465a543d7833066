/**
 * Every Kubernetes call the fleet reader makes, as RBAC sees it: one `get` on each of three named
 * objects. fleet-reader.ts takes each call's API group, version and resource from here, and
 * tests/chart checks the chart's Role against this constant, so the two cannot drift.
 *
 * Kept apart from fleet-reader.ts on purpose: this file must not load @kubernetes/client-node,
 * which is an ES module that jest (CommonJS, Node 20) cannot load.
 */
export const FLEET_PERMISSIONS = {
  /** The worker Deployment: desired and ready replicas. */
  workers: {
    apiGroup: 'apps',
    version: 'v1',
    resource: 'deployments',
    kind: 'Deployment',
    verbs: ['get'],
  },
  /** The KEDA ScaledObject that scales the workers: its conditions, trigger and bounds. */
  scaledObject: {
    apiGroup: 'keda.sh',
    version: 'v1alpha1',
    resource: 'scaledobjects',
    kind: 'ScaledObject',
    verbs: ['get'],
  },
  /** The HorizontalPodAutoscaler KEDA made for it: current and desired replicas, metric values. */
  hpa: {
    apiGroup: 'autoscaling',
    version: 'v2',
    resource: 'horizontalpodautoscalers',
    kind: 'HorizontalPodAutoscaler',
    verbs: ['get'],
  },
} as const;

export type FleetObject = keyof typeof FLEET_PERMISSIONS;

/** The name KEDA gives the HPA of a ScaledObject unless its spec names one. */
export function kedaHpaName(scaledObject: string): string {
  return `keda-hpa-${scaledObject}`;
}

/** The REST path of one object, as RBAC and the fake API server in tests see it. */
export function objectPath(object: FleetObject, namespace: string, name: string): string {
  const { apiGroup, version, resource } = FLEET_PERMISSIONS[object];
  return `/apis/${apiGroup}/${version}/namespaces/${namespace}/${resource}/${name}`;
}

/**
 * The one write the API makes: POST /v1/queue/pause and /resume set and remove KEDA's pause
 * annotation (KEDA_PAUSED_ANNOTATION) on the workers' ScaledObject, by a merge patch.
 * autoscaler-pause.ts takes its call from here, and tests/chart checks the chart's Role grants
 * exactly this `patch` on that ScaledObject by name.
 */
export const AUTOSCALER_PAUSE_PERMISSION = {
  apiGroup: 'keda.sh',
  version: 'v1alpha1',
  resource: 'scaledobjects',
  kind: 'ScaledObject',
  verbs: ['patch'],
} as const;

/** KEDA stops scaling a ScaledObject that carries this annotation set to "true", at its current replicas. */
export const KEDA_PAUSED_ANNOTATION = 'autoscaling.keda.sh/paused';
