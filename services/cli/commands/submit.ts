import { randomUUID } from 'node:crypto';
import { intOption, jsonArgument, type Parsed } from '../args';
import { ApiResponseError, type ErrorDetail } from '../client';
import { command, type Context } from '../command';
import { EXIT, usageError, type ExitCode } from '../exit-codes';
import { isPriority } from '../../shared/lanes/priority';
import { TASK_LIMITS } from '../../shared/task-limits';
import { readLines } from '../input';

const OPTIONS = {
  file: { type: 'string', short: 'f' },
  key: { type: 'string' },
  priority: { type: 'string' },
  'delay-ms': { type: 'string' },
  'run-at': { type: 'string' },
  'max-attempts': { type: 'string' },
  'timeout-ms': { type: 'string' },
  'callback-url': { type: 'string' },
  'idempotency-key': { type: 'string' },
  'batch-size': { type: 'string' },
  retries: { type: 'string' },
} as const;

type Values = Parsed<typeof OPTIONS>['values'];
type Task = Record<string, unknown>;

interface Accepted {
  id: string;
  type: string;
  status: string;
  createdAt: string;
  runAt?: string;
}
interface Rejected {
  error: { code: string; message: string; details: ErrorDetail[] };
}
type Result = Accepted | Rejected;

/** Tasks per POST /v1/tasks/batch unless --batch-size says otherwise (the API takes up to BATCH_MAX_TASKS, 1000 by default). */
const DEFAULT_BATCH_SIZE = 500;
/** Batches in flight at once: one waits on Kafka while the next is sent. */
const BATCHES_IN_FLIGHT = 2;

export const submit = command({
  name: 'submit',
  summary: 'submit one task, or many from a file or stdin (JSON lines)',
  usage: `spillway submit <type> [<payload JSON>] [options]
spillway submit --file tasks.jsonl [options]     (or "-" / a pipe: JSON lines on stdin)

One task from arguments prints its id; many (one JSON task per line, e.g.
{"type":"echo","payload":{"a":1}}) go in batches and print one id per line, in input order.
The task options below apply to every task of a file that does not set them itself.

  -f, --file <path>          JSON lines to submit ("-" for stdin)
      --key <key>            partition key: tasks with one key run in order
      --priority <p>         high, normal (default) or low: how soon it should run
      --delay-ms <ms>        start no earlier than this from now
      --run-at <time>        start no earlier than this RFC 3339 time
      --max-attempts <n>     attempts before the task fails for good (API default 3)
      --timeout-ms <ms>      longest one attempt may run
      --callback-url <url>   receives the task record when it finishes
      --idempotency-key <k>  repeat safely: the API answers the first submission again
                             (for a file, batch i uses <k>:<i>; by default a random key)
      --batch-size <n>       tasks per batch request (default ${DEFAULT_BATCH_SIZE})
      --retries <n>          retries of a request answered 503 or 429 (default 5)

Exit: 0 all accepted, 2 bad input, 3 API unreachable, 4 a task rejected or an API error.`,
  options: OPTIONS,
  async run(ctx, { values, positionals }) {
    const defaults = taskOptions(values);
    const retries = intOption(values.retries, 'retries', 0, 100) ?? 5;
    const [type, payload, ...extra] = positionals;
    if (extra.length > 0) throw usageError(`unexpected arguments: ${extra.join(' ')} (quote the payload)`);
    if (type !== undefined) {
      if (values.file !== undefined) throw usageError('give a task type or --file, not both');
      const task = {
        type,
        ...(payload !== undefined && { payload: jsonArgument(payload, 'the payload') }),
        ...defaults,
      };
      return submitOne(ctx, task, values['idempotency-key'], retries);
    }
    const file = values.file ?? (ctx.io.stdin.isTTY ? undefined : '-');
    if (file === undefined) {
      throw usageError(
        `nothing to submit: give a task type (spillway submit echo '{"a":1}'), --file tasks.jsonl, or pipe JSON lines on stdin`,
      );
    }
    const batchSize = intOption(values['batch-size'], 'batch-size', 1, 10_000) ?? DEFAULT_BATCH_SIZE;
    return submitMany(ctx, file, defaults, { batchSize, retries, key: values['idempotency-key'] });
  },
});

function taskOptions(values: Values): Task {
  // The API's own bounds: a value it would refuse is a usage error before anything is sent.
  const delayMs = intOption(values['delay-ms'], 'delay-ms', 0, TASK_LIMITS.delayMs);
  const maxAttempts = intOption(values['max-attempts'], 'max-attempts', 1, TASK_LIMITS.maxAttempts);
  const timeoutMs = intOption(values['timeout-ms'], 'timeout-ms', 1, TASK_LIMITS.timeoutMs);
  if (values.priority !== undefined && !isPriority(values.priority))
    throw usageError(`--priority "${values.priority}" is not valid: high, normal or low`);
  // The API validates the rest (run-at's format, the URL) and names the field.
  return {
    ...(values.key !== undefined && { key: values.key }),
    ...(values.priority !== undefined && { priority: values.priority }),
    ...(delayMs !== undefined && { delayMs }),
    ...(values['run-at'] !== undefined && { runAt: values['run-at'] }),
    ...(maxAttempts !== undefined && { maxAttempts }),
    ...(timeoutMs !== undefined && { timeoutMs }),
    ...(values['callback-url'] !== undefined && { callbackUrl: values['callback-url'] }),
  };
}

