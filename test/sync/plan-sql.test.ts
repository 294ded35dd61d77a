// The sync planner's SQL as text, and its filtering by mode.
import { describe, expect, it } from 'vitest';
import type { CompileContext, EntityMeta } from '../../src/segments/metadata.js';
import { accountDeliveredSql, accountFilteredSql, changesTable, concatSql, PLAN_SETTINGS, createSyncTablesSql, currentRowsSql, filteredOps, hasLegacyHashesSql, nextBatchSql, planSql, plannedCountsSql, previewSamplesSql, rehashLegacySql, SEQ_BLOCK, seqBase, shapeSeed, snapshotStatisticsSql } from '../../src/sync/plan-sql.js';
import { uniqueKeysSql } from '../../src/segments/unique-keys.js';

const users: EntityMeta = {
  id: 'u',
  name: 'Users',
  from: { table: { schema: 'wh', name: 'users' } },
  primaryKey: 'id',
  columns: [
    { name: 'id', dataType: 'bigint', type: 'INTEGER', nullable: false },
    { name: 'email', dataType: 'text', type: 'STRING', nullable: false },
    { name: 'team', dataType: 'text', type: 'STRING', nullable: true },
    { name: 'company_id', dataType: 'bigint', type: 'INTEGER', nullable: true },
  ],
  relationships: [{ name: 'company', kind: 'MANY_TO_ONE', fromColumn: 'company_id', toColumn: 'id', targetId: 'c' }],
};
const companies: EntityMeta = {
  id: 'c',
  name: 'Companies',
  from: { table: { schema: 'wh', name: 'companies' } },
  primaryKey: 'id',
  columns: [
    { name: 'id', dataType: 'bigint', type: 'INTEGER', nullable: false },
    { name: 'name', dataType: 'text', type: 'STRING', nullable: true },
  ],
  relationships: [],
};
const ctx: CompileContext = { entities: new Map([['u', users], ['c', companies]]), segments: new Map(), plannerSchema: 'rp' };
const SEG = '00000000-0000-0000-0000-0000000000aa';

