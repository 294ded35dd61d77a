// Warehouse write-back: audience membership as rows of a table in any
// PostgreSQL database.
//
//   CREATE TABLE <schema>.<table> (
//     audience    text        NOT NULL,   -- the audience's name (its id here)
//     key         text        NOT NULL,   -- the record's key
//     fields      jsonb       NOT NULL,   -- mapped fields
//     identifiers jsonb       NOT NULL,   -- raw identifiers, not hashed
//     synced_at   timestamptz NOT NULL,   -- when Roster last wrote the row
//     PRIMARY KEY (audience, key))
//
// The table is created when missing; an existing one must have these columns
// (extra nullable or defaulted columns are fine). add and update are one
// upsert statement per batch, remove one DELETE; every value is a bound
// parameter (the batch travels as one JSON document), identifiers reach SQL
// only through quoteIdent. Audiences are the distinct values of `audience`.
import pg from 'pg';
import { IdentifierType } from '../../generated/prisma/enums.js';
import type { ValidationProblem } from '../../graphql/errors.js';
import { qualified, quoteIdent, type SqlQuery } from '../../lib/sql.js';
import { classifyPgError, parseWarehouseUrl, WarehouseError, type WarehouseTarget } from '../../warehouse/connection.js';
import {
  ConnectorError,
  type Audience,
  type Connector,
  type ConnectorContext,
  type DeliveryResult,
  type RowRejection,
  type SyncRow,
} from '../contract.js';

export type PostgresTableConfig = {
  /** postgresql://user:password@host:port/database (secret). */
  url: string;
  /** Default "public". */
  schema?: string;
  table: string;
};

export const POSTGRES_TABLE_BATCH_SIZE = 5_000;
const DEFAULT_SCHEMA = 'public';
const MAX_IDENT_BYTES = 63;

// ---------------------------------------------------------------------------
// SQL, built by pure functions.

/** The table as Roster creates it. */
export function createTableSql(schema: string, table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified(schema, table)} (
  "audience" text NOT NULL,
  "key" text NOT NULL,
  "fields" jsonb NOT NULL DEFAULT '{}'::jsonb,
  "identifiers" jsonb NOT NULL DEFAULT '{}'::jsonb,
  "synced_at" timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ("audience", "key"))`;
}

/**
 * One statement for a whole batch: the rows arrive as a JSON array in one
 * parameter. Keys must be unique within `rows` (ON CONFLICT cannot touch a
 * row twice in one statement).
 */
export function upsertSql(schema: string, table: string, audience: string, rowsJson: string): SqlQuery {
  return {
    text: `INSERT INTO ${qualified(schema, table)} ("audience", "key", "fields", "identifiers", "synced_at")
