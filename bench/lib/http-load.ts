// HTTP load: autocannon for throughput under concurrency, and a sequential
// client (one keep-alive connection) for per-request latency.
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { percentile, round } from './stats.js';

export interface LoadResult {
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
  durationSeconds: number;
}

/**
 * POSTs `body` to `url` for `seconds` over `connections` connections. Each
 * request carries the next of `tokens` (Roster limits each token's rate; the
 * rotation keeps every token under its limit, so what is measured is the work
 * of a request, not the limiter's refusals).
 */
export async function load(url: string, body: string, opts: { seconds: number; connections: number; tokens?: string[] }): Promise<LoadResult> {
  const tokens = opts.tokens ?? [];
  let i = 0;
  const result = await autocannon({
    url,
    connections: opts.connections,
    duration: opts.seconds,
    requests: [
      {
        method: 'POST',
        path: new URL(url).pathname,
        body,
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        setupRequest: (req: { headers?: Record<string, string> }) =>
          tokens.length ? { ...req, headers: { ...req.headers, authorization: `Bearer ${tokens[i++ % tokens.length]}` } } : req,
      },
    ],
  });
  return {
    requestsPerSecond: round(result.requests.average, 1),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    durationSeconds: result.duration,
  };
}

/** Sends `n` requests one after the other; returns each one's latency in ms (body read, status checked). */
export async function sequential(url: string, n: number, next: (i: number) => { body: string; token?: string }, check?: (text: string) => void): Promise<number[]> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: 1, keepAliveTimeout: 30_000 });
  const times: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const { body, token } = next(i);
      const start = performance.now();
      const res = await pool.request({
        method: 'POST',
        path: u.pathname,
        body,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      const text = await res.body.text();
      times.push(performance.now() - start);
      if (res.statusCode !== 200) throw new Error(`expected HTTP 200, but got ${res.statusCode}: ${text.slice(0, 300)}`);
      check?.(text);
    }
  } finally {
    await pool.close();
  }
  return times;
}

export function latencySummary(times: number[]) {
  return { p50Ms: round(percentile(times, 50), 2), p99Ms: round(percentile(times, 99), 2), n: times.length };
}
