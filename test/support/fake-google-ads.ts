// A fake Google Data Manager API for Customer Match (the contract at the top
// of src/connectors/google-ads/index.ts, from shared/reference/destinations.md
// §2B and the googleapis datamanager/v1 protos). It enforces, refusing with a
// google.rpc.Status body and recording why:
// - "Authorization: Bearer <token>" (401 UNAUTHENTICATED otherwise); the
//   operating account in paths and destinations (403 PERMISSION_DENIED), and
//   the login account when one is required;
// - user lists: displayName (unique: 409 ALREADY_EXISTS), uploadKeyTypes,
//   mobileIdInfo for MOBILE_ID, membershipDuration a multiple of 86,400 s up
//   to 540 days, no unknown fields; listing with pageSize/pageToken;
// - audienceMembers:ingest/remove: known top-level fields only (remove takes
//   no consent nor termsOfService), 1 to 10 destinations naming existing
//   lists, 1 to 10,000 members of one data type that the list's upload key
//   type takes, encoding for userData, 1 to 10 identifiers per member, hashed
//   values as 64 lower-case hex, an address only whole with regionCode and
//   postalCode raw; ingest needs consent and termsOfService ACCEPTED.
// Member-level problems are answered the fast-fail way: 400 naming each bad
// member as "audience_members.audience_members[i]…" in BadRequest field
// violations, and nothing of the request applied. Members whose e-mail hash
// is in `rejectEmails` are refused that way too (configured, so not recorded
// as a contract refusal).
//
// Throttling answers 429 RESOURCE_EXHAUSTED, with Retry-After unless told not to.
import { randomUUID } from 'node:crypto';
import { Refusal, SHA256_HEX, bearer, startFakeVendor, type FakePlatform, type FakeVendor, type Throttle, type VendorRequest } from './fake-vendor.js';

export interface GoogleAdsFakeOptions {
  accessToken?: string;
  accountType?: string;
  accountId?: string;
  /** When set, requests must come through this login (manager) account id. */
  loginAccountId?: string;
  throttle?: GoogleThrottleOptions;
  matchRatio?: number;
  /** Largest page a list answers (default 1000, the API's maximum). */
  maxPageSize?: number;
  /** Members per request (default 10,000). */
  maxMembers?: number;
}

export interface GoogleThrottleOptions {
  limit: number;
  windowMs: number;
  /** Send Retry-After (default true; Google does not document one). */
  retryAfter?: boolean;
}

export interface GoogleAdsFake extends FakePlatform {
  /** Members with one of these e-mail hashes are refused with the given ErrorReason. */
  rejectEmails: Map<string, string>;
  /** Accepted ingest/remove requests. */
  requests: { op: 'ingest' | 'remove'; userListIds: string[]; members: number; requestId: string }[];
  /** A list created outside Roster (e.g. a rule-based one), for listing tests. */
  seedUserList(name: string, uploadKeyType?: string): string;
}

interface FieldViolation {
  field: string;
  description: string;
  reason: string;
}

const UPLOAD_KEY_TYPES = ['CONTACT_ID', 'MOBILE_ID', 'USER_ID', 'PAIR_ID', 'PSEUDONYMOUS_ID'];
const CONSENT = ['CONSENT_GRANTED', 'CONSENT_DENIED', 'CONSENT_STATUS_UNSPECIFIED'];
const USER_LIST_FIELDS = ['displayName', 'description', 'membershipStatus', 'integrationCode', 'membershipDuration', 'ingestedUserListInfo', 'accountAccessStatus', 'targetNetworkInfo'];
const INGEST_FIELDS = ['destinations', 'audienceMembers', 'consent', 'validateOnly', 'encoding', 'encryptionInfo', 'termsOfService'];
const REMOVE_FIELDS = ['destinations', 'audienceMembers', 'validateOnly', 'encoding', 'encryptionInfo'];
const MAX_DURATION_S = 540 * 86_400;

/** A google.rpc.Status error body. */
export function googleError(code: number, status: string, message: string, reason?: string, violations: FieldViolation[] = []) {
  return {
    error: {
      code,
      message,
      status,
      details: [
        ...(reason ? [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'datamanager.googleapis.com' }] : []),
        ...(violations.length ? [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: violations }] : []),
      ],
    },
  };
}

