// X (Twitter) Ads custom audiences, through the Ads API v12.
//
// What it speaks (paths under the base URL https://ads-api.x.com/12):
//   GET  /accounts/{account_id}                                        check()
//   GET  /accounts/{account_id}/custom_audiences?count&cursor          listAudiences()
//   POST /accounts/{account_id}/custom_audiences?name=…                createAudience()
//   GET  /accounts/{account_id}/custom_audiences/{custom_audience_id}  matchRate()
//   POST /accounts/{account_id}/custom_audiences/{id}/users            add(), remove()
//        Content-Type: application/json, a JSON array of operations:
//        [{ "operation_type": "Update" | "Delete",
//           "params": { "users": [{ "email": ["<h>"], "phone_number": ["<h>"],
//                                   "device_id": ["<h>"], "partner_user_id": ["raw"] }] } }]
//        → { "data": { "success_count": N, "total_count": N }, "request": … }
//   Every request is signed with OAuth 1.0a (RFC 5849, HMAC-SHA1) with the
//   app's consumer key/secret and the user's access token/secret; the
//   signature covers the method, the URL and its query parameters (a JSON
//   body is not part of it, §3.4.1.3.1) and is computed anew for every
//   attempt, with a fresh nonce and timestamp.
//   Errors: { "errors": [{ "code": "CAPS_CONSTANT", "message": "…" }], "request": … }.
//
// Sources and the rules relied on (tags as in destinations.md):
// - Paths, parameters, example requests and responses, `audience_size`,
//   `next_cursor` pagination with count at most 1,000:
//   developer.x.com/en/docs/x-ads-api/audiences/api-reference (custom
//   audiences, custom audience users) and …/fundamentals/pagination [V]
//   (xdevplatform/docs x-ads-api/audiences/reference.mdx [VS]).
// - Users endpoint: at most 2,500 operations and 5,000,000 bytes a request;
//   1,500 requests per 1-minute window; the batch fails or succeeds as a
//   whole; success_count and total_count must equal the records sent, else
//   retry; item-level errors in `operation_errors` by input index [V]. Roster
//   sends one user per operation, so an index names a row. X does not say
//   how operation_errors is laid out: it is read as a list by operation
//   index whose entries are null/[] or the error(s) of that operation, or as
//   errors carrying an `index` (judgement). As nothing of a refused batch is
//   applied, the refused rows become rejections and the others are sent again.
// - Hashing: SHA-256, no salt, lower-case hex; e-mail trimmed and
//   lower-cased; IDFA lower-case with hyphens; partner_user_id raw
//   (x-ads-api/audiences user-data page) [V]; vector sha256("adsapi") =
//   49e0be2a… [V]. Phone: E.164 keeping its "+" per an example quoted by
//   third-party code [3C] (destinations.md §0, §9).
// - OAuth 1.0a: developer.x.com/en/docs/authentication/oauth-1-0a [V],
//   RFC 5849 §3.4 (signature base string, HMAC-SHA1) and §3.6 (encoding).
// - Rate limits: 1,500/min on the users endpoint = 25 requests per second
//   [V]; concurrency is not documented: 4 (judgement). X signals throttling
//   with 429 and x-rate-limit-reset (the epoch second the window reopens);
//   the HTTP helper waits on Retry-After when sent, else until that reset
//   (read through its `retryWhen` hook; a reset further away than the
//   helper's maxRetryAfterMs fails the call at once, retryable), else backs
//   off exponentially.
// - Memberships expire 13 months after an Update unless `expires_at` says
//   otherwise [V]; Roster leaves the default, so a member unchanged for 13
//   months needs a full resync to stay (judgement).
// - Match statistics: X reports `audience_size` (null while processing) and
//   never a match rate; a targetable audience needs 100 matched users [V].
import { createHmac, randomBytes } from 'node:crypto';
import type { ValidationProblem } from '../../graphql/errors.js';
import type { IdentifierType } from '../../generated/prisma/enums.js';
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
import { createHttpClient, waitFromHeaders, type HttpClientOptions, type HttpRequestOptions, type HttpResponse } from '../http.js';
import { emailRule, maidRule, normaliseExternalId, phoneRule, prepareIdentifiers, type IdentifierRule, type PreparedRow } from '../identifiers.js';

