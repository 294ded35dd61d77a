// The sync run end to end: a real pg-boss worker, the webhook connector and a
// fake webhook on loopback that enforces its contract and injects faults.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ok, useTestApp, type Gql } from '../support/app.js';
import { startFakeWebhook, type FakeWebhook } from '../support/fake-webhook.js';
import { failStaleRuns, runSync } from '../../src/sync/run.js';
import { createSyncTablesSql, planMemorySettings, SNAPSHOT_ANALYZE_MIN_ROWS, snapshotTable } from '../../src/sync/plan-sql.js';
import { schedulerTick } from '../../src/jobs/scheduler.js';
import { registerConnector } from '../../src/connectors/registry.js';
import { createWebhookConnector, type WebhookConfig } from '../../src/connectors/webhook/index.js';
import type { Connector } from '../../src/connectors/contract.js';
import { uniqueKeysSql } from '../../src/segments/unique-keys.js';
import type { EntityMeta } from '../../src/segments/metadata.js';

// The webhook connector with the HTTP helper's waits shortened, so that
// exhausting retries takes milliseconds; everything else is the real one.
const FAST_WEBHOOK = 'webhook_fast_retries';
registerConnector({ ...createWebhookConnector({ retries: 3, minBackoffMs: 10, maxBackoffMs: 50, maxRetryAfterMs: 1500, timeoutMs: 2000 }), type: FAST_WEBHOOK });

// The same, running a test's hook after each confirmed add (before Roster
// accounts it), and one before each remove is sent.
const HOOKED_WEBHOOK = 'webhook_hooked';
let afterAdd: ((keys: string[]) => Promise<void>) | undefined;
let beforeRemove: ((keys: string[]) => Promise<void>) | undefined;
const hookedBase = createWebhookConnector({ retries: 0 });
const hooked: Connector<WebhookConfig> = {
  ...hookedBase,
  type: HOOKED_WEBHOOK,
  async add(ctx, audience, rows) {
    const result = await hookedBase.add(ctx, audience, rows);
    await afterAdd?.(rows.map((r) => r.key));
    return result;
  },
  async remove(ctx, audience, rows) {
    await beforeRemove?.(rows.map((r) => r.key));
    return hookedBase.remove(ctx, audience, rows);
  },
};
registerConnector(hooked);

const t = await useTestApp({ jobs: true });
const SECRET = 'whsec_test_secret_value';
let gql: Gql;
let hook: FakeWebhook;
const ids = { entity: '', segment: '', destination: '' };

const raw = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

async function people(sql: string, values: unknown[] = []) {
  await t.db.pool.query(sql, values);
}

async function expectedMembers(): Promise<Map<string, { email: string; score: number }>> {
  const { rows } = await t.db.pool.query(`SELECT id::text AS key, email, score FROM wh.people WHERE active ORDER BY id`);
  return new Map(rows.map((r) => [r.key, { email: r.email, score: r.score }]));
}

async function createSync(input: Record<string, unknown>) {
  const res = ok(await gql(`mutation($input: CreateAudienceSyncInput!) { createAudienceSync(input: $input) {
    __typename ... on CreateAudienceSyncPayload { audienceSync { id warnings } } ... on Error { message } ... on ValidationError { problems { path message } } } }`, {
    input: { segmentId: ids.segment, destinationId: ids.destination, audience: { target: 'CREATE_BY_NAME', name: 'Active people' }, mappings: [{ from: 'score', to: 'score' }, { from: 'team', to: 'team' }], status: 'ACTIVE', ...input },
  })).createAudienceSync;
  expect(res.__typename, JSON.stringify(res)).toBe('CreateAudienceSyncPayload');
  return res.audienceSync.id as string;
}

/** Triggers a run (evaluating the segment first) and waits for it to finish. */
async function runNow(syncId: string) {
  const res = ok(await gql(`mutation($id: ID!) { triggerAudienceSync(id: $id, evaluateSegmentFirst: true) { __typename ... on TriggerAudienceSyncPayload { run { id } } ... on Error { message } } }`, { id: syncId })).triggerAudienceSync;
  expect(res.__typename, JSON.stringify(res)).toBe('TriggerAudienceSyncPayload');
  return waitForRun(res.run.id);
}

