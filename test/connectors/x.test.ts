// The X Ads custom-audience connector against a fake Ads API v12
// (test/support/fake-x.ts) that verifies OAuth 1.0a signatures and enforces
// the users endpoint's contract: 2,500 operations and 5 MB per request,
// SHA-256 lower-case hex, success/total counts, operation errors by index.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { sha256Hex } from '../../src/connectors/identifiers.js';
import { createXConnector, oauth1Header, oauth1Signature, X_MAX_BODY_BYTES, X_MAX_OPERATIONS, type XConfig } from '../../src/connectors/x/index.js';
import { createLogger } from '../../src/logger.js';
import { startXFake, type XFake } from '../support/fake-x.js';

const connector = createXConnector({ timeoutMs: 5_000, minBackoffMs: 10, maxBackoffMs: 50, retries: 3 });
// destinations.md §0: X's official vector, and the phone example quoted by third-party code.
const ADSAPI_SHA256 = '49e0be2aeccfb51a8dee4c945c8a70a9ac500cf6f5cb08112575f74db9b1470d';
const PHONE_SHA256 = '1fa6b8d986d9b9cd01bf36951815158bbde9f520c0567c835dfe34783d0a4231';

let fake: XFake;
const logs: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });

beforeEach(async () => {
  fake = await startXFake();
  logs.length = 0;
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<XConfig> = {}): ConnectorContext<XConfig> {
  return { destinationId: 'dest_x', config: { ...(fake.config as XConfig), ...overrides }, logger, signal: new AbortController().signal };
}

const row = (key: string, identifiers: SyncRow['identifiers']): SyncRow => ({ key, fields: {}, identifiers });
const emailRows = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => row(`${prefix}${i}`, { EMAIL: `${prefix}${i}@example.com` }));
const h = sha256Hex;
const usersPosts = () => fake.vendor.received.filter((r) => r.method === 'POST' && r.path.endsWith('/users'));

