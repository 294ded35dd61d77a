// Where materialised memberships live: one table in each source's planner
// schema, shared by all of the source's segments, keyed by (segment, record
// key as text). One table (not one per segment) is what lets a record's
// memberships, overlaps and whole-entity membership lists be one statement.
import { byteOrderColumnsStep, qualified, quoteIdent } from '../lib/sql.js';

export const SEGMENT_MEMBERS_TABLE = 'segment_members';

export function segmentMembersTable(plannerSchema: string): string {
  return qualified(plannerSchema, SEGMENT_MEMBERS_TABLE);
}

/**
 * Each segment's member count, written in the transaction that writes its
 * members, so that a re-evaluation knows the size it starts from without
 * counting them (0.06–0.11 s of a 1.4–2 s re-evaluation of 300,000
 * members, bench/: evaluate).
 */
export const SEGMENT_SIZES_TABLE = 'segment_sizes';

export function segmentSizesTable(plannerSchema: string): string {
  return qualified(plannerSchema, SEGMENT_SIZES_TABLE);
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
    `CREATE TABLE IF NOT EXISTS ${segmentSizesTable(plannerSchema)} (segment_id uuid PRIMARY KEY, size integer NOT NULL)`,
  ].join(';\n');
}

/**
 * Settings of a transaction that runs a members' query (an evaluation, a
 * preview). PostgreSQL compiles a statement with JIT above a cost of
 * 100,000 (its default), which the bench's members' query passes (about
 * 150,000, for 1,000,000 users and 4,000,000 events): compiling it in the
 * leader and each parallel worker took 0.22–0.27 s of a statement that ran
 * 1.27–1.29 s without (CREATE TABLE AS in psql, alternating, four times
 * each), and won nothing back; a re-evaluation's statement was 0.2–0.3 s
 * faster too. Compiling costs what the statement's expressions cost, not
 * its rows: at a hundred times the cost (a query of minutes) it is a small
 * part of the time, and JIT may pay, so the threshold is raised, not
 * removed.
 */
export const MEMBERS_SETTINGS = ['SET LOCAL jit_above_cost = 10000000'];

/** The temporary table a first evaluation stages its members in (dropped at commit). */
export const STAGED_MEMBERS_TABLE = 'roster_staged_members';

/** The temporary table a re-evaluation writes who enters and who leaves to (dropped at commit). */
export const MEMBER_CHANGES_TABLE = 'roster_member_changes';

/**
 * The statements that replace a segment's membership with the rows of
 * `members` (a query yielding `key`), run in this order in one transaction
 * that holds the segment's advisory lock:
 *
 * - size: the segment's members now, as the sizes table has them; counted
 *   when it has no row for the segment (a membership an earlier version
 *   wrote). The new size is this plus those who enter minus those who
 *   leave, and `recordSize` writes it once the members are written;
 * - when it has none (a first evaluation), `stageSorted`: the members into a
 *   temporary table, by CREATE TABLE AS (unlike INSERT … SELECT, PostgreSQL
 *   may run that query with parallel workers), sorted byte-wise by those
 *   workers; its row count is the segment's size. Then `insertAll` writes
 *   them in the order staged, and that is all: nobody leaves, everybody
 *   enters. The order of a fresh temporary table's rows is the order they
 *   were written in (one writer, no updates, and temporary tables are never
 *   scanned from a synchronised start); only the speed of the insert depends
 *   on it, not its result. Sorting there instead, in one process and with the
 *   session's work_mem, spilled to disk and cost a fifth of the insert
 *   (bench/: evaluate);
 * - otherwise `changes`: only the difference, written by CREATE TABLE AS as
 *   well: the members' query (its parallel workers compute the members) FULL
 *   JOINed with the segment's current members, keeping the keys that enter
 *   and the row addresses of those who leave. Members who stay cost one hash
 *   probe and are written nowhere: staging every member first, then joining
 *   the stage, wrote and read the whole segment once more (about 15% of a
 *   re-evaluation, bench/: evaluate, seventh round). This statement is
 *   planned with the warehouse's own memory settings, like the members'
 *   query it contains (with 64MB of work_mem, the bench's was planned as a
 *   hash of every event, 25% slower), and MEMBERS_SETTINGS;
 * - applySettings: memory for the sort of those who enter (at 4MB, the
 *   usual default, it spilled to disk from about 100,000 members);
 * - and apply: those who left are deleted by their row addresses (one TID
 *   scan of the addresses, not a join with the segment's rows), those who
 *   joined inserted in key order.
 *
 * New members are inserted sorted byte-wise, the order of the index (see
 * createSegmentTablesSql), which keeps the index's writes on neighbouring
 * pages.
 */
