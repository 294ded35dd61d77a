// The Meta Custom Audiences connector against a fake Graph API that enforces
// the contract (test/support/fake-meta.ts): auth, payload shape and hashing,
// the 10,000-row limit, Meta's throttle codes, the 1870047 removal refusal and
// audience state.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError, type Audience, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { sha256Hex } from '../../src/connectors/identifiers.js';
import { META_SCHEMA, createMetaConnector, metaConnector, type MetaConfig } from '../../src/connectors/meta/index.js';
import { createLogger } from '../../src/logger.js';
import { graphError, startMetaFake, type MetaFake } from '../support/fake-meta.js';

const connector = createMetaConnector({ timeoutMs: 2_000, minBackoffMs: 5, maxBackoffMs: 20, retries: 3 });

let fake: MetaFake;
const logs: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });

beforeEach(async () => {
  fake = await startMetaFake({ maxPageSize: 2 });
  logs.length = 0;
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<MetaConfig> = {}): ConnectorContext<MetaConfig> {
  return { destinationId: 'dest_meta', config: { ...(fake.config as MetaConfig), ...overrides }, logger, signal: new AbortController().signal };
}

const row = (key: string, identifiers: SyncRow['identifiers']): SyncRow => ({ key, fields: {}, identifiers });
const emails = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => row(`${prefix}${i}`, { EMAIL: `${prefix}${i}@example.com` }));

async function audience(name = 'High-value customers'): Promise<Audience> {
  return connector.createAudience!(ctx(), { name, type: null });
}

/** The /users bodies received, parsed. */
const uploadsOf = (method: string) =>
  fake.vendor.received.filter((r) => r.method === method && r.path.endsWith('/users')).map((r) => (r.json as { payload: { schema: string[]; data: string[][] } }).payload);

