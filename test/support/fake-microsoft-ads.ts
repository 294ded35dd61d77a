// Microsoft Advertising's Campaign Management REST service (v13) on loopback,
// enforcing what src/connectors/microsoft-ads/index.ts documents: the
// Authorization bearer token and DeveloperToken (a 105 fault otherwise), the
// CustomerId and CustomerAccountId headers (a 106 fault for other ids), the
// AddAudiences, GetAudiencesByIds and ApplyCustomerListUserData shapes, at
// most 1,000 items per Apply, each 64 lower-case hex. Contract violations are
// Refusals answered with an ApiFaultDetail.
//
// It keeps customer lists and their hashed e-mails, answers 8003 in
// PartialErrors until the Customer Match terms are accepted (`termsAccepted`,
// or a request with AcceptCustomerMatchTerm: true), rejects configured items
// per index, and reports SearchSize = floor(members × matchRatio) with
// AudienceNetworkSize the same. Throttling answers 429 with a 117
// CallRateExceeded fault and Retry-After.
import { Refusal, SHA256_HEX, startFakeVendor, type FakePlatform, type Throttle, type VendorRequest } from './fake-vendor.js';

export interface MicrosoftAdsFakeOptions {
  accessToken?: string;
  developerToken?: string;
  customerId?: string;
  accountId?: string;
  /** The customer accepted the Customer Match terms in the web UI (default true). */
  termsAccepted?: boolean;
  /** Items per Apply (default 1,000). */
  maxItems?: number;
  matchRatio?: number;
  /** Requests per window before 429 + fault 117. */
  rateLimit?: { limit: number; windowMs: number };
}

export interface MicrosoftAdsItemRejection {
  Code: number;
  ErrorCode: string;
  Message: string;
}

export interface MicrosoftAdsFake extends FakePlatform {
  /** Items (hashes) answered with a PartialError at their index, not applied. */
  rejectItems: Map<string, MicrosoftAdsItemRejection>;
  termsAccepted(): boolean;
  /** Sets or clears the rate limit (429 with a 117 fault and Retry-After). */
  setRateLimit(limit: { limit: number; windowMs: number } | undefined): void;
}

interface CustomerList {
  id: number;
  name: string;
  scope: string;
  parentId: string;
  description: unknown;
  items: Set<string>;
}

const PATH = '/CampaignManagement/v13';

let tracking = 0;
const trackingId = () => `00000000-0000-4000-8000-${String(++tracking).padStart(12, '0')}`;
const batchError = (Code: number, ErrorCode: string, Message: string, Index: number | null = null) => ({
  Code,
  Details: null,
  ErrorCode,
  FieldPath: null,
  ForwardCompatibilityMap: null,
  Index,
  Message,
  Type: 'BatchError',
});
const adApiFault = (Code: number, ErrorCode: string, Message: string) => ({ Errors: [{ Code, Details: null, ErrorCode, Message }], TrackingId: trackingId(), Type: 'AdApiFaultDetail' });
const apiFault = (Code: number, ErrorCode: string, Message: string) => ({
  BatchErrors: [],
  OperationErrors: [{ Code, Details: null, ErrorCode, Message }],
  TrackingId: trackingId(),
  Type: 'ApiFaultDetail',
});
/** A contract violation: 400 with an ApiFaultDetail (Code 100 is a stand-in for "invalid request"). */
const refuse = (why: string): never => {
  throw new Refusal(400, why, apiFault(100, 'InvalidRequest', why));
};

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A long as JSON: a number or a string of digits. */
const asLong = (v: unknown): string | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : typeof v === 'string' && /^\d+$/.test(v) ? v : undefined;

