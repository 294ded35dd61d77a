// A fake Graph API for Meta Custom Audiences (the contract at the top of
// src/connectors/meta/index.ts, from shared/reference/destinations.md §1).
// It enforces, refusing with the Graph error envelope and recording why:
// - auth: "Authorization: Bearer <token>" or ?access_token=, plus
//   appsecret_proof = HMAC-SHA256(app secret, token) when an app secret is set;
//   a bad token answers 400 OAuthException code 190;
// - the API version in the path and the ad account ("act_<id>");
// - audience creation: name, subtype CUSTOM, a customer_file_source, no
//   unknown parameters; listing: known fields only, cursor paging (limit
//   capped at `maxPageSize`);
// - /users uploads: {"payload": {"schema": [...], "data": [[...]]}} with
//   known, unique schema keys, 1 to 10,000 rows, every row as long as the
//   schema, hashed cells as 64 lower-case hex (or ""), MADID as a lower-case
//   UUID, EXTERN_ID raw.
// Rows that are all empty, or whose EMAIL is in `invalidEmails`, count in
// num_invalid_entries and are not applied (Meta says how many, not which).
// A DELETE on an audience with fewer than `minRemovalSize` members answers
// 200/1870047 ("Audience Size too Low"), which is Meta's rule, not a contract
// violation, so it is not recorded as a refusal.
//
// Throttling answers like Meta: HTTP 400 with code 80003 and an
// X-Business-Use-Case-Usage header holding estimated_time_to_regain_access,
// no Retry-After (a plain 429 can still be injected with vendor.fault()).
import { createHmac, randomBytes } from 'node:crypto';
import { Refusal, SHA256_HEX, startFakeVendor, type FakePlatform, type FakeVendor, type Throttle, type VendorRequest } from './fake-vendor.js';

const SCHEMA_KEYS = ['EXTERN_ID', 'EMAIL', 'PHONE', 'GEN', 'DOBY', 'DOBM', 'DOBD', 'LN', 'FN', 'FI', 'CT', 'ST', 'ZIP', 'MADID', 'COUNTRY'] as const;
type SchemaKey = (typeof SCHEMA_KEYS)[number];
const RAW_KEYS = new Set<SchemaKey>(['EXTERN_ID', 'MADID']);
/** Keys Meta can match a person on by themselves; the fake's member identity. */
const STRONG_KEYS: SchemaKey[] = ['EMAIL', 'PHONE', 'MADID', 'EXTERN_ID'];
/** Meta keys under Roster's identifier names (FakePlatform.members); DOB parts and FI keep Meta's names. */
const ROSTER_NAME: Record<SchemaKey, string> = {
  EXTERN_ID: 'EXTERNAL_ID', EMAIL: 'EMAIL', PHONE: 'PHONE', GEN: 'GENDER', DOBY: 'DOBY', DOBM: 'DOBM', DOBD: 'DOBD',
  LN: 'LAST_NAME', FN: 'FIRST_NAME', FI: 'FI', CT: 'CITY', ST: 'STATE', ZIP: 'ZIP', MADID: 'MAID', COUNTRY: 'COUNTRY',
};
const FILE_SOURCES = ['USER_PROVIDED_ONLY', 'PARTNER_PROVIDED_ONLY', 'BOTH_USER_AND_PARTNER_PROVIDED'];
const AUDIENCE_FIELDS = new Set([
  'id', 'name', 'subtype', 'description', 'customer_file_source', 'approximate_count_lower_bound', 'approximate_count_upper_bound', 'operation_status',
]);
const ACCOUNT_FIELDS = new Set(['id', 'account_id', 'name', 'account_status', 'tos_accepted']);
const MAID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface MetaFakeOptions {
  accessToken?: string;
  /** Digits, without "act_". */
  adAccountId?: string;
  apiVersion?: string;
  /** When set, every request must carry the matching appsecret_proof. */
  appSecret?: string;
  throttle?: MetaThrottleOptions;
  matchRatio?: number;
  minRemovalSize?: number;
  /** The ad account accepted the Custom Audience terms (default true). */
  tosAccepted?: boolean;
  /** Largest page the list answers, whatever `limit` asks (default 100). */
  maxPageSize?: number;
  /** Rows per /users call (default 10,000, Meta's limit). */
  maxRows?: number;
}

