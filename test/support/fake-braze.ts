// A Braze REST endpoint on loopback that enforces the contract the Braze
// connector speaks (src/connectors/braze/index.ts, destinations.md §10):
//
// - Partner cohort import, POST /partners/:partner/cohorts and
//   …/cohorts/users: partner_api_key and client_secret in the body (401 with
//   Braze's messages otherwise; an unknown partner gets Braze's "Partner not
//   enabled for client with client secret: <secret>", so a connector that
//   quotes error bodies leaks it), the documented field types, at most 1,000
//   ids per request counted across user_ids, device_ids and aliases. Ids that
//   match no user are ignored silently, as Braze does: membership needs a
//   user to exist (ensureProfiles), and `ignored()` shows what was dropped.
//   Stricter than documented: changes to a cohort that was never named are
//   refused (the connector always names a cohort first).
// - POST /users/track: Bearer REST key, at most 75 objects per request, one
//   identity per object, e-mails and e-mail aliases trimmed and lower-case,
//   external_id under 988 bytes; alias-only users are created only with
//   `_update_existing_only: false`. Objects listed in `rejectProfiles` get a
//   non-fatal error {type, input_array, index} and are not applied. Empty
//   requests get Braze's 400 "Valid data must be provided…" (what the
//   connector's check relies on; not a contract violation).
// - GET /custom_attributes: Bearer REST key, 50 a page, alphabetical, the next
//   page in a Link header with a `cursor`.
//
// Braze reports no size or match rate; `setMatchRatio` is kept for the
// FakePlatform interface and changes nothing.
import { Refusal, startFakeVendor, type FakePlatform, type FakeVendor, type Throttle, type VendorRequest } from './fake-vendor.js';

export interface BrazeFakeOptions {
  partnerName?: string;
  partnerApiKey?: string;
  dataImportKey?: string;
  restApiKey?: string;
  /** Custom attributes served by GET /custom_attributes. */
  customAttributes?: { name: string; data_type: string; description?: string; status?: string }[];
  /** Objects per /users/track request (default 75). */
  maxTrackObjects?: number;
  throttle?: Throttle;
}

export interface BrazeProfile {
  external_id?: string;
  user_alias?: { alias_name: string; alias_label: string };
  [attribute: string]: unknown;
}

export interface BrazeFake extends FakePlatform {
  /** Users by Braze identity ("external_id:<id>" or "alias:<label>:<name>"), with every attribute received. */
  profiles(): Map<string, BrazeProfile>;
  /** Cohort ids that matched no user and were dropped, per request. */
  ignored(): { cohortId: string; id: string }[];
  /** external_ids or alias names whose /users/track objects get a non-fatal error (the value is Braze's `type`). */
  rejectProfiles: Map<string, string>;
  partnerName: string;
}

const ID_LIMIT = 1_000;
const PAGE = 50;
const EMAIL = /^[^\s@A-Z]+@[^\s@A-Z]+\.[a-z0-9-]{2,}$/;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const bad = (why: string) => new Refusal(400, why, { message: why });

