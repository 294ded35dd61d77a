// The delivery lower bound: a bare HTTP client posting the same batches to
// the same receiver. Untimed, it rebuilds the exact request bodies Roster sent
// (the snapshot holds every delivered row, in the run's order, with the
// payload that was sent, as text: the body is the webhook connector's own
// webhookBody of the same rows) and keeps them in memory; timed, it signs each body
// with a fresh timestamp as the webhook connector does and POSTs them over
// keep-alive connections, as many at once as the run had (BARE_CONCURRENCY,
// the webhook's default), reading every answer.
// Nothing else: no database, no accounting, no retries.
import pg from 'pg';
import { Pool } from 'undici';
import { webhookBody } from '../../src/connectors/webhook/index.js';
import { postSigned } from '../lib/signed-post.js';
import { PayloadRow } from '../../src/sync/payload-row.js';

const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`expected ${name} in the environment`);
  return v;
};

async function buildBodies(): Promise<{ bodies: Buffer[]; rows: number }> {
  const client = new pg.Client({ connectionString: env('BARE_DATABASE_URL') });
  await client.connect();
  const batch = Number(env('BARE_BATCH_SIZE'));
  const audience = env('BARE_AUDIENCE');
  const bodies: Buffer[] = [];
  let rows = 0;
  try {
    await client.query('BEGIN');
    await client.query(
      `DECLARE snap NO SCROLL CURSOR FOR SELECT key, payload::text AS payload FROM ${env('BARE_SNAPSHOT_TABLE')} WHERE sync_id = $1::uuid AND audience = $2 ORDER BY audience, key`,
      [env('BARE_SYNC_ID'), audience],
    );
    for (;;) {
      const { rows: page } = await client.query<{ key: string; payload: string }>(`FETCH ${batch} FROM snap`);
      if (page.length === 0) break;
      rows += page.length;
      bodies.push(webhookBody('add', { id: audience, name: audience }, page.map((r) => new PayloadRow(r.key, r.payload))));
    }
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  return { bodies, rows };
}

async function post(bodies: Buffer[]): Promise<number> {
  const url = new URL(env('BARE_URL'));
  const secret = env('BARE_SECRET');
  const concurrency = Number(env('BARE_CONCURRENCY'));
  const pool = new Pool(url.origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  let next = 0;
  const sender = async () => {
    while (next < bodies.length) {
      await postSigned(pool, url.pathname, secret, bodies[next++]!);
    }
  };
  const start = performance.now();
  try {
    await Promise.all(Array.from({ length: concurrency }, sender));
    return performance.now() - start;
  } finally {
    await pool.close();
  }
}

process.on('message', async (msg: { type: string; repeat?: number }) => {
  try {
    if (msg.type === 'run') {
      const { bodies, rows } = await buildBodies();
      const bytes = bodies.reduce((n, b) => n + b.length, 0);
      const times: number[] = [];
      const cpu = process.cpuUsage(); // of the posting only, not of building the bodies
      for (let i = 0; i < (msg.repeat ?? 1); i++) times.push(await post(bodies));
      const used = process.cpuUsage(cpu);
      process.send!({ type: 'run', rows, requests: bodies.length, bytes, times, cpuSeconds: (used.user + used.system) / 1e6 });
    } else if (msg.type === 'stop') process.exit(0);
  } catch (err) {
    process.send!({ type: 'error', error: (err as Error).stack ?? String(err) });
  }
});
process.send!({ type: 'ready' });
