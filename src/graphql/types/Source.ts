// Sources (warehouse connections) and what introspection reads from them.
import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../builder.js';
import { workspaceOf } from '../../context.js';
import { SourceStatus } from '../../generated/prisma/enums.js';
import { ConflictError, InvalidStateError, NotFoundError, SourceConnectionError, ValidationError } from '../errors.js';
import { resultOf } from '../results.js';
import { checkSource, createSource, deleteSource, updateSource, withSourcePool } from '../../warehouse/sources.js';
import { describeTable, listSchemas, listTables } from '../../warehouse/introspect.js';
import type { ColumnType, WarehouseColumn, WarehouseTable } from '../../warehouse/types.js';
import { SOURCE_ENTITIES } from '../../history.js';
import { historyConnection } from '../history.js';
import { EntityRef } from './Entity.js';

const SourceStatusEnum = builder.enumType(SourceStatus, { name: 'SourceStatus' });

export const ColumnTypeEnum = builder.enumType('ColumnType', {
  description: "A column's type family: it decides which operators and identifiers fit the column.",
  values: ['STRING', 'INTEGER', 'NUMBER', 'BOOLEAN', 'TIMESTAMP', 'DATE', 'JSON', 'UUID', 'ARRAY', 'OTHER'] as const satisfies readonly ColumnType[],
});

export const WarehouseColumnRef = builder.objectRef<WarehouseColumn>('WarehouseColumn').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    dataType: t.exposeString('dataType', { description: "The warehouse's own type name, e.g. \"timestamp with time zone\"." }),
    type: t.field({ type: ColumnTypeEnum, resolve: (c) => c.type }),
    nullable: t.exposeBoolean('nullable'),
  }),
});

const RelationKindEnum = builder.enumType('RelationKind', {
  values: ['TABLE', 'VIEW', 'MATERIALIZED_VIEW', 'FOREIGN_TABLE', 'PARTITIONED_TABLE'] as const,
});

const WarehouseTableRef = builder.objectRef<WarehouseTable>('WarehouseTable').implement({
  fields: (t) => ({
    schema: t.exposeString('schema'),
    name: t.exposeString('name'),
    kind: t.field({ type: RelationKindEnum, resolve: (x) => x.kind }),
    columns: t.field({ type: [WarehouseColumnRef], resolve: (x) => x.columns }),
    primaryKey: t.exposeStringList('primaryKey'),
  }),
});

