// The typed SDK: Roster's operations (schema/operations/*.graphql) as typed
// documents, sent with graphql-request, or by hash only for partner tokens
// that may run persisted operations only.
import { GraphQLClient, ClientError } from 'graphql-request';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';

export * from './generated/graphql.js';

export interface RosterClientOptions {
  /** The GraphQL endpoint, e.g. http://localhost:4000/graphql */
  url: string;
  token: string;
  /** Send operations by their manifest hash instead of their text (required for persistedOnly tokens). */
  persisted?: boolean;
  fetch?: typeof fetch;
}

export class RosterApiError extends Error {
  override name = 'RosterApiError';
  constructor(message: string, readonly status: number, readonly errors: { message: string; extensions?: Record<string, unknown> }[]) {
    super(message);
  }
}

type Doc<R, V> = TypedDocumentNode<R, V> & { __meta__?: { hash?: string } };

export function createRosterClient(opts: RosterClientOptions) {
  const headers = { authorization: `Bearer ${opts.token}` };
  const client = new GraphQLClient(opts.url, { headers, fetch: opts.fetch });
  const doFetch = opts.fetch ?? fetch;

  async function request<R, V extends Record<string, unknown>>(document: Doc<R, V>, ...[variables]: V extends Record<string, never> ? [] | [V] : [V]): Promise<R> {
    if (opts.persisted) {
      const hash = document.__meta__?.hash;
      if (!hash) throw new Error(`expected a document generated with persisted-document hashes, but ${print(document).slice(0, 40)}… has none`);
      const res = await doFetch(opts.url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ variables, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }),
      });
      const body = (await res.json()) as { data?: R; errors?: { message: string; extensions?: Record<string, unknown> }[] };
      if (body.errors?.length || !body.data) throw new RosterApiError(body.errors?.map((e) => e.message).join('; ') ?? `HTTP ${res.status}`, res.status, body.errors ?? []);
      return body.data;
    }
    try {
      return await client.request<R>(document as TypedDocumentNode<R, Record<string, unknown>>, variables as Record<string, unknown>);
    } catch (err) {
      if (err instanceof ClientError) {
        const errors = (err.response.errors ?? []) as { message: string; extensions?: Record<string, unknown> }[];
        throw new RosterApiError(errors.map((e) => e.message).join('; ') || err.message, err.response.status, errors);
      }
      throw err;
    }
  }

  return { request };
}

export type RosterClient = ReturnType<typeof createRosterClient>;
