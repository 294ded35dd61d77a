// Mailchimp audiences: a Roster audience is a Mailchimp audience (a "list"),
// its members upserted by e-mail with their merge fields.
//
// What it speaks (Marketing API 3.0, base https://<dc>.api.mailchimp.com/3.0,
// HTTP Basic with any user name and the API key as password; <dc> is the
// key's suffix, e.g. "…-us21"):
//   check           GET    /ping → {"health_status": "Everything's Chimpy!"}
//   listAudiences   GET    /lists?count=&offset= → {lists, total_items}, paged
//   createAudience  POST   /lists {name, contact, permission_reminder, campaign_defaults,
//                   email_type_option}; those settings are copied from a template audience
//   add             POST   /lists/{list_id} {members:[{email_address, status, merge_fields}],
//                   update_existing: true} → {new_members, updated_members, errors, error_count}
//   remove          "unsubscribe" (default): the same call with status "unsubscribed";
//                   "archive": DELETE /lists/{list_id}/members/{subscriber_hash} per member
//   matchRate       GET    /lists/{list_id} → stats.member_count
//   fields          GET    /lists/{list_id}/merge-fields → {merge_fields:[{tag, name, type, options}]}
//   (before add)    GET    /lists/{list_id}/merge-fields once per audience and context (a run),
//                   then POST /lists/{list_id}/merge-fields {tag, name, type, options?} for
//                   each mapped tag the audience lacks
//
// Sources (tags as in /work/shared/reference/destinations.md §13):
// - Batch subscribe: ≤500 members per call, `update_existing`, HTTP 200 even
//   when members are refused, errors[{email_address, error, error_code}].
//   mailchimp.com/developer/marketing/api/lists/batch-subscribe-or-unsubscribe/
//   [V]; rudderlabs/rudder-transformer src/v0/destinations/mailchimp
//   (MAX_BATCH_SIZE 500) [3C]; docs.rs/mailchimp ListBatchParam [3C].
// - subscriber_hash = MD5 of the lower-cased e-mail, hex; vectors
//   Example@company.co → db76bc5fe3d38d43c15df4e56b4102b3, test@example.com →
//   55502f40dc8b7c769880b10874abc9d0. mailchimp.com/developer/marketing/api/
//   list-members/ [V]; the vectors are [calc] (destinations.md §0).
// - Status values are lower-case only (subscribed, unsubscribed, cleaned,
//   pending, transactional). sutrolabs/census-docs destinations/mailchimp.md [3D].
// - Data centre from the key suffix; Basic auth with the key as password. [V/3C]
// - Limit: 10 simultaneous connections per user, 429 beyond (sometimes 403),
//   no rate-limit headers; no per-second limit is documented. [V via 3D]
// - Errors are problem documents {type, title, status, detail, instance}. [V]
// - Merge field types (text, number, address, phone, date, url, imageurl,
//   radio, dropdown, birthday, zip) and options.choices for radio/dropdown:
//   mailchimp.com/developer/marketing/api/list-merges/ [V]; count up to 1000. [V]
// - List stats.member_count counts subscribed members. [V] (Mailchimp caches
//   stats for some minutes.)
// - Merge fields belong to each audience; a new audience has only the default
//   ones (FNAME, LNAME, ADDRESS, PHONE), and an audience must be given the
//   fields an external source writes before members carry them.
//   mailchimp.com/developer/marketing/docs/merge-fields/ [V].
// - Add a merge field: POST /lists/{list_id}/merge-fields {tag, name, type,
//   options: {choices, date_format, phone_format, default_country, size}};
//   name and type are required, the type one of those listed above.
//   mailchimp.com/developer/marketing/api/list-merges/add-merge-field/ [V]
//   (developer.mailchimp.com/documentation/mailchimp/reference/lists/merge-fields/);
//   konfig-sdks/mailchimp-java-sdk docs/ListsAddMergeFieldRequest.md,
//   generated from Mailchimp's OpenAPI [3C].
// - Merge tags: at most 10 characters, upper-case letters, digits and
//   underscores. The length: mailchimp/mc-magento issue #1140 (Mailchimp's
//   own Magento module) [3C] and Segment's Mailchimp destination docs
//   (segment-boneyard/segment-docs PR #3671, "merge tags that are 10
//   characters or shorter", upper case) [3D]; the characters:
//   chimpmatic.com/mailchimp-audience-fields-and-merge-tags [3D]. Not found
//   on a Mailchimp page.
// - An audience holds 30 merge fields on most plans (80 on some):
//   mailchimp/mc-magento issues #957, #1062 [3C], chimpmatic [3D]. Beyond
//   that Mailchimp refuses the POST; the call fails with its message.
//
// Merge fields of an audience Roster writes to are created when missing
// (ensureMergeFields): fields() offers the union over all audiences, so a
// mapping checked against it must not fail on an audience that lacks the tag,
// a new one above all. A missing field takes the type of the same tag in the
// template audience (templateListId, else the first) or, failing that, in the
// other audiences in listing order: the type the mapping was checked against.
// A tag no audience has gets a type inferred from the values (numbers:
// number, ISO dates: date, else text).
//
// The upsert creates members, so no profile step is needed. With
// update_existing, an existing member's status is set to `memberStatus`
// again; "unsubscribe" removal of an address that was never in the audience
// adds it as unsubscribed (Mailchimp keeps it, and may count it as a contact).
import { createHash } from 'node:crypto';
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

