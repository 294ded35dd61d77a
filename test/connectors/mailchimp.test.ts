// The Mailchimp connector against a fake Marketing API that enforces the
// contract (test/support/fake-mailchimp.ts): Basic auth with the key,
// batches of 500, lower-case statuses, subscriber hashes, 10 connections.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createMailchimpConnector,
  mailchimpBaseUrl,
  mergeFieldValue,
  subscriberHash,
  type MailchimpConfig,
} from '../../src/connectors/mailchimp/index.js';
import { ConnectorError, type Audience, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { validateDestinationConfig } from '../../src/connectors/registry.js';
import { createLogger } from '../../src/logger.js';
import { startMailchimpFake, type MailchimpFake } from '../support/fake-mailchimp.js';

const connector = createMailchimpConnector({ timeoutMs: 2_000, minBackoffMs: 10, maxBackoffMs: 50, retries: 3 });
const logs: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });

let fake: MailchimpFake;
beforeEach(async () => {
  fake = await startMailchimpFake();
  logs.length = 0;
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<MailchimpConfig> = {}): ConnectorContext<MailchimpConfig> {
  return { destinationId: 'dest_mc', config: { ...(fake.config as MailchimpConfig), ...overrides }, logger, signal: new AbortController().signal };
}

const row = (key: string, email: string | null, fields: Record<string, unknown> = {}, extra: SyncRow['identifiers'] = {}): SyncRow => ({
  key,
  fields,
  identifiers: { EMAIL: email, ...extra },
});

const template = () => fake.audiences()[0]!;
async function audience(name = 'VIP customers'): Promise<Audience> {
  return connector.createAudience!(ctx(), { name, type: null });
}

describe('mailchimp connector', () => {
  it('declares its spec', () => {
    expect(connector.type).toBe('mailchimp');
    expect(connector.name).toBe('Mailchimp Audiences');
    expect(connector.spec).toMatchObject({
      category: 'MARKETING',
      identifiers: [{ type: 'EMAIL', hashed: false }],
      audiences: { canList: true, canCreate: true, types: ['list'], defaultType: 'list' },
      batchSize: 500,
      rateLimit: { requestsPerSecond: 0, concurrency: 10 },
      requiresProfiles: false,
      reportsMatchRate: true,
      supportsUpdate: false,
    });
    expect(connector.spec.configSchema.find((f) => f.name === 'apiKey')).toMatchObject({ secret: true, required: true });
    expect(connector.spec.configSchema.find((f) => f.name === 'removalAction')).toMatchObject({ type: 'enum', enum: ['unsubscribe', 'archive'], default: 'unsubscribe' });
  });

  it('computes subscriber hashes as the Mailchimp vectors say (destinations.md §0)', () => {
    expect(subscriberHash('Example@company.co')).toBe('db76bc5fe3d38d43c15df4e56b4102b3');
    expect(subscriberHash('test@example.com')).toBe('55502f40dc8b7c769880b10874abc9d0');
  });

  it('derives the data centre from the key when no baseUrl is given', () => {
    expect(mailchimpBaseUrl('0123abcd-us21')).toBe('https://us21.api.mailchimp.com/3.0');
    expect(mailchimpBaseUrl('0123abcd')).toBeUndefined();
    expect(connector.validateConfig!({ apiKey: '0123abcd' })).toEqual([
      { path: ['apiKey'], message: 'expected a Mailchimp API key ending in its data centre (e.g. "…-us21"), but got one without that suffix; set baseUrl otherwise' },
    ]);
    expect(connector.validateConfig!({ apiKey: '0123abcd-us6' })).toEqual([]);
    expect(connector.validateConfig!({ apiKey: '0123abcd', baseUrl: 'http://127.0.0.1:1/3.0' })).toEqual([]);
  });

  it("accepts the fake's configuration as a complete destination configuration", () => {
    const validated = validateDestinationConfig(connector as never, fake.config, ['config']);
    expect(validated.problems).toEqual([]);
  });

  it('check() pings with the key and fails clearly with a wrong one', async () => {
    await connector.check(ctx());
    const auth = fake.vendor.received[0]!.headers.authorization!;
    expect(Buffer.from(auth.slice('Basic '.length), 'base64').toString()).toBe(`roster:${String(fake.config.apiKey)}`);

    const wrong = 'ffffffffffffffffffffffffffffffff-us21';
    const err = (await connector.check(ctx({ apiKey: wrong })).catch((e: unknown) => e)) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('HTTP_401');
    expect(err.message).toContain('GET /3.0/ping failed with HTTP 401');
    expect(err.message).toContain('API Key Invalid');
    expect(err.message).toContain('expected a valid Mailchimp API key for this data centre');
    expect(err.message).not.toContain(wrong);
  });

  it('creates an audience from the template settings and lists it through paging', async () => {
    for (let i = 0; i < 120; i++) fake.seedAudience(`Old ${i}`);
    const created = await audience('Churn risk');
    expect(created).toMatchObject({ name: 'Churn risk', type: 'list', size: 0 });
    const post = fake.vendor.received.find((r) => r.method === 'POST' && r.path === '/3.0/lists')!;
    expect(post.json).toMatchObject({ name: 'Churn risk', permission_reminder: 'You signed up on our website.', email_type_option: false });

    const all = await connector.listAudiences!(ctx());
    expect(all).toHaveLength(122);
    expect(all.at(-1)).toEqual({ id: created.id, name: 'Churn risk', type: 'list', size: 0 });
    expect(fake.vendor.received.filter((r) => r.method === 'GET' && r.path === '/3.0/lists').map((r) => r.query.get('offset'))).toEqual(['0', '0', '100']);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('refuses to create an audience when there is none to copy the settings from', async () => {
    const empty = await startMailchimpFake({ seedTemplate: false });
    try {
      const err = (await connector.createAudience!({ ...ctx(), config: empty.config as MailchimpConfig }, { name: 'x', type: null }).catch((e: unknown) => e)) as ConnectorError;
      expect(err.code).toBe('NO_TEMPLATE_AUDIENCE');
      expect(err.message).toContain('create the first audience in Mailchimp');
    } finally {
      await empty.close();
    }
  });

  it('upserts members with merge fields, exactly as normalised e-mails', async () => {
    const a = template();
    const rows = [
      row('u1', '  Example@Company.co ', { FNAME: 'Ana', SCORE: 12, SIGNUP: new Date('2024-03-01T10:00:00Z'), PLAN: 'pro' }),
      row('u2', 'bo@example.com', { FNAME: 'Bo', LNAME: null }),
      row('u3', null, { FNAME: 'No email' }, { PHONE: '+44 20 7946 0000' }),
      row('u4', 'bo@EXAMPLE.com', { LNAME: 'Berg' }),
    ];
    const result = await connector.add(ctx(), { id: a.id, name: a.name }, rows);
    expect(result.rejected).toEqual([
      { key: 'u3', code: 'NO_USABLE_IDENTIFIER', message: 'no identifier Mailchimp can match: expected at least one of EMAIL, but all were empty' },
    ]);
    expect(fake.vendor.received.at(-1)!.json).toEqual({
      members: [
        { email_address: 'example@company.co', status: 'subscribed', merge_fields: { FNAME: 'Ana', SCORE: 12, SIGNUP: '2024-03-01', PLAN: 'pro' } },
        { email_address: 'bo@example.com', status: 'subscribed', merge_fields: { FNAME: 'Bo', LNAME: 'Berg' } },
      ],
      update_existing: true,
    });
    expect(fake.members(a.id)).toEqual([{ EMAIL: 'example@company.co' }, { EMAIL: 'bo@example.com' }]);
    expect(fake.profiles(a.id)).toEqual(
      new Map([
        ['example@company.co', { status: 'subscribed', merge_fields: { FNAME: 'Ana', SCORE: 12, SIGNUP: '2024-03-01', PLAN: 'pro' } }],
        ['bo@example.com', { status: 'subscribed', merge_fields: { FNAME: 'Bo', LNAME: 'Berg' } }],
      ]),
    );
    // Adding again updates, and the configured status is used.
    await connector.add(ctx({ memberStatus: 'transactional' }), { id: a.id, name: a.name }, [row('u2', 'bo@example.com', { FNAME: 'Bob' })]);
    expect(fake.profiles(a.id).get('bo@example.com')).toEqual({ status: 'transactional', merge_fields: { FNAME: 'Bob', LNAME: 'Berg' } });
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('removes by unsubscribing (the default), keeping the member', async () => {
    const a = template();
    const target = { id: a.id, name: a.name };
    await connector.add(ctx(), target, [row('u1', 'a@example.com'), row('u2', 'b@example.com')]);
    expect((await connector.remove(ctx(), target, [row('u1', 'A@example.com'), row('x', '')])).rejected.map((r) => r.key)).toEqual(['x']);
    expect(fake.vendor.received.at(-1)!.json).toEqual({ members: [{ email_address: 'a@example.com', status: 'unsubscribed' }], update_existing: true });
    expect(fake.members(a.id)).toEqual([{ EMAIL: 'b@example.com' }]);
    expect(fake.profiles(a.id).get('a@example.com')).toEqual({ status: 'unsubscribed', merge_fields: {} });
  });

  it('removes by archiving through the subscriber hash, 10 requests at a time at most', async () => {
    const slow = await startMailchimpFake({ latencyMs: 100 });
    try {
      const c: ConnectorContext<MailchimpConfig> = { ...ctx(), config: { ...(slow.config as MailchimpConfig), removalAction: 'archive' } };
      const a = slow.audiences()[0]!;
      const rows = [row('vector', 'Example@company.co'), ...Array.from({ length: 29 }, (_, i) => row(`r${i}`, `r${i}@example.com`))];
      await connector.add(c, { id: a.id, name: a.name }, rows);
      const result = await connector.remove(c, { id: a.id, name: a.name }, [...rows, row('never', 'never@example.com')]);
      expect(result.rejected).toEqual([]);
      const deletes = slow.vendor.received.filter((r) => r.method === 'DELETE');
      expect(deletes).toHaveLength(31);
      expect(deletes.map((d) => d.path)).toContain(`/3.0/lists/${a.id}/members/db76bc5fe3d38d43c15df4e56b4102b3`);
      expect(deletes.map((d) => d.status).filter((s) => s === 404)).toHaveLength(1);
      expect(slow.members(a.id)).toEqual([]);
      expect(slow.profiles(a.id).get('example@company.co')!.status).toBe('archived');
      // In parallel, but never above Mailchimp's 10 connections.
      expect(slow.peakConcurrency()).toBeGreaterThanOrEqual(5);
      expect(slow.peakConcurrency()).toBeLessThanOrEqual(10);
      expect(slow.vendor.refusals()).toEqual([]);
    } finally {
      await slow.close();
    }
  });

  it('splits more than 500 members into batches of 500', async () => {
    const a = template();
    const rows = Array.from({ length: 1_201 }, (_, i) => row(`r${i}`, `user${i}@example.com`));
    expect((await connector.add(ctx(), { id: a.id, name: a.name }, rows)).rejected).toEqual([]);
    const batches = fake.vendor.received.filter((r) => r.method === 'POST').map((r) => (r.json as { members: unknown[] }).members.length);
    expect(batches).toEqual([500, 500, 201]);
    expect(fake.members(a.id)).toHaveLength(1_201);
    expect(fake.vendor.refusals()).toEqual([]);

    const members = Array.from({ length: 501 }, (_, i) => ({ email_address: `x${i}@example.com`, status: 'subscribed' }));
    const res = await fetch(`${fake.vendor.url}/3.0/lists/${a.id}`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`any:${String(fake.config.apiKey)}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ members, update_existing: true }),
    });
    expect(res.status).toBe(400);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual(['expected 1 to 500 members, but got 501']);
  });

  it('retries a 429 after its Retry-After and succeeds', async () => {
    const a = template();
    fake.vendor.fault({ status: 429, retryAfter: 1, body: { type: 'https://mailchimp.com/developer/marketing/docs/errors/', title: 'Too Many Requests', status: 429 } });
    const started = Date.now();
    expect((await connector.add(ctx(), { id: a.id, name: a.name }, [row('u1', 'a@example.com')])).rejected).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.vendor.received.map((r) => r.status)).toEqual([429, 200]);
    expect(fake.members(a.id)).toEqual([{ EMAIL: 'a@example.com' }]);
  });

  it("maps the response's errors[] to row rejections without the e-mail", async () => {
    const a = template();
    fake.rejectEmails.set('fake@example.com', { error: 'fake@example.com looks fake or invalid, please enter a real email address.', error_code: 'ERROR_FAKE_EMAIL' });
    const result = await connector.add(ctx(), { id: a.id, name: a.name }, [row('ok', 'ok@example.com'), row('bad', 'Fake@example.com'), row('bad2', 'fake@example.com')]);
    expect(result.rejected).toEqual([
      { key: 'bad', code: 'ERROR_FAKE_EMAIL', message: 'Mailchimp refused the member: <e-mail> looks fake or invalid, please enter a real email address.' },
      { key: 'bad2', code: 'ERROR_FAKE_EMAIL', message: 'Mailchimp refused the member: <e-mail> looks fake or invalid, please enter a real email address.' },
    ]);
    expect(fake.members(a.id)).toEqual([{ EMAIL: 'ok@example.com' }]);
  });

  it('fails the whole call for an unknown audience', async () => {
    const err = (await connector.add(ctx(), { id: 'nope', name: 'nope' }, [row('u1', 'a@example.com')]).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('HTTP_404');
    expect(err.message).toContain('POST /3.0/lists/nope failed with HTTP 404');
  });

  it('reads stats.member_count as the matched size', async () => {
    const a = template();
    await connector.add(ctx(), { id: a.id, name: a.name }, Array.from({ length: 9 }, (_, i) => row(`r${i}`, `p${i}@example.com`)));
    expect(await connector.matchRate!(ctx(), { id: a.id, name: a.name })).toEqual({ matched: 7, uploaded: null });
    fake.setMatchRatio(1);
    expect(await connector.matchRate!(ctx(), { id: a.id, name: a.name })).toEqual({ matched: 9, uploaded: null });
  });

  it('reads merge fields of every audience as typed fields', async () => {
    fake.seedAudience('Other', [
      { tag: 'FNAME', name: 'Given name', type: 'text' },
      { tag: 'SCORE', name: 'Score', type: 'text' },
      { tag: 'PLAN', name: 'Plan', type: 'radio', choices: ['pro', 'enterprise'] },
    ]);
    expect(await connector.fields!(ctx())).toEqual([
      { name: 'FNAME', type: 'STRING', label: 'First Name' },
      { name: 'LNAME', type: 'STRING', label: 'Last Name' },
      { name: 'ADDRESS', type: 'OTHER', label: 'Address' },
      { name: 'PHONE', type: 'STRING', label: 'Phone Number' },
      { name: 'BIRTHDAY', type: 'OTHER', label: 'Birthday' },
      { name: 'SCORE', type: 'OTHER', label: 'Score' },
      { name: 'SIGNUP', type: 'DATE', label: 'Signup date' },
      { name: 'PLAN', type: 'ENUM', label: 'Plan', options: ['free', 'pro', 'enterprise'] },
    ]);
  });
});

describe('mergeFieldValue', () => {
  it('formats values as Mailchimp takes them', () => {
    expect(mergeFieldValue(new Date('2024-12-31T23:00:00Z'))).toBe('2024-12-31');
    expect(mergeFieldValue(true)).toBe('true');
    expect(mergeFieldValue(null)).toBe('');
    expect(mergeFieldValue(4.5)).toBe(4.5);
    expect(mergeFieldValue({ addr1: '1 Main St' })).toEqual({ addr1: '1 Main St' });
  });
});
