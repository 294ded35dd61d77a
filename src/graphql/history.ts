// Relay connections over histories (src/history.ts): a page per parent, the
// pages of every parent of a request's list read together (one batch per
// list and page), each bounded by the page's size however long the history.
import DataLoader from 'dataloader';
import { createContextCache } from '@pothos/core';
import { formatPrismaCursor, parsePrismaCursor } from '@pothos/plugin-prisma';
import { resolveCursorConnection, type DefaultConnectionArguments } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import type { Context } from '../context.js';
import { CONNECTION_SIZE } from './builder.js';
import { historyPages, InvalidCursorError, newest, type History, type PageSpec } from '../history.js';

/** Reads a list's rows by id, for the request (a by-id reader of the request's workspace). */
type Fetch<Row> = (ctx: Context, ids: string[]) => Promise<Row[]>;

// One loader per request, history and page: the parents asking for the same page share one batch.
const loaders = createContextCache(() => new Map<string, DataLoader<string, { id: string }[]>>());

function pageLoader<Row extends { id: string }>(ctx: Context, history: History, page: PageSpec, fetch: Fetch<Row>): DataLoader<string, Row[]> {
  const cache = loaders(ctx);
  const key = `${history.table}\u0000${page.limit}\u0000${page.after ?? ''}\u0000${page.before ?? ''}\u0000${page.inverted ? 1 : 0}`;
  let loader = cache.get(key);
  if (!loader) {
    loader = new DataLoader<string, { id: string }[]>((parentIds) => historyPages(ctx.services.db.pool, history, parentIds, page, (ids) => fetch(ctx, ids)));
    cache.set(key, loader);
  }
  return loader as unknown as DataLoader<string, Row[]>;
}

function cursorId(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  try {
    return String(parsePrismaCursor(cursor));
  } catch {
    throw new GraphQLError(`expected a cursor this list gave (an edge's cursor), but got "${cursor}"`, { extensions: { code: 'BAD_USER_INPUT' } });
  }
}

/** The connection of one parent's history for Relay's arguments; cursors are the rows' ids, as the Prisma plugin's are. */
export async function historyConnection<Row extends { id: string }>(ctx: Context, history: History, parentId: string, args: DefaultConnectionArguments, fetch: Fetch<Row>) {
  return resolveCursorConnection<Promise<Row[]>>({ args, toCursor: (row: Row) => formatPrismaCursor(row, 'id'), defaultSize: CONNECTION_SIZE.default, maxSize: CONNECTION_SIZE.max }, async ({ after, before, limit, inverted }) => {
    const page = { limit, after: cursorId(after), before: cursorId(before), inverted };
    try {
      return await pageLoader(ctx, history, page, fetch).load(parentId);
    } catch (err) {
      if (err instanceof InvalidCursorError) throw new GraphQLError(err.message, { extensions: { code: 'BAD_USER_INPUT' } });
      throw err;
    }
  });
}

/** Each parent's newest row (a `load` of Pothos's loadable fields), read by `fetch`; null where it has none. */
export function newestOf<Row extends { id: string }>(ctx: Context, history: History, parentIds: readonly string[], fetch: Fetch<Row>): Promise<(Row | null)[]> {
  return newest(ctx.services.db.pool, history, parentIds, (ids) => fetch(ctx, ids));
}
