import type { ChaosOptions } from './options';
import type { RssSample } from './rss';
import type { Check, ScenarioResult } from './scenario';
import { RERUN_SLACK_MS } from './reconcile';
import { BATCH_CHECKS } from './scenarios/batch-ledger';

export interface Environment {
  cpus: string;
  cores: number;
  memoryGiB: number;
  loadAverage: string;
  node: string;
  kafka: string;
  redis: string;
}

export interface ChaosRun {
  startedAt: Date;
  seconds: number;
  options: ChaosOptions;
  environment: Environment;
  results: ScenarioResult[];
}

const table = (head: string[], rows: (string | number)[][]) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

const shorten = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** Markdown-safe cell text. */
const cell = (value: string | number) => String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');

const mark = (check: Check) => (check.ok ? 'pass' : check.kind === 'timing' ? 'over (timing)' : '**FAIL**');

function timeline(r: ScenarioResult): string {
  const t0 = r.timeline[0]?.at ?? r.startedAt.getTime();
  return r.timeline.map((e) => `+${((e.at - t0) / 1000).toFixed(1)} s ${e.event}`).join('; ');
}

/** One line per scenario for the console (and its timeline on a second). */
export function summaryLine(r: ScenarioResult): string {
  const l = r.ledger;
  const failed = r.checks.filter((c) => !c.ok);
  return (
    `${r.id}: ${r.seconds.toFixed(0)} s, ` +
    (l
      ? `acknowledged ${l.acknowledged}, terminal ${l.terminal}, lost ${l.lost}, executed twice ${l.duplicates}, ` +
        `re-run after success ${l.rerunsAfterSuccess}, backwards ${r.statuses?.backwards.length ?? '?'}, ` +
        `gave up ${l.gaveUp}, slowest answer ${r.figures.find((f) => f.label === 'slowest answer')?.value ?? '?'}`
      : 'no ledger') +
    (r.error ? `; ERROR ${r.error.split('\n')[0]}` : '') +
    (failed.length > 0
      ? `; not met: ${failed.map((c) => c.name + (c.detail ? ` (${c.detail})` : '')).join('; ')}`
      : '') +
    `\n  timeline: ${timeline(r)}`
  );
}

/**
 * What the suite found out about a failed check: the suspected cause, where in the services, and
 * a way out. Kept with the check names so a finding reads the same in every report.
 */
const EXPLANATIONS: Record<string, string> = {
  'one Idempotency-Key, one task on the topic':
    'A keyed submission was published under two different task ids. The ids of a keyed request derive ' +
    'from a seed stored with the key (`services/shared/redis/idempotency-store.ts`, `seededTaskId` in ' +
    '`services/shared/task-ids.ts`), and the seed is kept whenever the tasks may have reached Kafka: after a send ' +
    'Kafka never confirmed, and after a lease taken over from a dead API process. Look there first: a path ' +
    'that deletes the key although something may have been sent, or a submission that does not pass its seed on.',
  'no Idempotency-Key left claimed by a request that had already failed':
    'After Redis came back, keyed retries were refused with 409 `idempotency_request_in_progress` for a ' +
    'request that had long been answered 503. A claim whose `begin()` timed out at the client can still be ' +
    'applied once Redis answers; `respondIdempotently` (`services/api/idempotency.ts`) releases it with ' +
    '`releaseEventually`, retried until Redis answers. Look there first.',
  [BATCH_CHECKS.finished]:
    'The batch was sealed and its children were terminal, yet it never completed. It completes in the script ' +
    'call that counts its last child or seals it (`batch_settle` in `services/shared/redis/batch-script.ts`), ' +
    'when `done` reaches `total`: look for a child finished without `batch_child_finished` (a transition path ' +
    'in `services/shared/redis/transition-script.ts` that skips it), or a child counted into `total` that never ' +
    'reached Kafka and was not withdrawn (`unsent` in `services/api/submit.ts`).',
  [BATCH_CHECKS.records]:
    "The batch's counts disagree with its children's records: a child counted twice, or not at all. A child " +
    'is counted only in the call that moves its record to a finished status (`batch_child_finished` in ' +
    '`services/shared/redis/batch-script.ts`, called from `services/shared/redis/transition-script.ts`), and a ' +
    'finished record never changes again; look for a finish written outside that script.',
  [BATCH_CHECKS.callback]:
    "The batch's completion callback never arrived, or arrived under another Idempotency-Key or with other " +
    'counts. `batch_settle` writes one outbox entry per batch; `services/worker/callback-delivery.ts` sends it ' +
    'and records it, and `services/worker/callbacks.ts` sets `batch:<id>:completion` as the key. An entry a ' +
    'killed worker held is claimed after CALLBACK_CLAIM_IDLE_MS (`services/worker/callback-dispatcher.ts`).',
  [BATCH_CHECKS.onComplete]:
    "The batch's onComplete task did not run, ran under another id or twice without a kill to explain it, or " +
    'saw other counts. `services/worker/batches/completions.ts` publishes it from the batch-completions stream ' +
    'under `seededTaskId(batchSeed(id), "on-complete")`; a completion a killed worker held is claimed after ' +
    'CALLBACK_CLAIM_IDLE_MS and published again under the same id, which the workers run once.',
  'no worker left running with a dead consumer':
    "A worker's Kafka consumer crashed with an error kafkajs does not restart after (`restart: false`, for " +
    'example `KafkaJSGroupCoordinatorNotFound` on a busy broker), and the process did not exit. The CRASH ' +
    'listeners in `services/worker/worker.ts` and `services/worker/scheduler.ts` call `onConsumerLost`, ' +
    "which resolves the worker's `failed`, and `runService` (`services/shared/lifecycle.ts`) then stops the " +
    'worker and exits 1 so that Kubernetes restarts it. Look there first.',
};

