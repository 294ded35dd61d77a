// Segments: the condition language as @oneOf inputs, evaluation, preview,
// analysis and per-record membership.
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { GraphQLError, Kind } from 'graphql';
import { builder, selection } from '../builder.js';
import { workspaceOf } from '../../context.js';
import { EvaluationStatus } from '../../generated/prisma/enums.js';
import type { Segment } from '../../generated/prisma/client.js';
import { ConflictError, InvalidStateError, NotFoundError, SourceConnectionError, ValidationError } from '../errors.js';
import { resultOf } from '../results.js';
import { AGGREGATE_FNS, ATTRIBUTE_OPS, COMPARISON_OPS, TIME_UNITS, type Scalar } from '../../segments/condition.js';
import { createSegment, deleteSegment, updateSegment } from '../../segments/segments.js';
import { requestEvaluation } from '../../segments/evaluate.js';
import { breakdown, lookupRecord, overlap, preview, sizeHistory } from '../../segments/analyse.js';
import { scheduleFromRow } from '../../jobs/schedule.js';
import { EntityRef } from './Entity.js';
import type { SegmentEvaluatedPayload } from '../pubsub.js';
import { ScheduleInput, ScheduleRef } from './Schedule.js';
import { SEGMENT_EVALUATIONS } from '../../history.js';
import { historyConnection, newestOf } from '../history.js';
import type { Context } from '../../context.js';

// ─── Condition input ─────────────────────────────────────────────────────────

builder.scalarType('ConditionValue', {
  description: 'A string, number or boolean. Dates and timestamps are ISO-8601 strings.',
  serialize: (v) => v,
  parseValue: (v) => {
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
    throw new GraphQLError(`expected a string, number or boolean, but got ${v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v}`);
  },
  parseLiteral: (ast) => {
    if (ast.kind === Kind.STRING || ast.kind === Kind.BOOLEAN) return ast.value;
    if (ast.kind === Kind.INT || ast.kind === Kind.FLOAT) return Number(ast.value);
    throw new GraphQLError(`expected a string, number or boolean, but got a ${ast.kind}`);
  },
});

const AttributeOpEnum = builder.enumType('AttributeOp', { values: ATTRIBUTE_OPS });
const TimeUnitEnum = builder.enumType('TimeUnit', { values: TIME_UNITS });
const ComparisonOpEnum = builder.enumType('ComparisonOp', { values: COMPARISON_OPS });
const AggregateFnEnum = builder.enumType('AggregateFn', { values: AGGREGATE_FNS });

const TimeWindowInput = builder.inputType('TimeWindowInput', {
  fields: (t) => ({ last: t.int({ required: true }), unit: t.field({ type: TimeUnitEnum, required: true }) }),
});

const AttributeConditionInput = builder.inputType('AttributeConditionInput', {
  description: 'A column of the entity, or relationship.column through many-to-one relationships (company.industry).',
  fields: (t) => ({
    path: t.string({ required: true }),
    op: t.field({ type: AttributeOpEnum, required: true }),
    value: t.field({ type: 'ConditionValue' }),
    values: t.field({ type: ['ConditionValue'] }),
    within: t.field({ type: TimeWindowInput }),
  }),
});

const CountInput = builder.inputType('CountInput', {
  fields: (t) => ({ op: t.field({ type: ComparisonOpEnum, required: true }), value: t.int({ required: true }) }),
});

const AggregateInput = builder.inputType('AggregateInput', {
  fields: (t) => ({
    fn: t.field({ type: AggregateFnEnum, required: true }),
    column: t.string({ required: true }),
    op: t.field({ type: ComparisonOpEnum, required: true }),
    value: t.field({ type: 'ConditionValue', required: true, description: 'A number; for MIN/MAX of a date or timestamp, an ISO-8601 string.' }),
  }),
});

const SegmentConditionInput = builder.inputType('SegmentConditionInput', {
  fields: (t) => ({
    id: t.id({ required: true, description: 'Another segment of the same entity.' }),
    member: t.boolean({ defaultValue: true, description: 'false: records that are NOT in that segment.' }),
  }),
});

