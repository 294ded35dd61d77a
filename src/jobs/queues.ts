// Queue names, shared by producers (API) and consumers (workers), with the
// policy each queue is created with.
import type PgBoss from 'pg-boss';

export const QUEUES = {
  /** One evaluation per segment at a time; a second request while one waits is merged into it. */
  segmentEvaluate: 'segment-evaluate',
  /** One run per sync at a time, at most one more queued behind it. */
  syncRun: 'sync-run',
  /** Reads a sync's match rates back from its destination; one waiting per sync. */
  matchRateRead: 'match-rate-read',
  /** Every minute: enqueue what schedules say is due. */
  schedulerTick: 'scheduler-tick',
} as const;

export interface SegmentEvaluateJob {
  evaluationId: string;
  segmentId: string;
}

export interface SyncRunJob {
  runId: string;
  syncId: string;
}

export interface MatchRateReadJob {
  syncId: string;
}

export async function createQueues(boss: PgBoss): Promise<void> {
  // stately: at most one job per state (queued, active) per singletonKey.
  await boss.createQueue(QUEUES.segmentEvaluate, { name: QUEUES.segmentEvaluate, policy: 'stately', retryLimit: 0, expireInSeconds: 60 * 60 });
  // Long runs are fine: a dead worker is detected by its heartbeat, and its job released then.
  await boss.createQueue(QUEUES.syncRun, { name: QUEUES.syncRun, policy: 'stately', retryLimit: 0, expireInSeconds: 6 * 60 * 60 });
  await boss.createQueue(QUEUES.matchRateRead, { name: QUEUES.matchRateRead, policy: 'stately', retryLimit: 0, expireInSeconds: 15 * 60 });
  // short: at most one tick waiting; a slow tick never piles up others.
  await boss.createQueue(QUEUES.schedulerTick, { name: QUEUES.schedulerTick, policy: 'short', retryLimit: 0, expireInSeconds: 5 * 60 });
}
