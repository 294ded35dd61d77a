// A fake Reddit Ads API v3 (customer-list custom audiences) and its OAuth
// token endpoint on loopback, enforcing what src/connectors/reddit/index.ts
// relies on:
// - token: POST /api/v1/access_token, HTTP Basic with the app's client id
//   and secret, form grant_type=refresh_token and the refresh token; issues
//   bearer tokens (which a test can expire);
// - every call: a descriptive User-Agent (a missing or generic one is
//   answered 403) and a bearer token the fake issued (401 otherwise);
// - the ad account in the path is the configured one (403 otherwise);
// - create: { data: { name, type: CUSTOMER_LIST } };
// - PATCH /custom_audiences/{id}/users only, { data: { action_type ADD |
//   REMOVE, column_order of 1–2 distinct EMAIL_SHA256 / MAID_SHA256,
//   user_data of 1–2,500 rows, each as long as column_order, each value 64
//   lower-case hex } }, answered 204;
// - list pages through pagination.next_url.
// Errors are { error: { code, message } }. Audiences keep their members
// (one record per user_data row) for exact assertions. Reddit reports no
// per-row results: a PATCH carrying a value in `rejectValues` fails whole
// (400), as a request with bad data does. Reddit reports no size either,
// so matched counts are not served.
import {
  Refusal,
  SHA256_HEX,
  startFakeVendor,
  type FakePlatform,
  type FakeVendor,
  type Throttle,
  type VendorRequest,
} from './fake-vendor.js';

const API = '/api/v3';
const TOKEN_PATH = '/api/v1/access_token';
const COLUMN_TYPES: Record<string, string> = { EMAIL_SHA256: 'EMAIL', MAID_SHA256: 'MAID' };
const GENERIC_AGENT = /^(undici|node|node-fetch|axios|curl|python-requests|go-http-client|okhttp|java)\b/i;

export interface RedditFakeOptions {
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  adAccountId?: string;
  /** Most rows per PATCH (Reddit: 2,500). */
  maxRows?: number;
  /** Audiences per list page. */
  pageSize?: number;
  throttle?: Throttle;
}

interface FakeAudience {
  id: string;
  name: string;
  type: string;
  members: Map<string, Record<string, string>>;
}

export interface RedditFake extends FakePlatform {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  adAccountId: string;
  /** Access tokens issued so far. */
  issued: string[];
  /** Makes every issued token invalid (as when it expires). */
  expireTokens(): void;
  /** Hashed values that make a PATCH carrying them fail with 400. */
  rejectValues: Set<string>;
}

const error = (status: number, code: string, message: string) => new Refusal(status, message, { error: { code, message } });
const memberKey = (m: Record<string, string>) => JSON.stringify([m.EMAIL ?? null, m.MAID ?? null]);

