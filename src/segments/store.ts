// Materialised memberships in the planner schema, and the reads built on
// them. SQL is built by the pure functions in this file's first half and run
// by the functions in its second half.
import type pg from 'pg';
import { quoteIdent, type SqlQuery } from '../lib/sql.js';
import { relationSql, type EntityMeta } from './metadata.js';
import { bucketBits, createSegmentTablesSql, MAX_BITS_DRIFT, MEMBERS_SETTINGS, memberSql, replaceMembersSql, segmentBucketsTable, segmentMembersTable, segmentSizesTable } from './store-sql.js';
import { inTransaction } from '../lib/transaction.js';

// ─── SQL (pure) ──────────────────────────────────────────────────────────────

function keyOf(entity: EntityMeta, alias = 'e'): string {
  return `${alias}.${quoteIdent(entity.primaryKey)}::text`;
}

/**
 * Size and a sample of members with their attributes, for an unsaved
 * condition: the members computed once, counted, and the first `limit` of
 * them by key joined to their rows by the key column in its own type (see
 * keyMatchSql), a probe each. Joined before they were limited, by the key
 * as text, PostgreSQL sorted every row of the entity by it and scanned the
 * members once per row it read: 2.4–2.5 s for 300,000 members of 1,000,000
 * users where this takes 0.42 s (1.5 s against 0.27 s for 56,000; psql,
 * bench/README.md: thirteenth round). Always one row at least, with the
 * size (a NULL record when there is no sample).
 */
export function previewSql(entity: EntityMeta, members: SqlQuery, limit: number): SqlQuery {
  const n = members.values.length;
  return {
    text:
      `WITH m AS MATERIALIZED (${members.text}), s AS (SELECT m.key FROM m WHERE m.key IS NOT NULL ORDER BY m.key LIMIT $${n + 1}) ` +
      `SELECT c.size, to_jsonb(e) AS record FROM (SELECT count(*)::int AS size FROM m) AS c ` +
      `LEFT JOIN (s JOIN ${relationSql(entity)} AS e ON ${keyMatchSql(entity, 's.key')}) ON true ORDER BY s.key`,
    values: [...members.values, limit],
  };
}

/**
 * A record's attributes and which of the given segments it is in: one
 * statement, one probe of each segment's bucket for the key (see memberSql).
 */
export function recordSql(plannerSchema: string, entity: EntityMeta, key: string, segmentIds: string[]): SqlQuery {
  return {
    text:
      `SELECT to_jsonb(e) AS record, ARRAY(SELECT s.id::text FROM unnest($2::uuid[]) AS s(id) ` +
      `WHERE ${memberSql(plannerSchema, 's.id', '$1::text')} ORDER BY s.id) AS segments ` +
      `FROM ${relationSql(entity)} AS e WHERE ${keyEquals(entity, key)} LIMIT 1`,
    values: [key, segmentIds],
  };
}

/**
 * The entity's key column (alias e) equal to `text`, a parameter or column
 * holding a key as text, compared in the column's own type so that the
 * table's key index serves it (comparing `key::text` reads every row:
 * bench/, record lookups). `text` must cast to that type: a member's key
 * does (it is the column's own text); a key from outside is checked first
 * (keyEquals).
 */
function keyMatchSql(entity: EntityMeta, text: string): string {
  const column = entity.columns.find((c) => c.name === entity.primaryKey);
  const e = `e.${quoteIdent(entity.primaryKey)}`;
  switch (column?.type) {
    case 'INTEGER':
      return `${e} = ${text}::bigint`;
    case 'UUID':
      return `${e} = ${text}::uuid`;
    case 'STRING':
      return `${e} = ${text}`;
    default:
      return `${keyOf(entity)} = ${text}`;
  }
}

/**
 * The key column compared with the looked-up key ($1, text), as keyMatchSql
 * does. A key that cannot be of the column's type matches nothing, without
 * an error.
 */
function keyEquals(entity: EntityMeta, key: string): string {
  const type = entity.columns.find((c) => c.name === entity.primaryKey)?.type;
  if (type === 'INTEGER' && !/^-?\d{1,18}$/.test(key)) return 'false';
  if (type === 'UUID' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(key)) return 'false';
  return keyMatchSql(entity, '$1');
}

/**
 * Every record of an entity with the list of segments it is in, in one pass
 * (a hash join against the grouped memberships, not one query per segment):
 * what a sync of a whole entity maps as `segmentMembership`.
 */
export function entityMembershipsSql(plannerSchema: string, entity: EntityMeta, segmentIds: string[]): SqlQuery {
  return {
    text:
      `SELECT ${keyOf(entity)} AS key, COALESCE(g.segments, ARRAY[]::text[]) AS segments ` +
      `FROM ${relationSql(entity)} AS e LEFT JOIN (` +
      `SELECT m.key, array_agg(m.segment_id::text ORDER BY m.segment_id) AS segments FROM ${segmentMembersTable(plannerSchema)} AS m ` +
      `WHERE m.segment_id = ANY($1::uuid[]) GROUP BY m.key) AS g ON g.key = ${keyOf(entity)}`,
    values: [segmentIds],
  };
}

