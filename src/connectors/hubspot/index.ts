// HubSpot Lists: Roster audiences as MANUAL contact lists (CRM Lists API v3),
// filled with contacts that are upserted by e-mail first.
//
// What it speaks (base https://api.hubapi.com, `Authorization: Bearer <private
// app token>`; scopes crm.objects.contacts.read/write, crm.lists.read/write):
//   check           GET  /crm/v3/objects/contacts?limit=1, then POST /crm/v3/lists/search (count 1)
//   listAudiences   POST /crm/v3/lists/search {query:"", count, offset, processingTypes:["MANUAL"],
//                   additionalProperties:["hs_list_size"]} → {lists, hasMore, offset, total}, paged
//   createAudience  POST /crm/v3/lists {name, objectTypeId:"0-1", processingType:"MANUAL"} → {list:{listId,…}}
//   ensureProfiles  POST /crm/v3/objects/contacts/batch/upsert {inputs:[{idProperty:"email", id, properties}]}
//   add / remove    POST /crm/v3/objects/contacts/batch/read {idProperty:"email", inputs:[{id}]} for the
//                   record ids, then PUT /crm/v3/lists/{listId}/memberships/add|remove with ["<id>", …]
//                   → {recordsIdsAdded, recordIdsRemoved, recordIdsMissing}
//   matchRate       POST /crm/v3/lists/search {listIds:[id], additionalProperties:["hs_list_size"]}
//   fields          GET  /crm/v3/properties/contacts → {results:[{name, label, type, fieldType, options}]}
//
// Sources (tags as in /work/shared/reference/destinations.md §12):
// - Lists v3: create, search, memberships add/remove and the response field
//   spellings (`recordsIdsAdded`, `recordIdsMissing`); "records that do not
//   exist or that are already members are ignored"; only MANUAL and SNAPSHOT
//   lists accept membership writes. developers.hubspot.com/docs/api-reference/
//   legacy/crm/lists/memberships/add-to-list and …/crm-lists-v3/lists/
//   post-crm-v3-lists-search (hs_list_size in additionalProperties). [V]
// - Batch upsert / read by a unique property (idProperty "email"), 207
//   Multi-Status with errors[{status, category, message, context}] when some
//   inputs fail. developers.hubspot.com/docs/api-reference/latest/crm/objects/
//   contacts/batch/upsert-contacts and …/objects/batch/get-objects. [V]
// - At most 100 inputs per batch call: segmentio/action-destinations
//   packages/destination-actions/src/destinations/hubspot (MAX_HUBSPOT_BATCH_SIZE
//   100). [3C] The cap of a membership call was not found; calls here carry
//   at most 100 ids, one per contact batch.
// - Duplicate list names: subCategory ILS.DUPLICATE_LIST_NAMES (Segment
//   hubspot-list-functions.ts). [3C]
// - Rate limits, private apps: 100 requests / 10 s (Free, Starter), 190 / 10 s
//   (Professional, Enterprise); 429 with X-HubSpot-RateLimit-* headers.
//   developers.hubspot.com/changelog/increasing-our-api-limits. [V] Roster
//   uses the lowest tier (10/s), which every account allows; concurrency is
//   not documented and is kept at 5.
// - Contact e-mails are matched case-insensitively and stored lower-case;
//   Roster sends them trimmed and lower-cased. No hashing. [V]
//
// Profiles: add() never creates contacts. The engine calls ensureProfiles
// first (spec.requiresProfiles); a row whose contact does not exist when add()
// runs is rejected. Removing a member never deletes the contact.
import type { ValidationProblem } from '../../graphql/errors.js';
import {
  ConnectorError,
  type Audience,
  type AudienceStats,
  type Connector,
  type ConnectorContext,
  type DeliveryResult,
  type DestinationField,
  type DestinationFieldType,
  type RowRejection,
  type SyncRow,
} from '../contract.js';
import { createHttpClient, type HttpClient, type HttpClientOptions } from '../http.js';
import { normaliseEmail, prepareIdentifiers, type IdentifierRule, type PreparedRow } from '../identifiers.js';

