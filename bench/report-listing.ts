/** The report's task-listing section, headline, target and configuration; report.ts puts them in. */
import { SEARCH_BUDGET } from '../services/shared/redis/task-index';
import { fmt, percent, table } from './markdown';
import type { BenchOptions } from './options';
import {
  CREATED_SPAN_MS,
  ERROR_SHARES,
  KEYED_SHARE,
  STATUS_SHARES,
  TENANT_SHARES,
} from './scenarios/listing-fill';
import { QUERIED_TYPE_SHARES, type ListingQuery, type ListingResult } from './scenarios/listing';

/** The issue's goal: a filtered page within this at p99, at GOAL_RECORDS records. */
export const LISTING_GOAL_MS = 50;
export const LISTING_GOAL_RECORDS = 1_000_000;

const verdict = (q: ListingQuery) => (q.p99Ms <= LISTING_GOAL_MS ? 'met' : '**not met**');
const ms = (n: number) => fmt(n, 1);
const perTask = (n: number, records: number) => fmt(n / records, 1);

/** The section reads on its own: it may be pasted from a `--only listing,upkeep` run. */
export function renderListing(r: ListingResult): string {
  const fill = table(
    [
      'records',
      'fill s',
      'tasks/s',
      'transitions',
      'Redis CPU µs per transition',
      'filler CPU µs per transition',
      'indexes',
      'index entries per task',
      'index bytes per task',
      'record bytes (MEMORY USAGE, sampled)',
      'used_memory growth per task',
    ],
    [
      [
        fmt(r.records),
        fmt(r.fill.seconds, 1),
        fmt(r.records / r.fill.seconds),
        fmt(r.fill.transitions),
        fmt((r.fill.redisCpuSeconds * 1e6) / r.fill.transitions, 1),
        fmt((r.fill.clientCpuSeconds * 1e6) / r.fill.transitions, 1),
        fmt(r.index.indexes),
        fmt(r.index.entries / r.records, 2),
        perTask(r.index.bytes, r.records),
        fmt(r.recordBytes),
        perTask(r.usedMemoryGrowth, r.records),
      ],
    ],
  );
  const total = Object.values(r.counts).reduce((s, n) => s + n, 0);
  const mix = Object.entries(r.counts)
    .filter(([, n]) => n > 0)
    .sort(([, a], [, b]) => b - a)
    .map(([status, n]) => `${status} ${fmt(n)} (${percent(n / total)})`)
    .join(', ');
  const queries = table(
    [
      'query',
      'GET /v1/tasks?…',
      'requests',
      'p50 ms',
      'p99 ms',
      'max ms',
      'items (median)',
      'scanned (median)',
      'not 200 / empty',
      `p99 ≤ ${LISTING_GOAL_MS} ms`,
    ],
    r.queries.map((q) => [
      q.name,
      q.query === '' ? '(none)' : `\`${q.query}\``,
      fmt(q.requests),
      ms(q.p50Ms),
      ms(q.p99Ms),
      ms(q.maxMs),
      fmt(q.items),
      fmt(q.scanned),
      `${q.failed} / ${q.empty}`,
      verdict(q),
    ]),
  );
  const filtered = r.queries.filter((q) => q.filtered);
  const met = filtered.filter((q) => q.p99Ms <= LISTING_GOAL_MS).length;
  const scale =
    r.records >= LISTING_GOAL_RECORDS
      ? `at ${fmt(r.records)} records`
      : `at ${fmt(r.records)} records only (the goal is stated at ${fmt(LISTING_GOAL_RECORDS)}: this says nothing of it)`;
  return `${SHAPE(r)}

### Records and indexes

${fill}

Tasks by status after the fill: ${mix}. The fill's CPU: Redis' own count (\`INFO cpu\`, which other clients of
the shared server add to) and the bench process's, which writes the records. The used_memory growth is Redis' own figure before and after the
fill on a server other test runs share (their keys move it too); index bytes are \`MEMORY USAGE\` of every
index (\`TaskIndex.memory()\`), record bytes the mean \`MEMORY USAGE\` of 1,000 records drawn at random.

### Queries

${queries}

- Goal, p99 ≤ ${LISTING_GOAL_MS} ms for a filtered page ${scale}: met by ${met} of the ${filtered.length} filtered queries${
    met < filtered.length
      ? ` (not met: ${filtered
          .filter((q) => q.p99Ms > LISTING_GOAL_MS)
          .map((q) => `${q.name} ${ms(q.p99Ms)} ms`)
          .join(', ')})`
      : ''
  }.`;
}

