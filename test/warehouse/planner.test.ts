import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '../support/db.js';
import { quoteIdent, qualified } from '../../src/lib/sql.js';
import { WarehouseError } from '../../src/warehouse/connection.js';
import {
  createMetaTableSql,
  DEFAULT_PLANNER_SCHEMA,
  ensurePlannerSchema,
  insertFormatVersionQuery,
  PLANNER_FORMAT_VERSION,
  plannerSchemaName,
} from '../../src/warehouse/planner.js';
import { failureOf } from '../support/failures.js';

const t = await useTestDatabase();

// Roles are cluster-wide: random names, dropped at the end (before the databases are).
const roles: string[] = [];
const warehouses: string[] = [];
function urlAs(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
}
function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}
/** Runs SQL as the superuser in the database of `url`. */
async function asAdmin(url: string, sql: string): Promise<void> {
  const u = new URL(t.adminUrl);
  u.pathname = new URL(url).pathname;
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
async function createRole(): Promise<{ role: string; password: string }> {
  const role = `rt_planner_${randomBytes(4).toString('hex')}`;
  const password = `Pl-${randomBytes(8).toString('hex')}`;
  await asAdmin(t.adminUrl, `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
  roles.push(role);
  return { role, password };
}
async function newWarehouse(): Promise<string> {
  const url = await t.createEmptyDatabase('wh');
  warehouses.push(url);
  return url;
}

afterAll(async () => {
  for (const role of roles) {
    for (const url of [t.url, ...warehouses]) await asAdmin(url, `DROP OWNED BY ${role}`);
    await asAdmin(t.adminUrl, `DROP ROLE IF EXISTS ${role}`);
  }
});

async function metaRows(url: string, schema: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT key, value, updated_at FROM ${qualified(schema, 'roster_meta')} ORDER BY key`);
    return rows as { key: string; value: unknown; updated_at: Date }[];
  } finally {
    await client.end();
  }
}

const failure = (promise: Promise<unknown>) => failureOf(promise, WarehouseError);

describe('quoteIdent and qualified', () => {
  it('double-quotes names and doubles inner quotes', () => {
    expect(quoteIdent('users')).toBe('"users"');
    expect(quoteIdent('Mixed Case')).toBe('"Mixed Case"');
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(quoteIdent('select')).toBe('"select"');
    expect(qualified('roster_planner', 'roster_meta')).toBe('"roster_planner"."roster_meta"');
    expect(qualified('a"b', 'c')).toBe('"a""b"."c"');
  });

  it('refuses empty names and NUL characters', () => {
    expect(() => quoteIdent('')).toThrow('expected a non-empty identifier');
    expect(() => quoteIdent('a\0b')).toThrow('without NUL characters');
  });

  it('round-trips through PostgreSQL', async () => {
    const client = new pg.Client({ connectionString: t.url });
    await client.connect();
    try {
      const name = 'we"ird Name; DROP';
      const { rows } = await client.query(`SELECT 1 AS ${quoteIdent(name)}`);
      expect(Object.keys(rows[0])).toEqual([name]);
    } finally {
      await client.end();
    }
  });
});

describe('plannerSchemaName', () => {
  it('accepts lowercase names of up to 63 characters', () => {
    expect(plannerSchemaName(DEFAULT_PLANNER_SCHEMA)).toBe('roster_planner');
    expect(plannerSchemaName('_roster2')).toBe('_roster2');
    expect(plannerSchemaName('a'.repeat(63))).toBe('a'.repeat(63));
  });

  it.each(['', 'Roster', 'roster-planner', '2roster', 'roster planner', 'a'.repeat(64), 'roster"x', 'rôster'])(
    'refuses %j',
    (name) => {
      expect(() => plannerSchemaName(name)).toThrow(
        `expected a planner schema name of lowercase letters, digits and underscores, starting with a letter or underscore and at most 63 characters long, but got ${JSON.stringify(name)}`,
      );
    },
  );

  it('refuses the reserved pg_ prefix', () => {
    expect(() => plannerSchemaName('pg_roster')).toThrow('not starting with "pg_"');
  });
});

describe('SQL text', () => {
  it('creates roster_meta and its format_version row', () => {
    expect(createMetaTableSql('roster_planner')).toBe(
      `CREATE TABLE IF NOT EXISTS "roster_planner"."roster_meta" (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
)`,
    );
    expect(insertFormatVersionQuery('roster_planner')).toEqual({
      text: `INSERT INTO "roster_planner"."roster_meta" (key, value) VALUES ('format_version', $1::jsonb) ON CONFLICT (key) DO NOTHING`,
      values: [String(PLANNER_FORMAT_VERSION)],
    });
  });
});

