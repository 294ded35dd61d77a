// A Mailchimp Marketing API 3.0 on loopback (audiences, members, merge
// fields) that enforces the contract src/connectors/mailchimp/index.ts relies
// on (destinations.md §13):
// - HTTP Basic, any user name, the API key as password (401 "API Key Invalid");
// - at most 10 requests in flight (Mailchimp's simultaneous-connection
//   limit): the 11th is answered 429 and recorded as a refusal;
// - batch subscribe: {members:[…], update_existing} with 1 to 500 members,
//   each a trimmed lower-case e-mail (what Roster sends) once, a lower-case
//   status, merge_fields naming the audience's merge tags; refused members
//   come back in errors[] with HTTP 200;
// - members are addressed by subscriber_hash = MD5(lower-case e-mail): a
//   DELETE with anything else is refused;
// - paging with count/offset (count ≤ 1000);
// - merge fields belong to each audience: a member whose merge_fields name a
//   tag the audience lacks is a 400, a number field takes a number (or ""), a
//   date field a date; POST /lists/{id}/merge-fields creates one: a name, a
//   type Mailchimp knows, a tag of up to 10 upper-case letters, digits and
//   underscores that the audience does not have yet (a second creation of the
//   same tag is refused), choices for radio/dropdown a string array. New
//   audiences get FNAME, LNAME, ADDRESS, PHONE and BIRTHDAY only.
// Audiences report stats.member_count = floor(subscribed × matchRatio).
import { createHash } from 'node:crypto';
import { Refusal, startFakeVendor, type FakePlatform, type VendorRequest } from './fake-vendor.js';

export const MAILCHIMP_FAKE_MERGE_TYPES = ['text', 'number', 'address', 'phone', 'date', 'url', 'imageurl', 'radio', 'dropdown', 'birthday', 'zip'] as const;

export interface MailchimpFakeMergeField {
  tag: string;
  name: string;
  type: (typeof MAILCHIMP_FAKE_MERGE_TYPES)[number];
  choices?: string[];
  /** Other options as sent when the field was created (date_format, size…). */
  options?: Record<string, unknown>;
}

export const MAILCHIMP_FAKE_MERGE_FIELDS: MailchimpFakeMergeField[] = [
  { tag: 'FNAME', name: 'First Name', type: 'text' },
  { tag: 'LNAME', name: 'Last Name', type: 'text' },
  { tag: 'ADDRESS', name: 'Address', type: 'address' },
  { tag: 'PHONE', name: 'Phone Number', type: 'phone' },
  { tag: 'BIRTHDAY', name: 'Birthday', type: 'birthday' },
  { tag: 'SCORE', name: 'Score', type: 'number' },
  { tag: 'SIGNUP', name: 'Signup date', type: 'date' },
  { tag: 'PLAN', name: 'Plan', type: 'dropdown', choices: ['free', 'pro'] },
];

export interface MailchimpMember {
  status: 'subscribed' | 'unsubscribed' | 'cleaned' | 'pending' | 'transactional' | 'archived';
  merge_fields: Record<string, unknown>;
}

interface FakeAudience {
  id: string;
  name: string;
  contact: Record<string, unknown>;
  permission_reminder: string;
  campaign_defaults: Record<string, unknown>;
  email_type_option: boolean;
  mergeFields: MailchimpFakeMergeField[];
  members: Map<string, MailchimpMember>;
  created: string;
}

export interface MailchimpFakeOptions {
  apiKey?: string;
  matchRatio?: number;
  /** Delay of every answer, so that concurrent requests overlap (default 0). */
  latencyMs?: number;
  /** Seed one audience to serve as the template of new ones (default true). */
  seedTemplate?: boolean;
}

