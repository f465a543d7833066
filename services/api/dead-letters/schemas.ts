import { TENANT_NAME_PATTERN } from '../../shared/tenancy/tenant';
import { DEAD_LETTER_REASONS, TASK_TYPE_PATTERN } from '../schemas';

/** JSON Schemas of the dead-letter bulk routes' bodies (see ../schemas.ts for the dead letter itself). */

/** The dead-letter routes' fixed limits; docs/api.md#limits lists them. */
export const DEAD_LETTER_LIMITS = {
  /** Ids one bulk request may name in `filter.ids`. */
  bulkIds: 1000,
  /** Dead letters one bulk request may act on; more: 422 naming `filter`, and nothing is done. */
  bulkMatched: 100_000,
  /** Replays claimed and submitted together (one submit call per tenant among them). */
  replayChunk: 500,
  /**
   * Payload bytes (as JSON) after which claimed replays are submitted before more are claimed:
   * bounds what a bulk replay holds, and what it puts in the publisher's queue at once.
   */
  replayChunkBytes: 8 * 1024 * 1024,
  /** Discards run at once. */
  discardChunk: 500,
  /** New tasks a bulk replay's answer lists (the first ones); `replayed` counts them all. */
  bulkTasksListed: 1000,
  /** Entries one page of GET /v1/dead-letters examines at most, and their bytes. */
  pageExamineEntries: 2000,
  pageExamineBytes: 16 * 1024 * 1024,
} as const;

/** POST /v1/dead-letters/replay and /discard. */
export const bulkRequestSchema = {
  type: 'object',
  description:
    'Which dead letters to act on. `filter` is required, even empty (`{}`: every dead letter the key may see), so nothing is acted on by accident.',
  required: ['filter'],
  additionalProperties: false,
  properties: {
    filter: {
      type: 'object',
      description: 'Every field given narrows the set; a dead letter must match all of them.',
      additionalProperties: false,
      properties: {
        reason: { enum: [...DEAD_LETTER_REASONS] },
        type: {
          type: 'string',
          pattern: TASK_TYPE_PATTERN,
          description: "The task's type, exactly (poison messages have none).",
        },
        tenant: {
          type: 'string',
          pattern: TENANT_NAME_PATTERN.source,
          description:
            "Only this tenant's (admin keys; another key may name only its own tenant, and acts on nothing else anyway).",
        },
        ids: {
          type: 'array',
          maxItems: DEAD_LETTER_LIMITS.bulkIds,
          description: 'Only these dead letters (those that exist and match the rest of the filter).',
          items: { type: 'string', minLength: 1, maxLength: 512 },
        },
      },
    },
    dryRun: {
      type: 'boolean',
      default: false,
      description: 'Count what matches and act on nothing: the answer holds `matched` only.',
    },
  },
} as const;

const count = (description: string) => ({ type: 'integer', minimum: 0, description }) as const;

export const bulkDryRunSchema = {
  type: 'object',
  description: 'A dry run: how many dead letters the filter matches now.',
  required: ['matched'],
  additionalProperties: false,
  properties: { matched: count('Dead letters the filter matches that the key may see.') },
} as const;

export const bulkReplayReportSchema = {
  type: 'object',
  description:
    'What a bulk replay did: matched = replayed + alreadyReplayed + notReplayable + failed. Repeating the request replays only what is left.',
  required: ['matched', 'replayed', 'alreadyReplayed', 'notReplayable', 'failed', 'tasks'],
  additionalProperties: false,
  properties: {
    matched: count('Dead letters the filter matched (those gone before their turn are not counted).'),
    replayed: count('Submitted again now, each as a new task.'),
    alreadyReplayed: count('Replayed before (by this request repeated, or another): not submitted again.'),
    notReplayable: count('Poison messages: there is no task to run again.'),
    failed: count(
      'Not replayed now: Kafka refused or did not answer, or another replay of the letter was under way. Repeat the request.',
    ),
    tasks: {
      type: 'array',
      maxItems: DEAD_LETTER_LIMITS.bulkTasksListed,
      description: `The new tasks, the first ${DEAD_LETTER_LIMITS.bulkTasksListed} (each letter's also shows in its replayedAs).`,
      items: {
        type: 'object',
        required: ['deadLetter', 'taskId'],
        additionalProperties: false,
        properties: {
          deadLetter: { type: 'string', description: 'The dead letter replayed.' },
          taskId: { type: 'string', description: 'The new task.' },
        },
      },
    },
  },
} as const;

export const bulkDiscardReportSchema = {
  type: 'object',
  description:
    'What a bulk discard did. matched − discarded were being replayed at that moment: repeat the request.',
  required: ['matched', 'discarded'],
  additionalProperties: false,
  properties: {
    matched: count('Dead letters the filter matched (those gone before their turn are not counted).'),
    discarded: count('Removed from Redis (the dead-letter topic keeps its record).'),
  },
} as const;
