// Amazon Ads (Login with Amazon + the AMC Audiences API) on loopback,
// enforcing the contract the Amazon Ads connector speaks
// (src/connectors/amazon-ads/index.ts, destinations.md §11):
//
// - POST /auth/o2/token: form-encoded refresh_token grant; the client id and
//   secret and the refresh token must match (LWA's invalid_client /
//   invalid_grant otherwise). Access tokens expire (`expireTokens()` revokes
//   every token issued, to exercise the refresh on 401).
// - Every other call: `Authorization: Bearer <issued token>` and
//   `Amazon-Advertising-API-ClientId`; /amc/* also `Amazon-Advertising-API-
//   Scope: <profile id>` when the fake has one.
// - POST /amc/audiences/metadata and …/records: the vendor media type,
//   advertiserId and audienceId as bare JSON numbers (read from the raw body:
//   audience ids are above 2^53), the documented fields and no others,
//   externalUserId ^[0-9a-zA-Z-_]{1,128}$, action CREATE | DELETE, hashedPII
//   values 64 lower-case hex under Amazon's keys, userConsent for GB / EEA
//   records, at most `maxRecords` (10,000) records per request.
// - Records listed in `rejectRecords` (by externalUserId) are not applied and
//   come back in the job's invalidRecords, as Amazon reports them.
// - GET /amc/audiences/records/:jobRequestId answers IN_PROGRESS for
//   `jobPendingPolls` polls, then COMPLETED with audienceSize and
//   invalidRecords. GET /amc/audiences/metadata/:id reports audienceSize
//   {receivedRecordSize: members, idResolutionCount = dspAudienceSize =
//   floor(members × matchRatio)}.
import { randomBytes, randomUUID } from 'node:crypto';
import { Refusal, SHA256_HEX, startFakeVendor, type FakePlatform, type Throttle, type VendorRequest } from './fake-vendor.js';

export interface AmazonAdsFakeOptions {
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  /** Expected in Amazon-Advertising-API-Scope on /amc/*; null: no scope checked. */
  profileId?: string | null;
  advertiserId?: string;
  maxRecords?: number;
  /** Polls answered IN_PROGRESS before a job completes (default 0). */
  jobPendingPolls?: number;
  throttle?: Throttle;
}

export interface AmcMember {
  countryCode: string;
  hashedPII: Record<string, string>;
  userConsent?: unknown;
}

export interface AmazonAdsFake extends FakePlatform {
  /** Members of an audience by externalUserId, as last received. */
  records(audienceId: string): Map<string, AmcMember>;
  /** externalUserIds whose records are refused (the value is Amazon's error text). */
  rejectRecords: Map<string, string>;
  /** Revokes every access token issued so far. */
  expireTokens(): void;
  tokensIssued(): number;
}

const MEDIA = 'application/vnd.amcaudiences.v1+json';
const PII_KEYS = new Set(['firstname', 'lastname', 'address', 'postal', 'phone', 'city', 'state', 'email']);
const ROSTER_NAME: Record<string, string> = { email: 'EMAIL', phone: 'PHONE', firstname: 'FIRST_NAME', lastname: 'LAST_NAME', postal: 'ZIP', city: 'CITY', state: 'STATE' };
const CONSENT_COUNTRIES = new Set(['AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE', 'IS', 'LI', 'NO', 'GB']);
const MAX_TTL = 34_300_800;
/** The first audience id handed out: above 2^53, like Amazon's. */
const FIRST_AUDIENCE_ID = 379_909_525_712_777_677n;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const bad = (why: string) => new Refusal(400, why, { message: why });

