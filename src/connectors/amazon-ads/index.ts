// Amazon Ads audiences from hashed customer lists, through the Amazon
// Marketing Cloud (AMC) Audiences API: Roster creates an advertiser audience,
// then sends member records (CREATE / DELETE) keyed by an external user id,
// each carrying SHA-256 hashes of the person's contact details.
//
// What it speaks (bases https://advertising-api.amazon.com, -eu, -fe):
//   token           POST https://api.amazon.com/auth/o2/token (Login with Amazon; .co.uk / .co.jp
//                   outside NA), form grant_type=refresh_token, client_id, client_secret, refresh_token
//                   → {access_token, expires_in}; tokens are cached until a minute before expiry
//                   (src/connectors/oauth.ts: keyed by a hash of the credentials, shared by every
//                   call of the process, one refresh at a time per credential set)
//   every call      Authorization: Bearer <access token>, Amazon-Advertising-API-ClientId: <client id>,
//                   Amazon-Advertising-API-Scope: <profile id> on /amc/* when a profile is configured
//   check           token, then GET /v2/profiles (the configured profile must be among them)
//   createAudience  POST /amc/audiences/metadata (Content-Type application/vnd.amcaudiences.v1+json)
//                   {name, description, countryCode, targetResource:{advertiserId:<number>},
//                   metadata:{externalAudienceId, ttl?}} → {audienceId:<number above 2^53>}
//   add / remove    POST /amc/audiences/records {audienceId:<number>, records:[{externalUserId,
//                   countryCode, action:"CREATE"|"DELETE", hashedPII:[{email, phone, firstname,
//                   lastname, postal, city, state}], userConsent?}]} → {jobRequestId}
//                   and, when jobWaitSeconds > 0, GET /amc/audiences/records/{jobRequestId} until the
//                   job is done → {status?, audienceSize, invalidRecords:[{externalId, error}]}
//   matchRate       GET /amc/audiences/metadata/{audienceId} → metadata.audienceSize
//                   {idResolutionCount, receivedRecordSize, dspAudienceSize}
//
// Route. destinations.md §11 recommends AMC audiences for advertisers on AMC,
// else the DSP data-provider route (upload hashed records, then associate
// them to an audience with PATCH /v2/dp/audience after up to 48 h). Roster
// uses AMC: one call per batch that states add or remove per record, so a
// batch the API accepted is a batch delivered, which is what the engine
// accounts; the DSP route's second step cannot be confirmed within a run.
//
// Sources (tags as in /work/shared/reference/destinations.md §11):
// - Paths, the vendor media type, payload shapes, CREATE/DELETE, numbers for
//   advertiserId and audienceId (ids above 2^53, so never through a JS
//   number), externalUserId ^[0-9a-zA-Z-_]{1,128}$, ttl ≤ 34,300,800 s, LWA
//   refresh: segmentio/action-destinations packages/destination-actions/src/
//   destinations/amazon-amc (index.ts, function.ts, constants.ts, utils.ts) [3C]
// - Batches of up to 10,000 records (Segment's default and maximum) [3C]; no
//   official per-request limit was found.
// - Consent required for GB / EEA records (userConsent.consent.amzn |tcf |gpp,
//   geo.countryCode): destinations.md §11 [3C]; Segment function.ts [3C].
// - Normalisation (Amazon help GCCXMZYCK4RXWS6C, as cited by Segment): lower
//   case and trim everything; names, city, state, postal keep [a-z0-9]; phone
//   digits only; e-mail keeps [a-z0-9.@-]; then SHA-256 hex. [3C/V] No
//   official input→hash vector exists.
// - Job status (audienceSize {dspAudienceSize, idResolutionCount,
//   receivedRecordSize}, invalidRecords [{audienceId, error, externalId}]) and
//   the audience metadata GET: Amazon Ads API reference as scraped by
//   withone.ai/knowledge/amazon-ads ("Get Manage Audience Members Request
//   Status", "Get an Audience's Metadata") [3D]. The job's status values were
//   not found: a job counts as done when its `status` is not a pending word,
//   or, without a status, when it lists invalidRecords.
// - Rate limits are dynamic, answered with 429 and Retry-After
//   (fivetran.com/docs/connectors/applications/amazon-ads/troubleshooting/
//   slow-delayed-sync) [3D]; no number is published, so Roster keeps to 5
//   requests/s and 2 at a time (judgement).
// - Headers Amazon-Advertising-API-ClientId / -Scope and GET /v2/profiles for
//   the credential check: Segment amazon-amc index.ts testAuthentication [3C].
//
// Identifiers: the external user id is Roster's record key when it fits the
// pattern, else the SHA-256 of the key (stable, so a DELETE finds its CREATE).
// A row needs an e-mail or a phone; names, postal code, city and state are
// sent along when present. Per-row country: COUNTRY, else config.countryCode.
// Consent comes from mapped fields (see fields()).
import type { IdentifierType } from '../../generated/prisma/enums.js';
import type { ValidationProblem } from '../../graphql/errors.js';
import { redactSecrets } from '../../warehouse/connection.js';
import {
  ConnectorError,
  type Audience,
  type AudienceStats,
  type Connector,
  type ConnectorContext,
  type DeliveryResult,
  type DestinationField,
  type RowRejection,
  type SyncRow,
} from '../contract.js';
import { createHttpClient, type HttpClient, type HttpClientOptions, type HttpRequestOptions, type HttpResponse } from '../http.js';
import {
  normaliseCountry,
  normaliseEmail,
  normalisePhone,
  normaliseState,
  normaliseZip,
  prepareIdentifiers,
  sha256Hex,
  type IdentifierRule,
  type Normalised,
} from '../identifiers.js';
import { createAccessTokenCache, refreshTokenGrant, type TokenSource } from '../oauth.js';

