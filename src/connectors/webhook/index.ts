// A generic webhook: every batch is one signed JSON POST to the configured URL.
//
// Request
//   POST <url>
//   Content-Type: application/json
//   X-Roster-Timestamp: <unix seconds when this attempt was sent>
//   X-Roster-Signature: sha256=<hex HMAC-SHA256(signingSecret, "<timestamp>.<raw body>")>
//
//   { "operation": "add" | "remove" | "update",
//     "audience": { "id": "...", "name": "..." },
//     "rows": [ { "key": "...", "fields": { ... }, "identifiers": { "EMAIL": "...", ... } } ] }
//
//   and, from check(), { "operation": "check" } with the same headers.
//
// Verifying (like Stripe's webhook signatures): take the raw request body as
// bytes (before any JSON parsing), compute HMAC-SHA256 over
// `${X-Roster-Timestamp}.${raw body}` with the shared signing secret, compare
// it in constant time with the hex after "sha256=", and refuse timestamps
// more than 5 minutes from your clock (replays). Every retry is signed anew
// with a fresh timestamp.
//
// Identifiers are sent raw, exactly as the warehouse holds them: not
// normalised, not hashed. The receiver owns that step (and the URL should be
// https:// for that reason).
//
// Response: any 2xx accepts the batch. The body may list the rows refused:
//   { "rejected": [ { "key": "...", "message": "...", "code": "..." } ] }
// Those rows are reported as rejected (and retried on the next run); every
// other row of the batch counts as delivered. Keys that were not in the batch
// are ignored with a warning. Operations are idempotent by design: add and
// update are upserts by key, remove of an absent key is not an error; the same
// batch may arrive twice (at-least-once delivery).
//
// Receivers learn audiences from the payloads, so creating one sends nothing:
// its id is its name.
import { createHmac } from 'node:crypto';
import { IdentifierType } from '../../generated/prisma/enums.js';
import type { ValidationProblem } from '../../graphql/errors.js';
import {
  ConnectorError,
  type Audience,
  type Connector,
  type ConnectorContext,
  type DeliveryResult,
  type RowRejection,
  type SyncRow,
} from '../contract.js';
import { createHttpClient, type HttpClient, type HttpClientOptions } from '../http.js';
import { jsonBytesWithList } from '../json-bytes.js';

export type WebhookConfig = {
  url: string;
  signingSecret: string;
  /** Rows per POST (default 500, at most 10,000). */
  batchSize?: number;
  /** POSTs on the wire at once (default 2, at most 8). */
  concurrency?: number;
};

export const WEBHOOK_DEFAULT_BATCH_SIZE = 500;
export const WEBHOOK_MAX_BATCH_SIZE = 10_000;
/**
 * Two POSTs at once by default: the next batch is built and signed while
 * the receiver parses the previous one, instead of each side waiting for
 * the other (bench/: delivery). Receivers must take batches in any order
 * within an operation, which idempotent upserts and deletes by key do.
 */
export const WEBHOOK_DEFAULT_CONCURRENCY = 2;
export const WEBHOOK_MAX_CONCURRENCY = 8;

