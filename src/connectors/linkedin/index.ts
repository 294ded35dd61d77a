// LinkedIn Matched Audiences: DMP segments of an ad account, filled with
// users through the Rest.li "segment users" sub-resource.
//
// What it speaks (Rest.li protocol 2.0, base https://api.linkedin.com/rest):
//   every request   Authorization: Bearer <token>, LinkedIn-Version: YYYYMM,
//                   X-Restli-Protocol-Version: 2.0.0
//   check           GET  /dmpSegments?q=account&account=urn:li:sponsoredAccount:{id}&start=0&count=1
//   listAudiences   GET  /dmpSegments?q=account&account=…&start=N&count=100, following
//                   paging { start, count, total } until every element was read
//   createAudience  POST /dmpSegments { name, account, type: "USER", sourcePlatform,
//                   accessPolicy: "PRIVATE", destinations: [{ destination: "LINKEDIN" }] }
//                   → 201, the new id in the x-restli-id (or x-linkedin-id) header
//   add / remove    POST /dmpSegments/{id}/users, X-RestLi-Method: BATCH_CREATE,
//                   { elements: [{ action: "ADD" | "REMOVE", userIds: [{ idType, idValue }],
//                   firstName?, lastName?, country? }] } → 200 { elements: [{ status }, …] },
//                   one status per element in request order; a non-2xx one carries
//                   { error: { message, status, serviceErrorCode? } } and becomes a RowRejection
//   matchRate       GET  /dmpSegments/{id} → inputCount, destinations[LINKEDIN].matchedCount
//   errors          { message, serviceErrorCode, status } (and `code` in newer versions)
//
// Sources and the limits relied on (tags as in /work/shared/reference/destinations.md §3):
// - Endpoints, headers, rw_dmp_segments scope, 5 s wait after creating a
//   segment: learn.microsoft.com/linkedin/marketing/matched-audiences/
//   create-and-manage-segments and …/create-and-manage-segment-users [V].
// - idType values SHA256_EMAIL (64 hex), SHA512_EMAIL (128 hex), GOOGLE_AID,
//   APPLE_IDFA (raw): the segment-users page [V] lists SHA256_EMAIL/SHA512_EMAIL;
//   GOOGLE_AID from rudderlabs/rudder-transformer
//   src/v0/destinations/linkedin_audience/config.ts [3C]; APPLE_IDFA from the
//   api-evangelist LinkedIn UserId schema [3D]. Trim + lower-case before
//   hashing is a judgement (no official normalisation rule was found).
// - firstName / lastName at most 35 characters, country as ISO alpha-2:
//   HCL Unica Link's LinkedIn data layout, quoting the users schema [3D].
//   They only raise the match rate here; a row needs an e-mail or a MAID.
// - Per-element status array: segmentio/action-destinations
//   …/linkedin-audiences/updateAudience tests and LinkedIn's Postman
//   collection (developers.qodex.ai mirror) [3C/3D].
// - Batch limit: no official number was found. 5,000 elements per request is
//   what RudderStack (MAX_BATCH_SIZE default) and Segment (company action)
//   use [3C]; Roster follows the sheet and sends at most 5,000 rows a request.
// - Rate limit: 600 requests per member per minute on /users (the
//   li-lms-unversioned segment-users page; earlier versions said 500) [V],
//   so 10 requests/s; 4 concurrent requests is a judgement (none documented).
// - matchedCount / inputCount over a 7-day window, audienceSize over all
//   input; match rate = matchedCount / inputCount (LinkedIn's "monitor status
//   of DMP segments" Postman step, Tealium's connector guide) [3D].
// - A segment answers 404 for a while after creation (Segment retries it) [3C]:
//   reported as a retryable failure so the next run sends the batch again.
//
// Only USER segments are created and filled: COMPANY segments take companies
// through /dmpSegments/{id}/companies, which Roster's person identifiers do
// not describe. Listing shows both, with their type.
//
// Tokens are used as configured; refreshing an expired OAuth token is the
// operator's job (a 401 says so).
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
import {
  isSha256Hex,
  normaliseCountry,
  normaliseEmail,
  normaliseMaid,
  prepareIdentifiers,
  sha256Hex,
  type IdentifierRule,
  type Normalised,
  type PreparedRow,
} from '../identifiers.js';