/** All pairwise intersections (and, on the diagonal, sizes) of up to 10 segments in one statement. */
export function overlapSql(plannerSchema: string, segmentIds: string[]): SqlQuery {
  const table = segmentMembersTable(plannerSchema);
  return {
    text:
      `SELECT a.segment_id::text AS a, b.segment_id::text AS b, count(*)::int AS count ` +
      `FROM ${table} AS a JOIN ${table} AS b ON b.key = a.key AND b.segment_id >= a.segment_id ` +
      `WHERE a.segment_id = ANY($1::uuid[]) AND b.segment_id = ANY($1::uuid[]) GROUP BY 1, 2`,
    values: [segmentIds],
  };
}

/** The top values of one of the entity's columns among a segment's members. */
export function breakdownSql(plannerSchema: string, entity: EntityMeta, segmentId: string, column: string, limit: number): SqlQuery {
  return {
    text:
      `SELECT e.${quoteIdent(column)}::text AS value, count(*)::int AS count ` +
      `FROM ${segmentMembersTable(plannerSchema)} AS m JOIN ${relationSql(entity)} AS e ON ${keyOf(entity)} = m.key ` +
      `WHERE m.segment_id = $1::uuid GROUP BY 1 ORDER BY 2 DESC, 1 NULLS LAST LIMIT $2`,
    values: [segmentId, limit],
  };
}

// ─── Execution ───────────────────────────────────────────────────────────────

/** A segment's membership lock ($1: its id), held to the end of the transaction. */
const segmentLockSql = `SELECT pg_advisory_xact_lock(hashtextextended('roster.segment.' || $1, 0))`;

export interface MaterialiseResult {
  size: number;
  entered: number;
  exited: number;
}

/**
 * Replaces a segment's membership with the current result of its query, in
 * one transaction: readers see the old membership or the new one, never half.
 * A transaction-scoped advisory lock keeps two workers from materialising the
 * same segment at once. `uniqueKeys`: the warehouse guarantees one row per
 * key (see replaceMembersSql).
 */
export async function materialise(pool: pg.Pool, plannerSchema: string, segmentId: string, members: SqlQuery, opts: { uniqueKeys?: boolean } = {}): Promise<MaterialiseResult> {
  const sql = replaceMembersSql(plannerSchema, members, segmentId, opts);
  await pool.query(createSegmentTablesSql(plannerSchema));
  return inTransaction(pool, async (client) => {
    // Two workers never materialise the same segment at once.
    await client.query(segmentLockSql, [segmentId]);
    const previous = (await client.query<{ size: number; bits: number }>(sql.previous)).rows[0];
    // A segment with members keeps its bits; a new or empty one takes them
    // from the planner's estimate, and the size found corrects them below.
    const had = previous !== undefined && previous.size > 0;
    const bits = had ? previous.bits : bucketBits(estimatedRows((await client.query(sql.estimate)).rows));
    await client.query(sql.stage(bits));
    for (const q of sql.writeSettings) await client.query(q);
    let result: MaterialiseResult;
    if (had) {
      const { size, entered } = (await client.query<{ size: number; entered: number }>(sql.apply(bits))).rows[0]!;
      result = { size, entered, exited: previous.size + entered - size };
    } else {
      const { size } = (await client.query<{ size: number }>(sql.size)).rows[0]!;
      result = { size, entered: size, exited: 0 };
    }
    // Renumbered when the size moved the bits too far (written anew, in one
    // go: a segment that had none, or one that grew or shrank a lot).
    const fitting = bucketBits(result.size);
    const kept = Math.abs(fitting - bits) <= MAX_BITS_DRIFT;
    if (!had || !kept) {
      await client.query(sql.forget);
      await client.query(kept ? sql.insertAll : sql.rebucket(fitting));
    }
    for (const q of sql.analyse) await client.query(q);
    await client.query(sql.recordSize(result.size, kept ? bits : fitting));
    return result;
  }, { settings: MEMBERS_SETTINGS });
}

/** The row count of the top node of an `EXPLAIN (FORMAT JSON)`'s rows (0 if it has none). */
function estimatedRows(rows: { 'QUERY PLAN'?: unknown }[]): number {
  const plan = (rows[0]?.['QUERY PLAN'] as { Plan?: { 'Plan Rows'?: unknown } }[] | undefined)?.[0]?.Plan;
  const n = Number(plan?.['Plan Rows']);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** Forgets a deleted segment's membership (under its lock: never while it is being written). */
export async function dropMembership(pool: pg.Pool, plannerSchema: string, segmentId: string): Promise<void> {
  await pool.query(createSegmentTablesSql(plannerSchema));
  await inTransaction(pool, async (client) => {
    await client.query(segmentLockSql, [segmentId]);
    await client.query(`DELETE FROM ${segmentBucketsTable(plannerSchema)} WHERE segment_id = $1::uuid`, [segmentId]);
    await client.query(`DELETE FROM ${segmentSizesTable(plannerSchema)} WHERE segment_id = $1::uuid`, [segmentId]);
  });
}
