// One-click audiences on every ad platform, end to end: the demo workspace,
// the real connectors, the real job queue and worker, and each platform's
// fake vendor server enforcing its contract. A toggle creates exactly one
// audience named after the segment, uploads correctly normalised and hashed
// members, and imports the match rate; toggling again, re-running, renaming
// the segment, or toggling off and on never creates a second audience.
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { ok, useTestApp, type Gql } from '../support/app.js';
import type { FakePlatform } from '../support/fake-vendor.js';
import { seedDemoWorkspace } from '../../prisma/seed.js';
import { schedulerTick } from '../../src/jobs/scheduler.js';
import { MATCH_RATE_EVERY_MS } from '../../src/sync/match-rates.js';
import { segmentMembersTable } from '../../src/segments/store-sql.js';
import { AD_PLATFORM_FAKES } from '../support/ad-platforms.js';
import { until } from '../support/until.js';
import { getConnector } from '../../src/connectors/registry.js';

const t = await useTestApp({ jobs: true });
let gql: Gql;
let workspaceId = '';
const segments: Record<string, string> = {};
let plannerSchema = '';

const raw = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** E-mails of the segment's members, as Roster materialised them. */
async function memberEmails(segmentGlobalId: string): Promise<string[]> {
  const { rows } = await t.db.pool.query<{ email: string }>(
    `SELECT u.email FROM ${segmentMembersTable(plannerSchema)} m JOIN demo.users u ON u.id::text = m.key WHERE m.segment_id = $1::uuid AND u.email IS NOT NULL`,
    [raw(segmentGlobalId)],
  );
  return rows.map((r) => r.email);
}

async function toggle(segmentId: string, destinationId: string, enabled: boolean) {
  const res = ok(await gql(`mutation($s: ID!, $d: ID!, $on: Boolean!) { setOneClickAudience(segmentId: $s, destinationId: $d, enabled: $on) {
    __typename ... on SetOneClickAudiencePayload { oneClickAudience { enabled audienceName sync { id status managed mode schedule { kind } audience { target name } } } }
    ... on Error { message } } }`, { s: segmentId, d: destinationId, on: enabled })).setOneClickAudience;
  expect(res.__typename, JSON.stringify(res)).toBe('SetOneClickAudiencePayload');
  return res.oneClickAudience;
}

/** Waits for the sync's latest run to finish, returning it. */
async function settled(syncId: string) {
  return until('the run to finish', async () => {
    const { audienceSync } = ok(await gql(`query($id: ID!) { audienceSync(id: $id) { lastRun { id status error rejected delivered { adds removes } } } }`, { id: syncId }));
    const run = audienceSync.lastRun;
    return run && !['QUEUED', 'RUNNING'].includes(run.status) ? run : undefined;
  });
}

async function trigger(syncId: string) {
  ok(await gql(`mutation($id: ID!) { triggerAudienceSync(id: $id) { __typename } }`, { id: syncId }));
  // The trigger queues a new run; wait for it, not the previous one.
  await until('the triggered run to start', async () => {
    const { audienceSync } = ok(await gql(`query($id: ID!) { audienceSync(id: $id) { runs(first: 5) { edges { node { status } } } } }`, { id: syncId }));
    return audienceSync.runs.edges.length >= 2;
  });
  return settled(syncId);
}

beforeAll(async () => {
  const seed = await seedDemoWorkspace(t.services, { warehouseUrl: t.url, users: 400 });
  workspaceId = seed.workspaceId;
  gql = (query, variables) => t.gql(seed.token, query, variables);
  const { segments: list } = ok(await gql(`{ segments(first: 50) { edges { node { id name entity { name } } } } }`));
  for (const { node } of list.edges) segments[node.name] = node.id;
  const source = await t.services.db.prisma.source.findFirstOrThrow({ where: { workspaceId } });
  plannerSchema = source.plannerSchema;
}, 120_000);