/** The signature header value for a timestamp and the exact body bytes sent. */
export function webhookSignature(secret: string, timestamp: number | string, body: string | Uint8Array): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestamp}.`);
  mac.update(body);
  return `sha256=${mac.digest('hex')}`;
}

type Operation = 'add' | 'remove' | 'update';

/**
 * A row as a body lists it, `{"key": …, "fields": …, "identifiers": …}`:
 * spliced from the warehouse's JSON text of the payload when the engine
 * kept it (no parse, no second serialisation: most of a worker's CPU per
 * row, bench/: delivery), else serialised from the objects.
 */
export function webhookRowJson(row: SyncRow): string {
  const json = row.payloadJson;
  // The payload's text is an object with fields and identifiers: its members follow the key.
  if (json !== undefined && json.length > 2 && json.startsWith('{"')) return `{"key":${JSON.stringify(row.key)},${json.slice(1)}`;
  return JSON.stringify({ key: row.key, fields: row.fields, identifiers: row.identifiers });
}

/** The bytes of one POST: the operation, the audience, and the rows. */
export function webhookBody(operation: Operation, audience: Pick<Audience, 'id' | 'name'>, rows: readonly SyncRow[]): Buffer {
  return jsonBytesWithList({ operation, audience: { id: audience.id, name: audience.name } }, 'rows', rows, webhookRowJson);
}

/** Knobs of the HTTP helper; tests shorten them. */
export type WebhookHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

export function createWebhookConnector(http: WebhookHttpOptions = {}): Connector<WebhookConfig> {
  const clientFor = (ctx: ConnectorContext<WebhookConfig>): { client: HttpClient; path: string } => {
    const u = new URL(ctx.config.url);
    return {
      client: createHttpClient({ ...http, baseUrl: u.origin, rateLimit: null, logger: ctx.logger, signal: ctx.signal }),
      path: `${u.pathname}${u.search}`,
    };
  };

  /** POSTs a JSON body, given as an object or already as its bytes; the signature covers exactly the bytes sent. */
  const post = (client: HttpClient, path: string, secret: string, payload: Buffer | Record<string, unknown>) => {
    const body = Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
    return client.request('POST', path, {
      body,
      headers: { 'content-type': 'application/json' },
      sign: ({ body: sent }) => {
        const timestamp = Math.floor(Date.now() / 1000);
        return { 'x-roster-timestamp': String(timestamp), 'x-roster-signature': webhookSignature(secret, timestamp, sent ?? '') };
      },
    });
  };

  /** The rejections of a 2xx answer, restricted to the batch's keys. */
  const rejectionsOf = (text: string, batch: SyncRow[], ctx: ConnectorContext<WebhookConfig>, where: string): RowRejection[] => {
    if (text.trim() === '') return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // A plain "OK" is an acceptance of everything.
      return [];
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return [];
    const list = (parsed as { rejected?: unknown }).rejected;
    if (list === undefined || list === null) return [];
    // A malformed list cannot say which rows failed; claiming them delivered
    // would be a lie, so the batch fails and is sent again next run.
    const malformed = (what: string) =>
      new ConnectorError(`${where}: expected "rejected" to be a list of { "key": string, "message": string, "code"?: string }, but got ${what}`, 'INVALID_RESPONSE', false);
    if (!Array.isArray(list)) throw malformed(describe(list));
    const keys = new Set(batch.map((r) => r.key));
    const seen = new Set<string>();
    const out: RowRejection[] = [];
    let unknown = 0;
    for (const [i, entry] of list.entries()) {
      if (entry === null || typeof entry !== 'object' || typeof (entry as { key?: unknown }).key !== 'string') {
        throw malformed(`entry ${i} without a string "key"`);
      }
      const { key, message, code } = entry as { key: string; message?: unknown; code?: unknown };
      if (!keys.has(key)) {
        unknown++;
        continue;
      }
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({
        key,
        message: typeof message === 'string' && message.trim() !== '' ? message : 'rejected by the receiver (no message given)',
        ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
      });
    }
    if (unknown > 0) ctx.logger.warn({ unknownKeys: unknown }, 'webhook receiver rejected keys that were not in the batch; ignored');
    return out;
  };

  const deliver = async (ctx: ConnectorContext<WebhookConfig>, audience: Audience, rows: SyncRow[], operation: Operation): Promise<DeliveryResult> => {
    if (rows.length === 0) return { rejected: [] };
    const size = ctx.config.batchSize ?? WEBHOOK_DEFAULT_BATCH_SIZE;
    const { client, path } = clientFor(ctx);
    try {
      const rejected: RowRejection[] = [];
      // The engine hands over up to spec.batchSize rows; the receiver's own
      // limit (config.batchSize) may be smaller, so the call is split. A
      // failure fails the whole call: the engine re-sends all of it, and the
      // receiver's upserts make the repeated part harmless.
      for (let i = 0; i < rows.length; i += size) {
        const chunk = rows.slice(i, i + size);
        const body = webhookBody(operation, audience, chunk);
        const res = await post(client, path, ctx.config.signingSecret, body);
        rejected.push(...rejectionsOf(await res.text(), chunk, ctx, `POST ${new URL(ctx.config.url).pathname}`));
      }
      return { rejected };
    } finally {
      await client.stop();
    }
  };

  return {
    type: 'webhook',
    name: 'Webhook',
    spec: {
      category: 'WEBHOOK',
      configSchema: [
        { name: 'url', type: 'url', required: true, secret: false, description: 'an http:// or https:// URL that receives the signed POSTs' },
        {
          name: 'signingSecret',
          type: 'string',
          required: true,
          secret: true,
          description: 'the shared secret for the X-Roster-Signature HMAC-SHA256',
        },
        {
          name: 'batchSize',
          type: 'integer',
          required: false,
          secret: false,
          description: `rows per request, 1 to ${WEBHOOK_MAX_BATCH_SIZE}`,
          default: WEBHOOK_DEFAULT_BATCH_SIZE,
        },
        {
          name: 'concurrency',
          type: 'integer',
          required: false,
          secret: false,
          description: `requests on the wire at once, 1 to ${WEBHOOK_MAX_CONCURRENCY} (1: each batch waits for the previous answer)`,
          default: WEBHOOK_DEFAULT_CONCURRENCY,
        },
      ],
      identifiers: Object.values(IdentifierType).map((type) => ({ type, hashed: false })),
      audiences: { canList: false, canCreate: true, types: [], defaultType: null },
      // The most config.batchSize allows; each call is split to the configured size.
      batchSize: WEBHOOK_MAX_BATCH_SIZE,
      rateLimit: null,
      requiresProfiles: false,
      reportsMatchRate: false,
      supportsUpdate: true,
    },

    batchSizeFor: (config: WebhookConfig) => config.batchSize ?? WEBHOOK_DEFAULT_BATCH_SIZE,
    concurrencyFor: (config: WebhookConfig) => config.concurrency ?? WEBHOOK_DEFAULT_CONCURRENCY,

    validateConfig(config: WebhookConfig): ValidationProblem[] {
      const problems: ValidationProblem[] = [];
      const b = config.batchSize;
      if (b !== undefined && (b < 1 || b > WEBHOOK_MAX_BATCH_SIZE)) {
        problems.push({ path: ['batchSize'], message: `expected an integer from 1 to ${WEBHOOK_MAX_BATCH_SIZE}, but got ${b}` });
      }
      const c = config.concurrency;
      if (c !== undefined && (c < 1 || c > WEBHOOK_MAX_CONCURRENCY)) {
        problems.push({ path: ['concurrency'], message: `expected an integer from 1 to ${WEBHOOK_MAX_CONCURRENCY}, but got ${c}` });
      }
      if (config.signingSecret.trim() === '') problems.push({ path: ['signingSecret'], message: 'expected a non-empty signing secret, but got only spaces' });
      return problems;
    },

    async check(ctx) {
      const { client, path } = clientFor(ctx);
      try {
        await post(client, path, ctx.config.signingSecret, { operation: 'check' });
      } finally {
        await client.stop();
      }
    },

    async createAudience(_ctx, input) {
      return { id: input.name, name: input.name, type: null };
    },

    add: (ctx, audience, rows) => deliver(ctx, audience, rows, 'add'),
    remove: (ctx, audience, rows) => deliver(ctx, audience, rows, 'remove'),
    update: (ctx, audience, rows) => deliver(ctx, audience, rows, 'update'),
  };
}

export const webhookConnector = createWebhookConnector();