export const MAILCHIMP_MEMBER_STATUSES = ['subscribed', 'pending', 'transactional'] as const;
export const MAILCHIMP_REMOVAL_ACTIONS = ['unsubscribe', 'archive'] as const;

export type MailchimpConfig = {
  apiKey: string;
  /** Default: https://<dc>.api.mailchimp.com/3.0, <dc> taken from the key. */
  baseUrl?: string;
  /** What remove() does (default "unsubscribe"). */
  removalAction?: (typeof MAILCHIMP_REMOVAL_ACTIONS)[number];
  /** The status add() gives members (default "subscribed"). */
  memberStatus?: (typeof MAILCHIMP_MEMBER_STATUSES)[number];
  /** The audience whose contact address and campaign defaults new audiences copy (default: the first one). */
  templateListId?: string;
};

/** Knobs of the HTTP helper; tests shorten them. */
export type MailchimpHttpOptions = Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>;

export const MAILCHIMP_BATCH_LIMIT = 500;
/** Simultaneous connections Mailchimp allows per user. */
export const MAILCHIMP_CONCURRENCY = 10;
const PAGE = 100;
const MERGE_FIELDS_PAGE = 1000;

const EMAIL_RULE: IdentifierRule = { type: 'EMAIL', normalise: (v) => normaliseEmail(v), hash: false };

/** MD5 of the lower-cased e-mail, as Mailchimp addresses a member in URL paths. */
export function subscriberHash(email: string): string {
  return createHash('md5').update(email.toLowerCase(), 'utf8').digest('hex');
}

/** https://<dc>.api.mailchimp.com/3.0 from a key "…-<dc>", or undefined when the key has no data centre. */
export function mailchimpBaseUrl(apiKey: string): string | undefined {
  const dc = /-([a-z]{2,4}\d{1,3})$/.exec(apiKey.trim())?.[1];
  return dc === undefined ? undefined : `https://${dc}.api.mailchimp.com/3.0`;
}

/**
 * A mapped field value as a merge field value: strings and numbers as they
 * are, dates as YYYY-MM-DD (Mailchimp's date format), address objects as
 * objects, booleans as text, null as "" (clears the field).
 */
export function mergeFieldValue(value: unknown): unknown {
  if (value === undefined) return undefined;
  if (value === null) return '';
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  if (typeof value === 'boolean') return String(value);
  return value;
}

interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
}

interface MailchimpList {
  id: string;
  name: string;
  contact?: Record<string, unknown>;
  permission_reminder?: string;
  campaign_defaults?: Record<string, unknown>;
  email_type_option?: boolean;
  stats?: { member_count?: number };
}

interface BatchResponse {
  errors?: { email_address?: string; error?: string; error_code?: string }[];
  error_count?: number;
}

interface MergeFieldOptions {
  choices?: string[];
  date_format?: string;
  phone_format?: string;
  default_country?: number;
  size?: number;
}

interface MergeField {
  tag: string;
  name?: string;
  type?: string;
  options?: MergeFieldOptions;
}

