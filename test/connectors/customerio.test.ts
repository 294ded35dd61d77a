// The Customer.io connector against a fake Track + App API that enforces the
// contract (test/support/fake-customerio.ts): two kinds of credentials,
// people identified before they can join a manual segment, 1,000 ids and
// 500 KB per request, per-entry errors, the App API's 10/s limit.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCustomerIoConnector, customerIoAttributeValue, type CustomerIoConfig } from '../../src/connectors/customerio/index.js';
import { ConnectorError, type Audience, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { validateDestinationConfig } from '../../src/connectors/registry.js';
import { createLogger } from '../../src/logger.js';
import { startCustomerIoFake, type CustomerIoFake } from '../support/fake-customerio.js';

const connector = createCustomerIoConnector({ timeoutMs: 2_000, minBackoffMs: 10, maxBackoffMs: 50, retries: 3 });
const logs: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });

let fake: CustomerIoFake;
beforeEach(async () => {
  fake = await startCustomerIoFake();
  logs.length = 0;
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<CustomerIoConfig> = {}): ConnectorContext<CustomerIoConfig> {
  return { destinationId: 'dest_cio', config: { ...(fake.config as CustomerIoConfig), ...overrides }, logger, signal: new AbortController().signal };
}

const row = (key: string, identifiers: SyncRow['identifiers'], fields: Record<string, unknown> = {}): SyncRow => ({ key, fields, identifiers });

async function segment(name = 'VIP customers'): Promise<Audience> {
  return connector.createAudience!(ctx(), { name, type: null });
}

const requests = (suffix: string) => fake.vendor.received.filter((r) => r.path.endsWith(suffix));

describe('customerio connector', () => {
  it('declares its spec', () => {
    expect(connector.type).toBe('customerio');
    expect(connector.name).toBe('Customer.io Segments');
    expect(connector.spec).toMatchObject({
      category: 'MARKETING',
      identifiers: [
        { type: 'EXTERNAL_ID', hashed: false },
        { type: 'EMAIL', hashed: false },
      ],
      audiences: { canList: true, canCreate: true, types: ['manual'], defaultType: 'manual' },
      batchSize: 1000,
      rateLimit: { requestsPerSecond: 100, concurrency: 10 },
      requiresProfiles: true,
      reportsMatchRate: true,
      supportsUpdate: false,
    });
    const secret = Object.fromEntries(connector.spec.configSchema.map((f) => [f.name, f.secret]));
    expect(secret).toEqual({ siteId: false, trackApiKey: true, appApiKey: true, region: false, idType: false, baseUrl: false, appBaseUrl: false });
  });

  it("accepts the fake's configuration as a complete destination configuration", () => {
    const validated = validateDestinationConfig(connector as never, fake.config, ['config']);
    expect(validated.problems).toEqual([]);
  });

  it('check() reaches both APIs, each with its own credentials', async () => {
    await connector.check(ctx());
    expect(fake.vendor.received.map((r) => [r.path, r.headers.authorization?.split(' ')[0], r.status])).toEqual([
      ['/api/v1/accounts/region', 'Basic', 200],
      ['/v1/segments', 'Bearer', 200],
    ]);

    const badTrack = (await connector.check(ctx({ trackApiKey: 'trk_wrong_000000' })).catch((e: unknown) => e)) as ConnectorError;
    expect(badTrack).toBeInstanceOf(ConnectorError);
    expect(badTrack.code).toBe('HTTP_401');
    expect(badTrack.message).toContain('GET /api/v1/accounts/region failed with HTTP 401');
    expect(badTrack.message).toContain('expected the workspace site id and a Track API key (Customer.io refused the Track API credentials)');
    expect(badTrack.message).not.toContain('trk_wrong_000000');

    const badApp = (await connector.check(ctx({ appApiKey: 'app_wrong_000000' })).catch((e: unknown) => e)) as ConnectorError;
    expect(badApp.message).toContain('GET /v1/segments failed with HTTP 401');
    expect(badApp.message).toContain('expected an App API key');
    expect(badApp.message).not.toContain('app_wrong_000000');
  });

  it('creates a manual segment and lists it, leaving data-driven segments out', async () => {
    fake.seedSegment('Active last 30 days', 'dynamic');
    const created = await segment('Churn risk');
    expect(created).toEqual({ id: '2', name: 'Churn risk', type: 'manual', size: 0 });
    expect(requests('/v1/segments').at(-1)!.json).toEqual({ segment: { name: 'Churn risk', description: 'Synced by Roster' } });
    expect(await connector.listAudiences!(ctx())).toEqual([{ id: '2', name: 'Churn risk', type: 'manual' }]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('identifies people first, then adds exactly them to the segment', async () => {
    const s = await segment();
    const rows = [
      row('u1', { EXTERNAL_ID: ' 42 ', EMAIL: ' Ana.Lima@Example.COM ' }, { first_name: 'Ana', plan: 'pro', trial_ends: new Date('2024-03-01T00:00:00Z'), score: 7 }),
      row('u2', { EXTERNAL_ID: '43' }, { first_name: 'Bo' }),
      row('u3', { EMAIL: 'only-email@example.com' }, { first_name: 'No id' }),
      row('u4', { EXTERNAL_ID: '43' }, { last_name: 'Berg' }),
    ];
    const ensured = await connector.ensureProfiles!(ctx(), rows);
    expect(ensured.rejected).toEqual([
      { key: 'u3', code: 'NO_USABLE_IDENTIFIER', message: 'no identifier Customer.io can match: expected at least one of EXTERNAL_ID, but all were empty' },
    ]);
    expect(requests('/api/v2/batch')[0]!.json).toEqual({
      batch: [
        { type: 'person', identifiers: { id: '42' }, action: 'identify', attributes: { first_name: 'Ana', plan: 'pro', trial_ends: 1709251200, score: 7, email: 'ana.lima@example.com' } },
        { type: 'person', identifiers: { id: '43' }, action: 'identify', attributes: { first_name: 'Bo', last_name: 'Berg' } },
      ],
    });
    const added = await connector.add(ctx(), s, rows);
    expect(added.rejected.map((r) => r.key)).toEqual(['u3']);
    expect(requests('/add_customers')[0]!.query.get('id_type')).toBe('id');
    expect(requests('/add_customers')[0]!.json).toEqual({ ids: ['42', '43'] });
    expect(fake.members(s.id)).toEqual([{ EXTERNAL_ID: '42', EMAIL: 'ana.lima@example.com' }, { EXTERNAL_ID: '43' }]);
    expect(fake.profiles()).toEqual(
      new Map([
        ['42', { id: '42', email: 'ana.lima@example.com', attributes: { first_name: 'Ana', plan: 'pro', trial_ends: 1709251200, score: 7 } }],
        ['43', { id: '43', attributes: { first_name: 'Bo', last_name: 'Berg' } }],
      ]),
    );
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('identifies and adds people by e-mail when configured so', async () => {
    const s = await segment();
    const rows = [row('u1', { EMAIL: 'Ana@Example.com', EXTERNAL_ID: '42' }, { first_name: 'Ana' }), row('u2', { EXTERNAL_ID: '43' })];
    const c = ctx({ idType: 'email' });
    expect((await connector.ensureProfiles!(c, rows)).rejected.map((r) => [r.key, r.message])).toEqual([
      ['u2', 'no identifier Customer.io can match: expected at least one of EMAIL, but all were empty'],
    ]);
    await connector.add(c, s, rows);
    expect(requests('/api/v2/batch')[0]!.json).toEqual({ batch: [{ type: 'person', identifiers: { email: 'ana@example.com' }, action: 'identify', attributes: { first_name: 'Ana' } }] });
    expect(requests('/add_customers')[0]!.query.get('id_type')).toBe('email');
    expect(fake.members(s.id)).toEqual([{ EMAIL: 'ana@example.com' }]);
  });

  it('leaves out people who were never identified (Customer.io ignores unknown ids)', async () => {
    const s = await segment();
    const result = await connector.add(ctx(), s, [row('u1', { EXTERNAL_ID: '42' })]);
    expect(result.rejected).toEqual([]);
    expect(requests('/add_customers')).toHaveLength(1);
    expect(fake.members(s.id)).toEqual([]);
    expect(fake.profiles().size).toBe(0);
  });

  it('removes members from the segment and keeps their profiles', async () => {
    const s = await segment();
    const rows = ['1', '2', '3'].map((id) => row(`u${id}`, { EXTERNAL_ID: id }));
    await connector.ensureProfiles!(ctx(), rows);
    await connector.add(ctx(), s, rows);
    const removed = await connector.remove(ctx(), s, [row('u2', { EXTERNAL_ID: '2' }), row('x', { EXTERNAL_ID: '   ' })]);
    expect(removed.rejected.map((r) => [r.key, r.code])).toEqual([['x', 'NO_USABLE_IDENTIFIER']]);
    expect(requests('/remove_customers')[0]!.json).toEqual({ ids: ['2'] });
    expect(fake.members(s.id)).toEqual([{ EXTERNAL_ID: '1' }, { EXTERNAL_ID: '3' }]);
    expect([...fake.profiles().keys()]).toEqual(['1', '2', '3']);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('splits ids by 1,000 and identify batches under 500 KB', async () => {
    const s = await segment();
    const bio = 'x'.repeat(400);
    const rows = Array.from({ length: 2_500 }, (_, i) => row(`r${i}`, { EXTERNAL_ID: `user-${i}` }, { bio }));
    expect((await connector.ensureProfiles!(ctx(), rows)).rejected).toEqual([]);
    const batches = requests('/api/v2/batch');
    expect(batches.length).toBeGreaterThan(1);
    for (const b of batches) expect(Buffer.byteLength(b.rawBody)).toBeLessThan(500_000);
    expect(batches.reduce((n, b) => n + (b.json as { batch: unknown[] }).batch.length, 0)).toBe(2_500);

    expect((await connector.add(ctx(), s, rows)).rejected).toEqual([]);
    expect(requests('/add_customers').map((r) => (r.json as { ids: unknown[] }).ids.length)).toEqual([1000, 1000, 500]);
    expect(fake.members(s.id)).toHaveLength(2_500);
    expect(fake.vendor.refusals()).toEqual([]);

    const res = await fetch(`${fake.vendor.url}/api/v1/segments/${s.id}/add_customers`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${String(fake.config.siteId)}:${String(fake.config.trackApiKey)}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ ids: Array.from({ length: 1_001 }, (_, i) => `user-${i}`) }),
    });
    expect(res.status).toBe(400);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual(['expected 1 to 1000 ids, but got 1001']);
  });

  it("waits out the App API's 429 with Retry-After and succeeds", async () => {
    const limited = await startCustomerIoFake({ appRequestsPerSecond: 1 });
    try {
      const c: ConnectorContext<CustomerIoConfig> = { ...ctx(), config: limited.config as CustomerIoConfig };
      await connector.createAudience!(c, { name: 'A', type: null });
      const started = Date.now();
      expect(await connector.listAudiences!(c)).toEqual([{ id: '1', name: 'A', type: 'manual' }]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(limited.vendor.received.map((r) => r.status)).toEqual([200, 429, 200]);
      expect(limited.vendor.refusals()).toEqual([]);
    } finally {
      await limited.close();
    }
    expect(logs.some((l) => l.includes('transient failure, retrying') && l.includes('"status":429'))).toBe(true);
  });

  it("turns Customer.io's per-entry errors into row rejections, and too-large profiles are refused before sending", async () => {
    fake.rejectIdentifiers.set('43', { reason: 'invalid', field: 'identifiers', message: 'id attribute cannot be an empty string' });
    const rows = [
      row('ok', { EXTERNAL_ID: '42' }, { plan: 'pro' }),
      row('refused', { EXTERNAL_ID: '43' }),
      row('long', { EXTERNAL_ID: '44' }, { notes: 'n'.repeat(1_200) }),
      row('huge', { EXTERNAL_ID: '45' }, { blob: 'b'.repeat(40_000) }),
    ];
    const result = await connector.ensureProfiles!(ctx(), rows);
    expect(result.rejected).toEqual([
      { key: 'huge', code: 'ENTRY_TOO_LARGE', message: expect.stringMatching(/^the profile's attributes take \d+ bytes; Customer.io takes at most 32000 per person$/) as string },
      { key: 'refused', code: 'invalid', message: 'Customer.io refused the profile (identifiers): id attribute cannot be an empty string' },
      { key: 'long', code: 'invalid', message: "Customer.io refused the profile (attributes): value for attribute 'notes' cannot be longer than 1000 bytes" },
    ]);
    expect([...fake.profiles().keys()]).toEqual(['42']);
    expect(requests('/api/v2/batch').map((r) => r.status)).toEqual([207]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('fails the whole call when the segment is data-driven', async () => {
    const id = fake.seedSegment('Computed', 'dynamic');
    await connector.ensureProfiles!(ctx(), [row('u1', { EXTERNAL_ID: '1' })]);
    const err = (await connector.add(ctx(), { id, name: 'Computed' }, [row('u1', { EXTERNAL_ID: '1' })]).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('HTTP_400');
    expect(err.message).toContain('only manual segments can be changed through the API');
  });

  it("reads the segment's customer count", async () => {
    const s = await segment();
    const rows = Array.from({ length: 6 }, (_, i) => row(`r${i}`, { EXTERNAL_ID: String(i) }));
    await connector.ensureProfiles!(ctx(), rows);
    await connector.add(ctx(), s, rows);
    expect(await connector.matchRate!(ctx(), s)).toEqual({ matched: 4, uploaded: null });
    fake.setMatchRatio(0.5);
    expect(await connector.matchRate!(ctx(), s)).toEqual({ matched: 3, uploaded: null });
  });

  it('never logs the keys', async () => {
    fake.vendor.fault({ status: 500 });
    await connector.check(ctx());
    const text = logs.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [fake.config.trackApiKey, fake.config.appApiKey]) expect(text).not.toContain(String(secret));
  });
});

describe('customerIoAttributeValue', () => {
  it('sends dates as Unix seconds and the rest as is', () => {
    expect(customerIoAttributeValue(new Date('2024-03-01T00:00:00Z'))).toBe(1709251200);
    expect(customerIoAttributeValue('x')).toBe('x');
    expect(customerIoAttributeValue(null)).toBeNull();
  });
});