describe('ensurePlannerSchema', () => {
  it('creates the schema and roster_meta, and is idempotent', async () => {
    const url = await newWarehouse();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await ensurePlannerSchema(client, DEFAULT_PLANNER_SCHEMA);
      const first = await metaRows(url, DEFAULT_PLANNER_SCHEMA);
      expect(first).toEqual([{ key: 'format_version', value: PLANNER_FORMAT_VERSION, updated_at: expect.any(Date) }]);

      await ensurePlannerSchema(client, DEFAULT_PLANNER_SCHEMA);
      expect(await metaRows(url, DEFAULT_PLANNER_SCHEMA)).toEqual(first);

      const { rows } = await client.query(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns
          WHERE table_schema = $1 AND table_name = 'roster_meta' ORDER BY ordinal_position`,
        [DEFAULT_PLANNER_SCHEMA],
      );
      expect(rows).toEqual([
        { column_name: 'key', data_type: 'text', is_nullable: 'NO' },
        { column_name: 'value', data_type: 'jsonb', is_nullable: 'NO' },
        { column_name: 'updated_at', data_type: 'timestamp with time zone', is_nullable: 'NO' },
      ]);
      // Nothing is left open on the caller's connection.
      const state = await client.query(`SELECT now() = statement_timestamp() AS idle`);
      expect(state.rows[0].idle).toBe(true);
    } finally {
      await client.end();
    }
  });

  it('is safe to run concurrently, through a pool, with a custom name', async () => {
    const url = await newWarehouse();
    const pool = new pg.Pool({ connectionString: url, max: 6 });
    try {
      await Promise.all(Array.from({ length: 6 }, () => ensurePlannerSchema(pool, 'analytics_roster')));
      expect((await metaRows(url, 'analytics_roster')).map((r) => r.key)).toEqual(['format_version']);
    } finally {
      await pool.end();
    }
  });

  it('refuses an invalid name before touching the database', async () => {
    const pool = new pg.Pool({ connectionString: t.url, max: 1 });
    try {
      await expect(ensurePlannerSchema(pool, 'Roster-Planner')).rejects.toThrow('expected a planner schema name');
    } finally {
      await pool.end();
    }
  });

  it('PERMISSION_DENIED naming the GRANT when the user may not create schemas', async () => {
    const url = await newWarehouse();
    const { role, password } = await createRole();
    const client = new pg.Client({ connectionString: urlAs(url, role, password) });
    await client.connect();
    try {
      const err = await failure(ensurePlannerSchema(client, DEFAULT_PLANNER_SCHEMA));
      expect(err.code).toBe('PERMISSION_DENIED');
      const database = databaseOf(url);
      expect(err.message).toBe(
        `user "${role}" may not create the planner schema "roster_planner" in database "${database}"; expected the CREATE privilege on the database (GRANT CREATE ON DATABASE ${database} TO ${role}), or the schema created beforehand with ${role} allowed to create tables in it`,
      );
      expect(err.message).not.toContain(password);

      // Following the advice works.
      await asAdmin(url, `GRANT CREATE ON DATABASE ${database} TO ${role}`);
      await ensurePlannerSchema(client, DEFAULT_PLANNER_SCHEMA);
      expect((await metaRows(url, DEFAULT_PLANNER_SCHEMA)).map((r) => r.key)).toEqual(['format_version']);
    } finally {
      await client.end();
    }
  });

  it('uses a schema made beforehand by a DBA, without CREATE on the database', async () => {
    const url = await newWarehouse();
    const { role, password } = await createRole();
    const client = new pg.Client({ connectionString: urlAs(url, role, password) });
    await client.connect();
    try {
      await asAdmin(url, `CREATE SCHEMA roster_planner`);
      const err = await failure(ensurePlannerSchema(client, DEFAULT_PLANNER_SCHEMA));
      expect(err.code).toBe('PERMISSION_DENIED');
      expect(err.message).toContain(`GRANT USAGE, CREATE ON SCHEMA roster_planner TO ${role}`);

      await asAdmin(url, `GRANT USAGE, CREATE ON SCHEMA roster_planner TO ${role}`);
      await ensurePlannerSchema(client, DEFAULT_PLANNER_SCHEMA);
      await ensurePlannerSchema(client, DEFAULT_PLANNER_SCHEMA);
      expect((await metaRows(url, DEFAULT_PLANNER_SCHEMA)).map((r) => r.key)).toEqual(['format_version']);
    } finally {
      await client.end();
    }
  });
});
