// Two triggers of a sync at once, at the worst moment: the queue refuses the
// second because the first is queued, and the first starts before the
// second looks for it. The second must queue a run of its own behind the
// running one, not answer an error. No worker runs here: the start is
// played by a trigger on pg-boss's job table, which moves the first run's
// job to active as soon as the second's is refused.
//
// And a queued run cancelled behind a running one: its job must leave the
// queue with it, or the next trigger is refused as "already queued".
//
// And many triggers (of a run, of an evaluation) at once: every one answers
// the one run or evaluation the queue took, never another trigger's that was
// then deleted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, useTestApp, type Gql } from '../support/app.js';
import { startFakeWebhook, type FakeWebhook } from '../support/fake-webhook.js';
import { startBoss, stopBoss } from '../../src/jobs/boss.js';
import { createQueues, QUEUES } from '../../src/jobs/queues.js';
import { cancelRun, requestRun } from '../../src/sync/run.js';
import { requestEvaluation } from '../../src/segments/evaluate.js';

const t = await useTestApp();
const SECRET = 'whsec_trigger_race';
let gql: Gql;
let hook: FakeWebhook;
let workspaceId = '';
let syncId = '';
let segmentId = '';

beforeAll(async () => {
  t.services.boss = await startBoss(t.url, t.services.logger, { supervise: false });
  await createQueues(t.services.boss);
  const ws = await t.workspace('acme');
  gql = ws.gql;
  workspaceId = ws.workspaceId;
  await t.db.pool.query(`CREATE SCHEMA wh; CREATE TABLE wh.people (id bigint PRIMARY KEY, email text NOT NULL); INSERT INTO wh.people VALUES (1, 'a@example.test');`);
  hook = await startFakeWebhook({ secret: SECRET });
  const src = ok(await gql(`mutation($url: String!) { createSource(input: { name: "WH", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url }));
  const ent = ok(await gql(`mutation($s: ID!) { createEntity(input: { sourceId: $s, name: "People", kind: PERSON, from: { table: { schema: "wh", name: "people" } }, primaryKey: "id", identifiers: [{ type: EMAIL, column: "email" }] }) { ... on CreateEntityPayload { entity { id } } } }`, { s: src.createSource.source.id }));
  const seg = ok(await gql(`mutation($e: ID!) { createSegment(input: { entityId: $e, name: "Everyone", condition: { and: [] } }) { ... on CreateSegmentPayload { segment { id } } } }`, { e: ent.createEntity.entity.id }));
  const dest = ok(await gql(`mutation($c: JSON!) { createDestination(input: { name: "Hook", type: "webhook", config: $c }) { ... on CreateDestinationPayload { destination { id } } } }`, { c: { url: hook.url, signingSecret: SECRET } }));
  const sync = ok(await gql(`mutation($s: ID!, $d: ID!) { createAudienceSync(input: { segmentId: $s, destinationId: $d, audience: { target: CREATE_BY_NAME } }) { ... on CreateAudienceSyncPayload { audienceSync { id } } } }`, { s: seg.createSegment.segment.id, d: dest.createDestination.destination.id }));
  segmentId = Buffer.from(seg.createSegment.segment.id, 'base64').toString('utf8').split(':')[1]!;
  syncId = Buffer.from(sync.createAudienceSync.audienceSync.id, 'base64').toString('utf8').split(':')[1]!;
}, 60_000);

afterAll(async () => {
  await t.db.pool.query(`DROP TRIGGER IF EXISTS roster_test_start ON pgboss.job`);
  await stopBoss(t.services.boss!);
  await hook.close();
});

describe('two triggers at once', () => {
  it('queue a second run behind the first when the first starts between the refusal and the look-up', async () => {
    // The first trigger's run, queued.
    const first = await requestRun(t.services, workspaceId, syncId, { trigger: 'TEST' });
    expect(first.jobId).toBeTruthy();
    // The second trigger found nothing waiting: for it, the first is already running (its row says so),
    // while the queue still holds the first's job as created, and refuses the second's.
    await t.services.db.prisma.syncRun.update({ where: { id: first.id }, data: { status: 'RUNNING', startedAt: new Date() } });
    // A worker takes the first's job the moment the second's is refused.
    await t.db.pool.query(
      `CREATE OR REPLACE FUNCTION public.roster_test_start() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
        `UPDATE pgboss.job SET state = 'active', started_on = now() WHERE name = '${QUEUES.syncRun}' AND id = '${first.jobId}' AND state = 'created'; RETURN NULL; END $$; ` +
        `CREATE TRIGGER roster_test_start AFTER INSERT ON pgboss.job FOR EACH STATEMENT EXECUTE FUNCTION public.roster_test_start()`,
    );

    const second = await requestRun(t.services, workspaceId, syncId, { trigger: 'TEST' });
    expect(second.id).not.toBe(first.id);
    expect(second.status).toBe('QUEUED');
    const { rows } = await t.db.pool.query(`SELECT id::text, state::text FROM pgboss.job WHERE name = $1 AND singleton_key = $2 ORDER BY created_on`, [QUEUES.syncRun, syncId]);
    expect(rows).toEqual([
      { id: first.jobId, state: 'active' },
      { id: second.jobId, state: 'created' },
    ]);
  });
});

