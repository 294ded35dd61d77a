// A HubSpot CRM on loopback (contacts, contact properties, Lists v3) that
// enforces the contract src/connectors/hubspot/index.ts relies on
// (destinations.md §12):
// - `Authorization: Bearer <token>` on every request (401 INVALID_AUTHENTICATION);
// - batch upsert/read: {inputs:[…]} of at most 100, idProperty "email", ids
//   that are trimmed lower-case e-mails (what Roster sends), no duplicate id
//   in a batch, properties as strings naming existing properties;
// - an enumeration value that is not one of its options fails the whole batch
//   with 400 VALIDATION_ERROR, as HubSpot does (not a contract violation:
//   bad data, not a bad request);
// - memberships: a JSON array of record ids, only for MANUAL/SNAPSHOT lists;
//   ids without a contact are reported in recordIdsMissing and not added
//   (the profile-must-exist rule);
// - list search pages with count/offset, hs_list_size only when asked for.
// Contract violations throw Refusal, so `vendor.refusals()` lists them.
// Lists report hs_list_size = floor(members × matchRatio).
import {
  Refusal,
  bearer,
  startFakeVendor,
  type FakePlatform,
  type Throttle,
  type VendorRequest,
} from './fake-vendor.js';

export interface HubSpotFakeProperty {
  name: string;
  label: string;
  type: 'string' | 'number' | 'bool' | 'date' | 'datetime' | 'enumeration' | 'phone_number';
  fieldType: string;
  options?: { label: string; value: string; hidden?: boolean }[];
  calculated?: boolean;
  readOnly?: boolean;
}

export const HUBSPOT_FAKE_PROPERTIES: HubSpotFakeProperty[] = [
  { name: 'email', label: 'Email', type: 'string', fieldType: 'text' },
  { name: 'firstname', label: 'First Name', type: 'string', fieldType: 'text' },
  { name: 'lastname', label: 'Last Name', type: 'string', fieldType: 'text' },
  { name: 'phone', label: 'Phone Number', type: 'phone_number', fieldType: 'phonenumber' },
  { name: 'lifetime_value', label: 'Lifetime value', type: 'number', fieldType: 'number' },
  { name: 'vip', label: 'VIP', type: 'enumeration', fieldType: 'booleancheckbox', options: [{ label: 'Yes', value: 'true' }, { label: 'No', value: 'false' }] },
  { name: 'signup_date', label: 'Signup date', type: 'date', fieldType: 'date' },
  { name: 'last_seen_at', label: 'Last seen', type: 'datetime', fieldType: 'date' },
  {
    name: 'plan',
    label: 'Plan',
    type: 'enumeration',
    fieldType: 'select',
    options: [
      { label: 'Free', value: 'free' },
      { label: 'Pro', value: 'pro' },
      { label: 'Legacy', value: 'legacy', hidden: true },
    ],
  },
  { name: 'hs_object_id', label: 'Record ID', type: 'number', fieldType: 'number', readOnly: true },
  { name: 'num_notes', label: 'Number of notes', type: 'number', fieldType: 'number', calculated: true },
];

export interface HubSpotFakeOptions {
  token?: string;
  matchRatio?: number;
  throttle?: Throttle;
  properties?: HubSpotFakeProperty[];
}

interface FakeList {
  listId: string;
  name: string;
  processingType: 'MANUAL' | 'SNAPSHOT' | 'DYNAMIC';
  objectTypeId: string;
  members: Set<string>;
  createdAt: string;
}

export interface HubSpotFake extends FakePlatform {
  /** Contacts by record id: their properties (email included). */
  profiles(): Map<string, Record<string, string>>;
  /** Upserts of these e-mails fail with a per-input error (207). */
  rejectEmails: Map<string, { category: string; message: string }>;
  /** Contacts deleted right after a batch read returned them (a concurrent deletion). */
  vanishOnRead: Set<string>;
  /** Adds a list directly (e.g. a DYNAMIC one, or many to exercise paging). */
  seedList(name: string, processingType?: FakeList['processingType'], objectTypeId?: string): string;
  /** Adds a contact directly; returns its record id. */
  seedContact(email: string, properties?: Record<string, string>): string;
}

/** HubSpot's 429 for the ten-second window, with its rate-limit headers. */
export function hubspotThrottle(limit: number, windowMs: number): Throttle {
  return {
    limit,
    windowMs,
    body: {
      status: 'error',
      message: 'You have reached your ten_secondly_rolling limit.',
      errorType: 'RATE_LIMIT',
      correlationId: '00000000-0000-4000-8000-000000000000',
      policyName: 'TEN_SECONDLY_ROLLING',
    },
    headers: { 'x-hubspot-ratelimit-max': String(limit), 'x-hubspot-ratelimit-remaining': '0', 'x-hubspot-ratelimit-interval-milliseconds': String(windowMs) },
  };
}

