// Customer.io manual segments: a Roster audience is a manual segment, its
// members people identified (created or updated) through the Track API first.
//
// What it speaks: two APIs with different credentials.
//   Track API (https://track.customer.io, EU https://track-eu.customer.io),
//   HTTP Basic "<site id>:<track API key>":
//     check           GET  /api/v1/accounts/region
//     ensureProfiles  POST /api/v2/batch {batch:[{type:"person", identifiers:{id}|{email},
//                     action:"identify", attributes}]}; 207 with errors[{batch_index, reason,
//                     field, message}] for refused entries
//     add / remove    POST /api/v1/segments/{segment_id}/add_customers|remove_customers
//                     ?id_type=id|email {ids:[…]}
//   App API (https://api.customer.io, EU https://api-eu.customer.io),
//   `Authorization: Bearer <app API key>`:
//     check           GET  /v1/segments
//     listAudiences   GET  /v1/segments → {segments:[{id, name, type, …}]} (manual ones only)
//     createAudience  POST /v1/segments {segment:{name, description}} → {segment:{id, …}}
//     matchRate       GET  /v1/segments/{segment_id}/customer_count → {count}
//
// Sources (tags as in /work/shared/reference/destinations.md §14):
// - add/remove: ≤1,000 ids per request; id_type id | email | cio_id (default
//   id); ids that do not match are ignored; data-driven segments cannot be
//   written. docs.customer.io/integrations/api/track/tag/track-segments/
//   add_to_segment [V]. Whether unknown people are created is unconfirmed
//   (a third-party hexdocs page says so), so people are identified first.
// - v2 batch: requests under 500 KB, entries under 32 KB. docs.customer.io/api/
//   track/ ("Send multiple requests") [V]. The 207/errors shape: Customer.io's
//   own tracking SDK model (BatchTrackingResponseBody {meta.error, errors[
//   {batch_index, reason, field, message}]}) [VS]; Track API errors are
//   {"meta": {"error": …}} (docs.customer.io/journeys/invalid-api-requests) [V].
// - Segments through the App API, manual type for API-created ones; customer
//   count docs.customer.io/integrations/api/app/tag/segments/getSegmentCount [V].
// - Rate limits: App API 10 requests/s (429 "over the 10-per-second limit") [V];
//   Track API fair use of about 100 requests/s [V/3C: rudder-transformer
//   src/v0/destinations/customerio README, 3,000 per 3 s].
// - No hashing; e-mail identifiers are trimmed and lower-cased (Roster's rule,
//   Customer.io matches them as sent). [judgement]
//
// A removed member keeps their profile: remove() only leaves the segment.
import type { IdentifierType } from '../../generated/prisma/enums.js';
import {
  ConnectorError,
  type Audience,
  type AudienceStats,
  type Connector,
  type ConnectorContext,
  type DeliveryResult,
  type RowRejection,
  type SyncRow,
} from '../contract.js';
import { createHttpClient, type HttpClient, type HttpClientOptions, type RateLimit } from '../http.js';
import { normaliseEmail, normaliseExternalId, prepareIdentifiers, type IdentifierRule, type PreparedRow } from '../identifiers.js';

export const CUSTOMERIO_REGIONS = ['us', 'eu'] as const;
export const CUSTOMERIO_ID_TYPES = ['id', 'email'] as const;

export type CustomerIoConfig = {
  siteId: string;
  trackApiKey: string;
  appApiKey: string;
  /** Picks the default hosts (default "us"). */
  region?: (typeof CUSTOMERIO_REGIONS)[number];
  /** How people are identified: by your id (EXTERNAL_ID, default) or by e-mail. */
  idType?: (typeof CUSTOMERIO_ID_TYPES)[number];
  /** Track API base; default by region. */
  baseUrl?: string;
  /** App API base; default by region. */
  appBaseUrl?: string;
};

/** Knobs of the HTTP helper; tests shorten them. */
export type CustomerIoHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>;

