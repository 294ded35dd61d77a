// Customer.io on loopback, both APIs on one server (their paths do not
// overlap), enforcing the contract src/connectors/customerio/index.ts relies
// on (destinations.md §14):
// - Track API (/api/…): HTTP Basic "<site id>:<track key>"; App API (/v1/…):
//   `Authorization: Bearer <app key>`; each refuses the other's credentials;
// - v2 batch: {batch:[…]} under 500 KB, entries under 32 KB, each a person
//   identify with exactly one identifier (id, or a trimmed lower-case e-mail);
//   entries Customer.io refuses (an attribute value over 1,000 bytes, more
//   than 300 attributes, or configured ids) come back as 207 errors[] with
//   batch_index and are not applied;
// - segment membership: {ids:[…]} of 1 to 1,000, id_type id | email | cio_id,
//   manual segments only; ids of people that do not exist are ignored, as
//   Customer.io does, so a member only joins once identified;
// - the App API's 10 requests per second, when `appRequestsPerSecond` is
//   set: beyond it, 429 with Retry-After and "over the 10-per-second limit".
// Violations throw Refusal. customer_count = floor(members × matchRatio).
import { Refusal, startFakeVendor, type FakePlatform, type Route, type VendorRequest } from './fake-vendor.js';

export interface CustomerIoPerson {
  id?: string;
  email?: string;
  attributes: Record<string, unknown>;
}

interface FakeSegment {
  id: number;
  name: string;
  description: string;
  type: 'manual' | 'dynamic';
  members: Set<number>;
}

export interface CustomerIoFakeOptions {
  siteId?: string;
  trackApiKey?: string;
  appApiKey?: string;
  matchRatio?: number;
  /** App API requests allowed per second (Customer.io: 10); unset, none counted. */
  appRequestsPerSecond?: number;
}

export interface CustomerIoFake extends FakePlatform {
  /** People by their id (or e-mail when they have no id): identifiers and attributes. */
  profiles(): Map<string, CustomerIoPerson>;
  /** Identify entries for these ids (or e-mails) are refused in errors[]. */
  rejectIdentifiers: Map<string, { reason: string; field: string; message: string }>;
  seedSegment(name: string, type?: 'manual' | 'dynamic'): string;
}

/** The App API's 429 body. */
export const CUSTOMERIO_APP_THROTTLED = { meta: { error: 'Your request is over the 10-per-second limit.' } };

const BATCH_BYTES = 500 * 1024;
const ENTRY_BYTES = 32 * 1024;
const SEGMENT_IDS = 1_000;
const EMAIL = /^[^\s@A-Z]+@[^\s@A-Z]+\.[a-z0-9-]{2,}$/;