/** Guarantee checks that failed, over all scenarios: the findings. */
export function findings(results: ScenarioResult[]): { scenario: string; check: Check }[] {
  return results.flatMap((r) =>
    r.checks.filter((c) => !c.ok && c.kind === 'guarantee').map((check) => ({ scenario: r.title, check })),
  );
}

/** One entry per failed check: what it means, then the evidence from each scenario where it failed. */
function findingsSection(found: { scenario: string; check: Check }[]): string {
  const names = [...new Set(found.map((f) => f.check.name))];
  return names
    .map((name, i) => {
      const evidence = found
        .filter((f) => f.check.name === name)
        .map((f) => `   - ${f.scenario}: ${cell(shorten(f.check.detail ?? 'see the scenario', 900))}`);
      return [`${i + 1}. **${name}.** ${EXPLANATIONS[name] ?? ''}`, '', '   Evidence:', '', ...evidence].join(
        '\n',
      );
    })
    .join('\n\n');
}

function summaryTable(results: ScenarioResult[]): string {
  return table(
    [
      'scenario',
      'acknowledged',
      'terminal',
      'lost',
      'succeeded, executed more than once',
      're-run after success',
      'statuses backwards',
      'checks',
    ],
    results.map((r) => {
      const l = r.ledger;
      const failed = r.checks.filter((c) => !c.ok && c.kind === 'guarantee').length;
      return [
        cell(r.title),
        l?.acknowledged ?? 'n/a',
        l?.terminal ?? 'n/a',
        l ? (l.lost === 0 ? '0' : `**${l.lost}**`) : 'n/a',
        l ? `${l.duplicates}${r.expectNoDuplicates && l.duplicates > 0 ? ' **(unexpected)**' : ''}` : 'n/a',
        l?.rerunsAfterSuccess ?? 'n/a',
        r.statuses?.backwards.length ?? 'n/a',
        r.error
          ? '**did not finish**'
          : failed === 0
            ? `all ${r.checks.length} pass`
            : `**${failed} failed**`,
      ];
    }),
  );
}

function ledgerTable(r: ScenarioResult): string {
  const l = r.ledger;
  if (!l) return '_No ledger: the scenario did not get that far._';
  const s = r.statuses;
  return table(
    ['ledger', 'value'],
    [
      ['submissions started by clients', l.submissions],
      ['acknowledged (distinct ids clients received in a 2xx)', l.acknowledged],
      ['gave up (never acknowledged; not owed)', l.gaveUp],
      ['terminal (succeeded / failed)', `${l.terminal} (${l.succeeded} / ${l.failed})`],
      ['lost (acknowledged, not finished)', l.lost],
      ['acknowledged but not on the tasks topic', l.notOnTopic],
      ['on the topic, id never given to a client', l.unacknowledgedOnTopic],
      [
        'submissions that became two tasks (of them keyed)',
        `${l.submissionsWithSeveralTasks} (${l.keyedSubmissionsWithSeveralTasks})`,
      ],
      ['submissions given two different ids', l.submissionsWithSeveralIds],
      ['handler completions (all tasks)', l.handlerCompletions],
      ['succeeded tasks executed more than once', l.duplicates],
      [`handler started > ${RERUN_SLACK_MS / 1000} s after the recorded success`, l.rerunsAfterSuccess],
      ['finished last', l.lastFinished.join('; ') || 'n/a'],
      [
        'status samples: tasks / rounds (skipped) / changes / backwards',
        s ? `${s.tracked} / ${s.rounds} (${s.failedRounds}) / ${s.changes} / ${s.backwards.length}` : 'n/a',
      ],
    ].map(([k, v]) => [cell(k!), cell(v!)]),
  );
}

