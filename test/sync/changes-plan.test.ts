// The plans PostgreSQL makes for a run's per-batch reads once the changes
// table has its key and its (sampled) statistics: a page is read from the
// key's index and stops after its rows, for a common operation and a rare
// one alike. A page read that sorts the rest of the table instead makes a
// run quadratic in its size (bench/README.md).
import { afterAll, describe, expect, it } from 'vitest';
import { createChangesIndexSql, nextBatchSql } from '../../src/sync/plan-sql.js';
import { inTransaction } from '../../src/lib/transaction.js';
import { useTestDatabase } from '../support/db.js';

const t = await useTestDatabase();
const pool = t.db.pool;
const changes = 'public.sync_changes_plan_test';

afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS ${changes}`);
});

/** The plan's nodes, top down, as EXPLAIN names them. */
async function planOf(q: { text: string; values: unknown[] }): Promise<string[]> {
  const { rows } = await pool.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>({ text: `EXPLAIN (FORMAT JSON) ${q.text}`, values: q.values });
  const out: string[] = [];
  const walk = (n: PlanNode) => {
    out.push(n['Node Type'] + (n['Index Name'] ? ` ${n['Index Name']}` : ''));
    for (const c of n.Plans ?? []) walk(c);
  };
  walk(rows[0]!['QUERY PLAN'][0].Plan);
  return out;
}
interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

describe("a run's changes table", () => {
  it('is read a page at a time through its key, whatever the mix of operations', async () => {
    // 200,000 adds with payloads, 600 removes (0.3%), 50 updates among them.
    await pool.query(
      `CREATE UNLOGGED TABLE ${changes} AS SELECT g::bigint AS seq, 'A'::text AS audience, g::text AS key, ` +
        `CASE WHEN g % 333 = 0 THEN 'REMOVE' WHEN g % 4001 = 0 THEN 'UPDATE' ELSE 'ADD' END AS op, repeat('x', 300) AS payload, 'v1'::text AS payload_hash, ` +
        `false AS filtered, 'PENDING'::text AS state, NULL::text AS message, NULL::text AS code FROM generate_series(1, 200000) AS g`,
    );
    await inTransaction(pool, async (client) => {
      for (const q of createChangesIndexSql(changes)) await client.query(q);
    });
    // Without statistics, each page was a bitmap scan of every later row, then a sort.
    for (const op of ['ADD', 'REMOVE', 'UPDATE'] as const) {
      const plan = await planOf(nextBatchSql(changes, op, '100000', 1000));
      expect(plan, op).toEqual(['Limit', 'Index Scan sync_changes_plan_test_pkey']);
    }
    // Statistics of the filtered columns only, and the smaller sample was the transaction's only.
    const { rows: analysed } = await pool.query(`SELECT attname FROM pg_stats WHERE tablename = 'sync_changes_plan_test' ORDER BY attname`);
    expect(analysed.map((r) => r.attname)).toEqual(['filtered', 'op', 'seq', 'state']);
    expect((await pool.query(`SELECT current_setting('default_statistics_target') AS v`)).rows[0].v).toBe('100');
  });
});
