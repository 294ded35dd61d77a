// A webhook receiver on loopback, in a process of its own: what a real
// receiver must do at the least, for Roster and for the bare client alike:
// read the body, check the HMAC-SHA256 signature over "<timestamp>.<body>"
// (src/connectors/webhook/index.ts), parse the JSON and count the rows.
// The parent asks for counts over IPC.
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';

const secret = process.env.SINK_SECRET ?? '';
if (!secret) throw new Error('expected SINK_SECRET in the environment');

const stats = { requests: 0, rows: 0, bytes: 0, refused: 0, byOperation: {} as Record<string, number> };
/** The receiver's CPU time at the last reset: stats report what it used since. */
let cpuAtReset = process.cpuUsage();

function refuse(res: http.ServerResponse, status: number, message: string) {
  stats.refused++;
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: message }));
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const timestamp = String(req.headers['x-roster-timestamp'] ?? '');
    const signature = String(req.headers['x-roster-signature'] ?? '');
    const mac = createHmac('sha256', secret);
    mac.update(`${timestamp}.`);
    mac.update(body);
    const expected = Buffer.from(`sha256=${mac.digest('hex')}`);
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return refuse(res, 401, 'bad signature');
    let parsed: { operation?: string; rows?: unknown[] };
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return refuse(res, 400, 'bad JSON');
    }
    const n = Array.isArray(parsed.rows) ? parsed.rows.length : 0;
    stats.requests++;
    stats.rows += n;
    stats.bytes += body.length;
    const op = parsed.operation ?? '?';
    stats.byOperation[op] = (stats.byOperation[op] ?? 0) + n;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"rejected":[]}');
  });
});
server.keepAliveTimeout = 30_000;

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'stats') {
    const cpu = process.cpuUsage(cpuAtReset);
    process.send!({ type: 'stats', stats: { ...stats, byOperation: { ...stats.byOperation }, cpuSeconds: (cpu.user + cpu.system) / 1e6 } });
  } else if (msg.type === 'reset') {
    Object.assign(stats, { requests: 0, rows: 0, bytes: 0, refused: 0, byOperation: {} });
    cpuAtReset = process.cpuUsage();
    process.send!({ type: 'reset' });
  } else if (msg.type === 'stop') server.close(() => process.exit(0));
});

server.listen(0, '127.0.0.1', () => {
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port });
});
