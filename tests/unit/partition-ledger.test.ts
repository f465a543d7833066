import fc from 'fast-check';
import { KeyLanes, Slots } from '../../services/worker/concurrency';
import { PartitionLedger } from '../../services/worker/partition-ledger';

describe('PartitionLedger', () => {
  it('commits only past offsets below which everything finished', () => {
    const ledger = new PartitionLedger();
    [10, 11, 12, 13].forEach((o) => ledger.start(o));
    ledger.finish(12);
    ledger.finish(11);
    expect(ledger.commitOffset(undefined)).toBeUndefined(); // 10 still runs
    expect(ledger.size).toBe(4);
    expect(ledger.inFlight()).toBe(2);
    ledger.finish(10);
    expect(ledger.commitOffset(undefined)).toBe(13);
    expect(ledger.commitOffset(13)).toBeUndefined(); // nothing new since
    expect(ledger.size).toBe(1);
    ledger.finish(13);
    expect(ledger.commitOffset(13)).toBe(14);
    expect(ledger.size).toBe(0);
  });

  it('knows what it has taken and what comes next, across a gap it was told about', () => {
    const ledger = new PartitionLedger();
    expect(ledger.expected()).toBeUndefined();
    ledger.start(5);
    ledger.start(9); // a gap the worker accepted (retention removed 6 to 8)
    expect(ledger.seen(7)).toBe(true);
    expect(ledger.seen(10)).toBe(false);
    expect(ledger.expected()).toBe(10);
    ledger.finish(9);
    ledger.finish(5);
    expect(ledger.commitOffset(undefined)).toBe(10);
  });

  it('agrees with a plain model for any order of finishing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.array(fc.nat(), { maxLength: 3000 }),
        (count, picks) => {
          const ledger = new PartitionLedger();
          for (let o = 0; o < count; o++) ledger.start(o);
          const open = Array.from({ length: count }, (_, o) => o);
          const done = new Set<number>();
          for (const pick of picks) {
            if (open.length === 0) break;
            const [offset] = open.splice(pick % open.length, 1);
            ledger.finish(offset!);
            done.add(offset!);
            let contiguous = 0;
            while (done.has(contiguous)) contiguous++;
            expect(ledger.commitOffset(undefined)).toBe(contiguous === 0 ? undefined : contiguous);
            expect(ledger.size).toBe(count - contiguous);
            expect(ledger.inFlight()).toBe(count - done.size);
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('KeyLanes', () => {
  it('runs one task of a key at a time, in order, and counts each key’s backlog', async () => {
    const lanes = new KeyLanes();
    const order: string[] = [];
    const gates: (() => void)[] = [];
    const work = (name: string) => () =>
      new Promise<void>((resolve) => {
        order.push(name);
        gates.push(resolve);
      });
    const runs = [lanes.run('k', work('a')), lanes.run('k', work('b')), lanes.run('other', work('x'))];
    expect(lanes.backlog('k')).toBe(2);
    expect(lanes.backlog('other')).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['a', 'x']); // b waits its turn behind a; x has a lane of its own
    gates.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(lanes.backlog('k')).toBe(1);
    expect(order).toEqual(['a', 'x', 'b']);
    gates.forEach((open) => open());
    await Promise.all(runs);
    await new Promise((resolve) => setImmediate(resolve));
    expect(lanes.backlog('k')).toBe(0);
  });
});

describe('Slots', () => {
  it('lets acquire wait for a free slot', async () => {
    const slots = new Slots(1);
    await slots.acquire();
    let second = false;
    const waiting = slots.acquire().then(() => (second = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(second).toBe(false);
    slots.release();
    await waiting;
    expect(slots.inUse).toBe(1);
  });
});