SELECT $1::text, r."key", coalesce(r."fields", '{}'::jsonb), coalesce(r."identifiers", '{}'::jsonb), now()
FROM jsonb_to_recordset($2::jsonb) AS r("key" text, "fields" jsonb, "identifiers" jsonb)
ON CONFLICT ("audience", "key") DO UPDATE
SET "fields" = EXCLUDED."fields", "identifiers" = EXCLUDED."identifiers", "synced_at" = EXCLUDED."synced_at"`,
    values: [audience, rowsJson],
  };
}

export function deleteSql(schema: string, table: string, audience: string, keys: string[]): SqlQuery {
  return {
    text: `DELETE FROM ${qualified(schema, table)} WHERE "audience" = $1::text AND "key" = ANY($2::text[])`,
    values: [audience, keys],
  };
}

export function listAudiencesSql(schema: string, table: string): SqlQuery {
  return {
    text: `SELECT "audience", count(*)::bigint::text AS size FROM ${qualified(schema, table)} GROUP BY "audience" ORDER BY "audience"`,
    values: [],
  };
}

// ---------------------------------------------------------------------------
// Values PostgreSQL cannot store.

// A lone UTF-16 surrogate would be replaced by U+FFFD on its way to the
// server, silently changing a key; jsonb refuses \u0000 and lone surrogates.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function unstorableText(s: string): string | undefined {
  if (s.includes('\0')) return 'contains a NUL character, which PostgreSQL text cannot store';
  if (LONE_SURROGATE.test(s)) return 'contains an unpaired UTF-16 surrogate (not valid Unicode)';
  return undefined;
}

/** Whether any string inside `value` (object keys included) is one PostgreSQL cannot store. */
function hasUnstorableString(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return unstorableText(value) !== undefined;
  if (value === null || typeof value !== 'object' || depth > 100) return false;
  if (Array.isArray(value)) return value.some((v) => hasUnstorableString(v, depth + 1));
  return Object.entries(value).some(([k, v]) => unstorableText(k) !== undefined || hasUnstorableString(v, depth + 1));
}

function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

// ---------------------------------------------------------------------------
// Connections: one small pool per destination.

interface PoolEntry {
  url: string;
  pool: pg.Pool;
  target: WarehouseTarget;
  password: string;
  /** Tables already checked or created, by qualified name. */
  ensured: Map<string, Promise<void>>;
}

const pools = new Map<string, PoolEntry>();

function passwordOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url.trim()).password);
  } catch {
    return '';
  }
}

function targetOf(url: string): WarehouseTarget {
  try {
    const { host, port, database, user } = parseWarehouseUrl(url);
    return { host, port, database, user };
  } catch (err) {
    if (err instanceof WarehouseError) throw new ConnectorError(err.message, 'PG_INVALID_URL', false);
    throw err;
  }
}

function poolFor(destinationId: string, url: string): PoolEntry {
  const existing = pools.get(destinationId);
  if (existing && existing.url === url) return existing;
  const target = targetOf(url);
  if (existing) {
    pools.delete(destinationId);
    existing.pool.end().catch(() => {});
  }
  const pool = new pg.Pool({
    connectionString: url.trim(),
    max: 3,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 300_000,
    application_name: 'roster',
    // Idle connections do not keep a finishing process alive.
    allowExitOnIdle: true,
  });
  // An idle client losing its connection emits 'error' on the pool; unheard,
  // it would crash the process. The next query reports the problem.
  pool.on('error', () => {});
  const entry: PoolEntry = { url, pool, target, password: passwordOf(url), ensured: new Map() };
  pools.set(destinationId, entry);
  return entry;
}

/** Ends every pool (process shutdown, tests). */
export async function closePostgresTablePools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.allSettled(all.map((e) => e.pool.end()));
}

const RETRYABLE_SQLSTATES = new Set(['40001', '40P01', '55P03']);

function toConnectorError(err: unknown, entry: { target: WarehouseTarget; password: string }): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const w = classifyPgError(err, entry.target, { password: entry.password });
  const retryable = w.code === 'HOST_UNREACHABLE' || w.code === 'TIMEOUT' || (w.sqlState !== undefined && RETRYABLE_SQLSTATES.has(w.sqlState));
  return new ConnectorError(w.message, `PG_${w.code}`, retryable);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn`, again up to twice on failures worth repeating (lost connection,
 * deadlock, serialisation failure), so that the engine sees only failures
 * that persisted, as it does from the HTTP helper.
 */
async function withRetries<T>(ctx: ConnectorContext<unknown>, entry: PoolEntry, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    if (ctx.signal.aborted) throw new ConnectorError('cancelled before PostgreSQL confirmed the batch', 'ABORTED', true);
    try {
      return await fn();
    } catch (err) {
      const e = toConnectorError(err, entry);
      if (!e.retryable || attempt >= 3) throw e;
      const waitMs = Math.floor(Math.random() * 250 * 2 ** attempt);
      ctx.logger.warn({ code: e.code, attempt, waitMs }, 'postgres_table: transient failure, retrying');
      await sleep(waitMs);
    }
  }
}

// ---------------------------------------------------------------------------
// The table.

interface ColumnInfo {
  name: string;
  type: string;
  notNull: boolean;
  hasDefault: boolean;
}

const EXPECTED_COLUMNS: readonly { name: string; types: readonly string[]; shown: string }[] = [
  { name: 'audience', types: ['text', 'character varying'], shown: 'text' },
  { name: 'key', types: ['text', 'character varying'], shown: 'text' },
  { name: 'fields', types: ['jsonb'], shown: 'jsonb' },
  { name: 'identifiers', types: ['jsonb'], shown: 'jsonb' },
  { name: 'synced_at', types: ['timestamp with time zone', 'timestamp without time zone'], shown: 'timestamptz' },
];

/** What is wrong with an existing table's shape, as readable phrases (empty when usable). */
export function tableMismatches(columns: readonly ColumnInfo[], hasUniqueAudienceKey: boolean): string[] {
  const out: string[] = [];
  const byName = new Map(columns.map((c) => [c.name, c]));
  for (const want of EXPECTED_COLUMNS) {
    const c = byName.get(want.name);
    if (!c) out.push(`column "${want.name}" (${want.shown}) is missing`);
    else if (!want.types.includes(c.type.replace(/\(.*\)$/, ''))) out.push(`column "${want.name}" is ${c.type} (expected ${want.shown})`);
  }
  for (const c of columns) {
    if (EXPECTED_COLUMNS.some((w) => w.name === c.name)) continue;
    if (c.notNull && !c.hasDefault) out.push(`extra column "${c.name}" is NOT NULL without a default, so Roster cannot insert rows`);
  }
  if (!hasUniqueAudienceKey && !out.some((m) => /"(audience|key)"/.test(m))) {
    out.push('there is no primary key or unique index on exactly (audience, key)');
  }
  return out;
}

