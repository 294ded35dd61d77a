// What is in a warehouse: schemas, relations, their columns and keys, and the
// columns a SQL model returns. The SQL is built by pure functions (unit-tested
// as text) and read from pg_catalog in a fixed number of queries, however many
// tables there are. Only what the connected user may SELECT is reported, since
// that is all Roster can use.
import pg from 'pg';
import type { SqlQuery } from '../lib/sql.js';
import { classifyPgError, redactSecrets, WarehouseError, type WarehouseTarget } from './connection.js';
import type { ColumnType, RelationKind, WarehouseColumn, WarehouseTable } from './types.js';

/** Anything that runs a query: a pool, a pool's client, or a client. */
export type Queryable = pg.ClientBase | pg.Pool;

// Both the system schemas and each session's temporary ones (pg_temp_N,
// pg_toast_temp_N); no user schema can start with pg_.
const SYSTEM_SCHEMAS_SQL = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'`;

export function listSchemasQuery(): SqlQuery {
  return {
    text: `SELECT n.nspname AS name
  FROM pg_catalog.pg_namespace n
 WHERE ${SYSTEM_SCHEMAS_SQL}
   AND has_schema_privilege(n.oid, 'USAGE')
 ORDER BY n.nspname`,
    values: [],
  };
}

const RELKINDS: Record<string, RelationKind> = {
  r: 'TABLE',
  p: 'PARTITIONED_TABLE',
  v: 'VIEW',
  m: 'MATERIALIZED_VIEW',
  f: 'FOREIGN_TABLE',
};

/**
 * Relations with their columns and primary keys, in one query. Columns come
 * as a JSON array in ordinal order (dropped and system columns skipped, and
 * only those the user may SELECT); the key as a text array in key order.
 * Partitions are left out: their partitioned parent stands for them.
 */
export function listRelationsQuery(opts: { schema?: string; name?: string } = {}): SqlQuery {
  return {
    text: `SELECT n.nspname AS schema,
       c.relname AS name,
       c.relkind AS relkind,
       COALESCE((
         SELECT json_agg(json_build_object(
                  'name', a.attname,
                  'dataType', format_type(a.atttypid, a.atttypmod),
                  'baseType', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
                  'nullable', NOT a.attnotnull
                ) ORDER BY a.attnum)
           FROM pg_catalog.pg_attribute a
           JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
          WHERE a.attrelid = c.oid
            AND a.attnum > 0
            AND NOT a.attisdropped
            AND has_column_privilege(c.oid, a.attnum, 'SELECT')
       ), '[]'::json) AS columns,
       COALESCE((
         SELECT array_agg(a.attname::text ORDER BY k.ord)
           FROM pg_catalog.pg_index i
          CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = c.oid
            AND i.indisprimary
            AND k.ord <= i.indnkeyatts
       ), ARRAY[]::text[]) AS primary_key
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND NOT c.relispartition
   AND ${SYSTEM_SCHEMAS_SQL}
   AND ($1::text IS NULL OR n.nspname = $1::text)
   AND ($2::text IS NULL OR c.relname = $2::text)
   AND has_schema_privilege(n.oid, 'USAGE')
   AND has_any_column_privilege(c.oid, 'SELECT')
 ORDER BY n.nspname, c.relname`,
    values: [opts.schema ?? null, opts.name ?? null],
  };
}

/** `SELECT * FROM (<sql>) AS model LIMIT 0`: the columns of a SQL model without its rows. */
export function describeQueryQuery(sql: string): SqlQuery {
  // Newlines around the body so that a trailing `-- comment` cannot swallow the closing parenthesis.
  return { text: `${DESCRIBE_PREFIX}${sql}${DESCRIBE_SUFFIX}`, values: [] };
}
const DESCRIBE_PREFIX = 'SELECT * FROM (\n';
const DESCRIBE_SUFFIX = '\n) AS model LIMIT 0';

/** The names of types (with their modifiers) seen in a result, in one lookup. */
export function typeNamesQuery(types: { oid: number; typmod: number }[]): SqlQuery {
  return {
    text: `SELECT f.i::int AS i,
       format_type(f.oid, f.typmod) AS data_type,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type
  FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS f(oid, typmod, i)
  LEFT JOIN pg_catalog.pg_type t ON t.oid = f.oid
 ORDER BY f.i`,
    values: [types.map((t) => t.oid), types.map((t) => t.typmod)],
  };
}

