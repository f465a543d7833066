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

  it.each([
    ['notices it has a new parent', 'ppid'],
    // The CI run that found this: a worker logged its later group joins after its parent died
    // and before the parent check ran, and the unhandled EPIPE crashed it.
    ['notices its pipes broke when it next logs', 'pipe'],
  ])(
    'shut down, leaving their groups, when the process that started them is killed: %s',
    async (_how, mode) => {
      const { outlived, printed } = await killParentOf('tests/fixtures/service-parent.ts', [mode]);
      expect(outlived).toBe(false);
      expect(await membersLeft(/QUEUE (\S+)/.exec(printed)![1]!)).toEqual({ workers: 0, scheduler: 0 });
    },
    90_000,
  );
});
