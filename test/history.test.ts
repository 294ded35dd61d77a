// Pages of histories per parent: their SQL as text, and run against Prisma's
// tables (order, ties, cursors both ways, parents without rows, workspaces).
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from './support/db.js';
import { historyPages, historyPageSql, InvalidCursorError, MATCH_RATE_SAMPLES, newest, SEGMENT_EVALUATIONS, SYNC_RUN_ERRORS, SYNC_RUNS } from '../src/history.js';

const t = await useTestDatabase();

describe('history pages as SQL', () => {
  it('reads each parent newest first through its own LATERAL … LIMIT, ids breaking ties of time', () => {
    expect(historyPageSql(SYNC_RUNS, { after: false, before: false })).toBe(
      'SELECT p.id::text AS parent, h.id::text AS id FROM unnest($1::uuid[]) AS p(id) CROSS JOIN LATERAL ' +
        '(SELECT t.id FROM "public"."SyncRun" AS t WHERE t."syncId" = p.id ORDER BY t."queuedAt" DESC, t.id DESC LIMIT $2) AS h',
    );
  });

  it('compares rows with the cursors’ rows as (time, id), and reverses the order for the end of a history', () => {
    const sql = historyPageSql(SYNC_RUNS, { after: true, before: true, inverted: true });
    expect(sql).toContain(
      'WHERE t."syncId" = p.id AND (t."queuedAt", t.id) < (SELECT c."queuedAt", c.id FROM "public"."SyncRun" AS c WHERE c.id = $3::uuid) ' +
        'AND (t."queuedAt", t.id) > (SELECT c."queuedAt", c.id FROM "public"."SyncRun" AS c WHERE c.id = $4::uuid) ORDER BY t."queuedAt" ASC, t.id ASC LIMIT $2',
    );
    // A history in id order (a run's rejected rows): later means a greater id, compared with the cursor itself.
    expect(historyPageSql(SYNC_RUN_ERRORS, { after: false, before: true })).toContain('t.id < $3::uuid');
    expect(historyPageSql(SYNC_RUN_ERRORS, { after: true, before: false })).toContain('WHERE t."runId" = p.id AND t.id > $3::uuid ORDER BY t.id ASC LIMIT $2');
  });
});

describe('history pages', () => {
  it('answers each parent’s page in the order asked, pages both ways, nothing of another workspace', async () => {
    const { prisma, pool } = t.db;
    const workspace = (slug: string) => prisma.workspace.create({ data: { name: slug, slug } });
    const [ws, other] = [await workspace('history'), await workspace('history-other')];
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
    await run(a.id, 30, 'thirty');
    await run(a.id, 10, 'ten, first');
    await run(a.id, 10, 'ten, second'); // same time, later (version-7) id: the newer of the two
    await run(a.id, 20, 'twenty');
    await run(a.id, 40, 'forty');
    await run(b.id, 5, 'five');
    const runs = (workspaceId: string) => (ids: string[]) => prisma.syncRun.findMany({ where: { id: { in: ids }, workspaceId } });
    const triggers = (pages: { trigger: string }[][]) => pages.map((p) => p.map((r) => r.trigger));

    expect(triggers(await historyPages(pool, SYNC_RUNS, [empty.id, b.id, a.id], { limit: 3 }, runs(ws.id)))).toEqual([[], ['five'], ['ten, second', 'ten, first', 'twenty']]);
    const [page] = await historyPages(pool, SYNC_RUNS, [a.id], { limit: 3 }, runs(ws.id));
    const twenty = page![2];
    // After a cursor: further along (older); before it: nearer the start, read from the cursor backwards.
    expect(triggers(await historyPages(pool, SYNC_RUNS, [a.id], { limit: 5, after: twenty!.id }, runs(ws.id)))).toEqual([['thirty', 'forty']]);
    expect(triggers(await historyPages(pool, SYNC_RUNS, [a.id], { limit: 2, before: twenty!.id, inverted: true }, runs(ws.id)))).toEqual([['ten, first', 'ten, second']]);
    expect(triggers(await historyPages(pool, SYNC_RUNS, [a.id], { limit: 2, inverted: true }, runs(ws.id)))).toEqual([['forty', 'thirty']]);
    // Rows the fetch does not return (another workspace's) are left out, even for a sync id asked by mistake.
    expect(await historyPages(pool, SYNC_RUNS, [a.id], { limit: 3 }, runs(other.id))).toEqual([[]]);
    expect(await historyPages(pool, SYNC_RUNS, [], { limit: 3 }, runs(ws.id))).toEqual([]);
    await expect(historyPages(pool, SYNC_RUNS, [a.id], { limit: 3, after: 'not-an-id' }, runs(ws.id))).rejects.toThrow(InvalidCursorError);

    await prisma.matchRateSample.createMany({
      data: [
        { syncId: a.id, audienceExternalId: 'x', uploaded: 10, rate: 0.5, sampledAt: at(60) },
        { syncId: a.id, audienceExternalId: 'x', uploaded: 10, rate: 0.7, sampledAt: at(1) },
      ],
    });
    const samples = (ids: string[]) => prisma.matchRateSample.findMany({ where: { id: { in: ids } } });
    expect((await newest(pool, MATCH_RATE_SAMPLES, [a.id, b.id], samples)).map((m) => m?.rate ?? null)).toEqual([0.7, null]);

    await prisma.segmentEvaluation.createMany({
      data: [
        { segmentId: segment.id, version: 1, status: 'SUCCEEDED', size: 3, queuedAt: at(20) },
        { segmentId: segment.id, version: 2, status: 'FAILED', queuedAt: at(2) },
      ],
    });
    const evaluations = (ids: string[]) => prisma.segmentEvaluation.findMany({ where: { id: { in: ids } } });
    expect((await newest(pool, SEGMENT_EVALUATIONS, [lonely.id, segment.id], evaluations)).map((e) => e?.version ?? null)).toEqual([null, 2]);

    // A run's rejected rows in the order recorded.
    const failed = await run(a.id, 0, 'with errors');
    for (const key of ['k1', 'k2', 'k3']) await prisma.syncRunError.create({ data: { runId: failed.id, recordKey: key, operation: 'ADD', message: 'no' } });
    const errors = (ids: string[]) => prisma.syncRunError.findMany({ where: { id: { in: ids } } });
    const [[first, second] = []] = await historyPages(pool, SYNC_RUN_ERRORS, [failed.id], { limit: 2 }, errors);
    expect([first!.recordKey, second!.recordKey]).toEqual(['k1', 'k2']);
    expect((await historyPages(pool, SYNC_RUN_ERRORS, [failed.id], { limit: 2, after: second!.id }, errors))[0]!.map((e) => e.recordKey)).toEqual(['k3']);
    // A cursor at a row deleted since still pages on from where that row was.
    await prisma.syncRunError.delete({ where: { id: second!.id } });
    expect((await historyPages(pool, SYNC_RUN_ERRORS, [failed.id], { limit: 2, after: second!.id }, errors))[0]!.map((e) => e.recordKey)).toEqual(['k3']);
    expect((await historyPages(pool, SYNC_RUN_ERRORS, [failed.id], { limit: 2, before: second!.id, inverted: true }, errors))[0]!.map((e) => e.recordKey)).toEqual(['k1']);
  });
});
