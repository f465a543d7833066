import { kafkaNames } from '../../services/shared/kafka/names';
import { killParentOf } from '../helpers/orphans';
import { testKafka } from '../helpers/stack';

/**
 * A test run or chaos run killed outright cannot stop the services it started. Left running,
 * they would stay in their consumer groups and hold their ports under every later run; the
 * guard preloaded into them (tests/helpers/orphan-guard.js) makes them shut down instead, as on
 * SIGTERM: a worker that crashed instead would stay a member until its session timed out.
 */
describe('services started by a test', () => {
  /** Members left in the queue's worker and scheduler groups. */
  async function membersLeft(queue: string): Promise<Record<string, number>> {
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const { workerGroup, schedulerGroup } = kafkaNames(queue);
      const { groups } = await admin.describeGroups([workerGroup, schedulerGroup]);
      return Object.fromEntries(groups.map((g) => [g.groupId.split('.').at(-1), g.members.length]));
    } finally {
      await admin.disconnect();
    }
  }

  /** Makes the worker log an error line, to its broken pipes: a poison message on its topic. */
  async function poison(queue: string): Promise<void> {
    const producer = testKafka().producer();
    await producer.connect();
    try {
      await producer.send({ topic: kafkaNames(queue).tasksTopic, messages: [{ value: 'not json' }] });
    } finally {
      await producer.disconnect();
    }
  }

  const queueOf = (printed: string) => /QUEUE (\S+)/.exec(printed)![1]!;

  it('shut down, leaving their groups, once they have a new parent', async () => {
    const { outlived, printed } = await killParentOf('tests/fixtures/service-parent.ts');
    expect(outlived).toBe(false);
    expect(await membersLeft(queueOf(printed))).toEqual({ workers: 0, scheduler: 0 });
  }, 90_000);

  // Found by a CI run: a worker logged a late group join after its parent died, before the
  // parent check ran, and the unhandled EPIPE crashed it, still a member of both groups.
  it('shut down, leaving their groups, when they write to their broken pipes first', async () => {
    const { outlived, printed } = await killParentOf('tests/fixtures/service-parent.ts', {
      args: ['pipe'],
      afterKill: (printed) => poison(queueOf(printed)),
    });
    expect(outlived).toBe(false);
    expect(await membersLeft(queueOf(printed))).toEqual({ workers: 0, scheduler: 0 });
  }, 90_000);
});
