// The Pinterest customer-list connector against a fake Pinterest API v5
// (test/support/fake-pinterest.ts) that enforces the contract: bearer token,
// comma-joined SHA-256 records, 50,000 records per request, pagination,
// 429 + Retry-After, and 2740/2741 refusals of malformed records.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { sha256Hex } from '../../src/connectors/identifiers.js';
import { createPinterestConnector, PINTEREST_MAX_RECORDS, type PinterestConfig } from '../../src/connectors/pinterest/index.js';
import { createLogger } from '../../src/logger.js';
import { startPinterestFake, type PinterestFake } from '../support/fake-pinterest.js';

const connector = createPinterestConnector({ timeoutMs: 5_000, minBackoffMs: 10, maxBackoffMs: 50, retries: 3 });
// destinations.md §0: the TikTok help centre's official SHA-256 of this
// address; Pinterest publishes no vector of its own and hashes the same way.
const JANE = { raw: ' JaneDoe@Gmail.com ', sha256: 'd6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69' };
const MAID = '5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25';
const MAID_SHA256 = '83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd';

let fake: PinterestFake;
const logs: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });

beforeEach(async () => {
  fake = await startPinterestFake();
  logs.length = 0;
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<PinterestConfig> = {}): ConnectorContext<PinterestConfig> {
  return { destinationId: 'dest_pin', config: { ...(fake.config as PinterestConfig), ...overrides }, logger, signal: new AbortController().signal };
}

const row = (key: string, identifiers: SyncRow['identifiers']): SyncRow => ({ key, fields: {}, identifiers });
const emailRows = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => row(`${prefix}${i}`, { EMAIL: `${prefix}${i}@example.com` }));
const h = (email: string) => sha256Hex(email);