export interface MetaThrottleOptions {
  limit: number;
  windowMs: number;
  /** estimated_time_to_regain_access in the usage header, minutes (default 0). */
  regainMinutes?: number;
}

export interface MetaFake extends FakePlatform {
  /** Rows whose EMAIL cell is one of these hashes are invalid entries: counted, not applied. */
  invalidEmails: Set<string>;
  /** The counts answered by each accepted /users call. */
  uploads: { method: string; audienceId: string; numReceived: number; numInvalidEntries: number }[];
  setMinRemovalSize(n: number): void;
  setTosAccepted(accepted: boolean): void;
  /** An audience created outside Roster (e.g. a lookalike), for listing tests. */
  seedAudience(name: string, subtype?: string): string;
}

type Row = Record<SchemaKey, string>;

/**
 * An audience's members, each a row as received. Rows sharing a strong
 * identifier (or identical rows) are the same person, as Meta would match
 * them; the index keeps that lookup constant-time for 10,000-row batches.
 */
class Members {
  private rows = new Map<number, Row>();
  private index = new Map<string, number>();
  private next = 0;

  private static tokens(r: Row): string[] {
    return [...STRONG_KEYS.filter((k) => r[k] !== '').map((k) => `${k}:${r[k]}`), `ROW:${SCHEMA_KEYS.map((k) => r[k]).join('|')}`];
  }
  private matching(r: Row): Set<number> {
    const ids = new Set<number>();
    for (const t of Members.tokens(r)) {
      const id = this.index.get(t);
      if (id !== undefined) ids.add(id);
    }
    return ids;
  }
  private drop(id: number): void {
    const r = this.rows.get(id);
    if (!r) return;
    for (const t of Members.tokens(r)) if (this.index.get(t) === id) this.index.delete(t);
    this.rows.delete(id);
  }
  upsert(r: Row): void {
    for (const id of this.matching(r)) this.drop(id);
    const id = this.next++;
    this.rows.set(id, r);
    for (const t of Members.tokens(r)) this.index.set(t, id);
  }
  remove(r: Row): void {
    for (const id of this.matching(r)) this.drop(id);
  }
  get size(): number {
    return this.rows.size;
  }
  list(): Row[] {
    return [...this.rows.values()];
  }
}

interface FakeAudience {
  id: string;
  name: string;
  subtype: string;
  description: string | null;
  customerFileSource: string | null;
  members: Members;
}

const fbtrace = () => randomBytes(8).toString('base64url');

/** A Graph error envelope. */
export function graphError(code: number, message: string, extra: { subcode?: number; type?: string; title?: string; userMsg?: string } = {}) {
  return {
    error: {
      message,
      type: extra.type ?? 'OAuthException',
      code,
      ...(extra.subcode !== undefined ? { error_subcode: extra.subcode } : {}),
      ...(extra.title !== undefined ? { error_user_title: extra.title } : {}),
      ...(extra.userMsg !== undefined ? { error_user_msg: extra.userMsg } : {}),
      fbtrace_id: fbtrace(),
    },
  };
}

/** Meta's throttle answer, for vendor.setThrottle(). */
export function metaThrottle(adAccountId: string, t: MetaThrottleOptions): Throttle {
  return {
    limit: t.limit,
    windowMs: t.windowMs,
    status: 400,
    retryAfter: false,
    body: graphError(80003, 'There have been too many calls to this ad-account. Wait a bit and try again.', { subcode: 2446079 }),
    headers: {
      'x-business-use-case-usage': JSON.stringify({
        [adAccountId]: [{ type: 'custom_audience', call_count: 100, total_cputime: 12, total_time: 15, estimated_time_to_regain_access: t.regainMinutes ?? 0 }],
      }),
    },
  };
}

