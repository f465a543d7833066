import { randomUUID } from 'node:crypto';
import { jsonApp, listen, submission } from './http';
import type { Starter } from './types';

/** The HTTP ceiling: parses and checks the body like the others, queues nothing. */
export const startBareApi: Starter = async () => {
  const app = jsonApp();
  app.post('/v1/tasks', (req, res) => {
    const task = submission(req.body);
    if (!task) return void res.status(422).json({ error: 'type required' });
    res.status(202).json({ id: randomUUID(), type: task.type, status: 'queued' });
  });
  const server = await listen(app);
  return { port: server.port, stop: server.close };
};
