// No secret in the logs: everything the logger writes at `trace`, while a
// process does its ordinary work and fails in the ordinary ways (a wrong
// password, a destination answering 500 and 401, a bad token, an unexpected
// error), is captured and searched for every secret it was given: the
// warehouse passwords, the webhook signing secrets, every API token, and the
// ROSTER_SECRET_KEY.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { buildApp } from '../../src/app.js';
import { createApiToken } from '../../src/auth.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createServices } from '../../src/services.js';
import { startBoss, stopBoss } from '../../src/jobs/boss.js';
import { startWorkers } from '../../src/jobs/worker.js';
import { createPgEventTarget, createRosterPubSub } from '../../src/graphql/pubsub.js';
import { closePostgresTablePools } from '../../src/connectors/postgres-table/index.js';
import { registerConnector } from '../../src/connectors/registry.js';
import { createWebhookConnector } from '../../src/connectors/webhook/index.js';
import { useTestDatabase } from '../support/db.js';
import { startFakeWebhook, type FakeWebhook } from '../support/fake-webhook.js';
import { withPassword } from '../support/warehouse.js';

// The real webhook connector with short waits, so that exhausting its retries
// against a failing destination takes milliseconds.
const FAST_WEBHOOK = 'webhook_fast_retries_logs';
registerConnector({ ...createWebhookConnector({ retries: 2, minBackoffMs: 5, maxBackoffMs: 20, maxRetryAfterMs: 100, timeoutMs: 2000 }), type: FAST_WEBHOOK });

// ─── A process whose every log line is kept ──────────────────────────────────

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer | string, _encoding, done) {
    for (const line of chunk.toString().split('\n')) if (line) lines.push(line);
    done();
  },
});

const t = await useTestDatabase();
const SECRET_KEY_HEX = randomBytes(32).toString('hex');
const config = loadConfig({ DATABASE_URL: t.url, ROSTER_SECRET_KEY: SECRET_KEY_HEX, LOG_LEVEL: 'trace' });
const logger = createLogger('trace', sink);
const services = createServices({ config, databaseUrl: t.url, secretKey: config.secretKey!, logger, poolSize: 5 });
const events = createPgEventTarget({ connectionString: t.url, logger });
await events.start();
services.pubsub = createRosterPubSub(events);
services.boss = await startBoss(t.url, logger, { supervise: true });
await startWorkers(services.boss, services);
const app = buildApp(services);
const { url: apiUrl } = await app.start(0, '127.0.0.1');
const wsUrl = apiUrl.replace(/^http/, 'ws');

// ─── The secrets ─────────────────────────────────────────────────────────────

const DB_PASSWORD = decodeURIComponent(new URL(t.url).password);
const WRONG_PASSWORD = `Wr0ng-pw-${randomBytes(6).toString('hex')}`;
const SIGNING_SECRET = `whsec_${randomBytes(12).toString('hex')}`;
const WRONG_SIGNING_SECRET = `whsec_wrong_${randomBytes(12).toString('hex')}`;
const BAD_TOKEN = `rst_${randomBytes(32).toString('base64url')}`;
const tokens: string[] = [];

let hook: FakeWebhook;
let token = '';
let workspaceId = '';

async function gql(query: string, variables: Record<string, unknown> = {}, bearer = token) {
  const res = await fetch(apiUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify({ query, variables }) });
  return { status: res.status, ...((await res.json()) as { data?: any; errors?: { message: string }[] }) };
}

async function must(query: string, variables: Record<string, unknown> = {}, field?: string) {
  const res = await gql(query, variables);
  if (res.errors?.length || !res.data) throw new Error(`expected data, but got ${JSON.stringify(res)}`);
  if (field) {
    const value = res.data[field];
    if (value?.message) throw new Error(`${field}: ${value.message}`);
    return value;
  }
  return res.data;
}

