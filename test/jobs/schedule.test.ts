import { CronExpressionParser } from 'cron-parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/graphql/errors.js';
import {
  describeSchedule,
  fasterThan,
  nextRunAt,
  normalizeCron,
  SCHEDULE_KINDS,
  scheduleFromRow,
  scheduleToRow,
  typicalIntervalMs,
  validateSchedule,
  type Schedule,
  type ScheduleKind,
} from '../../src/jobs/schedule.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const CRON_SHAPE = 'expected a cron expression of 5 fields (minute hour day-of-month month day-of-week)';
const TZ_SHAPE = 'expected an IANA time zone name such as "Europe/Paris" or "UTC"';

/** ISO of the next run after `after` (an ISO string). */
function next(schedule: Schedule, after: string): string | null {
  return nextRunAt(schedule, new Date(after))?.toISOString() ?? null;
}

/** ISO of the next `n` runs after `after`. */
function runs(schedule: Schedule, after: string, n: number): string[] {
  const out: string[] = [];
  let at = new Date(after);
  for (let i = 0; i < n; i++) {
    at = nextRunAt(schedule, at)!;
    out.push(at.toISOString());
  }
  return out;
}

/** "YYYY-MM-DD HH:MM:SS" on the clock of `timeZone`. */
function local(iso: string | Date, timeZone: string): string {
  return new Date(iso).toLocaleString('sv-SE', { timeZone });
}

