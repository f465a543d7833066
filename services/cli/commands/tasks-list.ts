import type { TaskEventData } from '../../shared/task-event-wire';
import { intOption } from '../args';
import { command, type Context } from '../command';
import { watchEvents, type ServerSentEvent } from '../event-stream';
import { EXIT, usageError, type ExitCode } from '../exit-codes';
import { table } from '../output';

/** A task as GET /v1/tasks lists it (docs/api.md). */
interface TaskSummary {
  id: string;
  type: string;
  tenant: string;
  status: string;
  attempts: number;
  createdAt: string;
  key: string | null;
  error: { name: string; message: string } | null;
}
interface TaskPage {
  items: TaskSummary[];
  nextCursor: string | null;
}

/** Filters both GET /v1/tasks and GET /v1/events take, as option → query parameter. */
const STREAM_FILTERS = { status: 'status', type: 'type', tenant: 'tenant', key: 'key', id: 'id' } as const;
/** Filters of the listing only: an event carries no createdAt or error to match them against. */
const LIST_FILTERS = { since: 'since', until: 'until', q: 'q' } as const;
/** How long --watch waits for its stream before listing anyway (it keeps trying meanwhile). */
const STREAM_OPEN_WAIT_MS = 5000;

export const tasksList = command({
  name: 'tasks list',
  summary: 'list tasks, newest first, filtered; --watch then follows their changes',
  usage: `spillway tasks list [--status S] [--type T] [--tenant T] [--key P] [--id P]
                   [--since ISO] [--until ISO] [--q TEXT] [--limit N] [--cursor C] [--all] [--watch]

      --status <s>     one status or a comma list (queued, scheduled, running, retrying,
                       waiting-children, succeeded, failed, cancelled)
      --type <t>       exactly this task type
      --tenant <t>     exactly this tenant (admin keys; another key may name only its own)
      --key <p>        ordering keys starting with this
      --id <p>         task ids starting with this
      --since <time>   created at or after this (ISO 8601 with its zone, or epoch ms)
      --until <time>   created before this
      --q <text>       this text in the error's name or message, any case
      --limit <n>      tasks to print, 1 to 200 (default 50); with --all, tasks per request
      --cursor <c>     go on where a previous list stopped (it prints the cursor)
      --all            every matching task
      --watch          then print a line per change of status of matching tasks, until
                       Ctrl-C; --since, --until and --q apply to the list only, so they are
                       refused with --watch

With --json: the list as one document {"items", "nextCursor"}; with --watch, then one event
per line (as GET /v1/events sends it). A dropped stream is opened again after the API's retry
delay, with a note on stderr: changes meanwhile are not printed.

Exit: 0 (Ctrl-C or SIGTERM ends --watch with 0), 3 API unreachable, 4 API error (422 names a
bad filter).`,
  options: {
    status: { type: 'string' },
    type: { type: 'string' },
    tenant: { type: 'string' },
    key: { type: 'string' },
    id: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    q: { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
    all: { type: 'boolean' },
    watch: { type: 'boolean' },
  },
  async run(ctx, { values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`);
    const limit = intOption(values.limit, 'limit', 1, 200) ?? 50;
    const streamQuery = queryOf(values, STREAM_FILTERS);
    if (values.watch) {
      const listOnly = Object.keys(LIST_FILTERS).filter((name) => values[name as keyof typeof LIST_FILTERS]);
      if (listOnly.length > 0) {
        throw usageError(
          `${listOnly.map((n) => `--${n}`).join(', ')} cannot be used with --watch: changes of status carry no creation time or error to match`,
        );
      }
    }
    const query = [...streamQuery, ...queryOf(values, LIST_FILTERS)];
    const list = () =>
      listTasks(ctx, query, { limit, all: values.all === true, cursor: values.cursor ?? null });
    if (!values.watch) return printList(ctx, await list(), query);
    return listAndWatch(ctx, { streamQuery, query }, list);
  },
});

function queryOf(values: Record<string, unknown>, names: Record<string, string>): string[] {
  return Object.entries(names).flatMap(([option, parameter]) => {
    const value = values[option];
    return typeof value === 'string' ? [`${parameter}=${encodeURIComponent(value)}`] : [];
  });
}

/**
 * Pages through GET /v1/tasks: every page with `all`, else until `limit` tasks are in hand. A
 * page may hold fewer tasks than asked and still have a next one (the API examines a bounded
 * number of records per request), so one request is not always one screenful.
 */
async function listTasks(
  ctx: Context,
  query: string[],
  options: { limit: number; all: boolean; cursor: string | null },
): Promise<TaskPage> {
  const items: TaskSummary[] = [];
  let cursor = options.cursor;
  do {
    const size = options.all ? options.limit : options.limit - items.length;
    const params = [...query, `limit=${size}`, ...(cursor ? [`cursor=${encodeURIComponent(cursor)}`] : [])];
    const page = await ctx.client.call<TaskPage>('GET', `/v1/tasks?${params.join('&')}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && (options.all || items.length < options.limit));
  return { items, nextCursor: cursor };
}

function printList(ctx: Context, page: TaskPage, query: string[]): ExitCode {
  if (ctx.out.json) {
    ctx.out.document(page);
    return EXIT.ok;
  }
  if (page.items.length === 0) ctx.out.note('no tasks');
  else {
    const rows = page.items.map((t) => [
      t.id,
      t.status,
      t.type,
      t.tenant,
      String(t.attempts),
      t.createdAt,
      t.key ?? '-',
      t.error ? `${t.error.name}: ${t.error.message}`.slice(0, 80) : '-',
    ]);
    const header = ['ID', 'STATUS', 'TYPE', 'TENANT', 'ATTEMPTS', 'CREATED', 'KEY', 'ERROR'];
    for (const line of table([header, ...rows])) ctx.out.line(line);
  }
  if (page.nextCursor) {
    const again = query.map((p) => {
      const [name, value] = p.split('=') as [string, string];
      return `--${name} ${shellWord(decodeURIComponent(value))}`;
    });
    ctx.out.note(
      `more: spillway tasks list ${[...again, `--cursor ${page.nextCursor}`].join(' ')} (or --all)`,
    );
  }
  return EXIT.ok;
}

/**
 * --watch: opens the stream first and lists once it is open, so no change falls between the
 * list and the first event (one may show in both); events that come while the list is read are
 * printed after it.
 */
async function listAndWatch(
  ctx: Context,
  { streamQuery, query }: { streamQuery: string[]; query: string[] },
  list: () => Promise<TaskPage>,
): Promise<ExitCode> {
  const signal = ctx.io.interrupts?.() ?? new AbortController().signal;
  const held: ServerSentEvent[] = [];
  let listed = false;
  const show = (event: ServerSentEvent) => {
    if (event.event !== 'task') return;
    if (!listed) held.push(event);
    else printEvent(ctx, event);
  };
  let opened: () => void = () => undefined;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const path = `/v1/events${streamQuery.length > 0 ? `?${streamQuery.join('&')}` : ''}`;
  const watching = watchEvents(ctx.client, path, {
    signal,
    onEvent: show,
    onOpen: () => opened(),
    onNote: (text) => ctx.out.note(text),
  });
  // A watch that fails at once (401, 403, 422) fails the command before anything is listed.
  let waited: NodeJS.Timeout | undefined;
  await Promise.race([
    open,
    watching,
    new Promise((resolve) => (waited = setTimeout(resolve, STREAM_OPEN_WAIT_MS))),
  ]).finally(() => clearTimeout(waited));
  printList(ctx, await list(), query);
  listed = true;
  for (const event of held.splice(0)) printEvent(ctx, event);
  if (!signal.aborted) ctx.out.note('watching for changes (Ctrl-C to stop)');
  await watching;
  return EXIT.ok;
}

function printEvent(ctx: Context, event: ServerSentEvent): void {
  if (ctx.out.json) {
    ctx.out.line(event.data);
    return;
  }
  const task = JSON.parse(event.data) as TaskEventData;
  // Lines come one by one, so no table: the status is padded to the usual statuses' width.
  const status = task.status.padEnd(9);
  ctx.out.line([task.at, task.id, status, task.type, task.tenant, task.key ?? '-'].join('  '));
}

/** A value as one shell word, for the "more:" hint. */
function shellWord(value: string): string {
  return /^[\w.,:@%+=/-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