const meta = (error: string) => ({ meta: { error } });
const refuse = (why: string, status = 400) => new Refusal(status, why, meta(why));

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export async function startCustomerIoFake(opts: CustomerIoFakeOptions = {}): Promise<CustomerIoFake> {
  const siteId = opts.siteId ?? 'site_3f9a2c';
  const trackApiKey = opts.trackApiKey ?? 'trk_4b8d1e6f0a2c4e8b';
  const appApiKey = opts.appApiKey ?? 'app_9c7e5a3b1d2f4a6c8e0b';
  let matchRatio = opts.matchRatio ?? 0.8;
  const people = new Map<number, CustomerIoPerson>();
  const segments = new Map<number, FakeSegment>();
  const rejectIdentifiers = new Map<string, { reason: string; field: string; message: string }>();
  let nextPerson = 1;
  let nextSegment = 1;

  const seedSegment = (name: string, type: 'manual' | 'dynamic' = 'manual'): string => {
    const id = nextSegment++;
    segments.set(id, { id, name, description: '', type, members: new Set() });
    return String(id);
  };
  const segmentJson = (s: FakeSegment) => ({ id: s.id, deduplicate_id: `${s.id}:1700000000`, name: s.name, description: s.description, state: 'finished', progress: null, type: s.type, tags: null });
  const find = (kind: 'id' | 'email' | 'cio_id', value: string): number | undefined => {
    for (const [cio, p] of people) {
      if ((kind === 'id' && p.id === value) || (kind === 'email' && p.email === value) || (kind === 'cio_id' && `cio_${cio}` === value)) return cio;
    }
    return undefined;
  };
  const segmentFor = (req: VendorRequest): FakeSegment => {
    const s = segments.get(Number(req.params.segmentId));
    if (!s) throw new Refusal(404, `no segment ${req.params.segmentId}`, meta('segment not found'));
    return s;
  };
  const jsonObject = (req: VendorRequest): Record<string, unknown> => {
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) throw refuse('expected Content-Type application/json');
    if (!isObject(req.json)) throw refuse('expected a JSON object body');
    return req.json;
  };

  /** What Customer.io refuses in one identify entry, or undefined. */
  const entryProblem = (attributes: Record<string, unknown>): { reason: string; field: string; message: string } | undefined => {
    if (Object.keys(attributes).length > 300) return { reason: 'invalid', field: 'attributes', message: 'cannot identify more than 300 attributes in one request' };
    for (const [name, value] of Object.entries(attributes)) {
      if (Buffer.byteLength(name) > 150) return { reason: 'invalid', field: 'attributes', message: 'attribute name cannot be longer than 150 bytes' };
      if (typeof value === 'string' && Buffer.byteLength(value) > 1000) return { reason: 'invalid', field: 'attributes', message: `value for attribute '${name}' cannot be longer than 1000 bytes` };
    }
    return undefined;
  };

  const identifyBatch = (req: VendorRequest) => {
    if (Buffer.byteLength(req.rawBody) >= BATCH_BYTES) throw refuse(`batch of ${Buffer.byteLength(req.rawBody)} bytes; requests must be smaller than 500kb`, 413);
    const body = jsonObject(req);
    if (!Array.isArray(body.batch) || body.batch.length === 0) throw refuse('expected {"batch": [ … ]} with at least one entry');
    const checked = body.batch.map((entry: unknown, i: number) => {
      if (Buffer.byteLength(JSON.stringify(entry)) >= ENTRY_BYTES) throw refuse(`batch[${i}] is 32kb or more`);
      if (!isObject(entry) || entry.type !== 'person' || entry.action !== 'identify') throw refuse(`batch[${i}]: expected {"type": "person", "action": "identify", …}`);
      const ids = entry.identifiers;
      if (!isObject(ids) || Object.keys(ids).length !== 1) throw refuse(`batch[${i}]: expected exactly one identifier`);
      const [kind, value] = Object.entries(ids)[0]!;
      if (!['id', 'email', 'cio_id'].includes(kind) || typeof value !== 'string' || value.trim() === '' || value !== value.trim()) {
        throw refuse(`batch[${i}]: expected identifiers {id | email | cio_id: non-empty trimmed string}`);
      }
      if (kind === 'email' && !EMAIL.test(value)) throw refuse(`batch[${i}]: expected a trimmed lower-case e-mail identifier`);
      const attributes = entry.attributes ?? {};
      if (!isObject(attributes)) throw refuse(`batch[${i}]: expected "attributes" to be an object`);
      if (attributes.email !== undefined && (typeof attributes.email !== 'string' || !EMAIL.test(attributes.email))) throw refuse(`batch[${i}]: expected attributes.email to be a trimmed lower-case e-mail`);
      return { kind: kind as 'id' | 'email' | 'cio_id', value, attributes };
    });
    const errors: unknown[] = [];
    checked.forEach((e, i) => {
      const problem = rejectIdentifiers.get(e.value) ?? entryProblem(e.attributes);
      if (problem) return void errors.push({ batch_index: i, ...problem });
      let cio = find(e.kind, e.value);
      if (cio === undefined) {
        if (e.kind === 'cio_id') return void errors.push({ batch_index: i, reason: 'not_found', field: 'identifiers', message: 'no person with this cio_id' });
        cio = nextPerson++;
        people.set(cio, { ...(e.kind === 'id' ? { id: e.value } : { email: e.value }), attributes: {} });
      }
      const person = people.get(cio)!;
      const { email, ...rest } = e.attributes;
      Object.assign(person.attributes, rest);
      if (typeof email === 'string') person.email = email;
    });
    return errors.length ? { status: 207, body: { errors } } : { status: 200, body: {} };
  };

  const membership = (req: VendorRequest, add: boolean) => {
    const s = segmentFor(req);
    const idType = req.query.get('id_type') ?? 'id';
    if (!['id', 'email', 'cio_id'].includes(idType)) throw refuse(`expected id_type id, email or cio_id, but got "${idType}"`);
    const body = jsonObject(req);
    if (!Array.isArray(body.ids) || body.ids.some((id) => typeof id !== 'string')) throw refuse('expected {"ids": [string, …]}');
    if (body.ids.length === 0 || body.ids.length > SEGMENT_IDS) throw refuse(`expected 1 to ${SEGMENT_IDS} ids, but got ${body.ids.length}`);
    if (s.type !== 'manual') throw refuse(`segment ${s.id} is data-driven; only manual segments can be changed through the API`);
    if (idType === 'email' && body.ids.some((id) => !EMAIL.test(id as string))) throw refuse('expected trimmed lower-case e-mails as ids');
    for (const id of body.ids as string[]) {
      // Ids that match nobody are ignored, as Customer.io documents.
      const cio = find(idType as 'id' | 'email' | 'cio_id', id);
      if (cio === undefined) continue;
      if (add) s.members.add(cio);
      else s.members.delete(cio);
    }
    return { body: {} };
  };

  // The App API's limit, per one-second window: beyond it, 429 with Retry-After.
  let appWindow = { start: Date.now(), count: 0 };
  const app =
    (handler: Route['handler']): Route['handler'] =>
    (req) => {
      if (opts.appRequestsPerSecond !== undefined) {
        const now = Date.now();
        if (now - appWindow.start >= 1000) appWindow = { start: now, count: 0 };
        if (++appWindow.count > opts.appRequestsPerSecond) return { status: 429, headers: { 'retry-after': '1' }, body: CUSTOMERIO_APP_THROTTLED };
      }
      return handler(req);
    };

  const basic = `Basic ${Buffer.from(`${siteId}:${trackApiKey}`).toString('base64')}`;
  const vendor = await startFakeVendor({
    name: 'Customer.io',
    auth: (req) => {
      const h = req.headers.authorization;
      if (req.path.startsWith('/api/')) return h === basic ? undefined : 'the Track API needs Basic "<site id>:<track API key>"';
      if (req.path.startsWith('/v1/')) return h === `Bearer ${appApiKey}` ? undefined : 'the App API needs "Bearer <app API key>"';
      return undefined;
    },
    authFailure: () => ({ status: 401, body: meta('Unauthorized request') }),
    notFound: () => meta('not found'),
    routes: [
      { method: 'GET', path: '/api/v1/accounts/region', handler: () => ({ body: { url: 'https://track.customer.io', data_center: 'us', environment_id: 1 } }) },
      { method: 'POST', path: '/api/v2/batch', handler: identifyBatch },
      { method: 'POST', path: '/api/v1/segments/:segmentId/add_customers', handler: (req) => membership(req, true) },
      { method: 'POST', path: '/api/v1/segments/:segmentId/remove_customers', handler: (req) => membership(req, false) },
      { method: 'GET', path: '/v1/segments', handler: app(() => ({ body: { segments: [...segments.values()].map(segmentJson) } })) },
      {
        method: 'POST',
        path: '/v1/segments',
        handler: app((req) => {
          const body = jsonObject(req);
          const seg = body.segment;
          if (!isObject(seg) || typeof seg.name !== 'string' || seg.name.trim() === '') throw refuse('expected {"segment": {"name": non-empty string}}');
          const id = Number(seedSegment(seg.name));
          const s = segments.get(id)!;
          if (typeof seg.description === 'string') s.description = seg.description;
          return { body: { segment: segmentJson(s) } };
        }),
      },
      {
        method: 'GET',
        path: '/v1/segments/:segmentId/customer_count',
        handler: app((req) => {
          const s = segmentFor(req);
          return { body: { segment_id: s.id, count: Math.floor(s.members.size * matchRatio) } };
        }),
      },
    ],
  });

  return {
    vendor,
    type: 'customerio',
    config: { siteId, trackApiKey, appApiKey, baseUrl: vendor.url, appBaseUrl: vendor.url },
    audiences: () => [...segments.values()].map((s) => ({ id: String(s.id), name: s.name, type: s.type })),
    members: (segmentId) => {
      const s = segments.get(Number(segmentId));
      if (!s) return [];
      return [...s.members].map((cio) => {
        const p = people.get(cio)!;
        return { ...(p.id !== undefined ? { EXTERNAL_ID: p.id } : {}), ...(p.email !== undefined ? { EMAIL: p.email } : {}) };
      });
    },
    profiles: () =>
      new Map(
        [...people.values()].map((p) => [
          p.id ?? p.email!,
          { ...(p.id !== undefined ? { id: p.id } : {}), ...(p.email !== undefined ? { email: p.email } : {}), attributes: { ...p.attributes } },
        ]),
      ),
    setMatchRatio(ratio) {
      matchRatio = ratio;
    },
    rejectIdentifiers,
    seedSegment,
    close: () => vendor.close(),
  };
}