const SHAPE = (r: ListingResult) =>
  `One queue of ${fmt(r.records)} task records, written before any request through \`RedisTaskStore.transitionMany\` ` +
  `(the API's \`queued\` write with the task's spec, then the final status a worker writes: the records, counts and ` +
  `indexes are those production keeps), ${fmt(r.fill.transitions / r.fill.seconds)} transitions/s with many calls ` +
  `in flight. Then one Spillway API process (indexes on, its sweeper running) answers each query ` +
  `${fmt(r.queries[0]?.requests ?? 0)} times, one request at a time, the queries taking turns request by request; ` +
  `latency is measured at the client, from sending the request to the answer's last byte. The deep query follows ` +
  `\`nextCursor\` ${r.deepPages} pages untimed, then times the pages after those. "Scanned" is the index entries ` +
  `the search examined for the page (at most ${fmt(SEARCH_BUDGET)} per request).`;

export function listingHeadline(r: ListingResult | undefined): string[] {
  if (!r) return [];
  const filtered = r.queries.filter((q) => q.filtered);
  const p99s = filtered.map((q) => q.p99Ms);
  return [
    `listing at ${fmt(r.records)} records: filtered pages p99 ${ms(Math.min(...p99s))}–${ms(Math.max(...p99s))} ms ` +
      `(goal ≤ ${LISTING_GOAL_MS} ms met by ${filtered.filter((q) => q.p99Ms <= LISTING_GOAL_MS).length} of ${filtered.length}); ` +
      `indexes ${perTask(r.index.bytes, r.records)} bytes per task; filled in ${fmt(r.fill.seconds, 1)} s`,
  ];
}

export function listingTarget(r: ListingResult | undefined): string[] {
  if (!r) return [];
  const scale =
    r.records >= LISTING_GOAL_RECORDS ? '' : ` (only ${fmt(r.records)} records: not the goal's scale)`;
  return [
    `Listing at ${fmt(r.records)} records${scale}, p99 per filtered query (goal ≤ ${LISTING_GOAL_MS} ms): ` +
      r.queries
        .filter((q) => q.filtered)
        .map((q) => `${q.name} ${ms(q.p99Ms)} ms (${verdict(q)})`)
        .join('; ') +
      '.',
  ];
}

export function listingConfiguration(o: BenchOptions): string {
  const shares = (rows: readonly (readonly [string, number])[]) =>
    rows.map(([name, share]) => `${name} ${percent(share)}`).join(', ');
  return (
    `Listing: ${fmt(o.listingRecords)} records, created over the ${CREATED_SPAN_MS / 3_600_000} hours before the run; ` +
    `statuses ${shares(STATUS_SHARES)}; 20 types, their shares falling as 1 / rank^1.6 (the common one ` +
    `\`${QUERIED_TYPE_SHARES.common.type}\` ${percent(QUERIED_TYPE_SHARES.common.share)}, the rare one ` +
    `\`${QUERIED_TYPE_SHARES.rare.type}\` ${(QUERIED_TYPE_SHARES.rare.share * 100).toFixed(1)}%); tenants ${shares(TENANT_SHARES)}; ` +
    `${percent(KEYED_SHARE)} with an ordering key (\`order-\`, \`invoice-\`, \`customer-\` and a number); failures' errors ` +
    `${shares(ERROR_SHARES.map(([e, share]) => [`"${e.message}"`, share] as const))}. ` +
    `${o.listingRequests} requests per query, ${o.listingDeepPages} untimed pages before the deep query's.`
  );
}
