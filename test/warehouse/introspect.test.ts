import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '../support/db.js';
import { WarehouseError } from '../../src/warehouse/connection.js';
import {
  columnTypeOf,
  describeQuery,
  describeQueryQuery,
  describeTable,
  listRelationsQuery,
  listSchemas,
  listSchemasQuery,
  listTables,
  scanStatements,
  singleStatement,
  typeNamesQuery,
} from '../../src/warehouse/introspect.js';
import type { ColumnType, WarehouseTable } from '../../src/warehouse/types.js';

const t = await useTestDatabase();

// A role that may read only some of the fixtures, to check privilege filtering.
const limitedRole = `rt_limited_${randomBytes(4).toString('hex')}`;
const limitedPassword = `Lim-${randomBytes(8).toString('hex')}`;
function urlAs(user: string, password: string): string {
  const u = new URL(t.url);
  u.username = user;
  u.password = password;
  return u.toString();
}

async function asAdminOn(url: string, sql: string): Promise<void> {
  const u = new URL(url);
  const admin = new URL(t.adminUrl);
  admin.pathname = u.pathname;
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const client = new pg.Client({ connectionString: t.url });

beforeAll(async () => {
  await client.connect();
  // Fixtures live in schemas of their own; public holds Roster's config tables.
  await client.query(`
    CREATE SCHEMA shop;
    CREATE DOMAIN shop.email_address AS text CHECK (VALUE LIKE '%@%');
    CREATE TABLE shop.customers (
      id bigint PRIMARY KEY,
      email shop.email_address NOT NULL,
      to_be_dropped integer,
      name character varying(100),
      plan text,
      score numeric(10,2),
      active boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL DEFAULT now(),
      birthday date,
      attributes jsonb,
      external_id uuid,
      tags text[],
      secret_note text
    );
    ALTER TABLE shop.customers DROP COLUMN to_be_dropped;
    -- Key order (line_no, order_id) differs from column order.
    CREATE TABLE shop.order_lines (
      order_id integer NOT NULL,
      line_no smallint NOT NULL,
      sku text,
      amount double precision,
      PRIMARY KEY (line_no, order_id)
    );
    CREATE TABLE shop.keyless (value text);
    CREATE VIEW shop.active_customers AS SELECT id, email, plan FROM shop.customers WHERE active;
    CREATE MATERIALIZED VIEW shop.plan_counts AS SELECT plan, count(*) AS customers FROM shop.customers GROUP BY plan;
    CREATE TABLE shop.events (
      id bigint NOT NULL,
      occurred_at timestamp NOT NULL,
      kind text,
      PRIMARY KEY (id, occurred_at)
    ) PARTITION BY RANGE (occurred_at);
    CREATE TABLE shop.events_2024 PARTITION OF shop.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE FOREIGN DATA WRAPPER rt_dummy_fdw;
    CREATE SERVER rt_dummy_server FOREIGN DATA WRAPPER rt_dummy_fdw;
    CREATE FOREIGN TABLE shop.remote_things (thing_id integer, label text) SERVER rt_dummy_server;
    CREATE SEQUENCE shop.counter;
    INSERT INTO shop.customers (id, email, plan) VALUES (1, 'a@example.com', 'pro'), (2, 'b@example.com', 'free');
    INSERT INTO shop.order_lines VALUES (1, 1, 'SKU-1', 9.5);

    CREATE SCHEMA crm;
    CREATE TABLE crm."Mixed Case" ("Weird ""Col""" int PRIMARY KEY);

    -- Planning folds an IMMUTABLE function of constants, so this runs even under LIMIT 0.
    CREATE FUNCTION shop.slow_constant() RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3); RETURN 1; END $$;

    CREATE ROLE ${limitedRole} LOGIN PASSWORD '${limitedPassword}';
    GRANT USAGE ON SCHEMA shop TO ${limitedRole};
    GRANT SELECT (id, email, plan) ON shop.customers TO ${limitedRole};
    GRANT SELECT ON shop.order_lines TO ${limitedRole};
  `);
});

afterAll(async () => {
  await client.end();
  await asAdminOn(t.url, `DROP OWNED BY ${limitedRole}; DROP ROLE ${limitedRole}`);
});

describe('SQL builders', () => {
  it('listSchemasQuery excludes system and temporary schemas and needs USAGE', () => {
    const q = listSchemasQuery();
    expect(q.values).toEqual([]);
    expect(q.text).toContain(`n.nspname NOT IN ('pg_catalog', 'information_schema')`);
    expect(q.text).toContain(`n.nspname !~ '^pg_(toast|temp)'`);
    expect(q.text).toContain(`has_schema_privilege(n.oid, 'USAGE')`);
  });

  it('listRelationsQuery binds schema and name and reads pg_catalog only', () => {
    expect(listRelationsQuery().values).toEqual([null, null]);
    expect(listRelationsQuery({ schema: 'shop' }).values).toEqual(['shop', null]);
    const q = listRelationsQuery({ schema: 'shop', name: 'customers' });
    expect(q.values).toEqual(['shop', 'customers']);
    expect(q.text).not.toContain('shop');
    expect(q.text).toContain(`c.relkind IN ('r', 'p', 'v', 'm', 'f')`);
    expect(q.text).toContain('NOT a.attisdropped');
    expect(q.text).toContain('a.attnum > 0');
    expect(q.text).toContain('format_type(a.atttypid, a.atttypmod)');
    expect(q.text).toContain(`has_column_privilege(c.oid, a.attnum, 'SELECT')`);
    expect(q.text).toContain(`has_any_column_privilege(c.oid, 'SELECT')`);
    expect(q.text).toContain('i.indisprimary');
    expect(q.text).not.toMatch(/information_schema\./);
  });

  it('describeQueryQuery wraps the SQL on lines of its own', () => {
    expect(describeQueryQuery('select 1 -- one')).toEqual({
      text: 'SELECT * FROM (\nselect 1 -- one\n) AS model LIMIT 0',
      values: [],
    });
  });

  it('typeNamesQuery binds oids and type modifiers as arrays', () => {
    const q = typeNamesQuery([
      { oid: 25, typmod: -1 },
      { oid: 1043, typmod: 104 },
    ]);
    expect(q.values).toEqual([
      [25, 1043],
      [-1, 104],
    ]);
    expect(q.text).toContain('unnest($1::oid[], $2::int4[]) WITH ORDINALITY');
  });
});

describe('columnTypeOf', () => {
  it.each<[string, ColumnType]>([
    ['text', 'STRING'],
    ['character varying', 'STRING'],
    ['character varying(255)', 'STRING'],
    ['varchar', 'STRING'],
    ['character(2)', 'STRING'],
    ['char', 'STRING'],
    ['bpchar', 'STRING'],
    ['"char"', 'STRING'],
    ['citext', 'STRING'],
    ['public.citext', 'STRING'],
    ['name', 'STRING'],
    ['smallint', 'INTEGER'],
    ['integer', 'INTEGER'],
    ['bigint', 'INTEGER'],
    ['int8', 'INTEGER'],
    ['numeric', 'NUMBER'],
    ['numeric(10,2)', 'NUMBER'],
    ['real', 'NUMBER'],
    ['double precision', 'NUMBER'],
    ['money', 'NUMBER'],
    ['boolean', 'BOOLEAN'],
    ['timestamp without time zone', 'TIMESTAMP'],
    ['timestamp with time zone', 'TIMESTAMP'],
    ['timestamp(3) with time zone', 'TIMESTAMP'],
    ['date', 'DATE'],
    ['json', 'JSON'],
    ['jsonb', 'JSON'],
    ['uuid', 'UUID'],
    ['text[]', 'ARRAY'],
    ['integer[]', 'ARRAY'],
    ['character varying(20)[]', 'ARRAY'],
    ['jsonb[]', 'ARRAY'],
    ['time without time zone', 'OTHER'],
    ['interval', 'OTHER'],
    ['bytea', 'OTHER'],
    ['inet', 'OTHER'],
    ['shop.mood', 'OTHER'],
  ])('%s → %s', (dataType, expected) => {
    expect(columnTypeOf(dataType)).toBe(expected);
  });
});

describe('listSchemas', () => {
  it('lists user schemas, not system or temporary ones', async () => {
    await client.query('CREATE TEMP TABLE scratch (x int)'); // creates this session's pg_temp_N
    const schemas = await listSchemas(client);
    expect(schemas).toEqual(expect.arrayContaining(['crm', 'public', 'shop']));
    for (const s of schemas) {
      expect(s).not.toMatch(/^(pg_catalog|information_schema|pg_toast|pg_temp)/);
    }
  });

  it('lists only schemas the user may use', async () => {
    const limited = new pg.Client({ connectionString: urlAs(limitedRole, limitedPassword) });
    await limited.connect();
    try {
      const schemas = await listSchemas(limited);
      expect(schemas).toContain('shop');
      expect(schemas).not.toContain('crm');
    } finally {
      await limited.end();
    }
  });
});

describe('listTables', () => {
  let tables: WarehouseTable[];
  const byName = (name: string) => tables.find((x) => x.name === name);
  beforeAll(async () => {
    tables = await listTables(client, { schema: 'shop' });
  });

  it('lists tables, views, materialized views, partitioned and foreign tables, but not partitions', () => {
    expect(tables.map((x) => [x.name, x.kind])).toEqual([
      ['active_customers', 'VIEW'],
      ['customers', 'TABLE'],
      ['events', 'PARTITIONED_TABLE'],
      ['keyless', 'TABLE'],
      ['order_lines', 'TABLE'],
      ['plan_counts', 'MATERIALIZED_VIEW'],
      ['remote_things', 'FOREIGN_TABLE'],
    ]);
    expect(tables.every((x) => x.schema === 'shop')).toBe(true);
  });

  it('reads columns in ordinal order with types and nullability, without dropped columns', () => {
    expect(byName('customers')).toEqual({
      schema: 'shop',
      name: 'customers',
      kind: 'TABLE',
      primaryKey: ['id'],
      columns: [
        { name: 'id', dataType: 'bigint', type: 'INTEGER', nullable: false },
        // A domain keeps its own name and takes its base type's family.
        { name: 'email', dataType: 'shop.email_address', type: 'STRING', nullable: false },
        { name: 'name', dataType: 'character varying(100)', type: 'STRING', nullable: true },
        { name: 'plan', dataType: 'text', type: 'STRING', nullable: true },
        { name: 'score', dataType: 'numeric(10,2)', type: 'NUMBER', nullable: true },
        { name: 'active', dataType: 'boolean', type: 'BOOLEAN', nullable: false },
        { name: 'created_at', dataType: 'timestamp with time zone', type: 'TIMESTAMP', nullable: false },
        { name: 'birthday', dataType: 'date', type: 'DATE', nullable: true },
        { name: 'attributes', dataType: 'jsonb', type: 'JSON', nullable: true },
        { name: 'external_id', dataType: 'uuid', type: 'UUID', nullable: true },
        { name: 'tags', dataType: 'text[]', type: 'ARRAY', nullable: true },
        { name: 'secret_note', dataType: 'text', type: 'STRING', nullable: true },
      ],
    });
  });

  it('reads composite primary keys in key order', () => {
    expect(byName('order_lines')!.primaryKey).toEqual(['line_no', 'order_id']);
    expect(byName('order_lines')!.columns.map((c) => c.name)).toEqual(['order_id', 'line_no', 'sku', 'amount']);
    expect(byName('events')!.primaryKey).toEqual(['id', 'occurred_at']);
    expect(byName('events')!.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', 'INTEGER'],
      ['occurred_at', 'TIMESTAMP'],
      ['kind', 'STRING'],
    ]);
  });

  it('gives views and keyless tables an empty key', () => {
    expect(byName('keyless')!.primaryKey).toEqual([]);
    expect(byName('active_customers')!.primaryKey).toEqual([]);
    expect(byName('active_customers')!.columns.map((c) => c.name)).toEqual(['id', 'email', 'plan']);
    expect(byName('plan_counts')!.columns).toEqual([
      { name: 'plan', dataType: 'text', type: 'STRING', nullable: true },
      { name: 'customers', dataType: 'bigint', type: 'INTEGER', nullable: true },
    ]);
    expect(byName('remote_things')!.columns.map((c) => c.name)).toEqual(['thing_id', 'label']);
  });

  it('lists every schema without the option, with names as stored', async () => {
    const all = await listTables(client);
    const mixed = all.find((x) => x.schema === 'crm');
    expect(mixed).toEqual({
      schema: 'crm',
      name: 'Mixed Case',
      kind: 'TABLE',
      primaryKey: ['Weird "Col"'],
      columns: [{ name: 'Weird "Col"', dataType: 'integer', type: 'INTEGER', nullable: false }],
    });
    // Roster's own config tables are in public of this database: listed like any other.
    expect(all.some((x) => x.schema === 'public')).toBe(true);
    expect(all.some((x) => x.schema === 'pg_catalog' || x.schema === 'information_schema')).toBe(false);
  });

  it('uses a fixed number of queries however many tables there are', async () => {
    await client.query(`CREATE SCHEMA many`);
    for (let i = 0; i < 40; i++) await client.query(`CREATE TABLE many.t${i} (id int PRIMARY KEY, v text)`);
    const counting = new pg.Client({ connectionString: t.url });
    await counting.connect();
    let queries = 0;
    const original = counting.query.bind(counting) as (...args: unknown[]) => unknown;
    (counting as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      queries++;
      return original(...args);
    };
    try {
      const many = await listTables(counting, { schema: 'many' });
      expect(many).toHaveLength(40);
      expect(many.every((x) => x.primaryKey[0] === 'id' && x.columns.length === 2)).toBe(true);
      expect(queries).toBe(1);
    } finally {
      await counting.end();
    }
  });

  it('shows a limited role only the relations and columns it may SELECT', async () => {
    const limited = new pg.Client({ connectionString: urlAs(limitedRole, limitedPassword) });
    await limited.connect();
    try {
      const visible = await listTables(limited, { schema: 'shop' });
      expect(visible.map((x) => x.name)).toEqual(['customers', 'order_lines']);
      expect(visible[0]!.columns.map((c) => c.name)).toEqual(['id', 'email', 'plan']);
      expect(visible[1]!.columns.map((c) => c.name)).toEqual(['order_id', 'line_no', 'sku', 'amount']);
      expect(await describeTable(limited, 'shop', 'keyless')).toBeNull();
    } finally {
      await limited.end();
    }
  });

  it('works through a pool too', async () => {
    const pool = new pg.Pool({ connectionString: t.url, max: 2 });
    try {
      const viaPool = await listTables(pool, { schema: 'shop' });
      expect(viaPool).toEqual(tables);
    } finally {
      await pool.end();
    }
  });
});

