// TikTok Custom Audiences through the Business API v1.3, customer-file route:
// every add or remove uploads a CSV file of hashed identifiers, then applies
// it to a Customer File audience.
//
//   GET  /dmp/custom_audience/list/?advertiser_id=&page=&page_size=     check, listAudiences, matchRate
//   POST /dmp/custom_audience/file/upload/   multipart: advertiser_id, calculate_type, file_signature (MD5), file
//        → data.file_path
//   POST /dmp/custom_audience/create/        { advertiser_id, custom_audience_name, calculate_type, file_paths }
//        → data.custom_audience_id
//   POST /dmp/custom_audience/update/        { advertiser_id, custom_audience_id, action: APPEND | REMOVE, file_paths }
//
// Every answer is the envelope { code, message, request_id, data }: code 0
// is success, anything else is an error even with HTTP 200; 40001 is an
// authentication failure, 40002 a parameter error, 40100 the rate limit.
//
// Sources (tags as in /work/shared/reference/destinations.md):
// - Paths, Access-Token header, base URL, the envelope and its codes:
//   destinations.md §5 [V/3C]; tiktok/tiktok-business-api-sdk
//   python_sdk/docs/AudienceApi.md, CustomAudienceCreateBody.md,
//   CustomAudienceUpdateBody.md [VS].
// - Multipart fields and `file_path` / `custom_audience_id` in the answers:
//   bububa/tiktok-business model/dmp/customaudience/{file_upload,create}.go
//   [3C]; PipedreamHQ/pipedream components/tiktok_ads_manager/actions/
//   create-audience/create-audience.mjs [3C] (it reads `audience_id`, which
//   is accepted as a fallback).
// - calculate_type MULTIPLE_TYPES (several identifier columns in one file,
//   only for customer-file audiences made through the API):
//   bububa/tiktok-business enum CalculateType [3C].
// - Update `action` defaults to REPLACE when absent, so it is always sent:
//   CustomAudienceUpdateBody.md [VS]. The same page says APPEND / REMOVE /
//   REPLACE fail when the audience would be under 1,000 members afterwards;
//   such a failure reaches the engine as this module's ConnectorError.
// - List paging (page ≥ 1, page_size 1–100, data.page_info.total_page) and
//   cover_num (the matched size, no match rate): AudienceApi.md [VS],
//   bububa …/customaudience/list.go [3C].
// - File header names EMAIL_SHA256 / PHONE_SHA256 / MAID_SHA256, files in
//   CSV under 1 GB: TikTok help centre "List of supported IDs and formats
//   for a customer file" (ads.tiktok.com/help/article/customer-file) [V].
// - E-mail: lower-case, no spaces, "+…" before the @ removed, dots of the
//   local part removed (same help page) [V]; vector janedoe@gmail.com →
//   d6117306…6c69 ✓ (destinations.md §0).
// - Phone: digits only, no "+", country code required (Aug 2025 help text,
//   destinations.md §5); TikTok's own phone example does not reproduce (§0).
// - MAID: lower-case UUID, SHA-256 [V]; vector 5f3a2b18-…-9b25 → 83dc3f5f…54bd ✓.
// - Per-row results: none exist; a request fails or succeeds whole (§5).
// - Rate limit: no number published (§5). 10 requests/s, one at a time, is
//   a judgement. 40100 answers come with HTTP 200 and no Retry-After; the
//   HTTP helper's `retryWhen` hook hands them to its retries, which wait
//   them out with the same backoff, attempts and cancellation as a 429.
// - Rows per call: no limit published; 100,000 rows (≈20 MB of CSV, far
//   under the 1 GB file limit) is a judgement. A call whose file would pass
//   the file limit is split into several files, applied by one update (the
//   SDK recommends fewer than 50 file_paths per request).
//
// createAudience has no rows to upload, but the create call requires a file:
// it uploads a file holding only the header row. (Assumption: TikTok
// accepts a header-only file and computes an empty audience; the help
// centre's 1,000-row minimum is stated for Ads Manager uploads.)
import { createHash, randomUUID } from 'node:crypto';
import type { ValidationProblem } from '../../graphql/errors.js';
import {
  ConnectorError,
  type Audience,
  type AudienceStats,
  type Connector,
  type ConnectorContext,
  type DeliveryResult,
  type SyncRow,
} from '../contract.js';
import { createHttpClient, type HttpClient, type HttpClientOptions, type RetryWhen } from '../http.js';
import {
  maidRule,
  normaliseEmail,
  phoneRule,
  prepareIdentifiers,
  type IdentifierRule,
  type Normalised,
  type PreparedRow,
} from '../identifiers.js';

