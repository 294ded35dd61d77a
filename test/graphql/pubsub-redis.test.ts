// The Redis transport, when REDIS_URL is set: two "processes" exchange events.
// Runs against the Redis at TEST_REDIS_URL or 127.0.0.1:6379; skipped, saying
// so, where none answers.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createConnection } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createRedisRosterEventTarget } from '../../src/graphql/pubsub-redis.js';
import { createRosterPubSub, type SegmentEvaluatedPayload } from '../../src/graphql/pubsub.js';

const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const reachable = await new Promise<boolean>((resolve) => {
  const u = new URL(url);
  const socket = createConnection({ host: u.hostname, port: Number(u.port || 6379) });
  socket.once('connect', () => (socket.destroy(), resolve(true)));
  socket.once('error', () => resolve(false));
});
if (!reachable) console.warn(`no Redis at ${url}: the Redis transport test is skipped`);

describe.skipIf(!reachable)('Redis event transport', () => {
  const a = createRedisRosterEventTarget({ url });
  const b = createRedisRosterEventTarget({ url });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('delivers an event published in one process to a subscriber in another, by topic and id', async () => {
    await Promise.all([a.start(), b.start()]);
    const subscriber = createRosterPubSub(a);
    const publisher = createRosterPubSub(b);
    const segment = randomUUID();
    const received: SegmentEvaluatedPayload[] = [];
    const iterator = subscriber.subscribe('segmentEvaluated', segment)[Symbol.asyncIterator]();
    const pump = (async () => {
      const next = await iterator.next();
      if (!next.done) received.push(next.value);
    })();
    await new Promise((r) => setTimeout(r, 200));
    const payload: SegmentEvaluatedPayload = { workspaceId: 'w', segmentId: segment, evaluationId: 'e', status: 'SUCCEEDED', size: 3, entered: 3, exited: 0, version: 1, evaluatedAt: new Date().toISOString(), error: null };
    publisher.publish('segmentEvaluated', randomUUID(), { ...payload, size: 99 });
    publisher.publish('segmentEvaluated', segment, payload);
    await vi.waitFor(() => expect(received).toEqual([payload]), { timeout: 5_000 });
    await pump;
    await iterator.return?.();
  });
});
