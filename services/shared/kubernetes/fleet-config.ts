import { delimiter } from 'node:path';
import type { EnvReader } from '../env-reader';
import type { FleetTargets } from './fleet';
import type { KubeSource } from './kube-source';

export interface FleetConfig {
  targets: FleetTargets;
  source: KubeSource;
  /**
   * FLEET_PAUSE_AUTOSCALING=true: POST /v1/queue/pause also pauses the ScaledObject (KEDA's
   * pause annotation) and resume resumes it; needs FLEET_SCALED_OBJECT and `patch` on it. Default off.
   */
  pauseAutoscaling?: true;
}

const NAMESPACE = { re: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, hint: 'a Kubernetes namespace name' };
const OBJECT_NAME = {
  re: /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/,
  hint: 'a Kubernetes object name (lower-case letters, digits, "-" and ".")',
};

/**
 * The API's fleet view (GET /v1/fleet): FLEET_NAMESPACE and FLEET_WORKER_DEPLOYMENT turn it on,
 * FLEET_SCALED_OBJECT adds KEDA's side (unset when KEDA is off). The cluster is the pod's own
 * (in-cluster service account) unless KUBECONFIG names files. null: off (404 fleet_unavailable).
 */
export function readFleetConfig(reader: EnvReader): FleetConfig | null {
  const namespace = reader.string('FLEET_NAMESPACE', '', NAMESPACE);
  const workerDeployment = reader.string('FLEET_WORKER_DEPLOYMENT', '', OBJECT_NAME);
  const scaledObject = reader.string('FLEET_SCALED_OBJECT', '', OBJECT_NAME);
  const kubeconfig = reader.string('KUBECONFIG', '').split(delimiter).filter(Boolean);
  const pauseAutoscaling = reader.oneOf('FLEET_PAUSE_AUTOSCALING', 'false', ['true', 'false']) === 'true';
  if (pauseAutoscaling && !scaledObject) {
    reader.required('FLEET_SCALED_OBJECT', 'FLEET_PAUSE_AUTOSCALING=true pauses the ScaledObject it names');
  }
  if (!namespace && !workerDeployment && !scaledObject) return null;
  const why = 'the fleet view needs FLEET_NAMESPACE and FLEET_WORKER_DEPLOYMENT (or neither: off)';
  if (!namespace) reader.required('FLEET_NAMESPACE', why);
  if (!workerDeployment) reader.required('FLEET_WORKER_DEPLOYMENT', why);
  if (kubeconfig.length === 0 && !reader.string('KUBERNETES_SERVICE_HOST', '')) {
    reader.required('KUBECONFIG', 'the fleet view needs a cluster, and the API runs outside one');
  }
  return {
    targets: { namespace, workerDeployment, ...(scaledObject && { scaledObject }) },
    source: { kubeconfig },
    ...(pauseAutoscaling && { pauseAutoscaling: true as const }),
  };
}