function rssPeaks(samples: RssSample[]): string {
  const peak = (service: 'api' | 'worker') =>
    Math.max(0, ...samples.filter((s) => s.service === service).map((s) => s.mib));
  return samples.length === 0
    ? 'n/a'
    : `API ${peak('api').toFixed(0)} MiB, worker ${peak('worker').toFixed(0)} MiB`;
}

function scenarioSection(r: ScenarioResult, index: number): string {
  const parts = [
    `### ${index}. ${r.title}`,
    `**Fault:** ${r.fault}. Queue \`${r.queue}\`, ${r.seconds.toFixed(0)} s in all, peak RSS ${rssPeaks(r.rss)}.`,
    r.error ? `**The scenario did not run to its end:** \`${cell(r.error.split('\n')[0]!)}\`` : '',
    ledgerTable(r),
    r.figures.length > 0
      ? table(
          ['figure', 'value'],
          r.figures.map((f) => [cell(f.label), cell(f.value)]),
        )
      : '',
    table(
      ['check', 'result'],
      // Details are cut here; the Findings section quotes more of a failed check's.
      r.checks.map((c) => [cell(c.name + (c.detail ? ` (${shorten(c.detail, 240)})` : '')), mark(c)]),
    ),
    `Timeline (from the start of the load): ${timeline(r)}.`,
    ...r.notes,
    r.errorLines.length > 0
      ? `Error-level log messages of the services (numbers blanked):\n\n${r.errorLines
          .slice(0, 12)
          .map((line) => `- ${cell(line)}`)
          .join('\n')}`
      : '',
  ];
  return parts.filter(Boolean).join('\n\n');
}

/** RSS over time for a soak: one row per interval, one column per process. */
export function rssTable(samples: RssSample[], rows = 12): string {
  if (samples.length === 0) return '_No samples._';
  const t0 = samples[0]!.at;
  const span = samples.at(-1)!.at - t0;
  const names = [...new Set(samples.map((s) => s.name))];
  const step = Math.max(1, span / rows);
  const out: (string | number)[][] = [];
  for (let i = 0; i <= rows; i++) {
    const at = t0 + i * step;
    // The sample of each process closest to this time.
    const row = names.map((name) => {
      const own = samples.filter((s) => s.name === name);
      const near = own.reduce<RssSample | undefined>(
        (best, s) => (!best || Math.abs(s.at - at) < Math.abs(best.at - at) ? s : best),
        undefined,
      );
      return near && Math.abs(near.at - at) <= step ? near.mib.toFixed(0) : '';
    });
    const elapsed =
      span < 180_000 ? `+${Math.round((at - t0) / 1000)} s` : `+${((at - t0) / 60_000).toFixed(1)} min`;
    out.push([elapsed, ...row]);
    if (span === 0) break;
  }
  return table(['elapsed', ...names.map((n) => `${n} RSS (MiB)`)], out);
}

function limitations(run: ChaosRun): string[] {
  const derived = run.results.flatMap((r) => [
    ...(r.error
      ? [
          `**${r.title}** did not run to its end (${r.error.split('\n')[0]}), so its guarantees are not shown by this run.`,
        ]
      : []),
    ...r.checks
      .filter((c) => !c.ok)
      .map((c) =>
        c.kind === 'timing'
          ? `**${r.title}**: "${c.name}" was not met in this run (${c.detail ?? 'see the figures'}). The bound is a ` +
            'timing one, measured on a shared two-core machine: the figure is reported, not claimed.'
          : `**${r.title}**: "${c.name}" failed in this run: see Findings.`,
      ),
  ]);
  return [
    ...derived,
    'Exactly-once execution of handlers is not a guarantee and is not shown: a task whose handler was in flight ' +
      'when its worker died or lost its partition can run twice (the "executed more than once" column). What is ' +
      'shown is the narrower promise: a task whose success was recorded is not run again. That check compares ' +
      `timestamps on one machine with ${RERUN_SLACK_MS / 1000} s of slack, so a re-run within ${RERUN_SLACK_MS / 1000} s ` +
      'of the recorded success would go unnoticed.',
    '"Lost" means "acknowledged and not finished within the settle time" ' +
      `(${run.options.settleMs / 1000} s after the load stopped); a task slower than that would count as lost.`,
    'Faults are process-level only: one broker and one Redis, stopped or killed. Broker failover with replicas, ' +
      'network partitions, packet loss, slow disks and clock skew are not exercised (one machine, no privileges ' +
      'for tc/iptables, one broker).',
    'Kafka is stopped cleanly (SIGTERM, as `stack.sh down` does). A broker killed with SIGKILL or a machine crash ' +
      '(unflushed log segments on a single replica) is not shown.',
    'Redis is killed with SIGKILL but its append-only file is written with `appendfsync no`: acknowledged writes ' +
      'survive a process kill (they are in the kernel), not a machine crash, which is not shown.',
    'Only `counted` tasks (a sleep) make up the steady load. Delayed tasks, retries, cancellations, callbacks ' +
      'and batches are exercised only in the scenarios built around them (the Kafka outage with delayed tasks, ' +
      'the Redis outage with retries, the hanging callback receiver, the batch during a kill storm), each under ' +
      "that scenario's fault alone: a task's own callback under a worker kill, for one, is not shown.",
    'One API process and one queue per scenario; several API replicas behind a load balancer, and several ' +
      'queues sharing a broker under faults, are not exercised.',
    'An Idempotency-Key claimed by an API process that is killed answers 409 "in progress" until its lease ' +
      'runs out (PUBLISH_TIMEOUT_MS + 10 s); clients must retry 409 for at least that long.',
    `Durations are from a shared two-core machine (other jobs ran beside the suite, at load averages ` +
      `up to about 12); they say as much about the neighbours as about Spillway. The rate was ` +
      `${run.options.ratePerSec} submissions/s.`,
  ];
}