export async function startRedditFake(opts: RedditFakeOptions = {}): Promise<RedditFake> {
  const clientId = opts.clientId ?? 'rd-client-Q2x8';
  const clientSecret = opts.clientSecret ?? 'rd-secret-v93KpL0z';
  const refreshToken = opts.refreshToken ?? 'rd-refresh-7Hh2mN4c';
  const adAccountId = opts.adAccountId ?? 't2_roster1';
  const maxRows = opts.maxRows ?? 2_500;
  const pageSize = opts.pageSize ?? 100;
  const audiences: FakeAudience[] = [];
  const valid = new Set<string>();
  const issued: string[] = [];
  const rejectValues = new Set<string>();
  let nextAudience = 1;
  let vendorUrl = '';

  const requireAccount = (req: VendorRequest) => {
    if (req.params.account !== adAccountId) throw error(403, 'FORBIDDEN', `no access to ad account ${req.params.account}`);
  };
  const dataOf = (req: VendorRequest): Record<string, unknown> => {
    const data = (req.json as { data?: unknown } | undefined)?.data;
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw error(400, 'INVALID_INPUT', 'expected a JSON body { "data": { … } }');
    return data as Record<string, unknown>;
  };

  const vendor: FakeVendor = await startFakeVendor({
    name: 'Reddit',
    auth: (req) => {
      const agent = req.headers['user-agent'];
      if (agent === undefined || agent.trim() === '' || GENERIC_AGENT.test(agent)) return 'missing or generic User-Agent';
      if (req.path === TOKEN_PATH) {
        const expected = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
        return req.headers.authorization === expected ? undefined : 'client credentials are not HTTP Basic with the app id and secret';
      }
      const h = req.headers.authorization;
      if (!h?.startsWith('Bearer ')) return 'missing Authorization: Bearer';
      return valid.has(h.slice(7)) ? undefined : 'bearer token is not valid';
    },
    // Reddit answers a bad or missing User-Agent with 403, bad credentials with 401.
    authFailure: (why) => ({ status: why.includes('User-Agent') ? 403 : 401, body: { error: { code: why.includes('User-Agent') ? 'FORBIDDEN' : 'UNAUTHORIZED', message: why } } }),
    ...(opts.throttle ? { throttle: opts.throttle } : {}),
    notFound: () => ({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } }),
    routes: [
      {
        method: 'POST',
        path: TOKEN_PATH,
        handler: (req) => {
          if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) throw new Refusal(400, 'token request is not form-encoded', { error: 'unsupported_grant_type' });
          const form = new URLSearchParams(req.rawBody);
          if (form.get('grant_type') !== 'refresh_token') throw new Refusal(400, 'grant_type is not refresh_token', { error: 'unsupported_grant_type' });
          if (form.get('refresh_token') !== refreshToken) throw new Refusal(400, 'refresh token is not the expected one', { error: 'invalid_grant' });
          const token = `rd-access-${issued.length + 1}-${Math.random().toString(36).slice(2, 10)}`;
          issued.push(token);
          valid.add(token);
          return { body: { access_token: token, token_type: 'bearer', expires_in: 3600, scope: 'adsread adsedit' } };
        },
      },
      {
        method: 'GET',
        path: `${API}/ad_accounts/:account`,
        handler: (req) => {
          requireAccount(req);
          return { body: { data: { id: adAccountId, name: 'Roster test account', currency: 'USD' } } };
        },
      },
      {
        method: 'GET',
        path: `${API}/ad_accounts/:account/custom_audiences`,
        handler: (req) => {
          requireAccount(req);
          const start = Number(req.query.get('page.token') ?? '0');
          const page = audiences.slice(start, start + pageSize).map((a) => ({ id: a.id, name: a.name, type: a.type, status: 'VALID' }));
          const next = start + pageSize < audiences.length ? `${vendorUrl}${req.path}?page.token=${start + pageSize}` : null;
          return { body: { data: page, pagination: { next_url: next } } };
        },
      },
      {
        method: 'POST',
        path: `${API}/ad_accounts/:account/custom_audiences`,
        handler: (req) => {
          requireAccount(req);
          const data = dataOf(req);
          if (typeof data.name !== 'string' || data.name.trim() === '') throw error(400, 'INVALID_INPUT', 'data.name: expected a non-empty string');
          if (data.type !== 'CUSTOMER_LIST') throw error(400, 'INVALID_INPUT', 'data.type: only CUSTOMER_LIST audiences take user uploads');
          const audience: FakeAudience = { id: `ca.${1_000_000 + nextAudience++}`, name: data.name, type: 'CUSTOMER_LIST', members: new Map() };
          audiences.push(audience);
          return { body: { data: { id: audience.id, name: audience.name, type: audience.type, status: 'VALID' } } };
        },
      },
      {
        method: 'PATCH',
        path: `${API}/custom_audiences/:audience/users`,
        handler: (req) => {
          const audience = audiences.find((a) => a.id === req.params.audience);
          if (!audience) throw error(404, 'NOT_FOUND', `no custom audience ${req.params.audience}`);
          const data = dataOf(req);
          const action = data.action_type;
          if (action !== 'ADD' && action !== 'REMOVE') throw error(400, 'INVALID_INPUT', 'data.action_type: expected ADD or REMOVE');
          const columns = data.column_order;
          if (!Array.isArray(columns) || columns.length < 1 || columns.length > 2) throw error(400, 'INVALID_INPUT', 'data.column_order: expected 1 or 2 columns');
          for (const c of columns) if (typeof c !== 'string' || !(c in COLUMN_TYPES)) throw error(400, 'INVALID_INPUT', `data.column_order: unknown column ${String(c)}`);
          if (new Set(columns).size !== columns.length) throw error(400, 'INVALID_INPUT', 'data.column_order: a column is repeated');
          const rows = data.user_data;
          if (!Array.isArray(rows) || rows.length < 1) throw error(400, 'INVALID_INPUT', 'data.user_data: expected a non-empty list');
          if (rows.length > maxRows) throw error(400, 'INVALID_INPUT', `data.user_data: ${rows.length} rows exceeds the maximum of ${maxRows}`);
          const records = rows.map((r, i) => {
            if (!Array.isArray(r) || r.length !== columns.length) throw error(400, 'INVALID_INPUT', `data.user_data[${i}]: expected ${columns.length} values`);
            const record: Record<string, string> = {};
            r.forEach((v, c) => {
              if (typeof v !== 'string' || !SHA256_HEX.test(v)) throw error(400, 'INVALID_INPUT', `data.user_data[${i}][${c}]: expected 64 lower-case hex digits (SHA-256)`);
              record[COLUMN_TYPES[columns[c] as string]!] = v;
            });
            return record;
          });
          // A vendor-side refusal of the data, not a contract violation: answered, not recorded as refused.
          const bad = rows.findIndex((r) => (r as string[]).some((v) => rejectValues.has(v)));
          if (bad !== -1) {
            const c = (rows[bad] as string[]).findIndex((v) => rejectValues.has(v));
            return { status: 400, body: { error: { code: 'INVALID_INPUT', message: `data.user_data[${bad}][${c}]: invalid value` } } };
          }
          for (const r of records) {
            if (action === 'ADD') audience.members.set(memberKey(r), r);
            else {
              for (const [key, m] of audience.members) if (Object.entries(r).some(([t, v]) => m[t] === v)) audience.members.delete(key);
            }
          }
          return { status: 204 };
        },
      },
    ],
  });
  vendorUrl = vendor.url;

  return {
    vendor,
    type: 'reddit',
    clientId,
    clientSecret,
    refreshToken,
    adAccountId,
    issued,
    rejectValues,
    config: {
      baseUrl: `${vendor.url}${API}`,
      tokenUrl: `${vendor.url}${TOKEN_PATH}`,
      clientId,
      clientSecret,
      refreshToken,
      adAccountId,
      userAgent: 'server:dev.roster.audiences:v0.1 (by /u/roster_test)',
    },
    audiences: () => audiences.map((a) => ({ id: a.id, name: a.name, type: a.type })),
    members: (id) => [...(audiences.find((a) => a.id === id)?.members.values() ?? [])].map((m) => ({ ...m })),
    // Reddit reports no match counts; kept for the FakePlatform interface.
    setMatchRatio: () => {},
    expireTokens: () => valid.clear(),
    close: () => vendor.close(),
  };
}