export const TIKTOK_BASE_URL = 'https://business-api.tiktok.com/open_api/v1.3';
export const TIKTOK_AUDIENCE_TYPE = 'Customer File Audience';
export const TIKTOK_CALCULATE_TYPE = 'MULTIPLE_TYPES';
export const TIKTOK_BATCH_SIZE = 100_000;
/** Customer files must be under 1 GB (help centre). */
export const TIKTOK_MAX_FILE_BYTES = 1_000_000_000;
/** The SDK docs recommend fewer than 50 file_paths per create/update request. */
export const TIKTOK_MAX_FILES_PER_UPDATE = 49;
export const TIKTOK_MAX_NAME = 128;
export const TIKTOK_RATE_LIMITED = 40100;

export type TikTokConfig = {
  baseUrl?: string;
  accessToken: string;
  advertiserId: string;
  /** Calling code added to phone numbers written without one. */
  phoneCountryCode?: string;
};

/** Knobs of the HTTP helper, and the file limit, so tests can shorten them. */
export type TikTokHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'> & {
  maxFileBytes?: number;
};

/** The CSV header of each identifier a customer file carries, in file order. */
const COLUMNS = [
  ['EMAIL', 'EMAIL_SHA256'],
  ['PHONE', 'PHONE_SHA256'],
  ['MAID', 'MAID_SHA256'],
] as const;

/** TikTok's e-mail format: Roster's normalisation, then no "+tag" and no dots before the @. */
export function normaliseTikTokEmail(raw: string): Normalised {
  const n = normaliseEmail(raw);
  if (!n.ok) return n;
  const at = n.value.lastIndexOf('@');
  const local = n.value.slice(0, at).split('+')[0]!.replace(/\./g, '');
  if (local === '') return { ok: false, reason: 'is not an e-mail address (nothing left before the @ once "+…" and dots are removed)' };
  return { ok: true, value: `${local}@${n.value.slice(at + 1)}` };
}

const rulesFor = (config: TikTokConfig): IdentifierRule[] => [
  { type: 'EMAIL', normalise: normaliseTikTokEmail, hash: true },
  phoneRule({ plus: false, ...(config.phoneCountryCode ? { defaultCountryCode: config.phoneCountryCode } : {}) }),
  maidRule(true),
];

interface Envelope<T> {
  code: number;
  message?: string;
  request_id?: string;
  data?: T;
}

interface ListedAudience {
  audience_id?: string;
  name?: string;
  audience_type?: string;
  cover_num?: number;
  is_valid?: boolean;
}

interface ListData {
  list?: ListedAudience[];
  page_info?: { page?: number; page_size?: number; total_number?: number; total_page?: number };
}

/** "code N "message", request_id R" of an envelope, for error messages. */
const saidOf = (env: Envelope<unknown>) => `code ${env.code}${env.message ? ` "${env.message}"` : ''}${env.request_id ? `, request_id ${env.request_id}` : ''}`;

/** TikTok's rate-limit answer (code 40100 in the envelope, whatever the HTTP status) as a retry for the HTTP helper. */
function rateLimited(what: string): RetryWhen {
  return ({ text, attempt }) => {
    let env: Envelope<unknown> | undefined;
    try {
      env = JSON.parse(text) as Envelope<unknown>;
    } catch {
      return undefined;
    }
    if (env?.code !== TIKTOK_RATE_LIMITED) return undefined;
    return { code: `TIKTOK_${TIKTOK_RATE_LIMITED}`, message: `TikTok ${what}: ${attempt > 1 ? 'still ' : ''}rate limited (${saidOf(env)})` };
  };
}

