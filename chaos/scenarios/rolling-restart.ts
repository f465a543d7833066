import { setTimeout as sleep } from 'node:timers/promises';
import { readRuns } from '../runs';
import { countedTask, type ScenarioDefinition } from '../scenario';
import type { ChaosOptions } from '../options';
import { max, seconds } from '../stats';

/** One task in this many runs long: some are still running when their worker gets SIGTERM. */
const LONG_EVERY = 50;

/**
 * A rolling restart, as `kubectl rollout restart` does it: for each worker in turn, a new one
 * starts and becomes ready, then the old one gets SIGTERM and drains. Tasks running at the
 * SIGTERM finish within SHUTDOWN_TIMEOUT_MS or are interrupted and delivered again.
 */
export function rollingRestartScenario(options: ChaosOptions): ScenarioDefinition {
  const [longMin, longMax] = options.rolling.longTaskMs;
  const stops: { name: string; pid: number; code: number | null; signal: string | null; seconds: number }[] =
    [];
  return {
    id: 'rolling-restart',
    title: 'Rolling restart of the workers (SIGTERM)',
    fault: `each of ${options.rolling.workers} workers in turn: a replacement starts and gets ready, then the old one gets SIGTERM`,
    expectNoDuplicates: false,
    deployment: {
      workers: options.rolling.workers,
      concurrency: 8,
      workerEnv: { SHUTDOWN_TIMEOUT_MS: String(options.rolling.shutdownTimeoutMs) },
    },
    task: (seq, tag) =>
      seq % LONG_EVERY === 0
        ? { type: 'counted', payload: { ms: longMin + ((seq * 7919) % (longMax - longMin)), tag } }
        : countedTask(seq, tag),
    async inject(ctx) {
      const { deployment } = ctx;
      for (const old of [...deployment.workers]) {
        const replacement = await deployment.startWorker();
        await deployment.readyOrReplaced(replacement);
        deployment.retire(old);
        const started = Date.now();
        ctx.mark(`SIGTERM ${old.name}`);
        const { code, signal } = await old.terminate();
        stops.push({ name: old.name, pid: old.pid, code, signal, seconds: (Date.now() - started) / 1000 });
        ctx.mark(`${old.name} exited (${code ?? signal})`);
        await sleep(1000);
      }
    },
    async verify(ctx, ledger) {
      const stopped = new Set(stops.map((s) => s.pid));
      const runs = readRuns(ctx.deployment.runsDir);
      // Interrupted: started in a worker that was shut down, never finished there.
      let interrupted = 0;
      const interruptedTasks = new Set<string>();
      const finishedLater = new Set<string>();
      for (const [id, events] of runs) {
        for (const start of events) {
          if (start.event !== 'start' || !stopped.has(start.pid)) continue;
          if (events.some((d) => d.event === 'done' && d.pid === start.pid && d.at >= start.at)) continue;
          interrupted++;
          interruptedTasks.add(id);
          if (events.some((d) => d.event === 'done' && d.at > start.at)) finishedLater.add(id);
        }
      }
      ctx.figures.push(
        {
          label: 'workers shut down (exit code, drain time)',
          value: stops.map((s) => `${s.name} ${s.code ?? s.signal} in ${s.seconds.toFixed(1)} s`).join(', '),
        },
        { label: 'longest drain', value: seconds(max(stops.map((s) => s.seconds))) },
        { label: 'handler runs interrupted by a shutdown', value: interrupted },
        {
          label: 'of those tasks, finished later by another worker',
          value: `${finishedLater.size} of ${interruptedTasks.size}`,
        },
        { label: 'succeeded tasks whose handler finished twice', value: ledger.duplicates },
        {
          label: 'every acknowledged task finished, after the load stopped',
          value: seconds(ledger.settleSeconds),
        },
      );
      ctx.checks.push(
        {
          name: 'every worker exited 0 on SIGTERM',
          ok: stops.length > 0 && stops.every((s) => s.code === 0),
          kind: 'guarantee',
          detail: stops.map((s) => `${s.name}: ${s.code ?? s.signal}`).join(', '),
        },
        {
          name: 'every interrupted task finished elsewhere',
          ok: finishedLater.size === interruptedTasks.size,
          kind: 'guarantee',
        },
        {
          name: `every drain within SHUTDOWN_TIMEOUT_MS + 5 s`,
          ok: stops.every((s) => s.seconds <= options.rolling.shutdownTimeoutMs / 1000 + 5),
          kind: 'timing',
        },
      );
      ctx.notes.push(
        `${100 / LONG_EVERY}% of the tasks took ${longMin}-${longMax} ms, against SHUTDOWN_TIMEOUT_MS=` +
          `${options.rolling.shutdownTimeoutMs}: some finish within the drain, the others are interrupted and run ` +
          "again on another worker. A rebalance can also hand a surviving worker's partition to another while a " +
          'task of it runs; that task may then finish twice (counted under duplicates), which the README allows.',
      );
    },
  };
}
