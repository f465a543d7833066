import { DEFAULT_LANE_WEIGHTS, type LaneName } from '../../services/shared/lanes/priority';
import { LaneSlots } from '../../services/worker/lane-slots';

/** Keeps `perLane` tasks of each given lane waiting, frees `grants` slots one by one, and counts who got them. */
async function grantsUnderContention(
  slots: LaneSlots,
  lanes: LaneName[],
  grants: number,
  perLane = 3,
): Promise<Record<string, number>> {
  const got: Record<string, number> = {};
  const wait = (lane: LaneName) =>
    void slots.acquire(lane).then(() => {
      got[lane] = (got[lane] ?? 0) + 1;
      wait(lane); // the lane has more tasks behind: it asks again at once
    });
  for (const lane of lanes) for (let i = 0; i < perLane; i++) wait(lane);
  for (let i = 0; i < grants; i++) {
    slots.release();
    await Promise.resolve();
    await Promise.resolve();
  }
  return got;
}

describe('LaneSlots', () => {
  it('hands out free slots at once, whatever the lane', async () => {
    const slots = new LaneSlots(3, DEFAULT_LANE_WEIGHTS);
    expect(await slots.acquire('low')).toBe(true);
    expect(await slots.acquire('high')).toBe(true);
    expect(await slots.acquire('normal')).toBe(true);
    expect(slots.full).toBe(true);
    expect(slots.inUse).toBe(3);
  });

  it('gives freed slots to the waiting lanes by weight: 6, 3 and 1 of every 10', async () => {
    const slots = new LaneSlots(1, DEFAULT_LANE_WEIGHTS);
    await slots.acquire('normal');
    const got = await grantsUnderContention(slots, ['low', 'normal', 'high'], 1000);
    expect(got).toEqual({ high: 600, normal: 300, low: 100 });
  });

  it('never starves low: it gets its share under a steady stream of high tasks', async () => {
    const slots = new LaneSlots(1, DEFAULT_LANE_WEIGHTS);
    await slots.acquire('high');
    const got = await grantsUnderContention(slots, ['high', 'low'], 700);
    // High 6 : low 1 — one slot in seven; every seventh grant at the latest.
    expect(got).toEqual({ high: 600, low: 100 });
  });

  it('is work-conserving: a lane alone gets every freed slot', async () => {
    const slots = new LaneSlots(1, DEFAULT_LANE_WEIGHTS);
    await slots.acquire('high');
    expect(await grantsUnderContention(slots, ['low'], 50)).toEqual({ low: 50 });
  });

  it('serves high first when lanes start waiting together', async () => {
    const slots = new LaneSlots(1, DEFAULT_LANE_WEIGHTS);
    await slots.acquire('normal');
    const order: string[] = [];
    for (const lane of ['low', 'normal', 'high'] as const)
      void slots.acquire(lane).then(() => order.push(lane));
    for (let i = 0; i < 3; i++) {
      slots.release();
      await Promise.resolve();
    }
    expect(order[0]).toBe('high');
  });

  it('gives a lane that was idle no burst of catch-up slots when it comes back', async () => {
    const slots = new LaneSlots(1, DEFAULT_LANE_WEIGHTS);
    await slots.acquire('high');
    // High runs alone for 500 grants (its waiters keep asking), then low starts waiting: it joins
    // at the current pass: the next slot, then 1 in 7 — not all 14 to make up for the 500 it
    // "missed" (which it would get if it kept its old pass of 0).
    expect(await grantsUnderContention(slots, ['high'], 500)).toEqual({ high: 500 });
    expect(await grantsUnderContention(slots, ['low'], 14)).toEqual({ low: 3 });
  });

  it('gives up a wait after maxWaitMs holding nothing, and leaves the line', async () => {
    const slots = new LaneSlots(1, DEFAULT_LANE_WEIGHTS);
    await slots.acquire('normal');
    expect(await slots.acquire('low', 20)).toBe(false);
    expect(slots.waiting()).toEqual({ low: 0 });
    slots.release(); // nobody waits: back to the pool
    expect(slots.inUse).toBe(0);
    expect(await slots.acquire('low', 20)).toBe(true);
  });

  it('resolves drained() once every slot is back', async () => {
    const slots = new LaneSlots(2, DEFAULT_LANE_WEIGHTS);
    await slots.acquire('high');
    await slots.acquire('low');
    let drained = false;
    void slots.drained().then(() => (drained = true));
    slots.release();
    await Promise.resolve();
    expect(drained).toBe(false);
    slots.release();
    await Promise.resolve();
    expect(drained).toBe(true);
  });

  it('refuses a weight that is not above 0', () => {
    expect(() => new LaneSlots(1, { high: 0, normal: 1, low: 1, overflow: 1 })).toThrow(
      "lane high's weight must be above 0, not 0",
    );
  });
});
