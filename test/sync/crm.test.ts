// Marketing and CRM destinations end to end (issue #6): the GraphQL API, the
// real pg-boss worker and sync run, the real connectors registered under
// their own types, and each vendor's fake server (test/support/fake-*.ts)
// enforcing its contract, the profile-must-exist rule included: Braze and
// Customer.io silently ignore members without a profile and HubSpot refuses
// them, so a run that skipped ensureProfiles would leave the membership short
// and fail these tests; profiles of members who left must still be there.
// Mailchimp (members are upserted, no profile step) and Amazon Ads (no
// profiles, cannot list audiences) run the same membership tests. Every
// expectation is read from the warehouse table the segment is evaluated on,
// never written down.
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { ok, useTestApp, type Gql } from '../support/app.js';
import type { FakePlatform, Throttle, VendorRequest } from '../support/fake-vendor.js';
import { startBrazeFake, type BrazeFake } from '../support/fake-braze.js';
import { hubspotThrottle, startHubSpotFake, type HubSpotFake } from '../support/fake-hubspot.js';
import { startMailchimpFake, type MailchimpFake } from '../support/fake-mailchimp.js';
import { startCustomerIoFake, type CustomerIoFake } from '../support/fake-customerio.js';
import { startAmazonAdsFake, type AmazonAdsFake } from '../support/fake-amazon-ads.js';
import { getConnector } from '../../src/connectors/registry.js';
import { QUEUES } from '../../src/jobs/queues.js';

const t = await useTestApp({ jobs: true });
let gql: Gql;
let sourceId = '';

const AUDIENCE = 'Active people';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const sorted = (xs: Iterable<string>) => [...xs].sort();
/** A request's JSON body, read as the vendor would. */
const body = (r: VendorRequest): any => r.json;
const succeeded = (r: VendorRequest) => r.status !== undefined && r.status >= 200 && r.status < 300;

// ─── The warehouse ───────────────────────────────────────────────────────────

/** A person as the warehouse holds them, the e-mail as every vendor expects it (trimmed, lower case). */
interface Row {
  key: string;
  email: string;
  externalId: string;
  first_name: string;
  score: number;
  team: string | null;
}

/** One table, entity and segment (the active people) per vendor, so that each vendor's churn is its own. */
interface World {
  table: string;
  entityId: string;
  segmentId: string;
}

async function sql(text: string, values: unknown[] = []) {
  return t.db.pool.query(text, values);
}

async function createWorld(name: string): Promise<World> {
  const table = `people_${name}`;
  // 240 people, 180 active; every seventh e-mail arrives padded and in capitals.
  await sql(`CREATE TABLE wh.${table} (id bigint PRIMARY KEY, email text NOT NULL, external_id text NOT NULL, first_name text NOT NULL, score integer NOT NULL, team text, signup_date date NOT NULL, active boolean NOT NULL);
    INSERT INTO wh.${table}
    SELECT g,
           CASE WHEN g % 7 = 0 THEN ' P' || g || '@Example.TEST ' ELSE 'p' || g || '@example.test' END,
           'cust-' || g,
           'Name' || g,
           g * 10,
           CASE g % 5 WHEN 0 THEN NULL WHEN 3 THEN 'blue' WHEN 4 THEN 'green' ELSE 'red' END,
           date '2024-01-01' + g,
           g % 4 <> 0
    FROM generate_series(1, 240) g`);
  const ent = ok(await gql(`mutation($s: ID!, $n: String!, $t: String!) { createEntity(input: { sourceId: $s, name: $n, kind: PERSON, from: { table: { schema: "wh", name: $t } }, primaryKey: "id",
    identifiers: [{ type: EMAIL, column: "email" }, { type: EXTERNAL_ID, column: "external_id" }] }) { __typename ... on CreateEntityPayload { entity { id } } ... on Error { message } } }`, { s: sourceId, n: `People ${name}`, t: table })).createEntity;
  expect(ent.__typename, JSON.stringify(ent)).toBe('CreateEntityPayload');
  const seg = ok(await gql(`mutation($e: ID!, $n: String!) { createSegment(input: { entityId: $e, name: $n, condition: { attribute: { path: "active", op: IS_TRUE } } }) { __typename ... on CreateSegmentPayload { segment { id } } ... on Error { message } } }`, { e: ent.entity.id, n: `Active (${name})` })).createSegment;
  expect(seg.__typename, JSON.stringify(seg)).toBe('CreateSegmentPayload');
  return { table, entityId: ent.entity.id, segmentId: seg.segment.id };
}

async function rows(w: World, where: string): Promise<Row[]> {
  const { rows: out } = await sql(`SELECT id::text AS key, lower(btrim(email)) AS email, external_id AS "externalId", first_name, score, team FROM wh.${w.table} WHERE ${where} ORDER BY id`);
  return out as Row[];
}

/** n record keys matching `where`, in a fixed pseudo-random order (salted), none of `exclude`. */
async function pick(w: World, where: string, n: number, salt: string, exclude: string[] = []): Promise<string[]> {
  const { rows: out } = await sql(`SELECT id::text AS key FROM wh.${w.table} WHERE (${where}) AND NOT (id = ANY($1::bigint[])) ORDER BY md5(id::text || $2) LIMIT $3`, [exclude, salt, n]);
  expect(out.length).toBe(n);
  return out.map((r) => r.key as string);
}

async function update(w: World, set: string, keys: string[]) {
  if (keys.length) await sql(`UPDATE wh.${w.table} SET ${set} WHERE id = ANY($1::bigint[])`, [keys]);
}

// ─── The API ─────────────────────────────────────────────────────────────────