export const LINKEDIN_BASE_URL = 'https://api.linkedin.com/rest';
/** A version in use by Segment at the sheet's snapshot; LinkedIn supports each for about a year. */
export const LINKEDIN_DEFAULT_VERSION = '202604';
export const LINKEDIN_RESTLI_PROTOCOL = '2.0.0';
/** Elements per /users request (third-party figure; no official one found). */
export const LINKEDIN_MAX_ELEMENTS = 5_000;
export const LINKEDIN_RATE_LIMIT: RateLimit = { requestsPerSecond: 10, concurrency: 4 };
/** Elements per page when listing segments. */
export const LINKEDIN_PAGE_SIZE = 100;
const NAME_MAX = 35;
const MOBILE_ID_TYPES = ['GOOGLE_AID', 'APPLE_IDFA'] as const;
export type LinkedInMobileIdType = (typeof MOBILE_ID_TYPES)[number];
export const LINKEDIN_SEGMENT_TYPES = ['USER'] as const;

export type LinkedInConfig = {
  baseUrl?: string;
  accessToken: string;
  /** The sponsored (ad) account id, digits, or its urn:li:sponsoredAccount URN. */
  adAccountId: string;
  /** The sourcePlatform enum LinkedIn assigned to the integration. */
  sourcePlatform: string;
  linkedinVersion?: string;
  /** How MAID values are labelled: GAID or IDFA (LinkedIn needs to know which). */
  mobileIdType?: LinkedInMobileIdType;
};

/** Knobs of the HTTP helper; tests shorten them. */
export type LinkedInHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>;

type LinkedInUserId = { idType: string; idValue: string };
type LinkedInElement = { action: 'ADD' | 'REMOVE'; userIds: LinkedInUserId[]; firstName?: string; lastName?: string; country?: string };

interface LinkedInSegment {
  id?: number | string;
  name?: string;
  type?: string;
  inputCount?: number;
  destinations?: { destination?: string; matchedCount?: number; audienceSize?: number; status?: string }[];
}

const ACCOUNT_URN = /^urn:li:sponsoredAccount:(\d+)$/;

/** The numeric ad account id from either form the user may paste. */
export function linkedInAccountId(value: string): string | null {
  const v = value.trim();
  if (/^\d+$/.test(v)) return v;
  return ACCOUNT_URN.exec(v)?.[1] ?? null;
}

const accountUrn = (config: LinkedInConfig) => `urn:li:sponsoredAccount:${linkedInAccountId(config.adAccountId) ?? config.adAccountId.trim()}`;

/** E-mail as LinkedIn takes it: a SHA-256 or SHA-512 hex digest (an existing digest passes as is). */
function emailIdOf(raw: string): { ok: true; id: LinkedInUserId } | { ok: false; reason: string } {
  const v = raw.trim();
  if (isSha256Hex(v)) return { ok: true, id: { idType: 'SHA256_EMAIL', idValue: v.toLowerCase() } };
  if (/^[0-9a-f]{128}$/i.test(v)) return { ok: true, id: { idType: 'SHA512_EMAIL', idValue: v.toLowerCase() } };
  const n = normaliseEmail(v);
  return n.ok ? { ok: true, id: { idType: 'SHA256_EMAIL', idValue: sha256Hex(n.value) } } : n;
}

/** A plain-text name field: trimmed, inner whitespace collapsed, at most 35 characters. */
function plainName(raw: string): Normalised {
  const v = raw.normalize('NFC').trim().replace(/\s+/g, ' ');
  if (v === '') return { ok: false, reason: 'is empty' };
  if ([...v].length > NAME_MAX) return { ok: false, reason: `is longer than LinkedIn's ${NAME_MAX} characters` };
  return { ok: true, value: v };
}

function upperCountry(raw: string): Normalised {
  const n = normaliseCountry(raw);
  return n.ok ? { ok: true, value: n.value.toUpperCase() } : n;
}

/**
 * The rules handed to prepareIdentifiers. E-mail is hashed here rather than
 * through `hash: true` because a SHA-512 digest is also accepted and must not
 * be hashed again; the value carries its idType as a "TYPE:value" pair.
 */
