// One POST of a webhook body to the bench's receiver, signed as the webhook
// connector signs it (a fresh timestamp, HMAC-SHA256 over "<timestamp>.<body>"),
// its answer read whole: what the bare and durable clients send per batch.
import type { Pool } from 'undici';
import { webhookSignature } from '../../src/connectors/webhook/index.js';

export async function postSigned(pool: Pool, path: string, secret: string, body: Buffer): Promise<void> {
  const timestamp = Math.floor(Date.now() / 1000);
  const res = await pool.request({
    method: 'POST',
    path,
    body,
    headers: { 'content-type': 'application/json', 'x-roster-timestamp': String(timestamp), 'x-roster-signature': webhookSignature(secret, timestamp, body) },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`expected 200 from the receiver, but got ${res.statusCode}: ${text}`);
}
