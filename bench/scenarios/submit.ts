import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** Attempts per submission before the benchmark gives up. */
const MAX_ATTEMPTS = 10;

/** Submits `count` tasks over HTTP and returns their ids; batches where the system has them. */
export async function submitTasks(
  url: string,
  task: { type: string; payload: unknown },
  count: number,
  batchSize: number,
): Promise<string[]> {
  // As a careful client does: a 503 (or a 409 while an in-doubt first try settles) is retried
  // after Retry-After with the same Idempotency-Key, so a retry can never submit twice.
  const post = async (path: string, body: unknown) => {
    const key = randomUUID();
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.status === 202 || res.status === 200) return (await res.json()) as unknown;
      const retriable = res.status === 503 || res.status === 409;
      if (!retriable || attempt >= MAX_ATTEMPTS) {
        throw new Error(`POST ${path} answered ${res.status}: ${await res.text()}`);
      }
      await res.arrayBuffer();
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
    }
  };
  const ids: string[] = [];
  if (batchSize > 1) {
    for (let done = 0; done < count; done += batchSize) {
      const n = Math.min(batchSize, count - done);
      const reply = (await post('/v1/tasks/batch', { tasks: Array.from({ length: n }, () => task) })) as {
        results: { id?: string }[];
      };
      for (const r of reply.results) if (r.id) ids.push(r.id);
    }
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