export function replaceMembersSql(plannerSchema: string, members: { text: string; values: unknown[] }, segmentId: string, evaluatedAt: Date, opts: { uniqueKeys?: boolean } = {}) {
  const table = segmentMembersTable(plannerSchema);
  const staged = STAGED_MEMBERS_TABLE;
  const changes = MEMBER_CHANGES_TABLE;
  const select = `SELECT ${opts.uniqueKeys ? '' : 'DISTINCT '}key FROM (${members.text}) AS q WHERE key IS NOT NULL`;
  const segmentParam = `$${members.values.length + 1}::uuid`;
  const sizes = segmentSizesTable(plannerSchema);
  return {
    // COALESCE runs the count (an InitPlan) only when the size is missing.
    size: {
      text: `SELECT COALESCE((SELECT s.size FROM ${sizes} AS s WHERE s.segment_id = $1::uuid), (SELECT count(*) FROM ${table} AS m WHERE m.segment_id = $1::uuid))::int AS size`,
      values: [segmentId],
    },
    recordSize: (size: number) => ({
      text: `INSERT INTO ${sizes} (segment_id, size) VALUES ($1::uuid, $2) ON CONFLICT (segment_id) DO UPDATE SET size = EXCLUDED.size`,
      values: [segmentId, size],
    }),
    // (DISTINCT allows no ORDER BY of an expression it does not select.)
    stageSorted: {
      text: `CREATE TEMPORARY TABLE ${staged} ON COMMIT DROP AS ${opts.uniqueKeys ? select : `SELECT key FROM (${select}) AS d`} ORDER BY key COLLATE "C"`,
      values: members.values,
    },
    insertAll: {
      text: `INSERT INTO ${table} (segment_id, key, entered_at) SELECT $1::uuid, key, $2::timestamptz FROM ${staged}`,
      values: [segmentId, evaluatedAt],
    },
    changes: {
      text:
        `CREATE TEMPORARY TABLE ${changes} ON COMMIT DROP AS SELECT n.key AS entering, o.ctid AS leaving FROM (${select}) AS n ` +
        `FULL JOIN (SELECT m.ctid, m.key FROM ${table} AS m WHERE m.segment_id = ${segmentParam}) AS o ON o.key = n.key ` +
        `WHERE n.key IS NULL OR o.key IS NULL`,
      values: [...members.values, segmentId],
    },
    applySettings: [`SET LOCAL work_mem = '64MB'`],
    apply: {
      text:
        `WITH exited AS (DELETE FROM ${table} AS m WHERE m.ctid = ANY(ARRAY(SELECT c.leaving FROM ${changes} AS c WHERE c.leaving IS NOT NULL)) AND m.segment_id = $1::uuid RETURNING 1), ` +
        `entered AS (INSERT INTO ${table} (segment_id, key, entered_at) SELECT $1::uuid, c.entering, $2::timestamptz FROM ${changes} AS c WHERE c.entering IS NOT NULL ORDER BY c.entering COLLATE "C" RETURNING 1) ` +
        `SELECT (SELECT count(*) FROM entered)::int AS entered, (SELECT count(*) FROM exited)::int AS exited`,
      values: [segmentId, evaluatedAt],
    },
  };
}
