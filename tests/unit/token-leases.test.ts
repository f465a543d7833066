import type { BucketGrant, TokenSource } from '../../services/shared/redis/token-buckets';
import type { RateLimit } from '../../services/shared/tenancy/tenant';
import { leaseSize, TokenLeases } from '../../services/shared/token-leases';

/**
 * A fake of RedisTokenBuckets (the real one is in tests/integration/rate-limiter): one bucket of
 * `tokens` that never refills, granting as GRANT_LUA does, and recording every call.
 */
class FakeBucket implements TokenSource {
  readonly calls: { need: number; want: number }[] = [];
  failing = false;

  constructor(
    public tokens: number,
    private readonly retryAfterMs = 1000,
  ) {}

  async grant(_key: string, _rate: RateLimit, need: number, want: number): Promise<BucketGrant> {
    this.calls.push({ need, want });
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failing) throw new Error('redis did not answer');
    if (this.tokens < Math.max(need, 1)) return { granted: 0, retryAfterMs: this.retryAfterMs };
    const granted = Math.max(need, Math.min(want, this.tokens));
    this.tokens -= granted;
    return { granted, retryAfterMs: 0 };
  }
}

const LARGE: RateLimit = { perSecond: 10_000, burst: 100_000 }; // a lease of 500
const SMALL: RateLimit = { perSecond: 10, burst: 20 }; // no lease

describe('leaseSize', () => {
  it('is 50 ms of the rate, at most a tenth of the burst, and none when that is a token or less', () => {
    expect(leaseSize(LARGE)).toBe(500);
    expect(leaseSize({ perSecond: 10_000, burst: 1000 })).toBe(100);
    expect(leaseSize(SMALL)).toBe(0);
    expect(leaseSize({ perSecond: 40, burst: 1000 })).toBe(2);
  });
});

describe('TokenLeases', () => {
  it('asks for exactly what each request costs when the rate is too small for a lease', async () => {
    const bucket = new FakeBucket(5);
    const leases = new TokenLeases(bucket);
    const decisions = await Promise.all([1, 2, 3].map(() => leases.take('k', SMALL, 2)));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
    expect(bucket.calls).toEqual([
      { need: 2, want: 2 },
      { need: 2, want: 2 },
      { need: 2, want: 2 },
    ]);
  });

  it('serves requests from a lease, and concurrent ones wait for the one asking Redis', async () => {
    const bucket = new FakeBucket(1_000_000);
    const leases = new TokenLeases(bucket);
    const decisions = await Promise.all(Array.from({ length: 2000 }, () => leases.take('k', LARGE, 1)));
    expect(decisions.every((d) => d.allowed)).toBe(true);
    // Each call asks for one request's token plus a lease of 500: four calls serve 2,000.
    expect(bucket.calls).toHaveLength(4);
    expect(bucket.calls[0]).toEqual({ need: 1, want: 501 });
    expect(1_000_000 - bucket.tokens).toBe(2004);
  });

  it('never passes more than the bucket granted, across processes sharing it', async () => {
    const bucket = new FakeBucket(5000);
    const replicas = [new TokenLeases(bucket), new TokenLeases(bucket), new TokenLeases(bucket)];
    const decisions = await Promise.all(
      Array.from({ length: 9000 }, (_, i) => replicas[i % 3]!.take('k', LARGE, 1)),
    );
    const allowed = decisions.filter((d) => d.allowed).length;
    expect(bucket.tokens).toBe(0);
    expect(allowed).toBeLessThanOrEqual(5000);
    // What another replica holds is out of reach: at most one lease each.
    expect(allowed).toBeGreaterThanOrEqual(5000 - 3 * leaseSize(LARGE));
  });

  it('spends what it holds first, and asks only for the rest of a larger cost', async () => {
    const bucket = new FakeBucket(10_000);
    const leases = new TokenLeases(bucket);
    await leases.take('k', LARGE, 1); // holds 500 after this
    expect((await leases.take('k', LARGE, 800)).allowed).toBe(true);
    expect(bucket.calls[1]).toEqual({ need: 300, want: 800 });
  });

  it('remembers a refusal: a request as large does not ask Redis again until the bucket could refill', async () => {
    const bucket = new FakeBucket(0, 60_000);
    const leases = new TokenLeases(bucket);
    const first = await leases.take('k', SMALL, 1);
    expect(first).toEqual({ allowed: false, retryAfterMs: 60_000 });
    const again = await leases.take('k', SMALL, 3);
    expect(again.allowed).toBe(false);
    // The bucket needs 2 more tokens at 10 a second beyond the first refusal's wait.
    expect(again.retryAfterMs).toBeGreaterThan(60_000);
    expect(again.retryAfterMs).toBeLessThanOrEqual(60_200);
    expect(bucket.calls).toHaveLength(1);
  });

  it('gives as many as there are to takeUpTo, and none without asking while the bucket is drained', async () => {
    const bucket = new FakeBucket(300);
    const leases = new TokenLeases(bucket);
    expect(await leases.takeUpTo('k', LARGE, 1000)).toBe(300);
    expect(bucket.calls[0]).toEqual({ need: 0, want: 1500 });
    // Granted less than asked: the bucket is empty for at least the 50 ms a lease takes to refill.
    expect(await leases.takeUpTo('k', LARGE, 10)).toBe(0);
    expect(bucket.calls).toHaveLength(1);
  });

  it('gives concurrent takeUpTo calls their tokens while the bucket has them (none spills for waiting)', async () => {
    const bucket = new FakeBucket(1_000_000);
    const leases = new TokenLeases(bucket);
    const spill = { perSecond: 100, burst: 200 }; // a lease of 5
    const taken = await Promise.all(Array.from({ length: 40 }, () => leases.takeUpTo('k', spill, 1)));
    expect(taken.every((n) => n === 1)).toBe(true);
    // One call per lease of 5 and the task asking: 40 tasks, 7 calls.
    expect(bucket.calls).toHaveLength(7);
  });

  it('refuses every request for a moment once a grant drained the bucket, then asks again', async () => {
    const bucket = new FakeBucket(600);
    const leases = new TokenLeases(bucket);
    const first = await Promise.all(Array.from({ length: 1000 }, () => leases.take('k', LARGE, 1)));
    expect(first.filter((d) => d.allowed)).toHaveLength(600);
    const refused = first.find((d) => !d.allowed)!;
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(50);
    // One call gave a lease, the next drained what was left; the other 398 were refused here.
    expect(bucket.calls).toHaveLength(2);
    bucket.tokens = 10;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect((await leases.take('k', LARGE, 1)).allowed).toBe(true);
    expect(bucket.calls).toHaveLength(3);
  });

  it('keeps its held tokens when Redis fails, and rejects so the caller can fail open', async () => {
    const bucket = new FakeBucket(10_000);
    const leases = new TokenLeases(bucket);
    await leases.take('k', LARGE, 1); // holds 500
    bucket.failing = true;
    await expect(leases.take('k', LARGE, 600)).rejects.toThrow('redis did not answer');
    expect((await leases.take('k', LARGE, 500)).allowed).toBe(true);
    expect(bucket.calls).toHaveLength(2);
  });

  it('starts over when the rate changes (a reloaded keys file)', async () => {
    const bucket = new FakeBucket(10_000);
    const leases = new TokenLeases(bucket);
    await leases.take('k', LARGE, 1);
    await leases.take('k', { perSecond: 20_000, burst: 100_000 }, 1);
    expect(bucket.calls).toHaveLength(2);
  });
});