async function waitForRun(runId: string) {
  for (let i = 0; i < 600; i++) {
    const { node } = ok(await gql(`query($id: ID!) { node(id: $id) { ... on SyncRun { status planned { adds removes updates } delivered { adds removes updates } rejected error errors(first: 50) { edges { node { recordKey operation message code } } } } } }`, { id: runId }));
    if (!['QUEUED', 'RUNNING'].includes(node.status)) return node;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('run did not finish');
}

function audienceState(name: string) {
  return new Map([...(hook.state.get(name) ?? new Map()).entries()].map(([k, v]) => [k, v]));
}

async function assertMirrors(audience: string) {
  const want = await expectedMembers();
  const have = audienceState(audience);
  expect([...have.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [key, row] of want) expect(have.get(key)?.fields.score).toBe(row.score);
}

beforeAll(async () => {
  const ws = await t.workspace('acme');
  gql = ws.gql;
  await people(`CREATE SCHEMA wh; CREATE TABLE wh.people (id bigint PRIMARY KEY, email text NOT NULL, team text, score integer NOT NULL, active boolean NOT NULL);
    INSERT INTO wh.people SELECT g, 'p' || g || '@example.test', CASE WHEN g % 3 = 0 THEN 'red' WHEN g % 3 = 1 THEN 'blue' ELSE NULL END, g * 10, g % 4 <> 0 FROM generate_series(1, 120) g;`);
  hook = await startFakeWebhook({ secret: SECRET, maxRows: 20 });
  const src = ok(await gql(`mutation($url: String!) { createSource(input: { name: "WH", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url }));
  const ent = ok(await gql(`mutation($s: ID!) { createEntity(input: { sourceId: $s, name: "People", kind: PERSON, from: { table: { schema: "wh", name: "people" } }, primaryKey: "id", identifiers: [{ type: EMAIL, column: "email" }] }) { ... on CreateEntityPayload { entity { id } } ... on Error { message } } }`, { s: src.createSource.source.id }));
  ids.entity = ent.createEntity.entity.id;
  const seg = ok(await gql(`mutation($e: ID!) { createSegment(input: { entityId: $e, name: "Active", condition: { attribute: { path: "active", op: IS_TRUE } } }) { ... on CreateSegmentPayload { segment { id } } ... on Error { message } } }`, { e: ids.entity }));
  ids.segment = seg.createSegment.segment.id;
  const dest = ok(await gql(`mutation($config: JSON!) { createDestination(input: { name: "Hook", type: "webhook_fast_retries", config: $config }) { __typename ... on CreateDestinationPayload { destination { id config } } ... on Error { message } } }`, { config: { url: hook.url, signingSecret: SECRET, batchSize: 20 } }));
  expect(dest.createDestination.__typename, JSON.stringify(dest)).toBe('CreateDestinationPayload');
  expect(JSON.stringify(dest)).not.toContain(SECRET);
  ids.destination = dest.createDestination.destination.id;
  return async () => hook.close();
}, 60_000);

describe('a mirror sync', () => {
  let syncId: string;

  it('sends every member as an add on its first run, in batches within the destination limit', async () => {
    syncId = await createSync({});
    const run = await runNow(syncId);
    const members = await expectedMembers();
    expect(run).toMatchObject({ status: 'SUCCEEDED', planned: { adds: members.size, removes: 0, updates: 0 }, delivered: { adds: members.size, removes: 0, updates: 0 }, rejected: 0 });
    await assertMirrors('Active people');
    const [first] = audienceState('Active people').values();
    expect(first.identifiers.EMAIL).toMatch(/@example\.test$/);
  });

  it('sends exactly the adds, removes and updates after the data changes', async () => {
    await people(`UPDATE wh.people SET active = false WHERE id IN (1, 2, 3); UPDATE wh.people SET active = true WHERE id IN (4, 8); UPDATE wh.people SET score = score + 1 WHERE id IN (5, 6)`);
    const before = hook.received.length;
    const run = await runNow(syncId);
    expect(run).toMatchObject({ status: 'SUCCEEDED', planned: { adds: 2, removes: 3, updates: 2 }, delivered: { adds: 2, removes: 3, updates: 2 } });
    const sent = hook.received.slice(before).filter((r) => r.accepted);
    expect(sent.flatMap((r) => (r.operation === 'add' ? r.keys : [])).sort()).toEqual(['4', '8']);
    expect(sent.flatMap((r) => (r.operation === 'remove' ? r.keys : [])).sort()).toEqual(['1', '2', '3']);
    expect(sent.flatMap((r) => (r.operation === 'update' ? r.keys : [])).sort()).toEqual(['5', '6']);
    await assertMirrors('Active people');
    // Nothing changed: nothing is sent.
    const idle = await runNow(syncId);
    expect(idle).toMatchObject({ status: 'SUCCEEDED', planned: { adds: 0, removes: 0, updates: 0 } });
  });

  it('ends PARTIAL on rejected rows, records them, and resends exactly them next time', async () => {
    await people(`UPDATE wh.people SET score = score + 100 WHERE id IN (7, 9, 10)`);
    hook.faults.rejectKeys = new Map([['9', { message: 'invalid email', code: 'E_EMAIL' }]]);
    const run = await runNow(syncId);
    expect(run).toMatchObject({ status: 'PARTIAL', delivered: { updates: 2 }, rejected: 1 });
    expect(run.errors.edges.map((e: any) => e.node)).toEqual([{ recordKey: '9', operation: 'UPDATE', message: 'invalid email', code: 'E_EMAIL' }]);
    hook.faults.rejectKeys = new Map();
    const before = hook.received.length;
    const retry = await runNow(syncId);
    expect(retry).toMatchObject({ status: 'SUCCEEDED', planned: { adds: 0, removes: 0, updates: 1 } });
    expect(hook.received.slice(before).filter((r) => r.accepted).flatMap((r) => r.keys)).toEqual(['9']);
    await assertMirrors('Active people');
  });

  it('retries 429 and 500 responses and succeeds', async () => {
    await people(`UPDATE wh.people SET score = score + 1 WHERE id BETWEEN 10 AND 30`);
    hook.faults.failNext = [{ status: 429, retryAfterSeconds: 1 }, { status: 500 }];
    const run = await runNow(syncId);
    expect(run.status).toBe('SUCCEEDED');
    expect(hook.received.some((r) => r.status === 429)).toBe(true);
    await assertMirrors('Active people');
  });

  it('fails when the destination keeps failing, then the next run delivers everything', async () => {
    await people(`UPDATE wh.people SET active = NOT active WHERE id BETWEEN 40 AND 70`);
    hook.faults.alwaysStatus = 503;
    const failed = await runNow(syncId);
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatch(/503/);
    hook.faults.alwaysStatus = undefined;
    const run = await runNow(syncId);
    expect(run.status).toBe('SUCCEEDED');
    await assertMirrors('Active people');
  }, 120_000);

  it('a run stopped after some batches loses nothing: the next run completes exactly', async () => {
    await people(`UPDATE wh.people SET active = NOT active WHERE id BETWEEN 71 AND 120`);
    // Stop the run from inside: after the second accepted request, abort it.
    const controller = new AbortController();
    let seen = 0;
    hook.onAccepted = () => {
      seen += 1;
      if (seen === 2) controller.abort();
    };
    const sync = await t.services.db.prisma.audienceSync.findUniqueOrThrow({ where: { id: raw(syncId) } });
    const runRow = await t.services.db.prisma.syncRun.create({ data: { workspaceId: sync.workspaceId, syncId: sync.id, trigger: 'TEST', evaluateFirst: true } });
    const stopped = await runSync(t.services, { runId: runRow.id, syncId: sync.id }, { signal: controller.signal });
    hook.onAccepted = undefined;
    expect(stopped?.status).toBe('FAILED');
    const run = await runNow(syncId);
    expect(run.status).toBe('SUCCEEDED');
    await assertMirrors('Active people');
  });

  it('a run left RUNNING by a dead worker is failed with a reason, and the next run completes', async () => {
    const sync = await t.services.db.prisma.audienceSync.findUniqueOrThrow({ where: { id: raw(syncId) } });
    const ghost = await t.services.db.prisma.syncRun.create({ data: { workspaceId: sync.workspaceId, syncId: sync.id, trigger: 'TEST', status: 'RUNNING', startedAt: new Date(Date.now() - 600_000), heartbeatAt: new Date(Date.now() - 600_000) } });
    expect(await failStaleRuns(t.services)).toBe(1);
    const row = await t.services.db.prisma.syncRun.findUniqueOrThrow({ where: { id: ghost.id } });
    expect(row.status).toBe('FAILED');
    expect(row.error).toMatch(/stopped responding/);
    await people(`UPDATE wh.people SET score = score + 1 WHERE id = 5`);
    expect((await runNow(syncId)).status).toBe('SUCCEEDED');
    await assertMirrors('Active people');
  });

  it('two triggers at once are one run, never two in parallel', async () => {
    const since = new Date();
    const trigger = () => gql(`mutation($id: ID!) { triggerAudienceSync(id: $id) { ... on TriggerAudienceSyncPayload { run { id } } } }`, { id: syncId });
    const [a, b] = await Promise.all([trigger(), trigger()]);
    const runA = ok(a).triggerAudienceSync.run.id;
    const runB = ok(b).triggerAudienceSync.run.id;
    await waitForRun(runA);
    await waitForRun(runB);
    const runs = await t.services.db.prisma.syncRun.findMany({ where: { syncId: raw(syncId), queuedAt: { gte: since } }, orderBy: { startedAt: 'asc' } });
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.length).toBeLessThanOrEqual(2);
    for (let i = 1; i < runs.length; i++) {
      const prev = runs[i - 1]!;
      const cur = runs[i]!;
      if (prev.finishedAt && cur.startedAt) expect(cur.startedAt.getTime()).toBeGreaterThanOrEqual(prev.finishedAt.getTime() - 5);
    }
  });

  it('cancels a queued run, and refuses to cancel a finished one', async () => {
    // Held back from the worker: queued straight in the database, as if behind a running one.
    const sync = await t.services.db.prisma.audienceSync.findUniqueOrThrow({ where: { id: raw(syncId) } });
    const queued = await t.services.db.prisma.syncRun.create({ data: { workspaceId: sync.workspaceId, syncId: sync.id, trigger: 'TEST' } });
    const id = Buffer.from(`SyncRun:${queued.id}`).toString('base64');
    const res = ok(await gql(`mutation($id: ID!) { cancelSyncRun(id: $id) { __typename ... on CancelSyncRunPayload { run { status } } } }`, { id })).cancelSyncRun;
    expect(res.run.status).toBe('CANCELLED');
    expect(await runSync(t.services, { runId: queued.id, syncId: sync.id })).toMatchObject({ status: 'CANCELLED' });
    const again = ok(await gql(`mutation($id: ID!) { cancelSyncRun(id: $id) { __typename ... on Error { message } } }`, { id })).cancelSyncRun;
    expect(again.__typename).toBe('InvalidStateError');
    expect(again.message).toMatch(/only a queued run can be cancelled, but this one is cancelled/);
  });

  it('previews the next run without sending or recording anything', async () => {
    await people(`UPDATE wh.people SET score = score + 1 WHERE id IN (5, 6)`);
    const before = hook.received.length;
    const diff = ok(await gql(`mutation($id: ID!) { previewAudienceSyncDiff(id: $id) { __typename ... on PreviewAudienceSyncDiffPayload { diff { adds removes updates samples { operation key fields } } } } }`, { id: syncId })).previewAudienceSyncDiff;
    expect(diff.diff).toMatchObject({ adds: 0, removes: 0, updates: 2 });
    expect(diff.diff.samples.map((s: any) => s.key).sort()).toEqual(['5', '6']);
    expect(hook.received.length).toBe(before);
    const again = ok(await gql(`mutation($id: ID!) { previewAudienceSyncDiff(id: $id) { ... on PreviewAudienceSyncDiffPayload { diff { updates } } } }`, { id: syncId })).previewAudienceSyncDiff;
    expect(again.diff.updates).toBe(2);
  });

  it('a snapshot of an earlier version (jsonb payloads, hashes of their text or md5, keys in the default collation) is upgraded by the next plan, re-sends nothing, and still sees a change', async () => {
    const preview = async () => ok(await gql(`mutation($id: ID!) { previewAudienceSyncDiff(id: $id) { ... on PreviewAudienceSyncDiffPayload { diff { adds removes updates } } } }`, { id: syncId })).previewAudienceSyncDiff.diff;
    await runNow(syncId); // the two updates previewed above
    const { plannerSchema } = await t.services.db.prisma.source.findFirstOrThrow({ where: { entities: { some: { id: raw(ids.entity) } } } });
    const snapshot = `"${plannerSchema}".sync_snapshot`;
    const payloadType = async () => (await t.db.pool.query(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = '${snapshot}'::regclass AND attname = 'payload'`)).rows[0].t;
    const collations = async () => (await t.db.pool.query(`SELECT attname, attcollation::regcollation::text AS c FROM pg_attribute WHERE attrelid = '${snapshot}'::regclass AND attname IN ('audience', 'key') ORDER BY attname`)).rows;
    expect(await collations()).toEqual([{ attname: 'audience', c: '"C"' }, { attname: 'key', c: '"C"' }]);
    const hashes = async () => new Map((await t.db.pool.query(`SELECT key, payload_hash FROM ${snapshot} WHERE sync_id = $1::uuid`, [raw(syncId)])).rows.map((r) => [r.key, r.payload_hash as string]));
    expect(await payloadType()).toBe('text');
    const current = await hashes();
    expect([...current.values()].every((h) => /^v[0-9a-f]{1,16}$/.test(h))).toBe(true);

    // As earlier versions kept it: jsonb payloads hashed with md5 of their text (the first versions), or
    // text payloads (jsonb's text form) hashed with PostgreSQL's text hash.
    await t.db.pool.query(`ALTER TABLE ${snapshot} ALTER COLUMN payload TYPE jsonb USING payload::jsonb, ALTER COLUMN audience TYPE text COLLATE "default", ALTER COLUMN key TYPE text COLLATE "default"`);
    await t.db.pool.query(`UPDATE ${snapshot} SET payload_hash = CASE WHEN key::int % 2 = 0 THEN md5(payload::text) ELSE to_hex(hashtextextended(payload::text, 0)) END WHERE sync_id = $1::uuid`, [raw(syncId)]);
    await t.db.pool.query(`DROP TABLE "${plannerSchema}".sync_snapshot_legacy`); // earlier versions had no list of syncs to rehash
    // One record changes before the upgrade's first plan.
    await people(`UPDATE wh.people SET score = score + 1 WHERE id = 9`);
    // A preview rehashes in its own (rolled back) transaction and sees only that change.
    expect(await preview()).toEqual({ adds: 0, removes: 0, updates: 1 });
    expect(await payloadType()).toBe('text');
    expect(await collations()).toEqual([{ attname: 'audience', c: '"C"' }, { attname: 'key', c: '"C"' }]);
    const run = await runNow(syncId);
    expect(run).toMatchObject({ status: 'SUCCEEDED', planned: { adds: 0, removes: 0, updates: 1 } });
    // Every row carries the current hash again: unchanged rows the one they had, the changed one its new one.
    const after = await hashes();
    expect(new Map([...after].filter(([k]) => k !== '9'))).toEqual(new Map([...current].filter(([k]) => k !== '9')));
    expect(after.get('9')).toMatch(/^v[0-9a-f]{1,16}$/);
    expect(after.get('9')).not.toBe(current.get('9'));
    const { rows } = await t.db.pool.query(`SELECT count(*)::int AS n FROM ${snapshot} WHERE sync_id = $1::uuid AND left(payload_hash, 1) <> 'v'`, [raw(syncId)]);
    expect(rows[0].n).toBe(0);
    expect((await t.db.pool.query(`SELECT sync_id FROM "${plannerSchema}".sync_snapshot_legacy`)).rows).toEqual([]);
    await assertMirrors('Active people');
    expect((await runNow(syncId)).planned).toEqual({ adds: 0, removes: 0, updates: 0 });
  });

  it('refuses a test sync where the destination cannot list audiences', async () => {
    const res = ok(await gql(`mutation($id: ID!) { testAudienceSync(id: $id) { __typename ... on Error { message } } }`, { id: syncId })).testAudienceSync;
    expect(res.__typename).toBe('InvalidStateError');
    expect(res.message).toMatch(/cannot list its audiences/);
  });
});

