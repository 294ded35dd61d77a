// Microsoft Advertising Customer Lists (Customer Match), through the Campaign
// Management service v13 in its REST/JSON form.
//
// What it speaks (base https://campaign.api.bingads.microsoft.com/CampaignManagement/v13):
//   every request   Authorization: Bearer <token> (REST's form of the SOAP
//                   AuthenticationToken header), DeveloperToken, CustomerId,
//                   CustomerAccountId
//   check           POST /Audiences/QueryByIds { AudienceIds: null, Type: "CustomerList" }
//   listAudiences   the same call: null ids means every list of the account, in one answer
//   createAudience  POST /Audiences (AddAudiences) { Audiences: [{ Name, Type: "CustomerList",
//                   Scope: "Account", ParentId: <account id>, Description? }] }
//                   → { AudienceIds: [id | null], PartialErrors: [BatchError] }
//   add / remove    POST /CustomerListUserData/Apply (ApplyCustomerListUserData)
//                   { CustomerListUserData: { ActionType: "Add" | "Remove", AudienceId,
//                   CustomerListItemSubType: "Email", CustomerListItems: [<sha256 hex>],
//                   AcceptCustomerMatchTerm? } } → { PartialErrors: [BatchError] }
//   matchRate       POST /Audiences/QueryByIds { AudienceIds: [id], Type: "CustomerList" }
//                   → SearchSize, AudienceNetworkSize
//   BatchError      { Code, ErrorCode, Message, Index, FieldPath, Details, Type }
//   faults          { Errors | OperationErrors | BatchErrors: [{ Code, ErrorCode, Message }],
//                   TrackingId, Type: "AdApiFaultDetail" | "ApiFaultDetail" }
//
// Sources and the limits relied on (tags as in /work/shared/reference/destinations.md §4):
// - REST paths, headers and JSON shapes: MicrosoftDocs/Advertising
//   advertising/bingads-13/campaign-management-service/applycustomerlistuserdata.md
//   (REST zone), addaudiences.md, getaudiencesbyids.md, audience.md,
//   customerlistuserdata.md [VS]; "Authorization: Bearer" for REST:
//   …/customer-management-service/includes/request-header-rest.md [VS]; the
//   /Audiences/QueryByIds route as the Java SDK and Segment call it [VS/3C].
// - At most 1,000 CustomerListItems per Apply ("The maximum user data for
//   CustomerListItems is 1000") [VS]: spec.batchSize, and calls are split there.
// - At most 100 audiences per AddAudiences and 100 ids per GetAudiencesByIds [VS].
// - Items are SHA-256 lower-case hex of the e-mail; Email is the only supported
//   sub type (CRM and Phone "not currently supported"):
//   customerlistitemsubtype.md [VS]. Trim + lower-case before hashing as
//   segmentio/action-destinations …/ms-bing-ads-audiences/utils.ts does [3C].
//   Vector: test@contoso.com → f25ad364…0101 (bulk-service/customer-list-item.md,
//   official ✓); the Campaign Management page's a8e34c39… does not reproduce.
// - Codes [VS guides/operation-error-codes.md, handle-service-errors-exceptions.md]:
//   105 invalid credentials, 106 no access, 109 expired token, 117
//   CallRateExceeded ("resubmit after waiting 60 seconds"), 8000
//   InvalidCustomerListId, 8003 CustomerListTermsAndConditionsNotAccepted.
// - Rate limit: per user, per minute, not published ("the exact limits are not
//   documented and subject to change", MicrosoftDocs/Advertising-docs#333);
//   5 requests/s and 2 at a time is a judgement. A 429 (seen in practice,
//   BingAds/BingAds-PHP-SDK#158) is retried by the HTTP helper with its
//   Retry-After; a 117 fault on any other status fails the call as retryable
//   (Microsoft asks for a 60 s wait, longer than a batch should hold a run).
// - Customer Match terms: until accepted per customer (in the web UI, or with
//   AcceptCustomerMatchTerm: true) every Apply returns 8003. Sending true is a
//   legal acceptance on the customer's behalf, so it is opt-in
//   (acceptCustomerMatchTerms); an 8003 fails the call with that advice.
//
// Size, not match rate: Microsoft reports no match rate for customer lists,
// only SearchSize and AudienceNetworkSize (nil for up to 48 h, and at least
// 300 to serve). matchRate() returns the search-network size as `matched`
// (the audience network size when search is not reported), and Roster
// divides it by the members it sent: an approximation, not Microsoft's figure.
import { IdentifierType } from '../../generated/prisma/enums.js';
import type { ValidationProblem } from '../../graphql/errors.js';
import {
  ConnectorError,
  type Audience,
  type AudienceStats,
  type Connector,
  type ConnectorContext,
  type DeliveryResult,
  type RowRejection,
  type SyncRow,
} from '../contract.js';
import { createHttpClient, type HttpClient, type HttpClientOptions, type HttpResponse, type RateLimit } from '../http.js';
import { emailRule, prepareIdentifiers, type PreparedRow } from '../identifiers.js';

