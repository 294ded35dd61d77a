// Roster's own paths, called as the API and the workers call them: segments
// through createSegment, evaluations through the evaluation job's function,
// runs through runSync (the sync-run job's function) or a real `roster worker`.
import type { ProcessServices } from '../../src/services.js';
import { createSegment } from '../../src/segments/segments.js';
import { runEvaluation } from '../../src/segments/evaluate.js';
import { createDestination } from '../../src/sync/destinations.js';
import { createSync, type SyncInput } from '../../src/sync/syncs.js';
import { runSync } from '../../src/sync/run.js';
import type { SyncRun } from '../../src/generated/prisma/client.js';
import type { BenchWorkspace } from './env.js';

export const SINK_SECRET = 'whsec_bench_signing_secret';

export async function webhookDestination(services: ProcessServices, ws: BenchWorkspace, sinkPort: number, batchSize: number, name = 'Bench webhook') {
  return createDestination(services, ws.workspaceId, { name, type: 'webhook', config: { url: `http://127.0.0.1:${sinkPort}/hook`, signingSecret: SINK_SECRET, batchSize } });
}

export async function segment(services: ProcessServices, ws: BenchWorkspace, name: string, condition: unknown) {
  return createSegment(services, ws.workspaceId, { entityId: ws.users, name, condition });
}

/** One evaluation through the job's function (what a worker runs for a `segment-evaluate` job). */
export async function evaluate(services: ProcessServices, segmentId: string) {
  const prisma = services.db.prisma;
  const seg = await prisma.segment.findUniqueOrThrow({ where: { id: segmentId } });
  const evaluation = await prisma.segmentEvaluation.create({ data: { segmentId, version: seg.version + 1, trigger: 'MANUAL' } });
  const result = await runEvaluation(services, { evaluationId: evaluation.id, segmentId });
  if (result?.status !== 'SUCCEEDED') throw new Error(`expected the evaluation to succeed, but it ended ${result?.status}: ${result?.error}`);
  return result;
}

export async function sync(services: ProcessServices, ws: BenchWorkspace, input: Omit<SyncInput, 'status' | 'schedule'>) {
  return createSync(services, ws.workspaceId, { ...input, status: 'ACTIVE', schedule: { kind: 'MANUAL' } });
}

/** A queued run row, as requestRun makes one (without pg-boss: the caller runs it). */
export async function queueRun(services: ProcessServices, ws: BenchWorkspace, syncId: string, trigger = 'BENCH'): Promise<SyncRun> {
  return services.db.prisma.syncRun.create({ data: { workspaceId: ws.workspaceId, syncId, trigger, evaluateFirst: false } });
}

/** One run through the sync-run job's function, in this process. */
export async function runInProcess(services: ProcessServices, ws: BenchWorkspace, syncId: string): Promise<SyncRun> {
  const run = await queueRun(services, ws, syncId);
  const finished = await runSync(services, { runId: run.id, syncId });
  if (!finished || finished.status !== 'SUCCEEDED') throw new Error(`expected the run to succeed, but it ended ${finished?.status}: ${finished?.error}`);
  return finished;
}

/** Waits for a run (worked by another process) to finish. */
export async function waitForRun(services: ProcessServices, runId: string, timeoutMs = 3_600_000): Promise<SyncRun> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const run = await services.db.prisma.syncRun.findUniqueOrThrow({ where: { id: runId } });
    if (!['QUEUED', 'RUNNING'].includes(run.status)) return run;
    if (Date.now() > until) throw new Error(`run ${runId} did not finish within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
