// The sync run (DESIGN.md §5): plan in the warehouse, filter by mode, deliver
// in batches streamed from the changes table, account every confirmed batch,
// finish. Reading the next page and accounting the last confirmed ones
// overlap sending, and so does sending itself where the connector allows
// several batches on the wire (a pipeline, so that the destination, not the
// database round trips between requests, sets the pace). The snapshot never
// claims what the destination has not confirmed, so a crash at any point
// loses nothing and re-sends at most the batches in flight
// (Connector.concurrencyFor) and the confirmed ones not yet written
// (MAX_UNACCOUNTED_ROWS).
import type pg from 'pg';
import type { Services } from '../context.js';
import type { AudienceSync, Destination, SyncRun } from '../generated/prisma/client.js';
import { InvalidStateError, NotFoundError } from '../graphql/errors.js';
import { ConnectorError, type Audience, type Connector, type ConnectorContext, type SyncRow } from '../connectors/contract.js';
import { QUEUES, type SyncRunJob } from '../jobs/queues.js';
import { queueOnce } from '../jobs/queue-once.js';
import { runEvaluation } from '../segments/evaluate.js';
import { loadCompileContext } from '../segments/segments.js';
import type { CompileContext } from '../segments/metadata.js';
import { sourcePool } from '../warehouse/sources.js';
import { inTransaction } from '../lib/transaction.js';
import { connectorOf, contextFor, resolveAudience } from './destinations.js';
import {
  ACCOUNT_SETTINGS,
  accountDeliveredSql,
  accountFilteredSql,
  changesTable,
  createChangesIndexSql,
  createSyncTablesSql,
  currentRowsSql,
  dropChangesSql,
  filteredOps,
  hasLegacyHashesSql,
  markRejectedSql,
  nextBatchSql,
  PLAN_SETTINGS,
  planMemorySettings,
  planSql,
  plannedCountsSql,
  previewSamplesSql,
  countChangesSql,
  seqBase,
  rehashLegacySql,
  snapshotHasRowsSql,
  SNAPSHOT_ANALYZE_MIN_ROWS,
  snapshotStatisticsSql,
  type ChangeOp,
  type ConfirmedRange,
  type SyncShape,
} from './plan-sql.js';
import { keysAreUnique } from '../segments/unique-keys.js';
import { findSync, SEGMENT_MEMBERSHIP } from './syncs.js';
import { reportsMatchRate, sampleMatchRates } from './match-rates.js';
import { Accountant } from './accountant.js';
import { PAYLOAD_AS_TEXT, PayloadRow } from './payload-row.js';
import { InFlight } from './in-flight.js';

/** A run whose worker has not reported for this long is considered dead. */
export const HEARTBEAT_TIMEOUT_MS = 90_000;
const HEARTBEAT_EVERY_MS = 10_000;
const PROGRESS_EVERY_MS = 250;
/** How often a run's delivered counts are written to its row while it runs. */
const COUNTS_EVERY_MS = 1_000;

// ─── Requesting runs ─────────────────────────────────────────────────────────

/**
 * Queues a run, or returns the one already waiting: one run at a time per
 * sync, and at most one more queued behind it (a pg-boss stately queue keyed
 * by the sync). A trigger while one waits joins that one; simultaneous
 * triggers join the one the queue took (see queueOnce).
 */
export async function requestRun(services: Services, workspaceId: string, syncId: string, opts: { trigger: string; evaluateFirst?: boolean }): Promise<SyncRun> {
  const sync = await findSync(services, workspaceId, syncId);
  const boss = services.boss;
  if (!boss) throw new InvalidStateError('runs cannot be queued: this process has no job queue (pg-boss is not started)');
  const prisma = services.db.prisma;
  return queueOnce<SyncRun>({
    waiting: () => prisma.syncRun.findFirst({ where: { syncId: sync.id, status: 'QUEUED', jobId: { not: null } }, orderBy: { queuedAt: 'desc' } }),
    create: () => prisma.syncRun.create({ data: { workspaceId, syncId: sync.id, trigger: opts.trigger, evaluateFirst: opts.evaluateFirst ?? false } }),
    send: (run) => boss.send(QUEUES.syncRun, { runId: run.id, syncId: sync.id } satisfies SyncRunJob, { singletonKey: sync.id }),
    taken: (run, jobId) => prisma.syncRun.update({ where: { id: run.id }, data: { jobId } }),
    discard: async (run) => {
      await prisma.syncRun.delete({ where: { id: run.id } });
    },
    refused: () => new InvalidStateError('a run of this sync is already queued behind the one in progress; it will include every change'),
  });
}

