// A Pinterest API v5 on loopback for the customer-list calls Roster makes
// (src/connectors/pinterest/index.ts), enforcing their contract:
// - Authorization: Bearer <token> on every request (401 { code, message }).
// - Only the configured ad account exists (404 otherwise).
// - Customer list creation: { name: string, records: string, list_type? }
//   with list_type among Pinterest's values.
// - PATCH: { operation_type: "ADD" | "REMOVE", records: "<r1>,<r2>,…" } with
//   1 to `maxRecords` records (default 50,000), each 64 lower-case hex
//   (Roster promises SHA-256 for e-mails and MAIDs); anything else is refused
//   with 400 code 2740 MALFORMATTED_USER_LIST and recorded as a refusal.
// - Audiences: { name, audience_type: "CUSTOMER_LIST", rule: { customer_list_id } }
//   naming an existing list of the account.
// - Listings paginate with page_size (at most 250) and an opaque bookmark.
// - A rate limit answers 429 with Retry-After and x-ratelimit-category.
// Lists keep their records (the exact membership a test asserts) and
// Pinterest's counters, which grow with every record sent, present or not.
// Simulated vendor rejections (not contract violations): records in
// `malformed` make a PATCH answer 2740 (2741 when every record is one).
import { randomBytes } from 'node:crypto';
import { Refusal, SHA256_HEX, bearer, startFakeVendor, type FakePlatform, type FakeVendor, type Throttle, type VendorRequest } from './fake-vendor.js';

export interface FakeCustomerList {
  id: string;
  name: string;
  listType: string;
  records: Set<string>;
  numUploaded: number;
  numRemoved: number;
  numBatches: number;
  createdTime: number;
}

export interface FakeTargetingAudience {
  id: string;
  name: string;
  customerListId: string;
}

export interface PinterestFake extends FakePlatform {
  token: string;
  adAccountId: string;
  lists: Map<string, FakeCustomerList>;
  targeting: Map<string, FakeTargetingAudience>;
  /** Records Pinterest answers as malformed (code 2740), to simulate per-row rejections. */
  malformed: Set<string>;
  /** The records of a list, sorted. */
  records(listId: string): string[];
  /** Adds a list (and optionally its targeting audience) as if made in Ads Manager. */
  seedList(name: string, opts?: { records?: string[]; withAudience?: boolean }): FakeCustomerList;
}

export interface PinterestFakeOptions {
  token?: string;
  adAccountId?: string;
  maxRecords?: number;
  matchRatio?: number;
  throttle?: Throttle;
}

// Documented codes of "Update customer list" (developers.pinterest.com/docs/reference/error-codes/).
const MALFORMATTED_USER_LIST = 2740;
const NO_VALID_USER_LIST = 2741;
const LIST_TYPES = new Set(['EMAIL', 'IDFA', 'MAID', 'LR_ID', 'DLX_ID', 'HASHED_PINNER_ID']);
const MAX_PAGE_SIZE = 250;
const MAPPED_TYPE: Record<string, string> = { EMAIL: 'EMAIL', IDFA: 'MAID', MAID: 'MAID' };

const error = (status: number, code: number, message: string, why = message) => new Refusal(status, why, { code, message });

function objectBody(req: VendorRequest): Record<string, unknown> {
  if (req.headers['content-type']?.split(';')[0]?.trim() !== 'application/json') throw error(415, 1, 'Content-Type must be application/json');
  if (req.json === null || typeof req.json !== 'object' || Array.isArray(req.json)) throw error(400, 1, 'expected a JSON object body');
  return req.json as Record<string, unknown>;
}