describe('validateSchedule', () => {
  it.each<Schedule>([
    { kind: 'MANUAL' },
    { kind: 'EVERY_15_MINUTES', cron: null, timezone: null },
    { kind: 'HOURLY', timezone: 'Asia/Kolkata' },
    { kind: 'DAILY', timezone: 'Europe/Paris' },
    { kind: 'WEEKLY', timezone: 'America/New_York', cron: '' },
    { kind: 'CRON', cron: '0 6 * * 1-5', timezone: 'Europe/Paris' },
    { kind: 'CRON', cron: '  */15   9-17 * * MON-FRI ' },
    { kind: 'CRON', cron: '0 0 L * *' },
    { kind: 'CRON', cron: '0 0 * * 7' },
    { kind: 'CRON', cron: '0 0 * * 1#2' },
    { kind: 'CRON', cron: '0 0 * * THU' }, // an H in a day name is not a hashed value
    { kind: 'CRON', cron: '0 0 29 2 *' }, // rare, but it runs
    { kind: 'CRON', cron: '* * * * *' }, // once a minute is the fastest allowed
  ])('accepts %j', (schedule) => {
    expect(validateSchedule(schedule)).toEqual([]);
  });

  it.each(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT+5', 'Asia/Kolkata', 'Asia/Calcutta', 'Europe/Kyiv', 'US/Eastern', 'America/Argentina/Buenos_Aires'])(
    'accepts the time zone %s, links included',
    (timezone) => {
      expect(validateSchedule({ kind: 'DAILY', timezone })).toEqual([]);
    },
  );

  it('refuses a CRON schedule without an expression', () => {
    expect(validateSchedule({ kind: 'CRON' }, ['schedule'])).toEqual([
      { path: ['schedule', 'cron'], message: `${CRON_SHAPE} for a CRON schedule, but got none` },
    ]);
    expect(validateSchedule({ kind: 'CRON', cron: null })).toEqual([
      { path: ['cron'], message: `${CRON_SHAPE} for a CRON schedule, but got none` },
    ]);
    expect(validateSchedule({ kind: 'CRON', cron: '  ' })).toEqual([
      { path: ['cron'], message: `${CRON_SHAPE}, but got "  ": it is empty` },
    ]);
  });

  it('refuses an expression for a kind other than CRON', () => {
    expect(validateSchedule({ kind: 'DAILY', cron: '0 6 * * *' }, ['input', 'schedule'])).toEqual([
      {
        path: ['input', 'schedule', 'cron'],
        message: 'expected no cron expression for a DAILY schedule (only CRON schedules have one), but got "0 6 * * *"',
      },
    ]);
    expect(validateSchedule({ kind: 'MANUAL', cron: '* * * * *' })).toHaveLength(1);
  });

  it.each([
    ['0 6 * *', 'it has 4 fields'],
    ['daily', 'it has 1 field'],
    ['0 6 * * 1-5 2025 x', 'it has 7 fields'],
    ['0 0 6 * * 1-5', 'it has 6 fields, but a seconds field is not supported (schedules run at most once a minute)'],
    ['* * * * * *', 'it has 6 fields, but a seconds field is not supported (schedules run at most once a minute)'],
    ['@daily', 'macros such as @daily are not supported; write "0 0 * * *" instead'],
    ['@WEEKLY', 'macros such as @WEEKLY are not supported; write "0 0 * * 0" instead'],
    ['@reboot', 'macros such as @reboot are not supported; write the 5 fields'],
    ['H * * * *', 'hashed values (H) are not supported; write explicit values'],
    ['0 H(0-5) * * *', 'hashed values (H) are not supported; write explicit values'],
    // cron-parser's own reasons, quoted as they are
    ['61 * * * *', 'Constraint error, got value 61 expected range 0-59'],
    ['0 24 * * *', 'Constraint error, got value 24 expected range 0-23'],
    ['0 0 0 * *', 'Constraint error, got value 0 expected range 1-31'],
    ['0 0 * 13 *', 'Constraint error, got value 13 expected range 1-12'],
    ['0 0 * * 8', 'Constraint error, got value 8 expected range 0-7'],
    ['*/0 * * * *', 'Constraint error, cannot repeat at every 0 time.'],
    ['5-1 * * * *', 'Invalid range: 5-1, min(5) > max(1)'],
    ['a b c d e', 'Invalid characters, got value: a'],
    ['0 0 * * FUN', 'Validation error, cannot resolve alias "fun"'],
    ['0 0 30 2 *', 'Invalid explicit day of month definition'], // never runs
  ])('refuses the expression %j: %s', (cron, reason) => {
    expect(validateSchedule({ kind: 'CRON', cron }, ['schedule'])).toEqual([
      { path: ['schedule', 'cron'], message: `${CRON_SHAPE}, but got ${JSON.stringify(cron)}: ${reason}` },
    ]);
  });

  it('refuses an unknown time zone, suggesting the closest', () => {
    expect(validateSchedule({ kind: 'DAILY', timezone: 'Europe/Pariss' }, ['schedule'])).toEqual([
      { path: ['schedule', 'timezone'], message: `${TZ_SHAPE}, but got "Europe/Pariss"`, suggestion: 'Europe/Paris' },
    ]);
    // by the place alone
    expect(validateSchedule({ kind: 'DAILY', timezone: 'Paris' })).toEqual([
      { path: ['timezone'], message: `${TZ_SHAPE}, but got "Paris"`, suggestion: 'Europe/Paris' },
    ]);
    expect(validateSchedule({ kind: 'DAILY', timezone: 'New York' })[0]?.suggestion).toBe('America/New_York');
    expect(validateSchedule({ kind: 'DAILY', timezone: 'UTX' })[0]?.suggestion).toBe('UTC');
    expect(validateSchedule({ kind: 'DAILY', timezone: 'Mars/Olympus_Mons' })).toEqual([
      { path: ['timezone'], message: `${TZ_SHAPE}, but got "Mars/Olympus_Mons"` },
    ]);
    expect(validateSchedule({ kind: 'DAILY', timezone: '' })).toEqual([{ path: ['timezone'], message: `${TZ_SHAPE}, but got ""` }]);
    expect(validateSchedule({ kind: 'DAILY', timezone: ' Europe/Paris' })).toHaveLength(1);
  });

  it('refuses a UTC offset, suggesting the Etc zone when there is one', () => {
    const offset = (tz: string) =>
      `${TZ_SHAPE}, but got the UTC offset "${tz}", which does not follow daylight saving time; use the zone of a place (e.g. "Europe/Paris"), or an Etc/GMT zone for a fixed offset`;
    expect(validateSchedule({ kind: 'DAILY', timezone: '+02:00' })).toEqual([
      { path: ['timezone'], message: offset('+02:00'), suggestion: 'Etc/GMT-2' },
    ]);
    expect(validateSchedule({ kind: 'DAILY', timezone: 'UTC-5' })).toEqual([
      { path: ['timezone'], message: offset('UTC-5'), suggestion: 'Etc/GMT+5' },
    ]);
    expect(validateSchedule({ kind: 'DAILY', timezone: 'GMT+05:30' })).toEqual([{ path: ['timezone'], message: offset('GMT+05:30') }]);
  });

  it('refuses an unknown kind, suggesting the closest', () => {
    expect(validateSchedule({ kind: 'DAYLY' as ScheduleKind })).toEqual([
      {
        path: ['kind'],
        message: 'expected a schedule kind, one of MANUAL, EVERY_15_MINUTES, HOURLY, DAILY, WEEKLY, CRON, but got "DAYLY"',
        suggestion: 'DAILY',
      },
    ]);
  });

  it('reports every problem at once', () => {
    expect(validateSchedule({ kind: 'CRON', cron: '0 0 6 * * *', timezone: 'Europe/Pariss' }, ['schedule']).map((p) => p.path)).toEqual([
      ['schedule', 'cron'],
      ['schedule', 'timezone'],
    ]);
  });
});

