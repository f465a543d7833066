import { secondsOption, intOption } from '../args';
import { ApiResponseError } from '../client';
import { command, forEachId, type Context } from '../command';
import { EXIT, usageError, type ExitCode } from '../exit-codes';
import { readLines } from '../input';
import { brief, table } from '../output';

/** A task record as GET /v1/tasks/:id returns it (docs/api.md). */
interface TaskRecord {
  id: string;
  type: string;
  status: string;
  attempts: number;
  createdAt: string;
  runAt?: string;
  startedAt: string | null;
  finishedAt: string | null;
  result: unknown;
  error: { name: string; message: string } | null;
  progress: unknown;
}

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);
/** The API caps one long-poll at 30 s; `wait` polls again until its own timeout. */
const LONG_POLL_SECONDS = 30;
const DEFAULT_WAIT_SECONDS = 300;

export const get = command({
  name: 'get',
  summary: 'show a task: status, attempts, result or error',
  usage: `spillway get <id>

Exit: 0 found, 3 API unreachable, 4 no such task (or another API error).`,
  options: {},
  async run(ctx, { positionals }) {
    const id = oneId(positionals, 'get');
    const task = await ctx.client.call<TaskRecord>('GET', `/v1/tasks/${encodeURIComponent(id)}`);
    if (ctx.out.json) ctx.out.document(task);
    else for (const line of describe(task)) ctx.out.line(line);
    return EXIT.ok;
  },
});

export const cancel = command({
  name: 'cancel',
  summary: 'cancel tasks: one not started never runs; a running one is signalled',
  usage: `spillway cancel <id>...

Exit: 0 all cancelled, 3 API unreachable, 4 a task already finished or does not exist.`,
  options: {},
  async run(ctx, { positionals }) {
    if (positionals.length === 0) throw usageError('give the id of the task to cancel');
    return forEachId(
      ctx,
      positionals,
      (id) => ctx.client.call<TaskRecord>('DELETE', `/v1/tasks/${encodeURIComponent(id)}`),
      (_id, task) => `${task.id}  ${task.status}`,
    );
  },
});

export const wait = command({
  name: 'wait',
  summary: 'wait until tasks finish (ids as arguments or lines on stdin)',
  usage: `spillway wait <id>... [--timeout <seconds>]
spillway submit --file tasks.jsonl | spillway wait

Long-polls each task (GET /v1/tasks/:id?wait=) until it succeeds, fails or is cancelled.
Prints one line per task (id, status, result or error); --json prints the records.

      --timeout <seconds>   give up after this long (default ${DEFAULT_WAIT_SECONDS}; 0: never)
      --concurrency <n>     tasks polled at once (default 32)

Exit: 0 all succeeded, 1 a task failed or was cancelled, 3 API unreachable, 4 a task does
not exist (or another API error), 5 the timeout passed first.`,
  options: { timeout: { type: 'string' }, concurrency: { type: 'string' } },
  async run(ctx, { values, positionals }) {
    const timeout = secondsOption(values.timeout, 'timeout') ?? DEFAULT_WAIT_SECONDS;
    const concurrency = intOption(values.concurrency, 'concurrency', 1, 1000) ?? 32;
    const ids =
      positionals.length > 0 || ctx.io.stdin.isTTY
        ? positionals
        : (await readLines('-', ctx.io)).map((l) => l.text.trim());
    if (ids.length === 0) throw usageError('give the ids of the tasks to wait for (or pipe them on stdin)');
    const deadline = timeout > 0 ? Date.now() + timeout * 1000 : Infinity;
    return waitFor(ctx, ids, deadline, concurrency);
  },
});

type Outcome = { task: TaskRecord } | { id: string; error: { code: string; message: string } };

async function waitFor(
  ctx: Context,
  ids: string[],
  deadline: number,
  concurrency: number,
): Promise<ExitCode> {
  const outcomes: Outcome[] = new Array(ids.length);
  const progress = ctx.out.progress(ids.length, 'waiting');
  let failed = 0;
  let next = 0;
  const poll = async () => {
    while (next < ids.length) {
      const index = next++;
      const outcome = await untilFinished(ctx, ids[index]!, deadline);
      outcomes[index] = outcome;
      if ('task' in outcome && ['failed', 'cancelled'].includes(outcome.task.status)) failed++;
      progress.advance(1, failed > 0 ? `${failed} failed` : undefined);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, poll));
  } finally {
    progress.done();
  }

  if (ctx.out.json) {
    ctx.out.document(outcomes.map((o) => ('task' in o ? o.task : o)));
  } else {
    const rows = outcomes.map((o) =>
      'task' in o
        ? [o.task.id, o.task.status, outcomeText(o.task)]
        : [o.id, 'error', `${o.error.code}: ${o.error.message}`],
    );
    for (const line of table(rows)) ctx.out.line(line);
  }
  const statuses = outcomes.map((o) => ('task' in o ? o.task.status : 'error'));
  if (statuses.includes('error')) return EXIT.apiError;
  if (statuses.some((s) => !FINISHED.has(s))) return EXIT.timeout;
  if (failed > 0) return EXIT.taskFailed;
  return EXIT.ok;
}

/** Long-polls one task until it finishes or the deadline passes; the last record either way. */
async function untilFinished(ctx: Context, id: string, deadline: number): Promise<Outcome> {
  const path = `/v1/tasks/${encodeURIComponent(id)}`;
  for (;;) {
    const left = (deadline - Date.now()) / 1000;
    const waitSeconds = Math.max(0, Math.min(LONG_POLL_SECONDS, left));
    let task: TaskRecord;
    try {
      task = await ctx.client.call<TaskRecord>('GET', `${path}?wait=${waitSeconds.toFixed(1)}`, {
        timeoutMs: (waitSeconds + 15) * 1000,
      });
    } catch (err) {
      if (!(err instanceof ApiResponseError) || err.status >= 500) throw err;
      return { id, error: { code: err.code, message: err.apiMessage } };
    }
    if (FINISHED.has(task.status) || Date.now() >= deadline - 50) return { task };
  }
}

function oneId(positionals: string[], name: string): string {
  if (positionals.length !== 1) throw usageError(`${name} takes one task id (got ${positionals.length})`);
  return positionals[0]!;
}

/** A task as aligned "field  value" lines. */
function describe(task: TaskRecord): string[] {
  const rows: [string, string][] = [
    ['id', task.id],
    ['type', task.type],
    ['status', task.status],
    ['attempts', String(task.attempts)],
    ['created', task.createdAt],
    ...(task.runAt ? [['run at', task.runAt] as [string, string]] : []),
    ['started', task.startedAt ?? '-'],
    ['finished', task.finishedAt ?? '-'],
    ['result', task.result === null ? '-' : JSON.stringify(task.result)],
    ['error', task.error ? `${task.error.name}: ${task.error.message}` : '-'],
    ...(task.progress !== null ? [['progress', JSON.stringify(task.progress)] as [string, string]] : []),
  ];
  return table(rows);
}

/** The result of a task that succeeded, the error of one that failed, "-" otherwise. */
function outcomeText(task: TaskRecord): string {
  if (task.error) return `${task.error.name}: ${task.error.message}`;
  return task.status === 'succeeded' ? brief(task.result) : '-';
}
