// Braze cohorts: Roster audiences as partner cohorts (Braze's "Partner Cohort
// Import"), filled with users that are upserted through /users/track first,
// because the cohort import creates no users.
//
// What it speaks (base https://rest.<cluster>.braze.com, one per cluster):
//   check           POST /partners/{partner}/cohorts/users {partner_api_key, client_secret,
//                   cohort_id:"roster_check", cohort_changes:[]}, then POST /users/track {attributes:[]}
//                   (Bearer REST key; 400 "Valid data must be provided…" proves the key was accepted)
//   createAudience  POST /partners/{partner}/cohorts {partner_api_key, client_secret, cohort_id, name,
//                   created_at}; the cohort id is Roster's own (the partner names it)
//   ensureProfiles  POST /users/track {attributes:[{external_id, email?, …fields} |
//                   {user_alias:{alias_name:<email>, alias_label}, email, _update_existing_only:false, …}]}
//                   → {message:"success", attributes_processed, errors?:[{type, input_array, index}]}
//   update          the same upsert (cohort membership does not change)
//   add / remove    POST /partners/{partner}/cohorts/users {…, cohort_id, cohort_changes:[{user_ids?,
//                   aliases?, should_remove}]}
//   fields          Braze's standard attributes, and GET /custom_attributes (50 a page, next page in the
//                   Link header) → {attributes:[{name, data_type, status, …}]}
//
// Sources (tags as in /work/shared/reference/destinations.md §10):
// - Cohort import: both endpoints, body auth (partner_api_key = the partner's
//   key, client_secret = the customer's Data Import Key), cohort_changes with
//   user_ids / device_ids / aliases and should_remove, "Max combined length of
//   the user IDs in a single request is 1000", "not specifically rate
//   limited", the 400/401 messages (one of which quotes the client secret,
//   hence the redaction below), and that ids matching no user are ignored.
//   braze-inc/braze-docs _docs/_partners/isv_partners/cohort_import.md [VS]
// - The check call with an empty cohort_changes list: segmentio/action-
//   destinations …/braze-cohorts/index.ts (testAuthentication) [3C].
// - /users/track: Bearer REST key with users.track, one of external_id |
//   user_alias | braze_id | email | phone per object, `_update_existing_only:
//   false` to create alias-only users, the three response forms.
//   braze-inc/braze-docs _docs/_api/endpoints/user_data/post_user_track.md [VS]
// - Non-fatal errors carry `index` within `input_array` (not in Braze's page):
//   rudderlabs/rudder-transformer src/v0/destinations/braze_audience/delivery.ts [3C];
//   external_id under 988 bytes: …/braze_audience/utils.ts [3C]. An error
//   without an index cannot be attributed, so the call fails and is resent.
// - Limits: /users/track 3,000 requests per 3 s and 75 objects per request
//   (50 on MAU contracts: `profilesPerRequest`), 429 on excess.
//   braze.com/docs/api/api_limits [V]. Concurrency is not documented; 10 is a
//   judgement. Braze documents X-RateLimit-* headers; on a 429 the HTTP
//   helper waits on Retry-After when sent, else on X-RateLimit-Retry-After
//   (seconds), else until X-RateLimit-Reset (UTC epoch seconds), both read
//   through its `retryWhen` hook (braze.com/docs/api/messaging_api/rate_limits
//   [V] describes the two headers), and otherwise backs off with jitter.
// - /custom_attributes: 50 per page, `cursor`, Link header; data_type, status.
//   braze-inc/braze-docs …/export/custom_attributes/get_custom_attributes.md [VS]
// - No audience size or match rate is reported anywhere (reportsMatchRate false),
//   and cohorts cannot be listed (canList false). [VS]
//
// Identity: a row with an EXTERNAL_ID is the Braze user with that external_id
// (its e-mail, when present, is written as an attribute); a row with only an
// EMAIL is an alias-only user whose alias is (e-mail, aliasLabel), created
// with `_update_existing_only: false`. E-mails are trimmed and lower-cased so
// the same person always maps to the same alias. Nothing is hashed.
//
// Profiles: add() never creates users; the engine calls ensureProfiles first
// (spec.requiresProfiles). Braze ignores cohort ids that match no user without
// saying so, so such rows cannot be reported. Removing a member never deletes
// the user. Upserting on every add costs Braze data points; only identifiers
// and mapped fields are sent.
import type { ValidationProblem } from '../../graphql/errors.js';
import { redactSecrets } from '../../warehouse/connection.js';
import {
  ConnectorError,
  type Audience,
  type Connector,
  type ConnectorContext,
  type DeliveryResult,
  type DestinationField,
  type DestinationFieldType,
  type RowRejection,
  type SyncRow,
} from '../contract.js';
import { createHttpClient, waitFromHeaders, type HttpClient, type HttpClientOptions, type HttpResponse } from '../http.js';
import { normaliseEmail, normaliseExternalId, prepareIdentifiers, sha256Hex, type IdentifierRule, type Normalised, type PreparedRow } from '../identifiers.js';