describe('nextRunAt', () => {
  it('has no next run for MANUAL', () => {
    expect(nextRunAt({ kind: 'MANUAL' }, new Date('2025-01-01T00:00:00Z'))).toBeNull();
    expect(nextRunAt({ kind: 'MANUAL', timezone: 'Europe/Paris' }, new Date('2025-01-01T00:00:00Z'))).toBeNull();
  });

  it('EVERY_15_MINUTES: the next quarter hour, strictly after', () => {
    const s: Schedule = { kind: 'EVERY_15_MINUTES' };
    expect(next(s, '2025-01-15T10:00:00.000Z')).toBe('2025-01-15T10:15:00.000Z');
    expect(next(s, '2025-01-15T10:07:31.000Z')).toBe('2025-01-15T10:15:00.000Z');
    expect(next(s, '2025-01-15T10:14:59.999Z')).toBe('2025-01-15T10:15:00.000Z');
    expect(next(s, '2025-01-15T10:15:00.000Z')).toBe('2025-01-15T10:30:00.000Z');
    expect(next(s, '2025-01-15T10:15:00.001Z')).toBe('2025-01-15T10:30:00.000Z');
    expect(next(s, '2025-01-15T10:45:00.000Z')).toBe('2025-01-15T11:00:00.000Z');
    expect(next(s, '2025-12-31T23:50:00.000Z')).toBe('2026-01-01T00:00:00.000Z');
  });

  it('EVERY_15_MINUTES: local quarter hours, also at a :45 offset and through a repeated hour', () => {
    const kathmandu = runs({ kind: 'EVERY_15_MINUTES', timezone: 'Asia/Kathmandu' }, '2025-01-15T10:01:00Z', 2);
    expect(kathmandu).toEqual(['2025-01-15T10:15:00.000Z', '2025-01-15T10:30:00.000Z']);
    expect(local(kathmandu[0]!, 'Asia/Kathmandu')).toBe('2025-01-15 16:00:00');
    // Paris, 26 October 2025: 03:00 CEST becomes 02:00 CET; 02:00–03:00 happens twice, each run 15 real minutes apart.
    const repeated = runs({ kind: 'EVERY_15_MINUTES', timezone: 'Europe/Paris' }, '2025-10-26T00:00:00Z', 9);
    expect(repeated).toEqual([
      '2025-10-26T00:15:00.000Z',
      '2025-10-26T00:30:00.000Z',
      '2025-10-26T00:45:00.000Z',
      '2025-10-26T01:00:00.000Z',
      '2025-10-26T01:15:00.000Z',
      '2025-10-26T01:30:00.000Z',
      '2025-10-26T01:45:00.000Z',
      '2025-10-26T02:00:00.000Z',
      '2025-10-26T02:15:00.000Z',
    ]);
  });

  it('HOURLY: the next full hour, strictly after', () => {
    const s: Schedule = { kind: 'HOURLY' };
    expect(next(s, '2025-01-15T10:00:00.000Z')).toBe('2025-01-15T11:00:00.000Z');
    expect(next(s, '2025-01-15T10:59:59.999Z')).toBe('2025-01-15T11:00:00.000Z');
    expect(next(s, '2025-01-15T10:00:00.001Z')).toBe('2025-01-15T11:00:00.000Z');
    expect(next(s, '2025-01-15T23:30:00.000Z')).toBe('2025-01-16T00:00:00.000Z');
  });

  it('HOURLY: local full hours (Asia/Kolkata is UTC+05:30)', () => {
    const s: Schedule = { kind: 'HOURLY', timezone: 'Asia/Kolkata' };
    expect(next(s, '2025-01-15T10:00:00Z')).toBe('2025-01-15T10:30:00.000Z');
    expect(next(s, '2025-01-15T10:30:00Z')).toBe('2025-01-15T11:30:00.000Z');
  });

  it('HOURLY through DST in Paris: a skipped hour is skipped, a repeated one runs twice', () => {
    // 30 March 2025: 02:00 CET becomes 03:00 CEST.
    const spring = runs({ kind: 'HOURLY', timezone: 'Europe/Paris' }, '2025-03-30T00:30:00Z', 3);
    expect(spring).toEqual(['2025-03-30T01:00:00.000Z', '2025-03-30T02:00:00.000Z', '2025-03-30T03:00:00.000Z']);
    expect(spring.map((r) => local(r, 'Europe/Paris'))).toEqual(['2025-03-30 03:00:00', '2025-03-30 04:00:00', '2025-03-30 05:00:00']);
    // 26 October 2025: 03:00 CEST becomes 02:00 CET.
    const autumn = runs({ kind: 'HOURLY', timezone: 'Europe/Paris' }, '2025-10-25T23:30:00Z', 3);
    expect(autumn).toEqual(['2025-10-26T00:00:00.000Z', '2025-10-26T01:00:00.000Z', '2025-10-26T02:00:00.000Z']);
    expect(autumn.map((r) => local(r, 'Europe/Paris'))).toEqual(['2025-10-26 02:00:00', '2025-10-26 02:00:00', '2025-10-26 03:00:00']);
  });

  it('DAILY: the next midnight, strictly after', () => {
    const s: Schedule = { kind: 'DAILY' };
    expect(next(s, '2025-01-15T00:00:00.000Z')).toBe('2025-01-16T00:00:00.000Z');
    expect(next(s, '2025-01-15T23:59:59.999Z')).toBe('2025-01-16T00:00:00.000Z');
    expect(next(s, '2025-01-15T00:00:00.001Z')).toBe('2025-01-16T00:00:00.000Z');
    expect(next(s, '2025-12-31T12:00:00Z')).toBe('2026-01-01T00:00:00.000Z');
    expect(next(s, '2024-02-28T12:00:00Z')).toBe('2024-02-29T00:00:00.000Z');
    expect(next({ kind: 'DAILY', timezone: 'UTC' }, '2025-01-15T12:00:00Z')).toBe('2025-01-16T00:00:00.000Z');
  });

  it('DAILY in Europe/Paris runs at local midnight across both DST changes', () => {
    const s: Schedule = { kind: 'DAILY', timezone: 'Europe/Paris' };
    expect(next(s, '2025-01-15T12:00:00Z')).toBe('2025-01-15T23:00:00.000Z'); // CET, UTC+1
    expect(next(s, '2025-01-15T23:00:00Z')).toBe('2025-01-16T23:00:00.000Z'); // exactly at midnight → the next one
    expect(next(s, '2025-07-15T12:00:00Z')).toBe('2025-07-15T22:00:00.000Z'); // CEST, UTC+2
    // Spring forward on Sunday 30 March 2025: the day is 23 hours long.
    expect(runs(s, '2025-03-28T12:00:00Z', 3)).toEqual(['2025-03-28T23:00:00.000Z', '2025-03-29T23:00:00.000Z', '2025-03-30T22:00:00.000Z']);
    // Fall back on Sunday 26 October 2025: the day is 25 hours long.
    expect(runs(s, '2025-10-24T12:00:00Z', 3)).toEqual(['2025-10-24T22:00:00.000Z', '2025-10-25T22:00:00.000Z', '2025-10-26T23:00:00.000Z']);
  });

  it('DAILY in America/New_York runs at local midnight across both DST changes', () => {
    const s: Schedule = { kind: 'DAILY', timezone: 'America/New_York' };
    // 9 March 2025: 02:00 EST becomes 03:00 EDT.
    expect(runs(s, '2025-03-08T12:00:00Z', 3)).toEqual(['2025-03-09T05:00:00.000Z', '2025-03-10T04:00:00.000Z', '2025-03-11T04:00:00.000Z']);
    // 2 November 2025: 02:00 EDT becomes 01:00 EST.
    expect(runs(s, '2025-11-01T12:00:00Z', 3)).toEqual(['2025-11-02T04:00:00.000Z', '2025-11-03T05:00:00.000Z', '2025-11-04T05:00:00.000Z']);
    for (const r of [...runs(s, '2025-03-08T12:00:00Z', 3), ...runs(s, '2025-11-01T12:00:00Z', 3)]) {
      expect(local(r, 'America/New_York')).toMatch(/ 00:00:00$/);
    }
  });

  it('DAILY where midnight is skipped runs at the end of the gap, and where it repeats runs once', () => {
    // America/Santiago, 7 September 2025: 00:00 -04 becomes 01:00 -03.
    const santiago = runs({ kind: 'DAILY', timezone: 'America/Santiago' }, '2025-09-05T12:00:00Z', 3);
    expect(santiago.map((r) => local(r, 'America/Santiago'))).toEqual(['2025-09-06 00:00:00', '2025-09-07 01:00:00', '2025-09-08 00:00:00']);
    // America/Havana, 2 November 2025: 01:00 CDT becomes 00:00 CST, so 00:00 happens twice.
    const havana: Schedule = { kind: 'DAILY', timezone: 'America/Havana' };
    expect(runs(havana, '2025-11-01T12:00:00Z', 2)).toEqual(['2025-11-02T04:00:00.000Z', '2025-11-03T05:00:00.000Z']);
    expect(next(havana, '2025-11-02T04:30:00Z')).toBe('2025-11-03T05:00:00.000Z'); // between the two midnights
    expect(next(havana, '2025-11-02T05:00:00Z')).toBe('2025-11-03T05:00:00.000Z'); // at the second one
    // Pacific/Apia skipped 30 December 2011 altogether.
    expect(runs({ kind: 'DAILY', timezone: 'Pacific/Apia' }, '2011-12-29T12:00:00Z', 2).map((r) => local(r, 'Pacific/Apia'))).toEqual([
      '2011-12-31 00:00:00',
      '2012-01-01 00:00:00',
    ]);
  });

  it('WEEKLY: the next Monday at midnight, strictly after', () => {
    const s: Schedule = { kind: 'WEEKLY' };
    expect(next(s, '2025-01-12T23:59:59.999Z')).toBe('2025-01-13T00:00:00.000Z'); // Sunday → Monday
    expect(next(s, '2025-01-13T00:00:00.000Z')).toBe('2025-01-20T00:00:00.000Z'); // exactly Monday → a week later
    expect(next(s, '2025-01-13T00:00:00.001Z')).toBe('2025-01-20T00:00:00.000Z');
    expect(next(s, '2025-01-15T12:00:00Z')).toBe('2025-01-20T00:00:00.000Z'); // Wednesday
    expect(next(s, '2025-01-18T12:00:00Z')).toBe('2025-01-20T00:00:00.000Z'); // Saturday
    expect(next(s, '2025-12-31T12:00:00Z')).toBe('2026-01-05T00:00:00.000Z'); // across the year
  });

  it('WEEKLY follows the local Monday', () => {
    const paris: Schedule = { kind: 'WEEKLY', timezone: 'Europe/Paris' };
    // Sunday 23:30 UTC is already Monday 00:30 in Paris: the next run is a week on.
    expect(next(paris, '2025-01-12T23:30:00Z')).toBe('2025-01-19T23:00:00.000Z');
    expect(next(paris, '2025-01-12T22:59:59Z')).toBe('2025-01-12T23:00:00.000Z');
    // Across spring forward (Monday 31 March 2025 is in CEST).
    expect(runs(paris, '2025-03-26T12:00:00Z', 2)).toEqual(['2025-03-30T22:00:00.000Z', '2025-04-06T22:00:00.000Z']);
    // Across fall back in New York (Monday 3 November 2025 is in EST).
    expect(next({ kind: 'WEEKLY', timezone: 'America/New_York' }, '2025-10-29T12:00:00Z')).toBe('2025-11-03T05:00:00.000Z');
    // Monday 00:00 in Auckland is still Sunday in UTC.
    expect(next({ kind: 'WEEKLY', timezone: 'Pacific/Auckland' }, '2025-01-15T00:00:00Z')).toBe('2025-01-19T11:00:00.000Z');
  });

  it('CRON: evaluated in the time zone, strictly after', () => {
    const weekdays: Schedule = { kind: 'CRON', cron: '0 6 * * 1-5', timezone: 'Europe/Paris' };
    // Friday 06:00 Paris (05:00 UTC) exactly → Monday.
    expect(next(weekdays, '2025-01-10T05:00:00Z')).toBe('2025-01-13T05:00:00.000Z');
    expect(next(weekdays, '2025-01-10T04:59:59.999Z')).toBe('2025-01-10T05:00:00.000Z');
    expect(next(weekdays, '2025-07-10T12:00:00Z')).toBe('2025-07-11T04:00:00.000Z'); // summer time
    expect(next({ kind: 'CRON', cron: '0 6 * * 1-5' }, '2025-01-10T05:00:00Z')).toBe('2025-01-10T06:00:00.000Z'); // UTC by default
    expect(next({ kind: 'CRON', cron: '*/15 * * * *' }, '2025-01-15T10:15:00Z')).toBe('2025-01-15T10:30:00.000Z');
    expect(next({ kind: 'CRON', cron: ' 30  9 *  * MON ', timezone: 'America/New_York' }, '2025-01-15T00:00:00Z')).toBe(
      '2025-01-20T14:30:00.000Z',
    );
    expect(next({ kind: 'CRON', cron: '0 0 29 2 *' }, '2025-01-01T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z');
  });

  it('CRON through DST: a skipped time moves forward by the gap, a repeated one runs once', () => {
    const paris = (cron: string): Schedule => ({ kind: 'CRON', cron, timezone: 'Europe/Paris' });
    expect(runs(paris('30 2 * * *'), '2025-03-29T12:00:00Z', 2).map((r) => local(r, 'Europe/Paris'))).toEqual([
      '2025-03-30 03:30:00',
      '2025-03-31 02:30:00',
    ]);
    expect(runs(paris('30 2 * * *'), '2025-10-25T12:00:00Z', 2)).toEqual(['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z']);
  });

  it('agrees with the equivalent cron expression where cron-parser is sound', () => {
    const equivalent: Record<string, string> = {
      EVERY_15_MINUTES: '*/15 * * * *',
      HOURLY: '0 * * * *',
      DAILY: '0 0 * * *',
      WEEKLY: '0 0 * * 1',
    };
    const zones = ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Australia/Sydney', 'Asia/Kathmandu'];
    fc.assert(
      fc.property(
        fc.constantFrom('EVERY_15_MINUTES', 'HOURLY', 'DAILY', 'WEEKLY') as fc.Arbitrary<keyof typeof equivalent>,
        fc.constantFrom(...zones),
        fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
        fc.boolean(),
        (kind, timezone, ms, aligned) => {
          const after = new Date(aligned ? Math.floor(ms / (15 * MINUTE)) * 15 * MINUTE : ms);
          const ours = nextRunAt({ kind: kind as ScheduleKind, timezone }, after);
          const theirs = CronExpressionParser.parse(equivalent[kind]!, { currentDate: after, tz: timezone }).next().toDate();
          expect(ours?.toISOString()).toBe(theirs.toISOString());
        },
      ),
      { numRuns: 400 },
    );
  });

  it('DAILY always runs at the first instant of the next local day', () => {
    const dateIn = (ms: number, timeZone: string) => new Date(ms).toLocaleDateString('sv-SE', { timeZone });
    const zones = ['Europe/Paris', 'America/New_York', 'America/Santiago', 'America/Havana', 'America/Sao_Paulo', 'Asia/Tehran', 'Australia/Lord_Howe'];
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.integer({ min: Date.UTC(2015, 0, 1), max: Date.UTC(2030, 0, 1) }), (timezone, after) => {
        const run = nextRunAt({ kind: 'DAILY', timezone }, new Date(after))!.getTime();
        expect(run).toBeGreaterThan(after);
        expect(dateIn(run - 1, timezone)).toBe(dateIn(after, timezone));
        expect(dateIn(run, timezone)).not.toBe(dateIn(after, timezone));
      }),
      { numRuns: 400 },
    );
  });

  it('throws a ValidationError for an invalid schedule, and a TypeError for an invalid date', () => {
    expect(() => nextRunAt({ kind: 'CRON', cron: '0 6 * *' }, new Date())).toThrow(ValidationError);
    expect(() => nextRunAt({ kind: 'DAILY', timezone: 'Europe/Pariss' }, new Date())).toThrow(
      `timezone: ${TZ_SHAPE}, but got "Europe/Pariss"; did you mean "Europe/Paris"?`,
    );
    expect(() => nextRunAt({ kind: 'DAILY' }, new Date(NaN))).toThrow(TypeError);
  });
});