export type AmazonAdsConfig = {
  /** Regional API base; default https://advertising-api.amazon.com (NA). */
  baseUrl?: string;
  /** Login with Amazon token endpoint; default https://api.amazon.com/auth/o2/token (NA). */
  tokenUrl?: string;
  /** The Login with Amazon client id (sent as Amazon-Advertising-API-ClientId). */
  clientId: string;
  clientSecret: string;
  /** A refresh token of the Amazon user who authorised Roster. */
  refreshToken: string;
  /** Sent as Amazon-Advertising-API-Scope; check() verifies the token can reach it. */
  profileId?: string;
  /** The DSP advertiser that owns the audiences. */
  advertiserId: string;
  /** ISO 3166-1 alpha-2 of audiences and of rows without a COUNTRY (default US). */
  countryCode?: string;
  /** How long a member stays in an audience without being sent again, in seconds. */
  ttlSeconds?: number;
  /** Seconds to wait for each upload job's verdict, to report refused records (default 0: no wait). */
  jobWaitSeconds?: number;
};

/** Knobs of the HTTP helper; tests shorten them. */
export type AmazonAdsHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>;

export const AMAZON_ADS_BASE_URL = 'https://advertising-api.amazon.com';
export const AMAZON_TOKEN_URL = 'https://api.amazon.com/auth/o2/token';
/** Records per POST /amc/audiences/records. */
export const AMAZON_RECORDS_PER_REQUEST = 10_000;
export const AMAZON_MAX_TTL_SECONDS = 34_300_800;
export const AMAZON_MAX_JOB_WAIT_SECONDS = 300;
const MEDIA_TYPE = 'application/vnd.amcaudiences.v1+json';
const RATE_LIMIT = { requestsPerSecond: 5, concurrency: 2 };
const EXTERNAL_USER_ID = /^[0-9a-zA-Z_-]{1,128}$/;
const PENDING_STATUS = /^(pending|queued|submitted|running|in_progress|processing|accepted)$/i;
const FAILED_STATUS = /fail|error|cancel/i;

/** GB and the EEA: records from these countries need consent signals. */
export const CONSENT_COUNTRIES: ReadonlySet<string> = new Set([
  'AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT', 'LU', 'MT', 'NL',
  'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE', 'IS', 'LI', 'NO', 'GB',
]);

// ─── Amazon normalisation ────────────────────────────────────────────────────