async function createDestination(name: string, type: string, config: Record<string, unknown>): Promise<string> {
  const res = ok(await gql(`mutation($n: String!, $t: String!, $c: JSON!) { createDestination(input: { name: $n, type: $t, config: $c }) {
    __typename ... on CreateDestinationPayload { destination { id } } ... on Error { message } } }`, { n: name, t: type, c: config })).createDestination;
  expect(res.__typename, JSON.stringify(res)).toBe('CreateDestinationPayload');
  return res.destination.id;
}

const CREATE_SYNC = `mutation($input: CreateAudienceSyncInput!) { createAudienceSync(input: $input) {
  __typename ... on CreateAudienceSyncPayload { audienceSync { id } } ... on Error { message } ... on ValidationError { problems { path message suggestion } } } }`;

async function createSync(s: Suite, input: Record<string, unknown>): Promise<string> {
  const res = ok(await gql(CREATE_SYNC, { input: { segmentId: s.world.segmentId, destinationId: s.destinationId, mappings: s.v.mappings, status: 'ACTIVE', ...input } })).createAudienceSync;
  expect(res.__typename, JSON.stringify(res)).toBe('CreateAudienceSyncPayload');
  return res.audienceSync.id as string;
}

interface RunResult {
  status: string;
  planned: { adds: number; removes: number; updates: number };
  delivered: { adds: number; removes: number; updates: number };
  rejected: number;
  error: string | null;
  errors: { edges: { node: { recordKey: string; operation: string; message: string; code: string | null } }[] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Triggers a run (evaluating the segment first) and waits for the worker to
 * finish it: the run, and then its job, which goes on to read the match rate
 * from the vendor after the run is recorded; the next test's requests must
 * not mix with that reading.
 */
async function runNow(syncId: string): Promise<RunResult> {
  const res = ok(await gql(`mutation($id: ID!) { triggerAudienceSync(id: $id, evaluateSegmentFirst: true) { __typename ... on TriggerAudienceSyncPayload { run { id } } ... on Error { message } } }`, { id: syncId })).triggerAudienceSync;
  expect(res.__typename, JSON.stringify(res)).toBe('TriggerAudienceSyncPayload');
  const deadline = Date.now() + 80_000;
  let run: RunResult | undefined;
  while (!run) {
    if (Date.now() > deadline) throw new Error('run did not finish');
    const { node } = ok(await gql(`query($id: ID!) { node(id: $id) { ... on SyncRun { status planned { adds removes updates } delivered { adds removes updates } rejected error
      errors(first: 50) { edges { node { recordKey operation message code } } } } } }`, { id: res.run.id }));
    if (['QUEUED', 'RUNNING'].includes(node.status)) await sleep(100);
    else run = node as RunResult;
  }
  const { jobId } = await t.services.db.prisma.syncRun.findUniqueOrThrow({ where: { id: Buffer.from(res.run.id, 'base64').toString().split(':')[1]! } });
  expect(jobId).toBeTruthy();
  for (;;) {
    if (Date.now() > deadline) throw new Error('the run finished but its job did not');
    const job = await t.services.boss!.getJobById(QUEUES.syncRun, jobId!);
    if (job && ['completed', 'failed', 'cancelled'].includes(job.state)) return run;
    await sleep(50);
  }
}

// ─── The vendors ─────────────────────────────────────────────────────────────

type Mapping = { from: 'first_name' | 'score'; to: string };

/** What the tests need to know of a vendor and its fake, stated from the vendor's side. */
interface Vendor<F extends FakePlatform = FakePlatform> {
  type: string;
  start(): Promise<F>;
  /** Destination settings beyond the fake's own. */
  configExtra?: Record<string, unknown>;
  /** Sets up the vendor account before the first sync (e.g. an audience with the merge fields mapped). */
  prepare?(fake: F): void;
  requiresProfiles: boolean;
  mappings: Mapping[];
  /** A warehouse value as the vendor stores it on the profile. */
  stored(value: unknown): unknown;
  /** How the vendor knows a person (its members() and profile keys). */
  identity(r: Row): string;
  members(fake: F, audienceId: string): string[];
  /** Profiles: absent for vendors without any (ad platforms). */
  profileIds?(fake: F, audienceId: string): string[];
  profile?(fake: F, audienceId: string, identity: string): Record<string, unknown> | undefined;
  /** The requests that write people (profiles, or members for upsert-style vendors), each person by identity, and the vendor's limit per request. */
  writes: { match(r: VendorRequest): boolean; ids(r: VendorRequest): string[]; limit: number };
  /** Identities a request adds to an audience (vendors that need profiles first). */
  addedBy?(fake: F, r: VendorRequest): string[];
  /** The audience name a request creates, if it creates one. */
  createdBy(r: VendorRequest): string | undefined;
  /** Members the vendor dropped silently (Braze: ids without a user). */
  dropped?(fake: F): unknown[];
  /** Makes the vendor refuse this person; returns the vendor's words that the row error must carry. */
  reject(fake: F, r: Row): string;
  clearRejections(fake: F): void;
  throttle?: Throttle;
}

const brazeVendor: Vendor<BrazeFake> = {
  type: 'braze',
  start: () => startBrazeFake(),
  requiresProfiles: true,
  // first_name is a standard attribute; lifetime_value a custom Number attribute of the fake.
  mappings: [
    { from: 'first_name', to: 'first_name' },
    { from: 'score', to: 'lifetime_value' },
  ],
  stored: (v) => v,
  identity: (r) => r.externalId,
  members: (f, id) => f.members(id).map((m) => m.EXTERNAL_ID!),
  profileIds: (f) => [...f.profiles().values()].map((p) => p.external_id!),
  profile: (f, _a, id) => f.profiles().get(`external_id:${id}`),
  writes: { match: (r) => r.method === 'POST' && r.path === '/users/track', ids: (r) => (body(r)?.attributes ?? []).map((a: { external_id: string }) => a.external_id), limit: 75 },
  addedBy: (_f, r) =>
    r.method === 'POST' && /^\/partners\/[^/]+\/cohorts\/users$/.test(r.path)
      ? (body(r).cohort_changes as { user_ids?: string[]; should_remove?: boolean }[]).filter((c) => !c.should_remove).flatMap((c) => c.user_ids ?? [])
      : [],
  createdBy: (r) => (r.method === 'POST' && /^\/partners\/[^/]+\/cohorts$/.test(r.path) ? body(r)?.name : undefined),
  dropped: (f) => f.ignored(),
  reject: (f, r) => {
    const type = "'first_name' must be fewer than 256 characters";
    f.rejectProfiles.set(r.externalId, type);
    return type;
  },
  clearRejections: (f) => f.rejectProfiles.clear(),
};

const hubspotVendor: Vendor<HubSpotFake> = {
  type: 'hubspot',
  start: () => startHubSpotFake(),
  requiresProfiles: true,
  mappings: [
    { from: 'first_name', to: 'firstname' },
    { from: 'score', to: 'lifetime_value' },
  ],
  // HubSpot property values are strings.
  stored: (v) => String(v),
  identity: (r) => r.email,
  members: (f, id) => f.members(id).map((m) => m.EMAIL!),
  profileIds: (f) => [...f.profiles().values()].map((c) => c.email!),
  profile: (f, _a, email) => [...f.profiles().values()].find((c) => c.email === email),
  writes: {
    match: (r) => r.method === 'POST' && r.path === '/crm/v3/objects/contacts/batch/upsert',
    ids: (r) => (body(r)?.inputs ?? []).map((i: { id: string }) => i.id),
    limit: 100,
  },
  addedBy: (f, r) => {
    if (r.method !== 'PUT' || !/^\/crm\/v3\/lists\/[^/]+\/memberships\/add$/.test(r.path)) return [];
    const contacts = f.profiles();
    return (body(r) as string[]).map((id) => contacts.get(id)?.email ?? `record ${id} without a contact`);
  },
  createdBy: (r) => (r.method === 'POST' && r.path === '/crm/v3/lists' ? body(r)?.name : undefined),
  reject: (f, r) => {
    f.rejectEmails.set(r.email, { category: 'VALIDATION_ERROR', message: `Email address ${r.email} is invalid` });
    // The connector cuts the address out of the stored message.
    return 'Email address <e-mail> is invalid';
  },
  clearRejections: (f) => f.rejectEmails.clear(),
  // A batch's removal is a read and a membership call: the upsert that follows is the third request of the window.
  throttle: hubspotThrottle(2, 1000),
};

const mailchimpVendor: Vendor<MailchimpFake> = {
  type: 'mailchimp',
  start: () => startMailchimpFake(),
  // Merge fields belong to each audience: this sync's audience exists with FNAME and SCORE, so
  // none is created; mailchimpCreatedAudience covers an audience Roster creates, which lacks them.
  prepare: (f) => void f.seedAudience(AUDIENCE),
  requiresProfiles: false,
  mappings: [
    { from: 'first_name', to: 'FNAME' },
    { from: 'score', to: 'SCORE' },
  ],
  stored: (v) => v,
  identity: (r) => r.email,
  members: (f, id) => f.members(id).map((m) => m.EMAIL!),
  // Members that left stay in the audience, unsubscribed, with their merge fields.
  profileIds: (f, a) => [...f.profiles(a).keys()],
  profile: (f, a, email) => f.profiles(a).get(email)?.merge_fields,
  writes: {
    match: (r) => r.method === 'POST' && /^\/3\.0\/lists\/[^/]+$/.test(r.path),
    ids: (r) => (body(r)?.members ?? []).map((m: { email_address: string }) => m.email_address),
    limit: 500,
  },
  createdBy: (r) => (r.method === 'POST' && r.path === '/3.0/lists' ? body(r)?.name : undefined),
  reject: (f, r) => {
    f.rejectEmails.set(r.email, { error: `${r.email} looks fake or invalid, please enter a real email address.`, error_code: 'ERROR_GENERIC' });
    return '<e-mail> looks fake or invalid, please enter a real email address.';
  },
  clearRejections: (f) => f.rejectEmails.clear(),
};

const customerioVendor: Vendor<CustomerIoFake> = {
  type: 'customerio',
  start: () => startCustomerIoFake(),
  requiresProfiles: true,
  mappings: [
    { from: 'first_name', to: 'first_name' },
    { from: 'score', to: 'score' },
  ],
  stored: (v) => v,
  identity: (r) => r.externalId,
  members: (f, id) => f.members(id).map((m) => m.EXTERNAL_ID!),
  profileIds: (f) => [...f.profiles().keys()],
  profile: (f, _a, id) => f.profiles().get(id)?.attributes,
  writes: { match: (r) => r.method === 'POST' && r.path === '/api/v2/batch', ids: (r) => (body(r)?.batch ?? []).map((e: { identifiers: { id: string } }) => e.identifiers.id), limit: 1000 },
  addedBy: (_f, r) => (r.method === 'POST' && /^\/api\/v1\/segments\/[^/]+\/add_customers$/.test(r.path) ? (body(r).ids as string[]) : []),
  createdBy: (r) => (r.method === 'POST' && r.path === '/v1/segments' ? body(r)?.segment?.name : undefined),
  reject: (f, r) => {
    f.rejectIdentifiers.set(r.externalId, { reason: 'invalid', field: 'attributes', message: "value for attribute 'first_name' is not valid" });
    return "value for attribute 'first_name' is not valid";
  },
  clearRejections: (f) => f.rejectIdentifiers.clear(),
};

const amazonVendor: Vendor<AmazonAdsFake> = {
  type: 'amazon_ads',
  start: () => startAmazonAdsFake(),
  // Waits for each upload job's verdict, so that refused records are reported.
  configExtra: { jobWaitSeconds: 5 },
  requiresProfiles: false,
  // Amazon has no record properties (only consent fields).
  mappings: [],
  stored: (v) => v,
  // A member is its external user id (the record key) with the SHA-256 of its e-mail.
  identity: (r) => `${r.key}:${sha256(r.email)}`,
  members: (f, id) => [...f.records(id)].map(([ext, m]) => `${ext}:${m.hashedPII.email}`),
  writes: {
    match: (r) => r.method === 'POST' && r.path === '/amc/audiences/records',
    ids: (r) => (body(r)?.records ?? []).map((x: { externalUserId: string; hashedPII: { email: string }[] }) => `${x.externalUserId}:${x.hashedPII[0]!.email}`),
    limit: 10_000,
  },
  createdBy: (r) => (r.method === 'POST' && r.path === '/amc/audiences/metadata' ? body(r)?.name : undefined),
  reject: (f, r) => {
    f.rejectRecords.set(r.key, 'hashedPII resolves to no Amazon customer record');
    return 'hashedPII resolves to no Amazon customer record';
  },
  clearRejections: (f) => f.rejectRecords.clear(),
  throttle: { limit: 1, windowMs: 1000, body: { code: '429', details: 'Too Many Requests' } },
};

// ─── One vendor's state, and what must hold after every run ─────────────────

interface Suite<F extends FakePlatform = FakePlatform> {
  v: Vendor<F>;
  fake: F;
  world: World;
  destinationId: string;
  syncId: string;
  audienceId: string;
  /** By identity: the row whose values the profile must hold (the last ones delivered; leavers keep theirs). */
  sent: Map<string, Row>;
}

type Mapped = Pick<Vendor, 'mappings' | 'stored'>;

/** The values a profile must hold for a row: each mapped column as the vendor stores it. */
function mappedValues(v: Mapped, r: Row): Record<string, unknown> {
  return Object.fromEntries(v.mappings.map((m) => [m.to, v.stored(r[m.from])]));
}

/** The mapped properties of a profile (others, such as identifiers, are the vendor's). */
function pickMapped(v: Mapped, profile: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  return profile && Object.fromEntries(v.mappings.map((m) => [m.to, profile[m.to]]));
}

/**
 * The audience holds exactly the active people (but `notAdded`), the vendor
 * holds exactly one profile per person ever delivered (leavers included:
 * profiles are never deleted), and each profile holds the values last
 * delivered (`notUpdated` keep their earlier ones).
 */
async function settle<F extends FakePlatform>(s: Suite<F>, opts: { notAdded?: string[]; notUpdated?: string[] } = {}) {
  const { v, fake } = s;
  const notAdded = new Set(opts.notAdded ?? []);
  const notUpdated = new Set(opts.notUpdated ?? []);
  const members = (await rows(s.world, 'active')).filter((r) => !notAdded.has(r.key));
  expect(sorted(v.members(fake, s.audienceId))).toEqual(sorted(members.map(v.identity)));
  for (const r of members) if (!notUpdated.has(r.key)) s.sent.set(v.identity(r), r);
  if (v.profile && v.profileIds) {
    expect(sorted(v.profileIds(fake, s.audienceId))).toEqual(sorted(s.sent.keys()));
    for (const [id, r] of s.sent) expect(pickMapped(v, v.profile(fake, s.audienceId, id)), `profile ${id}`).toEqual(mappedValues(v, r));
  }
  expect(fake.vendor.refusals().map((r) => `${r.method} ${r.path}: ${r.refused}`)).toEqual([]);
  if (v.dropped) expect(v.dropped(fake)).toEqual([]);
}

/**
 * The requests since `since`: none over the vendor's limit, at least as many
 * as the limit requires for `people`, and, for vendors that need profiles,
 * every person added to an audience was written as a profile earlier in the
 * same run.
 */
function checkRequests<F extends FakePlatform>(s: Suite<F>, since: number, people = 0) {
  const { v, fake } = s;
  const sent = fake.vendor.received.slice(since);
  const writes = sent.filter(v.writes.match);
  for (const w of writes) expect(v.writes.ids(w).length, `${w.method} ${w.path}`).toBeLessThanOrEqual(v.writes.limit);
  expect(writes.filter(succeeded).length).toBeGreaterThanOrEqual(Math.ceil(people / v.writes.limit));
  if (v.addedBy) {
    const profiled = new Set<string>();
    let added = 0;
    for (const r of sent) {
      if (!succeeded(r)) continue;
      if (v.writes.match(r)) for (const id of v.writes.ids(r)) profiled.add(id);
      for (const id of v.addedBy(fake, r)) {
        added++;
        expect(profiled.has(id), `${id} was added to an audience before its profile was written`).toBe(true);
      }
    }
    if (people) expect(added).toBeGreaterThanOrEqual(people);
  }
}

async function destinationAudiences(destinationId: string): Promise<{ name: string; externalId: string }[]> {
  const { node } = ok(await gql(`query($id: ID!) { node(id: $id) { ... on Destination { audiences { name externalId } } } }`, { id: destinationId }));
  return node.audiences;
}

// ─── The tests ───────────────────────────────────────────────────────────────

beforeAll(async () => {
  const ws = await t.workspace('crm');
  gql = ws.gql;
  await sql('CREATE SCHEMA wh');
  const src = ok(await gql(`mutation($url: String!) { createSource(input: { name: "WH", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url }));
  sourceId = src.createSource.source.id;
}, 60_000);

function crmSuite<F extends FakePlatform>(v: Vendor<F>, more: (s: Suite<F>) => void = () => {}) {
  describe(v.type, () => {
    const s = { v, destinationId: '', syncId: '', audienceId: '', sent: new Map() } as unknown as Suite<F>;

    beforeAll(async () => {
      s.fake = await v.start();
      v.prepare?.(s.fake);
      s.world = await createWorld(v.type);
      s.destinationId = await createDestination(`To ${v.type}`, v.type, { ...s.fake.config, ...(v.configExtra ?? {}) });
      return async () => s.fake.close();
    }, 60_000);

    it('a mirror sync creates the profiles first, in batches within the limit, and leaves exactly the segment in the audience', async () => {
      expect(getConnector(v.type)!.spec.requiresProfiles).toBe(v.requiresProfiles);
      const since = s.fake.vendor.received.length;
      s.syncId = await createSync(s, { audience: { target: 'CREATE_BY_NAME', name: AUDIENCE } });
      const run = await runNow(s.syncId);
      const active = await rows(s.world, 'active');
      expect(run, run.error ?? '').toMatchObject({ status: 'SUCCEEDED', planned: { adds: active.length, removes: 0, updates: 0 }, delivered: { adds: active.length, removes: 0, updates: 0 }, rejected: 0 });
      const named = s.fake.audiences().filter((a) => a.name === AUDIENCE);
      expect(named).toHaveLength(1);
      s.audienceId = named[0]!.id;
      expect((await destinationAudiences(s.destinationId)).filter((a) => a.name === AUDIENCE)).toEqual([{ name: AUDIENCE, externalId: s.audienceId }]);
      await settle(s);
      checkRequests(s, since, active.length);
    }, 90_000);

    it('after churn, leavers leave the audience but keep their profiles, joiners join, and changed values are updated', async () => {
      const leavers = await pick(s.world, 'active', 4, 'leave');
      const joiners = await pick(s.world, 'NOT active', 3, 'join');
      const changed = await pick(s.world, 'active', 3, 'change', leavers);
      const before = new Map((await rows(s.world, 'true')).map((r) => [r.key, r]));
      await update(s.world, 'active = false', leavers);
      await update(s.world, 'active = true', joiners);
      await update(s.world, `first_name = first_name || ' Jr', score = score + 7`, changed);
      const since = s.fake.vendor.received.length;
      const run = await runNow(s.syncId);
      const updates = v.mappings.length ? changed.length : 0;
      expect(run, run.error ?? '').toMatchObject({
        status: 'SUCCEEDED',
        planned: { adds: joiners.length, removes: leavers.length, updates },
        delivered: { adds: joiners.length, removes: leavers.length, updates },
        rejected: 0,
      });
      await settle(s);
      checkRequests(s, since, joiners.length);
      const members = new Set(v.members(s.fake, s.audienceId));
      for (const key of leavers) {
        const leaver = before.get(key)!;
        expect(members.has(v.identity(leaver))).toBe(false);
        if (v.profile) expect(pickMapped(v, v.profile(s.fake, s.audienceId, v.identity(leaver))), `profile of ${key}, who left`).toEqual(mappedValues(v, leaver));
      }
      if (v.profile) {
        for (const r of await rows(s.world, `id = ANY('{${changed.join(',')}}'::bigint[])`)) {
          expect(pickMapped(v, v.profile(s.fake, s.audienceId, v.identity(r)))).toEqual(mappedValues(v, r));
          expect(r.first_name).toMatch(/ Jr$/);
        }
      }
      // Nothing changed since: nothing is planned.
      const idle = await runNow(s.syncId);
      expect(idle).toMatchObject({ status: 'SUCCEEDED', planned: { adds: 0, removes: 0, updates: 0 } });
    }, 90_000);

    it('rows the vendor refuses end the run PARTIAL with row errors, and are sent again once it accepts them', async () => {
      const [refusedJoin, acceptedJoin] = await pick(s.world, 'NOT active', 2, 'reject-join');
      const [refusedChange, acceptedChange] = v.mappings.length ? await pick(s.world, 'active', 2, 'reject-change') : [];
      await update(s.world, 'active = true', [refusedJoin!, acceptedJoin!]);
      await update(s.world, 'score = score + 100', [refusedChange, acceptedChange].filter((k): k is string => k !== undefined));
      const byKey = new Map((await rows(s.world, 'active')).map((r) => [r.key, r]));
      const expected = [{ recordKey: refusedJoin!, operation: 'ADD', words: v.reject(s.fake, byKey.get(refusedJoin!)!) }];
      if (refusedChange) expected.push({ recordKey: refusedChange, operation: 'UPDATE', words: v.reject(s.fake, byKey.get(refusedChange)!) });

      const run = await runNow(s.syncId);
      const updates = refusedChange ? 2 : 0;
      expect(run, run.error ?? '').toMatchObject({
        status: 'PARTIAL',
        planned: { adds: 2, removes: 0, updates },
        delivered: { adds: 1, removes: 0, updates: updates / 2 },
        rejected: expected.length,
      });
      const errors = run.errors.edges.map((e) => e.node).sort((a, b) => a.recordKey.localeCompare(b.recordKey));
      expect(errors.map((e) => ({ recordKey: e.recordKey, operation: e.operation }))).toEqual(
        expected.map((e) => ({ recordKey: e.recordKey, operation: e.operation })).sort((a, b) => a.recordKey.localeCompare(b.recordKey)),
      );
      for (const e of errors) {
        const want = expected.find((x) => x.recordKey === e.recordKey)!;
        expect(e.message).toContain(want.words);
        // Row errors are stored and shown: they must not quote the person's e-mail.
        expect(e.message).not.toContain(byKey.get(e.recordKey)!.email);
      }
      await settle(s, { notAdded: [refusedJoin!], notUpdated: refusedChange ? [refusedChange] : [] });

      v.clearRejections(s.fake);
      const since = s.fake.vendor.received.length;
      const retry = await runNow(s.syncId);
      expect(retry, retry.error ?? '').toMatchObject({ status: 'SUCCEEDED', planned: { adds: 1, removes: 0, updates: updates / 2 }, rejected: 0 });
      const resent = new Set(s.fake.vendor.received.slice(since).filter((r) => succeeded(r) && v.writes.match(r)).flatMap((r) => v.writes.ids(r)));
      expect(sorted(resent)).toEqual(sorted(expected.map((e) => v.identity(byKey.get(e.recordKey)!))));
      await settle(s);
    }, 90_000);

    it('a 429 with Retry-After in the middle of a run is waited out and retried, and the run succeeds', async () => {
      const leavers = await pick(s.world, 'active', 2, 'leave-429');
      const joiners = await pick(s.world, 'NOT active', 2, 'join-429');
      const changed = await pick(s.world, 'active', 2, 'change-429', leavers);
      await update(s.world, 'active = false', leavers);
      await update(s.world, 'active = true', joiners);
      await update(s.world, 'score = score + 1', changed);
      const since = s.fake.vendor.received.length;
      // The third request of the run: after the vendor accepted some of it.
      let n = 0;
      s.fake.vendor.fault({ status: 429, retryAfter: 1, body: { message: 'rate limit exceeded' } }, { when: () => ++n === 3 });
      const run = await runNow(s.syncId);
      s.fake.vendor.clearFaults();
      expect(run, run.error ?? '').toMatchObject({ status: 'SUCCEEDED', planned: { adds: 2, removes: 2 }, delivered: { adds: 2, removes: 2 }, rejected: 0 });
      const sent = s.fake.vendor.received.slice(since);
      const throttled = sent.findIndex((r) => r.status === 429);
      expect(throttled).toBe(2);
      expect(sent.slice(0, throttled).every(succeeded)).toBe(true);
      // The very next request is the same one again, and it went through.
      expect(sent[throttled + 1]).toMatchObject({ method: sent[throttled]!.method, path: sent[throttled]!.path, rawBody: sent[throttled]!.rawBody });
      expect(succeeded(sent[throttled + 1]!)).toBe(true);
      await settle(s);
      checkRequests(s, since);
    }, 90_000);

    it("a run through the vendor's rate limit window succeeds, waiting where it is told to", async () => {
      const leavers = await pick(s.world, 'active', 2, 'leave-window');
      const joiners = await pick(s.world, 'NOT active', 3, 'join-window');
      const changed = await pick(s.world, 'active', 3, 'change-window', leavers);
      await update(s.world, 'active = false', leavers);
      await update(s.world, 'active = true', joiners);
      await update(s.world, `first_name = 'Renamed ' || id`, changed);
      const since = s.fake.vendor.received.length;
      s.fake.vendor.setThrottle(v.throttle ?? { limit: 1, windowMs: 1000 });
      const run = await runNow(s.syncId);
      s.fake.vendor.setThrottle(undefined);
      expect(run, run.error ?? '').toMatchObject({ status: 'SUCCEEDED', planned: { adds: 3, removes: 2 }, delivered: { adds: 3, removes: 2 }, rejected: 0 });
      // The run itself was throttled (not only the match-rate reading after it): a write of people was answered 429.
      const throttled = s.fake.vendor.received.slice(since).filter((r) => r.fault === 'throttled');
      expect(throttled.every((r) => r.status === 429)).toBe(true);
      expect(throttled.some(v.writes.match), JSON.stringify(throttled.map((r) => `${r.method} ${r.path}`))).toBe(true);
      await settle(s);
      checkRequests(s, since);
    }, 90_000);

    more(s);
  });
}

/** Braze and Amazon cannot list audiences: only Roster's own record of what it created prevents duplicates. */
function cannotList<F extends FakePlatform>(s: Suite<F>) {
  it('never creates a second audience: runs again and a re-created sync reuse the one Roster created; test syncs are refused', async () => {
    const { v, fake } = s;
    const creations = () => fake.vendor.received.filter((r) => v.createdBy(r) === AUDIENCE && succeeded(r)).length;
    expect(getConnector(v.type)!.spec.audiences.canList).toBe(false);
    expect(creations()).toBe(1);
    const idle = await runNow(s.syncId);
    expect(idle).toMatchObject({ status: 'SUCCEEDED', planned: { adds: 0, removes: 0, updates: 0 } });

    const del = ok(await gql(`mutation($id: ID!) { deleteAudienceSync(id: $id) { __typename ... on Error { message } } }`, { id: s.syncId })).deleteAudienceSync;
    expect(del.__typename, JSON.stringify(del)).toBe('DeleteAudienceSyncPayload');
    s.syncId = await createSync(s, { audience: { target: 'CREATE_BY_NAME', name: AUDIENCE } });
    const run = await runNow(s.syncId);
    const active = await rows(s.world, 'active');
    // A new sync starts from an empty snapshot: everyone is sent again, to the same audience.
    expect(run, run.error ?? '').toMatchObject({ status: 'SUCCEEDED', planned: { adds: active.length, removes: 0 }, delivered: { adds: active.length }, rejected: 0 });
    expect(creations()).toBe(1);
    expect(fake.audiences().filter((a) => a.name === AUDIENCE).map((a) => a.id)).toEqual([s.audienceId]);
    expect((await destinationAudiences(s.destinationId)).filter((a) => a.name === AUDIENCE)).toEqual([{ name: AUDIENCE, externalId: s.audienceId }]);
    await settle(s);

    const before = fake.vendor.received.length;
    const test = ok(await gql(`mutation($id: ID!) { testAudienceSync(id: $id) { __typename ... on Error { message } } }`, { id: s.syncId })).testAudienceSync;
    expect(test.__typename).toBe('InvalidStateError');
    expect(test.message).toMatch(new RegExp(`destination type ${v.type} cannot list its audiences, so a test sync could leave records Roster cannot track; run the sync instead`));
    expect(fake.vendor.received.length).toBe(before);
  }, 90_000);
}

/** NAME_FROM_COLUMN: one audience per value of "team", created when missing, a record moving with its value. */
function audiencePerTeam<F extends FakePlatform>(s: Suite<F>, seedExisting?: (fake: F, name: string) => string) {
  it('an audience name from a column fans out into one audience per value, creating the missing ones, and moves a record when its value changes', async () => {
    const { v, fake } = s;
    const teamRows = () => rows(s.world, `active AND team IS NOT NULL AND team <> ''`);
    const assertTeams = async (names: string[]) => {
      const current = await teamRows();
      expect(names).toEqual(expect.arrayContaining([...new Set(current.map((r) => r.team!))]));
      for (const name of names) {
        const found = fake.audiences().filter((a) => a.name === name);
        expect(found, `audiences named ${name}`).toHaveLength(1);
        expect(sorted(v.members(fake, found[0]!.id)), `members of ${name}`).toEqual(sorted(current.filter((r) => r.team === name).map(v.identity)));
      }
    };
    const teams = sorted(new Set((await teamRows()).map((r) => r.team!)));
    expect(teams.length).toBeGreaterThan(1);
    const existing = seedExisting ? { name: teams[0]!, id: seedExisting(fake, teams[0]!) } : undefined;

    let since = fake.vendor.received.length;
    const syncId = await createSync(s, { audience: { target: 'NAME_FROM_COLUMN', nameColumn: 'team' } });
    const run = await runNow(syncId);
    const total = (await teamRows()).length;
    expect(run, run.error ?? '').toMatchObject({ status: 'SUCCEEDED', planned: { adds: total, removes: 0, updates: 0 }, delivered: { adds: total }, rejected: 0 });
    await assertTeams(teams);
    const created = () => fake.vendor.received.slice(since).filter(succeeded).map(v.createdBy).filter((n): n is string => n !== undefined);
    expect(sorted(created())).toEqual(teams.filter((name) => name !== existing?.name));
    if (existing) expect(fake.audiences().find((a) => a.name === existing.name)!.id).toBe(existing.id);
    checkRequests(s, since, total);

    // One member moves to another team, another to a team that has no audience yet.
    const [mover] = await pick(s.world, `active AND team = '${teams[0]}'`, 1, 'move');
    const [founder] = await pick(s.world, `active AND team = '${teams[1]}'`, 1, 'found');
    await update(s.world, `team = '${teams[1]}'`, [mover!]);
    await update(s.world, `team = 'violet'`, [founder!]);
    since = fake.vendor.received.length;
    const moved = await runNow(syncId);
    expect(moved, moved.error ?? '').toMatchObject({ status: 'SUCCEEDED', planned: { adds: 2, removes: 2, updates: 0 }, delivered: { adds: 2, removes: 2 }, rejected: 0 });
    await assertTeams([...teams, 'violet']);
    expect(created()).toEqual(['violet']);
    // Moving between audiences deletes no profile.
    if (v.profile) {
      for (const r of await rows(s.world, `id IN (${mover}, ${founder})`)) expect(v.profile(fake, s.audienceId, v.identity(r)), `profile of ${r.key}`).toBeDefined();
    }
    expect(fake.vendor.refusals()).toEqual([]);
    checkRequests(s, since, 2);
  }, 90_000);
}

/** Vendors with typed properties (fields()): mappings are checked when the sync is saved. */
function typedMappings<F extends FakePlatform>(s: Suite<F>, props: { number: string; typo: string }) {
  it('refuses a date mapped to a number property, and suggests the property meant by a misspelt one', async () => {
    expect(getConnector(s.v.type)!.fields).toBeDefined();
    const count = await t.services.db.prisma.audienceSync.count();
    const res = ok(await gql(CREATE_SYNC, {
      input: {
        segmentId: s.world.segmentId,
        destinationId: s.destinationId,
        audience: { target: 'CREATE_BY_NAME', name: 'Typed' },
        mappings: [s.v.mappings[0], { from: 'signup_date', to: props.number }, { from: 'score', to: props.typo }],
      },
    })).createAudienceSync;
    expect(res.__typename).toBe('ValidationError');
    expect(res.problems.map((p: { path: string[] }) => p.path)).toEqual([
      ['mappings', '1', 'to'],
      ['mappings', '2', 'to'],
    ]);
    const [date, typo] = res.problems;
    expect(date.message).toMatch(new RegExp(`^"signup_date" is a date \\(date\\), which cannot be written to the number property "${props.number}"; expected an integer or number column`));
    expect(typo.message).toMatch(new RegExp(`has no property "${props.typo}"`));
    expect(typo.suggestion).toBe(props.number);
    expect(res.message).toContain(`did you mean "${props.number}"?`);
    expect(await t.services.db.prisma.audienceSync.count()).toBe(count);
  });
}

crmSuite(brazeVendor, (s) => {
  audiencePerTeam(s);
  cannotList(s);
});
crmSuite(hubspotVendor, (s) => {
  audiencePerTeam(s, (fake, name) => fake.seedList(name));
  typedMappings(s, { number: 'lifetime_value', typo: 'lifetime_valeu' });
});
/**
 * Mailchimp merge fields belong to each audience, and fields() offers the
 * union over all of them: a sync whose audience Roster creates (with only
 * Mailchimp's default fields) must get the mapped fields it lacks, typed as
 * the template audience has them, before its members are upserted.
 */
function mailchimpCreatedAudience(s: Suite<MailchimpFake>) {
  it('a sync into an audience Roster creates, mapping merge fields it lacks, creates them once with their types and runs end to end', async () => {
    const { fake } = s;
    const name = 'Scored people';
    expect(fake.audiences().some((a) => a.name === name)).toBe(false);
    // The template audience (the first) has SCORE as a number and SIGNUP as a date.
    const template = fake.audiences()[0]!;
    expect(fake.mergeFields(template.id).filter((f) => f.tag === 'SCORE' || f.tag === 'SIGNUP').map((f) => [f.tag, f.type])).toEqual([['SCORE', 'number'], ['SIGNUP', 'date']]);
    const mappings = [
      { from: 'first_name', to: 'FNAME' },
      { from: 'score', to: 'SCORE' },
      { from: 'signup_date', to: 'SIGNUP' },
    ];
    const expected = async () => {
      const { rows: out } = await sql(`SELECT lower(btrim(email)) AS email, first_name, score, to_char(signup_date, 'YYYY-MM-DD') AS signup FROM wh.${s.world.table} WHERE active ORDER BY id`);
      return out as { email: string; first_name: string; score: number; signup: string }[];
    };
    const merge = (listId: string, method: string, since: number) =>
      fake.vendor.received.slice(since).filter((r) => r.method === method && r.path === `/3.0/lists/${listId}/merge-fields`);
    const holdsExactly = async (listId: string) => {
      const want = await expected();
      expect(sorted(fake.members(listId).map((m) => m.EMAIL!))).toEqual(sorted(want.map((r) => r.email)));
      const profiles = fake.profiles(listId);
      for (const r of want) {
        expect(profiles.get(r.email), `member ${r.email}`).toEqual({ status: 'subscribed', merge_fields: { FNAME: r.first_name, SCORE: r.score, SIGNUP: r.signup } });
      }
    };

    const syncId = await createSync(s, { audience: { target: 'CREATE_BY_NAME', name }, mappings });
    let since = fake.vendor.received.length;
    const run = await runNow(syncId);
    const active = await expected();
    expect(run, run.error ?? '').toMatchObject({ status: 'SUCCEEDED', planned: { adds: active.length, removes: 0, updates: 0 }, delivered: { adds: active.length, removes: 0, updates: 0 }, rejected: 0 });
    const created = fake.audiences().filter((a) => a.name === name);
    expect(created).toHaveLength(1);
    const listId = created[0]!.id;
    expect(fake.vendor.received.slice(since).filter((r) => succeeded(r) && r.method === 'POST' && r.path === '/3.0/lists').map((r) => body(r).name)).toEqual([name]);
    // The new audience lacked SCORE and SIGNUP: each was created once, with the template's type, before any member.
    const posts = merge(listId, 'POST', since);
    expect(posts.map((r) => body(r)).sort((a, b) => a.tag.localeCompare(b.tag))).toEqual([
      { tag: 'SCORE', name: 'Score', type: 'number' },
      { tag: 'SIGNUP', name: 'Signup date', type: 'date' },
    ]);
    const firstWrite = fake.vendor.received.findIndex((r, i) => i >= since && r.method === 'POST' && r.path === `/3.0/lists/${listId}`);
    expect(posts.every((p) => fake.vendor.received.indexOf(p) < firstWrite)).toBe(true);
    expect(merge(listId, 'GET', since)).toHaveLength(1);
    expect(Object.fromEntries(fake.mergeFields(listId).map((f) => [f.tag, f.type]))).toMatchObject({ FNAME: 'text', SCORE: 'number', SIGNUP: 'date' });
    await holdsExactly(listId);
    checkRequests(s, since, active.length);

    // Churn: joiners and changed values go to the same fields, read once in the run, none created again.
    const joiners = await pick(s.world, 'NOT active', 2, 'mc-join');
    const changed = await pick(s.world, 'active', 2, 'mc-change');
    await update(s.world, 'active = true', joiners);
    await update(s.world, `score = score + 5, signup_date = signup_date + 1`, changed);
    since = fake.vendor.received.length;
    const churn = await runNow(syncId);
    expect(churn, churn.error ?? '').toMatchObject({ status: 'SUCCEEDED', planned: { adds: 2, removes: 0, updates: 2 }, delivered: { adds: 2, removes: 0, updates: 2 }, rejected: 0 });
    expect(merge(listId, 'GET', since)).toHaveLength(1);
    expect(merge(listId, 'POST', since)).toEqual([]);
    await holdsExactly(listId);

    // The audience that already had every mapped field never got one created, nor did the template.
    expect(fake.vendor.received.filter((r) => r.method === 'POST' && /\/merge-fields$/.test(r.path) && r.path !== `/3.0/lists/${listId}/merge-fields`)).toEqual([]);
    expect(fake.vendor.refusals().map((r) => `${r.method} ${r.path}: ${r.refused}`)).toEqual([]);
  }, 90_000);
}

crmSuite(mailchimpVendor, (s) => {
  typedMappings(s, { number: 'SCORE', typo: 'SCROE' });
  mailchimpCreatedAudience(s);
});
crmSuite(customerioVendor);
crmSuite(amazonVendor, (s) => cannotList(s));
