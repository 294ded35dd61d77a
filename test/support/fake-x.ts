// An X Ads API v12 on loopback for the custom-audience calls Roster makes
// (src/connectors/x/index.ts), enforcing their contract:
// - OAuth 1.0a on every request: consumer key and token as configured,
//   HMAC-SHA1, a timestamp within 5 minutes, a nonce never seen before, and
//   a signature recomputed here from the method, URL, query and oauth_*
//   parameters (RFC 5849 §3.4; written independently of the connector's).
//   401 UNAUTHORIZED_ACCESS otherwise.
// - Users endpoint: Content-Type application/json; a JSON array of 1 to
//   2,500 operations and at most 5,000,000 bytes; operation_type Update or
//   Delete; params.users a non-empty list of users whose fields are lists of
//   strings; email, phone_number, handle, device_id and twitter_id 64
//   lower-case hex; partner_user_id raw. A request-level violation answers
//   400 { errors }, an item-level one 400 { operation_errors } by index, and
//   either is recorded as a refusal.
// - Custom audiences: names unique in the account; listing by count (1–1,000)
//   and an opaque cursor, next_cursor null on the last page.
// - A rate limit answers 429 TOO_MANY_REQUESTS with x-rate-limit-* headers,
//   and Retry-After unless the throttle says otherwise.
// Audiences keep their users (the exact membership a test asserts); an
// Update replaces the users sharing an identifier with it, a Delete removes
// them. Simulated vendor rejections (not contract violations): operations
// with a user value in `rejectValues` fail with an operation error, and as X
// batches fail or succeed whole, nothing of that request is applied.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Refusal, SHA256_HEX, startFakeVendor, type FakePlatform, type FakeVendor, type Throttle, type VendorRequest } from './fake-vendor.js';

export type XUser = Record<string, string[]>;

export interface FakeCustomAudience {
  id: string;
  name: string;
  users: XUser[];
  createdAt: string;
}

export interface XFake extends FakePlatform {
  accountId: string;
  credentials: { consumerKey: string; consumerSecret: string; accessToken: string; accessTokenSecret: string };
  customAudiences: Map<string, FakeCustomAudience>;
  /** Identifier values (hashes, or raw partner ids) whose operations X refuses. */
  rejectValues: Set<string>;
  /** Adds an audience as if made in the X Ads UI. */
  seedAudience(name: string, users?: XUser[]): FakeCustomAudience;
}

export interface XFakeOptions {
  accountId?: string;
  matchRatio?: number;
  throttle?: Throttle;
}

const MAX_OPERATIONS = 2_500;
const MAX_BODY_BYTES = 5_000_000;
const HASHED_FIELDS = new Set(['email', 'phone_number', 'handle', 'device_id', 'twitter_id']);
const RAW_FIELDS = new Set(['partner_user_id']);
const ROSTER_NAME: Record<string, string> = { email: 'EMAIL', phone_number: 'PHONE', device_id: 'MAID', partner_user_id: 'EXTERNAL_ID' };

const xError = (status: number, code: string, message: string, why = message) => new Refusal(status, why, { errors: [{ code, message }] });

