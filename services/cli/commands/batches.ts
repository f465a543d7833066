import { randomUUID } from 'node:crypto';
import { command, forEachId, type Context } from '../command';
import { EXIT, usageError } from '../exit-codes';
import { readLines } from '../input';
import { jsonArgument } from '../args';

/** The parts of GET /v1/batches/:id the CLI prints. */
interface BatchView {
  id: string;
  status: 'open' | 'sealed' | 'finished';
  total: number;
  done: number;
  counts: { succeeded: number; failed: number; cancelled: number };
  unsuccessful?: { ids: string[]; next?: string };
}

/** Children per request: the API's default BATCH_MAX_TASKS. */
const CHILDREN_PER_REQUEST = 1000;
/** The API caps one long-poll at 30 s; `batches show --wait` polls again until its own timeout. */
const LONG_POLL_SECONDS = 30;

const line = (b: BatchView) =>
  `${b.id}  ${b.status}  ${b.done}/${b.total}  succeeded ${b.counts.succeeded}  failed ${b.counts.failed}  cancelled ${b.counts.cancelled}`;

export const batchesCreate = command({
  name: 'batches create',
  summary: 'create a batch from JSON lines of tasks, sealed unless --open',
  usage: `spillway batches create --file tasks.jsonl [--callback-url <url>] [--on-complete <json>] [--open]

Creates a batch and adds the tasks of the file ("-" or a pipe: stdin), one JSON object per line,
${CHILDREN_PER_REQUEST} per request, then seals it (unless --open). Each request carries an
Idempotency-Key, so a retried run adds no child twice. Prints the batch id.

  -f, --file <path>          JSON lines of tasks ("-" for stdin)
      --callback-url <url>   receives the batch once, when it completes
      --on-complete <json>   a task submitted once, when it completes ({"type":"…","payload":…})
      --open                 leave it open for more children (seal later: spillway batches seal)

Exit: 0, 2 usage error, 3 API unreachable, 4 API error or a child rejected.`,
  options: {
    file: { type: 'string', short: 'f' },
    'callback-url': { type: 'string' },
    'on-complete': { type: 'string' },
    open: { type: 'boolean' },
  },
  async run(ctx, { positionals, values }) {
    if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`);
    const file = values.file ?? (ctx.io.stdin.isTTY ? undefined : '-');
    const tasks = file === undefined ? [] : await readTasks(ctx, file);
    const runId = `spillway-cli-${randomUUID()}`;
    const created = await ctx.client.call<{ batch: BatchView }>('POST', '/v1/batches', {
      headers: { 'idempotency-key': `${runId}:create` },
      json: {
        ...(values['callback-url'] !== undefined && { callbackUrl: values['callback-url'] }),
        ...(values['on-complete'] !== undefined && {
          onComplete: jsonArgument(values['on-complete'], '--on-complete'),
        }),
      },
    });
    const id = created.batch.id;
    let rejected = 0;
    for (let i = 0; i < tasks.length; i += CHILDREN_PER_REQUEST) {
      const added = await ctx.client.call<{ rejected: number }>('POST', `/v1/batches/${id}/tasks`, {
        headers: { 'idempotency-key': `${runId}:${i}` },
        json: { tasks: tasks.slice(i, i + CHILDREN_PER_REQUEST) },
      });
      rejected += added.rejected;
    }
    const batch = values.open
      ? created.batch
      : await ctx.client.call<BatchView>('POST', `/v1/batches/${id}/seal`);
    if (ctx.out.json) ctx.out.document({ ...batch, children: tasks.length, rejected });
    else ctx.out.line(id);
    if (rejected > 0) ctx.out.note(`${rejected} of ${tasks.length} children rejected`);
    return rejected > 0 ? EXIT.apiError : EXIT.ok;
  },
});

export const batchesShow = command({
  name: 'batches show',
  summary: 'a batch: status, counts, failed children; --wait until it finishes',
  usage: `spillway batches show <id> [--wait <seconds>]

Prints the batch's status and counts, and the ids of children that failed or were cancelled.
With --wait, long-polls until it finishes or the seconds pass.

Exit: 0 finished with every child succeeded (or not finished, without --wait), 1 finished with
a child failed or cancelled, 3 API unreachable, 4 API error (404 unknown batch), 5 --wait timed out.`,
  options: { wait: { type: 'string', short: 'w' } },
  async run(ctx, { positionals, values }) {
    if (positionals.length !== 1) throw usageError('give one batch id');
    const waitSeconds = values.wait === undefined ? 0 : Number(values.wait);
    if (!Number.isFinite(waitSeconds) || waitSeconds < 0)
      throw usageError('--wait takes seconds (a number ≥ 0)');
    const path = `/v1/batches/${encodeURIComponent(positionals[0]!)}`;
    const deadline = Date.now() + waitSeconds * 1000;
    let batch = await ctx.client.call<BatchView>('GET', path);
    while (batch.status !== 'finished' && Date.now() < deadline) {
      const seconds = Math.min(LONG_POLL_SECONDS, Math.ceil((deadline - Date.now()) / 1000));
      batch = await ctx.client.call<BatchView>('GET', `${path}?wait=${seconds}`);
    }
    if (ctx.out.json) ctx.out.document(batch);
    else {
      ctx.out.line(line(batch));
      for (const id of batch.unsuccessful?.ids ?? []) ctx.out.line(`  unsuccessful ${id}`);
    }
    if (batch.status !== 'finished') return waitSeconds > 0 ? EXIT.timeout : EXIT.ok;
    return batch.counts.failed + batch.counts.cancelled > 0 ? EXIT.taskFailed : EXIT.ok;
  },
});

const act = (verb: 'seal' | 'cancel') =>
  command({
    name: `batches ${verb}`,
    summary:
      verb === 'seal'
        ? 'seal batches: no more children; each completes once its children are terminal'
        : 'cancel batches: seal them and cancel every child not finished',
    usage: `spillway batches ${verb} <id>...

${verb === 'seal' ? 'Seals each batch (sealing twice changes nothing).' : 'Seals each batch and cancels its unfinished children; it completes once they are terminal.'}
Exit: 0, 3 API unreachable, 4 API error for any id (the others still run).`,
    options: {},
    async run(ctx, { positionals }) {
      if (positionals.length === 0) throw usageError('give the ids of the batches');
      return forEachId(
        ctx,
        positionals,
        (id) =>
          ctx.client.call<BatchView>(
            verb === 'seal' ? 'POST' : 'DELETE',
            `/v1/batches/${encodeURIComponent(id)}${verb === 'seal' ? '/seal' : ''}`,
          ),
        (_id, batch) => line(batch),
      );
    },
  });

export const batchesSeal = act('seal');
export const batchesCancel = act('cancel');

async function readTasks(ctx: Context, file: string): Promise<object[]> {
  const source = file === '-' ? 'stdin' : file;
  return (await readLines(file, ctx.io)).map(({ text, line: at }) => {
    const task = jsonArgument(text, `${source}:${at}`);
    if (typeof task !== 'object' || task === null || Array.isArray(task))
      throw usageError(`${source}:${at}: expected a JSON object such as {"type":"echo","payload":1}`);
    return task;
  });
}