const ok = (value: string): Normalised => ({ ok: true, value });
const alnum = (raw: string) => raw.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/[^a-z0-9]/g, '');
const alnumRule = (raw: string, what: string): Normalised => {
  const v = alnum(raw);
  return v === '' ? { ok: false, reason: `holds no letters or digits a-z, 0-9 (${what})` } : ok(v);
};
const then = (n: Normalised, f: (v: string) => string): Normalised => {
  if (!n.ok) return n;
  const v = f(n.value);
  return v === '' ? { ok: false, reason: 'is empty after normalising' } : ok(v);
};

/** Amazon's rules (help GCCXMZYCK4RXWS6C), after the shared validity checks. */
export const AMAZON_RULES: readonly IdentifierRule[] = [
  { type: 'EMAIL', hash: true, normalise: (v) => then(normaliseEmail(v), (e) => e.replace(/[^a-z0-9.@-]/g, '')) },
  { type: 'PHONE', hash: true, normalise: (v) => normalisePhone(v, { plus: false }) },
  { type: 'FIRST_NAME', hash: true, normalise: (v) => alnumRule(v, 'first name') },
  { type: 'LAST_NAME', hash: true, normalise: (v) => alnumRule(v, 'last name') },
  { type: 'ZIP', hash: true, normalise: (v) => then(normaliseZip(v), (z) => z.replace(/[^a-z0-9]/g, '')) },
  { type: 'CITY', hash: true, normalise: (v) => alnumRule(v, 'city') },
  { type: 'STATE', hash: true, normalise: (v) => then(normaliseState(v), alnum) },
  { type: 'COUNTRY', hash: false, normalise: (v) => then(normaliseCountry(v), (c) => c.toUpperCase()) },
];

/** hashedPII keys, by Roster identifier type. */
const PII_KEY: Partial<Record<IdentifierType, string>> = {
  EMAIL: 'email',
  PHONE: 'phone',
  FIRST_NAME: 'firstname',
  LAST_NAME: 'lastname',
  ZIP: 'postal',
  CITY: 'city',
  STATE: 'state',
};

/** The externalUserId of a row: its key when Amazon's pattern allows it, else the key's SHA-256. */
export function externalUserIdOf(key: string): string {
  return EXTERNAL_USER_ID.test(key) ? key : sha256Hex(key);
}

// ─── Consent ─────────────────────────────────────────────────────────────────

/** Mapped fields that carry consent (Amazon's userConsent). */
const CONSENT_FIELDS: DestinationField[] = [
  { name: 'amznAdStorage', type: 'ENUM', label: 'Amazon consent: ad storage', options: ['GRANTED', 'DENIED'] },
  { name: 'amznUserData', type: 'ENUM', label: 'Amazon consent: user data', options: ['GRANTED', 'DENIED'] },
  { name: 'tcf', type: 'STRING', label: 'IAB TCF consent string' },
  { name: 'gpp', type: 'STRING', label: 'IAB GPP consent string' },
  { name: 'ipAddress', type: 'STRING', label: 'IP address (consent geo)' },
];

interface UserConsent {
  consent: { amzn?: { amznAdStorage: string; amznUserData: string }; tcf?: string; gpp?: string };
  geo: { countryCode: string; ipAddress?: string };
}