export type BrazeConfig = {
  /** The cluster's REST endpoint; default https://rest.iad-01.braze.com. */
  baseUrl?: string;
  /** The [partner_name] of the cohort import paths, issued by Braze. */
  partnerName: string;
  partnerApiKey: string;
  /** The customer's Data Import Key (sent as client_secret). */
  dataImportKey: string;
  /** A REST API key with users.track (and custom_attributes.get for fields()). */
  restApiKey: string;
  /** alias_label of alias-only users identified by e-mail (default "email"). */
  aliasLabel?: string;
  /** Attributes objects per /users/track call (default 75; 50 on MAU contracts). */
  profilesPerRequest?: number;
};

/** Knobs of the HTTP helper; tests shorten them. */
export type BrazeHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>;

export const BRAZE_BASE_URL = 'https://rest.iad-01.braze.com';
/** Ids (user_ids + device_ids + aliases) per cohort import request. */
export const BRAZE_COHORT_IDS_PER_REQUEST = 1_000;
/** Objects per /users/track request. */
export const BRAZE_TRACK_OBJECTS_PER_REQUEST = 75;
export const BRAZE_DEFAULT_ALIAS_LABEL = 'email';
/** 3,000 requests per 3 s. */
const RATE_LIMIT = { requestsPerSecond: 1_000, concurrency: 10 };
/** The wait of a 429 when Braze sends no Retry-After. */
const BRAZE_RATE_LIMIT_WAIT = waitFromHeaders([
  { name: 'x-ratelimit-retry-after', kind: 'seconds' },
  { name: 'x-ratelimit-reset', kind: 'epoch' },
]);
const CHECK_COHORT_ID = 'roster_check';
/** Braze's answer to a /users/track call with nothing in it: the key was accepted. */
const EMPTY_TRACK = /^valid data must be provided/i;
/** Keys of an attributes object that say who the user is: mapped fields cannot set them. */
const IDENTITY_KEYS = new Set(['external_id', 'user_alias', 'braze_id', '_update_existing_only']);
const MAX_EXTERNAL_ID_BYTES = 987;
const MAX_ATTRIBUTE_PAGES = 1_000;

const EXTERNAL_ID_RULE: IdentifierRule = {
  type: 'EXTERNAL_ID',
  normalise: (raw): Normalised => {
    const n = normaliseExternalId(raw);
    if (n.ok && Buffer.byteLength(n.value, 'utf8') > MAX_EXTERNAL_ID_BYTES) return { ok: false, reason: 'is longer than the 987 bytes Braze allows' };
    return n;
  },
  hash: false,
};
const EMAIL_RULE: IdentifierRule = { type: 'EMAIL', normalise: (v) => normaliseEmail(v), hash: false };

/** Braze's standard user attributes that a mapping may write (the user attributes object). */
const STANDARD_FIELDS: DestinationField[] = [
  { name: 'first_name', type: 'STRING', label: 'First name' },
  { name: 'last_name', type: 'STRING', label: 'Last name' },
  { name: 'email', type: 'STRING', label: 'E-mail' },
  { name: 'phone', type: 'STRING', label: 'Phone (E.164)' },
  { name: 'country', type: 'STRING', label: 'Country (ISO 3166-1 alpha-2)' },
  { name: 'home_city', type: 'STRING', label: 'Home city' },
  { name: 'language', type: 'STRING', label: 'Language (ISO 639-1)' },
  { name: 'time_zone', type: 'STRING', label: 'Time zone (IANA)' },
  { name: 'dob', type: 'DATE', label: 'Date of birth' },
  { name: 'gender', type: 'ENUM', label: 'Gender', options: ['M', 'F', 'O', 'N', 'P'] },
  { name: 'email_subscribe', type: 'ENUM', label: 'E-mail subscription', options: ['opted_in', 'subscribed', 'unsubscribed'] },
  { name: 'push_subscribe', type: 'ENUM', label: 'Push subscription', options: ['opted_in', 'subscribed', 'unsubscribed'] },
];

