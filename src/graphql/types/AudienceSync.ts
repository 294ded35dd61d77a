// Audience syncs, their runs and the operations on them.
import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder, selection } from '../builder.js';
import { workspaceOf } from '../../context.js';
import { AudienceTarget, IdentifierType, RemovalBehavior, RunOperation, RunStatus, SyncMode, SyncStatus } from '../../generated/prisma/enums.js';
import { ConflictError, InvalidStateError, NotFoundError, SourceConnectionError, ValidationError } from '../errors.js';
import { resultOf } from '../results.js';
import { scheduleFromRow } from '../../jobs/schedule.js';
import { createSync, deleteSync, quickSync, quickSyncTemplates, setSyncStatus, syncWarnings, updateSync, type SyncInput } from '../../sync/syncs.js';
import { cancelRun, previewDiff, requestRun, testSync } from '../../sync/run.js';
import { EntityRef } from './Entity.js';
import { DestinationRef } from './Destination.js';
import { ScheduleInput, ScheduleRef } from './Schedule.js';
import { SegmentRef } from './Segment.js';
import { GraphQLError } from 'graphql';
import type { MatchRateUpdatedPayload, OperationCountsPayload, SyncRunFinishedPayload, SyncRunProgressPayload } from '../pubsub.js';
import type { Context } from '../../context.js';
import { SYNC_RUN_ERRORS, SYNC_RUNS } from '../../history.js';
import { historyConnection, newestOf } from '../history.js';

const SyncModeEnum = builder.enumType(SyncMode, { name: 'SyncMode' });
const RemovalBehaviorEnum = builder.enumType(RemovalBehavior, { name: 'RemovalBehavior' });
const SyncStatusEnum = builder.enumType(SyncStatus, { name: 'SyncStatus' });
const AudienceTargetEnum = builder.enumType(AudienceTarget, { name: 'AudienceTarget' });
const RunStatusEnum = builder.enumType(RunStatus, { name: 'RunStatus' });
const RunOperationEnum = builder.enumType(RunOperation, { name: 'RunOperation' });
const IdentifierTypeRef = builder.enumType(IdentifierType, { name: 'SyncIdentifierType' });

const MappingRef = builder.objectRef<{ from: string; to: string }>('FieldMapping').implement({
  fields: (t) => ({ from: t.exposeString('from'), to: t.exposeString('to') }),
});

const SyncAudienceRef = builder.objectRef<{ target: string; externalId: string | null; name: string | null; nameColumn: string | null; type: string | null }>('SyncAudience').implement({
  fields: (t) => ({
    target: t.field({ type: AudienceTargetEnum, resolve: (a) => a.target as AudienceTarget }),
    externalId: t.exposeString('externalId', { nullable: true }),
    name: t.exposeString('name', { nullable: true }),
    nameColumn: t.exposeString('nameColumn', { nullable: true }),
    type: t.exposeString('type', { nullable: true }),
  }),
});

