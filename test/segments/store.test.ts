// The membership SQL as text, and run: materialising with entered/exited
// counts, whole-entity membership lists in one pass, record lookups.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.js';
import type { EntityMeta } from '../../src/segments/metadata.js';
import { breakdownSql, dropMembership, entityMembershipsSql, materialise, overlapSql, recordSql } from '../../src/segments/store.js';
import { createSegmentTablesSql, replaceMembersSql } from '../../src/segments/store-sql.js';

const t = await useTestDatabase();

const users: EntityMeta = {
  id: 'u',
  name: 'Users',
  from: { table: { schema: 'wh', name: 'users' } },
  primaryKey: 'id',
  columns: [
    { name: 'id', dataType: 'bigint', type: 'INTEGER', nullable: false },
    { name: 'plan', dataType: 'text', type: 'STRING', nullable: true },
  ],
  relationships: [],
};

const A = '00000000-0000-0000-0000-00000000000a';
const B = '00000000-0000-0000-0000-00000000000b';

describe('membership SQL text', () => {
  it('looks a record up with its segments in one statement', () => {
    expect(recordSql('roster_planner', users, '42', [A, B])).toEqual({
      text:
        'SELECT to_jsonb(e) AS record, ARRAY(SELECT m.segment_id::text FROM "roster_planner"."segment_members" AS m WHERE m.key = $1 AND m.segment_id = ANY($2::uuid[]) ORDER BY m.segment_id) AS segments ' +
        'FROM "wh"."users" AS e WHERE e."id" = $1::bigint LIMIT 1',
      values: ['42', [A, B]],
    });
    // A key that cannot be a bigint matches nothing (no cast error).
    expect(recordSql('roster_planner', users, '4x2', [A]).text).toContain('WHERE false LIMIT 1');
  });

  it('lists every record with its segments in one pass', () => {
    const sql = entityMembershipsSql('roster_planner', users, [A, B]);
    expect(sql.text).toBe(
      'SELECT e."id"::text AS key, COALESCE(g.segments, ARRAY[]::text[]) AS segments FROM "wh"."users" AS e LEFT JOIN (' +
        'SELECT m.key, array_agg(m.segment_id::text ORDER BY m.segment_id) AS segments FROM "roster_planner"."segment_members" AS m ' +
        'WHERE m.segment_id = ANY($1::uuid[]) GROUP BY m.key) AS g ON g.key = e."id"::text',
    );
    expect(sql.values).toEqual([[A, B]]);
  });

  it('computes all pairwise overlaps in one statement', () => {
    const sql = overlapSql('p', [A, B]);
    expect(sql.text).toMatch(/^SELECT a\.segment_id::text AS a, b\.segment_id::text AS b, count\(\*\)::int AS count FROM "p"\."segment_members" AS a JOIN "p"\."segment_members" AS b/);
    expect(sql.text.split(';')).toHaveLength(1);
  });

  it('writes a first membership sorted and whole, and of a later one only who enters and who leaves', () => {
    const members = { text: 'SELECT id::text AS key FROM wh.users WHERE plan = $1', values: ['pro'] };
    const at = new Date('2026-01-01T00:00:00Z');
    const deduplicated = replaceMembersSql('p', members, A, at);
    const unique = replaceMembersSql('p', members, A, at, { uniqueKeys: true });
    // The size it starts from is the one written with the members, counted only where none was (an earlier version's).
    expect(unique.size).toEqual({
      text:
        'SELECT COALESCE((SELECT s.size FROM "p"."segment_sizes" AS s WHERE s.segment_id = $1::uuid), ' +
        '(SELECT count(*) FROM "p"."segment_members" AS m WHERE m.segment_id = $1::uuid))::int AS size',
      values: [A],
    });
    expect(unique.recordSize(12)).toEqual({
      text: 'INSERT INTO "p"."segment_sizes" (segment_id, size) VALUES ($1::uuid, $2) ON CONFLICT (segment_id) DO UPDATE SET size = EXCLUDED.size',
      values: [A, 12],
    });
    // A segment without members stages them sorted byte-wise by the parallel workers (de-duplicated unless the
    // warehouse vouches for unique keys) and takes every one in the order staged.
    expect(unique.stageSorted).toEqual({
      text: 'CREATE TEMPORARY TABLE roster_staged_members ON COMMIT DROP AS SELECT key FROM (SELECT id::text AS key FROM wh.users WHERE plan = $1) AS q WHERE key IS NOT NULL ORDER BY key COLLATE "C"',
      values: ['pro'],
    });
    expect(deduplicated.stageSorted.text).toBe(
      'CREATE TEMPORARY TABLE roster_staged_members ON COMMIT DROP AS SELECT key FROM (SELECT DISTINCT key FROM (SELECT id::text AS key FROM wh.users WHERE plan = $1) AS q WHERE key IS NOT NULL) AS d ORDER BY key COLLATE "C"',
    );
    expect(unique.insertAll).toEqual({
      text: 'INSERT INTO "p"."segment_members" (segment_id, key, entered_at) SELECT $1::uuid, key, $2::timestamptz FROM roster_staged_members',
      values: [A, at],
    });
    // Otherwise one statement writes only the difference: the members' query joined with the current members,
    // the segment bound after the query's own parameters.
    expect(deduplicated.changes).toEqual({
      text:
        'CREATE TEMPORARY TABLE roster_member_changes ON COMMIT DROP AS SELECT n.key AS entering, o.ctid AS leaving FROM (SELECT DISTINCT key FROM (SELECT id::text AS key FROM wh.users WHERE plan = $1) AS q WHERE key IS NOT NULL) AS n ' +
        'FULL JOIN (SELECT m.ctid, m.key FROM "p"."segment_members" AS m WHERE m.segment_id = $2::uuid) AS o ON o.key = n.key WHERE n.key IS NULL OR o.key IS NULL',
      values: ['pro', A],
    });
    expect(unique.changes.text).toContain('FROM (SELECT key FROM (SELECT id::text AS key FROM wh.users WHERE plan = $1) AS q WHERE key IS NOT NULL) AS n FULL JOIN');
    // Memory for the sort of those who enter, set after the difference (which keeps the warehouse's settings).
    expect(unique.applySettings).toEqual([`SET LOCAL work_mem = '64MB'`]);
    expect(unique.apply.text).toContain('DELETE FROM "p"."segment_members" AS m WHERE m.ctid = ANY(ARRAY(SELECT c.leaving FROM roster_member_changes AS c WHERE c.leaving IS NOT NULL)) AND m.segment_id = $1::uuid');
    expect(unique.apply.text).toContain('FROM roster_member_changes AS c WHERE c.entering IS NOT NULL ORDER BY c.entering COLLATE "C" RETURNING 1');
    expect(unique.apply.values).toEqual([A, at]);
  });

  it('quotes the breakdown column and binds the rest', () => {
    const sql = breakdownSql('p', users, A, 'pl"an', 10);
    expect(sql.text).toContain('e."pl""an"::text AS value');
    expect(sql.values).toEqual([A, 10]);
  });
});

