// The shared HTTP helper against real servers on loopback: retries, backoff,
// Retry-After, vendor "try again" answers through retryWhen, timeouts,
// dropped connections, rate limiting, cancellation, and error messages that
// name the path but never a secret.
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  backoffDelay,
  createHttpClient,
  parseRateLimitReset,
  parseRetryAfter,
  waitFromHeaders,
  type HttpClient,
  type HttpClientOptions,
  type RetryWhen,
} from '../../src/connectors/http.js';
import { ConnectorError } from '../../src/connectors/contract.js';
import { createLogger } from '../../src/logger.js';
import { failureOf } from '../support/failures.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

interface Hit {
  n: number;
  at: number;
  url: string;
  headers: http.IncomingHttpHeaders;
}

interface TestServer {
  url: string;
  hits: Hit[];
  inFlight: { now: number; max: number };
  closedSockets: () => number;
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A server answering the n-th request (1-based) with handlers[n - 1] (the last one repeats). */
async function startServer(...handlers: Handler[]): Promise<TestServer> {
  const hits: Hit[] = [];
  const inFlight = { now: 0, max: 0 };
  const sockets = new Set<Socket>();
  let closed = 0;
  const server = http.createServer((req, res) => {
    const n = hits.length + 1;
    hits.push({ n, at: performance.now(), url: req.url ?? '', headers: req.headers });
    inFlight.now++;
    inFlight.max = Math.max(inFlight.max, inFlight.now);
    const done = () => {
      inFlight.now--;
    };
    res.on('close', done);
    req.resume();
    req.on('end', () => (handlers[n - 1] ?? handlers[handlers.length - 1]!)(req, res, n));
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => {
      sockets.delete(s);
      closed++;
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  cleanups.push(close);
  return { url: `http://127.0.0.1:${port}`, hits, inFlight, closedSockets: () => closed, close };
}

const ok: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok: true }));
};
const status =
  (code: number, headers: Record<string, string> = {}, body = `{"error":"status ${code}"}`): Handler =>
  (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers });
    res.end(body);
  };
const hang: Handler = () => {};
const drop: Handler = (req) => req.socket.destroy();

const logLines: string[] = [];
const logger = createLogger('debug', { write: (line: string) => void logLines.push(line) });

function client(url: string, opts: Partial<HttpClientOptions> = {}): HttpClient {
  const c = createHttpClient({ baseUrl: url, rateLimit: null, logger, minBackoffMs: 10, maxBackoffMs: 50, timeoutMs: 2_000, ...opts });
  cleanups.push(() => c.stop());
  return c;
}

const failure = (promise: Promise<unknown>) => failureOf(promise, ConnectorError);

