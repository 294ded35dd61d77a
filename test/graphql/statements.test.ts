// The number of SQL statements a request sends does not grow with the length
// of a list (DESIGN.md §7): the dashboard's list of syncs, each with its
// segment and size, entity, destination, schedule, last run and its counts,
// costs the same number of statements for 5 syncs as for 20. Statements are
// counted where both of Roster's paths end, on the `pg` client (Prisma
// through @prisma/adapter-pg, and Roster's own pools). No timings here: those
// are in bench/ (npm run bench -- api).
import { beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ok, useTestApp, type Gql } from '../support/app.js';
import { createShopWarehouse } from '../support/warehouse.js';
// The dashboard's own list query, `first` a variable (its default is the page size).
import { MATCH_RATES_SHOWN, RUNS_SHOWN, SYNC_QUERY, SYNCS_QUERY as DASHBOARD } from '../../src/dashboard/documents.js';
import { encodeGlobalID } from '@pothos/plugin-relay';

const t = await useTestApp();
await createShopWarehouse(t.url);


/** Every query sent on a pg client of this process while `fn` runs (and shortly after), and the rows they returned. */
async function trafficDuring(fn: () => Promise<unknown>): Promise<{ statements: string[]; rows: number }> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const statements: string[] = [];
  let rows = 0;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0] as string | { text?: string } | undefined;
    statements.push(typeof q === 'string' ? q : (q?.text ?? ''));
    const count = (r: { rows?: unknown[] } | undefined) => (rows += r?.rows?.length ?? 0);
    // A pool hands its client a callback; a client used directly returns a promise.
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (err: unknown, r: { rows?: unknown[] } | undefined) => {
        if (!err) count(r);
        return (callback as (e: unknown, r: unknown) => unknown)(err, r);
      };
    }
    const result = original.apply(this, args);
    if (result instanceof Promise) void result.then(count, () => {});
    return result;
  };
  try {
    await fn();
    // Anything a resolver left running (nothing should) gets a moment to show up.
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    proto.query = original;
  }
  return { statements, rows };
}

async function statementsDuring(fn: () => Promise<unknown>): Promise<string[]> {
  return (await trafficDuring(fn)).statements;
}

