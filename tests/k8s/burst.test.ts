/**
 * The burst Spillway exists for, on a real cluster: KEDA scales real worker pods on real Kafka
 * lag, they join the consumer group and drain it, and the HPA scales them back down. Then the
 * same burst on a fleet fixed at the maximum, for the price of scaling; then the faults a
 * cluster brings (a pod deleted, a rolling upgrade) in the middle of a burst.
 *
 * Every task is `counted` (tests/fixtures/counting-handlers.js in a worker image built on the
 * real one): its handler counts each finished run in Redis, so "none ran twice" is read from
 * what the handlers did, not from what Spillway recorded. The figures go to the report
 * (helpers/report.ts): .stack/cluster/kubernetes.md, or SPILLWAY_K8S_REPORT (docs/kubernetes.md).
 */
import { kubectl, waitFor } from './helpers/cluster';
import { reconcile, submitBurst, waitForBurst, type Burst, type Reconciliation } from './helpers/burst';
import { buildE2eWorkerImage, E2E_WORKER_REPOSITORY, Release } from './helpers/release';
import { writeReport, type Run } from './helpers/report';
import { FleetSampler, LagReader, type Sample } from './helpers/timeline';
import { workerRejoins } from './helpers/worker-logs';

const TAG = Date.now().toString(36);
const release = new Release('spw', `burst-${TAG}`, `k8s-burst-${TAG}`);
const lagReader = new LagReader(release.queue);

/** One worker runs 16 tasks of 500 ms at once: 32 tasks/s; six of them 192 tasks/s. */
const TASK_MS = 500;
const BURST = 6000;
const MAX_WORKERS = 6;
const LAG_THRESHOLD = 100;

/** The chart's scaling, with a scale-down shortened from 300 s of stabilization to fit a test. */
const autoscaling = {
  minReplicaCount: 1,
  maxReplicaCount: MAX_WORKERS,
  lagThreshold: LAG_THRESHOLD,
  pollingInterval: 5,
  behavior: {
    scaleDown: {
      stabilizationWindowSeconds: 20,
      policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
      selectPolicy: 'Max',
    },
  },
};

function values(imageTag: string, autoscaled: boolean): object {
  return {
    worker: {
      image: { repository: E2E_WORKER_REPOSITORY, tag: imageTag },
      handlersModule: '/app/handlers/counting.js',
      replicas: MAX_WORKERS,
      autoscaling: { ...autoscaling, enabled: autoscaled },
    },
  };
}

const runs: Run[] = [];

function outcome(result: Reconciliation): Pick<Run, 'records' | 'ranTwice' | 'notSucceeded'> {
  return {
    records: result.records,
    ranTwice: result.ranTwice.length,
    notSucceeded: result.submitted - result.succeeded,
  };
}

function expectClean(result: Reconciliation): void {
  expect({
    succeeded: result.succeeded,
    failed: result.failed.slice(0, 5),
    unfinished: result.unfinished.slice(0, 5),
    ranTwice: result.ranTwice.slice(0, 5),
    neverRan: result.neverRan.slice(0, 5),
  }).toEqual({ succeeded: result.submitted, failed: [], unfinished: [], ranTwice: [], neverRan: [] });
}

async function workersAt(count: number, timeoutMs: number): Promise<void> {
  await waitFor(
    `${count} worker(s) desired and ready`,
    async () => {
      const d = await release.workers();
      return d.spec.replicas === count &&
        (d.status.readyReplicas ?? 0) === count &&
        (d.status.replicas ?? 0) === count
        ? true
        : undefined;
    },
    timeoutMs,
  );
}

/** Samples the fleet from just before the burst until every task finished and the lag is 0. */
async function runBurst(
  name: string,
  count: number,
  during?: (sampler: FleetSampler, burst: Promise<Burst>) => Promise<void>,
): Promise<{ burst: Burst; result: Reconciliation; samples: Sample[]; sampler: FleetSampler }> {
  const sampler = new FleetSampler(release, lagReader);
  sampler.start();
  const submitting = submitBurst(release, count, TASK_MS);
  const faults = during?.(sampler, submitting);
  const burst = await submitting;
  await faults;
  const result = await waitForBurst(release, burst, 10 * 60_000);
  await waitFor(
    `${name}: lag back to 0`,
    async () => ((await lagReader.lag()) === 0 ? true : undefined),
    60_000,
  );
  return { burst, result, samples: [...sampler.taken], sampler };
}

beforeAll(async () => {
  buildE2eWorkerImage(['a', 'b']);
  await release.install(values('a', true));
  await release.scaledObjectReady();
}, 15 * 60_000);