describe('pinterest connector', () => {
  it('declares its spec', () => {
    expect(connector.type).toBe('pinterest');
    expect(connector.spec.category).toBe('AD_PLATFORM');
    expect(connector.spec.identifiers).toEqual([
      { type: 'EMAIL', hashed: true },
      { type: 'MAID', hashed: true },
    ]);
    expect(connector.spec.audiences).toEqual({ canList: true, canCreate: true, types: ['CUSTOMER_LIST_AUDIENCE', 'CUSTOMER_LIST'], defaultType: 'CUSTOMER_LIST_AUDIENCE' });
    expect(connector.spec.batchSize).toBe(50_000);
    expect(connector.spec.supportsUpdate).toBe(false);
    expect(connector.spec.reportsMatchRate).toBe(true);
    const secrets = connector.spec.configSchema.filter((f) => f.secret).map((f) => f.name);
    expect(secrets).toEqual(['accessToken']);
    expect(connector.spec.configSchema.find((f) => f.name === 'baseUrl')).toMatchObject({ type: 'url', required: false, default: 'https://api.pinterest.com/v5' });
  });

  it('validates the ad account id', () => {
    expect(connector.validateConfig!({ accessToken: 't', adAccountId: '549755885175' })).toEqual([]);
    expect(connector.validateConfig!({ accessToken: 't', adAccountId: 'act_12' })[0]).toMatchObject({ path: ['adAccountId'] });
  });

  it('check() reaches the ad account', async () => {
    await connector.check(ctx());
    expect(fake.vendor.received.map((r) => [r.method, r.path, r.status])).toEqual([['GET', `/v5/ad_accounts/${fake.adAccountId}`, 200]]);
    expect(fake.vendor.received[0]!.headers.authorization).toBe(`Bearer ${fake.token}`);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('check() explains a refused token without quoting it', async () => {
    const err = (await connector.check(ctx({ accessToken: 'pina_wrong_token_123' })).catch((e: unknown) => e)) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toContain('Pinterest refused the access token');
    expect(err.message).toContain('Authentication failed.');
    expect(err.message).not.toContain('pina_wrong_token_123');
    expect(fake.vendor.received).toHaveLength(1);
  });

  it('check() names an ad account the token cannot reach', async () => {
    const err = (await connector.check(ctx({ adAccountId: '111' })).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('ACCOUNT_NOT_FOUND');
    expect(err.message).toContain('expected ad account "111" to be reachable');
  });

  it('creates a customer list with its targeting audience, and lists it', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'VIP customers', type: null });
    expect(a).toEqual({ id: expect.any(String), name: 'VIP customers', type: 'CUSTOMER_LIST_AUDIENCE', size: null });
    const list = fake.lists.get(a.id)!;
    expect(list).toMatchObject({ name: 'VIP customers', listType: 'EMAIL' });
    expect([...fake.targeting.values()]).toEqual([{ id: expect.any(String), name: 'VIP customers', customerListId: a.id }]);
    expect(fake.vendor.received.map((r) => r.json)).toEqual([
      { name: 'VIP customers', records: '', list_type: 'EMAIL' },
      { ad_account_id: fake.adAccountId, name: 'VIP customers', audience_type: 'CUSTOMER_LIST', rule: { customer_list_id: a.id } },
    ]);

    const only = await connector.createAudience!(ctx(), { name: 'Lapsed', type: 'CUSTOMER_LIST' });
    expect(only.type).toBe('CUSTOMER_LIST');
    expect(fake.targeting.size).toBe(1);

    const listed = await connector.listAudiences!(ctx());
    expect(listed).toEqual([
      { id: a.id, name: 'VIP customers', type: 'CUSTOMER_LIST_AUDIENCE', size: 0 },
      { id: only.id, name: 'Lapsed', type: 'CUSTOMER_LIST', size: null },
    ]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('refuses an unknown audience type', async () => {
    const err = (await connector.createAudience!(ctx(), { name: 'x', type: 'ACTALIKE' }).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('INVALID_AUDIENCE_TYPE');
    expect(fake.vendor.received).toHaveLength(0);
  });

  it('follows bookmarks through every page of lists and audiences', async () => {
    for (let i = 0; i < 260; i++) fake.seedList(`list ${i}`, { withAudience: i % 2 === 0, records: i === 0 ? ['a'.repeat(64), 'b'.repeat(64)] : [] });
    const listed = await connector.listAudiences!(ctx());
    expect(listed).toHaveLength(260);
    expect(listed[0]).toMatchObject({ name: 'list 0', type: 'CUSTOMER_LIST_AUDIENCE', size: 1 });
    expect(listed[259]).toMatchObject({ name: 'list 259', type: 'CUSTOMER_LIST', size: null });
    const gets = fake.vendor.received.map((r) => `${r.path.split('/').pop()}?${r.query.toString()}`);
    expect(gets).toEqual([
      'customer_lists?page_size=250',
      expect.stringMatching(/^customer_lists\?page_size=250&bookmark=./),
      'audiences?page_size=250',
    ]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('adds rows with mixed identifiers as SHA-256 records, one per identifier', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Mixed', type: null });
    const result = await connector.add(ctx(), a, [
      row('jane', { EMAIL: JANE.raw }),
      row('both', { EMAIL: 'Both@Example.COM', MAID: MAID }),
      row('maid-only', { MAID: MAID.toLowerCase(), PHONE: '+1 650 555 1212' }),
      row('prehashed', { EMAIL: h('pre@example.com').toUpperCase() }),
      row('phone-only', { PHONE: '+44 20 7946 0000' }),
      row('bad-email', { EMAIL: 'not-an-address', MAID: 'nope' }),
    ]);
    expect(result.rejected).toEqual([
      { key: 'phone-only', code: 'NO_USABLE_IDENTIFIER', message: 'no identifier Pinterest can match: expected at least one of EMAIL, MAID, but all were empty' },
      {
        key: 'bad-email',
        code: 'NO_USABLE_IDENTIFIER',
        message: expect.stringMatching(/^no identifier Pinterest can match: expected at least one of EMAIL, MAID, but EMAIL is not an e-mail address .*; MAID is not a mobile advertiser id/),
      },
    ]);
    expect(result.rejected.map((r) => r.message).join(' ')).not.toContain('not-an-address');
    expect(fake.records(a.id)).toEqual([JANE.sha256, h('both@example.com'), MAID_SHA256, h('pre@example.com')].sort());
    expect(fake.members(a.id)).toContainEqual({ EMAIL: JANE.sha256 });
    const patch = fake.vendor.received.find((r) => r.method === 'PATCH')!;
    expect(patch.json).toEqual({ operation_type: 'ADD', records: [JANE.sha256, h('both@example.com'), MAID_SHA256, MAID_SHA256, h('pre@example.com')].join(',') });
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('removes rows, leaving exactly the others', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Churn', type: 'CUSTOMER_LIST' });
    await connector.add(ctx(), a, emailRows(5));
    expect(await connector.remove(ctx(), a, [emailRows(5)[1]!, emailRows(5)[3]!, row('never-added', { EMAIL: 'ghost@example.com' })])).toEqual({ rejected: [] });
    expect(fake.records(a.id)).toEqual(['u0@example.com', 'u2@example.com', 'u4@example.com'].map(h).sort());
    const list = fake.lists.get(a.id)!;
    expect([list.numUploaded, list.numRemoved, list.numBatches]).toEqual([5, 3, 3]);
    expect(fake.vendor.received.filter((r) => r.method === 'PATCH').map((r) => (r.json as { operation_type: string }).operation_type)).toEqual(['ADD', 'REMOVE']);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('splits a call at 50,000 records, keeping each row whole', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Big', type: 'CUSTOMER_LIST' });
    const half = PINTEREST_MAX_RECORDS / 2;
    // Two records a row: 25,001 rows are 50,002 records.
    const rows = Array.from({ length: half + 1 }, (_, i) => row(`r${i}`, { EMAIL: `r${i}@example.com`, MAID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` }));
    expect(await connector.add(ctx(), a, rows)).toEqual({ rejected: [] });
    const patches = fake.vendor.received.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => (r.json as { records: string }).records.split(',').length)).toEqual([PINTEREST_MAX_RECORDS, 2]);
    expect(fake.lists.get(a.id)!.records.size).toBe(PINTEREST_MAX_RECORDS + 2);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('retries a 429 after its Retry-After, then succeeds', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Throttled', type: 'CUSTOMER_LIST' });
    fake.vendor.setThrottle({ limit: 1, windowMs: 1_000 });
    await connector.add(ctx(), a, emailRows(1, 'first'));
    const started = Date.now();
    expect(await connector.add(ctx(), a, emailRows(3))).toEqual({ rejected: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(fake.vendor.received.map((r) => r.fault ?? r.status)).toEqual([201, 200, 'throttled', 200]);
    const throttled = fake.vendor.received[2]!;
    expect(throttled.status).toBe(429);
    expect(fake.records(a.id)).toHaveLength(4);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('retries an injected 429 with Retry-After on the write path', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Once', type: 'CUSTOMER_LIST' });
    fake.vendor.fault({ status: 429, retryAfter: 1, body: { code: 8, message: 'Rate limit exceeded.' } }, { when: (r) => r.method === 'PATCH' });
    const started = Date.now();
    expect(await connector.remove(ctx(), a, emailRows(2))).toEqual({ rejected: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(fake.vendor.received.filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([429, 200]);
  });

  it('isolates the rows Pinterest refuses as malformed (2740) and delivers the others', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Partly bad', type: 'CUSTOMER_LIST' });
    const rows = emailRows(5);
    // u3 has a good MAID beside a refused e-mail: alone, it still draws 2740.
    rows[3]!.identifiers.MAID = MAID;
    fake.malformed.add(h('u3@example.com'));
    const result = await connector.add(ctx(), a, rows);
    expect(result.rejected).toEqual([{ key: 'u3', code: '2740', message: "Pinterest refused the row's records as malformed (code 2740: MALFORMATTED_USER_LIST)" }]);
    expect(fake.records(a.id)).toEqual(['u0@example.com', 'u1@example.com', 'u2@example.com', 'u4@example.com'].map(h).sort());
    // 5 rows (6 records) refused → [u0–u2] ok, [u3, u4] refused → [u3] refused alone, [u4] ok.
    const sizes = fake.vendor.received.filter((r) => r.method === 'PATCH').map((r) => [(r.json as { records: string }).records.split(',').length, r.status]);
    expect(sizes).toEqual([
      [6, 400],
      [3, 200],
      [3, 400],
      [2, 400],
      [1, 200],
    ]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('fails the call when refusals are too many to narrow down', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Systematic', type: 'CUSTOMER_LIST' });
    const rows = emailRows(40).map((r) => ({ ...r, identifiers: { ...r.identifiers, MAID: MAID } }));
    // Every row's e-mail is refused, its MAID not: each row alone draws 2740.
    for (const r of rows) fake.malformed.add(h(r.identifiers.EMAIL!));
    const tight = createPinterestConnector({ minBackoffMs: 10, maxBackoffMs: 50, retries: 3, maxIsolationRequests: 10 });
    const err = (await tight.add(ctx(), a, rows).catch((e: unknown) => e)) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('PINTEREST_2740');
    expect(err.message).toContain('more parts than Roster narrows down in one call (10 requests)');
    expect(fake.vendor.received.filter((r) => r.method === 'PATCH').length).toBeLessThanOrEqual(11);
    expect(fake.records(a.id)).toEqual([]);
  });

  it('rejects every row of a part with no valid record (2741)', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'All bad', type: 'CUSTOMER_LIST' });
    for (const r of emailRows(2)) fake.malformed.add(h(r.identifiers.EMAIL!));
    const result = await connector.add(ctx(), a, emailRows(2));
    expect(result.rejected.map((r) => [r.key, r.code])).toEqual([
      ['u0', '2741'],
      ['u1', '2741'],
    ]);
    expect(fake.vendor.received.filter((r) => r.method === 'PATCH')).toHaveLength(1);
  });

  it('fails the whole call for a list that does not exist', async () => {
    const err = (await connector.add(ctx(), { id: '999', name: 'gone' }, emailRows(1)).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('AUDIENCE_NOT_FOUND');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('expected customer list "999"');
    expect(err.message).toContain('code 1018');
  });

  it('reads the audience size as matched members', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Sized', type: null });
    await connector.add(ctx(), a, emailRows(10));
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 8, uploaded: null });
    fake.setMatchRatio(0.5);
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 5, uploaded: null });
    const listOnly = await connector.createAudience!(ctx(), { name: 'No audience', type: 'CUSTOMER_LIST' });
    expect(await connector.matchRate!(ctx(), listOnly)).toEqual({ matched: null, uploaded: null });
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('never logs the access token', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Quiet', type: null });
    fake.vendor.fault({ status: 500 }, { when: (r) => r.method === 'PATCH' });
    await connector.add(ctx(), a, emailRows(2));
    await connector.matchRate!(ctx(), a);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toContain(fake.token);
  });
});

describe('the fake Pinterest', () => {
  const call = (method: string, path: string, body: unknown, token = fake.token) =>
    fetch(`${fake.vendor.url}/v5/ad_accounts/${fake.adAccountId}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('refuses oversize, unhashed and mis-shaped updates', async () => {
    const l = fake.seedList('target');
    const tooMany = Array.from({ length: PINTEREST_MAX_RECORDS + 1 }, (_, i) => h(`x${i}`)).join(',');
    expect((await call('PATCH', `/customer_lists/${l.id}`, { operation_type: 'ADD', records: tooMany })).status).toBe(400);
    expect((await call('PATCH', `/customer_lists/${l.id}`, { operation_type: 'ADD', records: 'plain@example.com' })).status).toBe(400);
    expect((await call('PATCH', `/customer_lists/${l.id}`, { operation_type: 'ADD', records: [h('a')] })).status).toBe(400);
    expect((await call('PATCH', `/customer_lists/${l.id}`, { operation_type: 'APPEND', records: h('a') })).status).toBe(400);
    expect((await call('PATCH', `/customer_lists/${l.id}`, { operation_type: 'ADD', records: h('a') }, 'wrong')).status).toBe(401);
    expect((await call('PATCH', `/customer_lists/${l.id}`, { operation_type: 'ADD', records: h('a') })).status).toBe(200);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual([
      `${PINTEREST_MAX_RECORDS + 1} records exceed the maximum of ${PINTEREST_MAX_RECORDS}`,
      'record 0 is not 64 lower-case hex',
      '"records" must be a comma-separated string, got a list',
      '"operation_type" must be ADD or REMOVE',
      'auth: Authorization is not "Bearer <the expected token>"',
    ]);
    expect(fake.records(l.id)).toEqual([h('a')]);
  });
});