export type XConfig = {
  baseUrl?: string;
  accountId: string;
  consumerKey: string;
  consumerSecret: string;
  accessToken: string;
  accessTokenSecret: string;
};

/** Knobs of the HTTP helper; tests shorten them. */
export type XHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>;

export const X_BASE_URL = 'https://ads-api.x.com/12';
export const X_MAX_OPERATIONS = 2_500;
export const X_MAX_BODY_BYTES = 5_000_000;
const PAGE_COUNT = 1_000;
/** X's 429s say when the rate-limit window reopens, in epoch seconds. */
const X_RATE_LIMIT_WAIT = waitFromHeaders([{ name: 'x-rate-limit-reset', kind: 'epoch' }]);

/** E-mail, phone (with its "+") and MAID hashed; the partner's own id raw. */
export const X_IDENTIFIER_RULES: readonly IdentifierRule[] = [
  emailRule(),
  phoneRule({ plus: true }),
  maidRule(true),
  { type: 'EXTERNAL_ID', normalise: normaliseExternalId, hash: false },
];

/** X's user fields, by Roster identifier. */
const USER_FIELD: Partial<Record<IdentifierType, string>> = { EMAIL: 'email', PHONE: 'phone_number', MAID: 'device_id', EXTERNAL_ID: 'partner_user_id' };

// ─── OAuth 1.0a (RFC 5849) ───────────────────────────────────────────────────

export interface OAuth1Credentials {
  consumerKey: string;
  consumerSecret: string;
  token: string;
  tokenSecret: string;
}

/** RFC 5849 §3.6: RFC 3986 unreserved characters kept, everything else %XX (upper-case). */
export function oauthEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The HMAC-SHA1 signature of a request (RFC 5849 §3.4): `baseUri` is scheme,
 * host (with a non-default port) and path; `params` are the query and form
 * parameters plus the oauth_* ones except oauth_signature, decoded.
 */
