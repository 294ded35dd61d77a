// The schema builder's configuration, and nothing else: types live in
// src/graphql/types/<Domain>.ts and are gathered by src/graphql/schema.ts.
import SchemaBuilder, { PothosValidationError } from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin, { decodeGlobalID } from '@pothos/plugin-relay';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import { GraphQLError } from 'graphql';
import type PrismaTypes from '../generated/pothos-prisma-types.js';
import { getDatamodel } from '../generated/pothos-prisma-types.js';
import type { Context } from '../context.js';

/** Every object's id is a uuid (prisma/schema.prisma). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every list is a connection: pages of 20 unless asked, never more than 100 (also src/graphql/history.ts). */
export const CONNECTION_SIZE = { default: 20, max: 100 } as const;

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { read: boolean; write: boolean; admin: boolean };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    ConditionValue: { Input: string | number | boolean; Output: string | number | boolean };
  };
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
  // Fields are non-null unless declared nullable: clients and codegen get
  // exact types, and "may be absent" is always a deliberate choice.
  DefaultFieldNullability: false;
}>({
  defaultFieldNullability: false,
  plugins: [ScopeAuthPlugin, ErrorsPlugin, PrismaPlugin, RelayPlugin, DataloaderPlugin],
  scopeAuth: {
    authScopes: (ctx) => ({
      read: ctx.auth?.scopes.has('READ') ?? false,
      write: ctx.auth?.scopes.has('WRITE') ?? false,
      admin: ctx.auth?.scopes.has('ADMIN') ?? false,
    }),
    // A missing token and a token without the scope are different mistakes;
    // say which one it is.
    unauthorizedError: (_parent, ctx, info) =>
      ctx.auth
        ? new GraphQLError(`this token may not run ${info.parentType.name}.${info.fieldName}: its scopes (${[...ctx.auth.scopes].join(', ').toLowerCase()}) do not include the one required`, {
            extensions: { code: 'FORBIDDEN', http: { status: 403 } },
          })
        : new GraphQLError('authentication required: send an API token as "Authorization: Bearer <token>"', {
            extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
          }),
  },
  prisma: {
    client: (ctx) => ctx.prisma,
    dmmf: getDatamodel(),
    filterConnectionTotalCount: true,
    defaultConnectionSize: CONNECTION_SIZE.default,
    maxConnectionSize: CONNECTION_SIZE.max,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
    // A global id whose id part is not a uuid would reach a query on a uuid
    // column and fail there as an unexpected error: it is a bad input, refused here.
    decodeGlobalID: (globalID) => {
      const decoded = decodeGlobalID(globalID);
      if (!UUID.test(decoded.id)) {
        const shown = globalID.length > 80 ? `${globalID.slice(0, 77)}…` : globalID;
        throw new PothosValidationError(`expected the global id of a ${decoded.typename}, but "${shown}" does not hold one`);
      }
      return decoded;
    },
  },
  errors: { defaultTypes: [] },
});

builder.queryType({ authScopes: { read: true } });
builder.mutationType({ authScopes: { write: true } });

/**
 * A Prisma query for a prismaField, safe when the client selected no field
 * of the object (only `__typename` of a result union): Pothos then passes
 * `{ select: {} }`, which Prisma refuses.
 */
export function selection<T extends object>(query: T): T {
  const select = (query as { select?: object }).select;
  return select && Object.keys(select).length === 0 ? { ...query, select: { id: true } } : query;
}
