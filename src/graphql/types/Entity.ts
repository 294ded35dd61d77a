// Entities (tables, views or SQL models of a source) and their relationships.
import { encodeGlobalID } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import { builder } from '../builder.js';
import { workspaceOf } from '../../context.js';
import { EntityKind, IdentifierType, RelationshipKind } from '../../generated/prisma/enums.js';
import { ConflictError, InvalidStateError, NotFoundError, SourceConnectionError, ValidationError } from '../errors.js';
import { resultOf } from '../results.js';
import {
  columnsOf,
  createEntity,
  createRelationship,
  deleteEntity,
  deleteRelationship,
  type EntityFrom,
  updateRelationship,
  updateEntity,
} from '../../warehouse/entities.js';
import { SourceRef, WarehouseColumnRef } from './Source.js';

const EntityKindEnum = builder.enumType(EntityKind, { name: 'EntityKind' });
const IdentifierTypeEnum = builder.enumType(IdentifierType, { name: 'IdentifierType' });
const RelationshipKindEnum = builder.enumType(RelationshipKind, { name: 'RelationshipKind' });

const TableRef = builder.objectRef<{ schema: string; name: string }>('TableRef').implement({
  fields: (t) => ({ schema: t.exposeString('schema'), name: t.exposeString('name') }),
});

builder.prismaObject('EntityIdentifier', {
  fields: (t) => ({
    type: t.expose('type', { type: IdentifierTypeEnum }),
    column: t.exposeString('column'),
  }),
});

