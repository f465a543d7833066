import { readRuns } from '../runs';
import { mediumTask, type ScenarioDefinition } from '../scenario';
import { killFigures, killStorm, replacementsReady, runsCutShort, type Kill } from './kill-storm';

/**
 * `kill -9` of one of three workers every few seconds, each replaced at once by a new process,
 * as a Deployment's ReplicaSet would. Tasks in flight on a killed worker stay `running` until
 * their partition's new owner runs them again: they may legitimately run twice.
 */
export function workerKillScenario(): ScenarioDefinition {
  const kills: Kill[] = [];
  return {
    id: 'worker-kill',
    title: '`kill -9` of a worker every few seconds',
    fault: 'three workers; every few seconds one of them is killed with SIGKILL and a new one started',
    expectNoDuplicates: false,
    // The broker's minimum session: a killed member's partitions move on after 6 s, not 30.
    deployment: { workers: 3, concurrency: 8, workerEnv: { KAFKA_SESSION_TIMEOUT_MS: '6000' } },
    task: mediumTask,
    async inject(ctx) {
      await killStorm(ctx, kills);
      await replacementsReady(ctx, kills);
    },
    async verify(ctx, ledger) {
      ctx.figures.push(
        ...killFigures(runsCutShort(readRuns(ctx.deployment.runsDir), kills), ledger.duplicates),
      );
      ctx.checks.push({
        name: 'the workers were killed as planned',
        ok: kills.length > 0,
        kind: 'guarantee',
      });
      ctx.notes.push(KILL_NOTE);
    },
  };
}

/** Why a task may finish twice under kills, and what would be a broken guarantee instead. */
export const KILL_NOTE =
  'A task whose handler finished on a worker that was killed before `succeeded` reached Redis runs again on the ' +
  "partition's next owner: at least once, as the README says. Such tasks are counted under duplicates; a re-run " +
  'of a task whose success had been recorded would be a broken guarantee and is counted separately.';
