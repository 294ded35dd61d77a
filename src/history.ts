// Histories — a sync's runs and match-rate samples, a segment's evaluations,
// a run's rejected rows — and the other lists under a parent (a
// destination's syncs, a source's entities) read a page per parent, for many
// parents at once, in two statements whatever the number of parents and
// however long their lists.
//
// Prisma loads a nested `take` (Pothos's related connections, a `select` of
// `{ take: 1 }`) as every row of every parent's list, ordered, and pages
// them in memory: a sync's page read all of its runs, the dashboard's list
// all runs of all its syncs, a run's first 20 errors all of its errors, a
// list of destinations every sync of each. Here one statement finds the ids
// of each parent's page (LATERAL … LIMIT on the list's (parent, time) or
// (parent, id) index: one index range per parent, stopping at the page's
// end), and Prisma reads those rows by id.
import type pg from 'pg';
import { quoteIdent } from './lib/sql.js';

/** A list under a parent, in a table of Prisma's schema: its parent column, and its order (by `time`, then id; or by id alone). */
export interface History {
  table: 'SyncRun' | 'MatchRateSample' | 'SegmentEvaluation' | 'SyncRunError' | 'AudienceSync' | 'Entity';
  parent: 'syncId' | 'segmentId' | 'runId' | 'destinationId' | 'sourceId';
  time: 'queuedAt' | 'sampledAt' | null;
  direction: 'DESC' | 'ASC';
}

export const SYNC_RUNS: History = { table: 'SyncRun', parent: 'syncId', time: 'queuedAt', direction: 'DESC' };
export const MATCH_RATE_SAMPLES: History = { table: 'MatchRateSample', parent: 'syncId', time: 'sampledAt', direction: 'DESC' };
export const SEGMENT_EVALUATIONS: History = { table: 'SegmentEvaluation', parent: 'segmentId', time: 'queuedAt', direction: 'DESC' };
/** A run's rejected rows in the order they were recorded (time-ordered ids). */
export const SYNC_RUN_ERRORS: History = { table: 'SyncRunError', parent: 'runId', time: null, direction: 'ASC' };
/** A destination's syncs, oldest first (time-ordered ids), as its connection has always listed them. */
export const DESTINATION_SYNCS: History = { table: 'AudienceSync', parent: 'destinationId', time: null, direction: 'ASC' };
/** A source's entities, oldest first. */
export const SOURCE_ENTITIES: History = { table: 'Entity', parent: 'sourceId', time: null, direction: 'ASC' };

/** Which page of each parent's history: `limit` rows past `after` and short of `before` (row ids), read backwards when `inverted`. */
export interface PageSpec {
  limit: number;
  after?: string;
  before?: string;
  /** From the end of the history towards its start (Relay's `last`): the rows nearest the end come first. */
  inverted?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}

/**
 * The ids of each parent's page, with their parent ($1: the parents' ids,
 * $2: the limit, then the ids of the rows `after` and `before` point at,
 * those given, in that order). Ids break ties of time: they are time-ordered (version
 * 7), so of two rows of the same millisecond the later counts as newer. A
 * cursor is a row's position: the rows past it are those after it in the
 * history's order, compared as (time, id) rows, or as ids in a list in id
 * order, where the row need not exist any more. Prisma's tables live in
 * "public".
 */
export function historyPageSql(history: History, page: Pick<PageSpec, 'inverted'> & { after: boolean; before: boolean }): string {
  const table = `"public".${quoteIdent(history.table)}`;
  const columns = history.time ? [quoteIdent(history.time), 'id'] : ['id'];
  const tuple = (alias: string) => (columns.length > 1 ? `(${columns.map((c) => `${alias}.${c}`).join(', ')})` : `${alias}.${columns[0]}`);
  // In id order the cursor itself is compared, so that a page still follows a row deleted since it was
  // read (a destination's sync, say); in time order the cursor's row gives its time (a deleted one ends the list).
  const at = (param: string) => (history.time ? `(SELECT ${columns.map((c) => `c.${c}`).join(', ')} FROM ${table} AS c WHERE c.id = ${param})` : param);
  // Past `after` is further along the history's order; short of `before`, nearer its start.
  const later = history.direction === 'DESC' ? '<' : '>';
  const earlier = history.direction === 'DESC' ? '>' : '<';
  const direction = page.inverted ? (history.direction === 'DESC' ? 'ASC' : 'DESC') : history.direction;
  const where = [`t.${quoteIdent(history.parent)} = p.id`];
  let n = 2;
  if (page.after) where.push(`${tuple('t')} ${later} ${at(`$${++n}::uuid`)}`);
  if (page.before) where.push(`${tuple('t')} ${earlier} ${at(`$${++n}::uuid`)}`);
  return (
    `SELECT p.id::text AS parent, h.id::text AS id FROM unnest($1::uuid[]) AS p(id) ` +
    `CROSS JOIN LATERAL (SELECT t.id FROM ${table} AS t WHERE ${where.join(' AND ')} ` +
    `ORDER BY ${columns.map((c) => `t.${c} ${direction}`).join(', ')} LIMIT $2) AS h`
  );
}

/** The ids of each parent's page, by parent (a parent without rows there is absent). */
export async function historyPageIds(pool: pg.Pool, history: History, parentIds: readonly string[], page: PageSpec): Promise<Map<string, string[]>> {
  for (const [name, id] of [['after', page.after], ['before', page.before]] as const) {
    if (id !== undefined && !UUID.test(id)) throw new InvalidCursorError(`expected the ${name} cursor to point at a row of this list, but it holds "${id}"`);
  }
  const byParent = new Map<string, string[]>();
  if (parentIds.length === 0 || page.limit <= 0) return byParent;
  const sql = historyPageSql(history, { after: page.after !== undefined, before: page.before !== undefined, inverted: page.inverted });
  const cursors = [page.after, page.before].filter((id): id is string => id !== undefined);
  const { rows } = await pool.query<{ parent: string; id: string }>(sql, [parentIds, page.limit, ...cursors]);
  for (const r of rows) {
    const ids = byParent.get(r.parent);
    if (ids) ids.push(r.id);
    else byParent.set(r.parent, [r.id]);
  }
  return byParent;
}

/**
 * Each parent's page as rows, in the order of `parentIds`, each page in the
 * order read: one statement for the ids, one (`fetch`) for the rows.
 */
export async function historyPages<Row extends { id: string }>(
  pool: pg.Pool,
  history: History,
  parentIds: readonly string[],
  page: PageSpec,
  fetch: (ids: string[]) => Promise<Row[]>,
): Promise<Row[][]> {
  const idsByParent = await historyPageIds(pool, history, parentIds, page);
  const ids = [...idsByParent.values()].flat();
  const rows = new Map((ids.length ? await fetch(ids) : []).map((r) => [r.id, r]));
  // A row the fetch did not return (deleted meanwhile, or outside the caller's workspace) is left out.
  return parentIds.map((parent) => (idsByParent.get(parent) ?? []).flatMap((id) => rows.get(id) ?? []));
}

/** Each parent's newest row (the first of its history), in the order of `parentIds`; null where it has none. */
export async function newest<Row extends { id: string }>(pool: pg.Pool, history: History, parentIds: readonly string[], fetch: (ids: string[]) => Promise<Row[]>): Promise<(Row | null)[]> {
  return (await historyPages(pool, history, parentIds, { limit: 1 }, fetch)).map((rows) => rows[0] ?? null);
}
