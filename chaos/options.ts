/** How long and how hard one chaos run pushes; `quickOptions` is the jest subset's shortened run. */
export interface ChaosOptions {
  quick: boolean;
  /** Submissions per second of the steady load. */
  ratePerSec: number;
  /** Load before the fault starts and after it ends. */
  warmupMs: number;
  cooldownMs: number;
  /** After the load stops: how long submissions still retrying may take before they give up. */
  clientDrainMs: number;
  /** After that: how long acknowledged tasks may take to finish before they count as lost. */
  settleMs: number;
  /** How often each process' RSS is read from /proc. */
  rssEveryMs: number;
  workerKill: { durationMs: number; everyMs: number };
  /** clientDrainMs: the backlog of submissions refused while the broker was down takes a while to go through. */
  kafkaOutage: { downMs: number; clientDrainMs: number };
  redisOutage: { downMs: number };
  /** Time between the API's `kill -9` and its replacement starting. */
  apiKill: { downMs: number; clientDrainMs: number };
  hang: { timeoutMs: number; burstTaskMs: number };
  rolling: { workers: number; longTaskMs: [number, number]; shutdownTimeoutMs: number };
  /** The batch in flight during a kill storm (its kills are workerKill's): children, in that many requests. */
  batch: { children: number; requests: number };
  /** Steady load without faults: the baseline (and the soak, with its own duration). */
  baselineMs: number;
}

export function fullOptions(): ChaosOptions {
  return {
    quick: false,
    ratePerSec: 100,
    warmupMs: 5000,
    cooldownMs: 5000,
    clientDrainMs: 30_000,
    settleMs: 120_000,
    rssEveryMs: 5000,
    workerKill: { durationMs: 30_000, everyMs: 5000 },
    kafkaOutage: { downMs: 10_000, clientDrainMs: 90_000 },
    redisOutage: { downMs: 10_000 },
    // An Idempotency-Key claimed by the killed API stays "in progress" for PUBLISH_TIMEOUT_MS + 10 s.
    apiKill: { downMs: 1000, clientDrainMs: 90_000 },
    hang: { timeoutMs: 2000, burstTaskMs: 1500 },
    rolling: { workers: 3, longTaskMs: [2000, 8000], shutdownTimeoutMs: 4000 },
    batch: { children: 3000, requests: 6 },
    baselineMs: 60_000,
  };
}

/** Shortened scenarios for tests/chaos: the same faults, fewer seconds of each. */
export function quickOptions(): ChaosOptions {
  return {
    quick: true,
    ratePerSec: 40,
    warmupMs: 2000,
    cooldownMs: 2000,
    clientDrainMs: 10_000,
    settleMs: 60_000,
    rssEveryMs: 5000,
    workerKill: { durationMs: 12_000, everyMs: 4000 },
    kafkaOutage: { downMs: 4000, clientDrainMs: 10_000 },
    redisOutage: { downMs: 5000 },
    apiKill: { downMs: 500, clientDrainMs: 5000 },
    hang: { timeoutMs: 1500, burstTaskMs: 1500 },
    rolling: { workers: 2, longTaskMs: [1000, 3000], shutdownTimeoutMs: 1500 },
    batch: { children: 1200, requests: 4 },
    baselineMs: 10_000,
  };
}

/** `10m`, `90s`, `1h`, or a number of seconds, in milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration (try 10m, 90s, 1h)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's']!;
  return Math.round(Number(match[1]) * unit);
}
