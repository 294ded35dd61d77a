// 5. Record lookup: `record(entity, key) { segmentMemberships }` on the users
// entity with N evaluated segments, sequential requests with random keys over
// HTTP to a real `roster serve`: p50 / p99 latency. Lower bound, in the same
// run: bare graphql-yoga answering the same shape with one hand-written SQL
// statement (the record and its segment ids), with the same client.
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { BenchContext } from '../lib/context.js';
import { createBenchWorkspace, PLANNER_SCHEMA, rosterEnv, WAREHOUSE_SCHEMA } from '../lib/env.js';
import { forkChild, serveNodeArgs, spawnRoster, waitForHttp } from '../lib/children.js';
import { evaluate, segment } from '../lib/roster.js';
import { latencySummary, sequential } from '../lib/http-load.js';
import { round } from '../lib/stats.js';
import type { ScenarioResult } from '../lib/results.js';
import { freePort } from '../../src/embedded.js';

/** 100 segments of the kinds marketers build: attributes, many-to-one attributes, events, purchases. */
export function recordSegments(): unknown[] {
  const out: unknown[][] = [[], [], [], [], [], []];
  for (const c of ['US', 'GB', 'CA', 'DE', 'FR', 'AU', 'IN', 'NL', 'BR', 'ES', 'SE', 'JP', 'SG', 'IE']) out[0]!.push({ attribute: { path: 'country', op: 'EQ', value: c } });
  for (const p of ['free', 'trial', 'pro', 'enterprise']) out[1]!.push({ attribute: { path: 'plan', op: 'EQ', value: p } });
  for (const city of ['San Francisco', 'Los Angeles', 'New York', 'Austin', 'Seattle', 'Chicago', 'Boston', 'Denver', 'Atlanta', 'Miami', 'Portland', 'Minneapolis', 'Salt Lake City', 'Raleigh', 'Nashville', 'Toronto', 'Vancouver', 'Montreal', 'London', 'Manchester', 'Edinburgh', 'Berlin', 'Munich', 'Hamburg', 'Paris', 'Lyon', 'Sydney', 'Melbourne', 'Bengaluru', 'Mumbai']) {
    out[2]!.push({ attribute: { path: 'city', op: 'EQ', value: city } });
  }
  for (const v of [0, 100, 500, 1000, 5000]) out[3]!.push({ attribute: { path: 'lifetime_value', op: 'GT', value: v } });
  for (const d of [7, 30, 90, 180, 365]) out[3]!.push({ attribute: { path: 'signed_up_at', op: 'WITHIN_LAST', within: { last: d, unit: 'DAY' } } });
  for (const d of [1, 7, 14, 30, 60, 90]) out[3]!.push({ attribute: { path: 'last_seen_at', op: 'WITHIN_LAST', within: { last: d, unit: 'DAY' } } });
  out[3]!.push({ attribute: { path: 'phone', op: 'IS_NULL' } });
  for (const i of ['Software', 'Fintech', 'Healthcare', 'Retail', 'Manufacturing', 'Education', 'Media', 'Logistics', 'Real Estate', 'Nonprofit', 'Travel']) out[4]!.push({ attribute: { path: 'company.industry', op: 'EQ', value: i } });
  for (const c of ['US', 'GB', 'CA', 'DE', 'FR']) out[4]!.push({ attribute: { path: 'company.country', op: 'EQ', value: c } });
  for (const s of [10, 50, 200, 1000]) out[4]!.push({ attribute: { path: 'company.size', op: 'GT', value: s } });
  for (const name of ['login', 'page_view', 'feature_used', 'report_exported', 'invite_sent']) {
    for (const d of [7, 30]) out[5]!.push({ event: { relationship: 'events', within: { last: d, unit: 'DAY' }, where: { attribute: { path: 'name', op: 'EQ', value: name } } } });
  }
  for (const product of ['Product A', 'Product B', 'Product C', 'Add-on Seats', 'Support Plan']) {
    out[5]!.push({ event: { relationship: 'purchases', within: { last: 6, unit: 'MONTH' }, where: { attribute: { path: 'product', op: 'EQ', value: product } } } });
  }
  // Interleaved, so that a smaller N still mixes every kind.
  const mixed: unknown[] = [];
  for (let i = 0; mixed.length < out.reduce((n, l) => n + l.length, 0); i++) for (const l of out) if (l[i]) mixed.push(l[i]);
  return mixed;
}

const RECORD_QUERY = `query BenchRecord($entityId: ID!, $key: String!) {
  record(entityId: $entityId, key: $key) {
    __typename
    ... on QueryRecordSuccess { data { key segmentMemberships { id name } } }
    ... on Error { message }
  }
}`;
const BARE_QUERY = `query BenchRecord($key: String!) { record(key: $key) { key segmentMemberships { id } } }`;

/** Deterministic keys in 1..users. */
function keys(n: number, users: number): string[] {
  let x = 0x2545f491;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return String(1 + (x % users));
  });
}

