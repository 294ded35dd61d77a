// Pinterest customer lists, through the Pinterest API v5.
//
// What it speaks (paths under the base URL https://api.pinterest.com/v5):
//   GET   /ad_accounts/{ad_account_id}                                   check()
//   GET   /ad_accounts/{ad_account_id}/customer_lists?page_size&bookmark  listAudiences()
//   POST  /ad_accounts/{ad_account_id}/customer_lists                    createAudience()
//         { "name", "records": "", "list_type": "EMAIL" }
//   POST  /ad_accounts/{ad_account_id}/audiences                         createAudience() (default type)
//         { "name", "audience_type": "CUSTOMER_LIST", "rule": { "customer_list_id" } }
//   GET   /ad_accounts/{ad_account_id}/audiences?page_size&bookmark      listAudiences(), matchRate()
//   GET   /ad_accounts/{ad_account_id}/customer_lists/{customer_list_id} matchRate()
//   PATCH /ad_accounts/{ad_account_id}/customer_lists/{customer_list_id} add(), remove()
//         { "operation_type": "ADD" | "REMOVE", "records": "<h1>,<h2>,…" }
//   Authorization: Bearer <access token> (OAuth 2.0, scopes ads:read and ads:write).
//   Errors: { "code": <integer>, "message": "…" }.
//
// A Roster audience is a customer list: its id is the customer_list_id that
// add and remove patch. Pinterest targets ads at audiences, not lists, so the
// default type (CUSTOMER_LIST_AUDIENCE) also creates the CUSTOMER_LIST
// audience built from the list; type CUSTOMER_LIST creates the list alone.
//
// Sources and the rules relied on (tags as in destinations.md):
// - Paths, the two-step creation, `records` as one comma-joined string,
//   list_type EMAIL by default, operation_type ADD/REMOVE, bookmark
//   pagination with page_size at most 250, the CustomerList counters and the
//   Audience `size`: pinterest/api-description v5/openapi.json (v5.23.0) [VS],
//   developers.pinterest.com/docs/api/v5 [V].
// - E-mail: lower-case, plain or SHA-1/SHA-256/MD5 hex; MAIDs and IDFAs must
//   be hashed (same OpenAPI, CustomerListRequest.records) [VS]. Roster sends
//   both as SHA-256 lower-case hex; a MAID is lower-cased with its hyphens,
//   as advertising ids are written (judgement: Pinterest states no format).
// - One identifier per record [VS]; a row with an e-mail and a MAID becomes
//   two records, so a row is matched by either (judgement).
// - Records per request: not in the OpenAPI; 50,000 from a third-party doc
//   (destinations.md §8) [3D]. The limit counts records, so a call is split
//   by records, never separating a row's records.
// - Error codes 2740 MALFORMATTED_USER_LIST, 2741 NO_VALID_USER_LIST and
//   1018 USER_LIST_NOT_FOUND for "Update customer list":
//   developers.pinterest.com/docs/reference/error-codes/ [V].
// - Per-record results: none; the whole request is refused (destinations.md
//   §8 "Per-record errors") [VS]. So a 2740 answer is narrowed down by halving
//   the batch until the refused rows stand alone; they become row rejections
//   with code "2740", the others are delivered (judgement). A 2741 answer
//   refuses every row of the part it answers. At most 200 requests a call go
//   to this; past that the call fails (a systematic refusal, not a few rows).
// - Rate limit: ads_write 400 requests per minute per user per app (Standard
//   access), developers.pinterest.com/docs/reference/rate-limits/ [V] (read
//   through a third-party copy), so 6 a second; 429 documented, Retry-After not documented
//   (destinations.md §8) [VS]. Concurrency is not documented; 2 (judgement).
// - Creating a list needs `records` [VS]; Roster has none yet at that point
//   and sends an empty string (the schema sets no minimum length; not
//   verified against the live API).
// - Match statistics: Pinterest reports the audience `size` (Pinners matched)
//   and never a match rate; the list counters num_uploaded_user_records and
//   num_removed_user_records grow even for records already present or absent
//   [VS], and count records, not rows, so `uploaded` is left to Roster's own
//   count and the counters are only logged.
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
import { createHttpClient, type HttpClient, type HttpClientOptions, type HttpResponse } from '../http.js';
import { emailRule, maidRule, prepareIdentifiers, type IdentifierRule, type PreparedRow } from '../identifiers.js';

