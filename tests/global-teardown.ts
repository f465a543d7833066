import { TEST_RUN_ENV, testKafka } from './helpers/stack';

const TOPICS_PER_REQUEST = 200;

/**
 * Deletes the topics and consumer groups this run's test queues created on the shared local
 * broker. Left there, they pile up over runs in one checkout (a few hundred queues of up to 42
 * partitions each) until the broker takes longer to load them than `stack.sh up` waits. Only
 * this run's queues carry its tag, so a run beside it on the same broker keeps its own.
 */
export default async function globalTeardown(): Promise<void> {
  const run = process.env[TEST_RUN_ENV];
  if (!run) return;
  const admin = testKafka().admin();
  try {
    await admin.connect();
    const ours = (await admin.listTopics()).filter((topic) => topic.includes(`t-${run}-`));
    for (let at = 0; at < ours.length; at += TOPICS_PER_REQUEST) {
      await admin.deleteTopics({ topics: ours.slice(at, at + TOPICS_PER_REQUEST), timeout: 60_000 });
    }
    // Their consumer groups too (every member has left by now: the tests stopped their workers).
    const groups = (await admin.listGroups()).groups
      .map((g) => g.groupId)
      .filter((id) => id.includes(`t-${run}-`));
    if (groups.length > 0) await admin.deleteGroups(groups);
  } catch (err) {
    // Clean-up only: a broker that went away (or a test that stopped it) must not fail the run.
    console.warn(`test topics or groups not deleted: ${String(err)}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
