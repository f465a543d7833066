/** `npm run bench [-- --quick] [--out FILE] [--only a,b]`: every scenario, every system, one report. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import { describeMachine } from './machine';
import { parseOptions, type BenchOptions, type ScenarioName } from './options';
import { writePlots } from './plots';
import { headlines, renderReport, type Results } from './report';
import { burstScenario } from './scenarios/burst';
import { ceilingsScenario } from './scenarios/ceilings';
import { drainScenario } from './scenarios/drain';
import { E2E_SYSTEMS, e2eScenario, type E2eSystem } from './scenarios/e2e';
import { enqueueScenario, maxSingleRate, measureSingleRate, type EnqueueRow } from './scenarios/enqueue';
import { fanoutScenario } from './scenarios/fanout';
import { listingScenario } from './scenarios/listing';
import { noisyScenario } from './scenarios/noisy';
import { priorityScenario } from './scenarios/priority';
import { profilesScenario } from './scenarios/profiles';
import { scaleOutScenario } from './scenarios/scaleout';
import { slowScenario } from './scenarios/slow';
import { upkeepScenario } from './scenarios/upkeep';

/** Half of each system's best enqueue rate of this run; measured briefly when enqueue did not run. */
async function maxRates(options: BenchOptions, enqueue: EnqueueRow[]): Promise<Record<E2eSystem, number>> {
  const rates = {} as Record<E2eSystem, number>;
  for (const system of E2E_SYSTEMS) {
    rates[system] =
      maxSingleRate(enqueue, system) ?? (await measureSingleRate(system, options.quick ? 1 : 3));
  }
  return rates;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  const machine = await describeMachine();
  const runs = (name: ScenarioName) => options.scenarios.includes(name);
  const timed = async <T>(name: ScenarioName, scenario: () => Promise<T>, none: T): Promise<T> => {
    if (!runs(name)) return none;
    const started = performance.now();
    const result = await scenario();
    console.log(`-- ${name} took ${Math.round((performance.now() - started) / 1000)} s`);
    return result;
  };
  const enqueue = await timed('enqueue', () => enqueueScenario(options), []);
  const drain = await timed('drain', () => drainScenario(options), []);
  const slow = await timed('slow', () => slowScenario(options), []);
  const e2e = await timed('e2e', async () => e2eScenario(options, await maxRates(options, enqueue)), []);
  const priority = await timed('priority', () => priorityScenario(options), []);
  const noisy = await timed('noisy', () => noisyScenario(options), []);
  const burst = await timed('burst', () => burstScenario(options), []);
  const scaleOut = await timed('scaleout', () => scaleOutScenario(options), []);
  const fanout = await timed('fanout', () => fanoutScenario(options), []);
  const listing = await timed('listing', () => listingScenario(options), undefined);
  const upkeep = await timed('upkeep', () => upkeepScenario(options), undefined);
  const ceilings = await timed('ceilings', () => ceilingsScenario(options), undefined);
  const profiles = await timed('profiles', () => profilesScenario(options), undefined);

  mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
  const plots = writePlots(options.out, {
    concurrencies: options.concurrencies,
    enqueue,
    e2e,
    scaleOut,
    noisy,
  });
  const results: Results = {
    machine,
    options,
    startedAt,
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    enqueue,
    drain,
    slow,
    e2e,
    priority,
    noisy,
    burst,
    scaleOut,
    fanout,
    listing,
    upkeep,
    ceilings,
    profiles,
    plots,
  };
  // Formatted as the repository's Prettier config wants, so `npm run lint` passes on the report.
  const config = await prettier.resolveConfig(path.resolve('docs/benchmarks.md'));
  writeFileSync(options.out, await prettier.format(renderReport(results), { ...config, parser: 'markdown' }));
  console.log(`\nreport written to ${options.out}`);
  for (const line of headlines(results)) console.log(line);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
