// The planner schema: a schema of Roster's own inside the customer's
// warehouse, where memberships and snapshots live so that diffs run next to
// the data. This file creates it and its metadata table; the tables in it
// belong to the segment and sync modules.
import pg from 'pg';
import { quoteIdent, qualified } from '../lib/sql.js';
import { classifyPgError, WarehouseError } from './connection.js';
import type { Queryable } from './introspect.js';

export const DEFAULT_PLANNER_SCHEMA = 'roster_planner';

/** Bumped when the layout of the planner schema changes incompatibly. */
export const PLANNER_FORMAT_VERSION = 1;

/**
 * Checks a planner schema name: lowercase letters, digits and underscores,
 * starting with a letter or underscore, at most 63 characters (PostgreSQL's
 * limit), and not pg_… (reserved for system schemas). Returns it unchanged.
 */
export function plannerSchemaName(name: string): string {
  if (typeof name !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    const got = typeof name === 'string' ? JSON.stringify(name) : typeof name;
    throw new RangeError(
      `expected a planner schema name of lowercase letters, digits and underscores, starting with a letter or underscore and at most 63 characters long, but got ${got}`,
    );
  }
  if (name.startsWith('pg_')) {
    throw new RangeError(`expected a planner schema name not starting with "pg_" (reserved for PostgreSQL's own schemas), but got "${name}"`);
  }
  return name;
}

// Words that cannot stand unquoted as a role or database name in a GRANT.
const RESERVED = new Set(['all', 'user', 'public', 'group', 'current_user', 'session_user', 'current_role', 'table', 'default', 'select', 'order', 'grant', 'to', 'on']);

/** A name as a person would type it in a GRANT: bare when that is unambiguous. */
function grantName(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name) ? name : quoteIdent(name);
}

export function plannerStateQuery(schema: string) {
  return {
    text: `SELECT current_user::text AS "user",
       current_database()::text AS database,
       n.oid IS NOT NULL AS schema_exists,
       EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'roster_meta') AS meta_exists,
       has_database_privilege(current_database(), 'CREATE') AS can_create_schema,
       n.oid IS NOT NULL AND has_schema_privilege(n.oid, 'CREATE') AND has_schema_privilege(n.oid, 'USAGE') AS can_create_in_schema
  FROM (SELECT 1) AS one
  LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = $1`,
    values: [schema],
  };
}

export function createMetaTableSql(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified(schema, 'roster_meta')} (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
)`;
}

export function insertFormatVersionQuery(schema: string) {
  return {
    text: `INSERT INTO ${qualified(schema, 'roster_meta')} (key, value) VALUES ('format_version', $1::jsonb) ON CONFLICT (key) DO NOTHING`,
    values: [JSON.stringify(PLANNER_FORMAT_VERSION)],
  };
}

/**
 * Creates the planner schema and its `roster_meta` table (with a
 * `format_version` row) if they are missing. Idempotent and safe to run
 * concurrently. Lacking privileges is a PERMISSION_DENIED WarehouseError
 * naming the GRANT that would fix it.
 */
export async function ensurePlannerSchema(db: Queryable, schema: string): Promise<void> {
  const name = plannerSchemaName(schema);
  let client: pg.ClientBase;
  let release: ((err?: Error) => void) | undefined;
  if (db instanceof pg.Pool) {
    try {
      const c = await db.connect();
      client = c;
      release = (err) => c.release(err);
    } catch (err) {
      throw classifyPgError(err);
    }
  } else client = db;

  let who = { user: '', database: '' };
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    try {
      // Two Roster processes starting at once would otherwise race on
      // CREATE SCHEMA IF NOT EXISTS, which can fail with a duplicate key.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`roster_planner_schema:${name}`]);
      const state = plannerStateQuery(name);
      const { rows } = await client.query<{
        user: string;
        database: string;
        schema_exists: boolean;
        meta_exists: boolean;
        can_create_schema: boolean;
        can_create_in_schema: boolean;
      }>(state.text, state.values);
      const s = rows[0]!;
      who = { user: s.user, database: s.database };

      // Checked first, because CREATE SCHEMA IF NOT EXISTS demands CREATE on the
      // database even when the schema exists (e.g. made beforehand by a DBA).
      if (!s.schema_exists) {
        if (!s.can_create_schema) throw noCreateOnDatabase(name, s.user, s.database);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(name)}`);
      }
      if (!s.meta_exists) {
        if (s.schema_exists && !s.can_create_in_schema) throw noCreateInSchema(name, s.user, s.database);
        await client.query(createMetaTableSql(name));
      }
      const insert = insertFormatVersionQuery(name);
      await client.query(insert.text, insert.values);
      await client.query('COMMIT');
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      throw err;
    }
  } catch (err) {
    if (err instanceof WarehouseError) throw err;
    const classified = classifyPgError(err, who.database ? { database: who.database, user: who.user } : {});
    if (classified.code === 'PERMISSION_DENIED' && who.user) throw noCreateInSchema(name, who.user, who.database);
    throw classified;
  } finally {
    release?.(broken);
  }
}

function noCreateOnDatabase(schema: string, user: string, database: string): WarehouseError {
  return new WarehouseError(
    'PERMISSION_DENIED',
    `user "${user}" may not create the planner schema "${schema}" in database "${database}"; expected the CREATE privilege on the database (GRANT CREATE ON DATABASE ${grantName(database)} TO ${grantName(user)}), or the schema created beforehand with ${grantName(user)} allowed to create tables in it`,
    { sqlState: '42501' },
  );
}

function noCreateInSchema(schema: string, user: string, database: string): WarehouseError {
  return new WarehouseError(
    'PERMISSION_DENIED',
    `user "${user}" may not create or write Roster's tables in the planner schema "${schema}" of database "${database}"; expected USAGE and CREATE on it (GRANT USAGE, CREATE ON SCHEMA ${grantName(schema)} TO ${grantName(user)})`,
    { sqlState: '42501' },
  );
}
