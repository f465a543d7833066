/** The report's "CPU per task" section: what each process spent on a task, and what that allows. */
import { fmt, percent, ratio, table } from './markdown';
import { LOAD_GENERATOR, type CpuPerTask } from './cpu-time';
import type { DrainRow } from './scenarios/drain';
import type { EnqueueRow } from './scenarios/enqueue';

const STACK = ['Redis', 'Kafka broker'];

const total = (cpu: CpuPerTask) => Object.values(cpu).reduce((sum, us) => sum + us, 0);

/** Tasks/s the machine allows if every core did nothing but this: cores × 10⁶ µs / µs per task. */
const bound = (cpu: CpuPerTask, cores: number) => (total(cpu) > 0 ? (cores * 1e6) / total(cpu) : undefined);

const cell = (us: number | undefined) => (us === undefined ? 'n/a' : fmt(us));

function enqueueTable(rows: EnqueueRow[], cores: number): string {
  const processes = ['API', ...STACK, LOAD_GENERATOR];
  return table(
    [
      'system',
      'connections',
      ...processes.map((p) => `${p} µs`),
      'total µs',
      'CPU bound tasks/s',
      'measured tasks/s',
    ],
    rows.map((r) => [
      r.system,
      String(r.concurrency),
      ...processes.map((p) => cell(r.cpuPerTask[p])),
      fmt(total(r.cpuPerTask)),
      cell(bound(r.cpuPerTask, cores)),
      fmt(r.tasksPerSec.median),
    ]),
  );
}

function drainTable(rows: DrainRow[], cores: number): string {
  const processes = ['worker', ...STACK];
  return table(
    ['system', ...processes.map((p) => `${p} µs`), 'total µs', 'CPU bound tasks/s', 'measured tasks/s'],
    rows.map((r) => [
      r.system,
      ...processes.map((p) => cell(r.cpuPerTask[p])),
      fmt(total(r.cpuPerTask)),
      cell(bound(r.cpuPerTask, cores)),
      fmt(r.tasksPerSec.median),
    ]),
  );
}

/** What the CPU costs say about the targets: the ratios the cores allow beside the ratios measured. */
function findings(enqueue: EnqueueRow[], drain: DrainRow[], cores: number): string[] {
  const lines: string[] = [];
  const single = (s: string, c: number) =>
    enqueue.find((r) => r.endpoint === 'single' && r.system === s && r.concurrency === c);
  for (const c of [...new Set(enqueue.map((r) => r.concurrency))]) {
    const [sp, bare, bull] = ['spillway', 'bare', 'bullmq'].map((s) => single(s, c));
    if (!sp || !bare || !bull) continue;
    const api = (r: EnqueueRow) => r.cpuPerTask.API ?? 0;
    const apiCores = (r: EnqueueRow) => (api(r) * r.tasksPerSec.median) / 1e6;
    const ownLimit = [sp, bare, bull].every((r) => apiCores(r) >= 0.9);
    lines.push(
      `Single endpoint, ${c} connections: CPU per submission in all processes, Spillway ${fmt(total(sp.cpuPerTask))} µs, ` +
        `bare Express ${fmt(total(bare.cpuPerTask))}, BullMQ ${fmt(total(bull.cpuPerTask))}. With every core busy ` +
        `the rates would stand at ${ratio(bound(sp.cpuPerTask, cores), bound(bare.cpuPerTask, cores))} bare Express ` +
        `and ${ratio(bound(sp.cpuPerTask, cores), bound(bull.cpuPerTask, cores))} BullMQ; measured ` +
        `${ratio(sp.tasksPerSec.median, bare.tasksPerSec.median)} and ${ratio(sp.tasksPerSec.median, bull.tasksPerSec.median)}. ` +
        `The API processes were busy ${[sp, bare, bull].map((r) => apiCores(r).toFixed(2)).join(', ')} cores` +
        (ownLimit
          ? `, so each was its own limit and the rates follow the API's own CPU per submission: Spillway's ` +
            `${fmt(api(sp))} µs, bare Express' ${fmt(api(bare))}, BullMQ's ${fmt(api(bull))}. 0.9× bare Express ` +
            `would take at most ${fmt(api(bare) / 0.9)} µs in Spillway's API, 1.1× BullMQ at most ${fmt(api(bull) / 1.1)}.`
          : '.'),
    );
  }
  const [sp, bull] = ['spillway', 'bullmq'].map((s) => drain.find((r) => r.system === s));
  if (sp && bull) {
    const ofBound = (r: DrainRow) => r.tasksPerSec.median / (bound(r.cpuPerTask, cores) ?? Infinity);
    const busy = Math.max(ofBound(sp), ofBound(bull));
    const workerCores = (r: DrainRow) =>
      (((r.cpuPerTask.worker ?? 0) * r.tasksPerSec.median) / 1e6).toFixed(2);
    lines.push(
      `Drain: a task costs ${fmt(total(sp.cpuPerTask))} µs with Spillway against ${fmt(total(bull.cpuPerTask))} µs ` +
        `with BullMQ, of which the worker ${cell(sp.cpuPerTask.worker)} µs against ${cell(bull.cpuPerTask.worker)} µs ` +
        `(busy ${workerCores(sp)} and ${workerCores(bull)} cores). ` +
        `Spillway drained at ${percent(ofBound(sp))} of its CPU bound, BullMQ at ${percent(ofBound(bull))}` +
        (busy < 0.7
          ? `: neither kept the cores busy. With 16 tasks in flight each waits on its round trips to Redis, ` +
            `so the worker's own time per task (one thread) sets how soon a slot comes round again.`
          : '.'),
    );
  }
  return lines;
}

export function renderCpu(enqueue: EnqueueRow[], drain: DrainRow[], cores: number): string {
  const lines = findings(enqueue, drain, cores);
  return [
    `CPU time each process used during the measured runs (user and system, all threads, from \`/proc\`), divided ` +
      `by the tasks accepted or finished: µs per task, the median over runs. Every process shares the ` +
      `machine's ${cores} cores, so no system can go faster than its CPU bound, ${cores} × 10⁶ µs/s divided ` +
      `by its total. These figures move far less from run to run than the rates do.`,
    `### CPU per task: enqueue, single endpoint\n\n${enqueueTable(
      enqueue.filter((r) => r.endpoint === 'single'),
      cores,
    )}`,
    `### CPU per task: enqueue, batch endpoint\n\n${enqueueTable(
      enqueue.filter((r) => r.endpoint === 'batch'),
      cores,
    )}`,
    `### CPU per task: drain\n\n${drainTable(drain, cores)}`,
    ...(lines.length > 0 ? [lines.map((l) => `- ${l}`).join('\n')] : []),
  ].join('\n\n');
}
