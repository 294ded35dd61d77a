// A LinkedIn Marketing API (DMP segments) on loopback that enforces the
// contract src/connectors/linkedin/index.ts documents: a bearer token, the
// LinkedIn-Version and X-Restli-Protocol-Version headers on every request,
// X-RestLi-Method: BATCH_CREATE on /users, the ad account URN, the create
// payload, at most `maxElements` elements per request, SHA-256/SHA-512 e-mails
// as lower-case hex and MAIDs raw, names of at most 35 characters. Any
// violation is a Refusal (HTTP 400 in LinkedIn's error envelope).
//
// It keeps segments and their users, pages the account listing with
// start/count, answers 404 for `readyAfterMs` after a segment is created (as
// LinkedIn does), rejects configured user ids per element, and reports
// matchedCount = floor(users × matchRatio) with inputCount = users.
import { Refusal, SHA256_HEX, bearer, startFakeVendor, type FakePlatform, type Throttle, type VendorRequest } from './fake-vendor.js';

export interface LinkedInFakeOptions {
  token?: string;
  adAccountId?: string;
  sourcePlatform?: string;
  /** Elements per /users request (default 5,000). */
  maxElements?: number;
  /** Largest page the listing returns, whatever count asks (default 100). */
  maxPageSize?: number;
  /** A new segment answers 404 on /users for this long (default 0). */
  readyAfterMs?: number;
  matchRatio?: number;
  throttle?: Throttle;
}

export interface LinkedInUserRejection {
  status?: number;
  message: string;
  serviceErrorCode?: number;
}

export interface LinkedInFake extends FakePlatform {
  /** User ids (idValue) whose elements are answered with an error status. */
  rejectIds: Map<string, LinkedInUserRejection>;
  /** The raw stored segment, for assertions on its fields. */
  segment(id: string): { name: string; type: string; sourcePlatform: string; account: string; accessPolicy: unknown } | undefined;
}

type Member = Partial<Record<string, string>>;
interface Segment {
  id: number;
  name: string;
  type: string;
  sourcePlatform: string;
  account: string;
  accessPolicy: unknown;
  createdAt: number;
  /** By the first user id's "type:value"; the member's other ids match too. */
  users: Map<string, Member>;
}

const ID_TYPES: Record<string, { re: RegExp; as: string; what: string }> = {
  SHA256_EMAIL: { re: SHA256_HEX, as: 'EMAIL', what: '64 lower-case hex characters' },
  SHA512_EMAIL: { re: /^[0-9a-f]{128}$/, as: 'EMAIL', what: '128 lower-case hex characters' },
  GOOGLE_AID: { re: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, as: 'MAID', what: 'a raw lower-case UUID' },
  APPLE_IDFA: { re: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, as: 'MAID', what: 'a raw lower-case UUID' },
};

