// The HubSpot Lists connector against a fake HubSpot that enforces the
// contract (test/support/fake-hubspot.ts): contacts upserted by e-mail before
// they can join a MANUAL list, batch limits of 100, per-input errors, paging,
// rate limits, and hs_list_size.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHubSpotConnector, hubspotPropertyValue, type HubSpotConfig } from '../../src/connectors/hubspot/index.js';
import { ConnectorError, type Audience, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { validateDestinationConfig } from '../../src/connectors/registry.js';
import { createLogger } from '../../src/logger.js';
import { hubspotThrottle, startHubSpotFake, type HubSpotFake } from '../support/fake-hubspot.js';

const connector = createHubSpotConnector({ timeoutMs: 2_000, minBackoffMs: 10, maxBackoffMs: 50, retries: 3 });
const logs: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });

let fake: HubSpotFake;
beforeEach(async () => {
  fake = await startHubSpotFake();
  logs.length = 0;
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<HubSpotConfig> = {}): ConnectorContext<HubSpotConfig> {
  return { destinationId: 'dest_hs', config: { ...(fake.config as HubSpotConfig), ...overrides }, logger, signal: new AbortController().signal };
}

const row = (key: string, email: string | null, fields: Record<string, unknown> = {}, extra: SyncRow['identifiers'] = {}): SyncRow => ({
  key,
  fields,
  identifiers: { EMAIL: email, ...extra },
});

async function list(name = 'VIP customers'): Promise<Audience> {
  return connector.createAudience!(ctx(), { name, type: null });
}

const paths = () => fake.vendor.received.map((r) => `${r.method} ${r.path}`);

describe('hubspot connector', () => {
  it('declares its spec', () => {
    expect(connector.type).toBe('hubspot');
    expect(connector.name).toBe('HubSpot Lists');
    expect(connector.spec).toMatchObject({
      category: 'CRM',
      identifiers: [{ type: 'EMAIL', hashed: false }],
      audiences: { canList: true, canCreate: true, types: ['MANUAL'], defaultType: 'MANUAL' },
      batchSize: 100,
      rateLimit: { requestsPerSecond: 10, concurrency: 5 },
      requiresProfiles: true,
      reportsMatchRate: true,
      supportsUpdate: false,
    });
    const token = connector.spec.configSchema.find((f) => f.name === 'accessToken')!;
    expect(token).toMatchObject({ secret: true, required: true });
    expect(connector.spec.configSchema.find((f) => f.name === 'baseUrl')).toMatchObject({ type: 'url', required: false, default: 'https://api.hubapi.com' });
  });

  it("accepts the fake's configuration as a complete destination configuration", () => {
    const validated = validateDestinationConfig(connector as never, fake.config, ['config']);
    expect(validated.problems).toEqual([]);
  });

  it('check() passes with the token and fails clearly without it', async () => {
    await connector.check(ctx());
    expect(paths()).toEqual(['GET /crm/v3/objects/contacts', 'POST /crm/v3/lists/search']);
    expect(fake.vendor.received[0]!.headers.authorization).toBe(`Bearer ${String(fake.config.accessToken)}`);

    const wrong = 'pat-na1-00000000-wrong-token-000000000000';
    const err = (await connector.check(ctx({ accessToken: wrong })).catch((e: unknown) => e)) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('HTTP_401');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('GET /crm/v3/objects/contacts failed with HTTP 401');
    expect(err.message).toContain('expected a HubSpot private app access token with the scopes');
    expect(err.message).not.toContain(wrong);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual(['auth: Authorization is not "Bearer <the expected token>"']);
  });

  it('creates a MANUAL contact list and finds it again through paged search', async () => {
    // 120 lists before it: the search pages by 100, so finding it needs the second page.
    for (let i = 0; i < 120; i++) fake.seedList(`Existing ${i}`);
    fake.seedList('Dynamic one', 'DYNAMIC');
    fake.seedList('Companies', 'MANUAL', '0-2');
    const created = await list('Churn risk');
    expect(created).toEqual({ id: '123', name: 'Churn risk', type: 'MANUAL', size: 0 });
    expect(fake.vendor.received.at(-1)!.json).toEqual({ name: 'Churn risk', objectTypeId: '0-1', processingType: 'MANUAL' });

    const all = await connector.listAudiences!(ctx());
    expect(all).toHaveLength(121);
    expect(all.find((a) => a.id === created.id)).toEqual({ id: created.id, name: 'Churn risk', type: 'MANUAL', size: 0 });
    expect(all.some((a) => a.name === 'Dynamic one' || a.name === 'Companies')).toBe(false);
    const searches = fake.vendor.received.filter((r) => r.path === '/crm/v3/lists/search').map((r) => (r.json as { offset: number }).offset);
    expect(searches).toEqual([0, 100]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('refuses a second list with the same name, and other list types, clearly', async () => {
    await list('Dup');
    const err = (await list('Dup').catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('DUPLICATE_NAME');
    expect(err.message).toBe('HubSpot already has a list named "Dup"; choose another name or select the existing list');
    const bad = (await connector.createAudience!(ctx(), { name: 'x', type: 'DYNAMIC' }).catch((e: unknown) => e)) as ConnectorError;
    expect(bad.message).toContain('expected list type MANUAL');
  });

  it('upserts contacts with their mapped properties, then adds exactly those contacts', async () => {
    const a = await list();
    const rows = [
      row('u1', '  Ana.Lima@Example.COM ', { firstname: 'Ana', plan: 'pro', lifetime_value: 120.5, vip: true, signup_date: new Date('2024-03-01T00:00:00Z') }),
      row('u2', 'bo@example.com', { firstname: 'Bo', plan: null }),
      row('u3', null, { firstname: 'Phone only' }, { PHONE: '+44 20 7946 0000' }),
      row('u4', 'not-an-email', {}),
      // Same person twice in one batch: one input, both rows follow it.
      row('u5', 'BO@example.com', { lastname: 'Berg' }),
    ];
    const ensured = await connector.ensureProfiles!(ctx(), rows);
    expect(ensured.rejected).toEqual([
      { key: 'u3', code: 'NO_USABLE_IDENTIFIER', message: 'no identifier HubSpot can match: expected at least one of EMAIL, but all were empty' },
      { key: 'u4', code: 'NO_USABLE_IDENTIFIER', message: 'no identifier HubSpot can match: expected at least one of EMAIL, but EMAIL is not an e-mail address (expected local@domain)' },
    ]);
    const upsert = fake.vendor.received.find((r) => r.path.endsWith('/batch/upsert'))!;
    expect(upsert.json).toEqual({
      inputs: [
        {
          idProperty: 'email',
          id: 'ana.lima@example.com',
          properties: { firstname: 'Ana', plan: 'pro', lifetime_value: '120.5', vip: 'true', signup_date: '2024-03-01T00:00:00.000Z', email: 'ana.lima@example.com' },
        },
        { idProperty: 'email', id: 'bo@example.com', properties: { firstname: 'Bo', plan: '', lastname: 'Berg', email: 'bo@example.com' } },
      ],
    });

    const added = await connector.add(ctx(), a, rows);
    expect(added.rejected.map((r) => r.key)).toEqual(['u3', 'u4']);
    expect(fake.members(a.id)).toEqual([{ EMAIL: 'ana.lima@example.com' }, { EMAIL: 'bo@example.com' }]);
    expect(fake.vendor.received.find((r) => r.path.endsWith('/memberships/add'))!.json).toEqual(['1001', '1002']);
    expect(fake.profiles()).toEqual(
      new Map([
        ['1001', { email: 'ana.lima@example.com', firstname: 'Ana', plan: 'pro', lifetime_value: '120.5', vip: 'true', signup_date: '2024-03-01T00:00:00.000Z' }],
        ['1002', { email: 'bo@example.com', firstname: 'Bo', plan: '', lastname: 'Berg' }],
      ]),
    );
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('rejects rows whose contact does not exist when ensureProfiles was skipped', async () => {
    const a = await list();
    fake.seedContact('known@example.com');
    const result = await connector.add(ctx(), a, [row('k', 'known@example.com'), row('n', 'new@example.com')]);
    expect(result.rejected).toEqual([
      { key: 'n', code: 'CONTACT_NOT_FOUND', message: 'no HubSpot contact has this e-mail; contacts are created by ensureProfiles before they can join a list' },
    ]);
    expect(fake.members(a.id)).toEqual([{ EMAIL: 'known@example.com' }]);
    expect(fake.profiles().size).toBe(1);
  });

  it('removes members and never deletes their contacts', async () => {
    const a = await list();
    const rows = [row('u1', 'a@example.com'), row('u2', 'b@example.com'), row('u3', 'c@example.com')];
    await connector.ensureProfiles!(ctx(), rows);
    await connector.add(ctx(), a, rows);
    const removed = await connector.remove(ctx(), a, [row('u2', 'B@example.com'), row('gone', 'nobody@example.com'), row('none', null)]);
    expect(removed.rejected.map((r) => [r.key, r.code])).toEqual([['none', 'NO_USABLE_IDENTIFIER']]);
    expect(fake.members(a.id)).toEqual([{ EMAIL: 'a@example.com' }, { EMAIL: 'c@example.com' }]);
    expect([...fake.profiles().values()].map((p) => p.email)).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
    expect(paths().filter((p) => p.includes('/memberships/'))).toEqual([
      'PUT /crm/v3/lists/1/memberships/add',
      'PUT /crm/v3/lists/1/memberships/remove',
    ]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('splits more rows than HubSpot takes per call into batches of 100', async () => {
    const a = await list();
    const rows = Array.from({ length: 250 }, (_, i) => row(`r${i}`, `user${i}@example.com`, { firstname: `U${i}` }));
    expect((await connector.ensureProfiles!(ctx(), rows)).rejected).toEqual([]);
    expect((await connector.add(ctx(), a, rows)).rejected).toEqual([]);
    const sizes = (suffix: string) =>
      fake.vendor.received.filter((r) => r.path.endsWith(suffix)).map((r) => (Array.isArray(r.json) ? r.json.length : (r.json as { inputs: unknown[] }).inputs.length));
    expect(sizes('/batch/upsert')).toEqual([100, 100, 50]);
    expect(sizes('/batch/read')).toEqual([100, 100, 50]);
    expect(sizes('/memberships/add')).toEqual([100, 100, 50]);
    expect(fake.members(a.id)).toHaveLength(250);
    expect(fake.vendor.refusals()).toEqual([]);

    // The fake refuses what HubSpot refuses.
    const inputs = Array.from({ length: 101 }, (_, i) => ({ idProperty: 'email', id: `x${i}@example.com`, properties: {} }));
    const res = await fetch(`${fake.vendor.url}/crm/v3/objects/contacts/batch/upsert`, {
      method: 'POST',
      headers: { authorization: `Bearer ${String(fake.config.accessToken)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs }),
    });
    expect(res.status).toBe(400);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual(['expected 1 to 100 inputs, but got 101']);
  });

  it('waits out a 429 with Retry-After and succeeds', async () => {
    const a = await list();
    fake.vendor.setThrottle(hubspotThrottle(2, 1_000));
    const rows = [row('u1', 'a@example.com'), row('u2', 'b@example.com')];
    expect((await connector.ensureProfiles!(ctx(), rows)).rejected).toEqual([]);
    expect((await connector.add(ctx(), a, rows)).rejected).toEqual([]);
    const throttled = fake.vendor.received.filter((r) => r.fault === 'throttled');
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled[0]!.status).toBe(429);
    expect(fake.members(a.id)).toEqual([{ EMAIL: 'a@example.com' }, { EMAIL: 'b@example.com' }]);
    expect(logs.some((l) => l.includes('transient failure, retrying') && l.includes('"status":429'))).toBe(true);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it("maps HubSpot's per-input errors to row rejections without quoting the e-mail", async () => {
    fake.rejectEmails.set('bad@example.com', { category: 'VALIDATION_ERROR', message: 'Email address bad@example.com is invalid' });
    const result = await connector.ensureProfiles!(ctx(), [row('ok', 'ok@example.com'), row('bad', 'bad@example.com')]);
    expect(result.rejected).toEqual([{ key: 'bad', code: 'VALIDATION_ERROR', message: 'HubSpot refused the contact: Email address <e-mail> is invalid' }]);
    expect([...fake.profiles().values()].map((p) => p.email)).toEqual(['ok@example.com']);
  });

  it('isolates a value that fails the whole batch (400) by halving it', async () => {
    const rows = ['a', 'b', 'c', 'd', 'e'].map((k) => row(k, `${k}@example.com`, { plan: k === 'd' ? 'platinum' : 'free' }));
    const result = await connector.ensureProfiles!(ctx(), rows);
    expect(result.rejected).toEqual([
      {
        key: 'd',
        code: 'VALIDATION_ERROR',
        message: expect.stringContaining('HubSpot refused the contact: Property values were not valid') as string,
      },
    ]);
    expect(result.rejected[0]!.message).toContain('platinum was not one of the allowed options');
    expect([...fake.profiles().values()].map((p) => p.email)).toEqual(['a@example.com', 'b@example.com', 'c@example.com', 'e@example.com']);
    expect(fake.vendor.received.filter((r) => r.path.endsWith('/batch/upsert')).map((r) => r.status)).toEqual([400, 200, 400, 400, 200]);
  });

  it('fails the whole call when a mapped property does not exist', async () => {
    const err = (await connector.ensureProfiles!(ctx(), [row('a', 'a@example.com', { favourite_colour: 'red' })]).catch((e: unknown) => e)) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.message).toContain('expected the contacts to be accepted, but HubSpot refused the batch (VALIDATION_ERROR)');
    expect(err.message).toContain('PROPERTY_DOESNT_EXIST');
  });

  it('reports recordIdsMissing from a membership call as row rejections', async () => {
    const a = await list();
    const rows = [row('u1', 'a@example.com'), row('u2', 'b@example.com')];
    await connector.ensureProfiles!(ctx(), rows);
    fake.vanishOnRead.add('b@example.com');
    const result = await connector.add(ctx(), a, rows);
    expect(result.rejected).toEqual([{ key: 'u2', code: 'RECORD_ID_MISSING', message: 'HubSpot reported contact record 1002 missing (deleted after it was looked up)' }]);
    expect(fake.members(a.id)).toEqual([{ EMAIL: 'a@example.com' }]);
  });

  it('fails a membership write to a DYNAMIC list as a whole call', async () => {
    fake.seedContact('a@example.com');
    const id = fake.seedList('Computed', 'DYNAMIC');
    const err = (await connector.add(ctx(), { id, name: 'Computed' }, [row('u1', 'a@example.com')]).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('HTTP_400');
    expect(err.message).toContain('memberships can only be changed on MANUAL or SNAPSHOT lists');
  });

  it("reads the list size (hs_list_size) as the audience's matched count", async () => {
    const a = await list();
    const rows = Array.from({ length: 7 }, (_, i) => row(`r${i}`, `p${i}@example.com`));
    await connector.ensureProfiles!(ctx(), rows);
    await connector.add(ctx(), a, rows);
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 5, uploaded: null });
    fake.setMatchRatio(0.5);
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 3, uploaded: null });
    const err = (await connector.matchRate!(ctx(), { id: '999', name: 'gone' }).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('AUDIENCE_NOT_FOUND');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('reads the writable contact properties with their types', async () => {
    const fields = await connector.fields!(ctx());
    expect(fields).toEqual([
      { name: 'email', type: 'STRING', label: 'Email' },
      { name: 'firstname', type: 'STRING', label: 'First Name' },
      { name: 'lastname', type: 'STRING', label: 'Last Name' },
      { name: 'phone', type: 'STRING', label: 'Phone Number' },
      { name: 'lifetime_value', type: 'NUMBER', label: 'Lifetime value' },
      { name: 'vip', type: 'BOOLEAN', label: 'VIP' },
      { name: 'signup_date', type: 'DATE', label: 'Signup date' },
      { name: 'last_seen_at', type: 'DATETIME', label: 'Last seen' },
      { name: 'plan', type: 'ENUM', label: 'Plan', options: ['free', 'pro'] },
    ]);
  });

  it('never logs the access token', async () => {
    fake.vendor.fault({ status: 500 });
    await connector.check(ctx());
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toContain(String(fake.config.accessToken));
  });
});

describe('hubspotPropertyValue', () => {
  it('turns mapped values into HubSpot property strings', () => {
    expect(hubspotPropertyValue('x')).toBe('x');
    expect(hubspotPropertyValue(3)).toBe('3');
    expect(hubspotPropertyValue(false)).toBe('false');
    expect(hubspotPropertyValue(null)).toBe('');
    expect(hubspotPropertyValue(undefined)).toBeUndefined();
    expect(hubspotPropertyValue(['a', 'b'])).toBe('a;b');
    expect(hubspotPropertyValue(new Date('2024-01-02T03:04:05Z'))).toBe('2024-01-02T03:04:05.000Z');
  });
});
