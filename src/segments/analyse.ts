// Reads over segments: preview of an unsaved condition, size over time,
// overlaps, breakdowns, and a record's memberships.
import type { Services } from '../context.js';
import type { Segment } from '../generated/prisma/client.js';
import { NotFoundError, ValidationError } from '../graphql/errors.js';
import { suggest } from '../lib/suggest.js';
import { findEntity } from '../warehouse/entities.js';
import { findSource, withSourcePool } from '../warehouse/sources.js';
import { inTransaction } from '../lib/transaction.js';
import { compileMembers } from './compile.js';
import { breakdownSql, overlapSql, previewSql, recordSql } from './store.js';
import { MEMBERS_SETTINGS } from './store-sql.js';
import { checkedCondition } from './segments.js';
import { entityMetaOf } from './metadata.js';

/**
 * An entity's rows and key, all that reads of stored memberships need: no
 * relationships, so no more configuration queries on the record-lookup path.
 */
function rowsOf(entity: Omit<Parameters<typeof entityMetaOf>[0], 'relationships'>) {
  return entityMetaOf({ ...entity, relationships: [] });
}

export async function preview(services: Services, workspaceId: string, entityId: string, input: unknown, sampleSize: number) {
  const { entity, ctx, condition } = await checkedCondition(services, workspaceId, entityId, input);
  const meta = ctx.entities.get(entity.id)!;
  const source = await findSource(services, workspaceId, entity.sourceId);
  const members = compileMembers(ctx, entity.id, condition, { now: new Date() });
  return withSourcePool(services, source, async (pool) => {
    // The statement answers a row with the size even without a sample (its
    // record NULL), so a sample of none is asked for as none.
    const sql = previewSql(meta, members, Math.max(sampleSize, 0));
    const { rows } = await inTransaction(pool, (client) => client.query<{ size: number; record: Record<string, unknown> | null }>(sql), { settings: MEMBERS_SETTINGS });
    return { size: rows[0]?.size ?? 0, sample: rows.flatMap((r) => (r.record === null ? [] : [r.record])) };
  });
}

export async function sizeHistory(services: Services, segmentId: string, last: number) {
  const rows = await services.db.prisma.segmentEvaluation.findMany({
    where: { segmentId, status: 'SUCCEEDED' },
    orderBy: { finishedAt: 'desc' },
    take: last,
  });
  return rows.reverse().map((r) => ({ at: r.finishedAt!, size: r.size ?? 0, entered: r.entered, exited: r.exited }));
}

export async function overlap(services: Services, workspaceId: string, ids: string[]) {
  const unique = [...new Set(ids)];
  if (unique.length < 2 || unique.length > 10) {
    throw new ValidationError([{ path: ['ids'], message: `expected 2 to 10 different segments, but got ${unique.length}` }]);
  }
  const segments = await services.db.prisma.segment.findMany({ where: { id: { in: unique }, workspaceId } });
  const missing = unique.find((id) => !segments.some((s) => s.id === id));
  if (missing) throw new NotFoundError('Segment', missing, ['ids']);
  const entityIds = new Set(segments.map((s) => s.entityId));
  if (entityIds.size > 1) {
    throw new ValidationError([{ path: ['ids'], message: `expected segments of one entity (overlaps compare record keys), but these span ${entityIds.size} entities` }]);
  }
  const entity = await findEntity(services, workspaceId, segments[0]!.entityId);
  const source = await findSource(services, workspaceId, entity.sourceId);
  const counts = await withSourcePool(services, source, async (pool) => {
    return (await pool.query<{ a: string; b: string; count: number }>(overlapSql(source.plannerSchema, unique))).rows;
  });
  const byId = new Map(segments.map((s) => [s.id, s]));
  const count = (a: string, b: string) => counts.find((c) => (c.a === a && c.b === b) || (c.a === b && c.b === a))?.count ?? 0;
  const ordered = unique.map((id) => byId.get(id)!);
  const pairs = [];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = i + 1; j < ordered.length; j++) pairs.push({ a: ordered[i]!, b: ordered[j]!, count: count(ordered[i]!.id, ordered[j]!.id) });
  }
  return { sizes: ordered.map((s) => ({ segment: s, size: count(s.id, s.id) })), pairs };
}

export async function breakdown(services: Services, workspaceId: string, segment: Segment, column: string, limit: number) {
  const entity = await findEntity(services, workspaceId, segment.entityId);
  const columns = (entity.columns as unknown as { name: string }[]).map((c) => c.name);
  if (!columns.includes(column)) {
    throw new ValidationError([{ path: ['column'], message: `no column "${column}" on ${entity.name}`, suggestion: suggest(column, columns) }]);
  }
  const source = await findSource(services, workspaceId, entity.sourceId);
  const meta = rowsOf(entity);
  return withSourcePool(services, source, async (pool) => {
    return (await pool.query<{ value: string | null; count: number }>(breakdownSql(source.plannerSchema, meta, segment.id, column, limit))).rows;
  });
}

/**
 * One statement in the warehouse, however many segments the entity has.
 * The lookup personalisation services make at request time, so its
 * configuration reads are one round trip: the entity with its source, and
 * the entity's segments (found by the id the caller gave) at once. One after
 * the other, with the entity's identifiers that a lookup does not use, they
 * were 1.6 of the 4.6 ms a lookup took in-process (bench/: record).
 */
export async function lookupRecord(services: Services, workspaceId: string, entityId: string, key: string) {
  const prisma = services.db.prisma;
  const [entity, segments] = await Promise.all([
    prisma.entity.findFirst({ where: { id: entityId, workspaceId }, include: { source: true } }),
    prisma.segment.findMany({ where: { workspaceId, entityId } }),
  ]);
  // An entity's source is in its workspace; checked all the same, as findSource would.
  if (!entity || entity.source.workspaceId !== workspaceId) throw new NotFoundError('Entity', entityId, ['entityId']);
  const { source } = entity;
  const meta = rowsOf(entity);
  const row = await withSourcePool(services, source, async (pool) => {
    const { rows } = await pool.query<{ record: Record<string, unknown>; segments: string[] }>(recordSql(source.plannerSchema, meta, key, segments.map((s) => s.id)));
    return rows[0];
  });
  if (!row) return null;
  const byId = new Map(segments.map((s) => [s.id, s]));
  return { key, attributes: row.record, segments: row.segments.map((id) => byId.get(id)!).filter(Boolean) };
}
