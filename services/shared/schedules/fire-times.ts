import { CronExpressionParser } from 'cron-parser';
import type { ScheduleTiming } from './schedule';

/**
 * A schedule's fire times, computed the same way by the API (the next five it lists) and by
 * every firer (which ticks are due). Cron times come from cron-parser, which reads the fields in
 * the schedule's time zone and handles daylight saving time as its docs say: a local time that a
 * spring-forward gap skips fires at the first instant after the gap, a time a fall-back repeats
 * fires once (at its first occurrence), and `*` hours fire in every real hour.
 */
export interface FireTimes {
  /** The earliest fire time strictly after `at` (epoch ms), or undefined when none follows. */
  after(at: number): number | undefined;
  /** The latest fire time strictly before `at`, or undefined when none precedes. */
  before(at: number): number | undefined;
}

/**
 * Most fire times counted one by one: cron-parser takes about 20 µs a step, so counting the
 * seconds of a day of outage would hold a firer for seconds. Beyond it a count is a lower bound.
 */
export const MAX_COUNTED_TICKS = 1000;

export function fireTimesOf(timing: ScheduleTiming): FireTimes {
  return 'cron' in timing ? cronTimes(timing.cron, timing.timeZone) : intervalTimes(timing);
}

/** The next `count` fire times after `at`, oldest first. */
export function nextFireTimes(timing: ScheduleTiming, at: number, count: number): number[] {
  const times = fireTimesOf(timing);
  const found: number[] = [];
  for (let t = times.after(at); t !== undefined && found.length < count; t = times.after(t)) found.push(t);
  return found;
}

/** Parses a cron expression as a schedule would use it: throws a message for a client if it cannot. */
export function checkCron(cron: string, timeZone: string): void {
  // next() is where an impossible expression (Feb 30) or an unknown zone shows up.
  CronExpressionParser.parse(cron, { tz: timeZone, currentDate: new Date() }).next();
}

/** Whether `zone` is an IANA time zone this runtime knows (the one cron-parser will use). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function cronTimes(cron: string, timeZone: string): FireTimes {
  const step = (at: number, direction: 'next' | 'prev'): number | undefined => {
    const expression = CronExpressionParser.parse(cron, { tz: timeZone, currentDate: new Date(at) });
    try {
      return expression[direction]().getTime();
    } catch {
      // No time in that direction within the library's search span.
      return undefined;
    }
  };
  return { after: (at) => step(at, 'next'), before: (at) => step(at, 'prev') };
}

function intervalTimes({ intervalMs, anchorAt }: { intervalMs: number; anchorAt: number }): FireTimes {
  // Ticks are anchorAt + k × intervalMs for k ≥ 1: the schedule's first tick is one interval after it was set.
  return {
    after: (at) => anchorAt + Math.max(1, Math.floor((at - anchorAt) / intervalMs) + 1) * intervalMs,
    before: (at) => {
      const k = Math.ceil((at - anchorAt) / intervalMs) - 1;
      return k >= 1 ? anchorAt + k * intervalMs : undefined;
    },
  };
}
