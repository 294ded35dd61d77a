// 3. API: the dashboard's list query (20 syncs, each with destination,
// segment size, last run and its counts) under autocannon against a real
// `roster serve`, and bare graphql-yoga answering `{ __typename }` under the
// same load in the same run. Then the SQL statements one dashboard request
// sends, at 5, 20 and 100 syncs: they must not grow with the list.
import type { BenchContext } from '../lib/context.js';
import { rosterEnv } from '../lib/env.js';
import { forkChild, serveNodeArgs, spawnRoster, waitForHttp } from '../lib/children.js';
import { SINK_SECRET } from '../lib/roster.js';
import { DASHBOARD_QUERY, dashboardWorkspace } from '../lib/dashboard.js';
import { load, type LoadResult } from '../lib/http-load.js';
import { countStatements } from '../lib/statements.js';
import { round } from '../lib/stats.js';
import type { Measurement, ScenarioResult } from '../lib/results.js';
import { buildApp } from '../../src/app.js';
import { freePort } from '../../src/embedded.js';

const SIZES = [5, 20, 100];
/** Tokens rotated under load: each stays far below the per-token rate limit (20/s). */
const LOAD_TOKENS = 200;

export async function apiScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { services, db, opts, log } = ctx;
  const sink = forkChild('webhook-sink.ts', { SINK_SECRET }, 'sink');
  let serve: ReturnType<typeof spawnRoster> | undefined;
  let bare: ReturnType<typeof forkChild> | undefined;
  try {
    const { port: sinkPort } = await sink.next<{ port: number }>('ready');
    const workspaces = new Map<number, Awaited<ReturnType<typeof dashboardWorkspace>>>();
    for (const n of new Set([...SIZES, opts.apiSyncs])) {
      log(`api: a workspace with ${n} syncs`);
      workspaces.set(n, await dashboardWorkspace(services, db.url, sinkPort, n, n === opts.apiSyncs ? LOAD_TOKENS : 1, opts.apiRuns));
    }

    // ── Statements per request (in this process, on the same app) ───────────
    const app = buildApp(services);
    const counter = countStatements();
    const statements: Record<number, { counts: number[]; texts: string[]; syncs: number }> = {};
    try {
      for (const n of SIZES) {
        const token = workspaces.get(n)!.tokens[0]!;
        const ask = async () => {
          const res = await app.yoga.fetch('http://bench/graphql', {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ query: DASHBOARD_QUERY, variables: { first: 100 } }),
          });
          const body = (await res.json()) as { data?: { audienceSyncs: { edges: unknown[] } }; errors?: unknown[] };
          if (body.errors?.length || !body.data) throw new Error(`expected the dashboard query to answer, but got ${JSON.stringify(body.errors)}`);
          return body.data.audienceSyncs.edges.length;
        };
        await ask(); // warm-up: the token's last-used time is written once a minute, not on every request
        await new Promise((r) => setTimeout(r, 200));
        const counts: number[] = [];
        let texts: string[] = [];
        let syncs = 0;
        for (let i = 0; i < opts.repeat; i++) {
          counter.reset();
          syncs = await ask();
          await new Promise((r) => setTimeout(r, 50));
          counts.push(counter.count);
          texts = [...counter.texts];
        }
        if (syncs !== n) throw new Error(`expected ${n} syncs in the answer, but got ${syncs}`);
        statements[n] = { counts, texts, syncs };
        log(`  ${n} syncs: ${counts.join(', ')} statements per request`);
      }
    } finally {
      counter.stop();
      await app.stop();
    }

    // ── Throughput under autocannon ──────────────────────────────────────────
    const port = await freePort();
    serve = spawnRoster('serve', rosterEnv(db.url, { PORT: String(port), HOST: '127.0.0.1' }), 'serve', serveNodeArgs());
    await waitForHttp(`http://127.0.0.1:${port}/ready`);
    bare = forkChild('bare-yoga.ts', {}, 'bare yoga');
    const { port: barePort } = await bare.next<{ port: number }>('ready');
    const dashboardBody = JSON.stringify({ query: DASHBOARD_QUERY, variables: { first: opts.apiSyncs } });
    const bareBody = JSON.stringify({ query: '{ __typename }' });
    const tokens = workspaces.get(opts.apiSyncs)!.tokens;
    const rosterUrl = `http://127.0.0.1:${port}/graphql`;
    const bareUrl = `http://127.0.0.1:${barePort}/graphql`;
    const shape = { seconds: opts.apiSeconds, connections: opts.apiConnections };
    log(`api: warm-up`);
    await load(rosterUrl, dashboardBody, { ...shape, seconds: 2, tokens });
    await load(bareUrl, bareBody, { ...shape, seconds: 2 });
    // Interleaved, so that a burst of load from elsewhere on the machine hits both sides.
    const rosterRuns: LoadResult[] = [];
    const bareRuns: LoadResult[] = [];
    for (let i = 0; i < 2; i++) {
      bareRuns.push(await load(bareUrl, bareBody, shape));
      rosterRuns.push(await load(rosterUrl, dashboardBody, { ...shape, tokens }));
      log(`  round ${i + 1}: Roster ${rosterRuns[i]!.requestsPerSecond} req/s (p99 ${rosterRuns[i]!.latencyP99Ms} ms), bare ${bareRuns[i]!.requestsPerSecond} req/s`);
    }
    const bad = [...rosterRuns, ...bareRuns].find((r) => r.non2xx || r.errors);
    if (bad) throw new Error(`expected only 2xx answers under load, but got ${bad.non2xx} non-2xx and ${bad.errors} errors`);
    const total = (runs: LoadResult[]) => ({
      rps: runs.reduce((s, r) => s + r.requests, 0) / runs.reduce((s, r) => s + r.durationSeconds, 0),
      p50: Math.max(...runs.map((r) => r.latencyP50Ms)),
      p99: Math.max(...runs.map((r) => r.latencyP99Ms)),
    });
    const r = total(rosterRuns);
    const b = total(bareRuns);

    const flat = SIZES.map((n) => Math.max(...statements[n]!.counts));
    const same = flat.every((c) => c === flat[0]);
    const measurements: Measurement[] = [
      {
        what: `dashboard query (${opts.apiSyncs} syncs), req/s under autocannon (${opts.apiConnections} connections) vs bare yoga { __typename }`,
        roster: `${round(r.rps, 0)} req/s`,
        lowerBound: `${round(b.rps, 0)} req/s`,
        ratio: round(r.rps / b.rps, 3),
        target: 'report',
        met: null,
        values: { roster: rosterRuns, bare: bareRuns },
      },
      {
        what: 'dashboard query latency p50 / p99 under that load',
        roster: `${r.p50} / ${r.p99} ms`,
        lowerBound: `${b.p50} / ${b.p99} ms`,
        ratio: null,
        target: 'report',
        met: null,
      },
      {
        what: `SQL statements per dashboard request at ${SIZES.join(' / ')} syncs`,
        roster: flat.join(' / '),
        lowerBound: '—',
        ratio: null,
        target: 'same at every size',
        met: same,
        values: Object.fromEntries(SIZES.map((n) => [n, statements[n]!.counts])),
      },
    ];
    return {
      scenario: 'api',
      title: `3. API: the dashboard query under load, and SQL statements per request`,
      sizes: { syncsUnderLoad: opts.apiSyncs, runsPerSync: opts.apiRuns, statementSizes: SIZES.join('/'), seconds: opts.apiSeconds, connections: opts.apiConnections, rounds: 2 },
      measurements,
      raw: { statements, rosterRuns, bareRuns },
    };
  } finally {
    await serve?.stop();
    await bare?.stop();
    await sink.stop();
  }
}
