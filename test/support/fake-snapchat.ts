// A fake Snap Marketing API v1 (customer list segments) and its OAuth token
// endpoint on loopback, enforcing what src/connectors/snapchat/index.ts
// relies on:
// - token: POST /login/oauth2/access_token, form grant_type=refresh_token
//   with client_id, client_secret and refresh_token; issues bearer tokens
//   (which a test can expire);
// - every /v1 call: a bearer token the fake issued (401 otherwise); the ad
//   account in the path is the configured one (403, error_code E3002);
// - create: segments[] with name (1–375 characters), source_type,
//   retention_in_days, ad_account_id equal to the path's;
// - users (POST adds, DELETE removes): exactly one users[] element (one
//   schema per request) whose schema is one of EMAIL_SHA256, PHONE_SHA256,
//   MOBILE_AD_ID_SHA256, data of 1 to `maxRows` one-value rows, each 64
//   lower-case hex; only FIRST_PARTY segments take uploads;
// - DELETE /segments/{id}/all_users empties a segment;
// - list pages with limit 50–1000 and paging.next_link;
// - approximate_number_users = floor(members × ratio).
// Errors are { request_status: ERROR, request_id, debug_message,
// display_message, error_code }. Members are kept per identifier (Snap
// stores each schema's values) for exact assertions. Snap reports no per-row
// errors: a request carrying a value in `rejectValues` gets its users[]
// element answered sub_request_status ERROR with the configured reason.
import {
  Refusal,
  SHA256_HEX,
  startFakeVendor,
  type FakePlatform,
  type FakeVendor,
  type Throttle,
  type VendorRequest,
  type VendorResponse,
} from './fake-vendor.js';

const API = '/v1';
const TOKEN_PATH = '/login/oauth2/access_token';
const SCHEMA_TYPES: Record<string, string> = { EMAIL_SHA256: 'EMAIL', PHONE_SHA256: 'PHONE', MOBILE_AD_ID_SHA256: 'MAID' };
const SOURCE_TYPES = new Set(['FIRST_PARTY', 'ENGAGEMENT', 'PIXEL', 'MOBILE', 'FOOT_TRAFFIC_INSIGHTS']);

export interface SnapchatFakeOptions {
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  adAccountId?: string;
  matchRatio?: number;
  /** Most rows per users request (100,000, per Segment's reading of Snap's limit). */
  maxRows?: number;
  /** Most segments per list page, whatever `limit` asks (to exercise paging). */
  pageSizeCap?: number;
  throttle?: Throttle;
}

interface FakeSegment {
  id: string;
  name: string;
  description: string;
  sourceType: string;
  retentionInDays: number;
  createdAt: string;
  uploaded: boolean;
  members: Map<string, Record<string, string>>;
}

export interface SnapchatFake extends FakePlatform {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  adAccountId: string;
  issued: string[];
  expireTokens(): void;
  /** Values whose request is answered sub_request_status ERROR, with this reason and error code. */
  rejectValues: Map<string, { reason: string; code?: string }>;
}

let counter = 0;
const requestId = () => `5f${String(++counter).padStart(10, '0')}`;
const error = (status: number, message: string, errorCode?: string) =>
  new Refusal(status, message, { request_status: 'ERROR', request_id: requestId(), debug_message: message, display_message: message, ...(errorCode ? { error_code: errorCode } : {}) });

