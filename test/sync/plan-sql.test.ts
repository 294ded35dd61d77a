// The sync planner's SQL as text, and its filtering by mode.
import { describe, expect, it } from 'vitest';
import type { CompileContext, EntityMeta } from '../../src/segments/metadata.js';
import { accountDeliveredSql, changesTable, currentRowsSql, filteredOps, nextBatchSql, planSql, REMOVE_SEQ_BASE } from '../../src/sync/plan-sql.js';
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
    const { text, params } = currentRowsSql(ctx, {
      entity: users,
      segmentId: SEG,
      audience: { kind: 'FIXED', reference: 'VIPs' },
      mappings: [{ from: 'email', to: 'Email' }, { from: 'company.name', to: 'Company' }],
      identifiers: [{ type: 'EMAIL', column: 'email' }],
      segments: [],
    });
    // From the segment's members to their rows by the key's own type; many-to-one paths as LEFT JOINs.
    expect(text).toBe(
      'SELECT DISTINCT ON (1, 2) $4::text COLLATE "C" AS audience, e."id"::text COLLATE "C" AS key, ' +
        `jsonb_build_object('fields', jsonb_build_object($1::text, e."email", $2::text, j1."name"), 'identifiers', jsonb_build_object($3::text, e."email"::text))::text AS payload ` +
        'FROM "rp"."segment_members" AS m JOIN "wh"."users" AS e ON e."id" = m.key::bigint LEFT JOIN "wh"."companies" AS j1 ON j1."id" = e."company_id" WHERE m.segment_id = $5::uuid AND e."id" IS NOT NULL ORDER BY 1, 2',
    );
    expect(params.values).toEqual(['Email', 'Company', 'EMAIL', 'VIPs', SEG]);
  });

  it('takes the audience from a column, skipping empty names', () => {
    const { text } = currentRowsSql(ctx, { entity: users, segmentId: null, audience: { kind: 'COLUMN', column: 'team' }, mappings: [], identifiers: [], segments: [] });
    expect(text).toContain('e."team"::text COLLATE "C" AS audience');
    expect(text).toContain(`WHERE e."id" IS NOT NULL AND e."team"::text IS NOT NULL AND e."team"::text <> ''`);
  });

  it('diffs against the snapshot in one statement that creates the run\'s unlogged changes table, then gives removes their payload and seq', () => {
    const { diff, removes } = planSql(ctx, { entity: users, segmentId: null, audience: { kind: 'FIXED', reference: 'A' }, mappings: [], identifiers: [], segments: [] }, {
      syncId: 's', mode: 'ADDITIVE', removal: 'REMOVE', into: '"rp"."sync_changes_x"',
    });
    expect(diff!.text.startsWith('CREATE UNLOGGED TABLE "rp"."sync_changes_x" AS WITH c AS (')).toBe(true);
    expect(diff!.text).toContain('FROM c FULL OUTER JOIN s ON s.audience = c.audience COLLATE "C" AND s.key = c.key COLLATE "C"');
    // The snapshot side is keys and hashes only: no payload in the hash table.
    expect(diff!.text).toContain(`s AS (SELECT audience, key, payload_hash FROM "rp"."sync_snapshot" WHERE sync_id = $2::uuid)`);
    // A fixed audience: numbered by key alone, the order the current rows are sorted in.
    expect(diff!.text).toContain('row_number() OVER (ORDER BY cur.key) AS seq');
    // Payloads as JSON text, built by the parallel workers; their hash, of that text.
    expect(diff!.text).toContain(`c AS (SELECT cur.audience, cur.key, cur.payload, to_hex(hashtextextended(cur.payload::text, 0)) AS payload_hash,`);
    expect(diff!.text).toContain(`'identifiers', jsonb_build_object())::text AS payload FROM`);
    expect(diff!.text).toContain('WHERE s.key IS NULL OR c.key IS NULL OR s.payload_hash IS DISTINCT FROM c.payload_hash');
    expect(diff!.text).toContain(`IN ('REMOVE')`);
    expect(diff!.values.slice(-1)).toEqual(['s']);
    // Removes: the payload last sent, and seqs after every current row's, in (audience, key) order.
    expect(removes!.text).toBe(
      `UPDATE "rp"."sync_changes_x" AS ch SET seq = ${REMOVE_SEQ_BASE} + r.n, payload = r.payload ` +
        `FROM (SELECT x.ctid AS row, s.payload, row_number() OVER (ORDER BY x.audience, x.key) AS n FROM "rp"."sync_changes_x" AS x ` +
        `JOIN "rp"."sync_snapshot" AS s ON s.sync_id = $1::uuid AND s.audience = x.audience AND s.key = x.key WHERE x.op = 'REMOVE') AS r WHERE ch.ctid = r.row`,
    );
    expect(removes!.values).toEqual(['s']);

    const { diff: byColumn } = planSql(ctx, { entity: users, segmentId: null, audience: { kind: 'COLUMN', column: 'team' }, mappings: [], identifiers: [], segments: [] }, {
      syncId: 's', mode: 'MIRROR', removal: 'REMOVE', into: 'roster_preview', temporary: true,
    });
    expect(byColumn!.text.startsWith('CREATE TEMPORARY TABLE roster_preview ON COMMIT DROP AS ')).toBe(true);
    expect(byColumn!.text).toContain('row_number() OVER (ORDER BY cur.audience, cur.key) AS seq');
  });

  it('skips deduplication when the warehouse declares the keys unique, keeping the order', () => {
    const shape = { entity: users, segmentId: null, mappings: [{ from: 'company.name', to: 'Company' }], identifiers: [], segments: [], uniqueKeys: true };
    const fixed = currentRowsSql(ctx, { ...shape, audience: { kind: 'FIXED', reference: 'A' } }).text;
    expect(fixed.startsWith('SELECT $2::text COLLATE "C" AS audience')).toBe(true);
    expect(fixed.endsWith('WHERE e."id" IS NOT NULL ORDER BY 1, 2')).toBe(true);
    expect(planSql(ctx, { ...shape, audience: { kind: 'FIXED', reference: 'A' } }, { syncId: 's', mode: 'MIRROR', removal: 'REMOVE', into: 't' }).diff.text).toContain('row_number() OVER (ORDER BY cur.key) AS seq');
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
    expect(nextBatchSql('"rp"."sync_changes_x"', 'ADD', '10', 500).text).toBe(
      `SELECT c.seq, c.audience, c.key, c.payload FROM "rp"."sync_changes_x" AS c WHERE c.op = $1 AND NOT c.filtered AND c.state = 'PENDING' AND c.seq > $2 ORDER BY c.seq LIMIT $3`,
    );
    // One statement per operation, for the PENDING rows of each confirmed range (refused rows are marked first).
    const sync = '00000000-0000-4000-8000-000000000001';
    const changes = '"rp"."sync_changes_00000000000040008000000000000001"';
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
