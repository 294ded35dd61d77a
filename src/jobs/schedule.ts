// Schedules of segment evaluations and audience syncs (DESIGN.md §5): checking
// them, computing the next run, comparing how often two of them run.
//
// Pure: no I/O and no global state; the `after` (or `from`) argument is the
// only clock. Every function that computes a time accepts only a valid
// schedule and throws a ValidationError (the problems of validateSchedule)
// otherwise, so callers validate input once and may trust stored rows.
//
// Semantics, all in the schedule's time zone (UTC when none is given):
// - EVERY_15_MINUTES: the next instant whose local clock reads :00, :15, :30 or
//   :45. Every current UTC offset is a whole number of quarter hours, so this
//   is also the next UTC quarter hour; a repeated hour (DST ends) is run every
//   15 real minutes, a skipped one is skipped.
// - HOURLY: the next instant whose local clock reads a full hour (in
//   Asia/Kolkata that is :30 UTC); like a plain clock, a repeated hour runs
//   twice, a skipped one not at all.
// - DAILY: the first instant of the next local calendar day. When midnight does
//   not exist (DST starting at 00:00, e.g. America/Santiago) that is the end of
//   the gap, 01:00; when it happens twice (DST ending at 01:00, e.g.
//   America/Havana) it is the first one, so a day has exactly one run.
// - WEEKLY: the same, for the next local Monday.
// - CRON: exactly 5 fields, "minute hour day-of-month month day-of-week",
//   evaluated by cron-parser 5 in the time zone. Refused: a 6th (seconds)
//   field, since nothing may run more often than once a minute (5 fields
//   cannot); macros such as @daily (the fixed kinds cover them); cron-parser's
//   hashed values (H), which it seeds at random, so the same expression would
//   run at different times in different processes. Accepted as cron-parser
//   reads them: names (JAN, MON-FRI), 7 for Sunday, L, #, ?, and, as in Vixie
//   cron, a restricted day of month *or* day of week ("0 0 1 * 1" runs on the
//   1st and on Mondays). Through DST, cron-parser moves a time that a gap
//   skips forward by the gap's length (02:30 → 03:30 in Paris) and runs a time
//   that an overlap repeats once, at the first.

import { CronExpressionParser } from 'cron-parser';
import { ValidationError, type ValidationProblem } from '../graphql/errors.js';
import { suggest } from '../lib/suggest.js';

export const SCHEDULE_KINDS = ['MANUAL', 'EVERY_15_MINUTES', 'HOURLY', 'DAILY', 'WEEKLY', 'CRON'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

export interface Schedule {
  kind: ScheduleKind;
  /** Only for CRON: 5 fields, minute hour day-of-month month day-of-week. */
  cron?: string | null;
  /** IANA time zone name; UTC when null, undefined or absent. */
  timezone?: string | null;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/** Nominal intervals of the fixed kinds (DST ignored: a DAILY run is "every 24 hours"). */
const FIXED_INTERVAL_MS: Record<Exclude<ScheduleKind, 'MANUAL' | 'CRON'>, number> = {
  EVERY_15_MINUTES: 15 * MINUTE,
  HOURLY: HOUR,
  DAILY: DAY,
  WEEKLY: WEEK,
};

/**
 * Where typicalIntervalMs starts looking when not told (a Monday, 00:00 UTC).
 * A fixed date rather than the current time keeps the function pure.
 */
export const INTERVAL_REFERENCE_DATE = new Date(Date.UTC(2025, 0, 6));

const CRON_SHAPE = 'a cron expression of 5 fields (minute hour day-of-month month day-of-week)';

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
  '@weekdays': '0 0 * * 1-5',
  '@weekends': '0 0 * * 0,6',
  '@minutely': '* * * * *',
};

// ---------------------------------------------------------------------------
// Validation

/** Every problem of `input` at once; `path` prefixes the problems' paths (e.g. ['schedule']). */
export function validateSchedule(input: Schedule, path: string[] = []): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const kind: unknown = input.kind;
  const kindIsValid = typeof kind === 'string' && (SCHEDULE_KINDS as readonly string[]).includes(kind);
  if (!kindIsValid) {
    const suggestion = typeof kind === 'string' ? suggest(kind, SCHEDULE_KINDS) : undefined;
    problems.push({
      path: [...path, 'kind'],
      message: `expected a schedule kind, one of ${SCHEDULE_KINDS.join(', ')}, but got ${describeValue(kind)}`,
      ...(suggestion ? { suggestion } : {}),
    });
  }

  const cron = input.cron;
  const hasCron = cron != null && cron.trim() !== '';
  if (kind === 'CRON') {
    if (cron == null) {
      problems.push({ path: [...path, 'cron'], message: `expected ${CRON_SHAPE} for a CRON schedule, but got none` });
    } else {
      const reason = cronProblem(cron);
      if (reason !== undefined) {
        problems.push({ path: [...path, 'cron'], message: `expected ${CRON_SHAPE}, but got ${JSON.stringify(cron)}: ${reason}` });
      }
    }
  } else if (kindIsValid && hasCron) {
    problems.push({
      path: [...path, 'cron'],
      message: `expected no cron expression for a ${String(kind)} schedule (only CRON schedules have one), but got ${JSON.stringify(cron)}`,
    });
  }

  if (input.timezone != null) {
    const problem = timeZoneProblem(input.timezone);
    if (problem) problems.push({ ...problem, path: [...path, 'timezone'] });
  }
  return problems;
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : value === undefined ? 'none' : String(value);
}

