// The plans PostgreSQL makes for what a run does once per batch, once the
// changes table has its key and its (sampled) statistics: a page is read
// from the key's index and stops after its rows, for a common operation and
// a rare one alike; a confirmed group is accounted by a range scan of that
// key per range and a probe of the snapshot's key per row, however many
// ranges it has. A page read that sorts the rest of the table, or an
// accounting write that scans it, makes a run quadratic in its size
// (bench/README.md).
import { afterAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import {
  ACCOUNT_SETTINGS,
  accountDeliveredSql,
  changesTable,
  countChangesSql,
  createChangesIndexSql,
  createSyncTablesSql,
  currentRowsSql,
  markRejectedSql,
  nextBatchSql,
  PLAN_SETTINGS,
  plannedCountsSql,
  seqBase,
  snapshotTable,
  type ConfirmedRange,
} from '../../src/sync/plan-sql.js';
import { inTransaction } from '../../src/lib/transaction.js';
import type { CompileContext, EntityMeta } from '../../src/segments/metadata.js';
import { createSegmentTablesSql } from '../../src/segments/store-sql.js';
import { setMembers } from '../support/members.js';
import { useTestDatabase } from '../support/db.js';

const t = await useTestDatabase();
const pool = t.db.pool;
const planner = 'changes_plan_test';
const syncId = '6b0c1f8e-0d7e-4a57-9a0e-3f1d2c4b5a69';
const changes = changesTable(planner, syncId);
/** The plan node of a scan of a table's primary key. */
const pkey = (table: string) => `Index Scan ${table.split('.')[1]!.replace(/"/g, '')}_pkey`;

afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${planner} CASCADE`);
});

interface Plan {
  /** The plan's nodes, top down, as EXPLAIN names them. */
  nodes: string[];
  /** Whether PostgreSQL would compile the statement with JIT. */
  jit: boolean;
}

async function planOf(q: { text: string; values: unknown[] }, client: pg.Pool | pg.PoolClient = pool): Promise<Plan> {
  const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode; JIT?: unknown }] }>({ text: `EXPLAIN (FORMAT JSON) ${q.text}`, values: q.values });
  const nodes: string[] = [];
  const walk = (n: PlanNode) => {
    nodes.push(n['Node Type'] + (n['Index Name'] ? ` ${n['Index Name']}` : n['Relation Name'] ? ` ${n['Relation Name']}` : ''));
    for (const c of n.Plans ?? []) walk(c);
  };
  const [top] = rows[0]!['QUERY PLAN'];
  walk(top.Plan);
  return { nodes, jit: top.JIT !== undefined };
}
interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

describe("a run's changes table", () => {
  it('is read a page at a time through its key, whatever the mix of operations', async () => {
    // 200,000 adds with payloads, 600 removes (0.3%), 50 updates among them.
    await pool.query(`CREATE SCHEMA ${planner}`);
    await pool.query(createSyncTablesSql(planner));
    // Numbered as a plan numbers them: each operation from its own base.
    await pool.query(
      `CREATE UNLOGGED TABLE ${changes} AS SELECT CASE op WHEN 'ADD' THEN ${seqBase('ADD')} WHEN 'UPDATE' THEN ${seqBase('UPDATE')} ELSE ${seqBase('REMOVE')} END + row_number() OVER (PARTITION BY op ORDER BY g) AS seq, ` +
        `'A'::text AS audience, g::text AS key, op, repeat('x', 300) AS payload, 'v1'::text AS payload_hash, ` +
        `false AS filtered, 'PENDING'::text AS state, NULL::text AS message, NULL::text AS code ` +
        `FROM generate_series(1, 200000) AS g, LATERAL (SELECT CASE WHEN g % 333 = 0 THEN 'REMOVE' WHEN g % 4001 = 0 THEN 'UPDATE' ELSE 'ADD' END AS op) AS o`,
    );
    await inTransaction(pool, async (client) => {
      for (const q of createChangesIndexSql(changes)) await client.query(q);
    });
    // The sync's snapshot: every key sent before (the removes' payloads are read from it).
    await pool.query(
      `INSERT INTO ${snapshotTable(planner)} (sync_id, audience, key, payload_hash, payload, accounted_at) ` +
        `SELECT $1::uuid, 'A', g::text, 'v1', repeat('y', 300), now() FROM generate_series(1, 200000) AS g`,
      [syncId],
    );
    // Without statistics, each page was a bitmap scan of every later row, then a sort. A page of
    // removes probes the snapshot's key per row, whether the snapshot's statistics are stale
    // (a run's accounting grows and shrinks it) or not.
    for (const analysed of [false, true]) {
      if (analysed) await pool.query(`ANALYZE ${snapshotTable(planner)}`);
      for (const op of ['ADD', 'REMOVE', 'UPDATE'] as const) {
        for (const after of [seqBase(op), String(BigInt(seqBase(op)) + 100n)]) {
          const plan = await planOf(nextBatchSql(planner, syncId, op, after, 1000));
          expect(plan.nodes, op).toEqual(op === 'REMOVE' ? ['Limit', pkey(changes), 'Index Scan sync_snapshot_pkey'] : ['Limit', pkey(changes)]);
        }
      }
    }
    // A row no longer in the snapshot (accounted by an overlapping run) comes without its payload.
    await pool.query(`DELETE FROM ${snapshotTable(planner)} WHERE sync_id = $1::uuid AND key = '666'`, [syncId]);
    const { rows: removes } = await pool.query(nextBatchSql(planner, syncId, 'REMOVE', seqBase('REMOVE'), 3));
    expect(removes.map((r) => [r.key, r.payload])).toEqual([['333', 'y'.repeat(300)], ['666', null], ['999', 'y'.repeat(300)]]);
    // The counts are probes of the end of each operation's block, and equal a scan's.
    const counts = plannedCountsSql(changes);
    expect((await planOf(counts)).nodes.filter((n) => n.startsWith('Seq Scan') || n.startsWith('Bitmap'))).toEqual([]);
    const { rows: probed } = await pool.query(counts);
    const { rows: scanned } = await pool.query(countChangesSql(changes));
    expect(Object.fromEntries(probed.map((r) => [r.op, r.n]))).toEqual({ ADD: 199_351, UPDATE: 49, REMOVE: 600 });
    expect(Object.fromEntries(scanned.map((r) => [r.op, r.n]))).toEqual({ ADD: 199_351, UPDATE: 49, REMOVE: 600 });
    // Statistics of the filtered columns only, and the smaller sample was the transaction's only.
    const { rows: analysed } = await pool.query(`SELECT attname FROM pg_stats WHERE schemaname = $1 AND tablename LIKE 'sync_changes_%' ORDER BY attname`, [planner]);
    expect(analysed.map((r) => r.attname)).toEqual(['filtered', 'op', 'seq', 'state']);
    expect((await pool.query(`SELECT current_setting('default_statistics_target') AS v`)).rows[0].v).toBe('100');
  });

  it('accounts a confirmed group by range scans of its key and probes of the snapshot, however many ranges it has', async () => {
    // 25 confirmed ranges in one write (the accountant groups what waits:
    // at the webhook's default batch of 500 rows, up to 20 batches, see
    // unaccountedGroups). Without
    // the settings, the planner guessed a ninth of the table for each range
    // and scanned all of it (a hash join), and priced the DELETE past JIT's
    // threshold.
    const ranges: ConfirmedRange[] = Array.from({ length: 25 }, (_, i) => ({ audience: 'A', first: String(50_001 + i * 1000), last: String(51_000 + i * 1000) }));
    const statements = {
      insert: accountDeliveredSql(planner, syncId, 'ADD', ranges, 'insert'),
      upsert: accountDeliveredSql(planner, syncId, 'ADD', ranges, 'upsert'),
      update: accountDeliveredSql(planner, syncId, 'UPDATE', ranges),
      remove: accountDeliveredSql(planner, syncId, 'REMOVE', ranges),
      refusals: markRejectedSql(changes, Array.from({ length: 500 }, (_, i) => ({ seq: String(1 + i * 397), message: 'refused', code: null }))),
    };
    await inTransaction(
      pool,
      async (client) => {
        for (const [name, q] of Object.entries(statements)) {
          const plan = await planOf(q, client);
          expect(plan.jit, name).toBe(false);
          expect(plan.nodes.filter((n) => n.startsWith('Seq Scan') || n.startsWith('Bitmap') || n.includes('Hash')), name).toEqual([]);
          expect(plan.nodes, name).toContain(pkey(changes));
          if (name === 'remove') expect(plan.nodes, name).toContain('Index Scan sync_snapshot_pkey');
        }
      },
      { settings: ACCOUNT_SETTINGS },
    );
  });
});

describe("a segment sync's current rows", () => {
  it('join the unnested members with the entity by hashing, not by a cached probe of its key per member', async () => {
    // PostgreSQL has no statistics of unnested keys: left to itself it
    // assumed a few hundred distinct ones and put a Memoize cache in front
    // of a probe of the entity's key for each of the 30,000 members.
    const wh = `${planner}_wh`;
    const users: EntityMeta = {
      id: 'u',
      name: 'Users',
      from: { table: { schema: wh, name: 'users' } },
      primaryKey: 'id',
      columns: [
        { name: 'id', dataType: 'bigint', type: 'INTEGER', nullable: false },
        { name: 'email', dataType: 'text', type: 'STRING', nullable: true },
      ],
      relationships: [],
    };
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${planner}; CREATE SCHEMA ${wh};
      CREATE TABLE ${wh}.users (id bigint PRIMARY KEY, email text);
      INSERT INTO ${wh}.users SELECT g, 'u' || g || '@x' FROM generate_series(1, 200000) AS g;
      ANALYZE ${wh}.users;`);
    await pool.query(createSegmentTablesSql(planner));
    const segment = '0193a3d2-7f00-7000-8000-000000000001';
    await setMembers(pool, planner, segment, Array.from({ length: 30_000 }, (_, i) => String(i * 5 + 1)));
    const ctx: CompileContext = { entities: new Map([['u', users]]), segments: new Map(), plannerSchema: planner };
    const { text, params } = currentRowsSql(ctx, { entity: users, segmentId: segment, audience: { kind: 'FIXED', reference: 'A' }, mappings: [{ from: 'email', to: 'email' }], identifiers: [], segments: [] });
    await inTransaction(
      pool,
      async (client) => {
        const plan = await planOf({ text, values: params.values }, client);
        expect(plan.nodes.filter((n) => n.startsWith('Memoize'))).toEqual([]);
        expect(plan.nodes.some((n) => n.includes('Hash Join'))).toBe(true);
        expect(plan.nodes).toContain(`Seq Scan users`);
      },
      { settings: PLAN_SETTINGS },
    );
    await pool.query(`DROP SCHEMA ${wh} CASCADE`);
  });
});