export async function recordScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { services, db, opts, log } = ctx;
  let serve: ReturnType<typeof spawnRoster> | undefined;
  let bare: ReturnType<typeof forkChild> | undefined;
  try {
    const ws = await createBenchWorkspace(services, db.url, 'Record', 100);
    const conditions = recordSegments().slice(0, opts.segments);
    const ids: string[] = [];
    const t0 = Date.now();
    let rows = 0;
    for (const [i, condition] of conditions.entries()) {
      const seg = await segment(services, ws, `Segment ${i + 1}`, condition);
      const evaluation = await evaluate(services, seg.id);
      rows += evaluation.size ?? 0;
      ids.push(seg.id);
      if ((i + 1) % 10 === 0) log(`record: ${i + 1} segments evaluated (${rows.toLocaleString('en-US')} memberships, ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }

    const port = await freePort();
    serve = spawnRoster('serve', rosterEnv(db.url, { PORT: String(port), HOST: '127.0.0.1' }), 'serve', serveNodeArgs());
    await waitForHttp(`http://127.0.0.1:${port}/ready`);
    // Written by hand against the membership's layout: each segment's bucket
    // for the key (the low bits of its hash, as many as the segment's), one
    // probe each, the key among the bucket's few.
    const recordSql =
      `SELECT to_jsonb(u) AS record, ARRAY(SELECT s.segment_id::text FROM ${PLANNER_SCHEMA}.segment_sizes AS s ` +
      `JOIN ${PLANNER_SCHEMA}.segment_member_buckets AS b ON b.segment_id = s.segment_id AND b.bucket = (hashtextextended($1, 0) & ((1::bigint << s.bits) - 1))::int ` +
      `WHERE s.segment_id = ANY('{${ids.join(',')}}'::uuid[]) AND $1 = ANY(b.keys)) AS segments FROM ${WAREHOUSE_SCHEMA}.users AS u WHERE u.id = $1::bigint`;
    bare = forkChild('bare-yoga.ts', { BARE_DATABASE_URL: db.url, BARE_RECORD_SQL: recordSql }, 'bare yoga');
    const { port: barePort } = await bare.next<{ port: number }>('ready');

    const entityId = encodeGlobalID('Entity', ws.users);
    const lookups = keys(opts.lookups, opts.users);
    const rosterUrl = `http://127.0.0.1:${port}/graphql`;
    const bareUrl = `http://127.0.0.1:${barePort}/graphql`;
    const memberships = { roster: 0, bare: 0 };
    const rosterCall = (i: number) => ({ body: JSON.stringify({ query: RECORD_QUERY, variables: { entityId, key: lookups[i % lookups.length] } }), token: ws.tokens[i % ws.tokens.length] });
    const bareCall = (i: number) => ({ body: JSON.stringify({ query: BARE_QUERY, variables: { key: lookups[i % lookups.length] } }) });
    const checkRoster = (text: string) => {
      const body = JSON.parse(text) as { data?: { record: { __typename: string; data?: { segmentMemberships: unknown[] } } } };
      if (body.data?.record?.__typename !== 'QueryRecordSuccess') throw new Error(`expected a record, but got ${text.slice(0, 300)}`);
      memberships.roster += body.data.record.data!.segmentMemberships.length;
    };
    const checkBare = (text: string) => {
      const body = JSON.parse(text) as { data?: { record: { segmentMemberships: unknown[] } } };
      if (!body.data?.record) throw new Error(`expected a record, but got ${text.slice(0, 300)}`);
      memberships.bare += body.data.record.segmentMemberships.length;
    };
    log(`record: warm-up`);
    await sequential(rosterUrl, 200, rosterCall, checkRoster);
    await sequential(bareUrl, 200, bareCall, checkBare);
    // Interleaved halves: a burst of load from elsewhere hits both sides.
    const half = Math.ceil(opts.lookups / 2);
    memberships.roster = memberships.bare = 0;
    const rosterTimes = [...(await sequential(rosterUrl, half, rosterCall, checkRoster))];
    const bareTimes = [...(await sequential(bareUrl, half, bareCall, checkBare))];
    rosterTimes.push(...(await sequential(rosterUrl, half, (i) => rosterCall(i + half), checkRoster)));
    bareTimes.push(...(await sequential(bareUrl, half, (i) => bareCall(i + half), checkBare)));
    if (memberships.roster !== memberships.bare) throw new Error(`expected both sides to find the same memberships, but Roster found ${memberships.roster} and the bare lookup ${memberships.bare}`);
    const r = latencySummary(rosterTimes);
    const b = latencySummary(bareTimes);
    log(`  Roster p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms; bare p50 ${b.p50Ms} ms p99 ${b.p99Ms} ms; ${(memberships.roster / rosterTimes.length).toFixed(1)} segments per record`);
    return {
      scenario: 'record',
      title: `5. Record lookup: ${opts.segments} segments on ${opts.users.toLocaleString('en-US')} users, ${rosterTimes.length} sequential lookups`,
      sizes: { users: opts.users, segments: opts.segments, memberships: rows, lookups: rosterTimes.length, segmentsPerRecord: round(memberships.roster / rosterTimes.length, 1) },
      measurements: [
        {
          what: 'record(entity, key) { segmentMemberships } latency p50 / p99 vs bare yoga + one SQL statement',
          roster: `${r.p50Ms} / ${r.p99Ms} ms`,
          lowerBound: `${b.p50Ms} / ${b.p99Ms} ms`,
          ratio: round(r.p50Ms / b.p50Ms, 2),
          target: 'report (ratio of p50)',
          met: null,
          values: { roster: r, bare: b },
        },
      ],
      raw: { roster: r, bare: b, evaluationSeconds: (Date.now() - t0) / 1000, rosterTimes: rosterTimes.map((t) => round(t, 2)), bareTimes: bareTimes.map((t) => round(t, 2)) },
    };
  } finally {
    await serve?.stop();
    await bare?.stop();
  }
}
