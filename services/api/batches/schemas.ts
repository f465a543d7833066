import { LIMITS, nullable, timestamp } from '../schemas';

/** JSON Schemas of the batch routes' bodies (see ../schemas.ts for the rest). */

/** Most bytes of metadata a batch carries, as JSON: it is read with every GET and callback. */
export const MAX_BATCH_METADATA_BYTES = 16 * 1024;
/** Most ids of failed or cancelled children one GET lists. */
export const UNSUCCESSFUL_PAGE = 1000;

const childrenSchema = (maxTasks: number, minItems: number) => ({
  type: 'array',
  minItems,
  maxItems: maxTasks,
  description:
    'Child tasks, each a TaskSubmission validated on its own: invalid items do not stop the valid ones, and only accepted children count in the batch.',
  items: { $ref: '#/components/schemas/TaskSubmission' },
});

const sealSchema = {
  type: 'boolean',
  description:
    'Seal the batch after these children: it takes no more, and completes once every child is terminal.',
};

export function batchCreationSchema(maxTasks: number) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      tasks: childrenSchema(maxTasks, 0),
      seal: sealSchema,
      callbackUrl: {
        type: 'string',
        format: 'uri',
        pattern: '^https?://',
        maxLength: LIMITS.callbackUrlLength,
        description: 'Receives a POST with the batch (as GET shows it) once, when the batch completes.',
      },
      onComplete: {
        $ref: '#/components/schemas/TaskSubmission',
        description:
          'A task submitted once, when the batch completes. Its handler gets `{ batch, payload }`: the batch as GET shows it, and this payload.',
      },
      metadata: { description: `Any JSON (at most ${MAX_BATCH_METADATA_BYTES} bytes), shown as given.` },
    },
  } as const;
}

export function batchChildrenSchema(maxTasks: number) {
  return {
    type: 'object',
    required: ['tasks'],
    additionalProperties: false,
    properties: { tasks: childrenSchema(maxTasks, 1), seal: sealSchema },
  } as const;
}

export const batchSchema = {
  type: 'object',
  required: ['id', 'tenant', 'status', 'total', 'done', 'pending', 'counts', 'progress', 'createdAt'],
  properties: {
    id: { type: 'string' },
    tenant: { type: 'string' },
    status: {
      enum: ['open', 'sealed', 'finished'],
      description:
        'open: takes children; sealed: waits for them; finished: every child terminal, completion sent.',
    },
    total: { type: 'integer', minimum: 0, description: 'Children accepted.' },
    done: { type: 'integer', minimum: 0, description: 'Children terminal (succeeded, failed or cancelled).' },
    pending: { type: 'integer', minimum: 0 },
    counts: {
      type: 'object',
      required: ['succeeded', 'failed', 'cancelled'],
      properties: {
        succeeded: { type: 'integer', minimum: 0 },
        failed: { type: 'integer', minimum: 0 },
        cancelled: { type: 'integer', minimum: 0 },
      },
    },
    progress: { type: 'number', minimum: 0, maximum: 1, description: 'done / total.' },
    createdAt: timestamp,
    sealedAt: nullable(timestamp),
    finishedAt: nullable(timestamp),
    cancelledAt: nullable(timestamp),
    metadata: {},
    parent: { type: 'string', description: 'The task that spawned these children (ctx.spawn).' },
    onComplete: { type: 'object' },
    callbackUrl: { type: 'string' },
    callback: { type: 'object', description: 'How the completion callback went, once it was sent.' },
    unsuccessful: {
      type: 'object',
      description: `Ids of children that failed or were cancelled, oldest first, ${UNSUCCESSFUL_PAGE} at most per page.`,
      required: ['ids'],
      properties: {
        ids: { type: 'array', items: { type: 'string' } },
        next: { type: 'string', description: 'Pass as ?after= for the next page.' },
      },
    },
  },
} as const;

export const batchSubmittedSchema = {
  type: 'object',
  required: ['batch', 'accepted', 'rejected', 'results'],
  properties: {
    batch: { $ref: '#/components/schemas/Batch' },
    accepted: { type: 'integer', minimum: 0 },
    rejected: { type: 'integer', minimum: 0 },
    results: {
      type: 'array',
      description: 'One per submitted child, in order: the accepted task, or why it was rejected.',
      items: {},
    },
  },
} as const;