export interface MailchimpFake extends FakePlatform {
  /** Every member of an audience by e-mail, archived ones included, with status and merge fields. */
  profiles(listId: string): Map<string, MailchimpMember>;
  /** Batch subscribes of these e-mails come back in errors[]. */
  rejectEmails: Map<string, { error: string; error_code: string }>;
  seedAudience(name: string, mergeFields?: MailchimpFakeMergeField[]): string;
  /** An audience's merge fields, in creation order. */
  mergeFields(listId: string): MailchimpFakeMergeField[];
  /** Adds a merge field to an audience, as another writer would. */
  addMergeField(listId: string, field: MailchimpFakeMergeField): void;
  /** Most requests that were in flight at once. */
  peakConcurrency(): number;
}

const STATUSES = new Set(['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional']);
const ACTIVE = new Set(['subscribed', 'pending', 'transactional']);
const EMAIL = /^[^\s@A-Z]+@[^\s@A-Z]+\.[a-z0-9-]{2,}$/;
const MAX_CONCURRENT = 10;
const MERGE_TAG = /^[A-Z0-9_]{1,10}$/;
const DATE_VALUE = /^\d{4}-\d{2}-\d{2}(?:[T ][0-9:.]+(?:Z|[+-][0-9:]+)?)?$/;

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

const problem = (status: number, title: string, detail: string) => ({
  type: 'https://mailchimp.com/developer/marketing/docs/errors/',
  title,
  status,
  detail,
  instance: '00000000-0000-4000-8000-000000000000',
});

const refuse = (why: string, status = 400, title = 'Invalid Resource') => new Refusal(status, why, problem(status, title, why));

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function page(req: VendorRequest): { count: number; offset: number } {
  const count = Number(req.query.get('count') ?? '10');
  const offset = Number(req.query.get('offset') ?? '0');
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw refuse('expected count from 1 to 1000');
  if (!Number.isInteger(offset) || offset < 0) throw refuse('expected a non-negative integer offset');
  return { count, offset };
}

