import { kafkaNames } from '../../services/shared/kafka/names';
import { writeRaw } from '../helpers/kafka';
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

  const queueOf = (printed: string) => /QUEUE (\S+)/.exec(printed)![1]!;

  /** Kills the fixture's parent; the worker must be gone, its groups empty. */
  async function expectCleanShutdown(options: Parameters<typeof killParentOf>[1] = {}): Promise<void> {
    const { outlived, printed } = await killParentOf('tests/fixtures/service-parent.ts', options);
    expect(outlived).toBe(false);
    expect(await membersLeft(queueOf(printed))).toEqual({ workers: 0, scheduler: 0 });
  }

  it('shut down, leaving their groups, once they have a new parent', async () => {
    await expectCleanShutdown();
  }, 90_000);

  // Found by a CI run: a worker logged a late group join after its parent died, before the
  // parent check ran, and the unhandled EPIPE crashed it, still a member of both groups.
  it('shut down, leaving their groups, when they write to their broken pipes first', async () => {
    await expectCleanShutdown({
      args: ['pipe'],
      // A poison message makes the worker log an error line, to its broken pipes.
      afterKill: (printed) => writeRaw(kafkaNames(queueOf(printed)).tasksTopic, ['not json']),
    });
  }, 90_000);
});
