import { intOption, jsonArgument } from '../args';
import { command, forEachId } from '../command';
import { EXIT, usageError } from '../exit-codes';
import { table } from '../output';

/** A schedule as the API shows it (docs/api.md#schedules). */
interface Schedule {
  id: string;
  tenant: string;
  state: 'active' | 'paused';
  cron: string | null;
  timeZone: string | null;
  intervalMs: number | null;
  task: { type: string };
  missed: string;
  maxCatchUp: number;
  nextFireTimes: string[];
  lastTick: { at: string; taskId: string } | null;
}

const path = (id: string) => `/v1/schedules/${encodeURIComponent(id)}`;

/** "cron 0 9 * * * Europe/Berlin" or "every 60s": when a schedule fires, in a table cell. */
function timingOf(s: Schedule): string {
  return s.cron !== null ? `cron ${s.cron} ${s.timeZone}` : `every ${(s.intervalMs ?? 0) / 1000}s`;
}

export const schedulesList = command({
  name: 'schedules list',
  summary: "list the tenant's recurring schedules and when each fires next",
  usage: `spillway schedules list

One line per schedule: id, state, when it fires, task type, missed-tick policy, next fire time
and last tick. --json prints every schedule with its next five fire times.

Exit: 0, 3 API unreachable, 4 API error.`,
  options: {},
  async run(ctx, { positionals }) {
    if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`);
    const { items } = await ctx.client.call<{ items: Schedule[] }>('GET', '/v1/schedules');
    if (ctx.out.json) {
      ctx.out.document({ items });
      return EXIT.ok;
    }
    if (items.length === 0) {
      ctx.out.note('no schedules');
      return EXIT.ok;
    }
    const rows = items.map((s) => [
      s.id,
      s.state,
      timingOf(s),
      s.task.type,
      s.missed === 'catch-up' ? `catch-up ${s.maxCatchUp}` : s.missed,
      s.nextFireTimes[0] ?? '-',
      s.lastTick?.at ?? '-',
    ]);
    for (const line of table([['ID', 'STATE', 'WHEN', 'TYPE', 'MISSED', 'NEXT', 'LAST TICK'], ...rows])) {
      ctx.out.line(line);
    }
    return EXIT.ok;
  },
});

export const schedulesAdd = command({
  name: 'schedules add',
  summary: 'create a recurring schedule: a cron expression or an interval, and a task',
  usage: `spillway schedules add <type> [<payload JSON>] (--cron <expr> [--tz <zone>] | --every-ms <ms>) [options]

Prints the new schedule's id. Every tick submits the task once, whichever worker fires it.

      --cron <expr>          5 fields (minute hour day month weekday), or 6 with seconds first
      --tz <zone>            IANA time zone the cron is read in (default UTC), e.g. Europe/Berlin
      --every-ms <ms>        a fixed interval instead of cron, at least 1000
      --missed <policy>      skip (default) or catch-up: ticks missed while no worker ran
      --max-catch-up <n>     with catch-up: most missed ticks run late (API default 10)
      --paused               create it paused
      --key <key>            the task's partition key
      --priority <p>         high, normal (default) or low
      --max-attempts <n>     attempts before a tick's task fails for good (API default 3)
      --timeout-ms <ms>      longest one attempt may run
      --callback-url <url>   receives each tick's task record when it finishes

Exit: 0, 2 bad input, 3 API unreachable, 4 API error (422 names the field at fault).`,
  options: {
    cron: { type: 'string' },
    tz: { type: 'string' },
    'every-ms': { type: 'string' },
    missed: { type: 'string' },
    'max-catch-up': { type: 'string' },
    paused: { type: 'boolean' },
    key: { type: 'string' },
    priority: { type: 'string' },
    'max-attempts': { type: 'string' },
    'timeout-ms': { type: 'string' },
    'callback-url': { type: 'string' },
  },
  async run(ctx, { values, positionals }) {
    const [type, payload, ...extra] = positionals;
    if (type === undefined)
      throw usageError('give the task type, e.g. spillway schedules add echo --cron "* * * * *"');
    if (extra.length > 0) throw usageError(`unexpected arguments: ${extra.join(' ')} (quote the payload)`);
    if ((values.cron === undefined) === (values['every-ms'] === undefined)) {
      throw usageError('give --cron or --every-ms (one of them)');
    }
    // Bounds and formats are the API's to check: it names the field at fault.
    const numbers = {
      intervalMs: intOption(values['every-ms'], 'every-ms', 1),
      maxCatchUp: intOption(values['max-catch-up'], 'max-catch-up', 1),
      maxAttempts: intOption(values['max-attempts'], 'max-attempts', 1),
      timeoutMs: intOption(values['timeout-ms'], 'timeout-ms', 1),
    };
    const task = {
      type,
      ...(payload !== undefined && { payload: jsonArgument(payload, 'the payload') }),
      ...(values.key !== undefined && { key: values.key }),
      ...(values.priority !== undefined && { priority: values.priority }),
      ...(numbers.maxAttempts !== undefined && { maxAttempts: numbers.maxAttempts }),
      ...(numbers.timeoutMs !== undefined && { timeoutMs: numbers.timeoutMs }),
      ...(values['callback-url'] !== undefined && { callbackUrl: values['callback-url'] }),
    };
    const body = {
      ...(values.cron !== undefined && { cron: values.cron }),
      ...(values.tz !== undefined && { timeZone: values.tz }),
      ...(numbers.intervalMs !== undefined && { intervalMs: numbers.intervalMs }),
      ...(values.missed !== undefined && { missed: values.missed }),
      ...(numbers.maxCatchUp !== undefined && { maxCatchUp: numbers.maxCatchUp }),
      ...(values.paused === true && { paused: true }),
      task,
    };
    const created = await ctx.client.call<Schedule>('POST', '/v1/schedules', { json: body });
    if (ctx.out.json) ctx.out.document(created);
    else ctx.out.line(created.id);
    return EXIT.ok;
  },
});

/** pause and resume: the same PATCH, with `paused` true or false. */
function stateChange(name: 'pause' | 'resume', paused: boolean) {
  return command({
    name: `schedules ${name}`,
    summary: paused ? 'pause schedules: they fire nothing until resumed' : 'resume paused schedules from now',
    usage: `spillway schedules ${name} <id>...

Prints "<id>  <state>" per schedule.${paused ? '' : ' Ticks that fell in the pause are not run.'}

Exit: 0, 3 API unreachable, 4 a schedule does not exist (or another API error).`,
    options: {},
    async run(ctx, { positionals }) {
      if (positionals.length === 0) throw usageError(`give the id of the schedule to ${name}`);
      return forEachId(
        ctx,
        positionals,
        (id) => ctx.client.call<Schedule>('PATCH', path(id), { json: { paused } }),
        (id, schedule) => `${id}  ${schedule.state}`,
      );
    },
  });
}

export const schedulesPause = stateChange('pause', true);
export const schedulesResume = stateChange('resume', false);

export const schedulesRm = command({
  name: 'schedules rm',
  summary: 'delete schedules (tasks they already submitted are left alone)',
  usage: `spillway schedules rm <id>...

Prints "<id>  deleted" per schedule.

Exit: 0, 3 API unreachable, 4 a schedule does not exist (or another API error).`,
  options: {},
  async run(ctx, { positionals }) {
    if (positionals.length === 0) throw usageError('give the id of the schedule to delete');
    return forEachId(
      ctx,
      positionals,
      (id) => ctx.client.call<undefined>('DELETE', path(id)),
      (id) => `${id}  deleted`,
    );
  },
});
