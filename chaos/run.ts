/**
 * `npm run chaos [-- --only id,id] [--out FILE] [--quick] [--no-build]`: every fault scenario
 * against real processes and a private Kafka and Redis, then docs/reliability.md.
 * `npm run chaos -- --soak 10m [--out FILE]`: steady load alone for that long, with RSS over time.
 * Exits 1 when a guarantee check failed (the report is written either way).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as prettier from 'prettier';
import { ChaosCluster } from './cluster';
import { fullOptions, parseDuration, quickOptions, type ChaosOptions } from './options';
import {
  findings,
  renderReport,
  renderSoak,
  rssTable,
  summaryLine,
  type ChaosRun,
  type Environment,
} from './report';
import { runScenario, type ScenarioResult } from './scenario';
import { baselineScenario } from './scenarios/baseline';
import { allScenarios } from './scenarios/index';

const root = path.join(__dirname, '..');

interface Args {
  soakMs?: number;
  only?: string[];
  out?: string;
  quick: boolean;
  build: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, build: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--soak') args.soakMs = parseDuration(value());
    else if (arg === '--only') args.only = value().split(',');
    else if (arg === '--out') args.out = value();
    else if (arg === '--quick') args.quick = true;
    else if (arg === '--no-build') args.build = false;
    else
      throw new Error(`unknown option ${arg} (known: --soak D, --only ids, --out FILE, --quick, --no-build)`);
  }
  return args;
}

function describeEnvironment(): Environment {
  let kafka = 'unknown';
  try {
    const classpath = readFileSync(path.join(root, '.stack/kafka/classpath.txt'), 'utf8');
    kafka = /kafka_2\.\d+-([\d.]+)\.jar/.exec(classpath)?.[1] ?? 'unknown';
  } catch {
    // the private broker resolved its jars itself
  }
  let redis = 'unknown';
  try {
    redis =
      /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  } catch {
    // reported as unknown
  }
  return {
    cpus: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
    node: process.version,
    kafka,
    redis,
  };
}

async function writeMarkdown(file: string, text: string): Promise<void> {
  // Formatted as the repository's Prettier config wants, so `npm run lint` passes on the report.
  const config = await prettier.resolveConfig(path.resolve(file));
  writeFileSync(file, await prettier.format(text, { ...config, parser: 'markdown' }));
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const options: ChaosOptions = args.quick ? quickOptions() : fullOptions();
  if (args.build) {
    console.log('building dist/ (tsc -p tsconfig.build.json)');
    execFileSync(
      process.execPath,
      [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: root,
        stdio: 'inherit',
      },
    );
  }
  const startedAt = new Date();
  const environment = describeEnvironment();
  console.log('starting a private Kafka broker and redis-server');
  const cluster = await ChaosCluster.start();
  const dispose = () => cluster.dispose();
  process.once('SIGINT', () => void dispose().finally(() => process.exit(130)));
  const results: ScenarioResult[] = [];
  try {
    const scenarios = args.soakMs
      ? [baselineScenario(args.soakMs, 'soak')]
      : allScenarios(options).filter((s) => !args.only || args.only.includes(s.id));
    if (args.soakMs) options.rssEveryMs = Math.max(5000, Math.round(args.soakMs / 120));
    for (const scenario of scenarios) {
      console.log(`\n▶ ${scenario.id}: ${scenario.fault}`);
      const result = await runScenario(cluster, scenario, options);
      results.push(result);
      console.log(summaryLine(result));
    }
  } finally {
    await dispose();
  }
  const run: ChaosRun = {
    startedAt,
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    options,
    environment,
    results,
  };
  if (args.soakMs) {
    console.log(`\nRSS over time (MiB):\n${rssTable(results[0]!.rss)}`);
    if (args.out) await writeMarkdown(args.out, renderSoak(run));
  } else {
    const out = args.out ?? path.join(root, 'docs', 'reliability.md');
    await writeMarkdown(out, renderReport(run));
    console.log(`\nreport written to ${out}`);
  }
  const found = findings(results);
  for (const f of found)
    console.log(`FINDING ${f.scenario}: ${f.check.name}${f.check.detail ? ` (${f.check.detail})` : ''}`);
  return found.length > 0 || results.some((r) => r.error) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
