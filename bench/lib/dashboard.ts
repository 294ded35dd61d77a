// The dashboard's list query (src/dashboard/documents.js, SYNCS_QUERY: each sync
// with its segment and size, entity, destination, schedule, last run and that
// run's counts, match rate), and a workspace with `n` such syncs.
import type { ProcessServices } from '../../src/services.js';
import { createBenchWorkspace, type BenchWorkspace } from './env.js';
import { segment, sync, webhookDestination } from './roster.js';

// The very document the page sends, `first` a variable.
export { SYNCS_QUERY as DASHBOARD_QUERY } from '../../src/dashboard/documents.js';

const PLANS = ['free', 'trial', 'pro', 'enterprise'];

/**
 * A workspace with `n` syncs, each of its own segment, over two destinations,
 * each sync with a history: `runs` finished runs an hour apart, and a
 * match-rate sample for every 24 of them (one a day). The page shows the
 * newest of each; what a request reads must not grow with the rest.
 */
export async function dashboardWorkspace(services: ProcessServices, databaseUrl: string, sinkPort: number, n: number, tokens: number, runs: number): Promise<BenchWorkspace> {
  const ws = await createBenchWorkspace(services, databaseUrl, `Dashboard ${n}`, tokens);
  const destinations = [
    await webhookDestination(services, ws, sinkPort, 500, 'Webhook A'),
    await webhookDestination(services, ws, sinkPort, 500, 'Webhook B'),
  ];
  const prisma = services.db.prisma;
  for (let i = 0; i < n; i++) {
    const seg = await segment(services, ws, `Plan ${PLANS[i % PLANS.length]} #${i + 1}`, { attribute: { path: 'plan', op: 'EQ', value: PLANS[i % PLANS.length] } });
    await prisma.segment.update({ where: { id: seg.id }, data: { size: 1_000 + i, version: 1, evaluatedAt: new Date() } });
    const s = await sync(services, ws, { segmentId: seg.id, destinationId: destinations[i % 2]!.id, audience: { target: 'CREATE_BY_NAME' }, mappings: [{ from: 'first_name', to: 'first_name' }] });
    const now = Date.now();
    await prisma.syncRun.createMany({
      data: Array.from({ length: runs }, (_, k) => ({
        workspaceId: ws.workspaceId,
        syncId: s.id,
        trigger: 'SCHEDULE',
        status: k === runs - 1 && i % 5 === 0 ? ('PARTIAL' as const) : ('SUCCEEDED' as const),
        queuedAt: new Date(now - (runs - k) * 3_600_000),
        startedAt: new Date(now - (runs - k) * 3_600_000 + 1_000),
        finishedAt: new Date(now - (runs - k) * 3_600_000 + 61_000),
        plannedAdds: 100 * (k + 1),
        plannedRemoves: 10 * k,
        plannedUpdates: 5 * k,
        deliveredAdds: 100 * (k + 1),
        deliveredRemoves: 10 * k,
        deliveredUpdates: 5 * k,
        rejected: k === runs - 1 && i % 5 === 0 ? 3 : 0,
        phaseDurations: { planning: 1_000, delivering: 50_000, accounting: 10_000 },
      })),
    });
    const days = Math.ceil(runs / 24);
    await prisma.matchRateSample.createMany({
      data: Array.from({ length: days }, (_, d) => ({
        syncId: s.id,
        audienceExternalId: `bench-${i + 1}`,
        uploaded: 1_000 + i,
        matched: 600 + d,
        rate: (600 + d) / (1_000 + i),
        sampledAt: new Date(now - (days - d) * 86_400_000 + 3_600_000),
      })),
    });
  }
  return ws;
}