describe('a cancelled run', () => {
  it('gives its place in the queue to the next trigger, instead of keeping it until a worker takes its job', async () => {
    // Where the test above left the sync: a run in progress, and one queued behind it.
    const waiting = await t.services.db.prisma.syncRun.findMany({ where: { syncId, status: 'QUEUED' } });
    expect(waiting).toHaveLength(1);
    const cancelled = await cancelRun(t.services, workspaceId, waiting[0]!.id);
    expect(cancelled.status).toBe('CANCELLED');
    const { rows: job } = await t.db.pool.query(`SELECT state::text FROM pgboss.job WHERE name = $1 AND id = $2`, [QUEUES.syncRun, cancelled.jobId]);
    expect(job).toEqual([{ state: 'cancelled' }]);
    // Before, the cancelled run's job still held the queue's waiting place: this answered "already queued".
    const next = await requestRun(t.services, workspaceId, syncId, { trigger: 'TEST' });
    expect(next.id).not.toBe(cancelled.id);
    expect(next.status).toBe('QUEUED');
    expect(next.jobId).toBeTruthy();
  });
});

describe('many triggers at once', () => {
  it('all join one queued run, and every run they answer exists', async () => {
    // Nothing waiting: the run queued by the test above is cancelled first.
    for (const run of await t.services.db.prisma.syncRun.findMany({ where: { syncId, status: 'QUEUED' } })) await cancelRun(t.services, workspaceId, run.id);
    // Each trigger finds nothing waiting and creates a run of its own; the queue takes one and refuses the
    // others, which must join the one it took. A refused trigger's own run must never be answered, by it or
    // by another trigger that found it meanwhile, since it is deleted.
    const runs = await Promise.all(Array.from({ length: 8 }, () => requestRun(t.services, workspaceId, syncId, { trigger: 'TEST' })));
    const queued = await t.services.db.prisma.syncRun.findMany({ where: { syncId, status: 'QUEUED' } });
    expect(queued).toHaveLength(1);
    expect(queued[0]!.jobId).toBeTruthy();
    expect(new Set(runs.map((r) => r.id))).toEqual(new Set([queued[0]!.id]));
  });
});

describe('many evaluation requests at once', () => {
  it('all join one queued evaluation, and every evaluation they answer exists', async () => {
    const evaluations = await Promise.all(Array.from({ length: 8 }, () => requestEvaluation(t.services, workspaceId, segmentId)));
    const queued = await t.services.db.prisma.segmentEvaluation.findMany({ where: { segmentId, status: 'QUEUED' } });
    expect(queued).toHaveLength(1);
    expect(queued[0]!.jobId).toBeTruthy();
    expect(new Set(evaluations.map((e) => e.id))).toEqual(new Set([queued[0]!.id]));
  });
});
