// Google Ads Customer Match through the Data Manager API, the route Google
// requires for new Customer Match integrations (the Google Ads API upload
// path takes no new adopters from 1 April 2026).
//
// Requests (base https://datamanager.googleapis.com, "Authorization: Bearer <OAuth access token>")
//   GET  /v1/accountTypes/{type}/accounts/{id}/userLists?pageSize=&pageToken=   check(), listAudiences()
//        → {"userLists": [UserList], "nextPageToken": "…"}
//   POST /v1/accountTypes/{type}/accounts/{id}/userLists  UserList              createAudience()
//        {displayName, description, membershipStatus: OPEN, membershipDuration: "<n×86400>s",
//         ingestedUserListInfo: {uploadKeyTypes: [CONTACT_ID|MOBILE_ID], contactIdInfo|mobileIdInfo}}
//   GET  /v1/accountTypes/{type}/accounts/{id}/userLists/{listId}               matchRate()
//        sizeInfo {displayNetworkMembersCount, searchNetworkMembersCount} (int64 as strings),
//        ingestedUserListInfo.contactIdInfo.matchRatePercentage (0-100)
//   POST /v1/audienceMembers:ingest  {destinations: [{operatingAccount, loginAccount?, productDestinationId}],
//        audienceMembers: [{userData: {userIdentifiers: [{emailAddress}|{phoneNumber}|{address}]}}
//                          | {mobileData: {mobileIds: [...]}}],
//        encoding: HEX, consent: {adUserData, adPersonalization}, termsOfService: {customerMatchTermsOfServiceStatus}}
//        → {"requestId": "…"}
//   POST /v1/audienceMembers:remove  the same without consent and termsOfService
//   With a manager (login) account: destinations[].loginAccount, and a
//   "login-account: accountTypes/{type}/accounts/{id}" header on userLists calls.
//   Errors: google.rpc.Status {"error": {code, message, status, details: [ErrorInfo {reason}, BadRequest {fieldViolations}]}}.
//
// Sources, with the tags of shared/reference/destinations.md §2B:
// - paths, request/response shapes, 10,000 members per request, 10
//   identifiers per member, one data type per request, encoding required for
//   userData, AddressInfo needs all four parts [VS] googleapis/googleapis
//   google/ads/datamanager/v1/{ingestion_service,audience,destination,consent,terms_of_service,user_list,user_list_service,error}.proto
// - fast-fail: one bad record fails the whole request, named by a
//   BadRequest field violation "audience_members.audience_members[i]…" [V]
//   developers.google.com/data-manager/api/devguides/concepts/understand-errors,
//   developers.google.com/data-manager/api/get-started/quickstart/send-audience-members
// - formatting: e-mail lower-case without whitespace, Gmail/Googlemail dots
//   and "+suffix" removed; phone E.164 with "+"; names lower-case without
//   prefixes/suffixes; SHA-256 as hex; regionCode and postalCode not hashed
//   [V] developers.google.com/data-manager/api/devguides/concepts/formatting
// - quota: IngestionService 300 requests/min per project (→ 5/s), 429
//   RESOURCE_EXHAUSTED when exceeded, Retry-After not documented [V]
//   developers.google.com/data-manager/api/devguides/limits; concurrency 5 is *(judgement)*
// - membershipDuration a multiple of 86,400 s; Customer Match lists live at
//   most 540 days [VS] google/ads/googleads/v19/resources/user_list.proto
// - defaults HEX, ToS ACCEPTED, 10,000 per batch, requestId logged [3C]
//   rudderlabs/rudder-transformer src/v0/destinations/google_adwords_remarketing_lists/dataManager
//
// Per-row outcome: Google fails the whole request on a bad member and names
// its index; those rows become RowRejections with Google's reason and the
// rest of the request is sent again (nothing of a refused request was
// applied). Processing itself is asynchronous (hours); match figures come
// later from the user list.
import type { ValidationProblem } from '../../graphql/errors.js';
import { redactSecrets } from '../../warehouse/connection.js';
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
import { createHttpClient, type HttpClient, type HttpClientOptions, type QueryValue } from '../http.js';
import {
  emailRule,
  maidRule,
  normaliseCountry,
  normaliseName,
  phoneRule,
  prepareIdentifiers,
  type IdentifierRule,
  type Normalised,
  type PreparedRow,
} from '../identifiers.js';

