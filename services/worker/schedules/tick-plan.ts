import { MAX_COUNTED_TICKS, type FireTimes } from '../../shared/schedules/fire-times';
import type { Schedule } from '../../shared/schedules/schedule';

/** What one firing of a schedule does: the ticks to publish, the missed ones it drops, the new cursor. */
export interface TickPlan {
  /** Tick times to publish, oldest first. */
  fire: number[];
  /** Missed ticks dropped by the policy (a lower bound once MAX_COUNTED_TICKS were counted). */
  skipped: number;
  /** Every tick up to here is handled once the plan's ticks are published. Never moves back. */
  cursor: number;
}

/**
 * The due ticks of a schedule (after `cursor`, not after `now`), walked newest first so that an
 * outage of any length costs a bounded walk. A tick within `graceMs` of now is on time and always
 * fires: a firer that was a few polls late (a slow Redis, a pause of the process) must not drop
 * ticks. Older ones were missed: `skip` drops them all, `catch-up` fires the newest `maxCatchUp`.
 */
export function planTicks(
  times: FireTimes,
  schedule: Pick<Schedule, 'missed' | 'maxCatchUp'>,
  cursor: number,
  now: number,
  graceMs: number,
): TickPlan {
  const keepMissed = schedule.missed === 'catch-up' ? schedule.maxCatchUp : 0;
  const newestFirst: number[] = [];
  let missed = 0;
  for (let t = times.before(now + 1); t !== undefined && t > cursor; t = times.before(t)) {
    if (t >= now - graceMs) {
      newestFirst.push(t);
      continue;
    }
    missed++;
    if (missed <= keepMissed) newestFirst.push(t);
    else if (missed >= keepMissed + MAX_COUNTED_TICKS) break;
  }
  return {
    fire: newestFirst.reverse(),
    skipped: Math.max(0, missed - keepMissed),
    cursor: Math.max(cursor, now),
  };
}