describe('modes', () => {
  it('ADDITIVE never removes; a member who leaves and returns is added again', async () => {
    const id = await createSync({ mode: 'ADDITIVE', audience: { target: 'CREATE_BY_NAME', name: 'Additive' } });
    await runNow(id);
    await people(`UPDATE wh.people SET active = false WHERE id = 5`);
    const left = await runNow(id);
    expect(left).toMatchObject({ planned: { removes: 0 }, delivered: { removes: 0 } });
    expect(audienceState('Additive').has('5')).toBe(true);
    hook.state.get('Additive')!.delete('5'); // someone removed it in the destination
    await people(`UPDATE wh.people SET active = true WHERE id = 5`);
    const back = await runNow(id);
    expect(back).toMatchObject({ planned: { adds: 1 } });
    expect(audienceState('Additive').has('5')).toBe(true);
  });

  it('SUBTRACTIVE only removes', async () => {
    const id = await createSync({ mode: 'SUBTRACTIVE', audience: { target: 'CREATE_BY_NAME', name: 'Subtractive' } });
    const first = await runNow(id);
    expect(first).toMatchObject({ planned: { adds: 0, updates: 0 } });
    expect(audienceState('Subtractive').size).toBe(0);
    await people(`UPDATE wh.people SET active = false WHERE id = 6`);
    const run = await runNow(id);
    expect(run).toMatchObject({ planned: { adds: 0, removes: 1 }, delivered: { removes: 1 } });
  });

  it('DO_NOTHING on removal behaves as additive for removes', async () => {
    const id = await createSync({ removalBehavior: 'DO_NOTHING', audience: { target: 'CREATE_BY_NAME', name: 'Keep' } });
    await runNow(id);
    await people(`UPDATE wh.people SET active = false WHERE id = 7`);
    const run = await runNow(id);
    expect(run.planned.removes).toBe(0);
    expect(audienceState('Keep').has('7')).toBe(true);
  });

  it('an audience name from a column keeps each audience apart, and moves records between them', async () => {
    const id = await createSync({ audience: { target: 'NAME_FROM_COLUMN', nameColumn: 'team' } });
    await runNow(id);
    const { rows } = await t.db.pool.query(`SELECT team, array_agg(id::text ORDER BY id::text) AS keys FROM wh.people WHERE active AND team IS NOT NULL GROUP BY team`);
    for (const row of rows) expect([...audienceState(row.team).keys()].sort()).toEqual(row.keys);
    const { rows: [mover] } = await t.db.pool.query(`SELECT id::text AS id FROM wh.people WHERE active AND team = 'red' ORDER BY id LIMIT 1`);
    await people(`UPDATE wh.people SET team = 'blue' WHERE id = $1`, [mover.id]);
    const run = await runNow(id);
    expect(run).toMatchObject({ planned: { adds: 1, removes: 1 } });
    expect(audienceState('red').has(mover.id)).toBe(false);
    expect(audienceState('blue').has(mover.id)).toBe(true);
    const audiences = ok(await gql(`query($id: ID!) { node(id: $id) { ... on Destination { audiences { name } } } }`, { id: ids.destination }));
    expect(audiences.node.audiences.map((a: any) => a.name)).toEqual(expect.arrayContaining(['red', 'blue', 'Active people']));
  });
});