const TYPE_FAMILIES: Record<string, ColumnType> = {
  text: 'STRING',
  'character varying': 'STRING',
  varchar: 'STRING',
  character: 'STRING',
  char: 'STRING',
  bpchar: 'STRING',
  citext: 'STRING',
  name: 'STRING',
  smallint: 'INTEGER',
  integer: 'INTEGER',
  int: 'INTEGER',
  bigint: 'INTEGER',
  int2: 'INTEGER',
  int4: 'INTEGER',
  int8: 'INTEGER',
  numeric: 'NUMBER',
  decimal: 'NUMBER',
  real: 'NUMBER',
  'double precision': 'NUMBER',
  float: 'NUMBER',
  float4: 'NUMBER',
  float8: 'NUMBER',
  money: 'NUMBER',
  boolean: 'BOOLEAN',
  bool: 'BOOLEAN',
  'timestamp without time zone': 'TIMESTAMP',
  'timestamp with time zone': 'TIMESTAMP',
  timestamp: 'TIMESTAMP',
  timestamptz: 'TIMESTAMP',
  date: 'DATE',
  json: 'JSON',
  jsonb: 'JSON',
  uuid: 'UUID',
};

/**
 * The type family of a PostgreSQL type name as format_type prints it
 * ("character varying(255)", "timestamp(3) with time zone", "public.citext",
 * "integer[]").
 */
export function columnTypeOf(dataType: string): ColumnType {
  let t = dataType.trim().toLowerCase();
  if (t.endsWith(']')) return 'ARRAY';
  // Type modifiers: "(255)", "(10,2)", "(3)" inside "timestamp(3) with time zone".
  t = t.replace(/\([^)]*\)/g, '');
  // A schema qualifier appears when the type is not on the search path.
  t = t.replace(/^(?:"(?:[^"]|"")*"|[^."]+)\./, '');
  // `"char"` (the one-byte internal type) prints quoted.
  t = t.replace(/"/g, '').replace(/\s+/g, ' ').trim();
  return TYPE_FAMILIES[t] ?? 'OTHER';
}

interface ColumnJson {
  name: string;
  dataType: string;
  baseType: string | null;
  nullable: boolean;
}

function toColumn(c: { name: string; dataType: string; baseType: string | null; nullable: boolean }): WarehouseColumn {
  // A domain takes the family of the type it is based on.
  const type = columnTypeOf(c.dataType);
  return {
    name: c.name,
    dataType: c.dataType,
    type: type === 'OTHER' && c.baseType ? columnTypeOf(c.baseType) : type,
    nullable: c.nullable,
  };
}

/** What a Queryable is connected to, for error messages (never the password). */
function targetOf(db: Queryable): Partial<WarehouseTarget> {
  const d = db as unknown as Partial<WarehouseTarget> & { options?: { connectionString?: string } & Partial<WarehouseTarget> };
  if (db instanceof pg.Pool) {
    const cs = d.options?.connectionString;
    if (cs) {
      try {
        const u = new URL(cs);
        return {
          host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: u.port ? Number(u.port) : 5432,
          database: decodeURIComponent(u.pathname.slice(1)),
          user: decodeURIComponent(u.username),
        };
      } catch {
        return {};
      }
    }
    return { host: d.options?.host, port: d.options?.port, database: d.options?.database, user: d.options?.user };
  }
  const target: Partial<WarehouseTarget> = {};
  if (typeof d.host === 'string') target.host = d.host;
  if (typeof d.port === 'number') target.port = d.port;
  if (typeof d.database === 'string') target.database = d.database;
  if (typeof d.user === 'string') target.user = d.user;
  return target;
}

async function run<R extends pg.QueryResultRow>(db: Queryable, q: SqlQuery): Promise<R[]> {
  try {
    const result = await db.query<R>(q.text, q.values);
    return result.rows;
  } catch (err) {
    throw classifyPgError(err, targetOf(db));
  }
}

/** Schemas the user may use, system and temporary schemas excluded. */
export async function listSchemas(db: Queryable): Promise<string[]> {
  const rows = await run<{ name: string }>(db, listSchemasQuery());
  return rows.map((r) => r.name);
}

interface RelationRow {
  schema: string;
  name: string;
  relkind: string;
  columns: ColumnJson[];
  primary_key: string[];
}