export const GOOGLE_DM_BASE_URL = 'https://datamanager.googleapis.com';
/** audienceMembers per ingest/remove request. */
export const GOOGLE_MAX_MEMBERS = 10_000;
/** userIdentifiers per member. */
export const GOOGLE_MAX_IDENTIFIERS = 10;
export const GOOGLE_ACCOUNT_TYPES = ['GOOGLE_ADS', 'DISPLAY_VIDEO_ADVERTISER', 'DISPLAY_VIDEO_PARTNER', 'DATA_PARTNER'] as const;
export const GOOGLE_CONSENT_STATUSES = ['CONSENT_GRANTED', 'CONSENT_DENIED'] as const;
/** The upload key types Roster can fill (immutable once a list exists). */
export const GOOGLE_LIST_TYPES = ['CONTACT_ID', 'MOBILE_ID'] as const;
export const GOOGLE_MAX_MEMBERSHIP_DAYS = 540;
export const GOOGLE_RATE_LIMIT = { requestsPerSecond: 5, concurrency: 5 };

type AccountType = (typeof GOOGLE_ACCOUNT_TYPES)[number];
type ConsentStatus = (typeof GOOGLE_CONSENT_STATUSES)[number];
type ListType = (typeof GOOGLE_LIST_TYPES)[number];

export type GoogleAdsConfig = {
  /** An OAuth 2.0 access token with the https://www.googleapis.com/auth/datamanager scope. */
  accessToken: string;
  /** The operating account, e.g. a Google Ads customer id (hyphens allowed). */
  accountId: string;
  accountType?: AccountType;
  /** A manager or partner account the token's user belongs to, when it is not the operating account. */
  loginAccountId?: string;
  loginAccountType?: AccountType;
  /** The advertiser accepts Google's Customer Match terms; required for uploads. */
  customerMatchTermsAccepted: boolean;
  adUserDataConsent?: ConsentStatus;
  adPersonalizationConsent?: ConsentStatus;
  membershipDurationDays?: number;
  defaultPhoneCountryCode?: string;
  /** For MOBILE_ID lists: the app the device ids come from. */
  mobileAppId?: string;
  mobileKeySpace?: 'IOS' | 'ANDROID';
  baseUrl?: string;
};

/** Knobs of the HTTP helper; tests shorten them. */
export type GoogleAdsHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>;

type UserIdentifier = { emailAddress: string } | { phoneNumber: string } | { address: { givenName: string; familyName: string; regionCode: string; postalCode: string } };
type AudienceMember = { userData: { userIdentifiers: UserIdentifier[] } } | { mobileData: { mobileIds: string[] } };

interface UserList {
  name?: string;
  id?: string | number;
  displayName?: string;
  sizeInfo?: { displayNetworkMembersCount?: string | number; searchNetworkMembersCount?: string | number };
  ingestedUserListInfo?: { uploadKeyTypes?: string[]; contactIdInfo?: { matchRatePercentage?: number } };
}

interface FieldViolation {
  field?: string;
  description?: string;
  reason?: string;
}

interface GoogleStatus {
  code?: number;
  message?: string;
  status?: string;
  details?: { '@type'?: string; reason?: string; fieldViolations?: FieldViolation[] }[];
}

// Google answers these with its Status body; 429 and 5xx are left to the HTTP helper's retries.
const ERROR_STATUSES = [400, 401, 403, 404, 409] as const;

// ─── Identifiers ─────────────────────────────────────────────────────────────

/** ISO 3166-1 alpha-2, upper-case as the standard writes it; sent unhashed. */
function normaliseRegionCode(raw: string): Normalised {
  const n = normaliseCountry(raw);
  return n.ok ? { ok: true, value: n.value.toUpperCase() } : n;
}

