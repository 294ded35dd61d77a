// The Google Ads Customer Match connector (Data Manager API) against a fake
// that enforces the contract (test/support/fake-google-ads.ts): auth and
// accounts, user lists, member shapes and hashing, the 10,000-member limit,
// fast-fail member errors, quota answers and list state.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError, type Audience, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { sha256Hex } from '../../src/connectors/identifiers.js';
import { createGoogleAdsConnector, googleAdsConnector, memberViolations, type GoogleAdsConfig } from '../../src/connectors/google-ads/index.js';
import { createLogger } from '../../src/logger.js';
import { googleError, googleThrottle, startGoogleAdsFake, type GoogleAdsFake } from '../support/fake-google-ads.js';

const connector = createGoogleAdsConnector({ timeoutMs: 2_000, minBackoffMs: 5, maxBackoffMs: 20, retries: 3 });

let fake: GoogleAdsFake;
const logs: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });

beforeEach(async () => {
  fake = await startGoogleAdsFake({ maxPageSize: 2 });
  logs.length = 0;
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<GoogleAdsConfig> = {}): ConnectorContext<GoogleAdsConfig> {
  return { destinationId: 'dest_google', config: { ...(fake.config as GoogleAdsConfig), ...overrides }, logger, signal: new AbortController().signal };
}

const row = (key: string, identifiers: SyncRow['identifiers']): SyncRow => ({ key, fields: {}, identifiers });
const emails = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => row(`${prefix}${i}`, { EMAIL: `${prefix}${i}@example.com` }));

async function audience(name = 'Lapsed buyers', type: string | null = null): Promise<Audience> {
  return connector.createAudience!(ctx(), { name, type });
}

const memberRequests = () => fake.vendor.received.filter((r) => r.path.startsWith('/v1/audienceMembers'));
const bodyOf = (r: { rawBody: string }) => JSON.parse(r.rawBody) as Record<string, unknown> & { audienceMembers: unknown[] };