export type PinterestConfig = {
  baseUrl?: string;
  accessToken: string;
  adAccountId: string;
};

/** Knobs of the HTTP helper, and the isolation budget below; tests shorten them. */
export type PinterestHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'> & {
  maxIsolationRequests?: number;
};

export const PINTEREST_BASE_URL = 'https://api.pinterest.com/v5';
export const PINTEREST_MAX_RECORDS = 50_000;
export const PINTEREST_PAGE_SIZE = 250;
/** Roster's audience types: a list with its targeting audience (default), or the list alone. */
export const PINTEREST_AUDIENCE_TYPES = ['CUSTOMER_LIST_AUDIENCE', 'CUSTOMER_LIST'] as const;
type PinterestAudienceType = (typeof PINTEREST_AUDIENCE_TYPES)[number];

const MALFORMATTED_USER_LIST = 2740;
const NO_VALID_USER_LIST = 2741;
/**
 * Requests one call may spend narrowing 2740 refusals down: isolating k
 * refused rows among n takes about 2k·log2(n/k), so a handful among 50,000
 * fits, while a systematic refusal (every row) fails the call instead of
 * spending hours at 400 requests a minute.
 */
export const PINTEREST_MAX_ISOLATION_REQUESTS = 200;

/** E-mail and MAID, both SHA-256 (an input already a SHA-256 digest passes lower-cased). */
export const PINTEREST_IDENTIFIER_RULES: readonly IdentifierRule[] = [emailRule(), maidRule(true)];

interface PinterestError {
  code?: unknown;
  message?: unknown;
}

interface CustomerListBody {
  id?: unknown;
  name?: unknown;
  num_uploaded_user_records?: unknown;
  num_removed_user_records?: unknown;
  num_batches?: unknown;
  status?: unknown;
  exceptions?: unknown;
}