async function ensureTable(client: pg.ClientBase, schema: string, table: string): Promise<void> {
  const name = qualified(schema, table);
  await client.query('BEGIN');
  try {
    // Two workers creating the same table at once would collide in the catalogue.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`roster.postgres_table:${name}`]);
    const found = await client.query<{ oid: string | null; relkind: string | null }>(
      'SELECT c.oid::text AS oid, c.relkind::text AS relkind FROM pg_class c WHERE c.oid = to_regclass($1)',
      [name],
    );
    const rel = found.rows[0];
    if (!rel) {
      const ns = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      if (ns.rowCount === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
      await client.query(createTableSql(schema, table));
      await client.query('COMMIT');
      return;
    }
    if (rel.relkind !== 'r' && rel.relkind !== 'p') {
      throw new ConnectorError(`${name} exists but is not a table (expected a table Roster can insert into and delete from)`, 'TABLE_MISMATCH', false);
    }
    const cols = await client.query<ColumnInfo>(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
              (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS "hasDefault"
       FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [rel.oid],
    );
    const unique = await client.query(
      `SELECT 1 FROM pg_index i
       WHERE i.indrelid = $1::oid AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
         AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
              FROM unnest(i.indkey::int2[]) AS k(attnum)
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) = ARRAY['audience', 'key']`,
      [rel.oid],
    );
    const problems = tableMismatches(cols.rows, (unique.rowCount ?? 0) > 0);
    if (problems.length) {
      throw new ConnectorError(
        `table ${name} exists but does not have the shape Roster writes: ${problems.join('; ')}. Expected columns audience text, key text, fields jsonb, identifiers jsonb, synced_at timestamptz with a primary key on (audience, key); point the destination at another table name, or let Roster create it`,
        'TABLE_MISMATCH',
        false,
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

function tableOf(config: PostgresTableConfig): { schema: string; table: string } {
  return { schema: config.schema?.trim() || DEFAULT_SCHEMA, table: config.table };
}

async function ensured(entry: PoolEntry, schema: string, table: string): Promise<void> {
  const name = qualified(schema, table);
  let p = entry.ensured.get(name);
  if (!p) {
    p = (async () => {
      const client = await entry.pool.connect();
      try {
        await ensureTable(client, schema, table);
      } finally {
        client.release();
      }
    })();
    entry.ensured.set(name, p);
    // A failure is not remembered: the next call checks again.
    p.catch(() => entry.ensured.delete(name));
  }
  return p;
}

/** Runs a statement on the table, ensuring it first (and again if it vanished meanwhile). */
async function onTable<T>(ctx: ConnectorContext<PostgresTableConfig>, fn: (pool: pg.Pool, schema: string, table: string) => Promise<T>): Promise<T> {
  const entry = poolFor(ctx.destinationId, ctx.config.url);
  const { schema, table } = tableOf(ctx.config);
  return withRetries(ctx, entry, async () => {
    await ensured(entry, schema, table);
    try {
      return await fn(entry.pool, schema, table);
    } catch (err) {
      // 42P01: the table was dropped since it was checked.
      if ((err as { code?: unknown }).code === '42P01') {
        entry.ensured.delete(qualified(schema, table));
        await ensured(entry, schema, table);
        return await fn(entry.pool, schema, table);
      }
      throw err;
    }
  });
}

function checkAudience(audience: Audience): void {
  const problem = unstorableText(audience.id);
  if (problem) throw new ConnectorError(`the audience name ${problem}; expected text PostgreSQL can store`, 'UNSUPPORTED_VALUE', false);
}

async function upsert(ctx: ConnectorContext<PostgresTableConfig>, audience: Audience, rows: SyncRow[]): Promise<DeliveryResult> {
  checkAudience(audience);
  const rejected: RowRejection[] = [];
  // Last row per key wins: one statement cannot upsert a key twice.
  const byKey = new Map<string, string>();
  for (const row of rows) {
    const keyProblem = unstorableText(row.key);
    if (keyProblem) {
      rejected.push({ key: row.key, message: `the key ${keyProblem}`, code: 'UNSUPPORTED_VALUE' });
      continue;
    }
    let json: string;
    try {
      json = toJson({ key: row.key, fields: row.fields ?? {}, identifiers: row.identifiers ?? {} });
    } catch (err) {
      rejected.push({ key: row.key, message: `the fields cannot be written as JSON (${err instanceof Error ? err.message : String(err)})`, code: 'UNSUPPORTED_VALUE' });
      continue;
    }
    // jsonb refuses \u0000 and unpaired surrogates anywhere in a document.
    if (hasUnstorableString(row.fields) || hasUnstorableString(row.identifiers)) {
      rejected.push({ key: row.key, message: 'a field or identifier contains a NUL character or an unpaired surrogate, which PostgreSQL jsonb cannot store', code: 'UNSUPPORTED_VALUE' });
      continue;
    }
    byKey.delete(row.key);
    byKey.set(row.key, json);
  }
  if (byKey.size > 0) {
    const rowsJson = `[${[...byKey.values()].join(',')}]`;
    await onTable(ctx, (pool, schema, table) => {
      const q = upsertSql(schema, table, audience.id, rowsJson);
      return pool.query(q.text, q.values);
    });
  }
  return { rejected };
}

export const postgresTableConnector: Connector<PostgresTableConfig> = {
  type: 'postgres_table',
  name: 'PostgreSQL table',
  spec: {
    category: 'WAREHOUSE',
    configSchema: [
      {
        name: 'url',
        type: 'string',
        required: true,
        secret: true,
        description: 'a PostgreSQL URL like postgresql://user:password@host:5432/database',
      },
      { name: 'schema', type: 'string', required: false, secret: false, description: 'the schema of the table (created if missing)', default: DEFAULT_SCHEMA },
      { name: 'table', type: 'string', required: true, secret: false, description: 'the table to write (created if missing)' },
    ],
    identifiers: Object.values(IdentifierType).map((type) => ({ type, hashed: false })),
    audiences: { canList: true, canCreate: true, types: [], defaultType: null },
    batchSize: POSTGRES_TABLE_BATCH_SIZE,
    rateLimit: null,
    requiresProfiles: false,
    reportsMatchRate: false,
    supportsUpdate: true,
  },

  validateConfig(config) {
    const problems: ValidationProblem[] = [];
    try {
      parseWarehouseUrl(config.url);
    } catch (err) {
      // These messages are written never to contain the password.
      problems.push({ path: ['url'], message: err instanceof Error ? err.message : 'expected a PostgreSQL URL' });
    }
    for (const field of ['schema', 'table'] as const) {
      const v = config[field];
      if (v === undefined) continue;
      if (v.includes('\0')) problems.push({ path: [field], message: `expected a ${field} name, but got one containing a NUL character` });
      else if (Buffer.byteLength(v, 'utf8') > MAX_IDENT_BYTES) {
        problems.push({ path: [field], message: `expected a ${field} name of at most ${MAX_IDENT_BYTES} bytes (PostgreSQL would cut it short), but got ${Buffer.byteLength(v, 'utf8')}` });
      }
    }
    return problems;
  },

  async check(ctx) {
    // A connection of its own, not the destination's pool: checks run for
    // configurations that are not saved yet.
    const target = targetOf(ctx.config.url);
    const entry = { target, password: passwordOf(ctx.config.url) };
    const client = new pg.Client({
      connectionString: ctx.config.url.trim(),
      connectionTimeoutMillis: 10_000,
      statement_timeout: 30_000,
      query_timeout: 30_000,
      application_name: 'roster',
    });
    client.on('error', () => {});
    try {
      await client.connect();
      const { schema, table } = tableOf(ctx.config);
      await ensureTable(client, schema, table);
    } catch (err) {
      throw toConnectorError(err, entry);
    } finally {
      await client.end().catch(() => {});
    }
  },

  async listAudiences(ctx) {
    const { rows } = await onTable(ctx, (pool, schema, table) => {
      const q = listAudiencesSql(schema, table);
      return pool.query<{ audience: string; size: string }>(q.text, q.values);
    });
    return rows.map((r) => ({ id: r.audience, name: r.audience, type: null, size: Number(r.size) }));
  },

  async createAudience(ctx, input) {
    const audience = { id: input.name, name: input.name, type: null };
    checkAudience(audience);
    // Nothing to create: the audience exists once a row names it. The table
    // is made ready now, so a mismatch shows up before the first batch.
    await onTable(ctx, async () => undefined);
    return audience;
  },

  add: upsert,
  update: upsert,

  async remove(ctx, audience, rows) {
    checkAudience(audience);
    // A key PostgreSQL cannot store was never added: removing it is done.
    const keys = [...new Set(rows.map((r) => r.key).filter((k) => unstorableText(k) === undefined))];
    if (keys.length > 0) {
      await onTable(ctx, (pool, schema, table) => {
        const q = deleteSql(schema, table, audience.id, keys);
        return pool.query(q.text, q.values);
      });
    }
    return { rejected: [] };
  },
};
