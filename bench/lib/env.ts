// The benchmark environment: a database (BENCH_DATABASE_URL, else a fresh
// database on the local PostgreSQL, else an embedded cluster as `npm start`
// uses), migrated with the project's migrator; the services a Roster process
// creates; the demo warehouse at the configured size; and a workspace
// describing that warehouse through the same functions the API calls.
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { applyMigrations } from '../../src/migrate.js';
import { createServices, type ProcessServices } from '../../src/services.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/embedded.js';
import { createApiToken } from '../../src/auth.js';
import { loadDemoWarehouse } from '../../src/warehouse/demo.js';
import { createSource } from '../../src/warehouse/sources.js';
import { createEntity, createRelationship } from '../../src/warehouse/entities.js';
import type { Options } from './options.js';

export const WAREHOUSE_SCHEMA = 'bench_wh';
export const PLANNER_SCHEMA = 'roster_bench';

export interface BenchDatabase {
  /** Roster's configuration database; the warehouse lives in it too (schema bench_wh), as in the demo. */
  url: string;
  /** Where it came from, for the results. */
  kind: 'BENCH_DATABASE_URL' | 'local' | 'embedded';
  serverVersion: string;
  close(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v;
  } finally {
    await client.end();
  }
}

const LOCAL_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Opens (and migrates) the database the run uses; `close` drops what was created for the run. */
export async function openDatabase(logger: Logger): Promise<BenchDatabase> {
  const given = process.env.BENCH_DATABASE_URL?.trim();
  let url: string;
  let kind: BenchDatabase['kind'];
  let drop: (() => Promise<void>) | undefined;
  let embedded: EmbeddedDatabase | undefined;
  if (given) {
    url = given;
    kind = 'BENCH_DATABASE_URL';
  } else if (await reachable(LOCAL_URL)) {
    const name = `roster_bench_${process.pid}`;
    await adminQuery(LOCAL_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await adminQuery(LOCAL_URL, `CREATE DATABASE "${name}"`);
    url = withDatabase(LOCAL_URL, name);
    kind = 'local';
    drop = () => (process.env.BENCH_KEEP ? Promise.resolve() : adminQuery(LOCAL_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  } else {
    embedded = await startEmbeddedPostgres({ dataDir: '', ephemeral: true, logger, database: 'roster_bench' });
    url = embedded.url;
    kind = 'embedded';
  }
  try {
    const applied = await applyMigrations(url);
    if (applied.length) logger.info({ applied: applied.length }, 'migrations applied');
  } catch (err) {
    await drop?.().catch(() => {});
    await embedded?.stop().catch(() => {});
    throw err;
  }
  return {
    url,
    kind,
    serverVersion: await serverVersion(url),
    async close() {
      await drop?.();
      await embedded?.stop();
    },
  };
}

/** A 32-byte key for this run, shared with the child processes through ROSTER_SECRET_KEY. */
export const SECRET_KEY_HEX = process.env.ROSTER_SECRET_KEY ?? randomBytes(32).toString('hex');

/** The environment of a Roster child process (`roster worker`, `roster serve`). */
export function rosterEnv(databaseUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, DATABASE_URL: databaseUrl, ROSTER_SECRET_KEY: SECRET_KEY_HEX, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', NODE_ENV: 'production', ...extra };
}

export function openServices(databaseUrl: string, logger: Logger, poolSize = 10): ProcessServices {
  const config = loadConfig({ DATABASE_URL: databaseUrl, ROSTER_SECRET_KEY: SECRET_KEY_HEX, LOG_LEVEL: 'warn', NODE_ENV: 'production' });
  return createServices({ config, databaseUrl, secretKey: config.secretKey!, logger, poolSize });
}

export function benchLogger(): Logger {
  return createLogger((process.env.BENCH_LOG_LEVEL as never) ?? 'warn');
}

/**
 * The demo warehouse at `users` users in schema bench_wh. A database given
 * through BENCH_DATABASE_URL keeps it between runs: it is reloaded only when
 * its size, seed or day differ (timestamps are relative to the load day).
 */
export async function ensureWarehouse(databaseUrl: string, opts: Options, log: (msg: string) => void): Promise<{ users: number; loadedMs: number | null; rows: Record<string, number> }> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const today = new Date();
    const now = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
    const marker = `bench seed ${opts.seed} users ${opts.users} now ${now.toISOString()}`;
    const { rows } = await pool.query<{ note: string | null }>(
      `SELECT obj_description(to_regclass($1)::oid, 'pg_class') AS note`,
      [`${WAREHOUSE_SCHEMA}.users_bench_marker`],
    ).catch(() => ({ rows: [] as { note: string | null }[] }));
    let loadedMs: number | null = null;
    if (rows[0]?.note !== marker) {
      log(`loading the demo warehouse: ${opts.users.toLocaleString('en-US')} users (seed ${opts.seed})`);
      await pool.query(`DROP TABLE IF EXISTS ${WAREHOUSE_SCHEMA}.users_bench_marker`).catch(() => {});
      const result = await loadDemoWarehouse(pool, {
        users: opts.users,
        seed: opts.seed,
        schema: WAREHOUSE_SCHEMA,
        now,
        onProgress: (table, n) => {
          if (n % 1_000_000 === 0 || n === opts.users) log(`  ${table}: ${n.toLocaleString('en-US')} rows`);
        },
      });
      loadedMs = result.ms;
      await pool.query(`CREATE TABLE ${WAREHOUSE_SCHEMA}.users_bench_marker ()`);
      await pool.query(`COMMENT ON TABLE ${WAREHOUSE_SCHEMA}.users_bench_marker IS '${marker}'`);
      log(`  loaded in ${(result.ms / 1000).toFixed(1)} s`);
    }
    const counts: Record<string, number> = {};
    for (const t of ['companies', 'users', 'purchases', 'events']) {
      counts[t] = Number((await pool.query<{ n: string }>(`SELECT reltuples::bigint AS n FROM pg_class WHERE oid = '${WAREHOUSE_SCHEMA}.${t}'::regclass`)).rows[0]!.n);
    }
    return { users: opts.users, loadedMs, rows: counts };
  } finally {
    await pool.end();
  }
}

/**
 * Forgets what earlier runs left in a reused database: workspaces (and all
 * that hangs off them) and the planner schema's tables.
 */
export async function resetRosterState(services: ProcessServices): Promise<void> {
  await services.db.pool.query(`TRUNCATE "Workspace" CASCADE`);
  await services.db.pool.query(`DROP SCHEMA IF EXISTS ${PLANNER_SCHEMA} CASCADE`);
}

export interface BenchWorkspace {
  workspaceId: string;
  sourceId: string;
  users: string;
  companies: string;
  events: string;
  purchases: string;
  /** Tokens of the workspace (ADMIN). */
  tokens: string[];
}

/** A workspace describing the bench warehouse, as the demo seed does, with `tokens` admin tokens. */
export async function createBenchWorkspace(services: ProcessServices, databaseUrl: string, name: string, tokens = 1): Promise<BenchWorkspace> {
  const prisma = services.db.prisma;
  const ws = await prisma.workspace.create({ data: { name, slug: `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${randomBytes(3).toString('hex')}` } });
  const source = await createSource(services, ws.id, { name: 'Bench warehouse', url: databaseUrl, plannerSchema: PLANNER_SCHEMA });
  const table = (t: string) => ({ table: { schema: WAREHOUSE_SCHEMA, name: t } });
  const users = await createEntity(services, ws.id, source.id, {
    name: 'Users',
    kind: 'PERSON',
    from: table('users'),
    primaryKey: 'id',
    identifiers: [
      { type: 'EMAIL', column: 'email' },
      { type: 'PHONE', column: 'phone' },
      { type: 'FIRST_NAME', column: 'first_name' },
      { type: 'LAST_NAME', column: 'last_name' },
      { type: 'ZIP', column: 'zip' },
      { type: 'COUNTRY', column: 'country' },
      { type: 'EXTERNAL_ID', column: 'id' },
    ],
  });
  const companies = await createEntity(services, ws.id, source.id, { name: 'Companies', kind: 'COMPANY', from: table('companies'), primaryKey: 'id', identifiers: [] });
  const purchases = await createEntity(services, ws.id, source.id, { name: 'Purchases', kind: 'OTHER', from: table('purchases'), primaryKey: 'id', identifiers: [] });
  const events = await createEntity(services, ws.id, source.id, { name: 'Events', kind: 'OTHER', from: table('events'), primaryKey: 'id', identifiers: [] });
  const rel = (n: string, kind: 'MANY_TO_ONE' | 'ONE_TO_MANY', from: string, to: string, fromColumn: string, toColumn: string) =>
    createRelationship(services, ws.id, { name: n, kind, fromEntityId: from, toEntityId: to, fromColumn, toColumn });
  await rel('company', 'MANY_TO_ONE', users.id, companies.id, 'company_id', 'id');
  await rel('events', 'ONE_TO_MANY', users.id, events.id, 'id', 'user_id');
  await rel('purchases', 'ONE_TO_MANY', users.id, purchases.id, 'id', 'user_id');
  const list: string[] = [];
  for (let i = 0; i < tokens; i++) list.push((await createApiToken(prisma, { workspaceId: ws.id, name: `bench ${i}`, scopes: ['ADMIN'] })).token);
  return { workspaceId: ws.id, sourceId: source.id, users: users.id, companies: companies.id, events: events.id, purchases: purchases.id, tokens: list };
}