export async function startPinterestFake(opts: PinterestFakeOptions = {}): Promise<PinterestFake> {
  const token = opts.token ?? `pina_${randomBytes(12).toString('hex')}`;
  const adAccountId = opts.adAccountId ?? '549755885175';
  const maxRecords = opts.maxRecords ?? 50_000;
  let matchRatio = opts.matchRatio ?? 0.8;
  const lists = new Map<string, FakeCustomerList>();
  const targeting = new Map<string, FakeTargetingAudience>();
  const malformed = new Set<string>();
  let nextId = 100_000_000;
  const newId = () => String(++nextId);

  const sizeOf = (listId: string) => Math.floor((lists.get(listId)?.records.size ?? 0) * matchRatio);

  const listJson = (l: FakeCustomerList) => ({
    ad_account_id: adAccountId,
    created_time: l.createdTime,
    exceptions: {},
    id: l.id,
    name: l.name,
    num_batches: l.numBatches,
    num_removed_user_records: l.numRemoved,
    num_uploaded_user_records: l.numUploaded,
    // Pinterest needs 100 matched Pinners before a list is usable.
    status: sizeOf(l.id) >= 100 ? 'READY' : 'TOO_SMALL',
    type: 'customerlist',
    updated_time: l.createdTime,
  });

  const audienceJson = (a: FakeTargetingAudience) => {
    const size = sizeOf(a.customerListId);
    return {
      ad_account_id: adAccountId,
      audience_type: 'CUSTOMER_LIST',
      id: a.id,
      name: a.name,
      rule: { customer_list_id: a.customerListId },
      size,
      status: size >= 100 ? 'READY' : 'TOO_SMALL',
      type: 'audience',
    };
  };

  const account = (req: VendorRequest) => {
    if (req.params.adAccountId !== adAccountId) throw new Refusal(404, `unknown ad account ${req.params.adAccountId}`, { code: 404, message: 'Ad account not found.' });
  };

  const listOf = (req: VendorRequest, notFoundCode: number) => {
    const l = lists.get(req.params.listId!);
    if (!l) throw new Refusal(404, `unknown customer list ${req.params.listId}`, { code: notFoundCode, message: 'Customer list could not be found.' });
    return l;
  };

  /** Pinterest's pagination: page_size (1–250, default 25) and an opaque bookmark. */
  const page = <T>(req: VendorRequest, items: T[]) => {
    const raw = req.query.get('page_size');
    const size = raw === null ? 25 : Number(raw);
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw error(400, 1, `page_size must be an integer from 1 to ${MAX_PAGE_SIZE}`);
    const bookmark = req.query.get('bookmark');
    let start = 0;
    if (bookmark !== null) {
      start = Number(Buffer.from(bookmark, 'base64url').toString('utf8'));
      if (!Number.isInteger(start) || start < 0 || start > items.length) throw error(400, 1, 'invalid bookmark');
    }
    const end = start + size;
    return { items: items.slice(start, end), bookmark: end < items.length ? Buffer.from(String(end)).toString('base64url') : null };
  };

  const parseRecords = (raw: unknown, allowEmpty: boolean): string[] => {
    if (typeof raw !== 'string') throw error(400, 1, `"records" must be a comma-separated string, got ${Array.isArray(raw) ? 'a list' : typeof raw}`);
    if (raw === '' && allowEmpty) return [];
    const records = raw.split(',');
    if (records.length > maxRecords) throw error(400, MALFORMATTED_USER_LIST, 'MALFORMATTED_USER_LIST', `${records.length} records exceed the maximum of ${maxRecords}`);
    const bad = records.findIndex((r) => !SHA256_HEX.test(r));
    if (bad !== -1) throw error(400, MALFORMATTED_USER_LIST, 'MALFORMATTED_USER_LIST', `record ${bad} is not 64 lower-case hex`);
    return records;
  };

  const vendor: FakeVendor = await startFakeVendor({
    name: 'Pinterest',
    auth: bearer(token),
    authFailure: () => ({ status: 401, body: { code: 2, message: 'Authentication failed.' } }),
    // The 429 body follows Pinterest's Error schema; its code value is not documented.
    throttle: opts.throttle ? { body: { code: 8, message: 'Rate limit exceeded.' }, headers: { 'x-ratelimit-category': 'ads_write' }, ...opts.throttle } : undefined,
    notFound: () => ({ code: 404, message: 'Not found.' }),
    routes: [
      {
        method: 'GET',
        path: '/v5/ad_accounts/:adAccountId',
        handler: (req) => {
          account(req);
          return { body: { id: adAccountId, name: 'Roster test account', country: 'US', currency: 'USD', owner: { username: 'roster' }, permissions: ['ADMINISTRATOR'] } };
        },
      },
      {
        method: 'GET',
        path: '/v5/ad_accounts/:adAccountId/customer_lists',
        handler: (req) => {
          account(req);
          return { body: page(req, [...lists.values()].map(listJson)) };
        },
      },
      {
        method: 'POST',
        path: '/v5/ad_accounts/:adAccountId/customer_lists',
        handler: (req) => {
          account(req);
          const body = objectBody(req);
          if (typeof body.name !== 'string' || body.name.trim() === '') throw error(400, 1, '"name" must be a non-empty string');
          const listType = body.list_type ?? 'EMAIL';
          if (typeof listType !== 'string' || !LIST_TYPES.has(listType)) throw error(400, 1, `"list_type" must be one of ${[...LIST_TYPES].join(', ')}`);
          const records = parseRecords(body.records, true);
          const l: FakeCustomerList = {
            id: newId(),
            name: body.name,
            listType,
            records: new Set(records),
            numUploaded: records.length,
            numRemoved: 0,
            numBatches: 1,
            createdTime: Math.floor(Date.now() / 1000),
          };
          lists.set(l.id, l);
          return { status: 201, body: listJson(l) };
        },
      },
      {
        method: 'GET',
        path: '/v5/ad_accounts/:adAccountId/customer_lists/:listId',
        handler: (req) => {
          account(req);
          return { body: listJson(listOf(req, 1001)) };
        },
      },
      {
        method: 'PATCH',
        path: '/v5/ad_accounts/:adAccountId/customer_lists/:listId',
        handler: (req) => {
          account(req);
          const l = listOf(req, 1018);
          const body = objectBody(req);
          if (body.operation_type !== 'ADD' && body.operation_type !== 'REMOVE') throw error(400, 1, '"operation_type" must be ADD or REMOVE');
          const records = parseRecords(body.records, false);
          // Simulated refusals: the whole request is refused and nothing applied.
          const refused = records.filter((r) => malformed.has(r));
          if (refused.length === records.length) return { status: 400, body: { code: NO_VALID_USER_LIST, message: 'NO_VALID_USER_LIST' } };
          if (refused.length > 0) return { status: 400, body: { code: MALFORMATTED_USER_LIST, message: 'MALFORMATTED_USER_LIST' } };
          for (const r of records) {
            if (body.operation_type === 'ADD') l.records.add(r);
            else l.records.delete(r);
          }
          // Counters grow with every record sent, present or not (OpenAPI).
          if (body.operation_type === 'ADD') l.numUploaded += records.length;
          else l.numRemoved += records.length;
          l.numBatches++;
          return { body: listJson(l) };
        },
      },
      {
        method: 'GET',
        path: '/v5/ad_accounts/:adAccountId/audiences',
        handler: (req) => {
          account(req);
          return { body: page(req, [...targeting.values()].map(audienceJson)) };
        },
      },
      {
        method: 'POST',
        path: '/v5/ad_accounts/:adAccountId/audiences',
        handler: (req) => {
          account(req);
          const body = objectBody(req);
          if (typeof body.name !== 'string' || body.name.trim() === '') throw error(400, 1, '"name" must be a non-empty string');
          if (body.audience_type !== 'CUSTOMER_LIST') throw error(400, 1, `"audience_type" must be CUSTOMER_LIST here, got ${String(body.audience_type)}`);
          const rule = body.rule as { customer_list_id?: unknown } | undefined;
          const listId = rule?.customer_list_id;
          if (typeof listId !== 'string' || !lists.has(listId)) throw error(400, 1020, 'PINNER_LIST_NOT_FOUND', '"rule.customer_list_id" must name a customer list of the account');
          const a: FakeTargetingAudience = { id: newId(), name: body.name, customerListId: listId };
          targeting.set(a.id, a);
          return { status: 201, body: audienceJson(a) };
        },
      },
      {
        method: 'GET',
        path: '/v5/ad_accounts/:adAccountId/audiences/:audienceId',
        handler: (req) => {
          account(req);
          const a = targeting.get(req.params.audienceId!);
          if (!a) throw new Refusal(404, `unknown audience ${req.params.audienceId}`, { code: 1000, message: 'Audience could not be found.' });
          return { body: audienceJson(a) };
        },
      },
    ],
  });

  return {
    vendor,
    type: 'pinterest',
    token,
    adAccountId,
    lists,
    targeting,
    malformed,
    config: { baseUrl: `${vendor.url}/v5`, accessToken: token, adAccountId },
    audiences: () => [...lists.values()].map((l) => ({ id: l.id, name: l.name, type: [...targeting.values()].some((a) => a.customerListId === l.id) ? 'CUSTOMER_LIST_AUDIENCE' : 'CUSTOMER_LIST' })),
    // Records carry no type of their own; Pinterest reads them by the list's
    // list_type, and so do these members.
    members: (listId) => {
      const l = lists.get(listId);
      if (!l) return [];
      const type = MAPPED_TYPE[l.listType] ?? l.listType;
      return [...l.records].sort().map((r) => ({ [type]: r }));
    },
    records: (listId) => [...(lists.get(listId)?.records ?? [])].sort(),
    seedList(name, o = {}) {
      const l: FakeCustomerList = {
        id: newId(),
        name,
        listType: 'EMAIL',
        records: new Set(o.records ?? []),
        numUploaded: o.records?.length ?? 0,
        numRemoved: 0,
        numBatches: 1,
        createdTime: Math.floor(Date.now() / 1000),
      };
      lists.set(l.id, l);
      if (o.withAudience) {
        const a = { id: newId(), name, customerListId: l.id };
        targeting.set(a.id, a);
      }
      return l;
    },
    setMatchRatio(ratio) {
      matchRatio = ratio;
    },
    close: () => vendor.close(),
  };
}
