import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisTenantPermits } from '../../services/shared/redis/tenant-permits';
import { metricSum } from '../metrics';
import { readRuns } from '../runs';
import { mediumTask, type ScenarioDefinition } from '../scenario';

/** The capped tenant's max-running: well under the fleet's 24 slots, so the limit is what binds. */
const CAPPED_MAX = 4;
/** Short, so a killed worker's places come back within the scenario. */
const LEASE_MS = 3000;
/** The steady tenant's spill allowance, tasks a second: below what it submits, so some spill. */
const STEADY_SPILL_RATE = 5;
const key = (tenant: string) => `chaos-${tenant}-key-0123456789abcdef`;
const tenantOfSeq = (seq: number) => (seq % 2 === 0 ? 'capped' : 'steady');

/**
 * Tenants on: two tenants submit alternately, one capped at CAPPED_MAX tasks running across the
 * fleet, while workers are killed with SIGKILL (their leases must lapse, not leak). Besides the
 * ledger every scenario checks, the capped tenant's running tasks are counted two ways: its
 * leases in Redis, sampled, and its handler runs from the workers' own logs (a run cut short by
 * a kill ends at the kill), which never exceed the limit. The other tenant has a spill allowance
 * below its share of the load, so part of its tasks wait in the overflow lane under the kills.
 */
export function tenantLimitsScenario(): ScenarioDefinition {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-chaos-tenants-'));
  const keysFile = join(dir, 'api-keys');
  writeFileSync(
    keysFile,
    [
      `tenant capped max-running=${CAPPED_MAX}`,
      // Under its share of the load: part of its tasks spill to the overflow lane, under the kills.
      `tenant steady spill-rate=${STEADY_SPILL_RATE} spill-burst=${STEADY_SPILL_RATE}`,
      `key capped ${key('capped')} tasks:submit,tasks:read`,
      `key steady ${key('steady')} tasks:submit,tasks:read`,
    ].join('\n'),
  );
  const kills: { pid: number; at: number }[] = [];
  let leaseSamples = 0;
  let leaseMax = 0;
  let sampling = true;
  let sampler: Promise<void> | undefined;
  return {
    id: 'tenant-limits',
    title: 'Two tenants, one capped at max-running, while workers are killed',
    fault: `two tenants; one may run ${CAPPED_MAX} tasks at once across the fleet; twice a worker is killed with SIGKILL and replaced`,
    expectNoDuplicates: false,
    deployment: {
      workers: 3,
      concurrency: 8,
      apiEnv: { API_KEYS_FILE: keysFile },
      workerEnv: { KAFKA_SESSION_TIMEOUT_MS: '6000', TENANT_LEASE_MS: String(LEASE_MS) },
    },
    task: mediumTask,
    headers: (seq) => ({ authorization: `Bearer ${key(tenantOfSeq(seq))}` }),
    async inject(ctx) {
      const { deployment, options } = ctx;
      const permits = new RedisTenantPermits({ url: deployment.cluster.redisUrl, queue: deployment.queue });
      sampler = (async () => {
        try {
          while (sampling) {
            leaseMax = Math.max(leaseMax, await permits.running('capped').catch(() => 0));
            leaseSamples++;
            await sleep(50);
          }
        } finally {
          await permits.close();
        }
      })();
      const { durationMs } = options.workerKill;
      for (let i = 0; i < 2; i++) {
        await sleep(durationMs / 3);
        const victim = deployment.workers[0]!;
        deployment.retire(victim);
        await victim.kill();
        kills.push({ pid: victim.pid, at: Date.now() });
        ctx.mark(`kill -9 ${victim.name}`);
        await deployment.startWorker();
      }
      await Promise.all(deployment.workers.map((w) => deployment.readyOrReplaced(w)));
      ctx.mark('every replacement ready');
    },
    async verify(ctx) {
      sampling = false;
      await sampler;
      const spilled = await metricSum(ctx.deployment.apiUrl, 'spillway_tasks_spilled_total', {
        tenant: 'steady',
      });
      const cappedIds = new Set(
        ctx.load.submissions.filter((s) => tenantOfSeq(s.seq) === 'capped').flatMap((s) => s.ids),
      );
      const killedAt = new Map(kills.map((k) => [k.pid, k.at]));
      // Each capped run as [start, end]: its `done` or `fail`, the kill of its process, or now.
      const edges: [number, number][] = [];
      let cappedRuns = 0;
      for (const [taskId, events] of readRuns(ctx.deployment.runsDir)) {
        if (!cappedIds.has(taskId)) continue;
        for (const start of events.filter((e) => e.event === 'start')) {
          cappedRuns++;
          const end = events.find(
            (e) => (e.event === 'done' || e.event === 'fail') && e.pid === start.pid && e.at >= start.at,
          );
          edges.push([start.at, 1], [end?.at ?? killedAt.get(start.pid) ?? Date.now(), -1]);
        }
      }
      // Ends before starts at the same millisecond: a place freed is what the next run took.
      edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      let running = 0;
      let runMax = 0;
      for (const [, delta] of edges) runMax = Math.max(runMax, (running += delta));
      ctx.figures.push(
        { label: 'workers killed with SIGKILL', value: kills.length },
        { label: `capped tenant: handler runs (max-running ${CAPPED_MAX})`, value: cappedRuns },
        { label: "capped tenant: most handler runs at once, from the workers' logs", value: runMax },
        { label: `capped tenant: most leases at once in Redis (${leaseSamples} samples)`, value: leaseMax },
        {
          label: `steady tenant: tasks spilled to the overflow lane (spill-rate ${STEADY_SPILL_RATE})`,
          value: spilled,
        },
      );
      ctx.checks.push(
        { name: 'the workers were killed as planned', ok: kills.length === 2, kind: 'guarantee' },
        {
          name: `the capped tenant never ran more than ${CAPPED_MAX} tasks at once`,
          ok: runMax <= CAPPED_MAX && leaseMax <= CAPPED_MAX,
          kind: 'guarantee',
          detail: `${runMax} runs and ${leaseMax} leases at most`,
        },
        { name: 'the capped tenant ran tasks', ok: cappedRuns > 0 && runMax > 0, kind: 'guarantee' },
        // The ledger above covers them: every acknowledged task, in whichever lane, ran.
        { name: 'the steady tenant spilled tasks to the overflow lane', ok: spilled > 0, kind: 'guarantee' },
      );
      ctx.notes.push(
        `Workers take a lease in Redis before running a capped tenant's task (TENANT_LEASE_MS ${LEASE_MS}); a killed ` +
          "worker's leases lapse, so its places come back without a restart. Runs are counted from the workers' own " +
          'logs: a run cut short by a kill ends at the kill.',
      );
    },
  };
}
