// Where materialised memberships live: in each source's planner schema, one
// table shared by all of the source's segments, holding each segment's
// members as small arrays of keys ("buckets"), a bucket per hash of the key.
// One shared table (not one per segment) is what lets a record's memberships,
// overlaps and whole-entity membership lists be one statement; buckets (not a
// row per member) are what let an evaluation write a segment at about the
// cost of computing it. A view of one row per member serves every reader
// that reads whole segments.
import { onceUnderLockStep, qualified, sampledAnalyzeSql } from '../lib/sql.js';

/** The view of one row per member: (segment_id, key). */
export const SEGMENT_MEMBERS_TABLE = 'segment_members';

export function segmentMembersTable(plannerSchema: string): string {
  return qualified(plannerSchema, SEGMENT_MEMBERS_TABLE);
}

/** Where the members are stored: (segment_id, bucket, keys). */
export const SEGMENT_BUCKETS_TABLE = 'segment_member_buckets';

export function segmentBucketsTable(plannerSchema: string): string {
  return qualified(plannerSchema, SEGMENT_BUCKETS_TABLE);
}

/**
 * Each segment's member count and the number of bits of the key's hash
 * its buckets are numbered by, written in the transaction that writes its
 * members: a key's bucket in a segment is known from these two alone.
 */
export const SEGMENT_SIZES_TABLE = 'segment_sizes';

export function segmentSizesTable(plannerSchema: string): string {
  return qualified(plannerSchema, SEGMENT_SIZES_TABLE);
}

/**
 * Members a bucket holds on average, about (see bucketBits): the length
 * PostgreSQL assumes of an array it unnests (it has no statistics of the
 * lengths), so that its estimate of a segment's members, which decides how
 * a sync's plan joins them with the entity, is its estimate of the
 * segment's buckets times ten: close to the truth.
 */
export const KEYS_PER_BUCKET = 10;

/** The most bits a segment's buckets are numbered by (16 million buckets). */
export const MAX_BUCKET_BITS = 24;

/**
 * The bits of a segment of `size` members: 2^bits buckets of 7 to 14 keys
 * each on average. Small enough that a bucket's array is stored in its row
 * (no TOAST, nothing to decompress: a lookup is one index probe and a scan of
 * a few keys, faster than the row per member of earlier versions, bench/:
 * evaluate, tenth round); large enough that 300,000 members are 32,000 rows
 * to write, not 300,000, each with its index entry and WAL record.
 */
export function bucketBits(size: number): number {
  if (!Number.isFinite(size) || size <= KEYS_PER_BUCKET) return 0;
  return Math.min(MAX_BUCKET_BITS, Math.max(0, Math.round(Math.log2(size / KEYS_PER_BUCKET))));
}

/** bucketBits in SQL, for a count (`size`: an expression). */
function bucketBitsSql(size: string): string {
  return `LEAST(${MAX_BUCKET_BITS}, GREATEST(0, round(log(2.0, GREATEST((${size})::numeric, 1) / ${KEYS_PER_BUCKET}))))::smallint`;
}

/**
 * The bucket of a key (a text expression) in a segment whose buckets are
 * numbered by `bits` (an integer expression): the low bits of PostgreSQL's
 * 64-bit text hash, the one hash partitioning uses (stable across releases),
 * over the key's bytes ("C": a column's own collation could hash equal keys
 * apart, or apart keys alike).
 */
export function bucketSql(key: string, bits: string): string {
  return `(hashtextextended((${key}) COLLATE "C", 0) & ((1::bigint << (${bits})::int) - 1))::int`;
}

/**
 * Whether the key (a text expression) is a member of the segment (a uuid
 * expression): one probe of the sizes table for the segment's bits, one of
 * the buckets for the key's bucket, a scan of its few keys. What a lookup by
 * key uses (a record's memberships, a condition on another segment, a sync's
 * per-record list of segments): the view would unpack the whole segment.
 * Aliases are Roster's own, so that the expressions may name the caller's.
 */
export function memberSql(plannerSchema: string, segment: string, key: string): string {
  return (
    `EXISTS (SELECT 1 FROM ${segmentSizesTable(plannerSchema)} AS roster_ms JOIN ${segmentBucketsTable(plannerSchema)} AS roster_mb ` +
    `ON roster_mb.segment_id = roster_ms.segment_id AND roster_mb.bucket = ${bucketSql(key, 'roster_ms.bits')} ` +
    `WHERE roster_ms.segment_id = ${segment} AND (${key}) COLLATE "C" = ANY(roster_mb.keys))`
  );
}

