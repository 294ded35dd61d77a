// What the OAuth refresh-token connectors (Reddit, Snapchat, Amazon Ads)
// share: the grant against a token endpoint on loopback, and the access-token
// cache: keyed by a hash of the credentials, one refresh for concurrent
// callers, expiry with a safety margin, and one refresh on a 401.
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectorError } from '../../src/connectors/contract.js';
import { createAccessTokenCache, credentialsKey, refreshTokenGrant, type IssuedToken } from '../../src/connectors/oauth.js';
import { createLogger } from '../../src/logger.js';
import { failureOf } from '../support/failures.js';

/** A token endpoint that counts its grants; each answer can be held until released. */
function endpoint(opts: { expiresInSeconds?: number; hold?: boolean } = {}) {
  let issued = 0;
  const waiting: (() => void)[] = [];
  let failNext: Error | undefined;
  const issue = async (): Promise<IssuedToken> => {
    const n = ++issued;
    if (opts.hold) await new Promise<void>((r) => waiting.push(r));
    if (failNext) {
      const err = failNext;
      failNext = undefined;
      throw err;
    }
    return { accessToken: `tok-${n}`, ...(opts.expiresInSeconds !== undefined ? { expiresInSeconds: opts.expiresInSeconds } : {}) };
  };
  return {
    issue,
    issued: () => issued,
    release: () => waiting.splice(0).forEach((r) => r()),
    failNext: (err: Error) => void (failNext = err),
  };
}

const CREDS = ['https://auth.example/token', 'client-1', 'secret-XYZ-123', 'refresh-ABC-456'];

function clock(start = Date.parse('2025-01-01T00:00:00Z')) {
  let t = start;
  return { now: () => t, advance: (seconds: number) => void (t += seconds * 1000) };
}

describe('access-token cache', () => {
  it('keys tokens by a hash of the credentials, never their text', () => {
    const key = credentialsKey(CREDS);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).not.toContain('secret');
    // An unambiguous encoding: moving a separator makes another key.
    expect(credentialsKey(['a\u0000b', 'c'])).not.toBe(credentialsKey(['a', 'b\u0000c']));
    expect(credentialsKey(['ab', 'c'])).not.toBe(credentialsKey(['a', 'bc']));
  });

  it('reuses a token per set of credentials, and issues another for other credentials', async () => {
    const cache = createAccessTokenCache({ defaultLifetimeSeconds: 3600 });
    const e = endpoint({ expiresInSeconds: 3600 });
    const a = cache.source(CREDS, e.issue);
    expect(await a.token()).toBe('tok-1');
    expect(await cache.source([...CREDS], e.issue).token()).toBe('tok-1');
    expect(await cache.source([...CREDS.slice(0, 2), 'another-secret', CREDS[3]!], e.issue).token()).toBe('tok-2');
    expect(e.issued()).toBe(2);
  });

  it('shares one refresh between concurrent callers', async () => {
    const cache = createAccessTokenCache({ defaultLifetimeSeconds: 3600 });
    const e = endpoint({ hold: true });
    const s = cache.source(CREDS, e.issue);
    const all = Promise.all(Array.from({ length: 5 }, () => s.token()));
    await Promise.resolve();
    e.release();
    expect(await all).toEqual(Array(5).fill('tok-1'));
    expect(e.issued()).toBe(1);
  });

  it('hands a failed refresh to every waiting caller, and the next caller tries again', async () => {
    const cache = createAccessTokenCache({ defaultLifetimeSeconds: 3600 });
    const e = endpoint({ hold: true });
    const s = cache.source(CREDS, e.issue);
    e.failNext(new Error('invalid_grant'));
    const both = Promise.allSettled([s.token(), s.token()]);
    await Promise.resolve();
    e.release();
    expect((await both).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(e.issued()).toBe(1);
    const next = s.token();
    await Promise.resolve();
    e.release();
    expect(await next).toBe('tok-2');
  });

  it.each([
    ['a minute before the expiry the endpoint announced', 3600, 3540],
    ['a minute before the default lifetime when none is stated', undefined, 1740],
    ['an unreadable lifetime as an unstated one', Number.NaN, 1740],
    ['a short-lived token half its lifetime early at most', 40, 20],
  ] as [string, number | undefined, number][])('renews %s', async (_what, expiresInSeconds, renewAfter) => {
    const c = clock();
    const cache = createAccessTokenCache({ defaultLifetimeSeconds: 1800, now: c.now });
    const e = endpoint(expiresInSeconds === undefined ? {} : { expiresInSeconds });
    const s = cache.source(CREDS, e.issue);
    expect(await s.token()).toBe('tok-1');
    c.advance(renewAfter - 1);
    expect(await s.token()).toBe('tok-1');
    c.advance(1);
    expect(await s.token()).toBe('tok-2');
    expect(e.issued()).toBe(2);
  });

  it('gets a new token when asked for a fresh one', async () => {
    const cache = createAccessTokenCache({ defaultLifetimeSeconds: 3600 });
    const e = endpoint();
    const s = cache.source(CREDS, e.issue);
    await s.token();
    expect(await s.token({ fresh: true })).toBe('tok-2');
    expect(await s.token()).toBe('tok-2');
  });

  it('forgets every token on clear(), and a refresh under way does not fill the cache', async () => {
    const cache = createAccessTokenCache({ defaultLifetimeSeconds: 3600 });
    const e = endpoint();
    const s = cache.source(CREDS, e.issue);
    await s.token();
    cache.clear();
    expect(await s.token()).toBe('tok-2');

    const held = endpoint({ hold: true });
    const h = cache.source(['held'], held.issue);
    const early = h.token();
    await Promise.resolve();
    cache.clear();
    held.release();
    expect(await early).toBe('tok-1');
    const later = h.token();
    await Promise.resolve();
    held.release();
    expect(await later).toBe('tok-2');
  });
});

