import { ChaosCluster } from '../../chaos/cluster';
import { quickOptions } from '../../chaos/options';
import { summaryLine } from '../../chaos/report';
import { runScenario, type ScenarioDefinition, type ScenarioResult } from '../../chaos/scenario';
import { apiKillScenario } from '../../chaos/scenarios/api-kill';
import { batchKillScenario } from '../../chaos/scenarios/batch-kill';
import { callbackHangScenario } from '../../chaos/scenarios/callback-hang';
import { delayedKafkaOutageScenario } from '../../chaos/scenarios/delayed-kafka-outage';
import { hungHandlersScenario } from '../../chaos/scenarios/hung-handlers';
import { kafkaOutageScenario } from '../../chaos/scenarios/kafka-outage';
import { poisonScenario } from '../../chaos/scenarios/poison';
import { redisOutageScenario } from '../../chaos/scenarios/redis-outage';
import { redisOutageRetriesScenario } from '../../chaos/scenarios/redis-outage-retries';
import { rollingRestartScenario } from '../../chaos/scenarios/rolling-restart';
import { tenantLimitsScenario } from '../../chaos/scenarios/tenant-limits';
import { workerKillScenario } from '../../chaos/scenarios/worker-kill';

const options = quickOptions();
/** Long enough for a scenario plus the ones before it in its lane, on a busy machine. */
const SCENARIO_TIMEOUT_MS = 360_000;
/**
 * Scenarios run two at a time, each on its own queue: most of their time is waiting (fault
 * intervals, session timeouts, drains), not CPU (three at a time starved a busy two-core machine). The Redis outages get a redis-server each,
 * so it disturbs nothing beside it; the Kafka outage stops the broker everyone uses, so it runs
 * last, alone (a second broker would cost a JVM on a machine that has little to spare).
 */
const LANES = 2;
/**
 * The chaos suite (`npm run chaos`, chaos/) shortened: the same scenarios with fewer seconds of
 * load and fault each, against real processes and a private Kafka and Redis. Only guarantees
 * are asserted (no acknowledged task lost, no status backwards, no succeeded task run again,
 * and the scenario's own); durations are printed, never asserted, as the machine is shared.
 */