const RULES: readonly IdentifierRule[] = [
  {
    type: 'EMAIL',
    normalise: (raw) => {
      const r = emailIdOf(raw);
      return r.ok ? { ok: true, value: `${r.id.idType}:${r.id.idValue}` } : r;
    },
    hash: false,
  },
  { type: 'MAID', normalise: normaliseMaid, hash: false },
  { type: 'FIRST_NAME', normalise: plainName, hash: false },
  { type: 'LAST_NAME', normalise: plainName, hash: false },
  { type: 'COUNTRY', normalise: upperCountry, hash: false },
];

function elementOf(p: PreparedRow, action: LinkedInElement['action'], mobileIdType: LinkedInMobileIdType): LinkedInElement {
  const userIds: LinkedInUserId[] = [];
  const email = p.values.EMAIL;
  if (email !== undefined) {
    const sep = email.indexOf(':');
    userIds.push({ idType: email.slice(0, sep), idValue: email.slice(sep + 1) });
  }
  if (p.values.MAID !== undefined) userIds.push({ idType: mobileIdType, idValue: p.values.MAID });
  return {
    action,
    userIds,
    ...(p.values.FIRST_NAME !== undefined ? { firstName: p.values.FIRST_NAME } : {}),
    ...(p.values.LAST_NAME !== undefined ? { lastName: p.values.LAST_NAME } : {}),
    ...(p.values.COUNTRY !== undefined ? { country: p.values.COUNTRY } : {}),
  };
}