describe('describeTable', () => {
  it('describes one relation', async () => {
    const lines = await describeTable(client, 'shop', 'order_lines');
    expect(lines?.kind).toBe('TABLE');
    expect(lines?.primaryKey).toEqual(['line_no', 'order_id']);
    expect((await describeTable(client, 'crm', 'Mixed Case'))?.name).toBe('Mixed Case');
  });

  it('returns null for a missing relation, a partition, a sequence or a wrong schema', async () => {
    expect(await describeTable(client, 'shop', 'nope')).toBeNull();
    expect(await describeTable(client, 'shop', 'events_2024')).toBeNull();
    expect(await describeTable(client, 'shop', 'counter')).toBeNull();
    expect(await describeTable(client, 'crm', 'customers')).toBeNull();
    expect(await describeTable(client, 'shop', 'Customers')).toBeNull();
  });
});

describe('singleStatement', () => {
  it('keeps semicolons inside literals, identifiers and comments', () => {
    const sqls = [
      `SELECT ';' AS a`,
      `SELECT 'it''s; fine' AS a`,
      `SELECT E'back\\'slash;' AS a`,
      `SELECT $$;$$ AS a, $tag$ ; $ $tag$ AS b`,
      `SELECT 1 AS "semi;colon"`,
      `SELECT 1 -- trailing; comment`,
      `SELECT /* a; /* nested; */ still; */ 1`,
    ];
    for (const sql of sqls) expect(singleStatement(sql)).toBe(sql);
  });

  it('removes a single trailing semicolon, even before a comment', () => {
    expect(singleStatement('SELECT 1;')).toBe('SELECT 1');
    expect(singleStatement('SELECT 1 ;  \n')).toBe('SELECT 1   \n');
    expect(singleStatement('SELECT 1; -- done')).toBe('SELECT 1 -- done');
  });

  it('refuses two statements, or nothing at all', () => {
    for (const sql of ['SELECT 1; SELECT 2', 'SELECT 1;;', `SELECT 'a'; DROP TABLE x; --`]) {
      expect(() => singleStatement(sql)).toThrow(/expected a single SELECT statement, but got more than one/);
    }
    for (const sql of ['', '  ', ';', '-- only a comment']) {
      expect(() => singleStatement(sql)).toThrow('expected a single SELECT statement, but got an empty query');
    }
  });

  it('reports where the separator is', () => {
    expect(scanStatements('SELECT 1;\nSELECT 2').semicolons).toEqual([8]);
    try {
      singleStatement('SELECT 1\n  ; SELECT 2');
      expect.unreachable();
    } catch (err) {
      expect((err as WarehouseError).message).toContain('line 2, column 3');
      expect((err as WarehouseError).position).toBe(12);
    }
  });
});

