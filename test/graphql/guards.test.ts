// The API under hostile use: operation limits, page sizes, per-token rate
// limits, persisted-only tokens, CSRF, and production hardening.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { useTestApp } from '../support/app.js';
import { buildApp } from '../../src/app.js';
import { OPERATION_LIMITS, TokenRateLimiter } from '../../src/graphql/guards.js';

const t = await useTestApp();
const { workspaceId, token } = await t.workspace('acme');
const manifest = JSON.parse(readFileSync(new URL('../../schema/persisted-documents.json', import.meta.url), 'utf8')) as Record<string, string>;
const viewerHash = Object.entries(manifest).find(([, text]) => text.startsWith('query Viewer'))![0];

async function post(body: unknown, tok: string | undefined = token) {
  const res = await t.app.yoga.fetch('http://roster.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(tok ? { authorization: `Bearer ${tok}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe('operation limits', () => {
  it(`refuses operations deeper than ${OPERATION_LIMITS.maxDepth}`, async () => {
    const hops = 'relationships { toEntity { '.repeat(6);
    const nested = `{ entities { edges { node { ${hops} name ${'} } '.repeat(6)} } } } }`;
    const res = await post({ query: nested });
    expect(res.body.errors?.[0]?.message).toMatch(/depth/i);
  });

  it(`refuses more than ${OPERATION_LIMITS.maxAliases} aliases`, async () => {
    const aliases = Array.from({ length: OPERATION_LIMITS.maxAliases + 5 }, (_, i) => `a${i}: viewer { scopes }`).join(' ');
    const res = await post({ query: `{ ${aliases} }` });
    expect(res.body.errors?.[0]?.message).toMatch(/aliases/i);
  });

  it('caps page sizes', async () => {
    const res = await post({ query: '{ sources(first: 1000) { edges { node { id } } } }' });
    expect(JSON.stringify(res.body)).toMatch(/100/);
    expect(res.body.data?.sources ?? null).toBeNull();
  });
});

describe('per-token rate limit', () => {
  it('a token bucket allows bursts and then a steady rate', () => {
    const limiter = new TokenRateLimiter({ perSecond: 2, burst: 3 });
    const now = 1_000_000;
    expect([1, 2, 3].map(() => limiter.take('k', now).ok)).toEqual([true, true, true]);
    expect(limiter.take('k', now)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.take('other', now).ok).toBe(true);
    expect(limiter.take('k', now + 500).ok).toBe(true);
  });

  it('answers 429 with Retry-After when a token exceeds its burst', async () => {
    const busy = await t.tokenFor(workspaceId, ['READ']);
    let last;
    for (let i = 0; i < 260; i++) {
      last = await post({ query: '{ viewer { scopes } }' }, busy);
      if (last.status === 429) break;
    }
    expect(last!.status).toBe(429);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(last!.body.errors[0].message).toMatch(/too many requests for this token/);
    // Other tokens are not affected.
    expect((await post({ query: '{ viewer { scopes } }' })).status).toBe(200);
  });
});

describe('persisted operations', () => {
  it('runs a manifest operation by its hash', async () => {
    const res = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: viewerHash } } });
    expect(res.body.data.viewer.workspace.slug).toBe('acme');
  });

  it('persisted-only tokens run manifest operations and nothing else', async () => {
    const partner = await t.tokenFor(workspaceId, ['READ'], { persistedOnly: true });
    const byHash = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: viewerHash } } }, partner);
    expect(byHash.body.data.viewer.workspace.slug).toBe('acme');
    const adHoc = await post({ query: '{ viewer { scopes } }' }, partner);
    expect(adHoc.body.data).toBeUndefined();
    expect(adHoc.body.errors[0].message).toMatch(/persisted operations only/);
    const unknown = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } }, partner);
    expect(unknown.body.errors[0].message).toMatch(/hash is unknown/);
    // Other tokens may still send any operation.
    expect((await post({ query: '{ viewer { scopes } }' })).body.data.viewer.scopes).toContain('ADMIN');
  });

  it('persisted-only tokens are held to the manifest over WebSocket too', async () => {
    const partner = await t.tokenFor(workspaceId, ['READ'], { persistedOnly: true });
    const { port } = await t.app.start(0, '127.0.0.1');
    const client = createClient({ url: `ws://127.0.0.1:${port}/graphql`, webSocketImpl: WebSocket, connectionParams: { token: partner }, retryAttempts: 0 });
    const run = (query: string) =>
      new Promise<any>((resolve) => {
        let value: any;
        client.subscribe({ query }, { next: (v) => (value = v), error: (e) => resolve({ errors: e }), complete: () => resolve(value) });
      });
    try {
      const allowed = await run(manifest[viewerHash]!);
      expect(allowed.data.viewer.workspace.slug).toBe('acme');
      const refused = await run('{ viewer { scopes } }');
      expect(JSON.stringify(refused.errors)).toMatch(/persisted operations only/);
    } finally {
      await client.dispose();
      await t.app.stop();
    }
  });
});

describe('CSRF and production', () => {
  it('refuses a GET operation without a header a browser would not send on its own', async () => {
    const res = await t.app.yoga.fetch('http://roster.test/graphql?query=%7B__typename%7D', { method: 'GET' });
    expect(res.status).toBe(403);
  });

  it('in production, introspection and GraphiQL are off', async () => {
    const production = buildApp({ ...t.services, config: { ...t.services.config, production: true } });
    try {
      const res = await production.yoga.fetch('http://roster.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ __schema { types { name } } }' }),
      });
      expect(JSON.stringify(await res.json())).toMatch(/introspection/i);
      const page = await production.yoga.fetch('http://roster.test/graphql', { headers: { accept: 'text/html' } });
      expect(await page.text()).not.toMatch(/graphiql/i);
    } finally {
      await production.stop();
    }
  });
});