describe('schedules, pause and resume', () => {
  it('pause stops the scheduler from enqueuing; resume catches up everything', async () => {
    const id = await createSync({ audience: { target: 'CREATE_BY_NAME', name: 'Scheduled' }, schedule: { kind: 'HOURLY' } });
    const sync = await t.services.db.prisma.audienceSync.findUniqueOrThrow({ where: { id: raw(id) } });
    expect(sync.nextRunAt).not.toBeNull();
    ok(await gql(`mutation($id: ID!) { pauseAudienceSync(id: $id) { __typename } }`, { id }));
    const later = new Date(Date.now() + 3 * 3600_000);
    expect((await schedulerTick(t.services, later)).syncs).toBe(0);
    ok(await gql(`mutation($id: ID!) { resumeAudienceSync(id: $id) { __typename } }`, { id }));
    const tick = await schedulerTick(t.services, later);
    expect(tick.syncs).toBe(1);
    const queued = await t.services.db.prisma.syncRun.findFirstOrThrow({ where: { syncId: raw(id) } });
    expect(queued.trigger).toBe('SCHEDULE');
    const run = await waitForRun(Buffer.from(`SyncRun:${queued.id}`).toString('base64'));
    expect(run.status).toBe('SUCCEEDED');
    await assertMirrors('Scheduled');
  });
});