describe('retries', () => {
  it('retries a 429 after at least the Retry-After it was given', async () => {
    const s = await startServer(status(429, { 'retry-after': '1' }), ok);
    const res = await client(s.url).request('GET', '/v1/things');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(s.hits).toHaveLength(2);
    expect(s.hits[1]!.at - s.hits[0]!.at).toBeGreaterThanOrEqual(990);
  });

  it('honours Retry-After given as an HTTP date on a 503', async () => {
    // HTTP dates have one-second resolution: two seconds ahead waits at least one.
    const when = new Date(Date.now() + 2_000).toUTCString();
    const s = await startServer(status(503, { 'retry-after': when }), ok);
    await client(s.url).request('POST', '/v1/things', { json: { a: 1 } });
    expect(s.hits).toHaveLength(2);
    expect(s.hits[1]!.at - s.hits[0]!.at).toBeGreaterThanOrEqual(990);
  });

  it('retries 500 and 503 with backoff, then succeeds', async () => {
    const s = await startServer(status(500), status(503), status(502), ok);
    const res = await client(s.url, { minBackoffMs: 20, maxBackoffMs: 100 }).request('POST', '/v1/things', { json: { a: 1 } });
    expect(res.status).toBe(200);
    expect(s.hits.map((h) => h.n)).toEqual([1, 2, 3, 4]);
  });

  it('retries a request that timed out, and the hung socket is closed', async () => {
    const s = await startServer(hang, ok);
    const started = performance.now();
    const res = await client(s.url, { timeoutMs: 200 }).request('GET', '/slow');
    expect(res.status).toBe(200);
    expect(s.hits).toHaveLength(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(s.closedSockets()).toBeGreaterThanOrEqual(1);
  });

  it('times out a body that starts but never ends', async () => {
    const s = await startServer(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
      },
      ok,
    );
    const res = await client(s.url, { timeoutMs: 200 }).request('GET', '/trickle');
    expect(await res.json()).toEqual({ ok: true });
    expect(s.hits).toHaveLength(2);
  });

  it('retries a dropped connection', async () => {
    const s = await startServer(drop, drop, ok);
    const res = await client(s.url).request('POST', '/v1/things', { json: [1, 2, 3] });
    expect(res.status).toBe(200);
    expect(s.hits).toHaveLength(3);
  });

  it('gives up after the configured retries with an error naming status and path, not the query string', async () => {
    const s = await startServer(status(503, {}, '{"error":"maintenance window"}'));
    const err = await failure(client(s.url, { retries: 2 }).request('GET', '/v1/audiences/42', { query: { api_key: 'sk_live_abcdef123456' } }));
    expect(s.hits).toHaveLength(3);
    expect(err.code).toBe('HTTP_503');
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(503);
    expect(err.message).toContain('GET /v1/audiences/42');
    expect(err.message).toContain('503');
    expect(err.message).toContain('maintenance window');
    expect(err.message).toContain('3 attempts');
    expect(err.message).not.toContain('api_key');
    expect(err.message).not.toContain('sk_live_abcdef123456');
    // The query string did reach the server.
    expect(s.hits[0]!.url).toContain('api_key=sk_live_abcdef123456');
  });

  it('reports TIMEOUT and NETWORK codes when those persist', async () => {
    const hung = await startServer(hang);
    const t = await failure(client(hung.url, { timeoutMs: 100, retries: 1 }).request('GET', '/x'));
    expect(t.code).toBe('TIMEOUT');
    expect(t.retryable).toBe(true);
    expect(hung.hits).toHaveLength(2);

    const dropped = await startServer(drop);
    const d = await failure(client(dropped.url, { retries: 1 }).request('GET', '/y'));
    expect(d.code).toBe('NETWORK');
    expect(d.retryable).toBe(true);

    const refused = await failure(client('http://127.0.0.1:1', { retries: 1 }).request('GET', '/z'));
    expect(refused.code).toBe('NETWORK');
    expect(refused.message).toContain('ECONNREFUSED');
  });

  it.each([400, 401, 403, 404, 422])('does not retry HTTP %i', async (code) => {
    const s = await startServer(status(code, {}, '{"error":"nope"}'));
    const err = await failure(client(s.url).request('POST', '/v1/things', { json: {} }));
    expect(s.hits).toHaveLength(1);
    expect(err.code).toBe(`HTTP_${code}`);
    expect(err.retryable).toBe(false);
    expect(err.status).toBe(code);
    expect(err.message).toContain('POST /v1/things');
    expect(err.message).toContain('nope');
  });

  it('returns statuses listed in accept instead of throwing', async () => {
    const s = await startServer(status(404, {}, '{"error":"no such audience"}'));
    const res = await client(s.url).request('GET', '/v1/audiences/9', { accept: [404] });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'no such audience' });
  });

  it.each([
    [
      'Retry-After',
      status(429, { 'retry-after': '3600' }),
      {},
      'HTTP_429',
      'GET /quota failed with HTTP 429; the destination asked to retry after 3600 s, longer than the 300 s Roster waits within a run: {"error":"status 429"}',
    ],
    [
      "a retryWhen hook's wait",
      ok,
      { maxRetryAfterMs: 60_000, retryWhen: () => ({ retryAfterMs: 3_600_000, code: 'VENDOR_40100', message: 'back in 60 min' }) },
      'VENDOR_40100',
      'GET /quota: back in 60 min; the destination asked to retry after 3600 s, longer than the 60 s Roster waits within a run',
    ],
  ] as [string, Handler, Partial<HttpClientOptions>, string, string][])('fails at once (retryable) when %s exceeds the longest wait', async (_what, first, opts, code, message) => {
    const s = await startServer(first, ok);
    const started = performance.now();
    const err = await failure(client(s.url, opts).request('GET', '/quota'));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(s.hits).toHaveLength(1);
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(true);
    expect(err.message).toBe(message);
  });

  it('signs every attempt afresh', async () => {
    const s = await startServer(status(500), ok);
    let calls = 0;
    await client(s.url).request('POST', '/signed', { json: { a: 1 }, sign: ({ body }) => ({ 'x-sig': `${++calls}:${String(body)}` }) });
    expect(s.hits.map((h) => h.headers['x-sig'])).toEqual(['1:{"a":1}', '2:{"a":1}']);
  });

  it('says when a response is not the JSON expected', async () => {
    const s = await startServer((_req, res) => res.end('<html>oops</html>'));
    const res = await client(s.url).request('GET', '/html');
    const err = await failure(res.json());
    expect(err.code).toBe('INVALID_RESPONSE');
    expect(err.message).toContain('expected a JSON response');
  });
});