describe('typicalIntervalMs', () => {
  it.each<[Schedule, number | null]>([
    [{ kind: 'MANUAL' }, null],
    [{ kind: 'EVERY_15_MINUTES' }, 15 * MINUTE],
    [{ kind: 'HOURLY', timezone: 'Asia/Kolkata' }, HOUR],
    [{ kind: 'DAILY', timezone: 'Europe/Paris' }, DAY],
    [{ kind: 'WEEKLY' }, 7 * DAY],
  ])('%j → %s', (schedule, interval) => {
    expect(typicalIntervalMs(schedule)).toBe(interval);
  });

  it.each<[string, number]>([
    ['* * * * *', MINUTE],
    ['*/5 * * * *', 5 * MINUTE],
    ['*/15 * * * *', 15 * MINUTE],
    ['0,10 * * * *', 10 * MINUTE], // :00 and :10, so 10 minutes, not 50
    ['*/20 9-17 * * 1-5', 20 * MINUTE],
    ['0 * * * *', HOUR],
    ['0 */2 * * *', 2 * HOUR],
    ['0 6,18 * * *', 12 * HOUR],
    ['0 1,23 * * *', 2 * HOUR], // 23:00 → 01:00 the next day
    ['0 6 * * 1-5', DAY],
    ['0 0 * * 1,3,5', 2 * DAY],
    ['0 0 * * 5,1', 3 * DAY], // Friday → Monday
    ['30 9 * * 1', 7 * DAY],
    ['0 0 1,L * *', DAY], // the last of a month → the 1st
    ['0 0 * * 5L', 28 * DAY],
    ['0 0 1 * *', 28 * DAY], // February
    ['0 0 1 1,2 *', 31 * DAY],
    ['0 0 1 1 *', 365 * DAY],
    ['0 0 29 2 *', (3 * 365 + 366) * DAY],
    ['0 0 1 * 1', DAY], // the 1st or a Monday: Monday 31 March → Tuesday 1 April
  ])('cron %j → %i ms', (cron, interval) => {
    expect(typicalIntervalMs({ kind: 'CRON', cron, timezone: 'Europe/Paris' })).toBe(interval);
  });

  it('matches the shortest gap found by walking the runs', () => {
    for (const cron of ['0 0 1,L * *', '0 0 * * 5L', '0 0 * * 1#2', '0 0 13 * 5', '0 12 15 * 0', '15,45 8,20 * 1,7 *', '0 0 */10 * *', '0 0 ? * 6,0']) {
      const walk = CronExpressionParser.parse(cron, { currentDate: new Date(Date.UTC(2025, 0, 6)), tz: 'UTC' });
      const times = walk.take(400).map((d) => d.getTime());
      const shortest = Math.min(...times.slice(1).map((t, i) => t - times[i]!));
      expect([cron, typicalIntervalMs({ kind: 'CRON', cron })]).toEqual([cron, shortest]);
    }
  });

  it('is quick, even for schedules that need a year of days', () => {
    const started = performance.now();
    for (const cron of ['* * * * *', '0 0 1 * *', '30 9 * * 1', '0 0 29 2 *']) typicalIntervalMs({ kind: 'CRON', cron });
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('looks from the date it is given', () => {
    // Every day of December: from January the first runs are a day apart too.
    expect(typicalIntervalMs({ kind: 'CRON', cron: '0 0 * 12 *' }, new Date('2025-01-01T00:00:00Z'))).toBe(DAY);
    expect(typicalIntervalMs({ kind: 'CRON', cron: '0 0 * 12 *' }, new Date('2025-12-15T00:00:00Z'))).toBe(DAY);
  });

  it('throws a ValidationError for an invalid schedule', () => {
    expect(() => typicalIntervalMs({ kind: 'CRON', cron: '* * * * * *' })).toThrow(ValidationError);
  });
});

describe('fasterThan', () => {
  // From fastest to slowest; the CRON runs every 2 hours.
  const byRate: Schedule[] = [
    { kind: 'EVERY_15_MINUTES' },
    { kind: 'HOURLY' },
    { kind: 'CRON', cron: '0 */2 * * *' },
    { kind: 'DAILY' },
    { kind: 'WEEKLY' },
    { kind: 'MANUAL' },
  ];

  it('covers every kind', () => {
    expect(byRate.map((s) => s.kind).sort()).toEqual([...SCHEDULE_KINDS].sort());
  });

  for (const [i, a] of byRate.entries()) {
    for (const [j, b] of byRate.entries()) {
      const expected = a.kind !== 'MANUAL' && i < j;
      it(`${describeSchedule(a)} faster than ${describeSchedule(b)}: ${expected}`, () => {
        expect(fasterThan(a, b)).toBe(expected);
      });
    }
  }

  it('is not faster at the same rate, whatever the time zone or form', () => {
    expect(fasterThan({ kind: 'CRON', cron: '*/15 * * * *' }, { kind: 'EVERY_15_MINUTES' })).toBe(false);
    expect(fasterThan({ kind: 'EVERY_15_MINUTES' }, { kind: 'CRON', cron: '*/15 * * * *' })).toBe(false);
    expect(fasterThan({ kind: 'DAILY', timezone: 'Europe/Paris' }, { kind: 'DAILY' })).toBe(false);
    expect(fasterThan({ kind: 'CRON', cron: '0 6 * * 1-5' }, { kind: 'DAILY' })).toBe(false);
    expect(fasterThan({ kind: 'CRON', cron: '0 6,18 * * *' }, { kind: 'DAILY' })).toBe(true);
    expect(fasterThan({ kind: 'WEEKLY' }, { kind: 'CRON', cron: '0 0 1 * *' })).toBe(true);
  });

  it('throws for an invalid schedule, even against MANUAL', () => {
    expect(() => fasterThan({ kind: 'CRON', cron: 'nope' }, { kind: 'MANUAL' })).toThrow(ValidationError);
  });
});

describe('describeSchedule', () => {
  it.each<[Schedule, string]>([
    [{ kind: 'MANUAL' }, 'manual'],
    [{ kind: 'EVERY_15_MINUTES', timezone: 'Europe/Paris' }, 'every 15 minutes'],
    [{ kind: 'HOURLY' }, 'hourly at :00 UTC'],
    [{ kind: 'HOURLY', timezone: 'Asia/Kolkata' }, 'hourly at :00 Asia/Kolkata'],
    [{ kind: 'DAILY' }, 'daily at 00:00 UTC'],
    [{ kind: 'DAILY', timezone: 'Europe/Paris' }, 'daily at 00:00 Europe/Paris'],
    [{ kind: 'WEEKLY', timezone: null }, 'weekly on Monday at 00:00 UTC'],
    [{ kind: 'CRON', cron: '0 6 * * 1-5', timezone: 'Europe/Paris' }, 'cron 0 6 * * 1-5 (Europe/Paris)'],
    [{ kind: 'CRON', cron: ' 0  6 * * 1-5 ' }, 'cron 0 6 * * 1-5 (UTC)'],
  ])('%j → %s', (schedule, text) => {
    expect(describeSchedule(schedule)).toBe(text);
  });
});

describe('rows', () => {
  it('reads the Prisma columns', () => {
    expect(scheduleFromRow({ scheduleKind: 'CRON', scheduleCron: '0 6 * * 1-5', scheduleTimezone: 'Europe/Paris' })).toEqual({
      kind: 'CRON',
      cron: '0 6 * * 1-5',
      timezone: 'Europe/Paris',
    });
    expect(scheduleFromRow({ scheduleKind: 'MANUAL', scheduleCron: null, scheduleTimezone: null })).toEqual({
      kind: 'MANUAL',
      cron: null,
      timezone: null,
    });
  });

  it('writes them back, the expression with single spaces and only for CRON', () => {
    expect(scheduleToRow({ kind: 'CRON', cron: ' 0  6 * * 1-5 ', timezone: 'Europe/Paris' })).toEqual({
      scheduleKind: 'CRON',
      scheduleCron: '0 6 * * 1-5',
      scheduleTimezone: 'Europe/Paris',
    });
    expect(scheduleToRow({ kind: 'DAILY', cron: '' })).toEqual({ scheduleKind: 'DAILY', scheduleCron: null, scheduleTimezone: null });
    expect(normalizeCron('\t*/5  *\n* * *')).toBe('*/5 * * * *');
  });
});
