// The SQL of a sync run, built by pure functions (unit-tested as text) and
// executed by src/sync/run.ts. Everything happens in the warehouse, in the
// source's planner schema:
//
//   sync_snapshot  (sync_id, audience, key) → payload_hash, payload
//       the membership as last accounted for the destination: only what the
//       destination confirmed (or what the mode deliberately skipped). The
//       hash is of the values a payload is built from (rowHashSql), so that
//       a plan builds payloads only for the rows that changed.
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
import { createHash } from 'node:crypto';
import { byteOrderColumnsStep, qualified, quoteIdent, sampledAnalyzeSql, type SqlQuery } from '../lib/sql.js';
import { relationSql, resolvePath, type CompileContext, type EntityMeta } from '../segments/metadata.js';
import type { WarehouseColumn } from '../warehouse/types.js';
import { memberSql, segmentMembersTable } from '../segments/store-sql.js';

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
 * Every current hash starts with this letter (rowHashSql); those of earlier
 * versions were hex digits, and `v` alone marks a row known to differ from
 * what the warehouse holds now (see rehashLegacySql).
 */
const ROW_HASH_PREFIX = 'v';

/** The predicate of a snapshot row whose hash is of an earlier kind. */
const LEGACY_HASH = `left(payload_hash, 1) <> '${ROW_HASH_PREFIX}'`;

/** The syncs whose snapshot has rows hashed the way of an earlier version (see createSyncTablesSql). */
function legacySyncsTable(planner: string): string {
  return qualified(planner, 'sync_snapshot_legacy');
}

/**
 * Idempotent DDL of the snapshot. Payloads are kept as their JSON text, as
 * the plan writes them and as runs read them: PostgreSQL then only copies
 * them. The type is text, not json, whose input check would parse every
 * payload once more on its way in.
 *
 * Snapshots of earlier versions are upgraded so that upgrading re-sends
 * nothing, each step once, under a lock:
 * - a jsonb payload column becomes text;
 * - audience and key take the "C" collation (byte order, compared with
 *   memcmp), as the plan sorts them: under the database's default one
 *   (C.UTF-8 or ICU en-US) every comparison in the key's index went through
 *   the locale, and accounting a million adds took 25–30% longer (medians
 *   in psql: 4.9–5.1 s against 3.9 s).
 *   The index is rebuilt once (2 s a million rows), the table is not;
 * - hashes of an earlier kind (of the payload's text, or md5) cannot be
 *   recomputed from the snapshot alone, since the current hash is of the
 *   values a payload is built from. The syncs that have such rows are
 *   listed in `sync_snapshot_legacy` when that table is created, and the
 *   next plan of each rehashes its rows (rehashLegacySql) and strikes it
 *   off. A plan asks that table, by its key, rather than the snapshot:
 *   with PostgreSQL's estimates, a probe for such rows scanned the whole
 *   snapshot (385 ms at 1,300,000 rows), even with a partial index of them.
 */