describe('retryWhen: vendor "try again" answers', () => {
  /** TikTok's way: HTTP 200 with {"code": 40100}. */
  const throttled200: Handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"code":40100,"message":"Too many requests"}');
  };
  const byCode: RetryWhen = ({ text, attempt }) =>
    text.includes('"code":40100') ? { code: 'VENDOR_40100', message: `${attempt > 1 ? 'still ' : ''}rate limited (code 40100)` } : undefined;

  it('retries a 200 the hook flags, through the same loop, and returns the answer that is not flagged', async () => {
    const s = await startServer(throttled200, throttled200, ok);
    const seen: { status: number; attempt: number }[] = [];
    const c = client(s.url, {
      retryWhen: (res) => {
        seen.push({ status: res.status, attempt: res.attempt });
        return byCode(res);
      },
    });
    const res = await c.request('POST', '/v1/upload', { json: { a: 1 } });
    expect(await res.json()).toEqual({ ok: true });
    expect(s.hits).toHaveLength(3);
    expect(seen).toEqual([
      { status: 200, attempt: 1 },
      { status: 200, attempt: 2 },
      { status: 200, attempt: 3 },
    ]);
  });

  it('retries a flagged status the caller accepts (Meta: throttle codes in a 400), waiting as long as the hook asks', async () => {
    const s = await startServer(status(400, { 'x-usage': '{"regain_ms":400}' }, '{"error":{"code":80003}}'), ok);
    const c = client(s.url, {
      retryWhen: ({ status: st, headers, text }) =>
        st === 400 && text.includes('80003') ? { retryAfterMs: (JSON.parse(headers['x-usage']!) as { regain_ms: number }).regain_ms, code: 'META_80003' } : undefined,
    });
    const res = await c.request('POST', '/v24.0/1/users', { json: {}, accept: [400] });
    expect(res.status).toBe(200);
    expect(s.hits).toHaveLength(2);
    expect(s.hits[1]!.at - s.hits[0]!.at).toBeGreaterThanOrEqual(390);
  });

  it('gives up after the same retries, with the hook’s code and words, redacted, and logs them on each retry', async () => {
    logLines.length = 0;
    const s = await startServer(throttled200);
    const c = client(s.url, {
      retries: 2,
      headers: { 'x-api-key': 'key_SECRET_123' },
      retryWhen: (res) => (byCode(res) ? { code: 'VENDOR_40100', message: `rate limited for key_SECRET_123 (attempt ${res.attempt})` } : undefined),
    });
    const err = await failure(c.request('GET', '/v1/list', { query: { page: 1 } }));
    expect(s.hits).toHaveLength(3);
    expect(err.code).toBe('VENDOR_40100');
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(200);
    expect(err.message).toBe('GET /v1/list: rate limited for ******** (attempt 3) (gave up after 3 attempts)');
    const retries = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'transient failure, retrying');
    expect(retries.map((l) => [l.attempt, l.code, l.reason])).toEqual([
      [1, 'VENDOR_40100', 'rate limited for ******** (attempt 1)'],
      [2, 'VENDOR_40100', 'rate limited for ******** (attempt 2)'],
    ]);
    expect(logLines.join('\n')).not.toContain('key_SECRET_123');
  });

  it('shares one retry budget between transient statuses and flagged answers', async () => {
    const s = await startServer(status(500), throttled200, status(503), throttled200);
    const err = await failure(client(s.url, { retries: 3, retryWhen: byCode }).request('GET', '/mixed'));
    expect(s.hits).toHaveLength(4);
    expect(err.code).toBe('VENDOR_40100');
    expect(err.message).toBe('GET /mixed: still rate limited (code 40100) (gave up after 4 attempts)');
  });

  it('without words of its own, the error says the status and an excerpt of the body', async () => {
    const s = await startServer(status(400, {}, '{"error":"slow down"}'));
    const err = await failure(client(s.url, { retries: 1, retryWhen: ({ status: st }) => (st === 400 ? {} : undefined) }).request('GET', '/plain'));
    expect(err.code).toBe('HTTP_400');
    expect(err.retryable).toBe(true);
    expect(err.message).toBe('GET /plain failed with HTTP 400: {"error":"slow down"} (gave up after 2 attempts)');
  });

  it('falls back to Retry-After on a flagged 429 when the hook names no wait', async () => {
    const s = await startServer(status(429, { 'retry-after': '1' }, '{"code":40100}'), ok);
    await client(s.url, { retryWhen: byCode }).request('GET', '/ra');
    expect(s.hits).toHaveLength(2);
    expect(s.hits[1]!.at - s.hits[0]!.at).toBeGreaterThanOrEqual(990);
  });

  it('leaves unflagged answers to the usual rules, and a request’s own hook replaces the client’s', async () => {
    const s = await startServer(throttled200);
    const c = client(s.url, { retries: 1, retryWhen: byCode });
    // The request's hook sees nothing wrong: the 200 is returned as is.
    const res = await c.request('GET', '/own', { retryWhen: () => undefined });
    expect(await res.json()).toEqual({ code: 40100, message: 'Too many requests' });
    expect(s.hits).toHaveLength(1);
    const err = await failure(c.request('GET', '/client'));
    expect(err.code).toBe('VENDOR_40100');
    expect(s.hits).toHaveLength(3);
  });

  it('ends the request at once when the hook throws', async () => {
    const s = await startServer(ok);
    const p = client(s.url, {
      retryWhen: () => {
        throw new ConnectorError('unreadable answer', 'INVALID_RESPONSE', false);
      },
    }).request('GET', '/boom');
    const err = await failure(p);
    expect(err.code).toBe('INVALID_RESPONSE');
    expect(s.hits).toHaveLength(1);
  });

  describe('waitFromHeaders', () => {
    const xReset = waitFromHeaders([{ name: 'x-rate-limit-reset', kind: 'epoch' }]);
    const brazeWait = waitFromHeaders([
      { name: 'x-ratelimit-retry-after', kind: 'seconds' },
      { name: 'x-ratelimit-reset', kind: 'epoch' },
    ]);
    const resetIn = (seconds: number) => String(Math.ceil(Date.now() / 1000) + seconds);

    it('waits until an epoch-second reset on a 429 without Retry-After (X)', async () => {
      const s = await startServer((req, res) => status(429, { 'x-rate-limit-reset': resetIn(1) })(req, res, 1), ok);
      await client(s.url, { retryWhen: xReset }).request('GET', '/x');
      expect(s.hits).toHaveLength(2);
      expect(s.hits[1]!.at - s.hits[0]!.at).toBeGreaterThanOrEqual(950);
    });

    it('reads a wait in seconds before a reset (Braze), and Retry-After before both', async () => {
      const s = await startServer(status(429, { 'x-ratelimit-retry-after': '1', 'x-ratelimit-reset': '4102444800' }), ok);
      await client(s.url, { retryWhen: brazeWait }).request('POST', '/users/track', { json: {} });
      expect(s.hits[1]!.at - s.hits[0]!.at).toBeGreaterThanOrEqual(990);

      const r = await startServer((req, res) => status(429, { 'retry-after': '0', 'x-rate-limit-reset': resetIn(60) })(req, res, 1), ok);
      const started = performance.now();
      await client(r.url, { retryWhen: xReset }).request('GET', '/x');
      expect(performance.now() - started).toBeLessThan(1_000);
    });

    it('fails at once when the reset is further away than Roster waits, and backs off when no header says', async () => {
      const far = await startServer((req, res) => status(429, { 'x-rate-limit-reset': resetIn(900) })(req, res, 1), ok);
      const err = await failure(client(far.url, { retryWhen: xReset }).request('GET', '/x'));
      expect(err.code).toBe('HTTP_429');
      expect(err.retryable).toBe(true);
      expect(err.message).toContain('longer than the 300 s Roster waits');
      expect(far.hits).toHaveLength(1);

      const bare = await startServer(status(429), ok);
      expect((await client(bare.url, { retryWhen: xReset }).request('GET', '/x')).status).toBe(200);
      expect(bare.hits).toHaveLength(2);
    });

    it('looks at 429s only', () => {
      const res = { status: 503, headers: { 'x-rate-limit-reset': '4102444800' }, text: '', attempt: 1 };
      expect(xReset(res)).toBeUndefined();
      expect(xReset({ ...res, status: 429 })).toEqual({ retryAfterMs: expect.any(Number) });
    });
  });
});

