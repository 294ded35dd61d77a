// Destinations and the connector types they are made of.
import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../builder.js';
import { workspaceOf } from '../../context.js';
import { ConflictError, InvalidStateError, NotFoundError, SourceConnectionError, ValidationError } from '../errors.js';
import { resultOf } from '../results.js';
import { listConnectors } from '../../connectors/registry.js';
import type { Connector } from '../../connectors/contract.js';
import { connectorOf, createDestination, deleteDestination } from '../../sync/destinations.js';
import { DESTINATION_SYNCS } from '../../history.js';
import { historyConnection } from '../history.js';
import { AudienceSyncRef } from './AudienceSync.js';

const ConfigFieldRef = builder.objectRef<Connector['spec']['configSchema'][number]>('ConnectorConfigField').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.exposeString('type'),
    required: t.exposeBoolean('required'),
    secret: t.exposeBoolean('secret', { description: 'Stored encrypted and never returned.' }),
    description: t.exposeString('description'),
    enum: t.stringList({ nullable: true, resolve: (f) => (f.enum ? [...f.enum] : null) }),
  }),
});

export const ConnectorTypeRef = builder.objectRef<Connector>('ConnectorType').implement({
  description: 'What a kind of destination accepts and can do.',
  fields: (t) => ({
    type: t.exposeString('type'),
    name: t.exposeString('name'),
    category: t.string({ resolve: (c) => c.spec.category }),
    configFields: t.field({ type: [ConfigFieldRef], resolve: (c) => [...c.spec.configSchema] }),
    identifiers: t.stringList({ resolve: (c) => c.spec.identifiers.map((i) => i.type) }),
    canListAudiences: t.boolean({ resolve: (c) => c.spec.audiences.canList }),
    canCreateAudiences: t.boolean({ resolve: (c) => c.spec.audiences.canCreate }),
    audienceTypes: t.stringList({ resolve: (c) => [...c.spec.audiences.types] }),
    defaultAudienceType: t.string({ nullable: true, resolve: (c) => c.spec.audiences.defaultType }),
    batchSize: t.int({ resolve: (c) => c.spec.batchSize }),
    requiresProfiles: t.boolean({ resolve: (c) => c.spec.requiresProfiles }),
    reportsMatchRate: t.boolean({ resolve: (c) => c.spec.reportsMatchRate }),
  }),
});

export const DestinationRef = builder.prismaNode('Destination', {
  id: { field: 'id' },
  // A missing or foreign id resolves to null ("not found"), never to an error.
  nullable: true,
  findUnique: (id, ctx) => ({ id, workspaceId: workspaceOf(ctx) }),
  description: 'A configured destination. Secret settings are never returned.',
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.exposeString('type'),
    connector: t.field({ type: ConnectorTypeRef, resolve: (d) => connectorOf(d.type) }),
    config: t.field({ type: 'JSON', description: 'Non-secret settings only.', resolve: (d) => d.config }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    audiences: t.relation('audiences', { description: 'Audiences Roster created or found in this destination.' }),
    // A page per destination, for a whole list of destinations at once (src/history.ts).
    audienceSyncs: t.connection(
      {
        type: AudienceSyncRef,
        resolve: (d, args, ctx) =>
          historyConnection(ctx, DESTINATION_SYNCS, d.id, args, (c, ids) => c.prisma.audienceSync.findMany({ where: { id: { in: ids }, workspaceId: workspaceOf(c) } })),
      },
      { name: 'DestinationAudienceSyncsConnection' },
      { name: 'DestinationAudienceSyncsConnectionEdge' },
    ),
  }),
});

builder.prismaObject('DestinationAudience', {
  fields: (t) => ({
    id: t.exposeID('id'),
    externalId: t.exposeString('externalId'),
    name: t.exposeString('name'),
    type: t.exposeString('type', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('connectorTypes', (t) => t.field({ type: [ConnectorTypeRef], resolve: () => listConnectors() }));

builder.queryField('destinations', (t) =>
  t.prismaConnection({
    type: 'Destination',
    cursor: 'id',
    resolve: (query, _root, _args, ctx) => ctx.prisma.destination.findMany({ ...query, where: { workspaceId: workspaceOf(ctx) } }),
  }),
);

const CreateDestinationInput = builder.inputType('CreateDestinationInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    type: t.string({ required: true, description: 'A connector type, see connectorTypes.' }),
    config: t.field({ type: 'JSON', required: true, description: 'Settings per the connector type; secret ones are encrypted.' }),
  }),
});

builder.mutationField('createDestination', (t) =>
  t.field({
    type: DestinationRef,
    errors: resultOf('CreateDestination', 'destination', [ValidationError, ConflictError, SourceConnectionError]),
    args: { input: t.arg({ type: CreateDestinationInput, required: true }) },
    resolve: (_root, { input }, ctx) => createDestination(ctx.services, workspaceOf(ctx), { ...input, config: input.config ?? {} }),
  }),
);

builder.mutationField('deleteDestination', (t) =>
  t.field({
    type: 'ID',
    errors: resultOf('DeleteDestination', 'deletedId', [NotFoundError, InvalidStateError]),
    args: { id: t.arg.globalID({ required: true, for: [DestinationRef] }) },
    resolve: async (_root, { id }, ctx) => {
      await deleteDestination(ctx.services, workspaceOf(ctx), id.id);
      return encodeGlobalID('Destination', id.id);
    },
  }),
);