export const CUSTOMERIO_SEGMENT_LIMIT = 1_000;
/** Kept under the documented 500 KB and 32 KB, read as decimal kilobytes to be safe. */
export const CUSTOMERIO_BATCH_BYTES = 500_000;
export const CUSTOMERIO_ENTRY_BYTES = 32_000;
const TRACK_LIMIT: RateLimit = { requestsPerSecond: 100, concurrency: 10 };
const APP_LIMIT: RateLimit = { requestsPerSecond: 10, concurrency: 2 };

const HOSTS = {
  us: { track: 'https://track.customer.io', app: 'https://api.customer.io' },
  eu: { track: 'https://track-eu.customer.io', app: 'https://api-eu.customer.io' },
} as const;

const EMAIL_RULE: IdentifierRule = { type: 'EMAIL', normalise: (v) => normaliseEmail(v), hash: false };
const ID_RULE: IdentifierRule = { type: 'EXTERNAL_ID', normalise: normaliseExternalId, hash: false };

interface Segment {
  id: number | string;
  name: string;
  type?: string;
}

interface BatchError {
  batch_index?: number;
  reason?: string;
  field?: string;
  message?: string;
}

/** The rows of one person: rows sharing the identifier are one identify entry. */
interface Person {
  identifier: string;
  rows: PreparedRow[];
}

/**
 * A mapped field value as a Customer.io attribute: dates as Unix seconds
 * (what Customer.io reads as a timestamp), everything else as it is.
 */
