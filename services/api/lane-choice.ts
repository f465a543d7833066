import { FailOpen } from '../shared/fail-open';
import { laneOf, priorityOf, type LaneName } from '../shared/lanes/priority';
import type { Logger } from '../shared/logger';
import type { LaneRequest } from '../shared/redis/lane-assigner';
import { pinOf } from '../shared/redis/task-store';
import type { TaskMessage } from '../shared/task';
import type { RateLimit } from '../shared/tenancy/tenant';
import type { ApiEvents } from './events';

/** What LaneChoice needs of Redis: RedisLaneAssigner. */
export interface LaneAssigner {
  assign(tenant: string, tasks: readonly LaneRequest[], allowance?: RateLimit): Promise<LaneName[]>;
  unpin(tasks: readonly { id: string; pin: string }[]): Promise<void>;
}

export interface LaneChoiceDeps {
  assigner: LaneAssigner;
  /** TENANT_SPILL_RATE and TENANT_SPILL_BURST: for tenants without a spill allowance of their own. */
  defaultSpill: RateLimit;
  events: Pick<ApiEvents, 'tasksSpilled' | 'laneChoiceFailedOpen'>;
  logger: Logger;
}

/**
 * The lane of each task of a submission: its priority's, unless its tenant is over its spill
 * allowance (overflow) or its ordering key has unfinished tasks in another lane (that lane). A
 * submission with neither an allowance nor a key costs no Redis call. When Redis does not answer,
 * tasks go to their priority's lanes (see FailOpen): no spill, and a key's order across lanes is
 * not kept for that moment.
 */
export class LaneChoice {
  private readonly failOpen: FailOpen;

  constructor(private readonly deps: LaneChoiceDeps) {
    this.failOpen = new FailOpen('lane choice', deps.logger, () => deps.events.laneChoiceFailedOpen());
  }

  /** Lanes in the order of `messages`; `spill`: the tenant's own allowance, if it has one. */
  async lanes(
    tenant: string,
    spill: RateLimit | undefined,
    messages: readonly TaskMessage[],
  ): Promise<LaneName[]> {
    const allowance = spill ?? this.deps.defaultSpill;
    const spilling = allowance.perSecond > 0;
    const own = messages.map((m) => laneOf(m));
    if ((!spilling && !messages.some((m) => m.key !== undefined)) || this.failOpen.bypassing) return own;
    const requests = messages.map((m): LaneRequest => ({
      id: m.id,
      wanted: priorityOf(m),
      ...(m.key !== undefined && { pin: pinOf(m) }),
    }));
    let lanes: LaneName[];
    try {
      lanes = await this.deps.assigner.assign(tenant, requests, spilling ? allowance : undefined);
    } catch (err) {
      this.failOpen.failed(err);
      return own;
    }
    const spilled = lanes.filter((lane) => lane === 'overflow').length;
    if (spilled > 0) this.deps.events.tasksSpilled(tenant, spilled);
    return lanes;
  }

  /** Frees the keys of tasks that never reached Kafka; best effort (their entries lapse anyway). */
  async forget(messages: readonly TaskMessage[]): Promise<void> {
    const pinned = messages.flatMap((m) => (m.key === undefined ? [] : [{ id: m.id, pin: pinOf(m) }]));
    await this.deps.assigner.unpin(pinned).catch((err: unknown) =>
      this.deps.logger.warn('keys of unsent tasks not freed; they lapse with the records', {
        tasks: pinned.length,
        error: String(err),
      }),
    );
  }
}