/** A multipart/form-data body (RFC 7578) with text fields and one file part. */
function multipart(fields: Record<string, string>, file: { field: string; filename: string; contentType: string; content: string }) {
  const boundary = `roster-${randomUUID()}`;
  const parts: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  }
  parts.push(
    `--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.filename}"\r\nContent-Type: ${file.contentType}\r\n\r\n${file.content}\r\n`,
  );
  parts.push(`--${boundary}--\r\n`);
  return { body: Buffer.from(parts.join(''), 'utf8'), contentType: `multipart/form-data; boundary=${boundary}` };
}

/**
 * CSV customer files for prepared rows: a header naming the columns the rows
 * use, then one line per person (blank cells where a person lacks an
 * identifier). Rows are spread over several files when one would pass
 * `maxBytes`.
 */
export function customerFiles(prepared: readonly PreparedRow[], maxBytes: number): string[] {
  const columns = COLUMNS.filter(([type]) => prepared.some((p) => p.values[type] !== undefined));
  const header = columns.map(([, name]) => name).join(',');
  const files: string[] = [];
  let lines: string[] = [];
  let size = header.length + 1;
  for (const p of prepared) {
    const line = columns.map(([type]) => p.values[type] ?? '').join(',');
    // TikTok wants files under the limit, so a file stops short of it.
    if (lines.length > 0 && size + line.length + 1 >= maxBytes) {
      files.push([header, ...lines].join('\n') + '\n');
      lines = [];
      size = header.length + 1;
    }
    lines.push(line);
    size += line.length + 1;
  }
  if (lines.length > 0) files.push([header, ...lines].join('\n') + '\n');
  return files;
}