/**
 * Cancels a queued run, and its job: the queue holds one waiting job per
 * sync, and a cancelled run's job left waiting kept every later trigger out
 * ("already queued") until a worker took it, found the run cancelled and did
 * nothing, which behind a long run is that run's whole length. Should the
 * job's cancellation fail, the run stays cancelled and its job still does
 * nothing when taken. A running run cannot be cancelled.
 */
export async function cancelRun(services: Services, workspaceId: string, runId: string): Promise<SyncRun> {
  const prisma = services.db.prisma;
  const run = await prisma.syncRun.findFirst({ where: { id: runId, workspaceId } });
  if (!run) throw new NotFoundError('SyncRun', runId, ['id']);
  const cancelled = await prisma.syncRun.updateMany({ where: { id: run.id, status: 'QUEUED' }, data: { status: 'CANCELLED', finishedAt: new Date() } });
  if (cancelled.count === 0) {
    throw new InvalidStateError(`only a queued run can be cancelled, but this one is ${run.status.toLowerCase()}; pause the sync to stop further runs`, ['id']);
  }
  if (run.jobId && services.boss) {
    await services.boss.cancel(QUEUES.syncRun, run.jobId).catch((err: unknown) => services.logger.warn({ err, runId: run.id }, 'could not cancel the job of a cancelled run; it does nothing when a worker takes it'));
  }
  return prisma.syncRun.findUniqueOrThrow({ where: { id: run.id } });
}

// ─── Building the run ────────────────────────────────────────────────────────

interface Prepared {
  sync: AudienceSync;
  destination: Destination;
  connector: Connector;
  ctx: CompileContext;
  shape: SyncShape;
  pool: pg.Pool;
  planner: string;
}

async function prepare(services: Services, sync: AudienceSync): Promise<Prepared> {
  const prisma = services.db.prisma;
  const [entity, destination, segments] = await Promise.all([
    prisma.entity.findUniqueOrThrow({ where: { id: sync.entityId }, include: { source: true } }),
    prisma.destination.findUniqueOrThrow({ where: { id: sync.destinationId } }),
    prisma.segment.findMany({ where: { entityId: sync.entityId }, select: { id: true, name: true } }),
  ]);
  const ctx = await loadCompileContext(services, sync.workspaceId, entity.sourceId);
  const mappings = sync.mappings as { from: string; to: string }[];
  const shape: SyncShape = {
    entity: ctx.entities.get(entity.id)!,
    segmentId: sync.segmentId,
    audience:
      sync.audienceTarget === 'NAME_FROM_COLUMN'
        ? { kind: 'COLUMN', column: sync.audienceNameColumn! }
        : { kind: 'FIXED', reference: sync.audienceTarget === 'EXISTING' ? sync.audienceExternalId! : sync.audienceName! },
    mappings,
    identifiers: sync.identifiers as { type: string; column: string }[],
    segments: mappings.some((m) => m.from === SEGMENT_MEMBERSHIP) ? segments : [],
  };
  const pool = sourcePool(services, entity.source);
  await pool.query(createSyncTablesSql(entity.source.plannerSchema));
  shape.uniqueKeys = await keysAreUnique(pool, ctx, shape.entity, mappings.filter((m) => m.from !== SEGMENT_MEMBERSHIP).map((m) => m.from));
  return { sync, destination, connector: connectorOf(destination.type), ctx, shape, pool, planner: entity.source.plannerSchema };
}

function audienceTarget(sync: AudienceSync, reference: string) {
  return sync.audienceTarget === 'EXISTING'
    ? ({ kind: 'EXISTING', id: reference } as const)
    : ({ kind: 'BY_NAME', name: reference, type: sync.audienceType } as const);
}

