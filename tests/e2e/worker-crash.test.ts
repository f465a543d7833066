import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { kafkaNames } from '../../services/shared/kafka/names';
import { RedisTaskStore } from '../../services/shared/redis/redis-task-store';
import { ServiceProcess } from '../helpers/processes';
import { freePort } from '../helpers/redis-server';
import { metricValue } from '../helpers/services';
import { committedToEnd } from '../helpers/kafka';
import { eventually, KAFKA_BROKERS, REDIS_URL, uniqueQueue } from '../helpers/stack';
import { publishTasks, taskMessage } from '../helpers/tasks';

const TASKS = 400;
const CONCURRENCY = 20;
/** The kill comes once this many tasks succeeded: mid-run, with plenty still to do. */
const KILL_AFTER_SUCCEEDED = TASKS / 5;

/**
 * `kill -9` of one of two workers in the middle of a run: every task still ends succeeded, no
 * task that had succeeded runs again, and only the dead worker's in-flight tasks may run twice.
 */
describe('a worker killed with SIGKILL in the middle of a batch', () => {
  const queue = uniqueQueue();
  const names = kafkaNames(queue);
  const env = {
    SPILLWAY_QUEUE: queue,
    KAFKA_BROKERS,
    REDIS_URL,
    KAFKA_TASK_PARTITIONS: '4',
    WORKER_CONCURRENCY: String(CONCURRENCY),
    COMMIT_INTERVAL_MS: '500',
    SHUTDOWN_TIMEOUT_MS: '1000',
    // The broker's minimum: the dead member leaves the group (and its partitions move on) after
    // this long instead of the default 30 s.
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    HANDLERS_MODULE: join(__dirname, '..', 'fixtures', 'counting-handlers.js'),
    LOG_LEVEL: 'warn',
  };
  const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600 });
  const counters = new Redis(REDIS_URL);
  /** Same key as tests/fixtures/counting-handlers.js writes. */
  const runsKey = (id: string) => `spillway-test:${queue}:runs:${id}`;
  const processes: ServiceProcess[] = [];
  const ids: string[] = [];

  const startWorker = async () => {
    const worker = new ServiceProcess('worker', await freePort(), env);
    processes.push(worker);
    return worker;
  };

  /** Set by the test once every assertion held: otherwise the workers' logs are printed. */
  let passed = false;

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    if (!passed) for (const p of processes) console.log(`worker :${p.port} said:\n${p.output.join('')}`);
    if (ids.length > 0) await counters.del(...ids.map(runsKey));
    await counters.quit();
    await store.close();
  });

  it('loses no task, re-runs no task that had succeeded, and commits to the end', async () => {
    const workers = [await startWorker(), await startWorker()];
    await Promise.all(workers.map((w) => w.ready()));

    const tasks = Array.from({ length: TASKS }, (_, i) =>
      taskMessage('counted', { ms: 30 + ((i * 17) % 51) }),
    );
    ids.push(...tasks.map((t) => t.id));
    const started = Date.now();
    await publishTasks(names.tasksTopic, tasks);

    // Polled tightly (not with eventually's 100 ms): 400 short tasks on 40 slots go fast, and
    // the kill must land mid-run.
    while ((await store.counts()).succeeded < KILL_AFTER_SUCCEEDED) {
      if (Date.now() - started > 30_000)
        throw new Error(`${KILL_AFTER_SUCCEEDED} tasks not succeeded in 30 s`);
      await sleep(10);
    }
    // The busier worker dies, so the kill interrupts as much as possible.
    const inFlight = await Promise.all(workers.map((w) => metricValue(w.url, 'spillway_tasks_in_flight')));
    const victimIndex = inFlight[0]! >= inFlight[1]! ? 0 : 1;
    const victim = workers[victimIndex]!;
    // Only tasks already succeeded here are sure to have succeeded before the kill.
    const before = await Promise.all(ids.map((id) => store.get(id)));
    const succeededBeforeKill = ids.filter((_, i) => before[i]?.status === 'succeeded');
    await victim.kill();
    const killedAt = Date.now();

    await sleep(500);
    const replacement = await startWorker();
    // Ready once the group rebalanced, which waits for the dead member's session to expire.
    await replacement.ready(30_000);

    // On a timeout the assertions below name the tasks that did not get there.
    await eventually(
      async () => {
        const c = await store.counts();
        return c.succeeded + c.failed + c.cancelled >= TASKS ? c : undefined;
      },
      40_000,
      `all ${TASKS} tasks finished`,
    ).catch(() => undefined);
    const seconds = (Date.now() - started) / 1000;
    const records = await Promise.all(ids.map((id) => store.get(id)));
    const notSucceeded = ids
      .map((id, i) => `${id}: ${records[i]?.status ?? 'no record'}`)
      .filter((_, i) => records[i]?.status !== 'succeeded');
    expect(notSucceeded).toEqual([]);
    expect(await store.counts()).toMatchObject({ succeeded: TASKS, failed: 0, cancelled: 0, running: 0 });

    const values = await counters.mget(...ids.map(runsKey));
    const runs = new Map(ids.map((id, i) => [id, Number(values[i] ?? 0)]));
    // Succeeded means the handler finished, which the fixture counts before returning.
    expect(ids.filter((id) => runs.get(id)! < 1)).toEqual([]);
    // A finished task is recognised from its record on redelivery and never runs again.
    expect(succeededBeforeKill.filter((id) => runs.get(id)! > 1)).toEqual([]);
    // At least once: a task whose handler finished on the dead worker but whose `succeeded`
    // did not reach Redis runs again. Only tasks in flight at the kill can be among them.
    const ranTwice = ids.filter((id) => runs.get(id)! > 1);
    expect(ranTwice.length).toBeLessThanOrEqual(CONCURRENCY * 2);
    const handlerRuns = [...runs.values()].reduce((sum, n) => sum + n, 0);
    const errorLines = processes
      .flatMap((p) => p.output.join('').split('\n'))
      .filter((line) => line.includes('"level":"error"')).length;

    // The replacement and the survivor commit every partition to its end, the dead one's too.
    const end = await committedToEnd(names.workerGroup, names.tasksTopic);
    expect(Object.values(end).reduce((sum, high) => sum + Number(high), 0)).toBe(TASKS);

    console.log(
      `worker crash: ${TASKS} tasks, ${succeededBeforeKill.length} succeeded before the kill, ` +
        `killed worker had ${inFlight[victimIndex]} in flight, ${ranTwice.length} re-run after the kill ` +
        `(${handlerRuns} handler runs), ${errorLines} error log lines, ` +
        `${((killedAt - started) / 1000).toFixed(1)} s to the kill, ${seconds.toFixed(1)} s to all succeeded`,
    );
    passed = true;
  });
});
