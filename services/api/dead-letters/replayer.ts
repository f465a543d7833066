import type { DeadLetter } from '../../shared/dead-letter';
import { UnavailableError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { DeadLetterStore, ReplayClaim } from '../../shared/redis/dead-letter-store';
import { tenantOf } from '../../shared/tenancy/tenant';
import type { Caller } from '../auth';
import type { ApiEvents, DeadLetterActionOutcome } from '../events';
import { SubmissionInDoubt, type Accepted, type TaskSubmitter } from '../submit';
import type { Submission } from '../validation';
import { DEAD_LETTER_LIMITS } from './schemas';

/** What became of one dead letter asked to be replayed. */
export type ReplayResult = { id: string } & (
  | { state: 'replayed'; accepted: Accepted }
  /** Gone, or not the caller's (another tenant's, or one the request's filter leaves out). */
  | { state: 'missing' }
  /** Poison: there is no task to run again. */
  | { state: 'not-replayable' }
  | { state: 'already-replayed'; replayedAs: string }
  /** Another replay of it holds the claim now. */
  | { state: 'in-progress' }
  /** Not submitted (or in doubt): `error` says why, as the single replay answers it. */
  | { state: 'failed'; error: unknown }
);

type Claimed = Extract<ReplayClaim, { state: 'claimed' }> & { id: string };

/** Claims made together (each reads its letter, payload and all, into memory). */
const CLAIMS_AT_ONCE = 50;

const OUTCOME: Record<Exclude<ReplayResult['state'], 'missing'>, DeadLetterActionOutcome> = {
  replayed: 'replayed',
  'already-replayed': 'already_replayed',
  'not-replayable': 'not_replayable',
  'in-progress': 'in_progress',
  failed: 'failed',
};

export interface ReplayerDeps {
  deadLetters: DeadLetterStore;
  submitter: TaskSubmitter;
  events: Pick<ApiEvents, 'deadLettersActedOn'>;
  logger: Logger;
}

/**
 * Replays dead letters, one (POST /v1/dead-letters/:id/replay) or a chunk of a bulk replay at a
 * time, the same way: each letter is claimed before submitting, so two replays at once cannot both
 * create its task; the claimed letters' tasks go to Kafka together (one submit call per tenant),
 * their ids seeded by the letter (`replay:<id>`), so a replay retried after an unconfirmed send
 * publishes the same task; the new task is recorded on the letter, and the claim of one that was
 * not submitted is released so it may be replayed later.
 */
export class DeadLetterReplayer {
  constructor(private readonly deps: ReplayerDeps) {}

  async replayOne(
    id: string,
    caller: Caller,
    mayReplay: (entry: DeadLetter) => boolean,
  ): Promise<ReplayResult> {
    const [result] = await this.replay([id], caller, mayReplay);
    return result!;
  }

  /**
   * `mayReplay` decides which letters the caller may replay: the others are `missing`. Letters
   * are claimed a few at a time and submitted once their tasks reach replayChunkBytes, so what
   * is held at once stays bounded however large their payloads.
   */
  async replay(
    ids: readonly string[],
    caller: Caller,
    mayReplay: (entry: DeadLetter) => boolean,
  ): Promise<ReplayResult[]> {
    const { deadLetters, events } = this.deps;
    const results = new Map<string, ReplayResult>();
    let claimed: Claimed[] = [];
    let bytes = 0;
    /** Set once Kafka failed: the rest would wait out the same timeout, so they are not sent. */
    let unavailable: UnavailableError | undefined;
    const submitClaimed = async () => {
      for (const [tenant, group] of byTenant(claimed)) {
        const done = unavailable
          ? await this.notSent(group, unavailable)
          : await this.submit(tenant, group, caller);
        for (const result of done) {
          results.set(result.id, result);
          if (result.state === 'failed' && result.error instanceof UnavailableError)
            unavailable ??= result.error;
        }
      }
      claimed = [];
      bytes = 0;
    };
    for (let i = 0; i < ids.length; i += CLAIMS_AT_ONCE) {
      const batch = ids.slice(i, i + CLAIMS_AT_ONCE);
      if (unavailable) {
        // Not claimed: a repeated request finds them free.
        for (const id of batch) results.set(id, { id, state: 'failed', error: unavailable });
        continue;
      }
      const claims = await Promise.all(batch.map((id) => deadLetters.claimReplay(id, mayReplay)));
      for (const [j, claim] of claims.entries()) {
        const id = batch[j]!;
        if (claim.state === 'claimed') {
          claimed.push({ ...claim, id });
          bytes += JSON.stringify(claim.entry.task.payload ?? null).length;
        } else if (claim.state === 'replayed') {
          results.set(id, { id, state: 'already-replayed', replayedAs: claim.replayedAs });
        } else {
          results.set(id, { id, state: claim.state });
        }
      }
      if (bytes >= DEAD_LETTER_LIMITS.replayChunkBytes) await submitClaimed();
    }
    await submitClaimed();
    const ordered = ids.map((id) => results.get(id)!);
    for (const [state, outcome] of Object.entries(OUTCOME)) {
      events.deadLettersActedOn('replay', outcome, ordered.filter((r) => r.state === state).length);
    }
    return ordered;
  }

  private async submit(tenant: string, group: Claimed[], caller: Caller): Promise<ReplayResult[]> {
    const { submitter } = this.deps;
    try {
      const accepted = await submitter.submit(
        group.map(({ entry }) => submissionOf(entry.task)),
        {
          // The replay is the task's tenant's, even when an admin replays it.
          tenant,
          // The tenant's own spill allowance is known when it replays its own letters.
          spill: caller.tenant.name === tenant ? caller.tenant.spill : undefined,
          idSeeds: group.map(({ id }) => `replay:${id}`),
          // The new records name the letter (a task's letter has the task's id).
          replayOf: group.map(({ id }) => id),
        },
      );
      // The tasks are in Kafka now: they count as replayed whatever recording does.
      await this.record(group, accepted);
      return group.map(({ id }, i) => ({ id, state: 'replayed', accepted: accepted[i]! }));
    } catch (err) {
      if (err instanceof SubmissionInDoubt) {
        // The send may still land: keep the claims until Kafka's answer is known. If even that
        // is never known, the claims lapse after replayClaimSeconds.
        void err.outcome.then(
          (late) => (late ? this.record(group, late) : this.release(group)),
          () => undefined,
        );
        return group.map(({ id }) => ({ id, state: 'failed', error: err }));
      }
      if (group.length > 1 && !(err instanceof UnavailableError)) {
        // One task refused for good (a message Kafka would not take) refuses its whole call: one
        // by one, only it fails. The claims are still held.
        const results: ReplayResult[] = [];
        for (const one of group) results.push(...(await this.submit(tenant, [one], caller)));
        return results;
      }
      // Released before answering, so a client retrying at once finds them free.
      return this.notSent(group, err);
    }
  }

  /** Letters whose tasks Kafka did not get: their claims go, and they fail with `error`. */
  private async notSent(group: Claimed[], error: unknown): Promise<ReplayResult[]> {
    await this.release(group);
    return group.map(({ id }) => ({ id, state: 'failed', error }));
  }

  private async release(group: Claimed[]): Promise<void> {
    await Promise.all(
      group.map(({ id, token }) =>
        this.deps.deadLetters.releaseReplay(id, token).catch((err: unknown) =>
          // The claim then lapses after replayClaimSeconds.
          this.deps.logger.warn('dead letter replay claim not released', { id, error: String(err) }),
        ),
      ),
    );
  }

  /** Records each letter's new task; failing here must not hide a task that exists, so it only logs. */
  private async record(group: Claimed[], accepted: Accepted[]): Promise<void> {
    const { deadLetters, logger } = this.deps;
    await Promise.all(
      group.map(async ({ id }, i) => {
        const taskId = accepted[i]!.id;
        try {
          if (!(await deadLetters.markReplayed(id, taskId))) {
            // Only if the claim outlived replayClaimSeconds and another replay ran meanwhile, or
            // the letter was discarded after its claim lapsed.
            logger.warn('dead letter replayed twice', { id, taskId });
          }
        } catch (err) {
          logger.warn('dead letter replay not recorded', { id, taskId, error: String(err) });
        }
      }),
    );
  }
}

/** The dead task as a new submission: the same fields; runAt is left out, a replay runs now. */
function submissionOf(task: NonNullable<DeadLetter['task']>): Submission {
  return {
    type: task.type,
    payload: task.payload,
    maxAttempts: task.maxAttempts,
    ...(task.key !== undefined && { key: task.key }),
    ...(task.timeoutMs !== undefined && { timeoutMs: task.timeoutMs }),
    ...(task.callbackUrl !== undefined && { callbackUrl: task.callbackUrl }),
    ...(task.priority !== undefined && { priority: task.priority }),
  };
}

/** Claimed letters by the tenant of their task: one submit call each (its lanes are that tenant's). */
function byTenant(claimed: Claimed[]): Map<string, Claimed[]> {
  const groups = new Map<string, Claimed[]>();
  for (const one of claimed) {
    const tenant = tenantOf(one.entry.task);
    const group = groups.get(tenant);
    if (group) group.push(one);
    else groups.set(tenant, [one]);
  }
  return groups;
}
