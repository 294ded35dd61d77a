// The SQL of a sync run, built by pure functions (unit-tested as text) and
// executed by src/sync/run.ts. Everything happens in the warehouse, in the
// source's planner schema:
//
//   sync_snapshot  (sync_id, audience, key) → payload_hash, payload
//       the membership as last accounted for the destination: only what the
//       destination confirmed (or what the mode deliberately skipped).
//   sync_changes_<sync id>  seq → audience, key, op, payload, filtered, state
//       the planned changes of the sync's run in progress, streamed to the
//       destination in batches. One unlogged table per sync, created by the
//       plan itself (CREATE TABLE AS: no WAL, the index built once at the
//       end, parallel workers where PostgreSQL sees fit) and dropped when
//       the run ends; a run that died leaves it to the next run of its sync,
//       which replaces it. Syncs run one at a time, so a table per sync
//       never has two runs.
//
// `audience` is the audience reference a row goes to: the existing audience's
// id, the name to create, or the value of the name column.
import { qualified, quoteIdent, type SqlQuery } from '../lib/sql.js';
import { relationSql, resolvePath, type CompileContext, type EntityMeta } from '../segments/metadata.js';
import { segmentMembersTable } from '../segments/store-sql.js';

export const SNAPSHOT_TABLE = 'sync_snapshot';

export type ChangeOp = 'ADD' | 'REMOVE' | 'UPDATE';
export type SyncMode = 'MIRROR' | 'ADDITIVE' | 'SUBTRACTIVE';
export type RemovalBehavior = 'REMOVE' | 'DO_NOTHING';

export function snapshotTable(planner: string): string {
  return qualified(planner, SNAPSHOT_TABLE);
}