interface TrackError {
  type?: unknown;
  input_array?: unknown;
  index?: unknown;
}

interface BrazeBody {
  message?: unknown;
  errors?: unknown;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Braze's message, or undefined; bodies that are not JSON say nothing. */
function messageOf(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as BrazeBody;
    return typeof body?.message === 'string' ? body.message : undefined;
  } catch {
    return undefined;
  }
}

function mapDataType(dataType: unknown): DestinationFieldType {
  switch (String(dataType).toLowerCase()) {
    case 'string':
      return 'STRING';
    case 'number':
    case 'integer':
    case 'float':
      return 'NUMBER';
    case 'boolean':
      return 'BOOLEAN';
    case 'time':
    case 'date':
      return 'DATETIME';
    default:
      // Arrays, objects and arrays of objects have no scalar counterpart.
      return 'OTHER';
  }
}

/** The URL of rel="next" in a Link header (RFC 8288), or undefined. */
export function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]+)>\s*;(.*)$/.exec(part.trim());
    if (m && /\brel\s*=\s*"?next"?/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

export function createBrazeConnector(http: BrazeHttpOptions = {}): Connector<BrazeConfig> {
  const baseUrlOf = (c: BrazeConfig) => c.baseUrl ?? BRAZE_BASE_URL;
  const secretsOf = (c: BrazeConfig) => [c.partnerApiKey, c.dataImportKey, c.restApiKey];

  // Two clients: the partner endpoints authenticate in the body and must not
  // receive the REST key; /users/track and /custom_attributes take it as a header.
  const partnerClient = (ctx: ConnectorContext<BrazeConfig>): HttpClient =>
    createHttpClient({ ...http, baseUrl: baseUrlOf(ctx.config), rateLimit: RATE_LIMIT, logger: ctx.logger, signal: ctx.signal, retryWhen: BRAZE_RATE_LIMIT_WAIT });
  const restClient = (ctx: ConnectorContext<BrazeConfig>): HttpClient =>
    createHttpClient({
      ...http,
      baseUrl: baseUrlOf(ctx.config),
      rateLimit: RATE_LIMIT,
      logger: ctx.logger,
      signal: ctx.signal,
      headers: { authorization: `Bearer ${ctx.config.restApiKey}` },
      retryWhen: BRAZE_RATE_LIMIT_WAIT,
    });

  /** Braze's own words for a failure, with every credential removed (one 401 quotes the client secret). */
  const said = (ctx: ConnectorContext<BrazeConfig>, text: string): string => {
    const message = messageOf(text) ?? text;
    const clean = redactSecrets(message, secretsOf(ctx.config)).replace(/\s+/g, ' ').trim();
    if (clean === '') return '';
    return `: ${clean.length > 200 ? `${clean.slice(0, 200)}…` : clean}`;
  };

  const cohortPath = (ctx: ConnectorContext<BrazeConfig>, suffix: string) => `/partners/${encodeURIComponent(ctx.config.partnerName)}/cohorts${suffix}`;

  /** A cohort import call; credentials go in the body. */
  const partnerPost = async (client: HttpClient, ctx: ConnectorContext<BrazeConfig>, suffix: string, body: Record<string, unknown>): Promise<void> => {
    const path = cohortPath(ctx, suffix);
    const res = await client.request('POST', path, {
      json: { partner_api_key: ctx.config.partnerApiKey, client_secret: ctx.config.dataImportKey, ...body },
      // Read here rather than thrown by the helper: its message would quote
      // the body, and Braze's 401 body can hold the Data Import Key.
      accept: [400, 401, 403, 404],
    });
    if (res.status >= 200 && res.status < 300) return;
    const text = await res.text();
    const shown = `/partners/{partner}/cohorts${suffix}`;
    if (res.status === 401 || res.status === 403) {
      throw new ConnectorError(
        `POST ${shown} failed with HTTP ${res.status}: Braze refused the partner credentials; expected the partner API key of this cluster and the Data Import Key of a workspace that enabled partner "${ctx.config.partnerName}"${said(ctx, text)}`,
        `HTTP_${res.status}`,
        false,
        res.status,
      );
    }
    if (res.status === 404) {
      throw new ConnectorError(
        `POST ${shown} failed with HTTP 404: expected "${ctx.config.partnerName}" to be the partner name Braze issued for cohort import on this cluster${said(ctx, text)}`,
        'HTTP_404',
        false,
        404,
      );
    }
    throw new ConnectorError(`POST ${shown} failed with HTTP ${res.status}${said(ctx, text)}`, `HTTP_${res.status}`, false, res.status);
  };

  const prepare = (rows: readonly SyncRow[]) => prepareIdentifiers(rows, [EXTERNAL_ID_RULE, EMAIL_RULE], { platform: 'Braze' });

  const aliasLabelOf = (c: BrazeConfig) => c.aliasLabel ?? BRAZE_DEFAULT_ALIAS_LABEL;

  /** The /users/track attributes object of a prepared row: mapped fields, then who the user is. */
  const attributesOf = (p: PreparedRow, config: BrazeConfig, log: ConnectorContext<BrazeConfig>['logger']): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    const skipped: string[] = [];
    for (const [name, value] of Object.entries(p.row.fields)) {
      if (IDENTITY_KEYS.has(name)) {
        skipped.push(name);
        continue;
      }
      // JSON has no undefined: an unset field clears the attribute, as null does.
      out[name] = value === undefined ? null : value;
    }
    if (skipped.length) log.warn({ fields: skipped }, 'braze: mapped fields that name a user identity key were not sent');
    const externalId = p.values.EXTERNAL_ID;
    const email = p.values.EMAIL;
    if (externalId !== undefined) {
      out.external_id = externalId;
      if (email !== undefined) out.email = email;
    } else {
      out.user_alias = { alias_name: email, alias_label: aliasLabelOf(config) };
      out.email = email;
      // Without it, an alias that matches no user is dropped instead of created.
      out._update_existing_only = false;
    }
    return out;
  };

  /** Upserts the users of the rows through /users/track; returns the objects Braze refused. */
  const upsert = async (ctx: ConnectorContext<BrazeConfig>, rows: SyncRow[]): Promise<DeliveryResult> => {
    const { prepared, rejected } = prepare(rows);
    if (prepared.length === 0) return { rejected };
    const perRequest = ctx.config.profilesPerRequest ?? BRAZE_TRACK_OBJECTS_PER_REQUEST;
    const client = restClient(ctx);
    try {
      for (const chunk of chunks(prepared, perRequest)) {
        const attributes = chunk.map((p) => attributesOf(p, ctx.config, ctx.logger));
        const res = await client.request('POST', '/users/track', { json: { attributes }, accept: [400, 401, 403, 404] });
        const text = await res.text();
        if (res.status === 401 || res.status === 403) {
          throw new ConnectorError(
            `POST /users/track failed with HTTP ${res.status}: Braze refused the REST API key; expected a key of this workspace with the users.track permission${said(ctx, text)}`,
            `HTTP_${res.status}`,
            false,
            res.status,
          );
        }
        if (res.status >= 300) throw new ConnectorError(`POST /users/track failed with HTTP ${res.status}${said(ctx, text)}`, `HTTP_${res.status}`, false, res.status);
        rejected.push(...trackRejections(text, chunk));
      }
      return { rejected };
    } finally {
      await client.stop();
    }
  };

  /** Non-fatal errors of a 2xx /users/track answer, as rejections of the rows at their index. */
  const trackRejections = (text: string, chunk: PreparedRow[]): RowRejection[] => {
    let body: BrazeBody;
    try {
      body = JSON.parse(text) as BrazeBody;
    } catch {
      throw new ConnectorError(`POST /users/track: expected a JSON answer such as {"message":"success"}, but got ${text.trim() === '' ? 'an empty body' : 'something else'}`, 'INVALID_RESPONSE', true);
    }
    if (body?.errors === undefined || body.errors === null) return [];
    if (!Array.isArray(body.errors)) throw new ConnectorError('POST /users/track: expected "errors" to be a list', 'INVALID_RESPONSE', true);
    const out = new Map<string, RowRejection>();
    for (const e of body.errors as TrackError[]) {
      const index = typeof e?.index === 'number' ? e.index : undefined;
      const where = e?.input_array ?? 'attributes';
      const target = index !== undefined && where === 'attributes' ? chunk[index] : undefined;
      // Braze said part of the batch failed without saying which part:
      // claiming the rest delivered would be a guess, so the call is resent.
      if (!target) {
        throw new ConnectorError(
          `POST /users/track: Braze reported an error that names no attributes object (expected {type, input_array:"attributes", index} within the ${chunk.length} sent)`,
          'INVALID_RESPONSE',
          true,
        );
      }
      if (out.has(target.row.key)) continue;
      // Braze's text names fields, but scrub the row's own values in case it quotes them.
      const values = Object.values(target.values).filter((v): v is string => typeof v === 'string');
      const type = typeof e.type === 'string' && e.type.trim() !== '' ? redactSecrets(e.type, values) : 'no reason given';
      out.set(target.row.key, {
        key: target.row.key,
        message: `Braze refused the user's attributes: ${type}`,
        code: /^[A-Z][A-Z0-9_]*$/.test(type) ? type : 'USERS_TRACK_ERROR',
      });
    }
    return [...out.values()];
  };

  const deliver = async (ctx: ConnectorContext<BrazeConfig>, audience: Audience, rows: SyncRow[], remove: boolean): Promise<DeliveryResult> => {
    const { prepared, rejected } = prepare(rows);
    if (prepared.length === 0) return { rejected };
    const client = partnerClient(ctx);
    const label = aliasLabelOf(ctx.config);
    try {
      // One id per row (its external_id, else its alias), so a chunk of 1,000
      // rows stays within Braze's 1,000 combined ids.
      for (const chunk of chunks(prepared, BRAZE_COHORT_IDS_PER_REQUEST)) {
        const userIds: string[] = [];
        const aliases: { alias_name: string; alias_label: string }[] = [];
        for (const p of chunk) {
          if (p.values.EXTERNAL_ID !== undefined) userIds.push(p.values.EXTERNAL_ID);
          else aliases.push({ alias_name: p.values.EMAIL!, alias_label: label });
        }
        const change = { ...(userIds.length ? { user_ids: userIds } : {}), ...(aliases.length ? { aliases } : {}), should_remove: remove };
        await partnerPost(client, ctx, '/users', { cohort_id: audience.id, cohort_changes: [change] });
      }
      return { rejected };
    } finally {
      await client.stop();
    }
  };

  return {
    type: 'braze',
    name: 'Braze Cohorts',
    spec: {
      category: 'MARKETING',
      configSchema: [
        { name: 'baseUrl', type: 'url', required: false, secret: false, description: "your cluster's REST endpoint, e.g. https://rest.iad-01.braze.com or https://rest.fra-01.braze.eu", default: BRAZE_BASE_URL },
        { name: 'partnerName', type: 'string', required: true, secret: false, description: 'the partner name Braze issued for cohort import (the [partner_name] in /partners/[partner_name]/cohorts)' },
        { name: 'partnerApiKey', type: 'string', required: true, secret: true, description: "the partner API key Braze issued for this cluster's region" },
        { name: 'dataImportKey', type: 'string', required: true, secret: true, description: "the workspace's Data Import Key (Partner Integrations › Technology Partners)" },
        { name: 'restApiKey', type: 'string', required: true, secret: true, description: 'a REST API key with the users.track permission (and custom_attributes.get to list attributes)' },
        { name: 'aliasLabel', type: 'string', required: false, secret: false, description: 'the alias_label of users identified only by e-mail', default: BRAZE_DEFAULT_ALIAS_LABEL },
        {
          name: 'profilesPerRequest',
          type: 'integer',
          required: false,
          secret: false,
          description: 'attributes objects per /users/track request, 1 to 75 (50 on Monthly Active Users contracts)',
          default: BRAZE_TRACK_OBJECTS_PER_REQUEST,
        },
      ],
      identifiers: [
        { type: 'EXTERNAL_ID', hashed: false },
        { type: 'EMAIL', hashed: false },
      ],
      audiences: { canList: false, canCreate: true, types: [], defaultType: null },
      batchSize: BRAZE_COHORT_IDS_PER_REQUEST,
      rateLimit: RATE_LIMIT,
      requiresProfiles: true,
      reportsMatchRate: false,
      supportsUpdate: true,
    },

    validateConfig(config: BrazeConfig): ValidationProblem[] {
      const problems: ValidationProblem[] = [];
      if (!/^[A-Za-z0-9_-]{1,100}$/.test(config.partnerName)) {
        problems.push({ path: ['partnerName'], message: 'expected the partner name Braze issued (letters, digits, "_" or "-"), but got other characters' });
      }
      const n = config.profilesPerRequest;
      if (n !== undefined && (n < 1 || n > BRAZE_TRACK_OBJECTS_PER_REQUEST)) {
        problems.push({ path: ['profilesPerRequest'], message: `expected an integer from 1 to ${BRAZE_TRACK_OBJECTS_PER_REQUEST}, but got ${n}` });
      }
      if (config.aliasLabel !== undefined && config.aliasLabel.trim() === '') problems.push({ path: ['aliasLabel'], message: 'expected a non-empty alias label, but got only spaces' });
      for (const name of ['partnerApiKey', 'dataImportKey', 'restApiKey'] as const) {
        if (config[name].trim() === '') problems.push({ path: [name], message: 'expected a non-empty key, but got only spaces' });
      }
      return problems;
    },

    async check(ctx) {
      const partner = partnerClient(ctx);
      try {
        await partnerPost(partner, ctx, '/users', { cohort_id: CHECK_COHORT_ID, cohort_changes: [] });
      } finally {
        await partner.stop();
      }
      const rest = restClient(ctx);
      try {
        const res: HttpResponse = await rest.request('POST', '/users/track', { json: { attributes: [] }, accept: [400, 401, 403] });
        const text = await res.text();
        if (res.status === 401 || res.status === 403) {
          throw new ConnectorError(
            `POST /users/track failed with HTTP ${res.status}: Braze refused the REST API key; expected a key of this workspace with the users.track permission${said(ctx, text)}`,
            `HTTP_${res.status}`,
            false,
            res.status,
          );
        }
        if (res.status === 400 && !EMPTY_TRACK.test(messageOf(text) ?? '')) {
          throw new ConnectorError(`POST /users/track failed with HTTP 400${said(ctx, text)}`, 'HTTP_400', false, 400);
        }
      } finally {
        await rest.stop();
      }
    },

    async createAudience(ctx, input) {
      if (input.type !== null && input.type !== undefined) {
        throw new ConnectorError(`Braze has one kind of cohort; expected no audience type, but got "${input.type}"`, 'AUDIENCE_TYPE_INVALID', false);
      }
      // The partner names the cohort. Derived from the destination and name,
      // a retry after a lost answer names the same cohort instead of leaving
      // an orphan (the call renames an existing cohort, so it is idempotent).
      const cohortId = `roster_${sha256Hex(`${ctx.destinationId}\u0000${input.name}`).slice(0, 32)}`;
      const client = partnerClient(ctx);
      try {
        await partnerPost(client, ctx, '', { cohort_id: cohortId, name: input.name, created_at: new Date().toISOString() });
      } finally {
        await client.stop();
      }
      return { id: cohortId, name: input.name, type: null };
    },

    ensureProfiles: (ctx, rows) => upsert(ctx, rows),
    update: (ctx, _audience, rows) => upsert(ctx, rows),
    add: (ctx, audience, rows) => deliver(ctx, audience, rows, false),
    remove: (ctx, audience, rows) => deliver(ctx, audience, rows, true),

    async fields(ctx) {
      const client = restClient(ctx);
      try {
        const custom: DestinationField[] = [];
        const seen = new Set<string>();
        let next: string | undefined = '/custom_attributes';
        for (let page = 0; next !== undefined; page++) {
          if (page >= MAX_ATTRIBUTE_PAGES || seen.has(next)) {
            throw new ConnectorError(`GET /custom_attributes: expected the Link header to end, but it kept going after ${page} pages`, 'INVALID_RESPONSE', false);
          }
          seen.add(next);
          const res: HttpResponse = await client.request('GET', next);
          const body = await res.json<{ attributes?: unknown }>();
          if (!Array.isArray(body?.attributes)) throw new ConnectorError('GET /custom_attributes: expected {"attributes": [...]}, but the list is missing', 'INVALID_RESPONSE', false);
          for (const a of body.attributes as { name?: unknown; data_type?: unknown; status?: unknown; description?: unknown }[]) {
            if (typeof a?.name !== 'string') continue;
            // A blocklisted attribute is dropped by Braze when written.
            if (typeof a.status === 'string' && /block|black/i.test(a.status)) continue;
            custom.push({ name: a.name, type: mapDataType(a.data_type), ...(typeof a.description === 'string' && a.description ? { label: a.description } : {}) });
          }
          next = nextLink(res.headers.link);
        }
        const standard = new Set(STANDARD_FIELDS.map((f) => f.name));
        return [...STANDARD_FIELDS, ...custom.filter((f) => !standard.has(f.name))];
      } finally {
        await client.stop();
      }
    },
  };
}

export const brazeConnector = createBrazeConnector();