/** Why `expression` is not an acceptable cron expression, or undefined when it is. */
function cronProblem(expression: string): string | undefined {
  const fields = splitCron(expression);
  if (fields.length === 0) return 'it is empty';
  const first = fields[0]!;
  if (fields.length === 1 && first.startsWith('@')) {
    const equivalent = MACROS[first.toLowerCase()];
    return equivalent
      ? `macros such as ${first} are not supported; write "${equivalent}" instead`
      : `macros such as ${first} are not supported; write the 5 fields`;
  }
  if (fields.length === 6) {
    return 'it has 6 fields, but a seconds field is not supported (schedules run at most once a minute)';
  }
  if (fields.length !== 5) return `it has ${fields.length} field${fields.length === 1 ? '' : 's'}`;
  // H is cron-parser's hashed value; in month and day-of-week fields, take out
  // the three-letter names first (THU has an H).
  if (fields.some((field, i) => /H/.test(i >= 3 ? field.replace(/[a-z]{3}/gi, '') : field))) {
    return 'hashed values (H) are not supported; write explicit values';
  }
  try {
    // Parsing alone misses expressions that never fire; cron-parser finds
    // those when it looks for a run.
    CronExpressionParser.parse(fields.join(' '), { currentDate: INTERVAL_REFERENCE_DATE, tz: 'UTC' }).next();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  return undefined;
}

function splitCron(expression: string): string[] {
  return expression.trim().split(/\s+/).filter((field) => field !== '');
}

/** The expression with single spaces between its fields: how it is stored and shown. */
export function normalizeCron(expression: string): string {
  return splitCron(expression).join(' ');
}

function timeZoneProblem(timeZone: string): Omit<ValidationProblem, 'path'> | undefined {
  const expected = 'expected an IANA time zone name such as "Europe/Paris" or "UTC"';
  // Offsets are refused even where Intl accepts them (newer engines do, and
  // cron-parser's luxon does not): an offset knows nothing of DST.
  const offset = /^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(timeZone.trim());
  if (offset) {
    const hours = Number(offset[2]);
    const minutes = Number(offset[3] ?? '0');
    // Etc/GMT zones count the other way round: UTC+2 is Etc/GMT-2.
    const etc = minutes === 0 && hours <= 14 ? (hours === 0 ? 'UTC' : `Etc/GMT${offset[1] === '+' ? '-' : '+'}${hours}`) : undefined;
    return {
      message: `${expected}, but got the UTC offset ${JSON.stringify(timeZone)}, which does not follow daylight saving time; use the zone of a place (e.g. "Europe/Paris"), or an Etc/GMT zone for a fixed offset`,
      ...(etc && (etc === 'UTC' || isTimeZone(etc)) ? { suggestion: etc } : {}),
    };
  }
  if (isTimeZone(timeZone)) return undefined;
  const suggestion = suggestTimeZone(timeZone);
  return { message: `${expected}, but got ${JSON.stringify(timeZone)}`, ...(suggestion ? { suggestion } : {}) };
}

function isTimeZone(timeZone: string): boolean {
  if (timeZone === '') return false;
  try {
    // Accepts every IANA name the engine knows, links included (Asia/Kolkata,
    // US/Eastern, Etc/GMT+5), which Intl.supportedValuesOf does not list.
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

function suggestTimeZone(input: string): string | undefined {
  const zones = ['UTC', ...Intl.supportedValuesOf('timeZone')];
  const direct = suggest(input, zones);
  if (direct) return direct;
  // "Paris" or "new york": match the place, the part after the last slash.
  const byPlace = new Map<string, string>();
  for (const zone of zones) {
    const place = zone.slice(zone.lastIndexOf('/') + 1);
    if (!byPlace.has(place)) byPlace.set(place, zone);
  }
  const place = suggest(input.trim().replace(/\s+/g, '_'), [...byPlace.keys()]);
  return place === undefined ? undefined : byPlace.get(place);
}

function assertValid(schedule: Schedule): void {
  const problems = validateSchedule(schedule);
  if (problems.length > 0) throw new ValidationError(problems);
}

function timeZoneOf(schedule: Schedule): string {
  return schedule.timezone ?? 'UTC';
}

// ---------------------------------------------------------------------------
// Next run

/**
 * The first run strictly after `after`, or null for MANUAL schedules.
 * Throws a ValidationError for an invalid schedule.
 */
export function nextRunAt(schedule: Schedule, after: Date): Date | null {
  const afterMs = after instanceof Date ? after.getTime() : NaN;
  if (!Number.isFinite(afterMs)) throw new TypeError(`expected after to be a valid Date, but got ${String(after)}`);
  assertValid(schedule);
  const timeZone = timeZoneOf(schedule);
  switch (schedule.kind) {
    case 'MANUAL':
      return null;
    case 'EVERY_15_MINUTES':
      return new Date(nextLocalMinuteMultiple(zoneClock(timeZone), afterMs, 15));
    case 'HOURLY':
      return new Date(nextLocalMinuteMultiple(zoneClock(timeZone), afterMs, 60));
    case 'DAILY':
      return new Date(nextLocalDayStart(zoneClock(timeZone), afterMs, () => 1, 1));
    case 'WEEKLY':
      // Days from the local weekday to the next Monday (7 from a Monday).
      return new Date(nextLocalDayStart(zoneClock(timeZone), afterMs, (weekday) => (8 - weekday) % 7 || 7, 7));
    case 'CRON':
      return CronExpressionParser.parse(normalizeCron(schedule.cron!), { currentDate: new Date(afterMs), tz: timeZone })
        .next()
        .toDate();
  }
}

/** Wall-clock readings of a time zone, as milliseconds of a UTC date with the same fields. */
interface ZoneClock {
  wall(instantMs: number): number;
  /** The instant at which the zone's clock reads `wallMs` (see instantOf). */
  instant(wallMs: number): number;
}

function zoneClock(timeZone: string): ZoneClock {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const wall = (instantMs: number): number => {
    const field: Record<string, number> = {};
    for (const part of format.formatToParts(instantMs)) field[part.type] = Number(part.value);
    const at = Date.UTC(field.year!, field.month! - 1, field.day!, field.hour!, field.minute!, field.second!);
    return at + (instantMs - Math.floor(instantMs / 1000) * 1000);
  };
  return { wall, instant: (wallMs) => instantOf(wall, wallMs) };
}

/**
 * The instant at which the clock reads `wallMs`. When it reads it twice
 * (an overlap), the earlier; when never (a gap), the instant the same
 * distance after the start of the gap, i.e. the reading moved forward by the
 * gap's length (Temporal's "compatible" disambiguation). Assumes no two
 * offset changes within a day of each other.
 */
function instantOf(wall: (instantMs: number) => number, wallMs: number): number {
  const offsetBefore = wall(wallMs - DAY) - (wallMs - DAY);
  const offsetAfter = wall(wallMs + DAY) - (wallMs + DAY);
  const candidates = [wallMs - offsetBefore, wallMs - offsetAfter].filter((instant) => wall(instant) === wallMs);
  return candidates.length > 0 ? Math.min(...candidates) : wallMs - offsetBefore;
}

/** The first whole minute strictly after `afterMs` whose local minute of the hour is a multiple of `step`. */
function nextLocalMinuteMultiple(clock: ZoneClock, afterMs: number, step: number): number {
  let instant = Math.floor(afterMs / MINUTE) * MINUTE + MINUTE;
  // Each turn moves to the local multiple the current offset predicts; only
  // an offset change in between makes it take another.
  for (;;) {
    const minuteOfHour = (((Math.floor(clock.wall(instant) / MINUTE) % 60) + 60) % 60);
    const remainder = minuteOfHour % step;
    if (remainder === 0) return instant;
    instant += (step - remainder) * MINUTE;
  }
}

/**
 * The first instant of a later local day: `daysAhead(weekday of the local day
 * of afterMs)` days ahead, then `stepDays` at a time should the clock have
 * jumped back past it.
 */
function nextLocalDayStart(clock: ZoneClock, afterMs: number, daysAhead: (weekday: number) => number, stepDays: number): number {
  const today = Math.floor(clock.wall(afterMs) / DAY) * DAY;
  let day = today + daysAhead(new Date(today).getUTCDay()) * DAY;
  for (;;) {
    const instant = clock.instant(day);
    if (instant > afterMs) return instant;
    day += stepDays * DAY;
  }
}

// ---------------------------------------------------------------------------
// Frequency

/**
 * How often the schedule runs: null for MANUAL; the nominal interval of a
 * fixed kind (DST ignored); for CRON, the shortest gap between two
 * consecutive runs, by the local clock (DST ignored), over the two years
 * from `from` (INTERVAL_REFERENCE_DATE by default), or its first two runs when
 * these hold fewer: "0 0 1 * *" gives 28 days (February), "0 0 29 2 *" 4
 * years.
 */
export function typicalIntervalMs(schedule: Schedule, from: Date = INTERVAL_REFERENCE_DATE): number | null {
  assertValid(schedule);
  switch (schedule.kind) {
    case 'MANUAL':
      return null;
    case 'CRON':
      return cronIntervalMs(normalizeCron(schedule.cron!), from);
    default:
      return FIXED_INTERVAL_MS[schedule.kind];
  }
}

/**
 * Runs are the product of fire days (day-of-month, month, day-of-week) and
 * times of day (hour × minute), so the shortest gap is either between two
 * times of one day or from the last time of a fire day to the first of the
 * next, over the shortest gap between fire days. Far cheaper than walking
 * every run (cron-parser takes ~0.1 ms a run; "* * * * *" has 20,160 in two
 * weeks).
 */
function cronIntervalMs(expression: string, from: Date): number {
  const [, , dayOfMonth, month, dayOfWeek] = splitCron(expression);
  const { minute, hour } = CronExpressionParser.parse(expression, { tz: 'UTC' }).fields;
  const times = hour.values
    .flatMap((h) => minute.values.map((m) => Number(h) * 60 + Number(m)))
    .sort((a, b) => a - b);
  let shortest = Infinity; // minutes
  for (let i = 1; i < times.length; i++) shortest = Math.min(shortest, times[i]! - times[i - 1]!);

  // Fire days: checked one by one across two years, so that every gap of a
  // yearly cycle starts in the window (includesDate is far cheaper than
  // next(), which walks the clock), or the first two from `from` when the
  // window holds fewer (29 February).
  const days = CronExpressionParser.parse(`0 0 ${dayOfMonth} ${month} ${dayOfWeek}`, { currentDate: from, tz: 'UTC' });
  const start = Math.floor(from.getTime() / DAY) * DAY;
  let previous: number | undefined;
  let shortestDays = Infinity;
  for (let day = start; day <= start + 731 * DAY && shortestDays > 1; day += DAY) {
    if (!days.includesDate(new Date(day))) continue;
    if (previous !== undefined) shortestDays = Math.min(shortestDays, Math.round((day - previous) / DAY));
    previous = day;
  }
  if (shortestDays === Infinity) {
    const [first, second] = days.take(2).map((date) => date.getTime());
    shortestDays = Math.round((second! - first!) / DAY);
  }
  shortest = Math.min(shortest, shortestDays * 24 * 60 - times[times.length - 1]! + times[0]!);
  return shortest * MINUTE;
}

/**
 * Whether `a` runs more often than `b` ("a sync scheduled faster than its
 * segment is evaluated"): never when `a` is MANUAL, always when only `b` is,
 * else by typicalIntervalMs (equal intervals are not faster; time zones and
 * phases do not matter).
 */
export function fasterThan(a: Schedule, b: Schedule, from: Date = INTERVAL_REFERENCE_DATE): boolean {
  if (a.kind === 'MANUAL') return false;
  if (b.kind === 'MANUAL') {
    assertValid(a);
    return true;
  }
  return typicalIntervalMs(a, from)! < typicalIntervalMs(b, from)!;
}

// ---------------------------------------------------------------------------
// Presentation and storage

/** "manual", "every 15 minutes", "hourly at :00 UTC", "daily at 00:00 Europe/Paris", "weekly on Monday at 00:00 UTC", "cron 0 6 * * 1-5 (Europe/Paris)". */
export function describeSchedule(schedule: Schedule): string {
  const timeZone = timeZoneOf(schedule);
  switch (schedule.kind) {
    case 'MANUAL':
      return 'manual';
    case 'EVERY_15_MINUTES':
      // Quarter hours are the same instants in every zone.
      return 'every 15 minutes';
    case 'HOURLY':
      return `hourly at :00 ${timeZone}`;
    case 'DAILY':
      return `daily at 00:00 ${timeZone}`;
    case 'WEEKLY':
      return `weekly on Monday at 00:00 ${timeZone}`;
    case 'CRON':
      return `cron ${normalizeCron(schedule.cron ?? '')} (${timeZone})`;
  }
}

export interface ScheduleRow {
  scheduleKind: ScheduleKind;
  scheduleCron: string | null;
  scheduleTimezone: string | null;
}

export function scheduleFromRow(row: ScheduleRow): Schedule {
  return { kind: row.scheduleKind, cron: row.scheduleCron, timezone: row.scheduleTimezone };
}

/** The columns to store for a valid schedule: the cron with single spaces (null unless CRON), the zone or null. */
export function scheduleToRow(schedule: Schedule): ScheduleRow {
  return {
    scheduleKind: schedule.kind,
    scheduleCron: schedule.kind === 'CRON' && schedule.cron != null ? normalizeCron(schedule.cron) : null,
    scheduleTimezone: schedule.timezone ?? null,
  };
}
