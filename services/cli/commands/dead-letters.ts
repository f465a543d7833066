import { intOption } from '../args';
import { command, forEachId } from '../command';
import { EXIT, usageError } from '../exit-codes';
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

export const deadLettersList = command({
  name: 'dead-letters list',
  summary: 'list dead letters, newest first',
  usage: `spillway dead-letters list [--limit <n>] [--cursor <c>] [--all]

      --limit <n>    dead letters per page, 1 to 200 (default 50)
      --cursor <c>   the page after the one that printed this cursor
      --all          every page

Exit: 0, 3 API unreachable, 4 API error.`,
  options: { limit: { type: 'string' }, cursor: { type: 'string' }, all: { type: 'boolean' } },
  async run(ctx, { values, positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`);
    const limit = intOption(values.limit, 'limit', 1, 200) ?? 50;
    const items: DeadLetter[] = [];
    let cursor = values.cursor ?? null;
    do {
      const query = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await ctx.client.call<Page>('GET', `/v1/dead-letters${query}`);
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (values.all && cursor);

    if (ctx.out.json) {
      ctx.out.document({ items, nextCursor: cursor });
      return EXIT.ok;
    }
    if (items.length === 0) {
      ctx.out.note('no dead letters');
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
    if (cursor) ctx.out.note(`more: spillway dead-letters list --cursor ${cursor}`);
    return EXIT.ok;
  },
});

export const deadLettersReplay = command({
  name: 'dead-letters replay',
  summary: 'submit dead tasks again, each as a new task (at most once per dead letter)',
  usage: `spillway dead-letters replay <id>...

Prints "<dead letter id>  <new task id>" per replay.

Exit: 0 all replayed, 3 API unreachable, 4 a dead letter was already replayed, is poison or
does not exist (or another API error).`,
  options: {},
  async run(ctx, { positionals }) {
    if (positionals.length === 0) throw usageError('give the id of the dead letter to replay');
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

interface RebuildReport {
  read: number;
  restored: number;
  present: number;
  expired: number;
  unreadable: number;
}

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
      ctx.out.line(
        `read ${report.read}: ${report.restored} restored, ${report.present} already indexed, ${report.expired} expired, ${report.unreadable} unreadable`,
      );
    }
    return EXIT.ok;
  },
});
