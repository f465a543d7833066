import { DEAD_LETTER_REASONS, TASK_TYPE_PATTERN } from '../schemas';
import {
  bulkDiscardReportSchema,
  bulkDryRunSchema,
  bulkReplayReportSchema,
  bulkRequestSchema,
  DEAD_LETTER_LIMITS,
} from './schemas';

/** What openapi.ts shares with these paths: its response builders and the common errors. */
export interface OpenApiParts {
  json(ref: string): object;
  error(description: string): object;
  common: Record<string, object>;
}

/** The component schemas the dead-letter bulk paths name. */
export const deadLetterBulkComponents = {
  DeadLetterBulkRequest: bulkRequestSchema,
  DeadLetterDryRun: bulkDryRunSchema,
  DeadLetterReplayReport: bulkReplayReportSchema,
  DeadLetterDiscardReport: bulkDiscardReportSchema,
};

/** `reason` and `type` of GET /v1/dead-letters. */
export const deadLetterFilterParameters = [
  {
    name: 'reason',
    in: 'query',
    required: false,
    description: 'Only dead letters given up on for this reason.',
    schema: { enum: [...DEAD_LETTER_REASONS] },
  },
  {
    name: 'type',
    in: 'query',
    required: false,
    description: `Only tasks of this type, exactly (poison messages have none). A filtered page examines at most ${DEAD_LETTER_LIMITS.pageExamineEntries} dead letters: it may hold fewer than \`limit\` items, even none, and still have a \`nextCursor\`; page on until it is null.`,
    schema: { type: 'string', pattern: TASK_TYPE_PATTERN },
  },
];

/** POST /v1/dead-letters/replay, /discard and DELETE /v1/dead-letters/{id}. */
export function deadLetterBulkPaths({ json, error, common }: OpenApiParts) {
  const bodyErrors = {
    '400': error('The body is not valid JSON.'),
    '415': error('The body is not application/json.'),
    '422': error(
      `\`validation_failed\`: a field is not valid, \`filter\` is missing, or the filter matches more than ${DEAD_LETTER_LIMITS.bulkMatched} dead letters (nothing was done); \`details\` names the field.`,
    ),
  };
  const forbidden = error(
    '`missing_scope`: the key lacks dead-letters:replay, or names another tenant in `filter.tenant` without `admin`.',
  );
  const answer = (report: string, description: string) => ({
    description,
    content: {
      'application/json': {
        schema: {
          oneOf: [
            { $ref: `#/components/schemas/${report}` },
            { $ref: '#/components/schemas/DeadLetterDryRun' },
          ],
        },
      },
    },
  });
  return {
    '/v1/dead-letters/replay': {
      post: {
        operationId: 'replayDeadLetters',
        summary: `Replay every dead letter a filter matches (at most ${DEAD_LETTER_LIMITS.bulkMatched}), each as a new task, once per dead letter; repeating it replays only what is left.`,
        requestBody: { required: true, ...json('DeadLetterBulkRequest') },
        responses: {
          '200': answer('DeadLetterReplayReport', 'What was replayed; with `dryRun`, only `matched`.'),
          ...bodyErrors,
          ...common,
          '403': forbidden,
        },
      },
    },
    '/v1/dead-letters/discard': {
      post: {
        operationId: 'discardDeadLetters',
        summary: `Discard every dead letter a filter matches (at most ${DEAD_LETTER_LIMITS.bulkMatched}): Redis forgets them; the dead-letter topic keeps its record.`,
        requestBody: { required: true, ...json('DeadLetterBulkRequest') },
        responses: {
          '200': answer('DeadLetterDiscardReport', 'What was discarded; with `dryRun`, only `matched`.'),
          ...bodyErrors,
          ...common,
          '403': forbidden,
        },
      },
    },
    '/v1/dead-letters/{id}': {
      delete: {
        operationId: 'discardDeadLetter',
        summary:
          'Discard one dead letter: Redis forgets it (a rebuild does not bring it back); the dead-letter topic keeps its record.',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '204': { description: 'Discarded.' },
          '404': error(
            "`dead_letter_not_found`: no dead letter with this id (or it expired), or another tenant's.",
          ),
          '409': error('`replay_in_progress`: a replay of it is under way (see Retry-After).'),
          ...common,
        },
      },
    },
  };
}