/** The changes table of a sync's run: `sync_changes_` and the sync id's 32 hex digits (45 characters). */
export function changesTable(planner: string, syncId: string): string {
  const hex = syncId.replace(/-/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error(`expected a sync id in uuid form, but got "${syncId}"`);
  return qualified(planner, `sync_changes_${hex}`);
}

/**
 * Idempotent DDL of the snapshot. Payloads are kept as their JSON text, as
 * the plan writes them and as runs read them: PostgreSQL then only copies
 * them, where jsonb was converted to text for every row of every page read
 * (bench/: delivery). The type is text, not json, whose input check would
 * parse every payload once more on its way in. A snapshot of an earlier version (jsonb payloads,
 * md5 or jsonb hashes) is converted once, under a lock, by one rewrite that
 * also hashes every stored payload the current way (payloadHashSql): its
 * text is what the plan now builds for an unchanged row, so upgrading
 * re-sends nothing.
 */
export function createSyncTablesSql(planner: string): string {
  const table = snapshotTable(planner);
  const payloadType = `(SELECT a.atttypid FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = '${table}'::regclass AND a.attname = 'payload')`;
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (sync_id uuid NOT NULL, audience text NOT NULL, key text NOT NULL, payload_hash text NOT NULL, payload text NOT NULL, accounted_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (sync_id, audience, key))`,
    `DO $roster$ BEGIN ` +
      `IF ${payloadType} = 'jsonb'::regtype THEN ` +
      `PERFORM pg_advisory_xact_lock(hashtextextended('roster.sync_snapshot.${planner}', 0)); ` +
      `IF ${payloadType} = 'jsonb'::regtype THEN ` +
      `ALTER TABLE ${table} ALTER COLUMN payload TYPE text USING payload::text, ALTER COLUMN payload_hash TYPE text USING ${payloadHashSql('payload')}; ` +
      `END IF; END IF; END $roster$`,
  ].join(';\n');
}

/**
 * The hash of a payload's JSON text as the snapshot keeps it: PostgreSQL's
 * 64-bit text hash, in hex (at most 16 digits), the hash text hash
 * partitions use, so stable across releases. Payloads are built as jsonb,
 * whose text form is canonical (keys sorted, one spacing), so equal
 * payloads have equal text; hashing the text costs a fraction of hashing
 * the jsonb, and is done where the text already is.
 */
export function payloadHashSql(payload: string): string {
  return `to_hex(hashtextextended(${payload}::text, 0))`;
}

/** What a sync sends for each record. */
export interface SyncShape {
  entity: EntityMeta;
  /** Members of this segment; null: every record of the entity. */
  segmentId: string | null;
  audience: { kind: 'FIXED'; reference: string } | { kind: 'COLUMN'; column: string };
  /** `from`: a column, a many-to-one path (company.name) or "segmentMembership". */
  mappings: { from: string; to: string }[];
  identifiers: { type: string; column: string }[];
  /** For segmentMembership: the entity's segments, by id and name. */
  segments: { id: string; name: string }[];
  /**
   * The warehouse guarantees one row per key: the entity's key and the
   * joined key of every mapped path have unique indexes (see
   * src/segments/unique-keys.ts). The current rows then need no
   * deduplication, which otherwise sorts every row with its payload.
   */
  uniqueKeys?: boolean;
}

class Params {
  readonly values: unknown[] = [];
  add(value: unknown, cast: string): string {
    this.values.push(value);
    return `$${this.values.length}::${cast}`;
  }
}

/**
 * The LEFT JOINs that mapped many-to-one paths need, one chain of joins per
 * distinct chain of relationships (company.name and company.industry share
 * one), and each path's expression over them. A record with no related row
 * gets NULL; one whose data breaks the declared MANY_TO_ONE (several related
 * rows) comes out several times, and the caller's DISTINCT ON keeps one, as
 * the LIMIT 1 of a scalar subquery would. Joins, unlike a subquery per row,
 * let PostgreSQL hash the related table once.
 */
class PathJoins {
  private readonly aliases = new Map<string, string>();
  readonly joins: string[] = [];

  constructor(
    private readonly ctx: CompileContext,
    private readonly entity: EntityMeta,
  ) {}

  expr(path: string): string {
    const found = resolvePath(this.ctx, this.entity, path);
    if (!found.ok) throw new Error(`expected a column or many-to-one path of ${this.entity.name}, but "${path}" does not resolve (validate mappings before planning)`);
    const { hops, column } = found.resolved;
    let prev = 'e';
    let chain = '';
    for (const hop of hops) {
      chain += `${hop.relationship.name}.`;
      let alias = this.aliases.get(chain);
      if (!alias) {
        alias = `j${this.aliases.size + 1}`;
        this.aliases.set(chain, alias);
        this.joins.push(`LEFT JOIN ${relationSql(hop.target)} AS ${alias} ON ${alias}.${quoteIdent(hop.relationship.toColumn)} = ${prev}.${quoteIdent(hop.relationship.fromColumn)}`);
      }
      prev = alias;
    }
    return `${prev}.${quoteIdent(column.name)}`;
  }
}

/**
 * Key types whose text form casts back exactly, so that a segment's members
 * (keys as text) can be joined to the entity on its own key column, and its
 * index: the sync reads its members' rows, not every row of the entity.
 * Other types compare as text (`e.key::text = m.key`).
 */
const KEY_CASTS: Record<string, string | null> = {
  smallint: 'smallint',
  integer: 'integer',
  bigint: 'bigint',
  uuid: 'uuid',
  text: null,
  'character varying': null,
};

/**
 * The rows a sync should have in its destination right now:
 * (audience, key, payload = { fields, identifiers }), one per audience and
 * key (rows without a key are left out). Audience and key are in the "C"
 * collation: they are identifiers, and sorting them byte-wise is a
 * fraction of the cost of a locale's rules.
 *
 * Rows come sorted by (audience, key): a page of changes then holds few
 * audiences, and the accounting of consecutive pages writes neighbouring
 * pages of the snapshot's index (in the warehouse's order instead, a run
 * of a million rows spent longer accounting than the sort costs). Unless
 * the shape's keys are unique, duplicates are dropped with DISTINCT ON
 * over that same sort.
 */
export function currentRowsSql(ctx: CompileContext, shape: SyncShape, params = new Params()): { text: string; params: Params } {
  const { entity } = shape;
  const key = `e.${quoteIdent(entity.primaryKey)}::text`;
  const paths = new PathJoins(ctx, entity);
  const fields = shape.mappings.map((m) => {
    if (m.from === 'segmentMembership') {
      const ids = params.add(shape.segments.map((s) => s.id), 'uuid[]');
      const names = params.add(shape.segments.map((s) => s.name), 'text[]');
      return `${params.add(m.to, 'text')}, to_jsonb(ARRAY(SELECT n.name FROM unnest(${ids}, ${names}) AS n(id, name) JOIN ${segmentMembersTable(ctx.plannerSchema)} AS sm ON sm.segment_id = n.id AND sm.key = ${key} ORDER BY n.name))`;
    }
    return `${params.add(m.to, 'text')}, ${paths.expr(m.from)}`;
  });
  const identifiers = shape.identifiers.map((i) => `${params.add(i.type, 'text')}, e.${quoteIdent(i.column)}::text`);
  const audience = shape.audience.kind === 'FIXED' ? params.add(shape.audience.reference, 'text') : `e.${quoteIdent(shape.audience.column)}::text`;
  const where: string[] = [];
  let from = `${relationSql(entity)} AS e`;
  if (shape.segmentId) {
    // From the segment's members to their rows, by the entity's key.
    const keyColumn = entity.columns.find((c) => c.name === entity.primaryKey);
    const cast = keyColumn && Object.hasOwn(KEY_CASTS, keyColumn.dataType) ? KEY_CASTS[keyColumn.dataType] : undefined;
    const on = cast === undefined ? `${key} = m.key` : `e.${quoteIdent(entity.primaryKey)} = m.key${cast ? `::${cast}` : ''}`;
    from = `${segmentMembersTable(ctx.plannerSchema)} AS m JOIN ${from} ON ${on}`;
    where.push(`m.segment_id = ${params.add(shape.segmentId, 'uuid')}`);
  }
  if (paths.joins.length) from += ` ${paths.joins.join(' ')}`;
  where.push(`e.${quoteIdent(entity.primaryKey)} IS NOT NULL`);
  if (shape.audience.kind === 'COLUMN') where.push(`${audience} IS NOT NULL AND ${audience} <> ''`);
  const distinct = shape.uniqueKeys ? '' : 'DISTINCT ON (1, 2) ';
  const text =
    `SELECT ${distinct}${audience} COLLATE "C" AS audience, ${key} COLLATE "C" AS key, ` +
    `jsonb_build_object('fields', jsonb_build_object(${fields.join(', ')}), 'identifiers', jsonb_build_object(${identifiers.join(', ')}))::text AS payload ` +
    `FROM ${from} WHERE ${where.join(' AND ')} ORDER BY 1, 2`;
  return { text, params };
}

/** Which planned operations the mode leaves out (they are accounted, never sent). */
export function filteredOps(mode: SyncMode, removal: RemovalBehavior): ChangeOp[] {
  const out = new Set<ChangeOp>();
  if (mode === 'ADDITIVE' || removal === 'DO_NOTHING') out.add('REMOVE');
  if (mode === 'SUBTRACTIVE') {
    out.add('ADD');
    out.add('UPDATE');
  }
  return [...out];
}

/** Seqs of removes start here, after every current row's (which count from 1). */
export const REMOVE_SEQ_BASE = 2 ** 40;

/** Settings of the planning transaction (SET LOCAL): see planSql. */
export const PLAN_SETTINGS = [
  // The plan sorts the current rows, with their payloads, at most once and
  // hashes the snapshot: in memory, not in temporary files, up to this much
  // per sort and per process. A run of 1,000,000 rows sorts about 150 MB in
  // each of three processes; at 128MB those sorts spilled to disk, which
  // made planning about 20% slower (bench/: delivery). Larger runs spill.
  `SET LOCAL work_mem = '256MB'`,
  // A merge join would sort the current rows a second time, by the
  // snapshot's collation; the hash join keeps the first sort's order.
  'SET LOCAL enable_mergejoin = off',
  // Building each row's payload is most of a plan's work, and PostgreSQL
  // prices it as nearly free, so it would not spread the scan over
  // parallel workers by itself: moving a row from a worker is priced at
  // what it is next to building it.
  'SET LOCAL parallel_setup_cost = 100',
  'SET LOCAL parallel_tuple_cost = 0.001',
];

/**
 * Plans a run: the statements that create the run's changes table, to
 * run in this order (the second only when the first found removes). The
 * diff, in one statement: the current rows FULL
 * OUTER JOINed with the snapshot on (audience, key); new keys are adds,
 * vanished keys removes, a changed payload hash an update. Then `removes`
 * gives the removes, and only them, the payload last sent (the destination
 * may need the identifiers to remove a row the warehouse no longer has)
 * and their seqs: the diff then joins the snapshot's keys and hashes alone,
 * a narrow hash table instead of one holding every payload the sync ever
 * sent, and sorts nothing of the snapshot.
 *
 * The current rows' audience and key are in the "C" collation (see
 * currentRowsSql), compared as such with the snapshot's (equal either way:
 * both collations are deterministic), and the changes table keeps the
 * default one, as the snapshot does.
 *
 * Seqs keep each audience's rows together, so that a page of changes
 * holds few audiences: current rows are numbered in the order
 * currentRowsSql gives them (never a second sort), removes from
 * REMOVE_SEQ_BASE in (audience, key) order. Nothing orders the result
 * itself: pages are read by seq, through the index createChangesIndexSql
 * adds. OFFSET 0 keeps the current rows a subquery whose payload is built
 * once, rather than an expression the planner would inline into the hash,
 * the comparison and the output, building it three times.
 *
 * `into` is the table to create; `temporary` makes it a temporary table
 * dropped at commit (a preview).
 */
export function planSql(ctx: CompileContext, shape: SyncShape, opts: { syncId: string; mode: SyncMode; removal: RemovalBehavior; into: string; temporary?: boolean }): { diff: SqlQuery; removes: SqlQuery } {
  const { text: current, params } = currentRowsSql(ctx, shape);
  const sync = params.add(opts.syncId, 'uuid');
  const filtered = filteredOps(opts.mode, opts.removal);
  const op = `CASE WHEN s.key IS NULL THEN 'ADD' WHEN c.key IS NULL THEN 'REMOVE' ELSE 'UPDATE' END`;
  const filteredExpr = filtered.length ? `(${op}) IN (${filtered.map((f) => `'${f}'`).join(', ')})` : 'false';
  // The order the current rows come in (a fixed audience is one value: the
  // sort is by key alone).
  const order = shape.audience.kind === 'FIXED' ? 'cur.key' : 'cur.audience, cur.key';
  const create = opts.temporary ? `CREATE TEMPORARY TABLE ${opts.into} ON COMMIT DROP AS ` : `CREATE UNLOGGED TABLE ${opts.into} AS `;
  const snapshot = snapshotTable(ctx.plannerSchema);
  return {
    diff: {
      text:
        create +
        `WITH c AS (SELECT cur.audience, cur.key, cur.payload, ${payloadHashSql('cur.payload')} AS payload_hash, row_number() OVER (ORDER BY ${order}) AS seq FROM (${current} OFFSET 0) AS cur), ` +
        `s AS (SELECT audience, key, payload_hash FROM ${snapshot} WHERE sync_id = ${sync}) ` +
        `SELECT c.seq, COALESCE(c.audience, s.audience) COLLATE "default" AS audience, COALESCE(c.key, s.key) COLLATE "default" AS key, ${op} AS op, ` +
        `c.payload, c.payload_hash, ${filteredExpr} AS filtered, 'PENDING'::text AS state, NULL::text AS message, NULL::text AS code ` +
        `FROM c FULL OUTER JOIN s ON s.audience = c.audience COLLATE "C" AND s.key = c.key COLLATE "C" ` +
        `WHERE s.key IS NULL OR c.key IS NULL OR s.payload_hash IS DISTINCT FROM c.payload_hash`,
      values: params.values,
    },
    removes: {
      text:
        `UPDATE ${opts.into} AS ch SET seq = ${REMOVE_SEQ_BASE} + r.n, payload = r.payload ` +
        `FROM (SELECT x.ctid AS row, s.payload, row_number() OVER (ORDER BY x.audience, x.key) AS n FROM ${opts.into} AS x ` +
        `JOIN ${snapshot} AS s ON s.sync_id = $1::uuid AND s.audience = x.audience AND s.key = x.key WHERE x.op = 'REMOVE') AS r ` +
        `WHERE ch.ctid = r.row`,
      values: [opts.syncId],
    },
  };
}

/** Drops a sync's changes table: when its run ends, and before a run plans (one that died may have left it). */
export function dropChangesSql(changes: string): string {
  return `DROP TABLE IF EXISTS ${changes}`;
}

/** The changes table's key, built once its rows are in, and the statistics its per-batch reads are planned with. */
export function createChangesIndexSql(changes: string): string[] {
  // Statistics of the columns the per-batch statements filter on only: the
  // payloads' would cost more than the rest of the analysis together.
  return [`ALTER TABLE ${changes} ADD PRIMARY KEY (seq)`, `ANALYZE ${changes} (seq, op, filtered, state)`];
}

/** Planned counts per operation, split by whether the mode filtered them. */
export function plannedCountsSql(changes: string): SqlQuery {
  return { text: `SELECT op, filtered, count(*)::int AS n FROM ${changes} GROUP BY 1, 2`, values: [] };
}

/**
 * The next page of changes to send, in (op, seq) order, resumable by seq.
 * ORDER BY names the table's column (c.seq), not the output's `seq::int`: the
 * page is then read in the primary key's order, and the scan
 * stops after `limit` rows, instead of sorting the rest of the run each time.
 * Seqs are bigints, read and passed back as text (exact beyond 2^53).
 */
export function nextBatchSql(changes: string, op: ChangeOp, afterSeq: string, limit: number): SqlQuery {
  return {
    text: `SELECT c.seq, c.audience, c.key, c.payload FROM ${changes} AS c WHERE c.op = $1 AND NOT c.filtered AND c.state = 'PENDING' AND c.seq > $2 ORDER BY c.seq LIMIT $3`,
    values: [op, afterSeq, limit],
  };
}

/**
 * Rows the destination confirmed, as the changes table holds them: the
 * PENDING changes of one operation and audience whose seqs run from `first`
 * to `last`. A page's rows for one audience are consecutive in seq order
 * (seqs follow (audience, key) within each operation, and a page takes every
 * PENDING row of its operation up to its last seq), so a confirmed group is
 * that range, less the rows refused, which are marked REJECTED first.
 */
export interface ConfirmedRange {
  audience: string;
  first: string;
  last: string;
}

/**
 * Accounting of the rows of one operation the destination confirmed, in one
 * statement per operation: the snapshot takes adds as inserts, updates as
 * upserts, and forgets removes.
 *
 * The rows are found by ranges of the changes table's key (an index range
 * scan per confirmed group), not by a list of seqs: the list cost a probe
 * per row and a parameter of a million numbers per run. Each statement is
 * a single INSERT or DELETE, with no CTE to materialise the rows first nor a
 * sort: rows come out of the index in (audience, key) order already. Against
 * the earlier one-statement form (a CTE per operation over a materialised
 * batch), this halves the database's cost per accounted row (bench/:
 * delivery).
 *
 * Adds are plain INSERTs in the `insert` form: a speculative insertion
 * (ON CONFLICT) costs about twice as much per row, and an added key is not
 * in the snapshot, since only this run writes the sync's snapshot. Should
 * one be there anyway (a run that overlapped one declared dead wrote it),
 * the statement fails with a unique violation and the caller runs the
 * `upsert` form instead.
 *
 * It runs once per batch (or a few, see src/sync/accountant.ts) while the
 * sync's snapshot grows, so its plan must not depend on the snapshot's
 * statistics, which are stale during a run (a new sync's snapshot looks
 * empty until it is analysed): rows are found from the changes table, whose
 * statistics are taken when it is planned, and the snapshot is reached only
 * by its key, with the sync id as an InitPlan value (estimated like any
 * sync, not as the sync that looked empty). Without this, the planner may
 * scan the sync's whole snapshot for every batch, which makes a first run
 * quadratic in its size.
 */
export function accountDeliveredSql(planner: string, syncId: string, op: ChangeOp, ranges: readonly ConfirmedRange[], adds: 'insert' | 'upsert' = 'insert'): SqlQuery {
  const snapshot = snapshotTable(planner);
  const changes = changesTable(planner, syncId);
  const confirmed =
    `unnest($2::text[], $3::bigint[], $4::bigint[]) AS r(audience, first, last) JOIN ${changes} AS c ON c.seq BETWEEN r.first AND r.last ` +
    `WHERE c.audience = r.audience AND c.op = '${op}' AND NOT c.filtered AND c.state = 'PENDING'`;
  const values = [syncId, ranges.map((r) => r.audience), ranges.map((r) => r.first), ranges.map((r) => r.last)];
  if (op === 'REMOVE') {
    return {
      text: `DELETE FROM ${snapshot} AS s USING ${confirmed} AND s.sync_id = (SELECT $1::uuid) AND s.audience = c.audience AND s.key = c.key`,
      values,
    };
  }
  const upsert = op === 'UPDATE' || adds === 'upsert';
  return {
    text:
      `INSERT INTO ${snapshot} (sync_id, audience, key, payload_hash, payload, accounted_at) ` +
      `SELECT $1::uuid, c.audience, c.key, c.payload_hash, c.payload, now() FROM ${confirmed}` +
      (upsert ? ` ON CONFLICT (sync_id, audience, key) DO UPDATE SET payload_hash = EXCLUDED.payload_hash, payload = EXCLUDED.payload, accounted_at = EXCLUDED.accounted_at` : ''),
    values,
  };
}

/**
 * Rejected rows stay out of the snapshot, so the next run plans them again.
 * Marked before the confirmed ranges around them are accounted, which take
 * PENDING rows only.
 */
export function markRejectedSql(changes: string, rejected: readonly { seq: string; message: string; code: string | null }[]): SqlQuery {
  return {
    text:
      `UPDATE ${changes} AS c SET state = 'REJECTED', message = r.message, code = r.code ` +
      `FROM unnest($1::bigint[], $2::text[], $3::text[]) AS r(seq, message, code) WHERE c.seq = r.seq`,
    values: [rejected.map((r) => r.seq), rejected.map((r) => r.message), rejected.map((r) => r.code)],
  };
}

/**
 * Accounting of what the mode left out, as if delivered: a member who left an
 * additive sync is forgotten, so that returning makes them an add again.
 */
export function accountFilteredSql(planner: string, syncId: string): SqlQuery[] {
  const snapshot = snapshotTable(planner);
  const changes = changesTable(planner, syncId);
  return [
    {
      text:
        `INSERT INTO ${snapshot} (sync_id, audience, key, payload_hash, payload, accounted_at) ` +
        `SELECT $1::uuid, c.audience, c.key, c.payload_hash, c.payload, now() FROM ${changes} AS c WHERE c.filtered AND c.op <> 'REMOVE' ` +
        `ON CONFLICT (sync_id, audience, key) DO UPDATE SET payload_hash = EXCLUDED.payload_hash, payload = EXCLUDED.payload, accounted_at = EXCLUDED.accounted_at`,
      values: [syncId],
    },
    {
      text: `DELETE FROM ${snapshot} AS s USING ${changes} AS c WHERE c.filtered AND c.op = 'REMOVE' AND s.sync_id = $1::uuid AND s.audience = c.audience AND s.key = c.key`,
      values: [syncId],
    },
  ];
}