export const MICROSOFT_ADS_BASE_URL = 'https://campaign.api.bingads.microsoft.com/CampaignManagement/v13';
export const MICROSOFT_ADS_MAX_ITEMS = 1_000;
export const MICROSOFT_ADS_RATE_LIMIT: RateLimit = { requestsPerSecond: 5, concurrency: 2 };
const NAME_MAX = 128;

export type MicrosoftAdsConfig = {
  baseUrl?: string;
  developerToken: string;
  accessToken: string;
  /** The manager account (customer) id: the CustomerId header. */
  customerId: string;
  /** The ad account id: the CustomerAccountId header and the lists' ParentId. */
  accountId: string;
  /** Send AcceptCustomerMatchTerm: true, accepting Microsoft's Customer Match terms for the customer. */
  acceptCustomerMatchTerms?: boolean;
};

/** Knobs of the HTTP helper; tests shorten them. */
export type MicrosoftAdsHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>;

interface BatchError {
  Code?: number | string;
  ErrorCode?: string;
  Message?: string;
  Index?: number | null;
}

interface MsAudience {
  Id?: number | string;
  Name?: string;
  Type?: string;
  SearchSize?: number | null;
  AudienceNetworkSize?: number | null;
}

const AUTH_CODES = new Set(['105', '109']);
const RATE_CODE = '117';
const TERMS_CODE = '8003';

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const codeOf = (e: BatchError) => (e.Code !== undefined && e.Code !== null ? String(e.Code) : undefined);
const describeError = (e: BatchError) => `${e.ErrorCode ?? 'UnknownError'}${codeOf(e) !== undefined ? ` (${codeOf(e)})` : ''}: ${e.Message ?? 'no message given'}`;

/** The errors of a fault body, whichever envelope Microsoft used. */
function faultErrors(body: unknown): BatchError[] {
  if (!isObject(body)) return [];
  const out: BatchError[] = [];
  for (const field of ['Errors', 'OperationErrors', 'BatchErrors', 'PartialErrors'] as const) {
    const list = body[field];
    if (Array.isArray(list)) for (const e of list) if (isObject(e)) out.push(e as BatchError);
  }
  return out;
}