const invalid = (why: string, reason = 'INVALID_ARGUMENT', violations: FieldViolation[] = []) =>
  new Refusal(400, why, googleError(400, 'INVALID_ARGUMENT', violations.length ? 'There was a problem with the request.' : why, reason, violations));
const denied = (why: string) => new Refusal(403, why, googleError(403, 'PERMISSION_DENIED', `The caller does not have permission: ${why}`, 'PERMISSION_DENIED'));

/** Google's quota answer, for vendor.setThrottle(). */
export function googleThrottle(t: GoogleThrottleOptions): Throttle {
  return {
    limit: t.limit,
    windowMs: t.windowMs,
    status: 429,
    retryAfter: t.retryAfter ?? true,
    body: googleError(429, 'RESOURCE_EXHAUSTED', "Quota exceeded for quota metric 'Ingestion requests' and limit 'per minute'.", 'RESOURCE_EXHAUSTED'),
  };
}

type Member = Partial<Record<'EMAIL' | 'PHONE' | 'FIRST_NAME' | 'LAST_NAME' | 'COUNTRY' | 'ZIP' | 'MAID', string>>;

/** A list's members; members sharing an identifier are one person (indexed, for 10,000-member requests). */
class Members {
  private rows = new Map<number, Member>();
  private index = new Map<string, number>();
  private next = 0;

  private static tokens(m: Member): string[] {
    const t: string[] = [];
    if (m.EMAIL) t.push(`E:${m.EMAIL}`);
    if (m.PHONE) t.push(`P:${m.PHONE}`);
    if (m.FIRST_NAME) t.push(`A:${m.FIRST_NAME}|${m.LAST_NAME}|${m.COUNTRY}|${m.ZIP}`);
    if (m.MAID) t.push(`M:${m.MAID}`);
    return t;
  }
  private drop(id: number): void {
    const m = this.rows.get(id);
    if (!m) return;
    for (const t of Members.tokens(m)) if (this.index.get(t) === id) this.index.delete(t);
    this.rows.delete(id);
  }
  private matching(m: Member): Set<number> {
    return new Set(Members.tokens(m).flatMap((t) => (this.index.has(t) ? [this.index.get(t)!] : [])));
  }
  upsert(m: Member): void {
    for (const id of this.matching(m)) this.drop(id);
    const id = this.next++;
    this.rows.set(id, m);
    for (const t of Members.tokens(m)) this.index.set(t, id);
  }
  remove(m: Member): void {
    for (const id of this.matching(m)) this.drop(id);
  }
  get size(): number {
    return this.rows.size;
  }
  list(): Member[] {
    return [...this.rows.values()];
  }
}

interface FakeList {
  id: string;
  displayName: string;
  description?: string;
  membershipStatus: string;
  membershipDuration?: string;
  info: Record<string, unknown> & { uploadKeyTypes: string[] };
  members: Members;
}

