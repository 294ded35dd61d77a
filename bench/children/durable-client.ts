// A second lower bound for delivery: the fastest sync written by hand that
// still does what any sync must, where the bare client (bare-client.ts) is
// handed its bodies. Timed, from nothing to every row accepted and recorded:
//
// - read: one cursor over a hand-written statement that builds each row's
//   key, hash and payload (the same JSON text Roster sends) in the key's
//   text order, fetched a batch at a time while earlier batches are on the
//   wire. A cursor runs in one backend, and sorts every row before its
//   first; in the integer key's order it streams from the users' index
//   without the sort, but the snapshot's index then takes the keys out of
//   their order, and the whole took longer (bench/README, fourteenth round);
// - send: each batch's body built by the webhook connector's own
//   webhookBody, signed and POSTed, as many at once as Roster's run had;
// - record: each confirmed batch written to a snapshot table of the same
//   shape as Roster's (logged, the same primary key and collation), by a
//   binary COPY on a second connection with synchronous_commit off (as
//   Roster's accountant), so that a crash loses no more than a sync may
//   re-send. No upsert (the table starts empty), no run history, no
//   numbering, no retries, no progress.
//
// So the fastest way to get these rows accepted and durably remembered, on
// this machine: what the delivery target's 0.7 of the bare client asks of a
// sync, measured rather than argued.
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { Pool } from 'undici';
import { webhookBody } from '../../src/connectors/webhook/index.js';
import { PayloadRow } from '../../src/sync/payload-row.js';
import { postSigned } from '../lib/signed-post.js';

const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`expected ${name} in the environment`);
  return v;
};

interface Row {
  key: string;
  hash: string;
  payload: string;
}

/** Batches written but not yet confirmed by PostgreSQL, at most, before reading waits. */
const MAX_PENDING_WRITES = 8;

const PGCOPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * A batch in PostgreSQL's binary COPY format, (sync_id uuid, audience, key,
 * payload_hash, payload text), written into one buffer: no text for the
 * server to parse or unescape, and one allocation a batch.
 */
function copyBinary(syncId: Buffer, audience: Buffer, rows: readonly Row[]): Buffer {
  // Header (signature, flags, extension length), per row a field count and five lengths, the trailer.
  let size = PGCOPY_SIGNATURE.length + 8 + 2;
  for (const r of rows) size += 2 + 5 * 4 + syncId.length + audience.length + Buffer.byteLength(r.key) + Buffer.byteLength(r.hash) + Buffer.byteLength(r.payload);
  const buf = Buffer.allocUnsafe(size);
  let at = PGCOPY_SIGNATURE.copy(buf, 0);
  at = buf.writeInt32BE(0, at);
  at = buf.writeInt32BE(0, at);
  const bytes = (b: Buffer) => {
    at = buf.writeInt32BE(b.length, at);
    at += b.copy(buf, at);
  };
  const text = (t: string) => {
    const n = buf.write(t, at + 4);
    buf.writeInt32BE(n, at);
    at += 4 + n;
  };
  for (const r of rows) {
    at = buf.writeInt16BE(5, at);
    bytes(syncId);
    bytes(audience);
    text(r.key);
    text(r.hash);
    text(r.payload);
  }
  buf.writeInt16BE(-1, at);
  return buf;
}

async function copyInto(client: pg.Client, table: string, data: Buffer): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${table} (sync_id, audience, key, payload_hash, payload) FROM STDIN (FORMAT binary)`));
  await new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
    stream.end(data);
  });
}

async function run(): Promise<{ ms: number; rows: number; requests: number }> {
  const url = new URL(env('DURABLE_URL'));
  const secret = env('DURABLE_SECRET');
  const batchSize = Number(env('DURABLE_BATCH_SIZE'));
  const concurrency = Number(env('DURABLE_CONCURRENCY'));
  const table = env('DURABLE_TABLE');
  const audience = env('DURABLE_AUDIENCE');
  const syncId = Buffer.from(env('DURABLE_SYNC_ID').replace(/-/g, ''), 'hex');
  const audienceBytes = Buffer.from(audience);
  const reader = new pg.Client({ connectionString: env('DURABLE_DATABASE_URL') });
  const writer = new pg.Client({ connectionString: env('DURABLE_DATABASE_URL') });
  const http = new Pool(url.origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  await Promise.all([reader.connect(), writer.connect()]);
  try {
    await writer.query(`TRUNCATE ${table}`);
    await writer.query('SET synchronous_commit = off');
    const start = performance.now();
    await reader.query('BEGIN');
    // The cursor sorts every row with its payload before its first row: in memory, as Roster's first plan does
    // (planMemorySettings), not in temporary files.
    await reader.query(`SET LOCAL work_mem = '256MB'`);
    await reader.query({ text: `DECLARE rows NO SCROLL CURSOR FOR ${env('DURABLE_ROWS_SQL')}`, values: JSON.parse(env('DURABLE_ROWS_VALUES')) as unknown[] });

    // The reader hands out batches in order, one fetched ahead of the
    // senders; `concurrency` senders post them; one writer records each
    // confirmed batch, in the order confirmed.
    const fetch = () => reader.query<Row>(`FETCH ${batchSize} FROM rows`).then((r) => r.rows);
    let ahead = fetch();
    const nextBatch = (): Promise<Row[]> => {
      const batch = ahead;
      ahead = batch.then((rows) => (rows.length ? fetch() : []));
      return batch;
    };
    let writes = Promise.resolve();
    let pendingWrites = 0;
    let rows = 0;
    let requests = 0;
    const sender = async () => {
      for (;;) {
        const batch = await nextBatch();
        if (batch.length === 0) return;
        await postSigned(http, url.pathname, secret, webhookBody('add', { id: audience, name: audience }, batch.map((r) => new PayloadRow(r.key, r.payload))));
        rows += batch.length;
        requests++;
        pendingWrites++;
        writes = writes.then(() => copyInto(writer, table, copyBinary(syncId, audienceBytes, batch))).finally(() => pendingWrites--);
        // A failed write is thrown where the writes are awaited, not as an unhandled rejection meanwhile.
        writes.catch(() => {});
        // Bounded memory: reading waits while PostgreSQL is behind with the records.
        while (pendingWrites > MAX_PENDING_WRITES) await writes;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, sender));
    await writes;
    await reader.query('COMMIT');
    return { ms: performance.now() - start, rows, requests };
  } finally {
    await http.close();
    await Promise.all([reader.end(), writer.end()]);
  }
}

process.on('message', async (msg: { type: string; repeat?: number }) => {
  try {
    if (msg.type === 'run') {
      const times: number[] = [];
      let last = { rows: 0, requests: 0 };
      const cpu = process.cpuUsage();
      for (let i = 0; i < (msg.repeat ?? 1); i++) {
        const r = await run();
        times.push(r.ms);
        last = r;
      }
      const used = process.cpuUsage(cpu);
      process.send!({ type: 'run', rows: last.rows, requests: last.requests, times, cpuSeconds: (used.user + used.system) / 1e6 });
    } else if (msg.type === 'stop') process.exit(0);
  } catch (err) {
    process.send!({ type: 'error', error: (err as Error).stack ?? String(err) });
  }
});
process.send!({ type: 'ready' });
