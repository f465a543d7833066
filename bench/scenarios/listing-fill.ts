import { randomUUID } from 'node:crypto';
import type { Transition } from '../../services/shared/redis/task-store';
import type { TaskError, TaskStatus } from '../../services/shared/task';
import { REDIS_URL } from '../stack';
import { built } from '../systems/built';

// As the API and worker processes run it (dist/): this process does as much work per write as they do.
const { RedisTaskStore } = built<typeof import('../../services/shared/redis/redis-task-store')>(
  'shared/redis/redis-task-store',
);

/**
 * The task records the listing scenario searches: a queue as a busy installation would hold it
 * after some hours, written through RedisTaskStore.transitionMany (the API's `queued` write,
 * then the worker's final one), so the records, counts and indexes are those production keeps.
 */

/** Twenty task types, most common first; their shares fall as 1 / rank^1.6 (TYPE_SHARES). */
export const TASK_TYPES = [
  'send-email',
  'resize-image',
  'sync-crm',
  'charge-card',
  'generate-report',
  'index-document',
  'send-sms',
  'export-csv',
  'refresh-token',
  'transcode-video',
  'update-search',
  'notify-slack',
  'compute-invoice',
  'geocode-address',
  'scan-upload',
  'archive-logs',
  'warm-cache',
  'rotate-keys',
  'rebuild-sitemap',
  'audit-permissions',
] as const;
export const TYPE_SHARES = normalised(TASK_TYPES.map((_, rank) => 1 / (rank + 1) ** 1.6));
export const COMMON_TYPE = TASK_TYPES[0];
export const RARE_TYPE = TASK_TYPES[TASK_TYPES.length - 1]!;

/** Five tenants beside the default one, which has half the tasks. */
export const TENANT_SHARES: readonly (readonly [string, number])[] = [
  ['default', 0.5],
  ['acme', 0.2],
  ['globex', 0.12],
  ['initech', 0.09],
  ['umbrella', 0.06],
  ['hooli', 0.03],
];
/** The tenant whose failures the listing asks for. */
export const QUERIED_TENANT = 'globex';

/** How tasks ended (or have not yet). */
export const STATUS_SHARES: readonly (readonly [TaskStatus, number])[] = [
  ['succeeded', 0.9],
  ['failed', 0.05],
  ['queued', 0.03],
  ['running', 0.01],
  ['cancelled', 0.01],
];

/** A failed task's error: a few messages, two of them (45% of failures) with "timeout" in them. */
export const ERROR_SHARES: readonly (readonly [TaskError, number])[] = [
  [{ name: 'TimeoutError', message: 'upstream timeout after 30000 ms' }, 0.35],
  [{ name: 'Error', message: 'connection reset by peer' }, 0.25],
  [{ name: 'PaymentError', message: 'card declined: expired' }, 0.2],
  [{ name: 'Error', message: 'deadline exceeded: lock timeout on orders' }, 0.1],
  [{ name: 'ValidationError', message: 'payload is missing field "sku"' }, 0.1],
];
export const SEARCHED_TEXT = 'timeout';

/** A tenth of tasks carry an ordering key, `<kind>-<number>`. */
export const KEYED_SHARE = 0.1;
export const KEY_KINDS: readonly (readonly [string, number])[] = [
  ['order', 0.5],
  ['invoice', 0.3],
  ['customer', 0.2],
];
export const SEARCHED_KEY_PREFIX = 'invoice-';

/** Records are created over this long before the fill, the newest just before it. */
export const CREATED_SPAN_MS = 6 * 3600_000;

/** Tasks per transitionMany, and how many of those are in flight at once. */
const CHUNK = 250;
const IN_FLIGHT = 8;

export interface FillResult {
  records: number;
  transitions: number;
  seconds: number;
}

/**
 * Writes `records` tasks to `queue`'s keys, oldest first. Deterministic but for the ids and
 * the clock: the same mix every run. Many calls are in flight at once (CHUNK × IN_FLIGHT
 * tasks), so Redis is kept busy rather than waiting on this process.
 */
