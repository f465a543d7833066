import { setTimeout as sleep } from 'node:timers/promises';
import type { ScenarioDefinition } from '../scenario';
import { seconds } from '../stats';

/**
 * Steady load and no fault: the figures every other scenario is read against, and, run for
 * minutes (`--soak`), a check that the processes' memory levels off.
 */
export function baselineScenario(durationMs: number, id = 'baseline'): ScenarioDefinition {
  return {
    id,
    title:
      id === 'soak'
        ? `Soak: steady load for ${seconds(durationMs / 1000)}`
        : 'Baseline: steady load, no fault',
    fault: 'none: two workers under the steady load',
    expectNoDuplicates: true,
    deployment: { workers: 2, concurrency: 8 },
    async inject(ctx) {
      await sleep(durationMs);
      ctx.mark('steady load done');
    },
    async verify(ctx, ledger) {
      const attempts = ctx.load.attempts();
      const accepted = attempts.filter((a) => a.status === 202).length;
      const names = [...new Set(ctx.rss().map((r) => r.name))];
      const growth = names.map((name) => {
        const own = ctx.rss().filter((r) => r.name === name);
        const peak = Math.max(...own.map((r) => r.mib));
        return `${name} ${own[0]!.mib.toFixed(0)} → ${own.at(-1)!.mib.toFixed(0)} (peak ${peak.toFixed(0)})`;
      });
      ctx.figures.push(
        { label: 'RSS in MiB, first → last sample (peak)', value: growth.join(', ') || 'n/a' },
        { label: 'answers other than 202', value: attempts.length - accepted },
        {
          label: 'every acknowledged task finished, after the load stopped',
          value: seconds(ledger.settleSeconds),
        },
      );
    },
  };
}