afterAll(async () => {
  release.close();
  await lagReader.close();
  await kubectl(['delete', 'namespace', release.namespace, '--wait=false']).catch(() => undefined);
});

it(
  'KEDA scales the workers from 1 to the maximum on a burst, they drain it, and scale back down',
  async () => {
    await workersAt(1, 5 * 60_000);
    const { burst, result, sampler } = await runBurst('autoscaled', BURST);
    // Worker logs hold each rejoin and how long its rebalance stopped fetching: read them
    // before the scale-down deletes the pods.
    const rejoins = await workerRejoins(release);
    await workersAt(autoscaling.minReplicaCount, 5 * 60_000);
    // The sampler reads the HPA on its own schedule: wait for a sample that saw the scale-down.
    await waitFor(
      'a sample after the scale-down',
      async () => (sampler.taken.at(-1)?.desired === autoscaling.minReplicaCount ? true : undefined),
      60_000,
    );
    const samples = await sampler.stop();

    runs.push({ name: 'autoscaled', burst, ...outcome(result), samples, rejoins, events: [] });
    expectClean(result);
    expect(Math.max(...samples.map((s) => s.desired))).toBe(MAX_WORKERS);
    expect(Math.max(...samples.map((s) => s.ready))).toBe(MAX_WORKERS);
    expect(samples.at(-1)!.lag).toBe(0);
    expect(samples.at(-1)!.desired).toBe(autoscaling.minReplicaCount);
  },
  20 * 60_000,
);

it(
  'the same burst on a fleet fixed at the maximum: the baseline for what scaling costs',
  async () => {
    // Turning KEDA off: the HPA owns spec.replicas now, and helm 4's server-side apply refuses to
    // take a field another manager owns unless told to (the README's upgrade notes say so).
    const refused = await release.upgrade(values('a', false)).catch((err: Error) => err.message);
    expect(refused).toMatch(/conflict with "kube-controller-manager" with subresource "scale"/);
    await release.upgrade(values('a', false), { forceConflicts: true });
    await workersAt(MAX_WORKERS, 5 * 60_000);
    const { burst, result, sampler } = await runBurst('fixed', BURST);
    const rejoins = await workerRejoins(release);
    const samples = await sampler.stop();

    runs.push({ name: 'fixed', burst, ...outcome(result), samples, rejoins, events: [] });
    expectClean(result);
    expect(Math.min(...samples.map((s) => s.ready))).toBe(MAX_WORKERS);
  },
  15 * 60_000,
);

it(
  'a worker pod deleted and a rolling upgrade mid-burst: nothing lost, nothing run twice, nothing failed',
  async () => {
    const events: { at: number; what: string }[] = [];
    const { burst, result, sampler } = await runBurst('faults', BURST * 2, async (sampler) => {
      // Once the fleet is busy: the kubelet sends the pod SIGTERM and waits its grace period.
      await waitFor(
        'burst under way',
        async () => ((sampler.taken.at(-1)?.lag ?? 0) > 1000 ? true : undefined),
        60_000,
        200,
      );
      const [victim] = await release.workerPods();
      events.push({ at: Date.now(), what: `pod ${victim.metadata.name} deleted` });
      await kubectl(['delete', 'pod', victim.metadata.name, '-n', release.namespace, '--wait=false']);
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      // A new image tag: every worker is replaced, one at a time (maxSurge 1, maxUnavailable 0).
      events.push({ at: Date.now(), what: 'helm upgrade to worker image :b (rolling)' });
      await release.upgrade(values('b', false));
      events.push({ at: Date.now(), what: 'rollout complete' });
    });
    const samples = await sampler.stop();

    runs.push({ name: 'faults', burst, ...outcome(result), samples, rejoins: [], events });
    expectClean(result);
    const images = (await release.workerPods()).map((p) => p.spec.containers[0].image);
    expect(images).toEqual(Array(MAX_WORKERS).fill(`${E2E_WORKER_REPOSITORY}:b`));
  },
  20 * 60_000,
);

it('nothing a run left behind changed afterwards', async () => {
  // A late duplicate (a redelivery after the checks above) would show up here.
  for (const run of runs) {
    const again = await reconcile(release, run.burst);
    expect(again.ranTwice).toEqual([]);
    expect(again.succeeded).toBe(run.burst.ids.length);
  }
  await writeReport(runs, {
    taskMs: TASK_MS,
    lagThreshold: LAG_THRESHOLD,
    maxWorkers: MAX_WORKERS,
    autoscaling,
  });
});
