// The REST mirror under /api/v1 (src/rest.ts): each route answers what the
// equivalent GraphQL query answers, writes go through the same mutations,
// auth, scopes and tenancy are those of GraphQL, and the OpenAPI document
// lists the routes.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { getNamedType, isAbstractType, isLeafType, isObjectType, type GraphQLNamedType, type GraphQLObjectType } from 'graphql';
import { schema } from '../src/graphql/schema.js';
import { REST_ROUTES } from '../src/rest.js';
import { ok, useTestApp, type Gql } from './support/app.js';

const t = await useTestApp({ jobs: true });
const acme = await t.workspace('rest-acme');
const other = await t.workspace('rest-other');
const gql: Gql = acme.gql;
const ids = { source: '', entity: '', segment: '', destination: '', sync: '' };
/** Whether the schema has Query.syncRuns, which GET /audience-syncs/{syncId}/runs maps to. */
const hasSyncRuns = schema.getQueryType()?.getFields().syncRuns !== undefined;

interface RestResponse {
  status: number;
  body: any;
}

async function rest(method: string, path: string, opts: { token?: string | null; body?: unknown } = {}): Promise<RestResponse> {
  const token = opts.token === undefined ? acme.token : opts.token;
  const res = await t.app.yoga.fetch(`http://roster.test/api/v1${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const enc = encodeURIComponent;

// ─── "The equivalent GraphQL query" ─────────────────────────────────────────
// The selection set is read off the REST response, against the schema: every
// field the route returned is asked for again through /graphql, so comparing
// the two bodies compares every value. Nested fields keep their default
// arguments, as the route's do.

function selectionFor(type: GraphQLNamedType, value: unknown): string {
  if (isLeafType(type)) return '';
  const sample = Array.isArray(value) ? value.find((v) => v !== null) : value;
  if (sample === null || sample === undefined || typeof sample !== 'object') return '{ __typename }';
  if (isAbstractType(type)) {
    const concrete = (sample as { __typename?: string }).__typename;
    const inner = concrete ? schema.getType(concrete) : undefined;
    if (!inner || !isObjectType(inner)) throw new Error(`expected __typename on a ${type.name} in the REST response, but got ${JSON.stringify(sample)}`);
    return `{ __typename ... on ${inner.name} ${selectionFor(inner, sample)} }`;
  }
  const fields = (type as GraphQLObjectType).getFields();
  const parts = Object.entries(sample as Record<string, unknown>).map(([key, v]) => {
    if (key === '__typename') return key;
    const field = fields[key];
    if (!field) throw new Error(`the REST response has ${type.name}.${key}, which the schema does not`);
    return `${key} ${selectionFor(getNamedType(field.type), v)}`;
  });
  return `{ ${parts.join(' ')} }`;
}

/** Runs root field `field(args)` through GraphQL with the selection the REST body shows; returns its data. */
async function viaGraphQL(kind: 'query' | 'mutation', field: string, args: Record<string, { type: string; value: unknown }>, restBody: unknown, token = acme.token) {
  const root = kind === 'query' ? schema.getQueryType()! : schema.getMutationType()!;
  const def = root.getFields()[field]!;
  const vars = Object.entries(args);
  const header = vars.length ? `(${vars.map(([name, a]) => `$${name}: ${a.type}`).join(', ')})` : '';
  const call = vars.length ? `(${vars.map(([name]) => `${name}: $${name}`).join(', ')})` : '';
  const query = `${kind}${header} { ${field}${call} ${selectionFor(getNamedType(def.type), restBody)} }`;
  const res = await t.gql(token, query, Object.fromEntries(vars.map(([name, a]) => [name, a.value])));
  return ok(res)[field];
}

async function expectSameAsGraphQL(path: string, field: string, args: Record<string, { type: string; value: unknown }> = {}) {
  const res = await rest('GET', path);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body).toEqual(await viaGraphQL('query', field, args, res.body));
  return res.body;
}

async function waitForRun(runId: string) {
  for (let i = 0; i < 300; i++) {
    const { node } = ok(await gql(`query($id: ID!) { node(id: $id) { ... on SyncRun { id status error planned { adds } delivered { adds } } } }`, { id: runId }));
    if (!['QUEUED', 'RUNNING'].includes(node.status)) return node;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('run did not finish');
}

const CREATE_SYNC = `mutation($input: CreateAudienceSyncInput!) { createAudienceSync(input: $input) { __typename ... on CreateAudienceSyncPayload { audienceSync { id } } ... on Error { message } } }`;

beforeAll(async () => {
  await t.db.pool.query(`CREATE SCHEMA wh; CREATE TABLE wh.people (id bigint PRIMARY KEY, email text NOT NULL, score integer NOT NULL, active boolean NOT NULL);
    INSERT INTO wh.people SELECT g, 'p' || g || '@example.test', g * 10, g % 3 <> 0 FROM generate_series(1, 30) g;`);
  const src = ok(await gql(`mutation($url: String!) { createSource(input: { name: "WH", url: $url }) { __typename ... on CreateSourcePayload { source { id } } ... on Error { message } } }`, { url: t.url }));
  ids.source = src.createSource.source.id;
  const ent = ok(await gql(`mutation($s: ID!) { createEntity(input: { sourceId: $s, name: "People", kind: PERSON, from: { table: { schema: "wh", name: "people" } }, primaryKey: "id", identifiers: [{ type: EMAIL, column: "email" }] }) { __typename ... on CreateEntityPayload { entity { id } } ... on Error { message } } }`, { s: ids.source }));
  ids.entity = ent.createEntity.entity.id;
  const seg = ok(await gql(`mutation($e: ID!) { createSegment(input: { entityId: $e, name: "Active", condition: { attribute: { path: "active", op: IS_TRUE } } }) { __typename ... on CreateSegmentPayload { segment { id } } ... on Error { message } } }`, { e: ids.entity }));
  ids.segment = seg.createSegment.segment.id;
  const dest = ok(await gql(`mutation($c: JSON!) { createDestination(input: { name: "Table", type: "postgres_table", config: $c }) { __typename ... on CreateDestinationPayload { destination { id } } ... on Error { message } } }`, { c: { url: t.url, table: 'rest_out' } }));
  expect(dest.createDestination.__typename, JSON.stringify(dest)).toBe('CreateDestinationPayload');
  ids.destination = dest.createDestination.destination.id;
  const sync = ok(await gql(CREATE_SYNC, { input: { segmentId: ids.segment, destinationId: ids.destination, audience: { target: 'CREATE_BY_NAME', name: 'active-people' }, mappings: [{ from: 'score', to: 'score' }], status: 'ACTIVE' } }));
  expect(sync.createAudienceSync.__typename, JSON.stringify(sync)).toBe('CreateAudienceSyncPayload');
  ids.sync = sync.createAudienceSync.audienceSync.id;
}, 60_000);

describe('the OpenAPI document', () => {
  it('is served beside the routes, titled, versioned, with /api/v1 as its server', async () => {
    const res = await rest('GET', '/openapi.json', { token: null });
    expect(res.status).toBe(200);
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(res.body.info).toMatchObject({ title: 'Roster API', version: pkg.version });
    expect(res.body.servers).toEqual([{ url: '/api/v1' }]);
    expect(res.body.openapi).toMatch(/^3\./);
    // Swagger UI beside it reads this document.
    const docs = await t.app.yoga.fetch('http://roster.test/api/v1/docs');
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('"url":"/api/v1/openapi.json"');
  });

  it('lists the documented routes with their methods and GraphQL field names', async () => {
    const { body } = await rest('GET', '/openapi.json', { token: null });
    const routes = Object.entries(body.paths as Record<string, Record<string, { operationId?: string }>>).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => `${method.toUpperCase()} ${path} ${op.operationId}`),
    );
    const expected = [
      'GET /audience-syncs audienceSyncs',
      'POST /audience-syncs createAudienceSync',
      'GET /audience-syncs/{id} audienceSync',
      'PUT /audience-syncs/{id} updateAudienceSync',
      'DELETE /audience-syncs/{id} deleteAudienceSync',
      'POST /audience-syncs/{id}/trigger triggerAudienceSync',
      'GET /segments segments',
      'GET /segments/{id} segment',
      'GET /destinations destinations',
      'GET /entities entities',
      'GET /entities/{id} entity',
      'GET /sources sources',
    ];
    if (hasSyncRuns) expected.push('GET /audience-syncs/{syncId}/runs syncRuns');
    expect(routes).toEqual(expect.arrayContaining(expected));
    // SOFA's subscription webhooks are not served, so not listed either.
    expect(routes.filter((r) => r.includes('/webhook'))).toEqual([]);
    // Arguments are documented once: the id in the path, the input in the body.
    const put = body.paths['/audience-syncs/{id}'].put;
    expect(put.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true })]);
    expect(put.requestBody.content['application/json'].schema).toMatchObject({ properties: { input: { $ref: '#/components/schemas/UpdateAudienceSyncInput' } }, required: ['input'] });
    // Typed errors are documented under their status, beside the success.
    expect(body.paths['/audience-syncs'].post.responses).toMatchObject({
      201: { content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateAudienceSyncPayload' } } } },
      400: { content: { 'application/json': { schema: { $ref: '#/components/schemas/ValidationError' } } } },
      404: { content: { 'application/json': { schema: { $ref: '#/components/schemas/NotFoundError' } } } },
      401: { content: { 'application/json': { schema: { $ref: '#/components/schemas/GraphQLErrors' } } } },
      403: {},
    });
    // Typed results are documented with their __typename.
    expect(body.components.schemas.ValidationError.properties).toMatchObject({ __typename: { type: 'string' }, message: {}, path: {}, problems: {} });
  });

  it('names only root fields that exist, apart from those the schema is still to gain', async () => {
    const { body } = await rest('GET', '/openapi.json', { token: null });
    const pending = ['Query.syncRuns', 'Query.destination', 'Mutation.updateDestination'];
    for (const [coordinate, route] of Object.entries(REST_ROUTES)) {
      const [type, field] = coordinate.split('.') as [string, string];
      const root = type === 'Query' ? schema.getQueryType() : schema.getMutationType();
      if (!root?.getFields()[field]) {
        expect(pending, `${coordinate} is in REST_ROUTES but not in the schema`).toContain(coordinate);
        continue;
      }
      const path = route.path.replace(/:([^/]+)/g, '{$1}');
      expect(body.paths[path]?.[route.method.toLowerCase()]?.operationId, `${route.method} ${path}`).toBe(field);
    }
  });
});

describe('reads', () => {
  it('GET /audience-syncs answers as Query.audienceSyncs', async () => {
    const body = await expectSameAsGraphQL('/audience-syncs', 'audienceSyncs');
    expect(body.edges.map((e: any) => e.node.id)).toEqual([ids.sync]);
    const node = body.edges[0].node;
    // The sync's own fields, with the resources it refers to as { id }.
    expect(node).toMatchObject({ __typename: 'AudienceSync', id: ids.sync, status: 'ACTIVE', mode: 'MIRROR', audience: { name: 'active-people' }, mappings: [{ from: 'score', to: 'score' }] });
    expect(node.destination).toEqual({ id: ids.destination });
    expect(node.segment).toEqual({ id: ids.segment });
    expect(body.pageInfo).toMatchObject({ hasNextPage: false });
  });

  it('passes query-string arguments through: filters and pages', async () => {
    await expectSameAsGraphQL('/audience-syncs?status=ACTIVE&first=1', 'audienceSyncs', { status: { type: 'SyncStatus', value: 'ACTIVE' }, first: { type: 'Int', value: 1 } });
    const paused = await rest('GET', '/audience-syncs?status=PAUSED');
    expect(paused.body.edges).toEqual([]);
    const bySegment = await rest('GET', `/audience-syncs?segmentId=${enc(ids.segment)}`);
    expect(bySegment.body.edges).toHaveLength(1);
  });

  it('GET /audience-syncs/{id} answers as Query.audienceSync', async () => {
    const body = await expectSameAsGraphQL(`/audience-syncs/${enc(ids.sync)}`, 'audienceSync', { id: { type: 'ID!', value: ids.sync } });
    expect(body).toMatchObject({ __typename: 'AudienceSync', id: ids.sync, destination: { id: ids.destination } });
  });

  it('GET /segments, /segments/{id}, /destinations, /entities, /entities/{id} and /sources answer as their queries', async () => {
    const segments = await expectSameAsGraphQL('/segments', 'segments');
    expect(segments.edges.map((e: any) => e.node)).toEqual([expect.objectContaining({ id: ids.segment, name: 'Active', entity: { id: ids.entity } })]);
    const segment = await expectSameAsGraphQL(`/segments/${enc(ids.segment)}`, 'segment', { id: { type: 'ID!', value: ids.segment } });
    expect(segment).toMatchObject({ __typename: 'Segment', name: 'Active', condition: { attribute: { path: 'active', op: 'IS_TRUE' } } });
    const destinations = await expectSameAsGraphQL('/destinations', 'destinations');
    expect(destinations.edges.map((e: any) => e.node)).toEqual([expect.objectContaining({ id: ids.destination, name: 'Table', type: 'postgres_table' })]);
    const entities = await expectSameAsGraphQL('/entities', 'entities');
    expect(entities.edges.map((e: any) => e.node.id)).toEqual([ids.entity]);
    const entity = await expectSameAsGraphQL(`/entities/${enc(ids.entity)}`, 'entity', { id: { type: 'ID', value: ids.entity } });
    expect(entity).toMatchObject({ name: 'People', primaryKey: 'id', source: { id: ids.source } });
    const sources = await expectSameAsGraphQL('/sources', 'sources');
    expect(sources.edges[0].node).toMatchObject({ id: ids.source, name: 'WH' });
    // Fields that read the warehouse on every call stay in GraphQL.
    expect(sources.edges[0].node).not.toHaveProperty('tables');
  });

  it('answers 404 for an id that is not in the workspace, and for an unknown route', async () => {
    const foreign = await rest('GET', `/audience-syncs/${enc(ids.sync)}`, { token: other.token });
    expect(foreign.status).toBe(404);
    expect(foreign.body.errors[0].extensions.code).toBe('NOT_FOUND');
    const lists = await rest('GET', '/audience-syncs', { token: other.token });
    expect(lists.body.edges).toEqual([]);
    expect((await rest('GET', `/segments/${enc(ids.segment)}`, { token: other.token })).status).toBe(404);
    expect((await rest('GET', '/no-such-thing')).status).toBe(404);
    // SOFA's webhook subscriptions would POST to any URL: not served.
    const hook = await rest('POST', '/webhook', { body: { subscription: 'syncRunFinished', url: 'http://127.0.0.1:1/' } });
    expect(hook.status).toBe(404);
  });
});

describe('auth and scopes', () => {
  it('answers 401 without a token or with a bad one, with the GraphQL error', async () => {
    const none = await rest('GET', '/audience-syncs', { token: null });
    expect(none.status).toBe(401);
    expect(none.body.errors[0]).toMatchObject({ message: expect.stringContaining('authentication required'), extensions: { code: 'UNAUTHENTICATED' } });
    const bad = await rest('GET', '/audience-syncs', { token: 'rst_nope' });
    expect(bad.status).toBe(401);
    expect(bad.body.errors[0].message).toMatch(/invalid API token/);
    // No internals (the http extension) in the body.
    expect(JSON.stringify(none.body)).not.toContain('"http"');
  });

  it('lets a READ token read but not write (403 with the GraphQL error), and nothing is written', async () => {
    const reader = await t.tokenFor(acme.workspaceId, ['READ']);
    const read = await rest('GET', '/audience-syncs', { token: reader });
    expect(read.status).toBe(200);
    expect(read.body.edges).toHaveLength(1);
    const write = await rest('POST', '/audience-syncs', { token: reader, body: { input: { segmentId: ids.segment, destinationId: ids.destination, audience: { target: 'CREATE_BY_NAME', name: 'by-reader' } } } });
    expect(write.status).toBe(403);
    expect(write.body.errors[0]).toMatchObject({ message: expect.stringContaining('may not run Mutation.createAudienceSync'), path: ['createAudienceSync'], extensions: { code: 'FORBIDDEN' } });
    const trigger = await rest('POST', `/audience-syncs/${enc(ids.sync)}/trigger`, { token: reader });
    expect(trigger.status).toBe(403);
    expect(await t.services.db.prisma.audienceSync.count({ where: { audienceName: 'by-reader' } })).toBe(0);
    expect(await t.services.db.prisma.syncRun.count()).toBe(0);
  });

  it('refuses persisted-only (partner) tokens: REST routes are not persisted operations', async () => {
    const partner = await t.tokenFor(acme.workspaceId, ['ADMIN'], { persistedOnly: true });
    const res = await rest('GET', '/audience-syncs', { token: partner });
    expect(res.status).toBe(403);
    expect(res.body.errors[0].extensions.code).toBe('PERSISTED_ONLY');
  });

  it('answers a foreign id in a write with NotFoundError (404) and changes nothing', async () => {
    const before = await t.services.db.prisma.audienceSync.findMany({ orderBy: { id: 'asc' } });
    for (const [method, path, body] of [
      ['PUT', `/audience-syncs/${enc(ids.sync)}`, { input: { status: 'PAUSED' } }],
      ['DELETE', `/audience-syncs/${enc(ids.sync)}`, undefined],
      ['POST', `/audience-syncs/${enc(ids.sync)}/trigger`, undefined],
    ] as const) {
      const res = await rest(method, path, { token: other.token, body });
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(404);
      expect(res.body).toMatchObject({ __typename: 'NotFoundError', message: expect.any(String) });
    }
    expect(await t.services.db.prisma.audienceSync.findMany({ orderBy: { id: 'asc' } })).toEqual(before);
    expect(await t.services.db.prisma.syncRun.count()).toBe(0);
  });
});

describe('writes', () => {
  let created = '';

  it('POST /audience-syncs creates through Mutation.createAudienceSync (201, with __typename)', async () => {
    const res = await rest('POST', '/audience-syncs', {
      body: { input: { segmentId: ids.segment, destinationId: ids.destination, audience: { target: 'CREATE_BY_NAME', name: 'rest-made' }, mode: 'ADDITIVE', mappings: [{ from: 'score', to: 'points' }] } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ __typename: 'CreateAudienceSyncPayload', audienceSync: { __typename: 'AudienceSync', mode: 'ADDITIVE', status: 'DRAFT', audience: { name: 'rest-made' }, destination: { id: ids.destination } } });
    created = res.body.audienceSync.id;
    // What the route returned is what GraphQL now reads.
    const now = await rest('GET', `/audience-syncs/${enc(created)}`);
    expect(now.body).toEqual(res.body.audienceSync);
    expect(now.body).toEqual(await viaGraphQL('query', 'audienceSync', { id: { type: 'ID!', value: created } }, now.body));
  });

  it('answers typed errors with their fields and a 4xx status: ValidationError 400 with problems', async () => {
    const res = await rest('POST', '/audience-syncs', {
      body: { input: { segmentId: ids.segment, destinationId: ids.destination, audience: { target: 'CREATE_BY_NAME' }, mappings: [{ from: 'no_such_column', to: 'x' }] } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.__typename).toBe('ValidationError');
    expect(res.body.message).toEqual(expect.any(String));
    expect(res.body).toHaveProperty('path');
    expect(res.body.problems).toEqual(expect.arrayContaining([expect.objectContaining({ message: expect.stringContaining('no_such_column') })]));
    // The same input through GraphQL gives the same answer.
    const same = await viaGraphQL('mutation', 'createAudienceSync', { input: { type: 'CreateAudienceSyncInput!', value: { segmentId: ids.segment, destinationId: ids.destination, audience: { target: 'CREATE_BY_NAME' }, mappings: [{ from: 'no_such_column', to: 'x' }] } } }, res.body);
    expect(res.body).toEqual(same);
  });

  it('answers 400 with the GraphQL error for a missing or malformed argument', async () => {
    const missing = await rest('POST', '/audience-syncs', { body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.errors[0].message).toMatch(/\$input/);
    const badJson = await t.app.yoga.fetch('http://roster.test/api/v1/audience-syncs', { method: 'POST', headers: { authorization: `Bearer ${acme.token}`, 'content-type': 'application/json' }, body: '{nope' });
    expect(badJson.status).toBe(400);
    const badEnum = await rest('GET', '/audience-syncs?status=SIDEWAYS');
    expect(badEnum.status).toBe(400);
    // Ids that do not parse, or name another type, are the caller's mistake too.
    const garbage = await rest('GET', '/audience-syncs/garbage');
    expect(garbage.status).toBe(400);
    expect(garbage.body.errors[0]).toMatchObject({ message: expect.stringMatching(/global ID/i), path: ['audienceSync'] });
    const wrongType = await rest('DELETE', `/audience-syncs/${enc(ids.segment)}`);
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.errors[0].message).toMatch(/not of type: AudienceSync/);
  });

  it('PUT /audience-syncs/{id} updates through Mutation.updateAudienceSync', async () => {
    const res = await rest('PUT', `/audience-syncs/${enc(created)}`, { body: { input: { mode: 'MIRROR', audience: { target: 'CREATE_BY_NAME', name: 'rest-renamed' } } } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ __typename: 'UpdateAudienceSyncPayload', audienceSync: { id: created, mode: 'MIRROR', audience: { name: 'rest-renamed' } } });
    const { audienceSync } = ok(await gql(`query($id: ID!) { audienceSync(id: $id) { mode audience { name } } }`, { id: created }));
    expect(audienceSync).toEqual({ mode: 'MIRROR', audience: { name: 'rest-renamed' } });
  });

  it('DELETE /audience-syncs/{id} deletes through Mutation.deleteAudienceSync; then it is 404', async () => {
    const res = await rest('DELETE', `/audience-syncs/${enc(created)}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ __typename: 'DeleteAudienceSyncPayload', deletedId: created });
    expect((await rest('GET', `/audience-syncs/${enc(created)}`)).status).toBe(404);
    const again = await rest('DELETE', `/audience-syncs/${enc(created)}`);
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ __typename: 'NotFoundError', message: expect.any(String) });
  });

  it('POST /audience-syncs/{id}/trigger queues a run that delivers to the destination', async () => {
    const res = await rest('POST', `/audience-syncs/${enc(ids.sync)}/trigger`, { body: { evaluateSegmentFirst: true } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ __typename: 'TriggerAudienceSyncPayload', run: { __typename: 'SyncRun', id: expect.any(String), status: expect.stringMatching(/QUEUED|RUNNING/), sync: { id: ids.sync } } });
    const run = await waitForRun(res.body.run.id);
    expect(run).toMatchObject({ status: 'SUCCEEDED', planned: { adds: 20 }, delivered: { adds: 20 } });
    const { rows } = await t.db.pool.query(`SELECT count(*)::int AS n FROM public.rest_out WHERE audience = 'active-people'`);
    expect(rows[0].n).toBe(20);
    // The sync now shows its last run, as GraphQL does.
    const sync = await expectSameAsGraphQL(`/audience-syncs/${enc(ids.sync)}`, 'audienceSync', { id: { type: 'ID!', value: ids.sync } });
    expect(sync.lastRun).toMatchObject({ id: run.id, status: 'SUCCEEDED' });
  });

  it.skipIf(!hasSyncRuns)('GET /audience-syncs/{syncId}/runs answers as Query.syncRuns, newest first; 404 for a foreign sync', async () => {
    const body = await expectSameAsGraphQL(`/audience-syncs/${enc(ids.sync)}/runs`, 'syncRuns', { syncId: { type: 'ID!', value: ids.sync } });
    const { audienceSync } = ok(await gql(`query($id: ID!) { audienceSync(id: $id) { runs { edges { node { id status } } } } }`, { id: ids.sync }));
    expect(body.edges.map((e: any) => e.node.id)).toEqual(audienceSync.runs.edges.map((e: any) => e.node.id));
    expect(body.edges[0].node).toMatchObject({ __typename: 'SyncRun', status: 'SUCCEEDED', delivered: { adds: 20 } });
    const page = await rest('GET', `/audience-syncs/${enc(ids.sync)}/runs?first=1`);
    expect(page.body.edges).toHaveLength(1);
    const foreign = await rest('GET', `/audience-syncs/${enc(ids.sync)}/runs`, { token: other.token });
    expect(foreign.status).toBe(404);
  });
});
