// Access tokens from OAuth 2.0 refresh-token grants (RFC 6749 §6), for the
// connectors whose vendors hand out short-lived bearer tokens (Reddit,
// Snapchat, Amazon Ads). What differs stays with each connector (token URL,
// how the client authenticates, the words of a refusal); this module keeps
// what they share:
//
// - the grant itself: a form POST of grant_type=refresh_token through the
//   HTTP helper, the answer read as {access_token, expires_in};
// - a cache keyed by a SHA-256 of the credentials that obtained the token,
//   never by their text, so a secret is not kept as a map key;
// - concurrent callers needing a token for the same credentials share one
//   refresh (whose failure they all receive; the next caller tries again);
// - a token is renewed a safety margin before the expiry the token endpoint
//   announced (default 60 s, at most half its lifetime), so no call starts
//   with a token about to lapse;
// - a request the destination answers with "token refused" (a 401) gets
//   another token once and one more try; a second refusal is returned to the
//   caller to report, as it means the credentials themselves are refused.
import { createHash } from 'node:crypto';
import { ConnectorError } from './contract.js';
import { createHttpClient, type HttpClientOptions, type HttpResponse } from './http.js';

/** What a token endpoint issued. */
export interface IssuedToken {
  accessToken: string;
  /** Lifetime in seconds (the endpoint's expires_in); absent or unreadable: the cache's default lifetime. */
  expiresInSeconds?: number;
}

export interface AccessTokenCacheOptions {
  /** Lifetime assumed when the token endpoint states none, in seconds. */
  defaultLifetimeSeconds: number;
  /** How long before its expiry a token is renewed, in seconds (default 60; at most half the token's lifetime). */
  marginSeconds?: number;
  /** The clock, in ms (tests move it). */
  now?: () => number;
}

/** Tokens for one set of credentials. */
export interface TokenSource {
  /** A token to send: the cached one while it is fresh, else a new one. `fresh`: a new one in any case (e.g. to check credentials). */
  token(opts?: { fresh?: boolean }): Promise<string>;
  /**
   * Runs `send` with a token. When `refused` says the destination refused it
   * (typically HTTP 401), that token is dropped, `onRefused` is told, and
   * `send` runs once more with another token (one a concurrent caller already
   * obtained, or a new one); that second result is returned whatever it is.
   */
  withToken<T>(send: (token: string) => Promise<T>, refused: (result: T) => boolean, onRefused?: () => void): Promise<T>;
}

export interface AccessTokenCache {
  /**
   * The tokens of one set of credentials: `credentials` are every value that
   * decides which token the endpoint issues (token URL, client id and secret,
   * refresh token); `issue` asks the endpoint for a new token.
   */
  source(credentials: readonly string[], issue: () => Promise<IssuedToken>): TokenSource;
  /** Forgets every token (and lets no refresh under way fill the cache). */
  clear(): void;
}

export interface RefreshGrantOptions {
  tokenUrl: string;
  /** The HTTP client of the call: timeouts, retries, logger, signal, headers every request carries (e.g. User-Agent). */
  http: Omit<HttpClientOptions, 'baseUrl' | 'rateLimit'>;
  /** Form fields after grant_type=refresh_token: the refresh token, and the client id and secret where the vendor takes them in the body. */
  form: Record<string, string>;
  /** Headers of the token request, e.g. HTTP Basic client authentication, or a Content-Type with a charset. */
  headers?: Record<string, string>;
  /** The error for a 400, 401 or 403 from the endpoint (refused credentials), in the vendor's words. */
  refused: (res: HttpResponse) => Promise<ConnectorError>;
  /** Names the endpoint in the error about an answer without a token, e.g. "Reddit token endpoint". */
  name: string;
}

/**
 * One refresh-token grant: POST <tokenUrl> with an
 * application/x-www-form-urlencoded body, answered {access_token, expires_in}.
 * Transient failures are retried by the HTTP helper; refusals become the
 * caller's error; an answer without an access token is INVALID_RESPONSE.
 */