function toTable(row: RelationRow): WarehouseTable {
  return {
    schema: row.schema,
    name: row.name,
    kind: RELKINDS[row.relkind] ?? 'TABLE',
    columns: row.columns.map(toColumn),
    primaryKey: row.primary_key,
  };
}

/** Tables, partitioned tables, views, materialized views and foreign tables the user may read. */
export async function listTables(db: Queryable, opts: { schema?: string } = {}): Promise<WarehouseTable[]> {
  const rows = await run<RelationRow>(db, listRelationsQuery(opts.schema !== undefined ? { schema: opts.schema } : {}));
  return rows.map(toTable);
}

/** One relation, or null if it does not exist or the user may not read it. */
export async function describeTable(db: Queryable, schema: string, name: string): Promise<WarehouseTable | null> {
  const rows = await run<RelationRow>(db, listRelationsQuery({ schema, name }));
  return rows[0] ? toTable(rows[0]) : null;
}

/**
 * Where the statement separators of `sql` are: `;` outside string literals
 * (standard, E'' and dollar-quoted), quoted identifiers and comments. Also
 * the index of the last character that is not whitespace or comment, and
 * whether there is anything but separators at all.
 */
export function scanStatements(sql: string): { semicolons: number[]; lastSignificant: number; hasContent: boolean } {
  const semicolons: number[] = [];
  let lastSignificant = -1;
  let hasContent = false;
  const n = sql.length;
  const isIdentChar = (ch: string | undefined) => ch !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(ch);
  let i = 0;
  while (i < n) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    if (ch === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? n : nl + 1;
      continue;
    }
    if (ch === '/' && next === '*') {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      continue;
    }
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    lastSignificant = i;
    if (ch === ';') {
      semicolons.push(i);
      i++;
      continue;
    }
    hasContent = true;
    if (ch === "'") {
      // Backslash escapes only in E'…' strings (standard_conforming_strings is on by default).
      const backslashes = i > 0 && /[eE]/.test(sql[i - 1]!) && !isIdentChar(sql[i - 2]);
      i++;
      while (i < n) {
        if (backslashes && sql[i] === '\\') i += 2;
        else if (sql[i] === "'") {
          if (sql[i + 1] === "'") i += 2;
          else break;
        } else i++;
      }
      i++;
      continue;
    }
    if (ch === '"') {
      i++;
      while (i < n) {
        if (sql[i] === '"') {
          if (sql[i + 1] === '"') i += 2;
          else break;
        } else i++;
      }
      i++;
      continue;
    }
    if (ch === '$' && !isIdentChar(sql[i - 1])) {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 130))?.[0];
      if (tag) {
        const close = sql.indexOf(tag, i + tag.length);
        i = close === -1 ? n : close + tag.length;
        continue;
      }
    }
    i++;
  }
  return { semicolons, lastSignificant, hasContent };
}

/**
 * The user's SQL as one statement: a single trailing `;` is removed (the rest
 * of the text, positions included, is kept as it is); any other `;` outside
 * literals and comments is refused.
 */
export function singleStatement(sql: string): string {
  const { semicolons, lastSignificant, hasContent } = scanStatements(sql);
  if (!hasContent) {
    throw new WarehouseError('QUERY_FAILED', 'expected a single SELECT statement, but got an empty query');
  }
  if (semicolons.length === 0) return sql;
  const first = semicolons[0]!;
  if (semicolons.length === 1 && first === lastSignificant) return sql.slice(0, first) + sql.slice(first + 1);
  const { line, column } = lineColumn(sql, first);
  throw new WarehouseError(
    'QUERY_FAILED',
    `expected a single SELECT statement, but got more than one (a ";" at line ${line}, column ${column} ends a statement before the end of the SQL)`,
    { position: Array.from(sql.slice(0, first)).length + 1 },
  );
}

function lineColumn(text: string, index: number): { line: number; column: number } {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  const column = Array.from(before.slice(before.lastIndexOf('\n') + 1)).length + 1;
  return { line, column };
}

export const DEFAULT_DESCRIBE_TIMEOUT_MS = 15_000;

/**
 * The columns a SQL model returns, without running it for real: the SQL is
 * wrapped in `SELECT * FROM (…) AS model LIMIT 0` inside a READ ONLY
 * transaction that is always rolled back, under a statement timeout.
 * PostgreSQL's errors come back as WarehouseErrors with its message and the
 * position in the caller's SQL. `db` must not be inside a transaction.
 */