export type HubSpotConfig = {
  accessToken: string;
  /** Default https://api.hubapi.com; tests point it at a fake. */
  baseUrl?: string;
};

/** Knobs of the HTTP helper; tests shorten them. */
export type HubSpotHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>;

export const HUBSPOT_BASE_URL = 'https://api.hubapi.com';
/** Inputs per batch upsert/read call (and ids per membership call). */
export const HUBSPOT_BATCH_LIMIT = 100;
/** The CRM object type id of contacts. */
const CONTACTS = '0-1';
const LIST_PAGE = 100;

const EMAIL_RULE: IdentifierRule = { type: 'EMAIL', normalise: (v) => normaliseEmail(v), hash: false };

interface HubSpotError {
  status?: string;
  message?: string;
  category?: string;
  subCategory?: string;
  context?: { ids?: string[] } & Record<string, unknown>;
}

interface BatchResponse {
  status?: string;
  results?: { id: string; properties?: Record<string, string | null> }[];
  errors?: HubSpotError[];
}

interface HubSpotList {
  listId: string;
  name: string;
  processingType?: string;
  objectTypeId?: string;
  additionalProperties?: Record<string, string | undefined>;
}

interface SearchResponse {
  lists?: HubSpotList[];
  hasMore?: boolean;
  offset?: number;
  total?: number;
}

interface MembershipResponse {
  recordsIdsAdded?: string[];
  recordIdsRemoved?: string[];
  recordIdsMissing?: string[];
}

interface HubSpotProperty {
  name: string;
  label?: string;
  type?: string;
  fieldType?: string;
  options?: { value: string; label?: string; hidden?: boolean }[];
  calculated?: boolean;
  modificationMetadata?: { readOnlyValue?: boolean };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** HubSpot messages quote the e-mail they refuse; row errors are stored and shown, so it is cut out. */
function withoutValues(message: string, values: readonly string[]): string {
  let out = message;
  for (const v of values) if (v !== '') out = out.split(v).join('<e-mail>');
  return out;
}

/**
 * A mapped field value as a HubSpot property value. HubSpot takes strings;
 * multiple-checkbox values are joined with ";" (its separator); dates go as
 * ISO 8601, which date and datetime properties accept; null clears.
 */
export function hubspotPropertyValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value === null) return '';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => String(v)).join(';');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The rows of one contact: rows sharing an e-mail are one upsert input. */
interface ContactRows {
  email: string;
  rows: SyncRow[];
}

function groupByEmail(prepared: readonly PreparedRow[]): ContactRows[] {
  const groups = new Map<string, SyncRow[]>();
  for (const p of prepared) {
    const email = p.values.EMAIL!;
    const list = groups.get(email);
    if (list) list.push(p.row);
    else groups.set(email, [p.row]);
  }
  return [...groups].map(([email, rows]) => ({ email, rows }));
}

const rejectAll = (group: ContactRows, message: string, code: string): RowRejection[] => group.rows.map((r) => ({ key: r.key, message, code }));

function fieldType(p: HubSpotProperty): DestinationFieldType {
  switch (p.type) {
    case 'string':
    case 'phone_number':
      return 'STRING';
    case 'number':
      return 'NUMBER';
    case 'bool':
      return 'BOOLEAN';
    case 'date':
      return 'DATE';
    case 'datetime':
      return 'DATETIME';
    case 'enumeration':
      return p.fieldType === 'booleancheckbox' ? 'BOOLEAN' : 'ENUM';
    default:
      return 'OTHER';
  }
}