export const ConditionInput = builder.inputRef<Record<string, unknown>>('ConditionInput');

const EventConditionInput = builder.inputType('EventConditionInput', {
  description: 'Related rows through a one-to-many relationship: "purchased Product A at least once in the last 6 months".',
  fields: (t) => ({
    relationship: t.string({ required: true }),
    where: t.field({ type: ConditionInput }),
    within: t.field({ type: TimeWindowInput }),
    timeColumn: t.string({ description: "The related rows' time column for `within`; needed when they have several." }),
    count: t.field({ type: CountInput, description: 'Default: at least one.' }),
    aggregate: t.field({ type: AggregateInput }),
  }),
});

ConditionInput.implement({
  isOneOf: true,
  description: 'One of: and, or, not, attribute, event, segment.',
  fields: (t) => ({
    and: t.field({ type: [ConditionInput] }),
    or: t.field({ type: [ConditionInput] }),
    not: t.field({ type: ConditionInput }),
    attribute: t.field({ type: AttributeConditionInput }),
    event: t.field({ type: EventConditionInput }),
    segment: t.field({ type: SegmentConditionInput }),
  }),
});

/** GraphQL input → stored JSON: drops nulls and turns segment global ids into database ids. */
export function toStoredCondition(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toStoredCondition);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (value === null || value === undefined) continue;
    if (key === 'segment' && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string') {
      const ref = value as { id: string; member?: boolean };
      let id = ref.id;
      try {
        const decoded = decodeGlobalID(ref.id);
        if (decoded.typename === 'Segment') id = decoded.id;
      } catch {
        // Not a global id: validation reports it as an unknown segment.
      }
      out.segment = { id, member: ref.member ?? true };
    } else out[key] = toStoredCondition(value);
  }
  return out;
}

/** Stored JSON → what the API shows: segment ids as global ids. */
function toApiCondition(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toApiCondition);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) =>
      key === 'segment' && value && typeof value === 'object'
        ? [key, { ...(value as object), id: encodeGlobalID('Segment', String((value as { id: unknown }).id)) }]
        : [key, toApiCondition(value)],
    ),
  );
}

// ─── Types ───────────────────────────────────────────────────────────────────

const EvaluationStatusEnum = builder.enumType(EvaluationStatus, { name: 'EvaluationStatus' });

