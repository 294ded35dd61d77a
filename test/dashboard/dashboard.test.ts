// The live dashboard: how it is served (plain HTTP), and the page itself in
// headless Chromium against a real app with pg-boss workers and the
// PostgreSQL pub/sub: sign in, run a sync, watch the progress bar move to 100
// over graphql-ws, and check the final counts and run history against the API.
//
// Chromium is Debian's (`apt-get install -y chromium`, done by the CI set-up),
// at /usr/bin/chromium or $ROSTER_CHROMIUM. It is never downloaded: without it
// the browser tests are skipped, with a message saying why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ok, useTestApp, type Gql } from '../support/app.js';
import { startFakeWebhook, type FakeWebhook } from '../support/fake-webhook.js';
import { dashboardHandler, DASHBOARD_CSP } from '../../src/dashboard/serve.js';

const chromiumPath = process.env.ROSTER_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
if (!haveChromium) {
  console.warn(`dashboard browser tests skipped: no Chromium at ${chromiumPath} (install it with "apt-get install -y chromium", or set ROSTER_CHROMIUM to a Chromium binary)`);
}

const t = await useTestApp({ jobs: true });
const SECRET = 'whsec_dashboard_test_secret';
const MEMBERS = 2_000;
const BATCH = 20;
/** Added to every webhook request, so that a run lasts a few seconds and progress events arrive during it. */
const DELIVERY_DELAY_MS = 25;
const resultsDir = fileURLToPath(new URL('../../test-results/', import.meta.url));

let gql: Gql;
let token: string;
let workspaceId: string;
let hook: FakeWebhook;
let proxy: http.Server;
let base: string;
let syncId: string;

/**
 * A pass-through in front of the fake webhook that holds each request for a
 * moment: the fake answers at once, which would make a run too quick to watch.
 * Body and signature headers are forwarded unchanged.
 */
async function startDelayProxy(target: string, delayMs: number): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        await new Promise((r) => setTimeout(r, delayMs));
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) {
          if (typeof v === 'string' && !['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(k)) headers[k] = v;
        }
        const upstream = await fetch(target, { method: req.method ?? 'POST', headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
        const out: Record<string, string> = { 'content-type': upstream.headers.get('content-type') ?? 'application/json' };
        const retryAfter = upstream.headers.get('retry-after');
        if (retryAfter) out['retry-after'] = retryAfter;
        res.writeHead(upstream.status, out);
        res.end(Buffer.from(await upstream.arrayBuffer()));
      } catch (err) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: String(err) }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/roster` };
}

/** GET (or another method) with the path sent exactly as given: no client-side normalisation of "..". */
function rawRequest(path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  const ws = await t.workspace('acme');
  gql = ws.gql;
  token = ws.token;
  workspaceId = ws.workspaceId;

  // The warehouse: people, all active, in the file's own database.
  await t.db.pool.query(`CREATE SCHEMA wh; CREATE TABLE wh.people (id bigint PRIMARY KEY, email text NOT NULL, score integer NOT NULL, active boolean NOT NULL);
    INSERT INTO wh.people SELECT g, 'p' || g || '@example.test', g % 100, true FROM generate_series(1, ${MEMBERS}) g;`);
  hook = await startFakeWebhook({ secret: SECRET, maxRows: BATCH });
  const delayed = await startDelayProxy(hook.url, DELIVERY_DELAY_MS);
  proxy = delayed.server;

  const src = ok(await gql(`mutation($url: String!) { createSource(input: { name: "Warehouse", url: $url }) { __typename ... on CreateSourcePayload { source { id } } ... on Error { message } } }`, { url: t.url }));
  const ent = ok(await gql(`mutation($s: ID!) { createEntity(input: { sourceId: $s, name: "People", kind: PERSON, from: { table: { schema: "wh", name: "people" } }, primaryKey: "id", identifiers: [{ type: EMAIL, column: "email" }] }) { __typename ... on CreateEntityPayload { entity { id } } ... on Error { message } } }`, { s: src.createSource.source.id }));
  const seg = ok(await gql(`mutation($e: ID!) { createSegment(input: { entityId: $e, name: "Active people", condition: { attribute: { path: "active", op: IS_TRUE } } }) { __typename ... on CreateSegmentPayload { segment { id } } ... on Error { message } } }`, { e: ent.createEntity.entity.id }));
  const dest = ok(await gql(`mutation($config: JSON!) { createDestination(input: { name: "CRM hook", type: "webhook", config: $config }) { __typename ... on CreateDestinationPayload { destination { id } } ... on Error { message } } }`, { config: { url: delayed.url, signingSecret: SECRET, batchSize: BATCH } }));
  expect(dest.createDestination.__typename, JSON.stringify(dest)).toBe('CreateDestinationPayload');
  const sync = ok(await gql(`mutation($input: CreateAudienceSyncInput!) { createAudienceSync(input: $input) { __typename ... on CreateAudienceSyncPayload { audienceSync { id } } ... on Error { message } } }`, {
    input: { segmentId: seg.createSegment.segment.id, destinationId: dest.createDestination.destination.id, audience: { target: 'CREATE_BY_NAME', name: 'Active people' }, mappings: [{ from: 'score', to: 'score' }], status: 'ACTIVE' },
  }));
  expect(sync.createAudienceSync.__typename, JSON.stringify(sync)).toBe('CreateAudienceSyncPayload');
  syncId = sync.createAudienceSync.audienceSync.id;

  // One server for the page, the API and graphql-ws. Until src/app.ts puts
  // the dashboard in front of yoga itself, do here exactly what it will do.
  const server = t.app.server;
  const listeners = server.listeners('request');
  if (listeners.length === 1 && listeners[0] === t.app.yoga) {
    const dashboard = dashboardHandler();
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (!dashboard(req, res)) void t.app.yoga(req, res);
    });
  }
  const { port } = await t.app.start(0, '127.0.0.1');
  base = `http://127.0.0.1:${port}`;

  return async () => {
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    await hook.close();
  };
}, 120_000);

