// The scheduler: once a minute (a pg-boss cron job, so exactly one worker
// runs each tick), enqueue what is due. A due row is claimed by moving its
// next time forward with a compare-and-set, so a tick that overlaps another
// can never enqueue the same thing twice.
import type { Services } from '../context.js';
import { requestEvaluation } from '../segments/evaluate.js';
import { nextRunAt, scheduleFromRow } from './schedule.js';
import { failStaleRuns, requestRun } from '../sync/run.js';
import { claimDueMatchRates } from '../sync/match-rates.js';
import { QUEUES, type MatchRateReadJob } from './queues.js';

const BATCH = 500;

export interface TickResult {
  segments: number;
  syncs: number;
  staleRuns: number;
  matchRates: number;
}

export async function schedulerTick(services: Services, now = new Date()): Promise<TickResult> {
  const prisma = services.db.prisma;
  const due = await prisma.segment.findMany({
    where: { nextEvaluationAt: { lte: now } },
    orderBy: { nextEvaluationAt: 'asc' },
    take: BATCH,
  });
  let segments = 0;
  for (const segment of due) {
    let next: Date | null;
    try {
      next = nextRunAt(scheduleFromRow(segment), now);
    } catch (err) {
      // A stored schedule that no longer validates (a time zone removed from
      // the runtime's database, say) stops instead of failing every tick.
      services.logger.warn({ err, segmentId: segment.id }, 'invalid stored schedule: scheduling stopped for this segment');
      next = null;
    }
    const claimed = await prisma.segment.updateMany({
      where: { id: segment.id, nextEvaluationAt: segment.nextEvaluationAt },
      data: { nextEvaluationAt: next },
    });
    if (claimed.count === 0) continue;
    try {
      await requestEvaluation(services, segment.workspaceId, segment.id, 'SCHEDULE');
      segments += 1;
    } catch (err) {
      services.logger.warn({ err, segmentId: segment.id }, 'could not enqueue a scheduled evaluation');
    }
  }
  const staleRuns = await failStaleRuns(services, now);
  const syncs = await enqueueDueSyncs(services, now);
  const matchRates = await enqueueDueMatchRates(services, now);
  return { segments, syncs, staleRuns, matchRates };
}

/** Match-rate readings due between runs (platforms match uploads over hours). */
async function enqueueDueMatchRates(services: Services, now: Date): Promise<number> {
  if (!services.boss) return 0;
  let count = 0;
  for (const syncId of await claimDueMatchRates(services, now)) {
    const job: MatchRateReadJob = { syncId };
    if ((await services.boss.send(QUEUES.matchRateRead, job, { singletonKey: syncId }).catch(() => null)) !== null) count += 1;
  }
  return count;
}

/** Active syncs whose time has come; paused and draft syncs have no next run. */
async function enqueueDueSyncs(services: Services, now: Date): Promise<number> {
  const prisma = services.db.prisma;
  const due = await prisma.audienceSync.findMany({ where: { status: 'ACTIVE', nextRunAt: { lte: now } }, orderBy: { nextRunAt: 'asc' }, take: BATCH });
  let count = 0;
  for (const sync of due) {
    let next: Date | null;
    try {
      next = nextRunAt(scheduleFromRow(sync), now);
    } catch (err) {
      services.logger.warn({ err, syncId: sync.id }, 'invalid stored schedule: scheduling stopped for this sync');
      next = null;
    }
    const claimed = await prisma.audienceSync.updateMany({ where: { id: sync.id, nextRunAt: sync.nextRunAt, status: 'ACTIVE' }, data: { nextRunAt: next } });
    if (claimed.count === 0) continue;
    try {
      await requestRun(services, sync.workspaceId, sync.id, { trigger: 'SCHEDULE' });
      count += 1;
    } catch (err) {
      services.logger.warn({ err, syncId: sync.id }, 'could not enqueue a scheduled run');
    }
  }
  return count;
}
