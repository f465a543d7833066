/**
 * The fleet view: the workers as Kubernetes runs them (Deployment, KEDA ScaledObject, its HPA)
 * beside the queue they drain (lag, oldest waiting task, drain rate). `spillway fleet` and
 * `GET /v1/fleet` show the same FleetView.
 *
 * This file holds the types and the pure functions that read Kubernetes objects; only
 * fleet-reader.ts talks to a cluster. The object types below are structural (the JSON field
 * names), so both @kubernetes/client-node's models and plain JSON fit.
 */
import { FLEET_PERMISSIONS, kedaHpaName } from './permissions';

/** Which objects to read. */
export interface FleetTargets {
  namespace: string;
  /** The worker Deployment. */
  workerDeployment: string;
  /** The ScaledObject scaling it; absent when KEDA is off. */
  scaledObject?: string;
}

/** What failed, which decides the CLI's exit code and the API's error code. */
export type FleetFailure = 'no-config' | 'unreachable' | 'forbidden' | 'not-found' | 'error';

export class FleetError extends Error {
  constructor(
    readonly reason: FleetFailure,
    message: string,
  ) {
    super(message);
    this.name = 'FleetError';
  }
}

/** Reads the Kubernetes half of the view; KubeFleetReader is the real one. */
export interface FleetSource {
  readonly targets: FleetTargets;
  read(): Promise<KubeFleet>;
}

export interface ConditionView {
  status: string;
  reason: string | null;
  message: string | null;
}

export interface WorkersView {
  name: string;
  /** spec.replicas: what the HPA (or the chart) asks for. */
  desiredReplicas: number;
  /** Pods that exist, ready, available, and on the current template. */
  replicas: number;
  readyReplicas: number;
  availableReplicas: number;
  updatedReplicas: number;
}

export interface TriggerView {
  type: string;
  /** The external metric KEDA serves to the HPA for this trigger (`s0-kafka-<topic>`). */
  metricName: string | null;
  topic: string | null;
  consumerGroup: string | null;
  /** Target lag per worker (Kafka triggers). */
  lagThreshold: number | null;
}

export interface ScaledObjectView {
  name: string;
  ready: ConditionView | null;
  active: ConditionView | null;
  paused: boolean;
  minReplicaCount: number;
  maxReplicaCount: number;
  triggers: TriggerView[];
  hpaName: string;
  lastActiveTime: string | null;
}

export interface MetricView {
  name: string;
  /** AverageValue, Value or Utilization (percent). */
  targetType: string | null;
  target: number | null;
  current: number | null;
}

export interface HpaView {
  name: string;
  currentReplicas: number;
  desiredReplicas: number;
  minReplicas: number;
  maxReplicas: number;
  metrics: MetricView[];
  /** Why the HPA is held back, when it is (ScalingLimited: True). */
  scalingLimited: ConditionView | null;
}

/** The Kubernetes half. `hpa` is null when KEDA is off or has not made the HPA yet. */
export interface KubeFleet {
  namespace: string;
  workers: WorkersView;
  scaledObject: ScaledObjectView | null;
  hpa: HpaView | null;
}

/** What the view takes from GET /v1/stats (the same shape). */
export interface QueueStats {
  counts: Record<string, number>;
  oldestWaitingAgeSeconds: number | null;
  lag: {
    total: number;
    /** Absent from APIs older than lanes. */
    byLane?: Record<string, number>;
    partitions: {
      /** Absent from APIs older than lanes (their one lane is normal). */
      lane?: string;
      partition: number;
      latestOffset: number;
      committedOffset: number | null;
      lag: number;
    }[];
  };
  deadLetters: number;
}

export interface DrainRate {
  /** Seconds between the two samples the rate comes from. */
  windowSeconds: number;
  /** Tasks that reached a final status (succeeded, failed or cancelled) per second. */
  finishedPerSecond: number;
  succeededPerSecond: number;
  /** Lag divided by the finish rate: when the backlog is gone at this pace; null when nothing finishes. */
  etaSeconds: number | null;
}

export interface FleetView extends KubeFleet {
  /** When the sample was taken (ISO 8601). */
  at: string;
  queue: QueueStats;
  /** null until two samples exist. */
  drain: DrainRate | null;
}

// Structural types of the objects read; every field optional, as in a half-reconciled object.
type Time = string | Date;
interface Meta {
  name?: string;
  annotations?: Record<string, string>;
}
interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface DeploymentLike {
  metadata?: Meta;
  spec?: { replicas?: number };
  status?: {
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
  };
}

export interface ScaledObjectLike {
  metadata?: Meta;
  spec?: {
    minReplicaCount?: number;
    maxReplicaCount?: number;
    advanced?: { horizontalPodAutoscalerConfig?: { name?: string } };
    triggers?: { type: string; metadata?: Record<string, string> }[];
  };
  status?: {
    conditions?: Condition[];
    externalMetricNames?: string[];
    hpaName?: string;
    lastActiveTime?: Time;
  };
}

type Quantity = string | number;
interface MetricSpec {
  type: string;
  external?: { metric: { name: string }; target: MetricTarget };
  resource?: { name: string; target: MetricTarget };
  pods?: { metric: { name: string }; target: MetricTarget };
  object?: { metric: { name: string }; target: MetricTarget };
  containerResource?: { name: string; target: MetricTarget };
}
interface MetricTarget {
  type: string;
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
}
interface MetricStatus {
  type: string;
  external?: { metric: { name: string }; current: MetricValue };
  resource?: { name: string; current: MetricValue };
  pods?: { metric: { name: string }; current: MetricValue };
  object?: { metric: { name: string }; current: MetricValue };
  containerResource?: { name: string; current: MetricValue };
}
interface MetricValue {
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
}