function grantOf(v: unknown): 'GRANTED' | 'DENIED' | undefined {
  if (typeof v === 'boolean') return v ? 'GRANTED' : 'DENIED';
  if (typeof v !== 'string') return undefined;
  const t = v.trim().toUpperCase();
  return t === 'GRANTED' || t === 'DENIED' ? t : undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** The record's userConsent from the row's fields; a rejection reason where consent is required and absent. */
export function consentOf(fields: Record<string, unknown>, countryCode: string): { ok: true; value: UserConsent | undefined } | { ok: false; reason: string } {
  const storage = grantOf(fields.amznAdStorage);
  const userData = grantOf(fields.amznUserData);
  const tcf = text(fields.tcf);
  const gpp = text(fields.gpp);
  const ip = text(fields.ipAddress);
  const consent: UserConsent['consent'] = {
    ...(storage && userData ? { amzn: { amznAdStorage: storage, amznUserData: userData } } : {}),
    ...(tcf ? { tcf } : {}),
    ...(gpp ? { gpp } : {}),
  };
  if (Object.keys(consent).length === 0) {
    if (CONSENT_COUNTRIES.has(countryCode)) {
      return {
        ok: false,
        reason: `Amazon requires consent for records from ${countryCode} (GB and the EEA): expected the fields amznAdStorage and amznUserData (GRANTED or DENIED), or a tcf or gpp consent string, but the row has none`,
      };
    }
    return { ok: true, value: undefined };
  }
  return { ok: true, value: { consent, geo: { countryCode, ...(ip ? { ipAddress: ip } : {}) } } };
}

// ─── JSON with numbers too large for JavaScript ──────────────────────────────

/** JSON text in which the given placeholders become bare numbers (ids above 2^53 stay exact). */
export function jsonWithNumbers(value: unknown, numbers: Record<string, string>): string {
  let out = JSON.stringify(value);
  for (const [placeholder, digits] of Object.entries(numbers)) {
    if (!/^\d{1,40}$/.test(digits)) throw new ConnectorError(`expected a numeric Amazon id, but got one with other characters`, 'REQUEST_INVALID', false);
    out = out.split(JSON.stringify(placeholder)).join(digits);
  }
  return out;
}

// Placeholders no audience name or hash can contain (a NUL character).
const AUDIENCE_ID = '\u0000roster:audienceId';
const ADVERTISER_ID = '\u0000roster:advertiserId';

/** The digits of a numeric field, read from the JSON text (JSON.parse would round them). */
function numberField(body: string, field: string): string | undefined {
  return new RegExp(`"${field}"\\s*:\\s*"?(\\d+)"?`).exec(body)?.[1];
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ConnectorError('cancelled while waiting for an Amazon upload job', 'ABORTED', true));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ConnectorError('cancelled while waiting for an Amazon upload job', 'ABORTED', true));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// ─── Access tokens ───────────────────────────────────────────────────────────

/** Access tokens by a hash of the credentials that obtained them; shared by every call of the process. */
const tokenCache = createAccessTokenCache({ defaultLifetimeSeconds: 3600 });

interface AmcRecord {
  externalUserId: string;
  countryCode: string;
  action: 'CREATE' | 'DELETE';
  hashedPII: Record<string, string>[];
  userConsent?: UserConsent;
}

