import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { jsonApp, listen, submission } from '../systems/http';
import { REDIS_URL } from '../stack';
import type { Starter } from '../systems/types';
import { createNaiveTopic, naiveKafka, naiveNames } from './names';

/**
 * The textbook recipe (FastAPI + Kafka + Redis) ported to Express/kafkajs: write the status, then
 * one awaited `producer.send` per request with the client's defaults (acks=all), then answer.
 */
export const startNaiveApi: Starter = async ({ queue, partitions }) => {
  const names = naiveNames(queue);
  const kafka = naiveKafka();
  await createNaiveTopic(kafka, names.topic, partitions);
  const producer = kafka.producer();
  await producer.connect();
  const redis = new Redis(REDIS_URL);

  const app = jsonApp();
  app.post('/v1/tasks', async (req, res) => {
    const task = submission(req.body);
    if (!task) return void res.status(422).json({ error: 'type required' });
    const id = randomUUID();
    try {
      await redis.set(names.statusKey(id), JSON.stringify({ status: 'queued' }), 'EX', 3600);
      await producer.send({
        topic: names.topic,
        messages: [{ key: id, value: JSON.stringify({ id, ...task }) }],
      });
      res.status(202).json({ id, type: task.type, status: 'queued' });
    } catch {
      res.status(503).json({ error: 'unavailable' });
    }
  });
  const server = await listen(app);
  return {
    port: server.port,
    stop: async () => {
      await server.close();
      await producer.disconnect();
      redis.disconnect();
    },
  };
};
