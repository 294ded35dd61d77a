// Small helpers shared by every module that builds SQL. Identifiers reach SQL
// only through quoteIdent (after being checked against introspected metadata);
// values never reach it at all, they are bound as parameters.

/** A parameterised statement: built by pure functions, executed elsewhere. */
export interface SqlQuery {
  text: string;
  values: unknown[];
}

/**
 * Quotes an identifier for PostgreSQL: always double-quoted, inner quotes
 * doubled, so any name (mixed case, spaces, reserved words) is taken literally.
 */
export function quoteIdent(name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`expected a non-empty identifier, but got ${name === '' ? 'an empty string' : typeof name}`);
  }
  // PostgreSQL cannot store a NUL byte in a name; passing one through would
  // truncate the identifier on the server instead of failing here.
  if (name.includes('\0')) throw new TypeError('expected an identifier without NUL characters, but got one containing \\0');
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."name"`, both parts quoted. */
export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * Statistics of a table a run or an evaluation has just written, from a
 * sample of 3,000 rows (PostgreSQL's default takes 30,000), in the current
 * transaction only (SET LOCAL). What the plans over such a table need is its
 * size, its common values and how its numbers spread, which a small sample
 * tells: the default sample took 0.14 s for a sync run's million changes,
 * and 35 ms for an evaluation's 300,000 staged members, against 0.01 s
 * (bench/: delivery, evaluate). `columns`: only these (the quoted names),
 * where the others' statistics would cost more than they are worth.
 */
export function sampledAnalyzeSql(table: string, columns?: readonly string[]): string[] {
  return ['SET LOCAL default_statistics_target = 10', `ANALYZE ${table}${columns ? ` (${columns.join(', ')})` : ''}`];
}

/**
 * A step of an idempotent DDL's DO block that runs `step` (PL/pgSQL
 * statements) only while `stale` (a condition) holds: checked, then again
 * once `lock` (a PL/pgSQL statement taking an advisory lock) is held, so
 * that two sessions upgrading at once run it once, and a session with
 * nothing to do takes no lock.
 */
export function onceUnderLockStep(stale: string, lock: string, step: string): string {
  return `IF ${stale} THEN ${lock}IF ${stale} THEN ${step} END IF; END IF; `;
}

/**
 * The step of an idempotent DDL's DO block that moves text key columns of an
 * earlier version into the "C" collation (byte order, compared with memcmp),
 * the order Roster sorts keys in before writing them: once, under `lock`
 * (see onceUnderLockStep). Changing only a column's collation rebuilds the
 * indexes over it, not the table. `columns`: plain lowercase names, written
 * as they are.
 */
export function byteOrderColumnsStep(table: string, columns: readonly string[], lock: string): string {
  const stale =
    `EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = '${table}'::regclass ` +
    `AND a.attname IN (${columns.map((c) => `'${c}'`).join(', ')}) AND a.attcollation <> '"C"'::regcollation)`;
  const alter = columns.map((c) => `ALTER COLUMN ${c} TYPE text COLLATE "C"`).join(', ');
  return onceUnderLockStep(stale, lock, `ALTER TABLE ${table} ${alter};`);
}