describe('OAuth 1.0a signing', () => {
  it("reproduces X's documented signature example", () => {
    // developer.x.com, "Creating a signature": the status is a form body parameter.
    const signature = oauth1Signature(
      'POST',
      'https://api.twitter.com/1.1/statuses/update.json',
      [
        ['status', 'Hello Ladies + Gentlemen, a signed OAuth request!'],
        ['include_entities', 'true'],
        ['oauth_consumer_key', 'xvz1evFS4wEEPTGEFPHBog'],
        ['oauth_nonce', 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg'],
        ['oauth_signature_method', 'HMAC-SHA1'],
        ['oauth_timestamp', '1318622958'],
        ['oauth_token', '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb'],
        ['oauth_version', '1.0'],
      ],
      'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw',
      'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE',
    );
    expect(signature).toBe('hCtSmYh+iHYCEqBWrE7C7hYmtUk=');
  });

  it('signs the query and writes every oauth_* parameter, percent-encoded', () => {
    const creds = { consumerKey: 'xvz1evFS4wEEPTGEFPHBog', consumerSecret: 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw', token: '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb', tokenSecret: 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE' };
    const url = new URL('https://api.twitter.com/1.1/statuses/update.json?include_entities=true&status=Hello%20Ladies%20%2B%20Gentlemen%2C%20a%20signed%20OAuth%20request%21');
    const header = oauth1Header(creds, 'POST', url, { timestamp: 1318622958, nonce: 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg' });
    expect(header).toBe(
      'OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", oauth_signature_method="HMAC-SHA1", oauth_timestamp="1318622958", oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", oauth_version="1.0", oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"',
    );
  });
});

describe('x connector', () => {
  it('declares its spec', () => {
    expect(connector.type).toBe('x');
    expect(connector.name).toBe('X Ads Custom Audiences');
    expect(connector.spec.identifiers).toEqual([
      { type: 'EMAIL', hashed: true },
      { type: 'PHONE', hashed: true },
      { type: 'MAID', hashed: true },
      { type: 'EXTERNAL_ID', hashed: false },
    ]);
    expect(connector.spec.audiences).toEqual({ canList: true, canCreate: true, types: ['CRM'], defaultType: 'CRM' });
    expect(connector.spec.batchSize).toBe(2_500);
    expect(connector.spec.rateLimit).toEqual({ requestsPerSecond: 25, concurrency: 4 });
    expect(connector.spec.configSchema.filter((f) => f.secret).map((f) => f.name)).toEqual(['consumerKey', 'consumerSecret', 'accessToken', 'accessTokenSecret']);
    expect(connector.spec.configSchema.find((f) => f.name === 'baseUrl')).toMatchObject({ type: 'url', required: false, default: 'https://ads-api.x.com/12' });
  });

  it('check() reaches the account with a signature the fake verifies', async () => {
    await connector.check(ctx());
    expect(fake.vendor.received.map((r) => [r.method, r.path, r.status])).toEqual([['GET', `/12/accounts/${fake.accountId}`, 200]]);
    expect(fake.vendor.received[0]!.headers.authorization).toMatch(/^OAuth oauth_consumer_key="ck_/);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('check() explains refused credentials without quoting them', async () => {
    const err = (await connector.check(ctx({ consumerSecret: 'cs_wrong_secret_value' })).catch((e: unknown) => e)) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toContain('X refused the OAuth 1.0a credentials (UNAUTHORIZED_ACCESS');
    for (const secret of ['cs_wrong_secret_value', fake.credentials.accessToken, fake.credentials.accessTokenSecret, fake.credentials.consumerKey]) expect(err.message).not.toContain(secret);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual(['auth: oauth_signature does not match']);
  });

  it('check() names an account the user cannot reach', async () => {
    const err = (await connector.check(ctx({ accountId: 'abc123' })).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('ACCOUNT_NOT_FOUND');
    expect(err.message).toContain('expected ads account "abc123" to be reachable');
    expect(err.message).toContain('ACCOUNT_NOT_FOUND');
  });

  it('creates a custom audience and finds it in the listing', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'VIP customers', type: null });
    expect(a).toEqual({ id: expect.any(String), name: 'VIP customers', type: 'CRM', size: 0 });
    const create = fake.vendor.received[0]!;
    expect([create.method, create.query.get('name'), create.rawBody]).toEqual(['POST', 'VIP customers', '']);
    expect(await connector.listAudiences!(ctx())).toEqual([{ id: a.id, name: 'VIP customers', type: 'CRM', size: 0 }]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('says why a duplicate name is refused', async () => {
    await connector.createAudience!(ctx(), { name: 'Twice', type: 'CRM' });
    const err = (await connector.createAudience!(ctx(), { name: 'Twice', type: null }).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('X_INVALID_PARAMETER');
    expect(err.message).toContain('names must be unique');
    const wrongType = (await connector.createAudience!(ctx(), { name: 'Web', type: 'WEB' }).catch((e: unknown) => e)) as ConnectorError;
    expect(wrongType.code).toBe('INVALID_AUDIENCE_TYPE');
  });

  it('follows next_cursor through every page', async () => {
    for (let i = 0; i < 1_001; i++) fake.seedAudience(`a${i}`);
    const listed = await connector.listAudiences!(ctx());
    expect(listed).toHaveLength(1_001);
    expect(listed[1_000]!.name).toBe('a1000');
    expect(fake.vendor.received.map((r) => [r.query.get('count'), r.query.has('cursor')])).toEqual([
      ['1000', false],
      ['1000', true],
    ]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('adds rows with mixed identifiers, hashed as X asks, one user per operation', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Mixed', type: null });
    const result = await connector.add(ctx(), a, [
      // X stresses lower-case hex: an upper-case digest (of the vector "adsapi") is lower-cased.
      row('vector', { EMAIL: ADSAPI_SHA256.toUpperCase() }),
      row('phone', { PHONE: '+1 (123) 456-7890' }),
      row('all', { EMAIL: ' Ann@Example.COM ', MAID: '5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25', EXTERNAL_ID: ' crm-42 ' }),
      row('names-only', { FIRST_NAME: 'Ann', EMAIL: null }),
      row('bad-phone', { PHONE: '020 3318 5521' }),
    ]);
    expect(result.rejected).toEqual([
      { key: 'names-only', code: 'NO_USABLE_IDENTIFIER', message: 'no identifier X can match: expected at least one of EMAIL, PHONE, MAID, EXTERNAL_ID, but all were empty' },
      { key: 'bad-phone', code: 'NO_USABLE_IDENTIFIER', message: expect.stringContaining('PHONE has no country code') },
    ]);
    expect(result.rejected[1]!.message).not.toContain('3318');
    expect(fake.members(a.id)).toEqual([
      { EMAIL: ADSAPI_SHA256 },
      { PHONE: PHONE_SHA256 },
      { EMAIL: h('ann@example.com'), MAID: h('5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25'), EXTERNAL_ID: 'crm-42' },
    ]);
    expect(usersPosts()[0]!.json).toEqual([
      { operation_type: 'Update', params: { users: [{ email: [ADSAPI_SHA256] }] } },
      { operation_type: 'Update', params: { users: [{ phone_number: [PHONE_SHA256] }] } },
      { operation_type: 'Update', params: { users: [{ email: [h('ann@example.com')], device_id: [h('5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25')], partner_user_id: ['crm-42'] }] } },
    ]);
    expect(h('adsapi')).toBe(ADSAPI_SHA256);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('removes rows with Delete operations, leaving exactly the others', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Churn', type: null });
    await connector.add(ctx(), a, emailRows(4));
    expect(await connector.remove(ctx(), a, [emailRows(4)[0]!, emailRows(4)[2]!])).toEqual({ rejected: [] });
    expect(fake.members(a.id)).toEqual([{ EMAIL: h('u1@example.com') }, { EMAIL: h('u3@example.com') }]);
    expect((usersPosts()[1]!.json as { operation_type: string }[]).map((o) => o.operation_type)).toEqual(['Delete', 'Delete']);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('splits a call at 2,500 operations', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Many', type: null });
    expect(await connector.add(ctx(), a, emailRows(X_MAX_OPERATIONS + 100))).toEqual({ rejected: [] });
    expect(usersPosts().map((r) => (r.json as unknown[]).length)).toEqual([X_MAX_OPERATIONS, 100]);
    expect(fake.members(a.id)).toHaveLength(X_MAX_OPERATIONS + 100);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('splits a call at 5,000,000 bytes', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Heavy', type: null });
    // Long partner ids: 2,400 operations of ~2.3 kB are more than 5 MB.
    const rows = Array.from({ length: 2_400 }, (_, i) => row(`p${i}`, { EXTERNAL_ID: `${i}-${'x'.repeat(2_200)}` }));
    expect(await connector.add(ctx(), a, rows)).toEqual({ rejected: [] });
    const sizes = usersPosts().map((r) => Buffer.byteLength(r.rawBody));
    expect(sizes).toHaveLength(2);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(X_MAX_BODY_BYTES);
    expect(fake.members(a.id)).toHaveLength(2_400);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('retries a 429 after its Retry-After, signing each attempt anew', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Throttled', type: null });
    fake.vendor.setThrottle({ limit: 1, windowMs: 1_000, body: { errors: [{ code: 'TOO_MANY_REQUESTS', message: 'Rate limit exceeded' }] } });
    await connector.add(ctx(), a, emailRows(1, 'first'));
    const started = Date.now();
    expect(await connector.add(ctx(), a, emailRows(2))).toEqual({ rejected: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const posts = usersPosts();
    expect(posts.map((r) => r.fault ?? r.status)).toEqual([200, 'throttled', 200]);
    expect(posts[1]!.headers.authorization).not.toBe(posts[2]!.headers.authorization);
    expect(fake.members(a.id)).toHaveLength(3);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it("turns X's operation errors into row rejections and sends the rest again", async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Partly bad', type: null });
    fake.rejectValues.add(h('u1@example.com'));
    fake.rejectValues.add(h('u3@example.com'));
    const result = await connector.add(ctx(), a, emailRows(4));
    expect(result.rejected).toEqual([
      { key: 'u1', code: 'INVALID_USER', message: 'X refused the user: The user could not be processed' },
      { key: 'u3', code: 'INVALID_USER', message: 'X refused the user: The user could not be processed' },
    ]);
    expect(fake.members(a.id)).toEqual([{ EMAIL: h('u0@example.com') }, { EMAIL: h('u2@example.com') }]);
    expect(usersPosts().map((r) => [(r.json as unknown[]).length, r.status])).toEqual([
      [4, 400],
      [2, 200],
    ]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('fails the call, retryably, when X processed fewer users than sent', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Short', type: null });
    fake.vendor.fault({ status: 200, body: { data: { success_count: 1, total_count: 2 } } }, { when: (r) => r.path.endsWith('/users') });
    const err = (await connector.add(ctx(), a, emailRows(2)).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('INCOMPLETE_BATCH');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('success_count 1 of total_count 2');
  });

  it('fails the whole call for an audience that does not exist', async () => {
    const err = (await connector.add(ctx(), { id: 'zzz', name: 'gone' }, emailRows(1)).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('AUDIENCE_NOT_FOUND');
    expect(err.message).toContain('expected custom audience "zzz"');
  });

  it('reads audience_size as matched members', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Sized', type: null });
    await connector.add(ctx(), a, emailRows(10));
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 8, uploaded: null });
    fake.setMatchRatio(0.5);
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 5, uploaded: null });
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('never logs a credential', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Quiet', type: null });
    fake.vendor.fault({ status: 503 }, { when: (r) => r.path.endsWith('/users') });
    await connector.add(ctx(), a, emailRows(2));
    expect(logs.length).toBeGreaterThan(0);
    const all = logs.join('\n');
    for (const secret of Object.values(fake.credentials)) expect(all).not.toContain(secret);
  });
});

describe('the fake X Ads API', () => {
  const creds = () => ({ consumerKey: fake.credentials.consumerKey, consumerSecret: fake.credentials.consumerSecret, token: fake.credentials.accessToken, tokenSecret: fake.credentials.accessTokenSecret });
  const post = (audienceId: string, body: string, sign = true) => {
    const url = new URL(`${fake.vendor.url}/12/accounts/${fake.accountId}/custom_audiences/${audienceId}/users`);
    return fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...(sign ? { authorization: oauth1Header(creds(), 'POST', url) } : {}) } });
  };
  const op = (user: Record<string, string[]>) => ({ operation_type: 'Update', params: { users: [user] } });

  it('refuses unsigned, unhashed, oversize and mis-shaped batches', async () => {
    const a = fake.seedAudience('target');
    expect((await post(a.id, JSON.stringify([op({ email: [h('a')] })]), false)).status).toBe(401);
    const unhashed = await post(a.id, JSON.stringify([op({ email: [h('a')] }), op({ email: ['plain@example.com'] })]));
    expect(unhashed.status).toBe(400);
    expect(await unhashed.json()).toMatchObject({ operation_errors: [[], [{ code: 'INVALID_PARAMETER' }]] });
    expect((await post(a.id, JSON.stringify(Array.from({ length: X_MAX_OPERATIONS + 1 }, (_, i) => op({ email: [h(String(i))] }))))).status).toBe(400);
    expect((await post(a.id, JSON.stringify({ operation_type: 'Update' }))).status).toBe(400);
    expect((await post(a.id, JSON.stringify([{ operation_type: 'Add', params: { users: [{ email: [h('a')] }] } }]))).status).toBe(400);
    expect((await post(a.id, JSON.stringify([op({ email: [h('a')] })]))).status).toBe(200);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual([
      'auth: missing Authorization header',
      'operation 1: users[0].email must hold SHA-256 lower-case hex',
      `${X_MAX_OPERATIONS + 1} operations; expected 1 to ${X_MAX_OPERATIONS}`,
      'the body must be a JSON array of operations',
      'operation 0: operation_type must be Update or Delete',
    ]);
    expect(fake.members(a.id)).toEqual([{ EMAIL: h('a') }]);
  });
});