export function customerIoAttributeValue(value: unknown): unknown {
  if (value instanceof Date) return Math.floor(value.getTime() / 1000);
  return value;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const rejectAll = (p: Person, message: string, code: string): RowRejection[] => p.rows.map((r) => ({ key: r.row.key, message, code }));

export function createCustomerIoConnector(http: CustomerIoHttpOptions = {}): Connector<CustomerIoConfig> {
  const hostsOf = (config: CustomerIoConfig) => HOSTS[config.region ?? 'us'];

  const withClient = async <T>(ctx: ConnectorContext<CustomerIoConfig>, api: 'track' | 'app', fn: (c: HttpClient) => Promise<T>): Promise<T> => {
    const track = api === 'track';
    const client = createHttpClient({
      ...http,
      baseUrl: (track ? ctx.config.baseUrl : ctx.config.appBaseUrl) ?? hostsOf(ctx.config)[api],
      rateLimit: track ? TRACK_LIMIT : APP_LIMIT,
      logger: ctx.logger,
      signal: ctx.signal,
      headers: {
        authorization: track
          ? `Basic ${Buffer.from(`${ctx.config.siteId}:${ctx.config.trackApiKey}`).toString('base64')}`
          : `Bearer ${ctx.config.appApiKey}`,
      },
    });
    try {
      return await fn(client);
    } catch (err) {
      if (err instanceof ConnectorError && (err.status === 401 || err.status === 403)) {
        const expected = track ? 'the workspace site id and a Track API key' : 'an App API key';
        throw new ConnectorError(`${err.message}; expected ${expected} (Customer.io refused the ${track ? 'Track' : 'App'} API credentials)`, err.code, false, err.status);
      }
      throw err;
    } finally {
      await client.stop();
    }
  };

  const idTypeOf = (config: CustomerIoConfig) => config.idType ?? 'id';
  const identifierOf = (config: CustomerIoConfig): IdentifierType => (idTypeOf(config) === 'email' ? 'EMAIL' : 'EXTERNAL_ID');

  /** Rows grouped by the identifier Customer.io knows them by; rows without it are rejected. */
  const people = (config: CustomerIoConfig, rows: readonly SyncRow[]): { people: Person[]; rejected: RowRejection[] } => {
    const key = identifierOf(config);
    const { prepared, rejected } = prepareIdentifiers(rows, key === 'EMAIL' ? [EMAIL_RULE] : [ID_RULE, EMAIL_RULE], {
      platform: 'Customer.io',
      required: [key],
    });
    const groups = new Map<string, PreparedRow[]>();
    for (const p of prepared) {
      const id = p.values[key]!;
      groups.set(id, [...(groups.get(id) ?? []), p]);
    }
    return { people: [...groups].map(([identifier, grouped]) => ({ identifier, rows: grouped })), rejected };
  };

  const identifyEntry = (config: CustomerIoConfig, person: Person) => {
    const attributes: Record<string, unknown> = {};
    for (const p of person.rows) {
      for (const [name, value] of Object.entries(p.row.fields)) if (value !== undefined) attributes[name] = customerIoAttributeValue(value);
      // Identified by id, the e-mail is an attribute (Customer.io sends to it).
      if (idTypeOf(config) === 'id' && p.values.EMAIL !== undefined) attributes.email = p.values.EMAIL;
    }
    return { type: 'person', identifiers: { [idTypeOf(config)]: person.identifier }, action: 'identify', attributes };
  };

  const changeMembership = async (ctx: ConnectorContext<CustomerIoConfig>, audience: Audience, rows: SyncRow[], operation: 'add' | 'remove'): Promise<DeliveryResult> => {
    const { people: found, rejected } = people(ctx.config, rows);
    if (found.length === 0) return { rejected };
    const path = `/api/v1/segments/${encodeURIComponent(audience.id)}/${operation === 'add' ? 'add_customers' : 'remove_customers'}`;
    await withClient(ctx, 'track', async (client) => {
      // Customer.io ignores ids it does not know, without saying which:
      // nothing per row comes back, which is why profiles are identified first.
      for (const batch of chunks(found, CUSTOMERIO_SEGMENT_LIMIT)) {
        await client.request('POST', path, { query: { id_type: idTypeOf(ctx.config) }, json: { ids: batch.map((p) => p.identifier) } });
      }
    });
    return { rejected };
  };

  const toAudience = (s: Segment): Audience => ({ id: String(s.id), name: s.name, type: s.type ?? 'manual' });

  return {
    type: 'customerio',
    name: 'Customer.io Segments',
    spec: {
      category: 'MARKETING',
      configSchema: [
        { name: 'siteId', type: 'string', required: true, secret: false, description: 'the workspace site id (Track API credentials)' },
        { name: 'trackApiKey', type: 'string', required: true, secret: true, description: 'the Track API key that goes with the site id' },
        { name: 'appApiKey', type: 'string', required: true, secret: true, description: 'an App API key (to list, create and count segments)' },
        { name: 'region', type: 'enum', required: false, secret: false, enum: CUSTOMERIO_REGIONS, default: 'us', description: 'the data centre of the workspace' },
        {
          name: 'idType',
          type: 'enum',
          required: false,
          secret: false,
          enum: CUSTOMERIO_ID_TYPES,
          default: 'id',
          description: 'how people are identified: "id" (the EXTERNAL_ID identifier) or "email" (the workspace must allow e-mail as an identifier)',
        },
        { name: 'baseUrl', type: 'url', required: false, secret: false, description: 'the Track API base URL; by default https://track.customer.io (EU: https://track-eu.customer.io)' },
        { name: 'appBaseUrl', type: 'url', required: false, secret: false, description: 'the App API base URL; by default https://api.customer.io (EU: https://api-eu.customer.io)' },
      ],
      identifiers: [
        { type: 'EXTERNAL_ID', hashed: false },
        { type: 'EMAIL', hashed: false },
      ],
      audiences: { canList: true, canCreate: true, types: ['manual'], defaultType: 'manual' },
      batchSize: CUSTOMERIO_SEGMENT_LIMIT,
      // The Track API carries the membership traffic; App API calls (segments) run at 10/s.
      rateLimit: TRACK_LIMIT,
      requiresProfiles: true,
      reportsMatchRate: true,
      supportsUpdate: false,
    },

    async check(ctx) {
      await withClient(ctx, 'track', (client) => client.request('GET', '/api/v1/accounts/region'));
      await withClient(ctx, 'app', (client) => client.request('GET', '/v1/segments'));
    },

    async listAudiences(ctx) {
      return withClient(ctx, 'app', async (client) => {
        const body = await (await client.request('GET', '/v1/segments')).json<{ segments?: Segment[] }>();
        // Data-driven segments cannot be written through the API.
        return (body.segments ?? []).filter((s) => s.type === 'manual').map(toAudience);
      });
    },

    async createAudience(ctx, input) {
      const type = input.type ?? 'manual';
      if (type !== 'manual') throw new ConnectorError(`expected segment type "manual" (the only one the API can write), but got "${type}"`, 'INVALID_AUDIENCE_TYPE', false);
      return withClient(ctx, 'app', async (client) => {
        const res = await client.request('POST', '/v1/segments', { json: { segment: { name: input.name, description: 'Synced by Roster' } } });
        const body = await res.json<{ segment?: Segment }>();
        if (body.segment?.id === undefined) throw new ConnectorError('POST /v1/segments: expected {"segment": {"id": …}}, but the response has no id', 'INVALID_RESPONSE', false);
        return { ...toAudience(body.segment), size: 0 };
      });
    },

    async ensureProfiles(ctx, rows) {
      const { people: found, rejected } = people(ctx.config, rows);
      if (found.length === 0) return { rejected };
      // Entries are packed into requests under the byte limit; an entry over
      // the per-entry limit is the row's own problem.
      const batches: { person: Person; entry: unknown }[][] = [];
      let current: { person: Person; entry: unknown }[] = [];
      let bytes = 0;
      for (const person of found) {
        const entry = identifyEntry(ctx.config, person);
        const size = Buffer.byteLength(JSON.stringify(entry));
        if (size > CUSTOMERIO_ENTRY_BYTES) {
          rejected.push(...rejectAll(person, `the profile's attributes take ${size} bytes; Customer.io takes at most ${CUSTOMERIO_ENTRY_BYTES} per person`, 'ENTRY_TOO_LARGE'));
          continue;
        }
        if (current.length > 0 && (bytes + size + 1 > CUSTOMERIO_BATCH_BYTES - 16 || current.length >= CUSTOMERIO_SEGMENT_LIMIT)) {
          batches.push(current);
          current = [];
          bytes = 0;
        }
        current.push({ person, entry });
        bytes += size + 1;
      }
      if (current.length > 0) batches.push(current);

      await withClient(ctx, 'track', async (client) => {
        for (const batch of batches) {
          const res = await client.request('POST', '/api/v2/batch', { json: { batch: batch.map((b) => b.entry) } });
          const text = await res.text();
          const body = (text.trim() === '' ? {} : await res.json<{ errors?: BatchError[] }>()) as { errors?: BatchError[] };
          const refused = new Set<number>();
          for (const e of body.errors ?? []) {
            const i = e.batch_index;
            const entry = typeof i === 'number' && !refused.has(i) ? batch[i] : undefined;
            if (entry === undefined) continue;
            refused.add(i!);
            const what = e.field ? ` (${e.field})` : '';
            rejected.push(...rejectAll(entry.person, `Customer.io refused the profile${what}: ${e.message ?? e.reason ?? 'no message'}`, e.reason ?? 'ERROR'));
          }
        }
      });
      return { rejected };
    },

    add: (ctx, audience, rows) => changeMembership(ctx, audience, rows, 'add'),
    remove: (ctx, audience, rows) => changeMembership(ctx, audience, rows, 'remove'),

    async matchRate(ctx, audience): Promise<AudienceStats> {
      return withClient(ctx, 'app', async (client) => {
        const body = await (await client.request('GET', `/v1/segments/${encodeURIComponent(audience.id)}/customer_count`)).json<{ count?: number }>();
        if (typeof body.count !== 'number') throw new ConnectorError(`GET /v1/segments/${audience.id}/customer_count: expected {"count": number}, but got another answer`, 'INVALID_RESPONSE', false);
        // The segment's size is what Customer.io reports; there is no matching step.
        return { matched: body.count, uploaded: null };
      });
    },
  };
}

export const customerioConnector = createCustomerIoConnector();