export const SourceRef = builder.prismaNode('Source', {
  id: { field: 'id' },
  // A missing or foreign id resolves to null ("not found"), never to an error.
  nullable: true,
  findUnique: (id, ctx) => ({ id, workspaceId: workspaceOf(ctx) }),
  description: 'A warehouse connection. Its credentials are stored encrypted and never returned.',
  fields: (t) => ({
    name: t.exposeString('name'),
    connection: t.exposeString('displayUrl', { description: 'Host, port, database and user; never the password.' }),
    plannerSchema: t.exposeString('plannerSchema', { description: 'Where Roster keeps memberships and snapshots in this warehouse.' }),
    status: t.expose('status', { type: SourceStatusEnum }),
    lastError: t.exposeString('lastError', { nullable: true }),
    checkedAt: t.expose('checkedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    // A page per source, for a whole list of sources at once (src/history.ts).
    entities: t.connection(
      {
        type: EntityRef,
        resolve: (source, args, ctx) =>
          historyConnection(ctx, SOURCE_ENTITIES, source.id, args, (c, ids) => c.prisma.entity.findMany({ where: { id: { in: ids }, workspaceId: workspaceOf(c) } })),
      },
      { name: 'SourceEntitiesConnection' },
      { name: 'SourceEntitiesConnectionEdge' },
    ),
    schemas: t.field({
      type: ['String'],
      description: 'Schemas in the warehouse, read now.',
      errors: { types: [SourceConnectionError] },
      resolve: (source, _a, ctx) => withSourcePool(ctx.services, source, (pool) => listSchemas(pool)),
    }),
    tables: t.field({
      type: [WarehouseTableRef],
      description: "Tables and views this source's user can read, with their columns, read now.",
      errors: { types: [SourceConnectionError] },
      args: { schema: t.arg.string({ description: 'Only this schema.' }) },
      resolve: (source, { schema }, ctx) =>
        withSourcePool(ctx.services, source, (pool) => listTables(pool, schema ? { schema } : {})),
    }),
    table: t.field({
      type: WarehouseTableRef,
      nullable: true,
      errors: { types: [SourceConnectionError] },
      args: { schema: t.arg.string({ required: true }), name: t.arg.string({ required: true }) },
      resolve: (source, args, ctx) => withSourcePool(ctx.services, source, (pool) => describeTable(pool, args.schema, args.name)),
    }),
  }),
});

builder.queryField('sources', (t) =>
  t.prismaConnection({
    type: 'Source',
    cursor: 'id',
    resolve: (query, _root, _args, ctx) => ctx.prisma.source.findMany({ ...query, where: { workspaceId: workspaceOf(ctx) } }),
  }),
);

builder.queryField('source', (t) =>
  t.prismaField({
    type: 'Source',
    nullable: true,
    args: { id: t.arg.globalID({ required: true, for: [SourceRef] }) },
    resolve: (query, _root, { id }, ctx) =>
      ctx.prisma.source.findFirst({ ...query, where: { id: id.id, workspaceId: workspaceOf(ctx) } }),
  }),
);

const CreateSourceInput = builder.inputType('CreateSourceInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    url: t.string({ required: true, description: 'postgresql://user:password@host:5432/database — checked now, stored encrypted.' }),
    plannerSchema: t.string({ description: 'Defaults to roster_planner.' }),
  }),
});

const UpdateSourceInput = builder.inputType('UpdateSourceInput', {
  fields: (t) => ({
    name: t.string(),
    url: t.string({ description: 'A new connection URL: checked before it replaces the old one.' }),
  }),
});

const connectionErrors = [ValidationError, SourceConnectionError, ConflictError];

builder.mutationField('createSource', (t) =>
  t.field({
    type: SourceRef,
    errors: resultOf('CreateSource', 'source', connectionErrors),
    args: { input: t.arg({ type: CreateSourceInput, required: true }) },
    resolve: (_root, { input }, ctx) => createSource(ctx.services, workspaceOf(ctx), input),
  }),
);

builder.mutationField('updateSource', (t) =>
  t.field({
    type: SourceRef,
    errors: resultOf('UpdateSource', 'source', [NotFoundError, ...connectionErrors]),
    args: { id: t.arg.globalID({ required: true, for: [SourceRef] }), input: t.arg({ type: UpdateSourceInput, required: true }) },
    resolve: (_root, { id, input }, ctx) => updateSource(ctx.services, workspaceOf(ctx), id.id, input),
  }),
);

builder.mutationField('checkSource', (t) =>
  t.field({
    type: SourceRef,
    description: 'Re-checks the connection and the planner schema; the outcome is in status and lastError.',
    errors: resultOf('CheckSource', 'source', [NotFoundError]),
    args: { id: t.arg.globalID({ required: true, for: [SourceRef] }) },
    resolve: (_root, { id }, ctx) => checkSource(ctx.services, workspaceOf(ctx), id.id),
  }),
);

builder.mutationField('deleteSource', (t) =>
  t.field({
    type: 'ID',
    errors: resultOf('DeleteSource', 'deletedId', [NotFoundError, InvalidStateError]),
    args: { id: t.arg.globalID({ required: true, for: [SourceRef] }) },
    resolve: async (_root, { id }, ctx) => {
      await deleteSource(ctx.services, workspaceOf(ctx), id.id);
      return encodeGlobalID('Source', id.id);
    },
  }),
);

