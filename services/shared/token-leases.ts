import type { BucketGrant, TokenSource } from './redis/token-buckets';
import type { RateLimit } from './tenancy/tenant';

/**
 * A lease is this many milliseconds of a bucket's rate: what one API process takes from Redis
 * beyond what a request needs, and then spends without asking Redis again.
 */
export const LEASE_WINDOW_MS = 50;
/** A lease is at most this share of the burst, so a few replicas' leases cannot hold most of it. */
const LEASE_SHARE_OF_BURST = 0.1;
/** Held tokens unused this long are dropped (and with them what the map holds for an idle subject). */
const HOLD_MS = 5000;

/**
 * The extra tokens a lease of `rate` holds; 0 (no lease: every request asks Redis) for small
 * rates and bursts, where a lease would be one token and would change who gets refused.
 */
export function leaseSize(rate: RateLimit): number {
  const size = Math.min(
    Math.floor((rate.perSecond * LEASE_WINDOW_MS) / 1000),
    Math.floor(rate.burst * LEASE_SHARE_OF_BURST),
  );
  return size >= 2 ? size : 0;
}

/** What one request got: `taken` tokens, and when none, how long until it could have them. */
interface Acquired {
  taken: number;
  retryAfterMs: number;
}

export interface TakeDecision {
  allowed: boolean;
  /** When refused: how long until the same request would pass. */
  retryAfterMs: number;
}

interface Holding {
  perSecond: number;
  burst: number;
  tokens: number;
  usedAt: number;
  /** The request asking Redis for this subject now; others wait for it instead of asking too. */
  asking?: Promise<unknown>;
  /** Redis said fewer than `need` tokens are in the bucket until `until`: certain, it only refills at its rate. */
  short?: { need: number; until: number };
}

/**
 * Spends token buckets (RedisTokenBuckets) through leases held by this process, so a busy
 * tenant's submissions do not each wait for a Redis round trip: when what it holds runs out, a
 * request asks Redis for what it needs plus a lease (LEASE_WINDOW_MS of the rate, at most a tenth
 * of the burst) that the next requests spend. Concurrent requests wait for the one asking rather
 * than each asking. What Redis granted is all that is ever spent, so a rate still holds across
 * replicas; a replica may hold up to one lease the others cannot use (their refusals come that
 * much early), and held tokens unused for HOLD_MS are dropped. What Redis says of an empty bucket
 * is remembered, so an over-limit client does not cost Redis a call per request: after a refusal,
 * a request needing as much is refused here until the bucket could have refilled; after a grant
 * smaller than asked (the bucket is drained), every request is, until a lease could be back.
 */
export class TokenLeases {
  private readonly held = new Map<string, Holding>();
  private sweptAt = Date.now();

  constructor(private readonly source: TokenSource) {}

  /** `cost` tokens or none (a request, or a batch of `cost` tasks). */
  async take(key: string, rate: RateLimit, cost: number): Promise<TakeDecision> {
    const { taken, retryAfterMs } = await this.acquire(key, rate, cost, cost);
    return { allowed: taken === cost, retryAfterMs };
  }

  /** As many of `count` tokens as there are (0 to `count`): tasks beyond them spill. */
  async takeUpTo(key: string, rate: RateLimit, count: number): Promise<number> {
    return (await this.acquire(key, rate, 0, count)).taken;
  }

  /**
   * Between `need` and `wanted` tokens (`need` 0: any number, none included), from what is held
   * or else from Redis; or none, with how long until `need` could be had.
   */
  private async acquire(key: string, rate: RateLimit, need: number, wanted: number): Promise<Acquired> {
    for (;;) {
      const holding = this.holding(key, rate);
      if (holding.tokens >= wanted) return { taken: this.fromHolding(holding, wanted), retryAfterMs: 0 };
      const short = shortFor(holding, Math.max(need - holding.tokens, 1));
      if (short !== undefined) return this.shortOf(holding, need, wanted, short);
      // Checked before any await, or every concurrent request would pass it. The wait ends: each
      // asking either leaves a lease to spend or tells of an empty bucket (a refusal here).
      if (holding.asking && leaseSize(rate) > 0) {
        await holding.asking.catch(() => undefined);
        continue;
      }
      const grant = await this.ask(key, holding, rate, need, wanted);
      if (grant.granted === 0) return this.shortOf(holding, need, wanted, grant.retryAfterMs);
      return { taken: Math.min(wanted, grant.granted), retryAfterMs: 0 };
    }
  }