// ─── The run ─────────────────────────────────────────────────────────────────

type Counts = Record<ChangeOp, number>;
const zero = (): Counts => ({ ADD: 0, REMOVE: 0, UPDATE: 0 });

/**
 * Confirmed rows that may wait for their snapshot write while later
 * batches are sent: what a worker killed at the worst moment makes the next
 * run send again (besides the batches on the wire). The bound counts whole
 * confirmed groups (a batch's rows for one audience), never fewer than
 * two: a destination of large batches keeps the bound of two it always had,
 * and one of small batches that answers faster than the snapshot is written
 * lets the writes fall behind by a few batches and catch up in one
 * statement, instead of the run stopping to wait for every second one.
 * With two groups of 1,000 rows the bench's run waited 2.1–3.1 s of its
 * 10–12 s for its writes; with ten, 0.05–0.6 s (bench/: delivery, twelfth
 * round).
 */
export const MAX_UNACCOUNTED_ROWS = 10_000;

/** Confirmed groups that may wait for their write, for the run's batch size (see MAX_UNACCOUNTED_ROWS). */
export function unaccountedGroups(batchSize: number): number {
  return Math.max(2, Math.floor(MAX_UNACCOUNTED_ROWS / Math.max(1, batchSize)));
}

interface Refusal {
  seq: string;
  key: string;
  op: ChangeOp;
  message: string;
  code: string | null;
}

/** One confirmed group of a batch (one operation, one audience), waiting for the accountant. */
interface Confirmed {
  op: ChangeOp;
  /** The group's seqs, first to last; null when every row was refused. */
  range: ConfirmedRange | null;
  /** Rows confirmed: the range's, less the refused ones. */
  count: number;
  refusals: Refusal[];
}

const OPS: readonly ChangeOp[] = ['REMOVE', 'ADD', 'UPDATE'];

/**
 * Writes a group of confirmed batches to the snapshot in one transaction:
 * the refused rows marked first (a range accounts its PENDING rows), then
 * one statement per operation present. Adds are plain inserts; should an
 * added key already be in the snapshot (see accountDeliveredSql), the whole
 * transaction is written again with adds upserted (marking a refusal twice
 * changes nothing).
 *
 * The transaction's settings (ACCOUNT_SETTINGS) fix its plans and do not
 * wait for the WAL flush.
 */
async function accountConfirmed(pool: pg.Pool, planner: string, syncId: string, items: readonly Confirmed[]): Promise<void> {
  const changes = changesTable(planner, syncId);
  const refusals = items.flatMap((i) => i.refusals);
  const write = (adds: 'insert' | 'upsert') =>
    inTransaction(
      pool,
      async (client) => {
        if (refusals.length) await client.query(markRejectedSql(changes, refusals));
        for (const op of OPS) {
          const ranges = items.flatMap((i) => (i.op === op && i.range ? [i.range] : []));
          if (ranges.length) await client.query(accountDeliveredSql(planner, syncId, op, ranges, adds));
        }
      },
      { settings: ACCOUNT_SETTINGS },
    );
  try {
    await write('insert');
  } catch (err) {
    if ((err as { code?: string }).code !== '23505') throw err;
    await write('upsert');
  }
}

