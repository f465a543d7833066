import { seededTaskId } from '../../services/shared/task-ids';
import { partitionKeyOf } from '../../services/shared/task-message';

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('task ids from an Idempotency-Key seed', () => {
  it('are UUIDs (version 8), the same for the same seed and place, different otherwise', () => {
    const ids = ['seed-1', 'seed-2'].flatMap((seed) => [0, 1, 2].map((i) => seededTaskId(seed, i)));
    for (const id of ids) expect(id).toMatch(UUID_V8);
    expect(new Set(ids).size).toBe(6);
    expect(seededTaskId('seed-1', 1)).toBe(ids[1]);
  });
});

describe('partitionKeyOf', () => {
  it('is the ordering key when there is one, else the id: copies of one task share a partition', () => {
    expect(partitionKeyOf({ id: 'task-1', key: 'customer-7' })).toBe('customer-7');
    expect(partitionKeyOf({ id: 'task-1' })).toBe('task-1');
  });
});
