// The Mailchimp connector against a fake Marketing API that enforces the
// contract (test/support/fake-mailchimp.ts): Basic auth with the key,
// batches of 500, lower-case statuses, subscriber hashes, 10 connections.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createMailchimpConnector,
  inferMergeFieldType,
  mailchimpBaseUrl,
  mergeFieldValue,
  subscriberHash,
  type MailchimpConfig,
} from '../../src/connectors/mailchimp/index.js';
import { ConnectorError, type Audience, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { validateDestinationConfig } from '../../src/connectors/registry.js';
import { createLogger } from '../../src/logger.js';
import { startMailchimpFake, type MailchimpFake } from '../support/fake-mailchimp.js';
import type { VendorRequest } from '../support/fake-vendor.js';

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

describe('merge fields of an audience Roster writes to', () => {
  const mergeFieldRequests = (listId: string, method: 'GET' | 'POST', since = 0): VendorRequest[] =>
    fake.vendor.received.slice(since).filter((r) => r.method === method && r.path === `/3.0/lists/${listId}/merge-fields`);

  it('creates the missing merge fields of a new audience before the first upsert, typed as the template audience has them or from the values, once', async () => {
    // Another audience disagrees on SCORE's type: the template's (the first audience) wins.
    fake.seedAudience('Other', [{ tag: 'SCORE', name: 'Score as text', type: 'text' }, { tag: 'TIER', name: 'Tier', type: 'radio', choices: ['gold', 'silver'] }]);
    const a = await audience('Fresh');
    expect(fake.mergeFields(a.id).map((f) => f.tag)).toEqual(['FNAME', 'LNAME', 'ADDRESS', 'PHONE', 'BIRTHDAY']);
    const since = fake.vendor.received.length;
    const c = ctx();
    const rows = [
      row('u1', 'ana@example.com', { FNAME: 'Ana', SCORE: 12, SIGNUP: '2024-03-01', PLAN: 'pro', TIER: 'gold', VISITS: 3, LAST_SEEN: '2024-05-02T10:00:00+00:00', NOTE: 'hi', EMPTY: null }),
      row('u2', 'bo@example.com', { FNAME: 'Bo', SCORE: null, SIGNUP: null, PLAN: 'free', TIER: null, VISITS: 4.5, LAST_SEEN: null, NOTE: 7, EMPTY: null }),
    ];
    expect((await connector.add(c, a, rows)).rejected).toEqual([]);

    // One read of the audience's fields; one creation per missing tag, before the upsert.
    expect(mergeFieldRequests(a.id, 'GET', since)).toHaveLength(1);
    const created = mergeFieldRequests(a.id, 'POST', since);
    expect(created.map((r) => r.json)).toEqual([
      { tag: 'SCORE', name: 'Score', type: 'number' },
      { tag: 'SIGNUP', name: 'Signup date', type: 'date' },
      { tag: 'PLAN', name: 'Plan', type: 'dropdown', options: { choices: ['free', 'pro'] } },
      { tag: 'TIER', name: 'Tier', type: 'radio', options: { choices: ['gold', 'silver'] } },
      { tag: 'VISITS', name: 'VISITS', type: 'number' },
      { tag: 'LAST_SEEN', name: 'LAST_SEEN', type: 'date' },
      { tag: 'NOTE', name: 'NOTE', type: 'text' },
      { tag: 'EMPTY', name: 'EMPTY', type: 'text' },
    ]);
    const upsert = fake.vendor.received.findIndex((r, i) => i >= since && r.method === 'POST' && r.path === `/3.0/lists/${a.id}`);
    expect(created.every((r) => fake.vendor.received.indexOf(r) < upsert)).toBe(true);
    expect(Object.fromEntries(fake.mergeFields(a.id).map((f) => [f.tag, f.type]))).toEqual({
      FNAME: 'text', LNAME: 'text', ADDRESS: 'address', PHONE: 'phone', BIRTHDAY: 'birthday',
      SCORE: 'number', SIGNUP: 'date', PLAN: 'dropdown', TIER: 'radio', VISITS: 'number', LAST_SEEN: 'date', NOTE: 'text', EMPTY: 'text',
    });
    expect(fake.profiles(a.id).get('ana@example.com')!.merge_fields).toMatchObject({ FNAME: 'Ana', SCORE: 12, SIGNUP: '2024-03-01', PLAN: 'pro', VISITS: 3, NOTE: 'hi' });
    expect(fake.profiles(a.id).get('bo@example.com')!.merge_fields).toMatchObject({ FNAME: 'Bo', SCORE: '', VISITS: 4.5, NOTE: 7 });
    // The template audience and the other one are left as they were.
    expect(fake.mergeFields(template().id).map((f) => f.tag)).toEqual(['FNAME', 'LNAME', 'ADDRESS', 'PHONE', 'BIRTHDAY', 'SCORE', 'SIGNUP', 'PLAN']);

    // More rows in the same context (run): no read, no creation.
    const again = fake.vendor.received.length;
    expect((await connector.add(c, a, [row('u3', 'cy@example.com', { SCORE: 1, VISITS: 2 })])).rejected).toEqual([]);
    expect(mergeFieldRequests(a.id, 'GET', again)).toHaveLength(0);
    expect(mergeFieldRequests(a.id, 'POST', again)).toHaveLength(0);
    // A new context (the next run) reads the fields again, once, and creates nothing.
    const next = ctx();
    const later = fake.vendor.received.length;
    await connector.add(next, a, [row('u4', 'di@example.com', { SCORE: 2 })]);
    await connector.add(next, a, [row('u5', 'ed@example.com', { NOTE: 'x' })]);
    expect(mergeFieldRequests(a.id, 'GET', later)).toHaveLength(1);
    expect(mergeFieldRequests(a.id, 'POST', later)).toHaveLength(0);
    expect(fake.members(a.id)).toHaveLength(5);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('reads no merge fields when the rows carry none, and creates none an audience already has', async () => {
    const a = template();
    const since = fake.vendor.received.length;
    await connector.add(ctx(), { id: a.id, name: a.name }, [row('u1', 'a@example.com')]);
    expect(mergeFieldRequests(a.id, 'GET', since)).toHaveLength(0);
    await connector.add(ctx(), { id: a.id, name: a.name }, [row('u1', 'a@example.com', { SCORE: 3, PLAN: 'pro' })]);
    expect(mergeFieldRequests(a.id, 'GET', since)).toHaveLength(1);
    expect(mergeFieldRequests(a.id, 'POST', since)).toHaveLength(0);
    // Removal sends no merge fields, so it reads none.
    const removal = fake.vendor.received.length;
    await connector.remove(ctx(), { id: a.id, name: a.name }, [row('u1', 'a@example.com', { SCORE: 3 })]);
    expect(mergeFieldRequests(a.id, 'GET', removal)).toHaveLength(0);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('fails the call clearly, sending no member, when a missing field is not a valid merge tag', async () => {
    const a = await audience('Strict');
    const since = fake.vendor.received.length;
    const err = (await connector.add(ctx(), a, [row('u1', 'a@example.com', { FNAME: 'A', lifetime_value: 3, LONGER_THAN_10: 'x' })]).catch((e: unknown) => e)) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('INVALID_MERGE_TAG');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('expected merge tags of up to 10 upper-case letters, digits and underscores, but "lifetime_value", "LONGER_THAN_10" are not');
    expect(fake.vendor.received.slice(since).filter((r) => r.method === 'POST')).toEqual([]);
    expect(fake.members(a.id)).toEqual([]);
  });

  it('takes a field another run created meanwhile as created', async () => {
    const a = await audience('Raced');
    // Another writer creates SCORE after this context read the fields, before it creates it.
    fake.vendor.fault({ status: 400, body: { type: 'https://mailchimp.com/developer/marketing/docs/errors/', title: 'Invalid Resource', status: 400, detail: 'A Merge Field with the tag "SCORE" already exists for this list.' } }, {
      when: (r) => {
        if (r.method !== 'POST' || r.path !== `/3.0/lists/${a.id}/merge-fields`) return false;
        fake.addMergeField(a.id, { tag: 'SCORE', name: 'Score', type: 'number' });
        return true;
      },
    });
    expect((await connector.add(ctx(), a, [row('u1', 'a@example.com', { SCORE: 5 })])).rejected).toEqual([]);
    expect(fake.mergeFields(a.id).filter((f) => f.tag === 'SCORE')).toHaveLength(1);
    expect(fake.profiles(a.id).get('a@example.com')!.merge_fields).toEqual({ SCORE: 5 });
  });

  it('the fake keeps the merge-field rules: tag, name and type on creation, no duplicates, no member data for fields the audience lacks', async () => {
    const a = template();
    const post = (path: string, body: unknown) =>
      fetch(`${fake.vendor.url}/3.0/lists/${a.id}${path}`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`any:${String(fake.config.apiKey)}`).toString('base64')}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post('/merge-fields', { tag: 'score2', name: 'x', type: 'number' })).status).toBe(400);
    expect((await post('/merge-fields', { tag: 'ABCDEFGHIJK', name: 'x', type: 'number' })).status).toBe(400);
    expect((await post('/merge-fields', { tag: 'OK_1', name: 'x', type: 'integer' })).status).toBe(400);
    expect((await post('/merge-fields', { tag: 'OK_1', type: 'text' })).status).toBe(400);
    expect((await post('/merge-fields', { tag: 'SCORE', name: 'Score', type: 'number' })).status).toBe(400);
    expect((await post('/merge-fields', { tag: 'OK_1', name: 'x', type: 'text', options: { choices: ['a'] } })).status).toBe(400);
    expect((await post('', { members: [{ email_address: 'a@example.com', status: 'subscribed', merge_fields: { OK_1: 'x' } }] })).status).toBe(400);
    expect((await post('', { members: [{ email_address: 'a@example.com', status: 'subscribed', merge_fields: { SCORE: 'many' } }] })).status).toBe(400);
    expect((await post('', { members: [{ email_address: 'a@example.com', status: 'subscribed', merge_fields: { SIGNUP: 'soon' } }] })).status).toBe(400);
    const ok = await post('/merge-fields', { tag: 'OK_1', name: 'Okay', type: 'dropdown', options: { choices: ['a', 'b'] } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ tag: 'OK_1', name: 'Okay', type: 'dropdown', options: { choices: ['a', 'b'] }, list_id: a.id });
    expect((await post('', { members: [{ email_address: 'a@example.com', status: 'subscribed', merge_fields: { OK_1: 'a', SCORE: '12', SIGNUP: '2024-01-02' } }] })).status).toBe(200);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual([
      'expected "tag" of up to 10 upper-case letters, digits and underscores, but got "score2"',
      'expected "tag" of up to 10 upper-case letters, digits and underscores, but got "ABCDEFGHIJK"',
      'expected "type" to be one of text, number, address, phone, date, url, imageurl, radio, dropdown, birthday, zip, but got "integer"',
      'expected a non-empty "name"',
      'A Merge Field with the tag "SCORE" already exists for this list.',
      'expected options.choices only for radio and dropdown fields, but the type is text',
      'members[0]: merge field OK_1 does not exist in this audience',
      'members[0]: merge field SCORE (number) got "many"',
      'members[0]: merge field SIGNUP (date) got "soon"',
    ]);
  });

  it('infers a type from the values of a tag no audience has', () => {
    expect(inferMergeFieldType([1, 2.5, null])).toBe('number');
    expect(inferMergeFieldType(['2024-01-02', '2024-01-02T10:00:00Z', new Date('2024-01-02'), ''])).toBe('date');
    expect(inferMergeFieldType(['2024-01-02', 'soon'])).toBe('text');
    expect(inferMergeFieldType([1, '1'])).toBe('text');
    expect(inferMergeFieldType([null, undefined, ''])).toBe('text');
    expect(inferMergeFieldType([true])).toBe('text');
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