async function submitOne(
  ctx: Context,
  task: Task,
  key: string | undefined,
  retries: number,
): Promise<ExitCode> {
  // Always keyed, so a retry after a 503 can never create a second task.
  const headers = { 'idempotency-key': key ?? `spillway-cli-${randomUUID()}` };
  const accepted = await ctx.client.callWithRetries<Accepted>(
    'POST',
    '/v1/tasks',
    { json: task, headers },
    retries,
  );
  if (ctx.out.json) ctx.out.document(accepted);
  else ctx.out.line(accepted.id);
  return EXIT.ok;
}

async function submitMany(
  ctx: Context,
  file: string,
  defaults: Task,
  options: { batchSize: number; retries: number; key: string | undefined },
): Promise<ExitCode> {
  const source = file === '-' ? 'stdin' : file;
  const lines = await readLines(file, ctx.io);
  const tasks = lines.map(({ text, line }) => {
    const task = jsonArgument(text, `${source}:${line}`);
    if (typeof task !== 'object' || task === null || Array.isArray(task)) {
      throw usageError(`${source}:${line}: expected a JSON object such as {"type":"echo","payload":1}`);
    }
    return { ...defaults, ...(task as Task) };
  });
  if (tasks.length === 0) throw usageError(`no tasks in ${source}: expected one JSON object per line`);

  const started = Date.now();
  const batches: Task[][] = [];
  for (let i = 0; i < tasks.length; i += options.batchSize)
    batches.push(tasks.slice(i, i + options.batchSize));
  const results: (Result[] | undefined)[] = batches.map(() => undefined);
  const runId = options.key ?? `spillway-cli-${randomUUID()}`;
  const progress = ctx.out.progress(tasks.length, 'submitting');
  let rejected = 0;
  let next = 0;
  let failure: unknown;
  const sendBatches = async () => {
    while (failure === undefined && next < batches.length) {
      const index = next++;
      try {
        results[index] = await sendBatch(ctx, batches[index]!, `${runId}:${index}`, options.retries);
      } catch (err) {
        failure ??= err;
        return;
      }
      const bad = results[index]!.filter((r) => 'error' in r).length;
      rejected += bad;
      progress.advance(batches[index]!.length, rejected > 0 ? `${rejected} rejected` : undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(BATCHES_IN_FLIGHT, batches.length) }, sendBatches));
  progress.done();

  // What was accepted is reported even when a later batch failed: those tasks will run.
  const done = results.flatMap((batch, b) =>
    (batch ?? []).map((result, i) => ({ result, line: lines[b * options.batchSize + i]!.line })),
  );
  const accepted = done.length - rejected;
  if (ctx.out.json) {
    ctx.out.document({
      accepted,
      rejected,
      results: done.map(({ result, line }) => ('error' in result ? { ...result, line } : result)),
      ...(failure !== undefined && { notSubmitted: tasks.length - done.length }),
    });
  } else {
    for (const { result, line } of done) {
      if ('error' in result) {
        const details = result.error.details
          .map((d) => `; ${d.field ? `${d.field}: ` : ''}${d.message}`)
          .join('');
        ctx.out.note(`${source}:${line}: rejected: ${result.error.code}: ${result.error.message}${details}`);
      } else {
        ctx.out.line(result.id);
      }
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    ctx.out.note(
      `submitted ${accepted} of ${tasks.length} tasks${rejected > 0 ? `, ${rejected} rejected` : ''} in ${seconds} s`,
    );
  }
  if (failure !== undefined) {
    if (done.length > 0) ctx.out.note(`${tasks.length - done.length} tasks were not submitted`);
    throw failure;
  }
  return rejected > 0 ? EXIT.apiError : EXIT.ok;
}

/** One batch; a batch with no valid task is a 422, which rejects each of its tasks in place. */
async function sendBatch(ctx: Context, tasks: Task[], key: string, retries: number): Promise<Result[]> {
  try {
    const answer = await ctx.client.callWithRetries<{ results: Result[] }>(
      'POST',
      '/v1/tasks/batch',
      { json: { tasks }, headers: { 'idempotency-key': key } },
      retries,
    );
    return answer.results.map((r) =>
      'error' in r ? { error: { ...r.error, details: r.error.details.map(inTask) } } : r,
    );
  } catch (err) {
    const perTask =
      err instanceof ApiResponseError &&
      err.status === 422 &&
      err.details.some((d) => d.field?.startsWith('tasks['));
    // Otherwise the request as a whole was refused (e.g. more tasks than BATCH_MAX_TASKS).
    if (!perTask) throw err;
    return tasks.map((_, i) => ({
      error: {
        code: err.code,
        message: 'the task is not valid',
        details: err.details.filter((d) => d.field?.startsWith(`tasks[${i}]`)).map(inTask),
      },
    }));
  }
}

/** A detail's field within its task ("type"), not within the batch ("tasks[200].type"): the line number says which task. */
function inTask(detail: ErrorDetail): ErrorDetail {
  return detail.field === undefined
    ? detail
    : { ...detail, field: detail.field.replace(/^tasks\[\d+\]\.?/, '') };
}
