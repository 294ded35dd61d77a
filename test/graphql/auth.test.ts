import { describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth.js';
import { ok, useTestApp } from '../support/app.js';

const t = await useTestApp();
const { workspaceId, token } = await t.workspace('acme', ['ADMIN']);

const VIEWER = '{ viewer { workspace { name slug } scopes token { name prefix } } }';

describe('authentication', () => {
  it('answers a valid token with its workspace', async () => {
    const data = ok(await t.gql(token, VIEWER));
    expect(data.viewer.workspace).toEqual({ name: 'acme', slug: 'acme' });
    expect(data.viewer.scopes.sort()).toEqual(['ADMIN', 'READ', 'WRITE']);
    expect(token.startsWith(data.viewer.token.prefix)).toBe(true);
  });

  it('refuses a request without a token with an authentication error', async () => {
    const res = await t.gql(undefined, VIEWER);
    expect(res.data?.viewer ?? null).toBeNull();
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.errors?.[0]?.message).toMatch(/Authorization: Bearer/);
  });

  it('refuses an unknown token with HTTP 401', async () => {
    const res = await t.gql('rst_not-a-real-token', VIEWER);
    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.errors?.[0]?.message).toMatch(/invalid API token/);
  });

  it('refuses a malformed Authorization header, saying what form is expected', async () => {
    const res = await t.gql(undefined, VIEWER, {}, { authorization: `Token ${token}` });
    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.message).toMatch(/expected an Authorization header of the form "Bearer <token>"/);
  });

  it('refuses a revoked token and an expired one', async () => {
    const revoked = await t.tokenFor(workspaceId, ['READ']);
    await t.services.db.prisma.apiToken.update({ where: { tokenHash: hashToken(revoked) }, data: { revokedAt: new Date() } });
    const r1 = await t.gql(revoked, VIEWER);
    expect(r1.status).toBe(401);
    expect(r1.errors?.[0]?.message).toMatch(/was revoked/);

    const expired = await t.tokenFor(workspaceId, ['READ'], { expiresAt: new Date(Date.now() - 1000) });
    const r2 = await t.gql(expired, VIEWER);
    expect(r2.status).toBe(401);
    expect(r2.errors?.[0]?.message).toMatch(/expired/);
  });

  it('stores only a hash of each token', async () => {
    const rows = await t.db.pool.query('SELECT * FROM "ApiToken"');
    const dump = JSON.stringify(rows.rows);
    expect(dump).not.toContain(token);
    expect(dump).toContain(hashToken(token));
  });
});

describe('scopes', () => {
  const createSource = `mutation($input: CreateSourceInput!) { createSource(input: $input) { __typename } }`;
  const createToken = `mutation { createApiToken(input: { name: "ci", scopes: [READ] }) { __typename ... on CreateApiTokenPayload { created { token apiToken { name scopes } } } } }`;

  it('read tokens may query but not mutate', async () => {
    const read = await t.tokenFor(workspaceId, ['READ']);
    ok(await t.gql(read, VIEWER));
    const res = await t.gql(read, createSource, { input: { name: 'x', url: 'postgresql://h/db' } });
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(res.errors?.[0]?.message).toMatch(/Mutation.createSource/);
  });

  it('write tokens may mutate but not manage tokens; admin tokens may', async () => {
    const write = await t.tokenFor(workspaceId, ['WRITE']);
    const denied = await t.gql(write, createToken);
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const listDenied = await t.gql(write, '{ apiTokens { edges { node { name } } } }');
    expect(listDenied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const created = ok(await t.gql(token, createToken)).createApiToken;
    expect(created.__typename).toBe('CreateApiTokenPayload');
    expect(created.created.apiToken).toEqual({ name: 'ci', scopes: ['READ'] });
    // The new token works, with exactly its scopes.
    const viewer = ok(await t.gql(created.created.token, VIEWER));
    expect(viewer.viewer.scopes).toEqual(['READ']);
  });

  it('revoking a token through the API makes it unusable', async () => {
    const victim = await t.tokenFor(workspaceId, ['READ']);
    const { viewer } = ok(await t.gql(victim, '{ viewer { token { id } } }'));
    const res = ok(await t.gql(token, `mutation($id: ID!) { revokeApiToken(id: $id) { __typename ... on RevokeApiTokenPayload { apiToken { revokedAt } } } }`, { id: viewer.token.id }));
    expect(res.revokeApiToken.apiToken.revokedAt).toBeTruthy();
    expect((await t.gql(victim, VIEWER)).status).toBe(401);
  });

  it('validates token creation input', async () => {
    const res = ok(await t.gql(token, `mutation { createApiToken(input: { name: " ", scopes: [], expiresAt: "2001-01-01T00:00:00Z" }) { __typename ... on ValidationError { problems { path message } } } }`));
    expect(res.createApiToken.__typename).toBe('ValidationError');
    expect(res.createApiToken.problems.map((p: { path: string[] }) => p.path.join('.'))).toEqual(['input.name', 'input.scopes', 'input.expiresAt']);
  });
});
