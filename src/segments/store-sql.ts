// Where materialised memberships live: one table in each source's planner
// schema, shared by all of the source's segments, keyed by (segment, record
// key as text). One table (not one per segment) is what lets a record's
// memberships, overlaps and whole-entity membership lists be one statement.
import { byteOrderColumnsStep, qualified, quoteIdent, sampledAnalyzeSql } from '../lib/sql.js';

export const SEGMENT_MEMBERS_TABLE = 'segment_members';

export function segmentMembersTable(plannerSchema: string): string {
  return qualified(plannerSchema, SEGMENT_MEMBERS_TABLE);
}

/**
 * Idempotent DDL for the membership table. Its one index is the primary key,
 * (segment_id, key): every read names its segments (a record's lookup names
 * the entity's segments, `segment_id = ANY(…) AND key = $1`, one probe per
 * segment), and an evaluation writes each entering member into one index
 * instead of two. The by-key index of earlier versions doubled the cost of
 * every evaluation's writes (bench/: evaluate); it is dropped.
 *
 * Keys are in the "C" collation (byte order, compared with memcmp), the
 * order evaluations insert them in. Under the database's default collation
 * every comparison in the index went through the locale: writing 300,000
 * members took about 20% longer under ICU en-US and 6% under C.UTF-8 (in
 * psql, medians of four and five runs), and under a locale whose order is
 * not byte order, the sorted inserts reached the index out of its order. A
 * table of an earlier version is altered once, under a lock: the index is
 * rebuilt, the table is not.
 */
export function createSegmentTablesSql(plannerSchema: string): string {
  const table = segmentMembersTable(plannerSchema);
  const lock = `PERFORM pg_advisory_xact_lock(hashtextextended('roster.segment_members.${plannerSchema}', 0)); `;
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (segment_id uuid NOT NULL, key text COLLATE "C" NOT NULL, entered_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (segment_id, key))`,
    `DO $roster$ BEGIN ${byteOrderColumnsStep(table, ['key'], lock)}END $roster$`,
    `DROP INDEX IF EXISTS ${quoteIdent(plannerSchema)}.segment_members_by_key`,
  ].join(';\n');
}

/** The temporary table an evaluation stages its members in (dropped at commit). */
export const STAGED_MEMBERS_TABLE = 'roster_staged_members';

/**
 * The statements that replace a segment's membership with the rows of
 * `members` (a query yielding `key`), run in this order in one transaction
 * that holds the segment's advisory lock:
 *
 * - hasMembers: whether the segment has members now;
 * - stage: the members into a temporary table, by CREATE TABLE AS (unlike
 *   INSERT … SELECT, PostgreSQL may run that query with parallel workers);
 *   its row count is the segment's size. De-duplicated unless the warehouse
 *   guarantees one row per key (`uniqueKeys`, src/segments/unique-keys.ts),
 *   which spares hashing every member. For a segment without members,
 *   `stageSorted` instead, sorted byte-wise by the parallel workers;
 * - when it had none (a first evaluation), `insertAll` writes the staged
 *   members in the order they were staged, and that is all: nobody leaves,
 *   everybody enters. The order of a fresh temporary table's rows is the
 *   order they were written in (one writer, no updates, and temporary
 *   tables are never scanned from a synchronised start); only the speed of
 *   the insert depends on it, not its result. Sorting there instead, in one
 *   process and with the session's work_mem, spilled to disk and cost a
 *   fifth of the insert (bench/: evaluate);
 * - otherwise analyse: statistics of the staged members (sampled), for the
 *   join below;
 * - applySettings: the hash of the current members and the sort of those
 *   who enter, in memory: at 4MB, the usual default, both spilled to disk
 *   from about 100,000 members. Only now, after staging: the members' query
 *   is planned with the warehouse's own settings (with 64MB, the bench's was
 *   planned as a hash of every event, 25% slower: bench/, evaluate);
 * - and apply: one pass over the segment's current members (a FULL JOIN with
 *   the staged ones) finds who left and who joined; those who left are
 *   deleted by their row address, those who joined inserted in key order.
 *   Members who stay cost one hash probe, not an index lookup and a
 *   speculative insertion.
 *
 * New members are inserted sorted byte-wise, the order of the index (see
 * createSegmentTablesSql), which keeps the index's writes on neighbouring
 * pages.
 */
export function replaceMembersSql(plannerSchema: string, members: { text: string; values: unknown[] }, segmentId: string, evaluatedAt: Date, opts: { uniqueKeys?: boolean } = {}) {
  const table = segmentMembersTable(plannerSchema);
  const staged = STAGED_MEMBERS_TABLE;
  const select = `SELECT ${opts.uniqueKeys ? '' : 'DISTINCT '}key FROM (${members.text}) AS q WHERE key IS NOT NULL`;
  const create = `CREATE TEMPORARY TABLE ${staged} ON COMMIT DROP AS `;
  return {
    // The segment's first key in the index's order: as an EXISTS, PostgreSQL
    // may scan the table from its start, through every other segment's rows.
    hasMembers: {
      text: `SELECT true AS any FROM ${table} WHERE segment_id = $1::uuid ORDER BY segment_id, key LIMIT 1`,
      values: [segmentId],
    },
    stage: { text: create + select, values: members.values },
    // (DISTINCT allows no ORDER BY of an expression it does not select.)
    stageSorted: { text: `${create}${opts.uniqueKeys ? select : `SELECT key FROM (${select}) AS d`} ORDER BY key COLLATE "C"`, values: members.values },
    insertAll: {
      text: `INSERT INTO ${table} (segment_id, key, entered_at) SELECT $1::uuid, key, $2::timestamptz FROM ${staged}`,
      values: [segmentId, evaluatedAt],
    },
    analyse: sampledAnalyzeSql(staged),
    applySettings: [`SET LOCAL work_mem = '64MB'`],
    apply: {
      text:
        `WITH d AS MATERIALIZED (SELECT n.key AS entering, o.ctid AS leaving FROM ${staged} AS n ` +
        `FULL JOIN (SELECT m.ctid, m.key FROM ${table} AS m WHERE m.segment_id = $1::uuid) AS o ON o.key = n.key ` +
        `WHERE n.key IS NULL OR o.key IS NULL), ` +
        `exited AS (DELETE FROM ${table} AS m USING d WHERE d.leaving IS NOT NULL AND m.ctid = d.leaving AND m.segment_id = $1::uuid RETURNING 1), ` +
        `entered AS (INSERT INTO ${table} (segment_id, key, entered_at) SELECT $1::uuid, d.entering, $2::timestamptz FROM d WHERE d.entering IS NOT NULL ORDER BY d.entering COLLATE "C" RETURNING 1) ` +
        `SELECT (SELECT count(*) FROM entered)::int AS entered, (SELECT count(*) FROM exited)::int AS exited`,
      values: [segmentId, evaluatedAt],
    },
  };
}
