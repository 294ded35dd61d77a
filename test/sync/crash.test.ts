// A worker process killed (SIGKILL) in the middle of a run: the run is found
// dead by its heartbeat and failed with a reason, its job released, and the
// next run, on another worker, leaves the destination exactly equal to the
// segment: nothing lost, nothing extra.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { ok, useTestApp, type Gql } from '../support/app.js';
import { startFakeWebhook, type FakeWebhook } from '../support/fake-webhook.js';
import { until } from '../support/until.js';
import { startBoss, stopBoss } from '../../src/jobs/boss.js';
import { createQueues } from '../../src/jobs/queues.js';
import { failStaleRuns, HEARTBEAT_TIMEOUT_MS } from '../../src/sync/run.js';

const t = await useTestApp();
const ROOT = new URL('../../', import.meta.url).pathname;
const SECRET = 'whsec_crash_test';
let gql: Gql;
let hook: FakeWebhook;
let syncId = '';
const children: ChildProcess[] = [];

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, ['bin/roster.js', 'worker'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: t.url, ROSTER_SECRET_KEY: t.services.config.secretKey!.toString('hex'), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
}

beforeAll(async () => {
  t.services.boss = await startBoss(t.url, t.services.logger, { supervise: false });
  await createQueues(t.services.boss);
  const ws = await t.workspace('acme');
  gql = ws.gql;
  await t.db.pool.query(`CREATE SCHEMA wh; CREATE TABLE wh.people (id bigint PRIMARY KEY, email text NOT NULL, active boolean NOT NULL);
    INSERT INTO wh.people SELECT g, 'p' || g || '@example.test', g % 5 <> 0 FROM generate_series(1, 300) g;`);
  hook = await startFakeWebhook({ secret: SECRET, maxRows: 20 });
  const src = ok(await gql(`mutation($url: String!) { createSource(input: { name: "WH", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url }));
  const ent = ok(await gql(`mutation($s: ID!) { createEntity(input: { sourceId: $s, name: "People", kind: PERSON, from: { table: { schema: "wh", name: "people" } }, primaryKey: "id", identifiers: [{ type: EMAIL, column: "email" }] }) { ... on CreateEntityPayload { entity { id } } } }`, { s: src.createSource.source.id }));
  const seg = ok(await gql(`mutation($e: ID!) { createSegment(input: { entityId: $e, name: "Active", condition: { attribute: { path: "active", op: IS_TRUE } } }) { ... on CreateSegmentPayload { segment { id } } } }`, { e: ent.createEntity.entity.id }));
  const dest = ok(await gql(`mutation($c: JSON!) { createDestination(input: { name: "Hook", type: "webhook", config: $c }) { ... on CreateDestinationPayload { destination { id } } } }`, { c: { url: hook.url, signingSecret: SECRET, batchSize: 20 } }));
  const sync = ok(await gql(`mutation($s: ID!, $d: ID!) { createAudienceSync(input: { segmentId: $s, destinationId: $d, audience: { target: CREATE_BY_NAME }, status: ACTIVE }) { ... on CreateAudienceSyncPayload { audienceSync { id } } } }`, { s: seg.createSegment.segment.id, d: dest.createDestination.destination.id }));
  syncId = sync.createAudienceSync.audienceSync.id;
}, 60_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await stopBoss(t.services.boss!);
  await hook.close();
});

describe('a worker killed mid-run', () => {
  it('loses nothing: the next run on another worker completes the destination exactly', async () => {
    // The fourth batch never gets an answer: the worker is killed while it
    // waits. Two batches go on the wire at once (the webhook's default
    // concurrency), so the fifth is sent and answered meanwhile, and waits
    // behind the fourth to be accounted.
    // The fourth batch hangs every time it is sent: the webhook's timeout and
    // retry (slow under a loaded machine) must not let the run go on. It is
    // known by its first key (batches follow the keys' byte order), not by
    // the order requests arrive in: two on the wire at once may arrive
    // either way round, and when the third was taken for the fourth, the
    // fifth was never sent.
    const { rows: [{ key: hungKey }] } = await t.db.pool.query(`SELECT id::text AS key FROM wh.people WHERE active ORDER BY id::text COLLATE "C" OFFSET 60 LIMIT 1`);
    hook.faults.when((req) => req.keys[0] === hungKey, { hang: true });
    const trigger = async () => ok(await gql(`mutation($id: ID!) { triggerAudienceSync(id: $id) { ... on TriggerAudienceSyncPayload { run { id } } } }`, { id: syncId })).triggerAudienceSync.run.id as string;
    await trigger();
    const first = startWorker();
    await until('the fifth request answered', async () => hook.members('Active').length >= 80);
    // Accounting runs in the background while the next batches are on the
    // wire: the three batches confirmed before the fourth reach the snapshot.
    const { rows: [{ plannerSchema }] } = await t.db.pool.query(`SELECT "plannerSchema" FROM "Source" LIMIT 1`);
    await until('the three confirmed batches accounted', async () => {
      const { rows } = await t.db.pool.query(`SELECT count(*)::int AS n FROM "${plannerSchema}".sync_snapshot`);
      return rows[0].n === 60;
    });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    // Three batches of 20 accounted, a fourth never answered, a fifth
    // answered and not accounted (never more than the batches in flight).
    expect(hook.members('Active').length).toBe(80);
    const { rows: [{ n: accounted }] } = await t.db.pool.query(`SELECT count(*)::int AS n FROM "${plannerSchema}".sync_snapshot`);
    expect(accounted).toBe(60);
    const dead = await t.services.db.prisma.syncRun.findFirstOrThrow({ where: { status: 'RUNNING' } });
    expect(await failStaleRuns(t.services, new Date(Date.now() + HEARTBEAT_TIMEOUT_MS + 60_000))).toBe(1);
    const failed = await t.services.db.prisma.syncRun.findUniqueOrThrow({ where: { id: dead.id } });
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatch(/stopped responding/);

    hook.faults.clear();
    const next = await trigger();
    startWorker();
    const run = await until('the next run', async () => {
      const { node } = ok(await gql(`query($id: ID!) { node(id: $id) { ... on SyncRun { status planned { adds } delivered { adds } } } }`, { id: next }));
      return ['SUCCEEDED', 'PARTIAL', 'FAILED'].includes(node.status) ? node : undefined;
    });
    const { rows } = await t.db.pool.query(`SELECT id::text AS key FROM wh.people WHERE active ORDER BY 1`);
    expect(run.status).toBe('SUCCEEDED');
    // The snapshot held the 60 accounted rows: only the rest was planned
    // (the fifth batch's 20 rows among them, sent a second time).
    expect(run.planned.adds).toBe(rows.length - 60);
    expect(hook.members('Active')).toEqual(rows.map((r) => r.key).sort());
  }, 120_000);
});
