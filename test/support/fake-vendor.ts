// The common part of the fake vendor servers (test/support/fake-<vendor>.ts):
// a loopback HTTP server with a small router, an auth check on every request,
// a rate limit answered the way the vendor answers it (429 with Retry-After
// by default), injected faults, and a log of what arrived. Each vendor fake
// adds its routes, its contract checks and the audience state it keeps.
//
// A route handler answers with { status, body, headers }; throwing a
// `Refusal` answers with its status and body and records why the contract
// check failed, so a test can assert that nothing was refused
// (`fake.refusals()`), which is how a test fails when a connector breaks the
// vendor's contract.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface VendorRequest {
  /** 1-based, every request counted. */
  n: number;
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  /** The body parsed as JSON (undefined when absent or not JSON). */
  json: unknown;
  /** What the fake answered; undefined for a hang or a drop. */
  status?: number;
  /** Why the contract check refused the request. */
  refused?: string;
  fault?: 'status' | 'hang' | 'drop' | 'throttled';
}

export interface VendorResponse {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A contract violation: answered with `status` and `body`, recorded as refused. */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly why: string,
    readonly body: unknown = { error: why },
  ) {
    super(why);
  }
}

export interface Route {
  method: string;
  /** A path pattern with ":name" segments, e.g. "/v1/:audienceId/users"; a segment may also hold ":name" after a literal, e.g. "/act_:account/x". */
  path: string;
  handler: (req: VendorRequest) => VendorResponse | Promise<VendorResponse>;
}

export interface FaultSpec {
  status?: number;
  /** Seconds or an HTTP date. */
  retryAfter?: number | string;
  body?: unknown;
  headers?: Record<string, string>;
  hang?: boolean;
  drop?: boolean;
}

export interface Throttle {
  /** Requests allowed per window, then `status` until the window ends. */
  limit: number;
  windowMs: number;
  status?: number;
  /** The body of a throttled answer (the vendor's own error shape). */
  body?: unknown;
  /** Send Retry-After (seconds, rounded up); false for vendors that do not. */
  retryAfter?: boolean;
  /** Extra headers of a throttled answer. */
  headers?: Record<string, string>;
}

export interface FakeVendorOptions {
  /** Named in refusal messages. */
  name: string;
  /** Returns why the request's credentials are refused, or undefined when they are fine. */
  auth?: (req: VendorRequest) => string | undefined;
  /** Status and body for refused credentials (default 401 { error }). */
  authFailure?: (why: string) => { status: number; body: unknown };
  routes: Route[];
  throttle?: Throttle;
  /** Body of a 404 for unknown routes. */
  notFound?: (req: VendorRequest) => unknown;
}

export interface FakeVendor {
  /** http://127.0.0.1:<port>: the base URL a connector is configured with. */
  url: string;
  received: VendorRequest[];
  /** Requests refused by a contract check (auth, shape, limits), not by an injected fault. */
  refusals(): VendorRequest[];
  /** Injects a fault into the next `times` requests matching `predicate` (default: any). */
  fault(spec: FaultSpec, opts?: { times?: number; when?: (req: VendorRequest) => boolean }): void;
  /** Changes the rate limit (undefined: none). */
  setThrottle(t: Throttle | undefined): void;
  clearFaults(): void;
  close(): Promise<void>;
}

interface Compiled {
  method: string;
  re: RegExp;
  names: string[];
  handler: Route['handler'];
}

function compile(route: Route): Compiled {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) =>
      segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      }),
    )
    .join('/');
  return { method: route.method.toUpperCase(), re: new RegExp(`^${source}$`), names, handler: route.handler };
}

