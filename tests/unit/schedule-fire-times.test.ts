import {
  checkCron,
  fireTimesOf,
  isTimeZone,
  nextFireTimes,
} from '../../services/shared/schedules/fire-times';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('fire times', () => {
  it.each([
    [
      'lists the next fire times of a cron expression, strictly after the given time',
      { cron: '*/15 * * * *', timeZone: 'UTC' },
      '2026-01-01T10:00:00Z',
      ['2026-01-01T10:15:00.000Z', '2026-01-01T10:30:00.000Z', '2026-01-01T10:45:00.000Z'],
    ],
    [
      'reads a six-field cron with seconds',
      { cron: '*/2 * * * * *', timeZone: 'UTC' },
      '2026-01-01T10:00:00.500Z',
      ['2026-01-01T10:00:02.000Z', '2026-01-01T10:00:04.000Z', '2026-01-01T10:00:06.000Z'],
    ],
    [
      // 09:00 in Berlin is 08:00 UTC in winter (CET), 07:00 UTC in summer (CEST); DST began on 29 March 2026.
      'reads the fields in the time zone, daylight saving time included',
      { cron: '0 9 * * *', timeZone: 'Europe/Berlin' },
      '2026-03-27T12:00:00Z',
      ['2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z'],
    ],
    [
      // New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that day:
      // it fires at 03:30 EDT, then at 02:30 EDT on the next days.
      'fires a local time that the spring-forward gap skips right after the gap, once',
      { cron: '30 2 * * *', timeZone: 'America/New_York' },
      '2026-03-07T12:00:00Z',
      ['2026-03-08T07:30:00.000Z', '2026-03-09T06:30:00.000Z', '2026-03-10T06:30:00.000Z'],
    ],
    [
      // New York, 1 November 2026: 02:00 EDT falls back to 01:00 EST, so 01:30 happens twice.
      'fires a local time that the fall-back repeats only once',
      { cron: '30 1 * * *', timeZone: 'America/New_York' },
      '2026-10-31T12:00:00Z',
      ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z', '2026-11-03T06:30:00.000Z'],
    ],
    [
      // 01:00 EDT, 01:00 EST, 02:00 EST: one hour apart in real time.
      'fires an hourly cron in every real hour across the fall-back',
      { cron: '0 * * * *', timeZone: 'America/New_York' },
      '2026-11-01T04:30:00Z',
      ['2026-11-01T05:00:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T07:00:00.000Z'],
    ],
  ])('%s', (_what, timing, after, expected) => {
    expect(nextFireTimes(timing, at(after), expected.length).map(iso)).toEqual(expected);
  });

  it('counts an interval from its anchor, the first tick one interval after it', () => {
    const timing = { intervalMs: 60_000, anchorAt: at('2026-01-01T10:00:00.250Z') };
    const times = fireTimesOf(timing);
    expect(iso(times.after(timing.anchorAt - 5000)!)).toBe('2026-01-01T10:01:00.250Z');
    expect(iso(times.after(at('2026-01-01T10:01:00.250Z'))!)).toBe('2026-01-01T10:02:00.250Z');
    expect(iso(times.before(at('2026-01-01T10:02:00.250Z'))!)).toBe('2026-01-01T10:01:00.250Z');
    expect(times.before(at('2026-01-01T10:01:00.250Z'))).toBeUndefined();
    expect(nextFireTimes(timing, at('2026-01-01T10:30:00Z'), 2).map(iso)).toEqual([
      '2026-01-01T10:30:00.250Z',
      '2026-01-01T10:31:00.250Z',
    ]);
  });

  it('walks cron times backwards as well', () => {
    const times = fireTimesOf({ cron: '0 * * * *', timeZone: 'UTC' });
    expect(iso(times.before(at('2026-01-01T10:00:00Z'))!)).toBe('2026-01-01T09:00:00.000Z');
    expect(iso(times.before(at('2026-01-01T10:00:00.001Z'))!)).toBe('2026-01-01T10:00:00.000Z');
  });

  it('refuses what is not a cron expression or a time zone', () => {
    expect(() => checkCron('61 * * * *', 'UTC')).toThrow();
    expect(() => checkCron('0 0 30 2 *', 'UTC')).toThrow();
    expect(() => checkCron('* * * * * * *', 'UTC')).toThrow();
    expect(() => checkCron('0 9 * * 1-5', 'Europe/Berlin')).not.toThrow();
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
