// Segments through the API, on the demo warehouse: the product pages'
// examples evaluated and checked against hand-written SQL, preview, analysis,
// record lookup, schedules and the segmentEvaluated subscription.
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { ok, useTestApp, type Gql } from '../support/app.js';
import { seedDemoWorkspace } from '../../prisma/seed.js';
import { schedulerTick } from '../../src/jobs/scheduler.js';
import { createApiToken } from '../../src/auth.js';

const t = await useTestApp({ jobs: true });
let gql: Gql;
let token: string;
const entity = { Users: '' } as Record<string, string> & { Users: string };
const segment = { dormant: '', idleTrials: '', boughtA: '', boughtASoftware: '', proActive: '' };

const CREATE = `mutation($input: CreateSegmentInput!) { createSegment(input: $input) {
  __typename
  ... on CreateSegmentPayload { segment { id name version size schedule { kind nextAt description } } }
  ... on Error { message path }
  ... on ValidationError { problems { path message suggestion } }
} }`;

async function create(name: string, condition: unknown, extra: Record<string, unknown> = {}) {
  return ok(await gql(CREATE, { input: { entityId: entity.Users, name, condition, ...extra } })).createSegment;
}

/** Evaluates and waits for the outcome; returns the evaluation. */
async function evaluate(id: string) {
  const queued = ok(await gql(`mutation($id: ID!) { evaluateSegment(id: $id) { __typename ... on EvaluateSegmentPayload { evaluation { id status } } ... on Error { message } } }`, { id })).evaluateSegment;
  expect(queued.__typename).toBe('EvaluateSegmentPayload');
  for (let i = 0; i < 300; i++) {
    const { segment: s } = ok(await gql(`query($id: ID!) { segment(id: $id) { lastEvaluation { id status size entered exited error startedAt version } } }`, { id }));
    const e = s.lastEvaluation;
    if (e.id === queued.evaluation.id && (e.status === 'SUCCEEDED' || e.status === 'FAILED')) return e;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('evaluation did not finish in 30 s');
}

/** The database's id of a segment, from its global id. */
const rawId = (segmentId: string) => Buffer.from(segmentId, 'base64').toString().split(':')[1]!;

/** Members of a segment as materialised, sorted. */
async function members(segmentId: string): Promise<string[]> {
  const { rows } = await t.db.pool.query('SELECT key FROM roster_planner.segment_members WHERE segment_id = $1 ORDER BY key', [rawId(segmentId)]);
  return rows.map((r) => r.key);
}

async function expected(sql: string, now: string): Promise<string[]> {
  const { rows } = await t.db.pool.query(`SELECT id::text AS key FROM demo.users u WHERE ${sql} ORDER BY 1`, [now]);
  return rows.map((r) => r.key);
}

beforeAll(async () => {
  const seeded = await seedDemoWorkspace(t.services, { warehouseUrl: t.url, users: 3000, seed: 7 });
  token = seeded.token;
  gql = (q, v) => t.gql(token, q, v);
  const data = ok(await gql('{ entities { edges { node { id name } } } }'));
  for (const { node } of data.entities.edges) entity[node.name] = node.id;
}, 60_000);

describe('the product pages\' examples, on the demo data', () => {
  it('users who have not engaged in the last 30 days', async () => {
    const out = await create('Dormant', { not: { event: { relationship: 'events', within: { last: 30, unit: 'DAY' } } } });
    expect(out.__typename).toBe('CreateSegmentPayload');
    segment.dormant = out.segment.id;
    const e = await evaluate(segment.dormant);
    expect(e.status).toBe('SUCCEEDED');
    const want = await expected(`NOT EXISTS (SELECT 1 FROM demo.events ev WHERE ev.user_id = u.id AND ev.occurred_at >= $1::timestamptz - interval '30 days' AND ev.occurred_at <= $1::timestamptz)`, e.startedAt);
    expect(want.length).toBeGreaterThan(0);
    expect(await members(segment.dormant)).toEqual(want);
    expect(e.size).toBe(want.length);
    expect(e.entered).toBe(want.length);
    expect(e.exited).toBe(0);
  });

  it('trial users who have not used the product in the past week', async () => {
    const out = await create('Idle trial users', {
      and: [
        { attribute: { path: 'plan', op: 'EQ', value: 'trial' } },
        { attribute: { path: 'last_seen_at', op: 'NOT_WITHIN_LAST', within: { last: 7, unit: 'DAY' } } },
      ],
    });
    segment.idleTrials = out.segment.id;
    const e = await evaluate(segment.idleTrials);
    const want = await expected(`u.plan = 'trial' AND (u.last_seen_at >= $1::timestamptz - interval '7 days' AND u.last_seen_at <= $1::timestamptz) IS NOT TRUE`, e.startedAt);
    expect(want.length).toBeGreaterThan(0);
    expect(await members(segment.idleTrials)).toEqual(want);
  });

  it('customers who bought Product A in the last six months', async () => {
    const out = await create('Bought A', {
      event: { relationship: 'purchases', where: { attribute: { path: 'product', op: 'EQ', value: 'Product A' } }, within: { last: 6, unit: 'MONTH' } },
    });
    segment.boughtA = out.segment.id;
    const e = await evaluate(segment.boughtA);
    const want = await expected(`EXISTS (SELECT 1 FROM demo.purchases p WHERE p.user_id = u.id AND p.product = 'Product A' AND p.purchased_at >= $1::timestamptz - interval '6 months' AND p.purchased_at <= $1::timestamptz)`, e.startedAt);
    expect(want.length).toBeGreaterThan(0);
    expect(await members(segment.boughtA)).toEqual(want);
  });

  it('the same, at companies in the Software industry (many-to-one)', async () => {
    const out = await create('Bought A at software companies', {
      and: [{ segment: { id: segment.boughtA, member: true } }, { attribute: { path: 'company.industry', op: 'EQ', value: 'Software' } }],
    });
    segment.boughtASoftware = out.segment.id;
    const e = await evaluate(segment.boughtASoftware);
    const want = await expected(
      `EXISTS (SELECT 1 FROM demo.purchases p WHERE p.user_id = u.id AND p.product = 'Product A' AND p.purchased_at >= $1::timestamptz - interval '6 months' AND p.purchased_at <= $1::timestamptz)
       AND EXISTS (SELECT 1 FROM demo.companies c WHERE c.id = u.company_id AND c.industry = 'Software')`,
      e.startedAt,
    );
    expect(want.length).toBeGreaterThan(0);
    expect(await members(segment.boughtASoftware)).toEqual(want);
  });

  it('a segment that excludes another', async () => {
    const out = await create('Pro, not dormant', { and: [{ attribute: { path: 'plan', op: 'EQ', value: 'pro' } }, { segment: { id: segment.dormant, member: false } }] });
    expect(out.__typename, JSON.stringify(out)).toBe('CreateSegmentPayload');
    segment.proActive = out.segment.id;
    const e = await evaluate(segment.proActive);
    const dormant = new Set(await members(segment.dormant));
    const pro = await expected(`u.plan = 'pro' AND $1::timestamptz IS NOT NULL`, e.startedAt);
    expect(await members(segment.proActive)).toEqual(pro.filter((k) => !dormant.has(k)));
  });

  it('gives segments ids in the order they were created, so that each first evaluation writes at the right edge of the membership index', async () => {
    const created = [segment.dormant, segment.idleTrials, segment.boughtA, segment.boughtASoftware, segment.proActive].map(rawId);
    const { rows } = await t.db.pool.query<{ id: string }>('SELECT id::text FROM unnest($1::uuid[]) AS id ORDER BY id', [created]);
    expect(rows.map((r) => r.id)).toEqual(created);
    for (const id of created) expect(id[14], id).toBe('7'); // time-ordered: UUID version 7
  });
});

describe('validation through the API', () => {
  it('names the path to the bad node, with a suggestion, and stores nothing', async () => {
    const out = await create('Typo', { and: [{ attribute: { path: 'plan', op: 'EQ', value: 'pro' } }, { attribute: { path: 'plann', op: 'EQ', value: 'pro' } }] });
    expect(out.__typename).toBe('ValidationError');
    expect(out.problems[0]).toMatchObject({ path: ['condition', 'and', '1', 'attribute', 'path'], suggestion: 'plan' });
    expect(out.message).toMatch(/^condition\.and\[1\]\.attribute\.path: no column "plann"/);
    const { segments } = ok(await gql('{ segments { edges { node { name } } } }'));
    expect(segments.edges.map((e: any) => e.node.name)).not.toContain('Typo');
  });

  it('rejects a cycle between segments', async () => {
    const a = await create('Cycle A', { attribute: { path: 'plan', op: 'EQ', value: 'free' } });
    const b = await create('Cycle B', { segment: { id: a.segment.id, member: true } });
    const res = ok(await gql(`mutation($id: ID!, $c: ConditionInput!) { updateSegment(id: $id, input: { condition: $c }) { __typename ... on Error { message } } }`, { id: a.segment.id, c: { segment: { id: b.segment.id, member: true } } })).updateSegment;
    expect(res.__typename).toBe('ValidationError');
    expect(res.message).toMatch(/Cycle A.*Cycle B.*Cycle A/);
  });

  it('refuses to delete a segment another segment uses', async () => {
    const res = ok(await gql(`mutation($id: ID!) { deleteSegment(id: $id) { __typename ... on Error { message } } }`, { id: segment.boughtA })).deleteSegment;
    expect(res.__typename).toBe('InvalidStateError');
    expect(res.message).toMatch(/Bought A at software companies/);
  });

  it('validates schedules', async () => {
    const out = await create('Bad schedule', { and: [] }, { schedule: { kind: 'CRON', cron: 'every day', timezone: 'Europe/Pariss' } });
    expect(out.__typename).toBe('ValidationError');
    expect(out.problems.map((p: any) => p.path.join('.')).sort()).toEqual(['schedule.cron', 'schedule.timezone']);
  });
});

describe('preview and analysis', () => {
  it('previews an unsaved condition: size and members with attributes', async () => {
    const res = ok(await gql(`query($e: ID!, $c: ConditionInput!) { segmentPreview(entityId: $e, condition: $c, sampleSize: 5) { __typename ... on QuerySegmentPreviewSuccess { data { size sample } } } }`, {
      e: entity.Users,
      c: { attribute: { path: 'plan', op: 'IN', values: ['pro', 'trial'] } },
    })).segmentPreview;
    const { rows } = await t.db.pool.query(`SELECT count(*)::int AS n FROM demo.users WHERE plan IN ('pro', 'trial')`);
    expect(res.data.size).toBe(rows[0].n);
    expect(res.data.sample).toHaveLength(5);
    expect(['pro', 'trial']).toContain(res.data.sample[0].plan);
    expect(res.data.sample[0].email).toMatch(/@/);
  });

  it('previews a condition nobody meets, and a size without a sample', async () => {
    const preview = async (c: unknown, sampleSize: number) =>
      ok(await gql(`query($e: ID!, $c: ConditionInput!, $n: Int!) { segmentPreview(entityId: $e, condition: $c, sampleSize: $n) { __typename ... on QuerySegmentPreviewSuccess { data { size sample } } } }`, { e: entity.Users, c, n: sampleSize })).segmentPreview.data;
    expect(await preview({ attribute: { path: 'plan', op: 'EQ', value: 'no such plan' } }, 5)).toEqual({ size: 0, sample: [] });
    const { rows } = await t.db.pool.query(`SELECT count(*)::int AS n FROM demo.users WHERE plan = 'pro'`);
    expect(await preview({ attribute: { path: 'plan', op: 'EQ', value: 'pro' } }, 0)).toEqual({ size: rows[0].n, sample: [] });
  });

  it("runs a preview's query with JIT's threshold a hundred times PostgreSQL's default", async () => {
    // A model whose one column is the setting its query runs under.
    const { sources } = ok(await gql('{ sources { edges { node { id } } } }'));
    const created = ok(await gql(`mutation($input: CreateEntityInput!) { createEntity(input: $input) { __typename ... on CreateEntityPayload { entity { id } } ... on Error { message } } }`, {
      input: { sourceId: sources.edges[0].node.id, name: 'Settings', kind: 'OTHER', from: { sql: "SELECT 1 AS id, current_setting('jit_above_cost') AS jit" }, primaryKey: 'id' },
    })).createEntity;
    expect(created.__typename).toBe('CreateEntityPayload');
    const res = ok(await gql(`query($e: ID!, $c: ConditionInput!) { segmentPreview(entityId: $e, condition: $c, sampleSize: 1) { __typename ... on QuerySegmentPreviewSuccess { data { size sample } } } }`, {
      e: created.entity.id,
      c: { attribute: { path: 'jit', op: 'IS_NOT_NULL' } },
    })).segmentPreview;
    expect(res.data).toEqual({ size: 1, sample: [{ id: 1, jit: '1e+07' }] });
  });

  it('answers overlaps of several segments in one statement, and sizes', async () => {
    const ids = [segment.dormant, segment.boughtA, segment.boughtASoftware];
    const res = ok(await gql(`query($ids: [ID!]!) { segmentOverlap(ids: $ids) { __typename ... on QuerySegmentOverlapSuccess { data { sizes { segment { name } size } pairs { a { name } b { name } count } } } } }`, { ids })).segmentOverlap;
    const [dormant, boughtA, software] = await Promise.all(ids.map(members));
    const both = (x: string[], y: string[]) => x.filter((k) => y.includes(k)).length;
    expect(res.data.sizes.map((s: any) => s.size)).toEqual([dormant!.length, boughtA!.length, software!.length]);
    expect(res.data.pairs.map((p: any) => p.count)).toEqual([both(dormant!, boughtA!), both(dormant!, software!), both(boughtA!, software!)]);
    expect(res.data.pairs[2].count).toBe(software!.length);
  });

  it('breaks a segment down by a column', async () => {
    const res = ok(await gql(`query($id: ID!) { segment(id: $id) { breakdown(column: "plan") { __typename ... on SegmentBreakdownSuccess { data { value count } } } bad: breakdown(column: "pln") { __typename ... on ValidationError { problems { suggestion } } } } }`, { id: segment.boughtA })).segment;
    const total = res.breakdown.data.reduce((n: number, r: any) => n + r.count, 0);
    expect(total).toBe((await members(segment.boughtA)).length);
    expect(res.bad.problems[0].suggestion).toBe('plan');
  });

  it('tracks size over time with entered and exited counts', async () => {
    const before = await members(segment.idleTrials);
    const leaving = before.slice(0, 3);
    await t.db.pool.query(`UPDATE demo.users SET plan = 'pro' WHERE id = ANY($1::bigint[])`, [leaving]);
    const e = await evaluate(segment.idleTrials);
    expect(e).toMatchObject({ status: 'SUCCEEDED', exited: 3, entered: 0, size: before.length - 3, version: 2 });
    const { segment: s } = ok(await gql(`query($id: ID!) { segment(id: $id) { version size sizeHistory { size entered exited } } }`, { id: segment.idleTrials }));
    expect(s.version).toBe(2);
    expect(s.sizeHistory.map((p: any) => p.size)).toEqual([before.length, before.length - 3]);
    expect(s.sizeHistory[1]).toMatchObject({ entered: 0, exited: 3 });
  });
});

describe('record lookup', () => {
  it("answers a record's attributes and all its segments in one warehouse query", async () => {
    const key = (await members(segment.boughtASoftware))[0]!;
    const res = ok(await gql(`query($e: ID!, $k: String!) { record(entityId: $e, key: $k) { __typename ... on QueryRecordSuccess { data { key attributes segmentMemberships { name } } } } }`, { e: entity.Users, k: key })).record;
    expect(res.data.key).toBe(key);
    expect(String(res.data.attributes.id)).toBe(key);
    const names = res.data.segmentMemberships.map((s: any) => s.name);
    expect(names).toEqual(expect.arrayContaining(['Bought A', 'Bought A at software companies']));
    const missing = ok(await gql(`query($e: ID!) { record(entityId: $e, key: "no-such-key") { __typename ... on QueryRecordSuccess { data { key } } } }`, { e: entity.Users })).record;
    expect(missing).toBeNull();
  });
});

describe('schedules', () => {
  it('a scheduled segment is evaluated by the scheduler when due, and only once per tick', async () => {
    const out = await create('Hourly pros', { attribute: { path: 'plan', op: 'EQ', value: 'pro' } }, { schedule: { kind: 'HOURLY' } });
    expect(out.segment.schedule.kind).toBe('HOURLY');
    const nextAt = new Date(out.segment.schedule.nextAt);
    expect(nextAt.getTime()).toBeGreaterThan(Date.now());
    const later = new Date(nextAt.getTime() + 1000);
    // Every segment due by then is enqueued once by the two ticks together: this one, and between 23:00 and
    // midnight UTC also the seeded demo workspace's daily segments, whose next time is that midnight too.
    const due = await t.services.db.prisma.segment.count({ where: { nextEvaluationAt: { lte: later } } });
    expect(due).toBeGreaterThanOrEqual(1);
    const [a, b] = await Promise.all([schedulerTick(t.services, later), schedulerTick(t.services, later)]);
    expect(a.segments + b.segments).toBe(due);
    const raw = Buffer.from(out.segment.id, 'base64').toString().split(':')[1]!;
    const evaluations = await t.services.db.prisma.segmentEvaluation.findMany({ where: { segmentId: raw } });
    expect(evaluations).toHaveLength(1);
    expect(evaluations[0]!.trigger).toBe('SCHEDULE');
    const row = await t.services.db.prisma.segment.findUniqueOrThrow({ where: { id: raw } });
    expect(row.nextEvaluationAt!.getTime()).toBe(nextAt.getTime() + 3600_000);
  });
});

describe('segmentEvaluated subscription', () => {
  it('delivers the outcome to subscribers of the segment, and nothing to another workspace', async () => {
    const { port } = await t.app.start(0, '127.0.0.1');
    const other = await t.services.db.prisma.workspace.create({ data: { name: 'Other', slug: 'other' } });
    const otherToken = (await createApiToken(t.services.db.prisma, { workspaceId: other.id, name: 't', scopes: ['READ'] })).token;
    const client = (tok: string) => createClient({ url: `ws://127.0.0.1:${port}/graphql`, webSocketImpl: WebSocket, connectionParams: { token: tok }, retryAttempts: 0 });
    const mine = client(token);
    const theirs = client(otherToken);
    try {
      const query = `subscription($id: ID!) { segmentEvaluated(segmentId: $id) { status size version segment { name } } }`;
      const received = new Promise<any>((resolve, reject) => {
        mine.subscribe({ query, variables: { id: segment.boughtA } }, { next: (v) => resolve(v), error: reject, complete: () => {} });
      });
      const refused = new Promise<any>((resolve) => {
        theirs.subscribe({ query, variables: { id: segment.boughtA } }, { next: (v) => resolve(v), error: (e) => resolve({ errors: e }), complete: () => resolve({ completed: true }) });
      });
      await new Promise((r) => setTimeout(r, 300));
      const e = await evaluate(segment.boughtA);
      const event = await received;
      expect(event.data.segmentEvaluated).toMatchObject({ status: 'SUCCEEDED', size: e.size, version: e.version, segment: { name: 'Bought A' } });
      const theirResult = await refused;
      expect(JSON.stringify(theirResult)).toMatch(/not found/);
      expect(JSON.stringify(theirResult)).not.toContain('Bought A');
    } finally {
      await mine.dispose();
      await theirs.dispose();
    }
  });
});