/** Sent unhashed as written (upper-cased, inner whitespace collapsed), e.g. "94045", "94045-1234", "SW1A 1AA". */
export function normalisePostalCode(raw: string): Normalised {
  const v = raw.trim().replace(/\s+/g, ' ').toUpperCase();
  if (v === '') return { ok: false, reason: 'is empty' };
  if (!/^[A-Z0-9][A-Z0-9 -]{1,9}$/.test(v)) return { ok: false, reason: 'is not a postal code (expected 2 to 10 letters and digits)' };
  return { ok: true, value: v };
}

function contactRules(config: GoogleAdsConfig): IdentifierRule[] {
  const name = (v: string) => normaliseName(v, { stripHonorifics: true });
  return [
    emailRule({ canonicaliseGmail: true }),
    phoneRule({ plus: true, ...(config.defaultPhoneCountryCode ? { defaultCountryCode: config.defaultPhoneCountryCode } : {}) }),
    { type: 'FIRST_NAME', normalise: name, hash: true },
    { type: 'LAST_NAME', normalise: name, hash: true },
    { type: 'COUNTRY', normalise: normaliseRegionCode, hash: false },
    { type: 'ZIP', normalise: normalisePostalCode, hash: false },
  ];
}

const ADDRESS_PARTS: readonly IdentifierType[] = ['FIRST_NAME', 'LAST_NAME', 'COUNTRY', 'ZIP'];

/** The member for a CONTACT_ID list; an address is sent only whole (AddressInfo requires all four parts). */
function contactMember(p: PreparedRow): AudienceMember | { missing: IdentifierType[] } {
  const v = p.values;
  const ids: UserIdentifier[] = [];
  if (v.EMAIL) ids.push({ emailAddress: v.EMAIL });
  if (v.PHONE) ids.push({ phoneNumber: v.PHONE });
  if (v.FIRST_NAME && v.LAST_NAME && v.COUNTRY && v.ZIP) {
    ids.push({ address: { givenName: v.FIRST_NAME, familyName: v.LAST_NAME, regionCode: v.COUNTRY, postalCode: v.ZIP } });
  }
  if (ids.length === 0) return { missing: ADDRESS_PARTS.filter((t) => !v[t]) };
  return { userData: { userIdentifiers: ids } };
}

interface Prepared {
  row: SyncRow;
  member: AudienceMember;
}

function prepareMembers(config: GoogleAdsConfig, rows: SyncRow[], listType: ListType): { members: Prepared[]; rejected: RowRejection[] } {
  if (listType === 'MOBILE_ID') {
    const { prepared, rejected } = prepareIdentifiers(rows, [maidRule(false)], { platform: 'Google (a mobile-id list)' });
    return { members: prepared.map((p) => ({ row: p.row, member: { mobileData: { mobileIds: [p.values.MAID!] } } })), rejected };
  }
  const { prepared, rejected } = prepareIdentifiers(rows, contactRules(config), { platform: 'Google' });
  const members: Prepared[] = [];
  for (const p of prepared) {
    const m = contactMember(p);
    if ('missing' in m) {
      rejected.push({
        key: p.row.key,
        code: 'NO_USABLE_IDENTIFIER',
        message: `no identifier Google can match: expected EMAIL or PHONE, or FIRST_NAME, LAST_NAME, COUNTRY and ZIP together (Google matches an address only whole), but ${m.missing.join(', ')} ${m.missing.length === 1 ? 'was' : 'were'} missing or unusable`,
      });
    } else {
      members.push({ row: p.row, member: m });
    }
  }
  return { members, rejected };
}

// ─── Calls ───────────────────────────────────────────────────────────────────

function statusOf(text: string): GoogleStatus | undefined {
  try {
    const e = (JSON.parse(text) as { error?: unknown })?.error;
    return e !== null && typeof e === 'object' && !Array.isArray(e) ? (e as GoogleStatus) : undefined;
  } catch {
    return undefined;
  }
}