const SyncRunErrorRef = builder.prismaObject('SyncRunError', {
  fields: (t) => ({
    id: t.exposeID('id'),
    recordKey: t.exposeString('recordKey'),
    operation: t.expose('operation', { type: RunOperationEnum }),
    message: t.exposeString('message'),
    code: t.exposeString('code', { nullable: true, description: "The destination's own error code." }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const OpCounts = builder.objectRef<{ adds: number; removes: number; updates: number }>('OperationCounts').implement({
  fields: (t) => ({ adds: t.exposeInt('adds'), removes: t.exposeInt('removes'), updates: t.exposeInt('updates') }),
});

const PhaseDurations = builder.objectRef<Record<string, number>>('PhaseDurations').implement({
  description: 'Milliseconds per phase.',
  fields: (t) => ({
    planning: t.int({ nullable: true, resolve: (p) => p.planning ?? null }),
    delivering: t.int({ nullable: true, resolve: (p) => p.delivering ?? null }),
    accounting: t.int({ nullable: true, resolve: (p) => p.accounting ?? null }),
  }),
});

export const SyncRunRef = builder.prismaNode('SyncRun', {
  id: { field: 'id' },
  // A missing or foreign id resolves to null ("not found"), never to an error.
  nullable: true,
  findUnique: (id, ctx) => ({ id, workspaceId: workspaceOf(ctx) }),
  fields: (t) => ({
    sync: t.relation('sync'),
    status: t.expose('status', { type: RunStatusEnum }),
    trigger: t.exposeString('trigger'),
    planned: t.field({ type: OpCounts, resolve: (r) => ({ adds: r.plannedAdds, removes: r.plannedRemoves, updates: r.plannedUpdates }) }),
    delivered: t.field({ type: OpCounts, resolve: (r) => ({ adds: r.deliveredAdds, removes: r.deliveredRemoves, updates: r.deliveredUpdates }) }),
    rejected: t.exposeInt('rejected'),
    phaseDurations: t.field({ type: PhaseDurations, resolve: (r) => (r.phaseDurations ?? {}) as Record<string, number> }),
    durationMs: t.int({ nullable: true, resolve: (r) => (r.startedAt && r.finishedAt ? r.finishedAt.getTime() - r.startedAt.getTime() : null) }),
    error: t.exposeString('error', { nullable: true }),
    queuedAt: t.expose('queuedAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    errors: t.connection(
      {
        type: SyncRunErrorRef,
        description: 'Rows the destination rejected.',
        resolve: (r, args, ctx) => historyConnection(ctx, SYNC_RUN_ERRORS, r.id, args, (c, ids) => c.prisma.syncRunError.findMany({ where: { id: { in: ids } } })),
      },
      { name: 'SyncRunErrorsConnection' },
      { name: 'SyncRunErrorsConnectionEdge' },
    ),
  }),
});

/** Runs by id, of the request's workspace only. */
function runsById(ctx: Context, ids: string[]) {
  return ctx.prisma.syncRun.findMany({ where: { id: { in: ids }, workspaceId: workspaceOf(ctx) } });
}

export const AudienceSyncRef = builder.prismaNode('AudienceSync', {
  id: { field: 'id' },
  // A missing or foreign id resolves to null ("not found"), never to an error.
  nullable: true,
  findUnique: (id, ctx) => ({ id, workspaceId: workspaceOf(ctx) }),
  fields: (t) => ({
    segment: t.relation('segment', { nullable: true, description: 'null: the sync sends every record of its entity.' }),
    entity: t.relation('entity'),
    destination: t.relation('destination'),
    audience: t.field({
      type: SyncAudienceRef,
      resolve: (s) => ({ target: s.audienceTarget, externalId: s.audienceExternalId, name: s.audienceName, nameColumn: s.audienceNameColumn, type: s.audienceType }),
    }),
    mode: t.expose('mode', { type: SyncModeEnum }),
    removalBehavior: t.expose('removalBehavior', { type: RemovalBehaviorEnum }),
    mappings: t.field({ type: [MappingRef], resolve: (s) => s.mappings as { from: string; to: string }[] }),
    identifiers: t.field({ type: [IdentifierTypeRef], resolve: (s) => (s.identifiers as { type: IdentifierType }[]).map((i) => i.type) }),
    schedule: t.field({ type: ScheduleRef, resolve: (s) => ({ ...scheduleFromRow(s), nextAt: s.nextRunAt }) }),
    status: t.expose('status', { type: SyncStatusEnum }),
    managed: t.exposeBoolean('managed', { description: 'A one-click audience: can be turned on or off, not edited.' }),
    warnings: t.stringList({ resolve: (s, _a, ctx) => syncWarnings(ctx.services, s) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    // Histories are read a page per sync, for a whole list of syncs at once (src/history.ts).
    lastRun: t.loadable({
      type: SyncRunRef,
      nullable: true,
      load: (syncIds: string[], ctx: Context) => newestOf(ctx, SYNC_RUNS, syncIds, runsById),
      resolve: (s) => s.id,
    }),
    runs: t.connection(
      { type: SyncRunRef, description: 'Newest first.', resolve: (s, args, ctx) => historyConnection(ctx, SYNC_RUNS, s.id, args, runsById) },
      { name: 'AudienceSyncRunsConnection' },
      { name: 'AudienceSyncRunsConnectionEdge' },
    ),
  }),
});

builder.queryField('audienceSyncs', (t) =>
  t.prismaConnection({
    type: 'AudienceSync',
    cursor: 'id',
    args: { segmentId: t.arg.globalID({ for: [SegmentRef] }), destinationId: t.arg.globalID({ for: [DestinationRef] }), status: t.arg({ type: SyncStatusEnum }) },
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.audienceSync.findMany({
        ...query,
        where: {
          workspaceId: workspaceOf(ctx),
          ...(args.segmentId ? { segmentId: args.segmentId.id } : {}),
          ...(args.destinationId ? { destinationId: args.destinationId.id } : {}),
          ...(args.status ? { status: args.status } : {}),
        },
      }),
  }),
);

builder.queryField('audienceSync', (t) =>
  t.prismaField({
    type: 'AudienceSync',
    nullable: true,
    args: { id: t.arg.globalID({ required: true, for: [AudienceSyncRef] }) },
    resolve: (query, _root, { id }, ctx) => ctx.prisma.audienceSync.findFirst({ ...query, where: { id: id.id, workspaceId: workspaceOf(ctx) } }),
  }),
);

builder.queryField('syncRuns', (t) =>
  t.prismaConnection({
    type: 'SyncRun',
    cursor: 'id',
    nullable: true,
    description: "A sync's runs, newest first; null when the sync is not in the caller's workspace.",
    args: { syncId: t.arg.globalID({ required: true, for: [AudienceSyncRef] }) },
    resolve: async (query, _root, { syncId }, ctx) => {
      const sync = await ctx.prisma.audienceSync.findFirst({ where: { id: syncId.id, workspaceId: workspaceOf(ctx) }, select: { id: true } });
      return sync ? ctx.prisma.syncRun.findMany({ ...query, where: { syncId: sync.id }, orderBy: { queuedAt: 'desc' } }) : null;
    },
  }),
);

builder.queryField('quickSyncTemplates', (t) =>
  t.field({
    type: [AudienceSyncRef],
    description: 'Per destination, the most recently created active sync of the segment’s entity: what quickSync copies.',
    errors: { types: [NotFoundError] },
    args: { segmentId: t.arg.globalID({ required: true, for: [SegmentRef] }) },
    resolve: (_root, { segmentId }, ctx) => quickSyncTemplates(ctx.services, workspaceOf(ctx), segmentId.id),
  }),
);

// ─── Inputs ──────────────────────────────────────────────────────────────────

const SyncAudienceInput = builder.inputType('SyncAudienceInput', {
  fields: (t) => ({
    target: t.field({ type: AudienceTargetEnum, required: true }),
    externalId: t.string({ description: 'EXISTING: the audience id in the destination.' }),
    name: t.string({ description: 'CREATE_BY_NAME: default, the segment name.' }),
    nameColumn: t.string({ description: "NAME_FROM_COLUMN: a text column whose value names each record's audience." }),
    type: t.string({ description: 'Audience type where the destination has several.' }),
  }),
});

const MappingInput = builder.inputType('FieldMappingInput', {
  fields: (t) => ({
    from: t.string({ required: true, description: 'A column, a many-to-one path (company.name), or segmentMembership.' }),
    to: t.string({ required: true, description: 'The destination field.' }),
  }),
});

const CreateAudienceSyncInput = builder.inputType('CreateAudienceSyncInput', {
  fields: (t) => ({
    segmentId: t.globalID({ for: [SegmentRef] }),
    entityId: t.globalID({ for: [EntityRef], description: 'Instead of a segment: sync every record of the entity.' }),
    destinationId: t.globalID({ required: true, for: [DestinationRef] }),
    audience: t.field({ type: SyncAudienceInput, required: true }),
    mode: t.field({ type: SyncModeEnum }),
    removalBehavior: t.field({ type: RemovalBehaviorEnum }),
    mappings: t.field({ type: [MappingInput] }),
    identifiers: t.field({ type: [IdentifierTypeRef], description: "Default: the entity's identifiers that the destination accepts." }),
    schedule: t.field({ type: ScheduleInput }),
    status: t.field({ type: SyncStatusEnum, description: 'Default DRAFT.' }),
  }),
});

const UpdateAudienceSyncInput = builder.inputType('UpdateAudienceSyncInput', {
  description: 'Fields left out keep their value. Source and destination cannot change.',
  fields: (t) => ({
    audience: t.field({ type: SyncAudienceInput }),
    mode: t.field({ type: SyncModeEnum }),
    removalBehavior: t.field({ type: RemovalBehaviorEnum }),
    mappings: t.field({ type: [MappingInput] }),
    identifiers: t.field({ type: [IdentifierTypeRef] }),
    schedule: t.field({ type: ScheduleInput }),
    status: t.field({ type: SyncStatusEnum }),
  }),
});

const syncErrors = [ValidationError, NotFoundError, InvalidStateError, SourceConnectionError];

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;
}

builder.mutationField('createAudienceSync', (t) =>
  t.field({
    type: AudienceSyncRef,
    errors: resultOf('CreateAudienceSync', 'audienceSync', syncErrors),
    args: { input: t.arg({ type: CreateAudienceSyncInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createSync(ctx.services, workspaceOf(ctx), {
        ...(defined(input) as unknown as SyncInput),
        segmentId: input.segmentId?.id ?? null,
        entityId: input.entityId?.id ?? null,
        destinationId: input.destinationId.id,
      }),
  }),
);

builder.mutationField('updateAudienceSync', (t) =>
  t.field({
    type: AudienceSyncRef,
    errors: resultOf('UpdateAudienceSync', 'audienceSync', syncErrors),
    args: { id: t.arg.globalID({ required: true, for: [AudienceSyncRef] }), input: t.arg({ type: UpdateAudienceSyncInput, required: true }) },
    resolve: (_root, { id, input }, ctx) => updateSync(ctx.services, workspaceOf(ctx), id.id, defined(input) as Partial<SyncInput>),
  }),
);

builder.mutationField('deleteAudienceSync', (t) =>
  t.field({
    type: 'ID',
    errors: resultOf('DeleteAudienceSync', 'deletedId', [NotFoundError, InvalidStateError]),
    args: { id: t.arg.globalID({ required: true, for: [AudienceSyncRef] }) },
    resolve: async (_root, { id }, ctx) => {
      await deleteSync(ctx.services, workspaceOf(ctx), id.id);
      return encodeGlobalID('AudienceSync', id.id);
    },
  }),
);

for (const [name, status, description] of [
  ['pauseAudienceSync', 'PAUSED', 'Stops scheduled runs; a run in progress finishes.'],
  ['resumeAudienceSync', 'ACTIVE', 'Schedules runs again; the next run covers everything since the last delivery.'],
] as const) {
  builder.mutationField(name, (t) =>
    t.field({
      type: AudienceSyncRef,
      description,
      errors: resultOf(name.charAt(0).toUpperCase() + name.slice(1), 'audienceSync', [NotFoundError]),
      args: { id: t.arg.globalID({ required: true, for: [AudienceSyncRef] }) },
      resolve: (_root, { id }, ctx) => setSyncStatus(ctx.services, workspaceOf(ctx), id.id, status),
    }),
  );
}

builder.mutationField('triggerAudienceSync', (t) =>
  t.prismaField({
    type: 'SyncRun',
    description: 'Queues a run (or returns the one already queued). One run at a time per sync.',
    errors: resultOf('TriggerAudienceSync', 'run', [NotFoundError, InvalidStateError]),
    args: {
      id: t.arg.globalID({ required: true, for: [AudienceSyncRef] }),
      evaluateSegmentFirst: t.arg.boolean({ defaultValue: false, description: 'Evaluate the segment before planning.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const run = await requestRun(ctx.services, workspaceOf(ctx), args.id.id, { trigger: 'API', evaluateFirst: args.evaluateSegmentFirst ?? false });
      return ctx.prisma.syncRun.findUniqueOrThrow({ ...selection(query), where: { id: run.id } });
    },
  }),
);

builder.mutationField('cancelSyncRun', (t) =>
  t.field({
    type: SyncRunRef,
    description: 'Cancels a queued run.',
    errors: resultOf('CancelSyncRun', 'run', [NotFoundError, InvalidStateError]),
    args: { id: t.arg.globalID({ required: true, for: [SyncRunRef] }) },
    resolve: (_root, { id }, ctx) => cancelRun(ctx.services, workspaceOf(ctx), id.id),
  }),
);

const DiffSample = builder.objectRef<{ op: string; audience: string; key: string; fields: unknown; identifiers: unknown }>('DiffSample').implement({
  fields: (t) => ({
    operation: t.field({ type: RunOperationEnum, resolve: (s) => s.op as RunOperation }),
    audience: t.exposeString('audience'),
    key: t.exposeString('key'),
    fields: t.field({ type: 'JSON', resolve: (s) => s.fields }),
    identifiers: t.field({ type: 'JSON', resolve: (s) => s.identifiers }),
  }),
});

const DiffPreviewRef = builder.objectRef<{ adds: number; removes: number; updates: number; filtered: number; samples: { op: string; audience: string; key: string; fields: unknown; identifiers: unknown }[] }>('AudienceSyncDiff').implement({
  fields: (t) => ({
    adds: t.exposeInt('adds'),
    removes: t.exposeInt('removes'),
    updates: t.exposeInt('updates'),
    filtered: t.exposeInt('filtered', { description: 'Changes the mode leaves out.' }),
    samples: t.field({ type: [DiffSample], resolve: (d) => d.samples }),
  }),
});

builder.mutationField('previewAudienceSyncDiff', (t) =>
  t.field({
    type: DiffPreviewRef,
    description: 'A dry run: what the next run would send, with samples; nothing is sent or recorded.',
    errors: resultOf('PreviewAudienceSyncDiff', 'diff', [NotFoundError, SourceConnectionError]),
    args: { id: t.arg.globalID({ required: true, for: [AudienceSyncRef] }), sampleSize: t.arg.int({ defaultValue: 10 }) },
    resolve: (_root, args, ctx) => previewDiff(ctx.services, workspaceOf(ctx), args.id.id, Math.min(Math.max(args.sampleSize ?? 10, 0), 100)),
  }),
);

const TestSyncResult = builder.objectRef<{ sent: number; audience: string; rejected: { key: string; message: string; code: string | null }[] }>('TestSyncResult').implement({
  fields: (t) => ({
    sent: t.exposeInt('sent'),
    audience: t.exposeString('audience'),
    rejected: t.field({
      type: [builder.objectRef<{ key: string; message: string; code: string | null }>('TestSyncRejection').implement({
        fields: (f) => ({ key: f.exposeString('key'), message: f.exposeString('message'), code: f.exposeString('code', { nullable: true }) }),
      })],
      resolve: (r) => r.rejected,
    }),
  }),
});

builder.mutationField('testAudienceSync', (t) =>
  t.field({
    type: TestSyncResult,
    description: 'Sends a few current members to the audience without recording them in the snapshot.',
    errors: resultOf('TestAudienceSync', 'result', [NotFoundError, InvalidStateError, SourceConnectionError]),
    args: { id: t.arg.globalID({ required: true, for: [AudienceSyncRef] }), size: t.arg.int({ defaultValue: 5 }) },
    resolve: (_root, args, ctx) => testSync(ctx.services, workspaceOf(ctx), args.id.id, args.size ?? 5),
  }),
);

builder.mutationField('quickSync', (t) =>
  t.field({
    type: AudienceSyncRef,
    description: 'A new active sync of the segment, copying schedule, mappings and mode from the template to that destination; the audience takes the segment name.',
    errors: resultOf('QuickSync', 'audienceSync', [NotFoundError, InvalidStateError, ValidationError, ConflictError]),
    args: { segmentId: t.arg.globalID({ required: true, for: [SegmentRef] }), destinationId: t.arg.globalID({ required: true, for: [DestinationRef] }) },
    resolve: (_root, args, ctx) => quickSync(ctx.services, workspaceOf(ctx), args.segmentId.id, args.destinationId.id),
  }),
);

// ─── Subscriptions ───────────────────────────────────────────────────────────

const SyncRunPhaseEnum = builder.enumType('SyncRunPhase', { values: ['PLANNING', 'DELIVERING', 'ACCOUNTING'] as const });

const counts = (c: OperationCountsPayload) => ({ adds: c.ADD, removes: c.REMOVE, updates: c.UPDATE });

const SyncRunProgressRef = builder.objectRef<SyncRunProgressPayload>('SyncRunProgress').implement({
  description: 'A running sync run, a few times a second while it moves.',
  fields: (t) => ({
    runId: t.field({ type: 'ID', resolve: (p) => encodeGlobalID('SyncRun', p.runId) }),
    phase: t.field({ type: SyncRunPhaseEnum, resolve: (p) => p.phase }),
    planned: t.field({ type: OpCounts, resolve: (p) => counts(p.planned) }),
    done: t.field({ type: OpCounts, description: 'Delivered and confirmed so far.', resolve: (p) => counts(p.delivered) }),
    rejected: t.exposeInt('rejected'),
    percent: t.exposeFloat('percent'),
    rowsPerSecond: t.exposeInt('rowsPerSecond'),
    etaSeconds: t.exposeInt('etaSeconds', { nullable: true, description: 'Estimated seconds left; null until rows move.' }),
  }),
});

const SyncRunFinishedRef = builder.objectRef<SyncRunFinishedPayload>('SyncRunFinished').implement({
  fields: (t) => ({
    runId: t.field({ type: 'ID', resolve: (p) => encodeGlobalID('SyncRun', p.runId) }),
    run: t.prismaField({
      type: 'SyncRun',
      nullable: true,
      resolve: (query, p, _a, ctx) => ctx.prisma.syncRun.findFirst({ ...query, where: { id: p.runId, workspaceId: workspaceOf(ctx) } }),
    }),
    status: t.field({ type: RunStatusEnum, resolve: (p) => p.status }),
    planned: t.field({ type: OpCounts, resolve: (p) => counts(p.planned) }),
    delivered: t.field({ type: OpCounts, resolve: (p) => counts(p.delivered) }),
    rejected: t.exposeInt('rejected'),
    error: t.exposeString('error', { nullable: true }),
    durationMs: t.exposeInt('durationMs'),
  }),
});

const MatchRateUpdateRef = builder.objectRef<MatchRateUpdatedPayload>('MatchRateUpdate').implement({
  fields: (t) => ({
    audienceId: t.exposeString('audienceId', { description: "The destination's id of the audience." }),
    audienceName: t.exposeString('audienceName'),
    matched: t.exposeInt('matched', { nullable: true, description: 'Members matched, or the audience size where that is what the platform reports.' }),
    uploaded: t.exposeInt('uploaded'),
    rate: t.exposeFloat('rate', { nullable: true, description: 'From 0 to 1.' }),
    sampledAt: t.field({ type: 'DateTime', resolve: (p) => new Date(p.sampledAt) }),
  }),
});

/** The sync, checked against the caller's workspace before any event is delivered. */
async function ownSync(ctx: Context, id: string): Promise<string> {
  const sync = await ctx.prisma.audienceSync.findFirst({ where: { id, workspaceId: workspaceOf(ctx) }, select: { id: true } });
  if (!sync) throw new GraphQLError(`AudienceSync "${id}" not found in this workspace`, { extensions: { code: 'NOT_FOUND' } });
  if (!ctx.services.pubsub) throw new GraphQLError('subscriptions are not available in this process');
  return sync.id;
}

function sameWorkspace<T extends { workspaceId: string }>(event: T, ctx: Context): T {
  // Defence in depth: topics are per sync, and a sync belongs to one workspace.
  if (event.workspaceId !== workspaceOf(ctx)) throw new GraphQLError('event from another workspace');
  return event;
}

builder.subscriptionField('syncRunProgress', (t) =>
  t.field({
    type: SyncRunProgressRef,
    description: "Progress of the sync's runs: phase, counts, percent, rate and time left. Throttled; the last event of a run always arrives.",
    args: { syncId: t.arg.globalID({ required: true, for: [AudienceSyncRef] }) },
    subscribe: async (_root, { syncId }, ctx) => ctx.services.pubsub!.subscribe('syncRunProgress', await ownSync(ctx, syncId.id)),
    resolve: (event, _args, ctx) => sameWorkspace(event, ctx),
  }),
);

builder.subscriptionField('syncRunFinished', (t) =>
  t.field({
    type: SyncRunFinishedRef,
    description: 'Each finished run of the sync, with its final status and counts.',
    args: { syncId: t.arg.globalID({ required: true, for: [AudienceSyncRef] }) },
    subscribe: async (_root, { syncId }, ctx) => ctx.services.pubsub!.subscribe('syncRunFinished', await ownSync(ctx, syncId.id)),
    resolve: (event, _args, ctx) => sameWorkspace(event, ctx),
  }),
);

builder.subscriptionField('matchRateUpdated', (t) =>
  t.field({
    type: MatchRateUpdateRef,
    description: 'Match rates read back from the destination for this sync.',
    args: { syncId: t.arg.globalID({ required: true, for: [AudienceSyncRef] }) },
    subscribe: async (_root, { syncId }, ctx) => ctx.services.pubsub!.subscribe('matchRateUpdated', await ownSync(ctx, syncId.id)),
    resolve: (event, _args, ctx) => sameWorkspace(event, ctx),
  }),
);
