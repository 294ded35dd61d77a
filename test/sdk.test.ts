// The typed SDK against a real server: ordinary and persisted-only tokens.
import { afterAll, describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { createRosterClient, RosterApiError, ViewerDocument, SourcesDocument, SegmentAudiencesDocument, SyncMatchRatesDocument } from '../src/sdk/client.js';

const t = await useTestApp();
const { workspaceId, token } = await t.workspace('acme');
const { port } = await t.app.start(0, '127.0.0.1');
const url = `http://127.0.0.1:${port}/graphql`;
afterAll(() => t.app.stop());

describe('the SDK', () => {
  it('runs typed operations', async () => {
    const sdk = createRosterClient({ url, token });
    const viewer = await sdk.request(ViewerDocument);
    expect(viewer.viewer.workspace.slug).toBe('acme');
    const sources = await sdk.request(SourcesDocument, { first: 5 });
    expect(sources.sources.edges).toEqual([]);
  });

  it('sends operations by hash for persisted-only tokens', async () => {
    const partner = await t.tokenFor(workspaceId, ['READ'], { persistedOnly: true });
    const persisted = createRosterClient({ url, token: partner, persisted: true });
    expect((await persisted.request(ViewerDocument)).viewer.workspace.slug).toBe('acme');
    // The audience operations are persisted too, for partner apps.
    const missing = Buffer.from('Segment:00000000-0000-4000-8000-000000000000').toString('base64');
    expect((await persisted.request(SegmentAudiencesDocument, { id: missing })).segment).toBeNull();
    const noSync = Buffer.from('AudienceSync:00000000-0000-4000-8000-000000000000').toString('base64');
    expect((await persisted.request(SyncMatchRatesDocument, { id: noSync, first: 5 })).audienceSync).toBeNull();
    const plain = createRosterClient({ url, token: partner });
    await expect(plain.request(ViewerDocument)).rejects.toThrow(/persisted operations only/);
  });

  it('reports API errors with their status and codes', async () => {
    const bad = createRosterClient({ url, token: 'rst_wrong' });
    const err = await bad.request(ViewerDocument).catch((e) => e);
    expect(err).toBeInstanceOf(RosterApiError);
    expect(err.status).toBe(401);
    expect(err.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});
