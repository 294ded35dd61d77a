// Snapchat customer list segments (Snap Audience Match) through the Marketing
// API v1.
//
//   POST <tokenUrl>  grant_type=refresh_token, client_id, client_secret, refresh_token  → { access_token, expires_in }
//   GET    /adaccounts/{id}                   check
//   GET    /adaccounts/{id}/segments?limit=   listAudiences (paging.next_link)
//   POST   /adaccounts/{id}/segments          { segments: [{ name, description, source_type: FIRST_PARTY, retention_in_days, ad_account_id }] }
//   POST   /segments/{id}/users               { users: [{ schema: [S], data: [[hash], …] }] }   add
//   DELETE /segments/{id}/users               same body                                        remove
//   GET    /segments/{id}                     matchRate (approximate_number_users)
//
// Answers carry request_status and, per element, sub_request_status; errors
// are { request_status: ERROR, request_id, debug_message, display_message,
// error_code }.
//
// Sources (tags as in /work/shared/reference/destinations.md §7):
// - Paths, bodies, attributes (name ≤ 375 characters, retention_in_days 9999
//   = lifetime, source_type FIRST_PARTY), approximate_number_users,
//   upload_status, targetable_status: developers.snap.com/api/marketing-api/
//   Ads-API/customer-lists [V].
// - Paging with limit 50–1000 and paging.next_link: developers.snap.com/api/
//   marketing-api/Ads-API/api-patterns [V].
// - OAuth refresh grant at accounts.snapchat.com/login/oauth2/access_token
//   with client_id / client_secret in the form: §7 [V/3C];
//   segmentio/action-destinations …/snap-audiences/index.ts [3C].
// - Schemas EMAIL_SHA256 | PHONE_SHA256 | MOBILE_AD_ID_SHA256, one schema per
//   request [V/3D]; one request per schema into the same segment, as Segment
//   does (…/snap-audiences/syncAudience/functions.ts) [3C]. Adobe and
//   Salesforce say a segment supports one identifier type [3D]; if Snap
//   enforces that, the second schema's request fails with Snap's own error.
// - Rows per request: official not found; Segment says 100,000 "is the
//   maximum allowed by Snap" [3C].
// - Hashing: e-mail trimmed and lower-cased; phone with its country code,
//   a leading 00 or 0 dropped, digits only (no "+"); MAID lower-case with
//   hyphens; SHA-256 as 64 lower-case hex [V/3D]. Vectors Person@Example.com
//   → 542d2401…3345 and +44 844 412 4653 → 448444124653 → dc008fda…6383 ✓
//   (destinations.md §0, from Snap's Conversions API "Parameters" page).
// - Per-row results: none; a sub_request_status per users[] element [V].
//   With one element per request, a failed element rejects the rows it
//   carried (with Snap's error code when it gives one).
// - Rate limit: 20 requests/s per app, 10 per token, HTTP 429 without
//   rate-limit headers [V/3C]; concurrency 2 is a judgement.
//
// Access tokens live 30 minutes and are cached by src/connectors/oauth.ts
// (keyed by a hash of the credentials, renewed a minute before they expire,
// one refresh shared by concurrent calls); a 401 gets one fresh token and one
// more try.
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
import { createHttpClient, type HttpClient, type HttpClientOptions, type HttpRequestOptions, type HttpResponse } from '../http.js';
import { emailRule, maidRule, phoneRule, prepareIdentifiers, type IdentifierRule } from '../identifiers.js';
import { createAccessTokenCache, refreshTokenGrant, type TokenSource } from '../oauth.js';

export const SNAPCHAT_BASE_URL = 'https://adsapi.snapchat.com/v1';
export const SNAPCHAT_TOKEN_URL = 'https://accounts.snapchat.com/login/oauth2/access_token';
export const SNAPCHAT_BATCH_SIZE = 100_000;
export const SNAPCHAT_AUDIENCE_TYPE = 'FIRST_PARTY';
export const SNAPCHAT_MAX_NAME = 375;
/** Snap's "lifetime" retention. */
export const SNAPCHAT_LIFETIME = 9999;

export type SnapchatConfig = {
  baseUrl?: string;
  tokenUrl?: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  adAccountId: string;
  retentionInDays?: number;
  phoneCountryCode?: string;
};

export type SnapchatHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>;

const SCHEMAS = [
  ['EMAIL', 'EMAIL_SHA256'],
  ['PHONE', 'PHONE_SHA256'],
  ['MAID', 'MOBILE_AD_ID_SHA256'],
] as const;

