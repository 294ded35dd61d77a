// Events across processes: two API processes and one worker process, as
// separate `roster` processes on one database. A subscriber connected to the
// second API process receives the progress and the final event of a run that
// the worker executes after a trigger sent to the first; a subscriber from
// another workspace receives nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { ok, useTestApp } from '../support/app.js';
import { startFakeWebhook, type FakeWebhook } from '../support/fake-webhook.js';

const t = await useTestApp();
const ROOT = new URL('../../', import.meta.url).pathname;
const SECRET = 'whsec_multi';
const children: ChildProcess[] = [];
let hook: FakeWebhook;
let tokenA = '';
let tokenB = '';
let syncId = '';

function roster(command: 'serve' | 'worker'): Promise<{ child: ChildProcess; url?: string }> {
  const child = spawn(process.execPath, ['bin/roster.js', command], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: t.url, ROSTER_SECRET_KEY: t.services.config.secretKey!.toString('hex'), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`roster ${command} did not start:\n${out}`)), 60_000);
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const url = /GraphiQL:\s+(\S+)/.exec(out)?.[1];
      if (command === 'serve' && url) {
        clearTimeout(timer);
        resolve({ child, url });
      }
      if (command === 'worker' && /Roster is running/.test(out)) {
        clearTimeout(timer);
        resolve({ child });
      }
    });
    child.once('exit', (code) => reject(new Error(`roster ${command} exited with ${code}:\n${out}`)));
  });
}

beforeAll(async () => {
  const a = await t.workspace('alpha');
  const b = await t.workspace('beta');
  tokenA = a.token;
  tokenB = b.token;
  await t.db.pool.query(`CREATE SCHEMA wh; CREATE TABLE wh.people (id bigint PRIMARY KEY, email text NOT NULL);
    INSERT INTO wh.people SELECT g, 'p' || g || '@example.test' FROM generate_series(1, 400) g;`);
  hook = await startFakeWebhook({ secret: SECRET, maxRows: 20 });
  const src = ok(await a.gql(`mutation($url: String!) { createSource(input: { name: "WH", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url }));
  const ent = ok(await a.gql(`mutation($s: ID!) { createEntity(input: { sourceId: $s, name: "People", kind: PERSON, from: { table: { schema: "wh", name: "people" } }, primaryKey: "id", identifiers: [{ type: EMAIL, column: "email" }] }) { ... on CreateEntityPayload { entity { id } } } }`, { s: src.createSource.source.id }));
  const dest = ok(await a.gql(`mutation($c: JSON!) { createDestination(input: { name: "Hook", type: "webhook", config: $c }) { ... on CreateDestinationPayload { destination { id } } } }`, { c: { url: hook.url, signingSecret: SECRET, batchSize: 20 } }));
  const sync = ok(await a.gql(`mutation($e: ID!, $d: ID!) { createAudienceSync(input: { entityId: $e, destinationId: $d, audience: { target: CREATE_BY_NAME, name: "All people" }, status: ACTIVE }) { ... on CreateAudienceSyncPayload { audienceSync { id } } ... on Error { message } } }`, { e: ent.createEntity.entity.id, d: dest.createDestination.destination.id }));
  syncId = sync.createAudienceSync.audienceSync.id;
}, 60_000);

afterAll(async () => {
  await Promise.all(
    children
      .filter((c) => c.exitCode === null)
      .map((c) => new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
      })),
  );
  await hook.close();
});

describe('two API processes and a worker process', () => {
  it('a subscriber on the second API sees the run executed by the worker; another workspace sees nothing', async () => {
    const [api1, api2] = await Promise.all([roster('serve'), roster('serve')]);
    await roster('worker');
    const ws = (token: string) => createClient({ url: api2.url!.replace('http', 'ws'), webSocketImpl: WebSocket, connectionParams: { token }, retryAttempts: 0 });
    const mine = ws(tokenA);
    const theirs = ws(tokenB);
    const progress: any[] = [];
    const finished = new Promise<any>((resolve, reject) => {
      mine.subscribe({ query: `subscription($id: ID!) { syncRunFinished(syncId: $id) { status delivered { adds } rejected run { id } } }`, variables: { id: syncId } }, { next: (v) => resolve(v.data?.syncRunFinished), error: reject, complete: () => {} });
    });
    mine.subscribe({ query: `subscription($id: ID!) { syncRunProgress(syncId: $id) { phase percent done { adds } planned { adds } rowsPerSecond etaSeconds } }`, variables: { id: syncId } }, { next: (v) => progress.push(v.data?.syncRunProgress), error: () => {}, complete: () => {} });
    const foreign: unknown[] = [];
    theirs.subscribe({ query: `subscription($id: ID!) { syncRunProgress(syncId: $id) { percent } }`, variables: { id: syncId } }, { next: (v) => foreign.push(v), error: (e) => foreign.push({ error: e }), complete: () => {} });
    await new Promise((r) => setTimeout(r, 500));

    // The trigger goes to the first API process.
    const res = await fetch(api1.url!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenA}` },
      body: JSON.stringify({ query: 'mutation($id: ID!) { triggerAudienceSync(id: $id) { __typename ... on TriggerAudienceSyncPayload { run { id } } } }', variables: { id: syncId } }),
    });
    const triggered = ((await res.json()) as any).data.triggerAudienceSync;
    expect(triggered.__typename).toBe('TriggerAudienceSyncPayload');

    const final = await finished;
    expect(final).toMatchObject({ status: 'SUCCEEDED', delivered: { adds: 400 }, rejected: 0, run: { id: triggered.run.id } });
    expect(progress.length).toBeGreaterThan(0);
    // Phases in order: planning first, then delivering, then the final accounting.
    expect(progress[0].phase).toBe('PLANNING');
    expect(progress.map((p) => p.phase)).toContain('DELIVERING');
    const last = progress.at(-1);
    expect(last.percent).toBe(100);
    expect(last.done.adds).toBe(400);
    expect(progress.map((p) => p.percent)).toEqual([...progress.map((p) => p.percent)].sort((x, y) => x - y));
    expect(hook.members('All people')).toHaveLength(400);

    // The other workspace's subscription was refused, and it received no event.
    expect(foreign).toHaveLength(1);
    expect(JSON.stringify(foreign[0])).toMatch(/not found/);
    await mine.dispose();
    await theirs.dispose();
  }, 120_000);
});
