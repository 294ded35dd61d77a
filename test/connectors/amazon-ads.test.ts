// The Amazon Ads connector against a fake Login-with-Amazon + AMC Audiences
// API that enforces the contract (test/support/fake-amazon-ads.ts).
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  clearAmazonTokenCache,
  createAmazonAdsConnector,
  externalUserIdOf,
  jsonWithNumbers,
  type AmazonAdsConfig,
} from '../../src/connectors/amazon-ads/index.js';
import { ConnectorError, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { createLogger } from '../../src/logger.js';
import { startAmazonAdsFake, type AmazonAdsFake } from '../support/fake-amazon-ads.js';

const fast = { timeoutMs: 2_000, minBackoffMs: 10, maxBackoffMs: 50, retries: 3 };
const connector = createAmazonAdsConnector(fast);
const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

let fake: AmazonAdsFake;
const logs: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });

beforeEach(async () => {
  fake = await startAmazonAdsFake();
  logs.length = 0;
  clearAmazonTokenCache();
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<AmazonAdsConfig> = {}, on: AmazonAdsFake = fake): ConnectorContext<AmazonAdsConfig> {
  return { destinationId: 'dest_amazon', config: { ...(on.config as AmazonAdsConfig), ...overrides }, logger, signal: new AbortController().signal };
}

function row(key: string, identifiers: SyncRow['identifiers'], fields: Record<string, unknown> = {}): SyncRow {
  return { key, fields, identifiers };
}

const byEmail = (n: number, from = 0): SyncRow[] => Array.from({ length: n }, (_, i) => row(`k${from + i}`, { EMAIL: `person${from + i}@example.com` }));

async function audience(name = 'High intent', on: AmazonAdsFake = fake) {
  return connector.createAudience!(ctx({}, on), { name, type: null });
}

describe('amazon ads connector', () => {
  it('declares its spec', () => {
    expect(connector.type).toBe('amazon_ads');
    expect(connector.name).toBe('Amazon Ads Audiences');
    expect(connector.spec).toMatchObject({
      category: 'AD_PLATFORM',
      audiences: { canList: false, canCreate: true, types: [], defaultType: null },
      batchSize: 10_000,
      rateLimit: { requestsPerSecond: 5, concurrency: 2 },
      requiresProfiles: false,
      reportsMatchRate: true,
      supportsUpdate: false,
    });
    expect(connector.spec.identifiers.filter((i) => i.hashed).map((i) => i.type)).toEqual(['EMAIL', 'PHONE', 'FIRST_NAME', 'LAST_NAME', 'ZIP', 'CITY', 'STATE']);
    expect(connector.spec.identifiers.find((i) => i.type === 'COUNTRY')).toEqual({ type: 'COUNTRY', hashed: false });
    expect(connector.spec.configSchema.filter((f) => f.secret).map((f) => f.name)).toEqual(['clientSecret', 'refreshToken']);
    expect(connector.spec.configSchema.find((f) => f.name === 'baseUrl')).toMatchObject({ type: 'url', required: false, default: 'https://advertising-api.amazon.com' });
    expect(connector.listAudiences).toBeUndefined();
    expect(connector.ensureProfiles).toBeUndefined();
  });

  it('validates ids, country, ttl and wait', () => {
    const base = fake.config as AmazonAdsConfig;
    expect(connector.validateConfig!(base)).toEqual([]);
    const problems = connector.validateConfig!({ ...base, advertiserId: 'adv-1', countryCode: 'USA', ttlSeconds: 34_300_801, jobWaitSeconds: -1 });
    expect(problems.map((p) => p.path[0])).toEqual(['advertiserId', 'countryCode', 'ttlSeconds', 'jobWaitSeconds']);
  });

  it('check() gets a token and finds the profile', async () => {
    await connector.check(ctx());
    expect(fake.vendor.received.map((r) => [r.method, r.path, r.status])).toEqual([
      ['POST', '/auth/o2/token', 200],
      ['GET', '/v2/profiles', 200],
    ]);
    const form = new URLSearchParams(fake.vendor.received[0]!.rawBody);
    expect(form.get('grant_type')).toBe('refresh_token');
    expect(fake.vendor.received[1]!.headers['amazon-advertising-api-clientid']).toBe(fake.config.clientId);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('check() explains refused credentials without repeating them', async () => {
    const badGrant = await connector.check(ctx({ refreshToken: 'Atzr|revoked-token-000000' })).catch((e: unknown) => e);
    expect(badGrant).toBeInstanceOf(ConnectorError);
    expect((badGrant as ConnectorError).code).toBe('HTTP_400');
    expect((badGrant as ConnectorError).retryable).toBe(false);
    expect((badGrant as ConnectorError).message).toContain('Login with Amazon refused the credentials');
    expect((badGrant as ConnectorError).message).toContain('invalid_grant');
    expect((badGrant as ConnectorError).message).not.toContain('revoked-token-000000');

    const badClient = await connector.check(ctx({ clientSecret: 'amzn1.oa2-cs.v1.wrong-secret' })).catch((e: unknown) => e);
    expect((badClient as ConnectorError).code).toBe('HTTP_401');
    expect((badClient as ConnectorError).message).toContain('invalid_client');
    expect((badClient as ConnectorError).message).not.toContain('wrong-secret');

    const badProfile = await connector.check(ctx({ profileId: '111' })).catch((e: unknown) => e);
    expect((badProfile as ConnectorError).code).toBe('PROFILE_NOT_FOUND');
    expect((badProfile as ConnectorError).message).toBe('GET /v2/profiles: expected profile 111 among the profiles this refresh token can reach, but got 3176524120931042');
  });

  it('creates an audience whose id is above 2^53, kept exact', async () => {
    const a = await audience('High intent');
    expect(a).toEqual({ id: '379909525712777677', name: 'High intent', type: null });
    expect(BigInt(a.id) > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(fake.audiences()).toEqual([{ id: '379909525712777677', name: 'High intent', type: null }]);
    const sent = fake.vendor.received.find((r) => r.path === '/amc/audiences/metadata')!;
    expect(sent.headers['content-type']).toBe('application/vnd.amcaudiences.v1+json');
    expect(sent.headers['amazon-advertising-api-scope']).toBe(fake.config.profileId);
    expect(sent.rawBody).toContain(`"advertiserId":${fake.config.advertiserId}`);
    expect(sent.json).toMatchObject({ name: 'High intent', countryCode: 'US', metadata: { externalAudienceId: expect.stringMatching(/^roster-[0-9a-f]{32}$/) } });
    const second = await audience('Lapsed');
    expect(second.id).toBe('379909525712777678');
    await expect(connector.createAudience!(ctx(), { name: 'x', type: 'LOOKALIKE' })).rejects.toThrow('expected no audience type, but got "LOOKALIKE"');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('sends ttl when configured', async () => {
    await connector.createAudience!(ctx({ ttlSeconds: 86_400 }), { name: 'Short', type: null });
    expect((fake.vendor.received.at(-1)!.json as { metadata: { ttl: number } }).metadata.ttl).toBe(86_400);
  });

  it('adds rows with mixed identifiers as exactly the expected hashed members', async () => {
    const a = await audience();
    const alreadyHashed = sha('pre@example.com').toUpperCase();
    const rows = [
      row('r1', { EMAIL: 'John.Doe@Example.com ', PHONE: '+1 (650) 555-1212', FIRST_NAME: 'John', LAST_NAME: 'Doe' }),
      row('r2', { EMAIL: 'O.Brien+ads@Example.ie', ZIP: '94107-1234', CITY: 'San José', STATE: 'California', COUNTRY: 'us' }),
      row('user@42', { PHONE: '+44 20 7946 0000', COUNTRY: 'GB' }, { amznAdStorage: 'GRANTED', amznUserData: 'denied', ipAddress: '203.0.113.9' }),
      row('r4', { EMAIL: 'hans@example.de', COUNTRY: 'DE' }),
      row('r5', { FIRST_NAME: 'Only', LAST_NAME: 'Names' }),
      row('r6', { EMAIL: alreadyHashed }),
    ];
    const result = await connector.add(ctx(), a, rows);
    expect(result.rejected.map((r) => [r.key, r.code])).toEqual([
      ['r5', 'NO_USABLE_IDENTIFIER'],
      ['r4', 'CONSENT_REQUIRED'],
    ]);
    expect(result.rejected[1]!.message).toContain('Amazon requires consent for records from DE');

    // destinations.md §0 [calc] vectors (the same normalised inputs as Meta's rows).
    const john = {
      EMAIL: '836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f',
      PHONE: 'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176',
      FIRST_NAME: '96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a',
      LAST_NAME: '799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f',
    };
    expect(fake.members(a.id)).toEqual([
      john,
      // Amazon's e-mail keeps [a-z0-9.@-] only; ZIP+4 keeps five digits; names of places keep [a-z0-9].
      { EMAIL: sha('o.brienads@example.ie'), ZIP: sha('94107'), CITY: sha('sanjose'), STATE: sha('ca') },
      { PHONE: sha('442079460000') },
      { EMAIL: sha('pre@example.com') },
    ]);
    const records = fake.records(a.id);
    expect([...records.keys()]).toEqual(['r1', 'r2', sha('user@42'), 'r6']);
    expect(records.get('r2')!.countryCode).toBe('US');
    expect(records.get(sha('user@42'))).toMatchObject({
      countryCode: 'GB',
      userConsent: { consent: { amzn: { amznAdStorage: 'GRANTED', amznUserData: 'DENIED' } }, geo: { countryCode: 'GB', ipAddress: '203.0.113.9' } },
    });
    expect(records.get('r1')!.userConsent).toBeUndefined();
    const sent = fake.vendor.received.find((r) => r.path === '/amc/audiences/records')!;
    expect(sent.rawBody.startsWith(`{"audienceId":${a.id},`)).toBe(true);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('removes members with DELETE records under the same external ids', async () => {
    const a = await audience();
    const rows = [row('a-1', { EMAIL: 'a@example.com' }), row('b.2', { EMAIL: 'b@example.com' }), row('c_3', { PHONE: '+33 1 23 45 67 89' })];
    await connector.add(ctx(), a, rows);
    expect(await connector.remove(ctx(), a, [rows[1]!, rows[2]!])).toEqual({ rejected: [] });
    expect([...fake.records(a.id).keys()]).toEqual(['a-1']);
    const last = fake.vendor.received.at(-1)!.json as { records: { externalUserId: string; action: string }[] };
    expect(last.records.map((r) => [r.externalUserId, r.action])).toEqual([
      [externalUserIdOf('b.2'), 'DELETE'],
      ['c_3', 'DELETE'],
    ]);
    expect(externalUserIdOf('b.2')).toBe(sha('b.2'));
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('splits a call above 10,000 records per request', async () => {
    const a = await audience();
    expect(await connector.add(ctx(), a, byEmail(20_001))).toEqual({ rejected: [] });
    const uploads = fake.vendor.received.filter((r) => r.path === '/amc/audiences/records');
    expect(uploads.map((r) => (r.json as { records: unknown[] }).records.length)).toEqual([10_000, 10_000, 1]);
    expect(fake.members(a.id)).toHaveLength(20_001);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('is refused by a fake with a lower per-request limit (the fake enforces it)', async () => {
    const strict = await startAmazonAdsFake({ maxRecords: 5_000 });
    try {
      const a = await audience('x', strict);
      const err = await connector.add(ctx({}, strict), a, byEmail(6_000)).catch((e: unknown) => e);
      expect((err as ConnectorError).code).toBe('HTTP_400');
      expect((err as ConnectorError).message).toContain('at most 5000 per request, got 6000');
      expect(strict.members(a.id)).toEqual([]);
    } finally {
      await strict.close();
    }
  });

  it('retries a 429 after its Retry-After and succeeds', async () => {
    const a = await audience();
    fake.vendor.fault({ status: 429, retryAfter: 1, body: { code: '429', details: 'Too Many Requests' } }, { when: (r) => r.path === '/amc/audiences/records' });
    const started = Date.now();
    expect(await connector.add(ctx(), a, byEmail(3))).toEqual({ rejected: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.vendor.received.filter((r) => r.path === '/amc/audiences/records').map((r) => r.fault ?? r.status)).toEqual(['status', 202]);
    expect(fake.members(a.id)).toHaveLength(3);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('refreshes a revoked access token once and carries on', async () => {
    const a = await audience();
    expect(fake.tokensIssued()).toBe(1);
    fake.expireTokens();
    expect(await connector.add(ctx(), a, byEmail(2))).toEqual({ rejected: [] });
    expect(fake.tokensIssued()).toBe(2);
    expect(fake.members(a.id)).toHaveLength(2);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual(['auth: the access token is invalid or expired']);
  });

  it('fails clearly when even a fresh token is refused (scope the token cannot reach)', async () => {
    const a = await audience();
    const err = await connector.add(ctx({ profileId: '999' }), a, byEmail(1)).catch((e: unknown) => e);
    expect((err as ConnectorError).code).toBe('HTTP_401');
    expect((err as ConnectorError).message).toContain('refused a freshly issued access token; expected the Amazon user who authorised Roster to have access to advertiser');
  });

  it("reports records the upload job refused, when configured to wait for the job's verdict", async () => {
    const pending = await startAmazonAdsFake({ jobPendingPolls: 2 });
    try {
      const a = await audience('x', pending);
      pending.rejectRecords.set('k1', 'Record could not be processed');
      const result = await connector.add(ctx({ jobWaitSeconds: 10 }, pending), a, byEmail(3));
      expect(result.rejected).toEqual([{ key: 'k1', message: 'Amazon refused the record: Record could not be processed', code: 'INVALID_RECORD' }]);
      expect([...pending.records(a.id).keys()]).toEqual(['k0', 'k2']);
      const polls = pending.vendor.received.filter((r) => r.path.startsWith('/amc/audiences/records/'));
      expect(polls).toHaveLength(3);
      expect(pending.vendor.refusals()).toEqual([]);

      // Without waiting, the batch counts as delivered (the verdict is asynchronous).
      const quick = await connector.add(ctx({ jobWaitSeconds: 0 }, pending), a, byEmail(2, 1));
      expect(quick).toEqual({ rejected: [] });
    } finally {
      await pending.close();
    }
  });

  it('rejects rows with no usable identifier, saying what was expected and never the value', async () => {
    const a = await audience();
    const rows = [row('n1', { EMAIL: 'nobody-at-example', PHONE: '020 7946 0000' }), row('n2', { EMAIL: null, PHONE: '  ' })];
    const result = await connector.add(ctx(), a, rows);
    expect(result.rejected).toEqual([
      { key: 'n1', code: 'NO_USABLE_IDENTIFIER', message: expect.stringMatching(/^no identifier Amazon Ads can match: expected at least one of EMAIL, PHONE, but EMAIL is not an e-mail address .*; PHONE has no country code/) },
      { key: 'n2', code: 'NO_USABLE_IDENTIFIER', message: 'no identifier Amazon Ads can match: expected at least one of EMAIL, PHONE, but all were empty' },
    ]);
    expect(JSON.stringify(result)).not.toContain('nobody-at-example');
    expect(fake.vendor.received.filter((r) => r.path === '/amc/audiences/records')).toHaveLength(0);
  });

  it("reads the match rate from the audience's own size fields", async () => {
    const a = await audience();
    await connector.add(ctx(), a, byEmail(10));
    fake.setMatchRatio(0.5);
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 5, uploaded: 10 });
    await connector.remove(ctx(), a, byEmail(3));
    fake.setMatchRatio(0.8);
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 5, uploaded: 7 });
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('offers the consent fields for mapping', async () => {
    const fields = await connector.fields!(ctx());
    expect(fields.map((f) => f.name)).toEqual(['amznAdStorage', 'amznUserData', 'tcf', 'gpp', 'ipAddress']);
    expect(fields[0]).toMatchObject({ type: 'ENUM', options: ['GRANTED', 'DENIED'] });
  });

  it('writes big ids as bare JSON numbers', () => {
    expect(jsonWithNumbers({ a: 'x', id: '\u0000n' }, { '\u0000n': '379909525712777677' })).toBe('{"a":"x","id":379909525712777677}');
    expect(() => jsonWithNumbers({ id: '\u0000n' }, { '\u0000n': '12a' })).toThrow('expected a numeric Amazon id');
  });

  it('never logs a credential or an access token', async () => {
    const a = await audience();
    fake.vendor.fault({ status: 500 }, { when: (r) => r.path === '/amc/audiences/records' });
    fake.expireTokens();
    await connector.add(ctx(), a, byEmail(2));
    const all = logs.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const s of [fake.config.clientSecret, fake.config.refreshToken]) expect(all).not.toContain(String(s));
    expect(all).not.toMatch(/Atza\|/);
  });
});