export function createHubSpotConnector(http: HubSpotHttpOptions = {}): Connector<HubSpotConfig> {
  const clientFor = (ctx: ConnectorContext<HubSpotConfig>): HttpClient =>
    createHttpClient({
      ...http,
      baseUrl: ctx.config.baseUrl ?? HUBSPOT_BASE_URL,
      rateLimit: { requestsPerSecond: 10, concurrency: 5 },
      logger: ctx.logger,
      signal: ctx.signal,
      headers: { authorization: `Bearer ${ctx.config.accessToken}` },
    });

  const withClient = async <T>(ctx: ConnectorContext<HubSpotConfig>, fn: (c: HttpClient) => Promise<T>): Promise<T> => {
    const client = clientFor(ctx);
    try {
      return await fn(client);
    } catch (err) {
      // A refused token is the most common set-up mistake: say what HubSpot needs.
      if (err instanceof ConnectorError && (err.status === 401 || err.status === 403)) {
        throw new ConnectorError(
          `${err.message}; expected a HubSpot private app access token with the scopes crm.objects.contacts.read, crm.objects.contacts.write, crm.lists.read and crm.lists.write`,
          err.code,
          false,
          err.status,
        );
      }
      throw err;
    } finally {
      await client.stop();
    }
  };

  const prepare = (rows: readonly SyncRow[]) => prepareIdentifiers(rows, [EMAIL_RULE], { platform: 'HubSpot' });

  /**
   * Upserts one batch of contacts. A 400 VALIDATION_ERROR fails HubSpot's whole
   * batch for one bad value (an enumeration option that does not exist, say),
   * so the batch is halved until the bad contacts stand alone and can be
   * rejected by themselves; a missing property is a mapping error that every
   * row shares, and fails the call.
   */
  const upsert = async (client: HttpClient, groups: ContactRows[]): Promise<RowRejection[]> => {
    const inputs = groups.map((g) => {
      const properties: Record<string, string> = {};
      for (const row of g.rows) {
        for (const [name, value] of Object.entries(row.fields)) {
          const v = hubspotPropertyValue(value);
          if (v !== undefined) properties[name] = v;
        }
      }
      properties.email = g.email;
      return { idProperty: 'email', id: g.email, properties };
    });
    const path = '/crm/v3/objects/contacts/batch/upsert';
    const res = await client.request('POST', path, { json: { inputs }, accept: [400] });
    const emails = groups.map((g) => g.email);
    if (res.status === 400) {
      const body = await res.json<HubSpotError>();
      const message = withoutValues(body.message ?? 'no message', emails);
      const perValue = body.category === 'VALIDATION_ERROR' && !/PROPERTY_DOESNT_EXIST/.test(body.message ?? '');
      if (!perValue) {
        throw new ConnectorError(`POST ${path}: expected the contacts to be accepted, but HubSpot refused the batch (${body.category ?? 'HTTP 400'}): ${message}`, 'HTTP_400', false, 400);
      }
      if (groups.length === 1) return rejectAll(groups[0]!, `HubSpot refused the contact: ${message}`, body.category!);
      const half = Math.ceil(groups.length / 2);
      return [...(await upsert(client, groups.slice(0, half))), ...(await upsert(client, groups.slice(half)))];
    }
    const body = await res.json<BatchResponse>();
    const byEmail = new Map(groups.map((g) => [g.email, g]));
    const rejected: RowRejection[] = [];
    const settled = new Set<string>();
    for (const r of body.results ?? []) {
      const email = r.properties?.email?.toLowerCase();
      if (email !== undefined) settled.add(email);
    }
    for (const e of body.errors ?? []) {
      for (const id of e.context?.ids ?? []) {
        const group = byEmail.get(id.toLowerCase());
        if (!group || settled.has(group.email)) continue;
        settled.add(group.email);
        rejected.push(...rejectAll(group, `HubSpot refused the contact: ${withoutValues(e.message ?? 'no message', emails)}`, e.category ?? 'ERROR'));
      }
    }
    // An input neither returned nor named by an error cannot be assumed created.
    for (const g of groups) {
      if (!settled.has(g.email)) rejected.push(...rejectAll(g, 'HubSpot returned no contact for this e-mail after the upsert', 'NOT_RETURNED'));
    }
    return rejected;
  };

  /** Record ids of existing contacts, by e-mail; e-mails without a contact are absent. */
  const readIds = async (client: HttpClient, emails: string[]): Promise<Map<string, string>> => {
    const res = await client.request('POST', '/crm/v3/objects/contacts/batch/read', {
      json: { idProperty: 'email', properties: ['email'], inputs: emails.map((id) => ({ id })) },
    });
    const body = await res.json<BatchResponse>();
    const ids = new Map<string, string>();
    for (const r of body.results ?? []) {
      const email = r.properties?.email?.toLowerCase();
      if (email !== undefined && typeof r.id === 'string') ids.set(email, r.id);
    }
    return ids;
  };

  const changeMembership = async (
    ctx: ConnectorContext<HubSpotConfig>,
    audience: Audience,
    rows: SyncRow[],
    operation: 'add' | 'remove',
  ): Promise<DeliveryResult> => {
    const { prepared, rejected } = prepare(rows);
    const groups = groupByEmail(prepared);
    if (groups.length === 0) return { rejected };
    const path = `/crm/v3/lists/${encodeURIComponent(audience.id)}/memberships/${operation}`;
    await withClient(ctx, async (client) => {
      for (const batch of chunks(groups, HUBSPOT_BATCH_LIMIT)) {
        const ids = await readIds(client, batch.map((g) => g.email));
        const byId = new Map<string, ContactRows>();
        for (const g of batch) {
          const id = ids.get(g.email);
          if (id !== undefined) byId.set(id, g);
          // Without a contact there is nothing to remove; to add, the profile had to exist.
          else if (operation === 'add') {
            rejected.push(...rejectAll(g, 'no HubSpot contact has this e-mail; contacts are created by ensureProfiles before they can join a list', 'CONTACT_NOT_FOUND'));
          }
        }
        if (byId.size === 0) continue;
        const res = await client.request('PUT', path, { json: [...byId.keys()] });
        const body = await res.json<MembershipResponse>();
        const missing = body.recordIdsMissing ?? [];
        if (operation === 'add') {
          for (const id of missing) {
            const g = byId.get(id);
            if (g) rejected.push(...rejectAll(g, `HubSpot reported contact record ${id} missing (deleted after it was looked up)`, 'RECORD_ID_MISSING'));
          }
        } else if (missing.length > 0) {
          ctx.logger.debug({ missing: missing.length }, 'hubspot: contacts removed from a list no longer exist');
        }
      }
    });
    return { rejected };
  };

  const search = (client: HttpClient, body: Record<string, unknown>) =>
    client.request('POST', '/crm/v3/lists/search', { json: { query: '', processingTypes: ['MANUAL'], additionalProperties: ['hs_list_size'], ...body } }).then((r) => r.json<SearchResponse>());

  const toAudience = (l: HubSpotList): Audience => {
    const size = l.additionalProperties?.hs_list_size;
    return { id: String(l.listId), name: l.name, type: l.processingType ?? 'MANUAL', size: size !== undefined && size !== '' ? Number(size) : null };
  };

  return {
    type: 'hubspot',
    name: 'HubSpot Lists',
    spec: {
      category: 'CRM',
      configSchema: [
        {
          name: 'accessToken',
          type: 'string',
          required: true,
          secret: true,
          description: 'a private app access token with crm.objects.contacts.read/write and crm.lists.read/write',
        },
        { name: 'baseUrl', type: 'url', required: false, secret: false, description: 'the HubSpot API base URL', default: HUBSPOT_BASE_URL },
      ],
      identifiers: [{ type: 'EMAIL', hashed: false }],
      audiences: { canList: true, canCreate: true, types: ['MANUAL'], defaultType: 'MANUAL' },
      batchSize: HUBSPOT_BATCH_LIMIT,
      rateLimit: { requestsPerSecond: 10, concurrency: 5 },
      requiresProfiles: true,
      reportsMatchRate: true,
      supportsUpdate: false,
    },

    validateConfig(config: HubSpotConfig): ValidationProblem[] {
      if (/\s/.test(config.accessToken.trim()) || config.accessToken.trim() === '') {
        return [{ path: ['accessToken'], message: 'expected a HubSpot access token without spaces (e.g. pat-na1-…), but got one with spaces or none' }];
      }
      return [];
    },

    async check(ctx) {
      await withClient(ctx, async (client) => {
        await client.request('GET', '/crm/v3/objects/contacts', { query: { limit: 1, properties: 'email' } });
        await search(client, { count: 1, offset: 0 });
      });
    },

    async listAudiences(ctx) {
      return withClient(ctx, async (client) => {
        const out: Audience[] = [];
        let offset = 0;
        // An empty query pages through every list; only contact lists can hold contacts.
        for (;;) {
          const page = await search(client, { count: LIST_PAGE, offset });
          for (const l of page.lists ?? []) if ((l.objectTypeId ?? CONTACTS) === CONTACTS) out.push(toAudience(l));
          if (!page.hasMore || page.offset === undefined || page.offset <= offset) break;
          offset = page.offset;
        }
        return out;
      });
    },

    async createAudience(ctx, input) {
      const type = input.type ?? 'MANUAL';
      if (type !== 'MANUAL') {
        throw new ConnectorError(`expected list type MANUAL (the only type Roster can write members to and create without filters), but got "${type}"`, 'INVALID_AUDIENCE_TYPE', false);
      }
      return withClient(ctx, async (client) => {
        const res = await client.request('POST', '/crm/v3/lists', {
          json: { name: input.name, objectTypeId: CONTACTS, processingType: 'MANUAL' },
          accept: [400, 409],
        });
        if (res.status === 400 || res.status === 409) {
          const body = await res.json<HubSpotError>();
          if (body.subCategory === 'ILS.DUPLICATE_LIST_NAMES') {
            throw new ConnectorError(`HubSpot already has a list named "${input.name}"; choose another name or select the existing list`, 'DUPLICATE_NAME', false, res.status);
          }
          throw new ConnectorError(`POST /crm/v3/lists: expected the list to be created, but HubSpot answered ${res.status} (${body.category ?? 'no category'}): ${body.message ?? 'no message'}`, `HTTP_${res.status}`, false, res.status);
        }
        const body = await res.json<{ list?: HubSpotList }>();
        if (!body.list?.listId) throw new ConnectorError('POST /crm/v3/lists: expected {"list": {"listId": …}}, but the response has no listId', 'INVALID_RESPONSE', false);
        return { id: String(body.list.listId), name: body.list.name, type: body.list.processingType ?? 'MANUAL', size: 0 };
      });
    },

    async ensureProfiles(ctx, rows) {
      const { prepared, rejected } = prepare(rows);
      const groups = groupByEmail(prepared);
      if (groups.length === 0) return { rejected };
      await withClient(ctx, async (client) => {
        for (const batch of chunks(groups, HUBSPOT_BATCH_LIMIT)) rejected.push(...(await upsert(client, batch)));
      });
      return { rejected };
    },

    add: (ctx, audience, rows) => changeMembership(ctx, audience, rows, 'add'),
    remove: (ctx, audience, rows) => changeMembership(ctx, audience, rows, 'remove'),

    async matchRate(ctx, audience): Promise<AudienceStats> {
      return withClient(ctx, async (client) => {
        const page = await search(client, { listIds: [audience.id], count: 1, offset: 0 });
        const list = (page.lists ?? []).find((l) => String(l.listId) === audience.id);
        if (!list) throw new ConnectorError(`expected HubSpot list ${audience.id} in the search results, but it was not there (deleted?)`, 'AUDIENCE_NOT_FOUND', false);
        const size = toAudience(list).size;
        if (size === null || size === undefined || Number.isNaN(size)) {
          throw new ConnectorError(`expected hs_list_size for HubSpot list ${audience.id}, but the search result has none`, 'INVALID_RESPONSE', false);
        }
        // HubSpot reports the list's size; there is no separate "matched" count for a CRM list.
        return { matched: size, uploaded: null };
      });
    },

    async fields(ctx): Promise<DestinationField[]> {
      return withClient(ctx, async (client) => {
        const res = await client.request('GET', '/crm/v3/properties/contacts');
        const body = await res.json<{ results?: HubSpotProperty[] }>();
        // Calculated and read-only properties cannot be written by a sync.
        return (body.results ?? [])
          .filter((p) => !p.calculated && p.modificationMetadata?.readOnlyValue !== true)
          .map((p) => {
            const type = fieldType(p);
            return {
              name: p.name,
              type,
              ...(p.label ? { label: p.label } : {}),
              ...(type === 'ENUM' ? { options: (p.options ?? []).filter((o) => !o.hidden).map((o) => o.value) } : {}),
            };
          });
      });
    },
  };
}

export const hubspotConnector = createHubSpotConnector();
