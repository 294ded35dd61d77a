// The PostgreSQL table connector against a real PostgreSQL: the table is
// created or checked, upserts and deletes, audiences listed, hostile names
// and keys bound, connection failures reported without the password.
import { afterAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { closePostgresTablePools, deleteSql, postgresTableConnector, upsertSql, type PostgresTableConfig } from '../../src/connectors/postgres-table/index.js';
import { ConnectorError, type Audience, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { createLogger } from '../../src/logger.js';
import { useTestDatabase } from '../support/db.js';
import { failureOf } from '../support/failures.js';

const t = await useTestDatabase();
const warehouseUrl = await t.createEmptyDatabase('pgt');
const admin = new pg.Pool({ connectionString: warehouseUrl, max: 2 });
const logger = createLogger('silent');
const connector = postgresTableConnector;

afterAll(async () => {
  await closePostgresTablePools();
  await admin.end();
});

let seq = 0;
function ctx(config: Partial<PostgresTableConfig> = {}): ConnectorContext<PostgresTableConfig> {
  return {
    destinationId: `dest_${++seq}`,
    config: { url: warehouseUrl, schema: 'public', table: `members_${seq}`, ...config },
    logger,
    signal: new AbortController().signal,
  };
}

function row(key: string, fields: Record<string, unknown> = {}, identifiers: SyncRow['identifiers'] = {}): SyncRow {
  return { key, fields, identifiers };
}

async function contents(schema: string, table: string, audience?: string) {
  const { rows } = await admin.query<{ audience: string; key: string; fields: unknown; identifiers: unknown; synced_at: Date }>(
    `SELECT audience, key, fields, identifiers, synced_at FROM ${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}
     ${audience === undefined ? '' : 'WHERE audience = $1'} ORDER BY audience, key`,
    audience === undefined ? [] : [audience],
  );
  return rows;
}

const failure = (promise: Promise<unknown>) => failureOf(promise, ConnectorError);

describe('postgres_table SQL', () => {
  it('quotes identifiers and binds every value', () => {
    const up = upsertSql('My "S"', "t'; --", `a'); DROP`, '[]');
    expect(up.text).toContain(`INSERT INTO "My ""S"""."t'; --"`);
    expect(up.text).toContain('ON CONFLICT ("audience", "key") DO UPDATE');
    expect(up.text).not.toContain('DROP');
    expect(up.values).toEqual([`a'); DROP`, '[]']);
    const del = deleteSql('public', 'm', 'aud', ['k1', `k'2`]);
    expect(del).toEqual({ text: 'DELETE FROM "public"."m" WHERE "audience" = $1::text AND "key" = ANY($2::text[])', values: ['aud', ['k1', `k'2`]] });
  });
});

describe('postgres_table connector', () => {
  it('check() creates the schema and the table with the documented shape', async () => {
    const c = ctx({ schema: 'activation', table: 'audience_members' });
    await connector.check(c);
    const { rows } = await admin.query<{ column_name: string; data_type: string; is_nullable: string }>(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
       WHERE table_schema = 'activation' AND table_name = 'audience_members' ORDER BY ordinal_position`,
    );
    expect(rows).toEqual([
      { column_name: 'audience', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'key', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'fields', data_type: 'jsonb', is_nullable: 'NO' },
      { column_name: 'identifiers', data_type: 'jsonb', is_nullable: 'NO' },
      { column_name: 'synced_at', data_type: 'timestamp with time zone', is_nullable: 'NO' },
    ]);
    const pk = await admin.query(
      `SELECT 1 FROM pg_constraint WHERE conrelid = 'activation.audience_members'::regclass AND contype = 'p'`,
    );
    expect(pk.rowCount).toBe(1);
    // Checking again finds it usable.
    await connector.check(c);
  });

  it('upserts on add and update, deletes on remove', async () => {
    const c = ctx();
    const a = await connector.createAudience!(c, { name: 'VIP', type: null });
    expect(a).toEqual({ id: 'VIP', name: 'VIP', type: null });

    expect(await connector.add(c, a, [row('u1', { plan: 'pro', n: 1 }, { EMAIL: 'U1@Example.com ' }), row('u2', { plan: 'free' })])).toEqual({ rejected: [] });
    const before = await contents('public', c.config.table);
    expect(before.map((r) => [r.audience, r.key, r.fields, r.identifiers])).toEqual([
      ['VIP', 'u1', { plan: 'pro', n: 1 }, { EMAIL: 'U1@Example.com ' }],
      ['VIP', 'u2', { plan: 'free' }, {}],
    ]);

    await new Promise((r) => setTimeout(r, 10));
    expect(await connector.update!(c, a, [row('u2', { plan: 'pro' }, { PHONE: '+15551234567' })])).toEqual({ rejected: [] });
    // add of an existing key is an upsert too (at-least-once delivery).
    await connector.add(c, a, [row('u1', { plan: 'pro', n: 2 })]);
    const after = await contents('public', c.config.table);
    expect(after.map((r) => [r.key, r.fields, r.identifiers])).toEqual([
      ['u1', { plan: 'pro', n: 2 }, {}],
      ['u2', { plan: 'pro' }, { PHONE: '+15551234567' }],
    ]);
    expect(after[1]!.synced_at.getTime()).toBeGreaterThan(before[1]!.synced_at.getTime());

    expect(await connector.remove(c, a, [row('u1'), row('never-there')])).toEqual({ rejected: [] });
    expect((await contents('public', c.config.table)).map((r) => r.key)).toEqual(['u2']);
  });

  it('keeps the last row when a batch names a key twice', async () => {
    const c = ctx();
    const a: Audience = { id: 'dupes', name: 'dupes' };
    await connector.add(c, a, [row('k', { v: 1 }), row('k', { v: 2 })]);
    expect((await contents('public', c.config.table)).map((r) => r.fields)).toEqual([{ v: 2 }]);
  });

  it('lists audiences with their sizes, separately per audience', async () => {
    const c = ctx();
    await connector.add(c, { id: 'b', name: 'b' }, [row('1'), row('2')]);
    await connector.add(c, { id: 'a', name: 'a' }, [row('1')]);
    await connector.remove(c, { id: 'a', name: 'a' }, [row('2')]);
    expect(await connector.listAudiences!(c)).toEqual([
      { id: 'a', name: 'a', type: null, size: 1 },
      { id: 'b', name: 'b', type: null, size: 2 },
    ]);
  });

  it('binds hostile audience names, keys and values, and quotes hostile table names', async () => {
    const c = ctx({ schema: 'My "Schema"', table: `members'; DROP TABLE x; --` });
    const hostile: Audience = { id: `VIP'); DROP TABLE "public"."x"; --`, name: 'hostile' };
    const keys = [`a'b`, `"quoted"`, `$1`, `back\\slash`, `new\nline`, `ünïcødé 😀`, `' OR '1'='1`];
    const result = await connector.add(
      c,
      hostile,
      keys.map((k) => row(k, { note: `${k} -- ${k}`, nested: { arr: [k, null, 1.5] } }, { EMAIL: k })),
    );
    expect(result).toEqual({ rejected: [] });
    const stored = await contents('My "Schema"', `members'; DROP TABLE x; --`);
    expect(stored.map((r) => r.audience)).toEqual(keys.map(() => hostile.id));
    expect(stored.map((r) => r.key).sort()).toEqual([...keys].sort());
    for (const r of stored) expect(r.fields).toEqual({ note: `${r.key} -- ${r.key}`, nested: { arr: [r.key, null, 1.5] } });
    expect((await connector.listAudiences!(c)).map((x) => x.id)).toEqual([hostile.id]);
    await connector.remove(c, hostile, keys.slice(0, 3).map((k) => row(k)));
    expect(stored.length - (await contents('My "Schema"', `members'; DROP TABLE x; --`)).length).toBe(3);
  });

  it('rejects rows PostgreSQL cannot store and delivers the others', async () => {
    const c = ctx();
    const a: Audience = { id: 'a', name: 'a' };
    const result = await connector.add(c, a, [row('ok'), row('nul\0key'), row('bad-field', { x: 'a\0b' }), row('lone', { x: '\ud800' }), row('big', { n: 12345678901234567890n })]);
    expect(result.rejected.map((r) => [r.key, r.code])).toEqual([
      ['nul\0key', 'UNSUPPORTED_VALUE'],
      ['bad-field', 'UNSUPPORTED_VALUE'],
      ['lone', 'UNSUPPORTED_VALUE'],
    ]);
    expect((await contents('public', c.config.table)).map((r) => [r.key, r.fields])).toEqual([
      ['big', { n: '12345678901234567890' }],
      ['ok', {}],
    ]);
    // An audience name with NUL fails the call.
    expect((await failure(connector.add(c, { id: 'a\0', name: 'a' }, [row('x')]))).code).toBe('UNSUPPORTED_VALUE');
  });

  it('reports an existing table of the wrong shape clearly', async () => {
    await admin.query(`CREATE TABLE wrong_shape (audience text, key integer, fields json, extra text NOT NULL)`);
    const c = ctx({ table: 'wrong_shape' });
    const err = await failure(connector.check(c));
    expect(err.code).toBe('TABLE_MISMATCH');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('table "public"."wrong_shape" exists but does not have the shape Roster writes');
    expect(err.message).toContain('column "key" is integer (expected text)');
    expect(err.message).toContain('column "fields" is json (expected jsonb)');
    expect(err.message).toContain('column "identifiers" (jsonb) is missing');
    expect(err.message).toContain('extra column "extra" is NOT NULL without a default');
    expect((await failure(connector.add(c, { id: 'a', name: 'a' }, [row('1')]))).code).toBe('TABLE_MISMATCH');

    await admin.query(`CREATE TABLE no_key (audience text, key text, fields jsonb, identifiers jsonb, synced_at timestamptz)`);
    const nk = await failure(connector.check(ctx({ table: 'no_key' })));
    expect(nk.message).toContain('no primary key or unique index on exactly (audience, key)');

    await admin.query(`CREATE VIEW a_view AS SELECT 1 AS x`);
    expect((await failure(connector.check(ctx({ table: 'a_view' })))).message).toContain('is not a table');
  });

  it('accepts a compatible existing table (varchar, a unique index, extra nullable columns)', async () => {
    await admin.query(`CREATE TABLE compatible (note text, audience varchar(200) NOT NULL, key varchar(100) NOT NULL,
      fields jsonb, identifiers jsonb, synced_at timestamptz, UNIQUE (key, audience))`);
    const c = ctx({ table: 'compatible' });
    await connector.check(c);
    await connector.add(c, { id: 'a', name: 'a' }, [row('1', { x: 1 })]);
    await connector.add(c, { id: 'a', name: 'a' }, [row('1', { x: 2 })]);
    expect((await contents('public', 'compatible')).map((r) => r.fields)).toEqual([{ x: 2 }]);
  });

  it('recreates a table dropped between batches', async () => {
    const c = ctx();
    await connector.add(c, { id: 'a', name: 'a' }, [row('1')]);
    await admin.query(`DROP TABLE public.${pg.escapeIdentifier(c.config.table)}`);
    await connector.add(c, { id: 'a', name: 'a' }, [row('2')]);
    expect((await contents('public', c.config.table)).map((r) => r.key)).toEqual(['2']);
  });

  it('writes a full batch of 5,000 rows in one call', async () => {
    const c = ctx();
    const a: Audience = { id: 'big', name: 'big' };
    const rows = Array.from({ length: connector.spec.batchSize }, (_, i) => row(`k${i}`, { i, tags: ['a', 'b'] }, { EMAIL: `u${i}@example.com` }));
    await connector.add(c, a, rows);
    await connector.remove(c, a, rows.slice(0, 2_500));
    expect(await connector.listAudiences!(c)).toEqual([{ id: 'big', name: 'big', type: null, size: 2_500 }]);
  });

  it('reports an unreachable server without the password, as retryable', async () => {
    const u = new URL(warehouseUrl);
    u.port = '1';
    u.password = 'pw-NEVER-SHOWN-77';
    const err = await failure(connector.check(ctx({ url: u.toString() })));
    expect(err.code).toBe('PG_HOST_UNREACHABLE');
    expect(err.retryable).toBe(true);
    expect(err.message).not.toContain('pw-NEVER-SHOWN-77');
  });

  it.skipIf(!inject('pgChecksPasswords'))('reports a wrong password without echoing it', async () => {
    const u = new URL(warehouseUrl);
    u.password = 'pw-WRONG-AND-SECRET-88';
    const err = await failure(connector.check(ctx({ url: u.toString() })));
    expect(err.code).toBe('PG_AUTH_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).not.toContain('pw-WRONG-AND-SECRET-88');
  });
});
