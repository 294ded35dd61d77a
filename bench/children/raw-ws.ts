// The fan-out lower bound: a raw `ws` server that LISTENs on a PostgreSQL
// channel (the same LISTEN/NOTIFY hop Roster's events take between
// processes) and sends each notification's payload, as is, to every client.
// No GraphQL, no per-subscriber execution, no auth.
import { WebSocketServer } from 'ws';
import pg from 'pg';
import type { AddressInfo } from 'node:net';

const channel = process.env.RAW_CHANNEL ?? 'bench_fanout_raw';
const listener = new pg.Client({ connectionString: process.env.RAW_DATABASE_URL });
await listener.connect();
await listener.query(`LISTEN ${channel}`);
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
listener.on('notification', (n) => {
  const payload = n.payload ?? '';
  for (const client of wss.clients) client.send(payload);
});
process.on('SIGTERM', () => {
  for (const c of wss.clients) c.terminate();
  wss.close(() => void listener.end().finally(() => process.exit(0)));
});
wss.on('listening', () => process.send!({ type: 'ready', port: (wss.address() as AddressInfo).port }));