export interface HpaLike {
  metadata?: Meta;
  spec?: { minReplicas?: number; maxReplicas?: number; metrics?: MetricSpec[] };
  status?: {
    currentReplicas?: number;
    desiredReplicas?: number;
    currentMetrics?: MetricStatus[];
    conditions?: Condition[];
  };
}

// KEDA's defaults when the ScaledObject leaves them out.
const KEDA_MIN_REPLICAS = 0;
const KEDA_MAX_REPLICAS = 100;

export function workersView(deployment: DeploymentLike, name: string): WorkersView {
  const status = deployment.status ?? {};
  return {
    name: deployment.metadata?.name ?? name,
    desiredReplicas: deployment.spec?.replicas ?? 1,
    replicas: status.replicas ?? 0,
    readyReplicas: status.readyReplicas ?? 0,
    availableReplicas: status.availableReplicas ?? 0,
    updatedReplicas: status.updatedReplicas ?? 0,
  };
}

export function scaledObjectView(so: ScaledObjectLike, name: string): ScaledObjectView {
  const conditions = so.status?.conditions ?? [];
  const paused = condition(conditions, 'Paused');
  const soName = so.metadata?.name ?? name;
  return {
    name: soName,
    ready: condition(conditions, 'Ready'),
    active: condition(conditions, 'Active'),
    paused:
      paused?.status === 'True' ||
      so.metadata?.annotations?.['autoscaling.keda.sh/paused'] === 'true' ||
      so.metadata?.annotations?.['autoscaling.keda.sh/paused-replicas'] !== undefined,
    minReplicaCount: so.spec?.minReplicaCount ?? KEDA_MIN_REPLICAS,
    maxReplicaCount: so.spec?.maxReplicaCount ?? KEDA_MAX_REPLICAS,
    triggers: (so.spec?.triggers ?? []).map((trigger, i) => ({
      type: trigger.type,
      metricName: so.status?.externalMetricNames?.[i] ?? null,
      topic: trigger.metadata?.topic ?? null,
      consumerGroup: trigger.metadata?.consumerGroup ?? null,
      lagThreshold: numberOrNull(trigger.metadata?.lagThreshold),
    })),
    hpaName: hpaNameOf(so, soName),
    lastActiveTime: iso(so.status?.lastActiveTime),
  };
}

/** The HPA KEDA owns for this ScaledObject: as its status says, else as its spec names it, else KEDA's default. */
export function hpaNameOf(so: ScaledObjectLike, name: string): string {
  return so.status?.hpaName ?? so.spec?.advanced?.horizontalPodAutoscalerConfig?.name ?? kedaHpaName(name);
}

export function hpaView(hpa: HpaLike, name: string): HpaView {
  const current = new Map(
    (hpa.status?.currentMetrics ?? []).map((m) => {
      const source = m.external ?? m.resource ?? m.pods ?? m.object ?? m.containerResource;
      return [metricName(source), source?.current] as const;
    }),
  );
  return {
    name: hpa.metadata?.name ?? name,
    currentReplicas: hpa.status?.currentReplicas ?? 0,
    desiredReplicas: hpa.status?.desiredReplicas ?? 0,
    minReplicas: hpa.spec?.minReplicas ?? 1,
    maxReplicas: hpa.spec?.maxReplicas ?? 0,
    metrics: (hpa.spec?.metrics ?? []).map((m) => {
      const source = m.external ?? m.resource ?? m.pods ?? m.object ?? m.containerResource;
      const name = metricName(source);
      const target = source?.target;
      return {
        name,
        targetType: target?.type ?? null,
        target: valueOf(target, target?.type),
        current: valueOf(current.get(name), target?.type),
      };
    }),
    scalingLimited: ((c) => (c?.status === 'True' ? c : null))(
      condition(hpa.status?.conditions ?? [], 'ScalingLimited'),
    ),
  };
}

function metricName(source: { name: string } | { metric: { name: string } } | undefined): string {
  if (!source) return 'unknown';
  return 'metric' in source ? source.metric.name : source.name;
}

/** The number a target or current value stands for, as the target type reads it. */
function valueOf(value: MetricValue | undefined, type: string | undefined): number | null {
  if (!value) return null;
  if (type === 'Utilization') return value.averageUtilization ?? null;
  if (type === 'Value') return quantity(value.value);
  return quantity(value.averageValue ?? value.value);
}

const SUFFIXES: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity ("12500m", "3", "1Ki", "1e3") as a number; null when it is not one. */
export function quantity(raw: Quantity | undefined): number | null {
  if (raw === undefined) return null;
  if (typeof raw === 'number') return raw;
  const match = /^([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(raw.trim());
  const factor = match ? SUFFIXES[match[2]!] : undefined;
  return match && factor !== undefined ? Number(match[1]) * factor : null;
}

function condition(conditions: Condition[], type: string): ConditionView | null {
  const found = conditions.find((c) => c.type === type);
  return found
    ? { status: found.status, reason: found.reason ?? null, message: found.message ?? null }
    : null;
}

function numberOrNull(raw: string | undefined): number | null {
  const value = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(value) ? value : null;
}

function iso(time: Time | undefined): string | null {
  if (time === undefined) return null;
  return time instanceof Date ? time.toISOString() : time;
}

/** The permission a call needs, named as an operator would grant it. */
export function permissionHint(object: keyof typeof FLEET_PERMISSIONS, name: string): string {
  const { apiGroup, resource, verbs } = FLEET_PERMISSIONS[object];
  return `${verbs.join(',')} on ${resource}.${apiGroup} "${name}"`;
}