const refuse = (why: string, code = 100, extra: Parameters<typeof graphError>[2] = {}) => new Refusal(400, why, graphError(code, `(#${code}) ${why}`, extra));

export async function startMetaFake(opts: MetaFakeOptions = {}): Promise<MetaFake> {
  const token = opts.accessToken ?? 'EAAB-fake-meta-token-7QpL2x';
  const account = opts.adAccountId ?? '1000000001';
  const apiVersion = opts.apiVersion ?? 'v24.0';
  const maxPageSize = opts.maxPageSize ?? 100;
  const maxRows = opts.maxRows ?? 10_000;
  let matchRatio = opts.matchRatio ?? 0.8;
  let minRemovalSize = opts.minRemovalSize ?? 0;
  let tosAccepted = opts.tosAccepted ?? true;
  const audiences = new Map<string, FakeAudience>();
  const invalidEmails = new Set<string>();
  const uploads: MetaFake['uploads'] = [];
  let nextId = 23_850_000_000_000_000n;

  const create = (name: string, subtype: string, fileSource: string | null, description: string | null): FakeAudience => {
    const a: FakeAudience = { id: String(++nextId), name, subtype, description, customerFileSource: fileSource, members: new Members() };
    audiences.set(a.id, a);
    return a;
  };

  const checkVersion = (req: VendorRequest) => {
    if (req.params.version !== apiVersion) throw refuse(`Unknown path components: expected API version ${apiVersion}, but got "${req.params.version}"`, 2500);
  };
  const checkAccount = (req: VendorRequest) => {
    checkVersion(req);
    if (req.params.account !== account) {
      throw refuse(`Unsupported request. Object with ID 'act_${req.params.account}' does not exist, cannot be loaded due to missing permissions, or does not support this operation`, 100, { subcode: 33 });
    }
  };
  const audienceOf = (req: VendorRequest): FakeAudience => {
    checkVersion(req);
    const a = audiences.get(req.params.audienceId!);
    if (!a) {
      throw refuse(`Unsupported request. Object with ID '${req.params.audienceId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation`, 100, { subcode: 33 });
    }
    return a;
  };
  const fieldsOf = (req: VendorRequest, known: Set<string>): string[] => {
    const raw = req.query.get('fields');
    const fields = raw ? raw.split(',').map((f) => f.trim()).filter(Boolean) : ['id'];
    for (const f of fields) if (!known.has(f)) throw refuse(`Tried accessing nonexisting field (${f})`);
    return fields;
  };
  const matched = (a: FakeAudience) => Math.floor(a.members.size * matchRatio);
  const view = (a: FakeAudience, fields: string[]) => {
    const all: Record<string, unknown> = {
      id: a.id,
      name: a.name,
      subtype: a.subtype,
      description: a.description,
      customer_file_source: a.customerFileSource,
      approximate_count_lower_bound: matched(a),
      approximate_count_upper_bound: a.members.size,
      operation_status: { code: 200, description: 'Normal' },
    };
    return Object.fromEntries(['id', ...fields.filter((f) => f !== 'id')].map((f) => [f, all[f]]));
  };

  /** Validates a /users body and returns its rows keyed by schema key. */
  const parseUsers = (req: VendorRequest): Row[] => {
    const body = req.json as { payload?: unknown } | undefined;
    if (body === undefined || body === null || typeof body !== 'object') throw refuse('expected a JSON body with a "payload" parameter');
    const extra = Object.keys(body).filter((k) => k !== 'payload' && k !== 'session');
    if (extra.length) throw refuse(`unexpected parameters: ${extra.join(', ')}`);
    let payload = body.payload;
    if (typeof payload === 'string') {
      try {
        payload = JSON.parse(payload);
      } catch {
        throw refuse('payload is not valid JSON');
      }
    }
    const { schema, data } = (payload ?? {}) as { schema?: unknown; data?: unknown };
    if (!Array.isArray(schema) || schema.length === 0 || !schema.every((k) => typeof k === 'string')) {
      throw refuse('expected payload.schema to be a non-empty list of multi-key schema names (this fake takes the multi-key form)');
    }
    for (const k of schema as string[]) if (!(SCHEMA_KEYS as readonly string[]).includes(k)) throw refuse(`Invalid schema key: ${k}`);
    if (new Set(schema).size !== schema.length) throw refuse('payload.schema names a key twice');
    if (!Array.isArray(data) || data.length === 0) throw refuse('expected payload.data to be a non-empty list of rows');
    if (data.length > maxRows) throw refuse(`The number of users in the payload (${data.length}) exceeds the maximum of ${maxRows} per request`);
    const keys = schema as SchemaKey[];
    return data.map((row, i) => {
      if (!Array.isArray(row) || row.length !== keys.length) throw refuse(`Data is missing or does not match schema: row ${i} has ${Array.isArray(row) ? row.length : 'no'} cells for ${keys.length} schema keys`);
      const out = Object.fromEntries(SCHEMA_KEYS.map((k) => [k, ''])) as Row;
      keys.forEach((k, j) => {
        const cell = row[j] as unknown;
        if (typeof cell !== 'string') throw refuse(`row ${i}, ${k}: expected a string cell`);
        if (cell === '') return;
        if (k === 'MADID') {
          if (!MAID.test(cell)) throw refuse(`row ${i}, MADID: expected a raw lower-case advertiser id with hyphens`);
        } else if (!RAW_KEYS.has(k) && !SHA256_HEX.test(cell)) {
          throw refuse(`row ${i}, ${k}: expected a SHA-256 digest as 64 lower-case hex characters`);
        }
        out[k] = cell;
      });
      return out;
    });
  };

  const users = (method: 'POST' | 'DELETE') => (req: VendorRequest) => {
    const a = audienceOf(req);
    if (a.subtype !== 'CUSTOM') throw refuse(`${a.subtype} audience doesn't support FILE_IMPORTED data source`, 2650);
    const rows = parseUsers(req);
    if (method === 'DELETE' && a.members.size < minRemovalSize) {
      return {
        status: 400,
        body: graphError(200, 'Audience Size too Low: Cannot remove users from this audience because it will result in a low audience size.', {
          subcode: 1870047,
          title: 'Audience Size too Low',
          userMsg: 'Cannot remove users from this audience because it will result in a low audience size.',
        }),
      };
    }
    let invalid = 0;
    for (const row of rows) {
      if (SCHEMA_KEYS.every((k) => row[k] === '') || invalidEmails.has(row.EMAIL)) {
        invalid++;
        continue;
      }
      if (method === 'POST') a.members.upsert(row);
      else a.members.remove(row);
    }
    uploads.push({ method, audienceId: a.id, numReceived: rows.length, numInvalidEntries: invalid });
    return {
      body: { audience_id: a.id, session_id: String(BigInt(Date.now()) * 1000n + BigInt(uploads.length)), num_received: rows.length, num_invalid_entries: invalid, invalid_entry_samples: {} },
    };
  };

  const vendor: FakeVendor = await startFakeVendor({
    name: 'Meta Graph API',
    auth: (req) => {
      const h = req.headers.authorization;
      const given = h?.startsWith('Bearer ') ? h.slice('Bearer '.length) : req.query.get('access_token');
      if (!given) return 'missing access token (expected Authorization: Bearer <token> or access_token)';
      if (given !== token) return 'access token is not the expected one';
      if (opts.appSecret) {
        const proof = createHmac('sha256', opts.appSecret).update(token).digest('hex');
        if (req.query.get('appsecret_proof') !== proof) return 'appsecret_proof missing or not HMAC-SHA256(app secret, token)';
      }
      return undefined;
    },
    authFailure: (why) => ({ status: 400, body: graphError(190, `Invalid OAuth access token - ${why}`) }),
    notFound: (req) => graphError(100, `Unsupported ${req.method.toLowerCase()} request.`, { subcode: 33 }),
    ...(opts.throttle ? { throttle: metaThrottle(account, opts.throttle) } : {}),
    routes: [
      {
        method: 'GET',
        path: '/:version/act_:account/customaudiences',
        handler: (req) => {
          checkAccount(req);
          const fields = fieldsOf(req, AUDIENCE_FIELDS);
          const limit = Math.min(Number(req.query.get('limit') ?? 25) || 25, maxPageSize);
          const after = req.query.get('after');
          const start = after ? Number(Buffer.from(after, 'base64url').toString('utf8')) : 0;
          if (!Number.isInteger(start) || start < 0) throw refuse('invalid paging cursor');
          const all = [...audiences.values()];
          const page = all.slice(start, start + limit);
          const end = start + page.length;
          const cursor = (n: number) => Buffer.from(String(n)).toString('base64url');
          return {
            body: {
              data: page.map((a) => view(a, fields)),
              paging: {
                cursors: { before: cursor(start), after: cursor(end) },
                ...(end < all.length ? { next: `${vendor.url}${req.path}?limit=${limit}&after=${cursor(end)}` } : {}),
              },
            },
          };
        },
      },
      {
        method: 'POST',
        path: '/:version/act_:account/customaudiences',
        handler: (req) => {
          checkAccount(req);
          const b = req.json as Record<string, unknown> | undefined;
          if (!b || typeof b !== 'object' || Array.isArray(b)) throw refuse('expected a JSON object of parameters');
          const unknown = Object.keys(b).filter((k) => !['name', 'subtype', 'customer_file_source', 'description'].includes(k));
          if (unknown.length) throw refuse(`Invalid parameter: ${unknown.join(', ')}`);
          if (typeof b.name !== 'string' || b.name.trim() === '') throw refuse('The parameter name is required');
          if (b.subtype !== 'CUSTOM') throw refuse('expected subtype CUSTOM for a customer list audience');
          if (typeof b.customer_file_source !== 'string' || !FILE_SOURCES.includes(b.customer_file_source)) {
            throw refuse(`customer_file_source must be one of ${FILE_SOURCES.join(', ')}`);
          }
          const a = create(b.name, 'CUSTOM', b.customer_file_source, typeof b.description === 'string' ? b.description : null);
          return { body: { id: a.id } };
        },
      },
      {
        method: 'GET',
        path: '/:version/act_:account',
        handler: (req) => {
          checkAccount(req);
          const fields = fieldsOf(req, ACCOUNT_FIELDS);
          const all: Record<string, unknown> = {
            id: `act_${account}`,
            account_id: account,
            name: 'Roster test ad account',
            account_status: 1,
            tos_accepted: tosAccepted ? { custom_audience_tos: 1 } : {},
          };
          return { body: Object.fromEntries(['id', ...fields.filter((f) => f !== 'id')].map((f) => [f, all[f]])) };
        },
      },
      { method: 'POST', path: '/:version/:audienceId/users', handler: users('POST') },
      { method: 'DELETE', path: '/:version/:audienceId/users', handler: users('DELETE') },
      {
        method: 'GET',
        path: '/:version/:audienceId',
        handler: (req) => ({ body: view(audienceOf(req), fieldsOf(req, AUDIENCE_FIELDS)) }),
      },
    ],
  });

  return {
    vendor,
    type: 'meta',
    config: { accessToken: token, adAccountId: account, apiVersion, baseUrl: vendor.url, ...(opts.appSecret ? { appSecret: opts.appSecret } : {}) },
    audiences: () => [...audiences.values()].map((a) => ({ id: a.id, name: a.name, type: a.subtype })),
    members: (id) =>
      (audiences.get(id)?.members.list() ?? []).map((m) => Object.fromEntries(SCHEMA_KEYS.filter((k) => m[k] !== '').map((k) => [ROSTER_NAME[k], m[k]]))),
    setMatchRatio: (r) => void (matchRatio = r),
    invalidEmails,
    uploads,
    setMinRemovalSize: (n) => void (minRemovalSize = n),
    setTosAccepted: (v) => void (tosAccepted = v),
    seedAudience: (name, subtype = 'CUSTOM') => create(name, subtype, subtype === 'CUSTOM' ? 'USER_PROVIDED_ONLY' : null, null).id,
    close: () => vendor.close(),
  };
}
