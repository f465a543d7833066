import { createInterface } from 'node:readline';
import type { DeadLetterReason } from '../../shared/dead-letter';
import type {
  BulkDiscardReport,
  BulkDryRunReport,
  BulkReplayReport,
  RebuildReport,
} from '../../shared/dead-letter-reports';
import { intOption } from '../args';
import { command, forEachId, type Context } from '../command';
import { EXIT, usageError, type ExitCode } from '../exit-codes';
import { table } from '../output';

/** A dead letter as GET /v1/dead-letters lists it (docs/api.md). */
interface DeadLetter {
  id: string;
  reason: string;
  deadAt: string;
  task: { id: string; type: string; payload: unknown; maxAttempts: number } | null;
  raw: string | null;
  error: { name: string; message: string };
  history: unknown[];
  replayedAs: string | null;
}
interface Page {
  items: DeadLetter[];
  nextCursor: string | null;
}

// A record, not a list: a new DeadLetterReason fails to compile until it is here (help text).
const REASONS = Object.keys({
  'attempts-exhausted': true,
  'non-retriable': true,
  'unknown-type': true,
  poison: true,
} satisfies Record<DeadLetterReason, true>);

const BULK_OPTIONS = {
  'all-matching': { type: 'boolean' },
  reason: { type: 'string' },
  type: { type: 'string' },
  tenant: { type: 'string' },
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
} as const;

type BulkValues = {
  [K in keyof typeof BULK_OPTIONS]?: (typeof BULK_OPTIONS)[K]['type'] extends 'string' ? string : boolean;
};

