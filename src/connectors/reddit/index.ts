// Reddit Ads custom audiences (customer lists) through the Ads API v3.
//
//   POST <tokenUrl>  grant_type=refresh_token (HTTP Basic: client id and secret)  → { access_token, expires_in }
//   GET   /ad_accounts/{id}                                  check
//   GET   /ad_accounts/{id}/custom_audiences                 listAudiences ({ data: [...], pagination: { next_url } })
//   POST  /ad_accounts/{id}/custom_audiences                 { data: { name, type: "CUSTOMER_LIST" } } → { data: { id } }
//   PATCH /custom_audiences/{id}/users                       { data: { action_type: ADD | REMOVE, column_order, user_data } }
//
// Every call carries "Authorization: Bearer <access token>" and a descriptive
// User-Agent. Errors come as { error: { code, message } }. Access tokens live
// an hour and are cached by src/connectors/oauth.ts (keyed by a hash of the
// credentials, renewed a minute before they expire, one refresh shared by
// concurrent calls); a 401 gets one fresh token and one more try.
//
// Sources (tags as in /work/shared/reference/destinations.md §6):
// - Paths, payloads, CUSTOMER_LIST, OAuth refresh-token grant with HTTP
//   Basic, Bearer calls: §6 [V/3C]; segmentio/action-destinations
//   …/reddit-audiences/index.ts, syncAudience/functions.ts, types.ts [3C].
// - User-Agent required (a missing or generic one is answered 403/429),
//   format "<platform>:<app id>:<version> (by /u/<user>)": §6 [V/3C].
// - ≤ 2,500 rows per PATCH, column_order of 1–2 among EMAIL_SHA256 and
//   MAID_SHA256: §6 [3C] (Segment's batch; a quoted OpenAPI maxItems);
//   filippofinke/reddit-ads-mcp src/tools/audiences.ts [3C].
// - List paging through pagination.next_url: filippofinke/reddit-ads-mcp
//   src/client.ts [3C].
// - E-mail: lower-case, everything from the first "+" to the @ removed,
//   every character of the local part that is not a-z or 0-9 removed, then
//   SHA-256 as 64 lower-case hex. Reddit's "Manual Advanced Matching" page
//   (Reddit Pixel / Conversions API) gives the vector
//   Al.ice$+Apple@Example.Com → alice@example.com → ff8d9819…d976 [V, same
//   hashing family as audiences]; Census and Segment's canonicalizeEmail
//   agree on dots and "+tag" (§6) [3D/3C].
// - MAID: SHA-256 (§6). Reddit's conversion guidance upper-cases IDFAs and
//   lower-cases AAIDs [3D]; a bare UUID does not say which it is, so it is
//   sent lower-cased (Roster's normaliseMaid), which matches AAIDs.
// - Per-row results, size and match rate: not found (§6), so there is no
//   matchRate and reportsMatchRate is false; a PATCH fails or succeeds whole.
// - Rate limit: no published number for v3 (§6). One request per second,
//   one at a time, from a third-party Reddit Ads skill sheet
//   (johan--/claude-bootstrap skills/reddit-ads.md, v2) [3C]; 429s and their
//   Retry-After are handled by the HTTP helper.
//
// Rows are grouped by the identifiers they carry (e-mail only, MAID only,
// both), one column_order per request, so no cell is ever blank.
import type { ValidationProblem } from '../../graphql/errors.js';
import {
  ConnectorError,
  type Audience,
  type Connector,
  type ConnectorContext,
  type DeliveryResult,
  type SyncRow,
} from '../contract.js';
import { createHttpClient, type HttpClient, type HttpClientOptions, type HttpRequestOptions, type HttpResponse } from '../http.js';
import { maidRule, normaliseEmail, prepareIdentifiers, type IdentifierRule, type Normalised, type PreparedRow } from '../identifiers.js';
import { createAccessTokenCache, refreshTokenGrant, type TokenSource } from '../oauth.js';

