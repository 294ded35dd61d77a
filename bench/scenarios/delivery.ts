// 2. Delivery: a whole-entity sync of the users (every user an add) to a
// webhook destination on loopback, run by a real `roster worker` in its own
// process (pg-boss job, runSync, the webhook connector), end to end: plan,
// deliver, account. The lower bound is a bare HTTP client, in its own process,
// posting the same bodies to the same receiver (bench/children/bare-client.ts).
// The worker's peak RSS (VmHWM) is read from /proc while it runs, and the CPU
// time of every side, PostgreSQL's too when it runs on this machine.
import { availableParallelism } from 'node:os';
import PgBoss from 'pg-boss';
import type { BenchContext } from '../lib/context.js';
import { createBenchWorkspace, PLANNER_SCHEMA, rosterEnv, WAREHOUSE_SCHEMA } from '../lib/env.js';
import { handWrittenHash, handWrittenPayload, handWrittenValues } from '../lib/hand-written.js';
import { forkChild, spawnRoster } from '../lib/children.js';
import { postgresCpuMeter } from '../lib/postgres-cpu.js';
import { evaluate, segment, sync, waitForRun, webhookDestination, SINK_SECRET } from '../lib/roster.js';
import { median, round } from '../lib/stats.js';
import type { Measurement, ScenarioResult } from '../lib/results.js';
import { requestRun } from '../../src/sync/run.js';
import { startBoss, stopBoss } from '../../src/jobs/boss.js';
import { createQueues } from '../../src/jobs/queues.js';
import { WEBHOOK_DEFAULT_CONCURRENCY } from '../../src/connectors/webhook/index.js';
import { shapeSeed } from '../../src/sync/plan-sql.js';

const RSS_LIMIT_MB = 300;
/** End-to-end rows/s at least this share of the bare client's. */
const TARGET_RATIO = 0.7;
const AUDIENCE = 'Bench delivery';
/** The durable client's snapshot: Roster's snapshot's shape (logged, same key, same collations), its own rows. */
const DURABLE_SNAPSHOT = `${PLANNER_SCHEMA}.bench_durable_snapshot`;

/**
 * The durable client's statement: each row's key, hash and payload (the
 * same text Roster sends, hand-written: bench/lib/hand-written.ts), in the
 * order Roster's run sent them (the key's text, byte-wise), so that the
 * batches and bodies are the same.
 */
function durableRowsSql(mappings: { from: string; to: string }[], identifiers: { type: string; column: string }[], rows: number | null): { text: string; values: unknown[] } {
  const values = handWrittenValues(mappings, identifiers);
  return {
    text:
      `SELECT u.id::text COLLATE "C" AS key, ${handWrittenHash(values, '$1::bigint')} AS hash, ${handWrittenPayload(values, (v) => v.sql)} AS payload ` +
      `FROM ${WAREHOUSE_SCHEMA}.users AS u LEFT JOIN ${WAREHOUSE_SCHEMA}.companies AS c ON c.id = u.company_id ` +
      // A segment of the first N users (--delivery-rows), as the sync's.
      `${rows === null ? '' : 'WHERE u.id <= $2::bigint '}ORDER BY 1`,
    values: rows === null ? [shapeSeed(values)] : [shapeSeed(values), rows],
  };
}

/**
 * A row of rates, rows/s against a lower bound's: reported, or held to at
 * least `min` of it.
 */
function rateRow(what: string, rate: number, bound: number, values?: Record<string, unknown>, min?: number): Measurement {
  const perSecond = (r: number) => `${Math.round(r).toLocaleString('en-US')} rows/s`;
  const ratio = rate / bound;
  return {
    what,
    roster: perSecond(rate),
    lowerBound: perSecond(bound),
    ratio: round(ratio, 2),
    target: min === undefined ? 'report' : `≥ ${min}×`,
    met: min === undefined ? null : ratio >= min,
    ...(values ? { values } : {}),
  };
}