export const deadLettersList = command({
  name: 'dead-letters list',
  summary: 'list dead letters, newest first',
  usage: `spillway dead-letters list [--reason <r>] [--type <t>] [--limit <n>] [--cursor <c>] [--all]

      --reason <r>   only those given up on for this reason: ${REASONS.join(', ')}
      --type <t>     only tasks of this type
      --limit <n>    dead letters per page, 1 to 200 (default 50)
      --cursor <c>   the page after the one that printed this cursor
      --all          every page

A filtered page examines a bounded part of the list, so it may show fewer than --limit (even
none) and still print a cursor: --all follows it to the end.

Exit: 0, 3 API unreachable, 4 API error.`,
  options: {
    reason: { type: 'string' },
    type: { type: 'string' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
    all: { type: 'boolean' },
  },
  async run(ctx, { values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`);
    const limit = intOption(values.limit, 'limit', 1, 200) ?? 50;
    const filter = filterOf(values);
    const items: DeadLetter[] = [];
    let cursor = values.cursor ?? null;
    do {
      const query = new URLSearchParams({
        limit: String(limit),
        ...(filter.reason !== undefined && { reason: filter.reason }),
        ...(filter.type !== undefined && { type: filter.type }),
        ...(cursor && { cursor }),
      });
      const page = await ctx.client.call<Page>('GET', `/v1/dead-letters?${query}`);
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (values.all && cursor);

    if (ctx.out.json) {
      ctx.out.document({ items, nextCursor: cursor });
      return EXIT.ok;
    }
    if (items.length === 0) {
      ctx.out.note(cursor ? 'none on this page' : 'no dead letters');
      if (cursor) ctx.out.note(`more: spillway dead-letters list ${again(filter)}--cursor ${cursor}`);
      return EXIT.ok;
    }
    const rows = items.map((d) => [
      d.id,
      d.reason,
      d.deadAt,
      d.task?.type ?? '-',
      String(d.history.length),
      d.replayedAs ?? '-',
      `${d.error.name}: ${d.error.message}`.slice(0, 80),
    ]);
    for (const line of table([
      ['ID', 'REASON', 'DEAD AT', 'TYPE', 'ATTEMPTS', 'REPLAYED AS', 'ERROR'],
      ...rows,
    ])) {
      ctx.out.line(line);
    }
    if (cursor) ctx.out.note(`more: spillway dead-letters list ${again(filter)}--cursor ${cursor}`);
    return EXIT.ok;
  },
});

export const deadLettersReplay = command({
  name: 'dead-letters replay',
  summary: 'submit dead tasks again, each as a new task (at most once per dead letter)',
  usage: `spillway dead-letters replay <id>...
spillway dead-letters replay --all-matching [--reason <r>] [--type <t>] [--tenant <t>] [--dry-run] [--yes]

With ids, prints "<dead letter id>  <new task id>" per replay.

      --all-matching   every dead letter the filter matches (no filter: all the key may see)
      --reason <r>     only those given up on for this reason: ${REASONS.join(', ')}
      --type <t>       only tasks of this type
      --tenant <t>     only this tenant's (admin keys)
      --dry-run        print how many match, replay nothing
      --yes            do not ask: needed when stdin is not a terminal

Shows how many match and asks before replaying them. Running the same command again replays
only what is left: a replayed letter is never replayed twice.

Exit: 0 all replayed, 2 bad arguments (or --yes missing without a terminal), 3 API unreachable,
4 a dead letter was already replayed, is poison or does not exist, some of a bulk replay failed
(run it again), or another API error.`,
  options: BULK_OPTIONS,
  async run(ctx, { values, positionals }) {
    if (values['all-matching']) return bulk(ctx, 'replay', values, positionals);
    refuseBulkOptions(values);
    if (positionals.length === 0)
      throw usageError('give the id of the dead letter to replay, or --all-matching');
    return forEachId(
      ctx,
      positionals,
      (id) =>
        ctx.client.call<{ id: string; replayOf: string }>(
          'POST',
          `/v1/dead-letters/${encodeURIComponent(id)}/replay`,
        ),
      (id, task) => `${id}  ${task.id}`,
    );
  },
});

export const deadLettersDiscard = command({
  name: 'dead-letters discard',
  summary: 'forget dead letters (the dead-letter topic keeps its record)',
  usage: `spillway dead-letters discard <id>...
spillway dead-letters discard --all-matching [--reason <r>] [--type <t>] [--tenant <t>] [--dry-run] [--yes]

With ids, prints "<dead letter id>  discarded" per dead letter. A discarded letter leaves the
list for good: a rebuild from the topic does not bring it back.

      --all-matching   every dead letter the filter matches (no filter: all the key may see)
      --reason <r>     only those given up on for this reason: ${REASONS.join(', ')}
      --type <t>       only tasks of this type
      --tenant <t>     only this tenant's (admin keys)
      --dry-run        print how many match, discard nothing
      --yes            do not ask: needed when stdin is not a terminal

Exit: 0 all discarded, 2 bad arguments (or --yes missing without a terminal), 3 API unreachable,
4 a dead letter does not exist or is being replayed (or another API error).`,
  options: BULK_OPTIONS,
  async run(ctx, { values, positionals }) {
    if (values['all-matching']) return bulk(ctx, 'discard', values, positionals);
    refuseBulkOptions(values);
    if (positionals.length === 0)
      throw usageError('give the id of the dead letter to discard, or --all-matching');
    return forEachId(
      ctx,
      positionals,
      (id) => ctx.client.call<undefined>('DELETE', `/v1/dead-letters/${encodeURIComponent(id)}`),
      (id) => `${id}  discarded`,
    );
  },
});

export const deadLettersRebuild = command({
  name: 'dead-letters rebuild',
  summary: 'index the dead-letter topic into Redis again (after a Redis flush or move)',
  usage: `spillway dead-letters rebuild

Reads the queue's dead-letter topic to its end and indexes again every letter Redis lost that
is younger than DEAD_LETTER_TTL_SECONDS; letters Redis still has keep their replay state.

Exit: 0, 3 API unreachable, 4 API error (a rebuild already running: 409).`,
  options: {},
  async run(ctx, { positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`);
    const report = await ctx.client.call<RebuildReport>('POST', '/v1/dead-letters/rebuild');
    if (ctx.out.json) ctx.out.document(report);
    else {
      const discarded = report.discarded > 0 ? `, ${report.discarded} discarded` : '';
      ctx.out.line(
        `read ${report.read}: ${report.restored} restored, ${report.present} already indexed${discarded}, ${report.expired} expired, ${report.unreadable} unreadable`,
      );
    }
    return EXIT.ok;
  },
});

/** The `filter` of POST /v1/dead-letters/replay and /discard (docs/api.md). */
interface Filter {
  reason?: string;
  type?: string;
  tenant?: string;
}

/** A bulk action may take a while on a large set: the API works through it in chunks. */
const BULK_TIMEOUT_MS = 10 * 60_000;

function filterOf(values: Filter): Filter {
  if (values.reason !== undefined && !REASONS.includes(values.reason)) {
    throw usageError(`--reason "${values.reason}" is not valid: one of ${REASONS.join(', ')}`);
  }
  return {
    ...(values.reason !== undefined && { reason: values.reason }),
    ...(values.type !== undefined && { type: values.type }),
    ...(values.tenant !== undefined && { tenant: values.tenant }),
  };
}

/** The list's filter options, to repeat in the "more:" hint. */
function again(filter: Filter): string {
  return Object.entries(filter)
    .map(([name, value]) => `--${name} ${value} `)
    .join('');
}

/** Filter options mean nothing without --all-matching: refused, not silently ignored. */
function refuseBulkOptions(values: BulkValues): void {
  const given = (['reason', 'type', 'tenant', 'dry-run', 'yes'] as const).filter(
    (o) => values[o] !== undefined,
  );
  if (given.length > 0) throw usageError(`--${given[0]} goes with --all-matching`);
}

/**
 * A filtered replay or discard: counts what matches (a dry run), asks unless --yes, then acts.
 * What it acts on is what matches then; the answer says how many that was.
 */
async function bulk(
  ctx: Context,
  action: 'replay' | 'discard',
  values: BulkValues,
  positionals: string[],
): Promise<ExitCode> {
  if (positionals.length > 0) throw usageError('give ids or --all-matching, not both');
  const filter = filterOf(values);
  const path = `/v1/dead-letters/${action}`;
  const call = <T>(dryRun: boolean) =>
    ctx.client.call<T>('POST', path, { json: { filter, dryRun }, timeoutMs: BULK_TIMEOUT_MS });
  const { matched } = await call<BulkDryRunReport>(true);
  if (values['dry-run']) {
    if (ctx.out.json) ctx.out.document({ matched });
    else ctx.out.line(`${matched} dead letters match`);
    return EXIT.ok;
  }
  if (matched > 0 && !values.yes) {
    const question = `${action} ${matched} dead letters (${describeFilter(filter)})?`;
    if (!ctx.io.stdin.isTTY) {
      throw usageError(`${question} Not asked: stdin is not a terminal. Pass --yes to ${action} them.`);
    }
    if (!(await confirm(ctx, question))) {
      ctx.out.note(`nothing done`);
      return EXIT.ok;
    }
  }
  if (action === 'discard') {
    const report = await call<BulkDiscardReport>(false);
    if (ctx.out.json) ctx.out.document(report);
    else ctx.out.line(`discarded ${report.discarded} of ${report.matched} matched`);
    if (report.discarded === report.matched) return EXIT.ok;
    ctx.out.note(`${report.matched - report.discarded} were being replayed: run the command again`);
    return EXIT.apiError;
  }
  const report = await call<BulkReplayReport>(false);
  if (ctx.out.json) ctx.out.document(report);
  else {
    ctx.out.line(
      `replayed ${report.replayed} of ${report.matched} matched: ${report.alreadyReplayed} already replayed, ${report.notReplayable} not replayable (poison), ${report.failed} failed`,
    );
  }
  if (report.failed === 0) return EXIT.ok;
  ctx.out.note(`${report.failed} not replayed now: run the command again (nothing is replayed twice)`);
  return EXIT.apiError;
}

function describeFilter(filter: Filter): string {
  const parts = Object.entries(filter).map(([name, value]) => `${name} ${value}`);
  return parts.length > 0 ? parts.join(', ') : 'all the key may see';
}

/** Asks on stderr; only "y" or "yes" on the next line of stdin says yes. */
async function confirm(ctx: Context, question: string): Promise<boolean> {
  ctx.io.stderr.write(`${question} [y/N] `);
  const lines = createInterface({ input: ctx.io.stdin, crlfDelay: Infinity });
  try {
    for await (const line of lines) return /^y(es)?$/i.test(line.trim());
    return false;
  } finally {
    lines.close();
  }
}