export const REDDIT_BASE_URL = 'https://ads-api.reddit.com/api/v3';
export const REDDIT_TOKEN_URL = 'https://www.reddit.com/api/v1/access_token';
export const REDDIT_BATCH_SIZE = 2_500;
export const REDDIT_AUDIENCE_TYPE = 'CUSTOMER_LIST';

export type RedditConfig = {
  baseUrl?: string;
  tokenUrl?: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  adAccountId: string;
  userAgent: string;
};

export type RedditHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>;

/** Reddit's e-mail canonicalisation (see the header): the result is what gets hashed. */
export function normaliseRedditEmail(raw: string): Normalised {
  const n = normaliseEmail(raw);
  if (!n.ok) return n;
  const at = n.value.lastIndexOf('@');
  const local = n.value.slice(0, at).split('+')[0]!.replace(/[^a-z0-9]/g, '');
  if (local === '') return { ok: false, reason: 'is not an e-mail address (no letters or digits before the @ once "+…" is removed)' };
  return { ok: true, value: `${local}@${n.value.slice(at + 1)}` };
}

const RULES: IdentifierRule[] = [{ type: 'EMAIL', normalise: normaliseRedditEmail, hash: true }, maidRule(true)];
const COLUMNS = [
  ['EMAIL', 'EMAIL_SHA256'],
  ['MAID', 'MAID_SHA256'],
] as const;

/** Generic clients' own agents, which Reddit refuses. */
const GENERIC_AGENT = /^(undici|node|node-fetch|axios|curl|python-requests|go-http-client|okhttp|java)\b/i;

interface ErrorBody {
  error?: { code?: string | number; message?: string } | string;
  message?: string;
}