/**
 * Room left in each page of buckets for their next versions: a
 * re-evaluation rewrites most of a segment's buckets (a tenth of 300,000
 * members changing touches nearly every bucket of ten), and a new version
 * that fits in its page is written without a new index entry (a HOT
 * update). Rewriting 16,000 buckets (by an upsert, as the tenth round
 * did) took 121 ms at 70 against 273 ms with full pages (EXPLAIN ANALYZE
 * in psql, bench/: evaluate, tenth round).
 */
export const BUCKETS_FILLFACTOR = 70;

/** A text value as an SQL string literal (for DDL, where nothing can be bound). */
function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * Idempotent DDL for the membership tables, run before every evaluation.
 * Buckets are keyed by (segment, bucket): every read names its segments.
 * Keys are in the "C" collation (byte order, compared with memcmp).
 *
 * Earlier versions kept a row per member in a table named segment_members.
 * Such a table is moved into buckets once, under a lock: each segment's size
 * and bits counted, its keys grouped into buckets, the table dropped and the
 * view created in its place, in one transaction. Sizes of earlier versions
 * get their bits column. Nothing here takes a lock when there is nothing to
 * do: a reader of the view or of the sizes (a sync's plan may read for
 * minutes) never makes an evaluation wait.
 */
export function createSegmentTablesSql(plannerSchema: string): string {
  const members = segmentMembersTable(plannerSchema);
  const buckets = segmentBucketsTable(plannerSchema);
  const sizes = segmentSizesTable(plannerSchema);
  const lock = `PERFORM pg_advisory_xact_lock(hashtextextended(${literal(`roster.segment_members.${plannerSchema}`)}, 0)); `;
  const once = (stale: string, step: string) => onceUnderLockStep(stale, lock, step);
  const kind = `(SELECT c.relkind FROM pg_catalog.pg_class AS c WHERE c.oid = to_regclass(${literal(members)}))`;
  const noBits = `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = ${literal(sizes)}::regclass AND a.attname = 'bits' AND NOT a.attisdropped)`;
  const moveRows =
    `INSERT INTO ${sizes} AS s (segment_id, size, bits) SELECT m.segment_id, count(*), ${bucketBitsSql('count(*)')} FROM ${members} AS m GROUP BY 1 ` +
    `ON CONFLICT (segment_id) DO UPDATE SET size = EXCLUDED.size, bits = EXCLUDED.bits; ` +
    `INSERT INTO ${buckets} (segment_id, bucket, keys) SELECT m.segment_id, ${bucketSql('m.key', 's.bits')}, array_agg(m.key COLLATE "C") ` +
    `FROM ${members} AS m JOIN ${sizes} AS s ON s.segment_id = m.segment_id GROUP BY 1, 2; ` +
    `DROP TABLE ${members};`;
  return [
    `CREATE TABLE IF NOT EXISTS ${buckets} (segment_id uuid NOT NULL, bucket integer NOT NULL, keys text[] COLLATE "C" NOT NULL, PRIMARY KEY (segment_id, bucket)) WITH (fillfactor = ${BUCKETS_FILLFACTOR})`,
    `CREATE TABLE IF NOT EXISTS ${sizes} (segment_id uuid PRIMARY KEY, size integer NOT NULL, bits smallint NOT NULL DEFAULT 0)`,
    `DO $roster$ BEGIN ` +
      once(noBits, `ALTER TABLE ${sizes} ADD COLUMN bits smallint NOT NULL DEFAULT 0;`) +
      once(`${kind} = 'r'`, moveRows) +
      once(`to_regclass(${literal(members)}) IS NULL`, `CREATE VIEW ${members} AS SELECT b.segment_id, k.key FROM ${buckets} AS b CROSS JOIN LATERAL unnest(b.keys) AS k(key);`) +
      `END $roster$`,
  ].join(';\n');
}