describe('sync planner SQL', () => {
  it('selects the current rows of a segment with mapped fields, many-to-one paths and identifiers, all names quoted and values bound', () => {
    const { text, params, payload } = currentRowsSql(ctx, {
      entity: users,
      segmentId: SEG,
      audience: { kind: 'FIXED', reference: 'VIPs' },
      mappings: [{ from: 'email', to: 'Email' }, { from: 'company.name', to: 'Company' }],
      identifiers: [{ type: 'EMAIL', column: 'email' }],
      segments: [],
    });
    // From the segment's members to their rows by the key's own type; many-to-one paths as LEFT JOINs.
    // The hash: of the record of the values (text in the "C" collation), seeded with the payload's layout.
    // The payload: JSON text concatenated from bound, JSON-escaped keys and each value as to_json renders it.
    expect(text).toBe(
      'SELECT DISTINCT ON (1, 2) $6::text COLLATE "C" AS audience, e."id"::text COLLATE "C" AS key, ' +
        `'v' || to_hex(hash_record_extended(ROW($1::bigint, (e."email")::text COLLATE "C", (j1."name")::text COLLATE "C", e."email"::text COLLATE "C"), 0)) AS payload_hash, ` +
        `$2::text || COALESCE(to_json(e."email")::text, 'null') || $3::text || COALESCE(to_json(j1."name")::text, 'null') || $4::text || COALESCE(to_json(e."email"::text)::text, 'null') || $5::text AS payload ` +
        'FROM "rp"."segment_members" AS m JOIN "wh"."users" AS e ON e."id" = m.key::bigint LEFT JOIN "wh"."companies" AS j1 ON j1."id" = e."company_id" WHERE m.segment_id = $7::uuid AND e."id" IS NOT NULL ORDER BY 1, 2',
    );
    const layout = [{ object: 'fields' as const, name: 'Email' }, { object: 'fields' as const, name: 'Company' }, { object: 'identifiers' as const, name: 'EMAIL' }];
    expect(params.values).toEqual([shapeSeed(layout), '{"fields":{"Email":', ',"Company":', '},"identifiers":{"EMAIL":', '}}', 'VIPs', SEG]);
    // Built from another relation's columns (the plan's, for the rows it keeps), with keys bound again.
    expect(payload('c')).toBe(`$8::text || COALESCE(to_json(c.v1)::text, 'null') || $9::text || COALESCE(to_json(c.v2)::text, 'null') || $10::text || COALESCE(to_json(c.v3)::text, 'null') || $11::text`);
  });

  it('carries the values instead of the payload on request, hashing types without a hash function (or a case-blind one) as text', () => {
    const typed: EntityMeta = {
      ...users,
      columns: [
        ...users.columns,
        { name: 'score', dataType: 'numeric(10,2)', type: 'NUMBER', nullable: true },
        { name: 'meta', dataType: 'json', type: 'JSON', nullable: true },
        { name: 'handle', dataType: 'citext', type: 'STRING', nullable: true },
        { name: 'seen', dataType: 'timestamp(3) with time zone', type: 'TIMESTAMP', nullable: true },
      ],
    };
    const { text } = currentRowsSql(
      ctx,
      { entity: typed, segmentId: null, audience: { kind: 'FIXED', reference: 'A' }, mappings: ['score', 'meta', 'handle', 'seen'].map((c) => ({ from: c, to: c })), identifiers: [], segments: [], uniqueKeys: true },
      undefined,
      { payload: false, ordered: false },
    );
    expect(text).toBe(
      `SELECT $2::text COLLATE "C" AS audience, e."id"::text COLLATE "C" AS key, ` +
        `'v' || to_hex(hash_record_extended(ROW($1::bigint, e."score", (e."meta")::text COLLATE "C", (e."handle")::text COLLATE "C", e."seen"), 0)) AS payload_hash, ` +
        `e."score" AS v1, e."meta" AS v2, e."handle" AS v3, e."seen" AS v4 FROM "wh"."users" AS e WHERE e."id" IS NOT NULL`,
    );
  });

  it('escapes keys as JSON, keeps the last of two equal keys, and seeds hashes with the layout', () => {
    const { params } = currentRowsSql(ctx, {
      entity: users,
      segmentId: null,
      audience: { kind: 'FIXED', reference: 'A' },
      mappings: [{ from: 'email', to: 'say "hi"\\' }],
      identifiers: [{ type: 'EMAIL', column: 'team' }, { type: 'EMAIL', column: 'email' }],
      segments: [],
    });
    const pieces = params.values.slice(1, -1) as string[];
    expect(pieces).toEqual(['{"fields":{"say \\"hi\\"\\\\":', '},"identifiers":{"EMAIL":', '}}']);
    expect(JSON.parse(`${pieces[0]}1${pieces[1]}2${pieces[2]}`)).toEqual({ fields: { 'say "hi"\\': 1 }, identifiers: { EMAIL: 2 } });
    // Renaming, adding or moving a key changes every hash; the same layout, none.
    const seed = (names: string[]) => shapeSeed(names.map((name) => ({ object: 'fields' as const, name })));
    expect(seed(['a', 'b'])).toBe(seed(['a', 'b']));
    expect(new Set([seed(['a', 'b']), seed(['b', 'a']), seed(['a']), seed(['a', 'c'])]).size).toBe(4);
    expect(shapeSeed([{ object: 'fields', name: 'a' }])).not.toBe(shapeSeed([{ object: 'identifiers', name: 'a' }]));
    expect(BigInt(seed(['a']))).toBeGreaterThanOrEqual(-(2n ** 63n));
    expect(BigInt(seed(['a']))).toBeLessThan(2n ** 63n);
  });

  it('joins many pieces of text in runs, so that a wide payload is not copied over and over', () => {
    const pieces = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);
    expect(concatSql(pieces(3))).toBe('p0 || p1 || p2');
    expect(concatSql(pieces(32))).toBe(pieces(32).join(' || '));
    expect(concatSql(pieces(70))).toBe(`concat(${pieces(32).join(' || ')}, ${pieces(64).slice(32).join(' || ')}, p64 || p65 || p66 || p67 || p68 || p69)`);
    // concat() takes at most 100 arguments: more runs nest.
    const huge = concatSql(pieces(32 * 150));
    expect(huge.startsWith('concat(concat(p0 || ')).toBe(true);
    expect(huge.match(/concat\(/g)).toHaveLength(3);
  });

  it('takes the audience from a column, skipping empty names', () => {
    const { text } = currentRowsSql(ctx, { entity: users, segmentId: null, audience: { kind: 'COLUMN', column: 'team' }, mappings: [], identifiers: [], segments: [] });
    expect(text).toContain('e."team"::text COLLATE "C" AS audience');
    expect(text).toContain(`WHERE e."id" IS NOT NULL AND e."team"::text IS NOT NULL AND e."team"::text <> ''`);
  });

  it('diffs against the snapshot in one statement that creates the run\'s unlogged changes table, building payloads for the changed rows only', () => {
    const diff = planSql(ctx, { entity: users, segmentId: null, audience: { kind: 'FIXED', reference: 'A' }, mappings: [{ from: 'email', to: 'Email' }], identifiers: [], segments: [] }, {
      syncId: 's', mode: 'ADDITIVE', removal: 'REMOVE', into: '"rp"."sync_changes_x"',
    });
    const op = `CASE WHEN s.key IS NULL THEN 'ADD' WHEN c.key IS NULL THEN 'REMOVE' ELSE 'UPDATE' END`;
    const block = 'CASE WHEN s.key IS NULL THEN 0 WHEN c.key IS NULL THEN 2 ELSE 1 END';
    expect(diff.text).toBe(
      'CREATE UNLOGGED TABLE "rp"."sync_changes_x" AS ' +
        // The current rows carry their values and hash, unsorted (DISTINCT ON sorts, for its own sake).
        `WITH c AS (SELECT * FROM (SELECT DISTINCT ON (1, 2) $2::text COLLATE "C" AS audience, e."id"::text COLLATE "C" AS key, 'v' || to_hex(hash_record_extended(ROW($1::bigint, (e."email")::text COLLATE "C"), 0)) AS payload_hash, e."email" AS v1 ` +
        `FROM "wh"."users" AS e WHERE e."id" IS NOT NULL ORDER BY 1, 2 OFFSET 0) AS cur), ` +
        // The snapshot side is keys and hashes only: no payload in the hash table.
        `s AS (SELECT audience, key, payload_hash FROM "rp"."sync_snapshot" WHERE sync_id = $3::uuid) ` +
        // Each operation's rows numbered in key order (a fixed audience), from the operation's own base.
        `SELECT ${block} * 1099511627776 + row_number() OVER (PARTITION BY ${block} ORDER BY COALESCE(c.key, s.key) ROWS UNBOUNDED PRECEDING) AS seq, ` +
        `COALESCE(c.audience, s.audience) AS audience, COALESCE(c.key, s.key) AS key, ${op} AS op, ` +
        // Payloads built for the adds and updates only; a remove's, the one last sent, is read from the snapshot as it is sent.
        `CASE WHEN c.key IS NOT NULL THEN $4::text || COALESCE(to_json(c.v1)::text, 'null') || $5::text END AS payload, c.payload_hash, ` +
        `(${op}) IN ('REMOVE') AS filtered, 'PENDING'::text AS state, NULL::text AS message, NULL::text AS code ` +
        `FROM c FULL OUTER JOIN s ON s.audience = c.audience AND s.key = c.key ` +
        'WHERE s.key IS NULL OR c.key IS NULL OR s.payload_hash IS DISTINCT FROM c.payload_hash',
    );
    expect(diff.values.slice(1)).toEqual(['A', 's', '{"fields":{"Email":', '},"identifiers":{}}']);

    const byColumn = planSql(ctx, { entity: users, segmentId: null, audience: { kind: 'COLUMN', column: 'team' }, mappings: [], identifiers: [], segments: [] }, {
      syncId: 's', mode: 'MIRROR', removal: 'REMOVE', into: 'roster_preview', temporary: true,
    });
    expect(byColumn.text.startsWith('CREATE TEMPORARY TABLE roster_preview ON COMMIT DROP AS ')).toBe(true);
    expect(byColumn.text).toContain(`SELECT ${block} * 1099511627776 + row_number() OVER (PARTITION BY ${block} ORDER BY COALESCE(c.audience, s.audience), COALESCE(c.key, s.key) ROWS UNBOUNDED PRECEDING) AS seq,`);
    // Counted from the end of each operation's block of seqs, a probe of the index each.
    expect(plannedCountsSql('t').text).toBe(
      `SELECT o.op, COALESCE((SELECT max(c.seq) FROM t AS c WHERE c.seq > o.base AND c.seq <= o.base + 1099511627776) - o.base, 0)::int AS n ` +
        `FROM (VALUES ('ADD', 0::bigint), ('UPDATE', 1099511627776::bigint), ('REMOVE', 2199023255552::bigint)) AS o(op, base)`,
    );
    expect(['ADD', 'UPDATE', 'REMOVE'].map((op) => seqBase(op as 'ADD'))).toEqual(['0', '1099511627776', '2199023255552']);
    expect(3 * SEQ_BLOCK).toBeLessThan(Number.MAX_SAFE_INTEGER);
    expect(byColumn.text).toContain('false AS filtered');
    // The removes' lookup lifts the estimate over the JIT thresholds; compiling costs more than it saves.
    expect(PLAN_SETTINGS).toContain('SET LOCAL jit = off');
  });

  it('plans a first run (an empty snapshot) without a diff: every row an add, built with its payload and numbered in the order its sort gave', () => {
    const shape = { entity: users, segmentId: null, audience: { kind: 'COLUMN' as const, column: 'team' }, mappings: [{ from: 'company.name', to: 'Company' }], identifiers: [], segments: [], uniqueKeys: true };
    const first = planSql(ctx, shape, { syncId: 's', mode: 'MIRROR', removal: 'REMOVE', into: 't', snapshotEmpty: true });
    expect(first.text).toBe(
      `CREATE UNLOGGED TABLE t AS SELECT row_number() OVER (ORDER BY cur.audience, cur.key ROWS UNBOUNDED PRECEDING) AS seq, cur.audience, cur.key, 'ADD'::text AS op, ` +
        `cur.payload, cur.payload_hash, false AS filtered, 'PENDING'::text AS state, NULL::text AS message, NULL::text AS code ` +
        `FROM (SELECT e."team"::text COLLATE "C" AS audience, e."id"::text COLLATE "C" AS key, 'v' || to_hex(hash_record_extended(ROW($1::bigint, (j1."name")::text COLLATE "C"), 0)) AS payload_hash, ` +
        `$2::text || COALESCE(to_json(j1."name")::text, 'null') || $3::text AS payload FROM "wh"."users" AS e LEFT JOIN "wh"."companies" AS j1 ON j1."id" = e."company_id" ` +
        `WHERE e."id" IS NOT NULL AND e."team"::text IS NOT NULL AND e."team"::text <> '' ORDER BY 1, 2 OFFSET 0) AS cur`,
    );
    // A subtractive sync accounts its adds without sending them.
    expect(planSql(ctx, shape, { syncId: 's', mode: 'SUBTRACTIVE', removal: 'REMOVE', into: 't', snapshotEmpty: true }).text).toContain('true AS filtered');
  });

  it('skips deduplication when the warehouse declares the keys unique', () => {
    const shape = { entity: users, segmentId: null, mappings: [{ from: 'company.name', to: 'Company' }], identifiers: [], segments: [], uniqueKeys: true };
    const fixed = currentRowsSql(ctx, { ...shape, audience: { kind: 'FIXED', reference: 'A' } }).text;
    expect(fixed.startsWith('SELECT $4::text COLLATE "C" AS audience')).toBe(true);
    expect(fixed.endsWith('WHERE e."id" IS NOT NULL ORDER BY 1, 2')).toBe(true);
    // Unsorted when the plan numbers its changes itself.
    const diff = planSql(ctx, { ...shape, audience: { kind: 'FIXED', reference: 'A' } }, { syncId: 's', mode: 'MIRROR', removal: 'REMOVE', into: 't' }).text;
    expect(diff).toContain('WHERE e."id" IS NOT NULL OFFSET 0) AS cur)');
    expect(diff).not.toContain('DISTINCT ON');
    const byColumn = currentRowsSql(ctx, { ...shape, audience: { kind: 'COLUMN', column: 'team' } }).text;
    expect(byColumn).toContain(`WHERE e."id" IS NOT NULL AND e."team"::text IS NOT NULL AND e."team"::text <> '' ORDER BY 1, 2`);
    expect(byColumn).not.toContain('DISTINCT');

    // The uniqueness asked of the warehouse: the entity's key and each mapped path's joined key.
    const q = uniqueKeysSql(ctx, shape.entity, ['company.name'])!;
    expect(q.values).toEqual([['"wh"."users"', '"wh"."companies"'], ['id', 'id']]);
    expect(q.text).toContain('i.indisunique AND i.indisvalid AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL');
    const model: EntityMeta = { ...users, from: { sql: 'SELECT 1 AS id' } };
    expect(uniqueKeysSql(ctx, model)).toBeNull();
  });

  it('rehashes a snapshot of an earlier version once per sync: rows equal as JSON take the current hash, the rest are marked as differing', () => {
    const [equal, differing, ...rest] = rehashLegacySql(ctx, { entity: users, segmentId: null, audience: { kind: 'FIXED', reference: 'A' }, mappings: [{ from: 'email', to: 'Email' }], identifiers: [], segments: [], uniqueKeys: true }, 's');
    expect(equal!.text).toMatch(/^UPDATE "rp"."sync_snapshot" AS s SET payload_hash = cur.payload_hash, payload = cur.payload FROM \(SELECT \$4::text COLLATE "C" AS audience, .* AS payload FROM "wh"."users" AS e WHERE e."id" IS NOT NULL\) AS cur /);
    expect(equal!.text).toContain(`WHERE s.sync_id = $5::uuid AND s.audience = cur.audience COLLATE "C" AND s.key = cur.key COLLATE "C" AND left(s.payload_hash, 1) <> 'v' AND s.payload::jsonb = cur.payload::jsonb`);
    expect(differing).toEqual({ text: `UPDATE "rp"."sync_snapshot" SET payload_hash = 'v' WHERE sync_id = $1::uuid AND left(payload_hash, 1) <> 'v'`, values: ['s'] });
    // Struck off the list of syncs to rehash, which the DDL fills once, when it creates it, and a plan asks by key.
    expect(rest).toEqual([{ text: 'DELETE FROM "rp"."sync_snapshot_legacy" WHERE sync_id = $1::uuid', values: ['s'] }]);
    expect(hasLegacyHashesSql('rp', 's')).toEqual({ text: 'SELECT EXISTS (SELECT 1 FROM "rp"."sync_snapshot_legacy" WHERE sync_id = $1::uuid) AS legacy', values: ['s'] });
    expect(createSyncTablesSql('rp')).toContain(
      `IF to_regclass('"rp"."sync_snapshot_legacy"') IS NULL THEN CREATE TABLE "rp"."sync_snapshot_legacy" (sync_id uuid PRIMARY KEY); ` +
        `INSERT INTO "rp"."sync_snapshot_legacy" SELECT DISTINCT sync_id FROM "rp"."sync_snapshot" WHERE left(payload_hash, 1) <> 'v'; END IF;`,
    );
    // Audiences and keys in byte order, as plans sort them; a snapshot of an earlier version has its index rebuilt once.
    expect(createSyncTablesSql('rp')).toContain(`(sync_id uuid NOT NULL, audience text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, `);
    expect(createSyncTablesSql('rp')).toContain(
      `THEN ALTER TABLE "rp"."sync_snapshot" ALTER COLUMN audience TYPE text COLLATE "C", ALTER COLUMN key TYPE text COLLATE "C"; END IF; END IF;`,
    );
  });

  it('refreshes the statistics of the snapshot’s sync ids from a small sample, within the transaction', () => {
    expect(snapshotStatisticsSql('rp')).toEqual(['SET LOCAL default_statistics_target = 10', 'ANALYZE "rp"."sync_snapshot" (sync_id)']);
  });

  it('accounts only the filtered operations a plan holds rows of', () => {
    const sync = '00000000-0000-0000-0000-0000000000bb';
    expect(accountFilteredSql('rp', sync, [])).toEqual([]);
    const [upsert] = accountFilteredSql('rp', sync, ['ADD', 'UPDATE']);
    expect(accountFilteredSql('rp', sync, ['ADD']).map((q) => q.text)).toEqual([upsert!.text]);
    expect(upsert!.text).toMatch(/^INSERT INTO "rp"."sync_snapshot" .* WHERE c.filtered AND c.op <> 'REMOVE' ON CONFLICT/);
    const removes = accountFilteredSql('rp', sync, ['REMOVE']);
    expect(removes.map((q) => q.text)).toEqual([`DELETE FROM "rp"."sync_snapshot" AS s USING "rp"."sync_changes_000000000000000000000000000000bb" AS c WHERE c.filtered AND c.op = 'REMOVE' AND s.sync_id = $1::uuid AND s.audience = c.audience AND s.key = c.key`]);
    expect(accountFilteredSql('rp', sync, ['ADD', 'REMOVE']).map((q) => q.text)).toEqual([upsert!.text, removes[0]!.text]);
  });

  it('names one changes table per sync, from its id only', () => {
    expect(changesTable('rp', '0A1B2C3D-0000-4000-8000-00000000000F')).toBe('"rp"."sync_changes_0a1b2c3d00004000800000000000000f"');
    expect(() => changesTable('rp', 'x"; DROP TABLE t; --')).toThrow('expected a sync id in uuid form, but got "x\"; DROP TABLE t; --"');
  });

  it('filters by mode and removal behaviour', () => {
    expect(filteredOps('MIRROR', 'REMOVE')).toEqual([]);
    expect(filteredOps('MIRROR', 'DO_NOTHING')).toEqual(['REMOVE']);
    expect(filteredOps('ADDITIVE', 'REMOVE')).toEqual(['REMOVE']);
    expect(filteredOps('SUBTRACTIVE', 'REMOVE').sort()).toEqual(['ADD', 'UPDATE']);
    expect(filteredOps('SUBTRACTIVE', 'DO_NOTHING').sort()).toEqual(['ADD', 'REMOVE', 'UPDATE']);
  });

  it('streams batches by keyset and accounts only confirmed rows', () => {
    const sync = '00000000-0000-4000-8000-000000000001';
    const changes = '"rp"."sync_changes_00000000000040008000000000000001"';
    expect(nextBatchSql('rp', sync, 'ADD', '10', 500)).toEqual({
      text: `SELECT c.seq, c.audience, c.key, c.payload FROM ${changes} AS c WHERE c.op = $1 AND NOT c.filtered AND c.state = 'PENDING' AND c.seq > $2 ORDER BY c.seq LIMIT $3`,
      values: ['ADD', '10', 500],
    });
    // A remove's payload is the one last sent, in the snapshot until the remove is accounted: a probe of its key per row of the page.
    expect(nextBatchSql('rp', sync, 'REMOVE', '10', 500)).toEqual({
      text:
        `SELECT c.seq, c.audience, c.key, (SELECT s.payload FROM "rp"."sync_snapshot" AS s WHERE s.sync_id = $4::uuid AND s.audience = c.audience AND s.key = c.key) AS payload ` +
        `FROM ${changes} AS c WHERE c.op = $1 AND NOT c.filtered AND c.state = 'PENDING' AND c.seq > $2 ORDER BY c.seq LIMIT $3`,
      values: ['REMOVE', '10', 500, sync],
    });
    expect(previewSamplesSql('rp', sync, 'roster_preview', 5)).toEqual({
      text:
        `SELECT x.op, x.audience, x.key, CASE WHEN x.op = 'REMOVE' THEN (SELECT s.payload FROM "rp"."sync_snapshot" AS s WHERE s.sync_id = $2::uuid AND s.audience = x.audience AND s.key = x.key) ELSE x.payload END AS payload ` +
        `FROM (SELECT *, row_number() OVER (PARTITION BY op ORDER BY seq) AS n FROM roster_preview WHERE NOT filtered) AS x ` +
        `WHERE x.n <= $1 ORDER BY x.op, x.seq`,
      values: [5, sync],
    });
    // One statement per operation, for the PENDING rows of each confirmed range (refused rows are marked first).
    const ranges = [
      { audience: 'a', first: '1', last: '20' },
      { audience: 'b', first: '21', last: '30' },
    ];
    const confirmed =
      `FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS r(audience, first, last) JOIN ${changes} AS c ON c.seq BETWEEN r.first AND r.last ` +
      `WHERE c.audience = r.audience AND c.op = 'ADD' AND NOT c.filtered AND c.state = 'PENDING'`;
    const adds = accountDeliveredSql('rp', sync, 'ADD', ranges);
    // Adds as plain inserts: no CTE, no sort, no ON CONFLICT.
    expect(adds.text).toBe(`INSERT INTO "rp"."sync_snapshot" (sync_id, audience, key, payload_hash, payload, accounted_at) SELECT $1::uuid, c.audience, c.key, c.payload_hash, c.payload, now() ${confirmed}`);
    expect(adds.values).toEqual([sync, ['a', 'b'], ['1', '21'], ['20', '30']]);
    // The fallback form, and updates, upsert.
    const upsert = ` ON CONFLICT (sync_id, audience, key) DO UPDATE SET payload_hash = EXCLUDED.payload_hash, payload = EXCLUDED.payload, accounted_at = EXCLUDED.accounted_at`;
    expect(accountDeliveredSql('rp', sync, 'ADD', ranges, 'upsert').text).toBe(adds.text + upsert);
    expect(accountDeliveredSql('rp', sync, 'UPDATE', ranges).text).toBe(adds.text.replace(`c.op = 'ADD'`, `c.op = 'UPDATE'`) + upsert);
    // Removes are deleted by key, the sync id an InitPlan value (a plan independent of the snapshot's stale statistics).
    expect(accountDeliveredSql('rp', sync, 'REMOVE', ranges).text).toBe(
      `DELETE FROM "rp"."sync_snapshot" AS s USING ${confirmed.slice('FROM '.length).replace(`c.op = 'ADD'`, `c.op = 'REMOVE'`)} AND s.sync_id = (SELECT $1::uuid) AND s.audience = c.audience AND s.key = c.key`,
    );
  });
});