/** LinkedIn's error envelope, read defensively; never throws. */
async function envelopeOf(res: HttpResponse): Promise<{ message?: string; serviceErrorCode?: number | string; code?: string }> {
  try {
    const body = JSON.parse(await res.text()) as unknown;
    if (body !== null && typeof body === 'object') return body as { message?: string; serviceErrorCode?: number; code?: string };
  } catch {
    // Not JSON: the status alone must do.
  }
  return {};
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function createLinkedInConnector(http: LinkedInHttpOptions = {}): Connector<LinkedInConfig> {
  const clientFor = (ctx: ConnectorContext<LinkedInConfig>): HttpClient =>
    createHttpClient({
      ...http,
      baseUrl: ctx.config.baseUrl ?? LINKEDIN_BASE_URL,
      rateLimit: LINKEDIN_RATE_LIMIT,
      logger: ctx.logger,
      signal: ctx.signal,
      headers: {
        authorization: `Bearer ${ctx.config.accessToken}`,
        'linkedin-version': ctx.config.linkedinVersion ?? LINKEDIN_DEFAULT_VERSION,
        'x-restli-protocol-version': LINKEDIN_RESTLI_PROTOCOL,
      },
    });

  const withClient = async <T>(ctx: ConnectorContext<LinkedInConfig>, fn: (client: HttpClient) => Promise<T>): Promise<T> => {
    const client = clientFor(ctx);
    try {
      return await fn(client);
    } finally {
      await client.stop();
    }
  };

  /**
   * One request; the client errors LinkedIn explains (400, 401, 403, 404,
   * 422) are read here so that the message says what LinkedIn expected.
   */
  const call = async (
    ctx: ConnectorContext<LinkedInConfig>,
    client: HttpClient,
    method: string,
    path: string,
    opts: { json?: unknown; query?: Record<string, string | number>; headers?: Record<string, string>; what: string; notFound?: () => ConnectorError },
  ): Promise<HttpResponse> => {
    const res = await client.request(method, path, {
      ...(opts.json !== undefined ? { json: opts.json } : {}),
      ...(opts.query ? { query: opts.query } : {}),
      ...(opts.headers ? { headers: opts.headers } : {}),
      accept: [400, 401, 403, 404, 422],
    });
    if (res.status >= 200 && res.status < 300) return res;
    if (res.status === 404 && opts.notFound) throw opts.notFound();
    const env = await envelopeOf(res);
    const said = env.message ? `: ${env.message}` : '';
    const sub = env.serviceErrorCode !== undefined ? ` (serviceErrorCode ${env.serviceErrorCode})` : '';
    const where = `${method} ${path.split('?')[0]}`;
    switch (res.status) {
      case 401:
        throw new ConnectorError(
          `${opts.what}: LinkedIn refused the access token with HTTP 401${sub}${said}; expected a valid, unexpired OAuth token with the rw_dmp_segments scope (${where})`,
          'AUTH_FAILED',
          false,
          401,
        );
      case 403:
        throw new ConnectorError(
          `${opts.what}: LinkedIn denied access to ad account ${accountUrn(ctx.config)} with HTTP 403${sub}${said}; expected a member with a role other than VIEWER on that account and an app approved for the Audiences program (${where})`,
          'ACCESS_DENIED',
          false,
          403,
        );
      default:
        throw new ConnectorError(
          `${opts.what}: LinkedIn answered HTTP ${res.status}${sub}${said} (${where})`,
          env.code ? `LINKEDIN_${env.code}` : `HTTP_${res.status}`,
          false,
          res.status,
        );
    }
  };

  const listPage = async (ctx: ConnectorContext<LinkedInConfig>, client: HttpClient, start: number, count: number, what: string) => {
    const res = await call(ctx, client, 'GET', '/dmpSegments', { query: { q: 'account', account: accountUrn(ctx.config), start, count }, what });
    const body = await res.json<unknown>();
    if (!isObject(body) || !Array.isArray(body.elements)) {
      throw new ConnectorError(`${what}: expected { elements: [...], paging } from GET /dmpSegments, but got a body without an elements list`, 'INVALID_RESPONSE', false);
    }
    const paging = isObject(body.paging) ? body.paging : {};
    return { elements: body.elements as LinkedInSegment[], total: typeof paging.total === 'number' ? paging.total : undefined };
  };

  const audienceOf = (s: LinkedInSegment): Audience => {
    const linkedin = s.destinations?.find((d) => d.destination === 'LINKEDIN');
    return { id: String(s.id), name: s.name ?? '', type: s.type ?? null, size: linkedin?.audienceSize ?? null };
  };

  const segmentPath = (audience: Audience, what: string): string => {
    if (!/^\d+$/.test(audience.id)) {
      throw new ConnectorError(`${what}: expected a numeric DMP segment id, but got one with ${/\s/.test(audience.id) ? 'spaces' : 'other characters'}`, 'INVALID_AUDIENCE', false);
    }
    return `/dmpSegments/${audience.id}`;
  };

  const notReady = (what: string, id: string) => () =>
    new ConnectorError(
      `${what}: LinkedIn answered 404 for DMP segment ${id}; a new segment needs a few seconds to minutes before it takes users, and a deleted one never will (retried on the next run)`,
      'SEGMENT_NOT_FOUND',
      true,
      404,
    );

  /** The per-element statuses of a /users answer, as rejections of the chunk's rows. */
  const rejectionsOf = (body: unknown, chunk: PreparedRow[], what: string): RowRejection[] => {
    if (!isObject(body) || !Array.isArray(body.elements)) {
      throw new ConnectorError(`${what}: expected { elements: [{ status }, …] } from LinkedIn, but got a body without an elements list`, 'INVALID_RESPONSE', false);
    }
    // The statuses pair with the request's elements by position; a list of
    // another length cannot say which rows failed, so the call fails.
    if (body.elements.length !== chunk.length) {
      throw new ConnectorError(
        `${what}: expected ${chunk.length} element statuses (one per user sent), but LinkedIn returned ${body.elements.length}`,
        'INVALID_RESPONSE',
        false,
      );
    }
    const out: RowRejection[] = [];
    body.elements.forEach((el, i) => {
      const status = isObject(el) && typeof el.status === 'number' ? el.status : undefined;
      if (status !== undefined && status >= 200 && status < 300) return;
      const error = isObject(el) && isObject(el.error) ? el.error : {};
      const message = typeof error.message === 'string' && error.message.trim() !== '' ? error.message : 'no message given';
      const code =
        typeof error.code === 'string' ? error.code : error.serviceErrorCode !== undefined ? String(error.serviceErrorCode) : status !== undefined ? `HTTP_${status}` : 'UNKNOWN';
      out.push({ key: chunk[i]!.row.key, code, message: `LinkedIn refused this user${status !== undefined ? ` (status ${status})` : ''}: ${message}` });
    });
    return out;
  };

  const deliver = async (ctx: ConnectorContext<LinkedInConfig>, audience: Audience, rows: SyncRow[], action: LinkedInElement['action']): Promise<DeliveryResult> => {
    const what = `${action === 'ADD' ? 'add' : 'remove'} users`;
    if (audience.type && audience.type !== 'USER') {
      throw new ConnectorError(
        `${what}: expected a USER DMP segment, but segment ${audience.id} is of type ${audience.type}; Roster sends people, not companies`,
        'UNSUPPORTED_AUDIENCE_TYPE',
        false,
      );
    }
    const { prepared, rejected } = prepareIdentifiers(rows, RULES, { required: ['EMAIL', 'MAID'], platform: 'LinkedIn' });
    if (prepared.length === 0) return { rejected };
    const path = `${segmentPath(audience, what)}/users`;
    const mobileIdType = ctx.config.mobileIdType ?? 'GOOGLE_AID';
    return withClient(ctx, async (client) => {
      // The engine hands over at most spec.batchSize rows; a direct caller may
      // hand more, so the call is split at LinkedIn's per-request limit. A
      // failure fails the whole call: ADD and REMOVE are idempotent (LinkedIn
      // answers 201 for a repeated id), so re-sending the done part is harmless.
      for (let i = 0; i < prepared.length; i += LINKEDIN_MAX_ELEMENTS) {
        const chunk = prepared.slice(i, i + LINKEDIN_MAX_ELEMENTS);
        const res = await call(ctx, client, 'POST', path, {
          json: { elements: chunk.map((p) => elementOf(p, action, mobileIdType)) },
          headers: { 'x-restli-method': 'BATCH_CREATE' },
          what,
          notFound: notReady(what, audience.id),
        });
        rejected.push(...rejectionsOf(await res.json<unknown>(), chunk, what));
      }
      return { rejected };
    });
  };

  return {
    type: 'linkedin',
    name: 'LinkedIn Matched Audiences',
    spec: {
      category: 'AD_PLATFORM',
      configSchema: [
        { name: 'baseUrl', type: 'url', required: false, secret: false, description: 'the Rest.li API base URL', default: LINKEDIN_BASE_URL },
        {
          name: 'accessToken',
          type: 'string',
          required: true,
          secret: true,
          description: 'an OAuth 2.0 access token with the rw_dmp_segments scope (Audiences program)',
        },
        { name: 'adAccountId', type: 'string', required: true, secret: false, description: 'the sponsored ad account id (digits) or its urn:li:sponsoredAccount URN' },
        {
          name: 'sourcePlatform',
          type: 'string',
          required: true,
          secret: false,
          description: 'the sourcePlatform value LinkedIn assigned to your integration when granting Audiences API access',
        },
        {
          name: 'linkedinVersion',
          type: 'string',
          required: false,
          secret: false,
          description: 'the LinkedIn-Version header (YYYYMM)',
          default: LINKEDIN_DEFAULT_VERSION,
        },
        {
          name: 'mobileIdType',
          type: 'enum',
          required: false,
          secret: false,
          enum: MOBILE_ID_TYPES,
          description: 'how mobile advertiser ids are sent: GOOGLE_AID (Android) or APPLE_IDFA (iOS)',
          default: 'GOOGLE_AID',
        },
      ],
      identifiers: [
        { type: IdentifierType.EMAIL, hashed: true },
        { type: IdentifierType.MAID, hashed: false },
        { type: IdentifierType.FIRST_NAME, hashed: false },
        { type: IdentifierType.LAST_NAME, hashed: false },
        { type: IdentifierType.COUNTRY, hashed: false },
      ],
      audiences: { canList: true, canCreate: true, types: LINKEDIN_SEGMENT_TYPES, defaultType: 'USER' },
      batchSize: LINKEDIN_MAX_ELEMENTS,
      rateLimit: LINKEDIN_RATE_LIMIT,
      requiresProfiles: false,
      reportsMatchRate: true,
      supportsUpdate: false,
    },

    validateConfig(config: LinkedInConfig): ValidationProblem[] {
      const problems: ValidationProblem[] = [];
      if (linkedInAccountId(config.adAccountId) === null) {
        problems.push({ path: ['adAccountId'], message: 'expected the ad account id as digits (e.g. 508912345) or urn:li:sponsoredAccount:<digits>, but got another form' });
      }
      if (config.linkedinVersion !== undefined && !/^20\d{4}$/.test(config.linkedinVersion)) {
        problems.push({ path: ['linkedinVersion'], message: 'expected a LinkedIn-Version of the form YYYYMM (e.g. 202604), but got another form' });
      }
      if (config.accessToken.trim() === '') problems.push({ path: ['accessToken'], message: 'expected a non-empty access token, but got only spaces' });
      if (config.sourcePlatform.trim() === '') problems.push({ path: ['sourcePlatform'], message: 'expected the sourcePlatform LinkedIn assigned, but got only spaces' });
      return problems;
    },

    async check(ctx) {
      await withClient(ctx, (client) => listPage(ctx, client, 0, 1, 'check'));
    },

    async listAudiences(ctx) {
      return withClient(ctx, async (client) => {
        const out: Audience[] = [];
        // Without start/count LinkedIn returns everything at once; explicit
        // pages keep each answer small and the loop bounded.
        for (let start = 0, page = 0; page < 10_000; page++) {
          const { elements, total } = await listPage(ctx, client, start, LINKEDIN_PAGE_SIZE, 'list segments');
          out.push(...elements.map(audienceOf));
          start += elements.length;
          if (elements.length === 0 || (total !== undefined ? start >= total : elements.length < LINKEDIN_PAGE_SIZE)) break;
        }
        return out;
      });
    },

    async createAudience(ctx, input) {
      const type = input.type ?? 'USER';
      if (!(LINKEDIN_SEGMENT_TYPES as readonly string[]).includes(type)) {
        throw new ConnectorError(`create segment: expected type USER, but got ${JSON.stringify(type.slice(0, 40))}`, 'UNSUPPORTED_AUDIENCE_TYPE', false);
      }
      return withClient(ctx, async (client) => {
        const res = await call(ctx, client, 'POST', '/dmpSegments', {
          json: {
            name: input.name,
            account: accountUrn(ctx.config),
            type,
            sourcePlatform: ctx.config.sourcePlatform,
            accessPolicy: 'PRIVATE',
            destinations: [{ destination: 'LINKEDIN' }],
          },
          what: 'create segment',
        });
        // Rest.li returns the created key in a header; some answers also
        // carry the entity, so the body is a fallback.
        let id = res.headers['x-restli-id'] ?? res.headers['x-linkedin-id'];
        if (!id) {
          const text = await res.text();
          try {
            const body = JSON.parse(text) as unknown;
            if (isObject(body) && (typeof body.id === 'number' || typeof body.id === 'string')) id = String(body.id);
          } catch {
            // handled below
          }
        }
        if (!id || !/^\d+$/.test(id.trim())) {
          throw new ConnectorError(
            'create segment: expected the new segment id in the x-restli-id header of the 201 answer, but it was missing or not numeric',
            'INVALID_RESPONSE',
            false,
            res.status,
          );
        }
        return { id: id.trim(), name: input.name, type, size: null };
      });
    },

    add: (ctx, audience, rows) => deliver(ctx, audience, rows, 'ADD'),
    remove: (ctx, audience, rows) => deliver(ctx, audience, rows, 'REMOVE'),

    async matchRate(ctx, audience): Promise<AudienceStats> {
      const what = 'read match rate';
      const path = segmentPath(audience, what);
      return withClient(ctx, async (client) => {
        const res = await call(ctx, client, 'GET', path, {
          what,
          notFound: () => new ConnectorError(`${what}: LinkedIn has no DMP segment ${audience.id} in reach of this token`, 'SEGMENT_NOT_FOUND', false, 404),
        });
        const body = await res.json<unknown>();
        if (!isObject(body)) throw new ConnectorError(`${what}: expected a DMP segment object, but got another JSON value`, 'INVALID_RESPONSE', false);
        const s = body as LinkedInSegment;
        const linkedin = s.destinations?.find((d) => d.destination === 'LINKEDIN');
        // matchedCount and inputCount cover the same 7-day window, so their
        // ratio is LinkedIn's own match rate; both are absent while building.
        return {
          matched: typeof linkedin?.matchedCount === 'number' ? linkedin.matchedCount : null,
          uploaded: typeof s.inputCount === 'number' ? s.inputCount : null,
          rate: null,
        };
      });
    },
  };
}

export const linkedinConnector = createLinkedInConnector();
