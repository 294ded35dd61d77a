// 4. Fan-out: N graphql-ws subscribers (one WebSocket each) on one sync's
// syncRunProgress, on a real `roster serve`, while a real run (runSync, here,
// publishing through the PostgreSQL event target as a worker does) delivers
// rows and publishes its progress. Delivery latency = the subscriber's clock
// when the parsed event reached it minus the publisher's clock when the run
// published it (process.hrtime: one monotonic clock for every process).
// Lower bound, in the same run: a raw `ws` broadcast of the same payloads
// (the graphql-ws messages Roster sends), published through the same
// LISTEN/NOTIFY hop by an identical run, to N raw ws clients.
import pg from 'pg';
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { BenchContext } from '../lib/context.js';
import { createBenchWorkspace, rosterEnv } from '../lib/env.js';
import { forkChild, serveNodeArgs, spawnRoster, waitForHttp } from '../lib/children.js';
import { evaluate, runInProcess, segment, sync, webhookDestination, SINK_SECRET } from '../lib/roster.js';
import { percentile, round } from '../lib/stats.js';
import type { ScenarioResult } from '../lib/results.js';
import { freePort } from '../../src/embedded.js';
import { createPgEventTarget, createRosterPubSub, type RosterPubSub, type SyncRunProgressPayload } from '../../src/graphql/pubsub.js';

const RAW_CHANNEL = 'bench_fanout_raw';

function keyOf(p: SyncRunProgressPayload): string {
  return `${encodeGlobalID('SyncRun', p.runId)}|${p.phase}|${p.delivered.ADD}|${p.delivered.REMOVE}|${p.delivered.UPDATE}|${p.rejected}`;
}

/** The graphql-ws "next" message Roster sends for a progress event (same fields, same order). */
function graphqlWsMessage(p: SyncRunProgressPayload): string {
  const counts = (c: SyncRunProgressPayload['planned']) => ({ adds: c.ADD, removes: c.REMOVE, updates: c.UPDATE });
  return JSON.stringify({
    id: '00000000-0000-4000-8000-000000000000',
    type: 'next',
    payload: {
      data: {
        syncRunProgress: {
          runId: encodeGlobalID('SyncRun', p.runId),
          phase: p.phase,
          percent: p.percent,
          rowsPerSecond: p.rowsPerSecond,
          etaSeconds: p.etaSeconds,
          rejected: p.rejected,
          planned: counts(p.planned),
          done: counts(p.delivered),
        },
      },
    },
  });
}

function warmupPayload(workspaceId: string, syncId: string): SyncRunProgressPayload {
  const zero = { ADD: 0, REMOVE: 0, UPDATE: 0 };
  return { workspaceId, syncId, runId: 'warmup', phase: 'PLANNING', planned: zero, delivered: zero, rejected: 0, percent: 0, rowsPerSecond: 0, etaSeconds: null };
}