describe('one refresh on a refused token', () => {
  /** A destination accepting only the tokens in `valid`; answers carry the status and the token used. */
  const destination = (valid: Set<string>) => {
    const sent: string[] = [];
    const send = async (token: string) => {
      sent.push(token);
      return { status: valid.has(token) ? 200 : 401, token };
    };
    return { send, sent };
  };
  const refused = (r: { status: number }) => r.status === 401;

  it('sends once with a good token', async () => {
    const s = createAccessTokenCache({ defaultLifetimeSeconds: 3600 }).source(CREDS, endpoint().issue);
    const d = destination(new Set(['tok-1']));
    let told = 0;
    expect(await s.withToken(d.send, refused, () => told++)).toEqual({ status: 200, token: 'tok-1' });
    expect(d.sent).toEqual(['tok-1']);
    expect(told).toBe(0);
  });

  it('drops a refused token, gets another and sends once more', async () => {
    const e = endpoint();
    const s = createAccessTokenCache({ defaultLifetimeSeconds: 3600 }).source(CREDS, e.issue);
    await s.token();
    const d = destination(new Set(['tok-2']));
    let told = 0;
    expect(await s.withToken(d.send, refused, () => told++)).toEqual({ status: 200, token: 'tok-2' });
    expect(d.sent).toEqual(['tok-1', 'tok-2']);
    expect(told).toBe(1);
    // The new token is the one cached.
    expect(await s.token()).toBe('tok-2');
  });

  it('returns the second refusal to the caller instead of refreshing again', async () => {
    const e = endpoint();
    const s = createAccessTokenCache({ defaultLifetimeSeconds: 3600 }).source(CREDS, e.issue);
    const d = destination(new Set());
    expect(await s.withToken(d.send, refused)).toEqual({ status: 401, token: 'tok-2' });
    expect(d.sent).toEqual(['tok-1', 'tok-2']);
    expect(e.issued()).toBe(2);
  });

  it('refreshes once for concurrent callers refused the same token', async () => {
    const e = endpoint();
    const cache = createAccessTokenCache({ defaultLifetimeSeconds: 3600 });
    const s = cache.source(CREDS, e.issue);
    await s.token();
    const d = destination(new Set(['tok-2']));
    const results = await Promise.all(Array.from({ length: 4 }, () => s.withToken(d.send, refused)));
    expect(results.map((r) => r.token)).toEqual(['tok-2', 'tok-2', 'tok-2', 'tok-2']);
    expect(e.issued()).toBe(2);
  });

  it('uses a token another caller already renewed instead of refreshing again', async () => {
    const e = endpoint();
    const s = createAccessTokenCache({ defaultLifetimeSeconds: 3600 }).source(CREDS, e.issue);
    await s.token();
    const d = destination(new Set(['tok-2']));
    // This caller's first try is refused, but meanwhile another caller renews the token.
    const slowSend = async (token: string) => {
      if (token === 'tok-1') await s.token({ fresh: true });
      return d.send(token);
    };
    expect(await s.withToken(slowSend, refused)).toEqual({ status: 200, token: 'tok-2' });
    expect(e.issued()).toBe(2);
  });
});