describe('serving the dashboard', () => {
  it('serves the page and its files with their content types, no-cache and a strict CSP', async () => {
    const expected: [string, RegExp][] = [
      ['/', /^text\/html/],
      ['/dashboard/app.js', /^text\/javascript/],
      ['/dashboard/documents.js', /^text\/javascript/],
      ['/dashboard/style.css', /^text\/css/],
      ['/dashboard/vendor/graphql-ws.js', /^text\/javascript/],
    ];
    for (const [path, type] of expected) {
      const res = await rawRequest(path);
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type'], path).toMatch(type);
      expect(res.headers['cache-control'], path).toBe('no-cache');
      expect(res.headers['content-security-policy'], path).toBe(DASHBOARD_CSP);
      expect(res.headers['x-content-type-options'], path).toBe('nosniff');
      expect(res.body.length, path).toBeGreaterThan(100);
    }
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).toContain("connect-src 'self' ws: wss:");
    expect(DASHBOARD_CSP).not.toContain('unsafe-inline');
  });

  it('has no inline script or style and no external resource', async () => {
    const html = (await rawRequest('/')).body;
    const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [tag, body] of scripts) {
      expect(tag).toMatch(/\bsrc="\/dashboard\//);
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
    const css = (await rawRequest('/dashboard/style.css')).body;
    expect(css).not.toMatch(/@import|url\(/i);
  });

  it('serves graphql-ws as a self-contained ES module (no bare imports) that exports createClient', async () => {
    const res = await rawRequest('/dashboard/vendor/graphql-ws.js');
    expect(res.body).not.toMatch(/^\s*import\s/m);
    const mod = (await import(`data:text/javascript;base64,${Buffer.from(res.body).toString('base64')}`)) as { createClient?: unknown };
    expect(typeof mod.createClient).toBe('function');
  });

  it('answers a conditional request with 304 and HEAD without a body', async () => {
    const first = await rawRequest('/dashboard/app.js');
    const again = await rawRequest('/dashboard/app.js', { headers: { 'if-none-match': String(first.headers.etag) } });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    const head = await rawRequest('/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('leaves everything else to yoga, and never serves a file named by the URL', async () => {
    for (const path of ['/dashboard/../package.json', '/dashboard/%2e%2e/%2e%2e/package.json', '/dashboard/vendor/../../../package.json', '/dashboard/', '/dashboard/app.js/..', '/index.html', '/..%2fpackage.json', '/dashboard/serve.ts']) {
      const res = await rawRequest(path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('"name": "roster"');
    }
    // POST / and the API itself go to yoga.
    const post = await rawRequest('/', { method: 'POST' });
    expect(post.headers['content-security-policy']).toBeUndefined();
    const api = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: '{ viewer { workspace { slug } } }' }) });
    expect(((await api.json()) as { data: { viewer: { workspace: { slug: string } } } }).data.viewer.workspace.slug).toBe('acme');

    const handler = dashboardHandler();
    const untouched = { writeHead: () => { throw new Error('wrote a response'); }, end: () => { throw new Error('wrote a response'); } } as unknown as ServerResponse;
    expect(handler({ method: 'POST', url: '/', headers: {} } as IncomingMessage, untouched)).toBe(false);
    expect(handler({ method: 'GET', url: '/graphql', headers: {} } as IncomingMessage, untouched)).toBe(false);
  });
});