export function createRedditConnector(http: RedditHttpOptions = {}): Connector<RedditConfig> {
  const rateLimit = { requestsPerSecond: 1, concurrency: 1 };
  // Access tokens live an hour; one is reused across calls until a minute
  // before it expires, keyed by the credentials (never by their text).
  const tokens = createAccessTokenCache({ defaultLifetimeSeconds: 3600 });

  /** The HTTP knobs of every call, token grants included: Reddit wants its User-Agent on all of them. */
  const httpOf = (ctx: ConnectorContext<RedditConfig>) => ({
    timeoutMs: http.timeoutMs,
    retries: http.retries,
    minBackoffMs: http.minBackoffMs,
    maxBackoffMs: http.maxBackoffMs,
    maxRetryAfterMs: http.maxRetryAfterMs,
    logger: ctx.logger,
    signal: ctx.signal,
    headers: { 'user-agent': ctx.config.userAgent },
  });

  async function failure(res: HttpResponse, what: string): Promise<ConnectorError> {
    let code: string | undefined;
    let message: string | undefined;
    try {
      const body = await res.json<ErrorBody>();
      if (typeof body.error === 'object' && body.error !== null) {
        if (body.error.code !== undefined) code = String(body.error.code);
        message = body.error.message;
      } else if (typeof body.error === 'string') {
        code = body.error;
      }
      message ??= body.message;
    } catch {
      // Not JSON: the status says enough.
    }
    const hint = res.status === 401 || res.status === 403 ? ' (Reddit refused the credentials, their scopes, the ad account or the User-Agent)' : '';
    return new ConnectorError(
      `Reddit ${what}: expected HTTP 2xx, but got ${res.status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}${hint}`,
      code ? `REDDIT_${code}` : `HTTP_${res.status}`,
      false,
      res.status,
    );
  }

  /** The client authenticates with HTTP Basic; the form carries the refresh token alone. */
  const tokensOf = (ctx: ConnectorContext<RedditConfig>): TokenSource => {
    const c = ctx.config;
    const tokenUrl = c.tokenUrl ?? REDDIT_TOKEN_URL;
    return tokens.source([tokenUrl, c.clientId, c.clientSecret, c.refreshToken], () =>
      refreshTokenGrant({
        tokenUrl,
        http: httpOf(ctx),
        form: { refresh_token: c.refreshToken },
        headers: { authorization: `Basic ${Buffer.from(`${c.clientId}:${c.clientSecret}`).toString('base64')}` },
        refused: (res) => failure(res, 'exchanging the refresh token for an access token'),
        name: 'Reddit token endpoint',
      }),
    );
  };

  /** An Ads API call; a 401 (expired or revoked token) gets one fresh token and one more try. */
  async function api<T>(ctx: ConnectorContext<RedditConfig>, client: HttpClient, what: string, method: string, path: string, opts: HttpRequestOptions = {}): Promise<T> {
    const res = await tokensOf(ctx).withToken(
      (token) => client.request(method, path, { ...opts, headers: { ...(opts.headers ?? {}), authorization: `Bearer ${token}` }, accept: [400, 401, 403, 404, 409, 422] }),
      (r) => r.status === 401,
    );
    if (res.status >= 300) throw await failure(res, what);
    const text = await res.text();
    return (text.trim() === '' ? {} : await res.json<T>()) as T;
  }

  const apiClient = (ctx: ConnectorContext<RedditConfig>) => createHttpClient({ ...httpOf(ctx), baseUrl: ctx.config.baseUrl ?? REDDIT_BASE_URL, rateLimit });
  const account = (ctx: ConnectorContext<RedditConfig>) => encodeURIComponent(ctx.config.adAccountId);

  /** Prepared rows grouped by the columns they fill, in a stable order. */
  function groups(prepared: readonly PreparedRow[]): { columns: string[]; rows: string[][] }[] {
    const byColumns = new Map<string, { columns: string[]; rows: string[][] }>();
    for (const p of prepared) {
      const present = COLUMNS.filter(([type]) => p.values[type] !== undefined);
      const columns = present.map(([, name]) => name);
      const key = columns.join(',');
      const group = byColumns.get(key) ?? { columns, rows: [] };
      group.rows.push(present.map(([type]) => p.values[type]!));
      byColumns.set(key, group);
    }
    return [...byColumns.values()];
  }

  async function deliver(ctx: ConnectorContext<RedditConfig>, audience: Audience, rows: SyncRow[], actionType: 'ADD' | 'REMOVE'): Promise<DeliveryResult> {
    const { prepared, rejected } = prepareIdentifiers(rows, RULES, { platform: 'Reddit' });
    if (prepared.length === 0) return { rejected };
    const client = apiClient(ctx);
    try {
      // A failed PATCH fails the whole call; the engine re-sends it all, and
      // ADD / REMOVE of rows already applied changes nothing.
      for (const group of groups(prepared)) {
        for (let i = 0; i < group.rows.length; i += REDDIT_BATCH_SIZE) {
          await api(ctx, client, `${actionType === 'ADD' ? 'adding to' : 'removing from'} audience ${audience.id}`, 'PATCH', `/custom_audiences/${encodeURIComponent(audience.id)}/users`, {
            json: { data: { action_type: actionType, column_order: group.columns, user_data: group.rows.slice(i, i + REDDIT_BATCH_SIZE) } },
          });
        }
      }
      return { rejected };
    } finally {
      await client.stop();
    }
  }

  return {
    type: 'reddit',
    name: 'Reddit Ads',
    spec: {
      category: 'AD_PLATFORM',
      configSchema: [
        { name: 'baseUrl', type: 'url', required: false, secret: false, description: 'Reddit Ads API base URL', default: REDDIT_BASE_URL },
        { name: 'tokenUrl', type: 'url', required: false, secret: false, description: 'Reddit OAuth token endpoint', default: REDDIT_TOKEN_URL },
        { name: 'clientId', type: 'string', required: true, secret: false, description: 'the client id of your Reddit app' },
        { name: 'clientSecret', type: 'string', required: true, secret: true, description: 'the client secret of your Reddit app' },
        { name: 'refreshToken', type: 'string', required: true, secret: true, description: 'a refresh token granted with the adsread and adsedit scopes' },
        { name: 'adAccountId', type: 'string', required: true, secret: false, description: 'the Reddit ad account id, e.g. t2_abc123 or a2_abc123' },
        {
          name: 'userAgent',
          type: 'string',
          required: true,
          secret: false,
          description: 'a descriptive User-Agent Reddit requires, e.g. "server:com.example.roster:v1.0 (by /u/yourname)"',
        },
      ],
      identifiers: [
        { type: 'EMAIL', hashed: true },
        { type: 'MAID', hashed: true },
      ],
      audiences: { canList: true, canCreate: true, types: [REDDIT_AUDIENCE_TYPE], defaultType: REDDIT_AUDIENCE_TYPE },
      batchSize: REDDIT_BATCH_SIZE,
      rateLimit,
      requiresProfiles: false,
      reportsMatchRate: false,
      supportsUpdate: false,
    },

    validateConfig(config: RedditConfig): ValidationProblem[] {
      const problems: ValidationProblem[] = [];
      if (!/^[a-z]\d_[a-z0-9]+$/i.test(config.adAccountId.trim())) {
        problems.push({ path: ['adAccountId'], message: 'expected a Reddit ad account id such as t2_abc123 or a2_abc123, but got another form' });
      }
      const agent = config.userAgent.trim();
      if (agent === '' || GENERIC_AGENT.test(agent)) {
        problems.push({ path: ['userAgent'], message: 'expected a descriptive User-Agent such as "server:com.example.roster:v1.0 (by /u/yourname)", but got an empty or generic one' });
      }
      return problems;
    },

    async check(ctx) {
      const client = apiClient(ctx);
      try {
        await api(ctx, client, `reading ad account ${ctx.config.adAccountId}`, 'GET', `/ad_accounts/${account(ctx)}`);
      } finally {
        await client.stop();
      }
    },

    async listAudiences(ctx) {
      const client = apiClient(ctx);
      try {
        const out: Audience[] = [];
        let path: string | null = `/ad_accounts/${account(ctx)}/custom_audiences`;
        while (path) {
          const page: { data?: { id?: string; name?: string; type?: string }[]; pagination?: { next_url?: string | null } } = await api(
            ctx,
            client,
            'listing custom audiences',
            'GET',
            path,
          );
          for (const a of page.data ?? []) if (a.id) out.push({ id: a.id, name: a.name ?? '', type: a.type ?? null });
          path = page.pagination?.next_url || null;
        }
        return out;
      } finally {
        await client.stop();
      }
    },

    async createAudience(ctx, input) {
      if (input.type !== null && input.type !== REDDIT_AUDIENCE_TYPE) {
        throw new ConnectorError(`expected the audience type "${REDDIT_AUDIENCE_TYPE}", but got "${input.type}"`, 'UNSUPPORTED_AUDIENCE_TYPE', false);
      }
      if (input.name.trim() === '') throw new ConnectorError('expected a non-empty audience name, but got an empty one', 'REQUEST_INVALID', false);
      const client = apiClient(ctx);
      try {
        const res = await api<{ data?: { id?: string; name?: string } }>(ctx, client, 'creating a customer list', 'POST', `/ad_accounts/${account(ctx)}/custom_audiences`, {
          json: { data: { name: input.name, type: REDDIT_AUDIENCE_TYPE } },
        });
        if (!res.data?.id) throw new ConnectorError('Reddit creating a customer list: expected data.id, but the answer had none', 'INVALID_RESPONSE', false);
        return { id: res.data.id, name: res.data.name ?? input.name, type: REDDIT_AUDIENCE_TYPE };
      } finally {
        await client.stop();
      }
    },

    add: (ctx, audience, rows) => deliver(ctx, audience, rows, 'ADD'),
    remove: (ctx, audience, rows) => deliver(ctx, audience, rows, 'REMOVE'),
  };
}

export const redditConnector = createRedditConnector();
