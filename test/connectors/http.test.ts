// The shared HTTP helper against real servers on loopback: retries, backoff,
// Retry-After, timeouts, dropped connections, rate limiting, cancellation,
// and error messages that name the path but never a secret.
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { backoffDelay, createHttpClient, parseRetryAfter, type HttpClient, type HttpClientOptions } from '../../src/connectors/http.js';
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

  it('fails at once (retryable) when Retry-After exceeds the longest wait', async () => {
    const s = await startServer(status(429, { 'retry-after': '3600' }), ok);
    const started = performance.now();
    const err = await failure(client(s.url).request('GET', '/quota'));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(s.hits).toHaveLength(1);
    expect(err.code).toBe('HTTP_429');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('3600 s');
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
  it('stops waiting for a Retry-After when the signal aborts', async () => {
    const s = await startServer(status(429, { 'retry-after': '30' }), ok);
    const ac = new AbortController();
    const c = client(s.url, { signal: ac.signal });
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