export async function refreshTokenGrant(o: RefreshGrantOptions): Promise<IssuedToken> {
  const url = new URL(o.tokenUrl);
  const client = createHttpClient({ ...o.http, baseUrl: url.origin, rateLimit: null });
  try {
    const res = await client.request('POST', `${url.pathname}${url.search}`, {
      body: new URLSearchParams({ grant_type: 'refresh_token', ...o.form }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(o.headers ?? {}) },
      accept: [400, 401, 403],
    });
    if (res.status >= 300) throw await o.refused(res);
    const body = parseObject(await res.text());
    if (typeof body?.access_token !== 'string' || body.access_token === '') {
      throw new ConnectorError(`${o.name}: expected {"access_token": "…", "expires_in": seconds}, but the answer had no access_token`, 'INVALID_RESPONSE', false, res.status);
    }
    const ttl = body.expires_in;
    return { accessToken: body.access_token, ...(typeof ttl === 'number' && Number.isFinite(ttl) ? { expiresInSeconds: ttl } : {}) };
  } finally {
    await client.stop();
  }
}

/** A JSON object's fields; anything else (not JSON, an array, null) has none. */
function parseObject(text: string): { access_token?: unknown; expires_in?: unknown } | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The cache key of a set of credentials: a SHA-256 over an unambiguous encoding of them. */
export function credentialsKey(credentials: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(credentials)).digest('hex');
}

const DEFAULT_MARGIN_SECONDS = 60;

export function createAccessTokenCache(opts: AccessTokenCacheOptions): AccessTokenCache {
  const now = opts.now ?? Date.now;
  const marginSeconds = opts.marginSeconds ?? DEFAULT_MARGIN_SECONDS;
  const tokens = new Map<string, { value: string; renewAt: number }>();
  const inFlight = new Map<string, Promise<string>>();
  // Bumped by clear(): a refresh started before it does not fill the cache.
  let generation = 0;

  const lifetimeOf = (t: IssuedToken) => {
    const s = t.expiresInSeconds;
    return typeof s === 'number' && Number.isFinite(s) && s >= 0 ? s : opts.defaultLifetimeSeconds;
  };

  const store = (key: string, t: IssuedToken) => {
    const at = now();
    // Expired tokens of other credentials go too: the map holds live ones only.
    for (const [k, v] of tokens) if (v.renewAt <= at) tokens.delete(k);
    const lifetime = lifetimeOf(t);
    const margin = Math.min(marginSeconds, lifetime / 2);
    tokens.set(key, { value: t.accessToken, renewAt: at + (lifetime - margin) * 1000 });
  };

  /** The cached token unless it is stale or is `refused`; else the refresh under way, or a new one. */
  const obtain = (key: string, issue: () => Promise<IssuedToken>, refused?: string): Promise<string> => {
    const cached = tokens.get(key);
    if (cached && (cached.value === refused || cached.renewAt <= now())) tokens.delete(key);
    else if (cached) return Promise.resolve(cached.value);
    const pending = inFlight.get(key);
    if (pending) return pending;
    const started = generation;
    const p = (async () => {
      const t = await issue();
      if (started === generation) store(key, t);
      return t.accessToken;
    })().finally(() => {
      if (inFlight.get(key) === p) inFlight.delete(key);
    });
    inFlight.set(key, p);
    return p;
  };

  return {
    source(credentials, issue) {
      const key = credentialsKey(credentials);
      return {
        token(o = {}) {
          // A refresh already under way is as fresh as a new one.
          if (o.fresh) tokens.delete(key);
          return obtain(key, issue);
        },
        async withToken(send, refused, onRefused) {
          const token = await obtain(key, issue);
          const first = await send(token);
          if (!refused(first)) return first;
          onRefused?.();
          return send(await obtain(key, issue, token));
        },
      };
    },
    clear() {
      generation++;
      tokens.clear();
      inFlight.clear();
    },
  };
}
