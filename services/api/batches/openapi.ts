import type { OpenApiParts } from '../schedules/openapi';
import {
  batchChildrenSchema,
  batchCreationSchema,
  batchSchema,
  batchSubmittedSchema,
  UNSUCCESSFUL_PAGE,
} from './schemas';

/** The component schemas the batch paths name. */
export function batchComponents(maxBatchTasks: number) {
  return {
    BatchCreation: batchCreationSchema(maxBatchTasks),
    BatchChildren: batchChildrenSchema(maxBatchTasks),
    Batch: batchSchema,
    BatchSubmitted: batchSubmittedSchema,
  };
}

/** /v1/batches and the routes under it. */
export function batchPaths({ json, error, common }: OpenApiParts, submissionErrors: Record<string, object>) {
  const batchId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const notFound = error("`batch_not_found`: no batch with this id, or another tenant's.");
  const closed = error('`batch_sealed` or `batch_cancelled`: the batch takes no more children.');
  return {
    '/v1/batches': {
      post: {
        operationId: 'createBatch',
        summary:
          'Create a batch, with children now or later (scope tasks:submit); it completes once sealed and every child is terminal, and its callback and onComplete task go out once.',
        requestBody: { required: true, ...json('BatchCreation') },
        responses: {
          '201': {
            description: 'Created; `results` has one entry per child sent.',
            ...json('BatchSubmitted'),
          },
          '200': {
            description: 'A replay of an earlier request with the same Idempotency-Key.',
            ...json('BatchSubmitted'),
          },
          ...submissionErrors,
          ...common,
        },
      },
    },
    '/v1/batches/{id}/tasks': {
      post: {
        operationId: 'addBatchChildren',
        summary:
          'Add children to an open batch, and with `seal: true` seal it after them (scope tasks:submit).',
        parameters: [batchId],
        requestBody: { required: true, ...json('BatchChildren') },
        responses: {
          '202': { description: 'Accepted: Kafka holds the valid children.', ...json('BatchSubmitted') },
          '404': notFound,
          ...submissionErrors,
          '409': closed,
          ...common,
        },
      },
    },
    '/v1/batches/{id}/seal': {
      post: {
        operationId: 'sealBatch',
        summary: 'Seal a batch: no more children; it completes once every child is terminal (idempotent).',
        parameters: [batchId],
        responses: { '200': { description: 'The batch.', ...json('Batch') }, '404': notFound, ...common },
      },
    },
    '/v1/batches/{id}': {
      get: {
        operationId: 'getBatch',
        summary: `Counts, progress, times and a page of the children that failed or were cancelled (${UNSUCCESSFUL_PAGE} at most; scope tasks:read).`,
        parameters: [
          batchId,
          {
            name: 'wait',
            in: 'query',
            required: false,
            description: 'Seconds to wait for the batch to finish (long poll; at most 30).',
            schema: { type: 'number', minimum: 0 },
          },
          {
            name: 'after',
            in: 'query',
            required: false,
            description: "The previous page's `unsuccessful.next`.",
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': { description: 'The batch.', ...json('Batch') },
          '404': notFound,
          '422': error('`wait` or `after` is not valid.'),
          ...common,
        },
      },
      delete: {
        operationId: 'cancelBatch',
        summary:
          'Seal the batch and cancel every child not yet finished (scope tasks:cancel); it completes once they are terminal.',
        parameters: [batchId],
        responses: { '200': { description: 'The batch.', ...json('Batch') }, '404': notFound, ...common },
      },
    },
  };
}