describe('chaos: faults under a steady load (shortened)', () => {
  const clusters: ChaosCluster[] = [];
  /** Longest first, so the lanes end together; the Kafka outage runs after them, alone. */
  const scenarios: [string, () => ScenarioDefinition, 'shared' | 'own-redis' | 'own-redis-2'][] = [
    ['rolling-restart', () => rollingRestartScenario(options), 'shared'],
    ['worker-kill', workerKillScenario, 'shared'],
    ['batch-kill', batchKillScenario, 'shared'],
    ['tenant-limits', tenantLimitsScenario, 'shared'],
    ['redis-outage', redisOutageScenario, 'own-redis'],
    ['redis-outage-retries', redisOutageRetriesScenario, 'own-redis-2'],
    ['hung-handlers', hungHandlersScenario, 'shared'],
    ['callback-hang', callbackHangScenario, 'shared'],
    ['api-kill', apiKillScenario, 'shared'],
    ['poison', poisonScenario, 'shared'],
  ];
  const runs = new Map<string, Promise<ScenarioResult>>();
  let started = false;

  beforeAll(async () => {
    const shared = await ChaosCluster.start();
    clusters.push(shared);
    // First in the list: they borrow the shared broker, so they are disposed of before it. One
    // redis-server per Redis outage: two of them side by side must not stop each other's.
    const ownRedis = await shared.withOwnRedis();
    const ownRedis2 = await shared.withOwnRedis();
    clusters.unshift(ownRedis, ownRedis2);
    const clusterFor = { shared, 'own-redis': ownRedis, 'own-redis-2': ownRedis2 };
    // Started here, awaited by each test: a lane takes the next scenario when its last one ends.
    const queue = [...scenarios];
    const lane = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [id, factory, servers] = next;
        let settle!: (r: ScenarioResult) => void;
        runs.set(id, new Promise((resolve) => (settle = resolve)));
        settle(await run(clusterFor[servers], factory()));
      }
    };
    const lanes = Array.from({ length: LANES }, () => lane());
    // Once every lane is done: nothing else may be using the broker they stop.
    const kafkaOutage = Promise.all(lanes).then(() => run(shared, kafkaOutageScenario()));
    runs.set('kafka-outage', kafkaOutage);
    // The same broker stopped again, with delayed tasks waiting: after the first outage, alone too.
    runs.set(
      'delayed-kafka-outage',
      kafkaOutage.then(() => run(shared, delayedKafkaOutageScenario())),
    );
    started = true;
  }, 240_000);

  afterAll(async () => {
    await Promise.all(runs.values());
    // The borrowing cluster first: it must not outlive the broker it uses.
    for (const cluster of clusters) await cluster.dispose();
  }, 120_000);

  async function run(cluster: ChaosCluster, def: ScenarioDefinition): Promise<ScenarioResult> {
    const result = await runScenario(cluster, def, options);
    console.log(summaryLine(result));
    return result;
  }

  /** The isolated scenario's result, once its lane got to it and it ended. */
  async function resultOf(id: string): Promise<ScenarioResult> {
    while (!runs.has(id)) {
      if (!started) throw new Error('the private Kafka and Redis did not start');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return runs.get(id)!;
  }

  /** Every guarantee the scenario checked, named when it failed, plus the ledger's own figures. */
  function expectGuaranteesHeld(result: ScenarioResult): void {
    expect(result.error).toBeUndefined();
    const failed = result.checks.filter((c) => c.kind === 'guarantee' && !c.ok);
    expect(failed.map((c) => `${c.name}${c.detail ? `: ${c.detail}` : ''}`)).toEqual([]);
    const ledger = result.ledger!;
    expect(ledger.acknowledged).toBeGreaterThan(0);
    expect(ledger.lost).toBe(0);
    expect(ledger.notOnTopic).toBe(0);
    expect(ledger.rerunsAfterSuccess).toBe(0);
    expect(result.statuses!.backwards).toEqual([]);
  }

  it(
    'kill -9 of a worker every few seconds: nothing acknowledged lost, no success re-run',
    async () => expectGuaranteesHeld(await resultOf('worker-kill')),
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'a batch in flight while workers are killed: it completes once, counts match, callback and onComplete once',
    async () => expectGuaranteesHeld(await resultOf('batch-kill')),
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'tenants on, one capped at max-running, workers killed: nothing lost, the cap never passed',
    async () => expectGuaranteesHeld(await resultOf('tenant-limits')),
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'Redis stopped and started: recovery without restarts, nothing lost, no status backwards',
    async () => expectGuaranteesHeld(await resultOf('redis-outage')),
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'Redis stopped while every task is retried: each succeeds on exactly its second attempt',
    async () => expectGuaranteesHeld(await resultOf('redis-outage-retries')),
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'kill -9 of the API mid-load: every id a client received is on Kafka and completes',
    async () => expectGuaranteesHeld(await resultOf('api-kill')),
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'poison messages on the tasks topic: each dead-lettered, the workers keep working',
    async () => expectGuaranteesHeld(await resultOf('poison')),
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'handlers that hang and ignore their signal: timed out, abandoned, full concurrency after',
    async () => expectGuaranteesHeld(await resultOf('hung-handlers')),
    SCENARIO_TIMEOUT_MS,
  );

  it(
    "one tenant's callback receiver hangs: everyone else's tasks keep their rate, every callback arrives after",
    async () => expectGuaranteesHeld(await resultOf('callback-hang')),
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'rolling restart of the workers with SIGTERM: in-flight tasks finish or are redelivered',
    async () => expectGuaranteesHeld(await resultOf('rolling-restart')),
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'Kafka stopped and started: 503 without an id while down, every acknowledged task completes',
    async () => {
      const result = await resultOf('kafka-outage');
      expectGuaranteesHeld(result);
      expect(result.checks.find((c) => c.name === 'no 202 while the broker was down')?.ok).toBe(true);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'Kafka stopped while delayed tasks wait: each runs once due, no task cancelled meanwhile runs',
    async () => expectGuaranteesHeld(await resultOf('delayed-kafka-outage')),
    SCENARIO_TIMEOUT_MS * 2,
  );
});