export async function deliveryScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { services, db, opts, log } = ctx;
  const sink = forkChild('webhook-sink.ts', { SINK_SECRET }, 'sink');
  let worker: ReturnType<typeof spawnRoster> | undefined;
  let boss: PgBoss | undefined;
  try {
    const { port } = await sink.next<{ port: number }>('ready');
    const ws = await createBenchWorkspace(services, db.url, 'Delivery');
    const destination = await webhookDestination(services, ws, port, opts.batchSize);
    const mappings = [
      { from: 'first_name', to: 'first_name' },
      { from: 'last_name', to: 'last_name' },
      { from: 'company.name', to: 'company' },
      { from: 'plan', to: 'plan' },
      { from: 'lifetime_value', to: 'lifetime_value' },
    ];
    let source: { segmentId?: string; entityId?: string };
    if (opts.deliveryRows >= opts.users) source = { entityId: ws.users };
    else {
      const seg = await segment(services, ws, `First ${opts.deliveryRows} users`, { attribute: { path: 'id', op: 'LTE', value: opts.deliveryRows } });
      await evaluate(services, seg.id);
      source = { segmentId: seg.id };
    }
    const s = await sync(services, ws, { ...source, destinationId: destination.id, audience: { target: 'CREATE_BY_NAME', name: AUDIENCE }, mappings });

    boss = await startBoss(db.url, ctx.logger, { supervise: false });
    await createQueues(boss);
    services.boss = boss;

    log(`delivery: starting roster worker`);
    // BENCH_WORKER_NODE_OPTIONS (e.g. --max-old-space-size=100, --trace-gc) and BENCH_WORKER_NODE_ARGS
    // (flags NODE_OPTIONS refuses, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof) reach the worker only, for investigations.
    const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    worker = spawnRoster('worker', rosterEnv(db.url, process.env.BENCH_WORKER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS } : {}), 'worker', nodeArgs);
    // The worker is idle until the job arrives: its resident set before the run.
    await new Promise((r) => setTimeout(r, 5_000));
    const idleRss = worker.rss();
    await sink.request({ type: 'reset' });

    const postgresCpu = await postgresCpuMeter(services.db.pool);
    const postgresCpuBefore = postgresCpu?.() ?? null;
    const workerCpuBefore = worker.cpuSeconds();
    const run = await requestRun(services, ws.workspaceId, s.id, { trigger: 'BENCH' });
    log(`delivery: run queued; ${opts.deliveryRows.toLocaleString('en-US')} adds, batches of ${opts.batchSize}`);
    const samples: { t: number; rssMb: number }[] = [];
    const t0 = Date.now();
    const sampler = setInterval(() => {
      const rss = worker!.rss();
      if (rss !== null) samples.push({ t: Date.now() - t0, rssMb: round(rss / 2 ** 20, 1) });
    }, 250);
    let lastLog = 0;
    const progress = setInterval(async () => {
      const r = await services.db.prisma.syncRun.findUnique({ where: { id: run.id } }).catch(() => null);
      if (r && Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        log(`  ${r.status} ${r.deliveredAdds.toLocaleString('en-US')} / ${r.plannedAdds.toLocaleString('en-US')} delivered, worker RSS ${((worker!.rss() ?? 0) / 2 ** 20).toFixed(0)} MB`);
      }
    }, 1_000);
    const finished = await Promise.race([
      waitForRun(services, run.id),
      worker.exited.then((code) => Promise.reject(new Error(`the worker exited (code ${code}) before the run finished`))),
    ]);
    clearInterval(sampler);
    clearInterval(progress);
    const peakRss = worker.peakRss();
    const workerCpuAfter = worker.cpuSeconds();
    const postgresCpuAfter = postgresCpu?.() ?? null;
    const workerCpu = workerCpuBefore !== null && workerCpuAfter !== null ? workerCpuAfter - workerCpuBefore : null;
    const postgresCpuUsed = postgresCpuBefore !== null && postgresCpuAfter !== null ? postgresCpuAfter - postgresCpuBefore : null;
    const received = await sink.request<{ stats: { rows: number; requests: number; bytes: number; refused: number; cpuSeconds: number } }>({ type: 'stats' });
    if (finished.status !== 'SUCCEEDED') throw new Error(`expected the run to succeed, but it ended ${finished.status}: ${finished.error}`);
    if (finished.deliveredAdds !== opts.deliveryRows || received.stats.rows !== opts.deliveryRows) {
      throw new Error(`expected ${opts.deliveryRows} adds delivered, but the run reports ${finished.deliveredAdds} and the receiver counted ${received.stats.rows}`);
    }
    const endToEndMs = finished.finishedAt!.getTime() - finished.startedAt!.getTime();
    const phases = finished.phaseDurations as Record<string, number>;
    const rosterRate = opts.deliveryRows / (endToEndMs / 1000);
    const deliverRate = opts.deliveryRows / ((phases.delivering! + phases.accounting!) / 1000);
    log(`  Roster: ${(endToEndMs / 1000).toFixed(1)} s end to end (${Math.round(rosterRate)} rows/s), phases ${JSON.stringify(phases)}, peak RSS ${((peakRss ?? 0) / 2 ** 20).toFixed(0)} MB`);
    await worker.stop();
    worker = undefined;

    // ── The bare client ──────────────────────────────────────────────────────
    await sink.request({ type: 'reset' });
    const bare = forkChild('bare-client.ts', {
      BARE_DATABASE_URL: db.url,
      BARE_SNAPSHOT_TABLE: `${PLANNER_SCHEMA}.sync_snapshot`,
      BARE_SYNC_ID: s.id,
      BARE_AUDIENCE: AUDIENCE,
      BARE_BATCH_SIZE: String(opts.batchSize),
      BARE_URL: `http://127.0.0.1:${port}/hook`,
      BARE_SECRET: SINK_SECRET,
      // As many requests at once as the run had (the destination's default).
      BARE_CONCURRENCY: String(WEBHOOK_DEFAULT_CONCURRENCY),
    }, 'bare client');
    let bareResult: { rows: number; requests: number; bytes: number; times: number[]; cpuSeconds: number };
    try {
      await bare.next('ready');
      bareResult = await bare.request({ type: 'run', repeat: opts.repeat }, 'run', 3_600_000);
    } finally {
      await bare.stop();
    }
    const bareStats = await sink.request<{ stats: { rows: number; requests: number; cpuSeconds: number } }>({ type: 'stats' });
    if (bareResult.rows !== opts.deliveryRows || bareStats.stats.rows !== opts.deliveryRows * opts.repeat) {
      throw new Error(`expected the bare client to post ${opts.deliveryRows} rows per repetition, but it posted ${bareResult.rows} (receiver: ${bareStats.stats.rows})`);
    }
    if (bareResult.requests !== received.stats.requests) {
      throw new Error(`expected the bare client to send as many requests as Roster (${received.stats.requests}), but it sent ${bareResult.requests}`);
    }
    const bareMs = median(bareResult.times);
    const bareRate = opts.deliveryRows / (bareMs / 1000);
    log(`  bare client: ${(bareMs / 1000).toFixed(1)} s (${Math.round(bareRate)} rows/s), runs ${bareResult.times.map((t) => Math.round(t)).join(', ')} ms`);

    // ── The durable client ───────────────────────────────────────────────────
    // The fastest sync written by hand that reads, sends and records what it
    // sent (bench/children/durable-client.ts): what 0.7 of the bare client
    // asks of any sync on this machine.
    await services.db.pool.query(`DROP TABLE IF EXISTS ${DURABLE_SNAPSHOT}`);
    await services.db.pool.query(`CREATE TABLE ${DURABLE_SNAPSHOT} (LIKE ${PLANNER_SCHEMA}.sync_snapshot INCLUDING ALL)`);
    await sink.request({ type: 'reset' });
    const rowsSql = durableRowsSql(mappings, s.identifiers as { type: string; column: string }[], opts.deliveryRows >= opts.users ? null : opts.deliveryRows);
    const durable = forkChild('durable-client.ts', {
      DURABLE_DATABASE_URL: db.url,
      DURABLE_ROWS_SQL: rowsSql.text,
      DURABLE_ROWS_VALUES: JSON.stringify(rowsSql.values),
      DURABLE_TABLE: DURABLE_SNAPSHOT,
      DURABLE_SYNC_ID: s.id,
      DURABLE_AUDIENCE: AUDIENCE,
      DURABLE_BATCH_SIZE: String(opts.batchSize),
      DURABLE_URL: `http://127.0.0.1:${port}/hook`,
      DURABLE_SECRET: SINK_SECRET,
      DURABLE_CONCURRENCY: String(WEBHOOK_DEFAULT_CONCURRENCY),
    }, 'durable client');
    let durableResult: { rows: number; requests: number; times: number[]; cpuSeconds: number };
    const postgresCpuBeforeDurable = postgresCpu?.() ?? null;
    try {
      await durable.next('ready');
      durableResult = await durable.request({ type: 'run', repeat: opts.repeat }, 'run', 3_600_000);
    } finally {
      await durable.stop();
    }
    const postgresCpuAfterDurable = postgresCpu?.() ?? null;
    const durableStats = await sink.request<{ stats: { rows: number; requests: number; cpuSeconds: number } }>({ type: 'stats' });
    if (durableResult.rows !== opts.deliveryRows || durableStats.stats.rows !== opts.deliveryRows * opts.repeat || durableResult.requests !== received.stats.requests) {
      throw new Error(
        `expected the durable client to post ${opts.deliveryRows} rows in ${received.stats.requests} requests per repetition, but it posted ${durableResult.rows} in ${durableResult.requests} (receiver: ${durableStats.stats.rows} rows)`,
      );
    }
    // The same rows, payloads and hashes as Roster's run recorded.
    const { rows: compared } = await services.db.pool.query<{ recorded: number; differ: number }>(
      `SELECT count(*)::int AS recorded, count(*) FILTER (WHERE s.key IS NULL OR s.payload <> d.payload OR s.payload_hash <> d.payload_hash)::int AS differ ` +
        `FROM ${DURABLE_SNAPSHOT} AS d LEFT JOIN ${PLANNER_SCHEMA}.sync_snapshot AS s ON s.sync_id = d.sync_id AND s.audience = d.audience AND s.key = d.key`,
    );
    await services.db.pool.query(`DROP TABLE ${DURABLE_SNAPSHOT}`);
    if (compared[0]!.recorded !== opts.deliveryRows || compared[0]!.differ !== 0) {
      throw new Error(`expected the durable client to record Roster's ${opts.deliveryRows} rows, but it recorded ${compared[0]!.recorded}, ${compared[0]!.differ} of them unlike Roster's`);
    }
    const durableMs = median(durableResult.times);
    const durableRate = opts.deliveryRows / (durableMs / 1000);
    const durableCpu = {
      client: durableResult.cpuSeconds / opts.repeat,
      receiver: durableStats.stats.cpuSeconds / opts.repeat,
      postgres: postgresCpuBeforeDurable !== null && postgresCpuAfterDurable !== null ? (postgresCpuAfterDurable - postgresCpuBeforeDurable) / opts.repeat : null,
    };
    log(
      `  durable client: ${(durableMs / 1000).toFixed(1)} s (${Math.round(durableRate)} rows/s), runs ${durableResult.times.map((t) => Math.round(t)).join(', ')} ms; ` +
        `CPU seconds per run: client ${durableCpu.client.toFixed(1)}, receiver ${durableCpu.receiver.toFixed(1)}, PostgreSQL ${durableCpu.postgres === null ? '?' : durableCpu.postgres.toFixed(1)}`,
    );
    // CPU seconds of the processes on each side, per run (the receiver's
    // during the bare client's runs, divided by their number). PostgreSQL's
    // during Roster's run, when it runs here (null otherwise): the bare
    // client asks nothing of it while timed.
    const cpu = {
      worker: workerCpu,
      receiverDuringRoster: received.stats.cpuSeconds,
      postgres: postgresCpuUsed,
      bareClient: bareResult.cpuSeconds / opts.repeat,
      receiverDuringBare: bareStats.stats.cpuSeconds / opts.repeat,
    };
    const s1 = (v: number | null) => (v === null ? '?' : v.toFixed(1));
    log(`  CPU seconds per run: worker ${s1(cpu.worker)}, receiver ${s1(cpu.receiverDuringRoster)}, PostgreSQL ${s1(cpu.postgres)}; bare client ${s1(cpu.bareClient)}, receiver ${s1(cpu.receiverDuringBare)}`);
    // The least time the CPU Roster's run took (its own, the receiver's, PostgreSQL's) allows on this
    // machine's cores, and so the highest ratio a run doing that work could reach here.
    const cores = availableParallelism();
    const rosterCpu = cpu.worker !== null && cpu.postgres !== null ? cpu.worker + cpu.receiverDuringRoster + cpu.postgres : null;
    const floorMs = rosterCpu === null ? null : (rosterCpu / cores) * 1000;
    const ceiling = floorMs === null ? null : bareMs / floorMs;
    if (floorMs !== null) log(`  Roster's CPU, ${s1(rosterCpu)} s on ${cores} cores, allows ${s1(floorMs / 1000)} s at the least: a ratio of ${ceiling!.toFixed(2)} at the most`);

    const peakMb = (peakRss ?? Number.NaN) / 2 ** 20;
    return {
      scenario: 'delivery',
      title: `2. Delivery: ${opts.deliveryRows.toLocaleString('en-US')} adds to a loopback webhook, batches of ${opts.batchSize}`,
      sizes: { adds: opts.deliveryRows, batchSize: opts.batchSize, requests: received.stats.requests, bytes: received.stats.bytes, bareRepeat: opts.repeat },
      measurements: [
        rateRow('end-to-end rows/s (plan + deliver + account) vs bare HTTP client, same bodies', rosterRate, bareRate, { rosterMs: endToEndMs, bareMs: round(bareMs, 1) }, TARGET_RATIO),
        rateRow('delivery phase only rows/s (deliver + account) vs bare HTTP client', deliverRate, bareRate),
        rateRow(
          'end-to-end rows/s vs a hand-written durable sync (one cursor, the same bodies, each confirmed batch recorded by COPY)',
          rosterRate,
          durableRate,
          { rosterMs: endToEndMs, durableMs: round(durableMs, 1) },
        ),
        rateRow(
          'that hand-written durable sync vs the bare client: the most any sync that records what it sent reached here',
          durableRate,
          bareRate,
          { durableMs: round(durableMs, 1), bareMs: round(bareMs, 1), durableCpu },
        ),
        {
          what: 'peak RSS of the worker process (VmHWM)',
          roster: `${peakMb.toFixed(0)} MB`,
          lowerBound: `idle ${((idleRss ?? Number.NaN) / 2 ** 20).toFixed(0)} MB`,
          ratio: null,
          target: `< ${RSS_LIMIT_MB} MB`,
          met: peakMb < RSS_LIMIT_MB,
          values: { peakRssBytes: peakRss, idleRssBytes: idleRss },
        },
        {
          what: 'CPU seconds per run: the worker, the receiver and PostgreSQL vs the bare client and the receiver',
          roster: `worker ${s1(cpu.worker)} s, receiver ${s1(cpu.receiverDuringRoster)} s, PostgreSQL ${cpu.postgres === null ? '? (not on this machine)' : `${s1(cpu.postgres)} s`}`,
          lowerBound: `client ${s1(cpu.bareClient)} s, receiver ${s1(cpu.receiverDuringBare)} s`,
          ratio: null,
          target: 'report',
          met: null,
          values: cpu,
        },
        {
          what: `the most end to end could reach here: bare client's time vs Roster's CPU (worker + receiver + PostgreSQL) over ${cores} cores`,
          roster: floorMs === null ? '? (PostgreSQL not on this machine)' : `${s1(floorMs / 1000)} s (${s1(rosterCpu)} CPU-s)`,
          lowerBound: `${s1(bareMs / 1000)} s`,
          ratio: ceiling === null ? null : round(ceiling, 2),
          target: 'report',
          met: null,
          values: { cores, rosterCpuSeconds: rosterCpu, floorMs, bareMs: round(bareMs, 1) },
        },
      ],
      raw: { phases, endToEndMs, rosterRate, deliverRate, bare: bareResult, durable: { ...durableResult, cpu: durableCpu }, rssSamples: samples, received: received.stats },
    };
  } finally {
    await worker?.stop();
    if (boss) await stopBoss(boss).catch(() => {});
    services.boss = undefined;
    await sink.stop();
  }
}