/** A workspace with `n` syncs, each of its own segment, each with three finished runs. */
async function workspaceWithSyncs(slug: string, n: number): Promise<Gql & { workspaceId: string }> {
  const ws = await t.workspace(slug);
  const { gql } = ws;
  const src = ok(await gql(`mutation($url: String!) { createSource(input: { name: "Shop", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url }));
  const ent = ok(await gql(`mutation($s: ID!) { createEntity(input: { sourceId: $s, name: "Customers", kind: PERSON, from: { table: { schema: "shop", name: "customers" } }, primaryKey: "id", identifiers: [{ type: EMAIL, column: "email" }] }) { __typename ... on CreateEntityPayload { entity { id } } ... on Error { message } } }`, { s: src.createSource.source.id }));
  const entityId = ent.createEntity.entity.id as string;
  const destinations: string[] = [];
  for (const name of ['Out A', 'Out B']) {
    const dest = ok(await gql(`mutation($n: String!, $c: JSON!) { createDestination(input: { name: $n, type: "postgres_table", config: $c }) { __typename ... on CreateDestinationPayload { destination { id } } ... on Error { message } } }`, { n: name, c: { url: t.url, table: `out_${slug}_${destinations.length}` } }));
    expect(dest.createDestination.__typename, JSON.stringify(dest)).toBe('CreateDestinationPayload');
    destinations.push(dest.createDestination.destination.id);
  }
  for (let i = 0; i < n; i++) {
    const seg = ok(await gql(`mutation($e: ID!, $n: String!, $v: ConditionValue!) { createSegment(input: { entityId: $e, name: $n, condition: { attribute: { path: "plan", op: EQ, value: $v } } }) { __typename ... on CreateSegmentPayload { segment { id } } ... on Error { message } } }`, { e: entityId, n: `Segment ${i}`, v: ['pro', 'free', 'trial'][i % 3] }));
    const sync = ok(await gql(`mutation($s: ID!, $d: ID!) { createAudienceSync(input: { segmentId: $s, destinationId: $d, audience: { target: CREATE_BY_NAME }, status: ACTIVE }) { __typename ... on CreateAudienceSyncPayload { audienceSync { id } } ... on Error { message } } }`, { s: seg.createSegment.segment.id, d: destinations[i % 2] }));
    expect(sync.createAudienceSync.__typename, JSON.stringify(sync)).toBe('CreateAudienceSyncPayload');
  }
  const prisma = t.services.db.prisma;
  const syncs = await prisma.audienceSync.findMany({ where: { workspaceId: ws.workspaceId } });
  const now = Date.now();
  await prisma.syncRun.createMany({
    data: syncs.flatMap((s) =>
      [3, 2, 1].map((hoursAgo) => ({
        workspaceId: ws.workspaceId,
        syncId: s.id,
        trigger: 'SCHEDULE',
        status: 'SUCCEEDED' as const,
        queuedAt: new Date(now - hoursAgo * 3_600_000),
        startedAt: new Date(now - hoursAgo * 3_600_000 + 1_000),
        finishedAt: new Date(now - hoursAgo * 3_600_000 + 5_000),
        plannedAdds: hoursAgo,
        deliveredAdds: hoursAgo,
      })),
    ),
  });
  return Object.assign(gql, { workspaceId: ws.workspaceId });
}

let small: Gql;
let large: Gql & { workspaceId: string };

beforeAll(async () => {
  small = await workspaceWithSyncs('five', 5);
  large = await workspaceWithSyncs('twenty', 20);
}, 120_000);

describe('SQL statements per dashboard request', () => {
  it('are as many for 20 syncs as for 5', async () => {
    const ask = async (gql: Gql, expected: number) => {
      const data = ok(await gql(DASHBOARD, { first: 100 }));
      expect(data.audienceSyncs.edges).toHaveLength(expected);
      // Each sync's last run is the newest of its three.
      for (const { node } of data.audienceSyncs.edges) expect(node.lastRun).toMatchObject({ status: 'SUCCEEDED', delivered: { adds: 1 } });
    };
    // Warm-up: a token's last-used time is written at most once a minute, on its first request.
    await ask(small, 5);
    await ask(large, 20);
    await new Promise((r) => setTimeout(r, 100));

    const atFive = await statementsDuring(() => ask(small, 5));
    const atTwenty = await statementsDuring(() => ask(large, 20));
    expect(atFive.length).toBeGreaterThan(0);
    expect(atTwenty.length, `5 syncs:\n${atFive.join('\n')}\n\n20 syncs:\n${atTwenty.join('\n')}`).toBe(atFive.length);
  });
});

describe('rows read per dashboard request', () => {
  // The newest run, sample or evaluation of each item, among years of them: a sync on a 15-minute schedule
  // has 35,000 runs a year. Reading every one to keep the first (Prisma's nested `take: 1` for a list) made
  // the dashboard slower with every run; it reads one per item (src/newest.ts).
  const SEGMENTS = `{ segments(first: 100) { edges { node { id lastEvaluation { status size } } } } }`;

  it('do not grow with the history of runs, match rates and evaluations', async () => {
    const prisma = t.services.db.prisma;
    const workspaceId = large.workspaceId;
    const syncs = await prisma.audienceSync.findMany({ where: { workspaceId } });
    const segments = await prisma.segment.findMany({ where: { workspaceId } });
    const now = Date.now();
    // One recent match rate and evaluation each, and a newer run with its own counts.
    await prisma.matchRateSample.createMany({ data: syncs.map((s) => ({ syncId: s.id, audienceExternalId: 'a', uploaded: 100, matched: 60, rate: 0.6, sampledAt: new Date(now - 60_000) })) });
    await prisma.segmentEvaluation.createMany({
      data: segments.map((s) => ({ segmentId: s.id, version: 1, status: 'SUCCEEDED' as const, size: 7, queuedAt: new Date(now - 60_000), finishedAt: new Date(now - 59_000) })),
    });
    const ask = async () => {
      const data = ok(await large(DASHBOARD, { first: 100 }));
      expect(data.audienceSyncs.edges).toHaveLength(20);
      for (const { node } of data.audienceSyncs.edges) {
        expect(node.lastRun).toMatchObject({ status: 'SUCCEEDED', delivered: { adds: 1 } });
        expect(node.matchRate.rate).toBe(0.6);
      }
      const segs = ok(await large(SEGMENTS));
      expect(segs.segments.edges).toHaveLength(20);
      for (const { node } of segs.segments.edges) expect(node.lastEvaluation).toEqual({ status: 'SUCCEEDED', size: 7 });
    };
    await ask();
    const short = await trafficDuring(ask);

    // Then a long past: 200 older runs, samples and evaluations for each, none of them the newest.
    const older = (k: number) => new Date(now - 7_200_000 - k * 900_000);
    const past = Array.from({ length: 200 }, (_, k) => k);
    await prisma.syncRun.createMany({
      data: syncs.flatMap((s) => past.map((k) => ({ workspaceId, syncId: s.id, trigger: 'SCHEDULE', status: 'FAILED' as const, queuedAt: older(k), finishedAt: older(k), error: 'old' }))),
    });
    await prisma.matchRateSample.createMany({ data: syncs.flatMap((s) => past.map((k) => ({ syncId: s.id, audienceExternalId: 'a', uploaded: 100, matched: 10, rate: 0.1, sampledAt: older(k) }))) });
    await prisma.segmentEvaluation.createMany({
      data: segments.flatMap((s) => past.map((k) => ({ segmentId: s.id, version: 1, status: 'FAILED' as const, queuedAt: older(k), finishedAt: older(k), error: 'old' }))),
    });
    const long = await trafficDuring(ask);

    expect(long.statements.length, long.statements.join('\n')).toBe(short.statements.length);
    expect(long.rows, `rows read with 3 runs a sync: ${short.rows}; with 203: ${long.rows}`).toBe(short.rows);
  });

  it("read a sync's page of runs and match rates, and a run's page of rejected rows, not their whole history", async () => {
    const prisma = t.services.db.prisma;
    const sync = (await prisma.audienceSync.findFirst({ where: { workspaceId: large.workspaceId }, orderBy: { id: 'asc' } }))!;
    const id = encodeGlobalID('AudienceSync', sync.id);
    // The dashboard's own page of one sync: its ten newest runs and thirty newest samples, of 203 and 201.
    const page = await trafficDuring(async () => {
      const data = ok(await large(SYNC_QUERY, { id }));
      expect(data.audienceSync.runs.edges).toHaveLength(RUNS_SHOWN);
      expect(data.audienceSync.runs.edges[0].node.delivered.adds).toBe(1);
      expect(data.audienceSync.matchRates.edges).toHaveLength(MATCH_RATES_SHOWN);
      expect(data.audienceSync.matchRates.edges[0].node.rate).toBe(0.6);
    });
    // Each page is read as ids, then rows, one more than shown (to tell whether another page follows); with the
    // token, the sync, its segment, entity, destination, last run and match rate that is under 100 rows. The whole
    // history is over 400.
    expect(page.rows, page.statements.join('\n')).toBeLessThan(100);
    // The segment's latest match rate per destination: the newest of 201 samples.
    const segmentId = encodeGlobalID('Segment', sync.segmentId!);
    const rates = await trafficDuring(async () => {
      const data = ok(await large(`query($id: ID!) { node(id: $id) { ... on Segment { matchRates { latest { rate } } } } }`, { id: segmentId }));
      expect(data.node.matchRates).toEqual([{ latest: { rate: 0.6 } }]);
    });
    expect(rates.rows, rates.statements.join('\n')).toBeLessThan(20);

    // A run that rejected 500 rows: its first page of 20, then the next, by cursor.
    const run = await prisma.syncRun.create({ data: { workspaceId: large.workspaceId, syncId: sync.id, trigger: 'MANUAL', status: 'PARTIAL', queuedAt: new Date(Date.now() - 1_000), rejected: 500 } });
    await prisma.syncRunError.createMany({ data: Array.from({ length: 500 }, (_, k) => ({ runId: run.id, recordKey: `k${String(k).padStart(3, '0')}`, operation: 'ADD' as const, message: 'refused' })) });
    const ERRORS = `query($id: ID!, $after: String) { node(id: $id) { ... on SyncRun { errors(first: 20, after: $after) { edges { node { recordKey } } pageInfo { hasNextPage endCursor } } } } }`;
    const runId = encodeGlobalID('SyncRun', run.id);
    let first: { node: { errors: { edges: { node: { recordKey: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } } } | undefined;
    const errorsPage = await trafficDuring(async () => {
      first = ok(await large(ERRORS, { id: runId }));
    });
    expect(first!.node.errors.edges.map((e) => e.node.recordKey)).toEqual(Array.from({ length: 20 }, (_, k) => `k${String(k).padStart(3, '0')}`));
    expect(first!.node.errors.pageInfo.hasNextPage).toBe(true);
    expect(errorsPage.rows, errorsPage.statements.join('\n')).toBeLessThan(50);
    const next = ok(await large(ERRORS, { id: runId, after: first!.node.errors.pageInfo.endCursor }));
    expect(next.node.errors.edges[0].node.recordKey).toBe('k020');
  });
});

describe("rows read for a page of a parent's list", () => {
  // Pothos's related connections are a nested `take` in Prisma, which reads every row under the parent and
  // pages in memory: a destination's first 20 syncs read all of its syncs. They are read a page per parent.
  type Page = { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string; endCursor: string } };
  const PAGE = `edges { node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`;

  /** Walks a list forwards with `first`/`after`, then backwards with `last`/`before`; the rows each page read. */
  async function walk(gql: Gql, field: string, parentId: string): Promise<{ forwards: string[]; backwards: string[]; rowsPerPage: number[] }> {
    const query = `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) { node(id: $id) { ... on ${field} } }`;
    const pageOf = (data: { node: Record<string, Page> }) => Object.values(data.node)[0]!;
    const forwards: string[] = [];
    const backwards: string[] = [];
    const rowsPerPage: number[] = [];
    let after: string | undefined;
    for (;;) {
      let page!: Page;
      const traffic = await trafficDuring(async () => (page = pageOf(ok(await gql(query, { id: parentId, first: 20, after })))));
      rowsPerPage.push(traffic.rows);
      forwards.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    let before: string | undefined;
    for (;;) {
      const page = pageOf(ok(await gql(query, { id: parentId, last: 20, before })));
      backwards.unshift(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor;
    }
    return { forwards, backwards, rowsPerPage };
  }

  it("read a destination's page of syncs and a source's page of entities, not all of them", async () => {
    const gql = await workspaceWithSyncs('lists', 1);
    const prisma = t.services.db.prisma;
    const { workspaceId } = gql;
    const sync = (await prisma.audienceSync.findFirst({ where: { workspaceId } }))!;
    const entity = await prisma.entity.findUniqueOrThrow({ where: { id: sync.entityId } });
    // 150 more syncs of the sync's destination, 150 more entities of its source.
    await prisma.audienceSync.createMany({
      data: Array.from({ length: 150 }, (_, k) => ({ workspaceId, entityId: entity.id, destinationId: sync.destinationId, audienceTarget: sync.audienceTarget, audienceName: `List ${k}` })),
    });
    await prisma.entity.createMany({
      data: Array.from({ length: 150 }, (_, k) => ({
        workspaceId,
        sourceId: entity.sourceId,
        name: `Customers ${k}`,
        kind: entity.kind,
        tableSchema: entity.tableSchema,
        tableName: entity.tableName,
        primaryKey: entity.primaryKey,
        columns: entity.columns ?? [],
        introspectedAt: entity.introspectedAt,
      })),
    });
    const lists = [
      {
        field: `Destination { audienceSyncs(first: $first, after: $after, last: $last, before: $before) { ${PAGE} } }`,
        list: `destinations(first: 10) { edges { node { audienceSyncs(first: 20) { edges { node { id } } } } } }`,
        parent: encodeGlobalID('Destination', sync.destinationId),
        type: 'AudienceSync',
        ids: await prisma.audienceSync.findMany({ where: { destinationId: sync.destinationId }, orderBy: { id: 'asc' }, select: { id: true } }),
      },
      {
        field: `Source { entities(first: $first, after: $after, last: $last, before: $before) { ${PAGE} } }`,
        list: `sources(first: 10) { edges { node { entities(first: 20) { edges { node { id } } } } } }`,
        parent: encodeGlobalID('Source', entity.sourceId),
        type: 'Entity',
        ids: await prisma.entity.findMany({ where: { sourceId: entity.sourceId }, orderBy: { id: 'asc' }, select: { id: true } }),
      },
    ];
    for (const list of lists) {
      expect(list.ids).toHaveLength(151);
      const expected = list.ids.map((r) => encodeGlobalID(list.type, r.id));
      const { forwards, backwards, rowsPerPage } = await walk(gql, list.field, list.parent);
      // Every row once, in the order of their ids, both ways.
      expect(forwards).toEqual(expected);
      expect(backwards).toEqual(expected);
      // A page is the token, the parent, and the page's ids and rows (one more than shown): under 60 rows, of 151.
      expect(Math.max(...rowsPerPage), `rows per page: ${rowsPerPage.join(', ')}`).toBeLessThan(60);
      // The same first page under each parent of a list (here, of two): the parents and a page each.
      const viaList = await trafficDuring(async () => {
        const data = ok(await gql(`{ ${list.list} }`));
        const pages = (Object.values(data)[0] as { edges: { node: Record<string, { edges: { node: { id: string } }[] }> }[] }).edges.map((e) => Object.values(e.node)[0]!.edges.map((x) => x.node.id));
        expect(pages).toContainEqual(expected.slice(0, 20));
      });
      expect(viaList.rows, viaList.statements.join('\n')).toBeLessThan(60);
    }
  });
});
