import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How long one submission is retried before the benchmark gives up: an in-doubt Kafka send keeps
 * its key "in progress" (409) until kafkajs settles it, which can take tens of seconds under load.
 */
const RETRY_FOR_MS = 120_000;

/** What the server pushed back with while submitting: answers retried, by status. */
export interface SubmitStats {
  retried: Record<number, number>;
}

/**
 * Submits `count` tasks over HTTP and returns their ids; batches where the system has them,
 * `batchClients` batch requests in flight at once (one by default).
 */
export async function submitTasks(
  url: string,
  task: { type: string; payload: unknown; priority?: string },
  count: number,
  batchSize: number,
  batchClients = 1,
  stats: SubmitStats = { retried: {} },
  /** Sent with every request besides the body's (a tenant's key). */
  headers: Record<string, string> = {},
): Promise<string[]> {
  // As a careful client does: a 503 (or a 409 while an in-doubt first try settles) is retried
  // after Retry-After with the same Idempotency-Key, so a retry can never submit twice.
  const post = async (path: string, body: unknown) => {
    const key = randomUUID();
    const giveUpAt = Date.now() + RETRY_FOR_MS;
    for (;;) {
      const res = await fetch(url + path, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.status === 202 || res.status === 200) return (await res.json()) as unknown;
      const retriable = res.status === 503 || res.status === 409;
      if (!retriable || Date.now() > giveUpAt) {
        throw new Error(`POST ${path} answered ${res.status}: ${await res.text()}`);
      }
      stats.retried[res.status] = (stats.retried[res.status] ?? 0) + 1;
      await res.arrayBuffer();
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
    }
  };
  const ids: string[] = [];
  if (batchSize > 1) {
    let taken = 0;
    const batchClient = async () => {
      while (taken < count) {
        const n = Math.min(batchSize, count - taken);
        taken += n;
        const reply = (await post('/v1/tasks/batch', { tasks: Array.from({ length: n }, () => task) })) as {
          results: { id?: string }[];
        };
        for (const r of reply.results) if (r.id) ids.push(r.id);
      }
    };
    await Promise.all(Array.from({ length: batchClients }, batchClient));
    return ids;
  }
  // No batch endpoint: 16 clients in parallel, as a fan-out producer would.
  let next = 0;
  const client = async () => {
    while (next < count) {
      next++;
      ids.push(((await post('/v1/tasks', task)) as { id: string }).id);
    }
  };
  await Promise.all(Array.from({ length: 16 }, client));
  return ids;
}
