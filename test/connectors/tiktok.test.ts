// The TikTok connector against a fake Business API that enforces the
// customer-file contract (test/support/fake-tiktok.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTikTokConnector, customerFiles, normaliseTikTokEmail, type TikTokConfig } from '../../src/connectors/tiktok/index.js';
import { ConnectorError, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { createLogger } from '../../src/logger.js';
import { startTikTokFake, type TikTokFake } from '../support/fake-tiktok.js';

// TikTok help centre vectors (destinations.md §0, official ✓).
const JANEDOE_SHA256 = 'd6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69';
const MAID_SHA256 = '83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd';
// Digits-only phone (448444124653), the same digest as Snap's official vector.
const PHONE_SHA256 = 'dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383';

const connector = createTikTokConnector({ timeoutMs: 2_000, minBackoffMs: 10, maxBackoffMs: 50, retries: 3 });
const logs: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });
let fake: TikTokFake;

beforeEach(async () => {
  fake = await startTikTokFake();
  logs.length = 0;
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<TikTokConfig> = {}): ConnectorContext<TikTokConfig> {
  return { destinationId: 'dest_tt', config: { ...(fake.config as TikTokConfig), ...overrides }, logger, signal: new AbortController().signal };
}

const row = (key: string, identifiers: SyncRow['identifiers']): SyncRow => ({ key, fields: {}, identifiers });
const emailRows = (n: number, prefix = 'user') => Array.from({ length: n }, (_, i) => row(`${prefix}${i}`, { EMAIL: `${prefix}${i}@example.com` }));

describe('tiktok connector', () => {
  it('declares its spec', () => {
    expect(connector.type).toBe('tiktok');
    expect(connector.spec.category).toBe('AD_PLATFORM');
    expect(connector.spec.identifiers).toEqual([
      { type: 'EMAIL', hashed: true },
      { type: 'PHONE', hashed: true },
      { type: 'MAID', hashed: true },
    ]);
    expect(connector.spec.audiences).toEqual({ canList: true, canCreate: true, types: ['Customer File Audience'], defaultType: 'Customer File Audience' });
    expect(connector.spec.supportsUpdate).toBe(false);
    expect(connector.spec.reportsMatchRate).toBe(true);
    const secrets = connector.spec.configSchema.filter((f) => f.secret).map((f) => f.name);
    expect(secrets).toEqual(['accessToken']);
    expect(connector.spec.configSchema.find((f) => f.name === 'baseUrl')).toMatchObject({ type: 'url', required: false, default: 'https://business-api.tiktok.com/open_api/v1.3' });
  });

  it('normalises e-mail the TikTok way and reproduces the help-centre vectors', () => {
    expect(normaliseTikTokEmail(' Jane.Doe+news@Gmail.com ')).toEqual({ ok: true, value: 'janedoe@gmail.com' });
    expect(normaliseTikTokEmail('+tag@example.com').ok).toBe(false);
  });

  it('check() succeeds with the right token and advertiser', async () => {
    await connector.check(ctx());
    expect(fake.vendor.received).toHaveLength(1);
    expect(fake.vendor.received[0]!.headers['access-token']).toBe(fake.accessToken);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('check() fails clearly on a wrong token or an advertiser the token cannot use', async () => {
    const bad = await connector.check(ctx({ accessToken: 'tt-wrong-token-000' })).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ConnectorError);
    expect((bad as ConnectorError).code).toBe('TIKTOK_40001');
    expect((bad as ConnectorError).retryable).toBe(false);
    expect((bad as ConnectorError).message).toMatch(/expected code 0, but got code 40001 .*refused the access token/);
    expect((bad as ConnectorError).message).not.toContain('tt-wrong-token-000');

    const other = await connector.check(ctx({ advertiserId: '7000000000000000001' })).catch((e: unknown) => e);
    expect((other as ConnectorError).code).toBe('TIKTOK_40001');
    expect((other as ConnectorError).message).toContain('no permission to operate advertiser');
  });

  it('createAudience uploads a header-only file, creates a customer-file audience, and listAudiences finds it', async () => {
    const created = await connector.createAudience!(ctx(), { name: 'VIP customers', type: null });
    expect(created).toMatchObject({ name: 'VIP customers', type: 'Customer File Audience' });
    expect(fake.audiences()).toEqual([{ id: created.id, name: 'VIP customers', type: 'Customer File Audience' }]);
    const upload = fake.vendor.received[0]!;
    expect(upload.path).toBe('/open_api/v1.3/dmp/custom_audience/file/upload/');
    expect(upload.rawBody).toContain('name="calculate_type"\r\n\r\nMULTIPLE_TYPES\r\n');
    expect(upload.rawBody).toContain('EMAIL_SHA256,PHONE_SHA256,MAID_SHA256\n');
    expect(fake.vendor.received[1]!.json).toMatchObject({ custom_audience_name: 'VIP customers', calculate_type: 'MULTIPLE_TYPES', file_paths: [expect.any(String)] });

    const listed = await connector.listAudiences!(ctx());
    expect(listed).toEqual([{ id: created.id, name: 'VIP customers', type: 'Customer File Audience', size: 0 }]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('refuses an audience type it does not create', async () => {
    const err = await connector.createAudience!(ctx(), { name: 'x', type: 'Lookalike Audience' }).catch((e: unknown) => e);
    expect((err as ConnectorError).message).toBe('expected the audience type "Customer File Audience", but got "Lookalike Audience"');
    expect(fake.vendor.received).toHaveLength(0);
  });

  it('listAudiences follows the pages', async () => {
    const paged = await startTikTokFake({ pageSizeCap: 2 });
    try {
      const c: ConnectorContext<TikTokConfig> = { ...ctx(), config: paged.config as TikTokConfig };
      for (const name of ['a', 'b', 'c', 'd', 'e']) await connector.createAudience!(c, { name, type: null });
      const listed = await connector.listAudiences!(c);
      expect(listed.map((a) => a.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
      const pages = paged.vendor.received.filter((r) => r.path.endsWith('/list/')).map((r) => r.query.get('page'));
      expect(pages).toEqual(['1', '2', '3']);
      expect(paged.vendor.refusals()).toEqual([]);
    } finally {
      await paged.close();
    }
  });

  it('adds rows with mixed identifiers as exactly the expected hashed members', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Mixed', type: null });
    fake.vendor.received.length = 0;
    const result = await connector.add(ctx(), a, [
      row('u1', { EMAIL: ' JaneDoe+news@Gmail.com' }),
      row('u2', { MAID: '5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25' }),
      row('u3', { PHONE: '+44 844 412 4653' }),
      row('u4', { EMAIL: 'jane.doe@gmail.com', PHONE: '0044 844 412 4653' }),
      row('u5', { EMAIL: JANEDOE_SHA256.toUpperCase(), MAID: null }),
    ]);
    expect(result).toEqual({ rejected: [] });
    // u1, u4's e-mail and u5 are the same person's hash; u4 adds a phone.
    expect(fake.members(a.id)).toEqual([
      { EMAIL: JANEDOE_SHA256 },
      { MAID: MAID_SHA256 },
      { PHONE: PHONE_SHA256 },
      { EMAIL: JANEDOE_SHA256, PHONE: PHONE_SHA256 },
    ]);
    expect(fake.updates).toEqual([{ audienceId: a.id, action: 'APPEND', filePaths: [expect.any(String)] }]);
    const file = [...fake.files.values()].at(-1)!;
    expect(file.calculateType).toBe('MULTIPLE_TYPES');
    // No raw identifier ever travelled.
    const sent = fake.vendor.received.map((r) => r.rawBody).join('\n');
    expect(sent).not.toMatch(/gmail|844 412|5F3A2B18/i);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('removes rows', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Removals', type: null });
    await connector.add(ctx(), a, [...emailRows(4), row('m', { MAID: '5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25' })]);
    const result = await connector.remove(ctx(), a, [row('user1', { EMAIL: 'user1@example.com' }), row('m', { MAID: '5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25' })]);
    expect(result).toEqual({ rejected: [] });
    expect(fake.members(a.id)).toHaveLength(3);
    expect(fake.members(a.id).some((m) => m.MAID === MAID_SHA256)).toBe(false);
    expect(fake.updates.map((u) => u.action)).toEqual(['APPEND', 'REMOVE']);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('splits a call whose file would pass the file limit, and applies the files together', async () => {
    const limit = 300;
    const small = await startTikTokFake({ maxFileBytes: limit });
    try {
      const c: ConnectorContext<TikTokConfig> = { ...ctx(), config: small.config as TikTokConfig };
      const a = await createTikTokConnector({ maxFileBytes: limit }).createAudience!(c, { name: 'Split', type: null });
      // The fake refuses a file at or above its limit…
      const err = await connector.add(c, a, emailRows(10)).catch((e: unknown) => e);
      expect((err as ConnectorError).code).toBe('TIKTOK_40002');
      expect(small.vendor.refusals().map((r) => r.refused)).toEqual([`file: larger than the ${limit}-byte limit`]);
      expect(small.members(a.id)).toEqual([]);
      // …so a connector that knows the limit spreads the rows over several files.
      const splitting = createTikTokConnector({ maxFileBytes: limit });
      expect(await splitting.add(c, a, emailRows(10))).toEqual({ rejected: [] });
      expect(small.members(a.id)).toHaveLength(10);
      const update = small.updates.at(-1)!;
      expect(update.filePaths.length).toBeGreaterThan(1);
      expect(update.filePaths.reduce((n, p) => n + small.files.get(p)!.rows.length, 0)).toBe(10);
      expect(small.vendor.refusals()).toHaveLength(1);
    } finally {
      await small.close();
    }
  });

  it('sends at most 49 file paths per update', async () => {
    const oneRowFiles = createTikTokConnector({ maxFileBytes: 'EMAIL_SHA256\n'.length + 66 });
    const a = await oneRowFiles.createAudience!(ctx(), { name: 'Many files', type: null });
    expect(await oneRowFiles.add(ctx(), a, emailRows(50))).toEqual({ rejected: [] });
    expect(fake.updates.map((u) => u.filePaths.length)).toEqual([49, 1]);
    expect(fake.members(a.id)).toHaveLength(50);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('customerFiles keeps every file under the limit', () => {
    const prepared = emailRows(3).map((r, i) => ({ row: r, values: { EMAIL: String(i).repeat(64).slice(0, 64) } }));
    const files = customerFiles(prepared, 'EMAIL_SHA256\n'.length + 66);
    expect(files).toEqual([`EMAIL_SHA256\n${'0'.repeat(64)}\n`, `EMAIL_SHA256\n${'1'.repeat(64)}\n`, `EMAIL_SHA256\n${'2'.repeat(64)}\n`]);
  });

  it('retries an HTTP 429 after its Retry-After, and a code 40100 with backoff', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Throttled', type: null });
    fake.vendor.received.length = 0;
    fake.vendor.fault({ status: 429, retryAfter: 1, body: { code: 40100, message: 'Too many requests' } }, { times: 1 });
    fake.vendor.fault({ status: 200, body: { code: 40100, message: 'Too many requests', request_id: 'r1', data: {} } }, { times: 2, when: (r) => r.path.endsWith('/update/') });
    const started = Date.now();
    expect(await connector.add(ctx(), a, emailRows(2))).toEqual({ rejected: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(fake.vendor.received.map((r) => [r.path.split('/').at(-2), r.fault ?? 'ok'])).toEqual([
      ['upload', 'status'],
      ['upload', 'ok'],
      ['update', 'status'],
      ['update', 'status'],
      ['update', 'ok'],
    ]);
    expect(fake.members(a.id)).toHaveLength(2);
    expect(logs.join('\n')).not.toContain(fake.accessToken);
  });

  it('gives up with a retryable error when TikTok keeps answering 40100', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Busy', type: null });
    fake.throttleWithCode(0, 60_000);
    const err = await connector.add(ctx(), a, emailRows(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('TIKTOK_40100');
    expect((err as ConnectorError).retryable).toBe(true);
    expect((err as ConnectorError).message).toContain('still rate limited');
  });

  it('rejects rows with no usable identifier, with a clear message, and delivers the rest', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Partial', type: null });
    const result = await connector.add(ctx(), a, [
      row('ok', { EMAIL: 'ok@example.com' }),
      row('bad-email', { EMAIL: 'not an email' }),
      row('local-phone', { PHONE: '020 7946 0000' }),
      row('nothing', { EMAIL: null, EXTERNAL_ID: 'crm-42' }),
    ]);
    expect(result.rejected).toEqual([
      { key: 'bad-email', code: 'NO_USABLE_IDENTIFIER', message: expect.stringMatching(/^no identifier TikTok can match: expected at least one of EMAIL, PHONE, MAID, but EMAIL is not an e-mail address/) },
      { key: 'local-phone', code: 'NO_USABLE_IDENTIFIER', message: expect.stringContaining('PHONE has no country code') },
      { key: 'nothing', code: 'NO_USABLE_IDENTIFIER', message: 'no identifier TikTok can match: expected at least one of EMAIL, PHONE, MAID, but all were empty' },
    ]);
    expect(result.rejected.map((r) => r.message).join(' ')).not.toMatch(/020 7946|not an email/);
    expect(fake.members(a.id)).toHaveLength(1);
    // With a calling code configured, the national number is usable.
    expect((await connector.add(ctx({ phoneCountryCode: '44' }), a, [row('local-phone', { PHONE: '020 7946 0000' })])).rejected).toEqual([]);
    expect(fake.members(a.id)).toHaveLength(2);
  });

  it('fails the whole call when TikTok refuses the data (TikTok reports no per-row results)', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Refused', type: null });
    fake.rejectValues.add(JANEDOE_SHA256);
    const err = await connector.add(ctx(), a, [row('x', { EMAIL: 'janedoe@gmail.com' }), row('y', { EMAIL: 'y@example.com' })]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('TIKTOK_40002');
    expect((err as ConnectorError).message).toMatch(/^TikTok uploading a customer file: expected code 0, but got code 40002 "customer file line 2: invalid data"/);
    expect((err as ConnectorError).message).not.toContain('janedoe');
    expect(fake.members(a.id)).toEqual([]);
    // The vendor refused data it was sent; the connector broke no contract.
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('matchRate reads cover_num as the matched size', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Sized', type: null });
    await connector.add(ctx(), a, emailRows(5));
    fake.setMatchRatio(0.6);
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 3, uploaded: null });
    const missing = await connector.matchRate!(ctx(), { id: '999', name: 'gone' }).catch((e: unknown) => e);
    expect((missing as ConnectorError).code).toBe('AUDIENCE_NOT_FOUND');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('validates its configuration', () => {
    expect(connector.validateConfig!({ accessToken: 't', advertiserId: 'adv-1' })).toEqual([
      { path: ['advertiserId'], message: 'expected a TikTok advertiser id made of digits, but got other characters' },
    ]);
    expect(connector.validateConfig!({ accessToken: 't', advertiserId: '123', phoneCountryCode: '+44' })).toEqual([]);
    expect(connector.validateConfig!({ accessToken: 't', advertiserId: '123', phoneCountryCode: 'uk' })).toHaveLength(1);
  });
});

describe('the fake TikTok API', () => {
  it('treats an update without action as REPLACE, and refuses a REPLACE under 1,000 members', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Guard', type: null });
    await connector.add(ctx(), a, emailRows(3));
    const path = [...fake.files.keys()].at(-1)!;
    const res = await fetch(`${fake.vendor.url}/open_api/v1.3/dmp/custom_audience/update/`, {
      method: 'POST',
      headers: { 'access-token': fake.accessToken, 'content-type': 'application/json' },
      body: JSON.stringify({ advertiser_id: fake.advertiserId, custom_audience_id: a.id, file_paths: [path] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ code: 40002, message: 'REPLACE would leave the audience with fewer than 1,000 members' });
    expect(fake.members(a.id)).toHaveLength(3);
  });
});
