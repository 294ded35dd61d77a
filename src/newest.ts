// The newest row of a history for each of many parents (a sync's last run,
// its latest match rate, a segment's last evaluation), in two statements
// whatever the number of parents and however long their histories.
//
// Prisma loads a nested `take: 1` for a list of parents as every row of
// every parent's history, ordered, and keeps the first of each in memory: a
// dashboard of 20 syncs read all of their runs, so it slowed down with every
// run a schedule added. Here one statement finds the newest id of each
// parent (an index probe per parent: LATERAL … LIMIT 1 on the history's
// (parent, time) index), and Prisma reads those rows by id.
import type pg from 'pg';
import type { PrismaClient } from './db.js';
import { quoteIdent } from './lib/sql.js';

/** A history table of Prisma's schema: its parent column and the column it is ordered by, newest first. */
export interface History {
  table: 'SyncRun' | 'MatchRateSample' | 'SegmentEvaluation';
  parent: 'syncId' | 'segmentId';
  time: 'queuedAt' | 'sampledAt';
}

export const SYNC_RUNS: History = { table: 'SyncRun', parent: 'syncId', time: 'queuedAt' };
export const MATCH_RATE_SAMPLES: History = { table: 'MatchRateSample', parent: 'syncId', time: 'sampledAt' };
export const SEGMENT_EVALUATIONS: History = { table: 'SegmentEvaluation', parent: 'segmentId', time: 'queuedAt' };

/**
 * The id of each parent's newest row ($1: the parents' ids). Ids break ties
 * of time: they are time-ordered (version 7), so the later of two rows
 * queued in the same millisecond wins. Prisma's tables live in "public".
 */
export function newestIdsSql(history: History): string {
  const table = `"public".${quoteIdent(history.table)}`;
  const parent = quoteIdent(history.parent);
  const time = quoteIdent(history.time);
  return (
    `SELECT h.id::text AS id FROM unnest($1::uuid[]) AS p(id) ` +
    `CROSS JOIN LATERAL (SELECT t.id FROM ${table} AS t WHERE t.${parent} = p.id ORDER BY t.${time} DESC, t.id DESC LIMIT 1) AS h`
  );
}

/** The ids of the newest row of each parent's history (parents without one have none). */
export async function newestIds(pool: pg.Pool, history: History, parentIds: readonly string[]): Promise<string[]> {
  if (parentIds.length === 0) return [];
  const { rows } = await pool.query<{ id: string }>(newestIdsSql(history), [parentIds]);
  return rows.map((r) => r.id);
}

/** Each sync's newest run, in the order of `syncIds` (null where it has none). */
export async function lastRuns(pool: pg.Pool, prisma: PrismaClient, workspaceId: string, syncIds: readonly string[]) {
  const ids = await newestIds(pool, SYNC_RUNS, syncIds);
  const rows = ids.length ? await prisma.syncRun.findMany({ where: { id: { in: ids }, workspaceId } }) : [];
  return inOrderOf(syncIds, rows, (r) => r.syncId);
}

/** Each sync's newest match-rate sample, in the order of `syncIds` (null where it has none). */
export async function latestMatchRates(pool: pg.Pool, prisma: PrismaClient, syncIds: readonly string[]) {
  const ids = await newestIds(pool, MATCH_RATE_SAMPLES, syncIds);
  const rows = ids.length ? await prisma.matchRateSample.findMany({ where: { id: { in: ids } } }) : [];
  return inOrderOf(syncIds, rows, (r) => r.syncId);
}

/** Each segment's newest evaluation, in the order of `segmentIds` (null where it has none). */
export async function lastEvaluations(pool: pg.Pool, prisma: PrismaClient, segmentIds: readonly string[]) {
  const ids = await newestIds(pool, SEGMENT_EVALUATIONS, segmentIds);
  const rows = ids.length ? await prisma.segmentEvaluation.findMany({ where: { id: { in: ids } } }) : [];
  return inOrderOf(segmentIds, rows, (r) => r.segmentId);
}

function inOrderOf<T>(parentIds: readonly string[], rows: readonly T[], parentOf: (row: T) => string): (T | null)[] {
  const byParent = new Map(rows.map((r) => [parentOf(r), r]));
  return parentIds.map((id) => byParent.get(id) ?? null);
}