describe('quick sync', () => {
  it('copies the most recent active sync of the entity to that destination, named after the segment', async () => {
    const seg = ok(await gql(`mutation($e: ID!) { createSegment(input: { entityId: $e, name: "High scores", condition: { attribute: { path: "score", op: GT, value: 1000 } } }) { ... on CreateSegmentPayload { segment { id } } } }`, { e: ids.entity }));
    const segmentId = seg.createSegment.segment.id;
    const templates = ok(await gql(`query($id: ID!) { quickSyncTemplates(segmentId: $id) { __typename ... on QueryQuickSyncTemplatesSuccess { data { id mode destination { name } } } } }`, { id: segmentId })).quickSyncTemplates;
    expect(templates.data).toHaveLength(1);
    const made = ok(await gql(`mutation($s: ID!, $d: ID!) { quickSync(segmentId: $s, destinationId: $d) { __typename ... on QuickSyncPayload { audienceSync { status audience { name } mappings { from to } mode } } ... on Error { message } } }`, { s: segmentId, d: ids.destination })).quickSync;
    expect(made.audienceSync).toMatchObject({ status: 'ACTIVE', audience: { name: 'High scores' } });
    expect(made.audienceSync.mappings).toEqual([{ from: 'score', to: 'score' }, { from: 'team', to: 'team' }]);
  });
});

describe('property: random churn and faults, then a clean run mirrors the segment', () => {
  it('holds over several rounds', async () => {
    const id = await createSync({ audience: { target: 'CREATE_BY_NAME', name: 'Property' } });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            flip: fc.uniqueArray(fc.integer({ min: 1, max: 120 }), { maxLength: 15 }),
            bump: fc.uniqueArray(fc.integer({ min: 1, max: 120 }), { maxLength: 15 }),
            reject: fc.uniqueArray(fc.integer({ min: 1, max: 120 }), { maxLength: 5 }),
            fail: fc.constantFrom<'none' | 'status500' | 'always503'>('none', 'status500', 'always503'),
          }),
          { minLength: 2, maxLength: 4 },
        ),
        async (rounds) => {
          for (const round of rounds) {
            if (round.flip.length) await people(`UPDATE wh.people SET active = NOT active WHERE id = ANY($1::bigint[])`, [round.flip]);
            if (round.bump.length) await people(`UPDATE wh.people SET score = score + 1 WHERE id = ANY($1::bigint[])`, [round.bump]);
            hook.faults.rejectKeys = new Map(round.reject.map((k) => [String(k), { message: 'nope' }]));
            if (round.fail === 'status500') hook.faults.failNext = [{ status: 500 }, { status: 500 }];
            if (round.fail === 'always503') hook.faults.alwaysStatus = 503;
            await runNow(id);
            hook.faults.rejectKeys = new Map();
            hook.faults.failNext = [];
            hook.faults.alwaysStatus = undefined;
          }
          const clean = await runNow(id);
          expect(clean.status).toBe('SUCCEEDED');
          await assertMirrors('Property');
        },
      ),
      { numRuns: 4 },
    );
  }, 300_000);
});

describe('sync definitions', () => {
  it('reports every invalid part at once', async () => {
    const res = ok(await gql(`mutation($input: CreateAudienceSyncInput!) { createAudienceSync(input: $input) { __typename ... on ValidationError { problems { path message suggestion } } } }`, {
      input: {
        segmentId: ids.segment,
        destinationId: ids.destination,
        audience: { target: 'NAME_FROM_COLUMN', nameColumn: 'tem' },
        mappings: [{ from: 'scor', to: 'score' }, { from: 'segmentMembership', to: 'segments' }, { from: 'email', to: 'score' }],
        identifiers: ['PHONE'],
        schedule: { kind: 'CRON', cron: 'often' },
      },
    })).createAudienceSync;
    expect(res.__typename).toBe('ValidationError');
    const byPath = Object.fromEntries(res.problems.map((p: any) => [p.path.join('.'), p]));
    expect(byPath['audience.nameColumn'].suggestion).toBe('team');
    expect(byPath['mappings.0.from'].suggestion).toBe('score');
    expect(byPath['mappings.1.from'].message).toMatch(/whole entity/);
    expect(byPath['mappings.2.to'].message).toMatch(/mapped again/);
    expect(byPath['identifiers.0'].message).toMatch(/declares no PHONE identifier/);
    expect(byPath['schedule.cron']).toBeDefined();
  });

  it('warns when a sync runs more often than its segment is evaluated', async () => {
    const id = await createSync({ audience: { target: 'CREATE_BY_NAME', name: 'Fast' }, schedule: { kind: 'EVERY_15_MINUTES' }, status: 'PAUSED' });
    const { node } = ok(await gql(`query($id: ID!) { node(id: $id) { ... on AudienceSync { warnings } } }`, { id }));
    expect(node.warnings[0]).toMatch(/runs more often than segment "Active" is evaluated/);
  });

  it('a whole-entity sync can map the list of segments each record is in', async () => {
    const res = ok(await gql(`mutation($input: CreateAudienceSyncInput!) { createAudienceSync(input: $input) { __typename ... on CreateAudienceSyncPayload { audienceSync { id } } ... on Error { message } } }`, {
      input: { entityId: ids.entity, destinationId: ids.destination, audience: { target: 'CREATE_BY_NAME', name: 'Everyone' }, mappings: [{ from: 'segmentMembership', to: 'segments' }], status: 'ACTIVE' },
    })).createAudienceSync;
    expect(res.__typename, JSON.stringify(res)).toBe('CreateAudienceSyncPayload');
    const run = await waitForRun(ok(await gql(`mutation($id: ID!) { triggerAudienceSync(id: $id) { ... on TriggerAudienceSyncPayload { run { id } } } }`, { id: res.audienceSync.id })).triggerAudienceSync.run.id);
    expect(run.status).toBe('SUCCEEDED');
    const everyone = audienceState('Everyone');
    const { rows } = await t.db.pool.query(`SELECT count(*)::int AS n FROM wh.people`);
    expect(everyone.size).toBe(rows[0].n);
    const segmentKeys = new Set(await t.db.pool.query(`SELECT key FROM roster_planner.segment_members WHERE segment_id = $1`, [raw(ids.segment)]).then((r) => r.rows.map((x) => x.key)));
    for (const [key, row] of everyone) {
      expect((row.fields.segments as string[]).includes('Active')).toBe(segmentKeys.has(key));
    }
  });

  it('syncs into a PostgreSQL table, equal to the segment', async () => {
    const dest = ok(await gql(`mutation($c: JSON!) { createDestination(input: { name: "Table", type: "postgres_table", config: $c }) { __typename ... on CreateDestinationPayload { destination { id } } ... on Error { message } } }`, { c: { url: t.url, schema: 'out', table: 'members' } }));
    const res = ok(await gql(`mutation($input: CreateAudienceSyncInput!) { createAudienceSync(input: $input) { ... on CreateAudienceSyncPayload { audienceSync { id } } } }`, {
      input: { segmentId: ids.segment, destinationId: dest.createDestination.destination.id, audience: { target: 'CREATE_BY_NAME', name: 'active' }, mappings: [{ from: 'score', to: 'score' }], status: 'ACTIVE' },
    })).createAudienceSync;
    await people(`UPDATE wh.people SET active = NOT active WHERE id IN (11, 12)`);
    const run = await runNow(res.audienceSync.id);
    expect(run.status).toBe('SUCCEEDED');
    const { rows } = await t.db.pool.query(`SELECT key, (fields->>'score')::int AS score FROM out.members WHERE audience = 'active' ORDER BY key`);
    const want = await expectedMembers();
    expect(rows.map((r) => r.key).sort()).toEqual([...want.keys()].sort());
    for (const r of rows) expect(r.score).toBe(want.get(r.key)!.score);
  });
});

