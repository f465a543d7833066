import { ApiError } from '../shared/errors';

export interface LongPollLimits {
  /** Long polls open at once in this API process (LONG_POLL_MAX). */
  total: number;
  /** Long polls open at once per client: its API key, or its address without auth (LONG_POLL_MAX_PER_CLIENT). */
  perClient: number;
}

/** LONG_POLL_MAX and LONG_POLL_MAX_PER_CLIENT unless set. */
export const DEFAULT_LONG_POLL_LIMITS: LongPollLimits = { total: 1000, perClient: 100 };

/**
 * Counts the open `?wait=N` long polls. Each holds a socket, a Redis subscription and a timer for
 * up to 30 s, so without a cap one client could hold thousands; over a cap the request is
 * refused with 429 `too_many_waits` (Retry-After: 1), and a poll without `wait` still answers.
 */
export class LongPolls {
  private open = 0;
  private readonly byClient = new Map<string, number>();

  constructor(private readonly limits: LongPollLimits) {}

  /** Takes a place for `client`, or throws 429; call the returned function once the poll ends. */
  enter(client: string): () => void {
    const mine = this.byClient.get(client) ?? 0;
    if (this.open >= this.limits.total || mine >= this.limits.perClient) {
      const which =
        mine >= this.limits.perClient
          ? `this client has ${mine} long polls open (at most ${this.limits.perClient})`
          : `this API instance has ${this.open} long polls open (at most ${this.limits.total})`;
      throw new ApiError(429, 'too_many_waits', `${which}; poll without wait, or retry in 1 s`, [], 1);
    }
    this.open++;
    this.byClient.set(client, mine + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.open--;
      const now = (this.byClient.get(client) ?? 1) - 1;
      if (now === 0) this.byClient.delete(client);
      else this.byClient.set(client, now);
    };
  }
}