export async function startMailchimpFake(opts: MailchimpFakeOptions = {}): Promise<MailchimpFake> {
  const apiKey = opts.apiKey ?? '0123456789abcdef0123456789abcdef-us21';
  let matchRatio = opts.matchRatio ?? 0.8;
  const audiences = new Map<string, FakeAudience>();
  const rejectEmails = new Map<string, { error: string; error_code: string }>();
  let inFlight = 0;
  let peak = 0;
  let next = 1;

  const seedAudience = (name: string, mergeFields = MAILCHIMP_FAKE_MERGE_FIELDS, settings: Partial<FakeAudience> = {}): string => {
    const id = md5(`list-${next++}`).slice(0, 10);
    audiences.set(id, {
      id,
      name,
      contact: { company: 'Roster Demo Ltd', address1: '1 Main St', city: 'Springfield', state: 'IL', zip: '62701', country: 'US' },
      permission_reminder: 'You signed up on our website.',
      campaign_defaults: { from_name: 'Roster Demo', from_email: 'news@example.com', subject: '', language: 'en' },
      email_type_option: false,
      ...settings,
      // Each audience has its own merge fields: creating one in an audience leaves the others as they are.
      mergeFields: mergeFields.map((f) => ({ ...f, ...(f.choices ? { choices: [...f.choices] } : {}) })),
      members: new Map(),
      created: new Date().toISOString(),
    });
    return id;
  };
  if (opts.seedTemplate !== false) seedAudience('Newsletter');

  const memberCount = (a: FakeAudience) => Math.floor([...a.members.values()].filter((m) => m.status === 'subscribed').length * matchRatio);
  const audienceJson = (a: FakeAudience) => ({
    id: a.id,
    web_id: 1000 + [...audiences.keys()].indexOf(a.id),
    name: a.name,
    contact: a.contact,
    permission_reminder: a.permission_reminder,
    campaign_defaults: a.campaign_defaults,
    email_type_option: a.email_type_option,
    date_created: a.created,
    stats: {
      member_count: memberCount(a),
      unsubscribe_count: [...a.members.values()].filter((m) => m.status === 'unsubscribed').length,
      cleaned_count: [...a.members.values()].filter((m) => m.status === 'cleaned').length,
    },
  });
  const audienceFor = (req: VendorRequest): FakeAudience => {
    const a = audiences.get(req.params.listId!);
    if (!a) throw new Refusal(404, `no audience ${req.params.listId}`, problem(404, 'Resource Not Found', 'The requested resource could not be found.'));
    return a;
  };
  const jsonBody = (req: VendorRequest): Record<string, unknown> => {
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) throw refuse('expected Content-Type application/json');
    if (!isObject(req.json)) throw refuse('expected a JSON object body');
    return req.json;
  };
  const memberJson = (listId: string, email: string, m: MailchimpMember) => ({
    id: md5(email),
    email_address: email,
    status: m.status,
    merge_fields: m.merge_fields,
    list_id: listId,
  });

  const batchSubscribe = (req: VendorRequest) => {
    const a = audienceFor(req);
    const body = jsonBody(req);
    if (!Array.isArray(body.members)) throw refuse('expected {"members": [...]}');
    if (body.members.length === 0 || body.members.length > 500) throw refuse(`expected 1 to 500 members, but got ${body.members.length}`);
    if (body.update_existing !== undefined && typeof body.update_existing !== 'boolean') throw refuse('expected update_existing to be a boolean');
    const tags = new Map(a.mergeFields.map((f) => [f.tag, f]));
    const seen = new Set<string>();
    const checked = body.members.map((raw: unknown, i: number) => {
      if (!isObject(raw) || typeof raw.email_address !== 'string') throw refuse(`members[${i}]: expected {"email_address": string, "status": string}`);
      const email = raw.email_address;
      if (!EMAIL.test(email)) throw refuse(`members[${i}]: expected a trimmed lower-case e-mail address`);
      if (seen.has(email)) throw refuse(`members[${i}]: the same e-mail twice in one batch`);
      seen.add(email);
      if (typeof raw.status !== 'string' || !STATUSES.has(raw.status)) throw refuse(`members[${i}]: expected status subscribed, unsubscribed, cleaned, pending or transactional (lower case), but got ${JSON.stringify(raw.status)}`);
      const merge = raw.merge_fields ?? {};
      if (!isObject(merge)) throw refuse(`members[${i}]: expected merge_fields to be an object`);
      for (const [tag, value] of Object.entries(merge)) {
        const f = tags.get(tag);
        if (!f) throw refuse(`members[${i}]: merge field ${tag} does not exist in this audience`);
        const ok =
          f.type === 'address' ? isObject(value) || value === ''
          : f.type === 'number' ? value === '' || (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
          : f.type === 'date' ? value === '' || (typeof value === 'string' && DATE_VALUE.test(value))
          : typeof value === 'string' || typeof value === 'number';
        if (!ok) throw refuse(`members[${i}]: merge field ${tag} (${f.type}) got ${JSON.stringify(value)}`);
      }
      return { email, status: raw.status as MailchimpMember['status'], merge };
    });
    const created: unknown[] = [];
    const updated: unknown[] = [];
    const errors: unknown[] = [];
    for (const m of checked) {
      const refused = rejectEmails.get(m.email);
      const existing = a.members.get(m.email);
      if (refused) errors.push({ email_address: m.email, ...refused });
      else if (existing && existing.status !== 'archived' && body.update_existing !== true) {
        errors.push({ email_address: m.email, error: `${m.email} is already a list member, do you want to update? please provide update_existing:true in the request body`, error_code: 'ERROR_CONTACT_EXISTS' });
      } else if (existing) {
        existing.status = m.status;
        Object.assign(existing.merge_fields, m.merge);
        updated.push(memberJson(a.id, m.email, existing));
      } else {
        const member: MailchimpMember = { status: m.status, merge_fields: { ...m.merge } };
        a.members.set(m.email, member);
        created.push(memberJson(a.id, m.email, member));
      }
    }
    return { body: { new_members: created, updated_members: updated, errors, total_created: created.length, total_updated: updated.length, error_count: errors.length } };
  };

  const mergeFieldJson = (a: FakeAudience, f: MailchimpFakeMergeField) => {
    const i = a.mergeFields.indexOf(f);
    return {
      merge_id: i + 1,
      tag: f.tag,
      name: f.name,
      type: f.type,
      required: false,
      public: true,
      display_order: i + 1,
      options: { ...(f.options ?? {}), ...(f.choices ? { choices: f.choices } : {}) },
      list_id: a.id,
    };
  };

  const addMergeField = (req: VendorRequest) => {
    const a = audienceFor(req);
    const body = jsonBody(req);
    if (typeof body.name !== 'string' || body.name.trim() === '') throw refuse('expected a non-empty "name"');
    const type = body.type;
    if (typeof type !== 'string' || !(MAILCHIMP_FAKE_MERGE_TYPES as readonly string[]).includes(type)) {
      throw refuse(`expected "type" to be one of ${MAILCHIMP_FAKE_MERGE_TYPES.join(', ')}, but got ${JSON.stringify(type)}`);
    }
    let tag = body.tag;
    if (tag === undefined) {
      for (let n = a.mergeFields.length + 1; ; n++) if (!a.mergeFields.some((f) => f.tag === `MMERGE${n}`)) { tag = `MMERGE${n}`; break; }
    }
    if (typeof tag !== 'string' || !MERGE_TAG.test(tag)) throw refuse(`expected "tag" of up to 10 upper-case letters, digits and underscores, but got ${JSON.stringify(tag)}`);
    if (a.mergeFields.some((f) => f.tag === tag)) throw refuse(`A Merge Field with the tag "${tag}" already exists for this list.`);
    const options = body.options ?? {};
    if (!isObject(options)) throw refuse('expected "options" to be an object');
    const { choices, ...rest } = options;
    if (choices !== undefined && (!Array.isArray(choices) || choices.some((c) => typeof c !== 'string'))) throw refuse('expected options.choices to be an array of strings');
    if (choices !== undefined && type !== 'radio' && type !== 'dropdown') throw refuse(`expected options.choices only for radio and dropdown fields, but the type is ${type}`);
    const field: MailchimpFakeMergeField = {
      tag,
      name: body.name,
      type: type as MailchimpFakeMergeField['type'],
      ...(choices !== undefined ? { choices: choices as string[] } : type === 'radio' || type === 'dropdown' ? { choices: [] } : {}),
      ...(Object.keys(rest).length ? { options: rest } : {}),
    };
    a.mergeFields.push(field);
    return { body: mergeFieldJson(a, field) };
  };

  type Handler = (req: VendorRequest) => { status?: number; body?: unknown } | Promise<{ status?: number; body?: unknown }>;
  /** Counts what is in flight; more than Mailchimp's 10 is a contract violation. */
  const limited =
    (handler: Handler): Handler =>
    async (req) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        if (inFlight > MAX_CONCURRENT) throw refuse(`You have exceeded the limit of ${MAX_CONCURRENT} simultaneous connections.`, 429, 'Too Many Requests');
        if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
        return await handler(req);
      } finally {
        inFlight--;
      }
    };

  const vendor = await startFakeVendor({
    name: 'Mailchimp',
    auth: (req) => {
      const h = req.headers.authorization;
      if (!h?.startsWith('Basic ')) return 'missing Basic Authorization';
      const decoded = Buffer.from(h.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return 'Basic credentials are not "<user>:<api key>"';
      if (decoded.slice(colon + 1) !== apiKey) return 'the password is not the expected API key';
      return undefined;
    },
    authFailure: () => ({ status: 401, body: problem(401, 'API Key Invalid', "Your API key may be invalid, or you've attempted to access the wrong datacenter.") }),
    notFound: () => problem(404, 'Resource Not Found', 'The requested resource could not be found.'),
    routes: [
      { method: 'GET', path: '/3.0/ping', handler: limited(() => ({ body: { health_status: "Everything's Chimpy!" } })) },
      {
        method: 'GET',
        path: '/3.0/lists',
        handler: limited((req) => {
          const { count, offset } = page(req);
          const all = [...audiences.values()];
          return { body: { lists: all.slice(offset, offset + count).map(audienceJson), total_items: all.length } };
        }),
      },
      {
        method: 'POST',
        path: '/3.0/lists',
        handler: limited((req) => {
          const body = jsonBody(req);
          if (typeof body.name !== 'string' || body.name.trim() === '') throw refuse('expected a non-empty "name"');
          const contact = body.contact;
          if (!isObject(contact) || ['company', 'address1', 'city', 'country'].some((k) => typeof contact[k] !== 'string')) {
            throw refuse('expected "contact" with company, address1, city and country');
          }
          if (typeof body.permission_reminder !== 'string') throw refuse('expected a "permission_reminder"');
          const defaults = body.campaign_defaults;
          if (!isObject(defaults) || ['from_name', 'from_email', 'subject', 'language'].some((k) => typeof defaults[k] !== 'string')) {
            throw refuse('expected "campaign_defaults" with from_name, from_email, subject and language');
          }
          if (typeof body.email_type_option !== 'boolean') throw refuse('expected "email_type_option" (boolean)');
          const id = seedAudience(body.name, MAILCHIMP_FAKE_MERGE_FIELDS.slice(0, 5), {
            contact,
            permission_reminder: body.permission_reminder,
            campaign_defaults: defaults,
            email_type_option: body.email_type_option,
          });
          return { body: audienceJson(audiences.get(id)!) };
        }),
      },
      { method: 'GET', path: '/3.0/lists/:listId', handler: limited((req) => ({ body: audienceJson(audienceFor(req)) })) },
      { method: 'POST', path: '/3.0/lists/:listId', handler: limited(batchSubscribe) },
      {
        method: 'DELETE',
        path: '/3.0/lists/:listId/members/:hash',
        handler: limited((req) => {
          const a = audienceFor(req);
          const hash = req.params.hash!;
          if (!/^[0-9a-f]{32}$/.test(hash)) throw refuse('expected the subscriber hash: the MD5 hex of the lower-cased e-mail', 400, 'Invalid Resource');
          const entry = [...a.members].find(([email]) => md5(email) === hash);
          if (!entry || entry[1].status === 'archived') return { status: 404, body: problem(404, 'Resource Not Found', 'The requested resource could not be found.') };
          entry[1].status = 'archived';
          return { status: 204 };
        }),
      },
      {
        method: 'GET',
        path: '/3.0/lists/:listId/merge-fields',
        handler: limited((req) => {
          const a = audienceFor(req);
          const { count, offset } = page(req);
          const fields = a.mergeFields.map((f) => mergeFieldJson(a, f));
          return { body: { merge_fields: fields.slice(offset, offset + count), list_id: a.id, total_items: fields.length } };
        }),
      },
      { method: 'POST', path: '/3.0/lists/:listId/merge-fields', handler: limited(addMergeField) },
    ],
  });

  return {
    vendor,
    type: 'mailchimp',
    config: { baseUrl: `${vendor.url}/3.0`, apiKey },
    audiences: () => [...audiences.values()].map((a) => ({ id: a.id, name: a.name, type: 'list' })),
    members: (listId) => {
      const a = audiences.get(listId);
      if (!a) return [];
      return [...a.members].filter(([, m]) => ACTIVE.has(m.status)).map(([email]) => ({ EMAIL: email }));
    },
    profiles: (listId) => new Map([...(audiences.get(listId)?.members ?? [])].map(([email, m]) => [email, { status: m.status, merge_fields: { ...m.merge_fields } }])),
    setMatchRatio(ratio) {
      matchRatio = ratio;
    },
    rejectEmails,
    seedAudience: (name, mergeFields) => seedAudience(name, mergeFields),
    mergeFields: (listId) => (audiences.get(listId)?.mergeFields ?? []).map((f) => ({ ...f })),
    addMergeField: (listId, field) => void audiences.get(listId)!.mergeFields.push({ ...field }),
    peakConcurrency: () => peak,
    close: () => vendor.close(),
  };
}