export function createTikTokConnector(http: TikTokHttpOptions = {}): Connector<TikTokConfig> {
  const maxFileBytes = http.maxFileBytes ?? TIKTOK_MAX_FILE_BYTES;
  const rateLimit = { requestsPerSecond: 10, concurrency: 1 };

  const clientFor = (ctx: ConnectorContext<TikTokConfig>): HttpClient =>
    createHttpClient({
      timeoutMs: http.timeoutMs,
      retries: http.retries,
      minBackoffMs: http.minBackoffMs,
      maxBackoffMs: http.maxBackoffMs,
      maxRetryAfterMs: http.maxRetryAfterMs,
      baseUrl: ctx.config.baseUrl ?? TIKTOK_BASE_URL,
      rateLimit,
      logger: ctx.logger,
      signal: ctx.signal,
      headers: { 'access-token': ctx.config.accessToken },
    });

  /**
   * One API call, judged by its envelope. 40100 (rate limited, sent with
   * HTTP 200 and no Retry-After) is retried by the HTTP helper like a 429
   * (see rateLimited); any other non-zero code fails the call.
   */
  async function call<T>(
    client: HttpClient,
    what: string,
    method: string,
    path: string,
    opts: Parameters<HttpClient['request']>[2] = {},
  ): Promise<T> {
    const res = await client.request(method, path, { ...opts, retryWhen: rateLimited(what) });
    const env = await res.json<Envelope<T>>();
    if (env === null || typeof env !== 'object' || typeof env.code !== 'number') {
      throw new ConnectorError(`TikTok ${what}: expected the envelope { code, message, request_id, data }, but got no numeric "code"`, 'INVALID_RESPONSE', false, res.status);
    }
    if (env.code === 0) return (env.data ?? {}) as T;
    const hint = env.code === 40001 ? ' (TikTok refused the access token or its permissions for this advertiser)' : '';
    throw new ConnectorError(`TikTok ${what}: expected code 0, but got ${saidOf(env)}${hint}`, `TIKTOK_${env.code}`, false, res.status);
  }

  const listPage = (ctx: ConnectorContext<TikTokConfig>, client: HttpClient, page: number, pageSize: number, ids?: string[]) =>
    call<ListData>(client, 'listing custom audiences', 'GET', '/dmp/custom_audience/list/', {
      query: {
        advertiser_id: ctx.config.advertiserId,
        page,
        page_size: pageSize,
        ...(ids ? { custom_audience_ids: JSON.stringify(ids) } : {}),
      },
    });

  const toAudience = (a: ListedAudience): Audience => ({
    id: String(a.audience_id),
    name: a.name ?? '',
    type: a.audience_type ?? null,
    size: typeof a.cover_num === 'number' ? a.cover_num : null,
  });

  async function upload(ctx: ConnectorContext<TikTokConfig>, client: HttpClient, csv: string): Promise<string> {
    const signature = createHash('md5').update(csv, 'utf8').digest('hex');
    const { body, contentType } = multipart(
      { advertiser_id: ctx.config.advertiserId, calculate_type: TIKTOK_CALCULATE_TYPE, file_signature: signature },
      { field: 'file', filename: `roster-${randomUUID()}.csv`, contentType: 'text/csv', content: csv },
    );
    const data = await call<{ file_path?: string }>(client, 'uploading a customer file', 'POST', '/dmp/custom_audience/file/upload/', {
      body,
      headers: { 'content-type': contentType },
    });
    if (typeof data.file_path !== 'string' || data.file_path === '') {
      throw new ConnectorError('TikTok uploading a customer file: expected data.file_path, but the answer had none', 'INVALID_RESPONSE', false);
    }
    return data.file_path;
  }

  async function deliver(ctx: ConnectorContext<TikTokConfig>, audience: Audience, rows: SyncRow[], action: 'APPEND' | 'REMOVE'): Promise<DeliveryResult> {
    const { prepared, rejected } = prepareIdentifiers(rows, rulesFor(ctx.config), { platform: 'TikTok' });
    if (prepared.length === 0) return { rejected };
    const client = clientFor(ctx);
    try {
      const paths: string[] = [];
      for (const csv of customerFiles(prepared, maxFileBytes)) paths.push(await upload(ctx, client, csv));
      // The whole call fails if any update fails: the engine re-sends it all,
      // and APPEND / REMOVE of data already applied changes nothing.
      for (let i = 0; i < paths.length; i += TIKTOK_MAX_FILES_PER_UPDATE) {
        await call(client, `${action === 'APPEND' ? 'appending to' : 'removing from'} audience ${audience.id}`, 'POST', '/dmp/custom_audience/update/', {
          json: {
            advertiser_id: ctx.config.advertiserId,
            custom_audience_id: audience.id,
            action,
            file_paths: paths.slice(i, i + TIKTOK_MAX_FILES_PER_UPDATE),
          },
        });
      }
      return { rejected };
    } finally {
      await client.stop();
    }
  }

  return {
    type: 'tiktok',
    name: 'TikTok Custom Audiences',
    spec: {
      category: 'AD_PLATFORM',
      configSchema: [
        { name: 'baseUrl', type: 'url', required: false, secret: false, description: 'TikTok Business API base URL', default: TIKTOK_BASE_URL },
        { name: 'accessToken', type: 'string', required: true, secret: true, description: 'a long-lived TikTok Business API access token (sent as Access-Token)' },
        { name: 'advertiserId', type: 'string', required: true, secret: false, description: 'the TikTok advertiser id (digits) that owns the audiences' },
        {
          name: 'phoneCountryCode',
          type: 'string',
          required: false,
          secret: false,
          description: 'calling code (e.g. 44) added to phone numbers stored without one; unset: such numbers are rejected',
        },
      ],
      identifiers: [
        { type: 'EMAIL', hashed: true },
        { type: 'PHONE', hashed: true },
        { type: 'MAID', hashed: true },
      ],
      audiences: { canList: true, canCreate: true, types: [TIKTOK_AUDIENCE_TYPE], defaultType: TIKTOK_AUDIENCE_TYPE },
      batchSize: TIKTOK_BATCH_SIZE,
      rateLimit,
      requiresProfiles: false,
      reportsMatchRate: true,
      supportsUpdate: false,
    },

    validateConfig(config: TikTokConfig): ValidationProblem[] {
      const problems: ValidationProblem[] = [];
      if (!/^\d+$/.test(config.advertiserId.trim())) {
        problems.push({ path: ['advertiserId'], message: 'expected a TikTok advertiser id made of digits, but got other characters' });
      }
      if (config.phoneCountryCode !== undefined && config.phoneCountryCode !== '' && !/^\d{1,3}$/.test(config.phoneCountryCode.replace(/^\+/, ''))) {
        problems.push({ path: ['phoneCountryCode'], message: 'expected a calling code of 1 to 3 digits (e.g. 44), but got something else' });
      }
      return problems;
    },

    async check(ctx) {
      const client = clientFor(ctx);
      try {
        // Listing needs both a valid token and access to the advertiser.
        await listPage(ctx, client, 1, 1);
      } finally {
        await client.stop();
      }
    },

    async listAudiences(ctx) {
      const client = clientFor(ctx);
      try {
        const out: Audience[] = [];
        for (let page = 1; ; page++) {
          const data = await listPage(ctx, client, page, 100);
          for (const a of data.list ?? []) if (a.audience_id !== undefined) out.push(toAudience(a));
          const totalPages = data.page_info?.total_page ?? page;
          if (page >= totalPages || (data.list ?? []).length === 0) return out;
        }
      } finally {
        await client.stop();
      }
    },

    async createAudience(ctx, input) {
      if (input.type !== null && input.type !== TIKTOK_AUDIENCE_TYPE) {
        throw new ConnectorError(`expected the audience type "${TIKTOK_AUDIENCE_TYPE}", but got "${input.type}"`, 'UNSUPPORTED_AUDIENCE_TYPE', false);
      }
      let name = input.name.trim();
      if (name === '') throw new ConnectorError('expected a non-empty audience name, but got an empty one', 'REQUEST_INVALID', false);
      if ([...name].length > TIKTOK_MAX_NAME) {
        ctx.logger.warn({ limit: TIKTOK_MAX_NAME }, 'audience name shortened to fit TikTok');
        name = `${[...name].slice(0, TIKTOK_MAX_NAME - 3).join('')}...`;
      }
      const client = clientFor(ctx);
      try {
        const headerOnly = `${COLUMNS.map(([, column]) => column).join(',')}\n`;
        const path = await upload(ctx, client, headerOnly);
        const data = await call<{ custom_audience_id?: string | number; audience_id?: string | number }>(
          client,
          'creating a customer file audience',
          'POST',
          '/dmp/custom_audience/create/',
          { json: { advertiser_id: ctx.config.advertiserId, custom_audience_name: name, calculate_type: TIKTOK_CALCULATE_TYPE, file_paths: [path] } },
        );
        const id = data.custom_audience_id ?? data.audience_id;
        if (id === undefined || String(id) === '') {
          throw new ConnectorError('TikTok creating a customer file audience: expected data.custom_audience_id, but the answer had none', 'INVALID_RESPONSE', false);
        }
        return { id: String(id), name, type: TIKTOK_AUDIENCE_TYPE, size: 0 };
      } finally {
        await client.stop();
      }
    },

    add: (ctx, audience, rows) => deliver(ctx, audience, rows, 'APPEND'),
    remove: (ctx, audience, rows) => deliver(ctx, audience, rows, 'REMOVE'),

    async matchRate(ctx, audience): Promise<AudienceStats> {
      const client = clientFor(ctx);
      try {
        const data = await listPage(ctx, client, 1, 1, [audience.id]);
        const found = (data.list ?? []).find((a) => String(a.audience_id) === audience.id);
        if (!found) throw new ConnectorError(`TikTok has no audience ${audience.id} for advertiser ${ctx.config.advertiserId}`, 'AUDIENCE_NOT_FOUND', false);
        // cover_num is the number of matched TikTok users; TikTok reports no
        // upload count, so Roster's own count stands for "uploaded".
        return { matched: typeof found.cover_num === 'number' ? found.cover_num : null, uploaded: null };
      } finally {
        await client.stop();
      }
    },
  };
}

export const tiktokConnector = createTikTokConnector();