/** Runs one queued run (the job handler). Failures end the run FAILED; nothing is thrown for them. */
export async function runSync(services: Services, job: SyncRunJob, opts: { signal?: AbortSignal } = {}): Promise<SyncRun | null> {
  const prisma = services.db.prisma;
  const run = await prisma.syncRun.findUnique({ where: { id: job.runId }, include: { sync: true } });
  if (!run || run.status !== 'QUEUED') return run ?? null; // deleted or cancelled meanwhile
  const sync = run.sync;
  const startedAt = new Date();
  await prisma.syncRun.update({ where: { id: run.id }, data: { status: 'RUNNING', startedAt, heartbeatAt: startedAt } });
  const heartbeat = setInterval(() => {
    prisma.syncRun.update({ where: { id: run.id }, data: { heartbeatAt: new Date() } }).catch(() => {});
  }, HEARTBEAT_EVERY_MS);
  heartbeat.unref();

  const planned = zero();
  const delivered = zero();
  let rejected = 0;
  const phases: Record<string, number> = {};
  let lastProgress = 0;
  let phase: 'PLANNING' | 'DELIVERING' | 'ACCOUNTING' = 'PLANNING';
  const progress = (force = false) => {
    const now = Date.now();
    if (!force && now - lastProgress < PROGRESS_EVERY_MS) return;
    lastProgress = now;
    const total = planned.ADD + planned.REMOVE + planned.UPDATE;
    const done = delivered.ADD + delivered.REMOVE + delivered.UPDATE + rejected;
    const elapsed = (now - startedAt.getTime()) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    services.pubsub?.publish('syncRunProgress', sync.id, {
      workspaceId: sync.workspaceId,
      syncId: sync.id,
      runId: run.id,
      phase,
      planned: { ...planned },
      delivered: { ...delivered },
      rejected,
      percent: total ? Math.min(100, Math.round((done / total) * 1000) / 10) : phase === 'PLANNING' ? 0 : 100,
      rowsPerSecond: Math.round(rate),
      etaSeconds: rate > 0 ? Math.round((total - done) / rate) : null,
    });
  };

  let status: 'SUCCEEDED' | 'PARTIAL' | 'FAILED' = 'SUCCEEDED';
  let error: string | null = null;
  let prepared: Prepared | undefined;
  let accountant: Accountant<Confirmed> | undefined;
  /**
   * For a first run (the plan found the snapshot empty), the adds the mode
   * filtered out, which planning wrote to the snapshot unsent; null for a diff.
   */
  let firstRunFiltered: number | null = null;
  progress(true); // PLANNING: a dashboard shows the run as started at once
  try {
    // Evaluate first when asked, or when the segment has never been evaluated.
    if (sync.segmentId) {
      const segment = await prisma.segment.findUniqueOrThrow({ where: { id: sync.segmentId } });
      if (run.evaluateFirst || segment.version === 0) {
        const evaluation = await prisma.segmentEvaluation.create({ data: { segmentId: segment.id, version: segment.version + 1, trigger: 'DEPENDENCY' } });
        const result = await runEvaluation(services, { evaluationId: evaluation.id, segmentId: segment.id });
        if (result?.status !== 'SUCCEEDED') throw new Error(`the segment could not be evaluated: ${result?.error ?? 'unknown error'}`);
      }
    }

    // 1. Plan, and account what the mode filters out.
    let t = Date.now();
    prepared = await prepare(services, sync);
    const p = prepared;
    const changes = changesTable(p.planner, sync.id);
    const filtered = filteredOps(sync.mode, sync.removalBehavior); // accounted, never sent
    const counts = await inTransaction(p.pool, async (client) => {
      await client.query(dropChangesSql(changes));
      const { snapshotEmpty, rows: created } = await planChanges(client, p, changes);
      if (snapshotEmpty) firstRunFiltered = filtered.includes('ADD') ? created : 0;
      for (const q of createChangesIndexSql(changes)) await client.query(q);
      // A first run's changes are all adds, which the statement's row count
      // counts; a diff's counts are read from the seq index (plannedCountsSql).
      const rows = snapshotEmpty
        ? [{ op: 'ADD' as const, n: created }]
        : (await client.query<{ op: ChangeOp; n: number }>(plannedCountsSql(changes))).rows;
      const filteredHeld = rows.filter((c) => c.n > 0 && filtered.includes(c.op)).map((c) => c.op);
      for (const q of accountFilteredSql(p.planner, sync.id, filteredHeld)) await client.query(q);
      return rows;
    });
    for (const c of counts) if (!filtered.includes(c.op)) planned[c.op] += c.n;
    phases.planning = Date.now() - t;
    await prisma.syncRun.update({
      where: { id: run.id },
      data: { plannedAdds: planned.ADD, plannedRemoves: planned.REMOVE, plannedUpdates: planned.UPDATE, phaseDurations: phases },
    });
    phase = 'DELIVERING';
    progress(true);

    // 2-4. Deliver in batches, accounting every confirmed one.
    t = Date.now();
    const connector = p.connector;
    const cctx: ConnectorContext<Record<string, unknown>> = contextFor(services, p.destination, opts.signal);
    // Promises, so that batches in flight at once resolve (and create) an audience once.
    const audiences = new Map<string, Promise<Audience>>();
    const audienceFor = (reference: string): Promise<Audience> => {
      let audience = audiences.get(reference);
      if (!audience) {
        audience = resolveAudience(services, p.destination, connector, cctx, audienceTarget(sync, reference));
        audiences.set(reference, audience);
      }
      return audience;
    };

    const batchSize = Math.max(1, Math.min(connector.batchSizeFor?.(cctx.config) ?? connector.spec.batchSize, connector.spec.batchSize));
    // Confirmed batches are written to the snapshot in the background while
    // the next one is sent (src/sync/accountant.ts), several in one
    // statement when the writes fall behind.
    const accounted = { ...zero(), rejected: 0 };
    let countsWrittenAt = 0;
    accountant = new Accountant<Confirmed>(async (items) => {
      await accountConfirmed(p.pool, p.planner, sync.id, items);
      const refusals = items.flatMap((i) => i.refusals);
      if (refusals.length) {
        await prisma.syncRunError.createMany({ data: refusals.map((r) => ({ runId: run.id, recordKey: r.key, operation: r.op, message: r.message.slice(0, 2000), code: r.code })) });
      }
      for (const i of items) accounted[i.op] += i.count;
      accounted.rejected += refusals.length;
      // The run's counters follow in the database at most every
      // COUNTS_EVERY_MS (progress events carry every batch, and the run's
      // end writes the totals): an UPDATE per batch was a third of the
      // worker's database round trips.
      if (Date.now() - countsWrittenAt >= COUNTS_EVERY_MS) {
        countsWrittenAt = Date.now();
        await prisma.syncRun.update({
          where: { id: run.id },
          data: { deliveredAdds: accounted.ADD, deliveredRemoves: accounted.REMOVE, deliveredUpdates: accounted.UPDATE, rejected: accounted.rejected, heartbeatAt: new Date() },
        });
      }
    }, { maxPending: unaccountedGroups(batchSize) });

    // Payloads stay JSON text until a connector reads them (src/sync/payload-row.ts).
    type Page = { seq: string; audience: string; key: string; payload: string | null }[];
    const readPage = (op: ChangeOp, after: string): Promise<Page> => {
      const page = p.pool.query<Page[number]>({ ...nextBatchSql(p.planner, sync.id, op, after, batchSize), types: PAYLOAD_AS_TEXT }).then((r) => r.rows);
      page.catch(() => {}); // read ahead: awaited later, or abandoned if the run fails first
      return page;
    };
    // Batches in flight at once, as the connector allows (src/sync/in-flight.ts);
    // their confirmations reach the accountant in the order they were sent.
    const concurrency = Math.max(1, Math.floor(connector.concurrencyFor?.(cctx.config) ?? 1));
    const inFlight = new InFlight<Confirmed>(concurrency, async (confirmed) => {
      delivered[confirmed.op] += confirmed.count;
      rejected += confirmed.refusals.length;
      await accountant!.push(confirmed);
      progress();
    });
    /** Sends one page's rows of one audience; what the destination confirmed, and refused. */
    const deliverGroup = async (op: ChangeOp, reference: string, group: Page): Promise<Confirmed> => {
      const audience = await audienceFor(reference);
      // Seqs by key, for refused rows only: built when a destination refuses
      // one, not for every batch (a Map of a thousand entries per page).
      let seqByKey: Map<string, string> | undefined;
      const seqOf = (key: string) => (seqByKey ??= new Map(group.map((r) => [r.key, r.seq]))).get(key);
      // A remove whose row has left the snapshot since the plan (a run that
      // overlapped this one sent it and accounted it) is not sent again.
      const sendable = op === 'REMOVE' ? group.filter((r) => r.payload !== null) : group;
      let syncRows: SyncRow[] = sendable.map((r) => new PayloadRow(r.key, r.payload!));
      const refusals = new Map<string, Refusal>(); // by seq: a row refused twice counts once
      const refuse = (list: { key: string; message: string; code?: string }[]) => {
        for (const r of list) {
          const seq = seqOf(r.key);
          if (seq === undefined || refusals.has(seq)) continue;
          refusals.set(seq, { seq, key: r.key, op, message: r.message, code: r.code ?? null });
        }
      };
      // Profiles first for new members; for changed ones only when there
      // is no update() (which is itself the profile upsert where it exists,
      // and sending both would write every change twice).
      if ((op === 'ADD' || (op === 'UPDATE' && !connector.update)) && connector.spec.requiresProfiles && connector.ensureProfiles) {
        refuse((await connector.ensureProfiles(cctx, syncRows)).rejected);
        if (refusals.size) syncRows = syncRows.filter((r) => !refusals.has(seqOf(r.key)!));
      }
      if (syncRows.length) {
        const result =
          op === 'ADD' ? await connector.add(cctx, audience, syncRows)
          : op === 'REMOVE' ? await connector.remove(cctx, audience, syncRows)
          : connector.update ? await connector.update(cctx, audience, syncRows)
          : await connector.add(cctx, audience, syncRows);
        refuse(result.rejected);
      }
      const count = sendable.length - refusals.size;
      const range = count > 0 ? { audience: reference, first: group[0]!.seq, last: group[group.length - 1]!.seq } : null;
      return { op, range, count, refusals: [...refusals.values()] };
    };
    try {
      for (const op of OPS) {
        if (planned[op] === 0) continue; // not even one page to look for
        // The next page is read while this one is delivered.
        let next = readPage(op, seqBase(op));
        for (;;) {
          if (opts.signal?.aborted) throw new Error('the run was stopped (the worker is shutting down); the next run resumes from the snapshot');
          const rows = await next;
          if (rows.length === 0) break;
          next = rows.length === batchSize ? readPage(op, rows[rows.length - 1]!.seq) : Promise.resolve([]);
          // One call per audience within the page.
          const groups = new Map<string, Page>();
          for (const row of rows) {
            // Appended in place: copying the group for every row made each page quadratic (and its garbage with it).
            const group = groups.get(row.audience);
            if (group) group.push(row);
            else groups.set(row.audience, [row]);
          }
          for (const [reference, group] of groups) await inFlight.add(() => deliverGroup(op, reference, group));
        }
        // Every batch of an operation is answered before the next operation's first.
        await inFlight.drain();
      }
    } catch (err) {
      // What the destination confirmed of the batches still in flight is accounted too.
      await inFlight.abandon().catch(() => {});
      throw err;
    }
    // A fixed audience is resolved even when nothing changed: the first run of
    // an empty segment still creates it, and a connector's flush (which
    // finishes work a crashed run left behind) runs on every run.
    if (p.shape.audience.kind === 'FIXED') await audienceFor(p.shape.audience.reference);
    for (const audience of audiences.values()) await connector.flush?.(cctx, await audience);
    await accountant.drain();
    // Disjoint phases: the time the run waited for its accounting writes,
    // and the rest of the delivery (the writes themselves overlap sending).
    phases.accounting = Math.round(accountant.waitedMs);
    phases.delivering = Date.now() - t - phases.accounting;
    if (rejected > 0) status = 'PARTIAL';
  } catch (err) {
    // What the destination confirmed before the failure is still accounted.
    await accountant?.drain().catch((drainErr: unknown) => services.logger.warn({ err: drainErr, syncId: sync.id, runId: run.id }, 'could not account the last confirmed batches; the next run sends them again'));
    status = 'FAILED';
    error = err instanceof ConnectorError ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err);
    services.logger.warn({ err, syncId: sync.id, runId: run.id }, 'sync run failed');
  } finally {
    clearInterval(heartbeat);
  }

  // The changes of a finished run are no longer needed: what was not
  // delivered is planned again by the next run, from the snapshot.
  if (prepared) await prepared.pool.query(dropChangesSql(changesTable(prepared.planner, sync.id))).catch(() => {});
  // A first run that wrote many rows, delivered or filtered out, leaves the
  // snapshot's statistics behind (see snapshotStatisticsSql); the next
  // run's plan reads them.
  if (prepared && firstRunFiltered !== null && delivered.ADD + firstRunFiltered >= SNAPSHOT_ANALYZE_MIN_ROWS) {
    const { pool, planner } = prepared;
    await inTransaction(pool, async (client) => {
      for (const q of snapshotStatisticsSql(planner)) await client.query(q);
    }).catch((err: unknown) => services.logger.warn({ err, syncId: sync.id, runId: run.id }, 'could not refresh the snapshot’s statistics; autovacuum will'));
  }
  phase = 'ACCOUNTING';
  const finished = await prisma.syncRun.update({
    where: { id: run.id },
    data: { status, error, finishedAt: new Date(), phaseDurations: phases, deliveredAdds: delivered.ADD, deliveredRemoves: delivered.REMOVE, deliveredUpdates: delivered.UPDATE, rejected },
  });
  progress(true);
  services.pubsub?.publish('syncRunFinished', sync.id, {
    workspaceId: sync.workspaceId,
    syncId: sync.id,
    runId: run.id,
    status,
    planned: { ...planned },
    delivered: { ...delivered },
    rejected,
    error,
    durationMs: finished.finishedAt!.getTime() - startedAt.getTime(),
  });
  // Match rates after every run that reached the destination; the scheduler
  // reads them again later, as platforms match uploads over hours.
  if (status !== 'FAILED' && prepared && reportsMatchRate(prepared.destination.type)) {
    await sampleMatchRates(services, sync).catch((err: unknown) => services.logger.warn({ err, syncId: sync.id }, 'could not read match rates after the run'));
  }
  return finished;
}

