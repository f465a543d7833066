import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { REDIS_URL, sleep } from '../stack';
import { jsonApp, listen, submission, type Submission } from './http';
import type { Starter } from './types';

const connection = { url: REDIS_URL };

/** BullMQ's job priority for Spillway's: lower runs first (0, none, would run before all three). */
const PRIORITIES = new Map([
  ['high', 1],
  ['normal', 2],
  ['low', 3],
]);

/**
 * A job's options: its id, and a BullMQ priority only when the submission named a known one, so
 * the scenarios that send none measure BullMQ's plain FIFO path as before.
 */
function jobOptions(task: Submission): { jobId: string; priority?: number } {
  const priority = task.priority === undefined ? undefined : PRIORITIES.get(task.priority);
  return priority === undefined ? { jobId: randomUUID() } : { jobId: randomUUID(), priority };
}

/** BullMQ behind the same Express handler: `queue.add` per task, `addBulk` for a batch. */
export const startBullmqApi: Starter = async ({ queue: name }) => {
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  const app = jsonApp();
  app.post('/v1/tasks', async (req, res) => {
    const task = submission(req.body);
    if (!task) return void res.status(422).json({ error: 'type required' });
    try {
      const job = await queue.add(task.type, task.payload, jobOptions(task));
      res.status(202).json({ id: job.id, type: task.type, status: 'queued' });
    } catch {
      res.status(503).json({ error: 'unavailable' });
    }
  });
  app.post('/v1/tasks/batch', async (req, res) => {
    const tasks = (req.body as { tasks?: unknown } | null)?.tasks;
    const valid = Array.isArray(tasks) ? tasks.map(submission) : [];
    if (valid.length === 0 || valid.some((t) => !t))
      return void res.status(422).json({ error: 'tasks required' });
    try {
      const jobs = await queue.addBulk(
        valid.map((t) => ({ name: t!.type, data: t!.payload, opts: jobOptions(t!) })),
      );
      // Spillway's batch reply shape, so clients and the bench read both the same way.
      res.status(202).json({
        accepted: jobs.length,
        rejected: 0,
        results: jobs.map((j) => ({ id: j.id, type: j.name, status: 'queued' })),
      });
    } catch {
      res.status(503).json({ error: 'unavailable' });
    }
  });
  const server = await listen(app);
  return {
    port: server.port,
    stop: async () => {
      await server.close();
      await queue.close();
    },
  };
};

/** A BullMQ Worker running the same task types as Spillway's demo handlers. */
export const startBullmqWorker: Starter = async ({ queue: name, concurrency }) => {
  const worker = new Worker(
    name,
    async (job) => {
      if (job.name === 'sleep') {
        const ms = Number((job.data as { ms?: unknown } | null)?.ms ?? 0);
        await sleep(ms);
        return { sleptMs: ms };
      }
      return job.data as unknown;
    },
    { connection, concurrency },
  );
  await worker.waitUntilReady();
  return { port: 0, stop: () => worker.close() };
};