export function renderReport(run: ChaosRun): string {
  const found = findings(run.results);
  const env = run.environment;
  return [
    '# Reliability under faults',
    `Generated by \`npm run chaos\` (\`chaos/\`) on ${run.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC; ` +
      `the run took ${(run.seconds / 60).toFixed(1)} minutes. Each scenario starts its own Spillway (the compiled API ` +
      'and workers as separate processes, with the handlers of `tests/fixtures/chaos-handlers.js`) on its own queue, ' +
      'against a private Kafka broker and a private redis-server the suite starts for itself, puts a steady load on ' +
      `it (${run.options.ratePerSec} submissions/s from clients that retry 503s with an Idempotency-Key; in the Redis outage half of them send none), injects ` +
      'its fault, and ends with a reconciliation of what clients were promised against what happened.',
    `Machine: ${env.cores} × ${env.cpus}, ${env.memoryGiB} GiB, load average ${env.loadAverage} at the start ` +
      `(**shared**: other jobs ran on it during the run); Node ${env.node}, Kafka ${env.kafka}, Redis ${env.redis}.`,
    '## Summary',
    summaryTable(run.results),
    '- **acknowledged**: distinct task ids that clients received in a 202 (or a 200 replay of one).\n' +
      '- **terminal**: acknowledged tasks whose record is `succeeded`, `failed` or `cancelled` at the end.\n' +
      '- **lost**: acknowledged tasks not terminal within the settle time. Must be 0.\n' +
      '- **succeeded, executed more than once**: succeeded tasks whose handler ran to completion more than once ' +
      '(counted by the handlers fixture in a file per worker process, so it survives `kill -9` and does not need ' +
      'Redis). Allowed by the README only for attempts in flight when a worker died or lost its partition.\n' +
      `- **re-run after success**: tasks whose handler started more than ${RERUN_SLACK_MS / 1000} s after their ` +
      'success was recorded: the README promises none.\n' +
      '- **statuses backwards**: status changes, sampled from Redis every 250 ms, that moved a task backwards ' +
      '(queued < running < retrying < finished within an attempt; attempts never decrease; finished never changes).',
    '## Findings',
    found.length === 0 ? 'None: every guarantee check passed in this run.' : findingsSection(found),
    '## Scenarios',
    ...run.results.map((r, i) => scenarioSection(r, i + 1)),
    '## Soak',
    'The baseline above is a short soak. For a long one, `npm run chaos -- --soak 10m` runs the steady load alone for ' +
      'the duration and prints the API and worker RSS over time (sampled from `/proc/<pid>/status`), with the ' +
      'same reconciliation; `--out FILE` writes that report to a file.',
    run.results.find((r) => r.id === 'baseline')
      ? rssTable(run.results.find((r) => r.id === 'baseline')!.rss, 6)
      : '',
    '## Known limitations',
    limitations(run)
      .map((l) => `- ${l}`)
      .join('\n'),
  ]
    .filter(Boolean)
    .join('\n\n')
    .concat('\n');
}

/** The soak's own report: the ledger, the checks and RSS over time. */
export function renderSoak(run: ChaosRun): string {
  const r = run.results[0]!;
  return [
    `# ${r.title}`,
    `Generated by \`npm run chaos -- --soak\` on ${run.startedAt.toISOString()}; ${run.options.ratePerSec} submissions/s. ` +
      `Machine: ${run.environment.cores} × ${run.environment.cpus} (shared).`,
    scenarioSection(r, 1),
    '## RSS over time',
    rssTable(r.rss),
  ]
    .join('\n\n')
    .concat('\n');
}
