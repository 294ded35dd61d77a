// Limits of the WebSocket side: init timeout, message size, operations per connection.
import { afterAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { ok, useTestApp } from './support/app.js';
import { createShopWarehouse } from './support/warehouse.js';
import { WS_LIMITS } from '../src/app.js';

const t = await useTestApp({ jobs: true });
const { token, gql } = await t.workspace('acme');
await createShopWarehouse(t.url);
const src = ok(await gql(`mutation($url: String!) { createSource(input: { name: "S", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url }));
const ent = ok(await gql(`mutation($s: ID!) { createEntity(input: { sourceId: $s, name: "C", kind: PERSON, from: { table: { schema: "shop", name: "customers" } }, primaryKey: "id" }) { ... on CreateEntityPayload { entity { id } } } }`, { s: src.createSource.source.id }));
const seg = ok(await gql(`mutation($e: ID!) { createSegment(input: { entityId: $e, name: "All", condition: { and: [] } }) { ... on CreateSegmentPayload { segment { id } } } }`, { e: ent.createEntity.entity.id }));
const { port } = await t.app.start(0, '127.0.0.1');
const server = { wsUrl: `ws://127.0.0.1:${port}/graphql`, token, segmentId: seg.createSegment.segment.id as string };
const useTestAppServer = async () => server;
afterAll(() => t.app.stop());

describe('WebSocket hardening', () => {
  it('closes a connection that never sends connection_init (4408), and one sending an oversized message (1009)', async () => {
    const app = await useTestAppServer();
    const silent = new WebSocket(app.wsUrl, 'graphql-transport-ws');
    const code = await new Promise<number>((resolve) => silent.once('close', (c) => resolve(c)));
    expect(code).toBe(4408);

    const big = new WebSocket(app.wsUrl, 'graphql-transport-ws');
    await new Promise((resolve) => big.once('open', resolve));
    const closed = new Promise<number>((resolve) => big.once('close', (c) => resolve(c)));
    big.send('x'.repeat(WS_LIMITS.maxPayloadBytes + 1));
    expect(await closed).toBe(1009);
  }, 20_000);

  it('caps the operations running at once on one connection', async () => {
    const app = await useTestAppServer();
    const client = createClient({ url: app.wsUrl, webSocketImpl: WebSocket, connectionParams: { token: app.token }, retryAttempts: 0 });
    const errors: string[] = [];
    const disposers: (() => void)[] = [];
    try {
      for (let i = 0; i <= WS_LIMITS.maxSubscriptionsPerConnection; i++) {
        disposers.push(
          client.subscribe({ query: 'subscription($id: ID!) { segmentEvaluated(segmentId: $id) { status } }', variables: { id: app.segmentId } }, {
            next: () => {},
            error: (e) => errors.push(JSON.stringify(e)),
            complete: () => {},
          }),
        );
      }
      await vi.waitFor(() => expect(errors.length).toBe(1), { timeout: 10_000 });
      expect(errors[0]).toMatch(/at most 50 operations at once/);
    } finally {
      for (const d of disposers) d();
      await client.dispose();
    }
  }, 30_000);
});