  /** The bucket lacks `need`: none when a minimum was asked for, else what is held (maybe none). */
  private shortOf(holding: Holding, need: number, wanted: number, retryAfterMs: number): Acquired {
    return need > 0 ? { taken: 0, retryAfterMs } : { taken: this.fromHolding(holding, wanted), retryAfterMs };
  }

  private fromHolding(holding: Holding, count: number): number {
    const taken = Math.max(0, Math.min(count, holding.tokens));
    holding.tokens -= taken;
    return taken;
  }

  /**
   * Asks Redis for `wanted` tokens less what is held, at least `need` of them (0: any), plus a
   * lease. The held tokens go into the request while it waits (so no one spends them twice); of
   * the total with what Redis granted, the asker takes up to `wanted` and the rest is held, in the
   * same step that ends the asking (requests waiting for it look next, and must see the tokens).
   * `granted` is the total, or 0 when Redis refused (the held tokens are back in the holding then,
   * and the refusal is remembered).
   */
  private async ask(
    key: string,
    holding: Holding,
    rate: RateLimit,
    need: number,
    wanted: number,
  ): Promise<BucketGrant> {
    const held = holding.tokens;
    holding.tokens = 0;
    const askedAt = Date.now();
    const lease = leaseSize(rate);
    const asked = wanted - held + lease;
    const asking = this.source.grant(key, rate, Math.max(0, need - held), asked);
    holding.asking = asking;
    let grant: BucketGrant;
    try {
      grant = await asking;
    } catch (err) {
      holding.tokens += held;
      throw err;
    } finally {
      if (holding.asking === asking) delete holding.asking;
    }
    if (grant.granted === 0) {
      holding.tokens += held;
      holding.short = { need: Math.max(need - held, 1), until: askedAt + grant.retryAfterMs };
      return grant;
    }
    if (grant.granted < asked && lease > 0) {
      // Redis gave every whole token it had: none is left. Requests are refused here until a
      // lease's worth could be back, instead of each asking Redis for the odd token.
      holding.short = { need: 1, until: askedAt + Math.ceil((lease * 1000) / rate.perSecond) };
    } else {
      delete holding.short;
    }
    const total = held + grant.granted;
    holding.tokens += total - Math.min(wanted, total);
    return { granted: total, retryAfterMs: 0 };
  }

  private holding(key: string, rate: RateLimit): Holding {
    const now = Date.now();
    if (now - this.sweptAt > HOLD_MS) this.sweep(now);
    let holding = this.held.get(key);
    // A changed rate (a reloaded keys file) starts over: what was held was for the old one.
    if (!holding || holding.perSecond !== rate.perSecond || holding.burst !== rate.burst) {
      holding = { perSecond: rate.perSecond, burst: rate.burst, tokens: 0, usedAt: now };
      this.held.set(key, holding);
    }
    holding.usedAt = now;
    return holding;
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [key, holding] of this.held) {
      if (now - holding.usedAt > HOLD_MS && !holding.asking) this.held.delete(key);
    }
  }
}

/** Milliseconds a request needing `need` more tokens must wait, when Redis already said so; else undefined. */
function shortFor(holding: Holding, need: number): number | undefined {
  const short = holding.short;
  if (!short) return undefined;
  const wait = short.until - Date.now();
  if (wait <= 0) {
    delete holding.short;
    return undefined;
  }
  if (need < short.need) return undefined;
  return wait + Math.ceil(((need - short.need) * 1000) / holding.perSecond);
}
