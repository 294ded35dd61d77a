// The Snapchat connector against a fake Marketing API and token endpoint that
// enforce the customer-list contract (test/support/fake-snapchat.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSnapchatConnector, type SnapchatConfig } from '../../src/connectors/snapchat/index.js';
import { ConnectorError, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { sha256Hex } from '../../src/connectors/identifiers.js';
import { createLogger } from '../../src/logger.js';
import { startSnapchatFake, type SnapchatFake } from '../support/fake-snapchat.js';

// Snap's official vectors (Conversions API "Parameters" page; destinations.md §0).
const PERSON_SHA256 = '542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345';
const PHONE_SHA256 = 'dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383';
const MAID = '5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25';

const connector = createSnapchatConnector({ timeoutMs: 5_000, minBackoffMs: 10, maxBackoffMs: 50, retries: 3 });
const logs: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });
let fake: SnapchatFake;

beforeEach(async () => {
  fake = await startSnapchatFake();
  logs.length = 0;
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<SnapchatConfig> = {}): ConnectorContext<SnapchatConfig> {
  return { destinationId: 'dest_snap', config: { ...(fake.config as SnapchatConfig), ...overrides }, logger, signal: new AbortController().signal };
}

const row = (key: string, identifiers: SyncRow['identifiers']): SyncRow => ({ key, fields: {}, identifiers });
const emailRows = (n: number) => Array.from({ length: n }, (_, i) => row(`u${i}`, { EMAIL: `user${i}@example.com` }));
const userCalls = () => fake.vendor.received.filter((r) => r.path.endsWith('/users'));

describe('snapchat connector', () => {
  it('declares its spec', () => {
    expect(connector.type).toBe('snapchat');
    expect(connector.name).toBe('Snapchat Customer Lists');
    expect(connector.spec).toMatchObject({
      category: 'AD_PLATFORM',
      identifiers: [
        { type: 'EMAIL', hashed: true },
        { type: 'PHONE', hashed: true },
        { type: 'MAID', hashed: true },
      ],
      audiences: { canList: true, canCreate: true, types: ['FIRST_PARTY'], defaultType: 'FIRST_PARTY' },
      batchSize: 100_000,
      rateLimit: { requestsPerSecond: 10, concurrency: 2 },
      reportsMatchRate: true,
      supportsUpdate: false,
    });
    expect(connector.spec.configSchema.filter((f) => f.secret).map((f) => f.name)).toEqual(['clientSecret', 'refreshToken']);
  });

  it('check() gets a token and reads the ad account', async () => {
    await connector.check(ctx());
    const [token, account] = fake.vendor.received;
    expect(Object.fromEntries(new URLSearchParams(token!.rawBody))).toEqual({
      grant_type: 'refresh_token',
      client_id: fake.clientId,
      client_secret: fake.clientSecret,
      refresh_token: fake.refreshToken,
    });
    expect(account!.path).toBe(`/v1/adaccounts/${fake.adAccountId}`);
    expect(account!.headers.authorization).toBe(`Bearer ${fake.issued[0]}`);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('check() fails clearly on wrong app credentials, a revoked refresh token or a foreign ad account', async () => {
    const secret = await connector.check(ctx({ clientSecret: 'snap-secret-WRONG' })).catch((e: unknown) => e);
    expect(secret).toBeInstanceOf(ConnectorError);
    expect((secret as ConnectorError).code).toBe('SNAPCHAT_invalid_client');
    expect((secret as ConnectorError).message).toBe(
      'Snapchat exchanging the refresh token for an access token: expected HTTP 2xx, but got 401 invalid_client: Invalid client credentials (Snap refused the credentials or their access to the ad account)',
    );

    const refresh = await connector.check(ctx({ refreshToken: 'snap-refresh-revoked' })).catch((e: unknown) => e);
    expect((refresh as ConnectorError).code).toBe('SNAPCHAT_invalid_grant');
    expect((refresh as ConnectorError).message).not.toContain('snap-refresh-revoked');

    const foreign = await connector.check(ctx({ adAccountId: '00000000-0000-4000-8000-000000000000' })).catch((e: unknown) => e);
    expect((foreign as ConnectorError).code).toBe('SNAPCHAT_E3002');
    expect((foreign as ConnectorError).message).toMatch(/^Snapchat reading ad account 0{8}-.*: expected HTTP 2xx, but got 403 E3002: no permission for ad account/);
  });

  it('createAudience makes a FIRST_PARTY segment that listAudiences finds, across pages', async () => {
    const paged = await startSnapchatFake({ pageSizeCap: 2 });
    try {
      const c: ConnectorContext<SnapchatConfig> = { ...ctx(), config: paged.config as SnapchatConfig };
      const created = await connector.createAudience!(c, { name: 'Lapsed buyers', type: null });
      expect(created).toEqual({ id: expect.any(String), name: 'Lapsed buyers', type: 'FIRST_PARTY', size: 0 });
      expect(paged.vendor.received.at(-1)!.json).toEqual({
        segments: [{ name: 'Lapsed buyers', description: 'Customer list synced by Roster', source_type: 'FIRST_PARTY', retention_in_days: 9999, ad_account_id: paged.adAccountId }],
      });
      for (const name of ['b', 'c']) await connector.createAudience!(c, { name, type: 'FIRST_PARTY' });
      const listed = await connector.listAudiences!(c);
      expect(listed.map((a) => [a.name, a.type, a.size])).toEqual([
        ['Lapsed buyers', 'FIRST_PARTY', 0],
        ['b', 'FIRST_PARTY', 0],
        ['c', 'FIRST_PARTY', 0],
      ]);
      expect(listed[0]!.id).toBe(created.id);
      expect(paged.vendor.received.filter((r) => r.method === 'GET' && r.path.endsWith('/segments')).map((r) => r.query.get('cursor'))).toEqual([null, '2']);
      expect(paged.issued).toHaveLength(1);
      expect(paged.vendor.refusals()).toEqual([]);
    } finally {
      await paged.close();
    }
    const err = await connector.createAudience!(ctx(), { name: 'x', type: 'PIXEL' }).catch((e: unknown) => e);
    expect((err as ConnectorError).message).toBe('expected the audience type "FIRST_PARTY", but got "PIXEL"');
  });

  it('adds mixed identifiers, one schema per request, as exactly the expected hashed members', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Mixed', type: null });
    const result = await connector.add(ctx(), a, [
      row('person', { EMAIL: '  Person@Example.com ' }),
      row('phone', { PHONE: '+44 844 412 4653' }),
      row('both', { EMAIL: 'both@example.com', PHONE: '0044 (844) 412-4653', MAID: MAID.toUpperCase() }),
    ]);
    expect(result).toEqual({ rejected: [] });
    expect(fake.members(a.id)).toEqual([
      { EMAIL: PERSON_SHA256 },
      { EMAIL: sha256Hex('both@example.com') },
      { PHONE: PHONE_SHA256 },
      { MAID: sha256Hex(MAID) },
    ]);
    expect(userCalls().map((r) => [r.method, (r.json as { users: { schema: string[]; data: string[][] }[] }).users.map((u) => [u.schema, u.data.length])])).toEqual([
      ['POST', [[['EMAIL_SHA256'], 2]]],
      ['POST', [[['PHONE_SHA256'], 2]]],
      ['POST', [[['MOBILE_AD_ID_SHA256'], 1]]],
    ]);
    expect(fake.vendor.received.map((r) => r.rawBody).join('\n')).not.toMatch(/example\.com|844|5F3A2B18/i);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('removes rows with DELETE', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Removals', type: null });
    await connector.add(ctx(), a, emailRows(3));
    expect(await connector.remove(ctx(), a, [row('u1', { EMAIL: 'user1@example.com' })])).toEqual({ rejected: [] });
    expect(fake.members(a.id)).toEqual([{ EMAIL: sha256Hex('user0@example.com') }, { EMAIL: sha256Hex('user2@example.com') }]);
    expect(userCalls().at(-1)!.method).toBe('DELETE');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('splits a call above 100,000 rows, which the fake refuses in one request', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Big', type: null });
    expect(await connector.add(ctx(), a, emailRows(100_001))).toEqual({ rejected: [] });
    expect(userCalls().map((r) => (r.json as { users: { data: unknown[] }[] }).users[0]!.data.length)).toEqual([100_000, 1]);
    expect(fake.members(a.id)).toHaveLength(100_001);
    expect(fake.vendor.refusals()).toEqual([]);

    const data = Array.from({ length: 100_001 }, (_, i) => [sha256Hex(`x${i}`)]);
    const res = await fetch(`${fake.vendor.url}/v1/segments/${a.id}/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.issued[0]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ users: [{ schema: ['EMAIL_SHA256'], data }] }),
    });
    expect(res.status).toBe(400);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual(['users[0].data: 100001 rows exceeds the maximum of 100000']);
  }, 60_000);

  it('retries a 429 after its Retry-After and succeeds', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Throttled', type: null });
    fake.vendor.fault({ status: 429, retryAfter: 1, body: { request_status: 'ERROR', debug_message: 'Too many requests' } }, { times: 1, when: (r) => r.path.endsWith('/users') });
    const started = Date.now();
    expect(await connector.add(ctx(), a, emailRows(2))).toEqual({ rejected: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(userCalls().map((r) => r.status)).toEqual([429, 200]);
    expect(fake.members(a.id)).toHaveLength(2);
    expect(logs.join('\n')).not.toMatch(new RegExp(`${fake.clientSecret}|${fake.refreshToken}|${fake.issued[0]}`));
  });

  it('gets a fresh token when Snap answers 401 to an expired one', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Expiry', type: null });
    fake.expireTokens();
    expect(await connector.add(ctx(), a, emailRows(1))).toEqual({ rejected: [] });
    expect(fake.issued).toHaveLength(2);
    expect(userCalls().map((r) => r.status)).toEqual([401, 200]);
  });

  it("turns Snap's refusal of a request's users element into rejections of the rows it carried", async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Refusals', type: null });
    fake.rejectValues.set(PHONE_SHA256, { reason: 'Invalid identifier format', code: 'E2002' });
    const result = await connector.add(ctx(), a, [
      row('email-only', { EMAIL: 'ok@example.com' }),
      row('phone-only', { PHONE: '+44 844 412 4653' }),
      row('both', { EMAIL: 'both@example.com', PHONE: '+1 650 555 1212' }),
    ]);
    const message = 'Snapchat refused the PHONE_SHA256 values of this request: Invalid identifier format';
    expect(result.rejected).toEqual([
      { key: 'phone-only', message, code: 'E2002' },
      { key: 'both', message, code: 'E2002' },
    ]);
    // The e-mail request went through; the refused phone request changed nothing.
    expect(fake.members(a.id)).toEqual([{ EMAIL: sha256Hex('ok@example.com') }, { EMAIL: sha256Hex('both@example.com') }]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('rejects rows with no usable identifier, with a clear message, and delivers the rest', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Partial', type: null });
    const result = await connector.add(ctx(), a, [
      row('ok', { EMAIL: 'ok@example.com' }),
      row('national', { PHONE: '07700 900123' }),
      row('empty', { EMAIL: '', PHONE: null }),
    ]);
    expect(result.rejected).toEqual([
      {
        key: 'national',
        code: 'NO_USABLE_IDENTIFIER',
        message: 'no identifier Snapchat can match: expected at least one of EMAIL, PHONE, MAID, but PHONE has no country code (expected E.164, e.g. +44 20 7946 0000)',
      },
      { key: 'empty', code: 'NO_USABLE_IDENTIFIER', message: 'no identifier Snapchat can match: expected at least one of EMAIL, PHONE, MAID, but all were empty' },
    ]);
    expect(fake.members(a.id)).toEqual([{ EMAIL: sha256Hex('ok@example.com') }]);
    // A configured calling code makes the national number usable: 44 7700 900123.
    expect((await connector.add(ctx({ phoneCountryCode: '44' }), a, [row('national', { PHONE: '07700 900123' })])).rejected).toEqual([]);
    expect(fake.members(a.id)).toContainEqual({ PHONE: sha256Hex('447700900123') });
  });

  it('matchRate reads approximate_number_users as the size', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Sized', type: null });
    await connector.add(ctx(), a, emailRows(10));
    fake.setMatchRatio(0.55);
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 5, uploaded: null });
    const missing = await connector.matchRate!(ctx(), { id: '404', name: 'gone' }).catch((e: unknown) => e);
    expect((missing as ConnectorError).status).toBe(404);
    expect((missing as ConnectorError).message).toContain('no segment 404');
  });

  it('validates its configuration', () => {
    const base = fake.config as SnapchatConfig;
    expect(connector.validateConfig!(base)).toEqual([]);
    expect(connector.validateConfig!({ ...base, retentionInDays: 0 })).toEqual([
      { path: ['retentionInDays'], message: 'expected a whole number of days from 1 to 9999 (lifetime), but got 0' },
    ]);
    expect(connector.validateConfig!({ ...base, phoneCountryCode: 'GB' })).toHaveLength(1);
  });
});
