import Redis from 'ioredis';
import { kafkaNames } from '../../services/shared/kafka/names';
import { RedisDeadLetterStore } from '../../services/shared/redis/dead-letter-store';
import { RedisKeys } from '../../services/shared/redis/keys';
import { spillway } from '../helpers/cli';
import { deadLetter } from '../helpers/dead-letters';
import { request } from '../helpers/http';
import { writeRaw } from '../helpers/kafka';
import { apiFor, workerFor } from '../helpers/services';
import { eventually, REDIS_URL, uniqueQueue } from '../helpers/stack';

/**
 * The dead-letter topic is the durable record and Redis its index: after Redis loses letters,
 * POST /v1/dead-letters/rebuild (spillway dead-letters rebuild) indexes them again from Kafka.
 */
describe('rebuilding the dead-letter index from the topic', () => {
  const queue = uniqueQueue();
  const names = kafkaNames(queue);
  const keys = new RedisKeys(queue);
  const raw = new Redis(REDIS_URL);
  const store = new RedisDeadLetterStore({ url: REDIS_URL, queue, ttlSeconds: 7 * 24 * 3600 });
  let api: Awaited<ReturnType<typeof apiFor>>;
  let worker: Awaited<ReturnType<typeof workerFor>>;
  beforeAll(async () => {
    api = await apiFor(queue);
    worker = await workerFor(queue);
  });
  afterAll(async () => {
    await worker.stop();
    await api.stop();
    await store.close();
    raw.disconnect();
  });

  const listed = async () =>
    (await request(api.url, 'GET', '/v1/dead-letters?limit=200')).body.items as {
      id: string;
      replayedAs: string | null;
    }[];

  it('brings back the letters Redis lost, keeps the replay state of those it has, and skips the rest', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const sent = await request(api.url, 'POST', '/v1/tasks', { json: { type: 'fail', maxAttempts: 1 } });
      ids.push(sent.body.id);
    }
    await eventually(
      async () => ((await listed()).length === 3 ? true : undefined),
      30_000,
      'three dead letters',
    );
    // One stays, replayed as far as Redis knows; Redis loses the other two.
    await store.markReplayed(ids[0]!, 'an-earlier-replay');
    for (const id of ids.slice(1)) await raw.del(keys.deadLetter(id));
    await raw.zrem(keys.deadLetters(), ...ids.slice(1));
    expect((await listed()).map((d) => d.id)).toEqual([ids[0]]);
    // And the topic holds a letter older than the TTL, and something Spillway did not write.
    await writeRaw(names.deadLetterTopic, [
      JSON.stringify(deadLetter(Date.now() - 8 * 24 * 3600_000)),
      'not a dead letter',
    ]);

    const rebuilt = await request(api.url, 'POST', '/v1/dead-letters/rebuild');
    expect(rebuilt.status).toBe(200);
    expect(rebuilt.body).toEqual({
      read: 5,
      restored: 2,
      present: 1,
      discarded: 0,
      expired: 1,
      unreadable: 1,
    });
    const after = await listed();
    expect(after.map((d) => d.id).sort()).toEqual([...ids].sort());
    expect(after.find((d) => d.id === ids[0])?.replayedAs).toBe('an-earlier-replay');
    // A restored letter replays like any other.
    expect((await request(api.url, 'POST', `/v1/dead-letters/${ids[1]}/replay`)).status).toBe(202);
  }, 60_000);

  it('runs from the CLI, and a second rebuild finds everything indexed', async () => {
    // The replayed task fails again: a sixth message, which its worker indexes too.
    await eventually(
      async () => ((await listed()).length === 4 ? true : undefined),
      30_000,
      'the replay dead',
    );
    const run = await spillway(['dead-letters', 'rebuild'], { SPILLWAY_URL: api.url });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('read 6: 0 restored, 4 already indexed, 1 expired, 1 unreadable\n');
  }, 60_000);
});