export async function startAmazonAdsFake(opts: AmazonAdsFakeOptions = {}): Promise<AmazonAdsFake> {
  const clientId = opts.clientId ?? 'amzn1.application-oa2-client.5f0c7a9e21d34b';
  const clientSecret = opts.clientSecret ?? 'amzn1.oa2-cs.v1.9c2e4f6a8b0d1e3f5a7c';
  const refreshToken = opts.refreshToken ?? 'Atzr|IwEBIJ3k9LmQ7rT2xV5nB8cZ1dF4gH6j';
  const profileId = opts.profileId === undefined ? '3176524120931042' : opts.profileId;
  const advertiserId = opts.advertiserId ?? '584120939203910';
  const maxRecords = opts.maxRecords ?? 10_000;
  const pendingPolls = opts.jobPendingPolls ?? 0;

  const tokens = new Map<string, boolean>();
  let issued = 0;
  let ratio = 0.8;
  let nextId = FIRST_AUDIENCE_ID;
  const audiences = new Map<string, { id: string; name: string; countryCode: string; description: string; externalAudienceId: string; ttl?: number; members: Map<string, AmcMember> }>();
  const jobs = new Map<string, { audienceId: string; polls: number; invalidRecords: { audienceId: string; error: string; externalId: string }[] }>();
  const rejectRecords = new Map<string, string>();

  const sizeOf = (id: string) => {
    const n = audiences.get(id)?.members.size ?? 0;
    const matched = Math.floor(n * ratio);
    return { dspAudienceSize: matched, idResolutionCount: matched, receivedRecordSize: n };
  };

  const auth = (req: VendorRequest): string | undefined => {
    if (req.path === '/auth/o2/token') return undefined;
    const h = req.headers.authorization;
    const token = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7) : undefined;
    if (!token) return 'missing Authorization: Bearer <access token>';
    if (tokens.get(token) !== true) return 'the access token is invalid or expired';
    if (req.headers['amazon-advertising-api-clientid'] !== clientId) return 'Amazon-Advertising-API-ClientId is missing or not the client the token was issued to';
    if (req.path.startsWith('/amc/') && profileId !== null && req.headers['amazon-advertising-api-scope'] !== profileId) {
      return 'Amazon-Advertising-API-Scope is missing or not the expected profile';
    }
    return undefined;
  };

  const token = (req: VendorRequest) => {
    if (!/^application\/x-www-form-urlencoded\b/.test(String(req.headers['content-type'] ?? ''))) throw bad('expected a form-encoded body');
    if (req.headers.authorization !== undefined) throw bad('the token endpoint takes no Authorization header');
    const form = new URLSearchParams(req.rawBody);
    if (form.get('grant_type') !== 'refresh_token') throw new Refusal(400, 'unsupported grant_type', { error: 'unsupported_grant_type', error_description: 'expected refresh_token' });
    if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) {
      throw new Refusal(401, 'client credentials refused', { error: 'invalid_client', error_description: 'Client authentication failed' });
    }
    if (form.get('refresh_token') !== refreshToken) {
      throw new Refusal(400, 'refresh token refused', { error: 'invalid_grant', error_description: 'The request has an invalid grant parameter : refresh_token' });
    }
    const access = `Atza|${randomBytes(24).toString('base64url')}`;
    tokens.set(access, true);
    issued++;
    return { body: { access_token: access, refresh_token: refreshToken, token_type: 'bearer', expires_in: 3600 } };
  };

  const profiles = () => ({
    body: `[{"profileId":${profileId ?? '3176524120931042'},"countryCode":"US","currencyCode":"USD","timezone":"America/Los_Angeles","accountInfo":{"marketplaceStringId":"ATVPDKIKX0DER","id":"ENTITY2Q8ZJ1V0TJ3M","type":"agency","name":"Roster test"}}]`,
  });

  const mediaType = (req: VendorRequest) => {
    if (!String(req.headers['content-type'] ?? '').startsWith(MEDIA)) throw new Refusal(415, `expected Content-Type: ${MEDIA}`, { message: 'Unsupported media type' });
    if (!isObject(req.json)) throw bad('expected a JSON object body');
    return req.json;
  };

  /** The digits of a bare-number field in the raw body; a quoted one is a contract violation. */
  const bareNumber = (req: VendorRequest, field: string): string => {
    if (new RegExp(`"${field}"\\s*:\\s*"`).test(req.rawBody)) throw bad(`${field} must be a JSON number, not a string`);
    const m = new RegExp(`"${field}"\\s*:\\s*(\\d+)\\s*[,}]`).exec(req.rawBody);
    if (!m) throw bad(`${field} is required (a number)`);
    return m[1]!;
  };

  const createAudience = (req: VendorRequest) => {
    const body = mediaType(req);
    const extra = Object.keys(body).filter((k) => !['name', 'description', 'countryCode', 'targetResource', 'metadata'].includes(k));
    if (extra.length) throw bad(`unexpected fields ${extra.join(', ')}`);
    if (typeof body.name !== 'string' || body.name.trim() === '') throw bad('name must be a non-empty string');
    if (typeof body.description !== 'string' || body.description.length > 1000) throw bad('description must be a string of at most 1000 characters');
    if (typeof body.countryCode !== 'string' || !/^[A-Z]{2}$/.test(body.countryCode)) throw bad('countryCode must be an ISO 3166-1 alpha-2 code');
    if (!isObject(body.targetResource)) throw bad('targetResource is required');
    const adv = bareNumber(req, 'advertiserId');
    if (adv !== advertiserId) throw new Refusal(403, 'advertiser not accessible', { code: '403', details: 'Not authorized to access this advertiser' });
    const meta = body.metadata;
    if (!isObject(meta) || typeof meta.externalAudienceId !== 'string' || meta.externalAudienceId === '') throw bad('metadata.externalAudienceId is required');
    const metaExtra = Object.keys(meta).filter((k) => !['externalAudienceId', 'ttl', 'audienceFees'].includes(k));
    if (metaExtra.length) throw bad(`unexpected metadata fields ${metaExtra.join(', ')}`);
    if (meta.ttl !== undefined && !(Number.isInteger(meta.ttl) && (meta.ttl as number) > 0 && (meta.ttl as number) <= MAX_TTL)) throw bad(`metadata.ttl must be an integer up to ${MAX_TTL}`);
    const id = String(nextId++);
    audiences.set(id, {
      id,
      name: body.name,
      countryCode: body.countryCode,
      description: body.description,
      externalAudienceId: meta.externalAudienceId,
      ...(meta.ttl !== undefined ? { ttl: meta.ttl as number } : {}),
      members: new Map(),
    });
    return { body: `{"audienceId":${id}}` };
  };

  const getAudience = (req: VendorRequest) => {
    const a = audiences.get(req.params.audienceId!);
    if (!a) throw new Refusal(404, `no audience ${req.params.audienceId}`, { message: 'The requested audience not found.' });
    const metadata = { externalAudienceId: a.externalAudienceId, ...(a.ttl !== undefined ? { ttl: a.ttl } : {}), audienceSize: sizeOf(a.id) };
    return {
      body: `{"advertiserId":${advertiserId},"audienceId":${a.id},"countryCode":${JSON.stringify(a.countryCode)},"description":${JSON.stringify(a.description)},"metadata":${JSON.stringify(metadata)},"name":${JSON.stringify(a.name)}}`,
    };
  };

  const checkConsent = (c: unknown, countryCode: string, at: string) => {
    if (c === undefined) {
      if (CONSENT_COUNTRIES.has(countryCode)) throw bad(`${at}: userConsent is required for ${countryCode}`);
      return;
    }
    if (!isObject(c) || !isObject(c.geo) || c.geo.countryCode !== countryCode) throw bad(`${at}.userConsent.geo.countryCode must be the record's country`);
    const consent = c.consent;
    if (!isObject(consent)) throw bad(`${at}.userConsent.consent is required`);
    const grant = (v: unknown) => v === 'GRANTED' || v === 'DENIED';
    const amzn = consent.amzn;
    const amznOk = isObject(amzn) && grant(amzn.amznAdStorage) && grant(amzn.amznUserData);
    if (amzn !== undefined && !amznOk) throw bad(`${at}.userConsent.consent.amzn needs amznAdStorage and amznUserData, GRANTED or DENIED`);
    const strings = (v: unknown) => v === undefined || (typeof v === 'string' && v !== '');
    if (!strings(consent.tcf) || !strings(consent.gpp)) throw bad(`${at}.userConsent.consent.tcf / gpp must be non-empty strings`);
    if (!amznOk && consent.tcf === undefined && consent.gpp === undefined) throw bad(`${at}.userConsent.consent holds no signal`);
  };

  const uploadRecords = (req: VendorRequest) => {
    const body = mediaType(req);
    const extra = Object.keys(body).filter((k) => !['audienceId', 'records', 'targetResource'].includes(k));
    if (extra.length) throw bad(`unexpected fields ${extra.join(', ')}`);
    const audienceId = bareNumber(req, 'audienceId');
    const audience = audiences.get(audienceId);
    if (!audience) throw new Refusal(404, `no audience ${audienceId}`, { message: 'The requested audience not found.' });
    if (!Array.isArray(body.records) || body.records.length === 0) throw bad('records must be a non-empty array');
    if (body.records.length > maxRecords) throw bad(`records: at most ${maxRecords} per request, got ${body.records.length}`);
    const accepted: { id: string; action: string; member: AmcMember }[] = [];
    const invalidRecords: { audienceId: string; error: string; externalId: string }[] = [];
    body.records.forEach((r: unknown, i: number) => {
      const at = `records[${i}]`;
      if (!isObject(r)) throw bad(`${at} must be an object`);
      const keys = Object.keys(r).filter((k) => !['externalUserId', 'countryCode', 'action', 'hashedPII', 'userConsent'].includes(k));
      if (keys.length) throw bad(`${at}: unexpected fields ${keys.join(', ')}`);
      if (typeof r.externalUserId !== 'string' || !/^[0-9a-zA-Z_-]{1,128}$/.test(r.externalUserId)) throw bad(`${at}.externalUserId must match ^[0-9a-zA-Z-_]{1,128}$`);
      if (r.action !== 'CREATE' && r.action !== 'DELETE') throw bad(`${at}.action must be CREATE or DELETE`);
      if (typeof r.countryCode !== 'string' || !/^[A-Z]{2}$/.test(r.countryCode)) throw bad(`${at}.countryCode must be an upper-case ISO 3166-1 alpha-2 code`);
      if (!Array.isArray(r.hashedPII) || r.hashedPII.length === 0) throw bad(`${at}.hashedPII must be a non-empty array`);
      const pii: Record<string, string> = {};
      for (const h of r.hashedPII) {
        if (!isObject(h) || Object.keys(h).length === 0) throw bad(`${at}.hashedPII entries must be non-empty objects`);
        for (const [k, v] of Object.entries(h)) {
          if (!PII_KEYS.has(k)) throw bad(`${at}.hashedPII: unknown key ${k}`);
          if (typeof v !== 'string' || !SHA256_HEX.test(v)) throw bad(`${at}.hashedPII.${k} must be 64 lower-case hex characters (SHA-256)`);
          pii[k] = v;
        }
      }
      checkConsent(r.userConsent, r.countryCode, at);
      const refused = rejectRecords.get(r.externalUserId);
      if (refused !== undefined) {
        invalidRecords.push({ audienceId, error: refused, externalId: r.externalUserId });
        return;
      }
      accepted.push({ id: r.externalUserId, action: r.action, member: { countryCode: r.countryCode, hashedPII: pii, ...(r.userConsent !== undefined ? { userConsent: r.userConsent } : {}) } });
    });
    // Applied only once the whole request passed the checks.
    for (const a of accepted) {
      if (a.action === 'CREATE') audience.members.set(a.id, a.member);
      else audience.members.delete(a.id);
    }
    const jobRequestId = randomUUID();
    jobs.set(jobRequestId, { audienceId, polls: 0, invalidRecords });
    return { status: 202, body: { jobRequestId } };
  };

  const jobStatus = (req: VendorRequest) => {
    const job = jobs.get(req.params.jobRequestId!);
    if (!job) throw new Refusal(404, `no job ${req.params.jobRequestId}`, { message: 'The requested job not found.' });
    job.polls++;
    if (job.polls <= pendingPolls) return { body: { jobRequestId: req.params.jobRequestId, status: 'IN_PROGRESS' } };
    return { body: { jobRequestId: req.params.jobRequestId, status: 'COMPLETED', audienceSize: sizeOf(job.audienceId), invalidRecords: job.invalidRecords } };
  };

  const vendor = await startFakeVendor({
    name: 'Amazon Ads',
    auth,
    authFailure: (why) => ({ status: 401, body: { code: 'UNAUTHORIZED', details: why } }),
    ...(opts.throttle ? { throttle: opts.throttle } : {}),
    notFound: () => ({ code: 'NOT_FOUND', details: 'Not found' }),
    routes: [
      { method: 'POST', path: '/auth/o2/token', handler: token },
      { method: 'GET', path: '/v2/profiles', handler: profiles },
      { method: 'POST', path: '/amc/audiences/metadata', handler: createAudience },
      { method: 'GET', path: '/amc/audiences/metadata/:audienceId', handler: getAudience },
      { method: 'POST', path: '/amc/audiences/records', handler: uploadRecords },
      { method: 'GET', path: '/amc/audiences/records/:jobRequestId', handler: jobStatus },
    ],
  });

  return {
    vendor,
    type: 'amazon_ads',
    config: {
      baseUrl: vendor.url,
      tokenUrl: `${vendor.url}/auth/o2/token`,
      clientId,
      clientSecret,
      refreshToken,
      ...(profileId !== null ? { profileId } : {}),
      advertiserId,
      countryCode: 'US',
    },
    audiences: () => [...audiences.values()].map((a) => ({ id: a.id, name: a.name, type: null })),
    members: (audienceId) =>
      [...(audiences.get(audienceId)?.members.values() ?? [])].map((m) => Object.fromEntries(Object.entries(m.hashedPII).map(([k, v]) => [ROSTER_NAME[k] ?? k.toUpperCase(), v]))),
    setMatchRatio: (r) => {
      ratio = r;
    },
    records: (audienceId) => audiences.get(audienceId)?.members ?? new Map(),
    rejectRecords,
    expireTokens: () => {
      for (const t of tokens.keys()) tokens.set(t, false);
    },
    tokensIssued: () => issued,
    close: () => vendor.close(),
  };
}