export const SegmentEvaluationRef = builder.prismaObject('SegmentEvaluation', {
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.expose('status', { type: EvaluationStatusEnum }),
    trigger: t.exposeString('trigger'),
    version: t.exposeInt('version'),
    size: t.exposeInt('size', { nullable: true }),
    entered: t.exposeInt('entered', { nullable: true, description: 'Records that joined since the previous evaluation.' }),
    exited: t.exposeInt('exited', { nullable: true, description: 'Records that left since the previous evaluation.' }),
    error: t.exposeString('error', { nullable: true }),
    queuedAt: t.expose('queuedAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

const SizePoint = builder.objectRef<{ at: Date; size: number; entered: number | null; exited: number | null }>('SegmentSizePoint').implement({
  fields: (t) => ({
    at: t.expose('at', { type: 'DateTime' }),
    size: t.exposeInt('size'),
    entered: t.exposeInt('entered', { nullable: true }),
    exited: t.exposeInt('exited', { nullable: true }),
  }),
});

const BreakdownRow = builder.objectRef<{ value: string | null; count: number }>('BreakdownRow').implement({
  fields: (t) => ({ value: t.exposeString('value', { nullable: true }), count: t.exposeInt('count') }),
});

/** Evaluations by id (their segment's workspace is the parent's). */
function evaluationsById(ctx: Context, ids: string[]) {
  return ctx.prisma.segmentEvaluation.findMany({ where: { id: { in: ids } } });
}

export const SegmentRef = builder.prismaNode('Segment', {
  id: { field: 'id' },
  // A missing or foreign id resolves to null ("not found"), never to an error.
  nullable: true,
  findUnique: (id, ctx) => ({ id, workspaceId: workspaceOf(ctx) }),
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    entity: t.relation('entity'),
    condition: t.field({ type: 'JSON', resolve: (s) => toApiCondition(s.condition) }),
    schedule: t.field({
      type: ScheduleRef,
      resolve: (s) => ({ ...scheduleFromRow(s), nextAt: s.nextEvaluationAt }),
    }),
    version: t.exposeInt('version', { description: 'Increases with every successful evaluation.' }),
    size: t.exposeInt('size', { nullable: true, description: 'Members at the latest evaluation; null before the first.' }),
    evaluatedAt: t.expose('evaluatedAt', { type: 'DateTime', nullable: true }),
    // Read a page per segment, for a whole list of segments at once (src/history.ts).
    lastEvaluation: t.loadable({
      type: SegmentEvaluationRef,
      nullable: true,
      load: (segmentIds: string[], ctx: Context) => newestOf(ctx, SEGMENT_EVALUATIONS, segmentIds, evaluationsById),
      resolve: (s) => s.id,
    }),
    evaluations: t.connection(
      {
        type: SegmentEvaluationRef,
        description: 'Newest first.',
        resolve: (s, args, ctx) => historyConnection(ctx, SEGMENT_EVALUATIONS, s.id, args, evaluationsById),
      },
      { name: 'SegmentEvaluationsConnection' },
      { name: 'SegmentEvaluationsConnectionEdge' },
    ),
    sizeHistory: t.field({
      type: [SizePoint],
      description: 'Size after each successful evaluation, oldest first.',
      args: { last: t.arg.int({ defaultValue: 100 }) },
      resolve: (s, args, ctx) => sizeHistory(ctx.services, s.id, Math.min(Math.max(args.last ?? 100, 1), 1000)),
    }),
    breakdown: t.field({
      type: [BreakdownRow],
      description: "The most common values of one of the entity's columns among the members.",
      errors: { types: [ValidationError, SourceConnectionError] },
      args: { column: t.arg.string({ required: true }), limit: t.arg.int({ defaultValue: 10 }) },
      resolve: (s, args, ctx) => breakdown(ctx.services, workspaceOf(ctx), s, args.column, Math.min(Math.max(args.limit ?? 10, 1), 100)),
    }),
  }),
});

builder.queryField('segments', (t) =>
  t.prismaConnection({
    type: 'Segment',
    cursor: 'id',
    args: { entityId: t.arg.globalID({ for: [EntityRef] }) },
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.segment.findMany({ ...query, where: { workspaceId: workspaceOf(ctx), ...(args.entityId ? { entityId: args.entityId.id } : {}) } }),
  }),
);

builder.queryField('segment', (t) =>
  t.prismaField({
    type: 'Segment',
    nullable: true,
    args: { id: t.arg.globalID({ required: true, for: [SegmentRef] }) },
    resolve: (query, _root, { id }, ctx) => ctx.prisma.segment.findFirst({ ...query, where: { id: id.id, workspaceId: workspaceOf(ctx) } }),
  }),
);

const SegmentPreviewRef = builder.objectRef<{ size: number; sample: Record<string, unknown>[] }>('SegmentPreview').implement({
  fields: (t) => ({
    size: t.exposeInt('size'),
    sample: t.field({ type: ['JSON'], description: 'Members with their attributes.', resolve: (p) => p.sample }),
  }),
});

builder.queryField('segmentPreview', (t) =>
  t.field({
    type: SegmentPreviewRef,
    description: 'Size and a sample of members of a condition that need not be saved, evaluated now.',
    errors: { types: [ValidationError, NotFoundError, SourceConnectionError] },
    args: {
      entityId: t.arg.globalID({ required: true, for: [EntityRef] }),
      condition: t.arg({ type: ConditionInput, required: true }),
      sampleSize: t.arg.int({ defaultValue: 20 }),
    },
    resolve: (_root, args, ctx) =>
      preview(ctx.services, workspaceOf(ctx), args.entityId.id, toStoredCondition(args.condition), Math.min(Math.max(args.sampleSize ?? 20, 0), 200)),
  }),
);

const OverlapPair = builder.objectRef<{ a: Segment; b: Segment; count: number }>('SegmentOverlapPair').implement({
  fields: (t) => ({
    a: t.field({ type: SegmentRef, resolve: (p) => p.a }),
    b: t.field({ type: SegmentRef, resolve: (p) => p.b }),
    count: t.exposeInt('count', { description: 'Records in both.' }),
  }),
});

const SegmentSize = builder.objectRef<{ segment: Segment; size: number }>('SegmentSize').implement({
  fields: (t) => ({ segment: t.field({ type: SegmentRef, resolve: (p) => p.segment }), size: t.exposeInt('size') }),
});

const SegmentOverlapRef = builder.objectRef<{ sizes: { segment: Segment; size: number }[]; pairs: { a: Segment; b: Segment; count: number }[] }>('SegmentOverlap').implement({
  fields: (t) => ({
    sizes: t.field({ type: [SegmentSize], resolve: (o) => o.sizes }),
    pairs: t.field({ type: [OverlapPair], description: 'Every pair, including those with no overlap.', resolve: (o) => o.pairs }),
  }),
});

builder.queryField('segmentOverlap', (t) =>
  t.field({
    type: SegmentOverlapRef,
    description: "Pairwise overlaps of 2 to 10 segments of one entity, from their latest evaluations.",
    errors: { types: [ValidationError, NotFoundError, SourceConnectionError] },
    args: { ids: t.arg.globalIDList({ required: true, for: [SegmentRef] }) },
    resolve: (_root, args, ctx) => overlap(ctx.services, workspaceOf(ctx), args.ids.map((i) => i.id)),
  }),
);

const RecordRef = builder.objectRef<{ key: string; attributes: Record<string, unknown>; segments: Segment[] }>('Record').implement({
  description: 'One record of an entity, with the segments it is in (from their latest evaluations).',
  fields: (t) => ({
    key: t.exposeString('key'),
    attributes: t.field({ type: 'JSON', resolve: (r) => r.attributes }),
    segmentMemberships: t.field({ type: [SegmentRef], resolve: (r) => r.segments }),
  }),
});

builder.queryField('record', (t) =>
  t.field({
    type: RecordRef,
    nullable: true,
    description: 'A record by its primary key, and the segments it belongs to: the lookup personalisation services call at request time.',
    errors: { types: [NotFoundError, SourceConnectionError] },
    args: { entityId: t.arg.globalID({ required: true, for: [EntityRef] }), key: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => lookupRecord(ctx.services, workspaceOf(ctx), args.entityId.id, args.key),
  }),
);

// ─── Mutations ───────────────────────────────────────────────────────────────

const CreateSegmentInput = builder.inputType('CreateSegmentInput', {
  fields: (t) => ({
    entityId: t.globalID({ required: true, for: [EntityRef] }),
    name: t.string({ required: true }),
    description: t.string(),
    condition: t.field({ type: ConditionInput, required: true }),
    schedule: t.field({ type: ScheduleInput, description: 'When to evaluate; default manual.' }),
  }),
});

const UpdateSegmentInput = builder.inputType('UpdateSegmentInput', {
  description: 'Fields left out keep their value.',
  fields: (t) => ({
    name: t.string(),
    description: t.string(),
    condition: t.field({ type: ConditionInput }),
    schedule: t.field({ type: ScheduleInput }),
  }),
});

const segmentErrors = [ValidationError, NotFoundError, ConflictError, SourceConnectionError];

builder.mutationField('createSegment', (t) =>
  t.field({
    type: SegmentRef,
    errors: resultOf('CreateSegment', 'segment', segmentErrors),
    args: { input: t.arg({ type: CreateSegmentInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createSegment(ctx.services, workspaceOf(ctx), {
        entityId: input.entityId.id,
        name: input.name,
        description: input.description,
        condition: toStoredCondition(input.condition),
        schedule: input.schedule,
      }),
  }),
);

builder.mutationField('updateSegment', (t) =>
  t.field({
    type: SegmentRef,
    errors: resultOf('UpdateSegment', 'segment', segmentErrors),
    args: { id: t.arg.globalID({ required: true, for: [SegmentRef] }), input: t.arg({ type: UpdateSegmentInput, required: true }) },
    resolve: (_root, { id, input }, ctx) =>
      updateSegment(ctx.services, workspaceOf(ctx), id.id, {
        name: input.name,
        ...(input.description !== undefined ? { description: input.description } : {}),
        condition: input.condition ? toStoredCondition(input.condition) : undefined,
        schedule: input.schedule,
      }),
  }),
);

builder.mutationField('deleteSegment', (t) =>
  t.field({
    type: 'ID',
    errors: resultOf('DeleteSegment', 'deletedId', [NotFoundError, InvalidStateError]),
    args: { id: t.arg.globalID({ required: true, for: [SegmentRef] }) },
    resolve: async (_root, { id }, ctx) => {
      await deleteSegment(ctx.services, workspaceOf(ctx), id.id);
      return encodeGlobalID('Segment', id.id);
    },
  }),
);

builder.mutationField('evaluateSegment', (t) =>
  t.prismaField({
    type: 'SegmentEvaluation',
    description: 'Queues an evaluation (or returns the one already queued). Subscribe to segmentEvaluated for the outcome.',
    errors: resultOf('EvaluateSegment', 'evaluation', [NotFoundError, InvalidStateError]),
    args: { id: t.arg.globalID({ required: true, for: [SegmentRef] }) },
    resolve: async (query, _root, { id }, ctx) => {
      const evaluation = await requestEvaluation(ctx.services, workspaceOf(ctx), id.id);
      return ctx.prisma.segmentEvaluation.findUniqueOrThrow({ ...selection(query), where: { id: evaluation.id } });
    },
  }),
);

// ─── Subscription ────────────────────────────────────────────────────────────

const SegmentEvaluatedEvent = builder.objectRef<SegmentEvaluatedPayload>('SegmentEvaluatedEvent').implement({
  fields: (t) => ({
    segment: t.prismaField({
      type: 'Segment',
      nullable: true,
      resolve: (query, e, _a, ctx) => ctx.prisma.segment.findFirst({ ...query, where: { id: e.segmentId, workspaceId: workspaceOf(ctx) } }),
    }),
    evaluationId: t.exposeID('evaluationId'),
    status: t.field({ type: EvaluationStatusEnum, resolve: (e) => e.status }),
    size: t.exposeInt('size', { nullable: true }),
    entered: t.exposeInt('entered', { nullable: true }),
    exited: t.exposeInt('exited', { nullable: true }),
    version: t.exposeInt('version'),
    evaluatedAt: t.field({ type: 'DateTime', resolve: (e) => new Date(e.evaluatedAt) }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

builder.subscriptionType({ authScopes: { read: true } });

builder.subscriptionField('segmentEvaluated', (t) =>
  t.field({
    type: SegmentEvaluatedEvent,
    description: "Each evaluation's outcome for one segment of the caller's workspace.",
    args: { segmentId: t.arg.globalID({ required: true, for: [SegmentRef] }) },
    subscribe: async (_root, { segmentId }, ctx) => {
      // Checked before subscribing: a foreign or unknown segment is "not found".
      const segment = await ctx.prisma.segment.findFirst({ where: { id: segmentId.id, workspaceId: workspaceOf(ctx) } });
      if (!segment) throw new GraphQLError(`Segment "${segmentId.id}" not found in this workspace`, { extensions: { code: 'NOT_FOUND' } });
      if (!ctx.services.pubsub) throw new GraphQLError('subscriptions are not available in this process');
      return ctx.services.pubsub.subscribe('segmentEvaluated', segment.id);
    },
    resolve: (event, _args, ctx) => {
      // Defence in depth: the topic is per segment, and segments belong to one workspace.
      if (event.workspaceId !== workspaceOf(ctx)) throw new GraphQLError('event from another workspace');
      return event;
    },
  }),
);