/**
 * Runs left RUNNING by a worker that died (no heartbeat for a while) are
 * marked FAILED, and their pg-boss job released so the next run can start.
 * The next run plans from the snapshot: nothing is lost.
 */
export async function failStaleRuns(services: Services, now = new Date()): Promise<number> {
  const prisma = services.db.prisma;
  const cutoff = new Date(now.getTime() - HEARTBEAT_TIMEOUT_MS);
  const stale = await prisma.syncRun.findMany({ where: { status: 'RUNNING', OR: [{ heartbeatAt: { lt: cutoff } }, { heartbeatAt: null, startedAt: { lt: cutoff } }] } });
  for (const run of stale) {
    const claimed = await prisma.syncRun.updateMany({
      where: { id: run.id, status: 'RUNNING' },
      data: { status: 'FAILED', finishedAt: now, error: `the worker running it stopped responding (last heartbeat ${run.heartbeatAt?.toISOString() ?? 'never'}); the next run resumes from the last delivered batch` },
    });
    if (claimed.count && run.jobId && services.boss) {
      await services.boss.fail(QUEUES.syncRun, run.jobId, { reason: 'worker stopped responding' }).catch(() => {});
    }
  }
  return stale.length;
}

// ─── Dry run and test sync ───────────────────────────────────────────────────