describe('the dashboard in Chromium', () => {
  let context: BrowserContext | undefined;
  let userDataDir: string | undefined;

  beforeAll(async () => {
    if (!haveChromium) return;
    userDataDir = mkdtempSync(join(tmpdir(), 'roster-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 860 },
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  /** A new tab, recording page errors and console errors (CSP violations are reported there). */
  async function openPage(): Promise<{ page: Page; problems: string[] }> {
    const page = await context!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    await page.goto(`${base}/`);
    return { page, problems };
  }

  /** A wait that, when it fails, also says what the page showed: its messages and errors. */
  async function explained(page: Page, problems: string[], wait: Promise<unknown>): Promise<void> {
    try {
      await wait;
    } catch (err) {
      const shown = await page
        .locator('[data-testid="notice"]:visible, [data-testid="auth-error"]:visible, [data-testid="sync-message"]:visible')
        .allTextContents()
        .catch(() => []);
      throw new Error(`${err instanceof Error ? err.message : String(err)}\npage messages: ${JSON.stringify(shown)}\npage problems: ${JSON.stringify(problems)}`);
    }
  }

  it.skipIf(!haveChromium)('shows the server’s message for a wrong token, and keeps nothing', async () => {
    const { page, problems } = await openPage();
    const wrong = `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const server = await t.gql(wrong, '{ viewer { scopes } }');
    const message = server.errors?.[0]?.message ?? '';
    expect(message).toMatch(/token/i);

    await page.getByTestId('token-input').fill(wrong);
    await page.getByTestId('token-save').click();
    const error = page.getByTestId('auth-error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toBe(message);
    expect(await page.getByTestId('token-input').getAttribute('aria-invalid')).toBe('true');
    mkdirSync(resultsDir, { recursive: true });
    await page.screenshot({ path: join(resultsDir, 'dashboard-sign-in.png') });
    expect(await page.getByTestId('syncs').isVisible()).toBe(false);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    // The only console error is the browser's note about the 401 itself.
    expect(problems.filter((p) => !/401/.test(p))).toEqual([]);
    await page.close();
  });

  it.skipIf(!haveChromium)('signs in, runs a sync and shows it move live, with final counts that match the API', async () => {
    const { page, problems } = await openPage();
    await page.getByTestId('token-input').fill(token);
    await page.getByTestId('token-save').click();

    const row = page.locator(`[data-testid="sync-row"][data-sync-id="${syncId}"]`);
    await explained(page, problems, row.waitFor({ state: 'visible' }));
    expect(await row.getByTestId('sync-segment').textContent()).toBe('Active people');
    expect(await row.getByTestId('sync-destination').textContent()).toBe('CRM hook');
    expect(await row.getByTestId('destination-type').textContent()).toBe('webhook');
    expect(await row.getByTestId('sync-status').textContent()).toBe('Active');
    expect(await page.getByTestId('workspace-name').textContent()).toBe('acme');
    // The token survives a reload (localStorage), and the socket is up before we run.
    await page.reload();
    await row.waitFor({ state: 'visible' });
    await page.locator('[data-testid="live-status"][data-state="connected"]').waitFor();

    // Record every value the progress bar takes, from inside the page.
    await page.evaluate(`(() => {
      const bar = document.querySelector('[data-sync-id="${syncId}"] [data-testid="progress-bar"]');
      window.__progress = [];
      new MutationObserver(() => window.__progress.push(Number(bar.getAttribute('aria-valuenow'))))
        .observe(bar, { attributes: true, attributeFilter: ['aria-valuenow'] });
    })()`);

    await row.getByTestId('run-button').click();
    const final = row.getByTestId('final-counts');
    await explained(page, problems, final.waitFor({ state: 'visible', timeout: 90_000 }));

    const bar = row.getByTestId('progress-bar');
    expect(await bar.getAttribute('aria-valuenow')).toBe('100');
    const seen = (await page.evaluate('window.__progress')) as number[];
    // It moved: values strictly between 0 and 100 arrived during the run, never going back.
    expect(seen.some((v) => v > 0 && v < 100), `progress values: ${seen.join(', ')}`).toBe(true);
    const fromStart = seen.slice(seen.lastIndexOf(0));
    for (let i = 1; i < fromStart.length; i++) expect(fromStart[i]!).toBeGreaterThanOrEqual(fromStart[i - 1]!);
    expect(fromStart.at(-1)).toBe(100);

    // The final counts are the run's, as the API reports them.
    const { audienceSync } = ok(await gql(`query($id: ID!) { audienceSync(id: $id) { lastRun { id status delivered { adds removes updates } rejected } } }`, { id: syncId }));
    const run = audienceSync.lastRun;
    expect(run.status).toBe('SUCCEEDED');
    expect(run.delivered).toEqual({ adds: MEMBERS, removes: 0, updates: 0 });
    expect(await final.getAttribute('data-run-id')).toBe(run.id);
    expect(await final.getAttribute('data-status')).toBe(run.status);
    expect(Number(await final.getAttribute('data-adds'))).toBe(run.delivered.adds);
    expect(Number(await final.getAttribute('data-removes'))).toBe(run.delivered.removes);
    expect(Number(await final.getAttribute('data-updates'))).toBe(run.delivered.updates);
    expect(Number(await final.getAttribute('data-rejected'))).toBe(run.rejected);
    expect(await final.textContent()).toContain(new Intl.NumberFormat('en-US').format(MEMBERS));
    // And what the destination holds.
    expect([...hook.state.values()].reduce((n, members) => n + members.size, 0)).toBe(MEMBERS);

    // The run history shows the new run, and the chart has a point for it.
    const historyRow = row.locator(`[data-testid="run-history"] [data-testid="run-row"][data-run-id="${run.id}"]`);
    await historyRow.waitFor({ state: 'visible' });
    expect(await historyRow.getAttribute('data-status')).toBe('SUCCEEDED');
    expect(await historyRow.getByTestId('run-delivered').textContent()).toContain(new Intl.NumberFormat('en-US').format(MEMBERS));
    await row.locator('[data-testid="trend-chart"] svg circle').first().waitFor();
    expect(await row.getByTestId('trend-title').textContent()).toBe('Delivered rows per run');
    expect(await row.getByTestId('segment-size').textContent()).toContain('2,000');
    expect(await row.getByTestId('run-button').isEnabled()).toBe(true);

    mkdirSync(resultsDir, { recursive: true });
    await page.screenshot({ path: join(resultsDir, 'dashboard.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(resultsDir, 'dashboard-narrow.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 860 });

    // A match rate reported by the destination replaces the stand-in series, live.
    const rawSyncId = Buffer.from(syncId, 'base64').toString('utf8').split(':')[1]!;
    t.services.pubsub!.publish('matchRateUpdated', rawSyncId, { workspaceId, syncId: rawSyncId, audienceId: 'aud_1', audienceName: 'Demo', matched: 1_500, uploaded: MEMBERS, rate: 1_500 / MEMBERS, sampledAt: new Date().toISOString() });
    await row.locator('[data-testid="trend-title"]', { hasText: 'Match rate' }).waitFor();
    expect(await row.locator('[data-testid="trend-chart"] svg circle').getAttribute('data-value')).toBe('0.75');

    // Stored samples (the history, not only the latest) are charted on load, before any live event.
    for (const [hoursAgo, rate] of [[2, 0.6], [1, 0.7]] as const) {
      await t.services.db.prisma.matchRateSample.create({ data: { syncId: rawSyncId, audienceExternalId: 'aud_1', matched: Math.round(rate * MEMBERS), uploaded: MEMBERS, rate, sampledAt: new Date(Date.now() - hoursAgo * 3_600_000) } });
    }
    await page.reload();
    await row.locator('[data-testid="trend-title"]', { hasText: 'Match rate' }).waitFor();
    await row.locator('[data-testid="trend-chart"] svg circle[data-value="0.6"]').waitFor();
    expect(await row.locator('[data-testid="trend-chart"] svg circle').evaluateAll((els) => els.map((e) => e.getAttribute('data-value')))).toEqual(['0.6', '0.7']);

    // No script errors and no CSP violations along the way.
    expect(problems).toEqual([]);

    // Sign out forgets the token.
    await page.getByTestId('sign-out').click();
    await page.getByTestId('token-input').waitFor({ state: 'visible' });
    expect(await page.evaluate('localStorage.length')).toBe(0);
    await page.reload();
    await page.getByTestId('token-input').waitFor({ state: 'visible' });
    expect(await page.getByTestId('syncs').isVisible()).toBe(false);
    await page.close();
  }, 120_000);
});
