/** The report's fan-out section and headline; report.ts puts them in. */
import { fmt, ratio, table } from './markdown';
import type { FanoutRow } from './scenarios/fanout';
import { formatSummary } from './stats';

const row = (rows: FanoutRow[], system: string) => rows.find((r) => r.system === system);

/**
 * The table, the ratios, and how it was measured: the section is meant to read on its own (it
 * may be pasted from a `--only fanout` run beside a full run's sections).
 */
export function renderFanout(rows: FanoutRow[]): string {
  const children = rows[0]?.children ?? 0;
  const body = table(
    [
      'system',
      'children',
      'worker concurrency',
      'submission → completion notice ms',
      'spawn ms (ctx.spawn / flow.add)',
      'submission → parent handler start ms',
      'first child start → last child finish ms',
      'children tasks/s',
      'last child → notice ms',
      'children succeeded / spawned, all runs',
      'notices / runs',
    ],
    rows.map((r) => [
      r.system,
      fmt(r.children),
      String(r.concurrency),
      formatSummary(r.completionMs),
      formatSummary(r.spawnMs),
      r.parentStartMs ? formatSummary(r.parentStartMs) : 'after its children',
      formatSummary(r.childrenSpanMs),
      formatSummary(r.childrenPerSec),
      formatSummary(r.noticeAfterLastChildMs),
      `${r.succeeded} / ${r.spawned}`,
      `${r.notices} / ${r.runs}`,
    ]),
  );
  const sp = row(rows, 'spillway');
  const bull = row(rows, 'bullmq');
  const ratios =
    sp && bull
      ? `\n\n- Submission to completion: Spillway ${fmt(sp.completionMs.median)} ms, BullMQ ${fmt(bull.completionMs.median)} ms: ` +
        `Spillway takes ${ratio(sp.completionMs.median, bull.completionMs.median)} BullMQ's time.\n` +
        `- Children: Spillway ${fmt(sp.childrenPerSec.median)} tasks/s, ${ratio(sp.childrenPerSec.median, bull.childrenPerSec.median)} BullMQ's ` +
        `${fmt(bull.childrenPerSec.median)}.\n` +
        `- Creating the ${fmt(children)} children: Spillway's ctx.spawn ${fmt(sp.spawnMs.median)} ms, BullMQ's flow.add ` +
        `${fmt(bull.spawnMs.median)} ms (${ratio(sp.spawnMs.median, bull.spawnMs.median)}).`
      : '';
  return `${SHAPE(children)}\n\n${body}${ratios}`;
}

/** What runs, and how the two shapes differ: they are not the same work, and the report says so. */
const SHAPE = (children: number) =>
  `One parent, ${fmt(children)} no-op \`echo\` children, one worker process per system (concurrency 16), ` +
  `a fresh queue per run, the systems in turns run by run. **Spillway**: the parent is submitted with ` +
  `\`POST /v1/tasks\` and a \`callbackUrl\` (a real HTTP receiver in the bench process, on 127.0.0.1); ` +
  `its handler calls \`ctx.spawn(children, { wait: true })\` once, and the parent finishes once every ` +
  `child is terminal; completion is the callback's arrival. **BullMQ**: \`FlowProducer.add\` from the ` +
  `bench process declares the parent and its children up front in one call (no HTTP API in front); ` +
  `the children run first and the parent job last; completion is its \`completed\` event on ` +
  `\`QueueEvents\`. So Spillway's figure includes an HTTP submission, its parent handler's run and the ` +
  `spawn, and ends on an HTTP callback; BullMQ's includes the client's flow.add and ends on a Redis ` +
  `stream event. Spawn: the time of the one \`ctx.spawn\` call inside the handler (child ids, the ` +
  `batch's admission in Redis, Kafka, the queued records), against the client's \`flow.add\`. Children: ` +
  `from the first child's start to the last one's finish, as the records say (Spillway's ` +
  `\`startedAt\`/\`finishedAt\`, BullMQ's \`processedOn\`/\`finishedOn\`). Notices are counted until 1 s ` +
  `after the first; one per run is right.`;

export function fanoutHeadline(rows: FanoutRow[]): string[] {
  const sp = row(rows, 'spillway');
  const bull = row(rows, 'bullmq');
  if (!sp || !bull) return [];
  return [
    `fan-out 1 → ${fmt(sp.children)}: Spillway ${fmt(sp.completionMs.median)} ms from submission to the parent's callback, ` +
      `BullMQ's flow ${fmt(bull.completionMs.median)} ms (${ratio(sp.completionMs.median, bull.completionMs.median)} its time); ` +
      `ctx.spawn ${fmt(sp.spawnMs.median)} ms; children ${fmt(sp.childrenPerSec.median)} tasks/s, ` +
      `${ratio(sp.childrenPerSec.median, bull.childrenPerSec.median)} BullMQ`,
  ];
}