describe('accounting', () => {
  /** A sync of the segment to a new destination of the hooked webhook: its global id, raw id and planner schema. */
  const hookedSync = async (destination: string, audience: string) => {
    const dest = ok(await gql(`mutation($name: String!, $config: JSON!) { createDestination(input: { name: $name, type: "${HOOKED_WEBHOOK}", config: $config }) { __typename ... on CreateDestinationPayload { destination { id } } ... on Error { message } } }`, { name: destination, config: { url: hook.url, signingSecret: SECRET, batchSize: 20 } })).createDestination;
    expect(dest.__typename, JSON.stringify(dest)).toBe('CreateDestinationPayload');
    const id = await createSync({ destinationId: dest.destination.id, audience: { target: 'CREATE_BY_NAME', name: audience } });
    const { plannerSchema } = await t.services.db.prisma.source.findFirstOrThrow({ where: { entities: { some: { id: raw(ids.entity) } } } });
    return { id, sync: raw(id), plannerSchema };
  };

  it('falls back to upserting when an added key is already in the snapshot (a run that overlapped a dead one wrote it)', async () => {
    const { id, sync, plannerSchema } = await hookedSync('Hooked', 'Overlapped');
    let planted = '';
    afterAdd = async (keys) => {
      if (planted) return;
      planted = keys[keys.length - 1]!;
      await t.db.pool.query(`INSERT INTO "${plannerSchema}".sync_snapshot (sync_id, audience, key, payload_hash, payload) VALUES ($1::uuid, 'Overlapped', $2, 'stale', '{}')`, [sync, planted]);
    };
    try {
      const run = await runNow(id);
      const members = await expectedMembers();
      expect(run).toMatchObject({ status: 'SUCCEEDED', planned: { adds: members.size }, delivered: { adds: members.size } });
      const { rows } = await t.db.pool.query(`SELECT key, payload_hash FROM "${plannerSchema}".sync_snapshot WHERE sync_id = $1::uuid`, [sync]);
      expect(rows.map((r) => r.key).sort()).toEqual([...members.keys()].sort());
      // The planted row took the delivered payload's hash.
      expect(rows.find((r) => r.key === planted)?.payload_hash).toMatch(/^v[0-9a-f]{1,16}$/);
      const again = await runNow(id);
      expect(again.planned).toEqual({ adds: 0, removes: 0, updates: 0 });
    } finally {
      afterAdd = undefined;
    }
  });

  it('sends each remove the payload last sent, read from the snapshot as its page is read, and skips one an overlapping run already accounted', async () => {
    const { id, sync, plannerSchema } = await hookedSync('Hooked removes', 'Vanishing');
    await t.db.pool.query(`UPDATE wh.people SET active = id % 4 <> 0`);
    expect(await runNow(id)).toMatchObject({ status: 'SUCCEEDED' });
    const sentBefore = audienceState('Vanishing');
    // Everyone leaves: five pages of 20 removes or more. A page is read while those before it are
    // sent, two at once: when the first remove is sent, the fifth page has not been read.
    const { rows: leaving } = await t.db.pool.query(`UPDATE wh.people SET active = false WHERE active RETURNING id::text AS key`);
    expect(leaving.length).toBeGreaterThan(80);
    // The last remove in seq order ("C" key order) leaves the snapshot before its page is read,
    // as when a run that overlapped this one sent it and accounted it.
    const vanished = leaving.map((r) => r.key).sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1)).at(-1)!;
    let calls = 0;
    beforeRemove = async () => {
      if (calls++ === 0) await t.db.pool.query(`DELETE FROM "${plannerSchema}".sync_snapshot WHERE sync_id = $1::uuid AND key = $2`, [sync, vanished]);
    };
    const since = hook.received.length;
    try {
      const run = await runNow(id);
      expect(run).toMatchObject({ status: 'SUCCEEDED', planned: { removes: leaving.length }, delivered: { removes: leaving.length - 1 } });
      expect(calls).toBe(Math.ceil(leaving.length / 20));
      // Each remove was sent with the fields and identifiers its add had sent; the vanished one was not sent.
      const removed = hook.received
        .slice(since)
        .filter((r) => r.accepted && r.operation === 'remove' && r.audience?.name === 'Vanishing')
        .flatMap((r) => (JSON.parse(r.rawBody) as { rows: { key: string; fields: unknown; identifiers: unknown }[] }).rows);
      expect(removed.map((r) => r.key).sort()).toEqual(leaving.map((r) => r.key).filter((k) => k !== vanished).sort());
      for (const r of removed) expect({ fields: r.fields, identifiers: r.identifiers }).toEqual(sentBefore.get(r.key));
      const state = audienceState('Vanishing');
      expect([...state.keys()].filter((k) => leaving.some((r) => r.key === k))).toEqual([vanished]);
      expect((await runNow(id)).planned).toEqual({ adds: 0, removes: 0, updates: 0 });
    } finally {
      beforeRemove = undefined;
      await t.db.pool.query(`UPDATE wh.people SET active = id % 4 <> 0`);
    }
  });
});