export async function describeQuery(db: Queryable, sql: string, opts: { timeoutMs?: number } = {}): Promise<WarehouseColumn[]> {
  const body = singleStatement(sql);
  const query = describeQueryQuery(body);
  const target = targetOf(db);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_DESCRIBE_TIMEOUT_MS;

  // A transaction needs one connection throughout; a pool hands out a different one per query.
  let client: pg.ClientBase;
  let release: ((err?: Error) => void) | undefined;
  if (db instanceof pg.Pool) {
    try {
      const c = await db.connect();
      client = c;
      release = (err) => c.release(err);
    } catch (err) {
      throw classifyPgError(err, target, { timeoutMs });
    }
  } else client = db;

  let broken: Error | undefined;
  try {
    await client.query('BEGIN READ ONLY');
    try {
      await client.query(`SELECT set_config('statement_timeout', $1, true)`, [String(Math.max(1, Math.floor(timeoutMs)))]);
      // The extended protocol refuses a string with several statements outright,
      // a second guard behind singleStatement.
      const config = { text: query.text, values: query.values, queryMode: 'extended' } as pg.QueryConfig;
      const result = await client.query(config);
      const fields = result.fields;

      const seen = new Set<string>();
      for (const f of fields) {
        if (seen.has(f.name)) {
          throw new WarehouseError(
            'QUERY_FAILED',
            `expected the query's columns to have distinct names, but "${f.name}" appears more than once; give the columns aliases (… AS other_name)`,
          );
        }
        seen.add(f.name);
      }
      if (fields.length === 0) return [];

      const types = await client.query<{ i: number; data_type: string | null; base_type: string | null }>(
        typeNamesQuery(fields.map((f) => ({ oid: f.dataTypeID, typmod: f.dataTypeModifier }))),
      );
      return fields.map((f, index) => {
        const row = types.rows[index];
        return toColumn({
          name: f.name,
          dataType: row?.data_type ?? 'unknown',
          baseType: row?.base_type ?? null,
          nullable: true,
        });
      });
    } finally {
      try {
        await client.query('ROLLBACK');
      } catch (err) {
        broken = err instanceof Error ? err : new Error(String(err));
      }
    }
  } catch (err) {
    if (err instanceof WarehouseError) throw err;
    throw queryError(err, body, target);
  } finally {
    release?.(broken);
  }
}

/** A PostgreSQL error about the user's SQL, its position translated from the wrapper to that SQL. */
function queryError(err: unknown, body: string, target: Partial<WarehouseTarget>): WarehouseError {
  const classified = classifyPgError(err, target);
  if (classified.code !== 'QUERY_FAILED' && classified.code !== 'PERMISSION_DENIED') return classified;
  const raw = typeof (err as { message?: unknown } | null)?.message === 'string' ? (err as { message: string }).message : String(err);
  let reported = redactSecrets(raw);
  let position: number | undefined;
  let where = '';
  if (classified.position !== undefined) {
    // PostgreSQL counts characters from 1 in the wrapped text.
    const chars = Array.from(body);
    const p = classified.position - Array.from(DESCRIBE_PREFIX).length;
    if (p >= 1 && p <= chars.length) {
      position = p;
      const { line, column } = lineColumn(body, chars.slice(0, p - 1).join('').length);
      where = ` at line ${line}, column ${column}`;
    } else if (p > chars.length && /^syntax error at or near/.test(raw)) {
      // The error is at the wrapper's closing parenthesis: the user's SQL stopped short.
      reported = 'syntax error at end of input';
    }
  }
  const hint = classified.hint ? ` (hint: ${classified.hint})` : '';
  const message =
    classified.code === 'PERMISSION_DENIED'
      ? `expected ${target.user ? `user "${target.user}"` : 'the user'} to be allowed to read what the query reads, but PostgreSQL reported: ${reported}${where}`
      : `expected a SELECT statement PostgreSQL can run, but it reported: ${reported}${where}${hint}`;
  return new WarehouseError(classified.code, message, {
    ...(classified.sqlState !== undefined ? { sqlState: classified.sqlState } : {}),
    ...(position !== undefined ? { position } : {}),
    ...(classified.hint !== undefined ? { hint: classified.hint } : {}),
  });
}