export interface DiffPreview {
  adds: number;
  removes: number;
  updates: number;
  /** Changes the mode leaves out (accounted, never sent). */
  filtered: number;
  samples: { op: ChangeOp; audience: string; key: string; fields: Record<string, unknown>; identifiers: Record<string, unknown> }[];
}

/**
 * Plans the sync's next run into `into` (a temporary table dropped at
 * commit when `temporary`), in the planning transaction: its settings, the
 * snapshot made ready (readyToPlan), the memory of the kind of plan that
 * finds (planMemorySettings), then the plan's statement. Whether the
 * snapshot was empty (a first run), and the rows the statement wrote.
 */
async function planChanges(client: pg.PoolClient, p: Prepared, into: string, temporary = false): Promise<{ snapshotEmpty: boolean; rows: number }> {
  const { sync } = p;
  for (const q of PLAN_SETTINGS) await client.query(q);
  const snapshotEmpty = await readyToPlan(client, p, sync.id);
  for (const q of planMemorySettings(snapshotEmpty)) await client.query(q);
  const created = await client.query(planSql(p.ctx, p.shape, { syncId: sync.id, mode: sync.mode, removal: sync.removalBehavior, into, temporary, snapshotEmpty }));
  return { snapshotEmpty, rows: created.rowCount ?? 0 };
}

