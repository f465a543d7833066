import type { DeadLetterReason } from '../../shared/dead-letter';
import type { DeadLetterFilter } from '../../shared/redis/dead-letter-store';
import { DEAD_LETTER_REASONS, LIMITS, TASK_TYPE_PATTERN } from '../schemas';
import { compileSchema, invalid, toDetails } from '../validation';
import { bulkRequestSchema } from './schemas';

/** A valid POST /v1/dead-letters/replay or /discard body. */
export interface BulkRequest {
  filter: DeadLetterFilter & { ids?: string[] };
  dryRun: boolean;
}

const checkBulk = compileSchema(bulkRequestSchema);
const typePattern = new RegExp(TASK_TYPE_PATTERN);

/** The body of a bulk action; 422 naming each bad field (`filter.reason`, `filter.ids[3]`, …). */
export function parseBulkRequest(body: unknown): BulkRequest {
  if (!checkBulk(body)) throw invalid('the request is not valid', toDetails(checkBulk.errors ?? [], ''));
  const { filter, dryRun } = body as { filter: BulkRequest['filter']; dryRun?: boolean };
  return { filter, dryRun: dryRun === true };
}

/** `?reason=&type=` of GET /v1/dead-letters; 422 naming the parameter when one is not valid. */
export function parseListFilter(query: Record<string, unknown>): Pick<DeadLetterFilter, 'reason' | 'type'> {
  const filter: Pick<DeadLetterFilter, 'reason' | 'type'> = {};
  const { reason, type } = query;
  if (reason !== undefined) {
    if (typeof reason !== 'string' || !DEAD_LETTER_REASONS.includes(reason)) {
      throw invalid('the reason parameter is not valid', [
        { field: 'reason', message: `one of ${DEAD_LETTER_REASONS.join(', ')}` },
      ]);
    }
    filter.reason = reason as DeadLetterReason;
  }
  if (type !== undefined) {
    if (typeof type !== 'string' || !typePattern.test(type)) {
      throw invalid('the type parameter is not valid', [
        {
          field: 'type',
          message: `a task type: 1 to ${LIMITS.typeLength} letters, digits, "_", ".", ":" or "-"`,
        },
      ]);
    }
    filter.type = type;
  }
  return filter;
}
