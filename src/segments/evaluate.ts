// Segment evaluation: requested by the API or the scheduler as a pg-boss job,
// run by a worker, materialised in the source's planner schema. Time windows
// are relative to the moment the evaluation runs.
import type { Services } from '../context.js';
import type { SegmentEvaluation } from '../generated/prisma/client.js';
import { formatProblem, InvalidStateError } from '../graphql/errors.js';
import { QUEUES, type SegmentEvaluateJob } from '../jobs/queues.js';
import { queueOnce } from '../jobs/queue-once.js';
import { sourcePool } from '../warehouse/sources.js';
import { WarehouseError } from '../warehouse/connection.js';
import { compileMembers } from './compile.js';
import { loadCompileContext, findSegment } from './segments.js';
import { materialise } from './store.js';
import { keysAreUnique } from './unique-keys.js';
import { validateCondition } from './validate.js';

/**
 * Queues an evaluation, or returns the one already waiting: two requests
 * while one is queued are one evaluation (it will see the latest data), and
 * simultaneous requests join the one the queue took (see queueOnce).
 */
export async function requestEvaluation(services: Services, workspaceId: string, segmentId: string, trigger: 'MANUAL' | 'SCHEDULE' | 'DEPENDENCY' = 'MANUAL'): Promise<SegmentEvaluation> {
  const segment = await findSegment(services, workspaceId, segmentId);
  const boss = services.boss;
  if (!boss) throw new InvalidStateError('evaluations cannot be queued: this process has no job queue (pg-boss is not started)');
  const prisma = services.db.prisma;
  return queueOnce<SegmentEvaluation>({
    waiting: () => prisma.segmentEvaluation.findFirst({ where: { segmentId: segment.id, status: 'QUEUED', jobId: { not: null } }, orderBy: { queuedAt: 'desc' } }),
    create: () => prisma.segmentEvaluation.create({ data: { segmentId: segment.id, version: segment.version + 1, trigger } }),
    send: (evaluation) => boss.send(QUEUES.segmentEvaluate, { evaluationId: evaluation.id, segmentId: segment.id } satisfies SegmentEvaluateJob, { singletonKey: segment.id }),
    taken: (evaluation, jobId) => prisma.segmentEvaluation.update({ where: { id: evaluation.id }, data: { jobId } }),
    discard: async (evaluation) => {
      await prisma.segmentEvaluation.delete({ where: { id: evaluation.id } });
    },
    refused: () => new InvalidStateError(`an evaluation of segment "${segment.name}" is already queued; try again in a moment`),
  });
}

function describeError(err: unknown): string {
  if (err instanceof WarehouseError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Runs one evaluation (the job handler). Never throws for an expected failure: the evaluation records it. */
export async function runEvaluation(services: Services, job: SegmentEvaluateJob): Promise<SegmentEvaluation | null> {
  const prisma = services.db.prisma;
  const evaluation = await prisma.segmentEvaluation.findUnique({ where: { id: job.evaluationId }, include: { segment: { include: { entity: { include: { source: true } } } } } });
  if (!evaluation) return null; // the segment was deleted meanwhile
  const { segment } = evaluation;
  const { source } = segment.entity;
  const startedAt = new Date();
  await prisma.segmentEvaluation.update({ where: { id: evaluation.id }, data: { status: 'RUNNING', startedAt } });

  let result: SegmentEvaluation;
  try {
    const ctx = await loadCompileContext(services, segment.workspaceId, source.id);
    // The warehouse may have changed since the segment was saved: check again.
    const { condition, problems } = validateCondition(ctx, segment.entityId, segment.condition, { segmentId: segment.id });
    if (problems.length) throw new Error(`the condition no longer fits the warehouse: ${problems.map(formatProblem).join('; ')}`);
    const members = compileMembers(ctx, segment.entityId, condition, { now: startedAt });
    const pool = sourcePool(services, source);
    const uniqueKeys = await keysAreUnique(pool, ctx, ctx.entities.get(segment.entityId)!);
    const counts = await materialise(pool, source.plannerSchema, segment.id, members, { uniqueKeys });
    const finishedAt = new Date();
    result = await prisma.$transaction(async (tx) => {
      const updated = await tx.segment.update({
        where: { id: segment.id },
        data: { version: { increment: 1 }, size: counts.size, evaluatedAt: startedAt },
      });
      return tx.segmentEvaluation.update({
        where: { id: evaluation.id },
        data: { status: 'SUCCEEDED', version: updated.version, size: counts.size, entered: counts.entered, exited: counts.exited, finishedAt },
      });
    });
    services.logger.info({ segmentId: segment.id, ...counts, ms: finishedAt.getTime() - startedAt.getTime() }, 'segment evaluated');
  } catch (err) {
    services.logger.warn({ err, segmentId: segment.id }, 'segment evaluation failed');
    result = await prisma.segmentEvaluation.update({
      where: { id: evaluation.id },
      data: { status: 'FAILED', error: describeError(err), finishedAt: new Date() },
    });
  }

  services.pubsub?.publish('segmentEvaluated', segment.id, {
    workspaceId: segment.workspaceId,
    segmentId: segment.id,
    evaluationId: result.id,
    status: result.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED',
    size: result.size,
    entered: result.entered,
    exited: result.exited,
    version: result.version,
    evaluatedAt: (result.finishedAt ?? new Date()).toISOString(),
    error: result.error,
  });
  return result;
}