describe('refresh-token grant', () => {
  interface Received {
    url: string;
    headers: http.IncomingHttpHeaders;
    form: Record<string, string>;
  }
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (closers.length) await closers.pop()!();
  });

  /** A token endpoint answering the n-th request with answers[n - 1] (the last one repeats). */
  async function tokenEndpoint(...answers: { status: number; body: string }[]) {
    const received: Received[] = [];
    const server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      req.on('end', () => {
        received.push({ url: req.url ?? '', headers: req.headers, form: Object.fromEntries(new URLSearchParams(raw)) });
        const a = answers[received.length - 1] ?? answers[answers.length - 1]!;
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(a.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/token?realm=ads`, received };
  }

  const logger = createLogger('silent');
  const grant = (tokenUrl: string, extra: Partial<Parameters<typeof refreshTokenGrant>[0]> = {}) =>
    refreshTokenGrant({
      tokenUrl,
      http: { logger, minBackoffMs: 1, maxBackoffMs: 5, retries: 2, timeoutMs: 2_000, headers: { 'user-agent': 'roster-test/1.0' } },
      form: { refresh_token: 'refresh-ABC-456', client_id: 'client-1', client_secret: 'secret-XYZ-123' },
      refused: async (res) => new ConnectorError(`refused with HTTP ${res.status}: ${await res.text()}`, `HTTP_${res.status}`, false, res.status),
      name: 'Example token endpoint',
      ...extra,
    });

  it('posts the refresh-token form and reads the token and its lifetime', async () => {
    const e = await tokenEndpoint({ status: 200, body: '{"access_token":"tok-1","token_type":"bearer","expires_in":3600}' });
    expect(await grant(e.url)).toEqual({ accessToken: 'tok-1', expiresInSeconds: 3600 });
    const [r] = e.received;
    expect(r!.url).toBe('/oauth/token?realm=ads');
    expect(r!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(r!.headers['user-agent']).toBe('roster-test/1.0');
    expect(r!.form).toEqual({ grant_type: 'refresh_token', refresh_token: 'refresh-ABC-456', client_id: 'client-1', client_secret: 'secret-XYZ-123' });
  });

  it('sends the headers it is given, and leaves the lifetime out when the endpoint states none', async () => {
    const e = await tokenEndpoint({ status: 200, body: '{"access_token":"tok-1","expires_in":"soon"}' });
    const issued = await grant(e.url, { form: { refresh_token: 'r' }, headers: { authorization: 'Basic Y2xpZW50OnNlY3JldA==', 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' } });
    expect(issued).toEqual({ accessToken: 'tok-1' });
    expect(e.received[0]!.headers.authorization).toBe('Basic Y2xpZW50OnNlY3JldA==');
    expect(e.received[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
  });

  it("turns a refusal into the caller's error, without retrying", async () => {
    const e = await tokenEndpoint({ status: 400, body: '{"error":"invalid_grant"}' });
    const err = await failureOf(grant(e.url), ConnectorError);
    expect(err.message).toBe('refused with HTTP 400: {"error":"invalid_grant"}');
    expect(err.retryable).toBe(false);
    expect(e.received).toHaveLength(1);
  });

  it('retries a transient failure through the HTTP helper', async () => {
    const e = await tokenEndpoint({ status: 503, body: '{}' }, { status: 200, body: '{"access_token":"tok-1"}' });
    expect(await grant(e.url)).toEqual({ accessToken: 'tok-1' });
    expect(e.received).toHaveLength(2);
  });

  it.each(['{"token_type":"bearer"}', '{"access_token":""}', '[]', 'not json'])('says when the answer %s holds no access token', async (body) => {
    const e = await tokenEndpoint({ status: 200, body });
    const err = await failureOf(grant(e.url), ConnectorError);
    expect(err.code).toBe('INVALID_RESPONSE');
    expect(err.message).toBe('Example token endpoint: expected {"access_token": "…", "expires_in": seconds}, but the answer had no access_token');
  });
});