describe('materialising and reading memberships', () => {
  it('replaces a membership, counting who entered and who exited', async () => {
    await t.db.pool.query(`CREATE SCHEMA wh; CREATE TABLE wh.users (id bigint PRIMARY KEY, plan text);
      INSERT INTO wh.users SELECT g, CASE WHEN g % 3 = 0 THEN 'pro' ELSE 'free' END FROM generate_series(1, 30) g;
      CREATE SCHEMA roster_planner;`);
    await t.db.pool.query(createSegmentTablesSql('roster_planner'));
    const query = (plan: string) => ({ text: `SELECT id::text AS key FROM wh.users WHERE plan = $1`, values: [plan] });
    const first = await materialise(t.db.pool, 'roster_planner', A, query('pro'), new Date());
    expect(first).toEqual({ size: 10, entered: 10, exited: 0 });
    await t.db.pool.query(`UPDATE wh.users SET plan = 'pro' WHERE id IN (1, 2); UPDATE wh.users SET plan = 'free' WHERE id = 3`);
    const second = await materialise(t.db.pool, 'roster_planner', A, query('pro'), new Date());
    expect(second).toEqual({ size: 11, entered: 2, exited: 1 });
    await materialise(t.db.pool, 'roster_planner', B, query('free'), new Date());

    const { rows } = await t.db.pool.query(entityMembershipsSql('roster_planner', users, [A, B]));
    expect(rows).toHaveLength(30);
    const byKey = new Map(rows.map((r) => [r.key, r.segments]));
    expect(byKey.get('1')).toEqual([A]);
    expect(byKey.get('3')).toEqual([B]);

    const record = await t.db.pool.query(recordSql('roster_planner', users, '6', [A, B]));
    expect(record.rows[0]).toEqual({ record: { id: 6, plan: 'pro' }, segments: [A] });
    expect((await t.db.pool.query(recordSql('roster_planner', users, 'six', [A, B]))).rows).toEqual([]);
    expect((await t.db.pool.query(recordSql('roster_planner', users, '99999999999999999', [A, B]))).rows).toEqual([]);
    const overlap = await t.db.pool.query(overlapSql('roster_planner', [A, B]));
    expect(overlap.rows.find((r) => r.a === A && r.b === A)?.count).toBe(11);
    expect(overlap.rows.find((r) => r.a === A && r.b === B)).toBeUndefined();
  });

  it('writes the same membership with or without the unique-key shortcut, and a segment emptied then refilled enters everyone again', async () => {
    const C = '00000000-0000-0000-0000-00000000000c';
    const D = '00000000-0000-0000-0000-00000000000d';
    const members = async (segment: string) => (await t.db.pool.query(`SELECT key FROM roster_planner.segment_members WHERE segment_id = $1 ORDER BY key COLLATE "C"`, [segment])).rows.map((r) => r.key);
    const pro = { text: `SELECT id::text AS key FROM wh.users WHERE plan = $1`, values: ['pro'] };
    expect(await materialise(t.db.pool, 'roster_planner', C, pro, new Date(), { uniqueKeys: true })).toEqual({ size: 11, entered: 11, exited: 0 });
    expect(await materialise(t.db.pool, 'roster_planner', D, pro, new Date())).toEqual({ size: 11, entered: 11, exited: 0 });
    expect(await members(C)).toEqual(await members(D));
    expect(await members(C)).toEqual(await members(A));

    // A query that repeats keys (a join the warehouse does not declare unique) is de-duplicated.
    const repeated = { text: `SELECT u.id::text AS key FROM wh.users AS u CROSS JOIN generate_series(1, 2) WHERE u.plan = $1`, values: ['pro'] };
    expect(await materialise(t.db.pool, 'roster_planner', D, repeated, new Date())).toEqual({ size: 11, entered: 0, exited: 0 });

    const none = { text: `SELECT id::text AS key FROM wh.users WHERE false`, values: [] };
    expect(await materialise(t.db.pool, 'roster_planner', C, none, new Date(), { uniqueKeys: true })).toEqual({ size: 0, entered: 0, exited: 11 });
    expect(await members(C)).toEqual([]);
    expect(await materialise(t.db.pool, 'roster_planner', C, pro, new Date(), { uniqueKeys: true })).toEqual({ size: 11, entered: 11, exited: 0 });
    expect(await members(C)).toEqual(await members(A));
  });

  it('starts a re-evaluation from the size written with the members, counting a membership that has none, and forgets both with the segment', async () => {
    const E = '00000000-0000-0000-0000-00000000000e';
    const pro = { text: `SELECT id::text AS key FROM wh.users WHERE plan = $1`, values: ['pro'] };
    const free = { text: `SELECT id::text AS key FROM wh.users WHERE plan = $1`, values: ['free'] };
    const sizeOf = async (segment: string) => (await t.db.pool.query(`SELECT size FROM roster_planner.segment_sizes WHERE segment_id = $1`, [segment])).rows[0]?.size;
    const countOf = async (segment: string) => (await t.db.pool.query(`SELECT count(*)::int AS n FROM roster_planner.segment_members WHERE segment_id = $1`, [segment])).rows[0].n;
    expect(await materialise(t.db.pool, 'roster_planner', E, pro, new Date())).toEqual({ size: 11, entered: 11, exited: 0 });
    expect(await sizeOf(E)).toBe(11);
    // As an earlier version left it: members and no size. Counted, then kept.
    await t.db.pool.query(`DELETE FROM roster_planner.segment_sizes WHERE segment_id = $1`, [E]);
    expect(await materialise(t.db.pool, 'roster_planner', E, free, new Date())).toEqual({ size: 19, entered: 19, exited: 11 });
    expect([await sizeOf(E), await countOf(E)]).toEqual([19, 19]);
    await t.db.pool.query(`UPDATE wh.users SET plan = 'pro' WHERE id = 4`);
    expect(await materialise(t.db.pool, 'roster_planner', E, free, new Date())).toEqual({ size: 18, entered: 0, exited: 1 });
    expect([await sizeOf(E), await countOf(E)]).toEqual([18, 18]);
    // The kept size is read, not counted: a wrong one (written by hand here) is what the next evaluation starts from.
    await t.db.pool.query(`UPDATE roster_planner.segment_sizes SET size = 100 WHERE segment_id = $1`, [E]);
    await t.db.pool.query(`UPDATE wh.users SET plan = 'free' WHERE id = 4`);
    expect(await materialise(t.db.pool, 'roster_planner', E, free, new Date())).toEqual({ size: 101, entered: 1, exited: 0 });

    await dropMembership(t.db.pool, 'roster_planner', E);
    expect([await sizeOf(E), await countOf(E)]).toEqual([undefined, 0]);
    expect(await materialise(t.db.pool, 'roster_planner', E, pro, new Date())).toEqual({ size: 11, entered: 11, exited: 0 });
    await dropMembership(t.db.pool, 'roster_planner', E);
  });

  it("runs the members' query with JIT's threshold a hundred times PostgreSQL's default", async () => {
    const F = '00000000-0000-0000-0000-00000000000f';
    // The query's one member is the setting it ran under.
    const setting = { text: `SELECT current_setting('jit_above_cost') AS key`, values: [] };
    expect(await materialise(t.db.pool, 'roster_planner', F, setting, new Date())).toEqual({ size: 1, entered: 1, exited: 0 });
    const { rows } = await t.db.pool.query(`SELECT key FROM roster_planner.segment_members WHERE segment_id = $1`, [F]);
    expect(rows).toEqual([{ key: '1e+07' }]);
    expect((await t.db.pool.query(`SELECT current_setting('jit_above_cost') AS v`)).rows[0].v).toBe('100000');
    await dropMembership(t.db.pool, 'roster_planner', F);
  });

  it('keeps keys in byte order, and moves a membership table of an earlier version there once, keeping its rows', async () => {
    const collation = async () =>
      (await t.db.pool.query(`SELECT attcollation::regcollation::text AS c FROM pg_attribute WHERE attrelid = 'roster_planner.segment_members'::regclass AND attname = 'key'`)).rows[0].c;
    expect(await collation()).toBe('"C"');
    const before = (await t.db.pool.query(`SELECT segment_id, key FROM roster_planner.segment_members ORDER BY 1, 2`)).rows;
    // As earlier versions created it: keys in the database's default collation.
    await t.db.pool.query(`ALTER TABLE roster_planner.segment_members ALTER COLUMN key TYPE text COLLATE "default"`);
    expect(await collation()).toBe('"default"');
    await t.db.pool.query(createSegmentTablesSql('roster_planner'));
    expect(await collation()).toBe('"C"');
    expect((await t.db.pool.query(`SELECT segment_id, key FROM roster_planner.segment_members ORDER BY 1, 2`)).rows).toEqual(before);
    const { rows: index } = await t.db.pool.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = 'roster_planner' AND tablename = 'segment_members'`);
    expect(index.map((r) => r.indexdef)).toEqual(['CREATE UNIQUE INDEX segment_members_pkey ON roster_planner.segment_members USING btree (segment_id, key)']);
    // A record's lookup still compares its key (a parameter, of the default collation) with the members'.
    expect((await t.db.pool.query(recordSql('roster_planner', users, '6', [A, B]))).rows[0].segments).toEqual([A]);
  });
});