export function oauth1Signature(method: string, baseUri: string, params: readonly (readonly [string, string])[], consumerSecret: string, tokenSecret: string): string {
  const normalised = params
    .map(([k, v]) => [oauthEncode(k), oauthEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const base = `${method.toUpperCase()}&${oauthEncode(baseUri)}&${oauthEncode(normalised)}`;
  return createHmac('sha1', `${oauthEncode(consumerSecret)}&${oauthEncode(tokenSecret)}`).update(base).digest('base64');
}

/** The Authorization header of one attempt: fresh nonce and timestamp, signature over the URL and its query. */
export function oauth1Header(
  creds: OAuth1Credentials,
  method: string,
  url: URL,
  opts: { timestamp?: number; nonce?: string } = {},
): string {
  const oauth: [string, string][] = [
    ['oauth_consumer_key', creds.consumerKey],
    ['oauth_nonce', opts.nonce ?? randomBytes(16).toString('hex')],
    ['oauth_signature_method', 'HMAC-SHA1'],
    ['oauth_timestamp', String(opts.timestamp ?? Math.floor(Date.now() / 1000))],
    ['oauth_token', creds.token],
    ['oauth_version', '1.0'],
  ];
  const baseUri = `${url.protocol}//${url.host.toLowerCase()}${url.pathname}`;
  const signature = oauth1Signature(method, baseUri, [...url.searchParams.entries(), ...oauth], creds.consumerSecret, creds.tokenSecret);
  const fields: [string, string][] = [...oauth, ['oauth_signature', signature]];
  return `OAuth ${fields.map(([k, v]) => `${oauthEncode(k)}="${oauthEncode(v)}"`).join(', ')}`;
}

// ─── Payloads ────────────────────────────────────────────────────────────────

interface XOperation {
  operation_type: 'Update' | 'Delete';
  params: { users: Record<string, string[]>[] };
}

interface XErrorBody {
  errors?: unknown;
  operation_errors?: unknown;
  data?: unknown;
}

interface XAudienceBody {
  id?: unknown;
  name?: unknown;
  audience_type?: unknown;
  audience_size?: unknown;
  deleted?: unknown;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const clip = (s: string) => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

/** "CODE: message" of X's first error, or the status alone. */
function firstError(body: XErrorBody | undefined, status: number): { code: string | null; said: string } {
  const first = Array.isArray(body?.errors) ? (body!.errors[0] as { code?: unknown; message?: unknown } | undefined) : undefined;
  const code = typeof first?.code === 'string' ? first.code : null;
  const message = typeof first?.message === 'string' ? clip(first.message) : null;
  const said = [code, message].filter(Boolean).join(': ');
  return { code, said: said || `HTTP ${status} without an X error body` };
}

async function bodyOf(res: HttpResponse): Promise<XErrorBody | undefined> {
  try {
    return JSON.parse(await res.text()) as XErrorBody;
  } catch {
    return undefined;
  }
}

/** Item-level errors by operation index (see the header for the layouts read). */
function operationErrors(body: XErrorBody | undefined, count: number, where: string): Map<number, { code: string; message: string }> {
  const out = new Map<number, { code: string; message: string }>();
  const list = body?.operation_errors;
  if (list === undefined || list === null) return out;
  if (!Array.isArray(list)) throw new ConnectorError(`${where}: expected "operation_errors" to be a list, but got ${describe(list)}`, 'INVALID_RESPONSE', false);
  list.forEach((entry: unknown, position) => {
    const errors = Array.isArray(entry) ? entry : entry === null || entry === undefined ? [] : [entry];
    for (const e of errors as { index?: unknown; code?: unknown; message?: unknown }[]) {
      if (e === null || typeof e !== 'object') continue;
      const index = typeof e.index === 'number' ? e.index : position;
      if (!Number.isInteger(index) || index < 0 || index >= count) {
        throw new ConnectorError(`${where}: expected operation error indices from 0 to ${count - 1}, but got ${String(index)}`, 'INVALID_RESPONSE', false);
      }
      if (out.has(index)) continue;
      out.set(index, { code: typeof e.code === 'string' ? e.code : 'OPERATION_ERROR', message: typeof e.message === 'string' ? clip(e.message) : 'refused by X (no message given)' });
    }
  });
  return out;
}

function operationFor(p: PreparedRow, type: XOperation['operation_type']): XOperation {
  const user: Record<string, string[]> = {};
  for (const [t, v] of Object.entries(p.values) as [IdentifierType, string][]) {
    const field = USER_FIELD[t];
    if (field) user[field] = [v];
  }
  return { operation_type: type, params: { users: [user] } };
}

/** Operations in requests of at most 2,500 and 5,000,000 bytes of JSON array. */
function chunk(items: { p: PreparedRow; op: XOperation; bytes: number }[]): { p: PreparedRow; op: XOperation }[][] {
  const chunks: { p: PreparedRow; op: XOperation }[][] = [];
  let current: { p: PreparedRow; op: XOperation }[] = [];
  let bytes = 2; // "[" and "]"
  for (const item of items) {
    const extra = item.bytes + (current.length > 0 ? 1 : 0);
    if (current.length > 0 && (current.length >= X_MAX_OPERATIONS || bytes + extra > X_MAX_BODY_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 2;
    }
    current.push(item);
    bytes += item.bytes + (current.length > 1 ? 1 : 0);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export function createXConnector(http: XHttpOptions = {}): Connector<XConfig> {
  const spec: Connector<XConfig>['spec'] = {
    category: 'AD_PLATFORM',
    configSchema: [
      { name: 'baseUrl', type: 'url', required: false, secret: false, description: 'the X Ads API base URL, version included', default: X_BASE_URL },
      { name: 'accountId', type: 'string', required: true, secret: false, description: 'the X Ads account id (e.g. 18ce54d4x5t)' },
      { name: 'consumerKey', type: 'string', required: true, secret: true, description: "the app's OAuth 1.0a consumer key (API key)" },
      { name: 'consumerSecret', type: 'string', required: true, secret: true, description: "the app's OAuth 1.0a consumer secret" },
      { name: 'accessToken', type: 'string', required: true, secret: true, description: "the advertiser user's OAuth 1.0a access token" },
      { name: 'accessTokenSecret', type: 'string', required: true, secret: true, description: "the advertiser user's OAuth 1.0a access token secret" },
    ],
    identifiers: [
      { type: 'EMAIL', hashed: true },
      { type: 'PHONE', hashed: true },
      { type: 'MAID', hashed: true },
      { type: 'EXTERNAL_ID', hashed: false },
    ],
    audiences: { canList: true, canCreate: true, types: ['CRM'], defaultType: 'CRM' },
    batchSize: X_MAX_OPERATIONS,
    rateLimit: { requestsPerSecond: 25, concurrency: 4 },
    requiresProfiles: false,
    reportsMatchRate: true,
    supportsUpdate: false,
  };

  const credentialsOf = (c: XConfig): OAuth1Credentials => ({
    consumerKey: c.consumerKey,
    consumerSecret: c.consumerSecret,
    token: c.accessToken,
    tokenSecret: c.accessTokenSecret,
  });

  const withClient = async <T>(ctx: ConnectorContext<XConfig>, fn: (send: Send) => Promise<T>): Promise<T> => {
    const client = createHttpClient({
      ...http,
      baseUrl: ctx.config.baseUrl ?? X_BASE_URL,
      rateLimit: spec.rateLimit,
      logger: ctx.logger,
      signal: ctx.signal,
      headers: { accept: 'application/json' },
      retryWhen: X_RATE_LIMIT_WAIT,
    });
    const creds = credentialsOf(ctx.config);
    const send: Send = (method, path, opts = {}) =>
      client.request(method, path, { ...opts, sign: ({ method: m, url }) => ({ authorization: oauth1Header(creds, m, url) }) });
    try {
      return await fn(send);
    } finally {
      await client.stop();
    }
  };

  const account = (ctx: ConnectorContext<XConfig>) => `/accounts/${encodeURIComponent(ctx.config.accountId)}`;

  /**
   * Sends one request's operations; operations X refuses become rejections
   * and, as the batch was not applied, the rest is sent again.
   */
  const sendBatch = async (send: Send, ctx: ConnectorContext<XConfig>, audienceId: string, batch: { p: PreparedRow; op: XOperation }[]): Promise<RowRejection[]> => {
    const path = `${account(ctx)}/custom_audiences/${encodeURIComponent(audienceId)}/users`;
    const where = `POST ${path}`;
    const rejected: RowRejection[] = [];
    let pending = batch;
    while (pending.length > 0) {
      const res = await send('POST', path, { json: pending.map((i) => i.op), accept: [400, 404] });
      const body = await bodyOf(res);
      if (res.status === 404) {
        throw new ConnectorError(`${where}: expected custom audience "${audienceId}" in account "${ctx.config.accountId}", but X did not find it (${firstError(body, 404).said})`, 'AUDIENCE_NOT_FOUND', false, 404);
      }
      if (res.status === 400) {
        const refused = operationErrors(body, pending.length, where);
        if (refused.size === 0) throw new ConnectorError(`${where}: X refused the batch (${firstError(body, 400).said})`, `X_${firstError(body, 400).code ?? 'HTTP_400'}`, false, 400);
        for (const [index, e] of [...refused.entries()].sort((a, b) => a[0] - b[0])) {
          rejected.push({ key: pending[index]!.p.row.key, code: e.code, message: `X refused the user: ${e.message}` });
        }
        pending = pending.filter((_, i) => !refused.has(i));
        continue;
      }
      const data = body?.data as { success_count?: unknown; total_count?: unknown } | undefined;
      if (data === null || typeof data !== 'object' || typeof data.success_count !== 'number' || typeof data.total_count !== 'number') {
        throw new ConnectorError(`${where}: expected { "data": { "success_count": n, "total_count": n } }, but got ${describe(data)}`, 'INVALID_RESPONSE', false, res.status);
      }
      // X: counts unequal to the records sent mean the batch must be sent again.
      if (data.success_count !== pending.length || data.total_count !== pending.length) {
        throw new ConnectorError(
          `${where}: expected X to process all ${pending.length} users, but it reported success_count ${data.success_count} of total_count ${data.total_count}; the batch will be sent again`,
          'INCOMPLETE_BATCH',
          true,
          res.status,
        );
      }
      pending = [];
    }
    return rejected;
  };

  const deliver = async (ctx: ConnectorContext<XConfig>, audience: Audience, rows: SyncRow[], type: XOperation['operation_type']): Promise<DeliveryResult> => {
    const { prepared, rejected } = prepareIdentifiers(rows, X_IDENTIFIER_RULES, { platform: 'X' });
    const items: { p: PreparedRow; op: XOperation; bytes: number }[] = [];
    for (const p of prepared) {
      const op = operationFor(p, type);
      const bytes = Buffer.byteLength(JSON.stringify(op), 'utf8');
      // A row alone over the body limit can never be sent (a huge partner id).
      if (bytes + 2 > X_MAX_BODY_BYTES) rejected.push({ key: p.row.key, code: 'TOO_LARGE', message: `expected a user under ${X_MAX_BODY_BYTES} bytes of JSON (X's request limit), but this row's identifiers take ${bytes}` });
      else items.push({ p, op, bytes });
    }
    if (items.length === 0) return { rejected };
    return withClient(ctx, async (send) => {
      for (const batch of chunk(items)) rejected.push(...(await sendBatch(send, ctx, audience.id, batch)));
      return { rejected };
    });
  };

  const toAudience = (a: XAudienceBody): Audience => ({
    id: String(a.id),
    name: typeof a.name === 'string' ? a.name : String(a.id),
    type: typeof a.audience_type === 'string' ? a.audience_type : null,
    size: typeof a.audience_size === 'number' ? a.audience_size : null,
  });

  return {
    type: 'x',
    name: 'X Ads Custom Audiences',
    spec,

    validateConfig(config: XConfig): ValidationProblem[] {
      const problems: ValidationProblem[] = [];
      if (!/^[0-9a-z]+$/i.test(config.accountId.trim())) {
        problems.push({ path: ['accountId'], message: `expected an X Ads account id of letters and digits (e.g. 18ce54d4x5t), but got ${config.accountId.trim() === '' ? 'an empty string' : 'other characters'}` });
      }
      for (const field of ['consumerKey', 'consumerSecret', 'accessToken', 'accessTokenSecret'] as const) {
        if (config[field].trim() === '') problems.push({ path: [field], message: `expected a non-empty ${field}, but got only spaces` });
      }
      return problems;
    },

    async check(ctx) {
      await withClient(ctx, async (send) => {
        const path = account(ctx);
        const res = await send('GET', path, { accept: [401, 403, 404] });
        if (res.status === 401) {
          throw new ConnectorError(`GET ${path}: X refused the OAuth 1.0a credentials (${firstError(await bodyOf(res), 401).said}); expected the app's consumer key and secret and the user's access token and secret`, 'UNAUTHORIZED', false, 401);
        }
        if (res.status === 403 || res.status === 404) {
          throw new ConnectorError(
            `GET ${path}: expected ads account "${ctx.config.accountId}" to be reachable by this user, but X answered HTTP ${res.status} (${firstError(await bodyOf(res), res.status).said})`,
            'ACCOUNT_NOT_FOUND',
            false,
            res.status,
          );
        }
        const body = await res.json<{ data?: { id?: unknown } }>();
        if (String(body?.data?.id) !== ctx.config.accountId) {
          throw new ConnectorError(`GET ${path}: expected the ads account "${ctx.config.accountId}", but got ${describe(body?.data)} with another id`, 'INVALID_RESPONSE', false);
        }
      });
    },

    async listAudiences(ctx) {
      return withClient(ctx, async (send) => {
        const path = `${account(ctx)}/custom_audiences`;
        const out: Audience[] = [];
        const seen = new Set<string>();
        let cursor: string | undefined;
        for (;;) {
          const res = await send('GET', path, { query: { count: PAGE_COUNT, cursor } });
          const body = await res.json<{ data?: unknown; next_cursor?: unknown }>();
          if (!Array.isArray(body?.data)) {
            throw new ConnectorError(`GET ${path}: expected { "data": [...], "next_cursor": … }, but "data" was ${describe(body?.data)}`, 'INVALID_RESPONSE', false);
          }
          for (const a of body.data as XAudienceBody[]) {
            if (a && (typeof a.id === 'string' || typeof a.id === 'number') && a.deleted !== true) out.push(toAudience(a));
          }
          const next = body.next_cursor;
          if (typeof next !== 'string' || next === '') return out;
          if (seen.has(next)) throw new ConnectorError(`GET ${path}: X returned the same next_cursor twice; the listing does not advance`, 'INVALID_RESPONSE', false);
          seen.add(next);
          cursor = next;
        }
      });
    },

    async createAudience(ctx, input) {
      if (input.type !== null && input.type !== 'CRM') {
        throw new ConnectorError(`expected audience type CRM (a customer list), but got "${input.type}"`, 'INVALID_AUDIENCE_TYPE', false);
      }
      return withClient(ctx, async (send) => {
        const path = `${account(ctx)}/custom_audiences`;
        const res = await send('POST', path, { query: { name: input.name }, accept: [400] });
        const body = await bodyOf(res);
        if (res.status === 400) {
          const { code, said } = firstError(body, 400);
          throw new ConnectorError(`POST ${path}: X refused to create custom audience "${input.name}" (${said}); names must be unique in the account`, `X_${code ?? 'HTTP_400'}`, false, 400);
        }
        const data = body?.data as XAudienceBody | undefined;
        if (!data || (typeof data.id !== 'string' && typeof data.id !== 'number')) {
          throw new ConnectorError(`POST ${path}: expected { "data": { "id": … } }, but got ${describe(data)}`, 'INVALID_RESPONSE', false);
        }
        return { ...toAudience(data), type: 'CRM' };
      });
    },

    add: (ctx, audience, rows) => deliver(ctx, audience, rows, 'Update'),
    remove: (ctx, audience, rows) => deliver(ctx, audience, rows, 'Delete'),

    async matchRate(ctx, audience): Promise<AudienceStats> {
      return withClient(ctx, async (send) => {
        const path = `${account(ctx)}/custom_audiences/${encodeURIComponent(audience.id)}`;
        const res = await send('GET', path, { accept: [404] });
        if (res.status === 404) {
          throw new ConnectorError(`GET ${path}: expected custom audience "${audience.id}", but X did not find it (${firstError(await bodyOf(res), 404).said})`, 'AUDIENCE_NOT_FOUND', false, 404);
        }
        const body = await res.json<{ data?: XAudienceBody }>();
        const size = body?.data?.audience_size;
        if (size !== null && size !== undefined && (typeof size !== 'number' || !Number.isFinite(size) || size < 0)) {
          throw new ConnectorError(`GET ${path}: expected "audience_size" to be a count or null, but got ${describe(size)}`, 'INVALID_RESPONSE', false);
        }
        // audience_size is null while X processes the list (every 6–8 hours).
        return { matched: typeof size === 'number' ? size : null, uploaded: null };
      });
    },
  };
}

/** A signed request through the call group's HTTP client. */
type Send = (method: string, path: string, opts?: Omit<HttpRequestOptions, 'sign'>) => Promise<HttpResponse>;

export const xConnector = createXConnector();