const post = (path: string, body: unknown) =>
  fetch(`${fake.vendor.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${fake.config.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('google ads connector', () => {
  it('declares its spec', () => {
    expect(googleAdsConnector.type).toBe('google_ads');
    expect(googleAdsConnector.name).toBe('Google Ads Customer Match');
    expect(googleAdsConnector.spec).toMatchObject({
      category: 'AD_PLATFORM',
      batchSize: 10_000,
      rateLimit: { requestsPerSecond: 5, concurrency: 5 },
      audiences: { canList: true, canCreate: true, types: ['CONTACT_ID', 'MOBILE_ID'], defaultType: 'CONTACT_ID' },
      reportsMatchRate: true,
      supportsUpdate: false,
    });
    const hashed = Object.fromEntries(googleAdsConnector.spec.identifiers.map((i) => [i.type, i.hashed]));
    expect(hashed).toEqual({ EMAIL: true, PHONE: true, FIRST_NAME: true, LAST_NAME: true, COUNTRY: false, ZIP: false, MAID: false });
    expect(googleAdsConnector.spec.configSchema.find((f) => f.name === 'baseUrl')).toMatchObject({ type: 'url', required: false, default: 'https://datamanager.googleapis.com' });
  });

  it('validates its configuration', () => {
    const base = fake.config as GoogleAdsConfig;
    expect(googleAdsConnector.validateConfig!(base)).toEqual([]);
    expect(googleAdsConnector.validateConfig!({ ...base, accountId: '123-456-7890' })).toEqual([]);
    const problems = googleAdsConnector.validateConfig!({ ...base, accountId: 'abc', customerMatchTermsAccepted: false, membershipDurationDays: 600, mobileAppId: 'com.example' });
    expect(problems.map((p) => p.path[0])).toEqual(['accountId', 'customerMatchTermsAccepted', 'membershipDurationDays', 'mobileKeySpace']);
  });

  it('check() lists user lists of the operating account with the bearer token', async () => {
    await connector.check(ctx({ accountId: '123-456-7890' }));
    const r = fake.vendor.received[0]!;
    expect(r.path).toBe('/v1/accountTypes/GOOGLE_ADS/accounts/1234567890/userLists');
    expect(r.headers.authorization).toBe(`Bearer ${fake.config.accessToken}`);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('check() fails clearly on a bad token and on an account the token cannot reach', async () => {
    const bad = (await connector.check(ctx({ accessToken: 'ya29.wrong-token-000' })).catch((e: unknown) => e)) as ConnectorError;
    expect(bad).toBeInstanceOf(ConnectorError);
    expect(bad.code).toBe('GOOGLE_UNAUTHENTICATED');
    expect(bad.retryable).toBe(false);
    expect(bad.message).toContain('auth/datamanager scope');
    expect(bad.message).not.toContain('ya29.wrong-token-000');
    const other = (await connector.check(ctx({ accountId: '5550001111' })).catch((e: unknown) => e)) as ConnectorError;
    expect(other.code).toBe('GOOGLE_PERMISSION_DENIED');
    expect(other.message).toContain('accountTypes/GOOGLE_ADS/accounts/5550001111');
    expect(other.message).toContain('set loginAccountId');
    expect(fake.vendor.received).toHaveLength(2);
  });

  it('goes through a login (manager) account when configured', async () => {
    const managed = await startGoogleAdsFake({ loginAccountId: '7770001111' });
    try {
      const c = { ...ctx(), config: managed.config as GoogleAdsConfig };
      await connector.check(c);
      const a = await connector.createAudience!(c, { name: 'Managed', type: null });
      await connector.add(c, a, emails(1));
      expect(managed.members(a.id)).toHaveLength(1);
      expect(managed.vendor.refusals()).toEqual([]);
      expect(bodyOf(managed.vendor.received.at(-1)!).destinations).toEqual([
        { operatingAccount: { accountType: 'GOOGLE_ADS', accountId: '1234567890' }, loginAccount: { accountType: 'GOOGLE_ADS', accountId: '7770001111' }, productDestinationId: a.id },
      ]);
      const direct = { ...c, config: { ...c.config, loginAccountId: undefined } } as ConnectorContext<GoogleAdsConfig>;
      expect(((await connector.check(direct).catch((e: unknown) => e)) as ConnectorError).code).toBe('GOOGLE_PERMISSION_DENIED');
    } finally {
      await managed.close();
    }
  });

  it('creates a CONTACT_ID list and finds it by listing, across pages', async () => {
    fake.seedUserList('Existing list');
    fake.seedUserList('Rule-based visitors', 'PSEUDONYMOUS_ID');
    const created = await audience('Lapsed buyers');
    // A new list reports an empty sizeInfo: proto3 JSON leaves out zero counts.
    expect(created).toEqual({ id: expect.stringMatching(/^\d+$/), name: 'Lapsed buyers', type: 'CONTACT_ID', size: 0 });
    expect(bodyOf(fake.vendor.received.at(-1)!)).toEqual({
      displayName: 'Lapsed buyers',
      description: 'Synced by Roster',
      membershipStatus: 'OPEN',
      membershipDuration: '46656000s',
      ingestedUserListInfo: { uploadKeyTypes: ['CONTACT_ID'], contactIdInfo: { dataSourceType: 'DATA_SOURCE_TYPE_FIRST_PARTY' } },
    });
    const listed = await connector.listAudiences!(ctx());
    // The pseudonymous-id list cannot take Roster's members, so it is not offered.
    expect(listed.map((a) => [a.name, a.type])).toEqual([
      ['Existing list', 'CONTACT_ID'],
      ['Lapsed buyers', 'CONTACT_ID'],
    ]);
    expect(fake.vendor.received.filter((r) => r.method === 'GET' && r.path.endsWith('/userLists'))).toHaveLength(2);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('reports a duplicate list name as Google words it', async () => {
    await audience('Twice');
    const err = (await audience('Twice').catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('GOOGLE_ALREADY_EXISTS');
    expect(err.message).toContain('already exists');
  });

  it('adds rows with mixed identifiers as the exact hashed members (§0 Google vectors)', async () => {
    const a = await audience();
    const result = await connector.add(ctx(), a, [
      row('g1', { EMAIL: 'Cloudy.SanFrancisco+shopping@gmail.com', PHONE: '+1 800-555-0100' }),
      row('g2', { EMAIL: 'user.name+NYC@Example.com', FIRST_NAME: 'Mr. John', LAST_NAME: "O'Neil Jr.", COUNTRY: 'us', ZIP: '94045' }),
      row('g3', { FIRST_NAME: 'Anna', LAST_NAME: 'Schmidt', COUNTRY: 'Germany', ZIP: ' 10115 ', MAID: 'aebe52e7-03ee-455a-b3c4-e57283966239' }),
    ]);
    expect(result).toEqual({ rejected: [] });
    expect(fake.members(a.id)).toEqual([
      { EMAIL: '223ebda6f6889b1494551ba902d9d381daf2f642bae055888e96343d53e9f9c4', PHONE: 'fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30' },
      { EMAIL: 'f109a2a632fbcea5fc82049f50beed3d8621bf9034399f437fb622222acccdac', FIRST_NAME: sha256Hex('john'), LAST_NAME: sha256Hex('oneil'), COUNTRY: 'US', ZIP: '94045' },
      { FIRST_NAME: sha256Hex('anna'), LAST_NAME: sha256Hex('schmidt'), COUNTRY: 'DE', ZIP: '10115' },
    ]);
    const sent = bodyOf(memberRequests()[0]!);
    expect(sent).toMatchObject({
      destinations: [{ operatingAccount: { accountType: 'GOOGLE_ADS', accountId: '1234567890' }, productDestinationId: a.id }],
      encoding: 'HEX',
      consent: { adUserData: 'CONSENT_GRANTED', adPersonalization: 'CONSENT_GRANTED' },
      termsOfService: { customerMatchTermsOfServiceStatus: 'ACCEPTED' },
    });
    expect(sent.audienceMembers[2]).toEqual({
      userData: { userIdentifiers: [{ address: { givenName: sha256Hex('anna'), familyName: sha256Hex('schmidt'), regionCode: 'DE', postalCode: '10115' } }] },
    });
    expect(memberRequests()[0]!.path).toBe('/v1/audienceMembers:ingest');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('sends the configured consent', async () => {
    const a = await audience();
    await connector.add(ctx({ adPersonalizationConsent: 'CONSENT_DENIED' }), a, emails(1));
    expect(bodyOf(memberRequests()[0]!).consent).toEqual({ adUserData: 'CONSENT_GRANTED', adPersonalization: 'CONSENT_DENIED' });
  });

  it('removes members, without consent or terms in the request', async () => {
    const a = await audience();
    await connector.add(ctx(), a, emails(3));
    expect(await connector.remove(ctx(), a, [row('u1', { EMAIL: 'U1@Example.com' })])).toEqual({ rejected: [] });
    expect(fake.members(a.id)).toEqual([{ EMAIL: sha256Hex('u0@example.com') }, { EMAIL: sha256Hex('u2@example.com') }]);
    const removal = memberRequests().at(-1)!;
    expect(removal.path).toBe('/v1/audienceMembers:remove');
    expect(Object.keys(bodyOf(removal)).sort()).toEqual(['audienceMembers', 'destinations', 'encoding']);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('uploads mobile ids to a MOBILE_ID list', async () => {
    const noApp = (await audience('Apps', 'MOBILE_ID').catch((e: unknown) => e)) as ConnectorError;
    expect(noApp.code).toBe('CONFIG_INCOMPLETE');
    const c = ctx({ mobileAppId: 'com.example.shop', mobileKeySpace: 'ANDROID' });
    const a = await connector.createAudience!(c, { name: 'App users', type: 'MOBILE_ID' });
    expect(a.type).toBe('MOBILE_ID');
    const result = await connector.add(c, a, [
      row('m1', { MAID: 'AEBE52E7-03EE-455A-B3C4-E57283966239', EMAIL: 'ignored@example.com' }),
      row('m2', { EMAIL: 'only-email@example.com' }),
    ]);
    expect(result.rejected).toEqual([{ key: 'm2', code: 'NO_USABLE_IDENTIFIER', message: expect.stringContaining('expected at least one of MAID') }]);
    expect(fake.members(a.id)).toEqual([{ MAID: 'aebe52e7-03ee-455a-b3c4-e57283966239' }]);
    expect(bodyOf(memberRequests()[0]!)).not.toHaveProperty('encoding');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('splits a call above 10,000 members; the fake refuses oversize requests', async () => {
    const a = await audience();
    await connector.add(ctx(), a, emails(10_001));
    expect(memberRequests().map((r) => bodyOf(r).audienceMembers.length)).toEqual([10_000, 1]);
    expect(fake.members(a.id)).toHaveLength(10_001);
    expect(fake.vendor.refusals()).toEqual([]);

    const oversize = { ...bodyOf(memberRequests()[0]!), audienceMembers: Array.from({ length: 10_001 }, (_, i) => ({ userData: { userIdentifiers: [{ emailAddress: sha256Hex(`x${i}`) }] } })) };
    expect((await post('/v1/audienceMembers:ingest', oversize)).status).toBe(400);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual([expect.stringContaining('at most 10000 audience members')]);
  });

  it('retries a 429 RESOURCE_EXHAUSTED with Retry-After, then succeeds', async () => {
    const a = await audience();
    fake.vendor.setThrottle(googleThrottle({ limit: 1, windowMs: 1_000 }));
    // The window's one request; the upload is then over quota until it ends.
    await connector.check(ctx());
    const started = Date.now();
    expect(await connector.add(ctx(), a, emails(2))).toEqual({ rejected: [] });
    expect(memberRequests().map((r) => r.fault ?? r.status)).toEqual(['throttled', 200]);
    expect(memberRequests()[0]!.status).toBe(429);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(fake.members(a.id)).toHaveLength(2);
  });

  it('turns members Google names in a fast-fail 400 into row rejections and sends the rest again', async () => {
    const a = await audience();
    fake.rejectEmails.set(sha256Hex('bad1@example.com'), 'INVALID_AUDIENCE_MEMBER');
    fake.rejectEmails.set(sha256Hex('bad2@example.com'), 'INVALID_AUDIENCE_MEMBER');
    const result = await connector.add(ctx(), a, [
      row('ok1', { EMAIL: 'ok1@example.com' }),
      row('bad1', { EMAIL: 'bad1@example.com' }),
      row('ok2', { EMAIL: 'ok2@example.com' }),
      row('bad2', { EMAIL: 'bad2@example.com' }),
    ]);
    expect(result.rejected).toEqual([
      { key: 'bad1', code: 'INVALID_AUDIENCE_MEMBER', message: 'Google refused this member: This audience member is not valid.' },
      { key: 'bad2', code: 'INVALID_AUDIENCE_MEMBER', message: 'Google refused this member: This audience member is not valid.' },
    ]);
    expect(fake.members(a.id)).toEqual([{ EMAIL: sha256Hex('ok1@example.com') }, { EMAIL: sha256Hex('ok2@example.com') }]);
    expect(memberRequests().map((r) => [r.status, bodyOf(r).audienceMembers.length])).toEqual([
      [400, 4],
      [200, 2],
    ]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('reads member indexes only from violations that all name members', () => {
    const s = (fields: string[]) => googleError(400, 'INVALID_ARGUMENT', 'x', 'INVALID_ARGUMENT', fields.map((field) => ({ field, description: 'd', reason: 'R' }))).error;
    expect([...memberViolations(s(['audience_members.audience_members[2].user_data', 'audience_members.audience_members[0]']), 3)!.keys()]).toEqual([2, 0]);
    expect(memberViolations(s(['audience_members.audience_members[5]']), 3)).toBeUndefined();
    expect(memberViolations(s(['destinations[0].product_destination_id']), 3)).toBeUndefined();
    expect(memberViolations(s([]), 3)).toBeUndefined();
  });

  it('rejects rows with no usable identifier before sending, with a clear message', async () => {
    const a = await audience();
    const result = await connector.add(ctx(), a, [
      row('ok', { PHONE: '+44 20 7946 0000' }),
      row('no-zip', { FIRST_NAME: 'Ann', LAST_NAME: 'Lee', COUNTRY: 'GB' }),
      row('bad', { EMAIL: 'not-an-email', PHONE: '12' }),
      row('nothing', {}),
    ]);
    expect(result.rejected).toEqual([
      { key: 'bad', code: 'NO_USABLE_IDENTIFIER', message: expect.stringMatching(/EMAIL is not an e-mail address.*PHONE has 2 digits/) },
      { key: 'nothing', code: 'NO_USABLE_IDENTIFIER', message: expect.stringContaining('all were empty') },
      { key: 'no-zip', code: 'NO_USABLE_IDENTIFIER', message: expect.stringContaining('FIRST_NAME, LAST_NAME, COUNTRY and ZIP together (Google matches an address only whole), but ZIP was missing') },
    ]);
    expect(JSON.stringify(result)).not.toContain('not-an-email');
    expect(fake.members(a.id)).toEqual([{ PHONE: sha256Hex('+442079460000') }]);
    const before = fake.vendor.received.length;
    expect((await connector.add(ctx(), a, [row('x', { EMAIL: 'nope' })])).rejected).toHaveLength(1);
    expect(fake.vendor.received.length).toBe(before);
  });

  it('refuses to upload without the Customer Match terms accepted', async () => {
    const a = await audience();
    const err = (await connector.add(ctx({ customerMatchTermsAccepted: false }), a, emails(1)).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('TERMS_NOT_ACCEPTED');
    expect(memberRequests()).toHaveLength(0);
  });

  it('fails the whole call on a request-level refusal, and on a server that keeps failing', async () => {
    const ghost = (await connector.add(ctx(), { id: '42', name: 'gone' }, emails(1)).catch((e: unknown) => e)) as ConnectorError;
    expect(ghost.code).toBe('GOOGLE_INVALID_USER_LIST_ID');
    expect(ghost.retryable).toBe(false);
    expect(ghost.message).toContain('the user list does not exist in this account');
    const a = await audience();
    fake.vendor.fault({ status: 503, body: googleError(503, 'UNAVAILABLE', 'The service is currently unavailable.') }, { times: 10 });
    const down = (await connector.add(ctx(), a, emails(1)).catch((e: unknown) => e)) as ConnectorError;
    expect(down.code).toBe('HTTP_503');
    expect(down.retryable).toBe(true);
  });

  it("reads the list's size and match rate", async () => {
    const a = await audience();
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 0, uploaded: null, rate: null });
    await connector.add(ctx(), a, emails(10));
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 8, uploaded: null, rate: 0.8 });
    fake.setMatchRatio(0.55);
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 5, uploaded: null, rate: 0.55 });
    expect(fake.vendor.received.at(-1)!.path).toBe(`/v1/accountTypes/GOOGLE_ADS/accounts/1234567890/userLists/${a.id}`);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('the fake refuses what the contract forbids', async () => {
    const a = await audience();
    const dest = [{ operatingAccount: { accountType: 'GOOGLE_ADS', accountId: '1234567890' }, productDestinationId: a.id }];
    const member = (emailAddress: string) => ({ userData: { userIdentifiers: [{ emailAddress }] } });
    const ingest = { destinations: dest, encoding: 'HEX', consent: { adUserData: 'CONSENT_GRANTED', adPersonalization: 'CONSENT_GRANTED' }, termsOfService: { customerMatchTermsOfServiceStatus: 'ACCEPTED' } };
    const upper = await post('/v1/audienceMembers:ingest', { ...ingest, audienceMembers: [member(sha256Hex('a@b.co').toUpperCase())] });
    expect(upper.status).toBe(400);
    expect(JSON.stringify(await upper.json())).toContain('audience_members.audience_members[0].user_data.user_identifiers[0].email_address');
    expect((await post('/v1/audienceMembers:ingest', { ...ingest, encoding: undefined, audienceMembers: [member(sha256Hex('a@b.co'))] })).status).toBe(400);
    expect((await post('/v1/audienceMembers:remove', { ...ingest, audienceMembers: [member(sha256Hex('a@b.co'))] })).status).toBe(400);
    const hashedZip = { userData: { userIdentifiers: [{ address: { givenName: sha256Hex('a'), familyName: sha256Hex('b'), regionCode: 'US', postalCode: sha256Hex('94045') } }] } };
    expect((await post('/v1/audienceMembers:ingest', { ...ingest, audienceMembers: [hashedZip] })).status).toBe(400);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual([
      expect.stringContaining('64 lower-case hex'),
      expect.stringContaining('encoding (HEX or BASE64) is required'),
      expect.stringContaining('Unknown name "consent"'),
      expect.stringContaining('postal code unhashed'),
    ]);
    expect(fake.members(a.id)).toEqual([]);
  });

  it('never logs the access token', async () => {
    const a = await audience();
    fake.vendor.fault({ status: 500 });
    await connector.add(ctx(), a, emails(1));
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toContain(String(fake.config.accessToken));
  });
});
