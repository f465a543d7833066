import { fireTimesOf } from '../../services/shared/schedules/fire-times';
import { planTicks } from '../../services/worker/schedules/tick-plan';

const SECOND = 1000;
const anchorAt = Date.parse('2026-01-01T00:00:00Z');
const everySecond = fireTimesOf({ intervalMs: SECOND, anchorAt });
const tick = (k: number) => anchorAt + k * SECOND;
const skip = { missed: 'skip' as const, maxCatchUp: 10 };
const catchUp = (maxCatchUp: number) => ({ missed: 'catch-up' as const, maxCatchUp });

describe('planning a firing', () => {
  it('fires every due tick within the grace, oldest first, and moves the cursor to now', () => {
    const now = tick(10) + 300;
    const plan = planTicks(everySecond, skip, tick(7), now, 5 * SECOND);
    expect(plan).toEqual({ fire: [tick(8), tick(9), tick(10)], skipped: 0, cursor: now });
  });

  it('fires nothing when no tick is due, and never moves the cursor back', () => {
    expect(planTicks(everySecond, skip, tick(10), tick(10) + 999, SECOND)).toEqual({
      fire: [],
      skipped: 0,
      cursor: tick(10) + 999,
    });
    // A firer whose clock is behind the cursor leaves it where it is.
    expect(planTicks(everySecond, skip, tick(10), tick(9), SECOND)).toEqual({
      fire: [],
      skipped: 0,
      cursor: tick(10),
    });
  });

  it('skip: drops the ticks older than the grace', () => {
    // Down from tick 1 to tick 20: ticks 18 to 20 are within 2.5 s, 1 to 17 were missed.
    const plan = planTicks(everySecond, skip, tick(0), tick(20) + 100, 2500);
    expect(plan.fire).toEqual([tick(18), tick(19), tick(20)]);
    expect(plan.skipped).toBe(17);
  });

  it('catch-up: fires the newest missed ticks up to its bound, and skips the rest', () => {
    const plan = planTicks(everySecond, catchUp(4), tick(0), tick(20) + 100, 2500);
    expect(plan.fire).toEqual([tick(14), tick(15), tick(16), tick(17), tick(18), tick(19), tick(20)]);
    expect(plan.skipped).toBe(13);
    // Fewer missed than the bound: every one runs.
    expect(planTicks(everySecond, catchUp(50), tick(0), tick(20) + 100, 2500)).toMatchObject({ skipped: 0 });
  });

  it('walks a long outage in bounded steps (the skipped count is then a lower bound)', () => {
    const dayLater = tick(86_400);
    const plan = planTicks(everySecond, catchUp(3), tick(0), dayLater, SECOND);
    expect(plan.fire).toEqual([tick(86_396), tick(86_397), tick(86_398), tick(86_399), tick(86_400)]);
    expect(plan.skipped).toBeGreaterThanOrEqual(1000);
    expect(plan.cursor).toBe(dayLater);
  });
});
