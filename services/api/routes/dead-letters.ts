import { Router } from 'express';
import { ApiError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import {
  InvalidCursorError,
  matchesFilter,
  type DeadLetterStore,
} from '../../shared/redis/dead-letter-store';
import { requireScope } from '../auth';
import { pageLimit } from '../http';
import type { DeadLetterRebuild } from '../dead-letter-rebuild';
import { callerScope, DeadLetterBulk } from '../dead-letters/bulk';
import { DeadLetterReplayer } from '../dead-letters/replayer';
import { DEAD_LETTER_LIMITS } from '../dead-letters/schemas';
import { parseBulkRequest, parseListFilter } from '../dead-letters/validation';
import { deadLetterView } from '../dead-letters/view';
import type { ApiEvents } from '../events';
import { LIMITS } from '../schemas';
import type { TaskSubmitter } from '../submit';

export interface DeadLetterRoutesDeps {
  deadLetters: DeadLetterStore;
  submitter: TaskSubmitter;
  events: Pick<ApiEvents, 'deadLettersActedOn'>;
  logger: Logger;
  /** Re-indexes the dead-letter topic into Redis (absent: 404, as in tests without Kafka). */
  rebuild?: DeadLetterRebuild;
}

/**
 * Lists dead letters, replays them (each as a new task) and discards them, one by one or in bulk
 * (services/api/dead-letters). Routes carry their full path (see tasks.ts).
 */
export function deadLettersRouter({
  deadLetters,
  submitter,
  events,
  logger,
  rebuild,
}: DeadLetterRoutesDeps): Router {
  const router = Router();
  const replayer = new DeadLetterReplayer({ deadLetters, submitter, events, logger });
  const bulk = new DeadLetterBulk({ deadLetters, replayer, events, logger });

  router.post('/v1/dead-letters/rebuild', requireScope('admin'), async (_req, res) => {
    if (!rebuild) throw new ApiError(404, 'route_not_found', 'this API has no Kafka to rebuild from');
    res.json(await rebuild.run());
  });

  router.get('/v1/dead-letters', requireScope('dead-letters:read'), async (req, res) => {
    const limit = pageLimit(req.query.limit, LIMITS.deadLetterPage);
    const cursor = req.query.cursor;
    if (cursor !== undefined && (typeof cursor !== 'string' || cursor === '')) throw badCursor();
    const filter = parseListFilter(req.query);
    let page;
    try {
      page = await deadLetters.list({
        limit,
        maxBytes: LIMITS.deadLetterPageBytes,
        // A filter may skip most of the index: each page reads a bounded part of it.
        examine: {
          entries: DEAD_LETTER_LIMITS.pageExamineEntries,
          bytes: DEAD_LETTER_LIMITS.pageExamineBytes,
        },
        // An admin lists every tenant's (and the poison messages, which have no tenant).
        ...callerScope(req.caller),
        ...filter,
        ...(cursor !== undefined && { cursor }),
      });
    } catch (err) {
      throw err instanceof InvalidCursorError ? badCursor() : err;
    }
    res.json({ items: page.items.map(deadLetterView), nextCursor: page.nextCursor });
  });

  router.post('/v1/dead-letters/replay', requireScope('dead-letters:replay'), async (req, res) => {
    res.json(await bulk.replay(req.caller, parseBulkRequest(req.body)));
  });

  router.post('/v1/dead-letters/discard', requireScope('dead-letters:replay'), async (req, res) => {
    res.json(await bulk.discard(req.caller, parseBulkRequest(req.body)));
  });

  router.post(
    '/v1/dead-letters/:id/replay',
    requireScope<{ id: string }>('dead-letters:replay'),
    async (req, res) => {
      const id = req.params.id;
      // Another tenant's dead letter is not found (a poison message has no tenant: admin only).
      const scope = callerScope(req.caller);
      const result = await replayer.replayOne(id, req.caller, (entry) => matchesFilter(entry, scope));
      switch (result.state) {
        case 'missing':
          throw deadLetterNotFound(id);
        case 'not-replayable':
          throw new ApiError(
            409,
            'not_replayable',
            `dead letter "${id}" is a poison message: it has no task`,
          );
        case 'already-replayed':
          throw new ApiError(
            409,
            'already_replayed',
            `dead letter "${id}" was already replayed as task "${result.replayedAs}"`,
          );
        case 'in-progress':
          throw replayInProgress(id);
        case 'failed':
          // As a submission answers it: 503 (in doubt or not), 413, …
          throw result.error;
        case 'replayed':
          res.location(`/v1/tasks/${result.accepted.id}`);
          res.status(202).json({ ...result.accepted, replayOf: id });
      }
    },
  );

  router.delete(
    '/v1/dead-letters/:id',
    requireScope<{ id: string }>('dead-letters:replay'),
    async (req, res) => {
      const id = req.params.id;
      const scope = callerScope(req.caller);
      const result = await deadLetters.discard(id, (entry) => matchesFilter(entry, scope));
      if (result === 'missing') throw deadLetterNotFound(id);
      if (result === 'in-progress') throw replayInProgress(id);
      events.deadLettersActedOn('discard', 'discarded', 1);
      res.status(204).end();
    },
  );

  return router;
}

function deadLetterNotFound(id: string): ApiError {
  return new ApiError(404, 'dead_letter_not_found', `no dead letter with id "${id}"`);
}

function replayInProgress(id: string): ApiError {
  return new ApiError(409, 'replay_in_progress', `dead letter "${id}" is being replayed`, [], 1);
}

function badCursor(): ApiError {
  return new ApiError(422, 'validation_failed', 'the cursor parameter is not valid', [
    { field: 'cursor', message: 'pass back the nextCursor of a previous page' },
  ]);
}