const BATCH_LIMIT = 100;
const SEARCH_MAX_COUNT = 500;
const EMAIL = /^[^\s@A-Z]+@[^\s@A-Z]+\.[a-z0-9-]{2,}$/;

const error = (category: string, message: string, extra: Record<string, unknown> = {}) => ({
  status: 'error',
  message,
  correlationId: '00000000-0000-4000-8000-000000000001',
  category,
  ...extra,
});

const refuse = (why: string, status = 400, category = 'VALIDATION_ERROR') => new Refusal(status, why, error(category, why));

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export async function startHubSpotFake(opts: HubSpotFakeOptions = {}): Promise<HubSpotFake> {
  const token = opts.token ?? 'pat-na1-11111111-2222-4333-8444-555555555555';
  const properties = new Map((opts.properties ?? HUBSPOT_FAKE_PROPERTIES).map((p) => [p.name, p]));
  let matchRatio = opts.matchRatio ?? 0.8;
  const contacts = new Map<string, Record<string, string>>();
  const byEmail = new Map<string, string>();
  const lists = new Map<string, FakeList>();
  const rejectEmails = new Map<string, { category: string; message: string }>();
  const vanishOnRead = new Set<string>();
  let nextContact = 1001;
  let nextList = 1;

  const seedContact = (email: string, props: Record<string, string> = {}): string => {
    const id = String(nextContact++);
    contacts.set(id, { ...props, email });
    byEmail.set(email, id);
    return id;
  };
  const seedList = (name: string, processingType: FakeList['processingType'] = 'MANUAL', objectTypeId = '0-1'): string => {
    const listId = String(nextList++);
    lists.set(listId, { listId, name, processingType, objectTypeId, members: new Set(), createdAt: new Date().toISOString() });
    return listId;
  };
  const listSize = (l: FakeList) => Math.floor(l.members.size * matchRatio);
  const listJson = (l: FakeList, additional: string[]) => ({
    listId: l.listId,
    listVersion: 1,
    name: l.name,
    objectTypeId: l.objectTypeId,
    processingStatus: 'COMPLETE',
    processingType: l.processingType,
    createdAt: l.createdAt,
    updatedAt: l.createdAt,
    additionalProperties: Object.fromEntries(additional.filter((p) => p === 'hs_list_size').map((p) => [p, String(listSize(l))])),
  });

  const jsonBody = (req: VendorRequest): unknown => {
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) throw refuse(`expected Content-Type application/json, but got ${req.headers['content-type'] ?? 'none'}`);
    if (req.json === undefined) throw refuse('expected a JSON body');
    return req.json;
  };

  /** The inputs of a batch call, checked against the limits. */
  const batchInputs = (req: VendorRequest, withProperties: boolean): { id: string; properties: Record<string, string> }[] => {
    const body = jsonBody(req);
    if (!isObject(body) || !Array.isArray(body.inputs)) throw refuse('expected {"inputs": [...]}');
    if (body.inputs.length === 0 || body.inputs.length > BATCH_LIMIT) throw refuse(`expected 1 to ${BATCH_LIMIT} inputs, but got ${body.inputs.length}`);
    if (!withProperties && body.idProperty !== 'email') throw refuse(`expected idProperty "email", but got ${JSON.stringify(body.idProperty)}`);
    const seen = new Set<string>();
    return body.inputs.map((input: unknown, i: number) => {
      if (!isObject(input) || typeof input.id !== 'string') throw refuse(`input ${i}: expected {"id": string}`);
      if (withProperties && input.idProperty !== 'email') throw refuse(`input ${i}: expected idProperty "email", but got ${JSON.stringify(input.idProperty)}`);
      if (!EMAIL.test(input.id)) throw refuse(`input ${i}: expected a trimmed lower-case e-mail as id`);
      if (seen.has(input.id)) throw refuse('Duplicate IDs found in batch input');
      seen.add(input.id);
      const props: Record<string, string> = {};
      if (withProperties) {
        if (!isObject(input.properties)) throw refuse(`input ${i}: expected "properties" to be an object`);
        for (const [name, value] of Object.entries(input.properties)) {
          if (typeof value !== 'string') throw refuse(`input ${i}: expected property "${name}" as a string, but got ${typeof value}`);
          const p = properties.get(name);
          if (!p) throw refuse(`Property values were not valid: [{"isValid":false,"message":"Property \\"${name}\\" does not exist","error":"PROPERTY_DOESNT_EXIST","name":"${name}"}]`);
          if (p.readOnly || p.calculated) throw refuse(`Property values were not valid: [{"isValid":false,"message":"\\"${name}\\" is a read only property","error":"READ_ONLY_VALUE","name":"${name}"}]`);
          props[name] = value;
        }
        if (props.email !== undefined && props.email !== input.id) throw refuse(`input ${i}: properties.email differs from the id`);
      }
      return { id: input.id, properties: props };
    });
  };

  const membershipIds = (req: VendorRequest): string[] => {
    const body = jsonBody(req);
    if (!Array.isArray(body) || body.some((id) => typeof id !== 'string' || !/^\d+$/.test(id))) throw refuse('expected a JSON array of record ids (strings of digits)');
    return body as string[];
  };

  const listFor = (req: VendorRequest): FakeList => {
    const l = lists.get(req.params.listId!);
    if (!l) throw new Refusal(404, `no list ${req.params.listId}`, error('OBJECT_NOT_FOUND', `List with id ${req.params.listId} does not exist`));
    return l;
  };

  const vendor = await startFakeVendor({
    name: 'HubSpot',
    auth: bearer(token),
    authFailure: (why) => ({
      status: 401,
      body: error('INVALID_AUTHENTICATION', `Authentication credentials not found. This API supports OAuth 2.0 authentication (${why}).`),
    }),
    throttle: opts.throttle,
    notFound: () => error('OBJECT_NOT_FOUND', 'Not Found'),
    routes: [
      {
        method: 'GET',
        path: '/crm/v3/objects/contacts',
        handler: (req) => {
          const limit = Number(req.query.get('limit') ?? '10');
          if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw refuse('expected limit from 1 to 100');
          const results = [...contacts].slice(0, limit).map(([id, props]) => ({ id, properties: { email: props.email }, archived: false }));
          return { body: { results } };
        },
      },
      {
        method: 'GET',
        path: '/crm/v3/properties/contacts',
        handler: () => ({
          body: {
            results: [...properties.values()].map((p) => ({
              name: p.name,
              label: p.label,
              type: p.type,
              fieldType: p.fieldType,
              groupName: 'contactinformation',
              options: (p.options ?? []).map((o, i) => ({ ...o, displayOrder: i, hidden: o.hidden ?? false })),
              calculated: p.calculated ?? false,
              hasUniqueValue: p.name === 'email',
              modificationMetadata: { archivable: true, readOnlyDefinition: true, readOnlyValue: p.readOnly ?? false },
            })),
          },
        }),
      },
      {
        method: 'POST',
        path: '/crm/v3/objects/contacts/batch/upsert',
        handler: (req) => {
          const inputs = batchInputs(req, true);
          // HubSpot validates values before writing anything: one bad option fails the batch.
          for (const input of inputs) {
            for (const [name, value] of Object.entries(input.properties)) {
              const p = properties.get(name)!;
              if (p.type === 'enumeration' && value !== '' && !(p.options ?? []).some((o) => o.value === value)) {
                return {
                  status: 400,
                  body: error(
                    'VALIDATION_ERROR',
                    `Property values were not valid: [{"isValid":false,"message":"${value} was not one of the allowed options","error":"INVALID_OPTION","name":"${name}"}]`,
                  ),
                };
              }
            }
          }
          const results: unknown[] = [];
          const errors: unknown[] = [];
          for (const input of inputs) {
            const refused = rejectEmails.get(input.id);
            if (refused) {
              errors.push({ status: 'error', category: refused.category, message: refused.message, context: { ids: [input.id] } });
              continue;
            }
            let id = byEmail.get(input.id);
            const created = id === undefined;
            if (id === undefined) id = seedContact(input.id);
            const props = contacts.get(id)!;
            Object.assign(props, input.properties);
            results.push({ id, new: created, properties: { ...props, hs_object_id: id }, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), archived: false });
          }
          const now = new Date().toISOString();
          return {
            status: errors.length ? 207 : 200,
            body: { status: 'COMPLETE', results, ...(errors.length ? { errors, numErrors: errors.length } : {}), startedAt: now, completedAt: now },
          };
        },
      },
      {
        method: 'POST',
        path: '/crm/v3/objects/contacts/batch/read',
        handler: (req) => {
          const inputs = batchInputs(req, false);
          const results: unknown[] = [];
          const missing: string[] = [];
          for (const { id: email } of inputs) {
            const id = byEmail.get(email);
            if (id === undefined) {
              missing.push(email);
              continue;
            }
            results.push({ id, properties: { email, hs_object_id: id }, archived: false });
            if (vanishOnRead.has(email)) {
              contacts.delete(id);
              byEmail.delete(email);
              for (const l of lists.values()) l.members.delete(id);
            }
          }
          const now = new Date().toISOString();
          const errors = missing.length
            ? [{ status: 'error', category: 'OBJECT_NOT_FOUND', message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.', context: { ids: missing } }]
            : [];
          return {
            status: errors.length ? 207 : 200,
            body: { status: 'COMPLETE', results, ...(errors.length ? { errors, numErrors: errors.length } : {}), startedAt: now, completedAt: now },
          };
        },
      },
      {
        method: 'POST',
        path: '/crm/v3/lists',
        handler: (req) => {
          const body = jsonBody(req);
          if (!isObject(body) || typeof body.name !== 'string' || body.name.trim() === '') throw refuse('expected {"name": non-empty string, …}');
          if (body.objectTypeId !== '0-1') throw refuse(`expected objectTypeId "0-1" (contacts), but got ${JSON.stringify(body.objectTypeId)}`);
          if (!['MANUAL', 'SNAPSHOT', 'DYNAMIC'].includes(String(body.processingType))) throw refuse(`expected processingType MANUAL, SNAPSHOT or DYNAMIC, but got ${JSON.stringify(body.processingType)}`);
          if (body.processingType !== 'MANUAL' && body.filterBranch === undefined) throw refuse(`a ${String(body.processingType)} list needs a filterBranch`);
          const name = body.name;
          if ([...lists.values()].some((l) => l.name.toLowerCase() === name.toLowerCase())) {
            return { status: 400, body: error('VALIDATION_ERROR', `A list named ${name} already exists.`, { subCategory: 'ILS.DUPLICATE_LIST_NAMES' }) };
          }
          const l = lists.get(seedList(name, body.processingType as FakeList['processingType']))!;
          return { body: { list: listJson(l, []) } };
        },
      },
      {
        method: 'POST',
        path: '/crm/v3/lists/search',
        handler: (req) => {
          const body = jsonBody(req);
          if (!isObject(body) || typeof body.query !== 'string') throw refuse('expected {"query": string, …}');
          const count = body.count ?? 20;
          const offset = body.offset ?? 0;
          if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > SEARCH_MAX_COUNT) throw refuse(`expected count from 1 to ${SEARCH_MAX_COUNT}`);
          if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw refuse('expected a non-negative integer offset');
          const additional = Array.isArray(body.additionalProperties) ? body.additionalProperties.map(String) : [];
          const types = Array.isArray(body.processingTypes) ? body.processingTypes.map(String) : null;
          const ids = Array.isArray(body.listIds) ? body.listIds.map(String) : null;
          const query = body.query.toLowerCase();
          const matching = [...lists.values()].filter(
            (l) => (types === null || types.includes(l.processingType)) && (ids === null || ids.includes(l.listId)) && l.name.toLowerCase().includes(query),
          );
          const page = matching.slice(offset, offset + count);
          return { body: { lists: page.map((l) => listJson(l, additional)), hasMore: offset + count < matching.length, offset: offset + page.length, total: matching.length } };
        },
      },
      {
        method: 'PUT',
        path: '/crm/v3/lists/:listId/memberships/add',
        handler: (req) => {
          const l = listFor(req);
          const ids = membershipIds(req);
          if (l.processingType === 'DYNAMIC') {
            return { status: 400, body: error('VALIDATION_ERROR', `List ${l.listId} has processingType DYNAMIC; memberships can only be changed on MANUAL or SNAPSHOT lists.`) };
          }
          const added: string[] = [];
          const missing: string[] = [];
          for (const id of ids) {
            if (!contacts.has(id)) missing.push(id);
            else if (!l.members.has(id)) {
              l.members.add(id);
              added.push(id);
            }
          }
          return { body: { recordsIdsAdded: added, recordIdsRemoved: [], recordIdsMissing: missing } };
        },
      },
      {
        method: 'PUT',
        path: '/crm/v3/lists/:listId/memberships/remove',
        handler: (req) => {
          const l = listFor(req);
          const ids = membershipIds(req);
          if (l.processingType === 'DYNAMIC') {
            return { status: 400, body: error('VALIDATION_ERROR', `List ${l.listId} has processingType DYNAMIC; memberships can only be changed on MANUAL or SNAPSHOT lists.`) };
          }
          const removed: string[] = [];
          const missing: string[] = [];
          for (const id of ids) {
            if (!contacts.has(id)) missing.push(id);
            else if (l.members.delete(id)) removed.push(id);
          }
          return { body: { recordsIdsAdded: [], recordIdsRemoved: removed, recordIdsMissing: missing } };
        },
      },
    ],
  });

  return {
    vendor,
    type: 'hubspot',
    config: { baseUrl: vendor.url, accessToken: token },
    audiences: () => [...lists.values()].map((l) => ({ id: l.listId, name: l.name, type: l.processingType })),
    members: (listId) => {
      const l = lists.get(listId);
      if (!l) return [];
      return [...l.members].map((id) => ({ EMAIL: contacts.get(id)!.email }));
    },
    profiles: () => new Map([...contacts].map(([id, props]) => [id, { ...props }])),
    setMatchRatio(ratio) {
      matchRatio = ratio;
    },
    rejectEmails,
    vanishOnRead,
    seedList,
    seedContact,
    close: () => vendor.close(),
  };
}