/** Merge field types Mailchimp accepts when one is created. */
export const MAILCHIMP_MERGE_FIELD_TYPES = ['text', 'number', 'address', 'phone', 'date', 'url', 'imageurl', 'radio', 'dropdown', 'birthday', 'zip'] as const;
/** A merge tag: up to 10 upper-case letters, digits and underscores. */
export const MAILCHIMP_MERGE_TAG = /^[A-Z0-9_]{1,10}$/;
/** Options a created merge field copies from the same-tag field of another audience. */
const COPIED_OPTIONS = ['choices', 'date_format', 'phone_format', 'default_country', 'size'] as const;
/** YYYY-MM-DD, optionally with a time and offset (how dates and timestamps reach a connector). */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * The type of a merge field no audience has, from the values it is about to
 * hold: all numbers → "number", all ISO dates → "date", else (empty values
 * only, too) "text".
 */
export function inferMergeFieldType(values: readonly unknown[]): 'number' | 'date' | 'text' {
  const present = values.filter((v) => v !== null && v !== undefined && v !== '');
  if (present.length === 0) return 'text';
  if (present.every((v) => typeof v === 'number' && Number.isFinite(v))) return 'number';
  if (present.every((v) => (v instanceof Date && !Number.isNaN(v.getTime())) || (typeof v === 'string' && ISO_DATE.test(v)))) return 'date';
  return 'text';
}

/** What one connector context (a run) knows of merge fields: each audience is read once. */
interface MergeFieldState {
  /** Per audience: the tags it has (once read) and a queue, so that two calls never create the same field. */
  audiences: Map<string, { tags?: Set<string>; queue: Promise<void> }>;
  /** Merge fields of the other audiences by tag, filled as far as needed; the template audience first. */
  catalogue: { order?: string[]; scanned: Set<string>; byTag: Map<string, MergeField> };
}