const reasonOf = (s: GoogleStatus | undefined) => s?.details?.find((d) => typeof d.reason === 'string')?.reason;
const violationsOf = (s: GoogleStatus | undefined) => (s?.details ?? []).flatMap((d) => (Array.isArray(d.fieldViolations) ? d.fieldViolations : []));

/**
 * The members a 400 names, by their index in the request, or undefined when
 * the request failed for another reason too (then the whole call fails).
 */
export function memberViolations(s: GoogleStatus | undefined, count: number): Map<number, FieldViolation> | undefined {
  const violations = violationsOf(s);
  if (violations.length === 0) return undefined;
  const out = new Map<number, FieldViolation>();
  for (const v of violations) {
    const m = /audience_?members\[(\d+)\]/i.exec(v.field ?? '');
    const i = m ? Number(m[1]) : NaN;
    if (!Number.isInteger(i) || i < 0 || i >= count) return undefined;
    if (!out.has(i)) out.set(i, v);
  }
  return out;
}

function oneLine(text: string, secrets: readonly string[], max = 300): string {
  const t = redactSecrets(text, secrets).replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

function hintFor(status: number, s: GoogleStatus | undefined, config: GoogleAdsConfig): string {
  const reason = reasonOf(s);
  if (status === 401) return ' (the access token is invalid or expired; expected an OAuth 2.0 access token with the https://www.googleapis.com/auth/datamanager scope)';
  if (reason === 'TERMS_AND_CONDITIONS_NOT_SIGNED') return ' (accept the Customer Match terms for this account in Google Ads)';
  if (reason === 'INVALID_USER_LIST_ID') return ' (the user list does not exist in this account)';
  if (reason === 'INVALID_USER_LIST_TYPE') return " (the list's upload key type does not take this kind of member)";
  if (status === 403) {
    return ` (the token's Google account cannot reach accountTypes/${config.accountType ?? 'GOOGLE_ADS'}/accounts/${accountIdOf(config)}${config.loginAccountId ? '' : '; through a manager account, set loginAccountId'})`;
  }
  return '';
}

function accountIdOf(config: GoogleAdsConfig): string {
  return config.accountId.replace(/[-\s]/g, '');
}

interface Session {
  send(method: string, path: string, opts?: { json?: unknown; query?: Record<string, QueryValue>; headers?: Record<string, string> }): Promise<{ status: number; text: string }>;
  failure(method: string, path: string, status: number, text: string): ConnectorError;
  json<T>(method: string, path: string, text: string): T;
}

export function createGoogleAdsConnector(http: GoogleAdsHttpOptions = {}): Connector<GoogleAdsConfig> {
  const parentOf = (c: GoogleAdsConfig) => `/v1/accountTypes/${c.accountType ?? 'GOOGLE_ADS'}/accounts/${accountIdOf(c)}`;
  const loginHeader = (c: GoogleAdsConfig): Record<string, string> =>
    c.loginAccountId ? { 'login-account': `accountTypes/${c.loginAccountType ?? c.accountType ?? 'GOOGLE_ADS'}/accounts/${c.loginAccountId.replace(/[-\s]/g, '')}` } : {};

  const withSession = async <T>(ctx: ConnectorContext<GoogleAdsConfig>, fn: (s: Session) => Promise<T>): Promise<T> => {
    const secrets = [ctx.config.accessToken];
    const client: HttpClient = createHttpClient({
      ...http,
      baseUrl: ctx.config.baseUrl ?? GOOGLE_DM_BASE_URL,
      rateLimit: GOOGLE_RATE_LIMIT,
      logger: ctx.logger,
      signal: ctx.signal,
      headers: { authorization: `Bearer ${ctx.config.accessToken}` },
    });
    const session: Session = {
      async send(method, path, opts = {}) {
        const res = await client.request(method, path, { ...opts, accept: ERROR_STATUSES });
        return { status: res.status, text: await res.text() };
      },
      failure(method, path, status, text) {
        const s = statusOf(text);
        if (!s) {
          const said = oneLine(text, secrets, 200);
          return new ConnectorError(
            `${method} ${path} failed with HTTP ${status}; expected a Google error {"error": {…}}, but got ${said ? `"${said}"` : 'an empty body'}`,
            `HTTP_${status}`,
            false,
            status,
          );
        }
        const reason = reasonOf(s);
        const violations = violationsOf(s)
          .slice(0, 3)
          .map((v) => `${v.field ?? '?'}: ${v.description ?? v.reason ?? 'invalid'}`);
        const detail = oneLine(`${s.message ?? 'no message'}${violations.length ? ` [${violations.join('; ')}]` : ''}`, secrets);
        return new ConnectorError(
          `${method} ${path} failed with HTTP ${status} ${s.status ?? ''}${reason && reason !== s.status ? ` (${reason})` : ''}: ${detail}${hintFor(status, s, ctx.config)}`.replace(/ {2,}/g, ' '),
          `GOOGLE_${reason ?? s.status ?? status}`,
          // ABORTED (409) is a concurrency conflict; the next run may succeed.
          s.status === 'ABORTED',
          status,
        );
      },
      json<T>(method: string, path: string, text: string): T {
        if (text.trim() === '') return {} as T;
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new ConnectorError(`${method} ${path}: expected a JSON response, but got "${oneLine(text, secrets, 200)}"`, 'INVALID_RESPONSE', false);
        }
      },
    };
    try {
      return await fn(session);
    } finally {
      await client.stop();
    }
  };

  /** A JSON call whose every non-2xx answer is a failure of the whole call. */
  const call = async <T>(s: Session, method: string, path: string, opts: Parameters<Session['send']>[2] = {}): Promise<T> => {
    const res = await s.send(method, path, opts);
    if (res.status >= 300) throw s.failure(method, path, res.status, res.text);
    return s.json<T>(method, path, res.text);
  };

  const int64 = (v: string | number | undefined): number | null => {
    if (v === undefined) return null;
    const n = typeof v === 'number' ? v : Number(v);
    return Number.isFinite(n) ? n : null;
  };

  const toAudience = (ul: UserList): Audience | undefined => {
    const keys = ul.ingestedUserListInfo?.uploadKeyTypes ?? [];
    const type = GOOGLE_LIST_TYPES.find((t) => keys.includes(t));
    const id = ul.id !== undefined ? String(ul.id) : ul.name?.split('/').pop();
    // Lists Roster cannot fill (rule-based, PAIR, pseudonymous ids) are not offered.
    if (!type || !id) return undefined;
    // int64 zero is omitted in proto3 JSON: a present sizeInfo without a count means 0.
    const size = ul.sizeInfo ? (int64(ul.sizeInfo.displayNetworkMembersCount) ?? 0) : null;
    return { id, name: ul.displayName ?? '', type, size };
  };

  const deliver = async (ctx: ConnectorContext<GoogleAdsConfig>, audience: Audience, rows: SyncRow[], op: 'ingest' | 'remove'): Promise<DeliveryResult> => {
    const c = ctx.config;
    if (op === 'ingest' && c.customerMatchTermsAccepted !== true) {
      throw new ConnectorError(
        'expected customerMatchTermsAccepted to be true: Google accepts Customer Match uploads only under its terms (support.google.com/adspolicy/answer/6299717), and Roster sends that acceptance with every upload',
        'TERMS_NOT_ACCEPTED',
        false,
      );
    }
    const listType: ListType = audience.type === 'MOBILE_ID' ? 'MOBILE_ID' : 'CONTACT_ID';
    const { members, rejected } = prepareMembers(c, rows, listType);
    if (members.length === 0) return { rejected };
    const login = c.loginAccountId ? { loginAccount: { accountType: c.loginAccountType ?? c.accountType ?? 'GOOGLE_ADS', accountId: c.loginAccountId.replace(/[-\s]/g, '') } } : {};
    const destination = { operatingAccount: { accountType: c.accountType ?? 'GOOGLE_ADS', accountId: accountIdOf(c) }, ...login, productDestinationId: audience.id };
    const path = `/v1/audienceMembers:${op}`;
    const body = (batch: Prepared[]) => ({
      destinations: [destination],
      audienceMembers: batch.map((m) => m.member),
      // Required for userData, ignored for mobile ids.
      ...(listType === 'CONTACT_ID' ? { encoding: 'HEX' } : {}),
      ...(op === 'ingest'
        ? {
            consent: { adUserData: c.adUserDataConsent ?? 'CONSENT_GRANTED', adPersonalization: c.adPersonalizationConsent ?? 'CONSENT_GRANTED' },
            termsOfService: { customerMatchTermsOfServiceStatus: 'ACCEPTED' },
          }
        : {}),
    });

    await withSession(ctx, async (s) => {
      for (let i = 0; i < members.length; i += GOOGLE_MAX_MEMBERS) {
        let pending = members.slice(i, i + GOOGLE_MAX_MEMBERS);
        // Fast-fail: a request naming bad members applied nothing, so those
        // members are rejected and the rest sent again. Every round removes
        // at least one member, so this ends.
        while (pending.length > 0) {
          const res = await s.send('POST', path, { json: body(pending) });
          if (res.status < 300) {
            const { requestId } = s.json<{ requestId?: string }>('POST', path, res.text);
            ctx.logger.debug({ audienceId: audience.id, op, members: pending.length, requestId }, 'Google accepted the audience members');
            break;
          }
          const bad = res.status === 400 ? memberViolations(statusOf(res.text), pending.length) : undefined;
          if (!bad) throw s.failure('POST', path, res.status, res.text);
          for (const [index, v] of bad) {
            rejected.push({
              key: pending[index]!.row.key,
              code: v.reason ?? reasonOf(statusOf(res.text)) ?? 'INVALID_AUDIENCE_MEMBER',
              message: `Google refused this member: ${v.description ?? v.reason ?? 'invalid'}`,
            });
          }
          ctx.logger.warn({ audienceId: audience.id, op, refused: bad.size, resending: pending.length - bad.size }, 'Google refused members of the request; sending the rest again');
          pending = pending.filter((_, index) => !bad.has(index));
        }
      }
    });
    return { rejected };
  };

  return {
    type: 'google_ads',
    name: 'Google Ads Customer Match',
    spec: {
      category: 'AD_PLATFORM',
      configSchema: [
        {
          name: 'accessToken',
          type: 'string',
          required: true,
          secret: true,
          description: 'an OAuth 2.0 access token with the https://www.googleapis.com/auth/datamanager scope',
        },
        { name: 'accountId', type: 'string', required: true, secret: false, description: 'the operating account id, e.g. the Google Ads customer id 123-456-7890' },
        { name: 'accountType', type: 'enum', required: false, secret: false, description: 'the kind of operating account', enum: GOOGLE_ACCOUNT_TYPES, default: 'GOOGLE_ADS' },
        { name: 'loginAccountId', type: 'string', required: false, secret: false, description: "a manager account the token's user belongs to, when not the operating account" },
        { name: 'loginAccountType', type: 'enum', required: false, secret: false, description: 'the kind of login account (default: accountType)', enum: GOOGLE_ACCOUNT_TYPES },
        {
          name: 'customerMatchTermsAccepted',
          type: 'boolean',
          required: true,
          secret: false,
          description: "the advertiser accepts Google's Customer Match terms (support.google.com/adspolicy/answer/6299717); uploads need it",
        },
        { name: 'adUserDataConsent', type: 'enum', required: false, secret: false, description: "the users' consent to ad user data", enum: GOOGLE_CONSENT_STATUSES, default: 'CONSENT_GRANTED' },
        {
          name: 'adPersonalizationConsent',
          type: 'enum',
          required: false,
          secret: false,
          description: "the users' consent to ad personalization",
          enum: GOOGLE_CONSENT_STATUSES,
          default: 'CONSENT_GRANTED',
        },
        {
          name: 'membershipDurationDays',
          type: 'integer',
          required: false,
          secret: false,
          description: `days a member stays in a new list, 1 to ${GOOGLE_MAX_MEMBERSHIP_DAYS}`,
          default: GOOGLE_MAX_MEMBERSHIP_DAYS,
        },
        { name: 'defaultPhoneCountryCode', type: 'string', required: false, secret: false, description: 'country calling code added to phone numbers written without one, e.g. 1 or 44' },
        { name: 'mobileAppId', type: 'string', required: false, secret: false, description: 'for MOBILE_ID lists: the app id (bundle id or package name) the device ids come from' },
        { name: 'mobileKeySpace', type: 'enum', required: false, secret: false, description: 'for MOBILE_ID lists: the device id space', enum: ['IOS', 'ANDROID'] },
        { name: 'baseUrl', type: 'url', required: false, secret: false, description: 'the Data Manager API base URL', default: GOOGLE_DM_BASE_URL },
      ],
      identifiers: [
        { type: 'EMAIL', hashed: true },
        { type: 'PHONE', hashed: true },
        { type: 'FIRST_NAME', hashed: true },
        { type: 'LAST_NAME', hashed: true },
        { type: 'COUNTRY', hashed: false },
        { type: 'ZIP', hashed: false },
        { type: 'MAID', hashed: false },
      ],
      audiences: { canList: true, canCreate: true, types: GOOGLE_LIST_TYPES, defaultType: 'CONTACT_ID' },
      batchSize: GOOGLE_MAX_MEMBERS,
      rateLimit: GOOGLE_RATE_LIMIT,
      requiresProfiles: false,
      reportsMatchRate: true,
      supportsUpdate: false,
    },

    validateConfig(config: GoogleAdsConfig): ValidationProblem[] {
      const problems: ValidationProblem[] = [];
      if (!/^\d+$/.test(accountIdOf(config))) problems.push({ path: ['accountId'], message: 'expected the account id as digits (hyphens allowed), but got other characters' });
      if (config.loginAccountId !== undefined && !/^\d+$/.test(config.loginAccountId.replace(/[-\s]/g, ''))) {
        problems.push({ path: ['loginAccountId'], message: 'expected the login account id as digits (hyphens allowed), but got other characters' });
      }
      if (config.customerMatchTermsAccepted !== true) {
        problems.push({ path: ['customerMatchTermsAccepted'], message: 'expected true: Google refuses Customer Match uploads unless its terms are accepted, but got false' });
      }
      const days = config.membershipDurationDays;
      if (days !== undefined && (days < 1 || days > GOOGLE_MAX_MEMBERSHIP_DAYS)) {
        problems.push({ path: ['membershipDurationDays'], message: `expected 1 to ${GOOGLE_MAX_MEMBERSHIP_DAYS} days, but got ${days}` });
      }
      if (config.defaultPhoneCountryCode !== undefined && !/^\d{1,3}$/.test(config.defaultPhoneCountryCode)) {
        problems.push({ path: ['defaultPhoneCountryCode'], message: 'expected a country calling code of 1 to 3 digits (e.g. 1 or 44), but got other characters' });
      }
      if ((config.mobileAppId === undefined) !== (config.mobileKeySpace === undefined)) {
        problems.push({ path: [config.mobileAppId === undefined ? 'mobileAppId' : 'mobileKeySpace'], message: 'expected mobileAppId and mobileKeySpace together (MOBILE_ID lists need both), but got only one' });
      }
      return problems;
    },

    async check(ctx) {
      const path = `${parentOf(ctx.config)}/userLists`;
      const res = await withSession(ctx, (s) => call<{ userLists?: unknown }>(s, 'GET', path, { query: { pageSize: 1 }, headers: loginHeader(ctx.config) }));
      if (res.userLists !== undefined && !Array.isArray(res.userLists)) {
        throw new ConnectorError(`GET ${path}: expected {"userLists": [...]}, but got "userLists" that is not a list`, 'INVALID_RESPONSE', false);
      }
    },

    async listAudiences(ctx) {
      const path = `${parentOf(ctx.config)}/userLists`;
      return withSession(ctx, async (s) => {
        const out: Audience[] = [];
        const seen = new Set<string>();
        let pageToken: string | undefined;
        for (;;) {
          const page = await call<{ userLists?: UserList[]; nextPageToken?: string }>(s, 'GET', path, {
            query: { pageSize: 1000, ...(pageToken ? { pageToken } : {}) },
            headers: loginHeader(ctx.config),
          });
          // proto3 JSON omits an empty list.
          const lists = page.userLists ?? [];
          if (!Array.isArray(lists)) throw new ConnectorError(`GET ${path}: expected "userLists" to be a list`, 'INVALID_RESPONSE', false);
          for (const ul of lists) {
            const a = toAudience(ul);
            if (a) out.push(a);
          }
          if (!page.nextPageToken) return out;
          if (seen.has(page.nextPageToken)) throw new ConnectorError(`GET ${path}: the page token repeated; expected a new nextPageToken on every page`, 'INVALID_RESPONSE', false);
          seen.add(page.nextPageToken);
          pageToken = page.nextPageToken;
        }
      });
    },

    async createAudience(ctx, input) {
      const c = ctx.config;
      const type = (input.type ?? 'CONTACT_ID') as ListType;
      if (!GOOGLE_LIST_TYPES.includes(type)) {
        throw new ConnectorError(`expected a list type of ${GOOGLE_LIST_TYPES.join(' or ')}, but got "${String(input.type).slice(0, 40)}"`, 'INVALID_AUDIENCE_TYPE', false);
      }
      let info: Record<string, unknown>;
      if (type === 'MOBILE_ID') {
        if (!c.mobileAppId || !c.mobileKeySpace) {
          throw new ConnectorError('expected mobileAppId and mobileKeySpace in the destination settings: a MOBILE_ID list is tied to one app, but they are not set', 'CONFIG_INCOMPLETE', false);
        }
        info = { uploadKeyTypes: ['MOBILE_ID'], mobileIdInfo: { dataSourceType: 'DATA_SOURCE_TYPE_FIRST_PARTY', keySpace: c.mobileKeySpace, appId: c.mobileAppId } };
      } else {
        info = { uploadKeyTypes: ['CONTACT_ID'], contactIdInfo: { dataSourceType: 'DATA_SOURCE_TYPE_FIRST_PARTY' } };
      }
      const days = c.membershipDurationDays ?? GOOGLE_MAX_MEMBERSHIP_DAYS;
      const path = `${parentOf(c)}/userLists`;
      const created = await withSession(ctx, (s) =>
        call<UserList>(s, 'POST', path, {
          json: {
            displayName: input.name,
            description: 'Synced by Roster',
            membershipStatus: 'OPEN',
            membershipDuration: `${days * 86_400}s`,
            ingestedUserListInfo: info,
          },
          headers: loginHeader(c),
        }),
      );
      const a = toAudience(created);
      if (!a) throw new ConnectorError(`POST ${path}: expected the created user list with an id, but got a response without one`, 'INVALID_RESPONSE', false);
      return { ...a, name: input.name, type };
    },

    add: (ctx, audience, rows) => deliver(ctx, audience, rows, 'ingest'),
    remove: (ctx, audience, rows) => deliver(ctx, audience, rows, 'remove'),

    async matchRate(ctx, audience): Promise<AudienceStats> {
      const path = `${parentOf(ctx.config)}/userLists/${encodeURIComponent(audience.id)}`;
      const ul = await withSession(ctx, (s) => call<UserList>(s, 'GET', path, { headers: loginHeader(ctx.config) }));
      const display = ul.sizeInfo ? (int64(ul.sizeInfo.displayNetworkMembersCount) ?? 0) : null;
      const search = ul.sizeInfo ? (int64(ul.sizeInfo.searchNetworkMembersCount) ?? 0) : null;
      const pct = ul.ingestedUserListInfo?.contactIdInfo?.matchRatePercentage;
      return {
        // Google reports sizes per network, not matched members; the larger is the list's reach.
        matched: display === null && search === null ? null : Math.max(display ?? 0, search ?? 0),
        uploaded: null,
        // An absent percentage is "not computed yet" (hours after an upload), not 0.
        rate: typeof pct === 'number' ? pct / 100 : null,
      };
    },
  };
}

export const googleAdsConnector = createGoogleAdsConnector();
