import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { readRuns } from '../runs';
import type { ScenarioContext, ScenarioDefinition } from '../scenario';
import { seconds } from '../stats';
import { fetchBatch, onCompleteId, reconcileBatch, type BatchFacts, type Delivery } from './batch-ledger';
import { submitCarefully } from './common';
import { killStorm, killWorker, replacementsReady, type Kill } from './kill-storm';
import { KILL_NOTE } from './worker-kill';

/**
 * A callback or completion a killed worker held is taken over once it has been idle this long
 * (CALLBACK_CLAIM_IDLE_MS; 5 min by default, which would only make the scenario wait).
 */
const CLAIM_IDLE_MS = 5000;
/** How long the onComplete task's handler runs: long enough for the kill at completion to find it running. */
const ON_COMPLETE_MS = 1500;
/** How long the held callback waits for the onComplete task to start before every worker is killed. */
const ON_COMPLETE_WAIT_MS = 4000;
/** One child in this many fails both its attempts; one in CANCEL_EVERY is cancelled by the client. */
const FAIL_EVERY = 40;
const CANCEL_EVERY = 50;

/** Child `i` of request `r`: a `counted` sleep of 50-250 ms, some failing for good. */
function child(r: number, i: number) {
  const failing = i % FAIL_EVERY === 3;
  return {
    type: 'counted',
    payload: { ms: 50 + ((i * 37) % 201), tag: `batch-${r}-${i}`, ...(failing && { failAttempts: 9 }) },
    ...(failing && { maxAttempts: 2 }),
  };
}

/**
 * The batch's callback receiver: counts every request. The first is held unanswered and the
 * scenario kills every worker then, so the worker delivering it dies before it can record the
 * delivery: the outbox must send it again (at least once) under the same Idempotency-Key.
 */