interface Member {
  email: string;
  rows: SyncRow[];
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function groupByEmail(prepared: readonly PreparedRow[]): Member[] {
  const groups = new Map<string, SyncRow[]>();
  for (const p of prepared) {
    const email = p.values.EMAIL!;
    groups.set(email, [...(groups.get(email) ?? []), p.row]);
  }
  return [...groups].map(([email, rows]) => ({ email, rows }));
}

/** Mailchimp's messages quote the address they refuse; row errors are stored and shown. */
function withoutEmail(message: string, email: string): string {
  return message.split(email).join('<e-mail>');
}

const rejectAll = (m: Member, message: string, code: string): RowRejection[] => m.rows.map((r) => ({ key: r.key, message, code }));

function fieldType(type: string | undefined): DestinationFieldType {
  switch (type) {
    case 'text':
    case 'phone':
    case 'url':
    case 'imageurl':
    case 'zip':
      return 'STRING';
    case 'number':
      return 'NUMBER';
    case 'date':
      return 'DATE';
    case 'radio':
    case 'dropdown':
      return 'ENUM';
    default:
      // address (an object) and birthday (MM/DD) fit none of Roster's types.
      return 'OTHER';
  }
}

export function createMailchimpConnector(http: MailchimpHttpOptions = {}): Connector<MailchimpConfig> {
  const baseUrlOf = (config: MailchimpConfig): string => {
    const url = config.baseUrl ?? mailchimpBaseUrl(config.apiKey);
    if (url === undefined) {
      throw new ConnectorError('expected a Mailchimp API key ending in its data centre (e.g. "…-us21") or a baseUrl, but the key has no data-centre suffix', 'CONFIG_INVALID', false);
    }
    return url;
  };

  const withClient = async <T>(ctx: ConnectorContext<MailchimpConfig>, fn: (c: HttpClient) => Promise<T>): Promise<T> => {
    const client = createHttpClient({
      ...http,
      baseUrl: baseUrlOf(ctx.config),
      // Mailchimp limits simultaneous connections, not requests per second (0: no spacing).
      rateLimit: { requestsPerSecond: 0, concurrency: MAILCHIMP_CONCURRENCY },
      logger: ctx.logger,
      signal: ctx.signal,
      headers: { authorization: `Basic ${Buffer.from(`roster:${ctx.config.apiKey}`).toString('base64')}` },
    });
    try {
      return await fn(client);
    } catch (err) {
      if (err instanceof ConnectorError && (err.status === 401 || err.status === 403)) {
        throw new ConnectorError(`${err.message}; expected a valid Mailchimp API key for this data centre`, err.code, false, err.status);
      }
      throw err;
    } finally {
      await client.stop();
    }
  };

  const prepare = (rows: readonly SyncRow[]) => prepareIdentifiers(rows, [EMAIL_RULE], { platform: 'Mailchimp' });

  // Keyed by the context object: the engine uses one per run, so an audience's
  // merge fields are read once per run, and forgotten with it.
  const mergeStates = new WeakMap<object, MergeFieldState>();
  const mergeStateOf = (ctx: ConnectorContext<MailchimpConfig>): MergeFieldState => {
    let state = mergeStates.get(ctx);
    if (!state) {
      state = { audiences: new Map(), catalogue: { scanned: new Set(), byTag: new Map() } };
      mergeStates.set(ctx, state);
    }
    return state;
  };

  /** One batch-subscribe call per 500 members; refused members become row rejections. */
  const batchSubscribe = async (
    client: HttpClient,
    listId: string,
    members: Member[],
    status: string,
    withMergeFields: boolean,
  ): Promise<RowRejection[]> => {
    const rejected: RowRejection[] = [];
    const path = `/lists/${encodeURIComponent(listId)}`;
    for (const batch of chunks(members, MAILCHIMP_BATCH_LIMIT)) {
      const payload = batch.map((m) => {
        const merge: Record<string, unknown> = {};
        if (withMergeFields) {
          for (const row of m.rows) {
            for (const [tag, value] of Object.entries(row.fields)) {
              const v = mergeFieldValue(value);
              if (v !== undefined) merge[tag] = v;
            }
          }
        }
        return { email_address: m.email, status, ...(Object.keys(merge).length ? { merge_fields: merge } : {}) };
      });
      const res = await client.request('POST', path, { json: { members: payload, update_existing: true } });
      const body = await res.json<BatchResponse>();
      const byEmail = new Map(batch.map((m) => [m.email, m]));
      for (const e of body.errors ?? []) {
        const m = byEmail.get((e.email_address ?? '').trim().toLowerCase());
        if (!m) continue;
        byEmail.delete(m.email);
        rejected.push(...rejectAll(m, `Mailchimp refused the member: ${withoutEmail(e.error ?? 'no message', m.email)}`, e.error_code ?? 'ERROR'));
      }
    }
    return rejected;
  };

  /**
   * Archives members one request each. Ten workers take the next member in
   * turn, so at most ten requests are open (Mailchimp's limit) and no more
   * than ten wait in the HTTP helper, however large the batch.
   */
  const archive = async (client: HttpClient, listId: string, members: Member[]): Promise<RowRejection[]> => {
    const rejected: RowRejection[] = [];
    let next = 0;
    const worker = async () => {
      while (next < members.length) {
        const m = members[next++]!;
        const path = `/lists/${encodeURIComponent(listId)}/members/${subscriberHash(m.email)}`;
        const res = await client.request('DELETE', path, { accept: [400, 404, 405] });
        // 404: not (or no longer) a member, which is what removal wants.
        if (res.status === 404 || res.status < 300) continue;
        const problem = await res.json<Problem>().catch(() => ({}) as Problem);
        const detail = problem.detail ? ` (${withoutEmail(problem.detail, m.email)})` : '';
        rejected.push(...rejectAll(m, `Mailchimp refused to archive the member: ${problem.title ?? `HTTP ${res.status}`}${detail}`, problem.title ?? `HTTP_${res.status}`));
      }
    };
    await Promise.all(Array.from({ length: Math.min(MAILCHIMP_CONCURRENCY, members.length) }, worker));
    return rejected;
  };

  const getList = async (client: HttpClient, id: string) => (await client.request('GET', `/lists/${encodeURIComponent(id)}`)).json<MailchimpList>();

  /** Every audience of the account, page by page. */
  const allLists = async (client: HttpClient): Promise<MailchimpList[]> => {
    const out: MailchimpList[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const res = await client.request('GET', '/lists', { query: { count: PAGE, offset, fields: 'lists.id,lists.name,lists.stats.member_count,total_items' } });
      const page = await res.json<{ lists?: MailchimpList[]; total_items?: number }>();
      const lists = page.lists ?? [];
      out.push(...lists);
      if (lists.length < PAGE || offset + PAGE >= (page.total_items ?? 0)) return out;
    }
  };

  const mergeFieldsOf = async (client: HttpClient, listId: string): Promise<MergeField[]> => {
    const out: MergeField[] = [];
    for (let offset = 0; ; offset += MERGE_FIELDS_PAGE) {
      const res = await client.request('GET', `/lists/${encodeURIComponent(listId)}/merge-fields`, { query: { count: MERGE_FIELDS_PAGE, offset } });
      const page = await res.json<{ merge_fields?: MergeField[]; total_items?: number }>();
      const fields = page.merge_fields ?? [];
      out.push(...fields);
      if (fields.length < MERGE_FIELDS_PAGE || offset + MERGE_FIELDS_PAGE >= (page.total_items ?? 0)) return out;
    }
  };

  /**
   * The same-tag merge fields of the account's other audiences, for `tags`:
   * the template audience (templateListId, else the first listed) is read
   * first, then the others in listing order until every tag is found.
   */
  const sourcesOf = async (client: HttpClient, ctx: ConnectorContext<MailchimpConfig>, listId: string, tags: readonly string[]): Promise<Map<string, MergeField>> => {
    const cat = mergeStateOf(ctx).catalogue;
    const found = () => tags.every((t) => cat.byTag.has(t));
    if (!found()) {
      if (!cat.order) {
        const ids = (await allLists(client)).map((l) => l.id);
        const template = ctx.config.templateListId;
        cat.order = template ? [template, ...ids.filter((id) => id !== template)] : ids;
      }
      for (const id of cat.order) {
        if (found()) break;
        if (id === listId || cat.scanned.has(id)) continue;
        for (const f of await mergeFieldsOf(client, id)) if (!cat.byTag.has(f.tag)) cat.byTag.set(f.tag, f);
        cat.scanned.add(id);
      }
    }
    return new Map(tags.flatMap((t) => (cat.byTag.has(t) ? [[t, cat.byTag.get(t)!] as const] : [])));
  };

  /** POST /lists/{id}/merge-fields; a 400 for a tag that meanwhile exists (another run created it) is fine. */
  const createMergeField = async (client: HttpClient, listId: string, field: { tag: string; name: string; type: string; options?: MergeFieldOptions }) => {
    const path = `/lists/${encodeURIComponent(listId)}/merge-fields`;
    const res = await client.request('POST', path, { json: field, accept: [400] });
    if (res.status < 300) return;
    const problem = await res.json<Problem>().catch(() => ({}) as Problem);
    if ((await mergeFieldsOf(client, listId)).some((f) => f.tag === field.tag)) return;
    throw new ConnectorError(
      `POST /lists/${listId}/merge-fields: Mailchimp refused to create merge field ${field.tag} (${field.type}): ${problem.title ?? 'HTTP 400'}${problem.detail ? ` (${problem.detail})` : ''}`,
      'MERGE_FIELD_NOT_CREATED',
      false,
      400,
    );
  };

  /**
   * Creates the merge fields the members' mapped fields use that the
   * audience lacks, before they are upserted: Mailchimp refuses a member
   * whose merge_fields name a tag the audience does not have.
   */
  const ensureMergeFields = async (client: HttpClient, ctx: ConnectorContext<MailchimpConfig>, listId: string, members: readonly Member[]) => {
    const values = new Map<string, unknown[]>();
    for (const m of members) {
      for (const row of m.rows) {
        for (const [tag, value] of Object.entries(row.fields)) {
          if (value === undefined) continue;
          const seen = values.get(tag);
          if (seen) seen.push(value);
          else values.set(tag, [value]);
        }
      }
    }
    if (values.size === 0) return;
    const state = mergeStateOf(ctx);
    let entry = state.audiences.get(listId);
    if (!entry) {
      entry = { queue: Promise.resolve() };
      state.audiences.set(listId, entry);
    }
    const audience = entry;
    const work = audience.queue.then(async () => {
      audience.tags ??= new Set((await mergeFieldsOf(client, listId)).map((f) => f.tag));
      const missing = [...values.keys()].filter((tag) => !audience.tags!.has(tag));
      if (missing.length === 0) return;
      const invalid = missing.filter((tag) => !MAILCHIMP_MERGE_TAG.test(tag));
      if (invalid.length) {
        throw new ConnectorError(
          `expected merge tags of up to 10 upper-case letters, digits and underscores, but ${invalid.map((t) => `"${t}"`).join(', ')} ${invalid.length === 1 ? 'is' : 'are'} not, and audience ${listId} has no such field to write`,
          'INVALID_MERGE_TAG',
          false,
        );
      }
      const sources = await sourcesOf(client, ctx, listId, missing);
      for (const tag of missing) {
        const source = sources.get(tag);
        const type = source?.type && (MAILCHIMP_MERGE_FIELD_TYPES as readonly string[]).includes(source.type) ? source.type : inferMergeFieldType(values.get(tag)!);
        const options = Object.fromEntries(COPIED_OPTIONS.filter((k) => source?.options?.[k] !== undefined).map((k) => [k, source!.options![k]])) as MergeFieldOptions;
        await createMergeField(client, listId, { tag, name: source?.name || tag, type, ...(source && Object.keys(options).length ? { options } : {}) });
        audience.tags!.add(tag);
        ctx.logger.info({ listId, tag, type, from: source ? 'another audience' : 'the values' }, 'created a Mailchimp merge field');
      }
    });
    audience.queue = work.catch(() => {});
    await work;
  };

  return {
    type: 'mailchimp',
    name: 'Mailchimp Audiences',
    spec: {
      category: 'MARKETING',
      configSchema: [
        { name: 'apiKey', type: 'string', required: true, secret: true, description: 'a Mailchimp API key (it ends in the data centre, e.g. "-us21")' },
        {
          name: 'baseUrl',
          type: 'url',
          required: false,
          secret: false,
          description: 'the Marketing API base URL; by default https://<dc>.api.mailchimp.com/3.0 with <dc> from the API key',
        },
        {
          name: 'removalAction',
          type: 'enum',
          required: false,
          secret: false,
          enum: MAILCHIMP_REMOVAL_ACTIONS,
          default: 'unsubscribe',
          description: 'what removing a member does: "unsubscribe" keeps them as unsubscribed, "archive" archives them',
        },
        {
          name: 'memberStatus',
          type: 'enum',
          required: false,
          secret: false,
          enum: MAILCHIMP_MEMBER_STATUSES,
          default: 'subscribed',
          description: 'the status added members get ("pending" sends a double opt-in e-mail)',
        },
        {
          name: 'templateListId',
          type: 'string',
          required: false,
          secret: false,
          description: 'the audience whose contact address, permission reminder and campaign defaults new audiences copy (default: the first audience)',
        },
      ],
      identifiers: [{ type: 'EMAIL', hashed: false }],
      audiences: { canList: true, canCreate: true, types: ['list'], defaultType: 'list' },
      batchSize: MAILCHIMP_BATCH_LIMIT,
      rateLimit: { requestsPerSecond: 0, concurrency: MAILCHIMP_CONCURRENCY },
      requiresProfiles: false,
      reportsMatchRate: true,
      supportsUpdate: false,
    },

    validateConfig(config: MailchimpConfig): ValidationProblem[] {
      if (config.baseUrl === undefined && mailchimpBaseUrl(config.apiKey) === undefined) {
        return [{ path: ['apiKey'], message: 'expected a Mailchimp API key ending in its data centre (e.g. "…-us21"), but got one without that suffix; set baseUrl otherwise' }];
      }
      return [];
    },

    async check(ctx) {
      await withClient(ctx, async (client) => {
        const body = await (await client.request('GET', '/ping')).json<{ health_status?: string }>();
        if (typeof body.health_status !== 'string') throw new ConnectorError('GET /ping: expected {"health_status": …}, but got another answer', 'INVALID_RESPONSE', false);
      });
    },

    async listAudiences(ctx) {
      return withClient(ctx, async (client) =>
        (await allLists(client)).map((l) => ({ id: l.id, name: l.name, type: 'list', size: l.stats?.member_count ?? null })),
      );
    },

    async createAudience(ctx, input) {
      if (input.type !== null && input.type !== 'list') {
        throw new ConnectorError(`expected audience type "list" (Mailchimp's only one), but got "${input.type}"`, 'INVALID_AUDIENCE_TYPE', false);
      }
      return withClient(ctx, async (client) => {
        // Mailchimp requires a postal address, a permission reminder and
        // campaign defaults for every audience; they are the account's, so
        // they are copied from an existing audience rather than asked again.
        let template: MailchimpList | undefined;
        if (ctx.config.templateListId) template = await getList(client, ctx.config.templateListId);
        else {
          const first = await (await client.request('GET', '/lists', { query: { count: 1, offset: 0 } })).json<{ lists?: MailchimpList[] }>();
          template = first.lists?.[0];
        }
        if (!template?.contact || !template.campaign_defaults || template.permission_reminder === undefined) {
          throw new ConnectorError(
            'expected an existing Mailchimp audience to copy the contact address, permission reminder and campaign defaults from, but the account has none; create the first audience in Mailchimp',
            'NO_TEMPLATE_AUDIENCE',
            false,
          );
        }
        const res = await client.request('POST', '/lists', {
          json: {
            name: input.name,
            contact: template.contact,
            permission_reminder: template.permission_reminder,
            campaign_defaults: template.campaign_defaults,
            email_type_option: template.email_type_option ?? false,
          },
        });
        const created = await res.json<MailchimpList>();
        if (typeof created.id !== 'string') throw new ConnectorError('POST /lists: expected the new audience with an "id", but the response has none', 'INVALID_RESPONSE', false);
        return { id: created.id, name: created.name, type: 'list', size: 0 };
      });
    },

    async add(ctx, audience, rows): Promise<DeliveryResult> {
      const { prepared, rejected } = prepare(rows);
      const members = groupByEmail(prepared);
      if (members.length === 0) return { rejected };
      const status = ctx.config.memberStatus ?? 'subscribed';
      rejected.push(
        ...(await withClient(ctx, async (client) => {
          await ensureMergeFields(client, ctx, audience.id, members);
          return batchSubscribe(client, audience.id, members, status, true);
        })),
      );
      return { rejected };
    },

    async remove(ctx, audience, rows): Promise<DeliveryResult> {
      const { prepared, rejected } = prepare(rows);
      const members = groupByEmail(prepared);
      if (members.length === 0) return { rejected };
      const action = ctx.config.removalAction ?? 'unsubscribe';
      rejected.push(
        ...(await withClient(ctx, (client) =>
          action === 'archive' ? archive(client, audience.id, members) : batchSubscribe(client, audience.id, members, 'unsubscribed', false),
        )),
      );
      return { rejected };
    },

    async matchRate(ctx, audience): Promise<AudienceStats> {
      return withClient(ctx, async (client) => {
        const list = await getList(client, audience.id);
        const count = list.stats?.member_count;
        if (typeof count !== 'number') throw new ConnectorError(`GET /lists/${audience.id}: expected stats.member_count, but the audience has none`, 'INVALID_RESPONSE', false);
        // Mailchimp counts subscribed members; it does not "match" people.
        return { matched: count, uploaded: null };
      });
    },

    async fields(ctx): Promise<DestinationField[]> {
      // Merge fields belong to each audience and fields() is asked for the
      // destination, so the union over its audiences is returned; a tag whose
      // type differs between audiences is reported as OTHER. add() creates a
      // mapped field an audience lacks, typed as here (ensureMergeFields).
      return withClient(ctx, async (client) => {
        const byTag = new Map<string, DestinationField>();
        for (const list of await allLists(client)) {
          for (const f of await mergeFieldsOf(client, list.id)) {
            const type = fieldType(f.type);
            const field: DestinationField = {
              name: f.tag,
              type,
              ...(f.name ? { label: f.name } : {}),
              ...(type === 'ENUM' ? { options: f.options?.choices ?? [] } : {}),
            };
            const seen = byTag.get(f.tag);
            if (!seen) byTag.set(f.tag, field);
            else if (seen.type !== field.type) byTag.set(f.tag, { name: f.tag, type: 'OTHER', ...(seen.label ? { label: seen.label } : {}) });
            else if (type === 'ENUM') seen.options = [...new Set([...(seen.options ?? []), ...(field.options ?? [])])];
          }
        }
        return [...byTag.values()];
      });
    },
  };
}

export const mailchimpConnector = createMailchimpConnector();
