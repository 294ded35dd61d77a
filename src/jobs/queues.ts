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

/**
 * Creates a queue, or leaves the one there. pg-boss's create_queue
 * deadlocks when two processes create the same queue at once (two API
 * processes starting on a new database): each inserts the queue's row, and
 * the first then adds a foreign key to the queue table, which waits for the
 * second's lock on it while the second waits for the first's row.
 * PostgreSQL aborts one of them, which tries again and finds the queue.
 */
async function createQueue(boss: PgBoss, name: string, options: Omit<PgBoss.Queue, 'name'>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await boss.createQueue(name, { ...options, name });
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '40P01' || attempt === 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }
}

export async function createQueues(boss: PgBoss): Promise<void> {
  // stately: at most one job per state (queued, active) per singletonKey.
  await createQueue(boss, QUEUES.segmentEvaluate, { policy: 'stately', retryLimit: 0, expireInSeconds: 60 * 60 });
  // Long runs are fine: a dead worker is detected by its heartbeat, and its job released then.
  await createQueue(boss, QUEUES.syncRun, { policy: 'stately', retryLimit: 0, expireInSeconds: 6 * 60 * 60 });
  await createQueue(boss, QUEUES.matchRateRead, { policy: 'stately', retryLimit: 0, expireInSeconds: 15 * 60 });
  // short: at most one tick waiting; a slow tick never piles up others.
  await createQueue(boss, QUEUES.schedulerTick, { policy: 'short', retryLimit: 0, expireInSeconds: 5 * 60 });
}
