import Redis from 'ioredis';
import { IdempotencyStore } from '../../services/shared/redis/idempotency-store';
import { RedisKeys } from '../../services/shared/redis/keys';
import { freePort, PrivateRedis } from '../helpers/redis-server';
import { eventually, REDIS_URL, uniqueQueue } from '../helpers/stack';

const FINGERPRINT = 'fingerprint-a';

describe('IdempotencyStore against real Redis', () => {
  const queue = uniqueQueue();
  const store = new IdempotencyStore(REDIS_URL, queue, 3600, 60_000);
  /** The same queue with a lease short enough to outlive in a test. */
  const shortLease = new IdempotencyStore(REDIS_URL, queue, 3600, 300);
  let key = 0;
  const nextKey = () => `key-${++key}`;
  afterAll(async () => {
    await store.close();
    await shortLease.close();
  });

  it('gives the first request the key with a seed, a concurrent one "pending", another body "mismatch"', async () => {
    const clientKey = nextKey();
    const first = await store.begin(store.claim('alice', clientKey, FINGERPRINT));
    expect(first).toEqual({ state: 'new', seed: expect.any(String) });
    expect(await store.begin(store.claim('alice', clientKey, FINGERPRINT))).toEqual({ state: 'pending' });
    expect(await store.begin(store.claim('alice', clientKey, 'fingerprint-b'))).toEqual({
      state: 'mismatch',
    });
    // Keys are per principal.
    expect((await store.begin(store.claim('bob', clientKey, FINGERPRINT))).state).toBe('new');
  });

  it('replays a completed reply exactly, numbers and text included', async () => {
    const clientKey = nextKey();
    const claim = store.claim('alice', clientKey, FINGERPRINT);
    const begun = await store.begin(claim);
    const body = { id: 'x', big: 9007199254740991, small: 1e-7, text: 'zürich ✓' };
    await store.complete(claim, (begun as { seed: string }).seed, 202, body);
    expect(await store.begin(store.claim('alice', clientKey, FINGERPRINT))).toEqual({
      state: 'done',
      status: 202,
      body,
    });
  });

  it('forgets a key released by a request that sent nothing, so a corrected request may use it', async () => {
    const clientKey = nextKey();
    const claim = store.claim('alice', clientKey, FINGERPRINT);
    const first = await store.begin(claim);
    await store.release(claim, false);
    const next = await store.begin(store.claim('alice', clientKey, 'fingerprint-b'));
    expect(next.state).toBe('new');
    expect(next).not.toEqual(first);
  });

  it('keeps the seed of a request whose tasks may have reached Kafka: the retry gets the same one', async () => {
    const clientKey = nextKey();
    const claim = store.claim('alice', clientKey, FINGERPRINT);
    const first = await store.begin(claim);
    await store.release(claim, true);
    const retry = store.claim('alice', clientKey, FINGERPRINT);
    expect(await store.begin(retry)).toEqual(first);
    // The key now belongs to what may be on Kafka: another body is refused, and even a retry
    // that itself sent nothing leaves the seed in place.
    expect(await store.begin(store.claim('alice', clientKey, 'fingerprint-b'))).toEqual({
      state: 'mismatch',
    });
    await store.release(retry, false);
    expect(await store.begin(store.claim('alice', clientKey, FINGERPRINT))).toEqual(first);
  });

  it("lets a retry take over, with the same seed, once the holder's lease ran out (a dead API process)", async () => {
    const clientKey = nextKey();
    const dead = shortLease.claim('alice', clientKey, FINGERPRINT);
    const first = await shortLease.begin(dead);
    expect(await shortLease.begin(shortLease.claim('alice', clientKey, FINGERPRINT))).toEqual({
      state: 'pending',
    });
    const retry = shortLease.claim('alice', clientKey, FINGERPRINT);
    const taken = await eventually(
      async () => {
        const begun = await shortLease.begin(retry);
        return begun.state === 'new' ? begun : undefined;
      },
      5000,
      'the lease ran out',
    );
    expect(taken).toEqual(first);
    // The dead holder's late release (it was not dead, only slow) no longer touches the claim.
    await shortLease.release(dead, false);
    expect(await store.begin(store.claim('alice', clientKey, FINGERPRINT))).toEqual({ state: 'pending' });
    // And a takeover keeps the seed even when its own request sends nothing.
    await shortLease.release(retry, false);
    expect(await store.begin(store.claim('alice', clientKey, FINGERPRINT))).toEqual(first);
  });
});

describe('IdempotencyStore when Redis stalls (a private real redis-server, frozen)', () => {
  let server: PrivateRedis;
  let store: IdempotencyStore;
  let raw: Redis;
  const queue = uniqueQueue();

  beforeAll(async () => {
    server = new PrivateRedis(await freePort());
    await server.start();
    store = new IdempotencyStore(server.url, queue, 3600, 30_000);
    raw = new Redis(server.url);
  });
  afterAll(async () => {
    server.resume();
    await store.close();
    raw.disconnect();
    await server.stop();
  });

  it('releases a claim whose answer timed out but which Redis applied later', async () => {
    const claim = store.claim('alice', 'stalled-key', FINGERPRINT);
    server.pause();
    // ioredis gives up after its 2 s command timeout; the claim waits in the socket.
    await expect(store.begin(claim)).rejects.toThrow(/timed out/i);
    store.releaseEventually(claim);
    server.resume();
    const key = new RedisKeys(queue).idempotency('alice', 'stalled-key');
    // Applied when Redis woke up, then released: a retry is not refused as "in progress" for
    // the lease's 30 s.
    await eventually(
      async () => ((await raw.exists(key)) === 0 ? true : undefined),
      10_000,
      'claim released',
    );
    expect((await store.begin(store.claim('alice', 'stalled-key', FINGERPRINT))).state).toBe('new');
  });
});
