/** `npm run bench [-- --quick] [--out FILE]`: every scenario, every system, one report. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import { describeMachine } from './machine';
import { parseOptions } from './options';
import { headlines, renderReport } from './report';
import { drainScenario } from './scenarios/drain';
import { enqueueScenario } from './scenarios/enqueue';
import { slowScenario } from './scenarios/slow';

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  const machine = await describeMachine();
  const enqueue = await enqueueScenario(options);
  const drain = await drainScenario(options);
  const slow = await slowScenario(options);
  const results = {
    machine,
    options,
    startedAt,
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    enqueue,
    drain,
    slow,
  };
  mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
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
