import { randomBytes, randomUUID } from 'node:crypto';
import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { JavaCompatiblePartitioner } from '../../services/shared/kafka/partitioner';

/** Six partitions, the third without a leader (as during a broker restart). */
const partitionMetadata = [0, 1, 2, 3, 4, 5].map((partitionId) => ({
  partitionId,
  leader: partitionId === 2 ? -1 : 0,
  partitionErrorCode: 0,
  replicas: [0],
  isr: [0],
}));
const args = (key: string | Buffer | null, topic = 't'): PartitionerArgs => ({
  topic,
  partitionMetadata,
  message: { key, value: 'v' },
});

describe('JavaCompatiblePartitioner', () => {
  it("picks the very partition kafkajs' DefaultPartitioner picks for every key", () => {
    const ours = JavaCompatiblePartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const keys: (string | Buffer)[] = [
      '',
      'a',
      'ab',
      'abc',
      'customer-7',
      'zürich ✓',
      ...Array.from({ length: 500 }, () => randomUUID()),
      ...Array.from({ length: 500 }, (_, i) => randomBytes(i % 37)),
    ];
    const differ = keys.filter((key) => ours(args(key)) !== theirs(args(key)));
    expect(differ).toEqual([]);
    // Keys do spread: every partition gets some of the UUIDs.
    expect(new Set(keys.slice(6, 506).map((key) => ours(args(key)))).size).toBe(6);
  });

  it('keeps an explicit partition, and sends keyless messages round-robin to partitions with a leader', () => {
    const ours = JavaCompatiblePartitioner();
    expect(ours({ ...args('k'), message: { key: 'k', value: 'v', partition: 4 } })).toBe(4);
    const picked = Array.from({ length: 50 }, () => ours(args(null)));
    expect(new Set(picked)).toEqual(new Set([0, 1, 3, 4, 5]));
  });
});
