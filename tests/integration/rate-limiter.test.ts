import express from 'express';
import Redis from 'ioredis';
import { errorHandler } from '../../services/api/http';
import { apiKeyAuth } from '../../services/api/auth';
import { SubmissionLimit } from '../../services/api/rate-limit';
import { RedisKeys } from '../../services/shared/redis/keys';
import { RedisRateLimiter } from '../../services/shared/redis/rate-limiter';
import { RedisTokenBuckets } from '../../services/shared/redis/token-buckets';
import { request, serve } from '../helpers/http';
import { quietLogger, REDIS_URL, uniqueQueue } from '../helpers/stack';
import { deleteMatching } from '../helpers/redis-keys';

describe('RedisRateLimiter (the token bucket script, on the real Redis)', () => {
  const queue = uniqueQueue();
  const redis = new Redis(REDIS_URL);
  const limiters: RedisRateLimiter[] = [];
  const limiter = (perSecond: number, burst: number) => {
    const made = new RedisRateLimiter({ url: REDIS_URL, queue, perSecond, burst });
    limiters.push(made);
    return made;
  };
  afterAll(async () => {
    await Promise.all(limiters.map((l) => l.close()));
    await deleteMatching(redis, `${new RedisKeys(queue).prefix}*`);
    await redis.quit();
  });

  it('allows the burst at once, then refuses with the wait until a token is back', async () => {
    const bucket = limiter(10, 3);
    const taken = await Promise.all([1, 2, 3].map(() => bucket.take('burst', 1)));
    expect(taken.map((d) => d.allowed)).toEqual([true, true, true]);
    const refused = await bucket.take('burst', 1);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(100);
  });

  it('refills at the configured rate', async () => {
    const bucket = limiter(20, 1);
    expect((await bucket.take('refill', 1)).allowed).toBe(true);
    expect((await bucket.take('refill', 1)).allowed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect((await bucket.take('refill', 1)).allowed).toBe(true);
  });

  it('lets concurrent API replicas share one bucket: never more than the burst passes', async () => {
    const replicas = [limiter(1, 10), limiter(1, 10), limiter(1, 10)];
    const decisions = await Promise.all(
      Array.from({ length: 30 }, (_, i) => replicas[i % 3]!.take('shared', 1)),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
  });

  it('lets a cost above the burst through on a full bucket only, leaving a debt', async () => {
    const bucket = limiter(100, 5);
    expect((await bucket.take('debt', 8)).allowed).toBe(true);
    const refused = await bucket.take('debt', 1);
    expect(refused.allowed).toBe(false);
    // -3 tokens; one more needs 4 tokens at 100 per second.
    expect(refused.retryAfterMs).toBeGreaterThanOrEqual(35);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(40);
  });

  it('spends a busy subject through leases: far fewer Redis calls, never more than the bucket across replicas', async () => {
    const grant = jest.spyOn(RedisTokenBuckets.prototype, 'grant');
    try {
      // A lease of 50 ms of 2,000 a second: 100 tokens (a tenth of the burst of 1,000).
      const replicas = [limiter(2000, 1000), limiter(2000, 1000), limiter(2000, 1000)];
      const started = Date.now();
      const decisions = await Promise.all(
        Array.from({ length: 3000 }, (_, i) => replicas[i % 3]!.take('leased', 1)),
      );
      const refill = ((Date.now() - started) * 2000) / 1000;
      const allowed = decisions.filter((d) => d.allowed).length;
      expect(allowed).toBeLessThanOrEqual(1000 + refill);
      // Each replica may hold a lease the others could not use.
      expect(allowed).toBeGreaterThanOrEqual(1000 - 3 * 100);
      expect(decisions.find((d) => !d.allowed)!.retryAfterMs).toBeGreaterThan(0);
      // A call per lease while the bucket lasted, then a refusal each replica remembers.
      expect(grant.mock.calls.length).toBeLessThan(100);
    } finally {
      grant.mockRestore();
    }
  });

  it('keeps each bucket only as long as it takes to fill up again', async () => {
    const bucket = limiter(10, 5);
    await bucket.take('ttl', 5);
    const ttl = await redis.pttl(new RedisKeys(queue).rateLimit('ttl'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(500 + 1000);
  });
});

describe('SubmissionLimit when Redis does not answer', () => {
  it('lets submissions through (fail open), counts it, and skips Redis for a moment after', async () => {
    const limiter = new RedisRateLimiter({
      url: 'redis://127.0.0.1:1',
      queue: uniqueQueue(),
      perSecond: 1,
      burst: 1,
      commandTimeoutMs: 200,
    });
    const take = jest.spyOn(limiter, 'take');
    const events = { rateLimited: jest.fn(), rateLimiterFailedOpen: jest.fn() };
    const limit = new SubmissionLimit({
      limiter,
      events,
      logger: quietLogger,
      defaultRate: { perSecond: 1, burst: 1 },
    });
    const app = express();
    app.use(apiKeyAuth(undefined));
    app.post(
      '/submit',
      limit.charge(() => 1),
      (_req, res) => {
        res.status(202).json({ ok: true });
      },
    );
    app.use(errorHandler(quietLogger));
    const server = await serve(app);
    try {
      for (let i = 0; i < 3; i++) expect((await request(server.url, 'POST', '/submit')).status).toBe(202);
      expect(events.rateLimiterFailedOpen).toHaveBeenCalledTimes(1);
      expect(events.rateLimited).not.toHaveBeenCalled();
      // The later two did not wait for Redis again.
      expect(take).toHaveBeenCalledTimes(1);
    } finally {
      await server.close();
      await limiter.close();
    }
  });
});