const rulesFor = (config: SnapchatConfig): IdentifierRule[] => [
  emailRule(),
  phoneRule({ plus: false, ...(config.phoneCountryCode ? { defaultCountryCode: config.phoneCountryCode } : {}) }),
  maidRule(true),
];

interface SnapError {
  request_status?: string;
  request_id?: string;
  debug_message?: string;
  display_message?: string;
  error_code?: string;
  error?: string;
  error_description?: string;
}

interface Segment {
  id?: string;
  name?: string;
  source_type?: string;
  approximate_number_users?: number;
  upload_status?: string;
  targetable_status?: string;
}

interface SubRequest {
  sub_request_status?: string;
  sub_request_error_reason?: string;
  error_code?: string;
}

const succeeded = (status: string | undefined) => status?.toUpperCase() === 'SUCCESS';

export function createSnapchatConnector(http: SnapchatHttpOptions = {}): Connector<SnapchatConfig> {
  const rateLimit = { requestsPerSecond: 10, concurrency: 2 };
  // Access tokens live 30 minutes; one is reused until a minute before it
  // expires, keyed by a digest of the credentials.
  const tokens = createAccessTokenCache({ defaultLifetimeSeconds: 1800 });

  const httpOf = (ctx: ConnectorContext<SnapchatConfig>) => ({ ...http, logger: ctx.logger, signal: ctx.signal });

  async function failure(res: HttpResponse, what: string): Promise<ConnectorError> {
    let body: SnapError = {};
    try {
      body = await res.json<SnapError>();
    } catch {
      // Not JSON: the status says enough.
    }
    const code = body.error_code ?? body.error;
    const message = body.display_message ?? body.debug_message ?? body.error_description;
    const hint = res.status === 401 || res.status === 403 ? ' (Snap refused the credentials or their access to the ad account)' : '';
    return new ConnectorError(
      `Snapchat ${what}: expected HTTP 2xx, but got ${res.status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}${hint}${body.request_id ? ` (request_id ${body.request_id})` : ''}`,
      code ? `SNAPCHAT_${code}` : `HTTP_${res.status}`,
      false,
      res.status,
    );
  }

  /** The client's id and secret travel in the form, with the refresh token. */
  const tokensOf = (ctx: ConnectorContext<SnapchatConfig>): TokenSource => {
    const c = ctx.config;
    const tokenUrl = c.tokenUrl ?? SNAPCHAT_TOKEN_URL;
    return tokens.source([tokenUrl, c.clientId, c.clientSecret, c.refreshToken], () =>
      refreshTokenGrant({
        tokenUrl,
        http: httpOf(ctx),
        form: { client_id: c.clientId, client_secret: c.clientSecret, refresh_token: c.refreshToken },
        refused: (res) => failure(res, 'exchanging the refresh token for an access token'),
        name: 'Snapchat token endpoint',
      }),
    );
  };

  /** A Marketing API call; a 401 (expired token) gets one fresh token and one more try. */
  async function api<T>(ctx: ConnectorContext<SnapchatConfig>, client: HttpClient, what: string, method: string, path: string, opts: HttpRequestOptions = {}): Promise<T> {
    const res = await tokensOf(ctx).withToken(
      (token) => client.request(method, path, { ...opts, headers: { authorization: `Bearer ${token}` }, accept: [400, 401, 403, 404, 409, 422] }),
      (r) => r.status === 401,
    );
    if (res.status >= 300) throw await failure(res, what);
    return res.json<T>();
  }

  const apiClient = (ctx: ConnectorContext<SnapchatConfig>): HttpClient => createHttpClient({ ...httpOf(ctx), baseUrl: ctx.config.baseUrl ?? SNAPCHAT_BASE_URL, rateLimit });
  const account = (ctx: ConnectorContext<SnapchatConfig>) => encodeURIComponent(ctx.config.adAccountId);

  /** The one element of a create or read answer, or a clear error. */
  function only<T>(list: { sub_request_status?: string; sub_request_error_reason?: string }[] | undefined, field: string, what: string): T {
    const first = list?.[0] as (Record<string, unknown> & SubRequest) | undefined;
    if (!first) throw new ConnectorError(`Snapchat ${what}: expected one element in the answer, but got none`, 'INVALID_RESPONSE', false);
    if (!succeeded(first.sub_request_status)) {
      throw new ConnectorError(
        `Snapchat ${what}: expected sub_request_status SUCCESS, but got ${first.sub_request_status ?? 'none'}${first.sub_request_error_reason ? `: ${first.sub_request_error_reason}` : ''}`,
        first.error_code ? `SNAPCHAT_${first.error_code}` : 'SUB_REQUEST_FAILED',
        false,
      );
    }
    return first[field] as T;
  }

  async function deliver(ctx: ConnectorContext<SnapchatConfig>, audience: Audience, rows: SyncRow[], method: 'POST' | 'DELETE'): Promise<DeliveryResult> {
    const { prepared, rejected } = prepareIdentifiers(rows, rulesFor(ctx.config), { platform: 'Snapchat' });
    if (prepared.length === 0) return { rejected };
    const refused = new Map<string, RowRejection>();
    const client = apiClient(ctx);
    try {
      for (const [type, schema] of SCHEMAS) {
        const carrying = prepared.filter((p) => p.values[type] !== undefined);
        for (let i = 0; i < carrying.length; i += SNAPCHAT_BATCH_SIZE) {
          const chunk = carrying.slice(i, i + SNAPCHAT_BATCH_SIZE);
          const answer = await api<{ request_status?: string; users?: SubRequest[] }>(
            ctx,
            client,
            `${method === 'POST' ? 'adding to' : 'removing from'} segment ${audience.id}`,
            method,
            `/segments/${encodeURIComponent(audience.id)}/users`,
            { json: { users: [{ schema: [schema], data: chunk.map((p) => [p.values[type]!]) }] } },
          );
          const sub = answer.users?.[0];
          if (!sub) throw new ConnectorError(`Snapchat segment ${audience.id}: expected users[0] in the answer, but got none`, 'INVALID_RESPONSE', false);
          if (succeeded(sub.sub_request_status)) continue;
          // Snap refused this element: the rows it carried are not members by
          // this identifier, so they are reported (and re-sent next run).
          const code = sub.error_code ?? sub.sub_request_status ?? 'SUB_REQUEST_FAILED';
          const message = `Snapchat refused the ${schema} values of this request${sub.sub_request_error_reason ? `: ${sub.sub_request_error_reason}` : ''}`;
          for (const p of chunk) if (!refused.has(p.row.key)) refused.set(p.row.key, { key: p.row.key, message, code });
        }
      }
      return { rejected: [...rejected, ...refused.values()] };
    } finally {
      await client.stop();
    }
  }

  return {
    type: 'snapchat',
    name: 'Snapchat Customer Lists',
    spec: {
      category: 'AD_PLATFORM',
      configSchema: [
        { name: 'baseUrl', type: 'url', required: false, secret: false, description: 'Snap Marketing API base URL', default: SNAPCHAT_BASE_URL },
        { name: 'tokenUrl', type: 'url', required: false, secret: false, description: 'Snap OAuth token endpoint', default: SNAPCHAT_TOKEN_URL },
        { name: 'clientId', type: 'string', required: true, secret: false, description: 'the OAuth client id of your Snap app' },
        { name: 'clientSecret', type: 'string', required: true, secret: true, description: 'the OAuth client secret of your Snap app' },
        { name: 'refreshToken', type: 'string', required: true, secret: true, description: 'a refresh token granted with the snapchat-marketing-api scope' },
        { name: 'adAccountId', type: 'string', required: true, secret: false, description: 'the Snap ad account id (a UUID)' },
        {
          name: 'retentionInDays',
          type: 'integer',
          required: false,
          secret: false,
          description: `days a member stays in segments Roster creates; ${SNAPCHAT_LIFETIME} is lifetime`,
          default: SNAPCHAT_LIFETIME,
        },
        {
          name: 'phoneCountryCode',
          type: 'string',
          required: false,
          secret: false,
          description: 'calling code (e.g. 44) added to phone numbers stored without one; unset: such numbers are rejected',
        },
      ],
      identifiers: [
        { type: 'EMAIL', hashed: true },
        { type: 'PHONE', hashed: true },
        { type: 'MAID', hashed: true },
      ],
      audiences: { canList: true, canCreate: true, types: [SNAPCHAT_AUDIENCE_TYPE], defaultType: SNAPCHAT_AUDIENCE_TYPE },
      batchSize: SNAPCHAT_BATCH_SIZE,
      rateLimit,
      requiresProfiles: false,
      reportsMatchRate: true,
      supportsUpdate: false,
    },

    validateConfig(config: SnapchatConfig): ValidationProblem[] {
      const problems: ValidationProblem[] = [];
      const r = config.retentionInDays;
      if (r !== undefined && (!Number.isInteger(r) || r < 1 || r > SNAPCHAT_LIFETIME)) {
        problems.push({ path: ['retentionInDays'], message: `expected a whole number of days from 1 to ${SNAPCHAT_LIFETIME} (lifetime), but got ${r}` });
      }
      if (config.phoneCountryCode !== undefined && config.phoneCountryCode !== '' && !/^\+?\d{1,3}$/.test(config.phoneCountryCode)) {
        problems.push({ path: ['phoneCountryCode'], message: 'expected a calling code of 1 to 3 digits (e.g. 44), but got something else' });
      }
      return problems;
    },

    async check(ctx) {
      const client = apiClient(ctx);
      try {
        const res = await api<{ adaccounts?: SubRequest[] }>(ctx, client, `reading ad account ${ctx.config.adAccountId}`, 'GET', `/adaccounts/${account(ctx)}`);
        only(res.adaccounts, 'adaccount', `reading ad account ${ctx.config.adAccountId}`);
      } finally {
        await client.stop();
      }
    },

    async listAudiences(ctx) {
      const client = apiClient(ctx);
      try {
        const out: Audience[] = [];
        let path: string | null = `/adaccounts/${account(ctx)}/segments?limit=1000`;
        while (path) {
          const page: { segments?: { segment?: Segment }[]; paging?: { next_link?: string | null } } = await api(ctx, client, 'listing segments', 'GET', path);
          for (const { segment } of page.segments ?? []) {
            if (segment?.id) {
              out.push({
                id: segment.id,
                name: segment.name ?? '',
                type: segment.source_type ?? null,
                size: typeof segment.approximate_number_users === 'number' ? segment.approximate_number_users : null,
              });
            }
          }
          path = page.paging?.next_link || null;
        }
        return out;
      } finally {
        await client.stop();
      }
    },

    async createAudience(ctx, input) {
      if (input.type !== null && input.type !== SNAPCHAT_AUDIENCE_TYPE) {
        throw new ConnectorError(`expected the audience type "${SNAPCHAT_AUDIENCE_TYPE}", but got "${input.type}"`, 'UNSUPPORTED_AUDIENCE_TYPE', false);
      }
      let name = input.name.trim();
      if (name === '') throw new ConnectorError('expected a non-empty audience name, but got an empty one', 'REQUEST_INVALID', false);
      if ([...name].length > SNAPCHAT_MAX_NAME) {
        ctx.logger.warn({ limit: SNAPCHAT_MAX_NAME }, 'segment name shortened to fit Snapchat');
        name = `${[...name].slice(0, SNAPCHAT_MAX_NAME - 3).join('')}...`;
      }
      const client = apiClient(ctx);
      try {
        const what = 'creating a customer list segment';
        const res = await api<{ segments?: SubRequest[] }>(ctx, client, what, 'POST', `/adaccounts/${account(ctx)}/segments`, {
          json: {
            segments: [
              {
                name,
                description: 'Customer list synced by Roster',
                source_type: SNAPCHAT_AUDIENCE_TYPE,
                retention_in_days: ctx.config.retentionInDays ?? SNAPCHAT_LIFETIME,
                ad_account_id: ctx.config.adAccountId,
              },
            ],
          },
        });
        const segment = only<Segment | undefined>(res.segments, 'segment', what);
        if (!segment?.id) throw new ConnectorError(`Snapchat ${what}: expected segment.id, but the answer had none`, 'INVALID_RESPONSE', false);
        return { id: segment.id, name: segment.name ?? name, type: SNAPCHAT_AUDIENCE_TYPE, size: segment.approximate_number_users ?? 0 };
      } finally {
        await client.stop();
      }
    },

    add: (ctx, audience, rows) => deliver(ctx, audience, rows, 'POST'),
    remove: (ctx, audience, rows) => deliver(ctx, audience, rows, 'DELETE'),

    async matchRate(ctx, audience): Promise<AudienceStats> {
      const client = apiClient(ctx);
      try {
        const what = `reading segment ${audience.id}`;
        const res = await api<{ segments?: SubRequest[] }>(ctx, client, what, 'GET', `/segments/${encodeURIComponent(audience.id)}`);
        const segment = only<Segment | undefined>(res.segments, 'segment', what);
        // Snap reports an approximate audience size, not a match count.
        const size = segment?.approximate_number_users;
        return { matched: typeof size === 'number' ? size : null, uploaded: null };
      } finally {
        await client.stop();
      }
    },
  };
}

export const snapchatConnector = createSnapchatConnector();
