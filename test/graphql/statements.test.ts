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
import { SYNCS_QUERY as DASHBOARD } from '../../src/dashboard/documents.js';

const t = await useTestApp();
await createShopWarehouse(t.url);


/** Every query sent on a pg client of this process while `fn` runs (and shortly after). */
async function statementsDuring(fn: () => Promise<unknown>): Promise<string[]> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const seen: string[] = [];
  proto.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0] as string | { text?: string } | undefined;
    seen.push(typeof q === 'string' ? q : (q?.text ?? ''));
    return original.apply(this, args);
  };
  try {
    await fn();
    // Anything a resolver left running (nothing should) gets a moment to show up.
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    proto.query = original;
  }
  return seen;
}

/** A workspace with `n` syncs, each of its own segment, each with three finished runs. */
async function workspaceWithSyncs(slug: string, n: number): Promise<Gql> {
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
  return gql;
}

let small: Gql;
let large: Gql;

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
