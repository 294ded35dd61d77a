// The Microsoft Advertising customer list connector against a fake of the
// Campaign Management REST service (test/support/fake-microsoft-ads.ts):
// headers, AddAudiences / GetAudiencesByIds / ApplyCustomerListUserData
// shapes, the 1,000-item limit, SHA-256 items, PartialErrors by index, the
// Customer Match terms, faults and throttling.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMicrosoftAdsConnector, microsoftAdsConnector, type MicrosoftAdsConfig } from '../../src/connectors/microsoft-ads/index.js';
import { registerConnector, validateDestinationConfig } from '../../src/connectors/registry.js';
import { ConnectorError, type Audience, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { sha256Hex } from '../../src/connectors/identifiers.js';
import { createLogger } from '../../src/logger.js';
import { startMicrosoftAdsFake, type MicrosoftAdsFake } from '../support/fake-microsoft-ads.js';

const connector = createMicrosoftAdsConnector({ timeoutMs: 2_000, minBackoffMs: 10, maxBackoffMs: 50, retries: 3 });
const logger = createLogger('silent', { write: () => {} });

/** MicrosoftDocs/Advertising bulk-service/customer-list-item.md (official ✓ in destinations.md §0). */
const CONTOSO_VECTOR = 'f25ad364d33972379a7a4f4df33db142205f5c40eb19cfdb2fc5aaf117e10101';

let fake: MicrosoftAdsFake;
beforeEach(async () => {
  fake = await startMicrosoftAdsFake();
});
afterEach(async () => {
  await fake.close();
});

function ctx(overrides: Partial<MicrosoftAdsConfig> = {}): ConnectorContext<MicrosoftAdsConfig> {
  return { destinationId: 'dest_ms', config: { ...(fake.config as MicrosoftAdsConfig), ...overrides }, logger, signal: new AbortController().signal };
}

const row = (key: string, email: string | null, extra: SyncRow['identifiers'] = {}): SyncRow => ({ key, fields: {}, identifiers: { EMAIL: email, ...extra } });
const emails = (a: Audience) => fake.members(a.id).map((m) => m.EMAIL).sort();
const applies = () => fake.vendor.received.filter((r) => r.path.endsWith('/CustomerListUserData/Apply'));

describe('microsoft_ads connector', () => {
  it('declares its spec', () => {
    expect(connector.type).toBe('microsoft_ads');
    expect(connector.name).toBe('Microsoft Advertising Customer Lists');
    expect(connector.spec.audiences).toEqual({ canList: true, canCreate: true, types: ['CustomerList'], defaultType: 'CustomerList' });
    expect(connector.spec.batchSize).toBe(1_000);
    expect(connector.spec.identifiers).toEqual([{ type: 'EMAIL', hashed: true }]);
    expect(connector.spec.supportsUpdate).toBe(false);
    expect(connector.spec.configSchema.filter((f) => f.secret).map((f) => f.name).sort()).toEqual(['accessToken', 'developerToken']);
  });

  it('has a spec the registry accepts, and the fake configuration validates against it', () => {
    registerConnector(microsoftAdsConnector);
    const v = validateDestinationConfig(microsoftAdsConnector, fake.config, ['config']);
    expect(v.problems).toEqual([]);
    expect(Object.keys(v.secrets).sort()).toEqual(['accessToken', 'developerToken']);
    expect(v.config).toMatchObject({ acceptCustomerMatchTerms: false, customerId: '151234567' });
  });

  it('validates ids as digits', () => {
    expect(connector.validateConfig!({ ...(fake.config as MicrosoftAdsConfig), customerId: 'C-12', accountId: 'X123' }).map((p) => p.path[0])).toEqual(['customerId', 'accountId']);
  });

  it('check() succeeds and sends the four headers', async () => {
    await connector.check(ctx());
    const req = fake.vendor.received[0]!;
    expect(req.path).toBe('/CampaignManagement/v13/Audiences/QueryByIds');
    expect(req.json).toEqual({ AudienceIds: null, Type: 'CustomerList' });
    expect(req.headers).toMatchObject({ authorization: 'Bearer msads-access-7d2e', developertoken: 'msads-dev-91bc', customerid: '151234567', customeraccountid: '187654321' });
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('check() fails clearly on bad credentials, not retried, without quoting them', async () => {
    const err = (await connector.check(ctx({ accessToken: 'msads-wrong-0000' })).catch((e: unknown) => e)) as ConnectorError;
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('InvalidCredentials (105)');
    expect(err.message).not.toContain('msads-wrong-0000');
    expect(fake.vendor.received).toHaveLength(1);
  });

  it('check() names the ids when the user has no access to the account', async () => {
    const err = (await connector.check(ctx({ accountId: '42' })).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('ACCESS_DENIED');
    expect(err.message).toContain('customer 151234567 / account 42');
  });

  it('createAudience creates a CustomerList and listAudiences finds it', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Churn risk', type: null });
    expect(a).toEqual({ id: expect.stringMatching(/^\d+$/), name: 'Churn risk', type: 'CustomerList', size: null });
    expect(fake.vendor.received[0]!.json).toEqual({
      Audiences: [{ Name: 'Churn risk', Type: 'CustomerList', Scope: 'Account', ParentId: '187654321', Description: 'Kept in sync by Roster' }],
    });
    await connector.createAudience!(ctx(), { name: 'VIP', type: 'CustomerList' });
    expect((await connector.listAudiences!(ctx())).map((x) => [x.id, x.name, x.type])).toEqual(fake.audiences().map((x) => [x.id, x.name, 'CustomerList']));
    expect(fake.audiences().map((x) => x.name)).toEqual(['Churn risk', 'VIP']);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('createAudience surfaces a PartialError (duplicate name)', async () => {
    await connector.createAudience!(ctx(), { name: 'Twice', type: null });
    const err = (await connector.createAudience!(ctx(), { name: 'Twice', type: null }).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('MSADS_CampaignServiceDuplicateAudienceName');
    expect(err.message).toContain('An audience with this name already exists');
  });

  it('adds hashed e-mails (the Bulk doc vector for test@contoso.com), then removes', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Mixed', type: null });
    const result = await connector.add(ctx(), a, [
      row('u1', ' Test@Contoso.com '),
      row('u2', 'jane.doe@example.com', { PHONE: '+1 650 555 1212', MAID: '5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25' }),
      row('u3', sha256Hex('pre@hashed.com').toUpperCase()),
    ]);
    expect(result).toEqual({ rejected: [] });
    expect(emails(a)).toEqual([CONTOSO_VECTOR, sha256Hex('jane.doe@example.com'), sha256Hex('pre@hashed.com')].sort());
    expect(applies()[0]!.json).toEqual({
      CustomerListUserData: {
        ActionType: 'Add',
        AudienceId: a.id,
        CustomerListItemSubType: 'Email',
        CustomerListItems: [CONTOSO_VECTOR, sha256Hex('jane.doe@example.com'), sha256Hex('pre@hashed.com')],
      },
    });

    expect(await connector.remove(ctx(), a, [row('u1', 'test@contoso.com')])).toEqual({ rejected: [] });
    expect(emails(a)).toEqual([sha256Hex('jane.doe@example.com'), sha256Hex('pre@hashed.com')].sort());
    expect((applies()[1]!.json as { CustomerListUserData: { ActionType: string } }).CustomerListUserData.ActionType).toBe('Remove');
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('rejects rows without a usable e-mail, with a clear message and no raw value', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'No e-mail', type: null });
    const result = await connector.add(ctx(), a, [row('n1', null, { PHONE: '+1 650 555 1212' }), row('n2', 'broken@'), row('ok', 'ok@example.com')]);
    expect(result.rejected.map((r) => [r.key, r.code])).toEqual([
      ['n1', 'NO_USABLE_IDENTIFIER'],
      ['n2', 'NO_USABLE_IDENTIFIER'],
    ]);
    expect(result.rejected[0]!.message).toBe('no identifier Microsoft Advertising can match: expected at least one of EMAIL, but all were empty');
    expect(result.rejected[1]!.message).toContain('EMAIL is not an e-mail address');
    expect(result.rejected[1]!.message).not.toContain('broken@');
    expect(emails(a)).toEqual([sha256Hex('ok@example.com')]);
  });

  it('splits a batch above 1,000 items (the fake refuses larger requests)', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Big', type: null });
    const rows = Array.from({ length: 2_001 }, (_, i) => row(`b${i}`, `user${i}@example.com`));
    expect(await connector.add(ctx(), a, rows)).toEqual({ rejected: [] });
    expect(applies().map((r) => (r.json as { CustomerListUserData: { CustomerListItems: unknown[] } }).CustomerListUserData.CustomerListItems.length)).toEqual([
      1_000, 1_000, 1,
    ]);
    expect(fake.members(a.id)).toHaveLength(2_001);
    expect(fake.vendor.refusals()).toEqual([]);

    const over = await fetch(`${fake.vendor.url}/CampaignManagement/v13/CustomerListUserData/Apply`, {
      method: 'POST',
      headers: { authorization: 'Bearer msads-access-7d2e', developertoken: 'msads-dev-91bc', customerid: '151234567', customeraccountid: '187654321', 'content-type': 'application/json' },
      body: JSON.stringify({ CustomerListUserData: { ActionType: 'Add', AudienceId: a.id, CustomerListItemSubType: 'Email', CustomerListItems: Array(1_001).fill(CONTOSO_VECTOR) } }),
    });
    expect(over.status).toBe(400);
    expect(fake.vendor.refusals().map((r) => r.refused)).toEqual(['1001 CustomerListItems exceed the maximum of 1000']);
  });

  it('retries a 429 with Retry-After (rate limit, fault 117) and succeeds', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Throttled', type: null });
    fake.setRateLimit({ limit: 1, windowMs: 1_000 });
    const started = Date.now();
    const rows = Array.from({ length: 1_500 }, (_, i) => row(`t${i}`, `t${i}@example.com`));
    expect(await connector.add(ctx(), a, rows)).toEqual({ rejected: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(applies().map((r) => [r.status, r.fault])).toEqual([
      [200, undefined],
      [429, 'throttled'],
      [200, undefined],
    ]);
    expect(fake.members(a.id)).toHaveLength(1_500);
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('a 117 fault on another status fails the call as retryable', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Rate fault', type: null });
    fake.vendor.fault({ status: 400, body: { Errors: [{ Code: 117, ErrorCode: 'CallRateExceeded', Message: 'You have exceeded the number of calls' }], TrackingId: 't', Type: 'AdApiFaultDetail' } });
    const err = (await connector.add(ctx(), a, [row('r1', 'r1@example.com')]).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('CALL_RATE_EXCEEDED');
    expect(err.retryable).toBe(true);
  });

  it('maps a PartialError with an Index to a RowRejection and applies the rest', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Partial', type: null });
    fake.rejectItems.set(sha256Hex('bad@example.com'), { Code: 9999, ErrorCode: 'TestItemRejected', Message: 'refused by the test' });
    const result = await connector.add(ctx(), a, [row('ok1', 'ok@example.com'), row('bad1', 'bad@example.com'), row('ok2', 'ok2@example.com')]);
    expect(result.rejected).toEqual([{ key: 'bad1', code: 'TestItemRejected', message: 'Microsoft Advertising refused this item: TestItemRejected (9999): refused by the test' }]);
    expect(emails(a)).toEqual([sha256Hex('ok@example.com'), sha256Hex('ok2@example.com')].sort());
    expect(fake.vendor.refusals()).toEqual([]);
  });

  it('fails the call with advice when the Customer Match terms are not accepted, and accepts them when configured', async () => {
    await fake.close();
    fake = await startMicrosoftAdsFake({ termsAccepted: false });
    const a = await connector.createAudience!(ctx(), { name: 'Terms', type: null });
    const err = (await connector.add(ctx(), a, [row('x', 'x@example.com')]).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('TERMS_NOT_ACCEPTED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('acceptCustomerMatchTerms');
    expect(fake.members(a.id)).toEqual([]);

    expect(await connector.add(ctx({ acceptCustomerMatchTerms: true }), a, [row('x', 'x@example.com')])).toEqual({ rejected: [] });
    expect((applies().at(-1)!.json as { CustomerListUserData: Record<string, unknown> }).CustomerListUserData.AcceptCustomerMatchTerm).toBe(true);
    expect(fake.termsAccepted()).toBe(true);
    expect(emails(a)).toEqual([sha256Hex('x@example.com')]);
  });

  it('matchRate reports the list size as matched (no match rate from Microsoft)', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Sizes', type: null });
    await connector.add(ctx(), a, Array.from({ length: 10 }, (_, i) => row(`m${i}`, `m${i}@example.com`)));
    fake.setMatchRatio(0.7);
    expect(await connector.matchRate!(ctx(), a)).toEqual({ matched: 7, uploaded: null, rate: null });
    expect(fake.vendor.received.at(-1)!.json).toEqual({ AudienceIds: [a.id], Type: 'CustomerList' });

    const err = (await connector.matchRate!(ctx(), { id: '1', name: 'gone' }).catch((e: unknown) => e)) as ConnectorError;
    expect(err.code).toBe('MSADS_InvalidCustomerListId');
    expect(fake.vendor.refusals()).toEqual([]);
  });
});
