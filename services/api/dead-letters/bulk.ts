import type { DeadLetter } from '../../shared/dead-letter';
import type { BulkDiscardReport, BulkDryRunReport, BulkReplayReport } from '../../shared/dead-letter-reports';
import { ApiError, UnavailableError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import {
  matchesFilter,
  type DeadLetterFilter,
  type DeadLetterStore,
} from '../../shared/redis/dead-letter-store';
import type { Caller } from '../auth';
import type { ApiEvents } from '../events';
import { invalid } from '../validation';
import type { DeadLetterReplayer } from './replayer';
import { DEAD_LETTER_LIMITS } from './schemas';
import type { BulkRequest } from './validation';

/** What the caller may act on at all: every letter for admin, else its own tenant's. */
export function callerScope(caller: Caller): DeadLetterFilter {
  return caller.scopes.has('admin') ? {} : { tenant: caller.tenant.name };
}

export interface BulkDeps {
  deadLetters: DeadLetterStore;
  replayer: DeadLetterReplayer;
  events: Pick<ApiEvents, 'deadLettersActedOn'>;
  logger: Logger;
  /** DEAD_LETTER_LIMITS' by default; a test shrinks them to reach them with a few letters. */
  limits?: Partial<BulkLimits>;
}

type BulkLimits = Record<'bulkMatched' | 'replayChunk' | 'discardChunk' | 'bulkTasksListed', number>;

/**
 * POST /v1/dead-letters/replay and /discard. The matched set is found first (every letter the
 * filter matches that the caller may see, at most bulkMatched: more is refused before anything is
 * done), then acted on a chunk at a time. Each letter is checked against the filter again when its
 * turn comes, so what changed meanwhile is counted as it is then: one replayed meanwhile is
 * alreadyReplayed, one discarded meanwhile is gone and not counted. Repeating a request is safe.
 */
export class DeadLetterBulk {
  private readonly limits: BulkLimits;

  constructor(private readonly deps: BulkDeps) {
    this.limits = { ...DEAD_LETTER_LIMITS, ...deps.limits };
  }

  async replay(caller: Caller, request: BulkRequest): Promise<BulkReplayReport | BulkDryRunReport> {
    const scope = this.scope(caller, request.filter);
    const ids = await this.matching(scope, request.filter.ids);
    if (request.dryRun) return { matched: ids.length };
    const report: BulkReplayReport = {
      matched: ids.length,
      replayed: 0,
      alreadyReplayed: 0,
      notReplayable: 0,
      failed: 0,
      tasks: [],
    };
    let unavailable = false;
    for (let i = 0; i < ids.length; i += this.limits.replayChunk) {
      const chunk = ids.slice(i, i + this.limits.replayChunk);
      if (unavailable) {
        // Kafka failed on an earlier chunk: these would wait out the same timeout. Not claimed,
        // so repeating the request replays them.
        report.failed += chunk.length;
        continue;
      }
      const results = await this.deps.replayer.replay(chunk, caller, (entry) => matchesFilter(entry, scope));
      for (const result of results) {
        switch (result.state) {
          case 'replayed':
            report.replayed++;
            if (report.tasks.length < this.limits.bulkTasksListed) {
              report.tasks.push({ deadLetter: result.id, taskId: result.accepted.id });
            }
            break;
          case 'already-replayed':
            report.alreadyReplayed++;
            break;
          case 'not-replayable':
            report.notReplayable++;
            break;
          case 'missing':
            report.matched--;
            break;
          case 'in-progress':
            report.failed++;
            break;
          case 'failed':
            report.failed++;
            unavailable ||= result.error instanceof UnavailableError;
            break;
        }
      }
    }
    this.log('dead letters replayed in bulk', caller, request, { ...report, tasks: report.tasks.length });
    return report;
  }

  async discard(caller: Caller, request: BulkRequest): Promise<BulkDiscardReport | BulkDryRunReport> {
    const scope = this.scope(caller, request.filter);
    const ids = await this.matching(scope, request.filter.ids);
    if (request.dryRun) return { matched: ids.length };
    const report: BulkDiscardReport = { matched: ids.length, discarded: 0 };
    let inProgress = 0;
    for (let i = 0; i < ids.length; i += this.limits.discardChunk) {
      const chunk = ids.slice(i, i + this.limits.discardChunk);
      const results = await Promise.all(
        chunk.map((id) => this.deps.deadLetters.discard(id, (entry) => matchesFilter(entry, scope))),
      );
      for (const result of results) {
        if (result === 'discarded') report.discarded++;
        else if (result === 'missing') report.matched--;
        else inProgress++;
      }
    }
    this.deps.events.deadLettersActedOn('discard', 'discarded', report.discarded);
    this.deps.events.deadLettersActedOn('discard', 'in_progress', inProgress);
    this.log('dead letters discarded in bulk', caller, request, { ...report });
    return report;
  }

  /** The filter narrowed to what the caller may see; 403 for a non-admin naming another tenant. */
  private scope(caller: Caller, filter: BulkRequest['filter']): DeadLetterFilter {
    const { ids: _ids, ...fields } = filter;
    const own = callerScope(caller).tenant;
    if (own !== undefined && fields.tenant !== undefined && fields.tenant !== own) {
      throw new ApiError(403, 'missing_scope', "only an admin key may act on another tenant's dead letters", [
        { field: 'filter.tenant', message: `a key with the scope "admin", or the key's own tenant "${own}"` },
      ]);
    }
    return own === undefined ? fields : { ...fields, tenant: own };
  }

  /** The ids of the letters `scope` matches now, newest first (as `ids` lists them when given). */
  private async matching(scope: DeadLetterFilter, ids: readonly string[] | undefined): Promise<string[]> {
    if (ids !== undefined) {
      const unique = [...new Set(ids)];
      const found = await this.deps.deadLetters.getMany(unique);
      return unique.filter((_, i) => found[i] !== undefined && matchesFilter(found[i]!, scope));
    }
    const matched: string[] = [];
    for await (const chunk of this.deps.deadLetters.scan(scope)) {
      matched.push(...chunk.map((entry: DeadLetter) => entry.id));
      if (matched.length > this.limits.bulkMatched) {
        throw invalid(`the filter matches more than ${this.limits.bulkMatched} dead letters`, [
          {
            field: 'filter',
            message: `matches more than ${this.limits.bulkMatched} dead letters, the most one request acts on: narrow it by reason, type or tenant`,
          },
        ]);
      }
    }
    return matched;
  }

  /** An operator's bulk action is worth a line in the log: who, what, and what came of it. */
  private log(message: string, caller: Caller, request: BulkRequest, outcome: Record<string, number>): void {
    const { ids, ...filter } = request.filter;
    this.deps.logger.info(message, {
      principal: caller.principal,
      tenant: caller.tenant.name,
      filter: JSON.stringify({ ...filter, ...(ids && { ids: ids.length }) }),
      ...outcome,
    });
  }
}
