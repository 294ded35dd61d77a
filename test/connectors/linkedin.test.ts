// The LinkedIn Matched Audiences connector against a fake that enforces the
// Rest.li contract (test/support/fake-linkedin.ts): headers, the account URN,
// payload shapes, hashing, the per-request element limit, per-element
// statuses, paging, throttling and the 404 of a segment not ready yet.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLinkedInConnector, linkedInAccountId, linkedinConnector, type LinkedInConfig } from '../../src/connectors/linkedin/index.js';
import { registerConnector, validateDestinationConfig } from '../../src/connectors/registry.js';
import { ConnectorError, type Audience, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { normaliseEmail, sha256Hex } from '../../src/connectors/identifiers.js';
import { createLogger } from '../../src/logger.js';
import { startLinkedInFake, type LinkedInFake } from '../support/fake-linkedin.js';

const connector = createLinkedInConnector({ timeoutMs: 2_000, minBackoffMs: 10, maxBackoffMs: 50, retries: 3 });
const logger = createLogger('silent', { write: () => {} });

let fake: LinkedInFake;
beforeEach(async () => {
  fake = await startLinkedInFake();
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<LinkedInConfig> = {}): ConnectorContext<LinkedInConfig> {
  return { destinationId: 'dest_li', config: { ...(fake.config as LinkedInConfig), ...overrides }, logger, signal: new AbortController().signal };
}

const emailHash = (e: string) => {
  const n = normaliseEmail(e);
  if (!n.ok) throw new Error('bad test e-mail');
  return sha256Hex(n.value);
};

function row(key: string, identifiers: SyncRow['identifiers']): SyncRow {
  return { key, fields: {}, identifiers };
}

/** Members in a stable order: by their fields, keys sorted. */
const canonical = (m: Partial<Record<string, string>>) => JSON.stringify(Object.entries(m).sort(([x], [y]) => x.localeCompare(y)));
const sortMembers = (m: Partial<Record<string, string>>[]) => [...m].sort((a, b) => canonical(a).localeCompare(canonical(b)));

describe('linkedin connector', () => {
  it('declares its spec', () => {
    expect(connector.type).toBe('linkedin');
    expect(connector.spec.category).toBe('AD_PLATFORM');
    expect(connector.spec.audiences).toEqual({ canList: true, canCreate: true, types: ['USER'], defaultType: 'USER' });
    expect(connector.spec.batchSize).toBe(5_000);
    expect(connector.spec.rateLimit).toEqual({ requestsPerSecond: 10, concurrency: 4 });
    expect(connector.spec.identifiers).toContainEqual({ type: 'EMAIL', hashed: true });
    expect(connector.spec.identifiers).toContainEqual({ type: 'MAID', hashed: false });
    expect(connector.spec.supportsUpdate).toBe(false);
    expect(connector.spec.reportsMatchRate).toBe(true);
    const secrets = connector.spec.configSchema.filter((f) => f.secret).map((f) => f.name);
    expect(secrets).toEqual(['accessToken']);
  });

  it('has a spec the registry accepts, and the fake configuration validates against it', () => {
    registerConnector(linkedinConnector);
    const v = validateDestinationConfig(linkedinConnector, fake.config, ['config']);
    expect(v.problems).toEqual([]);
    expect(Object.keys(v.secrets)).toEqual(['accessToken']);
    expect(v.config).toMatchObject({ mobileIdType: 'GOOGLE_AID', baseUrl: fake.config.baseUrl });
  });

  it('validates the account id and version', () => {
    expect(linkedInAccountId('urn:li:sponsoredAccount:42')).toBe('42');
    expect(connector.validateConfig!({ ...(fake.config as LinkedInConfig), adAccountId: 'act_42', linkedinVersion: '2026-04' }).map((p) => p.path[0])).toEqual([
      'adAccountId',
      'linkedinVersion',
    ]);
  });

  it('check() succeeds with good credentials', async () => {
    await connector.check(ctx());
    expect(fake.vendor.received).toHaveLength(1);
    const req = fake.vendor.received[0]!;
    expect(req.headers['linkedin-version']).toBe('202604');
    expect(req.headers['x-restli-protocol-version']).toBe('2.0.0');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('check() fails clearly on a bad token, without quoting it', async () => {
    const err = await connector.check(ctx({ accessToken: 'li-wrong-token-123' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('AUTH_FAILED');
    expect((err as ConnectorError).retryable).toBe(false);
    expect((err as ConnectorError).message).toMatch(/HTTP 401.*rw_dmp_segments/);
    expect((err as ConnectorError).message).not.toContain('li-wrong-token-123');
    expect(fake.vendor.received).toHaveLength(1);
  });

  it('check() fails clearly for an account the token cannot read', async () => {
    const err = (await connector.check(ctx({ adAccountId: '999' })).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('ACCESS_DENIED');
    expect(err.message).toContain('urn:li:sponsoredAccount:999');
  });

  it('createAudience creates a USER segment and listAudiences finds it, across pages', async () => {
    await fake.close();
    fake = await startLinkedInFake({ maxPageSize: 2 });
    const created = [];
    for (const name of ['Churn risk', 'VIP', 'Trial users']) created.push(await connector.createAudience!(ctx(), { name, type: null }));
    expect(created[0]).toEqual({ id: expect.stringMatching(/^\d+$/), name: 'Churn risk', type: 'USER', size: null });
    expect(fake.segment(created[0]!.id)).toEqual({ name: 'Churn risk', type: 'USER', sourcePlatform: 'ROSTER_TEST', account: 'urn:li:sponsoredAccount:508912345', accessPolicy: 'PRIVATE' });

    const listed = await connector.listAudiences!(ctx());
    expect(listed.map((a) => [a.id, a.name, a.type])).toEqual(created.map((a) => [a.id, a.name, 'USER']));
    // Three segments, pages of two: two listing requests.
    expect(fake.vendor.received.filter((r) => r.method === 'GET').map((r) => r.query.get('start'))).toEqual(['0', '2']);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('refuses to create a COMPANY segment', async () => {
    const err = (await connector.createAudience!(ctx(), { name: 'Accounts', type: 'COMPANY' }).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('UNSUPPORTED_AUDIENCE_TYPE');
    expect(fake.vendor.received).toHaveLength(0);
  });

  it('adds rows with mixed identifiers as exactly the expected members, then removes', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Mixed', type: null });
    const gaid = '5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25';
    const sha512 = 'ab'.repeat(64);
    const result = await connector.add(ctx(), a, [
      row('u1', { EMAIL: ' Jane.Doe@Example.com ', FIRST_NAME: 'Jane', LAST_NAME: 'Doe', COUNTRY: 'us' }),
      row('u2', { MAID: gaid }),
      row('u3', { EMAIL: 'x@example.org', MAID: gaid.toLowerCase().replace('5f3a', '6f3a') }),
      row('u4', { EMAIL: sha512 }),
      row('u5', { EMAIL: emailHash('pre@hashed.com').toUpperCase() }),
    ]);
    expect(result).toEqual({ rejected: [] });
    expect(sortMembers(fake.members(a.id))).toEqual(
      sortMembers([
        // The SHA-256 path gives the same digest as the shared normaliser.
        { EMAIL: emailHash('jane.doe@example.com'), FIRST_NAME: 'Jane', LAST_NAME: 'Doe', COUNTRY: 'US' },
        { MAID: gaid.toLowerCase() },
        { EMAIL: emailHash('x@example.org'), MAID: '6f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25' },
        { EMAIL: sha512 },
        { EMAIL: emailHash('pre@hashed.com') },
      ]),
    );
    const sent = fake.vendor.received.at(-1)!.json as { elements: { userIds: { idType: string }[] }[] };
    expect(sent.elements.map((e) => e.userIds.map((u) => u.idType))).toEqual([['SHA256_EMAIL'], ['GOOGLE_AID'], ['SHA256_EMAIL', 'GOOGLE_AID'], ['SHA512_EMAIL'], ['SHA256_EMAIL']]);
    expect(fake.vendor.received.at(-1)!.headers['x-restli-method']).toBe('BATCH_CREATE');

    expect(await connector.remove(ctx(), a, [row('u1', { EMAIL: 'jane.doe@example.com' }), row('u2', { MAID: gaid })])).toEqual({ rejected: [] });
    expect(sortMembers(fake.members(a.id))).toEqual(
      sortMembers([{ EMAIL: emailHash('x@example.org'), MAID: '6f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25' }, { EMAIL: sha512 }, { EMAIL: emailHash('pre@hashed.com') }]),
    );
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('sends MAIDs as APPLE_IDFA when configured', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'iOS', type: null });
    await connector.add(ctx({ mobileIdType: 'APPLE_IDFA' }), a, [row('i1', { MAID: '5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25' })]);
    const sent = fake.vendor.received.at(-1)!.json as { elements: { userIds: { idType: string }[] }[] };
    expect(sent.elements[0]!.userIds[0]!.idType).toBe('APPLE_IDFA');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('rejects rows with no usable identifier, with a clear message and no raw value', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Bad rows', type: null });
    const before = fake.vendor.received.length;
    const result = await connector.add(ctx(), a, [
      row('n1', { EMAIL: 'not-an-email', PHONE: '+44 20 7946 0000' }),
      row('n2', { FIRST_NAME: 'Only', LAST_NAME: 'Names' }),
      row('n3', { EMAIL: null, MAID: 'not-a-uuid' }),
    ]);
    expect(result.rejected.map((r) => [r.key, r.code])).toEqual([
      ['n1', 'NO_USABLE_IDENTIFIER'],
      ['n2', 'NO_USABLE_IDENTIFIER'],
      ['n3', 'NO_USABLE_IDENTIFIER'],
    ]);
    expect(result.rejected[0]!.message).toMatch(/expected at least one of EMAIL, MAID, but EMAIL is not an e-mail address/);
    expect(result.rejected[0]!.message).not.toContain('not-an-email');
    expect(result.rejected[2]!.message).toContain('MAID is not a mobile advertiser id');
    // Nothing usable: no request at all.
    expect(fake.vendor.received.length).toBe(before);
  });

  it('splits a batch above 5,000 elements (the fake refuses larger requests)', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Big', type: null });
    const rows = Array.from({ length: 5_003 }, (_, i) => row(`b${i}`, { EMAIL: `user${i}@example.com` }));
    expect(await connector.add(ctx(), a, rows)).toEqual({ rejected: [] });
    const posts = fake.vendor.received.filter((r) => r.path.endsWith('/users'));
    expect(posts.map((r) => (r.json as { elements: unknown[] }).elements.length)).toEqual([5_000, 3]);
    expect(fake.members(a.id)).toHaveLength(5_003);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('the fake refuses an oversize request (so the split above is what passes)', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Oversize', type: null });
    const elements = Array.from({ length: 5_001 }, () => ({ action: 'ADD', userIds: [{ idType: 'SHA256_EMAIL', idValue: emailHash('a@b.co') }] }));
    const res = await fetch(`${fake.vendor.url}/rest/dmpSegments/${a.id}/users`, {
      method: 'POST',
      headers: { authorization: 'Bearer li-token-3f9a7c', 'linkedin-version': '202604', 'x-restli-protocol-version': '2.0.0', 'x-restli-method': 'BATCH_CREATE', 'content-type': 'application/json' },
      body: JSON.stringify({ elements }),
    });
    expect(res.status).toBe(400);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual(['5001 elements exceed the maximum of 5000 per request']);
  });

  it('retries a 429 with Retry-After and succeeds', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Throttled', type: null });
    fake.vendor.fault({ status: 429, retryAfter: 1, body: { status: 429, serviceErrorCode: 101, message: 'throttled' } }, { when: (r) => r.path.endsWith('/users') });
    const started = Date.now();
    expect(await connector.add(ctx(), a, [row('t1', { EMAIL: 't1@example.com' })])).toEqual({ rejected: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.vendor.received.filter((r) => r.path.endsWith('/users')).map((r) => r.status)).toEqual([429, 200]);
    expect(fake.members(a.id)).toEqual([{ EMAIL: emailHash('t1@example.com') }]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('maps a per-element error status to a RowRejection and keeps the others', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Partial', type: null });
    fake.rejectIds.set(emailHash('bad@example.com'), { status: 422, message: 'Invalid user id', serviceErrorCode: 20017 });
    const result = await connector.add(ctx(), a, [row('ok1', { EMAIL: 'ok@example.com' }), row('bad1', { EMAIL: 'bad@example.com' })]);
    expect(result.rejected).toEqual([{ key: 'bad1', code: '20017', message: 'LinkedIn refused this user (status 422): Invalid user id' }]);
    expect(fake.members(a.id)).toEqual([{ EMAIL: emailHash('ok@example.com') }]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('a segment that is not ready yet fails the call as retryable', async () => {
    await fake.close();
    fake = await startLinkedInFake({ readyAfterMs: 60_000 });
    const a = await connector.createAudience!(ctx(), { name: 'Fresh', type: null });
    const err = (await connector.add(ctx(), a, [row('f1', { EMAIL: 'f1@example.com' })]).catch((e: unknown) => e)) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('SEGMENT_NOT_FOUND');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('a new segment needs a few seconds');
  });

  it('refuses to fill a COMPANY segment', async () => {
    const err = (await connector.add(ctx(), { id: '1', name: 'Companies', type: 'COMPANY' } as Audience, [row('c', { EMAIL: 'c@example.com' })]).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('UNSUPPORTED_AUDIENCE_TYPE');
  });

  it('matchRate reads matchedCount and inputCount', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Rates', type: null });
    await connector.add(ctx(), a, Array.from({ length: 10 }, (_, i) => row(`m${i}`, { EMAIL: `m${i}@example.com` })));
    fake.setMatchRatio(0.35);
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 3, uploaded: 10, rate: null });
    expect(fake.vendor.refusals()).toEqual([]);
  });
});