/**
 * Settings of a transaction that runs a members' query (an evaluation, a
 * preview).
 *
 * JIT: PostgreSQL compiles a statement with JIT above a cost of
 * 100,000 (its default), which the bench's members' query passes (about
 * 150,000, for 1,000,000 users and 4,000,000 events): compiling it in the
 * leader and each parallel worker took 0.22–0.27 s of a statement that ran
 * 1.27–1.29 s without (CREATE TABLE AS in psql, alternating, four times
 * each), and won nothing back; a re-evaluation's statement was 0.2–0.3 s
 * faster too. Compiling costs what the statement's expressions cost, not
 * its rows: at a hundred times the cost (a query of minutes) it is a small
 * part of the time, and JIT may pay, so the threshold is raised, not
 * removed.
 *
 * The leader of a parallel plan only gathers: an evaluation groups its
 * members by bucket above the parallel part (sorted in each process,
 * merged and grouped in the leader, see stage), and a leader that also
 * scans must first sort its own share before it can merge anyone's. On two
 * cores it made three processes share them, and the merge started last:
 * the stage of 300,000 members took 561–585 ms with the leader gathering
 * only, 585–668 ms with it scanning too (psql, alternating); the bench's
 * re-evaluation was 1.26–1.39× of its lower bound over six runs against
 * 1.35–1.44× over seven, the first evaluation 1.13–1.20× against
 * 1.18–1.29× (bench/: evaluate, twelfth round). Where cores outnumber the
 * workers, this gives up the leader's share of the scan (a third, with
 * PostgreSQL's default of two workers a gather).
 *
 * No shared (parallel) hash: a condition on related rows in a time window
 * (events of the last 30 days) is a semi or anti join. The window's bounds
 * are constants (see compile.ts), so PostgreSQL knows how many related rows
 * fall in it, and with the leader only gathering it chose to scan and hash
 * them all in the workers (1.4 of the bench's 4.1 million events, 144 MB,
 * in batches at the default work_mem) rather than probe an index of (user,
 * time) once per candidate, which it prices within 4% of the hash but which
 * reads a fraction of it: the bench's stage took 526–552 ms probing against
 * 617–644 ms hashing (psql, alternating, eight each; bench/: evaluate,
 * thirteenth round). Without a shared hash such joins probe or merge. Over
 * other shapes of segment on the demo warehouse (psql, medians of five
 * alternating runs): events in the last 365 days 538 ms against 835, no
 * events in the last 7 days 413 against 535, purchases in the last 180
 * days 336 against 382. What it costs: a related table with no index to
 * probe is hashed by each worker on its own, a scan each instead of one
 * shared: "Product A in the last 180 days at a Software company" took 283
 * ms against 243, "any purchase at a Software company" 332 against 266.
 * Windows over the largest tables, events, are where evaluations spend
 * their time.
 */
export const MEMBERS_SETTINGS = ['SET LOCAL jit_above_cost = 10000000', 'SET LOCAL parallel_leader_participation = off', 'SET LOCAL enable_parallel_hash = off'];

/** The temporary table an evaluation groups the new members into (dropped at commit). */
export const NEW_BUCKETS_TABLE = 'roster_new_buckets';

/**
 * The statements that replace a segment's membership with the rows of
 * `members` (a query yielding `key`), run in one transaction that holds the
 * segment's advisory lock (see materialise for the order):
 *
 * - previous: the segment's size and bits, if it has members;
 * - estimate: the planner's estimate of the members, for the bits of a
 *   segment that has none yet (a plan, not a run: a few milliseconds);
 * - stage(bits): the members grouped into buckets, into a temporary table,
 *   by CREATE TABLE AS (unlike INSERT … SELECT, PostgreSQL may run that
 *   query with parallel workers; the grouping, in the leader, runs while
 *   they compute). The only statement that reads the warehouse;
 * - then, with writeSettings, for a segment that had members:
 *   `apply(bits)`, which compares the new buckets with the current ones of
 *   the same number (the bits are the segment's, so a key is in the same
 *   bucket on both sides), counts who entered and writes only the buckets
 *   that changed; who left is the previous size plus those who entered less
 *   the new size. For a segment that had none, or when the new size moves the
 *   bits by more than MAX_BITS_DRIFT: `forget`, then `insertAll` or
 *   `rebucket(bits)`, which write every bucket anew (`size` first, for a
 *   segment that had none);
 * - analyse, then recordSize(size, bits).
 *
 * Buckets are inserted in bucket order, the order of the index.
 */