/**
 * In the plan's transaction, before the diff: rehashes the sync's snapshot
 * rows still hashed the way of an earlier version (once per sync, see
 * rehashLegacySql), and tells whether the snapshot is empty (a first run,
 * planned without a diff: see planSql).
 */
async function readyToPlan(client: pg.PoolClient, p: Prepared, syncId: string): Promise<boolean> {
  const { rows } = await client.query<{ legacy: boolean }>(hasLegacyHashesSql(p.planner, syncId));
  if (rows[0]?.legacy) for (const q of rehashLegacySql(p.ctx, p.shape, syncId)) await client.query(q);
  const any = await client.query<{ any: boolean }>(snapshotHasRowsSql(p.planner, syncId));
  return !any.rows[0]?.any;
}

/** Plans a run without sending or accounting anything (the plan is rolled back). */
export async function previewDiff(services: Services, workspaceId: string, syncId: string, sampleSize: number): Promise<DiffPreview> {
  const sync = await findSync(services, workspaceId, syncId);
  const p = await prepare(services, sync);
  const client = await p.pool.connect();
  try {
    await client.query('BEGIN');
    await planChanges(client, p, 'roster_preview', true);
    const { rows: counts } = await client.query<{ op: ChangeOp; n: number }>(countChangesSql('roster_preview'));
    const filtered = filteredOps(sync.mode, sync.removalBehavior);
    const { rows: samples } = await client.query<{ op: ChangeOp; audience: string; key: string; payload: string }>({
      ...previewSamplesSql(p.planner, sync.id, 'roster_preview', sampleSize),
      types: PAYLOAD_AS_TEXT,
    });
    const count = (op: ChangeOp) => counts.filter((c) => c.op === op && !filtered.includes(op)).reduce((n, c) => n + c.n, 0);
    return {
      adds: count('ADD'),
      removes: count('REMOVE'),
      updates: count('UPDATE'),
      filtered: counts.filter((c) => filtered.includes(c.op)).reduce((n, c) => n + c.n, 0),
      samples: samples.map((s) => {
        const row = new PayloadRow(s.key, s.payload);
        return { op: s.op, audience: s.audience, key: s.key, fields: row.fields, identifiers: row.identifiers };
      }),
    };
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
}

/** Sends a few current members to the audience, leaving the snapshot untouched. */
export async function testSync(services: Services, workspaceId: string, syncId: string, size: number): Promise<{ sent: number; rejected: { key: string; message: string; code: string | null }[]; audience: string }> {
  const sync = await findSync(services, workspaceId, syncId);
  const p = await prepare(services, sync);
  if (!p.connector.spec.audiences.canList) {
    throw new InvalidStateError(`destination type ${p.connector.type} cannot list its audiences, so a test sync could leave records Roster cannot track; run the sync instead`);
  }
  const { text, params } = currentRowsSql(p.ctx, p.shape);
  const { rows } = await p.pool.query<{ audience: string; key: string; payload: string }>({ text: `${text} LIMIT ${Math.max(1, Math.min(size, 100))}`, values: params.values, types: PAYLOAD_AS_TEXT });
  if (rows.length === 0) return { sent: 0, rejected: [], audience: '' };
  const cctx = contextFor(services, p.destination);
  const audience = await resolveAudience(services, p.destination, p.connector, cctx, audienceTarget(sync, rows[0]!.audience));
  const sameAudience = rows.filter((r) => r.audience === rows[0]!.audience).map((r) => new PayloadRow(r.key, r.payload));
  const result = await p.connector.add(cctx, audience, sameAudience);
  await p.connector.flush?.(cctx, audience);
  return { sent: sameAudience.length - result.rejected.length, rejected: result.rejected.map((r) => ({ key: r.key, message: r.message, code: r.code ?? null })), audience: audience.name };
}