export function createAmazonAdsConnector(http: AmazonAdsHttpOptions = {}): Connector<AmazonAdsConfig> {
  const baseUrlOf = (c: AmazonAdsConfig) => c.baseUrl ?? AMAZON_ADS_BASE_URL;
  const tokenUrlOf = (c: AmazonAdsConfig) => c.tokenUrl ?? AMAZON_TOKEN_URL;
  const countryOf = (c: AmazonAdsConfig) => (c.countryCode ?? 'US').toUpperCase();
  const secretsOf = (c: AmazonAdsConfig) => [c.clientSecret, c.refreshToken];

  const said = (ctx: ConnectorContext<AmazonAdsConfig>, body: string): string => {
    let message = body;
    try {
      const parsed = JSON.parse(body) as Record<string, unknown>;
      message = [parsed.error, parsed.error_description, parsed.code, parsed.details, parsed.message].filter((x) => typeof x === 'string').join(': ') || body;
    } catch {
      // not JSON: the text as is
    }
    const clean = redactSecrets(message, secretsOf(ctx.config)).replace(/\s+/g, ' ').trim();
    return clean === '' ? '' : `: ${clean.length > 200 ? `${clean.slice(0, 200)}…` : clean}`;
  };

  /**
   * Tokens of the configured credentials, renewed a minute before they
   * expire; one refresh at a time per credential set: concurrent batches share it.
   */
  const tokensOf = (ctx: ConnectorContext<AmazonAdsConfig>): TokenSource => {
    const c = ctx.config;
    const tokenUrl = tokenUrlOf(c);
    return tokenCache.source([tokenUrl, c.clientId, c.clientSecret, c.refreshToken], () => {
      const where = `POST ${new URL(tokenUrl).pathname}`;
      return refreshTokenGrant({
        tokenUrl,
        http: { ...http, logger: ctx.logger, signal: ctx.signal },
        form: { refresh_token: c.refreshToken, client_id: c.clientId, client_secret: c.clientSecret },
        headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
        refused: async (res) =>
          new ConnectorError(
            `${where} failed with HTTP ${res.status}: Login with Amazon refused the credentials; expected a refresh token issued to client id "${c.clientId}" together with that client's secret (re-authorise Roster if the token was revoked)${said(ctx, await res.text())}`,
            `HTTP_${res.status}`,
            false,
            res.status,
          ),
        name: `Login with Amazon (${where})`,
      });
    });
  };

  interface Session {
    request(method: string, path: string, opts?: HttpRequestOptions & { scoped?: boolean }): Promise<HttpResponse>;
    stop(): Promise<void>;
  }

  /** API calls with the LWA token; a 401 refreshes the token once (it may have been revoked or expired early). */
  const session = (ctx: ConnectorContext<AmazonAdsConfig>): Session => {
    const client: HttpClient = createHttpClient({
      ...http,
      baseUrl: baseUrlOf(ctx.config),
      rateLimit: RATE_LIMIT,
      logger: ctx.logger,
      signal: ctx.signal,
      headers: { 'amazon-advertising-api-clientid': ctx.config.clientId },
    });
    const tokens = tokensOf(ctx);
    return {
      async request(method, path, opts = {}) {
        const { scoped, ...ro } = opts;
        const callerReads401 = ro.accept?.includes(401) ?? false;
        const res = await tokens.withToken(
          (token) =>
            client.request(method, path, {
              ...ro,
              headers: {
                ...(ro.headers ?? {}),
                authorization: `Bearer ${token}`,
                ...(scoped && ctx.config.profileId ? { 'amazon-advertising-api-scope': ctx.config.profileId } : {}),
              },
              accept: [...(ro.accept ?? []), 401],
            }),
          (r) => r.status === 401 && !callerReads401,
          () => ctx.logger.info({ path: path.split('?')[0] }, 'amazon ads: access token refused, refreshing it once'),
        );
        if (res.status !== 401 || callerReads401) return res;
        throw new ConnectorError(
          `${method} ${path} failed with HTTP 401: the Amazon Ads API refused a freshly issued access token; expected the Amazon user who authorised Roster to have access to advertiser ${ctx.config.advertiserId}${ctx.config.profileId ? ` and profile ${ctx.config.profileId}` : ''}${said(ctx, await res.text())}`,
          'HTTP_401',
          false,
          401,
        );
      },
      stop: () => client.stop(),
    };
  };

  const prepare = (rows: readonly SyncRow[]) => prepareIdentifiers(rows, AMAZON_RULES, { required: ['EMAIL', 'PHONE'], platform: 'Amazon Ads' });

  /** Waits up to jobWaitSeconds for the upload job's verdict; returns the records it refused. */
  const jobRejections = async (
    ctx: ConnectorContext<AmazonAdsConfig>,
    s: Session,
    jobRequestId: string,
    keysByExternalId: Map<string, { key: string; values: string[] }>,
  ): Promise<RowRejection[]> => {
    const waitMs = (ctx.config.jobWaitSeconds ?? 0) * 1000;
    if (waitMs <= 0) return [];
    const deadline = Date.now() + waitMs;
    let delay = 250;
    const path = `/amc/audiences/records/${encodeURIComponent(jobRequestId)}`;
    for (;;) {
      // A job Amazon does not show yet (404) is treated as pending.
      const res = await s.request('GET', path, { headers: { accept: MEDIA_TYPE }, scoped: true, accept: [404] });
      if (res.status !== 404) {
        const job = await res.json<{ status?: unknown; invalidRecords?: unknown }>();
        const status = typeof job.status === 'string' ? job.status : undefined;
        const done = status !== undefined ? !PENDING_STATUS.test(status) : Array.isArray(job.invalidRecords);
        if (done) {
          if (status !== undefined && FAILED_STATUS.test(status)) {
            // Nothing of the batch can be counted as delivered; the next run resends it.
            throw new ConnectorError(`GET ${path}: Amazon reported the upload job as ${status}`, 'JOB_FAILED', true);
          }
          return invalidRecordsOf(job.invalidRecords, keysByExternalId, ctx);
        }
      }
      if (Date.now() + delay > deadline) {
        ctx.logger.info({ jobRequestId, waitedMs: waitMs }, 'amazon ads: upload job not finished within jobWaitSeconds; its records count as delivered');
        return [];
      }
      await sleep(delay, ctx.signal);
      delay = Math.min(delay * 2, 5_000);
    }
  };

  const invalidRecordsOf = (
    list: unknown,
    keysByExternalId: Map<string, { key: string; values: string[] }>,
    ctx: ConnectorContext<AmazonAdsConfig>,
  ): RowRejection[] => {
    if (!Array.isArray(list)) return [];
    const out = new Map<string, RowRejection>();
    let unknown = 0;
    for (const entry of list as { externalId?: unknown; externalUserId?: unknown; error?: unknown; code?: unknown }[]) {
      const id = typeof entry?.externalId === 'string' ? entry.externalId : typeof entry?.externalUserId === 'string' ? entry.externalUserId : undefined;
      const target = id !== undefined ? keysByExternalId.get(id) : undefined;
      if (!target) {
        unknown++;
        continue;
      }
      if (out.has(target.key)) continue;
      const error = typeof entry.error === 'string' && entry.error.trim() !== '' ? redactSecrets(entry.error, target.values) : 'no reason given';
      out.set(target.key, { key: target.key, message: `Amazon refused the record: ${error}`, code: typeof entry.code === 'string' ? entry.code : 'INVALID_RECORD' });
    }
    if (unknown > 0) ctx.logger.warn({ unknown }, 'amazon ads: the upload job refused records that were not in the batch; ignored');
    return [...out.values()];
  };

  const deliver = async (ctx: ConnectorContext<AmazonAdsConfig>, audience: Audience, rows: SyncRow[], action: 'CREATE' | 'DELETE'): Promise<DeliveryResult> => {
    if (!/^\d+$/.test(audience.id)) {
      throw new ConnectorError(`expected a numeric Amazon audience id, but audience "${audience.name}" has one with other characters`, 'AUDIENCE_INVALID', false);
    }
    const { prepared, rejected } = prepare(rows);
    const records: AmcRecord[] = [];
    const keysByExternalId = new Map<string, { key: string; values: string[] }>();
    for (const p of prepared) {
      const countryCode = p.values.COUNTRY ?? countryOf(ctx.config);
      const consent = consentOf(p.row.fields, countryCode);
      if (!consent.ok) {
        rejected.push({ key: p.row.key, code: 'CONSENT_REQUIRED', message: consent.reason });
        continue;
      }
      const pii: Record<string, string> = {};
      for (const [type, field] of Object.entries(PII_KEY) as [IdentifierType, string][]) {
        const v = p.values[type];
        if (v !== undefined) pii[field] = v;
      }
      const externalUserId = externalUserIdOf(p.row.key);
      keysByExternalId.set(externalUserId, { key: p.row.key, values: Object.values(p.row.identifiers).filter((v): v is string => typeof v === 'string') });
      records.push({ externalUserId, countryCode, action, hashedPII: [pii], ...(consent.value ? { userConsent: consent.value } : {}) });
    }
    if (records.length === 0) return { rejected };
    const s = session(ctx);
    try {
      for (const chunk of chunks(records, AMAZON_RECORDS_PER_REQUEST)) {
        const res = await s.request('POST', '/amc/audiences/records', {
          body: jsonWithNumbers({ audienceId: AUDIENCE_ID, records: chunk }, { [AUDIENCE_ID]: audience.id }),
          headers: { 'content-type': MEDIA_TYPE, accept: MEDIA_TYPE },
          scoped: true,
        });
        const body = await res.json<{ jobRequestId?: unknown }>();
        if (typeof body.jobRequestId !== 'string' || body.jobRequestId === '') {
          throw new ConnectorError('POST /amc/audiences/records: expected {"jobRequestId": "..."}, but it is missing', 'INVALID_RESPONSE', false);
        }
        ctx.logger.debug({ jobRequestId: body.jobRequestId, records: chunk.length, action }, 'amazon ads: records accepted');
        rejected.push(...(await jobRejections(ctx, s, body.jobRequestId, keysByExternalId)));
      }
      return { rejected };
    } finally {
      await s.stop();
    }
  };

  return {
    type: 'amazon_ads',
    name: 'Amazon Ads Audiences',
    spec: {
      category: 'AD_PLATFORM',
      configSchema: [
        { name: 'baseUrl', type: 'url', required: false, secret: false, description: 'the regional Amazon Ads API: https://advertising-api.amazon.com, https://advertising-api-eu.amazon.com or https://advertising-api-fe.amazon.com', default: AMAZON_ADS_BASE_URL },
        { name: 'tokenUrl', type: 'url', required: false, secret: false, description: 'the Login with Amazon token endpoint of the region (api.amazon.com, api.amazon.co.uk, api.amazon.co.jp)', default: AMAZON_TOKEN_URL },
        { name: 'clientId', type: 'string', required: true, secret: false, description: 'the Login with Amazon client id of the app approved for the Amazon Ads API' },
        { name: 'clientSecret', type: 'string', required: true, secret: true, description: "that client's secret" },
        { name: 'refreshToken', type: 'string', required: true, secret: true, description: 'a refresh token of the Amazon user who authorised the app' },
        { name: 'profileId', type: 'string', required: false, secret: false, description: 'the advertising profile id, sent as Amazon-Advertising-API-Scope' },
        { name: 'advertiserId', type: 'string', required: true, secret: false, description: 'the DSP advertiser id that owns the audiences (digits)' },
        { name: 'countryCode', type: 'string', required: false, secret: false, description: 'ISO 3166-1 alpha-2 country of the audiences and of rows without a country', default: 'US' },
        { name: 'ttlSeconds', type: 'integer', required: false, secret: false, description: `seconds a member stays without being sent again, up to ${AMAZON_MAX_TTL_SECONDS}` },
        {
          name: 'jobWaitSeconds',
          type: 'integer',
          required: false,
          secret: false,
          description: `seconds to wait for each upload job's verdict so refused records are reported, 0 to ${AMAZON_MAX_JOB_WAIT_SECONDS}`,
          default: 0,
        },
      ],
      identifiers: [
        { type: 'EMAIL', hashed: true },
        { type: 'PHONE', hashed: true },
        { type: 'FIRST_NAME', hashed: true },
        { type: 'LAST_NAME', hashed: true },
        { type: 'ZIP', hashed: true },
        { type: 'CITY', hashed: true },
        { type: 'STATE', hashed: true },
        { type: 'COUNTRY', hashed: false },
      ],
      audiences: { canList: false, canCreate: true, types: [], defaultType: null },
      batchSize: AMAZON_RECORDS_PER_REQUEST,
      rateLimit: RATE_LIMIT,
      requiresProfiles: false,
      reportsMatchRate: true,
      supportsUpdate: false,
    },

    validateConfig(config: AmazonAdsConfig): ValidationProblem[] {
      const problems: ValidationProblem[] = [];
      if (!/^\d{1,40}$/.test(config.advertiserId)) problems.push({ path: ['advertiserId'], message: 'expected the numeric DSP advertiser id, but got other characters' });
      if (config.profileId !== undefined && !/^\d{1,40}$/.test(config.profileId)) problems.push({ path: ['profileId'], message: 'expected a numeric profile id, but got other characters' });
      if (config.countryCode !== undefined && !/^[A-Za-z]{2}$/.test(config.countryCode)) {
        problems.push({ path: ['countryCode'], message: 'expected an ISO 3166-1 alpha-2 code such as "US", but got something else' });
      }
      const ttl = config.ttlSeconds;
      if (ttl !== undefined && (ttl < 1 || ttl > AMAZON_MAX_TTL_SECONDS)) problems.push({ path: ['ttlSeconds'], message: `expected 1 to ${AMAZON_MAX_TTL_SECONDS} seconds, but got ${ttl}` });
      const wait = config.jobWaitSeconds;
      if (wait !== undefined && (wait < 0 || wait > AMAZON_MAX_JOB_WAIT_SECONDS)) {
        problems.push({ path: ['jobWaitSeconds'], message: `expected 0 to ${AMAZON_MAX_JOB_WAIT_SECONDS} seconds, but got ${wait}` });
      }
      for (const name of ['clientId', 'clientSecret', 'refreshToken'] as const) {
        if (config[name].trim() === '') problems.push({ path: [name], message: 'expected a non-empty value, but got only spaces' });
      }
      return problems;
    },

    async check(ctx) {
      // A fresh token: check() is where wrong credentials must show.
      await tokensOf(ctx).token({ fresh: true });
      const s = session(ctx);
      try {
        const res = await s.request('GET', '/v2/profiles', { headers: { accept: 'application/json' } });
        const body = await res.text();
        if (!body.trim().startsWith('[')) throw new ConnectorError('GET /v2/profiles: expected a list of profiles, but got something else', 'INVALID_RESPONSE', false);
        const profileId = ctx.config.profileId;
        if (profileId !== undefined) {
          // Read as text: profile ids can exceed what a JS number holds exactly.
          const ids = [...body.matchAll(/"profileId"\s*:\s*"?(\d+)"?/g)].map((m) => m[1]);
          if (!ids.includes(profileId)) {
            throw new ConnectorError(
              `GET /v2/profiles: expected profile ${profileId} among the profiles this refresh token can reach, but got ${ids.length === 0 ? 'none' : ids.join(', ')}`,
              'PROFILE_NOT_FOUND',
              false,
            );
          }
        }
      } finally {
        await s.stop();
      }
    },

    async createAudience(ctx, input) {
      if (input.type !== null && input.type !== undefined) {
        throw new ConnectorError(`Amazon AMC audiences have one kind; expected no audience type, but got "${input.type}"`, 'AUDIENCE_TYPE_INVALID', false);
      }
      const metadata = {
        // Stable per destination and name: the audience can be found again in Amazon's console.
        externalAudienceId: `roster-${sha256Hex(`${ctx.destinationId}\u0000${input.name}`).slice(0, 32)}`,
        ...(ctx.config.ttlSeconds !== undefined ? { ttl: ctx.config.ttlSeconds } : {}),
      };
      const payload = {
        name: input.name,
        description: 'Synced by Roster',
        countryCode: countryOf(ctx.config),
        targetResource: { advertiserId: ADVERTISER_ID },
        metadata,
      };
      const s = session(ctx);
      try {
        const res = await s.request('POST', '/amc/audiences/metadata', {
          body: jsonWithNumbers(payload, { [ADVERTISER_ID]: ctx.config.advertiserId }),
          headers: { 'content-type': MEDIA_TYPE, accept: `${MEDIA_TYPE}, application/json` },
          scoped: true,
        });
        const id = numberField(await res.text(), 'audienceId');
        if (id === undefined) throw new ConnectorError('POST /amc/audiences/metadata: expected {"audienceId": <number>}, but it is missing', 'INVALID_RESPONSE', false);
        return { id, name: input.name, type: null };
      } finally {
        await s.stop();
      }
    },

    add: (ctx, audience, rows) => deliver(ctx, audience, rows, 'CREATE'),
    remove: (ctx, audience, rows) => deliver(ctx, audience, rows, 'DELETE'),

    async matchRate(ctx, audience): Promise<AudienceStats> {
      const s = session(ctx);
      try {
        const path = `/amc/audiences/metadata/${encodeURIComponent(audience.id)}`;
        const res = await s.request('GET', path, { headers: { accept: MEDIA_TYPE }, scoped: true, accept: [404] });
        if (res.status === 404) throw new ConnectorError(`GET ${path}: Amazon does not know audience "${audience.name}" (HTTP 404)`, 'AUDIENCE_NOT_FOUND', false, 404);
        const body = await res.json<{ metadata?: { audienceSize?: Record<string, unknown> } }>();
        const size = body?.metadata?.audienceSize ?? {};
        const matched = num(size.idResolutionCount) ?? num(size.matchedRecordSize) ?? null;
        const uploaded = num(size.receivedRecordSize) ?? null;
        const rate = num(size.matchRate);
        return { matched, uploaded, ...(rate !== undefined ? { rate } : {}) };
      } finally {
        await s.stop();
      }
    },

    // Amazon has no record properties; these mapped fields become the records' consent.
    fields: async () => CONSENT_FIELDS,
  };
}

export const amazonAdsConnector = createAmazonAdsConnector();

/** For tests: forget cached access tokens. */
export function clearAmazonTokenCache(): void {
  tokenCache.clear();
}