export async function startBrazeFake(opts: BrazeFakeOptions = {}): Promise<BrazeFake> {
  const partnerName = opts.partnerName ?? 'roster';
  const partnerApiKey = opts.partnerApiKey ?? 'brz-partner-4f1c9a7e-2b8d';
  const dataImportKey = opts.dataImportKey ?? 'brz-import-77c3e0d1-9a42';
  const restApiKey = opts.restApiKey ?? 'brz-rest-0b5e6f3a-c218';
  const maxTrack = opts.maxTrackObjects ?? 75;
  const customAttributes = [...(opts.customAttributes ?? [
    { name: 'loyalty_tier', data_type: 'String', description: 'Loyalty tier', status: 'Active' },
    { name: 'lifetime_value', data_type: 'Number', status: 'Active' },
  ])].sort((a, b) => a.name.localeCompare(b.name));

  const cohorts = new Map<string, { id: string; name: string; members: Set<string> }>();
  const profiles = new Map<string, BrazeProfile>();
  const ignored: { cohortId: string; id: string }[] = [];
  const rejectProfiles = new Map<string, string>();

  const aliasKey = (a: { alias_name: string; alias_label: string }) => `alias:${a.alias_label}:${a.alias_name}`;

  const credentials = (req: VendorRequest): string | undefined => {
    if (req.path.startsWith('/partners/')) {
      const body = req.json;
      // A body that is not an object is the route's to refuse (400).
      if (!isObject(body)) return undefined;
      if (body.partner_api_key !== partnerApiKey) return 'Invalid Partner API key';
      if (body.client_secret !== dataImportKey) return 'Invalid client secret';
      return undefined;
    }
    const h = req.headers.authorization;
    if (h !== `Bearer ${restApiKey}`) return h ? 'Invalid API key' : 'Missing API key: expected Authorization: Bearer <REST API key>';
    return undefined;
  };

  const partnerBody = (req: VendorRequest): Record<string, unknown> => {
    if (req.params.partner !== partnerName) {
      const body = isObject(req.json) ? req.json : {};
      // Braze's documented message, secret included: a connector must not repeat it.
      throw new Refusal(401, `partner "${req.params.partner}" is not enabled`, { message: `Partner not enabled for client with client secret: ${String(body.client_secret)}` });
    }
    if (!/^application\/json\b/.test(String(req.headers['content-type'] ?? ''))) throw bad('expected Content-Type: application/json');
    if (!isObject(req.json)) throw bad('expected a JSON object body');
    const body = req.json;
    if (typeof body.cohort_id !== 'string' || body.cohort_id.trim() === '') throw bad('cohort_id must be a valid string');
    return body;
  };

  const nameCohort = (req: VendorRequest) => {
    const body = partnerBody(req);
    const allowed = new Set(['partner_api_key', 'client_secret', 'cohort_id', 'name', 'created_at']);
    const extra = Object.keys(body).filter((k) => !allowed.has(k));
    if (extra.length) throw bad(`unexpected fields ${extra.join(', ')}`);
    if (typeof body.name !== 'string' || body.name.trim() === '') throw bad('name must be a non-empty string');
    if (typeof body.created_at !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(body.created_at) || Number.isNaN(Date.parse(body.created_at))) {
      throw bad('created_at must be a valid time as an ISO-8601 string');
    }
    const id = body.cohort_id as string;
    const existing = cohorts.get(id);
    // The same call renames a cohort Braze already knows.
    if (existing) existing.name = body.name;
    else cohorts.set(id, { id, name: body.name, members: new Set() });
    return { body: { message: 'success' } };
  };

  const changeCohort = (req: VendorRequest) => {
    const body = partnerBody(req);
    const shape = 'cohort_changes must be an array of objects each with key user_ids and/or device_ids mapping to an array of strings, or an aliases object';
    if (!Array.isArray(body.cohort_changes)) throw bad(shape);
    let total = 0;
    const changes: { ids: string[]; aliases: { alias_name: string; alias_label: string }[]; remove: boolean }[] = [];
    for (const c of body.cohort_changes) {
      if (!isObject(c)) throw bad(shape);
      const extra = Object.keys(c).filter((k) => !['user_ids', 'device_ids', 'aliases', 'should_remove'].includes(k));
      if (extra.length) throw bad(`${shape} (unexpected ${extra.join(', ')})`);
      const strings = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((s) => typeof s === 'string' && s !== ''));
      if (!strings(c.user_ids) || !strings(c.device_ids)) throw bad(shape);
      if (c.aliases !== undefined && !(Array.isArray(c.aliases) && c.aliases.every((a) => isObject(a) && typeof a.alias_name === 'string' && typeof a.alias_label === 'string'))) throw bad(shape);
      if (c.user_ids === undefined && c.device_ids === undefined && c.aliases === undefined) throw bad(shape);
      if (c.should_remove !== undefined && typeof c.should_remove !== 'boolean') throw bad('should_remove must be a boolean');
      const ids = (c.user_ids as string[] | undefined) ?? [];
      const devices = (c.device_ids as string[] | undefined) ?? [];
      const aliases = (c.aliases as { alias_name: string; alias_label: string }[] | undefined) ?? [];
      if (devices.length) throw bad('device_ids are not used by Roster; expected user_ids or aliases');
      total += ids.length + devices.length + aliases.length;
      changes.push({ ids, aliases, remove: c.should_remove === true });
    }
    if (total > ID_LIMIT) throw bad(`Only 1,000 user_ids, device_ids, and aliases are allowed per request (got ${total})`);
    const id = body.cohort_id as string;
    const cohort = cohorts.get(id);
    if (!cohort) {
      if (total === 0) return { body: { message: 'success' } };
      throw bad(`cohort_id ${id} was never named (POST /partners/${partnerName}/cohorts first)`);
    }
    for (const change of changes) {
      const keys = [...change.ids.map((x) => ({ shown: x, key: `external_id:${x}` })), ...change.aliases.map((a) => ({ shown: a.alias_name, key: aliasKey(a) }))];
      for (const { shown, key } of keys) {
        if (!profiles.has(key)) {
          ignored.push({ cohortId: id, id: shown });
          continue;
        }
        if (change.remove) cohort.members.delete(key);
        else cohort.members.add(key);
      }
    }
    return { body: { message: 'success' } };
  };

  const track = (req: VendorRequest) => {
    if (!/^application\/json\b/.test(String(req.headers['content-type'] ?? ''))) throw bad('expected Content-Type: application/json');
    if (!isObject(req.json)) throw bad('expected a JSON object body');
    const { attributes = [], events = [], purchases = [] } = req.json as { attributes?: unknown; events?: unknown; purchases?: unknown };
    if (!Array.isArray(attributes) || !Array.isArray(events) || !Array.isArray(purchases)) throw bad("'attributes', 'events' and 'purchases' must be arrays");
    const count = attributes.length + events.length + purchases.length;
    if (count === 0) return { status: 400, body: { message: "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields." } };
    if (count > maxTrack) throw bad(`Only ${maxTrack} objects combined (attributes, events, purchases) are allowed per request (got ${count})`);
    if (events.length || purchases.length) throw bad('Roster sends attributes only');
    const errors: { type: string; input_array: string; index: number }[] = [];
    let processed = 0;
    attributes.forEach((raw: unknown, index: number) => {
      if (!isObject(raw)) throw bad(`attributes[${index}] must be an object`);
      const ids = ['external_id', 'user_alias', 'braze_id'].filter((k) => raw[k] !== undefined);
      if (ids.length === 0 && raw.email === undefined && raw.phone === undefined) {
        errors.push({ type: "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required", input_array: 'attributes', index });
        return;
      }
      if (ids.length > 1) throw bad(`attributes[${index}] names ${ids.join(' and ')}; expected one identity`);
      if (raw.email !== undefined && (typeof raw.email !== 'string' || !EMAIL.test(raw.email))) throw bad(`attributes[${index}].email is not a trimmed, lower-case e-mail address`);
      let key: string;
      let rejectBy: string;
      if (raw.external_id !== undefined) {
        if (typeof raw.external_id !== 'string' || raw.external_id === '') throw bad(`attributes[${index}].external_id must be a non-empty string`);
        if (Buffer.byteLength(raw.external_id, 'utf8') >= 988) {
          errors.push({ type: "'external_id' must be fewer than 988 bytes", input_array: 'attributes', index });
          return;
        }
        key = `external_id:${raw.external_id}`;
        rejectBy = raw.external_id;
      } else if (raw.user_alias !== undefined) {
        const a = raw.user_alias;
        if (!isObject(a) || typeof a.alias_name !== 'string' || typeof a.alias_label !== 'string' || a.alias_name === '' || a.alias_label === '') {
          throw bad(`attributes[${index}].user_alias must be {alias_name, alias_label} strings`);
        }
        if (a.alias_label === 'email' && !EMAIL.test(a.alias_name)) throw bad(`attributes[${index}].user_alias.alias_name is not a trimmed, lower-case e-mail address`);
        key = aliasKey(a as { alias_name: string; alias_label: string });
        rejectBy = a.alias_name;
        // Alias objects update existing users only, unless told otherwise.
        if (!profiles.has(key) && raw._update_existing_only !== false) return;
      } else {
        throw bad(`attributes[${index}]: Roster identifies users by external_id or user_alias`);
      }
      const reason = rejectProfiles.get(rejectBy);
      if (reason !== undefined) {
        errors.push({ type: reason, input_array: 'attributes', index });
        return;
      }
      const { _update_existing_only: _ignored, ...rest } = raw;
      profiles.set(key, { ...(profiles.get(key) ?? {}), ...(rest as BrazeProfile) });
      processed++;
    });
    return { status: 201, body: { message: 'success', attributes_processed: processed, ...(errors.length ? { errors } : {}) } };
  };

  let vendor: FakeVendor;
  const listAttributes = (req: VendorRequest) => {
    const cursor = req.query.get('cursor');
    let skip = 0;
    if (cursor !== null) {
      const m = /^skip:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
      if (!m) throw bad('invalid cursor');
      skip = Number(m[1]);
    }
    const page = customAttributes.slice(skip, skip + PAGE).map((a) => ({ array_length: null, description: a.description ?? '', status: a.status ?? 'Active', tag_names: [], ...a }));
    const headers: Record<string, string> = {};
    if (skip + PAGE < customAttributes.length) {
      headers.link = `<${vendor.url}/custom_attributes?cursor=${Buffer.from(`skip:${skip + PAGE}`).toString('base64')}>; rel="next"`;
    }
    return { body: { message: 'success', attributes: page }, headers };
  };

  vendor = await startFakeVendor({
    name: 'Braze',
    auth: credentials,
    authFailure: (why) => ({ status: 401, body: { message: why } }),
    ...(opts.throttle ? { throttle: opts.throttle } : {}),
    notFound: () => ({ message: 'Not Found' }),
    routes: [
      { method: 'POST', path: '/partners/:partner/cohorts', handler: nameCohort },
      { method: 'POST', path: '/partners/:partner/cohorts/users', handler: changeCohort },
      { method: 'POST', path: '/users/track', handler: track },
      { method: 'GET', path: '/custom_attributes', handler: listAttributes },
    ],
  });

  const identifiersOf = (key: string): Partial<Record<string, string>> => {
    const p = profiles.get(key);
    const out: Partial<Record<string, string>> = {};
    if (p?.external_id !== undefined) out.EXTERNAL_ID = p.external_id;
    if (typeof p?.email === 'string') out.EMAIL = p.email;
    return out;
  };

  return {
    vendor,
    type: 'braze',
    partnerName,
    config: { baseUrl: vendor.url, partnerName, partnerApiKey, dataImportKey, restApiKey },
    audiences: () => [...cohorts.values()].map((c) => ({ id: c.id, name: c.name, type: null })),
    members: (audienceId) => [...(cohorts.get(audienceId)?.members ?? [])].map(identifiersOf),
    setMatchRatio: () => {},
    profiles: () => profiles,
    ignored: () => ignored,
    rejectProfiles,
    close: () => vendor.close(),
  };
}
