import { nullable, timestamp } from './schemas';

/** The JSON Schema of GET /v1/fleet's answer (published by openapi.ts; its own file for size). */
const condition = nullable({
  type: 'object',
  required: ['status', 'reason', 'message'],
  properties: {
    status: { type: 'string', description: '"True", "False" or "Unknown".' },
    reason: { type: ['string', 'null'] },
    message: { type: ['string', 'null'] },
  },
});

/** GET /v1/fleet (services/shared/kubernetes/fleet.ts FleetView). */
export const fleetSchema = {
  type: 'object',
  description: 'The workers as Kubernetes runs them, beside the queue they drain.',
  required: ['at', 'namespace', 'workers', 'scaledObject', 'hpa', 'queue', 'drain'],
  properties: {
    at: timestamp,
    namespace: { type: 'string' },
    workers: {
      type: 'object',
      description: 'The worker Deployment.',
      required: [
        'name',
        'desiredReplicas',
        'replicas',
        'readyReplicas',
        'availableReplicas',
        'updatedReplicas',
      ],
      properties: {
        name: { type: 'string' },
        desiredReplicas: { type: 'integer', minimum: 0 },
        replicas: { type: 'integer', minimum: 0 },
        readyReplicas: { type: 'integer', minimum: 0 },
        availableReplicas: { type: 'integer', minimum: 0 },
        updatedReplicas: { type: 'integer', minimum: 0 },
      },
    },
    scaledObject: nullable({
      type: 'object',
      description: 'The KEDA ScaledObject; null when KEDA is off (FLEET_SCALED_OBJECT unset).',
      required: [
        'name',
        'ready',
        'active',
        'paused',
        'minReplicaCount',
        'maxReplicaCount',
        'triggers',
        'hpaName',
      ],
      properties: {
        name: { type: 'string' },
        ready: condition,
        active: condition,
        paused: { type: 'boolean' },
        minReplicaCount: { type: 'integer', minimum: 0 },
        maxReplicaCount: { type: 'integer', minimum: 0 },
        triggers: {
          type: 'array',
          items: {
            type: 'object',
            required: ['type', 'metricName', 'topic', 'consumerGroup', 'lagThreshold'],
            properties: {
              type: { type: 'string' },
              metricName: { type: ['string', 'null'], description: 'The external metric the HPA reads.' },
              topic: { type: ['string', 'null'] },
              consumerGroup: { type: ['string', 'null'] },
              lagThreshold: { type: ['number', 'null'], description: 'Target lag per worker.' },
            },
          },
        },
        hpaName: { type: 'string' },
        lastActiveTime: { type: ['string', 'null'] },
      },
    }),
    hpa: nullable({
      type: 'object',
      description: 'The HPA KEDA owns; null when KEDA is off or has not created it yet.',
      required: ['name', 'currentReplicas', 'desiredReplicas', 'minReplicas', 'maxReplicas', 'metrics'],
      properties: {
        name: { type: 'string' },
        currentReplicas: { type: 'integer', minimum: 0 },
        desiredReplicas: { type: 'integer', minimum: 0 },
        minReplicas: { type: 'integer', minimum: 0 },
        maxReplicas: { type: 'integer', minimum: 0 },
        metrics: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'targetType', 'target', 'current'],
            properties: {
              name: { type: 'string' },
              targetType: { type: ['string', 'null'] },
              target: { type: ['number', 'null'] },
              current: { type: ['number', 'null'] },
            },
          },
        },
        scalingLimited: condition,
      },
    }),
    queue: { $ref: '#/components/schemas/Stats' },
    drain: nullable({
      type: 'object',
      description: 'Tasks finishing per second, between two samples of the counts.',
      required: ['windowSeconds', 'finishedPerSecond', 'succeededPerSecond', 'etaSeconds'],
      properties: {
        windowSeconds: { type: 'number', minimum: 0 },
        finishedPerSecond: { type: 'number', minimum: 0 },
        succeededPerSecond: { type: 'number', minimum: 0 },
        etaSeconds: {
          type: ['number', 'null'],
          description: 'Lag divided by the finish rate; null when nothing finishes.',
        },
      },
    }),
  },
} as const;
