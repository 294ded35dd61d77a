// The one HTTP helper every connector uses (DESIGN.md §5 step 3, §6): a
// per-request timeout covering headers and body, retries with exponential
// backoff and full jitter on transient failures, `Retry-After` honoured, a
// rate limiter around every attempt, cancellation through an AbortSignal, and
// failures turned into ConnectorErrors whose messages name the method, the
// URL path (never the query string, never a header) and the status.
//
// Transient: network errors, timeouts, 408, 425, 429, 500, 502, 503, 504.
// Everything else that is not 2xx fails at once (retryable: false), unless
// the caller lists the status in `accept` to handle it itself.
//
// Vendors that say "slow down" their own way (a throttle code in a 400 or
// 200 body, the wait in a header other than Retry-After) describe it with a
// `retryWhen` hook: a response it flags is retried by the same loop, with
// the same attempts, backoff, longest wait and cancellation as a 429.
import { setMaxListeners } from 'node:events';
import { Agent, request as undiciRequest } from 'undici';
import pRetry, { AbortError } from 'p-retry';
import Bottleneck from 'bottleneck';
import type { Logger } from '../logger.js';
import { redactSecrets } from '../warehouse/connection.js';
import { ConnectorError } from './contract.js';

export interface RateLimit {
  requestsPerSecond: number;
  concurrency: number;
}

/** What a `retryWhen` hook sees of one response. */
export interface RetryableResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The whole body, decoded as UTF-8. */
  text: string;
  /** 1 for the first attempt. */
  attempt: number;
}

/** A response the destination means as "slow down / try again", whatever its status. */
export interface RetrySignal {
  /**
   * The wait the destination asks for, in ms. Undefined: Retry-After on a
   * 429 or 503, else backoff alone. Roster waits the longer of it and the
   * jittered backoff; a wait longer than maxRetryAfterMs fails the call at
   * once (retryable), as a long Retry-After does.
   */
  retryAfterMs?: number;
  /** ConnectorError code should the attempts run out (default `HTTP_<status>`). */
  code?: string;
  /**
   * What went wrong, shown after "METHOD /path: " in the retry log and in
   * the final error (default "failed with HTTP <status>: <body excerpt>").
   * Credentials the client knows of are redacted from it.
   */
  message?: string;
}

/**
 * Judges every response before its status does (2xx and `accept`ed ones
 * too): a RetrySignal retries it, undefined leaves it to the usual rules.
 * A hook that throws ends the request with that error.
 */
export type RetryWhen = (res: RetryableResponse) => RetrySignal | undefined;

export interface HttpClientOptions {
  /** Scheme, host and an optional path prefix, e.g. "https://api.example.com/v2". */
  baseUrl: string;
  rateLimit: RateLimit | null;
  /** Per attempt, headers and body together (default 30 s). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 5). */
  retries?: number;
  /** Base of the exponential backoff (default 500 ms). */
  minBackoffMs?: number;
  /** Cap of the exponential backoff (default 30 s); does not cap Retry-After. */
  maxBackoffMs?: number;
  /**
   * Longest Retry-After honoured (default 5 min). A destination asking for
   * longer fails the call at once (retryable), instead of sleeping through it.
   */
  maxRetryAfterMs?: number;
  /** Largest response body read, in bytes (default 50 MiB). */
  maxResponseBytes?: number;
  logger: Logger;
  signal?: AbortSignal;
  /** Sent with every request (e.g. Authorization); never logged nor shown. */
  headers?: Record<string, string>;
  /** Vendor-specific "try again" answers (see RetryWhen); a request's own hook replaces it. */
  retryWhen?: RetryWhen;
}

export type QueryValue = string | number | boolean | null | undefined;

export interface HttpRequestOptions {
  /** Serialised as JSON with Content-Type: application/json. */
  json?: unknown;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  query?: Record<string, QueryValue | readonly QueryValue[]>;
  /** Statuses returned to the caller instead of thrown (e.g. [404] to read a "not found" body). */
  accept?: readonly number[];
  /** Overrides the client's timeout for this request. */
  timeoutMs?: number;
  /**
   * Extra headers computed for each attempt from what is actually sent, e.g.
   * a signature over a timestamp that must be fresh on every retry.
   */
  sign?: (req: { method: string; url: URL; body: string | Uint8Array | undefined }) => Record<string, string>;
  /** Replaces the client's `retryWhen` for this request. */
  retryWhen?: RetryWhen;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  json<T = unknown>(): Promise<T>;
  text(): Promise<string>;
}