export async function startGoogleAdsFake(opts: GoogleAdsFakeOptions = {}): Promise<GoogleAdsFake> {
  const token = opts.accessToken ?? 'ya29.fake-google-token-Zx81';
  const accountType = opts.accountType ?? 'GOOGLE_ADS';
  const accountId = opts.accountId ?? '1234567890';
  const maxPageSize = Math.min(opts.maxPageSize ?? 1000, 1000);
  const maxMembers = opts.maxMembers ?? 10_000;
  let matchRatio = opts.matchRatio ?? 0.8;
  const lists = new Map<string, FakeList>();
  const rejectEmails = new Map<string, string>();
  const requests: GoogleAdsFake['requests'] = [];
  let nextId = 9_100_000_000;

  const create = (displayName: string, info: FakeList['info'], extra: Partial<FakeList> = {}): FakeList => {
    const l: FakeList = { id: String(++nextId), displayName, membershipStatus: 'OPEN', info, members: new Members(), ...extra };
    lists.set(l.id, l);
    return l;
  };

  const checkAccount = (req: VendorRequest) => {
    if (req.params.accountType !== accountType || req.params.accountId !== accountId) {
      throw denied(`no access to accountTypes/${req.params.accountType}/accounts/${req.params.accountId}`);
    }
    if (opts.loginAccountId && req.headers['login-account'] !== `accountTypes/${accountType}/accounts/${opts.loginAccountId}`) {
      throw denied(`expected the login-account header accountTypes/${accountType}/accounts/${opts.loginAccountId}`);
    }
  };

  const view = (l: FakeList) => {
    const matched = Math.floor(l.members.size * matchRatio);
    const contact = l.info.uploadKeyTypes.includes('CONTACT_ID');
    const pct = Math.round(matchRatio * 100);
    // proto3 JSON: zero numbers are omitted; no percentage before any upload.
    const contactIdInfo = contact ? { ...((l.info.contactIdInfo as object | undefined) ?? {}), ...(l.members.size > 0 && pct > 0 ? { matchRatePercentage: pct } : {}) } : undefined;
    return {
      name: `accountTypes/${accountType}/accounts/${accountId}/userLists/${l.id}`,
      id: l.id,
      displayName: l.displayName,
      ...(l.description ? { description: l.description } : {}),
      membershipStatus: l.membershipStatus,
      ...(l.membershipDuration ? { membershipDuration: l.membershipDuration } : {}),
      accessReason: 'OWNED',
      sizeInfo: matched > 0 ? { displayNetworkMembersCount: String(matched), searchNetworkMembersCount: String(matched) } : {},
      ingestedUserListInfo: { ...l.info, ...(contactIdInfo ? { contactIdInfo } : {}) },
    };
  };

  const createList = (req: VendorRequest) => {
    checkAccount(req);
    const b = req.json as Record<string, unknown> | undefined;
    if (!b || typeof b !== 'object' || Array.isArray(b)) throw invalid('expected a UserList JSON object');
    const unknown = Object.keys(b).filter((k) => !USER_LIST_FIELDS.includes(k));
    if (unknown.length) throw invalid(`Invalid JSON payload received. Unknown name "${unknown[0]}" at 'user_list'`);
    if (typeof b.displayName !== 'string' || b.displayName.trim() === '') throw invalid('user_list.display_name is required', 'REQUIRED_FIELD_MISSING');
    if (b.membershipStatus !== undefined && b.membershipStatus !== 'OPEN' && b.membershipStatus !== 'CLOSED') throw invalid('membership_status must be OPEN or CLOSED', 'INVALID_ENUM_VALUE');
    if (b.membershipDuration !== undefined) {
      const m = typeof b.membershipDuration === 'string' ? /^(\d+)s$/.exec(b.membershipDuration) : null;
      const s = m ? Number(m[1]) : NaN;
      if (!m || s % 86_400 !== 0 || s <= 0 || s > MAX_DURATION_S) throw invalid('membership_duration must be a positive multiple of 86400s, at most 540 days', 'INVALID_FORMAT');
    }
    const info = b.ingestedUserListInfo as FakeList['info'] | undefined;
    if (!info || !Array.isArray(info.uploadKeyTypes) || info.uploadKeyTypes.length === 0) {
      throw invalid('ingested_user_list_info.upload_key_types is required', 'REQUIRED_FIELD_MISSING');
    }
    for (const k of info.uploadKeyTypes) if (!UPLOAD_KEY_TYPES.includes(k)) throw invalid(`unknown upload key type ${String(k)}`, 'INVALID_ENUM_VALUE');
    if (info.uploadKeyTypes.includes('MOBILE_ID')) {
      const m = info.mobileIdInfo as { keySpace?: unknown; appId?: unknown } | undefined;
      if (!m || (m.keySpace !== 'IOS' && m.keySpace !== 'ANDROID') || typeof m.appId !== 'string' || m.appId === '') {
        throw invalid('mobile_id_info.key_space and mobile_id_info.app_id are required for MOBILE_ID lists', 'REQUIRED_FIELD_MISSING');
      }
    }
    if ([...lists.values()].some((l) => l.displayName === b.displayName)) {
      return { status: 409, body: googleError(409, 'ALREADY_EXISTS', `A user list named "${b.displayName}" already exists.`) };
    }
    const l = create(b.displayName, info, {
      ...(typeof b.description === 'string' ? { description: b.description } : {}),
      ...(typeof b.membershipStatus === 'string' ? { membershipStatus: b.membershipStatus } : {}),
      ...(typeof b.membershipDuration === 'string' ? { membershipDuration: b.membershipDuration } : {}),
    });
    return { body: view(l) };
  };

  /** Checks one member; returns its violations (by field) and what it holds. */
  const checkMember = (raw: unknown, i: number, encoding: string | undefined): { violations: FieldViolation[]; member: Member; kind: string } => {
    const at = `audience_members.audience_members[${i}]`;
    const v: FieldViolation[] = [];
    const member: Member = {};
    const m = raw as Record<string, unknown> | null;
    const kinds = m && typeof m === 'object' ? ['userData', 'mobileData', 'pairData'].filter((k) => k in m) : [];
    if (kinds.length !== 1) return { violations: [{ field: at, description: 'exactly one of user_data, mobile_data, pair_data is required', reason: 'INVALID_AUDIENCE_MEMBER' }], member, kind: '?' };
    const kind = kinds[0]!;
    const hashed = (value: unknown, field: string): string | undefined => {
      if (typeof value !== 'string' || value === '') {
        v.push({ field, description: 'a hashed value is required', reason: 'REQUIRED_FIELD_MISSING' });
        return undefined;
      }
      if (encoding === 'BASE64') {
        if (Buffer.from(value, 'base64').length !== 32 || !/^[A-Za-z0-9+/]{43}=$/.test(value)) v.push({ field, description: 'not a base64 SHA-256 digest', reason: 'INVALID_SHA256_FORMAT' });
        return value;
      }
      if (!/^[0-9a-fA-F]*$/.test(value)) v.push({ field, description: 'value is not hex encoded', reason: 'INVALID_HEX_ENCODING' });
      else if (!SHA256_HEX.test(value)) v.push({ field, description: 'expected a SHA-256 digest as 64 lower-case hex characters', reason: 'INVALID_SHA256_FORMAT' });
      return value;
    };
    if (kind === 'userData') {
      const ids = (m!.userData as { userIdentifiers?: unknown })?.userIdentifiers;
      if (!Array.isArray(ids) || ids.length === 0) v.push({ field: `${at}.user_data.user_identifiers`, description: 'at least one user identifier is required', reason: 'REQUIRED_FIELD_MISSING' });
      else if (ids.length > 10) v.push({ field: `${at}.user_data.user_identifiers`, description: 'at most 10 user identifiers per member', reason: 'TOO_MANY_USER_IDENTIFIERS' });
      else {
        ids.forEach((id: unknown, j) => {
          const f = `${at}.user_data.user_identifiers[${j}]`;
          const keys = id && typeof id === 'object' ? Object.keys(id) : [];
          if (keys.length !== 1 || !['emailAddress', 'phoneNumber', 'address'].includes(keys[0]!)) {
            v.push({ field: f, description: 'exactly one of email_address, phone_number, address is required', reason: 'INVALID_FORMAT' });
            return;
          }
          const o = id as Record<string, unknown>;
          if ('emailAddress' in o) member.EMAIL = hashed(o.emailAddress, `${f}.email_address`);
          else if ('phoneNumber' in o) member.PHONE = hashed(o.phoneNumber, `${f}.phone_number`);
          else {
            const a = (o.address ?? {}) as Record<string, unknown>;
            for (const part of ['givenName', 'familyName', 'regionCode', 'postalCode']) {
              if (typeof a[part] !== 'string' || a[part] === '') v.push({ field: `${f}.address.${part}`, description: `${part} is required`, reason: 'REQUIRED_FIELD_MISSING' });
            }
            member.FIRST_NAME = hashed(a.givenName, `${f}.address.given_name`);
            member.LAST_NAME = hashed(a.familyName, `${f}.address.family_name`);
            if (typeof a.regionCode === 'string' && !/^[A-Z]{2}$/.test(a.regionCode)) v.push({ field: `${f}.address.region_code`, description: 'expected an ISO 3166-1 alpha-2 code, unhashed', reason: 'INVALID_COUNTRY_CODE' });
            if (typeof a.postalCode === 'string' && (SHA256_HEX.test(a.postalCode) || a.postalCode.length > 10)) {
              v.push({ field: `${f}.address.postal_code`, description: 'expected the postal code unhashed', reason: 'INVALID_POSTAL_CODE' });
            }
            member.COUNTRY = a.regionCode as string;
            member.ZIP = a.postalCode as string;
          }
        });
      }
    } else if (kind === 'mobileData') {
      const ids = (m!.mobileData as { mobileIds?: unknown })?.mobileIds;
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > 10 || !ids.every((x) => typeof x === 'string' && x !== '')) {
        v.push({ field: `${at}.mobile_data.mobile_ids`, description: '1 to 10 mobile ids are required', reason: 'INVALID_MOBILE_ID_FORMAT' });
      } else member.MAID = ids[0] as string;
    }
    return { violations: v, member, kind };
  };

  const members = (req: VendorRequest) => {
    const op = req.params.op === ':ingest' ? 'ingest' : req.params.op === ':remove' ? 'remove' : undefined;
    if (!op) throw new Refusal(404, `no method audienceMembers${req.params.op}`, googleError(404, 'NOT_FOUND', `Method not found: audienceMembers${req.params.op}`));
    const b = req.json as Record<string, unknown> | undefined;
    if (!b || typeof b !== 'object' || Array.isArray(b)) throw invalid('expected a JSON request body');
    const allowed = op === 'ingest' ? INGEST_FIELDS : REMOVE_FIELDS;
    const unknown = Object.keys(b).filter((k) => !allowed.includes(k));
    if (unknown.length) throw invalid(`Invalid JSON payload received. Unknown name "${unknown[0]}": Cannot find field.`);

    const dests = b.destinations;
    if (!Array.isArray(dests) || dests.length === 0) throw invalid('destinations is required', 'REQUIRED_FIELD_MISSING');
    if (dests.length > 10) throw invalid('at most 10 destinations per request', 'TOO_MANY_DESTINATIONS');
    const targets = dests.map((d: unknown) => {
      const o = (d ?? {}) as { operatingAccount?: { accountType?: unknown; accountId?: unknown }; loginAccount?: { accountType?: unknown; accountId?: unknown }; productDestinationId?: unknown };
      if (o.operatingAccount?.accountType !== accountType || o.operatingAccount?.accountId !== accountId) {
        throw denied(`no access to operating account ${String(o.operatingAccount?.accountType)}/${String(o.operatingAccount?.accountId)}`);
      }
      if (opts.loginAccountId && (o.loginAccount?.accountId !== opts.loginAccountId || o.loginAccount?.accountType !== accountType)) {
        throw denied(`expected loginAccount ${accountType}/${opts.loginAccountId}`);
      }
      const list = typeof o.productDestinationId === 'string' ? lists.get(o.productDestinationId) : undefined;
      if (!list) throw invalid(`user list ${String(o.productDestinationId)} does not exist in this account`, 'INVALID_USER_LIST_ID');
      return list;
    });

    const all = b.audienceMembers;
    if (!Array.isArray(all) || all.length === 0) throw invalid('audience_members is required', 'REQUIRED_FIELD_MISSING');
    if (all.length > maxMembers) throw invalid(`at most ${maxMembers} audience members per request, got ${all.length}`, 'TOO_MANY_AUDIENCE_MEMBERS');
    const encoding = b.encoding as string | undefined;
    const checked = all.map((m, i) => checkMember(m, i, encoding));
    const kinds = new Set(checked.map((c) => c.kind));
    if (kinds.size > 1) throw invalid('all audience members of a request must hold the same data type', 'MULTIPLE_DATA_TYPES_NOT_ALLOWED');
    const kind = [...kinds][0];
    if (kind === 'userData' && encoding !== 'HEX' && encoding !== 'BASE64') throw invalid('encoding (HEX or BASE64) is required for user data', 'REQUIRED_FIELD_MISSING');
    const needed = kind === 'mobileData' ? 'MOBILE_ID' : 'CONTACT_ID';
    for (const l of targets) if (!l.info.uploadKeyTypes.includes(needed)) throw invalid(`user list ${l.id} does not take ${kind} (its upload key types: ${l.info.uploadKeyTypes.join(', ')})`, 'INVALID_USER_LIST_TYPE');
    if (op === 'ingest') {
      const c = b.consent as { adUserData?: unknown; adPersonalization?: unknown } | undefined;
      if (!c || !CONSENT.includes(c.adUserData as string) || !CONSENT.includes(c.adPersonalization as string)) {
        throw invalid('consent.ad_user_data and consent.ad_personalization are required', 'REQUIRED_FIELD_MISSING');
      }
      const tos = (b.termsOfService as { customerMatchTermsOfServiceStatus?: unknown } | undefined)?.customerMatchTermsOfServiceStatus;
      if (tos !== 'ACCEPTED') throw invalid('The Customer Match terms of service must be accepted.', 'TERMS_AND_CONDITIONS_NOT_SIGNED');
    }

    // Fast-fail: any bad member fails the request, each named by its index.
    const violations = checked.flatMap((c) => c.violations);
    if (violations.length) throw invalid(`${violations.length} member field(s) invalid: ${violations[0]!.field}: ${violations[0]!.description}`, 'INVALID_ARGUMENT', violations);
    const rejected: FieldViolation[] = checked.flatMap((c, i) =>
      c.member.EMAIL && rejectEmails.has(c.member.EMAIL)
        ? [{ field: `audience_members.audience_members[${i}].user_data.user_identifiers`, description: 'This audience member is not valid.', reason: rejectEmails.get(c.member.EMAIL)! }]
        : [],
    );
    if (rejected.length) return { status: 400, body: googleError(400, 'INVALID_ARGUMENT', 'There was a problem with the request.', 'INVALID_ARGUMENT', rejected) };

    if (b.validateOnly !== true) {
      for (const l of targets) for (const c of checked) (op === 'ingest' ? l.members.upsert(c.member) : l.members.remove(c.member));
    }
    const requestId = randomUUID();
    requests.push({ op, userListIds: targets.map((l) => l.id), members: all.length, requestId });
    return { body: { requestId } };
  };

  const vendor: FakeVendor = await startFakeVendor({
    name: 'Google Data Manager API',
    auth: bearer(token),
    authFailure: () => ({
      status: 401,
      body: googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.'),
    }),
    notFound: (req) => googleError(404, 'NOT_FOUND', `The requested URL ${req.path} was not found.`),
    ...(opts.throttle ? { throttle: googleThrottle(opts.throttle) } : {}),
    routes: [
      {
        method: 'GET',
        path: '/v1/accountTypes/:accountType/accounts/:accountId/userLists',
        handler: (req) => {
          checkAccount(req);
          if (req.query.has('filter')) throw invalid('this fake does not evaluate filter expressions');
          const size = Math.min(Number(req.query.get('pageSize') ?? 50) || 50, maxPageSize);
          const token = req.query.get('pageToken');
          const start = token ? Number(Buffer.from(token, 'base64url').toString('utf8')) : 0;
          if (!Number.isInteger(start) || start < 0) throw invalid('invalid page token');
          const all = [...lists.values()];
          const page = all.slice(start, start + size);
          const end = start + page.length;
          return {
            body: {
              ...(page.length ? { userLists: page.map(view) } : {}),
              ...(end < all.length ? { nextPageToken: Buffer.from(String(end)).toString('base64url') } : {}),
            },
          };
        },
      },
      { method: 'POST', path: '/v1/accountTypes/:accountType/accounts/:accountId/userLists', handler: createList },
      {
        method: 'GET',
        path: '/v1/accountTypes/:accountType/accounts/:accountId/userLists/:listId',
        handler: (req) => {
          checkAccount(req);
          const l = lists.get(req.params.listId!);
          if (!l) return { status: 404, body: googleError(404, 'NOT_FOUND', `User list ${req.params.listId} not found.`, 'NOT_FOUND') };
          return { body: view(l) };
        },
      },
      // ":op" captures ":ingest" or ":remove" (the router reads "audienceMembers:op" as a literal plus a parameter).
      { method: 'POST', path: '/v1/audienceMembers:op', handler: members },
    ],
  });

  return {
    vendor,
    type: 'google_ads',
    config: {
      accessToken: token,
      accountId,
      accountType,
      customerMatchTermsAccepted: true,
      baseUrl: vendor.url,
      ...(opts.loginAccountId ? { loginAccountId: opts.loginAccountId } : {}),
    },
    audiences: () => [...lists.values()].map((l) => ({ id: l.id, name: l.displayName, type: l.info.uploadKeyTypes[0] ?? null })),
    members: (id) => lists.get(id)?.members.list() ?? [],
    setMatchRatio: (r) => void (matchRatio = r),
    rejectEmails,
    requests,
    seedUserList: (name, uploadKeyType = 'CONTACT_ID') => create(name, { uploadKeyTypes: [uploadKeyType] }).id,
    close: () => vendor.close(),
  };
}