export async function startSnapchatFake(opts: SnapchatFakeOptions = {}): Promise<SnapchatFake> {
  const clientId = opts.clientId ?? 'snap-client-8c1d';
  const clientSecret = opts.clientSecret ?? 'snap-secret-Zt41qW';
  const refreshToken = opts.refreshToken ?? 'snap-refresh-u7Yb2e';
  const adAccountId = opts.adAccountId ?? '8adc3db7-8148-4fbf-999c-8d2266369d74';
  const maxRows = opts.maxRows ?? 100_000;
  const pageSizeCap = opts.pageSizeCap ?? 1000;
  let matchRatio = opts.matchRatio ?? 0.8;
  const segments: FakeSegment[] = [];
  const valid = new Set<string>();
  const issued: string[] = [];
  const rejectValues = new Map<string, { reason: string; code?: string }>();
  let nextSegment = 5_677_923_948_298_240;
  let vendorUrl = '';

  const requireAccount = (req: VendorRequest) => {
    if (req.params.account !== adAccountId) throw error(403, `no permission for ad account ${req.params.account}`, 'E3002');
  };
  const segmentOf = (req: VendorRequest) => {
    const s = segments.find((x) => x.id === req.params.segment);
    if (!s) throw error(404, `no segment ${req.params.segment}`);
    return s;
  };
  const approx = (s: FakeSegment) => Math.floor(s.members.size * matchRatio);
  const view = (s: FakeSegment) => ({
    id: s.id,
    name: s.name,
    ad_account_id: adAccountId,
    description: s.description,
    status: 'ACTIVE',
    source_type: s.sourceType,
    retention_in_days: s.retentionInDays,
    approximate_number_users: approx(s),
    upload_status: s.uploaded ? 'COMPLETE' : 'NO_UPLOAD',
    targetable_status: !s.uploaded ? 'NOT_READY' : approx(s) >= 1_000 ? 'READY' : 'TOO_FEW_USERS',
    created_at: s.createdAt,
    updated_at: s.createdAt,
  });

  const users = (action: 'add' | 'remove') => (req: VendorRequest): VendorResponse => {
    const segment = segmentOf(req);
    if (segment.sourceType !== 'FIRST_PARTY') throw error(400, `segment ${segment.id} is ${segment.sourceType}; only FIRST_PARTY segments take user uploads`);
    const list = (req.json as { users?: unknown } | undefined)?.users;
    if (!Array.isArray(list) || list.length !== 1) throw error(400, 'users: expected exactly one element (one schema per request)');
    const { schema, data } = (list[0] ?? {}) as { schema?: unknown; data?: unknown };
    if (!Array.isArray(schema) || schema.length !== 1 || typeof schema[0] !== 'string' || !(schema[0] in SCHEMA_TYPES)) {
      throw error(400, `users[0].schema: expected one of ${Object.keys(SCHEMA_TYPES).join(', ')}`);
    }
    if (!Array.isArray(data) || data.length < 1) throw error(400, 'users[0].data: expected a non-empty list');
    if (data.length > maxRows) throw error(400, `users[0].data: ${data.length} rows exceeds the maximum of ${maxRows}`);
    const values = data.map((r, i) => {
      if (!Array.isArray(r) || r.length !== 1 || typeof r[0] !== 'string' || !SHA256_HEX.test(r[0])) {
        throw error(400, `users[0].data[${i}]: expected one value of 64 lower-case hex digits (SHA-256)`);
      }
      return r[0] as string;
    });
    const refused = values.map((v) => rejectValues.get(v)).find((x) => x !== undefined);
    if (refused) {
      // Snap's answer for a refused element: the request is answered, the element is not applied.
      return {
        body: {
          request_status: 'ERROR',
          request_id: requestId(),
          users: [{ sub_request_status: 'ERROR', sub_request_error_reason: refused.reason, ...(refused.code ? { error_code: refused.code } : {}) }],
        },
      };
    }
    const type = SCHEMA_TYPES[schema[0]]!;
    for (const v of values) {
      if (action === 'add') segment.members.set(`${type}:${v}`, { [type]: v });
      else segment.members.delete(`${type}:${v}`);
    }
    segment.uploaded = true;
    return { body: { request_status: 'SUCCESS', request_id: requestId(), users: [{ sub_request_status: 'SUCCESS', user: { number_uploaded_users: values.length } }] } };
  };

  const vendor: FakeVendor = await startFakeVendor({
    name: 'Snapchat',
    auth: (req) => {
      if (req.path === TOKEN_PATH) return undefined;
      const h = req.headers.authorization;
      if (!h?.startsWith('Bearer ')) return 'missing Authorization: Bearer';
      return valid.has(h.slice(7)) ? undefined : 'bearer token is not valid';
    },
    authFailure: (why) => ({ status: 401, body: { request_status: 'ERROR', request_id: requestId(), debug_message: why, display_message: 'Unauthorized' } }),
    ...(opts.throttle ? { throttle: opts.throttle } : {}),
    notFound: () => ({ request_status: 'ERROR', request_id: requestId(), debug_message: 'no such endpoint' }),
    routes: [
      {
        method: 'POST',
        path: TOKEN_PATH,
        handler: (req) => {
          if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) throw new Refusal(400, 'token request is not form-encoded', { error: 'invalid_request' });
          const form = new URLSearchParams(req.rawBody);
          if (form.get('grant_type') !== 'refresh_token') throw new Refusal(400, 'grant_type is not refresh_token', { error: 'unsupported_grant_type' });
          if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) {
            throw new Refusal(401, 'client_id / client_secret are not the app credentials', { error: 'invalid_client', error_description: 'Invalid client credentials' });
          }
          if (form.get('refresh_token') !== refreshToken) throw new Refusal(400, 'refresh token is not the expected one', { error: 'invalid_grant', error_description: 'Invalid refresh token' });
          const token = `snap-access-${issued.length + 1}-${Math.random().toString(36).slice(2, 10)}`;
          issued.push(token);
          valid.add(token);
          return { body: { access_token: token, token_type: 'Bearer', expires_in: 1800, refresh_token: refreshToken, scope: 'snapchat-marketing-api' } };
        },
      },
      {
        method: 'GET',
        path: `${API}/adaccounts/:account`,
        handler: (req) => {
          requireAccount(req);
          return {
            body: {
              request_status: 'SUCCESS',
              request_id: requestId(),
              adaccounts: [{ sub_request_status: 'SUCCESS', adaccount: { id: adAccountId, name: 'Roster test account', type: 'PARTNER', status: 'ACTIVE' } }],
            },
          };
        },
      },
      {
        method: 'GET',
        path: `${API}/adaccounts/:account/segments`,
        handler: (req) => {
          requireAccount(req);
          const limitParam = req.query.get('limit');
          const limit = limitParam === null ? 50 : Number(limitParam);
          if (!Number.isInteger(limit) || limit < 50 || limit > 1000) throw error(400, 'limit: expected an integer from 50 to 1000');
          const size = Math.min(limit, pageSizeCap);
          const start = Number(req.query.get('cursor') ?? '0');
          const page = segments.slice(start, start + size);
          const next = start + size < segments.length ? `${vendorUrl}${req.path}?cursor=${start + size}&limit=${limit}` : undefined;
          return {
            body: {
              request_status: 'SUCCESS',
              request_id: requestId(),
              ...(next ? { paging: { next_link: next } } : { paging: {} }),
              segments: page.map((s) => ({ sub_request_status: 'SUCCESS', segment: view(s) })),
            },
          };
        },
      },
      {
        method: 'POST',
        path: `${API}/adaccounts/:account/segments`,
        handler: (req) => {
          requireAccount(req);
          const list = (req.json as { segments?: unknown } | undefined)?.segments;
          if (!Array.isArray(list) || list.length < 1) throw error(400, 'segments: expected a non-empty list');
          const created = list.map((raw, i) => {
            const s = (raw ?? {}) as Record<string, unknown>;
            if (typeof s.name !== 'string' || s.name.length < 1 || [...s.name].length > 375) throw error(400, `segments[${i}].name: expected 1 to 375 characters`);
            if (typeof s.source_type !== 'string' || !SOURCE_TYPES.has(s.source_type)) throw error(400, `segments[${i}].source_type: not a known source type`);
            if (!Number.isInteger(s.retention_in_days) || (s.retention_in_days as number) < 1) throw error(400, `segments[${i}].retention_in_days: expected a positive integer`);
            if (s.ad_account_id !== adAccountId) throw error(400, `segments[${i}].ad_account_id: expected the ad account of the path`);
            const segment: FakeSegment = {
              id: String(nextSegment++),
              name: s.name,
              description: typeof s.description === 'string' ? s.description : '',
              sourceType: s.source_type,
              retentionInDays: s.retention_in_days as number,
              createdAt: new Date().toISOString(),
              uploaded: false,
              members: new Map(),
            };
            segments.push(segment);
            return { sub_request_status: 'SUCCESS', segment: { ...view(segment), status: 'PENDING' } };
          });
          return { body: { request_status: 'SUCCESS', request_id: requestId(), segments: created } };
        },
      },
      {
        method: 'GET',
        path: `${API}/segments/:segment`,
        handler: (req) => ({ body: { request_status: 'SUCCESS', request_id: requestId(), segments: [{ sub_request_status: 'SUCCESS', segment: view(segmentOf(req)) }] } }),
      },
      { method: 'POST', path: `${API}/segments/:segment/users`, handler: users('add') },
      { method: 'DELETE', path: `${API}/segments/:segment/users`, handler: users('remove') },
      {
        method: 'DELETE',
        path: `${API}/segments/:segment/all_users`,
        handler: (req) => {
          const segment = segmentOf(req);
          segment.members.clear();
          return { body: { request_status: 'SUCCESS', request_id: requestId(), segments: [{ sub_request_status: 'SUCCESS', segment: view(segment) }] } };
        },
      },
    ],
  });
  vendorUrl = vendor.url;

  return {
    vendor,
    type: 'snapchat',
    clientId,
    clientSecret,
    refreshToken,
    adAccountId,
    issued,
    rejectValues,
    config: { baseUrl: `${vendor.url}${API}`, tokenUrl: `${vendor.url}${TOKEN_PATH}`, clientId, clientSecret, refreshToken, adAccountId },
    audiences: () => segments.map((s) => ({ id: s.id, name: s.name, type: s.sourceType })),
    members: (id) => [...(segments.find((s) => s.id === id)?.members.values() ?? [])].map((m) => ({ ...m })),
    setMatchRatio: (r) => void (matchRatio = r),
    expireTokens: () => valid.clear(),
    close: () => vendor.close(),
  };
}
