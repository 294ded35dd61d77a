// The membership SQL as text, and run: materialising with entered/exited
// counts, whole-entity membership lists in one pass, record lookups.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.js';
import { inTransaction } from '../../src/lib/transaction.js';
import type { EntityMeta } from '../../src/segments/metadata.js';
import { breakdownSql, dropMembership, entityMembershipsSql, materialise, overlapSql, previewSql, recordSql } from '../../src/segments/store.js';
import { BUCKETS_FILLFACTOR, bucketBits, bucketSql, createSegmentTablesSql, memberSql, replaceMembersSql } from '../../src/segments/store-sql.js';

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
  it('looks a record up with its segments in one statement, one bucket probe per segment', () => {
    expect(recordSql('roster_planner', users, '42', [A, B])).toEqual({
      text:
        'SELECT to_jsonb(e) AS record, ARRAY(SELECT s.id::text FROM unnest($2::uuid[]) AS s(id) ' +
        `WHERE ${memberSql('roster_planner', 's.id', '$1::text')} ORDER BY s.id) AS segments ` +
        'FROM "wh"."users" AS e WHERE e."id" = $1::bigint LIMIT 1',
      values: ['42', [A, B]],
    });
    // A key that cannot be a bigint matches nothing (no cast error).
    expect(recordSql('roster_planner', users, '4x2', [A]).text).toContain('WHERE false LIMIT 1');
  });

  it('tests one key for membership by its bucket, under aliases of its own', () => {
    expect(memberSql('p', '$1::uuid', 'e."id"::text')).toBe(
      'EXISTS (SELECT 1 FROM "p"."segment_sizes" AS roster_ms JOIN "p"."segment_member_buckets" AS roster_mb ' +
        'ON roster_mb.segment_id = roster_ms.segment_id AND roster_mb.bucket = (hashtextextended((e."id"::text) COLLATE "C", 0) & ((1::bigint << (roster_ms.bits)::int) - 1))::int ' +
        'WHERE roster_ms.segment_id = $1::uuid AND (e."id"::text) COLLATE "C" = ANY(roster_mb.keys))',
    );
  });

  it('numbers buckets by the bits of the size: 7 to 14 keys a bucket, one bucket up to 14 members, at most 2^24 buckets', () => {
    expect([0, 1, 10, 14, 15, 28, 29, 300_000, 1e12].map(bucketBits)).toEqual([0, 0, 0, 0, 1, 1, 2, 15, 24]);
    for (const size of [100, 5_000, 298_000, 10_000_000]) {
      const perBucket = size / 2 ** bucketBits(size);
      expect(perBucket).toBeGreaterThanOrEqual(7);
      expect(perBucket).toBeLessThanOrEqual(14.2);
    }
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

  it('groups the members into buckets in parallel, and counts who entered and writes the buckets that changed in one pass over the pairs', () => {
    const members = { text: 'SELECT id::text AS key FROM wh.users WHERE plan = $1', values: ['pro'] };
    const deduplicated = replaceMembersSql('p', members, A);
    const unique = replaceMembersSql('p', members, A, { uniqueKeys: true });
    expect(unique.previous).toEqual({ text: 'SELECT s.size, s.bits FROM "p"."segment_sizes" AS s WHERE s.segment_id = $1::uuid', values: [A] });
    expect(unique.estimate).toEqual({ text: 'EXPLAIN (FORMAT JSON) SELECT key FROM (SELECT id::text AS key FROM wh.users WHERE plan = $1) AS q WHERE key IS NOT NULL', values: ['pro'] });
    // The bits are bound after the query's own parameters; keys are de-duplicated unless the warehouse vouches for them.
    expect(unique.stage(14)).toEqual({
      text:
        'CREATE TEMPORARY TABLE roster_new_buckets ON COMMIT DROP AS SELECT (hashtextextended((s.key) COLLATE "C", 0) & ((1::bigint << ($2::int)::int) - 1))::int AS bucket, ' +
        'array_agg(s.key COLLATE "C") AS keys FROM (SELECT key FROM (SELECT id::text AS key FROM wh.users WHERE plan = $1) AS q WHERE key IS NOT NULL) AS s GROUP BY 1',
      values: ['pro', 14],
    });
    expect(deduplicated.stage(3).text).toContain('FROM (SELECT DISTINCT key FROM (SELECT id::text AS key FROM wh.users WHERE plan = $1) AS q WHERE key IS NOT NULL) AS s GROUP BY 1');
    expect(unique.size).toEqual({ text: 'SELECT COALESCE(sum(cardinality(n.keys)), 0)::int AS size FROM roster_new_buckets AS n', values: [] });
    expect(unique.writeSettings).toEqual([`SET LOCAL work_mem = '64MB'`]);
    // One pass over the pairs of buckets: who entered each, and the upsert of those that changed.
    // A changed bucket is updated by the address read in its pair; emptied ones are looked for only when some bucket number has no keys.
    expect(unique.apply(14)).toEqual({
      text:
        'WITH pairs AS MATERIALIZED (SELECT n.bucket, n.keys, o.ctid AS row, ' +
        'CASE WHEN o.keys IS NULL THEN cardinality(n.keys) ELSE jsonb_array_length(to_jsonb(n.keys) - o.keys) END AS entered, ' +
        'cardinality(n.keys) IS NOT DISTINCT FROM cardinality(o.keys) AS same_size ' +
        'FROM roster_new_buckets AS n LEFT JOIN "p"."segment_member_buckets" AS o ON o.segment_id = $1::uuid AND o.bucket = n.bucket), ' +
        'emptied AS (DELETE FROM "p"."segment_member_buckets" AS b WHERE b.segment_id = $1::uuid AND (SELECT count(*) FROM roster_new_buckets) < (1::bigint << $2::int) ' +
        'AND NOT EXISTS (SELECT 1 FROM roster_new_buckets AS n WHERE n.bucket = b.bucket)), ' +
        'changed AS (UPDATE "p"."segment_member_buckets" AS b SET keys = p.keys FROM pairs AS p WHERE b.segment_id = $1::uuid AND b.ctid = p.row AND (p.entered > 0 OR NOT p.same_size)), ' +
        'added AS (INSERT INTO "p"."segment_member_buckets" (segment_id, bucket, keys) SELECT $1::uuid, p.bucket, p.keys FROM pairs AS p WHERE p.row IS NULL ORDER BY p.bucket) ' +
        'SELECT COALESCE(sum(cardinality(p.keys)), 0)::int AS size, COALESCE(sum(p.entered), 0)::int AS entered FROM pairs AS p',
      values: [A, 14],
    });
    expect(unique.forget).toEqual({ text: 'DELETE FROM "p"."segment_member_buckets" WHERE segment_id = $1::uuid', values: [A] });
    expect(unique.insertAll).toEqual({
      text: 'INSERT INTO "p"."segment_member_buckets" (segment_id, bucket, keys) SELECT $1::uuid, n.bucket, n.keys FROM roster_new_buckets AS n ORDER BY n.bucket',
      values: [A],
    });
    expect(unique.rebucket(9).values).toEqual([A, 9]);
    expect(unique.rebucket(9).text).toContain('FROM roster_new_buckets AS n CROSS JOIN LATERAL unnest(n.keys) AS k(key) GROUP BY 2 ORDER BY 2');
    expect(unique.analyse).toEqual(['SET LOCAL default_statistics_target = 10', 'ANALYZE "p"."segment_member_buckets" (segment_id)']);
    expect(unique.recordSize(12, 3)).toEqual({
      text: 'INSERT INTO "p"."segment_sizes" (segment_id, size, bits) VALUES ($1::uuid, $2, $3) ON CONFLICT (segment_id) DO UPDATE SET size = EXCLUDED.size, bits = EXCLUDED.bits',
      values: [A, 12, 3],
    });
  });

  it('previews the members once: counted, and the first of them by key joined to their rows by the key column in its own type', () => {
    const members = { text: 'SELECT id::text AS key FROM wh.users WHERE plan = $1', values: ['pro'] };
    expect(previewSql(users, members, 5)).toEqual({
      text:
        'WITH m AS MATERIALIZED (SELECT id::text AS key FROM wh.users WHERE plan = $1), s AS (SELECT m.key FROM m WHERE m.key IS NOT NULL ORDER BY m.key LIMIT $2) ' +
        'SELECT c.size, to_jsonb(e) AS record FROM (SELECT count(*)::int AS size FROM m) AS c ' +
        'LEFT JOIN (s JOIN "wh"."users" AS e ON e."id" = s.key::bigint) ON true ORDER BY s.key',
      values: ['pro', 5],
    });
    const codes: EntityMeta = { ...users, primaryKey: 'code', columns: [{ name: 'code', dataType: 'text', type: 'STRING', nullable: false }] };
    expect(previewSql(codes, members, 5).text).toContain('ON e."code" = s.key)');
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
    const first = await materialise(t.db.pool, 'roster_planner', A, query('pro'));
    expect(first).toEqual({ size: 10, entered: 10, exited: 0 });
    await t.db.pool.query(`UPDATE wh.users SET plan = 'pro' WHERE id IN (1, 2); UPDATE wh.users SET plan = 'free' WHERE id = 3`);
    const second = await materialise(t.db.pool, 'roster_planner', A, query('pro'));
    expect(second).toEqual({ size: 11, entered: 2, exited: 1 });
    await materialise(t.db.pool, 'roster_planner', B, query('free'));

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

  it('previews the size and the first members by key as text, with their rows, and the size alone when there is no sample', async () => {
    const pro = { text: `SELECT id::text AS key FROM wh.users WHERE plan = $1`, values: ['pro'] };
    const expected = await t.db.pool.query(`SELECT count(*) OVER ()::int AS size, to_jsonb(u) AS record FROM wh.users AS u WHERE plan = 'pro' ORDER BY id::text LIMIT 4`);
    // Keys sort as text ("12" before "3"), as the members' keys are text.
    expect(expected.rows.map((r) => r.record.id)).toEqual([1, 12, 15, 18]);
    expect((await t.db.pool.query(previewSql(users, pro, 4))).rows).toEqual(expected.rows);
    // No members: one row, the size, and no record.
    expect((await t.db.pool.query(previewSql(users, { ...pro, values: ['none'] }, 4))).rows).toEqual([{ size: 0, record: null }]);
    // A text key is compared as it is.
    await t.db.pool.query(`CREATE TABLE wh.codes AS SELECT 'c' || g AS code, g AS n FROM generate_series(1, 12) g; ALTER TABLE wh.codes ADD PRIMARY KEY (code)`);
    const codes: EntityMeta = { ...users, from: { table: { schema: 'wh', name: 'codes' } }, primaryKey: 'code', columns: [{ name: 'code', dataType: 'text', type: 'STRING', nullable: false }] };
    const odd = { text: `SELECT code AS key FROM wh.codes WHERE n % 2 = 1`, values: [] };
    expect((await t.db.pool.query(previewSql(codes, odd, 2))).rows).toEqual([
      { size: 6, record: { code: 'c1', n: 1 } },
      { size: 6, record: { code: 'c11', n: 11 } },
    ]);
  });

  it('writes the same membership with or without the unique-key shortcut, and a segment emptied then refilled enters everyone again', async () => {
    const C = '00000000-0000-0000-0000-00000000000c';
    const D = '00000000-0000-0000-0000-00000000000d';
    const members = async (segment: string) => (await t.db.pool.query(`SELECT key FROM roster_planner.segment_members WHERE segment_id = $1 ORDER BY key COLLATE "C"`, [segment])).rows.map((r) => r.key);
    const pro = { text: `SELECT id::text AS key FROM wh.users WHERE plan = $1`, values: ['pro'] };
    expect(await materialise(t.db.pool, 'roster_planner', C, pro, { uniqueKeys: true })).toEqual({ size: 11, entered: 11, exited: 0 });
    expect(await materialise(t.db.pool, 'roster_planner', D, pro)).toEqual({ size: 11, entered: 11, exited: 0 });
    expect(await members(C)).toEqual(await members(D));
    expect(await members(C)).toEqual(await members(A));

    // A query that repeats keys (a join the warehouse does not declare unique) is de-duplicated.
    const repeated = { text: `SELECT u.id::text AS key FROM wh.users AS u CROSS JOIN generate_series(1, 2) WHERE u.plan = $1`, values: ['pro'] };
    expect(await materialise(t.db.pool, 'roster_planner', D, repeated)).toEqual({ size: 11, entered: 0, exited: 0 });

    const none = { text: `SELECT id::text AS key FROM wh.users WHERE false`, values: [] };
    expect(await materialise(t.db.pool, 'roster_planner', C, none, { uniqueKeys: true })).toEqual({ size: 0, entered: 0, exited: 11 });
    expect(await members(C)).toEqual([]);
    expect(await materialise(t.db.pool, 'roster_planner', C, pro, { uniqueKeys: true })).toEqual({ size: 11, entered: 11, exited: 0 });
    expect(await members(C)).toEqual(await members(A));
  });

  it('counts who left from the size written with the members, treats buckets without a size as none, and forgets both with the segment', async () => {
    const E = '00000000-0000-0000-0000-00000000000e';
    const pro = { text: `SELECT id::text AS key FROM wh.users WHERE plan = $1`, values: ['pro'] };
    const free = { text: `SELECT id::text AS key FROM wh.users WHERE plan = $1`, values: ['free'] };
    const sizeOf = async (segment: string) => (await t.db.pool.query(`SELECT size FROM roster_planner.segment_sizes WHERE segment_id = $1`, [segment])).rows[0]?.size;
    const countOf = async (segment: string) => (await t.db.pool.query(`SELECT count(*)::int AS n FROM roster_planner.segment_members WHERE segment_id = $1`, [segment])).rows[0].n;
    expect(await materialise(t.db.pool, 'roster_planner', E, pro)).toEqual({ size: 11, entered: 11, exited: 0 });
    expect(await sizeOf(E)).toBe(11);
    // Buckets without a size (written by hand here) are not a membership: forgotten, and everyone enters.
    await t.db.pool.query(`DELETE FROM roster_planner.segment_sizes WHERE segment_id = $1`, [E]);
    expect(await materialise(t.db.pool, 'roster_planner', E, free)).toEqual({ size: 19, entered: 19, exited: 0 });
    expect([await sizeOf(E), await countOf(E)]).toEqual([19, 19]);
    await t.db.pool.query(`UPDATE wh.users SET plan = 'pro' WHERE id = 4`);
    expect(await materialise(t.db.pool, 'roster_planner', E, free)).toEqual({ size: 18, entered: 0, exited: 1 });
    expect([await sizeOf(E), await countOf(E)]).toEqual([18, 18]);
    // Who left is the kept size plus who entered less the new size: a wrong size (written by hand here) shows in it.
    await t.db.pool.query(`UPDATE roster_planner.segment_sizes SET size = 100 WHERE segment_id = $1`, [E]);
    await t.db.pool.query(`UPDATE wh.users SET plan = 'free' WHERE id = 4`);
    expect(await materialise(t.db.pool, 'roster_planner', E, free)).toEqual({ size: 19, entered: 1, exited: 82 });
    expect([await sizeOf(E), await countOf(E)]).toEqual([19, 19]);

    await dropMembership(t.db.pool, 'roster_planner', E);
    expect([await sizeOf(E), await countOf(E)]).toEqual([undefined, 0]);
    expect(await materialise(t.db.pool, 'roster_planner', E, pro)).toEqual({ size: 11, entered: 11, exited: 0 });
    await dropMembership(t.db.pool, 'roster_planner', E);
  });

  it('keeps a segment in buckets of a few keys whatever its size, renumbering them when its size moves them by two bits or more, and finds every member by key', async () => {
    const G = '00000000-0000-0000-0000-000000000010';
    await t.db.pool.query(`CREATE TABLE IF NOT EXISTS wh.many AS SELECT g AS id FROM generate_series(1, 20000) g`);
    const upTo = (n: number) => ({ text: `SELECT id::text AS key FROM wh.many WHERE id <= $1`, values: [n] });
    const state = async () =>
      (await t.db.pool.query(`SELECT s.size, s.bits, (SELECT count(*)::int FROM roster_planner.segment_member_buckets AS b WHERE b.segment_id = s.segment_id) AS buckets,
          (SELECT max(cardinality(b.keys)) FROM roster_planner.segment_member_buckets AS b WHERE b.segment_id = s.segment_id) AS largest
        FROM roster_planner.segment_sizes AS s WHERE s.segment_id = $1`, [G])).rows[0];
    const found = async (keys: string[]) =>
      (await t.db.pool.query(`SELECT k FROM unnest($1::text[]) AS k WHERE ${memberSql('roster_planner', '$2::uuid', 'k')}`, [keys, G])).rows.map((r) => r.k);
    const everyKeyFound = async (n: number) => {
      const keys = Array.from({ length: n }, (_, i) => String(i + 1));
      expect(await found(keys)).toHaveLength(n);
      expect(await found(['0', String(n + 1), 'x'])).toEqual([]);
    };

    // The planner's estimate sets a first evaluation's bits; the size corrects them when they are far off.
    expect(await materialise(t.db.pool, 'roster_planner', G, upTo(1000))).toEqual({ size: 1000, entered: 1000, exited: 0 });
    let s = await state();
    expect(Math.abs(s.bits - bucketBits(1000))).toBeLessThanOrEqual(2);
    expect(s.buckets).toBeGreaterThanOrEqual(1000 / 100);
    await everyKeyFound(1000);
    const bits = s.bits;
    // A tenth more keeps the bits (it moves them by one at most), and writes only the buckets that changed.
    expect(await materialise(t.db.pool, 'roster_planner', G, upTo(1100))).toEqual({ size: 1100, entered: 100, exited: 0 });
    expect((await state()).bits).toBe(bits);
    await everyKeyFound(1100);
    // The buckets' statistics are those the evaluation left: a plan estimates the segment's members from them.
    const { rows: stats } = await t.db.pool.query(`SELECT c.reltuples::int AS estimated, (SELECT count(*)::int FROM roster_planner.segment_member_buckets) AS actual
      FROM pg_class AS c WHERE c.oid = 'roster_planner.segment_member_buckets'::regclass`);
    expect(stats[0].estimated).toBe(stats[0].actual);
    // Eighteen times as many: renumbered to the bits of the new size.
    expect(await materialise(t.db.pool, 'roster_planner', G, upTo(20000))).toEqual({ size: 20000, entered: 18900, exited: 0 });
    s = await state();
    expect(s.bits).toBe(bucketBits(20000));
    expect(s.largest).toBeLessThan(64);
    await everyKeyFound(20000);
    // Down to 30: renumbered again, to four buckets at most.
    expect(await materialise(t.db.pool, 'roster_planner', G, upTo(30))).toEqual({ size: 30, entered: 0, exited: 19970 });
    s = await state();
    expect([s.size, s.bits]).toEqual([30, bucketBits(30)]);
    expect(s.buckets).toBeLessThanOrEqual(2 ** bucketBits(30));
    await everyKeyFound(30);
    await dropMembership(t.db.pool, 'roster_planner', G);
  });

  it('deletes the buckets a re-evaluation leaves empty, and keeps the others', async () => {
    const J = '00000000-0000-0000-0000-000000000012';
    await t.db.pool.query(`CREATE TABLE IF NOT EXISTS wh.many AS SELECT g AS id FROM generate_series(1, 20000) g`);
    await materialise(t.db.pool, 'roster_planner', J, { text: `SELECT id::text AS key FROM wh.many WHERE id <= 200`, values: [] });
    const { bits } = (await t.db.pool.query(`SELECT bits FROM roster_planner.segment_sizes WHERE segment_id = $1`, [J])).rows[0];
    expect(bits).toBeGreaterThanOrEqual(2);
    // The keys of the lower three quarters of the bucket numbers: the others' buckets empty, the bits stay.
    const kept = `id <= 200 AND ${bucketSql('id::text', String(bits))} < ${(3 * 2 ** bits) / 4}`;
    const expected = (await t.db.pool.query(`SELECT id::text AS key FROM wh.many WHERE ${kept} ORDER BY 1`)).rows.map((r) => r.key);
    expect(await materialise(t.db.pool, 'roster_planner', J, { text: `SELECT id::text AS key FROM wh.many WHERE ${kept}`, values: [] })).toEqual({ size: expected.length, entered: 0, exited: 200 - expected.length });
    const after = await t.db.pool.query(`SELECT s.bits, (SELECT max(b.bucket) FROM roster_planner.segment_member_buckets AS b WHERE b.segment_id = s.segment_id) AS top,
        ARRAY(SELECT m.key FROM roster_planner.segment_members AS m WHERE m.segment_id = s.segment_id ORDER BY 1) AS keys
      FROM roster_planner.segment_sizes AS s WHERE s.segment_id = $1`, [J]);
    expect(after.rows[0]).toEqual({ bits, top: (3 * 2 ** bits) / 4 - 1, keys: expected });
    await dropMembership(t.db.pool, 'roster_planner', J);
  });

  it('counts who entered and who exited byte for byte, whatever the keys hold', async () => {
    const M = '00000000-0000-0000-0000-000000000015';
    const keysOf = (keys: string[]) => ({ text: `SELECT k AS key FROM unnest($1::text[]) AS k`, values: [keys] });
    // Keys that differ only in case, spacing, normalisation (é composed and decomposed), or that
    // look like JSON, and keys that are prefixes of others: the count compares them as JSON strings.
    const tricky = ['', 'a', 'A', 'a ', ' a', 'ab', '"', '\\', '\\"', '\u00e9', 'e\u0301', '日本', '🎉', 'x'.repeat(300), 'null', '[1]', '{"a":1}', "it's"];
    const plain = Array.from({ length: 300 }, (_, i) => `u${i}`);
    const before = [...tricky.filter((_, i) => i % 2 === 0), ...plain.slice(0, 250)];
    const after = [...tricky.filter((_, i) => i % 3 !== 0), ...plain.slice(30)];
    await materialise(t.db.pool, 'roster_planner', M, keysOf(before));
    const bitsOf = async () => (await t.db.pool.query(`SELECT bits FROM roster_planner.segment_sizes WHERE segment_id = $1`, [M])).rows[0].bits;
    const bits = await bitsOf();
    const entered = after.filter((k) => !before.includes(k)).length;
    const exited = before.filter((k) => !after.includes(k)).length;
    expect(entered).toBeGreaterThan(50);
    expect(exited).toBeGreaterThan(30);
    expect(await materialise(t.db.pool, 'roster_planner', M, keysOf(after))).toEqual({ size: after.length, entered, exited });
    // The same numbering before and after: the pairs of buckets were compared, not written anew.
    expect(await bitsOf()).toBe(bits);
    const { rows } = await t.db.pool.query(`SELECT key FROM roster_planner.segment_members WHERE segment_id = $1`, [M]);
    expect(rows.map((r) => r.key).sort()).toEqual([...after].sort());
    // Nothing changed: nobody enters or exits.
    expect(await materialise(t.db.pool, 'roster_planner', M, keysOf([...after].reverse()))).toEqual({ size: after.length, entered: 0, exited: 0 });
    await dropMembership(t.db.pool, 'roster_planner', M);
  });

  it("writes a segment's changed buckets without reading other segments' buckets", async () => {
    const K = '00000000-0000-0000-0000-000000000013';
    const L = '00000000-0000-0000-0000-000000000014';
    await t.db.pool.query(`CREATE TABLE IF NOT EXISTS wh.many AS SELECT g AS id FROM generate_series(1, 20000) g`);
    const upTo = (n: number) => ({ text: `SELECT id::text AS key FROM wh.many WHERE id <= $1`, values: [n] });
    await materialise(t.db.pool, 'roster_planner', L, upTo(20000));
    await materialise(t.db.pool, 'roster_planner', K, upTo(200));
    const { bits } = (await t.db.pool.query(`SELECT bits FROM roster_planner.segment_sizes WHERE segment_id = $1`, [K])).rows[0];
    const sql = replaceMembersSql('roster_planner', upTo(210), K);
    const scans = await inTransaction(t.db.pool, async (client) => {
      await client.query(sql.stage(bits));
      const { rows } = await client.query({ text: `EXPLAIN (FORMAT JSON) ${sql.apply(bits).text}`, values: sql.apply(bits).values });
      const found: string[] = [];
      const walk = (n: { 'Node Type': string; 'Relation Name'?: string; Plans?: unknown[] }) => {
        if (n['Relation Name'] === 'segment_member_buckets') found.push(n['Node Type']);
        for (const c of n.Plans ?? []) walk(c as typeof n);
      };
      walk(rows[0]['QUERY PLAN'][0].Plan);
      return found; // the stage is dropped at commit; EXPLAIN wrote nothing
    });
    expect(scans).toContain('Index Scan');
    expect(scans).not.toContain('Seq Scan');
    expect(await materialise(t.db.pool, 'roster_planner', K, upTo(210))).toEqual({ size: 210, entered: 10, exited: 0 });
    await dropMembership(t.db.pool, 'roster_planner', K);
    await dropMembership(t.db.pool, 'roster_planner', L);
  });

  it('leaves an unchanged bucket row alone', async () => {
    const H = '00000000-0000-0000-0000-000000000011';
    await t.db.pool.query(`CREATE TABLE IF NOT EXISTS wh.many AS SELECT g AS id FROM generate_series(1, 20000) g`);
    const upTo = (n: number) => ({ text: `SELECT id::text AS key FROM wh.many WHERE id <= $1`, values: [n] });
    await materialise(t.db.pool, 'roster_planner', H, upTo(2000));
    const rows = async () => new Map((await t.db.pool.query(`SELECT bucket, xmin::text AS x FROM roster_planner.segment_member_buckets WHERE segment_id = $1`, [H])).rows.map((r) => [r.bucket, r.x]));
    const before = await rows();
    expect(await materialise(t.db.pool, 'roster_planner', H, upTo(2001))).toEqual({ size: 2001, entered: 1, exited: 0 });
    const after = await rows();
    const rewritten = [...after].filter(([bucket, x]) => before.get(bucket) !== x);
    expect(rewritten).toHaveLength(1);
    await dropMembership(t.db.pool, 'roster_planner', H);
  });

  it("runs the members' query with JIT's threshold a hundred times PostgreSQL's default, a parallel plan's leader gathering only, and no shared hash", async () => {
    const F = '00000000-0000-0000-0000-00000000000f';
    // The query's one member is the settings it ran under.
    const setting = { text: `SELECT concat_ws(' ', current_setting('jit_above_cost'), current_setting('parallel_leader_participation'), current_setting('enable_parallel_hash')) AS key`, values: [] };
    expect(await materialise(t.db.pool, 'roster_planner', F, setting)).toEqual({ size: 1, entered: 1, exited: 0 });
    const { rows } = await t.db.pool.query(`SELECT key FROM roster_planner.segment_members WHERE segment_id = $1`, [F]);
    expect(rows).toEqual([{ key: '1e+07 off off' }]);
    // Local to the evaluation's transaction: the pool's next query has the server's settings.
    const { rows: after } = await t.db.pool.query(`SELECT current_setting('jit_above_cost') AS jit, current_setting('parallel_leader_participation') AS leader, current_setting('enable_parallel_hash') AS hash`);
    expect(after).toEqual([{ jit: '100000', leader: 'on', hash: 'on' }]);
    await dropMembership(t.db.pool, 'roster_planner', F);
  });

  it('moves the membership table of an earlier version into buckets once, keeping every member, and answers lookups from them', async () => {
    // As an earlier version left its planner schema: a row per member (keys in the database's default
    // collation, as the first versions had them), and sizes without bits (one of them missing).
    await t.db.pool.query(`CREATE SCHEMA old_planner;
      CREATE TABLE old_planner.segment_members (segment_id uuid NOT NULL, key text NOT NULL, entered_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (segment_id, key));
      INSERT INTO old_planner.segment_members (segment_id, key) SELECT '${A}', g::text FROM generate_series(1, 30) g WHERE g % 3 = 0;
      INSERT INTO old_planner.segment_members (segment_id, key) SELECT '${B}', g::text FROM generate_series(1, 2000) g;
      CREATE TABLE old_planner.segment_sizes (segment_id uuid PRIMARY KEY, size integer NOT NULL);
      INSERT INTO old_planner.segment_sizes VALUES ('${A}', 10);`);
    const before = (await t.db.pool.query(`SELECT segment_id, key FROM old_planner.segment_members ORDER BY 1, 2`)).rows;
    await t.db.pool.query(createSegmentTablesSql('old_planner'));
    const kind = async () => (await t.db.pool.query(`SELECT relkind FROM pg_class WHERE oid = 'old_planner.segment_members'::regclass`)).rows[0].relkind;
    expect(await kind()).toBe('v');
    expect((await t.db.pool.query(`SELECT segment_id, key FROM old_planner.segment_members ORDER BY 1, 2`)).rows).toEqual(before);
    // Pages keep room for a bucket's next version (see BUCKETS_FILLFACTOR).
    expect((await t.db.pool.query(`SELECT reloptions FROM pg_class WHERE oid = 'old_planner.segment_member_buckets'::regclass`)).rows[0].reloptions).toEqual([`fillfactor=${BUCKETS_FILLFACTOR}`]);
    expect((await t.db.pool.query(`SELECT segment_id, size, bits FROM old_planner.segment_sizes ORDER BY 1`)).rows).toEqual([
      { segment_id: A, size: 10, bits: bucketBits(10) },
      { segment_id: B, size: 2000, bits: bucketBits(2000) },
    ]);
    // Keys are compared byte-wise now, whatever the default collation of the parameter.
    expect((await t.db.pool.query(recordSql('old_planner', users, '6', [A, B]))).rows[0].segments).toEqual([A, B]);
    expect((await t.db.pool.query(recordSql('old_planner', users, '7', [A, B]))).rows[0].segments).toEqual([B]);
    // Run again: nothing to move, nothing changed; an evaluation goes on from the moved membership.
    await t.db.pool.query(createSegmentTablesSql('old_planner'));
    expect(await kind()).toBe('v');
    const pro = { text: `SELECT id::text AS key FROM wh.users WHERE plan = $1`, values: ['pro'] };
    const { rows } = await t.db.pool.query(`SELECT array_agg(id::text) AS keys FROM wh.users WHERE plan = 'pro'`);
    const now: string[] = rows[0].keys;
    const was = before.filter((r) => r.segment_id === A).map((r) => r.key as string);
    expect(await materialise(t.db.pool, 'old_planner', A, pro)).toEqual({
      size: now.length,
      entered: now.filter((k) => !was.includes(k)).length,
      exited: was.filter((k) => !now.includes(k)).length,
    });
    expect(now.filter((k) => !was.includes(k)).length).toBeGreaterThan(0);
  });
});

