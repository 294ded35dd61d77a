// A webhook receiver on loopback that enforces the contract documented at the
// top of src/connectors/webhook/index.ts, strictly: a signature over
// "<timestamp>.<raw body>" (401 when missing or wrong, or when the timestamp
// is more than 5 minutes away), a JSON body of the documented shape (400
// otherwise), at most `maxRows` rows (400). Accepted batches are applied to
// `state` (add/update upsert, remove deletes); rejected rows are not.
//
// Faults are injected per request number (1-based, counting every request the
// server received) or by predicate: a status (with Retry-After), a hang (no
// answer, socket kept open), a dropped connection, or per-row rejections.
// For tests that drive whole runs there are standing knobs too: `rejectKeys`
// (rejected by every request while set), a `failNext` queue consumed one per
// request, `alwaysStatus`, and an `onAccepted` hook.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface FakeRow {
  fields: Record<string, unknown>;
  identifiers: Record<string, unknown>;
}

export interface ReceivedRequest {
  /** 1-based, every request counted. */
  n: number;
  /** performance.now() when the request's body had arrived. */
  at: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  operation?: string;
  audience?: { id: string; name: string };
  keys: string[];
  /** What the fake answered (undefined for a hang or a drop). */
  status?: number;
  fault?: 'status' | 'hang' | 'drop' | 'reject';
  /** Why a request was refused by the contract checks. */
  refused?: string;
  /** The batch passed every check and was applied (its non-rejected rows). */
  accepted: boolean;
}

export interface FaultSpec {
  /** Answer with this status instead of processing (state untouched). */
  status?: number;
  /** With `status`: a Retry-After header (seconds or an HTTP date). */
  retryAfter?: number | string;
  /** With `status`: the body to send. */
  body?: string;
  /** Never answer; the socket stays open until the client gives up or close(). */
  hang?: boolean;
  /** Destroy the connection without answering. */
  drop?: boolean;
  /** Rows of the batch with these keys are rejected (and not applied). */
  rejectKeys?: Iterable<string>;
  rejectMessage?: string;
  rejectCode?: string;
  /** Added verbatim to the response's rejected list (e.g. keys not in the batch). */
  extraRejected?: { key: string; message: string; code?: string }[];
}

interface ArmedFault {
  match: (req: ReceivedRequest) => boolean;
  spec: FaultSpec;
  remaining: number;
}

/** A one-shot fault in the `failNext` queue. */
export interface QueuedFault {
  status?: number;
  retryAfterSeconds?: number;
  hang?: boolean;
  drop?: boolean;
}

export type RowRejectionSpec = { message: string; code?: string };

export interface Faults {
  /**
   * Rows with these keys are rejected by every request until changed: a Map
   * gives each key its message and code; a Set uses `rejectMessage`/`rejectCode`.
   */
  rejectKeys: ReadonlyMap<string, RowRejectionSpec> | ReadonlySet<string>;
  rejectMessage: string;
  rejectCode: string | undefined;
  /** Consumed one per request, in order, after the armed faults. */
  failNext: QueuedFault[];
  /** Every request answers with this status while set. */
  alwaysStatus: number | undefined;
  /** The n-th request (1-based, counting every request) gets this fault. */
  at(n: number, spec: FaultSpec): void;
  /** Requests matching the predicate get this fault, `times` times (default: always). */
  when(predicate: (req: ReceivedRequest) => boolean, spec: FaultSpec, opts?: { times?: number }): void;
  /** The next `times` requests get this fault. */
  next(spec: FaultSpec, times?: number): void;
  clear(): void;
}

export interface FakeWebhook {
  /** Full URL to configure (includes a path and a harmless query string). */
  url: string;
  state: Map<string, Map<string, FakeRow>>;
  faults: Faults;
  received: ReceivedRequest[];
  /** Membership of an audience, keys sorted. */
  members(audience: string): string[];
  /** Called after a batch was applied, before the answer is sent. */
  onAccepted: ((req: ReceivedRequest) => void) | undefined;
  close(): Promise<void>;
}