export async function startMicrosoftAdsFake(opts: MicrosoftAdsFakeOptions = {}): Promise<MicrosoftAdsFake> {
  const accessToken = opts.accessToken ?? 'msads-access-7d2e';
  const developerToken = opts.developerToken ?? 'msads-dev-91bc';
  const customerId = opts.customerId ?? '151234567';
  const accountId = opts.accountId ?? '187654321';
  const maxItems = opts.maxItems ?? 1_000;
  let terms = opts.termsAccepted ?? true;
  let matchRatio = opts.matchRatio ?? 0.8;
  const lists = new Map<number, CustomerList>();
  const rejectItems = new Map<string, MicrosoftAdsItemRejection>();
  let nextId = 830_000_001;

  const throttleOf = (r: { limit: number; windowMs: number }): Throttle => ({
    ...r,
    status: 429,
    body: adApiFault(117, 'CallRateExceeded', 'You have exceeded the number of calls that you are allowed to make in a minute. Please reduce the number of calls that you make per minute.'),
  });

  /** The account headers every Campaign Management call carries. */
  const accountHeaders = (req: VendorRequest) => {
    const cid = req.headers['customerid'];
    const aid = req.headers['customeraccountid'];
    if (typeof cid !== 'string' || typeof aid !== 'string') refuse('expected CustomerId and CustomerAccountId headers');
    if (cid !== customerId || aid !== accountId) {
      throw new Refusal(400, 'the user has no access to that customer or account', adApiFault(106, 'UserIsNotAuthorized', 'The user does not represent a authorized developer.'));
    }
  };

  const view = (l: CustomerList) => {
    const size = Math.floor(l.items.size * matchRatio);
    return {
      AudienceNetworkSize: size,
      CustomerShare: null,
      Description: l.description ?? null,
      ForwardCompatibilityMap: [],
      Id: l.id,
      MembershipDuration: null,
      Name: l.name,
      ParentId: Number(l.parentId),
      Scope: l.scope,
      SearchSize: size,
      SupportedCampaignTypes: ['Search', 'Shopping', 'DynamicSearchAds', 'Audience'],
      Type: 'CustomerList',
    };
  };

  const vendor = await startFakeVendor({
    name: 'Microsoft Advertising',
    auth: (req) => {
      if (req.headers.authorization !== `Bearer ${accessToken}`) return 'Authorization is not "Bearer <the expected access token>"';
      if (req.headers['developertoken'] !== developerToken) return 'DeveloperToken is not the expected developer token';
      return undefined;
    },
    authFailure: () => ({
      status: 401,
      body: adApiFault(105, 'InvalidCredentials', 'Authentication failed. Either supplied credentials are invalid or the account is inactive'),
    }),
    notFound: () => adApiFault(0, 'InternalError', 'An internal error has occurred.'),
    ...(opts.rateLimit ? { throttle: throttleOf(opts.rateLimit) } : {}),
    routes: [
      {
        method: 'POST',
        path: `${PATH}/Audiences`,
        handler: (req) => {
          accountHeaders(req);
          const b = req.json;
          if (!isObject(b) || !Array.isArray(b.Audiences)) return refuse('expected { Audiences: [...] }');
          if (b.Audiences.length === 0 || b.Audiences.length > 100) refuse('Audiences must hold 1 to 100 audiences');
          const ids: (number | null)[] = [];
          const errors: unknown[] = [];
          b.Audiences.forEach((a: unknown, i: number) => {
            if (!isObject(a)) return refuse(`Audiences[${i}] is not an object`);
            if (a.Type !== 'CustomerList') refuse(`Audiences[${i}].Type must be CustomerList for an upload list`);
            if (typeof a.Name !== 'string' || a.Name.trim() === '' || [...a.Name].length > 128) refuse(`Audiences[${i}].Name must be 1 to 128 characters`);
            if (a.Scope !== 'Account' && a.Scope !== 'Customer') refuse(`Audiences[${i}].Scope must be Account or Customer`);
            const parent = asLong(a.ParentId);
            if (parent !== (a.Scope === 'Account' ? accountId : customerId)) refuse(`Audiences[${i}].ParentId must be the ${a.Scope === 'Account' ? 'account' : 'customer'} id`);
            if ([...lists.values()].some((l) => l.name === a.Name)) {
              ids.push(null);
              errors.push(batchError(4848, 'CampaignServiceDuplicateAudienceName', 'An audience with this name already exists.', i));
              return;
            }
            const id = nextId++;
            lists.set(id, { id, name: a.Name as string, scope: a.Scope as string, parentId: parent!, description: a.Description, items: new Set() });
            ids.push(id);
          });
          return { body: { AudienceIds: ids, PartialErrors: errors } };
        },
      },
      {
        method: 'POST',
        path: `${PATH}/Audiences/QueryByIds`,
        handler: (req) => {
          accountHeaders(req);
          const b = req.json;
          if (!isObject(b)) return refuse('expected a JSON object');
          if (typeof b.Type !== 'string' || !b.Type.split(/[\s,]+/).includes('CustomerList')) refuse('Type must include CustomerList');
          const all = [...lists.values()];
          if (b.AudienceIds === null || b.AudienceIds === undefined || (Array.isArray(b.AudienceIds) && b.AudienceIds.length === 0)) {
            return { body: { Audiences: all.map(view), PartialErrors: [] } };
          }
          if (!Array.isArray(b.AudienceIds) || b.AudienceIds.length > 100) return refuse('AudienceIds must be null or at most 100 ids');
          const errors: unknown[] = [];
          const found = b.AudienceIds.map((raw: unknown, i: number) => {
            const id = asLong(raw);
            if (id === undefined) return refuse(`AudienceIds[${i}] is not a long`);
            const l = lists.get(Number(id));
            if (!l) errors.push(batchError(8000, 'InvalidCustomerListId', 'The customer list ID is invalid.', i));
            return l ? view(l) : null;
          });
          return { body: { Audiences: found, PartialErrors: errors } };
        },
      },
      {
        method: 'POST',
        path: `${PATH}/CustomerListUserData/Apply`,
        handler: (req) => {
          accountHeaders(req);
          const b = req.json;
          if (!isObject(b) || !isObject(b.CustomerListUserData)) return refuse('expected { CustomerListUserData: {...} }');
          const d = b.CustomerListUserData;
          if (d.ActionType !== 'Add' && d.ActionType !== 'Remove' && d.ActionType !== 'Replace') refuse('ActionType must be Add, Remove or Replace');
          const audienceId = asLong(d.AudienceId);
          if (audienceId === undefined) refuse('AudienceId must be a long');
          if (d.CustomerListItemSubType !== 'Email') {
            return { body: { PartialErrors: [batchError(8002, 'CustomerListItemSubTypeNotSupported', 'Only the Email sub type is supported.')] } };
          }
          if (!Array.isArray(d.CustomerListItems) || d.CustomerListItems.length === 0) return refuse('CustomerListItems must be a non-empty list');
          if (d.CustomerListItems.length > maxItems) refuse(`${d.CustomerListItems.length} CustomerListItems exceed the maximum of ${maxItems}`);
          const items = d.CustomerListItems as unknown[];
          items.forEach((item, i) => {
            if (typeof item !== 'string' || !SHA256_HEX.test(item)) refuse(`CustomerListItems[${i}] must be a SHA-256 hash as 64 lower-case hex characters`);
          });
          if (d.AcceptCustomerMatchTerm !== undefined && typeof d.AcceptCustomerMatchTerm !== 'boolean') refuse('AcceptCustomerMatchTerm must be a boolean');
          if (d.AcceptCustomerMatchTerm === true) terms = true;
          if (!terms || d.AcceptCustomerMatchTerm === false) {
            return {
              body: {
                PartialErrors: [batchError(8003, 'CustomerListTermsAndConditionsNotAccepted', 'The Customer Match terms and conditions have not been accepted.')],
              },
            };
          }
          const list = lists.get(Number(audienceId));
          if (!list) return { body: { PartialErrors: [batchError(8000, 'InvalidCustomerListId', 'The customer list ID is invalid.')] } };
          const errors: unknown[] = [];
          if (d.ActionType === 'Replace') list.items.clear();
          (items as string[]).forEach((hash, i) => {
            const r = rejectItems.get(hash);
            if (r) {
              errors.push(batchError(r.Code, r.ErrorCode, r.Message, i));
              return;
            }
            if (d.ActionType === 'Remove') list.items.delete(hash);
            else list.items.add(hash);
          });
          return { body: { PartialErrors: errors } };
        },
      },
    ],
  });

  return {
    vendor,
    type: 'microsoft_ads',
    config: { baseUrl: `${vendor.url}${PATH}`, developerToken, accessToken, customerId, accountId },
    audiences: () => [...lists.values()].map((l) => ({ id: String(l.id), name: l.name, type: 'CustomerList' })),
    members: (id) => [...(lists.get(Number(id))?.items ?? [])].map((EMAIL) => ({ EMAIL })),
    setMatchRatio(r) {
      matchRatio = r;
    },
    rejectItems,
    termsAccepted: () => terms,
    setRateLimit(r) {
      vendor.setThrottle(r ? throttleOf(r) : undefined);
    },
    close: () => vendor.close(),
  };
}