export function createSyncTablesSql(planner: string): string {
  const table = snapshotTable(planner);
  const legacy = legacySyncsTable(planner);
  const payloadType = `(SELECT a.atttypid FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = '${table}'::regclass AND a.attname = 'payload')`;
  const lock = `PERFORM pg_advisory_xact_lock(hashtextextended('roster.sync_snapshot.${planner}', 0)); `;
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (sync_id uuid NOT NULL, audience text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, payload_hash text NOT NULL, payload text NOT NULL, accounted_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (sync_id, audience, key))`,
    `DO $roster$ BEGIN ` +
      `IF ${payloadType} = 'jsonb'::regtype THEN ${lock}` +
      `IF ${payloadType} = 'jsonb'::regtype THEN ` +
      `ALTER TABLE ${table} ALTER COLUMN payload TYPE text USING payload::text; ` +
      `END IF; END IF; ` +
      byteOrderColumnsStep(table, ['audience', 'key'], lock) +
      `IF to_regclass('${legacy}') IS NULL THEN ${lock}` +
      `IF to_regclass('${legacy}') IS NULL THEN ` +
      `CREATE TABLE ${legacy} (sync_id uuid PRIMARY KEY); ` +
      `INSERT INTO ${legacy} SELECT DISTINCT sync_id FROM ${table} WHERE ${LEGACY_HASH}; ` +
      `END IF; END IF; END $roster$`,
  ].join(';\n');
}

/** Whether a sync's snapshot still has rows hashed the way of an earlier version. */
export function hasLegacyHashesSql(planner: string, syncId: string): SqlQuery {
  return { text: `SELECT EXISTS (SELECT 1 FROM ${legacySyncsTable(planner)} WHERE sync_id = $1::uuid) AS legacy`, values: [syncId] };
}

/**
 * A row of a sync's snapshot, if it has any (planSql's `snapshotEmpty`). In
 * the primary key's order, so that the first entry of the sync's range of
 * the key answers: as an EXISTS, PostgreSQL may scan the table from its
 * start, through every other sync's rows first (300 ms at a million rows,
 * bench/: evaluate).
 */
export function snapshotHasRowsSql(planner: string, syncId: string): SqlQuery {
  return { text: `SELECT true AS any FROM ${snapshotTable(planner)} WHERE sync_id = $1::uuid ORDER BY sync_id, audience, key LIMIT 1`, values: [syncId] };
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

  expr(path: string): { sql: string; column: WarehouseColumn } {
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
    return { sql: `${prev}.${quoteIdent(column.name)}`, column };
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
 * Types hashed as values (named as format_type prints them, without
 * modifiers): equal values hash alike even where their text differs (1.0
 * and 1.00), and the payload changes only in its spelling then. Any other
 * value is hashed as its text: json, money and geometric types have no hash
 * function, and citext's ignores case, which a payload does not.
 */
const HASHED_AS_IS = new Set(['smallint', 'integer', 'bigint', 'numeric', 'real', 'double precision', 'boolean', 'date', 'timestamp without time zone', 'timestamp with time zone', 'uuid', 'jsonb']);

function hashedValueSql(sql: string, dataType: string): string {
  const t = dataType.trim().toLowerCase().replace(/\([^)]*\)/g, '').replace(/\s+/g, ' ').trim();
  return HASHED_AS_IS.has(t) ? sql : `(${sql})::text COLLATE "C"`;
}

/** One value of a payload: its object, its JSON key, its expression, and the expression it is hashed as. */
interface PayloadValue {
  object: 'fields' | 'identifiers';
  name: string;
  sql: string;
  hashed: string;
}

/**
 * The seed of a shape's row hashes: a 64-bit number from the payload's
 * layout (its format, its keys and their order), hashed with the values, so
 * that renaming, adding or moving a mapping changes every row's hash and
 * the next run updates every record, as it must: the payloads changed.
 */
export function shapeSeed(values: readonly Pick<PayloadValue, 'object' | 'name'>[]): string {
  const layout = JSON.stringify(['roster.payload.v1', values.map((v) => [v.object, v.name])]);
  return createHash('sha256').update(layout).digest().readBigInt64BE(0).toString();
}

/**
 * The hash a snapshot keeps of a row: PostgreSQL's 64-bit hash of the
 * record of the payload's values, seeded with the shape's layout, in hex
 * after ROW_HASH_PREFIX. Hashing the values costs a fraction of building the
 * payload (about 0.8 µs against 3 µs a row of the demo's, in psql), so a
 * plan builds payloads only for the rows whose hash changed. The record
 * hash is the one hash partitioning uses, stable across releases. The seed
 * goes in the record, not as the hash's seed argument, which a record of
 * NULLs ignores.
 */
export function rowHashSql(seed: string, hashed: readonly string[]): string {
  return `'${ROW_HASH_PREFIX}' || to_hex(hash_record_extended(ROW(${[seed, ...hashed].join(', ')}), 0))`;
}

/**
 * The payload's JSON text, `{"fields":{…},"identifiers":{…}}`, from its
 * values: the text between values (keys JSON-escaped here, bound as
 * parameters) and each value as to_json renders it. Concatenation costs half
 * of jsonb_build_object, which builds a binary value, sorts its keys and
 * prints it again (3.1 against 6.3 µs a row of the demo's, in psql).
 */
function payloadTextSql(values: readonly Pick<PayloadValue, 'object' | 'name'>[], exprs: readonly string[], params: Params): string {
  const parts: string[] = [];
  let text = '{"fields":{';
  let object: PayloadValue['object'] = 'fields';
  let first = true;
  values.forEach((v, i) => {
    if (v.object !== object) {
      text += '},"identifiers":{';
      object = v.object;
      first = true;
    }
    text += `${first ? '' : ','}${JSON.stringify(v.name)}:`;
    first = false;
    parts.push(params.add(text, 'text'), `COALESCE(to_json(${exprs[i]})::text, 'null')`);
    text = '';
  });
  text += object === 'fields' ? '},"identifiers":{}}' : '}}';
  parts.push(params.add(text, 'text'));
  return concatSql(parts);
}

/** Pieces of text joined with `||` at most this many at a time (see concatSql). */
const CONCAT_RUN = 32;

/**
 * Text expressions (none NULL) joined into one. `||` copies its growing
 * left side at every step, quadratic in the number of pieces: nothing for a
 * few dozen, 13% of the time of a payload of 150 fields (in psql). Longer
 * lists are joined in runs of CONCAT_RUN, and the runs by concat(), which
 * copies each once (and takes at most 100 arguments, hence the nesting).
 */
export function concatSql(parts: readonly string[]): string {
  if (parts.length <= CONCAT_RUN) return parts.join(' || ');
  const runs: string[] = [];
  for (let i = 0; i < parts.length; i += CONCAT_RUN) runs.push(parts.slice(i, i + CONCAT_RUN).join(' || '));
  const concat = (xs: string[]): string => (xs.length <= 100 ? `concat(${xs.join(', ')})` : concat(Array.from({ length: Math.ceil(xs.length / 100) }, (_, i) => concat(xs.slice(i * 100, i * 100 + 100)))));
  return concat(runs);
}

/**
 * The rows a sync should have in its destination right now:
 * (audience, key, payload_hash, and either payload = { fields, identifiers }
 * or the values it is built from as v1…vn, with `payload` to build it from
 * those), one per audience and key (rows without a key are left out).
 * Audience and key are in the "C" collation: they are identifiers, and
 * sorting them byte-wise is a fraction of the cost of a locale's rules.
 *
 * `ordered` sorts rows by (audience, key): a page of changes then holds few
 * audiences, and the accounting of consecutive pages writes neighbouring
 * pages of the snapshot's index (in the warehouse's order instead, a run
 * of a million rows spent longer accounting than the sort costs). Unless
 * the shape's keys are unique, duplicates are dropped with DISTINCT ON
 * over that same sort (sorted then whatever `ordered` says).
 *
 * Keys within an object are unique (a later value with the same key wins,
 * as in a JSON object), so that the text is a proper JSON object.
 */
export function currentRowsSql(
  ctx: CompileContext,
  shape: SyncShape,
  params = new Params(),
  opts: { payload?: boolean; ordered?: boolean } = {},
): { text: string; params: Params; payload: (alias: string) => string } {
  const { entity } = shape;
  const withPayload = opts.payload ?? true;
  const key = `e.${quoteIdent(entity.primaryKey)}::text`;
  const paths = new PathJoins(ctx, entity);
  const byKey = new Map<string, PayloadValue>();
  const put = (v: PayloadValue) => {
    byKey.delete(`${v.object}\u0000${v.name}`);
    byKey.set(`${v.object}\u0000${v.name}`, v);
  };
  for (const m of shape.mappings) {
    if (m.from === 'segmentMembership') {
      const ids = params.add(shape.segments.map((s) => s.id), 'uuid[]');
      const names = params.add(shape.segments.map((s) => s.name), 'text[]');
      const sql = `to_jsonb(ARRAY(SELECT n.name FROM unnest(${ids}, ${names}) AS n(id, name) WHERE ${memberSql(ctx.plannerSchema, 'n.id', key)} ORDER BY n.name))`;
      put({ object: 'fields', name: m.to, sql, hashed: sql });
      continue;
    }
    const { sql, column } = paths.expr(m.from);
    put({ object: 'fields', name: m.to, sql, hashed: hashedValueSql(sql, column.dataType) });
  }
  for (const i of shape.identifiers) {
    const sql = `e.${quoteIdent(i.column)}::text`;
    put({ object: 'identifiers', name: i.type, sql, hashed: `${sql} COLLATE "C"` });
  }
  const values = [...byKey.values()];
  const hash = rowHashSql(params.add(shapeSeed(values), 'bigint'), values.map((v) => v.hashed));
  const payload = (exprs: readonly string[]) => payloadTextSql(values, exprs, params);
  const columns = [`${hash} AS payload_hash`, ...(withPayload ? [`${payload(values.map((v) => v.sql))} AS payload`] : values.map((v, i) => `${v.sql} AS v${i + 1}`))];

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
  const order = distinct || (opts.ordered ?? true) ? ' ORDER BY 1, 2' : '';
  const text =
    `SELECT ${distinct}${audience} COLLATE "C" AS audience, ${key} COLLATE "C" AS key, ${columns.join(', ')} ` +
    `FROM ${from} WHERE ${where.join(' AND ')}${order}`;
  return { text, params, payload: (alias) => payload(values.map((_, i) => `${alias}.v${i + 1}`)) };
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

/**
 * Settings of the planning transaction (SET LOCAL): see planSql. Its memory
 * depends on what it plans, known once it has looked at the snapshot: see
 * planMemorySettings.
 */
export const PLAN_SETTINGS = [
  // The diff joins the current rows, unsorted, with the snapshot's keys: a
  // merge join would sort both sides for it, a hash join sorts nothing.
  'SET LOCAL enable_mergejoin = off',
  // Building each row's payload (a first run) or hash (a diff) is most of
  // a plan's work, and PostgreSQL prices it as nearly free, so it would not
  // spread the scan over parallel workers by itself: moving a row from a
  // worker is priced at what it is next to building it.
  'SET LOCAL parallel_setup_cost = 100',
  'SET LOCAL parallel_tuple_cost = 0.001',
  // A diff's estimate counts the removes' payload lookup (a TID scan) once
  // for every row it may keep, which lifts it past PostgreSQL's thresholds
  // for compiling the statement with inlining and optimisation: at 300,000
  // members that compilation took 0.7 s of CPU over the leader and its
  // workers, and the statement 1.5–1.7 s against 1.2–1.3 s without it (in
  // psql, bench/: evaluate). The work of a plan is in functions JIT cannot
  // speed up (hashing, to_json), so nothing is lost.
  'SET LOCAL jit = off',
  // A segment's members come from unnesting its buckets, of which
  // PostgreSQL has no statistics: it assumes 200 distinct keys, prices a
  // cache of the entity's rows by key (Memoize) as nearly always hit, and
  // probes the entity's index once per member behind it. For 300,000
  // members that took 1.3 s where the hash join it chooses without the
  // cache took 0.64–0.73 s (psql, bench/: evaluate, tenth round).
  'SET LOCAL enable_memoize = off',
];

/**
 * Memory for each sort and hash of the plan's statement, per process, once
 * the planning transaction knows whether it plans a first run (an empty
 * snapshot) or a diff.
 *
 * - A first run sorts every current row with its payload, about 150 MB in
 *   each of three processes at 1,000,000 rows: in memory, not in temporary
 *   files. At 128MB those sorts spilled, which made planning about 20%
 *   slower (bench/: delivery). Larger runs spill.
 * - A diff hashes the entity's rows (PostgreSQL has no statistics of the
 *   segment's unnested keys, supposes many alike, and so hashes the side
 *   whose key it knows is unique: every row of the entity, not only the
 *   members), the snapshot's keys, and sorts its changes. In one batch the
 *   hash of 1,000,000 users was 133 MB and took 565 ms to build in each
 *   process; at 16MB it is built in 8 batches of 18 MB in 283 ms, and the
 *   whole statement took 1.63–1.76 s against 1.84–2.12 s at 256MB (the
 *   bench's diff in psql, alternating, bench/: evaluate, eleventh round).
 *   A snapshot of 300,000 keys still hashes in one batch (27 MB: hashes
 *   get twice work_mem).
 */
export function planMemorySettings(snapshotEmpty: boolean): string[] {
  return [`SET LOCAL work_mem = '${snapshotEmpty ? '256MB' : '16MB'}'`];
}

/**
 * The frame of the plan's row numbers. row_number() ignores its frame, so
 * the numbers are the same in any mode; but the default, RANGE mode, makes
 * the window track which rows have equal sort keys (peers), which numbering
 * never needs. In ROWS mode the window's own time halved: 0.34–0.45 s →
 * 0.2 s for a million sorted rows (EXPLAIN ANALYZE in psql, PostgreSQL 15).
 */
const NUMBERED = 'ROWS UNBOUNDED PRECEDING';

/**
 * Seqs per operation. A plan numbers each operation's rows from its own
 * base: adds from 1, updates from SEQ_BLOCK + 1, removes from 2·SEQ_BLOCK +
 * 1, each without gaps. So how many rows of an operation a plan holds is
 * its highest seq less its base, read from the end of the seq index
 * (plannedCountsSql), instead of a scan of every planned row with its
 * payload (0.14–0.18 s for the 73,000 changes of the bench's diff, bench/:
 * evaluate); and an operation's pages start at its first row. 2^40 rows
 * per operation, and the highest seq stays below 2^53.
 */
export const SEQ_BLOCK = 1_099_511_627_776;
/** Adds first: a first run, all adds, numbers its rows from 1 with no base to add. */
const OP_BLOCKS: readonly ChangeOp[] = ['ADD', 'UPDATE', 'REMOVE'];

/** The seq just before an operation's first row: where its pages start. */
export function seqBase(op: ChangeOp): string {
  return String(OP_BLOCKS.indexOf(op) * SEQ_BLOCK);
}

/**
 * Plans a run: the statement that creates the run's changes table.
 *
 * Against a snapshot (`snapshotEmpty` false), the diff: the current rows
 * FULL OUTER JOINed with the snapshot on (audience, key); new keys are
 * adds, vanished keys removes, a changed hash an update. The current rows
 * carry their values and hash, and only the rows the diff keeps get a
 * payload, at the end: an everyday run, where few rows changed, builds few
 * payloads. The snapshot side is keys and hashes alone, a narrow hash
 * table instead of one holding every payload the sync ever sent. A remove
 * is planned without a payload: what it sends is the payload last sent
 * (the destination may need its identifiers to remove a row the warehouse
 * no longer has), which stays in the snapshot until the remove is
 * accounted, and its page reads it there as it is sent (nextBatchSql).
 * Looking each one up in the plan, by its row's address, took 0.3–0.4 s of
 * a 1.8 s diff with 30,000 removes (random reads of the snapshot, in the
 * one process a full join runs in; psql, bench/: evaluate, eleventh
 * round), before anything could be sent, and for removes a mode filters
 * out too.
 *
 * Against an empty snapshot (a first run, checked in the plan's own
 * transaction: see src/sync/run.ts), every current row is an add: they are
 * built with their payloads and sorted by the parallel workers, and
 * numbered in the order that sort gave, so nothing is sorted twice, and
 * nothing is joined. Should a run declared dead still write a row of this
 * sync meanwhile, accounting its add falls back to an upsert
 * (accountDeliveredSql), as for any add found already there.
 *
 * Seqs keep each audience's rows together, so that a page of changes holds
 * few audiences: each operation's rows in (audience, key) order, numbered
 * from the operation's own base (see SEQ_BLOCK). Nothing orders the result
 * itself: pages are read by seq, through the index createChangesIndexSql
 * adds. Audiences and keys are in the "C" collation everywhere: the
 * current rows' (see currentRowsSql), the snapshot's (see
 * createSyncTablesSql) and so the changes table's. OFFSET 0 keeps the
 * current rows a subquery, whose hash (and payload) the parallel workers
 * compute once, rather than expressions the planner would inline into the
 * join and the output, computing them twice.
 *
 * `into` is the table to create; `temporary` makes it a temporary table
 * dropped at commit (a preview).
 */
export function planSql(
  ctx: CompileContext,
  shape: SyncShape,
  opts: { syncId: string; mode: SyncMode; removal: RemovalBehavior; into: string; temporary?: boolean; snapshotEmpty?: boolean },
): SqlQuery {
  const filtered = filteredOps(opts.mode, opts.removal);
  const create = opts.temporary ? `CREATE TEMPORARY TABLE ${opts.into} ON COMMIT DROP AS ` : `CREATE UNLOGGED TABLE ${opts.into} AS `;
  const fixed = shape.audience.kind === 'FIXED';
  if (opts.snapshotEmpty) {
    const current = currentRowsSql(ctx, shape, new Params(), { payload: true, ordered: true });
    return {
      text:
        create +
        `SELECT row_number() OVER (ORDER BY ${fixed ? 'cur.key' : 'cur.audience, cur.key'} ${NUMBERED}) AS seq, cur.audience, cur.key, 'ADD'::text AS op, ` +
        `cur.payload, cur.payload_hash, ${filtered.includes('ADD')} AS filtered, 'PENDING'::text AS state, NULL::text AS message, NULL::text AS code ` +
        `FROM (${current.text} OFFSET 0) AS cur`,
      values: current.params.values,
    };
  }
  const current = currentRowsSql(ctx, shape, new Params(), { payload: false, ordered: false });
  const { params } = current;
  const sync = params.add(opts.syncId, 'uuid');
  const snapshot = snapshotTable(ctx.plannerSchema);
  const op = `CASE WHEN s.key IS NULL THEN 'ADD' WHEN c.key IS NULL THEN 'REMOVE' ELSE 'UPDATE' END`;
  const block = `CASE WHEN s.key IS NULL THEN ${OP_BLOCKS.indexOf('ADD')} WHEN c.key IS NULL THEN ${OP_BLOCKS.indexOf('REMOVE')} ELSE ${OP_BLOCKS.indexOf('UPDATE')} END`;
  const filteredExpr = filtered.length ? `(${op}) IN (${filtered.map((f) => `'${f}'`).join(', ')})` : 'false';
  const audience = 'COALESCE(c.audience, s.audience)';
  const key = 'COALESCE(c.key, s.key)';
  return {
    text:
      create +
      `WITH c AS (SELECT * FROM (${current.text} OFFSET 0) AS cur), ` +
      `s AS (SELECT audience, key, payload_hash FROM ${snapshot} WHERE sync_id = ${sync}) ` +
      `SELECT ${block} * ${SEQ_BLOCK} + row_number() OVER (PARTITION BY ${block} ORDER BY ${fixed ? key : `${audience}, ${key}`} ${NUMBERED}) AS seq, ${audience} AS audience, ${key} AS key, ${op} AS op, ` +
      `CASE WHEN c.key IS NOT NULL THEN ${current.payload('c')} END AS payload, ` +
      `c.payload_hash, ${filteredExpr} AS filtered, 'PENDING'::text AS state, NULL::text AS message, NULL::text AS code ` +
      `FROM c FULL OUTER JOIN s ON s.audience = c.audience AND s.key = c.key ` +
      `WHERE s.key IS NULL OR c.key IS NULL OR s.payload_hash IS DISTINCT FROM c.payload_hash`,
    values: params.values,
  };
}

/**
 * Rehashes a sync's snapshot rows that carry a hash of an earlier kind
 * (see createSyncTablesSql), in the plan's transaction, before the diff:
 * - a row whose payload is the payload the warehouse gives now (equal as
 *   JSON, whatever its spacing or key order) takes the current hash and
 *   payload text: it is unchanged, and stays so;
 * - every other such row is marked as differing (ROW_HASH_PREFIX alone,
 *   which no hash equals), so the diff plans it as the update (or remove)
 *   it is.
 * Once per sync: afterwards no row of its snapshot is of an earlier kind,
 * and the sync is struck off the list of those that have some.
 */
export function rehashLegacySql(ctx: CompileContext, shape: SyncShape, syncId: string): SqlQuery[] {
  const current = currentRowsSql(ctx, shape, new Params(), { payload: true, ordered: false });
  const { params } = current;
  const sync = params.add(syncId, 'uuid');
  const snapshot = snapshotTable(ctx.plannerSchema);
  return [
    {
      text:
        `UPDATE ${snapshot} AS s SET payload_hash = cur.payload_hash, payload = cur.payload FROM (${current.text}) AS cur ` +
        `WHERE s.sync_id = ${sync} AND s.audience = cur.audience COLLATE "C" AND s.key = cur.key COLLATE "C" AND ${LEGACY_HASH.replace('payload_hash', 's.payload_hash')} AND s.payload::jsonb = cur.payload::jsonb`,
      values: params.values,
    },
    { text: `UPDATE ${snapshot} SET payload_hash = '${ROW_HASH_PREFIX}' WHERE sync_id = $1::uuid AND ${LEGACY_HASH}`, values: [syncId] },
    { text: `DELETE FROM ${legacySyncsTable(ctx.plannerSchema)} WHERE sync_id = $1::uuid`, values: [syncId] },
  ];
}

/**
 * Adds a first run must have written, at the least, for the snapshot's
 * statistics to be refreshed when it ends (snapshotStatisticsSql). Below
 * that, a misjudged snapshot costs the next diff less than the analysis.
 */
export const SNAPSHOT_ANALYZE_MIN_ROWS = 10_000;

/**
 * Statistics of the snapshot once a sync's first run has written its rows
 * (at least SNAPSHOT_ANALYZE_MIN_ROWS), sampled, of the sync ids only: how
 * many rows the next diff reads is what its plan must know. Until
 * autovacuum analyses the table, PostgreSQL takes a sync it has never seen
 * for a few thousand rows: after a first run of 300,000 members, the next
 * diff read the sync's rows by a bitmap of the key, in the leader alone,
 * into a hash sized for 4,096, and built it in 493 ms before the parallel
 * workers started, where the same diff with fresh statistics scanned them
 * with the workers and built it in 184–351 ms (EXPLAIN ANALYZE of bench
 * runs, bench/: evaluate, fourteenth round). Later runs change a sync's
 * share of the table by little, which autovacuum's own analyses follow.
 */
export function snapshotStatisticsSql(planner: string): string[] {
  return sampledAnalyzeSql(snapshotTable(planner), ['sync_id']);
}

/** Drops a sync's changes table: when its run ends, and before a run plans (one that died may have left it). */
export function dropChangesSql(changes: string): string {
  return `DROP TABLE IF EXISTS ${changes}`;
}

/**
 * The changes table's key, built once its rows are in, and the statistics
 * its per-batch reads are planned with (in the plan's transaction).
 */
export function createChangesIndexSql(changes: string): string[] {
  return [
    `ALTER TABLE ${changes} ADD PRIMARY KEY (seq)`,
    // What the per-batch reads need to know is which operations are common
    // and how seqs spread (an operation rarer than the sample sees fills a
    // page or two). The columns the per-batch statements filter on only: the
    // payloads' statistics would cost more than the rest of the analysis.
    ...sampledAnalyzeSql(changes, ['seq', 'op', 'filtered', 'state']),
  ];
}

/**
 * How many rows of each operation a plan holds: the highest seq of each
 * operation's block less its base (see SEQ_BLOCK), one probe of the end of
 * the seq index each, once createChangesIndexSql has built it.
 */
export function plannedCountsSql(changes: string): SqlQuery {
  const blocks = OP_BLOCKS.map((op) => `('${op}', ${seqBase(op)}::bigint)`).join(', ');
  return {
    text:
      `SELECT o.op, COALESCE((SELECT max(c.seq) FROM ${changes} AS c WHERE c.seq > o.base AND c.seq <= o.base + ${SEQ_BLOCK}) - o.base, 0)::int AS n ` +
      `FROM (VALUES ${blocks}) AS o(op, base)`,
    values: [],
  };
}

/** Rows of each operation in a changes table without an index (a preview's): a scan. */
export function countChangesSql(changes: string): SqlQuery {
  return { text: `SELECT op, count(*)::int AS n FROM ${changes} GROUP BY 1`, values: [] };
}

/**
 * The next page of changes to send, in (op, seq) order, resumable by seq.
 * ORDER BY names the table's column (c.seq), not the output's `seq::int`: the
 * page is then read in the primary key's order, and the scan
 * stops after `limit` rows, instead of sorting the rest of the run each time.
 * Seqs are bigints, read and passed back as text (exact beyond 2^53).
 */
export function nextBatchSql(planner: string, syncId: string, op: ChangeOp, afterSeq: string, limit: number): SqlQuery {
  const changes = changesTable(planner, syncId);
  const pending = `c.op = $1 AND NOT c.filtered AND c.state = 'PENDING' AND c.seq > $2 ORDER BY c.seq LIMIT $3`;
  if (op === 'REMOVE') {
    // A remove sends the payload last sent, from the snapshot (see planSql):
    // a probe of the snapshot's key for each row of the page, as a subquery
    // of the row. As a join, PostgreSQL estimated from statistics how few
    // changes would match, expected the page to need the whole table, and
    // chose plans that took 260-350 ms a page against 8-20 ms (bench/:
    // evaluate, eleventh round). A row no longer there (NULL) was accounted
    // by a run that overlapped this one: its remove was sent.
    return {
      text: `SELECT c.seq, c.audience, c.key, ${lastSentSql(planner, 'c', '$4')} AS payload FROM ${changes} AS c WHERE ${pending}`,
      values: [op, afterSeq, limit, syncId],
    };
  }
  return { text: `SELECT c.seq, c.audience, c.key, c.payload FROM ${changes} AS c WHERE ${pending}`, values: [op, afterSeq, limit] };
}

/**
 * A sample of a preview's changes (`table`: the plan's temporary table), up
 * to `limit` of each operation the mode sends, in seq order, with the
 * payload each would send: a remove's from the snapshot, as its page would
 * read it (nextBatchSql).
 */
export function previewSamplesSql(planner: string, syncId: string, table: string, limit: number): SqlQuery {
  return {
    text:
      `SELECT x.op, x.audience, x.key, CASE WHEN x.op = 'REMOVE' THEN ${lastSentSql(planner, 'x', '$2')} ELSE x.payload END AS payload ` +
      `FROM (SELECT *, row_number() OVER (PARTITION BY op ORDER BY seq) AS n FROM ${table} WHERE NOT filtered) AS x ` +
      `WHERE x.n <= $1 ORDER BY x.op, x.seq`,
    values: [limit, syncId],
  };
}

/** The payload the snapshot holds for a change (`alias`) of the sync (`sync`: a uuid parameter): a probe of its key. */
function lastSentSql(planner: string, alias: string, sync: string): string {
  return `(SELECT s.payload FROM ${snapshotTable(planner)} AS s WHERE s.sync_id = ${sync}::uuid AND s.audience = ${alias}.audience AND s.key = ${alias}.key)`;
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
 * Settings of the transaction that accounts confirmed batches (sent with its
 * BEGIN, one round trip).
 *
 * A confirmed range's size is unknown to the planner (its bounds are
 * parameters of an unnest): it guesses a ninth of the changes table for each
 * range. At a million rows, a DELETE of removes from two ranges (a group the
 * accountant writes when it falls behind) was priced past the threshold of
 * JIT compilation and compiled at every write: 149 ms against 5 ms in psql.
 * From four ranges in one statement, which a bound on unaccounted batches
 * above 2 lets the accountant group, the plan became a scan of the whole
 * changes table joined by hash: 0.7 s a statement against 30 ms (with a
 * bound of 16, a run spent 137 s accounting). The only sound plan is a range
 * scan of the changes table's key per confirmed range and a probe of the
 * snapshot's key per row: these settings leave the planner no other.
 */
export const ACCOUNT_SETTINGS = [
  // Losing the last commits to a database crash only makes the next run send
  // those rows again (the snapshot never claims more than was confirmed), so
  // the transaction does not wait for the WAL flush.
  'SET LOCAL synchronous_commit = off',
  'SET LOCAL enable_seqscan = off',
  // From about twenty ranges a write (what waits behind a fast destination,
  // see unaccountedGroups in run.ts), each range's guessed ninth of the
  // table made a bitmap of it cheaper than walking the key: the same rows,
  // but a bitmap of every entry of the range before the first row comes.
  'SET LOCAL enable_bitmapscan = off',
  'SET LOCAL enable_hashjoin = off',
  'SET LOCAL enable_mergejoin = off',
  'SET LOCAL jit = off',
];

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
 * `ops`: the filtered operations the plan holds rows of; a statement for
 * an operation it holds none of is not sent. Sent anyway, the DELETE of
 * removes after a subtractive first run's upsert of 10,000 adds took 9.8 s
 * for nothing (test/sync/run.test.ts): PostgreSQL's statistics knew none
 * of the rows that upsert had just written in the same transaction, so it
 * took them for one and scanned the changes table once for each.
 */
export function accountFilteredSql(planner: string, syncId: string, ops: readonly ChangeOp[]): SqlQuery[] {
  const snapshot = snapshotTable(planner);
  const changes = changesTable(planner, syncId);
  const out: SqlQuery[] = [];
  if (ops.some((op) => op !== 'REMOVE')) {
    out.push({
      text:
        `INSERT INTO ${snapshot} (sync_id, audience, key, payload_hash, payload, accounted_at) ` +
        `SELECT $1::uuid, c.audience, c.key, c.payload_hash, c.payload, now() FROM ${changes} AS c WHERE c.filtered AND c.op <> 'REMOVE' ` +
        `ON CONFLICT (sync_id, audience, key) DO UPDATE SET payload_hash = EXCLUDED.payload_hash, payload = EXCLUDED.payload, accounted_at = EXCLUDED.accounted_at`,
      values: [syncId],
    });
  }
  if (ops.includes('REMOVE')) {
    out.push({
      text: `DELETE FROM ${snapshot} AS s USING ${changes} AS c WHERE c.filtered AND c.op = 'REMOVE' AND s.sync_id = $1::uuid AND s.audience = c.audience AND s.key = c.key`,
      values: [syncId],
    });
  }
  return out;
}