describe('meta connector', () => {
  it('declares its spec', () => {
    expect(metaConnector.type).toBe('meta');
    expect(metaConnector.name).toBe('Meta Custom Audiences');
    expect(metaConnector.spec).toMatchObject({
      category: 'AD_PLATFORM',
      batchSize: 10_000,
      audiences: { canList: true, canCreate: true, types: ['CUSTOM'], defaultType: 'CUSTOM' },
      reportsMatchRate: true,
      supportsUpdate: false,
      requiresProfiles: false,
    });
    const hashed = Object.fromEntries(metaConnector.spec.identifiers.map((i) => [i.type, i.hashed]));
    expect(hashed).toMatchObject({ EMAIL: true, PHONE: true, MAID: false, EXTERNAL_ID: false, DATE_OF_BIRTH: true });
    expect(metaConnector.spec.configSchema.find((f) => f.name === 'accessToken')).toMatchObject({ secret: true, required: true });
    expect(metaConnector.spec.configSchema.find((f) => f.name === 'baseUrl')).toMatchObject({ type: 'url', required: false, default: 'https://graph.facebook.com' });
  });

  it('validates its configuration', () => {
    const base = fake.config as MetaConfig;
    expect(metaConnector.validateConfig!(base)).toEqual([]);
    expect(metaConnector.validateConfig!({ ...base, adAccountId: 'act_123' })).toEqual([]);
    expect(metaConnector.validateConfig!({ ...base, adAccountId: 'my-account', apiVersion: '24' }).map((p) => p.path)).toEqual([['adAccountId'], ['apiVersion']]);
  });

  it('check() reads the ad account with the bearer token', async () => {
    await connector.check(ctx());
    expect(fake.vendor.received).toHaveLength(1);
    const r = fake.vendor.received[0]!;
    expect(r.path).toBe('/v24.0/act_1000000001');
    expect(r.headers.authorization).toBe(`Bearer ${fake.config.accessToken}`);
    expect(r.query.get('fields')).toContain('tos_accepted');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('check() fails clearly, without retrying, on a bad token', async () => {
    const err = (await connector.check(ctx({ accessToken: 'EAAB-wrong-token-123456' })).catch((e: unknown) => e)) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('META_190');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('GET /v24.0/act_1000000001');
    expect(err.message).toContain('access token is invalid or expired');
    expect(err.message).not.toContain('EAAB-wrong-token-123456');
    expect(fake.vendor.received).toHaveLength(1);
  });

  it('check() names the missing Custom Audience terms and a wrong ad account', async () => {
    fake.setTosAccepted(false);
    const terms = (await connector.check(ctx()).catch((e: unknown) => e)) as ConnectorError;
    expect(terms.code).toBe('TERMS_NOT_ACCEPTED');
    expect(terms.message).toContain('custom_audience_tos');
    fake.setTosAccepted(true);
    const account = (await connector.check(ctx({ adAccountId: '999' })).catch((e: unknown) => e)) as ConnectorError;
    expect(account.code).toBe('META_100_33');
    expect(account.message).toContain('does not exist or the token lacks permission');
  });

  it('check() sends appsecret_proof when the app requires it', async () => {
    const strict = await startMetaFake({ appSecret: 'app-secret-9f8e7d6c' });
    try {
      const c: ConnectorContext<MetaConfig> = { ...ctx(), config: strict.config as MetaConfig };
      await connector.check(c);
      expect(strict.vendor.refusals()).toEqual([]);
      const without = { ...c, config: { ...c.config, appSecret: undefined } } as ConnectorContext<MetaConfig>;
      expect(((await connector.check(without).catch((e: unknown) => e)) as ConnectorError).code).toBe('META_190');
      expect(logs.join('\n')).not.toContain('app-secret-9f8e7d6c');
    } finally {
      await strict.close();
    }
  });

  it('creates a customer-list audience and finds it by listing, across pages', async () => {
    fake.seedAudience('Lookalike (1%)', 'LOOKALIKE');
    fake.seedAudience('Existing list');
    const created = await audience('Churn risk');
    expect(created).toEqual({ id: expect.stringMatching(/^\d+$/), name: 'Churn risk', type: 'CUSTOM', size: null });
    expect(JSON.parse(fake.vendor.received.at(-1)!.rawBody)).toEqual({
      name: 'Churn risk',
      subtype: 'CUSTOM',
      customer_file_source: 'USER_PROVIDED_ONLY',
      description: 'Synced by Roster',
    });
    const listed = await connector.listAudiences!(ctx());
    // The lookalike takes no uploads, so it is not offered.
    expect(listed.map((a) => a.name)).toEqual(['Existing list', 'Churn risk']);
    expect(listed.find((a) => a.id === created.id)).toMatchObject({ type: 'CUSTOM', size: 0 });
    // Three audiences at two per page: two list requests.
    expect(fake.vendor.received.filter((r) => r.method === 'GET' && r.path.endsWith('/customaudiences'))).toHaveLength(2);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('refuses audience types other than CUSTOM', async () => {
    const err = (await connector.createAudience!(ctx(), { name: 'x', type: 'LOOKALIKE' }).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('INVALID_AUDIENCE_TYPE');
    expect(fake.vendor.received).toHaveLength(0);
  });

  it('adds rows with mixed identifiers as the exact hashed multi-key rows (§0 Meta vectors)', async () => {
    const a = await audience();
    const result = await connector.add(ctx({ defaultPhoneCountryCode: '1' }), a, [
      row('p1', {
        EMAIL: 'John.Doe@Example.com ',
        PHONE: '+1 (650) 555-1212',
        FIRST_NAME: 'John',
        LAST_NAME: 'Doe',
        GENDER: 'M',
        COUNTRY: 'US',
        DATE_OF_BIRTH: '1985-07-04',
        CITY: 'San Francisco',
        STATE: 'California',
        ZIP: '94105-1234',
      }),
      row('p2', { MAID: 'AEBE52E7-03EE-455A-B3C4-E57283966239', EXTERNAL_ID: 'crm-42' }),
      // A national number, completed with the configured country code.
      row('p3', { PHONE: '(415) 555-0100' }),
    ]);
    expect(result).toEqual({ rejected: [] });
    expect(fake.members(a.id)).toEqual([
      {
        EMAIL: '836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f',
        PHONE: 'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176',
        GENDER: '62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a',
        DOBY: sha256Hex('1985'),
        DOBM: sha256Hex('07'),
        DOBD: sha256Hex('04'),
        LAST_NAME: '799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f',
        FIRST_NAME: '96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a',
        FI: sha256Hex('j'),
        CITY: sha256Hex('sanfrancisco'),
        STATE: sha256Hex('ca'),
        ZIP: sha256Hex('94105'),
        COUNTRY: '79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621',
      },
      { MAID: 'aebe52e7-03ee-455a-b3c4-e57283966239', EXTERNAL_ID: 'crm-42' },
      { PHONE: sha256Hex('14155550100') },
    ]);
    const [upload] = uploadsOf('POST');
    expect(upload!.schema).toEqual([...META_SCHEMA]);
    expect(upload!.data.every((r) => r.length === 15)).toBe(true);
    expect(fake.uploads).toEqual([{ method: 'POST', audienceId: a.id, numReceived: 3, numInvalidEntries: 0 }]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('passes identifiers the warehouse already hashed', async () => {
    const a = await audience();
    const hashed = sha256Hex('jane@example.com');
    await connector.add(ctx(), a, [row('h1', { EMAIL: hashed.toUpperCase() })]);
    expect(fake.members(a.id)).toEqual([{ EMAIL: hashed }]);
  });

  it('removes members', async () => {
    const a = await audience();
    await connector.add(ctx(), a, emails(4));
    expect(await connector.remove(ctx(), a, [row('u1', { EMAIL: 'U1@example.com' }), row('u3', { EMAIL: 'u3@example.com' })])).toEqual({ rejected: [] });
    expect(fake.members(a.id)).toEqual([{ EMAIL: sha256Hex('u0@example.com') }, { EMAIL: sha256Hex('u2@example.com') }]);
    expect(fake.vendor.received.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual([`/v24.0/${a.id}/users`]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('splits a call above 10,000 rows; the fake refuses oversize requests', async () => {
    const a = await audience();
    await connector.add(ctx(), a, emails(10_001));
    expect(uploadsOf('POST').map((p) => p.data.length)).toEqual([10_000, 1]);
    expect(fake.members(a.id)).toHaveLength(10_001);
    expect(fake.vendor.refusals()).toEqual([]);

    const oversize = { payload: { schema: ['EMAIL'], data: Array.from({ length: 10_001 }, (_, i) => [sha256Hex(`x${i}`)]) } };
    const res = await fetch(`${fake.vendor.url}/v24.0/${a.id}/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.config.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(oversize),
    });
    expect(res.status).toBe(400);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual([expect.stringContaining('exceeds the maximum of 10000')]);
  });

  it('retries a 429 with Retry-After, then succeeds', async () => {
    const a = await audience();
    fake.vendor.fault({ status: 429, retryAfter: 1 }, { when: (r) => r.path.endsWith('/users') });
    const started = Date.now();
    expect(await connector.add(ctx(), a, emails(2))).toEqual({ rejected: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.vendor.received.filter((r) => r.path.endsWith('/users')).map((r) => r.status)).toEqual([429, 200]);
    expect(fake.members(a.id)).toHaveLength(2);
  });

  it("retries Meta's throttle codes (HTTP 400, code 80003), then succeeds", async () => {
    const a = await audience();
    const usage = JSON.stringify({ '1000000001': [{ type: 'custom_audience', call_count: 100, estimated_time_to_regain_access: 0 }] });
    fake.vendor.fault(
      { status: 400, body: graphError(80003, 'There have been too many calls to this ad-account.'), headers: { 'x-business-use-case-usage': usage } },
      { times: 2, when: (r) => r.path.endsWith('/users') },
    );
    expect(await connector.add(ctx(), a, emails(1))).toEqual({ rejected: [] });
    expect(fake.vendor.received.filter((r) => r.path.endsWith('/users')).map((r) => r.status)).toEqual([400, 400, 200]);
    expect(logs.some((l) => l.includes('Meta throttled the call'))).toBe(true);
  });

  it('gives up on a persistent throttle with a retryable error', async () => {
    const a = await audience();
    fake.vendor.fault({ status: 400, body: graphError(80003, 'There have been too many calls to this ad-account.') }, { times: 100 });
    const err = (await connector.add(ctx(), a, emails(1)).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('META_80003');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('gave up after 4 attempts');
    // Meta asking for longer than Roster waits fails at once.
    fake.vendor.clearFaults();
    const usage = JSON.stringify({ '1000000001': [{ estimated_time_to_regain_access: 60 }] });
    fake.vendor.fault({ status: 400, body: graphError(80003, 'Too many calls'), headers: { 'x-business-use-case-usage': usage } });
    const before = fake.vendor.received.length;
    const long = (await createMetaConnector({ maxRetryAfterMs: 60_000 }).add(ctx(), a, emails(1)).catch((e: unknown) => e)) as ConnectorError;
    expect(long.retryable).toBe(true);
    expect(long.message).toContain('expects access back in 60 min');
    expect(fake.vendor.received.length - before).toBe(1);
  });

  it('fails a removal from a too-small audience (1870047) without retrying', async () => {
    const a = await audience();
    await connector.add(ctx(), a, emails(3));
    fake.setMinRemovalSize(1_000);
    const err = (await connector.remove(ctx(), a, emails(1)).catch((e: unknown) => e)) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('AUDIENCE_TOO_SMALL');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('Audience Size too Low');
    expect(err.message).toContain('refuses removals from audiences this small');
    expect(fake.members(a.id)).toHaveLength(3);
    expect(fake.vendor.received.filter((r) => r.method === 'DELETE')).toHaveLength(1);
  });

  it('rejects rows with no usable identifier before sending, with a clear message', async () => {
    const a = await audience();
    const result = await connector.add(ctx(), a, [
      row('ok', { EMAIL: 'ok@example.com' }),
      row('bad-email', { EMAIL: 'not-an-email', PHONE: null }),
      row('only-country', { COUNTRY: 'US', GENDER: 'F' }),
      row('empty', { EMAIL: '  ' }),
    ]);
    expect(result.rejected).toEqual([
      { key: 'bad-email', code: 'NO_USABLE_IDENTIFIER', message: expect.stringContaining('EMAIL is not an e-mail address') },
      { key: 'only-country', code: 'NO_USABLE_IDENTIFIER', message: expect.stringContaining('expected at least one of EMAIL, PHONE, MAID') },
      { key: 'empty', code: 'NO_USABLE_IDENTIFIER', message: expect.stringContaining('all were empty') },
    ]);
    expect(result.rejected.map((r) => r.message).join(' ')).not.toContain('not-an-email');
    expect(fake.members(a.id)).toEqual([{ EMAIL: sha256Hex('ok@example.com') }]);
    expect(uploadsOf('POST')[0]!.data).toHaveLength(1);
    // Nothing usable: nothing sent.
    const before = fake.vendor.received.length;
    expect((await connector.add(ctx(), a, [row('x', { EMAIL: 'nope' })])).rejected).toHaveLength(1);
    expect(fake.vendor.received.length).toBe(before);
  });

  it("logs Meta's invalid-entry count, which it cannot pin on rows", async () => {
    const a = await audience();
    fake.invalidEmails.add(sha256Hex('bounced@example.com'));
    const result = await connector.add(ctx(), a, [row('b', { EMAIL: 'bounced@example.com' }), row('g', { EMAIL: 'good@example.com' })]);
    expect(result).toEqual({ rejected: [] });
    expect(fake.members(a.id)).toEqual([{ EMAIL: sha256Hex('good@example.com') }]);
    const warning = logs.find((l) => l.includes('invalid entries'));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning!)).toMatchObject({ numInvalidEntries: 1, numReceived: 2, audienceId: a.id });
  });

  it('fails the whole call on a refused batch, and on a server that keeps failing', async () => {
    const ghost: Audience = { id: '404404', name: 'gone' };
    const err = (await connector.add(ctx(), ghost, emails(1)).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('META_100_33');
    expect(err.retryable).toBe(false);
    const a = await audience();
    fake.vendor.fault({ status: 500, body: graphError(2, 'Service temporarily unavailable', { type: 'FacebookApiException' }) }, { times: 10 });
    const down = (await connector.add(ctx(), a, emails(1)).catch((e: unknown) => e)) as ConnectorError;
    expect(down.code).toBe('HTTP_500');
    expect(down.retryable).toBe(true);
  });

  it("reads the audience size Meta reports as the match statistic", async () => {
    const a = await audience();
    await connector.add(ctx(), a, emails(10));
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 8, uploaded: null });
    fake.setMatchRatio(0.35);
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 3, uploaded: null });
    const last = fake.vendor.received.at(-1)!;
    expect(last.path).toBe(`/v24.0/${a.id}`);
    expect(last.query.get('fields')).toContain('approximate_count_lower_bound');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('never logs the access token', async () => {
    const a = await audience();
    fake.vendor.fault({ status: 500 });
    await connector.add(ctx(), a, emails(1));
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toContain(String(fake.config.accessToken));
  });
});
