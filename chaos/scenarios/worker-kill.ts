import { setTimeout as sleep } from 'node:timers/promises';
import { metricSum } from '../metrics';
import { readRuns } from '../runs';
import { mediumTask, type ScenarioDefinition } from '../scenario';

/**
 * `kill -9` of one of three workers every few seconds, each replaced at once by a new process,
 * as a Deployment's ReplicaSet would. Tasks in flight on a killed worker stay `running` until
 * their partition's new owner runs them again: they may legitimately run twice.
 */
export function workerKillScenario(): ScenarioDefinition {
  const kills: { name: string; pid: number; inFlight: number }[] = [];
  return {
    id: 'worker-kill',
    title: '`kill -9` of a worker every few seconds',
    fault: 'three workers; every few seconds one of them is killed with SIGKILL and a new one started',
    expectNoDuplicates: false,
    // The broker's minimum session: a killed member's partitions move on after 6 s, not 30.
    deployment: { workers: 3, concurrency: 8, workerEnv: { KAFKA_SESSION_TIMEOUT_MS: '6000' } },
    task: mediumTask,
    async inject(ctx) {
      const { deployment, options } = ctx;
      const { durationMs, everyMs } = options.workerKill;
      const start = Date.now();
      for (let i = 1; i <= Math.floor(durationMs / everyMs); i++) {
        // On a fixed schedule: a slow step does not push the next kill back.
        await sleep(Math.max(0, start + i * everyMs - Date.now()));
        // The oldest worker: replacements get a few seconds to join before their turn comes.
        const victim = deployment.workers[0]!;
        const inFlight = await metricSum(victim.url, 'spillway_tasks_in_flight', {}, 1000);
        deployment.retire(victim);
        await victim.kill();
        kills.push({ name: victim.name, pid: victim.pid, inFlight });
        ctx.mark(
          `kill -9 ${victim.name} (partitions ${victim.partitions || 'none'}, ` +
            `${Number.isNaN(inFlight) ? '?' : inFlight} tasks in flight)`,
        );
        await deployment.startWorker();
      }
      const rejoinStarted = Date.now();
      await Promise.all(deployment.workers.map((w) => deployment.readyOrReplaced(w)));
      ctx.mark('every replacement ready');
      ctx.figures.push(
        { label: 'workers killed with SIGKILL', value: kills.length },
        {
          label: 'tasks in flight on the killed workers (sum)',
          value: kills.reduce((sum, k) => sum + (Number.isNaN(k.inFlight) ? 0 : k.inFlight), 0),
        },
        {
          label: 'last replacement ready after the last kill',
          value: `${((Date.now() - rejoinStarted) / 1000).toFixed(1)} s`,
        },
      );
    },
    async verify(ctx, ledger) {
      // Runs cut short by a kill: a `start` in a killed process without its `done` there.
      const killed = new Set(kills.map((k) => k.pid));
      let cut = 0;
      for (const events of readRuns(ctx.deployment.runsDir).values()) {
        for (const start of events.filter((e) => e.event === 'start' && killed.has(e.pid))) {
          if (!events.some((e) => e.event === 'done' && e.pid === start.pid && e.at >= start.at)) cut++;
        }
      }
      ctx.figures.push(
        { label: 'handler runs cut short by a kill', value: cut },
        {
          label: 'succeeded tasks whose handler finished twice (in flight at a kill)',
          value: ledger.duplicates,
        },
      );
      ctx.checks.push({
        name: 'the workers were killed as planned',
        ok: kills.length > 0,
        kind: 'guarantee',
      });
      ctx.notes.push(
        'A task whose handler finished on a worker that was killed before `succeeded` reached Redis runs again on the ' +
          "partition's next owner: at least once, as the README says. Such tasks are counted under duplicates; a re-run " +
          'of a task whose success had been recorded would be a broken guarantee and is counted separately.',
      );
    },
  };
}