export const EntityRef = builder.prismaNode('Entity', {
  id: { field: 'id' },
  // A missing or foreign id resolves to null ("not found"), never to an error.
  nullable: true,
  findUnique: (id, ctx) => ({ id, workspaceId: workspaceOf(ctx) }),
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.expose('kind', { type: EntityKindEnum }),
    source: t.relation('source'),
    table: t.field({
      type: TableRef,
      nullable: true,
      resolve: (e) => (e.tableSchema != null && e.tableName != null ? { schema: e.tableSchema, name: e.tableName } : null),
    }),
    sql: t.exposeString('sql', { nullable: true }),
    primaryKey: t.exposeString('primaryKey'),
    columns: t.field({ type: [WarehouseColumnRef], resolve: (e) => columnsOf(e) }),
    identifiers: t.relation('identifiers'),
    relationships: t.relation('relationships', { description: 'Relationships from this entity to others.' }),
    introspectedAt: t.expose('introspectedAt', { type: 'DateTime' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export const RelationshipRef = builder.prismaNode('Relationship', {
  id: { field: 'id' },
  // A missing or foreign id resolves to null ("not found"), never to an error.
  nullable: true,
  findUnique: (id, ctx) => ({ id, workspaceId: workspaceOf(ctx) }),
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Used in condition paths, e.g. company.industry.' }),
    kind: t.expose('kind', { type: RelationshipKindEnum }),
    fromEntity: t.relation('fromEntity'),
    toEntity: t.relation('toEntity'),
    fromColumn: t.exposeString('fromColumn'),
    toColumn: t.exposeString('toColumn'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('entities', (t) =>
  t.prismaConnection({
    type: 'Entity',
    cursor: 'id',
    args: {
      kind: t.arg({ type: EntityKindEnum }),
      sourceId: t.arg.globalID({ for: [SourceRef] }),
    },
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.entity.findMany({
        ...query,
        where: {
          workspaceId: workspaceOf(ctx),
          ...(args.kind ? { kind: args.kind } : {}),
          ...(args.sourceId ? { sourceId: args.sourceId.id } : {}),
        },
      }),
  }),
);

builder.queryField('relationships', (t) =>
  t.prismaConnection({
    type: 'Relationship',
    cursor: 'id',
    description: "The workspace's relationships, optionally those from or to one entity.",
    args: { entityId: t.arg.globalID({ for: [EntityRef] }) },
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.relationship.findMany({
        ...query,
        where: {
          workspaceId: workspaceOf(ctx),
          ...(args.entityId ? { OR: [{ fromEntityId: args.entityId.id }, { toEntityId: args.entityId.id }] } : {}),
        },
      }),
  }),
);

builder.queryField('entity', (t) =>
  t.prismaField({
    type: 'Entity',
    nullable: true,
    description: 'An entity by id or by name.',
    args: { id: t.arg.globalID({ for: [EntityRef] }), name: t.arg.string() },
    resolve: (query, _root, args, ctx) => {
      if ((args.id == null) === (args.name == null)) {
        throw new GraphQLError('expected exactly one of the arguments id or name', { extensions: { code: 'BAD_USER_INPUT' } });
      }
      return ctx.prisma.entity.findFirst({
        ...query,
        where: { workspaceId: workspaceOf(ctx), ...(args.id ? { id: args.id.id } : { name: args.name! }) },
      });
    },
  }),
);

const TableInput = builder.inputType('TableInput', {
  fields: (t) => ({ schema: t.string({ required: true }), name: t.string({ required: true }) }),
});

const EntityFromInput = builder.inputType('EntityFromInput', {
  isOneOf: true,
  description: 'Where the rows come from: a table or view, or a SQL model (one SELECT statement).',
  fields: (t) => ({
    table: t.field({ type: TableInput }),
    sql: t.string(),
  }),
});

const IdentifierInput = builder.inputType('IdentifierInput', {
  fields: (t) => ({
    type: t.field({ type: IdentifierTypeEnum, required: true }),
    column: t.string({ required: true }),
  }),
});

const CreateEntityInput = builder.inputType('CreateEntityInput', {
  fields: (t) => ({
    sourceId: t.globalID({ required: true, for: [SourceRef] }),
    name: t.string({ required: true }),
    kind: t.field({ type: EntityKindEnum, required: true }),
    from: t.field({ type: EntityFromInput, required: true }),
    primaryKey: t.string({ required: true }),
    identifiers: t.field({ type: [IdentifierInput], defaultValue: [] }),
  }),
});

const UpdateEntityInput = builder.inputType('UpdateEntityInput', {
  description: 'Fields left out keep their value. Columns are read again from the warehouse in any case.',
  fields: (t) => ({
    name: t.string(),
    kind: t.field({ type: EntityKindEnum }),
    from: t.field({ type: EntityFromInput }),
    primaryKey: t.string(),
    identifiers: t.field({ type: [IdentifierInput], description: 'Replaces the whole list.' }),
  }),
});

function toFrom(from: { table?: { schema: string; name: string } | null; sql?: string | null }): EntityFrom {
  return from.table ? { table: from.table } : { sql: from.sql ?? '' };
}

const entityErrors = [ValidationError, NotFoundError, ConflictError, SourceConnectionError];

builder.mutationField('createEntity', (t) =>
  t.field({
    type: EntityRef,
    errors: resultOf('CreateEntity', 'entity', entityErrors),
    args: { input: t.arg({ type: CreateEntityInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createEntity(ctx.services, workspaceOf(ctx), input.sourceId.id, {
        name: input.name,
        kind: input.kind,
        from: toFrom(input.from),
        primaryKey: input.primaryKey,
        identifiers: input.identifiers ?? [],
      }),
  }),
);

builder.mutationField('updateEntity', (t) =>
  t.field({
    type: EntityRef,
    errors: resultOf('UpdateEntity', 'entity', entityErrors),
    args: { id: t.arg.globalID({ required: true, for: [EntityRef] }), input: t.arg({ type: UpdateEntityInput, required: true }) },
    resolve: (_root, { id, input }, ctx) =>
      updateEntity(ctx.services, workspaceOf(ctx), id.id, {
        ...(input.name != null ? { name: input.name } : {}),
        ...(input.kind != null ? { kind: input.kind } : {}),
        ...(input.from != null ? { from: toFrom(input.from) } : {}),
        ...(input.primaryKey != null ? { primaryKey: input.primaryKey } : {}),
        ...(input.identifiers != null ? { identifiers: input.identifiers } : {}),
      }),
  }),
);

builder.mutationField('deleteEntity', (t) =>
  t.field({
    type: 'ID',
    errors: resultOf('DeleteEntity', 'deletedId', [NotFoundError, InvalidStateError]),
    args: { id: t.arg.globalID({ required: true, for: [EntityRef] }) },
    resolve: async (_root, { id }, ctx) => {
      await deleteEntity(ctx.services, workspaceOf(ctx), id.id);
      return encodeGlobalID('Entity', id.id);
    },
  }),
);

const CreateRelationshipInput = builder.inputType('CreateRelationshipInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Used in paths: company.industry.' }),
    kind: t.field({ type: RelationshipKindEnum, required: true }),
    fromEntityId: t.globalID({ required: true, for: [EntityRef] }),
    toEntityId: t.globalID({ required: true, for: [EntityRef] }),
    fromColumn: t.string({ required: true }),
    toColumn: t.string({ required: true }),
  }),
});

builder.mutationField('createRelationship', (t) =>
  t.field({
    type: RelationshipRef,
    errors: resultOf('CreateRelationship', 'relationship', [ValidationError, NotFoundError, ConflictError]),
    args: { input: t.arg({ type: CreateRelationshipInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createRelationship(ctx.services, workspaceOf(ctx), {
        ...input,
        fromEntityId: input.fromEntityId.id,
        toEntityId: input.toEntityId.id,
      }),
  }),
);

const UpdateRelationshipInput = builder.inputType('UpdateRelationshipInput', {
  description: 'Fields left out keep their value.',
  fields: (t) => ({
    name: t.string(),
    kind: t.field({ type: RelationshipKindEnum }),
    fromColumn: t.string(),
    toColumn: t.string(),
  }),
});

builder.mutationField('updateRelationship', (t) =>
  t.field({
    type: RelationshipRef,
    errors: resultOf('UpdateRelationship', 'relationship', [ValidationError, NotFoundError, ConflictError]),
    args: { id: t.arg.globalID({ required: true, for: [RelationshipRef] }), input: t.arg({ type: UpdateRelationshipInput, required: true }) },
    resolve: (_root, { id, input }, ctx) =>
      updateRelationship(ctx.services, workspaceOf(ctx), id.id, {
        ...(input.name != null ? { name: input.name } : {}),
        ...(input.kind != null ? { kind: input.kind } : {}),
        ...(input.fromColumn != null ? { fromColumn: input.fromColumn } : {}),
        ...(input.toColumn != null ? { toColumn: input.toColumn } : {}),
      }),
  }),
);

builder.mutationField('deleteRelationship', (t) =>
  t.field({
    type: 'ID',
    errors: resultOf('DeleteRelationship', 'deletedId', [NotFoundError]),
    args: { id: t.arg.globalID({ required: true, for: [RelationshipRef] }) },
    resolve: async (_root, { id }, ctx) => {
      await deleteRelationship(ctx.services, workspaceOf(ctx), id.id);
      return encodeGlobalID('Relationship', id.id);
    },
  }),
);
