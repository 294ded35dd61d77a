// The sync planner's SQL as text, and its filtering by mode.
import { describe, expect, it } from 'vitest';
import type { CompileContext, EntityMeta } from '../../src/segments/metadata.js';
import { accountDeliveredSql, currentRowsSql, filteredOps, nextBatchSql, planSql } from '../../src/sync/plan-sql.js';

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
      'SELECT DISTINCT ON (1, 2) $4::text AS audience, e."id"::text AS key, ' +
        `jsonb_build_object('fields', jsonb_build_object($1::text, e."email", $2::text, j1."name"), 'identifiers', jsonb_build_object($3::text, e."email"::text)) AS payload ` +
        'FROM "rp"."segment_members" AS m JOIN "wh"."users" AS e ON e."id" = m.key::bigint LEFT JOIN "wh"."companies" AS j1 ON j1."id" = e."company_id" WHERE m.segment_id = $5::uuid',
    );
    expect(params.values).toEqual(['Email', 'Company', 'EMAIL', 'VIPs', SEG]);
  });

  it('takes the audience from a column, skipping empty names', () => {
    const { text } = currentRowsSql(ctx, { entity: users, segmentId: null, audience: { kind: 'COLUMN', column: 'team' }, mappings: [], identifiers: [], segments: [] });
    expect(text).toContain('e."team"::text AS audience');
    expect(text).toContain(`WHERE e."team"::text IS NOT NULL AND e."team"::text <> ''`);
  });

  it('diffs against the snapshot in one statement with a FULL OUTER JOIN on audience and key', () => {
    const sql = planSql(ctx, { entity: users, segmentId: null, audience: { kind: 'FIXED', reference: 'A' }, mappings: [], identifiers: [], segments: [] }, {
      syncId: 's', runId: 'r', mode: 'ADDITIVE', removal: 'REMOVE', into: '"rp"."sync_changes"',
    });
    expect(sql.text).toContain('FROM c FULL OUTER JOIN s ON s.audience = c.audience AND s.key = c.key');
    expect(sql.text).toContain('WHERE s.key IS NULL OR c.key IS NULL OR s.payload_hash IS DISTINCT FROM c.payload_hash');
    expect(sql.text).toContain(`IN ('REMOVE')`);
    expect(sql.values.slice(-2)).toEqual(['s', 'r']);
  });

  it('filters by mode and removal behaviour', () => {
    expect(filteredOps('MIRROR', 'REMOVE')).toEqual([]);
    expect(filteredOps('MIRROR', 'DO_NOTHING')).toEqual(['REMOVE']);
    expect(filteredOps('ADDITIVE', 'REMOVE')).toEqual(['REMOVE']);
    expect(filteredOps('SUBTRACTIVE', 'REMOVE').sort()).toEqual(['ADD', 'UPDATE']);
    expect(filteredOps('SUBTRACTIVE', 'DO_NOTHING').sort()).toEqual(['ADD', 'REMOVE', 'UPDATE']);
  });

  it('streams batches by keyset and accounts only confirmed rows', () => {
    expect(nextBatchSql('"rp"."sync_changes"', 'r', 'ADD', 10, 500).text).toBe(
      `SELECT c.seq::int AS seq, c.audience, c.key, c.payload FROM "rp"."sync_changes" AS c WHERE c.run_id = $1::uuid AND c.op = $2 AND NOT c.filtered AND c.state = 'PENDING' AND c.seq > $3 ORDER BY c.seq LIMIT $4`,
    );
    // One statement: upserts of adds and updates, deletes of removes, for the confirmed seqs only.
    const [account, ...more] = accountDeliveredSql('rp', 's', 'r', [1, 2]);
    expect(more).toEqual([]);
    expect(account!.text).toContain(`ON CONFLICT (sync_id, audience, key) DO UPDATE`);
    expect(account!.text).toContain(`DELETE FROM "rp"."sync_snapshot"`);
    expect(account!.text).toContain(`FROM unnest($3::bigint[]) AS d(seq) JOIN "rp"."sync_changes" AS c ON c.run_id = $2::uuid AND c.seq = d.seq`);
    expect(account!.values).toEqual(['s', 'r', [1, 2]]);
  });
});
