// The app on a real socket: HTTP, health and readiness, GraphiQL, and
// graphql-ws on the same port and path, authenticated by connectionParams.
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { useTestApp } from './support/app.js';

const t = await useTestApp();
const { token } = await t.workspace('acme');
const { port } = await t.app.start(0, '127.0.0.1');
const base = `http://127.0.0.1:${port}`;
const wsUrl = `ws://127.0.0.1:${port}/graphql`;

function wsClient(connectionParams: Record<string, unknown> | undefined) {
  return createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true });
}

function once<T>(client: ReturnType<typeof createClient>, query: string): Promise<{ data?: T; errors?: unknown[] }> {
  return new Promise((resolve, reject) => {
    let result: { data?: T; errors?: unknown[] } = {};
    client.subscribe<T>({ query }, {
      next: (value) => {
        result = value as typeof result;
      },
      error: reject,
      complete: () => resolve(result),
    });
  });
}

describe('a server on port 0', () => {
  afterAll(async () => {
    await t.app.stop();
  });

  it('answers GraphQL over HTTP with a bearer token', async () => {
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { workspace { slug } } }' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { viewer: { workspace: { slug: 'acme' } } } });
  });

  it('serves health, readiness and GraphiQL', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    const page = await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/graphiql/i);
  });

  it('runs operations over graphql-ws with the token in connectionParams', async () => {
    const client = wsClient({ authorization: `Bearer ${token}` });
    try {
      const result = await once<{ viewer: { workspace: { slug: string } } }>(client, '{ viewer { workspace { slug } } }');
      expect(result.data).toEqual({ viewer: { workspace: { slug: 'acme' } } });
      // The short form { token } works too.
      const short = wsClient({ token });
      expect((await once(short, '{ viewer { workspace { slug } } }')).data).toBeTruthy();
      await short.dispose();
    } finally {
      await client.dispose();
    }
  });

  it('refuses a WebSocket connection with a bad token (4403)', async () => {
    const client = wsClient({ authorization: 'Bearer rst_wrong' });
    const closed = new Promise<number>((resolve) => client.on('closed', (event) => resolve((event as { code: number }).code)));
    const outcome = once(client, '{ viewer { workspace { slug } } }').catch((err) => err);
    expect(await closed).toBe(4403);
    await outcome;
    await client.dispose();
  });

  it('without a token over WebSocket, operations get an authentication error', async () => {
    const client = wsClient(undefined);
    try {
      const result = await once(client, '{ viewer { workspace { slug } } }').catch((errors) => ({ errors }));
      expect(JSON.stringify(result.errors)).toMatch(/UNAUTHENTICATED|authentication required/);
    } finally {
      await client.dispose();
    }
  });

  it('stops cleanly: open WebSockets are closed with 1001 and the port is released', async () => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await t.app.stop();
    expect(await closed).toBe(1001);
    await expect(fetch(`${base}/health`)).rejects.toThrow();
  });
});