describe('describeQuery', () => {
  async function queryFailure(sql: string, db: pg.ClientBase | pg.Pool = client, opts = {}): Promise<WarehouseError> {
    try {
      await describeQuery(db, sql, opts);
    } catch (err) {
      expect(err).toBeInstanceOf(WarehouseError);
      return err as WarehouseError;
    }
    throw new Error(`expected describeQuery to fail for ${sql}`);
  }

  it('describes the columns of a join', async () => {
    const columns = await describeQuery(
      client,
      `SELECT c.id, c.email, c.name, o.sku, sum(o.amount) AS total, count(*) AS lines, max(c.created_at) AS last_seen,
              c.tags, c.external_id, c.attributes, c.birthday, bool_or(c.active) AS any_active
         FROM shop.customers c
         JOIN shop.order_lines o ON o.order_id = c.id
        GROUP BY c.id, c.email, c.name, o.sku, c.tags, c.external_id, c.attributes, c.birthday;  -- the model`,
    );
    expect(columns).toEqual([
      { name: 'id', dataType: 'bigint', type: 'INTEGER', nullable: true },
      // PostgreSQL describes a domain's values by their base type in results.
      { name: 'email', dataType: 'text', type: 'STRING', nullable: true },
      { name: 'name', dataType: 'character varying(100)', type: 'STRING', nullable: true },
      { name: 'sku', dataType: 'text', type: 'STRING', nullable: true },
      { name: 'total', dataType: 'double precision', type: 'NUMBER', nullable: true },
      { name: 'lines', dataType: 'bigint', type: 'INTEGER', nullable: true },
      { name: 'last_seen', dataType: 'timestamp with time zone', type: 'TIMESTAMP', nullable: true },
      { name: 'tags', dataType: 'text[]', type: 'ARRAY', nullable: true },
      { name: 'external_id', dataType: 'uuid', type: 'UUID', nullable: true },
      { name: 'attributes', dataType: 'jsonb', type: 'JSON', nullable: true },
      { name: 'birthday', dataType: 'date', type: 'DATE', nullable: true },
      { name: 'any_active', dataType: 'boolean', type: 'BOOLEAN', nullable: true },
    ]);
  });

  it('works through a pool and leaves the connection usable', async () => {
    const pool = new pg.Pool({ connectionString: t.url, max: 1 });
    try {
      const columns = await describeQuery(pool, 'SELECT id FROM shop.customers');
      expect(columns.map((c) => c.name)).toEqual(['id']);
      await queryFailure('SELECT nope FROM shop.customers', pool);
      // The single connection came back to the pool outside any transaction.
      const { rows } = await pool.query<{ state: string }>(`SELECT now() = statement_timestamp() AS state`);
      expect(rows[0]!.state).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('QUERY_FAILED with the position for a syntax error', async () => {
    const err = await queryFailure('SELECT id\nFORM shop.customers');
    expect(err.code).toBe('QUERY_FAILED');
    expect(err.sqlState).toBe('42601');
    expect(err.message).toBe(
      'expected a SELECT statement PostgreSQL can run, but it reported: syntax error at or near "shop" at line 2, column 6',
    );
    expect(err.position).toBe(16);
  });

  it('QUERY_FAILED for SQL that stops short', async () => {
    const err = await queryFailure('SELECT id FROM shop.customers WHERE');
    expect(err.code).toBe('QUERY_FAILED');
    expect(err.message).toBe('expected a SELECT statement PostgreSQL can run, but it reported: syntax error at end of input');
  });

  it('QUERY_FAILED for a missing table, with PostgreSQL message and position', async () => {
    const err = await queryFailure('SELECT * FROM shop.nope');
    expect(err.code).toBe('QUERY_FAILED');
    expect(err.sqlState).toBe('42P01');
    expect(err.message).toBe(
      'expected a SELECT statement PostgreSQL can run, but it reported: relation "shop.nope" does not exist at line 1, column 15',
    );
    expect(err.position).toBe(15);
  });

  it("passes PostgreSQL's hint on", async () => {
    const err = await queryFailure('SELECT c.emial FROM shop.customers c');
    expect(err.code).toBe('QUERY_FAILED');
    expect(err.hint).toBe('Perhaps you meant to reference the column "c.email".');
    expect(err.message).toBe(
      'expected a SELECT statement PostgreSQL can run, but it reported: column c.emial does not exist at line 1, column 8 (hint: Perhaps you meant to reference the column "c.email".)',
    );
  });

  it('refuses two statements before sending anything', async () => {
    const err = await queryFailure('SELECT 1; DROP TABLE shop.keyless');
    expect(err.code).toBe('QUERY_FAILED');
    expect(err.message).toContain('expected a single SELECT statement');
    expect(await describeTable(client, 'shop', 'keyless')).not.toBeNull();
  });

  it('cannot change data: statements other than SELECT fail', async () => {
    const del = await queryFailure('DELETE FROM shop.customers');
    expect(del.code).toBe('QUERY_FAILED');
    const cte = await queryFailure('WITH gone AS (DELETE FROM shop.customers RETURNING id) SELECT id FROM gone');
    expect(cte.code).toBe('QUERY_FAILED');
    const { rows } = await client.query('SELECT count(*)::int AS n FROM shop.customers');
    expect(rows[0].n).toBe(2);
  });

  it('refuses duplicate column names', async () => {
    const err = await queryFailure('SELECT c.id, o.order_id AS id FROM shop.customers c, shop.order_lines o');
    expect(err.message).toContain('expected the query\'s columns to have distinct names, but "id" appears more than once');
  });

  it('TIMEOUT when the query outlasts the statement timeout', async () => {
    const err = await queryFailure('SELECT shop.slow_constant() AS x', client, { timeoutMs: 200 });
    expect(err.code).toBe('TIMEOUT');
    // The session's own setting is untouched afterwards.
    const { rows } = await client.query(`SELECT current_setting('statement_timeout') AS v`);
    expect(rows[0].v).toBe('0');
  });

  it('PERMISSION_DENIED for a column the user may not read', async () => {
    const limited = new pg.Client({ connectionString: urlAs(limitedRole, limitedPassword) });
    await limited.connect();
    try {
      expect((await describeQuery(limited, 'SELECT id, plan FROM shop.customers')).map((c) => c.name)).toEqual(['id', 'plan']);
      const err = await queryFailure('SELECT id, secret_note FROM shop.customers', limited);
      expect(err.code).toBe('PERMISSION_DENIED');
      expect(err.message).toContain('permission denied for table customers');
      expect(err.message).not.toContain(limitedPassword);
    } finally {
      await limited.end();
    }
  });
});