export function replaceMembersSql(plannerSchema: string, members: { text: string; values: unknown[] }, segmentId: string, opts: { uniqueKeys?: boolean } = {}) {
  const buckets = segmentBucketsTable(plannerSchema);
  const sizes = segmentSizesTable(plannerSchema);
  const staged = NEW_BUCKETS_TABLE;
  const select = `SELECT ${opts.uniqueKeys ? '' : 'DISTINCT '}key FROM (${members.text}) AS q WHERE key IS NOT NULL`;
  const bitsParam = `$${members.values.length + 1}`;
  return {
    previous: {
      text: `SELECT s.size, s.bits FROM ${sizes} AS s WHERE s.segment_id = $1::uuid`,
      values: [segmentId],
    },
    estimate: { text: `EXPLAIN (FORMAT JSON) ${select}`, values: members.values },
    stage: (bits: number) => ({
      text: `CREATE TEMPORARY TABLE ${staged} ON COMMIT DROP AS SELECT ${bucketSql('s.key', `${bitsParam}::int`)} AS bucket, array_agg(s.key COLLATE "C") AS keys FROM (${select}) AS s GROUP BY 1`,
      values: [...members.values, bits],
    }),
    size: { text: `SELECT COALESCE(sum(cardinality(n.keys)), 0)::int AS size FROM ${staged} AS n`, values: [] },
    writeSettings: [`SET LOCAL work_mem = '64MB'`],
    forget: { text: `DELETE FROM ${buckets} WHERE segment_id = $1::uuid`, values: [segmentId] },
    insertAll: {
      text: `INSERT INTO ${buckets} (segment_id, bucket, keys) SELECT $1::uuid, n.bucket, n.keys FROM ${staged} AS n ORDER BY n.bucket`,
      values: [segmentId],
    },
    rebucket: (bits: number) => ({
      text:
        `INSERT INTO ${buckets} (segment_id, bucket, keys) SELECT $1::uuid, ${bucketSql('k.key', '$2::int')}, array_agg(k.key) ` +
        `FROM ${staged} AS n CROSS JOIN LATERAL unnest(n.keys) AS k(key) GROUP BY 2 ORDER BY 2`,
      values: [segmentId, bits],
    }),
    // One pass over the pairs of new and current buckets of the same
    // number (`bits`: the segment's): who entered each (the new keys not in
    // the current bucket: the new keys as a JSON array, less every current
    // key, compared byte for byte as the "C" collation does, within one
    // function call; a subquery per bucket that unnested its keys and
    // scanned the current ones for each cost 72 ms of executor overhead for
    // 16,000 buckets where this costs 31 ms, psql, bench/: evaluate, twelfth
    // round), whether it changed (someone entered, or the sizes differ:
    // with nobody entering, equal sizes are equal sets), and the writes: a
    // changed bucket updated by its row's address, read in the pair (joined
    // with the segment's range of the key, not a probe and a speculative
    // insertion per bucket as an upsert makes; without the segment's id
    // PostgreSQL scans every segment's buckets for it), a new one inserted,
    // and those the new members have none in deleted, looked for only when
    // the new members leave some bucket number empty (the three touch
    // different buckets).
    // Comparing the buckets again in the writes' conditions, as a first
    // version did, paid for the comparison twice; the upsert and an anti
    // join of every bucket took 0.24 s where this takes 0.21 s for 300,000
    // members (psql, bench/: evaluate, eleventh round).
    apply: (bits: number) => ({
      text:
        `WITH pairs AS MATERIALIZED (SELECT n.bucket, n.keys, o.ctid AS row, ` +
        `CASE WHEN o.keys IS NULL THEN cardinality(n.keys) ELSE jsonb_array_length(to_jsonb(n.keys) - o.keys) END AS entered, ` +
        `cardinality(n.keys) IS NOT DISTINCT FROM cardinality(o.keys) AS same_size ` +
        `FROM ${staged} AS n LEFT JOIN ${buckets} AS o ON o.segment_id = $1::uuid AND o.bucket = n.bucket), ` +
        `emptied AS (DELETE FROM ${buckets} AS b WHERE b.segment_id = $1::uuid AND (SELECT count(*) FROM ${staged}) < (1::bigint << $2::int) ` +
        `AND NOT EXISTS (SELECT 1 FROM ${staged} AS n WHERE n.bucket = b.bucket)), ` +
        `changed AS (UPDATE ${buckets} AS b SET keys = p.keys FROM pairs AS p WHERE b.segment_id = $1::uuid AND b.ctid = p.row AND (p.entered > 0 OR NOT p.same_size)), ` +
        `added AS (INSERT INTO ${buckets} (segment_id, bucket, keys) SELECT $1::uuid, p.bucket, p.keys FROM pairs AS p WHERE p.row IS NULL ORDER BY p.bucket) ` +
        `SELECT COALESCE(sum(cardinality(p.keys)), 0)::int AS size, COALESCE(sum(p.entered), 0)::int AS entered FROM pairs AS p`,
      values: [segmentId, bits],
    }),
    // Statistics of the buckets as this transaction leaves them (its own
    // writes count as written), sampled: a sync's plan, often the next
    // statement to read the segment, estimates its members from them.
    analyse: sampledAnalyzeSql(buckets, ['segment_id']),
    recordSize: (size: number, bits: number) => ({
      text: `INSERT INTO ${sizes} (segment_id, size, bits) VALUES ($1::uuid, $2, $3) ON CONFLICT (segment_id) DO UPDATE SET size = EXCLUDED.size, bits = EXCLUDED.bits`,
      values: [segmentId, size, bits],
    }),
  };
}

/**
 * How far a segment's bits may be from those of its size before its buckets
 * are numbered again: its buckets then hold 3.5 to 28 keys on average, where
 * a lookup's scan is still short and the planner's estimate within a factor
 * of three. A segment that doubles or halves is rewritten once; one that
 * changes by a tenth at each evaluation keeps its buckets and writes only
 * those that changed, and one whose size sits on a boundary does not flip.
 */
export const MAX_BITS_DRIFT = 1;