export function createMicrosoftAdsConnector(http: MicrosoftAdsHttpOptions = {}): Connector<MicrosoftAdsConfig> {
  const withClient = async <T>(ctx: ConnectorContext<MicrosoftAdsConfig>, fn: (client: HttpClient) => Promise<T>): Promise<T> => {
    const client = createHttpClient({
      ...http,
      baseUrl: ctx.config.baseUrl ?? MICROSOFT_ADS_BASE_URL,
      rateLimit: MICROSOFT_ADS_RATE_LIMIT,
      logger: ctx.logger,
      signal: ctx.signal,
      headers: {
        authorization: `Bearer ${ctx.config.accessToken}`,
        developertoken: ctx.config.developerToken,
        customerid: ctx.config.customerId.trim(),
        customeraccountid: ctx.config.accountId.trim(),
      },
    });
    try {
      return await fn(client);
    } finally {
      await client.stop();
    }
  };

  /** A fault as the ConnectorError that says what Microsoft expected. */
  const faultError = (ctx: ConnectorContext<MicrosoftAdsConfig>, what: string, status: number | undefined, errors: BatchError[]): ConnectorError => {
    const codes = errors.map(codeOf);
    const said = errors.length ? errors.map(describeError).join('; ') : 'no error details given';
    const http = status !== undefined ? `HTTP ${status}, ` : '';
    if (codes.some((c) => c !== undefined && AUTH_CODES.has(c))) {
      return new ConnectorError(
        `${what}: Microsoft Advertising refused the credentials (${http}${said}); expected a valid, unexpired access token and a developer token for this environment (production or sandbox)`,
        'AUTH_FAILED',
        false,
        status,
      );
    }
    if (codes.includes('106')) {
      return new ConnectorError(
        `${what}: the user has no access to customer ${ctx.config.customerId.trim()} / account ${ctx.config.accountId.trim()} (${http}${said}); expected the ids of an account this user manages`,
        'ACCESS_DENIED',
        false,
        status,
      );
    }
    if (codes.includes(RATE_CODE)) {
      return new ConnectorError(
        `${what}: Microsoft Advertising's per-minute call limit was exceeded (${said}); it asks to wait 60 s, so the batch is sent again on the next run`,
        'CALL_RATE_EXCEEDED',
        true,
        status,
      );
    }
    if (codes.includes(TERMS_CODE)) {
      return new ConnectorError(
        `${what}: the Customer Match terms are not accepted for customer ${ctx.config.customerId.trim()} (${said}); accept them in the Microsoft Advertising web UI (create one customer list there) or set acceptCustomerMatchTerms`,
        'TERMS_NOT_ACCEPTED',
        false,
        status,
      );
    }
    const first = errors[0];
    return new ConnectorError(`${what}: Microsoft Advertising answered ${http}${said}`, first?.ErrorCode ? `MSADS_${first.ErrorCode}` : `HTTP_${status ?? 0}`, false, status);
  };

  /**
   * One POST. Faults on 400/401/403/404 are read here for their codes;
   * 429 and 5xx stay with the HTTP helper, which retries them.
   */
  const post = async (ctx: ConnectorContext<MicrosoftAdsConfig>, client: HttpClient, path: string, json: unknown, what: string): Promise<Record<string, unknown>> => {
    const res: HttpResponse = await client.request('POST', path, { json, accept: [400, 401, 403, 404] });
    const text = await res.text();
    let body: unknown;
    try {
      body = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (res.status >= 400) throw faultError(ctx, what, res.status, faultErrors(body));
    if (!isObject(body)) throw new ConnectorError(`${what}: expected a JSON object from POST ${path}, but got ${body === undefined ? 'a body that is not JSON' : 'another JSON value'}`, 'INVALID_RESPONSE', false, res.status);
    return body;
  };

  const queryLists = async (ctx: ConnectorContext<MicrosoftAdsConfig>, client: HttpClient, ids: string[] | null, what: string) => {
    const body = await post(ctx, client, '/Audiences/QueryByIds', { AudienceIds: ids, Type: 'CustomerList' }, what);
    if (!Array.isArray(body.Audiences)) {
      const errors = faultErrors(body);
      if (errors.length) throw faultError(ctx, what, undefined, errors);
      throw new ConnectorError(`${what}: expected { Audiences: [...] } from GetAudiencesByIds, but the list was missing`, 'INVALID_RESPONSE', false);
    }
    return { audiences: body.Audiences as (MsAudience | null)[], errors: faultErrors(body) };
  };

  const audienceIdOf = (audience: Audience, what: string): string => {
    if (!/^\d+$/.test(audience.id)) {
      throw new ConnectorError(`${what}: expected a numeric customer list id, but got an id with other characters`, 'INVALID_AUDIENCE', false);
    }
    return audience.id;
  };

  /** PartialErrors of one Apply: per-item ones become rejections; the rest fail the call. */
  const rejectionsOf = (ctx: ConnectorContext<MicrosoftAdsConfig>, body: Record<string, unknown>, chunk: PreparedRow[], what: string): RowRejection[] => {
    const errors = faultErrors(body);
    const perItem = errors.filter((e) => typeof e.Index === 'number' && Number.isInteger(e.Index) && e.Index >= 0 && e.Index < chunk.length);
    // An error without an item index (terms, list id, sub type, throttling)
    // concerns the whole call: claiming the other rows delivered would be false.
    const general = errors.filter((e) => !perItem.includes(e) || codeOf(e) === TERMS_CODE);
    if (general.length) throw faultError(ctx, what, undefined, general);
    const seen = new Set<number>();
    const out: RowRejection[] = [];
    for (const e of perItem) {
      const i = e.Index as number;
      if (seen.has(i)) continue;
      seen.add(i);
      out.push({ key: chunk[i]!.row.key, code: e.ErrorCode ?? codeOf(e) ?? 'UNKNOWN', message: `Microsoft Advertising refused this item: ${describeError(e)}` });
    }
    return out;
  };

  const deliver = async (ctx: ConnectorContext<MicrosoftAdsConfig>, audience: Audience, rows: SyncRow[], action: 'Add' | 'Remove'): Promise<DeliveryResult> => {
    const what = `${action.toLowerCase()} customer list items`;
    const audienceId = audienceIdOf(audience, what);
    const { prepared, rejected } = prepareIdentifiers(rows, [emailRule()], { platform: 'Microsoft Advertising' });
    if (prepared.length === 0) return { rejected };
    return withClient(ctx, async (client) => {
      // One item per row, so a PartialError's Index names its row. Split at
      // Microsoft's 1,000 items; a failure fails the whole call, and Add and
      // Remove of a present/absent item are harmless to repeat.
      for (let i = 0; i < prepared.length; i += MICROSOFT_ADS_MAX_ITEMS) {
        const chunk = prepared.slice(i, i + MICROSOFT_ADS_MAX_ITEMS);
        const body = await post(
          ctx,
          client,
          '/CustomerListUserData/Apply',
          {
            CustomerListUserData: {
              ActionType: action,
              // A string, as Segment sends it: JSON numbers lose precision past 2^53.
              AudienceId: audienceId,
              CustomerListItemSubType: 'Email',
              CustomerListItems: chunk.map((p) => p.values.EMAIL!),
              ...(ctx.config.acceptCustomerMatchTerms ? { AcceptCustomerMatchTerm: true } : {}),
            },
          },
          what,
        );
        rejected.push(...rejectionsOf(ctx, body, chunk, what));
      }
      return { rejected };
    });
  };

  const audienceOf = (a: MsAudience): Audience => ({
    id: String(a.Id),
    name: a.Name ?? '',
    type: a.Type ?? 'CustomerList',
    size: typeof a.SearchSize === 'number' ? a.SearchSize : null,
  });

  return {
    type: 'microsoft_ads',
    name: 'Microsoft Advertising Customer Lists',
    spec: {
      category: 'AD_PLATFORM',
      configSchema: [
        { name: 'baseUrl', type: 'url', required: false, secret: false, description: 'the Campaign Management REST base URL', default: MICROSOFT_ADS_BASE_URL },
        { name: 'developerToken', type: 'string', required: true, secret: true, description: 'the Microsoft Advertising developer token' },
        {
          name: 'accessToken',
          type: 'string',
          required: true,
          secret: true,
          description: 'an OAuth access token with the https://ads.microsoft.com/msads.manage scope',
        },
        { name: 'customerId', type: 'string', required: true, secret: false, description: 'the manager account (customer) id, digits' },
        { name: 'accountId', type: 'string', required: true, secret: false, description: 'the ad account id (not the account number), digits' },
        {
          name: 'acceptCustomerMatchTerms',
          type: 'boolean',
          required: false,
          secret: false,
          description: "accept Microsoft's Customer Match terms for this customer with every upload (otherwise accept them once in the web UI)",
          default: false,
        },
      ],
      identifiers: [{ type: IdentifierType.EMAIL, hashed: true }],
      audiences: { canList: true, canCreate: true, types: ['CustomerList'], defaultType: 'CustomerList' },
      batchSize: MICROSOFT_ADS_MAX_ITEMS,
      rateLimit: MICROSOFT_ADS_RATE_LIMIT,
      requiresProfiles: false,
      reportsMatchRate: true,
      supportsUpdate: false,
    },

    validateConfig(config: MicrosoftAdsConfig): ValidationProblem[] {
      const problems: ValidationProblem[] = [];
      for (const field of ['customerId', 'accountId'] as const) {
        if (!/^\d+$/.test(config[field].trim())) problems.push({ path: [field], message: `expected ${field} as digits (e.g. 151234567), but got another form` });
      }
      for (const field of ['developerToken', 'accessToken'] as const) {
        if (config[field].trim() === '') problems.push({ path: [field], message: `expected a non-empty ${field}, but got only spaces` });
      }
      return problems;
    },

    async check(ctx) {
      await withClient(ctx, (client) => queryLists(ctx, client, null, 'check'));
    },

    async listAudiences(ctx) {
      return withClient(ctx, async (client) => {
        const { audiences } = await queryLists(ctx, client, null, 'list customer lists');
        return audiences.filter((a): a is MsAudience => isObject(a) && a.Id !== undefined && a.Id !== null).map(audienceOf);
      });
    },

    async createAudience(ctx, input) {
      const type = input.type ?? 'CustomerList';
      if (type !== 'CustomerList') {
        throw new ConnectorError(`create customer list: expected type CustomerList (the only type that takes uploads), but got ${JSON.stringify(type.slice(0, 40))}`, 'UNSUPPORTED_AUDIENCE_TYPE', false);
      }
      if (input.name.trim() === '' || [...input.name].length > NAME_MAX) {
        throw new ConnectorError(`create customer list: expected a name of 1 to ${NAME_MAX} characters, but got ${[...input.name].length}`, 'INVALID_AUDIENCE_NAME', false);
      }
      return withClient(ctx, async (client) => {
        const what = 'create customer list';
        const body = await post(
          ctx,
          client,
          '/Audiences',
          { Audiences: [{ Name: input.name, Type: 'CustomerList', Scope: 'Account', ParentId: ctx.config.accountId.trim(), Description: 'Kept in sync by Roster' }] },
          what,
        );
        const ids = Array.isArray(body.AudienceIds) ? body.AudienceIds : [];
        const id = ids[0];
        if (id === undefined || id === null) {
          const errors = faultErrors(body);
          if (errors.length) throw faultError(ctx, what, undefined, errors);
          throw new ConnectorError(`${what}: expected the new list's id in AudienceIds, but got none and no error`, 'INVALID_RESPONSE', false);
        }
        return { id: String(id), name: input.name, type: 'CustomerList', size: null };
      });
    },

    add: (ctx, audience, rows) => deliver(ctx, audience, rows, 'Add'),
    remove: (ctx, audience, rows) => deliver(ctx, audience, rows, 'Remove'),

    async matchRate(ctx, audience): Promise<AudienceStats> {
      const what = 'read customer list size';
      const id = audienceIdOf(audience, what);
      return withClient(ctx, async (client) => {
        const { audiences, errors } = await queryLists(ctx, client, [id], what);
        const found = audiences.find((a) => isObject(a) && String(a.Id) === id);
        if (!found) {
          if (errors.length) throw faultError(ctx, what, undefined, errors);
          throw new ConnectorError(`${what}: expected customer list ${id} in the answer, but Microsoft Advertising returned none`, 'AUDIENCE_NOT_FOUND', false);
        }
        const size = typeof found.SearchSize === 'number' ? found.SearchSize : typeof found.AudienceNetworkSize === 'number' ? found.AudienceNetworkSize : null;
        // No match rate is reported: the size stands in for matched members.
        return { matched: size, uploaded: null, rate: null };
      });
    },
  };
}

export const microsoftAdsConnector = createMicrosoftAdsConnector();
