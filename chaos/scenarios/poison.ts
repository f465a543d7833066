import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaNames } from '../../services/shared/kafka/names';
import type { DeadLetter } from '../../services/shared/dead-letter';
import { encodeTaskMessage } from '../../services/shared/task-message';
import { metricSum } from '../metrics';
import type { ScenarioDefinition } from '../scenario';
import { readTopicToEnd, writeToPartitions } from '../topic';

interface Written {
  kind: string;
  /** The dead letter id it should come back under. */
  id: string;
  reason: 'poison' | 'unknown-type';
}

/** Values no worker can run, by kind; `null` is an empty (tombstone) value. */
function poisonValues(): { kind: string; value: Buffer | string | null }[] {
  return [
    { kind: 'not JSON (cut off)', value: '{"id": "broken' },
    { kind: 'not JSON (binary)', value: Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]) },
    { kind: 'empty value', value: null },
    { kind: 'JSON array', value: '[1, 2, 3]' },
    { kind: 'JSON string', value: '"counted"' },
    {
      kind: 'id not a string',
      value: JSON.stringify({ id: 7, type: 'counted', payload: {}, enqueuedAt: Date.now() }),
    },
    { kind: 'no enqueuedAt', value: JSON.stringify({ id: randomUUID(), type: 'counted', payload: {} }) },
    {
      kind: 'maxAttempts not a number',
      value: JSON.stringify({
        id: randomUUID(),
        type: 'counted',
        payload: {},
        enqueuedAt: Date.now(),
        maxAttempts: 'three',
      }),
    },
  ];
}

/**
 * Messages written straight onto the tasks topic by something other than the API, while the
 * steady load runs: garbage, JSON of the wrong shape, and well-formed tasks of a type no worker
 * has. Each must reach the dead-letter topic; the workers must keep running and keep working.
 */
export function poisonScenario(): ScenarioDefinition {
  const written: Written[] = [];
  const found = new Map<string, DeadLetter>();
  const pids = new Map<string, number>();
  let dlqSeconds: number | undefined;
  return {
    id: 'poison',
    title: 'Poison messages on the tasks topic',
    fault: 'non-task messages and tasks of an unknown type are written straight into the tasks topic',
    expectNoDuplicates: true,
    deployment: { workers: 2, concurrency: 8 },
    async inject(ctx) {
      const { deployment } = ctx;
      for (const w of deployment.workers) pids.set(w.name, w.pid);
      const { brokers } = deployment.cluster;
      const names = kafkaNames(deployment.queue);
      const poison = poisonValues();
      const unknown = [1, 2].map(() => ({
        id: randomUUID(),
        type: 'no-such-type',
        payload: {},
        enqueuedAt: Date.now(),
        maxAttempts: 3,
      }));
      const started = Date.now();
      // Spread over the partitions, so every worker gets some.
      const placed = await writeToPartitions(brokers, names.tasksTopic, [
        ...poison.map(({ value }, i) => ({ partition: i % 6, value })),
        ...unknown.map((task, i) => ({ partition: (i + 3) % 6, value: encodeTaskMessage(task) })),
      ]);
      poison.forEach(({ kind }, i) => {
        const { partition, offset } = placed[i]!;
        written.push({ kind, id: `poison:${names.tasksTopic}:${partition}:${offset}`, reason: 'poison' });
      });
      for (const task of unknown)
        written.push({ kind: 'unknown task type', id: task.id, reason: 'unknown-type' });
      ctx.mark(`${written.length} bad messages written`);
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && written.some((w) => !found.has(w.id))) {
        await sleep(1000);
        const letters = await readTopicToEnd(brokers, names.deadLetterTopic).catch(() => []);
        for (const { value } of letters) {
          const letter = JSON.parse(value?.toString() ?? 'null') as DeadLetter | null;
          if (letter) found.set(letter.id, letter);
        }
      }
      if (written.every((w) => found.has(w.id))) dlqSeconds = (Date.now() - started) / 1000;
      ctx.mark('dead-letter topic checked');
    },
    async verify(ctx) {
      const { deployment } = ctx;
      const missing = written.filter((w) => found.get(w.id)?.reason !== w.reason);
      const poisonCount = written.filter((w) => w.reason === 'poison').length;
      const counted = (
        await Promise.all(deployment.workers.map((w) => metricSum(w.url, 'spillway_poison_messages_total')))
      ).reduce((a, b) => a + b, 0);
      const restarted = deployment.history.filter(
        (p) => p.service === 'worker' && (!p.alive || p.pid !== pids.get(p.name)),
      );
      ctx.figures.push(
        {
          label: 'bad messages written',
          value: `${written.length} (${written.map((w) => w.kind).join(', ')})`,
        },
        {
          label: 'found on the dead-letter topic with the right reason',
          value: written.length - missing.length,
        },
        {
          label: 'all of them dead-lettered within',
          value: dlqSeconds === undefined ? 'not all' : `${dlqSeconds.toFixed(1)} s`,
        },
        { label: 'spillway_poison_messages_total (all workers)', value: counted },
        { label: 'worker restarts', value: restarted.length },
      );
      ctx.checks.push(
        {
          name: 'every bad message reached the dead-letter topic with its reason',
          ok: missing.length === 0,
          kind: 'guarantee',
          ...(missing.length > 0 && { detail: missing.map((m) => `${m.kind} (${m.id})`).join('; ') }),
        },
        {
          name: 'the workers kept running (no restart)',
          ok: restarted.length === 0,
          kind: 'guarantee',
        },
        { name: 'the workers counted the poison messages', ok: counted >= poisonCount, kind: 'guarantee' },
      );
    },
  };
}