export interface FakeWebhookOptions {
  secret: string;
  /** Largest batch accepted (default 10,000). */
  maxRows?: number;
  /** Largest timestamp skew accepted, in seconds (default 300). */
  toleranceSeconds?: number;
  /** Path the receiver listens on (default "/hooks/roster"). */
  path?: string;
}

function verify(secret: string, timestamp: string | undefined, signature: string | undefined, raw: Buffer, toleranceSeconds: number): string | undefined {
  if (!timestamp || !/^\d+$/.test(timestamp)) return 'missing or malformed X-Roster-Timestamp';
  if (!signature || !signature.startsWith('sha256=')) return 'missing or malformed X-Roster-Signature';
  const skew = Math.abs(Date.now() / 1000 - Number(timestamp));
  if (skew > toleranceSeconds) return `timestamp is ${Math.round(skew)} s away from now`;
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(raw).digest();
  const got = Buffer.from(signature.slice('sha256='.length), 'hex');
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) return 'signature does not match';
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export async function startFakeWebhook(opts: FakeWebhookOptions): Promise<FakeWebhook> {
  const maxRows = opts.maxRows ?? 10_000;
  const tolerance = opts.toleranceSeconds ?? 300;
  const hookPath = opts.path ?? '/hooks/roster';
  const state = new Map<string, Map<string, FakeRow>>();
  const received: ReceivedRequest[] = [];
  const armed: ArmedFault[] = [];
  const sockets = new Set<Socket>();
  let count = 0;

  const faults: Faults = {
    rejectKeys: new Map(),
    rejectMessage: 'rejected by the fake',
    rejectCode: undefined,
    failNext: [],
    alwaysStatus: undefined,
    at(n, spec) {
      armed.push({ match: (r) => r.n === n, spec, remaining: 1 });
    },
    when(predicate, spec, o = {}) {
      armed.push({ match: predicate, spec, remaining: o.times ?? Infinity });
    },
    next(spec, times = 1) {
      const from = count + 1;
      armed.push({ match: (r) => r.n >= from, spec, remaining: times });
    },
    clear() {
      armed.length = 0;
      faults.rejectKeys = new Map();
      faults.failNext = [];
      faults.alwaysStatus = undefined;
    },
  };
  const fake: FakeWebhook = {
    url: '',
    state,
    faults,
    received,
    members: (audience) => [...(state.get(audience)?.keys() ?? [])].sort(),
    onAccepted: undefined,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const rawBody = raw.toString('utf8');
      const url = new URL(req.url ?? '/', 'http://fake');
      const entry: ReceivedRequest = { n: ++count, at: performance.now(), method: req.method ?? '', path: url.pathname, headers: req.headers, rawBody, keys: [], accepted: false };
      received.push(entry);

      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        entry.status = status;
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(text);
      };
      const refuse = (status: number, why: string) => {
        entry.refused = why;
        send(status, { error: why });
      };

      // Parse what can be parsed, so that predicates can look at it.
      let payload: unknown;
      let parseError: string | undefined;
      try {
        payload = JSON.parse(rawBody);
      } catch {
        parseError = 'body is not JSON';
      }
      if (isObject(payload)) {
        if (typeof payload.operation === 'string') entry.operation = payload.operation;
        if (isObject(payload.audience)) entry.audience = payload.audience as { id: string; name: string };
        if (Array.isArray(payload.rows)) entry.keys = payload.rows.map((r) => (isObject(r) && typeof r.key === 'string' ? r.key : '?'));
      }

      let fault: FaultSpec | undefined;
      for (const f of armed) {
        if (f.remaining > 0 && f.match(entry)) {
          f.remaining--;
          fault = f.spec;
          break;
        }
      }
      if (!fault) {
        const queued = faults.failNext.shift();
        if (queued) {
          fault = {
            ...(queued.status !== undefined ? { status: queued.status } : {}),
            ...(queued.retryAfterSeconds !== undefined ? { retryAfter: queued.retryAfterSeconds } : {}),
            ...(queued.hang ? { hang: true } : {}),
            ...(queued.drop ? { drop: true } : {}),
          };
        } else if (faults.alwaysStatus !== undefined) {
          fault = { status: faults.alwaysStatus };
        }
      }
      if (fault?.hang) {
        entry.fault = 'hang';
        return;
      }
      if (fault?.drop) {
        entry.fault = 'drop';
        req.socket.destroy();
        return;
      }
      if (fault?.status !== undefined) {
        entry.fault = 'status';
        const headers: Record<string, string> = fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
        send(fault.status, fault.body ?? { error: `injected ${fault.status}` }, headers);
        return;
      }

      // The contract.
      if (req.method !== 'POST') return refuse(405, `expected POST, got ${req.method}`);
      if (url.pathname !== hookPath) return refuse(404, `expected ${hookPath}`);
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return refuse(415, 'expected Content-Type: application/json');
      const why = verify(opts.secret, req.headers['x-roster-timestamp'] as string | undefined, req.headers['x-roster-signature'] as string | undefined, raw, tolerance);
      if (why) return refuse(401, why);
      if (parseError || !isObject(payload)) return refuse(400, parseError ?? 'expected a JSON object');
      const op = payload.operation;
      if (op === 'check') return send(200, { ok: true });
      if (op !== 'add' && op !== 'remove' && op !== 'update') return refuse(400, `unknown operation ${JSON.stringify(op)}`);
      const audience = payload.audience;
      if (!isObject(audience) || typeof audience.id !== 'string' || typeof audience.name !== 'string') return refuse(400, 'expected audience { id, name }');
      const rows = payload.rows;
      if (!Array.isArray(rows)) return refuse(400, 'expected rows to be a list');
      if (rows.length > maxRows) return refuse(400, `batch of ${rows.length} rows exceeds the maximum of ${maxRows}`);
      for (const r of rows) {
        if (!isObject(r) || typeof r.key !== 'string' || !isObject(r.fields) || !isObject(r.identifiers)) {
          return refuse(400, 'expected every row to be { key: string, fields: object, identifiers: object }');
        }
      }

      // Rejections: this request's fault first, then the standing ones.
      const rejections = new Map<string, RowRejectionSpec>();
      const standing = faults.rejectKeys;
      if (standing instanceof Map) {
        for (const [k, v] of standing) rejections.set(k, v);
      } else {
        for (const k of standing.keys()) rejections.set(k, { message: faults.rejectMessage, ...(faults.rejectCode ? { code: faults.rejectCode } : {}) });
      }
      for (const k of fault?.rejectKeys ?? []) {
        rejections.set(k, { message: fault?.rejectMessage ?? 'rejected by the fake', ...(fault?.rejectCode ? { code: fault.rejectCode } : {}) });
      }
      const rejected: { key: string; message: string; code?: string }[] = [];
      let members = state.get(audience.id);
      if (!members) state.set(audience.id, (members = new Map()));
      for (const r of rows as { key: string; fields: Record<string, unknown>; identifiers: Record<string, unknown> }[]) {
        const rejection = rejections.get(r.key);
        if (rejection) {
          rejected.push({ key: r.key, message: rejection.message, ...(rejection.code !== undefined ? { code: rejection.code } : {}) });
          continue;
        }
        if (op === 'remove') members.delete(r.key);
        else members.set(r.key, { fields: r.fields, identifiers: r.identifiers });
      }
      rejected.push(...(fault?.extraRejected ?? []));
      if (rejected.length) entry.fault = 'reject';
      entry.accepted = true;
      fake.onAccepted?.(entry);
      send(200, rejected.length ? { rejected } : { ok: true });
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  fake.url = `http://127.0.0.1:${port}${hookPath}?source=roster`;
  return fake;
}
