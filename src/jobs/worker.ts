// What a worker process consumes. API processes only create the queues (to
// send to them); `roster worker` and `roster start` also work them.
import type PgBoss from 'pg-boss';
import type { Services } from '../context.js';
import { runEvaluation } from '../segments/evaluate.js';
import { createQueues, QUEUES, type MatchRateReadJob, type SegmentEvaluateJob, type SyncRunJob } from './queues.js';
import { sampleMatchRates } from '../sync/match-rates.js';
import { runSync } from '../sync/run.js';
import { schedulerTick } from './scheduler.js';

export async function startWorkers(boss: PgBoss, services: Services, opts: { evaluationConcurrency?: number; syncConcurrency?: number; signal?: AbortSignal } = {}): Promise<void> {
  await createQueues(boss);
  // Each registration is one concurrent consumer; the queue's policy still
  // keeps one evaluation per segment at a time.
  for (let i = 0; i < (opts.evaluationConcurrency ?? 2); i++) {
    await boss.work<SegmentEvaluateJob>(QUEUES.segmentEvaluate, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      for (const job of jobs) await runEvaluation(services, job.data);
    });
  }
  for (let i = 0; i < (opts.syncConcurrency ?? 2); i++) {
    await boss.work<SyncRunJob>(QUEUES.syncRun, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      for (const job of jobs) await runSync(services, job.data, { signal: opts.signal });
    });
  }
  // Two consumers: a destination that answers slowly delays no more than half the readings.
  for (let i = 0; i < 2; i++) {
    await boss.work<MatchRateReadJob>(QUEUES.matchRateRead, { batchSize: 1, pollingIntervalSeconds: 2 }, async (jobs) => {
      for (const job of jobs) {
        const exists = await services.db.prisma.audienceSync.count({ where: { id: job.data.syncId } });
        if (exists) await sampleMatchRates(services, job.data.syncId);
      }
    });
  }
  await boss.work(QUEUES.schedulerTick, { batchSize: 1 }, async () => {
    const result = await schedulerTick(services);
    if (result.segments || result.syncs || result.staleRuns || result.matchRates) services.logger.info(result, 'scheduler enqueued due work');
  });
  await boss.schedule(QUEUES.schedulerTick, '* * * * *', {}, { tz: 'UTC' });
}