export async function startFakeVendor(opts: FakeVendorOptions): Promise<FakeVendor> {
  const routes = opts.routes.map(compile);
  const received: VendorRequest[] = [];
  const armed: { spec: FaultSpec; remaining: number; when: (req: VendorRequest) => boolean }[] = [];
  const sockets = new Set<Socket>();
  let throttle = opts.throttle;
  let window = { start: Date.now(), count: 0 };
  let count = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        const url = new URL(req.url ?? '/', 'http://fake');
        let json: unknown;
        if (rawBody !== '') {
          try {
            json = JSON.parse(rawBody);
          } catch {
            json = undefined;
          }
        }
        const entry: VendorRequest = { n: ++count, method: req.method ?? 'GET', path: url.pathname, params: {}, query: url.searchParams, headers: req.headers, rawBody, json };
        received.push(entry);
        const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
          entry.status = status;
          const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(text);
        };

        const fault = armed.find((f) => f.remaining > 0 && f.when(entry));
        if (fault) {
          fault.remaining--;
          if (fault.spec.hang) {
            entry.fault = 'hang';
            return;
          }
          if (fault.spec.drop) {
            entry.fault = 'drop';
            req.socket.destroy();
            return;
          }
          entry.fault = 'status';
          const headers: Record<string, string> = { ...(fault.spec.headers ?? {}) };
          if (fault.spec.retryAfter !== undefined) headers['retry-after'] = String(fault.spec.retryAfter);
          return send(fault.spec.status ?? 500, fault.spec.body ?? { error: 'injected fault' }, headers);
        }

        if (throttle) {
          const now = Date.now();
          if (now - window.start >= throttle.windowMs) window = { start: now, count: 0 };
          window.count++;
          if (window.count > throttle.limit) {
            entry.fault = 'throttled';
            const wait = Math.max(1, Math.ceil((window.start + throttle.windowMs - now) / 1000));
            const headers = { ...(throttle.headers ?? {}), ...(throttle.retryAfter === false ? {} : { 'retry-after': String(wait) }) };
            return send(throttle.status ?? 429, throttle.body ?? { error: `${opts.name}: rate limit exceeded` }, headers);
          }
        }

        try {
          const why = opts.auth?.(entry);
          if (why !== undefined) {
            entry.refused = `auth: ${why}`;
            const failure = opts.authFailure?.(why) ?? { status: 401, body: { error: why } };
            return send(failure.status, failure.body);
          }
          for (const route of routes) {
            if (route.method !== entry.method) continue;
            const m = route.re.exec(entry.path);
            if (!m) continue;
            route.names.forEach((name, i) => (entry.params[name] = decodeURIComponent(m[i + 1]!)));
            const out = await route.handler(entry);
            return send(out.status ?? 200, out.body, out.headers);
          }
          entry.refused = `no route for ${entry.method} ${entry.path}`;
          return send(404, opts.notFound?.(entry) ?? { error: `${opts.name}: no route for ${entry.method} ${entry.path}` });
        } catch (err) {
          if (err instanceof Refusal) {
            entry.refused = err.why;
            return send(err.status, err.body);
          }
          entry.refused = `handler crashed: ${err instanceof Error ? err.message : String(err)}`;
          return send(500, { error: entry.refused });
        }
      })();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    received,
    refusals: () => received.filter((r) => r.refused !== undefined),
    fault(spec, o = {}) {
      armed.push({ spec, remaining: o.times ?? 1, when: o.when ?? (() => true) });
    },
    setThrottle(t) {
      throttle = t;
      window = { start: Date.now(), count: 0 };
    },
    clearFaults() {
      armed.length = 0;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A bearer-token check for `auth`: "Authorization: Bearer <token>". */
export function bearer(token: string): (req: VendorRequest) => string | undefined {
  return (req) => {
    const h = req.headers.authorization;
    if (!h) return 'missing Authorization header';
    if (h !== `Bearer ${token}`) return 'Authorization is not "Bearer <the expected token>"';
    return undefined;
  };
}

/** 64 lower-case hex characters: what SHA-256-hashing platforms require. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * What every fake audience platform exposes, so that one test can drive any
 * of them (the one-click test runs every ad platform through this).
 */
export interface FakePlatform {
  vendor: FakeVendor;
  /** Connector type this fake stands for (e.g. "meta"). */
  type: string;
  /** A complete destination configuration (secrets included) pointing at the fake. */
  config: Record<string, unknown>;
  /** Audiences created through the API (and any seeded), in creation order. */
  audiences(): { id: string; name: string; type: string | null }[];
  /**
   * Members of an audience, each as the identifier values received, under
   * Roster's identifier type names (e.g. { EMAIL: "<sha256 hex>" }); for
   * profile-based tools, the profile's identifiers (e.g. { EXTERNAL_ID: "42" }).
   */
  members(audienceId: string): Partial<Record<string, string>>[];
  /** Fraction of uploaded members the platform reports as matched (default 0.8). */
  setMatchRatio(ratio: number): void;
  close(): Promise<void>;
}