describe('one row per key', () => {
  it('sends each key once and skips rows without one, whether or not the warehouse declares the keys unique', async () => {
    // No unique index anywhere: team "b" is there twice, player 2 twice, and one player has no key.
    await people(`CREATE TABLE wh.teams (code text, label text);
      INSERT INTO wh.teams VALUES ('r', 'Red'), ('b', 'Blue'), ('b', 'Blue');
      CREATE TABLE wh.players (id bigint, email text NOT NULL, team_code text);
      INSERT INTO wh.players VALUES (1, 'a@x.test', 'r'), (2, 'b@x.test', 'b'), (2, 'b@x.test', 'b'), (NULL, 'n@x.test', 'r'), (3, 'c@x.test', NULL);`);
    const src = ok(await gql(`mutation($url: String!) { createSource(input: { name: "Players WH", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url })).createSource.source.id;
    const entity = async (name: string, table: string, primaryKey: string, identifiers: unknown[]) =>
      ok(await gql(`mutation($s: ID!, $name: String!, $table: String!, $pk: String!, $ids: [IdentifierInput!]) { createEntity(input: { sourceId: $s, name: $name, kind: PERSON, from: { table: { schema: "wh", name: $table } }, primaryKey: $pk, identifiers: $ids }) { __typename ... on CreateEntityPayload { entity { id } } ... on Error { message } } }`, { s: src, name, table, pk: primaryKey, ids: identifiers })).createEntity.entity.id as string;
    const players = await entity('Players', 'players', 'id', [{ type: 'EMAIL', column: 'email' }]);
    const teams = await entity('Teams', 'teams', 'code', []);
    const rel = ok(await gql(`mutation($f: ID!, $t: ID!) { createRelationship(input: { fromEntityId: $f, toEntityId: $t, name: "team", kind: MANY_TO_ONE, fromColumn: "team_code", toColumn: "code" }) { __typename ... on Error { message } } }`, { f: players, t: teams })).createRelationship;
    expect(rel.__typename, JSON.stringify(rel)).toBe('CreateRelationshipPayload');
    const res = ok(await gql(`mutation($input: CreateAudienceSyncInput!) { createAudienceSync(input: $input) { __typename ... on CreateAudienceSyncPayload { audienceSync { id } } ... on Error { message } } }`, {
      input: { entityId: players, destinationId: ids.destination, audience: { target: 'CREATE_BY_NAME', name: 'Players' }, mappings: [{ from: 'team.label', to: 'team' }], status: 'ACTIVE' },
    })).createAudienceSync;
    expect(res.__typename, JSON.stringify(res)).toBe('CreateAudienceSyncPayload');
    const playersSync = res.audienceSync.id as string;

    // What the plan asks the warehouse: are the key and the joined key unique?
    const columns = (names: string[]) => names.map((name) => ({ name, dataType: 'text', type: 'STRING' as const, nullable: true }));
    const teamsMeta: EntityMeta = { id: 't', name: 'Teams', from: { table: { schema: 'wh', name: 'teams' } }, primaryKey: 'code', columns: columns(['code', 'label']), relationships: [] };
    const playersMeta: EntityMeta = {
      id: 'p', name: 'Players', from: { table: { schema: 'wh', name: 'players' } }, primaryKey: 'id', columns: columns(['id', 'email', 'team_code']),
      relationships: [{ name: 'team', kind: 'MANY_TO_ONE', fromColumn: 'team_code', toColumn: 'code', targetId: 't' }],
    };
    const uniqueness = async () => {
      const q = uniqueKeysSql({ entities: new Map([['p', playersMeta], ['t', teamsMeta]]), segments: new Map(), plannerSchema: 'roster_planner' }, playersMeta, ['team.label'])!;
      return (await t.db.pool.query(q)).rows[0].unique as boolean;
    };
    expect(await uniqueness()).toBe(false);

    const first = await runNow(playersSync);
    expect(first).toMatchObject({ status: 'SUCCEEDED', planned: { adds: 3 }, delivered: { adds: 3 } });
    expect([...audienceState('Players').keys()].sort()).toEqual(['1', '2', '3']);
    expect(audienceState('Players').get('1')?.fields.team).toBe('Red');
    expect(audienceState('Players').get('3')?.fields.team).toBeNull();

    // Declared unique now (the duplicates gone): the plan skips deduplication, and finds nothing to send.
    await people(`DELETE FROM wh.teams AS a USING wh.teams AS b WHERE a.code = b.code AND a.ctid > b.ctid;
      DELETE FROM wh.players AS a USING wh.players AS b WHERE a.id = b.id AND a.ctid > b.ctid;
      CREATE UNIQUE INDEX ON wh.players (id);`);
    expect(await uniqueness()).toBe(false); // the joined key is not unique yet
    await people(`CREATE UNIQUE INDEX ON wh.teams (code)`);
    expect(await uniqueness()).toBe(true);
    const again = await runNow(playersSync);
    expect(again).toMatchObject({ status: 'SUCCEEDED', planned: { adds: 0, removes: 0, updates: 0 } });
    await people(`INSERT INTO wh.players VALUES (4, 'd@x.test', 'b'), (NULL, 'm@x.test', 'b')`); // a unique index lets NULLs repeat
    const third = await runNow(playersSync);
    expect(third).toMatchObject({ status: 'SUCCEEDED', planned: { adds: 1, removes: 0 } });
    expect([...audienceState('Players').keys()].sort()).toEqual(['1', '2', '3', '4']);
    expect(audienceState('Players').get('4')?.fields.team).toBe('Blue');
  });
});

describe('the snapshot’s statistics', () => {
  /**
   * A first run of a whole entity of SNAPSHOT_ANALYZE_MIN_ROWS records in
   * `mode`; the snapshot's row count in pg_class before and after, and the
   * snapshot's real count after (autovacuum off, so that only Roster's own
   * analysis may update the statistics meanwhile).
   */
  async function firstRunOfMany(mode: 'MIRROR' | 'SUBTRACTIVE') {
    // A receiver that takes batches of a thousand, so that the run is quick.
    const wide = await startFakeWebhook({ secret: SECRET, maxRows: 1000 });
    const src = ok(await gql(`mutation($url: String!) { createSource(input: { name: "Many WH ${mode}", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url })).createSource.source.id;
    const { plannerSchema } = await t.services.db.prisma.source.findUniqueOrThrow({ where: { id: raw(src) } });
    // The snapshot as Roster creates it, so that its autovacuum can be turned off before the first run.
    await t.db.pool.query(createSyncTablesSql(plannerSchema));
    const snapshot = snapshotTable(plannerSchema);
    try {
      const entity = ok(await gql(`mutation($s: ID!, $sql: String!) { createEntity(input: { sourceId: $s, name: "Many ${mode}", kind: PERSON, from: { sql: $sql }, primaryKey: "id", identifiers: [{ type: EMAIL, column: "email" }] }) { __typename ... on CreateEntityPayload { entity { id } } ... on Error { message } } }`, {
        s: src,
        sql: `SELECT g AS id, 'm' || g || '@x.test' AS email FROM generate_series(1, ${SNAPSHOT_ANALYZE_MIN_ROWS}) AS g`,
      })).createEntity;
      expect(entity.__typename, JSON.stringify(entity)).toBe('CreateEntityPayload');
      const dest = ok(await gql(`mutation($config: JSON!) { createDestination(input: { name: "Wide hook ${mode}", type: "webhook", config: $config }) { __typename ... on CreateDestinationPayload { destination { id } } ... on Error { message } } }`, { config: { url: wide.url, signingSecret: SECRET, batchSize: 1000 } })).createDestination;
      expect(dest.__typename, JSON.stringify(dest)).toBe('CreateDestinationPayload');
      const res = ok(await gql(`mutation($input: CreateAudienceSyncInput!) { createAudienceSync(input: $input) { __typename ... on CreateAudienceSyncPayload { audienceSync { id } } ... on Error { message } } }`, {
        input: { entityId: entity.entity.id, destinationId: dest.destination.id, audience: { target: 'CREATE_BY_NAME', name: `Many ${mode}` }, mappings: [], mode, status: 'ACTIVE' },
      })).createAudienceSync;
      expect(res.__typename, JSON.stringify(res)).toBe('CreateAudienceSyncPayload');
      await t.db.pool.query(`ALTER TABLE ${snapshot} SET (autovacuum_enabled = off)`);
      const statistics = async () => (await t.db.pool.query(`SELECT reltuples::int AS rows, (SELECT count(*)::int FROM ${snapshot}) AS actual FROM pg_class WHERE oid = $1::regclass`, [snapshot])).rows[0];
      const before = await statistics();
      const run = await runNow(res.audienceSync.id);
      return { run, before, after: await statistics(), sent: wide.members(`Many ${mode}`).length };
    } finally {
      await t.db.pool.query(`ALTER TABLE ${snapshot} RESET (autovacuum_enabled)`);
      await wide.close();
    }
  }

  it('are refreshed when a first run has written many rows, so that the next diff plans with the sync’s real size', async () => {
    const { run, before, after, sent } = await firstRunOfMany('MIRROR');
    expect(run).toMatchObject({ status: 'SUCCEEDED', planned: { adds: SNAPSHOT_ANALYZE_MIN_ROWS } });
    expect(sent).toBe(SNAPSHOT_ANALYZE_MIN_ROWS);
    expect(after.actual).toBe(before.actual + SNAPSHOT_ANALYZE_MIN_ROWS);
    // The sample reads every page of a table this small: the count is exact.
    expect(after.rows).toBe(after.actual);
    expect(before.rows).not.toBe(after.actual);
  });

  it('are refreshed too when the mode filtered the adds out: planning wrote them to the snapshot, unsent', async () => {
    const { run, before, after, sent } = await firstRunOfMany('SUBTRACTIVE');
    expect(run).toMatchObject({ status: 'SUCCEEDED', planned: { adds: 0 }, delivered: { adds: 0 } });
    expect(sent).toBe(0);
    expect(after.actual).toBe(before.actual + SNAPSHOT_ANALYZE_MIN_ROWS);
    expect(after.rows).toBe(after.actual);
    expect(before.rows).not.toBe(after.actual);
  });
});

describe('the plan’s memory', () => {
  it('plans a first run with room to sort every row in memory, and a diff with less, as planMemorySettings says', async () => {
    // The entity reads the setting its rows are computed under: the plan's
    // statement computes them, so the payloads show what it ran with.
    const src = ok(await gql(`mutation($url: String!) { createSource(input: { name: "Settings WH", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url })).createSource.source.id;
    const entity = ok(await gql(`mutation($s: ID!) { createEntity(input: { sourceId: $s, name: "Settings", kind: PERSON, from: { sql: "SELECT g AS id, 's' || g || '@x.test' AS email, current_setting('work_mem') AS mem FROM generate_series(1, 5) AS g" }, primaryKey: "id", identifiers: [{ type: EMAIL, column: "email" }] }) { __typename ... on CreateEntityPayload { entity { id } } ... on Error { message } } }`, { s: src })).createEntity;
    expect(entity.__typename, JSON.stringify(entity)).toBe('CreateEntityPayload');
    const res = ok(await gql(`mutation($input: CreateAudienceSyncInput!) { createAudienceSync(input: $input) { __typename ... on CreateAudienceSyncPayload { audienceSync { id } } ... on Error { message } } }`, {
      input: { entityId: entity.entity.id, destinationId: ids.destination, audience: { target: 'CREATE_BY_NAME', name: 'Settings' }, mappings: [{ from: 'mem', to: 'mem' }], status: 'ACTIVE' },
    })).createAudienceSync;
    expect(res.__typename, JSON.stringify(res)).toBe('CreateAudienceSyncPayload');
    const mems = () => [...audienceState('Settings').values()].map((r) => r.fields.mem);
    const setting = (snapshotEmpty: boolean) => planMemorySettings(snapshotEmpty)[0]!.match(/'(.*)'/)![1];

    expect(await runNow(res.audienceSync.id)).toMatchObject({ status: 'SUCCEEDED', planned: { adds: 5 } });
    expect(mems()).toEqual(Array(5).fill(setting(true)));
    // The diff's rows are computed with the diff's memory: every hash differs, every row is an update.
    expect(await runNow(res.audienceSync.id)).toMatchObject({ status: 'SUCCEEDED', planned: { adds: 0, removes: 0, updates: 5 } });
    expect(mems()).toEqual(Array(5).fill(setting(false)));
    expect(setting(true)).not.toBe(setting(false));
    // The server's own setting is left alone.
    expect((await t.db.pool.query(`SELECT current_setting('work_mem') AS v`)).rows[0].v).toBe('4MB');
  });
});