interface AudienceBody {
  id?: unknown;
  name?: unknown;
  audience_type?: unknown;
  size?: unknown;
  status?: unknown;
  rule?: { customer_list_id?: unknown } | null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** "code 2740: MALFORMATTED_USER_LIST" from Pinterest's error body, or the status alone. */
async function errorOf(res: HttpResponse): Promise<{ code: number | null; said: string }> {
  let body: PinterestError | undefined;
  try {
    body = JSON.parse(await res.text()) as PinterestError;
  } catch {
    body = undefined;
  }
  const code = typeof body?.code === 'number' ? body.code : null;
  const message = typeof body?.message === 'string' ? body.message.slice(0, 200) : null;
  const said = [code !== null ? `code ${code}` : null, message].filter(Boolean).join(': ');
  return { code, said: said || `HTTP ${res.status} without a Pinterest error body` };
}

/** Rows in consecutive groups whose records stay within the per-request limit. */
function chunkByRecords(prepared: PreparedRow[], max: number): PreparedRow[][] {
  const chunks: PreparedRow[][] = [];
  let current: PreparedRow[] = [];
  let count = 0;
  for (const p of prepared) {
    const n = Object.keys(p.values).length;
    if (count + n > max && current.length > 0) {
      chunks.push(current);
      current = [];
      count = 0;
    }
    current.push(p);
    count += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

const recordsOf = (rows: PreparedRow[]): string[] => rows.flatMap((p) => Object.values(p.values) as string[]);

export function createPinterestConnector(options: PinterestHttpOptions = {}): Connector<PinterestConfig> {
  const { maxIsolationRequests = PINTEREST_MAX_ISOLATION_REQUESTS, ...http } = options;
  const clientFor = (ctx: ConnectorContext<PinterestConfig>): HttpClient =>
    createHttpClient({
      ...http,
      baseUrl: ctx.config.baseUrl ?? PINTEREST_BASE_URL,
      rateLimit: spec.rateLimit,
      logger: ctx.logger,
      signal: ctx.signal,
      headers: { authorization: `Bearer ${ctx.config.accessToken}`, accept: 'application/json' },
    });

  const withClient = async <T>(ctx: ConnectorContext<PinterestConfig>, fn: (client: HttpClient) => Promise<T>): Promise<T> => {
    const client = clientFor(ctx);
    try {
      return await fn(client);
    } finally {
      await client.stop();
    }
  };

  const account = (ctx: ConnectorContext<PinterestConfig>) => `/ad_accounts/${encodeURIComponent(ctx.config.adAccountId)}`;

  /** Every item of a bookmark-paginated listing. */
  const listAll = async <T>(client: HttpClient, path: string): Promise<T[]> => {
    const items: T[] = [];
    const seen = new Set<string>();
    let bookmark: string | undefined;
    for (;;) {
      const res = await client.request('GET', path, { query: { page_size: PINTEREST_PAGE_SIZE, bookmark } });
      const body = await res.json<{ items?: unknown; bookmark?: unknown }>();
      if (!Array.isArray(body?.items)) {
        throw new ConnectorError(`GET ${path}: expected { "items": [...], "bookmark": … }, but "items" was ${describe(body?.items)}`, 'INVALID_RESPONSE', false);
      }
      items.push(...(body.items as T[]));
      const next = body.bookmark;
      if (typeof next !== 'string' || next === '') return items;
      // A bookmark seen before would page forever.
      if (seen.has(next)) throw new ConnectorError(`GET ${path}: Pinterest returned the same bookmark twice; the listing does not advance`, 'INVALID_RESPONSE', false);
      seen.add(next);
      bookmark = next;
    }
  };

  /** The targeting audience built from each customer list, by list id. */
  const audiencesByList = async (client: HttpClient, ctx: ConnectorContext<PinterestConfig>): Promise<Map<string, AudienceBody>> => {
    const all = await listAll<AudienceBody>(client, `${account(ctx)}/audiences`);
    const byList = new Map<string, AudienceBody>();
    for (const a of all) {
      const listId = a.rule?.customer_list_id;
      if (a.audience_type === 'CUSTOMER_LIST' && (typeof listId === 'string' || typeof listId === 'number')) byList.set(String(listId), a);
    }
    return byList;
  };

  /**
   * One PATCH of a list; a 2740 refusal of several rows is narrowed down by
   * halving, so the rows Pinterest refuses on their own are reported and the
   * others delivered. ADD and REMOVE are idempotent, and a refused request
   * applied nothing, so sending a half again is harmless.
   */
  const patch = async (
    client: HttpClient,
    ctx: ConnectorContext<PinterestConfig>,
    listId: string,
    operation: 'ADD' | 'REMOVE',
    rows: PreparedRow[],
    budget: { left: number },
  ): Promise<RowRejection[]> => {
    const path = `${account(ctx)}/customer_lists/${encodeURIComponent(listId)}`;
    const res = await client.request('PATCH', path, { json: { operation_type: operation, records: recordsOf(rows).join(',') }, accept: [400, 404] });
    if (res.status === 404) {
      const { said } = await errorOf(res);
      throw new ConnectorError(
        `PATCH ${path}: expected customer list "${listId}" in ad account "${ctx.config.adAccountId}", but Pinterest did not find it (${said}); it may have been deleted`,
        'AUDIENCE_NOT_FOUND',
        false,
        404,
      );
    }
    if (res.status === 400) {
      const { code, said } = await errorOf(res);
      const reject = (message: string) => rows.map((p) => ({ key: p.row.key, code: String(code), message }));
      if (code === NO_VALID_USER_LIST) return reject(`Pinterest found no valid record among the row's identifiers (${said})`);
      if (code === MALFORMATTED_USER_LIST) {
        if (rows.length === 1) return reject(`Pinterest refused the row's records as malformed (${said})`);
        budget.left -= 2;
        if (budget.left < 0) {
          throw new ConnectorError(
            `PATCH ${path}: Pinterest refused records as malformed (${said}) in more parts than Roster narrows down in one call (${maxIsolationRequests} requests); expected SHA-256 e-mails and MAIDs, so the identifier data or Pinterest's rules need a look`,
            `PINTEREST_${MALFORMATTED_USER_LIST}`,
            false,
            400,
          );
        }
        const half = Math.ceil(rows.length / 2);
        return [...(await patch(client, ctx, listId, operation, rows.slice(0, half), budget)), ...(await patch(client, ctx, listId, operation, rows.slice(half), budget))];
      }
      throw new ConnectorError(`PATCH ${path}: Pinterest refused the ${operation} request (${said})`, `PINTEREST_${code ?? 'HTTP_400'}`, false, 400);
    }
    const list = await res.json<CustomerListBody>();
    if (list === null || typeof list !== 'object' || (typeof list.id !== 'string' && typeof list.id !== 'number')) {
      throw new ConnectorError(`PATCH ${path}: expected the updated customer list, but got ${describe(list)} without an "id"`, 'INVALID_RESPONSE', false, res.status);
    }
    // Pinterest documents `exceptions` only as "customer list errors"; its
    // keys are logged (never its values, which may quote records).
    if (list.exceptions && typeof list.exceptions === 'object' && Object.keys(list.exceptions).length > 0) {
      ctx.logger.warn({ listId, exceptionKeys: Object.keys(list.exceptions).slice(0, 20) }, 'pinterest reported customer list exceptions');
    }
    return [];
  };

  const deliver = async (ctx: ConnectorContext<PinterestConfig>, audience: Audience, rows: SyncRow[], operation: 'ADD' | 'REMOVE'): Promise<DeliveryResult> => {
    const { prepared, rejected } = prepareIdentifiers(rows, PINTEREST_IDENTIFIER_RULES, { platform: 'Pinterest' });
    if (prepared.length === 0) return { rejected };
    return withClient(ctx, async (client) => {
      const budget = { left: maxIsolationRequests };
      for (const chunk of chunkByRecords(prepared, PINTEREST_MAX_RECORDS)) {
        rejected.push(...(await patch(client, ctx, audience.id, operation, chunk, budget)));
      }
      return { rejected };
    });
  };

  const spec: Connector<PinterestConfig>['spec'] = {
    category: 'AD_PLATFORM',
    configSchema: [
      { name: 'baseUrl', type: 'url', required: false, secret: false, description: 'the Pinterest API v5 base URL', default: PINTEREST_BASE_URL },
      { name: 'accessToken', type: 'string', required: true, secret: true, description: 'an OAuth 2.0 access token with the ads:read and ads:write scopes' },
      { name: 'adAccountId', type: 'string', required: true, secret: false, description: 'the Pinterest ad account id (digits) that owns the customer lists' },
    ],
    identifiers: [
      { type: 'EMAIL', hashed: true },
      { type: 'MAID', hashed: true },
    ],
    audiences: { canList: true, canCreate: true, types: PINTEREST_AUDIENCE_TYPES, defaultType: 'CUSTOMER_LIST_AUDIENCE' },
    batchSize: PINTEREST_MAX_RECORDS,
    rateLimit: { requestsPerSecond: 6, concurrency: 2 },
    requiresProfiles: false,
    reportsMatchRate: true,
    supportsUpdate: false,
  };

  return {
    type: 'pinterest',
    name: 'Pinterest Customer Lists',
    spec,

    validateConfig(config: PinterestConfig): ValidationProblem[] {
      const problems: ValidationProblem[] = [];
      if (!/^\d+$/.test(config.adAccountId.trim())) {
        problems.push({ path: ['adAccountId'], message: `expected a Pinterest ad account id made of digits, but got ${config.adAccountId.trim() === '' ? 'an empty string' : 'other characters'}` });
      }
      if (config.accessToken.trim() === '') problems.push({ path: ['accessToken'], message: 'expected an access token, but got only spaces' });
      return problems;
    },

    async check(ctx) {
      await withClient(ctx, async (client) => {
        const path = account(ctx);
        const res = await client.request('GET', path, { accept: [401, 403, 404] });
        if (res.status === 401) {
          throw new ConnectorError(`GET ${path}: Pinterest refused the access token (${(await errorOf(res)).said}); expected a valid OAuth 2.0 token`, 'UNAUTHORIZED', false, 401);
        }
        if (res.status === 403 || res.status === 404) {
          throw new ConnectorError(
            `GET ${path}: expected ad account "${ctx.config.adAccountId}" to be reachable with this token (scope ads:read), but Pinterest answered HTTP ${res.status} (${(await errorOf(res)).said})`,
            'ACCOUNT_NOT_FOUND',
            false,
            res.status,
          );
        }
        const body = await res.json<{ id?: unknown }>();
        if (body === null || typeof body !== 'object' || String(body.id) !== ctx.config.adAccountId) {
          throw new ConnectorError(`GET ${path}: expected the ad account "${ctx.config.adAccountId}", but got ${describe(body)} with another id`, 'INVALID_RESPONSE', false);
        }
      });
    },

    async listAudiences(ctx) {
      return withClient(ctx, async (client) => {
        const lists = await listAll<CustomerListBody>(client, `${account(ctx)}/customer_lists`);
        const targeting = await audiencesByList(client, ctx);
        return lists
          .filter((l) => typeof l.id === 'string' || typeof l.id === 'number')
          .map((l) => {
            const a = targeting.get(String(l.id));
            return {
              id: String(l.id),
              name: typeof l.name === 'string' ? l.name : String(l.id),
              type: a ? 'CUSTOMER_LIST_AUDIENCE' : 'CUSTOMER_LIST',
              size: typeof a?.size === 'number' ? a.size : null,
            };
          });
      });
    },

    async createAudience(ctx, input) {
      const type = (input.type ?? spec.audiences.defaultType) as PinterestAudienceType;
      if (!PINTEREST_AUDIENCE_TYPES.includes(type)) {
        throw new ConnectorError(`expected an audience type among ${PINTEREST_AUDIENCE_TYPES.join(', ')}, but got "${input.type}"`, 'INVALID_AUDIENCE_TYPE', false);
      }
      return withClient(ctx, async (client) => {
        const path = `${account(ctx)}/customer_lists`;
        const res = await client.request('POST', path, { json: { name: input.name, records: '', list_type: 'EMAIL' } });
        const list = await res.json<CustomerListBody>();
        if (list === null || typeof list !== 'object' || (typeof list.id !== 'string' && typeof list.id !== 'number')) {
          throw new ConnectorError(`POST ${path}: expected the new customer list, but got ${describe(list)} without an "id"`, 'INVALID_RESPONSE', false);
        }
        const id = String(list.id);
        if (type === 'CUSTOMER_LIST_AUDIENCE') {
          const audiencesPath = `${account(ctx)}/audiences`;
          try {
            await client.request('POST', audiencesPath, {
              json: { ad_account_id: ctx.config.adAccountId, name: input.name, audience_type: 'CUSTOMER_LIST', rule: { customer_list_id: id } },
            });
          } catch (err) {
            // The list exists; saying so lets the user pick it (type
            // CUSTOMER_LIST) instead of creating another.
            const why = err instanceof Error ? err.message : String(err);
            throw new ConnectorError(`created customer list "${id}", but Pinterest refused its targeting audience: ${why}`, err instanceof ConnectorError ? err.code : 'AUDIENCE_CREATE_FAILED', err instanceof ConnectorError && err.retryable);
          }
        }
        return { id, name: typeof list.name === 'string' ? list.name : input.name, type, size: null };
      });
    },

    add: (ctx, audience, rows) => deliver(ctx, audience, rows, 'ADD'),
    remove: (ctx, audience, rows) => deliver(ctx, audience, rows, 'REMOVE'),

    async matchRate(ctx, audience): Promise<AudienceStats> {
      return withClient(ctx, async (client) => {
        const path = `${account(ctx)}/customer_lists/${encodeURIComponent(audience.id)}`;
        const res = await client.request('GET', path, { accept: [404] });
        if (res.status === 404) {
          throw new ConnectorError(`GET ${path}: expected customer list "${audience.id}", but Pinterest did not find it (${(await errorOf(res)).said})`, 'AUDIENCE_NOT_FOUND', false, 404);
        }
        const list = await res.json<CustomerListBody>();
        ctx.logger.debug(
          { listId: audience.id, uploadedRecords: list?.num_uploaded_user_records, removedRecords: list?.num_removed_user_records, batches: list?.num_batches, status: list?.status },
          'pinterest customer list counters',
        );
        const targeting = (await audiencesByList(client, ctx)).get(audience.id);
        // Without a targeting audience Pinterest reports no size for the list.
        const size = targeting?.size;
        if (size !== undefined && size !== null && (typeof size !== 'number' || !Number.isFinite(size) || size < 0)) {
          throw new ConnectorError(`GET ${account(ctx)}/audiences: expected "size" to be a count, but got ${describe(size)}`, 'INVALID_RESPONSE', false);
        }
        return { matched: typeof size === 'number' ? size : null, uploaded: null };
      });
    },
  };
}

export const pinterestConnector = createPinterestConnector();