const envelope = (status: number, message: string, serviceErrorCode = 100) => ({ status, serviceErrorCode, message });
const refuse = (message: string, status = 400): never => {
  throw new Refusal(status, message, envelope(status, message));
};

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export async function startLinkedInFake(opts: LinkedInFakeOptions = {}): Promise<LinkedInFake> {
  const token = opts.token ?? 'li-token-3f9a7c';
  const accountId = opts.adAccountId ?? '508912345';
  const accountUrn = `urn:li:sponsoredAccount:${accountId}`;
  const sourcePlatform = opts.sourcePlatform ?? 'ROSTER_TEST';
  const maxElements = opts.maxElements ?? 5_000;
  const maxPageSize = opts.maxPageSize ?? 100;
  const readyAfterMs = opts.readyAfterMs ?? 0;
  let matchRatio = opts.matchRatio ?? 0.8;
  const segments = new Map<number, Segment>();
  const rejectIds = new Map<string, LinkedInUserRejection>();
  let nextId = 18_000_001;

  /** Headers every Rest.li versioned call needs. */
  const versioned = (req: VendorRequest) => {
    const version = req.headers['linkedin-version'];
    if (typeof version !== 'string' || !/^20\d{4}$/.test(version)) refuse('expected a LinkedIn-Version header of the form YYYYMM', 400);
    if (req.headers['x-restli-protocol-version'] !== '2.0.0') refuse('expected X-Restli-Protocol-Version: 2.0.0', 400);
  };

  const segmentOf = (req: VendorRequest): Segment | undefined => {
    const id = req.params.id ?? '';
    return /^\d+$/.test(id) ? segments.get(Number(id)) : undefined;
  };

  const view = (s: Segment) => {
    const users = s.users.size;
    const matched = Math.floor(users * matchRatio);
    return {
      id: s.id,
      name: s.name,
      type: s.type,
      account: s.account,
      sourcePlatform: s.sourcePlatform,
      accessPolicy: s.accessPolicy ?? 'PRIVATE',
      created: s.createdAt,
      lastModified: s.createdAt,
      inputCount: users,
      destinations: [
        { destination: 'LINKEDIN', status: users > 0 ? 'READY' : 'BUILDING', matchedCount: matched, audienceSize: matched, destinationSegmentId: `urn:li:adSegment:${s.id}` },
      ],
    };
  };

  /** Validates one element and returns its user ids, or refuses the request. */
  const checkElement = (el: unknown, i: number): { action: string; ids: { idType: string; idValue: string }[]; extra: Member } => {
    if (!isObject(el)) return refuse(`elements[${i}] is not an object`);
    if (el.action !== 'ADD' && el.action !== 'REMOVE') refuse(`elements[${i}].action must be ADD or REMOVE`);
    if (!Array.isArray(el.userIds) || el.userIds.length === 0) refuse(`elements[${i}].userIds must be a non-empty list`);
    const ids = (el.userIds as unknown[]).map((u, j) => {
      if (!isObject(u) || typeof u.idType !== 'string' || typeof u.idValue !== 'string') return refuse(`elements[${i}].userIds[${j}] must be { idType, idValue }`);
      const rule = ID_TYPES[u.idType];
      if (!rule) return refuse(`elements[${i}].userIds[${j}].idType ${JSON.stringify(u.idType)} is not a known IdType`);
      if (!rule.re.test(u.idValue)) return refuse(`elements[${i}].userIds[${j}] (${u.idType}) must be ${rule.what}`);
      return { idType: u.idType, idValue: u.idValue };
    });
    const extra: Member = {};
    for (const [field, as] of [
      ['firstName', 'FIRST_NAME'],
      ['lastName', 'LAST_NAME'],
    ] as const) {
      const v = el[field];
      if (v === undefined) continue;
      if (typeof v !== 'string' || v.trim() === '' || [...v].length > 35) refuse(`elements[${i}].${field} must be a string of 1 to 35 characters`);
      extra[as] = v as string;
    }
    if (el.country !== undefined) {
      if (typeof el.country !== 'string' || !/^[A-Z]{2}$/.test(el.country)) refuse(`elements[${i}].country must be an upper-case ISO alpha-2 code`);
      extra.COUNTRY = el.country as string;
    }
    for (const k of Object.keys(el)) {
      if (!['action', 'userIds', 'firstName', 'lastName', 'title', 'company', 'country'].includes(k)) refuse(`elements[${i}] has an unknown field ${JSON.stringify(k)}`);
    }
    return { action: el.action as string, ids, extra };
  };

  const vendor = await startFakeVendor({
    name: 'LinkedIn',
    auth: bearer(token),
    authFailure: (why) => ({ status: 401, body: { status: 401, serviceErrorCode: 65600, code: 'INVALID_ACCESS_TOKEN', message: `Invalid access token (${why})` } }),
    notFound: () => envelope(404, 'Not Found', 0),
    ...(opts.throttle ? { throttle: { body: envelope(429, 'Resource level throttle APPLICATION MEMBER limit reached', 101), ...opts.throttle } } : {}),
    routes: [
      {
        method: 'GET',
        path: '/rest/dmpSegments',
        handler: (req) => {
          versioned(req);
          if (req.query.get('q') !== 'account') refuse('expected the finder q=account');
          const account = req.query.get('account');
          if (account !== accountUrn) {
            throw new Refusal(403, 'account is not the one the token may read', envelope(403, `Not enough permissions to access: ${account ?? 'no account'}`, 100));
          }
          const start = Number(req.query.get('start') ?? '0');
          const count = req.query.has('count') ? Number(req.query.get('count')) : Number.POSITIVE_INFINITY;
          if (!Number.isInteger(start) || start < 0 || !(count > 0)) refuse('start and count must be non-negative integers, count at least 1');
          const all = [...segments.values()].filter((s) => s.account === accountUrn);
          const size = Math.min(count, maxPageSize);
          const page = all.slice(start, start + size).map(view);
          return { body: { elements: page, paging: { start, count: page.length, total: all.length, links: [] } } };
        },
      },
      {
        method: 'POST',
        path: '/rest/dmpSegments',
        handler: (req) => {
          versioned(req);
          const b = req.json;
          if (!isObject(b)) return refuse('expected a JSON object');
          if (typeof b.name !== 'string' || b.name.trim() === '') refuse('name must be a non-empty string');
          if (b.account !== accountUrn) throw new Refusal(403, 'account is not the token’s ad account', envelope(403, 'Not enough permissions to access the account'));
          if (b.type !== 'USER' && b.type !== 'COMPANY') refuse('type must be USER or COMPANY');
          if (b.sourcePlatform !== sourcePlatform) refuse(`sourcePlatform must be the one assigned to this app (${sourcePlatform})`);
          if (b.accessPolicy !== undefined && b.accessPolicy !== 'PRIVATE' && b.accessPolicy !== 'PUBLIC') refuse('accessPolicy must be PRIVATE or PUBLIC');
          const dest = b.destinations;
          if (!Array.isArray(dest) || !dest.some((d) => isObject(d) && d.destination === 'LINKEDIN')) refuse('destinations must include { destination: "LINKEDIN" }');
          const id = nextId++;
          segments.set(id, {
            id,
            name: b.name as string,
            type: b.type as string,
            sourcePlatform: b.sourcePlatform as string,
            account: accountUrn,
            accessPolicy: b.accessPolicy,
            createdAt: Date.now(),
            users: new Map(),
          });
          return { status: 201, headers: { 'x-restli-id': String(id), 'x-linkedin-id': String(id), location: `/dmpSegments/${id}` }, body: '' };
        },
      },
      {
        method: 'GET',
        path: '/rest/dmpSegments/:id',
        handler: (req) => {
          versioned(req);
          const s = segmentOf(req);
          if (!s) return { status: 404, body: envelope(404, 'DMP segment not found', 0) };
          return { body: view(s) };
        },
      },
      {
        method: 'POST',
        path: '/rest/dmpSegments/:id/users',
        handler: (req) => {
          versioned(req);
          if (req.headers['x-restli-method'] !== 'BATCH_CREATE') refuse('expected X-RestLi-Method: BATCH_CREATE for a list of elements');
          const s = segmentOf(req);
          // Not ready yet, or unknown: LinkedIn's answer, not a contract breach.
          if (!s || Date.now() - s.createdAt < readyAfterMs) return { status: 404, body: envelope(404, 'DMP segment not found', 0) };
          if (s.type !== 'USER') refuse('users can only be added to USER segments');
          const b = req.json;
          if (!isObject(b) || !Array.isArray(b.elements)) return refuse('expected { elements: [...] }');
          if (b.elements.length === 0) refuse('elements must not be empty');
          if (b.elements.length > maxElements) refuse(`${b.elements.length} elements exceed the maximum of ${maxElements} per request`);
          const checked = b.elements.map(checkElement);
          const statuses = checked.map(({ action, ids, extra }) => {
            const refused = ids.map((u) => rejectIds.get(u.idValue)).find((r) => r !== undefined);
            if (refused) {
              const status = refused.status ?? 400;
              return { status, error: { status, message: refused.message, ...(refused.serviceErrorCode !== undefined ? { serviceErrorCode: refused.serviceErrorCode } : {}) } };
            }
            const keys = ids.map((u) => `${u.idType}:${u.idValue}`);
            if (action === 'ADD') {
              const member: Member = { ...extra };
              for (const u of ids) member[ID_TYPES[u.idType]!.as] = u.idValue;
              for (const k of keys) s.users.delete(k);
              s.users.set(keys[0]!, member);
            } else {
              // A REMOVE matches any user sharing one of its ids.
              for (const [k, m] of s.users) {
                if (keys.includes(k) || ids.some((u) => m[ID_TYPES[u.idType]!.as] === u.idValue)) s.users.delete(k);
              }
            }
            return { status: 201 };
          });
          return { body: { elements: statuses } };
        },
      },
    ],
  });

  return {
    vendor,
    type: 'linkedin',
    config: { baseUrl: `${vendor.url}/rest`, accessToken: token, adAccountId: accountId, sourcePlatform, linkedinVersion: '202604' },
    audiences: () => [...segments.values()].map((s) => ({ id: String(s.id), name: s.name, type: s.type })),
    members: (id) => [...(segments.get(Number(id))?.users.values() ?? [])].map((m) => ({ ...m })),
    setMatchRatio(r) {
      matchRatio = r;
    },
    rejectIds,
    segment(id) {
      const s = segments.get(Number(id));
      return s && { name: s.name, type: s.type, sourcePlatform: s.sourcePlatform, account: s.account, accessPolicy: s.accessPolicy };
    },
    close: () => vendor.close(),
  };
}
