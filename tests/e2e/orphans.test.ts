import { kafkaNames } from '../../services/shared/kafka/names';
import { killParentOf } from '../helpers/orphans';
import { testKafka } from '../helpers/stack';

/**
 * A test run or chaos run killed outright cannot stop the services it started. Left running,
 * they would stay in their consumer groups and hold their ports under every later run; the
 * guard preloaded into them (tests/helpers/orphan-guard.js) makes them shut down instead.
 */
describe('services started by a test', () => {
  it('shut down, leaving their consumer groups, when the process that started them is killed', async () => {
    const { outlived, printed } = await killParentOf('tests/fixtures/service-parent.ts');
    expect(outlived).toBe(false);

    // Shut down as on SIGTERM, not crashed on a log line to the closed pipe: a crashed worker
    // would stay a member until its session timed out.
    const queue = /QUEUE (\S+)/.exec(printed)![1]!;
    const { workerGroup, schedulerGroup } = kafkaNames(queue);
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const { groups } = await admin.describeGroups([workerGroup, schedulerGroup]);
      const members = Object.fromEntries(groups.map((g) => [g.groupId, g.members.length]));
      expect(members).toEqual({ [workerGroup]: 0, [schedulerGroup]: 0 });
    } finally {
      await admin.disconnect();
    }
  }, 90_000);
});