async function waitForRun(runId: string) {
  for (let i = 0; i < 300; i++) {
    const { node } = await must('query($id: ID!) { node(id: $id) { ... on SyncRun { status error } } }', { id: runId });
    if (!['QUEUED', 'RUNNING'].includes(node.status)) return node as { status: string; error: string | null };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('run did not finish');
}

async function runSync(syncId: string) {
  const res = await must(`mutation($id: ID!) { triggerAudienceSync(id: $id, evaluateSegmentFirst: true) { __typename ... on TriggerAudienceSyncPayload { run { id } } ... on Error { message } } }`, { id: syncId }, 'triggerAudienceSync');
  return waitForRun(res.run.id);
}

const ids = { source: '', entity: '', segment: '', hook: '', badHook: '', table: '' };

beforeAll(async () => {
  const ws = await services.db.prisma.workspace.create({ data: { name: 'Logs', slug: 'logs' } });
  workspaceId = ws.id;
  token = (await createApiToken(services.db.prisma, { workspaceId, name: 'admin', scopes: ['ADMIN'] })).token;
  tokens.push(token);
  hook = await startFakeWebhook({ secret: SIGNING_SECRET, maxRows: 50 });
  await t.db.pool.query(`CREATE SCHEMA wh; CREATE TABLE wh.people (id bigint PRIMARY KEY, email text NOT NULL, score integer NOT NULL, active boolean NOT NULL);
    INSERT INTO wh.people SELECT g, 'p' || g || '@example.test', g, g % 3 <> 0 FROM generate_series(1, 60) g;`);
}, 60_000);

afterAll(async () => {
  await app.stop();
  await stopBoss(services.boss!);
  await closePostgresTablePools();
  await events.close();
  await services.close();
  await hook?.close();
});

// ─── The work ────────────────────────────────────────────────────────────────

describe('logs at trace level', () => {
  it('a workspace is set up: sources (one with a wrong password), entity, segment, destinations, syncs, a token made through the API', async () => {
    // A wrong password first: the connection error is logged, its URL must not be.
    const wrong = await gql(`mutation($url: String!) { createSource(input: { name: "Wrong", url: $url }) { __typename ... on Error { message } } }`, { url: withPassword(t.url, WRONG_PASSWORD) });
    expect(wrong.status).toBe(200);
    ids.source = (await must(`mutation($url: String!) { createSource(input: { name: "WH", url: $url }) { __typename ... on CreateSourcePayload { source { id } } ... on Error { message } } }`, { url: t.url }, 'createSource')).source.id;
    await must(`mutation($id: ID!, $url: String!) { updateSource(id: $id, input: { url: $url }) { __typename ... on Error { message } } }`, { id: ids.source, url: t.url }, 'updateSource');
    await must(`mutation($id: ID!) { checkSource(id: $id) { __typename ... on Error { message } } }`, { id: ids.source }, 'checkSource');
    ids.entity = (await must(`mutation($s: ID!) { createEntity(input: { sourceId: $s, name: "People", kind: PERSON, from: { table: { schema: "wh", name: "people" } }, primaryKey: "id", identifiers: [{ type: EMAIL, column: "email" }] }) { __typename ... on CreateEntityPayload { entity { id } } ... on Error { message } } }`, { s: ids.source }, 'createEntity')).entity.id;
    ids.segment = (await must(`mutation($e: ID!) { createSegment(input: { entityId: $e, name: "Active", condition: { attribute: { path: "active", op: IS_TRUE } } }) { __typename ... on CreateSegmentPayload { segment { id } } ... on Error { message } } }`, { e: ids.entity }, 'createSegment')).segment.id;
    const dest = (name: string, type: string, c: Record<string, unknown>) =>
      must(`mutation($n: String!, $t: String!, $c: JSON!) { createDestination(input: { name: $n, type: $t, config: $c }) { __typename ... on CreateDestinationPayload { destination { id } } ... on Error { message } } }`, { n: name, t: type, c }, 'createDestination');
    ids.hook = (await dest('Hook', FAST_WEBHOOK, { url: hook.url, signingSecret: SIGNING_SECRET, batchSize: 20 })).destination.id;
    ids.table = (await dest('Table', 'postgres_table', { url: t.url, schema: 'out', table: 'members' })).destination.id;
    // The wrong secret is refused when the destination is created (its check meets a 401)…
    const bad = await gql(`mutation($c: JSON!) { createDestination(input: { name: "Bad hook", type: "${FAST_WEBHOOK}", config: $c }) { __typename ... on Error { message } } }`, { c: { url: hook.url, signingSecret: WRONG_SIGNING_SECRET, batchSize: 20 } });
    expect(bad.data?.createDestination?.__typename).toBe('SourceConnectionError');
    // …so it is stored directly, as if the receiver's secret had been rotated since.
    const stored = await services.db.prisma.destination.create({
      data: { workspaceId, name: 'Rotated hook', type: FAST_WEBHOOK, config: { url: hook.url, batchSize: 20 }, secretsEnc: services.secrets.seal(JSON.stringify({ signingSecret: WRONG_SIGNING_SECRET })) },
    });
    ids.badHook = Buffer.from(`Destination:${stored.id}`).toString('base64');
    // A token made through the API is in the response, and nowhere else.
    const created = await must(`mutation { createApiToken(input: { name: "partner", scopes: [READ], persistedOnly: true }) { __typename ... on CreateApiTokenPayload { created { token } } ... on Error { message } } }`, {}, 'createApiToken');
    tokens.push(created.created.token);
  }, 60_000);

  it('syncs run: one succeeds, one meets 500s, one meets 401s, one writes to a table; a subscriber watches over WebSocket', async () => {
    const sync = async (destinationId: string, name: string) =>
      (await must(`mutation($s: ID!, $d: ID!, $n: String!) { createAudienceSync(input: { segmentId: $s, destinationId: $d, audience: { target: CREATE_BY_NAME, name: $n }, mappings: [{ from: "score", to: "score" }], status: ACTIVE }) { __typename ... on CreateAudienceSyncPayload { audienceSync { id } } ... on Error { message } } }`, { s: ids.segment, d: destinationId, n: name }, 'createAudienceSync')).audienceSync.id as string;
    const hookSync = await sync(ids.hook, 'People');

    // A subscriber, authenticated by connectionParams, sees the runs finish.
    const wsToken = (await createApiToken(services.db.prisma, { workspaceId, name: 'ws', scopes: ['READ'] })).token;
    tokens.push(wsToken);
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { token: wsToken }, retryAttempts: 0 });
    const finished: string[] = [];
    const unsubscribe = client.subscribe<{ syncRunFinished: { status: string } }>(
      { query: 'subscription($id: ID!) { syncRunFinished(syncId: $id) { status } }', variables: { id: hookSync } },
      { next: (m) => m.data && finished.push(m.data.syncRunFinished.status), error: () => {}, complete: () => {} },
    );
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect((await runSync(hookSync)).status).toBe('SUCCEEDED');

      // The destination answers 500 to everything: the run fails after its retries.
      await t.db.pool.query('UPDATE wh.people SET score = score + 1 WHERE id <= 10');
      hook.faults.alwaysStatus = 500;
      const failed = await runSync(hookSync);
      hook.faults.alwaysStatus = undefined;
      expect(failed.status).toBe('FAILED');

      // One 401 (as for a rotated secret), then recovery.
      hook.faults.next({ status: 401, body: JSON.stringify({ error: 'signature does not match' }) }, 3);
      await t.db.pool.query('UPDATE wh.people SET score = score + 1 WHERE id <= 10');
      const unauthorized = await runSync(hookSync);
      expect(['FAILED', 'PARTIAL', 'SUCCEEDED']).toContain(unauthorized.status);
      await new Promise((r) => setTimeout(r, 300));
      expect(finished.length).toBeGreaterThanOrEqual(2);
    } finally {
      unsubscribe();
      await client.dispose();
    }

    // A destination whose secret is wrong: every request is refused with 401.
    const badSync = await sync(ids.badHook, 'People (bad secret)');
    expect((await runSync(badSync)).status).toBe('FAILED');

    // A source whose stored password has become wrong: the run fails to connect.
    const broken = (await must(`mutation($url: String!) { createSource(input: { name: "Broken", url: $url, plannerSchema: "broken_planner" }) { __typename ... on CreateSourcePayload { source { id } } ... on Error { message } } }`, { url: t.url }, 'createSource')).source.id as string;
    const brokenEntity = (await must(`mutation($s: ID!) { createEntity(input: { sourceId: $s, name: "People 2", kind: PERSON, from: { table: { schema: "wh", name: "people" } }, primaryKey: "id", identifiers: [{ type: EMAIL, column: "email" }] }) { __typename ... on CreateEntityPayload { entity { id } } ... on Error { message } } }`, { s: broken }, 'createEntity')).entity.id;
    const brokenSegment = (await must(`mutation($e: ID!) { createSegment(input: { entityId: $e, name: "Active 2", condition: { attribute: { path: "active", op: IS_TRUE } } }) { __typename ... on CreateSegmentPayload { segment { id } } ... on Error { message } } }`, { e: brokenEntity }, 'createSegment')).segment.id;
    const brokenSync = (await must(`mutation($s: ID!, $d: ID!) { createAudienceSync(input: { segmentId: $s, destinationId: $d, audience: { target: CREATE_BY_NAME, name: "Broken" }, status: ACTIVE }) { __typename ... on CreateAudienceSyncPayload { audienceSync { id } } ... on Error { message } } }`, { s: brokenSegment, d: ids.hook }, 'createAudienceSync')).audienceSync.id;
    await services.db.prisma.source.update({ where: { id: Buffer.from(broken, 'base64').toString().split(':')[1]! }, data: { connectionEnc: services.secrets.seal(withPassword(t.url, WRONG_PASSWORD)) } });
    const brokenRun = await runSync(brokenSync);
    if (inject('pgChecksPasswords')) expect(brokenRun.status).toBe('FAILED');

    // The PostgreSQL table connector opens its own connection with the password.
    const tableSync = await sync(ids.table, 'people');
    expect((await runSync(tableSync)).status).toBe('SUCCEEDED');
  }, 90_000);

  it('requests that fail: a bad token, a wrong scope, an unexpected error', async () => {
    const bad = await gql('{ viewer { workspace { name } } }', {}, BAD_TOKEN);
    expect(bad.status).toBe(401);
    const read = tokens[1]!; // persisted-only partner token
    const refused = await gql(`mutation($u: String!) { createSource(input: { name: "X", url: $u }) { __typename } }`, { u: t.url }, read);
    expect(refused.errors?.length).toBeGreaterThan(0);
    // A forged id (not a uuid) ends in an error the server did not expect
    // (masked for the client, logged in full for the operator).
    await gql('query($id: ID!) { source(id: $id) { id } }', { id: Buffer.from('Source:not-a-uuid').toString('base64') });
    // A source URL change that fails its check, with the password in the URL.
    await gql(`mutation($id: ID!, $url: String!) { updateSource(id: $id, input: { url: $url }) { __typename ... on Error { message } } }`, { id: ids.source, url: withPassword(t.url, WRONG_PASSWORD) });
  });

  it('no captured line holds a secret', async () => {
    // Give the workers a moment to log what they were doing.
    await new Promise((r) => setTimeout(r, 500));
    const secrets: [string, string][] = [
      ['the warehouse password', DB_PASSWORD],
      ['the warehouse password, URL-encoded', encodeURIComponent(DB_PASSWORD)],
      ['a wrong warehouse password', WRONG_PASSWORD],
      ['the webhook signing secret', SIGNING_SECRET],
      ['a wrong webhook signing secret', WRONG_SIGNING_SECRET],
      ['a rejected bearer token', BAD_TOKEN],
      ['ROSTER_SECRET_KEY (hex)', SECRET_KEY_HEX],
      ['ROSTER_SECRET_KEY (base64)', Buffer.from(SECRET_KEY_HEX, 'hex').toString('base64')],
      ...tokens.flatMap((tk, i): [string, string][] => [[`API token ${i + 1}`, tk], [`API token ${i + 1} without its prefix`, tk.replace(/^rst_/, '')]]),
    ];
    expect(DB_PASSWORD.length).toBeGreaterThan(3);
    expect(tokens.length).toBe(3);
    // The capture did capture: the work and the failures were logged.
    expect(lines.length).toBeGreaterThan(20);
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg?: string });
    expect(parsed.filter((l) => l.level >= 40 && l.msg === 'sync run failed').length).toBeGreaterThanOrEqual(3);

    // ROSTER_LOGS_DUMP=<file>: keep what was captured, to read it.
    if (process.env.ROSTER_LOGS_DUMP) await writeFile(process.env.ROSTER_LOGS_DUMP, `${lines.join('\n')}\n`);
    const leaks = secrets.flatMap(([what, secret]) =>
      lines.filter((line) => line.includes(secret)).map((line) => `${what} in: ${line.length > 400 ? `${line.slice(0, 400)}…` : line}`),
    );
    expect(leaks).toEqual([]);
  });
});
