// Segments: create, update and delete with a fully validated condition, and
// the compile context (the source's entities and the workspace's segments)
// that validation and compilation read.
import type { Services } from '../context.js';
import type { Prisma, Segment } from '../generated/prisma/client.js';
import { ConflictError, InvalidStateError, NotFoundError, ValidationError, type ValidationProblem } from '../graphql/errors.js';
import { isUniqueViolation } from '../lib/prisma-errors.js';
import { nextRunAt, validateSchedule, type Schedule } from '../jobs/schedule.js';
import { findEntity } from '../warehouse/entities.js';
import { findSource, sourcePool, validateName } from '../warehouse/sources.js';
import type { Condition } from './condition.js';
import { buildCompileContext, type CompileContext } from './metadata.js';
import { dropMembership } from './store.js';
import { validateCondition } from './validate.js';

/** The source's entities with their relationships, and the workspace's segments. */
export async function loadCompileContext(services: Services, workspaceId: string, sourceId: string): Promise<CompileContext> {
  const prisma = services.db.prisma;
  const [source, entities, segments] = await Promise.all([
    findSource(services, workspaceId, sourceId),
    prisma.entity.findMany({ where: { workspaceId, sourceId }, include: { relationships: true } }),
    prisma.segment.findMany({ where: { workspaceId } }),
  ]);
  return buildCompileContext({ entities, segments, plannerSchema: source.plannerSchema });
}

export async function findSegment(services: Services, workspaceId: string, id: string, path = ['id']): Promise<Segment> {
  const segment = await services.db.prisma.segment.findFirst({ where: { id, workspaceId } });
  if (!segment) throw new NotFoundError('Segment', id, path);
  return segment;
}

/** Validates a condition for an entity; throws a ValidationError naming every problem under `condition`. */
export async function checkedCondition(services: Services, workspaceId: string, entityId: string, input: unknown, segmentId?: string) {
  const entity = await findEntity(services, workspaceId, entityId);
  const ctx = await loadCompileContext(services, workspaceId, entity.sourceId);
  const { condition, problems } = validateCondition(ctx, entity.id, input, segmentId ? { segmentId } : undefined);
  if (problems.length) throw new ValidationError(problems.map((p) => ({ ...p, path: ['condition', ...p.path] })));
  return { entity, ctx, condition };
}

export interface SegmentInput {
  entityId: string;
  name: string;
  description?: string | null;
  condition: unknown;
  schedule?: Schedule | null;
}

function scheduleProblems(schedule: Schedule | null | undefined): ValidationProblem[] {
  return schedule ? validateSchedule(schedule, ['schedule']) : [];
}

function scheduleData(schedule: Schedule | null | undefined, now = new Date()) {
  const s: Schedule = schedule ?? { kind: 'MANUAL' };
  return {
    scheduleKind: s.kind,
    scheduleCron: s.kind === 'CRON' ? (s.cron ?? null) : null,
    scheduleTimezone: s.timezone ?? null,
    nextEvaluationAt: nextRunAt(s, now),
  };
}

export async function createSegment(services: Services, workspaceId: string, input: SegmentInput): Promise<Segment> {
  const problems = [validateName(input.name, ['name'], 'segment'), ...scheduleProblems(input.schedule)].filter((p): p is ValidationProblem => !!p);
  if (problems.length) throw new ValidationError(problems);
  const { entity, condition } = await checkedCondition(services, workspaceId, input.entityId, input.condition);
  try {
    return await services.db.prisma.segment.create({
      data: {
        workspaceId,
        entityId: entity.id,
        name: input.name.trim(),
        description: input.description?.trim() || null,
        condition: condition as unknown as Prisma.InputJsonValue,
        ...scheduleData(input.schedule),
      },
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`a segment named "${input.name.trim()}" already exists in this workspace`, ['name']);
    throw err;
  }
}

export async function updateSegment(
  services: Services,
  workspaceId: string,
  id: string,
  patch: { name?: string | null; description?: string | null; condition?: unknown; schedule?: Schedule | null },
): Promise<Segment> {
  const segment = await findSegment(services, workspaceId, id);
  const problems = [
    patch.name != null ? validateName(patch.name, ['name'], 'segment') : undefined,
    ...scheduleProblems(patch.schedule),
  ].filter((p): p is ValidationProblem => !!p);
  if (problems.length) throw new ValidationError(problems);
  const data: Prisma.SegmentUpdateInput = {};
  if (patch.name != null) data.name = patch.name.trim();
  if (patch.description !== undefined) data.description = patch.description?.trim() || null;
  if (patch.condition != null) {
    const { condition } = await checkedCondition(services, workspaceId, segment.entityId, patch.condition, segment.id);
    data.condition = condition as unknown as Prisma.InputJsonValue;
  }
  if (patch.schedule) Object.assign(data, scheduleData(patch.schedule));
  try {
    return await services.db.prisma.segment.update({ where: { id: segment.id }, data });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`a segment named "${patch.name?.trim()}" already exists in this workspace`, ['name']);
    throw err;
  }
}

/** Segments whose stored condition refers to `segmentId`. */
function referencesTo(segments: Segment[], segmentId: string): Segment[] {
  const refers = (node: unknown): boolean => {
    if (!node || typeof node !== 'object') return false;
    const n = node as Record<string, unknown>;
    if (n.segment && typeof n.segment === 'object' && (n.segment as { id?: unknown }).id === segmentId) return true;
    return Object.values(n).some((v) => (Array.isArray(v) ? v.some(refers) : refers(v)));
  };
  return segments.filter((s) => s.id !== segmentId && refers(s.condition));
}

export async function deleteSegment(services: Services, workspaceId: string, id: string): Promise<Segment> {
  const segment = await findSegment(services, workspaceId, id);
  const prisma = services.db.prisma;
  const [syncs, all] = await Promise.all([
    prisma.audienceSync.count({ where: { segmentId: segment.id } }),
    prisma.segment.findMany({ where: { workspaceId } }),
  ]);
  const dependents = referencesTo(all, segment.id);
  if (syncs || dependents.length) {
    const parts = [syncs ? `${syncs} sync(s)` : '', dependents.length ? `the segment(s) ${dependents.map((d) => `"${d.name}"`).join(', ')}` : ''].filter(Boolean);
    throw new InvalidStateError(`segment "${segment.name}" is used by ${parts.join(' and ')}; change or delete those first`, ['id']);
  }
  await prisma.segment.delete({ where: { id: segment.id } });
  const entity = await prisma.entity.findUnique({ where: { id: segment.entityId }, include: { source: true } });
  if (entity) {
    // Best effort: a warehouse that is down must not block deleting the
    // configuration; leftover rows belong to no segment and are never read.
    await dropMembership(sourcePool(services, entity.source), entity.source.plannerSchema, segment.id).catch((err) =>
      services.logger.warn({ err, segmentId: segment.id }, 'could not drop the membership of a deleted segment'),
    );
  }
  return segment;
}

export type { Condition };