/** RFC 3986 encoding (RFC 5849 §3.6). */
const pct = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function oauthVerifier(creds: XFake['credentials']) {
  const nonces = new Set<string>();
  return (req: VendorRequest): string | undefined => {
    const header = req.headers.authorization;
    if (!header) return 'missing Authorization header';
    if (!header.startsWith('OAuth ')) return 'Authorization is not an OAuth 1.0a header';
    const oauth = new Map<string, string>();
    for (const m of header.slice(6).matchAll(/([A-Za-z0-9_%.~-]+)="([^"]*)"/g)) oauth.set(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!));
    if (oauth.get('oauth_consumer_key') !== creds.consumerKey) return 'oauth_consumer_key is not the app key';
    if (oauth.get('oauth_token') !== creds.accessToken) return 'oauth_token is not the user token';
    if (oauth.get('oauth_signature_method') !== 'HMAC-SHA1') return 'oauth_signature_method is not HMAC-SHA1';
    if (oauth.has('oauth_version') && oauth.get('oauth_version') !== '1.0') return 'oauth_version is not 1.0';
    const ts = Number(oauth.get('oauth_timestamp'));
    if (!Number.isInteger(ts) || Math.abs(ts - Date.now() / 1000) > 300) return 'oauth_timestamp missing or more than 5 minutes away';
    const nonce = oauth.get('oauth_nonce');
    if (!nonce) return 'oauth_nonce missing';
    if (nonces.has(nonce)) return 'oauth_nonce reused';
    const signature = oauth.get('oauth_signature');
    if (!signature) return 'oauth_signature missing';
    const params: [string, string][] = [...req.query.entries()];
    for (const [k, v] of oauth) if (k !== 'oauth_signature' && k !== 'realm') params.push([k, v]);
    // Sorted by encoded name, then by encoded value (§3.4.1.3.2).
    const normalised = params
      .map(([k, v]) => [pct(k), pct(v)] as const)
      .sort(([ak, av], [bk, bv]) => (ak === bk ? (av < bv ? -1 : av > bv ? 1 : 0) : ak < bk ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const baseUri = `http://${String(req.headers.host).toLowerCase()}${req.path}`;
    const base = `${req.method}&${pct(baseUri)}&${pct(normalised)}`;
    const expected = createHmac('sha1', `${pct(creds.consumerSecret)}&${pct(creds.accessTokenSecret)}`).update(base).digest();
    const got = Buffer.from(signature, 'base64');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) return 'oauth_signature does not match';
    nonces.add(nonce);
    return undefined;
  };
}

/** Why an operation breaks the contract, or undefined. */
function operationProblem(op: unknown): string | undefined {
  if (op === null || typeof op !== 'object' || Array.isArray(op)) return 'not an object';
  const { operation_type: type, params } = op as { operation_type?: unknown; params?: unknown };
  if (type !== 'Update' && type !== 'Delete') return 'operation_type must be Update or Delete';
  if (params === null || typeof params !== 'object') return 'params must be an object';
  const users = (params as { users?: unknown }).users;
  if (!Array.isArray(users) || users.length === 0) return 'params.users must be a non-empty list';
  for (const [u, user] of users.entries()) {
    if (user === null || typeof user !== 'object' || Array.isArray(user) || Object.keys(user).length === 0) return `users[${u}] must be an object with at least one field`;
    for (const [field, values] of Object.entries(user as Record<string, unknown>)) {
      if (!HASHED_FIELDS.has(field) && !RAW_FIELDS.has(field)) return `users[${u}].${field} is not a user field`;
      if (!Array.isArray(values) || values.length === 0 || values.some((v) => typeof v !== 'string' || v === '')) return `users[${u}].${field} must be a non-empty list of strings`;
      if (HASHED_FIELDS.has(field) && values.some((v) => !SHA256_HEX.test(v as string))) return `users[${u}].${field} must hold SHA-256 lower-case hex`;
    }
  }
  return undefined;
}

const sharesValue = (a: XUser, b: XUser) => Object.entries(a).some(([field, values]) => values.some((v) => b[field]?.includes(v)));

export async function startXFake(opts: XFakeOptions = {}): Promise<XFake> {
  const accountId = opts.accountId ?? '18ce54d4x5t';
  const credentials = {
    consumerKey: `ck_${randomBytes(8).toString('hex')}`,
    consumerSecret: `cs_${randomBytes(16).toString('hex')}`,
    accessToken: `123456-${randomBytes(12).toString('hex')}`,
    accessTokenSecret: `ats_${randomBytes(16).toString('hex')}`,
  };
  let matchRatio = opts.matchRatio ?? 0.8;
  const customAudiences = new Map<string, FakeCustomAudience>();
  const rejectValues = new Set<string>();
  let nextId = 0x2906;
  const newId = () => (++nextId).toString(36);

  const audienceJson = (a: FakeCustomAudience) => {
    const size = Math.floor(a.users.length * matchRatio);
    return {
      targetable: size >= 100,
      name: a.name,
      targetable_types: ['CRM', 'EXCLUDED_CRM'],
      audience_type: 'CRM',
      description: null,
      permission_level: 'READ_WRITE',
      owner_account_id: accountId,
      id: a.id,
      reasons_not_targetable: size >= 100 ? [] : ['TOO_SMALL'],
      created_at: a.createdAt,
      updated_at: a.createdAt,
      partner_source: 'OTHER',
      deleted: false,
      audience_size: size,
    };
  };

  const account = (req: VendorRequest) => {
    if (req.params.accountId !== accountId) throw xError(403, 'ACCOUNT_NOT_FOUND', `Account ${req.params.accountId} was not found`);
  };
  const audienceOf = (req: VendorRequest) => {
    const a = customAudiences.get(req.params.audienceId!);
    if (!a) throw xError(404, 'NOT_FOUND', 'Custom audience not found', `unknown custom audience ${req.params.audienceId}`);
    return a;
  };
  const echo = (req: VendorRequest) => ({ params: { account_id: req.params.accountId, ...(req.params.audienceId ? { custom_audience_id: req.params.audienceId } : {}) } });

  const create = (name: string, users: XUser[] = []) => {
    const a: FakeCustomAudience = { id: newId(), name, users, createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
    customAudiences.set(a.id, a);
    return a;
  };

  const vendor: FakeVendor = await startFakeVendor({
    name: 'X Ads',
    auth: oauthVerifier(credentials),
    authFailure: () => ({ status: 401, body: { errors: [{ code: 'UNAUTHORIZED_ACCESS', message: 'This request is not properly authorized.' }], request: { params: {} } } }),
    throttle: opts.throttle
      ? {
          body: { errors: [{ code: 'TOO_MANY_REQUESTS', message: 'Rate limit exceeded' }] },
          headers: { 'x-rate-limit-limit': String(opts.throttle.limit), 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(Math.ceil(Date.now() / 1000) + 60) },
          ...opts.throttle,
        }
      : undefined,
    notFound: () => ({ errors: [{ code: 'ROUTE_NOT_FOUND', message: 'The requested resource could not be found' }] }),
    routes: [
      {
        method: 'GET',
        path: '/12/accounts/:accountId',
        handler: (req) => {
          account(req);
          return { body: { request: echo(req), data: { id: accountId, name: 'Roster test account', timezone: 'UTC', approval_status: 'ACCEPTED', deleted: false } } };
        },
      },
      {
        method: 'GET',
        path: '/12/accounts/:accountId/custom_audiences',
        handler: (req) => {
          account(req);
          const count = req.query.has('count') ? Number(req.query.get('count')) : 200;
          if (!Number.isInteger(count) || count < 1 || count > 1_000) throw xError(400, 'INVALID_PARAMETER', 'count must be an integer from 1 to 1000');
          const cursor = req.query.get('cursor');
          const start = cursor === null ? 0 : Number(Buffer.from(cursor, 'base64url').toString('utf8'));
          const all = [...customAudiences.values()];
          if (!Number.isInteger(start) || start < 0 || start > all.length) throw xError(400, 'INVALID_PARAMETER', 'invalid cursor');
          const end = start + count;
          return { body: { request: echo(req), next_cursor: end < all.length ? Buffer.from(String(end)).toString('base64url') : null, data: all.slice(start, end).map(audienceJson) } };
        },
      },
      {
        method: 'POST',
        path: '/12/accounts/:accountId/custom_audiences',
        handler: (req) => {
          account(req);
          const name = req.query.get('name');
          if (name === null || name.trim() === '') throw xError(400, 'MISSING_PARAMETER', '"name" is missing');
          if ([...customAudiences.values()].some((a) => a.name === name)) throw xError(400, 'INVALID_PARAMETER', 'Unique name value must be used', `duplicate audience name "${name}"`);
          const a = create(name);
          return { status: 201, body: { data: audienceJson(a), request: { params: { account_id: accountId, name } } } };
        },
      },
      {
        method: 'GET',
        path: '/12/accounts/:accountId/custom_audiences/:audienceId',
        handler: (req) => {
          account(req);
          return { body: { request: echo(req), data: audienceJson(audienceOf(req)) } };
        },
      },
      {
        method: 'POST',
        path: '/12/accounts/:accountId/custom_audiences/:audienceId/users',
        handler: (req) => {
          account(req);
          const audience = audienceOf(req);
          if (req.headers['content-type']?.split(';')[0]?.trim() !== 'application/json') throw xError(400, 'INVALID_PARAMETER', 'Content-Type must be application/json');
          const bytes = Buffer.byteLength(req.rawBody, 'utf8');
          if (bytes > MAX_BODY_BYTES) throw xError(413, 'INVALID_PARAMETER', `body of ${bytes} bytes exceeds the maximum of ${MAX_BODY_BYTES}`);
          if (!Array.isArray(req.json)) throw xError(400, 'INVALID_PARAMETER', 'the body must be a JSON array of operations');
          const ops = req.json as unknown[];
          if (ops.length === 0 || ops.length > MAX_OPERATIONS) throw xError(400, 'INVALID_PARAMETER', `${ops.length} operations; expected 1 to ${MAX_OPERATIONS}`);
          const problems = ops.map(operationProblem);
          if (problems.some((p) => p !== undefined)) {
            const first = problems.findIndex((p) => p !== undefined);
            throw new Refusal(400, `operation ${first}: ${problems[first]}`, {
              request: echo(req),
              operation_errors: problems.map((p) => (p ? [{ code: 'INVALID_PARAMETER', message: p }] : [])),
            });
          }
          const typed = ops as { operation_type: 'Update' | 'Delete'; params: { users: XUser[] } }[];
          // Simulated refusals: the batch fails whole, nothing is applied.
          const refused = typed.map((op) => op.params.users.some((u) => Object.values(u).some((vs) => vs.some((v) => rejectValues.has(v)))));
          if (refused.some(Boolean)) {
            return { status: 400, body: { request: echo(req), operation_errors: refused.map((r) => (r ? [{ code: 'INVALID_USER', message: 'The user could not be processed' }] : [])) } };
          }
          let users = 0;
          for (const op of typed) {
            for (const user of op.params.users) {
              users++;
              audience.users = audience.users.filter((m) => !sharesValue(user, m));
              if (op.operation_type === 'Update') audience.users.push(user);
            }
          }
          return { body: { request: echo(req), data: { success_count: users, total_count: users } } };
        },
      },
    ],
  });

  return {
    vendor,
    type: 'x',
    accountId,
    credentials,
    customAudiences,
    rejectValues,
    config: { baseUrl: `${vendor.url}/12`, accountId, ...credentials },
    audiences: () => [...customAudiences.values()].map((a) => ({ id: a.id, name: a.name, type: 'CRM' })),
    members: (id) =>
      (customAudiences.get(id)?.users ?? []).map((u) => {
        const m: Record<string, string> = {};
        for (const [field, values] of Object.entries(u)) m[ROSTER_NAME[field] ?? field] = values[0]!;
        return m;
      }),
    seedAudience: (name, users) => create(name, users),
    setMatchRatio(ratio) {
      matchRatio = ratio;
    },
    close: () => vendor.close(),
  };
}
