// The newest row of each parent's history: its SQL as text, and run against
// Prisma's tables.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from './support/db.js';
import { lastEvaluations, lastRuns, latestMatchRates, newestIdsSql, SYNC_RUNS } from '../src/newest.js';

const t = await useTestDatabase();

describe('newest row per parent', () => {
  it('probes each parent once, newest first, ids breaking ties of time', () => {
    expect(newestIdsSql(SYNC_RUNS)).toBe(
      'SELECT h.id::text AS id FROM unnest($1::uuid[]) AS p(id) CROSS JOIN LATERAL ' +
        '(SELECT t.id FROM "public"."SyncRun" AS t WHERE t."syncId" = p.id ORDER BY t."queuedAt" DESC, t.id DESC LIMIT 1) AS h',
    );
  });

  it("answers each parent's newest row in the order asked, null for a parent without history, nothing of another workspace", async () => {
    const { prisma, pool } = t.db;
    const workspace = (slug: string) => prisma.workspace.create({ data: { name: slug, slug } });
    const [ws, other] = [await workspace('newest'), await workspace('newest-other')];
    const source = await prisma.source.create({ data: { workspaceId: ws.id, name: 'S', connectionEnc: 'x', displayUrl: 'x', plannerSchema: 'p' } });
    const entity = await prisma.entity.create({
      data: { workspaceId: ws.id, sourceId: source.id, name: 'E', kind: 'PERSON', tableSchema: 's', tableName: 't', primaryKey: 'id', columns: [], introspectedAt: new Date() },
    });
    const destination = await prisma.destination.create({ data: { workspaceId: ws.id, name: 'D', type: 'webhook', config: {} } });
    const sync = (name: string) =>
      prisma.audienceSync.create({ data: { workspaceId: ws.id, entityId: entity.id, destinationId: destination.id, audienceTarget: 'CREATE_BY_NAME', audienceName: name } });
    const [a, b, empty] = [await sync('a'), await sync('b'), await sync('empty')];
    const segment = await prisma.segment.create({ data: { workspaceId: ws.id, entityId: entity.id, name: 'Seg', condition: {} } });
    const lonely = await prisma.segment.create({ data: { workspaceId: ws.id, entityId: entity.id, name: 'Lonely', condition: {} } });

    const at = (minutesAgo: number) => new Date(Date.UTC(2026, 10, 24, 12, 0) - minutesAgo * 60_000);
    const run = (syncId: string, minutesAgo: number, trigger: string) => prisma.syncRun.create({ data: { workspaceId: ws.id, syncId, trigger, queuedAt: at(minutesAgo) } });
    await run(a.id, 30, 'old');
    await run(a.id, 10, 'first at ten');
    await run(a.id, 10, 'second at ten'); // same time, later (version-7) id: the newest
    await run(a.id, 20, 'older');
    await run(b.id, 5, 'only');
    const runs = await lastRuns(pool, prisma, ws.id, [empty.id, b.id, a.id]);
    expect(runs.map((r) => r?.trigger ?? null)).toEqual([null, 'only', 'second at ten']);
    // Rows of another workspace are not answered, even for a sync id asked by mistake.
    expect(await lastRuns(pool, prisma, other.id, [a.id])).toEqual([null]);
    expect(await lastRuns(pool, prisma, ws.id, [])).toEqual([]);

    await prisma.matchRateSample.createMany({
      data: [
        { syncId: a.id, audienceExternalId: 'x', uploaded: 10, rate: 0.5, sampledAt: at(60) },
        { syncId: a.id, audienceExternalId: 'x', uploaded: 10, rate: 0.7, sampledAt: at(1) },
      ],
    });
    expect((await latestMatchRates(pool, prisma, [a.id, b.id])).map((m) => m?.rate ?? null)).toEqual([0.7, null]);

    await prisma.segmentEvaluation.createMany({
      data: [
        { segmentId: segment.id, version: 1, status: 'SUCCEEDED', size: 3, queuedAt: at(20) },
        { segmentId: segment.id, version: 2, status: 'FAILED', queuedAt: at(2) },
      ],
    });
    expect((await lastEvaluations(pool, prisma, [lonely.id, segment.id])).map((e) => e?.version ?? null)).toEqual([null, 2]);
  });
});