describe('rate limiting', () => {
  it('spaces requests to the requests-per-second limit, retries included', async () => {
    const s = await startServer(status(500), ok);
    const c = client(s.url, { rateLimit: { requestsPerSecond: 10, concurrency: 5 }, minBackoffMs: 1, maxBackoffMs: 1 });
    await Promise.all(Array.from({ length: 6 }, (_, i) => c.request('GET', `/r/${i}`)));
    expect(s.hits).toHaveLength(7);
    const at = s.hits.map((h) => h.at);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(80);
    expect(at[at.length - 1]! - at[0]!).toBeGreaterThanOrEqual(550);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    const s = await startServer((_req, res) => setTimeout(() => ok(_req, res, 0), 80));
    const c = client(s.url, { rateLimit: { requestsPerSecond: 1_000, concurrency: 2 } });
    await Promise.all(Array.from({ length: 6 }, (_, i) => c.request('GET', `/c/${i}`)));
    expect(s.hits).toHaveLength(6);
    expect(s.inFlight.max).toBe(2);
  });
});

describe('cancellation', () => {
  it.each([
    ['a Retry-After', status(429, { 'retry-after': '30' }), {}],
    ["a retryWhen hook's wait", ok, { retryWhen: (res) => (res.attempt === 1 ? { retryAfterMs: 30_000 } : undefined) }],
  ] as [string, Handler, Partial<HttpClientOptions>][])('stops waiting for %s when the signal aborts', async (_what, first, opts) => {
    const s = await startServer(first, ok);
    const ac = new AbortController();
    const c = client(s.url, { ...opts, signal: ac.signal });
    const started = performance.now();
    const p = c.request('GET', '/wait');
    setTimeout(() => ac.abort(), 150);
    const err = await failure(p);
    expect(err.code).toBe('ABORTED');
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(s.hits).toHaveLength(1);
  });

  it('aborts a request in flight and closes its socket', async () => {
    const s = await startServer(hang);
    const ac = new AbortController();
    const c = client(s.url, { signal: ac.signal, timeoutMs: 30_000 });
    const p = c.request('POST', '/hang', { json: {} });
    setTimeout(() => ac.abort(), 150);
    const err = await failure(p);
    expect(err.code).toBe('ABORTED');
    await new Promise((r) => setTimeout(r, 50));
    expect(s.hits).toHaveLength(1);
    expect(s.closedSockets()).toBeGreaterThanOrEqual(1);
  });

  it('aborts requests queued behind the rate limiter', async () => {
    const s = await startServer(ok);
    const ac = new AbortController();
    const c = client(s.url, { signal: ac.signal, rateLimit: { requestsPerSecond: 1, concurrency: 1 } });
    const ps = Array.from({ length: 4 }, (_, i) => c.request('GET', `/q/${i}`).then(() => 'ok', (e: ConnectorError) => e.code));
    setTimeout(() => ac.abort(), 100);
    const started = performance.now();
    expect(await Promise.all(ps)).toEqual(['ok', 'ABORTED', 'ABORTED', 'ABORTED']);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('refuses requests after stop()', async () => {
    const s = await startServer(ok);
    const c = client(s.url);
    await c.stop();
    const err = await failure(c.request('GET', '/late'));
    expect(err.code).toBe('ABORTED');
    expect(s.hits).toHaveLength(0);
  });
});

describe('secrets', () => {
  it('never logs headers, query strings or secrets echoed back', async () => {
    logLines.length = 0;
    const s = await startServer(
      (req, res) => {
        // A badly behaved server that echoes the credentials it received.
        res.writeHead(500);
        res.end(`bad request from ${req.headers.authorization} at ${req.url}`);
      },
    );
    const c = client(s.url, { headers: { authorization: 'Bearer tok_SUPERSECRET_987' }, retries: 1 });
    const err = await failure(c.request('GET', '/v1/me', { query: { access_token: 'qs_SECRET_654' } }));
    const everything = `${err.message}\n${logLines.join('\n')}`;
    expect(everything).not.toContain('tok_SUPERSECRET_987');
    expect(everything).not.toContain('qs_SECRET_654');
    expect(err.message).toContain('GET /v1/me');
    // The retry was logged, with what it may show.
    const retry = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'transient failure, retrying');
    expect(retry).toMatchObject({ method: 'GET', path: '/v1/me', status: 500, attempt: 1 });
    expect(typeof retry?.waitMs).toBe('number');
  });
});

describe('pure helpers', () => {
  it('parses Retry-After', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('1.5', now)).toBe(1_500);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('parses rate-limit resets given in epoch seconds', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    const epoch = now / 1000;
    expect(parseRateLimitReset(String(epoch + 30), now)).toBe(30_000);
    expect(parseRateLimitReset(String(epoch - 5), now)).toBe(0);
    // Too small to be a date: seconds to wait.
    expect(parseRateLimitReset('15', now)).toBe(15_000);
    expect(parseRateLimitReset('soon', now)).toBeUndefined();
    expect(parseRateLimitReset('', now)).toBeUndefined();
    expect(parseRateLimitReset(undefined, now)).toBeUndefined();
  });

  it('draws full-jitter backoff below an exponential ceiling', () => {
    expect(backoffDelay(1, 500, 30_000, () => 0.999)).toBe(499);
    expect(backoffDelay(3, 500, 30_000, () => 0.999)).toBe(1_998);
    expect(backoffDelay(20, 500, 30_000, () => 0.999)).toBe(29_970);
    expect(backoffDelay(4, 500, 30_000, () => 0)).toBe(0);
  });

  it('joins paths onto a base URL with a prefix and refuses other origins', async () => {
    const s = await startServer(ok);
    const c = client(`${s.url}/api/v2/`);
    await c.request('GET', 'lists?x=1', { query: { y: 2 } });
    expect(s.hits[0]!.url).toBe('/api/v2/lists?x=1&y=2');
    const err = await failure(c.request('GET', 'https://evil.example/steal'));
    expect(err.code).toBe('REQUEST_INVALID');
  });
});
