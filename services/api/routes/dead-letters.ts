import { priorityOf } from '../../shared/lanes/priority';
import { Router } from 'express';
import type { DeadLetter } from '../../shared/dead-letter';
import { ApiError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import { InvalidCursorError, type DeadLetterStore } from '../../shared/redis/dead-letter-store';
import { LIMITS } from '../schemas';
import { SubmissionInDoubt, type Accepted, type TaskSubmitter } from '../submit';
import type { Submission } from '../validation';
import type { DeadLetterRebuild } from '../dead-letter-rebuild';
import { canSee, requireScope } from '../auth';
import { tenantOf } from '../../shared/tenancy/tenant';

export interface DeadLetterRoutesDeps {
  deadLetters: DeadLetterStore;
  submitter: TaskSubmitter;
  logger: Logger;
  /** Re-indexes the dead-letter topic into Redis (absent: 404, as in tests without Kafka). */
  rebuild?: DeadLetterRebuild;
}

/** Lists dead letters and re-submits one as a new task. Routes carry their full path (see tasks.ts). */
export function deadLettersRouter({ deadLetters, submitter, logger, rebuild }: DeadLetterRoutesDeps): Router {
  const router = Router();

  router.post('/v1/dead-letters/rebuild', requireScope('admin'), async (_req, res) => {
    if (!rebuild) throw new ApiError(404, 'route_not_found', 'this API has no Kafka to rebuild from');
    res.json(await rebuild.run());
  });

  router.get('/v1/dead-letters', requireScope('dead-letters:read'), async (req, res) => {
    const limit = parseLimit(req.query.limit);
    const cursor = req.query.cursor;
    if (cursor !== undefined && (typeof cursor !== 'string' || cursor === '')) throw badCursor();
    let page;
    try {
      page = await deadLetters.list({
        limit,
        maxBytes: LIMITS.deadLetterPageBytes,
        // An admin lists every tenant's (and the poison messages, which have no tenant).
        ...(!req.caller.scopes.has('admin') && { tenant: req.caller.tenant.name }),
        ...(cursor !== undefined && { cursor }),
      });
    } catch (err) {
      throw err instanceof InvalidCursorError ? badCursor() : err;
    }
    res.json({ items: page.items.map(deadLetterView), nextCursor: page.nextCursor });
  });

  router.post(
    '/v1/dead-letters/:id/replay',
    requireScope<{ id: string }>('dead-letters:replay'),
    async (req, res) => {
      const id = req.params.id;
      // Claimed before submitting: two replays at once must not both create a task. Another
      // tenant's dead letter is not found (a poison message has no tenant: admin only).
      const claim = await deadLetters.claimReplay(id, (entry) =>
        entry.task ? canSee(req.caller, tenantOf(entry.task)) : req.caller.scopes.has('admin'),
      );
      switch (claim.state) {
        case 'missing':
          throw deadLetterNotFound(id);
        case 'not-replayable':
          throw new ApiError(
            409,
            'not_replayable',
            `dead letter "${id}" is a poison message: it has no task`,
          );
        case 'replayed':
          throw new ApiError(
            409,
            'already_replayed',
            `dead letter "${id}" was already replayed as task "${claim.replayedAs}"`,
          );
        case 'in-progress':
          throw new ApiError(409, 'replay_in_progress', `dead letter "${id}" is being replayed`, [], 1);
      }
      const { task } = claim.entry;
      // runAt is left out: a replay runs now.
      const submission: Submission = {
        type: task.type,
        payload: task.payload,
        maxAttempts: task.maxAttempts,
        ...(task.key !== undefined && { key: task.key }),
        ...(task.timeoutMs !== undefined && { timeoutMs: task.timeoutMs }),
        ...(task.callbackUrl !== undefined && { callbackUrl: task.callbackUrl }),
        ...(task.priority !== undefined && { priority: task.priority }),
      };
      let accepted: Accepted;
      try {
        // Seeded by the dead letter: a replay retried after an unconfirmed send publishes the same task.
        // The replay is the task's tenant's, even when an admin replays it.
        const tenant = tenantOf(task);
        // The tenant's own spill allowance is known when it replays its own letter.
        const spill = req.caller.tenant.name === tenant ? req.caller.tenant.spill : undefined;
        const options = { tenant, spill, idSeed: `replay:${id}` };
        [accepted] = (await submitter.submit([submission], options)) as [Accepted];
      } catch (err) {
        const release = () =>
          deadLetters.releaseReplay(id, claim.token).catch((releaseErr: unknown) =>
            // The claim then lapses after replayClaimSeconds.
            logger.warn('dead letter replay claim not released', { id, error: String(releaseErr) }),
          );
        if (err instanceof SubmissionInDoubt) {
          // The send may still land: keep the claim until Kafka's answer is known.
          // If even that is never known, the claim lapses after replayClaimSeconds.
          void err.outcome.then(
            (late) => (late ? record(id, late[0]!.id) : release()),
            () => undefined,
          );
        } else {
          // Released before answering, so a client retrying at once finds it free.
          await release();
        }
        throw err;
      }
      // The task is in Kafka now, so the answer is 202 whatever recording it does.
      await record(id, accepted.id);
      res.location(`/v1/tasks/${accepted.id}`);
      res.status(202).json({ ...accepted, replayOf: id });
    },
  );

  /** Records the replay; failing here must not hide a task that exists, so it only logs. */
  async function record(id: string, taskId: string): Promise<void> {
    try {
      if (!(await deadLetters.markReplayed(id, taskId))) {
        // Only if the claim outlived replayClaimSeconds and another replay ran meanwhile.
        logger.warn('dead letter replayed twice', { id, taskId });
      }
    } catch (err) {
      logger.warn('dead letter replay not recorded', { id, taskId, error: String(err) });
    }
  }

  return router;
}

/** A dead letter as the API shows it (schemas.ts deadLetterSchema): ISO 8601 times, absent fields null. */
function deadLetterView(entry: DeadLetter) {
  const iso = (ms: number) => new Date(ms).toISOString();
  const { task } = entry;
  // Field by field: the schema is closed, and the wire format may gain optional fields.
  const taskView = task && {
    id: task.id,
    type: task.type,
    tenant: tenantOf(task),
    priority: priorityOf(task),
    payload: task.payload,
    enqueuedAt: iso(task.enqueuedAt),
    maxAttempts: task.maxAttempts,
    ...(task.key !== undefined && { key: task.key }),
    ...(task.timeoutMs !== undefined && { timeoutMs: task.timeoutMs }),
    ...(task.runAt !== undefined && { runAt: iso(task.runAt) }),
    ...(task.callbackUrl !== undefined && { callbackUrl: task.callbackUrl }),
  };
  return {
    id: entry.id,
    reason: entry.reason,
    deadAt: iso(entry.deadAt),
    task: taskView ?? null,
    raw: entry.raw ?? null,
    error: entry.error,
    history: entry.history.map((failure) => ({
      attempt: failure.attempt,
      startedAt: iso(failure.startedAt),
      finishedAt: iso(failure.finishedAt),
      error: failure.error,
    })),
    replayedAs: entry.replayedAs ?? null,
  };
}

/** `?limit=N`: 1 to LIMITS.deadLetterPage, default 50. */
function parseLimit(raw: unknown): number {
  if (raw === undefined) return 50;
  const limit = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= LIMITS.deadLetterPage)) {
    throw new ApiError(422, 'validation_failed', 'the limit parameter is not valid', [
      { field: 'limit', message: `an integer from 1 to ${LIMITS.deadLetterPage}` },
    ]);
  }
  return limit;
}

function deadLetterNotFound(id: string): ApiError {
  return new ApiError(404, 'dead_letter_not_found', `no dead letter with id "${id}"`);
}

function badCursor(): ApiError {
  return new ApiError(422, 'validation_failed', 'the cursor parameter is not valid', [
    { field: 'cursor', message: 'pass back the nextCursor of a previous page' },
  ]);
}