describe.each(AD_PLATFORM_FAKES)('one-click audience on $type', ({ type, start, email }) => {
  const reports = getConnector(type)!.spec.reportsMatchRate;
  let fake: FakePlatform;
  let destinationId = '';

  beforeAll(async () => {
    fake = await start();
    const res = ok(await gql(`mutation($n: String!, $t: String!, $c: JSON!) { createDestination(input: { name: $n, type: $t, config: $c }) {
      __typename ... on CreateDestinationPayload { destination { id } } ... on Error { message } } }`, { n: `Ads ${type}`, t: type, c: fake.config }));
    expect(res.createDestination.__typename, JSON.stringify(res)).toBe('CreateDestinationPayload');
    destinationId = res.createDestination.destination.id;
    return async () => {
      // Off before the fake goes, so later platforms' scheduled readings do not call a closed server.
      await toggle(segments['Dormant users']!, destinationId, false);
      await fake.close();
    };
  }, 60_000);

  it('creates one audience named after the segment, with the members hashed, and imports the match rate', async () => {
    const segmentId = segments['Dormant users']!;
    const state = await toggle(segmentId, destinationId, true);
    expect(state).toMatchObject({ enabled: true, audienceName: 'Dormant users', sync: { status: 'ACTIVE', managed: true, mode: 'MIRROR', schedule: { kind: 'DAILY' }, audience: { target: 'CREATE_BY_NAME', name: 'Dormant users' } } });
    const syncId = state.sync.id;
    const run = await settled(syncId);
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');

    const audiences = fake.audiences().filter((a) => a.name === 'Dormant users');
    expect(audiences).toHaveLength(1);
    const emails = await memberEmails(segmentId);
    expect(emails.length).toBeGreaterThan(10);
    const want = emails.map((e) => sha256(email(e))).sort();
    const have = fake.members(audiences[0]!.id).map((m) => m.EMAIL).filter((e) => e !== undefined).sort();
    expect(have).toEqual(want);
    expect(fake.vendor.refusals()).toEqual([]);

    // The match rate was read after the run, kept, and is shown on the sync and the segment.
    if (!reports) {
      const { audienceSync } = ok(await gql(`query($id: ID!) { audienceSync(id: $id) { reportsMatchRate matchRate { rate } } }`, { id: syncId }));
      expect(audienceSync).toEqual({ reportsMatchRate: false, matchRate: null });
      return;
    }
    // Read right after the run is recorded as finished. The latest sample and the page of samples are two reads,
    // so a sample written between them shows in one only: wait until both have it.
    const audienceSync = await until('the match rate', async () => {
      const { audienceSync: s } = ok(await gql(`query($id: ID!) { audienceSync(id: $id) { reportsMatchRate matchRate { audienceId matched uploaded rate } matchRates(first: 10) { edges { node { rate } } } } }`, { id: syncId }));
      return s.matchRate && s.matchRates.edges.length ? s : undefined;
    });
    expect(audienceSync.reportsMatchRate).toBe(true);
    expect(audienceSync.matchRate.audienceId).toBe(audiences[0]!.id);
    expect(audienceSync.matchRate.rate).toBeGreaterThan(0.5);
    expect(audienceSync.matchRate.rate).toBeLessThanOrEqual(1);
    expect(audienceSync.matchRates.edges).toHaveLength(1);
    const { segment } = ok(await gql(`query($id: ID!) { segment(id: $id) { matchRates { destination { id } latest { rate } } oneClickAudiences { destination { id } enabled audienceName } } }`, { id: segmentId }));
    expect(segment.matchRates).toContainEqual({ destination: { id: destinationId }, latest: { rate: audienceSync.matchRate.rate } });
    expect(segment.oneClickAudiences).toContainEqual({ destination: { id: destinationId }, enabled: true, audienceName: 'Dormant users' });
  });

  it('never creates a second audience: toggled again, re-run, renamed, toggled off and on', async () => {
    const segmentId = segments['Dormant users']!;
    const again = await toggle(segmentId, destinationId, true);
    await settled(again.sync.id);
    await trigger(again.sync.id);

    ok(await gql(`mutation($id: ID!) { updateSegment(id: $id, input: { name: "Dormant users (renamed)" }) { __typename } }`, { id: segmentId }));
    const off = await toggle(segmentId, destinationId, false);
    expect(off).toMatchObject({ enabled: false, sync: { id: again.sync.id, status: 'PAUSED' } });
    const on = await toggle(segmentId, destinationId, true);
    expect(on).toMatchObject({ enabled: true, audienceName: 'Dormant users', sync: { id: again.sync.id, status: 'ACTIVE' } });
    const run = await settled(on.sync.id);
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    ok(await gql(`mutation($id: ID!) { updateSegment(id: $id, input: { name: "Dormant users" }) { __typename } }`, { id: segmentId }));

    expect(fake.audiences().filter((a) => a.name.startsWith('Dormant users'))).toHaveLength(1);
    expect(await t.services.db.prisma.audienceSync.count({ where: { segmentId: raw(segmentId), destinationId: raw(destinationId) } })).toBe(1);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it.skipIf(!reports)('reads match rates again on schedule, and publishes each reading', async () => {
    const syncId = (await t.services.db.prisma.audienceSync.findFirstOrThrow({ where: { destinationId: raw(destinationId), managed: true } })).id;
    // Each successful run reads once, just after it is recorded as finished: let the last one land first.
    const prisma = t.services.db.prisma;
    const before = await until('the readings of the earlier runs', async () => {
      const [samples, runs] = await Promise.all([prisma.matchRateSample.count({ where: { syncId } }), prisma.syncRun.count({ where: { syncId, status: 'SUCCEEDED' } })]);
      return samples === runs ? samples : undefined;
    });
    fake.setMatchRatio(0.5);
    const events = t.services.pubsub!.subscribe('matchRateUpdated', syncId)[Symbol.asyncIterator]();
    // The event of this reading, not one of an earlier reading still on its way (events cross LISTEN/NOTIFY).
    const tickedAt = new Date();
    const reading = (async () => {
      for (;;) {
        const e = await events.next();
        if (e.done || new Date(e.value.sampledAt) >= tickedAt) return e;
      }
    })();
    const tick = await schedulerTick(t.services, new Date(Date.now() + MATCH_RATE_EVERY_MS + 60_000));
    expect(tick.matchRates).toBeGreaterThanOrEqual(1);
    const event = await Promise.race([reading, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no matchRateUpdated event')), 30_000))]);
    await events.return?.();
    expect(event.value).toMatchObject({ syncId, workspaceId });
    expect(await t.services.db.prisma.matchRateSample.count({ where: { syncId } })).toBe(before + 1);
    fake.setMatchRatio(0.8);
  });
});

describe('one-click rules', () => {
  it('is for PERSON segments and ad platforms only, and managed syncs cannot be edited', async () => {
    const { destinations } = ok(await gql(`{ destinations(first: 50) { edges { node { id name type } } } }`));
    const table = destinations.edges.map((e: { node: { id: string; type: string } }) => e.node).find((d: { type: string }) => d.type === 'postgres_table');
    const ad = destinations.edges.map((e: { node: { id: string; type: string } }) => e.node).find((d: { type: string }) => d.type === AD_PLATFORM_FAKES[0]!.type);
    const refused = ok(await gql(`mutation($s: ID!, $d: ID!) { setOneClickAudience(segmentId: $s, destinationId: $d, enabled: true) { __typename ... on ValidationError { problems { path message } } } }`, { s: segments['Dormant users'], d: table.id })).setOneClickAudience;
    expect(refused.__typename).toBe('ValidationError');
    expect(refused.problems[0].message).toMatch(/one-click audiences go to ad platforms, but destination "Warehouse table" is .*create a classic sync instead/);

    // A segment of a COMPANY entity.
    const { entities } = ok(await gql(`{ entities(first: 20) { edges { node { id name kind } } } }`));
    const companies = entities.edges.map((e: { node: { id: string; kind: string } }) => e.node).find((e: { kind: string }) => e.kind === 'COMPANY');
    const seg = ok(await gql(`mutation($e: ID!) { createSegment(input: { entityId: $e, name: "Software companies", condition: { attribute: { path: "industry", op: EQ, value: "Software" } } }) { ... on CreateSegmentPayload { segment { id } } } }`, { e: companies.id }));
    const company = ok(await gql(`mutation($s: ID!, $d: ID!) { setOneClickAudience(segmentId: $s, destinationId: $d, enabled: true) { __typename ... on ValidationError { problems { message } } } }`, { s: seg.createSegment.segment.id, d: ad.id })).setOneClickAudience;
    expect(company.__typename).toBe('ValidationError');
    expect(company.problems[0].message).toMatch(/one-click audiences are for segments of PERSON entities, but segment "Software companies" is on Companies \(COMPANY\)/);

    const managed = await t.services.db.prisma.audienceSync.findFirstOrThrow({ where: { managed: true, destinationId: raw(ad.id) } });
    const edit = ok(await gql(`mutation($id: ID!) { updateAudienceSync(id: $id, input: { mode: ADDITIVE }) { __typename ... on Error { message } } }`, { id: Buffer.from(`AudienceSync:${managed.id}`).toString('base64') })).updateAudienceSync;
    expect(edit.__typename).toBe('InvalidStateError');
    expect(edit.message).toMatch(/managed one-click audience: it can be turned on or off, not edited; create a classic sync/);
    // An enabled one-click audience is turned off before it can be deleted (its fake is gone: no run is started here).
    const globalId = Buffer.from(`AudienceSync:${managed.id}`).toString('base64');
    await t.services.db.prisma.audienceSync.update({ where: { id: managed.id }, data: { status: 'ACTIVE' } });
    const del = ok(await gql(`mutation($id: ID!) { deleteAudienceSync(id: $id) { __typename ... on Error { message } } }`, { id: globalId })).deleteAudienceSync;
    expect(del.__typename).toBe('InvalidStateError');
    expect(del.message).toMatch(/enabled one-click audience; turn it off/);
    await t.services.db.prisma.audienceSync.update({ where: { id: managed.id }, data: { status: 'PAUSED' } });
    const deleted = ok(await gql(`mutation($id: ID!) { deleteAudienceSync(id: $id) { __typename } }`, { id: globalId })).deleteAudienceSync;
    expect(deleted.__typename).toBe('DeleteAudienceSyncPayload');
  });
});