export interface HttpClient {
  request(method: string, path: string, opts?: HttpRequestOptions): Promise<HttpResponse>;
  /** Aborts what is in flight or waiting; idle keep-alive connections stay for the next client. */
  stop(): Promise<void>;
}

export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([408, 425, 429, 500, 502, 503, 504]);
const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

const DEFAULTS = {
  timeoutMs: 30_000,
  retries: 5,
  minBackoffMs: 500,
  maxBackoffMs: 30_000,
  maxRetryAfterMs: 300_000,
  maxResponseBytes: 50 * 1024 * 1024,
};

/** Header names whose values are credentials: redacted from any message. */
const SECRET_HEADER = /auth|key|token|secret|signature|cookie|session|password/i;

/**
 * Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): a
 * uniformly random wait between 0 and min(cap, base × 2^(retry − 1)), so
 * clients that failed together do not retry together.
 */
export function backoffDelay(retry: number, minBackoffMs: number, maxBackoffMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxBackoffMs, minBackoffMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * A wait announced as a point in time: Unix epoch seconds (X's
 * x-rate-limit-reset, Braze's X-RateLimit-Reset), as milliseconds from
 * `now`. A value below 10^9 (a date before 2001) can only be a number of
 * seconds to wait, and is read as one. Undefined when absent or unreadable.
 */
export function parseRateLimitReset(value: string | undefined, now: number = Date.now()): number | undefined {
  const v = value?.trim();
  if (!v || !/^\d+(\.\d+)?$/.test(v)) return undefined;
  const n = Number(v);
  if (n < 1e9) return Math.ceil(n * 1000);
  return Math.max(0, Math.ceil(n * 1000 - now));
}

/** How a rate-limit header states its wait: seconds to wait, or the epoch second the window reopens. */
export interface WaitHeader {
  name: string;
  kind: 'seconds' | 'epoch';
}

/**
 * A `retryWhen` hook for vendors that announce the wait of a 429 in headers
 * of their own: Retry-After still comes first; without it, the first of
 * `headers` that reads as a wait is the wait. A 429 with none of them is left
 * to the usual backoff.
 */
export function waitFromHeaders(headers: readonly WaitHeader[], statuses: readonly number[] = [429]): RetryWhen {
  return (res) => {
    if (!statuses.includes(res.status) || parseRetryAfter(res.headers['retry-after']) !== undefined) return undefined;
    for (const h of headers) {
      const raw = res.headers[h.name.toLowerCase()];
      const ms = h.kind === 'epoch' ? parseRateLimitReset(raw) : parseRetryAfter(raw);
      if (ms !== undefined) return { retryAfterMs: ms };
    }
    return undefined;
  };
}

/** A failure worth another attempt; becomes a ConnectorError when attempts run out. */
class TransientFailure extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
    /** A retryWhen hook's own words, for the retry log. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

const ABORTED = Symbol('aborted');
const TIMED_OUT = Symbol('timed out');

function excerptOf(text: string, secrets: readonly string[]): string {
  const oneLine = redactSecrets(text, secrets).replace(/\s+/g, ' ').trim();
  if (oneLine === '') return '';
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine;
}

function errorCodeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  const inner = (err as { errors?: unknown } | null)?.errors;
  if (Array.isArray(inner)) {
    for (const e of inner) {
      const c = (e as { code?: unknown } | null)?.code;
      if (typeof c === 'string') return c;
    }
  }
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause && cause !== err) return errorCodeOf(cause);
  return undefined;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function joinUrl(base: URL, path: string): URL {
  if (/^https?:\/\//i.test(path)) {
    const u = new URL(path);
    // Credentials in the client's headers must not travel to another host.
    if (u.origin !== base.origin) {
      throw new ConnectorError(`expected a path on ${base.origin}, but got a URL on ${u.origin}`, 'REQUEST_INVALID', false);
    }
    return u;
  }
  const prefix = base.pathname.replace(/\/+$/, '');
  const rel = path.startsWith('/') ? path : `/${path}`;
  const u = new URL(base.origin);
  const q = rel.indexOf('?');
  u.pathname = prefix + (q === -1 ? rel : rel.slice(0, q));
  if (q !== -1) u.search = rel.slice(q);
  return u;
}

function normaliseHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

// Connections outlive clients. Connectors make a client per call, and a fresh
// connection for every batch (a TCP and TLS handshake with the vendor) cost
// more than many batches themselves. One undici Agent per connection setting
// keeps sockets alive between calls, per origin; idle ones close on their own
// after undici's keep-alive timeout and never hold the process open. A
// request that is aborted or times out destroys its own socket only.
const agents = new Map<string, Agent>();

function sharedAgent(connectTimeoutMs: number, connections: number | undefined): Agent {
  const key = `${connectTimeoutMs}:${connections ?? 'unlimited'}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent({ connect: { timeout: connectTimeoutMs }, ...(connections ? { connections } : {}) });
    agents.set(key, agent);
  }
  return agent;
}

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  let base: URL;
  try {
    base = new URL(opts.baseUrl);
  } catch {
    throw new ConnectorError('expected an absolute http:// or https:// base URL, but got a string that does not parse as one', 'REQUEST_INVALID', false);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new ConnectorError(`expected an http:// or https:// base URL, but got the scheme "${base.protocol}"`, 'REQUEST_INVALID', false);
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  const retries = opts.retries ?? DEFAULTS.retries;
  const minBackoffMs = opts.minBackoffMs ?? DEFAULTS.minBackoffMs;
  const maxBackoffMs = opts.maxBackoffMs ?? DEFAULTS.maxBackoffMs;
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs;
  const maxResponseBytes = opts.maxResponseBytes ?? DEFAULTS.maxResponseBytes;
  const logger = opts.logger;

  // stop() aborts everything through this; the caller's signal does the same.
  const stopper = new AbortController();
  // Every request in flight or waiting listens on it: at a connector's full
  // concurrency that is more than Node's default warning threshold of 10.
  setMaxListeners(0, stopper.signal);
  const onOuterAbort = () => stopper.abort(opts.signal?.reason);
  if (opts.signal?.aborted) stopper.abort(opts.signal.reason);
  else opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = stopper.signal;

  const agent = sharedAgent(Math.min(timeoutMs, 10_000), opts.rateLimit ? Math.max(1, opts.rateLimit.concurrency) : undefined);

  // Every attempt, retries included, takes a slot: a retry storm cannot
  // exceed the destination's limits.
  const limiter = opts.rateLimit
    ? new Bottleneck({
        maxConcurrent: Math.max(1, Math.floor(opts.rateLimit.concurrency)),
        minTime: opts.rateLimit.requestsPerSecond > 0 ? Math.ceil(1000 / opts.rateLimit.requestsPerSecond) : 0,
      })
    : null;

  const baseSecrets = Object.entries(opts.headers ?? {})
    .filter(([name]) => SECRET_HEADER.test(name))
    .map(([, v]) => v);

  const abortedError = (method: string, path: string) =>
    new ConnectorError(`${method} ${path}: cancelled before the destination confirmed it`, 'ABORTED', true);

  async function attemptOnce(
    method: string,
    url: URL,
    body: string | Uint8Array | undefined,
    headers: Record<string, string>,
    attemptTimeoutMs: number,
    secrets: readonly string[],
  ): Promise<{ status: number; headers: Record<string, string>; text: string }> {
    const path = url.pathname;
    if (signal.aborted) throw new AbortError(abortedError(method, path));
    // One controller per attempt: the timeout covers headers and body, and
    // aborting it destroys the socket, so a hung server holds nothing.
    const attempt = new AbortController();
    const timer = setTimeout(() => attempt.abort(TIMED_OUT), attemptTimeoutMs);
    const onStop = () => attempt.abort(ABORTED);
    signal.addEventListener('abort', onStop, { once: true });
    try {
      const res = await undiciRequest(url, {
        method: method as 'GET',
        headers,
        body: body ?? null,
        signal: attempt.signal,
        dispatcher: agent,
        headersTimeout: attemptTimeoutMs,
        bodyTimeout: attemptTimeoutMs,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > maxResponseBytes) {
          res.body.destroy();
          throw new AbortError(
            new ConnectorError(`${method} ${path}: expected a response under ${maxResponseBytes} bytes, but it was larger`, 'RESPONSE_TOO_LARGE', false, res.statusCode),
          );
        }
        chunks.push(buf);
      }
      const text = Buffer.concat(chunks).toString('utf8');
      return { status: res.statusCode, headers: normaliseHeaders(res.headers), text };
    } catch (err) {
      if (err instanceof AbortError) throw err;
      if (attempt.signal.reason === ABORTED || signal.aborted) throw new AbortError(abortedError(method, path));
      const code = errorCodeOf(err);
      if (attempt.signal.reason === TIMED_OUT || (code !== undefined && TIMEOUT_CODES.has(code))) {
        throw new TransientFailure(`${method} ${path}: no complete response within ${attemptTimeoutMs} ms`, 'TIMEOUT');
      }
      if (code !== undefined && /^UND_ERR_(INVALID_ARG|NOT_SUPPORTED|REQ_CONTENT_LENGTH_MISMATCH)/.test(code)) {
        throw new AbortError(new ConnectorError(`${method} ${path}: the request could not be sent (${code})`, 'REQUEST_INVALID', false));
      }
      // Anything else is the network: refused, reset, closed, unresolvable.
      const reason = code ?? 'connection failed';
      const detail = err instanceof Error && code !== undefined && /^UND_ERR_SOCKET$/.test(code) ? `: ${excerptOf(err.message, secrets)}` : '';
      throw new TransientFailure(`${method} ${path}: network error (${reason}${detail})`, 'NETWORK');
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onStop);
    }
  }

  async function request(method: string, path: string, ro: HttpRequestOptions = {}): Promise<HttpResponse> {
    method = method.toUpperCase();
    const url = joinUrl(base, path);
    for (const [name, value] of Object.entries(ro.query ?? {})) {
      for (const v of Array.isArray(value) ? value : [value]) {
        if (v !== undefined && v !== null) url.searchParams.append(name, String(v));
      }
    }
    const shownPath = url.pathname;
    const headers: Record<string, string> = { ...(opts.headers ?? {}), ...(ro.headers ?? {}) };
    let body: string | Uint8Array | undefined = ro.body;
    if (ro.json !== undefined) {
      body = JSON.stringify(ro.json);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    const secrets = [
      ...baseSecrets,
      ...Object.entries(ro.headers ?? {}).filter(([n]) => SECRET_HEADER.test(n)).map(([, v]) => v),
      ...[...url.searchParams.values()],
    ];
    const attemptTimeoutMs = ro.timeoutMs ?? timeoutMs;
    const accept = new Set(ro.accept ?? []);
    const retryWhen = ro.retryWhen ?? opts.retryWhen;

    /** A transient answer: retried, or failed at once when the wait asked for is longer than Roster waits. */
    const transient = (status: number, code: string, head: string, tail: string, retryAfterMs: number | undefined, reason?: string) => {
      if (retryAfterMs !== undefined && retryAfterMs > maxRetryAfterMs) {
        return new AbortError(
          new ConnectorError(
            `${head}; the destination asked to retry after ${Math.round(retryAfterMs / 1000)} s, longer than the ${Math.round(maxRetryAfterMs / 1000)} s Roster waits within a run${tail}`,
            code,
            true,
            status,
          ),
        );
      }
      return new TransientFailure(`${head}${tail}`, code, status, retryAfterMs, reason);
    };

    const runAttempt = async (attemptNo: number) => {
      const started = Date.now();
      const signed = ro.sign ? ro.sign({ method, url, body }) : {};
      for (const [name, value] of Object.entries(signed)) if (SECRET_HEADER.test(name)) secrets.push(value);
      const res = await attemptOnce(method, url, body, { ...headers, ...signed }, attemptTimeoutMs, secrets);
      logger.debug({ method, path: shownPath, status: res.status, attempt: attemptNo, ms: Date.now() - started }, 'http response');
      const standardWait = () => (RETRY_AFTER_STATUSES.has(res.status) ? parseRetryAfter(res.headers['retry-after']) : undefined);
      const excerpt = () => {
        const e = excerptOf(res.text, secrets);
        return e ? `: ${e}` : '';
      };

      const flagged = retryWhen?.({ status: res.status, headers: res.headers, text: res.text, attempt: attemptNo });
      if (flagged) {
        const asked = flagged.retryAfterMs;
        const retryAfterMs = asked !== undefined && Number.isFinite(asked) ? Math.max(0, asked) : standardWait();
        const code = flagged.code ?? `HTTP_${res.status}`;
        if (flagged.message === undefined) throw transient(res.status, code, `${method} ${shownPath} failed with HTTP ${res.status}`, excerpt(), retryAfterMs);
        const reason = redactSecrets(flagged.message, secrets).replace(/\s+/g, ' ').trim();
        throw transient(res.status, code, `${method} ${shownPath}: ${reason}`, '', retryAfterMs, reason);
      }

      if ((res.status >= 200 && res.status < 300) || accept.has(res.status)) return res;

      const said = excerpt();
      if (TRANSIENT_STATUSES.has(res.status)) {
        throw transient(res.status, `HTTP_${res.status}`, `${method} ${shownPath} failed with HTTP ${res.status}`, said, standardWait());
      }
      const hint =
        res.status === 401 || res.status === 403 ? ' (the destination refused the credentials or their permissions)' : '';
      throw new AbortError(
        new ConnectorError(`${method} ${shownPath} failed with HTTP ${res.status}${hint}${said}`, `HTTP_${res.status}`, false, res.status),
      );
    };

    // Only TransientFailures are retried; anything unexpected (a throwing
    // `sign`, say) ends the request at once.
    const guarded = async (attemptNo: number) => {
      try {
        return await runAttempt(attemptNo);
      } catch (err) {
        if (err instanceof TransientFailure || err instanceof AbortError) throw err;
        throw new AbortError(err instanceof Error ? err : new Error(String(err)));
      }
    };

    const limited = (attemptNo: number) => {
      if (!limiter) return guarded(attemptNo);
      const job = limiter.schedule(() => (signal.aborted ? Promise.reject(new AbortError(abortedError(method, shownPath))) : guarded(attemptNo)));
      // A job still queued when the caller aborts runs later and fails at
      // once; nobody awaits it then.
      job.catch(() => {});
      return new Promise<Awaited<ReturnType<typeof guarded>>>((resolve, reject) => {
        const onAbort = () => reject(new AbortError(abortedError(method, shownPath)));
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        job.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
    };

    // p-retry rejects with the most frequent error; the last one says more.
    let lastFailure: TransientFailure | undefined;
    let res: Awaited<ReturnType<typeof runAttempt>>;
    try {
      res = await pRetry(limited, {
        retries,
        // p-retry's own timer is zeroed: the wait happens in onFailedAttempt,
        // where full jitter and Retry-After can be applied and aborted.
        factor: 1,
        minTimeout: 0,
        maxTimeout: 0,
        randomize: false,
        onFailedAttempt: async (err) => {
          if (!(err instanceof TransientFailure)) return;
          lastFailure = err;
          if (err.retriesLeft <= 0) return;
          const retry = err.attemptNumber;
          const waitMs = Math.max(err.retryAfterMs ?? 0, backoffDelay(retry, minBackoffMs, maxBackoffMs));
          logger.warn(
            { method, path: shownPath, status: err.status, code: err.code, ...(err.reason ? { reason: err.reason } : {}), attempt: err.attemptNumber, waitMs },
            'transient failure, retrying',
          );
          try {
            await sleep(waitMs, signal);
          } catch {
            throw abortedError(method, shownPath);
          }
        },
      });
    } catch (err) {
      if (err instanceof ConnectorError) throw err;
      if (err instanceof TransientFailure) {
        const last = lastFailure ?? err;
        const attempts = retries + 1;
        throw new ConnectorError(`${last.message} (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'})`, last.code, true, last.status);
      }
      throw err;
    }

    const text = res.text;
    return {
      status: res.status,
      headers: res.headers,
      text: async () => text,
      json: async <T>() => {
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new ConnectorError(
            `${method} ${shownPath}: expected a JSON response, but got ${text.trim() === '' ? 'an empty body' : `"${excerptOf(text, secrets)}"`}`,
            'INVALID_RESPONSE',
            false,
            res.status,
          );
        }
      },
    };
  }

  return {
    request,
    async stop() {
      opts.signal?.removeEventListener('abort', onOuterAbort);
      if (!signal.aborted) stopper.abort(ABORTED);
      if (limiter) await limiter.stop({ dropWaitingJobs: true }).catch(() => {});
    },
  };
}