export async function fanoutScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { services, db, opts, log } = ctx;
  const sink = forkChild('webhook-sink.ts', { SINK_SECRET }, 'sink');
  const subscribers = forkChild('subscribers.ts', {}, 'subscribers');
  let serve: ReturnType<typeof spawnRoster> | undefined;
  let raw: ReturnType<typeof forkChild> | undefined;
  const events = createPgEventTarget({ connectionString: db.url, logger: ctx.logger });
  const notifier = new pg.Client({ connectionString: db.url });
  const savedPubsub = services.pubsub;
  try {
    const { port: sinkPort } = await sink.next<{ port: number }>('ready');
    await subscribers.next('ready');
    subscribers.on<{ message: string }>('log', (m) => log(`  [subscribers] ${m.message}`));
    const ws = await createBenchWorkspace(services, db.url, 'Fanout', Math.ceil(opts.subscribers / 10));
    const destination = await webhookDestination(services, ws, sinkPort, opts.batchSize);
    const seg = await segment(services, ws, `First ${opts.fanoutRows} users`, { attribute: { path: 'id', op: 'LTE', value: opts.fanoutRows } });
    await evaluate(services, seg.id);
    const base = { segmentId: seg.id, destinationId: destination.id, mappings: [{ from: 'first_name', to: 'first_name' }, { from: 'company.name', to: 'company' }] };
    const rosterSync = await sync(services, ws, { ...base, audience: { target: 'CREATE_BY_NAME', name: 'Fanout Roster' } });
    const rawSync = await sync(services, ws, { ...base, audience: { target: 'CREATE_BY_NAME', name: 'Fanout raw' } });

    // ── Roster: graphql-ws on roster serve ───────────────────────────────────
    const port = await freePort();
    serve = spawnRoster('serve', rosterEnv(db.url, { PORT: String(port), HOST: '127.0.0.1' }), 'serve', serveNodeArgs());
    await waitForHttp(`http://127.0.0.1:${port}/ready`);
    await events.start();
    const pubsub = createRosterPubSub(events);
    const published = new Map<string, number>();
    const recording = (inner: (topic: string, id: string, payload: unknown) => void) =>
      ({
        publish: (topic: string, id: string, payload: SyncRunProgressPayload) => {
          if (topic === 'syncRunProgress' && payload.runId !== 'warmup') published.set(keyOf(payload), Number(process.hrtime.bigint()));
          inner(topic, id, payload);
        },
        subscribe: () => {
          throw new Error('not in the bench publisher');
        },
      }) as unknown as RosterPubSub;

    const measure = async (mode: 'graphql-ws' | 'raw', url: string, syncId: string, publish: (topic: string, id: string, payload: unknown) => void) => {
      log(`fanout: ${opts.subscribers} ${mode} subscribers`);
      await subscribers.request({ type: 'open', mode, url, n: opts.subscribers, tokens: ws.tokens, syncId: encodeGlobalID('AudienceSync', syncId) }, 'open', 300_000);
      // Warm-up events until every subscriber has one: all are subscribed before the run starts.
      for (let i = 0; ; i++) {
        publish('syncRunProgress', syncId, warmupPayload(ws.workspaceId, syncId));
        await new Promise((r) => setTimeout(r, 250));
        const { count } = await subscribers.request<{ count: number }>({ type: 'warmed' });
        if (count === opts.subscribers) break;
        if (i > 400) throw new Error(`expected ${opts.subscribers} live subscribers, but only ${count} received the warm-up events`);
      }
      published.clear();
      services.pubsub = recording(publish);
      const run = await runInProcess(services, ws, syncId);
      services.pubsub = savedPubsub;
      await new Promise((r) => setTimeout(r, 2_000)); // the last events reach everyone
      const { received } = await subscribers.request<{ received: Record<string, number[]> }>({ type: 'results' }, 'results', 120_000);
      await subscribers.request({ type: 'close' });
      const latencies: number[] = [];
      let missing = 0;
      for (const [key, at] of published) {
        const got = received[key] ?? [];
        missing += opts.subscribers - got.length;
        for (const t of got) latencies.push((t - at) / 1e6);
      }
      const runMs = run.finishedAt!.getTime() - run.startedAt!.getTime();
      const p50 = percentile(latencies, 50);
      const p99 = percentile(latencies, 99);
      log(`  ${published.size} events × ${opts.subscribers} subscribers over a ${(runMs / 1000).toFixed(1)} s run: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, ${missing} missing`);
      return { events: published.size, deliveries: latencies.length, missing, p50, p99, max: Math.max(...latencies), runMs };
    };

    const rosterResult = await measure('graphql-ws', `ws://127.0.0.1:${port}/graphql`, rosterSync.id, (topic, id, payload) =>
      pubsub.publish(topic as 'syncRunProgress', id, payload as SyncRunProgressPayload),
    );
    await serve.stop();
    serve = undefined;

    // ── Lower bound: raw ws broadcast ────────────────────────────────────────
    raw = forkChild('raw-ws.ts', { RAW_DATABASE_URL: db.url, RAW_CHANNEL }, 'raw ws');
    const { port: rawPort } = await raw.next<{ port: number }>('ready');
    await notifier.connect();
    // Fire and forget, one connection, in order: as the event target publishes.
    let chain = Promise.resolve();
    const rawPublish = (topic: string, _id: string, payload: unknown) => {
      if (topic !== 'syncRunProgress') return;
      const message = graphqlWsMessage(payload as SyncRunProgressPayload);
      chain = chain.then(() => notifier.query('SELECT pg_notify($1, $2)', [RAW_CHANNEL, message])).then(() => {}, () => {});
    };
    const rawResult = await measure('raw', `ws://127.0.0.1:${rawPort}`, rawSync.id, rawPublish);

    const fmt = (r: typeof rosterResult) => `${r.p50.toFixed(1)} / ${r.p99.toFixed(1)} ms`;
    return {
      scenario: 'fanout',
      title: `4. Fan-out: ${opts.subscribers} graphql-ws subscribers on one sync while a run of ${opts.fanoutRows.toLocaleString('en-US')} rows publishes progress`,
      sizes: { subscribers: opts.subscribers, runRows: opts.fanoutRows, events: rosterResult.events, rawEvents: rawResult.events },
      measurements: [
        {
          what: `progress delivery latency p50 / p99 (${rosterResult.deliveries.toLocaleString('en-US')} deliveries) vs raw ws broadcast`,
          roster: fmt(rosterResult),
          lowerBound: fmt(rawResult),
          ratio: round(rosterResult.p99 / rawResult.p99, 2),
          target: 'report (ratio of p99)',
          met: null,
          values: { roster: rosterResult, raw: rawResult },
        },
        {
          what: 'events lost (subscribers × events not received)',
          roster: String(rosterResult.missing),
          lowerBound: String(rawResult.missing),
          ratio: null,
          target: '0',
          met: rosterResult.missing === 0,
        },
      ],
      raw: { roster: rosterResult, raw: rawResult },
    };
  } finally {
    services.pubsub = savedPubsub;
    await notifier.end().catch(() => {});
    await events.close().catch(() => {});
    await serve?.stop();
    await raw?.stop();
    await subscribers.stop();
    await sink.stop();
  }
}
