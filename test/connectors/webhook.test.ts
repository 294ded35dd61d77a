// The webhook connector against a receiver that enforces its contract
// (test/support/fake-webhook.ts): signatures, payloads, batch limits,
// per-row rejections, and transient failures retried by the HTTP helper.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWebhookConnector, webhookSignature, type WebhookConfig } from '../../src/connectors/webhook/index.js';
import { ConnectorError, type Audience, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { createLogger } from '../../src/logger.js';
import { startFakeWebhook, type FakeWebhook } from '../support/fake-webhook.js';

const SECRET = 'whsec_test_5ZpQ9xTq2Lm7';
const connector = createWebhookConnector({ timeoutMs: 300, minBackoffMs: 10, maxBackoffMs: 50, retries: 3 });

let fake: FakeWebhook;
const logs: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });

beforeEach(async () => {
  fake = await startFakeWebhook({ secret: SECRET, maxRows: 1_000 });
  logs.length = 0;
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<WebhookConfig> = {}, signal = new AbortController().signal): ConnectorContext<WebhookConfig> {
  return { destinationId: 'dest_1', config: { url: fake.url, signingSecret: SECRET, batchSize: 500, ...overrides }, logger, signal };
}

function row(key: string, fields: Record<string, unknown> = {}, email: string | null = `${key}@example.com`): SyncRow {
  return { key, fields, identifiers: { EMAIL: email, PHONE: null } };
}

const rows = (...keys: string[]) => keys.map((k) => row(k, { plan: 'pro' }));

async function audience(name = 'VIP customers'): Promise<Audience> {
  return connector.createAudience!(ctx(), { name, type: null });
}

describe('webhook connector', () => {
  it('declares its spec', () => {
    expect(connector.type).toBe('webhook');
    expect(connector.spec.audiences).toEqual({ canList: false, canCreate: true, types: [], defaultType: null });
    expect(connector.spec.supportsUpdate).toBe(true);
    expect(connector.spec.identifiers.every((i) => !i.hashed)).toBe(true);
    expect(connector.spec.identifiers.map((i) => i.type)).toContain('EMAIL');
  });

  it('sends two requests at once unless configured otherwise, from 1 to 8', () => {
    const base = { url: 'https://example.test/hook', signingSecret: SECRET };
    expect(connector.concurrencyFor!(base)).toBe(2);
    expect(connector.concurrencyFor!({ ...base, concurrency: 1 })).toBe(1);
    expect(connector.validateConfig!({ ...base, concurrency: 8 })).toEqual([]);
    expect(connector.validateConfig!({ ...base, concurrency: 9 })).toEqual([{ path: ['concurrency'], message: 'expected an integer from 1 to 8, but got 9' }]);
    expect(connector.validateConfig!({ ...base, concurrency: 0 })).toEqual([{ path: ['concurrency'], message: 'expected an integer from 1 to 8, but got 0' }]);
  });

  it('check() sends a signed check operation', async () => {
    await connector.check(ctx());
    expect(fake.received).toHaveLength(1);
    expect(fake.received[0]).toMatchObject({ operation: 'check', status: 200 });
    expect(JSON.parse(fake.received[0]!.rawBody)).toEqual({ operation: 'check' });
  });

  it('check() fails, not retried, when the receiver refuses the signature', async () => {
    const err = await connector.check(ctx({ signingSecret: 'whsec_wrong_secret_000' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('HTTP_401');
    expect((err as ConnectorError).retryable).toBe(false);
    expect((err as ConnectorError).message).toContain('POST /hooks/roster');
    expect((err as ConnectorError).message).not.toContain('whsec_wrong_secret_000');
    expect(fake.received).toHaveLength(1);
    expect(fake.received[0]!.refused).toBe('signature does not match');
  });

  it('creates audiences without a call; their id is their name', async () => {
    expect(await audience('Churn risk')).toEqual({ id: 'Churn risk', name: 'Churn risk', type: null });
    expect(fake.received).toHaveLength(0);
  });

  it('add, update and remove reach the receiver, signed, in the documented shape', async () => {
    const a = await audience();
    expect(await connector.add(ctx(), a, [row('u1', { plan: 'pro', score: 3 }), row('u2', { plan: 'free' })])).toEqual({ rejected: [] });
    expect(await connector.update!(ctx(), a, [row('u2', { plan: 'pro' }, 'new@example.com')])).toEqual({ rejected: [] });
    expect(fake.members('VIP customers')).toEqual(['u1', 'u2']);
    expect(fake.state.get('VIP customers')!.get('u2')).toEqual({ fields: { plan: 'pro' }, identifiers: { EMAIL: 'new@example.com', PHONE: null } });
    expect(await connector.remove(ctx(), a, [row('u1')])).toEqual({ rejected: [] });
    expect(fake.members('VIP customers')).toEqual(['u2']);

    expect(fake.received.map((r) => [r.operation, r.status, r.keys])).toEqual([
      ['add', 200, ['u1', 'u2']],
      ['update', 200, ['u2']],
      ['remove', 200, ['u1']],
    ]);
    const first = fake.received[0]!;
    expect(JSON.parse(first.rawBody)).toEqual({
      operation: 'add',
      audience: { id: 'VIP customers', name: 'VIP customers' },
      rows: [
        { key: 'u1', fields: { plan: 'pro', score: 3 }, identifiers: { EMAIL: 'u1@example.com', PHONE: null } },
        { key: 'u2', fields: { plan: 'free' }, identifiers: { EMAIL: 'u2@example.com', PHONE: null } },
      ],
    });
    // The documented scheme, recomputed here from the raw body.
    const ts = first.headers['x-roster-timestamp'] as string;
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(10);
    expect(first.headers['x-roster-signature']).toBe(webhookSignature(SECRET, ts, first.rawBody));
    expect(first.headers['content-type']).toBe('application/json');
  });

  it('splits a call into requests of the configured batch size', async () => {
    const small = await startFakeWebhook({ secret: SECRET, maxRows: 2 });
    try {
      const c: ConnectorContext<WebhookConfig> = { ...ctx(), config: { url: small.url, signingSecret: SECRET, batchSize: 2 } };
      await connector.add(c, { id: 'a', name: 'a' }, rows('k1', 'k2', 'k3', 'k4', 'k5'));
      expect(small.received.map((r) => r.keys)).toEqual([['k1', 'k2'], ['k3', 'k4'], ['k5']]);
      expect(small.members('a')).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
      // The fake refuses what is above its limit.
      const err = await connector.add({ ...c, config: { ...c.config, batchSize: 3 } }, { id: 'a', name: 'a' }, rows('x', 'y', 'z')).catch((e: unknown) => e);
      expect((err as ConnectorError).code).toBe('HTTP_400');
      expect((err as ConnectorError).message).toContain('exceeds the maximum of 2');
    } finally {
      await small.close();
    }
  });

  it('returns per-row rejections, which the receiver did not apply', async () => {
    const a = await audience();
    fake.faults.when((r) => r.operation === 'add', { rejectKeys: ['bad1', 'bad2'], rejectMessage: 'invalid email', rejectCode: 'E_EMAIL' });
    const result = await connector.add(ctx(), a, rows('ok1', 'bad1', 'ok2', 'bad2'));
    expect(result.rejected).toEqual([
      { key: 'bad1', message: 'invalid email', code: 'E_EMAIL' },
      { key: 'bad2', message: 'invalid email', code: 'E_EMAIL' },
    ]);
    expect(fake.members('VIP customers')).toEqual(['ok1', 'ok2']);
  });

  it('ignores rejected keys that were not in the batch, with a warning', async () => {
    const a = await audience();
    fake.faults.next({ rejectKeys: ['k2'], extraRejected: [{ key: 'ghost', message: 'who?' }, { key: 'k2', message: 'duplicate entry' }] });
    const result = await connector.add(ctx(), a, rows('k1', 'k2'));
    expect(result.rejected).toEqual([{ key: 'k2', message: 'rejected by the fake' }]);
    expect(logs.some((l) => l.includes('not in the batch'))).toBe(true);
  });

  it('fails the call when the rejected list is malformed', async () => {
    const a = await audience();
    fake.faults.next({ status: 200, body: '{"rejected":"everything"}' });
    const err = await connector.add(ctx(), a, rows('k1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('INVALID_RESPONSE');
    expect((err as ConnectorError).message).toContain('expected "rejected" to be a list');
  });

  it('accepts a 2xx with an empty or non-JSON body as all delivered', async () => {
    const a = await audience();
    fake.faults.next({ status: 204, body: '' });
    expect(await connector.add(ctx(), a, rows('k1'))).toEqual({ rejected: [] });
    fake.faults.next({ status: 200, body: 'OK' });
    expect(await connector.add(ctx(), a, rows('k2'))).toEqual({ rejected: [] });
  });

  it('retries 429 (Retry-After), 500, a timeout and a dropped connection, then succeeds', async () => {
    const a = await audience();
    fake.faults.at(1, { status: 429, retryAfter: 1 });
    fake.faults.at(2, { status: 500 });
    fake.faults.at(3, { hang: true });
    fake.faults.at(4, { drop: true });
    const patient = createWebhookConnector({ timeoutMs: 300, minBackoffMs: 10, maxBackoffMs: 50, retries: 5 });
    const result = await patient.add(ctx(), a, rows('r1', 'r2'));
    expect(result).toEqual({ rejected: [] });
    expect(fake.received.map((r) => r.fault ?? r.status)).toEqual(['status', 'status', 'hang', 'drop', 200]);
    expect(fake.received[1]!.at - fake.received[0]!.at).toBeGreaterThanOrEqual(990);
    expect(fake.received[3]!.at - fake.received[2]!.at).toBeGreaterThanOrEqual(290);
    expect(fake.members('VIP customers')).toEqual(['r1', 'r2']);
    // Every attempt carried a valid signature of its own.
    for (const r of fake.received) {
      expect(r.headers['x-roster-signature']).toBe(webhookSignature(SECRET, r.headers['x-roster-timestamp'] as string, r.rawBody));
    }
  });

  it('gives up with a retryable error when the receiver keeps failing', async () => {
    const a = await audience();
    fake.faults.when(() => true, { status: 503 });
    const err = await connector.add(ctx(), a, rows('k1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('HTTP_503');
    expect((err as ConnectorError).retryable).toBe(true);
    expect(fake.received).toHaveLength(4);
    expect(fake.members('VIP customers')).toEqual([]);
  });

  it('stops when the run is cancelled', async () => {
    const a = await audience();
    fake.faults.next({ hang: true });
    const ac = new AbortController();
    const slow = createWebhookConnector({ timeoutMs: 30_000 });
    setTimeout(() => ac.abort(), 100);
    const err = await slow.add(ctx({}, ac.signal), a, rows('k1')).catch((e: unknown) => e);
    expect((err as ConnectorError).code).toBe('ABORTED');
  });

  it('never logs the signing secret', async () => {
    const a = await audience();
    fake.faults.at(1, { status: 500 });
    await connector.add(ctx(), a, rows('k1'));
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toContain(SECRET);
  });
});

describe('the fake receiver', () => {
  it('has standing knobs: rejectKeys, failNext, alwaysStatus, accepted and onAccepted', async () => {
    const a = await audience('knobs');
    const accepted: number[] = [];
    fake.onAccepted = (r) => accepted.push(r.n);
    fake.faults.rejectKeys = new Map([['k2', { message: 'invalid email', code: 'E_EMAIL' }]]);
    fake.faults.failNext = [{ status: 429, retryAfterSeconds: 0 }, { status: 500 }];
    expect(await connector.add(ctx(), a, rows('k1', 'k2'))).toEqual({ rejected: [{ key: 'k2', message: 'invalid email', code: 'E_EMAIL' }] });
    expect(fake.received.map((r) => [r.status, r.accepted])).toEqual([
      [429, false],
      [500, false],
      [200, true],
    ]);
    expect(accepted).toEqual([3]);
    fake.faults.rejectKeys = new Set(['k1']);
    fake.faults.rejectMessage = 'blocked';
    expect((await connector.add(ctx(), a, rows('k1'))).rejected).toEqual([{ key: 'k1', message: 'blocked' }]);
    fake.faults.alwaysStatus = 503;
    expect(((await connector.add(ctx(), a, rows('k3')).catch((e: unknown) => e)) as ConnectorError).code).toBe('HTTP_503');
    fake.faults.clear();
    await connector.add(ctx(), a, rows('k3'));
    expect(fake.members('knobs')).toEqual(['k1', 'k3']);
  });

  const post = (body: string, headers: Record<string, string>) =>
    fetch(fake.url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  it('refuses missing signatures, stale timestamps and malformed JSON', async () => {
    const body = JSON.stringify({ operation: 'add', audience: { id: 'a', name: 'a' }, rows: [] });
    expect((await post(body, {})).status).toBe(401);
    const stale = Math.floor(Date.now() / 1000) - 301;
    expect((await post(body, { 'x-roster-timestamp': String(stale), 'x-roster-signature': webhookSignature(SECRET, stale, body) })).status).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    const bad = '{"operation":';
    expect((await post(bad, { 'x-roster-timestamp': String(now), 'x-roster-signature': webhookSignature(SECRET, now, bad) })).status).toBe(400);
    const wrongShape = JSON.stringify({ operation: 'add', audience: { id: 'a', name: 'a' }, rows: [{ key: 1 }] });
    expect((await post(wrongShape, { 'x-roster-timestamp': String(now), 'x-roster-signature': webhookSignature(SECRET, now, wrongShape) })).status).toBe(400);
    expect((await post(body, { 'x-roster-timestamp': String(now), 'x-roster-signature': webhookSignature(SECRET, now, body) })).status).toBe(200);
    expect(fake.received.map((r) => r.refused)).toEqual([
      'missing or malformed X-Roster-Timestamp',
      expect.stringMatching(/^timestamp is 30\d s away/),
      'body is not JSON',
      expect.stringContaining('expected every row'),
      undefined,
    ]);
  });
});