export async function fillQueue(queue: string, records: number): Promise<FillResult> {
  // No command timeout: thousands of calls are queued on the one connection by design.
  const store = new RedisTaskStore({ url: REDIS_URL, queue, ttlSeconds: 3600, commandTimeoutMs: 0 });
  const random = mulberry32(21);
  const newest = Date.now() - 1000;
  const oldest = newest - CREATED_SPAN_MS;
  const started = performance.now();
  let next = 0;
  let transitions = 0;
  const writer = async () => {
    while (next < records) {
      const from = next;
      next = Math.min(records, next + CHUNK);
      const changes: Transition[] = [];
      for (let i = from; i < next; i++) {
        const createdAt = oldest + Math.floor((i / records) * CREATED_SPAN_MS);
        changes.push(...lifeOf(random, createdAt, Math.min(newest, createdAt + 200 + random() * 5000)));
      }
      transitions += changes.length;
      await store.transitionMany(changes);
    }
  };
  try {
    await Promise.all(Array.from({ length: IN_FLIGHT }, writer));
  } finally {
    await store.close();
  }
  return { records, transitions, seconds: (performance.now() - started) / 1000 };
}

const typeOf = chooser(TASK_TYPES.map((type, i) => [type, TYPE_SHARES[i]!] as const));
const tenantOf = chooser(TENANT_SHARES);
const statusOf = chooser(STATUS_SHARES);
const errorOf = chooser(ERROR_SHARES);
const keyKindOf = chooser(KEY_KINDS);

/** One task's writes: `queued` as the API writes it, then its final status as a worker would. */
function lifeOf(random: () => number, created: number, finished: number): Transition[] {
  const type = typeOf(random);
  const tenant = tenantOf(random);
  const status = statusOf(random);
  const key = random() < KEYED_SHARE ? `${keyKindOf(random)}-${Math.floor(random() * 100_000)}` : undefined;
  const n = Math.floor(random() * 1_000_000);
  const identity = {
    id: randomUUID(),
    type,
    createdAt: new Date(created),
    ...(tenant !== 'default' && { tenant }),
    ...(key !== undefined && { key }),
  };
  const queued: Transition = {
    ...identity,
    status: 'queued',
    attempt: 0,
    at: identity.createdAt,
    spec: {
      payload: { ref: `ref_${n}`, account: `acct_${n % 9973}`, amount: n % 10_000, items: 1 + (n % 7) },
      maxAttempts: 3,
    },
  };
  const at = new Date(finished);
  switch (status) {
    case 'queued':
      return [queued];
    case 'running':
      return [
        queued,
        { ...identity, status, attempt: 1, at, claim: { claimant: 'bench-fill', ms: 600_000 } },
      ];
    case 'succeeded':
      return [queued, { ...identity, status, attempt: 1, at, result: { ok: true, n } }];
    case 'failed':
      return [queued, { ...identity, status, attempt: 3, at, error: errorOf(random) }];
    default:
      // Cancelled: as the API cancels, whatever the attempt.
      return [queued, { ...identity, status: 'cancelled', attempt: -1, at }];
  }
}

function normalised(weights: number[]): number[] {
  const sum = weights.reduce((s, w) => s + w, 0);
  return weights.map((w) => w / sum);
}

/** Draws items at their shares (summing to 1), from cumulative shares worked out once. */
function chooser<T>(table: readonly (readonly [T, number])[]): (random: () => number) => T {
  const items = table.map(([item]) => item);
  let sum = 0;
  const bounds = table.map(([, share]) => (sum += share));
  return (random) => {
    const r = random() * sum;
    const at = bounds.findIndex((bound) => r < bound);
    return items[at < 0 ? items.length - 1 : at]!;
  };
}

/** A small seeded generator: the same mix of types, tenants and statuses every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
