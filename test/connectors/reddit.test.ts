// The Reddit Ads connector against a fake Ads API v3 and token endpoint that
// enforce the customer-list contract (test/support/fake-reddit.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedditConnector, normaliseRedditEmail, type RedditConfig } from '../../src/connectors/reddit/index.js';
import { ConnectorError, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { sha256Hex } from '../../src/connectors/identifiers.js';
import { createLogger } from '../../src/logger.js';
import { startRedditFake, type RedditFake } from '../support/fake-reddit.js';

// Reddit's published canonicalisation vector (Manual Advanced Matching).
const ALICE_SHA256 = 'ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976';
// Reddit's AAID vector (lower-case UUID, SHA-256), quoted by RudderStack's tests.
const AAID = 'cdda802e-fb9c-47ad-9866-0794d394c912';
const AAID_SHA256 = 'f23b554b2a8fb732a8b973733832e70f018da7bc294dfea289735a07d5dd2c9f';

const connector = createRedditConnector({ timeoutMs: 2_000, minBackoffMs: 10, maxBackoffMs: 50, retries: 3 });
const logs: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });
let fake: RedditFake;

beforeEach(async () => {
  fake = await startRedditFake();
  logs.length = 0;
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<RedditConfig> = {}): ConnectorContext<RedditConfig> {
  return { destinationId: 'dest_rd', config: { ...(fake.config as RedditConfig), ...overrides }, logger, signal: new AbortController().signal };
}

const row = (key: string, identifiers: SyncRow['identifiers']): SyncRow => ({ key, fields: {}, identifiers });
const emailRows = (n: number) => Array.from({ length: n }, (_, i) => row(`u${i}`, { EMAIL: `user${i}@example.com` }));
const apiCalls = () => fake.vendor.received.filter((r) => r.path.startsWith('/api/v3'));

describe('reddit connector', () => {
  it('declares its spec', () => {
    expect(connector.type).toBe('reddit');
    expect(connector.name).toBe('Reddit Ads');
    expect(connector.spec).toMatchObject({
      category: 'AD_PLATFORM',
      identifiers: [
        { type: 'EMAIL', hashed: true },
        { type: 'MAID', hashed: true },
      ],
      audiences: { canList: true, canCreate: true, types: ['CUSTOMER_LIST'], defaultType: 'CUSTOMER_LIST' },
      batchSize: 2_500,
      rateLimit: { requestsPerSecond: 1, concurrency: 1 },
      reportsMatchRate: false,
      supportsUpdate: false,
    });
    expect(connector.matchRate).toBeUndefined();
    expect(connector.spec.configSchema.filter((f) => f.secret).map((f) => f.name)).toEqual(['clientSecret', 'refreshToken']);
  });

  it("canonicalises e-mail Reddit's way and reproduces its vector", () => {
    const n = normaliseRedditEmail('Al.ice$+Apple@Example.Com');
    expect(n).toEqual({ ok: true, value: 'alice@example.com' });
    expect(sha256Hex('alice@example.com')).toBe(ALICE_SHA256);
    expect(normaliseRedditEmail('+only@example.com').ok).toBe(false);
  });

  it('check() gets a token with the refresh grant and reads the ad account', async () => {
    await connector.check(ctx());
    const [token, account] = fake.vendor.received;
    expect(token!.path).toBe('/api/v1/access_token');
    expect(new URLSearchParams(token!.rawBody).get('grant_type')).toBe('refresh_token');
    expect(account!.path).toBe('/api/v3/ad_accounts/t2_roster1');
    expect(account!.headers.authorization).toBe(`Bearer ${fake.issued[0]}`);
    expect(account!.headers['user-agent']).toBe('server:dev.roster.audiences:v0.1 (by /u/roster_test)');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('check() fails clearly on a wrong secret, a revoked refresh token or a foreign ad account', async () => {
    const secret = await connector.check(ctx({ clientSecret: 'rd-secret-WRONG-123' })).catch((e: unknown) => e);
    expect(secret).toBeInstanceOf(ConnectorError);
    expect((secret as ConnectorError).message).toMatch(/^Reddit exchanging the refresh token for an access token: expected HTTP 2xx, but got 401 UNAUTHORIZED: .*Reddit refused the credentials/);
    expect((secret as ConnectorError).message).not.toContain('rd-secret-WRONG-123');

    const refresh = await connector.check(ctx({ refreshToken: 'rd-refresh-revoked' })).catch((e: unknown) => e);
    expect((refresh as ConnectorError).code).toBe('REDDIT_invalid_grant');
    expect((refresh as ConnectorError).message).not.toContain('rd-refresh-revoked');

    const foreign = await connector.check(ctx({ adAccountId: 't2_someoneelse' })).catch((e: unknown) => e);
    expect((foreign as ConnectorError).code).toBe('REDDIT_FORBIDDEN');
    expect((foreign as ConnectorError).status).toBe(403);
    expect((foreign as ConnectorError).message).toContain('no access to ad account t2_someoneelse');
  });

  it('a generic User-Agent is refused by Reddit and by validateConfig', async () => {
    const err = await connector.check(ctx({ userAgent: 'node' })).catch((e: unknown) => e);
    expect((err as ConnectorError).status).toBe(403);
    expect(connector.validateConfig!({ ...(fake.config as RedditConfig), userAgent: 'undici' })).toEqual([
      { path: ['userAgent'], message: expect.stringContaining('expected a descriptive User-Agent') },
    ]);
    expect(connector.validateConfig!({ ...(fake.config as RedditConfig), adAccountId: '12345' })).toEqual([
      { path: ['adAccountId'], message: expect.stringContaining('t2_abc123') },
    ]);
    expect(connector.validateConfig!(fake.config as RedditConfig)).toEqual([]);
  });

  it('createAudience makes a CUSTOMER_LIST that listAudiences finds, across pages', async () => {
    const paged = await startRedditFake({ pageSize: 2 });
    try {
      const c: ConnectorContext<RedditConfig> = { ...ctx(), config: paged.config as RedditConfig };
      const created = await connector.createAudience!(c, { name: 'Churn risk', type: null });
      expect(created).toEqual({ id: expect.stringMatching(/^ca\./), name: 'Churn risk', type: 'CUSTOMER_LIST' });
      expect(paged.vendor.received.at(-1)!.json).toEqual({ data: { name: 'Churn risk', type: 'CUSTOMER_LIST' } });
      for (const name of ['b', 'c']) await connector.createAudience!(c, { name, type: 'CUSTOMER_LIST' });
      const listed = await connector.listAudiences!(c);
      expect(listed).toEqual([
        { id: created.id, name: 'Churn risk', type: 'CUSTOMER_LIST' },
        { id: expect.any(String), name: 'b', type: 'CUSTOMER_LIST' },
        { id: expect.any(String), name: 'c', type: 'CUSTOMER_LIST' },
      ]);
      expect(paged.vendor.received.filter((r) => r.method === 'GET').map((r) => r.query.get('page.token'))).toEqual([null, '2']);
      // One token served every call.
      expect(paged.issued).toHaveLength(1);
      expect(paged.vendor.refusals()).toEqual([]);
    } finally {
      await paged.close();
    }
    const err = await connector.createAudience!(ctx(), { name: 'x', type: 'PIXEL_RETARGETING' }).catch((e: unknown) => e);
    expect((err as ConnectorError).message).toBe('expected the audience type "CUSTOMER_LIST", but got "PIXEL_RETARGETING"');
  });

  it('adds rows with mixed identifiers as exactly the expected hashed members, one column_order per request', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Mixed', type: null });
    const result = await connector.add(ctx(), a, [
      row('alice', { EMAIL: 'Al.ice$+Apple@Example.Com' }),
      row('phone', { MAID: AAID.toUpperCase() }),
      row('both', { EMAIL: 'bob@example.com', MAID: AAID }),
      row('carol', { EMAIL: 'c.a.r.o.l@example.com' }),
    ]);
    expect(result).toEqual({ rejected: [] });
    expect(fake.members(a.id)).toEqual([
      { EMAIL: ALICE_SHA256 },
      { EMAIL: sha256Hex('carol@example.com') },
      { MAID: AAID_SHA256 },
      { EMAIL: sha256Hex('bob@example.com'), MAID: AAID_SHA256 },
    ]);
    const patches = apiCalls().filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => (r.json as { data: { action_type: string; column_order: string[] } }).data)).toMatchObject([
      { action_type: 'ADD', column_order: ['EMAIL_SHA256'] },
      { action_type: 'ADD', column_order: ['MAID_SHA256'] },
      { action_type: 'ADD', column_order: ['EMAIL_SHA256', 'MAID_SHA256'] },
    ]);
    expect(patches.map((r) => r.status)).toEqual([204, 204, 204]);
    expect(fake.vendor.received.map((r) => r.rawBody).join('\n')).not.toMatch(/example\.com|CDDA802E/i);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('removes rows', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Removals', type: null });
    await connector.add(ctx(), a, emailRows(3));
    expect(await connector.remove(ctx(), a, [row('u1', { EMAIL: 'user1@example.com' })])).toEqual({ rejected: [] });
    expect(fake.members(a.id)).toEqual([{ EMAIL: sha256Hex('user0@example.com') }, { EMAIL: sha256Hex('user2@example.com') }]);
    expect((apiCalls().at(-1)!.json as { data: { action_type: string } }).data.action_type).toBe('REMOVE');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('splits a call above 2,500 rows, which the fake refuses in one request', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Big', type: null });
    const rows = emailRows(2_501);
    expect(await connector.add(ctx(), a, rows)).toEqual({ rejected: [] });
    const sizes = apiCalls()
      .filter((r) => r.method === 'PATCH')
      .map((r) => (r.json as { data: { user_data: unknown[] } }).data.user_data.length);
    expect(sizes).toEqual([2_500, 1]);
    expect(fake.members(a.id)).toHaveLength(2_501);
    expect(fake.vendor.refusals()).toEqual([]);

    const hashes = rows.map((_, i) => [sha256Hex(`user${i}@example.com`)]);
    const res = await fetch(`${fake.vendor.url}/api/v3/custom_audiences/${a.id}/users`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${fake.issued[0]}`, 'user-agent': 'server:test:v1 (by /u/t)', 'content-type': 'application/json' },
      body: JSON.stringify({ data: { action_type: 'ADD', column_order: ['EMAIL_SHA256'], user_data: hashes } }),
    });
    expect(res.status).toBe(400);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual(['data.user_data: 2501 rows exceeds the maximum of 2500']);
  });

  it('retries a 429 after its Retry-After and succeeds', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Throttled', type: null });
    fake.vendor.fault({ status: 429, retryAfter: 1, body: { error: { code: 'RATE_LIMITED', message: 'slow down' } } }, { times: 1, when: (r) => r.method === 'PATCH' });
    const started = Date.now();
    expect(await connector.add(ctx(), a, emailRows(2))).toEqual({ rejected: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(apiCalls().filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([429, 204]);
    expect(fake.members(a.id)).toHaveLength(2);
    expect(logs.join('\n')).not.toMatch(new RegExp(`${fake.clientSecret}|${fake.refreshToken}|${fake.issued[0]}`));
  });

  it('gets a fresh token when Reddit answers 401 to an expired one', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Expiry', type: null });
    fake.expireTokens();
    expect(await connector.add(ctx(), a, emailRows(1))).toEqual({ rejected: [] });
    expect(fake.issued).toHaveLength(2);
    expect(apiCalls().filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([401, 204]);
    expect(fake.members(a.id)).toHaveLength(1);
  });

  it('rejects rows with no usable identifier, with a clear message, and delivers the rest', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Partial', type: null });
    const result = await connector.add(ctx(), a, [
      row('ok', { EMAIL: 'ok@example.com' }),
      row('phone-only', { PHONE: '+15551234567' }),
      row('bad', { EMAIL: 'nobody-at-example.com', MAID: 'not-a-maid' }),
    ]);
    expect(result.rejected).toEqual([
      { key: 'phone-only', code: 'NO_USABLE_IDENTIFIER', message: 'no identifier Reddit can match: expected at least one of EMAIL, MAID, but all were empty' },
      {
        key: 'bad',
        code: 'NO_USABLE_IDENTIFIER',
        message: 'no identifier Reddit can match: expected at least one of EMAIL, MAID, but EMAIL is not an e-mail address (expected local@domain); MAID is not a mobile advertiser id (expected a UUID such as IDFA or GAID)',
      },
    ]);
    expect(fake.members(a.id)).toEqual([{ EMAIL: sha256Hex('ok@example.com') }]);
  });

  it('fails the whole call when Reddit refuses the data (Reddit reports no per-row results)', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Refused', type: null });
    fake.rejectValues.add(sha256Hex('user1@example.com'));
    const err = await connector.add(ctx(), a, emailRows(3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('REDDIT_INVALID_INPUT');
    expect((err as ConnectorError).message).toBe(`Reddit adding to audience ${a.id}: expected HTTP 2xx, but got 400 INVALID_INPUT: data.user_data[1][0]: invalid value`);
    expect(fake.members(a.id)).toEqual([]);
    // The vendor refused data it was sent; the connector broke no contract.
    expect(fake.vendor.refusals()).toEqual([]);
  });
});
