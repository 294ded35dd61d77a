// One workspace never reads or changes another's objects: every node type and
// every mutation that takes an id answers "not found" for a foreign id. The
// lists below are checked against the schema, so a new node type or mutation
// that is not covered here fails this test.
import { beforeAll, describe, expect, it } from 'vitest';
import { getNamedType, isInputObjectType, isObjectType } from 'graphql';
import { schema } from '../../src/graphql/schema.js';
import { ok, useTestApp } from '../support/app.js';
import { createShopWarehouse } from '../support/warehouse.js';

const t = await useTestApp();
await createShopWarehouse(t.url);
const a = await t.workspace('alpha');
const b = await t.workspace('beta');

const ids: Record<string, string> = {};

beforeAll(async () => {
  const src = ok(await a.gql(`mutation($url: String!) { createSource(input: { name: "A", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url }));
  ids.Source = src.createSource.source.id;
  const ent = (name: string, table: string) =>
    a.gql(`mutation($s: ID!, $n: String!, $t: String!) { createEntity(input: { sourceId: $s, name: $n, kind: OTHER, from: { table: { schema: "shop", name: $t } }, primaryKey: "id" }) { ... on CreateEntityPayload { entity { id } } } }`, { s: ids.Source, n: name, t: table });
  ids.Entity = ok(await ent('Customers', 'customers')).createEntity.entity.id;
  ids.Entity2 = ok(await ent('Companies', 'companies')).createEntity.entity.id;
  const rel = ok(await a.gql(`mutation($f: ID!, $t: ID!) { createRelationship(input: { name: "company", kind: MANY_TO_ONE, fromEntityId: $f, toEntityId: $t, fromColumn: "company_id", toColumn: "id" }) { ... on CreateRelationshipPayload { relationship { id } } } }`, { f: ids.Entity, t: ids.Entity2 }));
  ids.Relationship = rel.createRelationship.relationship.id;
  const seg = ok(await a.gql(`mutation($e: ID!) { createSegment(input: { entityId: $e, name: "Pros", condition: { attribute: { path: "plan", op: EQ, value: "pro" } } }) { __typename ... on CreateSegmentPayload { segment { id } } } }`, { e: ids.Entity }));
  ids.Segment = seg.createSegment.segment.id;
  const dest = ok(await a.gql(`mutation($c: JSON!) { createDestination(input: { name: "Out", type: "postgres_table", config: $c }) { __typename ... on CreateDestinationPayload { destination { id } } ... on Error { message } } }`, { c: { url: t.url, table: 'roster_out' } }));
  ids.Destination = dest.createDestination.destination.id;
  const sync = ok(await a.gql(`mutation($s: ID!, $d: ID!) { createAudienceSync(input: { segmentId: $s, destinationId: $d, audience: { target: CREATE_BY_NAME } }) { __typename ... on CreateAudienceSyncPayload { audienceSync { id } } ... on Error { message } } }`, { s: ids.Segment, d: ids.Destination }));
  ids.AudienceSync = sync.createAudienceSync.audienceSync.id;
  const syncRow = await t.services.db.prisma.audienceSync.findFirstOrThrow();
  const run = await t.services.db.prisma.syncRun.create({ data: { workspaceId: syncRow.workspaceId, syncId: syncRow.id, trigger: 'TEST', status: 'SUCCEEDED' } });
  ids.SyncRun = Buffer.from(`SyncRun:${run.id}`).toString('base64');
  const viewer = ok(await a.gql('{ viewer { workspace { id } token { id } } }'));
  ids.Workspace = viewer.viewer.workspace.id;
  ids.ApiToken = viewer.viewer.token.id;
});

/** Everything a foreign call could change, as one comparable row. */
const STATE = ['Source', 'Entity', 'Relationship', 'Segment', 'Destination', 'AudienceSync', 'SyncRun', 'SegmentEvaluation']
  .map((table) => `(SELECT json_agg(x ORDER BY x.id) FROM "${table}" x) AS "${table}"`)
  .concat(`(SELECT json_agg(k.id ORDER BY k.id) FROM "ApiToken" k WHERE "revokedAt" IS NULL) AS tokens`)
  .join(', ')
  .replace(/^/, 'SELECT ');

/** Node types: everything implementing Node. */
const nodeTypes = Object.values(schema.getTypeMap())
  .filter((type) => isObjectType(type) && type.getInterfaces().some((i) => i.name === 'Node'))
  .map((type) => type.name)
  .sort();

/** Each mutation that takes an object's id, with a call that is valid apart from whose id it is. */
const foreignCalls: Record<string, (id: (type: string) => string) => { query: string; variables: Record<string, unknown> }> = {
  updateSource: (id) => ({ query: 'mutation($id: ID!) { updateSource(id: $id, input: { name: "stolen" }) { __typename } }', variables: { id: id('Source') } }),
  checkSource: (id) => ({ query: 'mutation($id: ID!) { checkSource(id: $id) { __typename } }', variables: { id: id('Source') } }),
  deleteSource: (id) => ({ query: 'mutation($id: ID!) { deleteSource(id: $id) { __typename } }', variables: { id: id('Source') } }),
  createEntity: (id) => ({
    query: 'mutation($id: ID!) { createEntity(input: { sourceId: $id, name: "E", kind: OTHER, from: { sql: "SELECT 1 AS id" }, primaryKey: "id" }) { __typename } }',
    variables: { id: id('Source') },
  }),
  updateEntity: (id) => ({ query: 'mutation($id: ID!) { updateEntity(id: $id, input: { name: "stolen" }) { __typename } }', variables: { id: id('Entity') } }),
  deleteEntity: (id) => ({ query: 'mutation($id: ID!) { deleteEntity(id: $id) { __typename } }', variables: { id: id('Entity') } }),
  createRelationship: (id) => ({
    query: 'mutation($f: ID!, $t: ID!) { createRelationship(input: { name: "x", kind: MANY_TO_ONE, fromEntityId: $f, toEntityId: $t, fromColumn: "company_id", toColumn: "id" }) { __typename } }',
    variables: { f: id('Entity'), t: id('Entity2') },
  }),
  updateRelationship: (id) => ({ query: 'mutation($id: ID!) { updateRelationship(id: $id, input: { name: "stolen" }) { __typename } }', variables: { id: id('Relationship') } }),
  deleteRelationship: (id) => ({ query: 'mutation($id: ID!) { deleteRelationship(id: $id) { __typename } }', variables: { id: id('Relationship') } }),
  createSegment: (id) => ({
    query: 'mutation($id: ID!) { createSegment(input: { entityId: $id, name: "S", condition: { and: [] } }) { __typename } }',
    variables: { id: id('Entity') },
  }),
  updateSegment: (id) => ({ query: 'mutation($id: ID!) { updateSegment(id: $id, input: { name: "stolen" }) { __typename } }', variables: { id: id('Segment') } }),
  deleteSegment: (id) => ({ query: 'mutation($id: ID!) { deleteSegment(id: $id) { __typename } }', variables: { id: id('Segment') } }),
  evaluateSegment: (id) => ({ query: 'mutation($id: ID!) { evaluateSegment(id: $id) { __typename } }', variables: { id: id('Segment') } }),
  deleteDestination: (id) => ({ query: 'mutation($id: ID!) { deleteDestination(id: $id) { __typename } }', variables: { id: id('Destination') } }),
  createAudienceSync: (id) => ({
    query: 'mutation($s: ID!, $d: ID!) { createAudienceSync(input: { segmentId: $s, destinationId: $d, audience: { target: CREATE_BY_NAME } }) { __typename } }',
    variables: { s: id('Segment'), d: id('Destination') },
  }),
  updateAudienceSync: (id) => ({ query: 'mutation($id: ID!) { updateAudienceSync(id: $id, input: { mode: ADDITIVE }) { __typename } }', variables: { id: id('AudienceSync') } }),
  deleteAudienceSync: (id) => ({ query: 'mutation($id: ID!) { deleteAudienceSync(id: $id) { __typename } }', variables: { id: id('AudienceSync') } }),
  pauseAudienceSync: (id) => ({ query: 'mutation($id: ID!) { pauseAudienceSync(id: $id) { __typename } }', variables: { id: id('AudienceSync') } }),
  resumeAudienceSync: (id) => ({ query: 'mutation($id: ID!) { resumeAudienceSync(id: $id) { __typename } }', variables: { id: id('AudienceSync') } }),
  triggerAudienceSync: (id) => ({ query: 'mutation($id: ID!) { triggerAudienceSync(id: $id) { __typename } }', variables: { id: id('AudienceSync') } }),
  previewAudienceSyncDiff: (id) => ({ query: 'mutation($id: ID!) { previewAudienceSyncDiff(id: $id) { __typename } }', variables: { id: id('AudienceSync') } }),
  testAudienceSync: (id) => ({ query: 'mutation($id: ID!) { testAudienceSync(id: $id) { __typename } }', variables: { id: id('AudienceSync') } }),
  quickSync: (id) => ({ query: 'mutation($s: ID!, $d: ID!) { quickSync(segmentId: $s, destinationId: $d) { __typename } }', variables: { s: id('Segment'), d: id('Destination') } }),
  setOneClickAudience: (id) => ({ query: 'mutation($s: ID!, $d: ID!) { setOneClickAudience(segmentId: $s, destinationId: $d, enabled: true) { __typename } }', variables: { s: id('Segment'), d: id('Destination') } }),
  refreshMatchRates: (id) => ({ query: 'mutation($id: ID!) { refreshMatchRates(syncId: $id) { __typename } }', variables: { id: id('AudienceSync') } }),
  cancelSyncRun: (id) => ({ query: 'mutation($id: ID!) { cancelSyncRun(id: $id) { __typename } }', variables: { id: id('SyncRun') } }),
  revokeApiToken: (id) => ({ query: 'mutation($id: ID!) { revokeApiToken(id: $id) { __typename } }', variables: { id: id('ApiToken') } }),
};

/** Mutations whose arguments (or input fields) include an ID. */
function mutationsTakingIds(): string[] {
  const mutation = schema.getMutationType()!;
  return Object.values(mutation.getFields())
    .filter((field) =>
      field.args.some((arg) => {
        const named = getNamedType(arg.type);
        if (named.name === 'ID') return true;
        return isInputObjectType(named) && Object.values(named.getFields()).some((f) => getNamedType(f.type).name === 'ID');
      }),
    )
    .map((f) => f.name)
    .sort();
}

describe('tenant isolation', () => {
  it('covers every node type and every mutation that takes an id', () => {
    expect(Object.keys(ids).filter((k) => !k.endsWith('2')).sort()).toEqual(nodeTypes);
    expect(Object.keys(foreignCalls).sort()).toEqual(mutationsTakingIds());
  });

  it.each(nodeTypes)('node(id) of another workspace\'s %s is null for B and found for A', async (type) => {
    const query = 'query($id: ID!) { node(id: $id) { id __typename } nodes(ids: [$id]) { id } }';
    const forB = ok(await b.gql(query, { id: ids[type] }));
    expect(forB.node).toBeNull();
    expect(forB.nodes).toEqual([null]);
    const forA = ok(await a.gql(query, { id: ids[type] }));
    expect(forA.node).toEqual({ id: ids[type], __typename: type });
  });

  it('direct lookups and lists never show another workspace\'s objects', async () => {
    const data = ok(await b.gql(`query($s: ID!, $e: ID!) { source(id: $s) { id } entity(id: $e) { id } byName: entity(name: "Customers") { id } sources { edges { node { id } } } entities { edges { node { id } } } relationships { edges { node { id } } } mine: relationships(entityId: $e) { edges { node { id } } } }`, { s: ids.Source, e: ids.Entity }));
    expect(data).toEqual({ source: null, entity: null, byName: null, sources: { edges: [] }, entities: { edges: [] }, relationships: { edges: [] }, mine: { edges: [] } });
  });

  it("segment reads answer not found for another workspace's entity or segments", async () => {
    const data = ok(await b.gql(`query($e: ID!, $s: ID!) {
      segment(id: $s) { id }
      segments { edges { node { id } } }
      segmentPreview(entityId: $e, condition: { and: [] }) { __typename }
      segmentOverlap(ids: [$s, $s]) { __typename }
      record(entityId: $e, key: "1") { __typename }
    }`, { e: ids.Entity, s: ids.Segment }));
    expect(data.segment).toBeNull();
    expect(data.segments.edges).toEqual([]);
    expect(data.segmentPreview.__typename).toBe('NotFoundError');
    expect(data.record.__typename).toBe('NotFoundError');
    // Two ids, one segment: refused before any lookup could reveal it.
    expect(['ValidationError', 'NotFoundError']).toContain(data.segmentOverlap.__typename);
  });

  it.each(Object.keys(foreignCalls))('%s with another workspace\'s id answers NotFoundError and changes nothing', async (name) => {
    const before = await t.db.pool.query(STATE);
    const call = foreignCalls[name]!((type) => ids[type]!);
    const res = ok(await b.gql(call.query, call.variables));
    expect(res[name].__typename).toBe('NotFoundError');
    const after = await t.db.pool.query(STATE);
    expect(after.rows).toEqual(before.rows);
  });
});

describe('scopes on every mutation', () => {
  /** Mutations that take no id, with a valid call each. */
  const otherCalls: Record<string, () => { query: string; variables: Record<string, unknown> }> = {
    createSource: () => ({ query: 'mutation($u: String!) { createSource(input: { name: "N", url: $u }) { __typename } }', variables: { u: t.url } }),
    createDestination: () => ({ query: 'mutation($c: JSON!) { createDestination(input: { name: "D", type: "postgres_table", config: $c }) { __typename } }', variables: { c: { url: t.url, table: 'x' } } }),
    createApiToken: () => ({ query: 'mutation { createApiToken(input: { name: "t", scopes: [READ] }) { __typename } }', variables: {} }),
  };
  const adminOnly = new Set(['createApiToken', 'revokeApiToken']);

  it('covers every mutation of the schema', () => {
    expect([...Object.keys(foreignCalls), ...Object.keys(otherCalls)].sort()).toEqual(Object.keys(schema.getMutationType()!.getFields()).sort());
  });

  it.each([...Object.keys(foreignCalls), ...Object.keys(otherCalls)])('%s is refused to a read-only token (and to a write token when it needs admin)', async (name) => {
    const call = foreignCalls[name]?.((type) => ids[type]!) ?? otherCalls[name]!();
    const read = await t.tokenFor(a.workspaceId, ['READ']);
    const res = await t.gql(read, call.query, call.variables);
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    if (adminOnly.has(name)) {
      const write = await t.tokenFor(a.workspaceId, ['WRITE']);
      expect((await t.gql(write, call.query, call.variables)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
  });
});