async function callbackReceiver(onFirst: () => Promise<void>) {
  const deliveries: Delivery[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      let body: Delivery['body'] = {};
      try {
        body = JSON.parse(text) as Delivery['body'];
      } catch {
        // counted with an empty body: the check names it as a stray delivery
      }
      const header = (name: string) => req.headers[name] as string | undefined;
      deliveries.push({
        at: Date.now(),
        ...(header('idempotency-key') && { idempotencyKey: header('idempotency-key') }),
        ...(header('spillway-batch-id') && { batchHeader: header('spillway-batch-id') }),
        body,
      });
      if (deliveries.length === 1) void onFirst().finally(() => res.destroy());
      else res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/batch-done`,
    deliveries,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Polls until `done` says so or `timeoutMs` passes; true if it got there. */
async function until(done: () => Promise<boolean>, timeoutMs: number, everyMs = 500): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done().catch(() => false)) return true;
    await sleep(everyMs);
  }
  return false;
}

/** DELETE /v1/tasks/:id; true when it answered 200 (the child was cancelled before it finished). */
async function cancel(apiUrl: string, id: string): Promise<boolean> {
  const res = await fetch(`${apiUrl}/v1/tasks/${id}`, {
    method: 'DELETE',
    signal: AbortSignal.timeout(10_000),
  });
  await res.text();
  return res.status === 200;
}

/**
 * A batch in flight during a worker kill storm: a batch with a callback and an onComplete task
 * takes a few thousand children in several requests while a worker is killed with SIGKILL every
 * few seconds, is sealed, and completes; when its callback arrives every worker is killed at once.
 * The reconciliation (batch-ledger.ts) holds the batch's counts against its children's records,
 * and its callback and onComplete task against what the receiver and the handlers saw.
 */
export function batchKillScenario(): ScenarioDefinition {
  const kills: Kill[] = [];
  const facts: BatchFacts = { batchId: '', children: [], cancelled: [], deliveries: [], kills };
  const times: { sealed?: number; finished?: number; settled?: number } = {};

  /**
   * Every worker alive, killed with SIGKILL at once and replaced: the callback's deliverer among
   * them, and the onComplete task's runner if it started within ON_COMPLETE_WAIT_MS.
   */
  const killEveryWorker = async (ctx: ScenarioContext) => {
    const started = await until(
      async () => readRuns(ctx.deployment.runsDir).has(onCompleteId(facts.batchId)),
      ON_COMPLETE_WAIT_MS,
      100,
    );
    const victims = [...ctx.deployment.workers];
    await Promise.all(victims.map((victim) => killWorker(ctx, victim, kills)));
    ctx.mark(
      `callback held${started ? ', onComplete task running' : ''}: ` +
        `kill -9 of every worker (${victims.map((v) => v.name).join(', ')})`,
    );
  };

  const submitChildren = async (ctx: ScenarioContext) => {
    const { apiUrl } = ctx.deployment;
    const { children, requests } = ctx.options.batch;
    const per = Math.ceil(children / requests);
    // Over the first two thirds of the storm: the last children still run while workers die.
    const spacing = (ctx.options.workerKill.durationMs * 2) / 3 / requests;
    const start = Date.now();
    for (let r = 0; r < requests; r++) {
      await sleep(Math.max(0, start + r * spacing - Date.now()));
      const tasks = Array.from({ length: Math.min(per, children - r * per) }, (_, i) => child(r, i));
      const answer = await submitCarefully(apiUrl, `/v1/batches/${facts.batchId}/tasks`, { tasks });
      const ids = (answer.results as { id?: string }[]).flatMap((result) => (result.id ? [result.id] : []));
      facts.children.push(...ids);
      ids.forEach((id) => ctx.track(id));
      // Some are still queued, some already running or done (409): the batch counts what happens.
      const outcomes = await Promise.all(
        ids
          .filter((_, i) => i % CANCEL_EVERY === 7)
          .map(async (id) => ((await cancel(apiUrl, id)) ? id : '')),
      );
      facts.cancelled.push(...outcomes.filter(Boolean));
    }
    ctx.mark(`${facts.children.length} children accepted in ${requests} requests`);
    await submitCarefully(apiUrl, `/v1/batches/${facts.batchId}/seal`, {});
    times.sealed = Date.now();
    ctx.mark('batch sealed');
  };

  return {
    id: 'batch-kill',
    title: 'A batch in flight during a worker kill storm',
    fault:
      'a batch with a callback and an onComplete task takes its children in several requests while a worker ' +
      'is killed with SIGKILL every few seconds; every worker is killed when its callback arrives',
    expectNoDuplicates: false,
    deployment: {
      workers: 3,
      concurrency: 8,
      apiEnv: { CALLBACK_ALLOW_CIDRS: '127.0.0.0/8' },
      workerEnv: {
        // The broker's minimum session: a killed member's partitions move on after 6 s, not 30.
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        CALLBACK_ALLOW_CIDRS: '127.0.0.0/8',
        CALLBACK_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS),
      },
    },
    async inject(ctx) {
      const { apiUrl } = ctx.deployment;
      let finale: Promise<void> | undefined;
      const receiver = await callbackReceiver(() => (finale = killEveryWorker(ctx)));
      facts.deliveries = receiver.deliveries;
      try {
        const created = await submitCarefully(apiUrl, '/v1/batches', {
          callbackUrl: receiver.url,
          onComplete: { type: 'batch-done', payload: { ms: ON_COMPLETE_MS } },
          metadata: { scenario: 'batch-kill' },
        });
        facts.batchId = (created.batch as { id: string }).id;
        ctx.mark('batch created');
        await Promise.all([killStorm(ctx, kills), submitChildren(ctx)]);
        const finished = await until(
          async () => (await fetchBatch(apiUrl, facts.batchId)).status === 'finished',
          ctx.options.settleMs,
        );
        times.finished = Date.now();
        ctx.mark(finished ? 'batch finished' : 'batch not finished within the settle time');
        // The callback recorded delivered (after the kill, by another worker) and the onComplete task done.
        const settled = await until(async () => {
          const batch = await fetchBatch(apiUrl, facts.batchId);
          const res = await fetch(`${apiUrl}/v1/tasks/${onCompleteId(facts.batchId)}`);
          const task = (await res.json()) as { status?: string };
          return batch.callback?.delivered === true && task.status === 'succeeded';
        }, ctx.options.settleMs);
        await finale;
        times.settled = Date.now();
        ctx.mark(
          settled ? 'callback delivered and onComplete task succeeded' : 'callback or onComplete not done',
        );
        await replacementsReady(ctx, kills);
        // Room for a late second delivery or run: every worker is up, and an entry a killed one
        // abandoned is idle long enough to be claimed within CLAIM_IDLE_MS / 2 of that.
        await sleep(CLAIM_IDLE_MS);
        ctx.mark('quiet period over');
      } finally {
        receiver.close();
      }
    },
    async verify(ctx) {
      if (!facts.batchId) throw new Error('the batch was never created');
      await reconcileBatch(ctx, facts);
      const first = facts.deliveries[0]?.at;
      ctx.figures.push(
        {
          label: 'sealed → finished (seen by the client)',
          value: seconds(times.sealed && times.finished ? (times.finished - times.sealed) / 1000 : undefined),
        },
        {
          label: 'finished → first callback request',
          value: seconds(first && times.finished ? Math.max(0, first - times.finished) / 1000 : undefined),
        },
      );
      ctx.checks.push({
        name: 'the workers were killed as planned',
        ok: kills.length > 0,
        kind: 'guarantee',
      });
      ctx.notes.push(
        'Children are `counted` tasks of 50-250 ms; one in ' +
          `${FAIL_EVERY} fails both its attempts and one in ${CANCEL_EVERY} is cancelled by the client right after ` +
          'its request is answered (if it is still unfinished). A child is counted by the same Redis script call ' +
          'that finishes it, so a child re-run after a kill cannot be counted twice. The callback is at least once, ' +
          'not exactly once: the outbox entry is settled after the receiver answers, and the first request is held ' +
          'until every worker is killed (once the onComplete task runs, if it starts within ' +
          `${ON_COMPLETE_WAIT_MS / 1000} s), so it is sent again (after CALLBACK_CLAIM_IDLE_MS, ` +
          `${CLAIM_IDLE_MS / 1000} s here) under the same Idempotency-Key, \`batch:<id>:completion\`, which the ` +
          'receiver must deduplicate on. The onComplete task is published under an id derived from the batch, so a ' +
          'completion taken over from a killed worker publishes the same task again, which runs once.',
        KILL_NOTE,
      );
    },
  };
}
