// The Braze cohorts connector against a fake Braze that enforces the partner
// cohort import and /users/track contracts (test/support/fake-braze.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBrazeConnector, nextLink, type BrazeConfig } from '../../src/connectors/braze/index.js';
import { ConnectorError, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { createLogger } from '../../src/logger.js';
import { startBrazeFake, type BrazeFake } from '../support/fake-braze.js';

const fast = { timeoutMs: 2_000, minBackoffMs: 10, maxBackoffMs: 50, retries: 3 };
const connector = createBrazeConnector(fast);

let fake: BrazeFake;
const logs: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });

beforeEach(async () => {
  fake = await startBrazeFake();
  logs.length = 0;
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<BrazeConfig> = {}): ConnectorContext<BrazeConfig> {
  return { destinationId: 'dest_braze', config: { ...(fake.config as BrazeConfig), ...overrides }, logger, signal: new AbortController().signal };
}

function row(key: string, identifiers: SyncRow['identifiers'], fields: Record<string, unknown> = {}): SyncRow {
  return { key, fields, identifiers };
}

const byExternalId = (n: number, from = 0): SyncRow[] =>
  Array.from({ length: n }, (_, i) => row(`k${from + i}`, { EXTERNAL_ID: `u${from + i}` }));

async function cohort(name = 'Churn risk') {
  return connector.createAudience!(ctx(), { name, type: null });
}

describe('braze connector', () => {
  it('declares its spec', () => {
    expect(connector.type).toBe('braze');
    expect(connector.name).toBe('Braze Cohorts');
    expect(connector.spec).toMatchObject({
      category: 'MARKETING',
      audiences: { canList: false, canCreate: true, types: [], defaultType: null },
      batchSize: 1_000,
      rateLimit: { requestsPerSecond: 1_000, concurrency: 10 },
      requiresProfiles: true,
      reportsMatchRate: false,
      supportsUpdate: true,
    });
    expect(connector.spec.identifiers).toEqual([
      { type: 'EXTERNAL_ID', hashed: false },
      { type: 'EMAIL', hashed: false },
    ]);
    const secrets = connector.spec.configSchema.filter((f) => f.secret).map((f) => f.name);
    expect(secrets).toEqual(['partnerApiKey', 'dataImportKey', 'restApiKey']);
    expect(connector.spec.configSchema.find((f) => f.name === 'baseUrl')).toMatchObject({ type: 'url', required: false, default: 'https://rest.iad-01.braze.com' });
    expect(connector.listAudiences).toBeUndefined();
    expect(connector.matchRate).toBeUndefined();
  });

  it('validates partner name, keys and the per-request size', () => {
    const base = fake.config as BrazeConfig;
    expect(connector.validateConfig!(base)).toEqual([]);
    expect(connector.validateConfig!({ ...base, partnerName: 'ro ster/..', profilesPerRequest: 76, restApiKey: '  ' }).map((p) => p.path[0])).toEqual([
      'partnerName',
      'profilesPerRequest',
      'restApiKey',
    ]);
  });

  it('check() proves both the partner credentials and the REST key', async () => {
    await connector.check(ctx());
    expect(fake.vendor.received.map((r) => [r.method, r.path, r.status])).toEqual([
      ['POST', '/partners/roster/cohorts/users', 200],
      ['POST', '/users/track', 400],
    ]);
    expect(fake.vendor.refusals()).toEqual([]);
    // The partner endpoints never receive the REST key.
    expect(fake.vendor.received[0]!.headers.authorization).toBeUndefined();
    expect(fake.vendor.received[1]!.headers.authorization).toBe(`Bearer ${fake.config.restApiKey}`);
  });

  it('check() explains refused credentials without repeating any secret', async () => {
    const wrongImport = await connector.check(ctx({ dataImportKey: 'brz-import-wrong-000000' })).catch((e: unknown) => e);
    expect(wrongImport).toBeInstanceOf(ConnectorError);
    expect((wrongImport as ConnectorError).code).toBe('HTTP_401');
    expect((wrongImport as ConnectorError).retryable).toBe(false);
    expect((wrongImport as ConnectorError).message).toContain('Braze refused the partner credentials');
    expect((wrongImport as ConnectorError).message).toContain('Invalid client secret');

    const wrongRest = await connector.check(ctx({ restApiKey: 'brz-rest-wrong-000000' })).catch((e: unknown) => e);
    expect((wrongRest as ConnectorError).code).toBe('HTTP_401');
    expect((wrongRest as ConnectorError).message).toMatch(/refused the REST API key; expected .* users\.track permission: Invalid API key/);
    expect((wrongRest as ConnectorError).message).not.toContain('brz-rest-wrong-000000');

    // Braze's answer for an unknown partner quotes the Data Import Key.
    const wrongPartner = await connector.check(ctx({ partnerName: 'someone_else' })).catch((e: unknown) => e);
    expect((wrongPartner as ConnectorError).code).toBe('HTTP_401');
    expect((wrongPartner as ConnectorError).message).toContain('Partner not enabled for client with client secret: ********');
    expect((wrongPartner as ConnectorError).message).not.toContain(String(fake.config.dataImportKey));
    expect(logs.join('\n')).not.toContain(String(fake.config.dataImportKey));
  });

  it('creates a named cohort once, with a stable partner-side id', async () => {
    const a = await cohort('Churn risk');
    expect(a).toEqual({ id: expect.stringMatching(/^roster_[0-9a-f]{32}$/), name: 'Churn risk', type: null });
    // A retried creation names the same cohort rather than a second one.
    expect(await cohort('Churn risk')).toEqual(a);
    const other = await cohort('VIP');
    expect(other.id).not.toBe(a.id);
    expect(fake.audiences()).toEqual([
      { id: a.id, name: 'Churn risk', type: null },
      { id: other.id, name: 'VIP', type: null },
    ]);
    const sent = fake.vendor.received[0]!.json as Record<string, unknown>;
    expect(Object.keys(sent).sort()).toEqual(['client_secret', 'cohort_id', 'created_at', 'name', 'partner_api_key']);
    await expect(connector.createAudience!(ctx(), { name: 'x', type: 'SEGMENT' })).rejects.toThrow('expected no audience type, but got "SEGMENT"');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('upserts profiles, then adds exactly those users to the cohort', async () => {
    const a = await cohort();
    const rows = [
      row('r1', { EXTERNAL_ID: ' 42 ', EMAIL: 'Ada@Example.COM' }, { first_name: 'Ada', loyalty_tier: 'gold' }),
      row('r2', { EXTERNAL_ID: '43', EMAIL: null }, { lifetime_value: 120.5 }),
      row('r3', { EMAIL: '  Grace.Hopper@Example.org ' }, { first_name: 'Grace' }),
      row('r4', { EXTERNAL_ID: null, EMAIL: 'not-an-email' }),
      row('r5', {}),
    ];
    const ensured = await connector.ensureProfiles!(ctx(), rows);
    expect(ensured.rejected.map((r) => [r.key, r.code])).toEqual([
      ['r4', 'NO_USABLE_IDENTIFIER'],
      ['r5', 'NO_USABLE_IDENTIFIER'],
    ]);
    const added = await connector.add(ctx(), a, rows);
    expect(added.rejected.map((r) => r.key)).toEqual(['r4', 'r5']);

    expect(fake.members(a.id)).toEqual([{ EXTERNAL_ID: '42', EMAIL: 'ada@example.com' }, { EXTERNAL_ID: '43' }, { EMAIL: 'grace.hopper@example.org' }]);
    expect(Object.fromEntries(fake.profiles())).toEqual({
      'external_id:42': { external_id: '42', email: 'ada@example.com', first_name: 'Ada', loyalty_tier: 'gold' },
      'external_id:43': { external_id: '43', lifetime_value: 120.5 },
      'alias:email:grace.hopper@example.org': {
        user_alias: { alias_name: 'grace.hopper@example.org', alias_label: 'email' },
        email: 'grace.hopper@example.org',
        first_name: 'Grace',
      },
    });
    const change = (fake.vendor.received.at(-1)!.json as { cohort_changes: unknown[] }).cohort_changes;
    expect(change).toEqual([{ user_ids: ['42', '43'], aliases: [{ alias_name: 'grace.hopper@example.org', alias_label: 'email' }], should_remove: false }]);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('adds nobody when profiles were not ensured first (Braze ignores unknown users)', async () => {
    const a = await cohort();
    const result = await connector.add(ctx(), a, [row('r1', { EXTERNAL_ID: '42' }), row('r2', { EMAIL: 'x@example.com' })]);
    // Braze does not say which ids it dropped, so nothing can be reported…
    expect(result).toEqual({ rejected: [] });
    // …but nobody joined.
    expect(fake.members(a.id)).toEqual([]);
    expect(fake.ignored()).toEqual([
      { cohortId: a.id, id: '42' },
      { cohortId: a.id, id: 'x@example.com' },
    ]);
  });

  it('removes members and keeps their profiles', async () => {
    const a = await cohort();
    const rows = [row('r1', { EXTERNAL_ID: '1' }), row('r2', { EXTERNAL_ID: '2' }), row('r3', { EMAIL: 'c@example.com' })];
    await connector.ensureProfiles!(ctx(), rows);
    await connector.add(ctx(), a, rows);
    expect(await connector.remove(ctx(), a, [rows[0]!, rows[2]!])).toEqual({ rejected: [] });
    expect(fake.members(a.id)).toEqual([{ EXTERNAL_ID: '2' }]);
    expect([...fake.profiles().keys()]).toEqual(['external_id:1', 'external_id:2', 'alias:email:c@example.com']);
    const last = fake.vendor.received.at(-1)!.json as { cohort_changes: { should_remove: boolean }[] };
    expect(last.cohort_changes[0]!.should_remove).toBe(true);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('update() rewrites attributes and leaves membership alone', async () => {
    const a = await cohort();
    const r = row('r1', { EXTERNAL_ID: '7' }, { loyalty_tier: 'silver' });
    await connector.ensureProfiles!(ctx(), [r]);
    await connector.add(ctx(), a, [r]);
    const before = fake.vendor.received.length;
    expect(await connector.update!(ctx(), a, [{ ...r, fields: { loyalty_tier: 'gold', external_id: 'hijack' } }])).toEqual({ rejected: [] });
    expect(fake.vendor.received.slice(before).map((x) => x.path)).toEqual(['/users/track']);
    expect(fake.profiles().get('external_id:7')).toEqual({ external_id: '7', loyalty_tier: 'gold' });
    expect(fake.members(a.id)).toEqual([{ EXTERNAL_ID: '7' }]);
  });

  it('splits above the per-request limits: 75 objects per /users/track, 1,000 ids per cohort call', async () => {
    const a = await cohort();
    const rows = byExternalId(2_500);
    expect(await connector.ensureProfiles!(ctx(), rows)).toEqual({ rejected: [] });
    const tracks = fake.vendor.received.filter((r) => r.path === '/users/track');
    expect(tracks).toHaveLength(34);
    expect(tracks.map((r) => (r.json as { attributes: unknown[] }).attributes.length).slice(-2)).toEqual([75, 25]);
    expect(await connector.add(ctx(), a, rows)).toEqual({ rejected: [] });
    const changes = fake.vendor.received.filter((r) => r.path.endsWith('/cohorts/users'));
    expect(changes.map((r) => (r.json as { cohort_changes: { user_ids: string[] }[] }).cohort_changes[0]!.user_ids.length)).toEqual([1_000, 1_000, 500]);
    expect(fake.members(a.id)).toHaveLength(2_500);
    expect(fake.vendor.refusals()).toEqual([]);

    // The fake holds the line: a larger /users/track batch is refused.
    const err = await connector.ensureProfiles!(ctx({ profilesPerRequest: 80 }), byExternalId(80, 5_000)).catch((e: unknown) => e);
    expect((err as ConnectorError).code).toBe('HTTP_400');
    expect((err as ConnectorError).message).toContain('Only 75 objects combined');
    expect(fake.vendor.refusals()).toHaveLength(1);
  });

  it('honours profilesPerRequest for MAU contracts (50)', async () => {
    await connector.ensureProfiles!(ctx({ profilesPerRequest: 50 }), byExternalId(120));
    expect(fake.vendor.received.map((r) => (r.json as { attributes: unknown[] }).attributes.length)).toEqual([50, 50, 20]);
  });

  it('retries a 429 after its Retry-After and succeeds', async () => {
    fake.vendor.fault(
      { status: 429, retryAfter: 1, body: { message: 'rate limit exceeded' }, headers: { 'x-ratelimit-limit': '3000', 'x-ratelimit-remaining': '0' } },
      { when: (r) => r.path === '/users/track' },
    );
    const started = Date.now();
    expect(await connector.ensureProfiles!(ctx(), byExternalId(3))).toEqual({ rejected: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.vendor.received.map((r) => r.fault ?? r.status)).toEqual(['status', 201]);
    expect(fake.profiles().size).toBe(3);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it("maps Braze's per-object errors to row rejections, and applies the rest", async () => {
    fake.rejectProfiles.set('u1', "'email' must be a valid email address");
    fake.rejectProfiles.set('u3', 'BLACKLISTED_EXTERNAL_USER_ID');
    const result = await connector.ensureProfiles!(ctx(), byExternalId(4));
    expect(result.rejected).toEqual([
      { key: 'k1', message: "Braze refused the user's attributes: 'email' must be a valid email address", code: 'USERS_TRACK_ERROR' },
      { key: 'k3', message: "Braze refused the user's attributes: BLACKLISTED_EXTERNAL_USER_ID", code: 'BLACKLISTED_EXTERNAL_USER_ID' },
    ]);
    expect([...fake.profiles().keys()]).toEqual(['external_id:u0', 'external_id:u2']);
  });

  it('fails the call when Braze reports an error it does not place', async () => {
    fake.vendor.fault({ status: 201, body: { message: 'success', errors: [{ type: 'something went wrong' }] } }, { when: (r) => r.path === '/users/track' });
    const err = await connector.ensureProfiles!(ctx(), byExternalId(2)).catch((e: unknown) => e);
    expect((err as ConnectorError).code).toBe('INVALID_RESPONSE');
    expect((err as ConnectorError).retryable).toBe(true);
    expect((err as ConnectorError).message).toContain('names no attributes object');
  });

  it('rejects rows with no usable identifier, saying what was expected and never the value', async () => {
    const a = await cohort();
    const secretish = 'jane.doe@@example';
    const rows = [row('bad1', { EMAIL: secretish }), row('bad2', { EXTERNAL_ID: '   ', EMAIL: null }), row('bad3', { EXTERNAL_ID: 'x'.repeat(1_000) })];
    const result = await connector.add(ctx(), a, rows);
    expect(result.rejected).toEqual([
      { key: 'bad1', code: 'NO_USABLE_IDENTIFIER', message: expect.stringContaining('expected at least one of EXTERNAL_ID, EMAIL, but EMAIL is not an e-mail address') },
      { key: 'bad2', code: 'NO_USABLE_IDENTIFIER', message: expect.stringContaining('but all were empty') },
      { key: 'bad3', code: 'NO_USABLE_IDENTIFIER', message: expect.stringContaining('EXTERNAL_ID is longer than the 987 bytes Braze allows') },
    ]);
    expect(JSON.stringify(result)).not.toContain(secretish);
    // Nothing left to send: no cohort call at all.
    expect(fake.vendor.received.filter((r) => r.path.endsWith('/cohorts/users'))).toHaveLength(0);
  });

  it("reads fields: Braze's standard attributes and every page of custom attributes", async () => {
    const many = await startBrazeFake({
      customAttributes: [
        ...Array.from({ length: 58 }, (_, i) => ({ name: `attr_${String(i).padStart(2, '0')}`, data_type: 'String' })),
        { name: 'has_app', data_type: 'Boolean' },
        { name: 'last_order_at', data_type: 'Time' },
        { name: 'score', data_type: 'Number', description: 'Churn score' },
        { name: 'tags', data_type: 'Array' },
        { name: 'old_flag', data_type: 'Boolean', status: 'Blocklisted' },
      ],
    });
    try {
      const c: ConnectorContext<BrazeConfig> = { ...ctx(), config: many.config as BrazeConfig };
      const fields = await connector.fields!(c);
      expect(many.vendor.received.map((r) => r.path)).toEqual(['/custom_attributes', '/custom_attributes']);
      expect(many.vendor.received[1]!.query.get('cursor')).not.toBeNull();
      expect(fields.find((f) => f.name === 'dob')).toEqual({ name: 'dob', type: 'DATE', label: 'Date of birth' });
      expect(fields.find((f) => f.name === 'gender')).toMatchObject({ type: 'ENUM', options: ['M', 'F', 'O', 'N', 'P'] });
      expect(fields.filter((f) => f.name.startsWith('attr_'))).toHaveLength(58);
      expect(fields.filter((f) => ['has_app', 'last_order_at', 'score', 'tags', 'old_flag'].includes(f.name))).toEqual([
        { name: 'has_app', type: 'BOOLEAN' },
        { name: 'last_order_at', type: 'DATETIME' },
        { name: 'score', type: 'NUMBER', label: 'Churn score' },
        { name: 'tags', type: 'OTHER' },
      ]);
      expect(many.vendor.refusals()).toEqual([]);
    } finally {
      await many.close();
    }
  });

  it('parses Link headers', () => {
    expect(nextLink('<https://rest.iad-01.braze.com/custom_attributes?cursor=c2tpcDo1MA==>; rel="next"')).toBe('https://rest.iad-01.braze.com/custom_attributes?cursor=c2tpcDo1MA==');
    expect(nextLink('<https://x/a>; rel="prev", <https://x/b>; rel=next')).toBe('https://x/b');
    expect(nextLink(undefined)).toBeUndefined();
    expect(nextLink('<https://x/a>; rel="prev"')).toBeUndefined();
  });

  it('never logs a credential', async () => {
    const a = await cohort();
    fake.vendor.fault({ status: 500 }, { when: (r) => r.path === '/users/track' });
    await connector.ensureProfiles!(ctx(), byExternalId(2));
    await connector.add(ctx(), a, byExternalId(2));
    const all = logs.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const s of [fake.config.partnerApiKey, fake.config.dataImportKey, fake.config.restApiKey]) expect(all).not.toContain(String(s));
  });
});
