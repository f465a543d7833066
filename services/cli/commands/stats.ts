import type { QueueStats } from '../../shared/kubernetes/fleet';
import { command } from '../command';
import { EXIT } from '../exit-codes';
import { duration, table } from '../output';

export const stats = command({
  name: 'stats',
  summary: 'queue statistics: counts by status, oldest waiting task, lag per partition, dead letters',
  usage: `spillway stats

Exit: 0, 3 API unreachable, 4 API error.`,
  options: {},
  async run(ctx) {
    const body = await ctx.client.call<QueueStats>('GET', '/v1/stats');
    if (ctx.out.json) ctx.out.document(body);
    else for (const line of describeStats(body)) ctx.out.line(line);
    return EXIT.ok;
  },
});

/** Counts, the oldest wait, dead letters, then the lag table. */
export function describeStats(body: QueueStats): string[] {
  const c = body.counts;
  const count = (names: string[]) => names.map((n) => `${n} ${c[n] ?? 0}`).join('  ');
  return [
    ...table([
      ['waiting', count(['queued', 'scheduled', 'retrying'])],
      ['running', String(c.running ?? 0)],
      ['finished', count(['succeeded', 'failed', 'cancelled'])],
      [
        'oldest',
        body.oldestWaitingAgeSeconds === null
          ? 'nothing waits'
          : `${duration(body.oldestWaitingAgeSeconds)} waiting`,
      ],
      ['dead letters', String(body.deadLetters)],
      ['lag', `${body.lag.total} on ${body.lag.partitions.length} partitions`],
    ]),
    '',
    ...lagTable(body),
  ];
}

export function lagTable(body: QueueStats): string[] {
  return table([
    ['LANE', 'PARTITION', 'LAG', 'COMMITTED', 'LATEST'],
    ...body.lag.partitions.map((p) => [
      p.lane ?? 'normal',
      String(p.partition),
      String(p.lag),
      p.committedOffset === null ? '-' : String(p.committedOffset),
      String(p.latestOffset),
    ]),
  ]);
}
