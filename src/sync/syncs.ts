// Audience syncs: what to send (a segment or a whole entity, mapped fields,
// identifiers), where (a destination audience), how (mode, removals) and when
// (schedule, status). Validation reports every problem at once.
import type { Services } from '../context.js';
import type { AudienceSync, Destination, Prisma } from '../generated/prisma/client.js';
import type { AudienceTarget, IdentifierType, RemovalBehavior, SyncMode, SyncStatus } from '../generated/prisma/enums.js';
import { InvalidStateError, NotFoundError, SourceConnectionError, ValidationError, type ValidationProblem } from '../graphql/errors.js';
import { fasterThan, nextRunAt, scheduleFromRow, validateSchedule, type Schedule } from '../jobs/schedule.js';
import { suggest } from '../lib/suggest.js';
import { resolvePath } from '../segments/metadata.js';
import { findSegment, loadCompileContext } from '../segments/segments.js';
import { findEntity } from '../warehouse/entities.js';
import { connectorOf, contextFor, findDestination } from './destinations.js';
import { mappingTypeProblem } from './field-types.js';
import { ConnectorError, type Connector, type DestinationField } from '../connectors/contract.js';
import type { ColumnType } from '../warehouse/types.js';

export const SEGMENT_MEMBERSHIP = 'segmentMembership';

export interface SyncInput {
  segmentId?: string | null;
  entityId?: string | null;
  destinationId: string;
  audience: { target: AudienceTarget; externalId?: string | null; name?: string | null; nameColumn?: string | null; type?: string | null };
  mode?: SyncMode | null;
  removalBehavior?: RemovalBehavior | null;
  mappings?: { from: string; to: string }[] | null;
  /** null: the intersection of the entity's identifiers and what the destination accepts. */
  identifiers?: IdentifierType[] | null;
  schedule?: Schedule | null;
  status?: SyncStatus | null;
}

export async function findSync(services: Services, workspaceId: string, id: string, path = ['id']): Promise<AudienceSync> {
  const sync = await services.db.prisma.audienceSync.findFirst({ where: { id, workspaceId } });
  if (!sync) throw new NotFoundError('AudienceSync', id, path);
  return sync;
}

/** Checks a complete sync definition; returns the data to store. */
async function checkedSync(services: Services, workspaceId: string, input: SyncInput) {
  const problems: ValidationProblem[] = [];
  if ((input.segmentId ? 1 : 0) + (input.entityId ? 1 : 0) !== 1) {
    throw new ValidationError([{ path: ['segmentId'], message: 'expected exactly one source: a segmentId, or an entityId to sync a whole entity' }]);
  }
  const segment = input.segmentId ? await findSegment(services, workspaceId, input.segmentId, ['segmentId']) : null;
  const entity = await findEntity(services, workspaceId, segment ? segment.entityId : input.entityId!, ['entityId']);
  const destination = await findDestination(services, workspaceId, input.destinationId);
  const connector = connectorOf(destination.type);
  const ctx = await loadCompileContext(services, workspaceId, entity.sourceId);
  const meta = ctx.entities.get(entity.id)!;

  // Audience
  const a = input.audience;
  const creates = a.target !== 'EXISTING';
  if (a.target === 'EXISTING' && !a.externalId?.trim()) problems.push({ path: ['audience', 'externalId'], message: 'expected the id of an existing audience in the destination, but got none' });
  if (a.target === 'CREATE_BY_NAME' && !a.name?.trim() && !segment) problems.push({ path: ['audience', 'name'], message: 'expected an audience name (a whole-entity sync has no segment name to use)' });
  if (a.target === 'NAME_FROM_COLUMN') {
    const column = meta.columns.find((c) => c.name === a.nameColumn);
    if (!column) problems.push({ path: ['audience', 'nameColumn'], message: `expected a column of ${entity.name} holding audience names, but got ${JSON.stringify(a.nameColumn ?? null)}`, suggestion: a.nameColumn ? suggest(a.nameColumn, meta.columns.map((c) => c.name)) : undefined });
    else if (column.type !== 'STRING') problems.push({ path: ['audience', 'nameColumn'], message: `expected a text column for audience names, but "${column.name}" is ${column.dataType}` });
  }
  if (creates && !connector.spec.audiences.canCreate) problems.push({ path: ['audience', 'target'], message: `destination type ${connector.type} cannot create audiences; use EXISTING with an audience id` });
  if (a.type && !connector.spec.audiences.types.includes(a.type)) {
    problems.push({ path: ['audience', 'type'], message: `expected one of ${connector.spec.audiences.types.join(', ') || '(no types)'}, but got "${a.type}"`, suggestion: suggest(a.type, connector.spec.audiences.types) });
  }

  // Mappings
  const mappings = input.mappings ?? [];
  const targets = new Set<string>();
  const typed: { index: number; from: string; to: string; type: ColumnType | 'SEGMENT_LIST'; dataType: string }[] = [];
  mappings.forEach((m, i) => {
    const path = ['mappings', String(i)];
    if (!m.to?.trim()) problems.push({ path: [...path, 'to'], message: 'expected a destination field name, but got an empty one' });
    else if (targets.has(m.to)) problems.push({ path: [...path, 'to'], message: `expected each destination field once, but "${m.to}" is mapped again` });
    targets.add(m.to);
    if (m.from === SEGMENT_MEMBERSHIP) {
      if (segment) problems.push({ path: [...path, 'from'], message: 'segmentMembership lists all segments a record is in: it is available when syncing a whole entity, not a segment' });
      else if (m.to?.trim()) typed.push({ index: i, from: m.from, to: m.to, type: 'SEGMENT_LIST', dataType: '' });
      return;
    }
    const found = resolvePath(ctx, meta, m.from);
    if (found.ok && m.to?.trim()) typed.push({ index: i, from: m.from, to: m.to, type: found.resolved.column.type, dataType: found.resolved.column.dataType });
    if (!found.ok) {
      problems.push({ path: [...path, 'from'], message: `expected a column of ${entity.name}, a many-to-one path such as company.name, or ${SEGMENT_MEMBERSHIP}, but "${m.from}" is none of these`, suggestion: suggest(m.from, [...meta.columns.map((c) => c.name), SEGMENT_MEMBERSHIP]) });
    }
  });

  // Mapped types against the destination's properties, where it has typed ones.
  if (typed.length && connector.fields) problems.push(...(await fieldProblems(services, destination, connector, typed)));

  // Identifiers: declared on the entity and accepted by the destination.
  const declared = new Map(entity.identifiers.map((i) => [i.type, i.column]));
  const accepted = new Set(connector.spec.identifiers.map((i) => i.type));
  const wanted = input.identifiers ?? [...declared.keys()].filter((t) => accepted.has(t));
  wanted.forEach((type, i) => {
    if (!declared.has(type)) problems.push({ path: ['identifiers', String(i)], message: `${entity.name} declares no ${type} identifier (it has ${[...declared.keys()].join(', ') || 'none'})` });
    else if (!accepted.has(type)) problems.push({ path: ['identifiers', String(i)], message: `destination type ${connector.type} does not accept ${type} (it accepts ${[...accepted].join(', ')})` });
  });

  const schedule = input.schedule ?? { kind: 'MANUAL' as const };
  problems.push(...validateSchedule(schedule, ['schedule']));
  if (problems.length) throw new ValidationError(problems);

  return {
    segment,
    entity,
    destination,
    connector,
    data: {
      workspaceId,
      entityId: entity.id,
      segmentId: segment?.id ?? null,
      destinationId: destination.id,
      audienceTarget: a.target,
      audienceExternalId: a.target === 'EXISTING' ? a.externalId!.trim() : null,
      audienceName: a.target === 'CREATE_BY_NAME' ? (a.name?.trim() || segment!.name) : null,
      audienceNameColumn: a.target === 'NAME_FROM_COLUMN' ? a.nameColumn! : null,
      audienceType: a.type ?? connector.spec.audiences.defaultType,
      mode: input.mode ?? 'MIRROR',
      removalBehavior: input.removalBehavior ?? 'REMOVE',
      mappings: mappings as unknown as Prisma.InputJsonValue,
      identifiers: wanted.map((type) => ({ type, column: declared.get(type)! })) as unknown as Prisma.InputJsonValue,
      scheduleKind: schedule.kind,
      scheduleCron: schedule.kind === 'CRON' ? (schedule.cron ?? null) : null,
      scheduleTimezone: schedule.timezone ?? null,
      status: input.status ?? 'DRAFT',
    },
  };
}

async function fieldProblems(
  services: Services,
  destination: Destination,
  connector: Connector,
  typed: { index: number; from: string; to: string; type: ColumnType | 'SEGMENT_LIST'; dataType: string }[],
): Promise<ValidationProblem[]> {
  let fields: DestinationField[];
  try {
    fields = await connector.fields!(contextFor(services, destination));
  } catch (err) {
    if (err instanceof ConnectorError) {
      throw new SourceConnectionError(`could not read the properties of destination "${destination.name}" to check the mappings: ${err.message}`, err.code, ['mappings']);
    }
    throw err;
  }
  const byName = new Map(fields.map((f) => [f.name, f]));
  const problems: ValidationProblem[] = [];
  for (const m of typed) {
    const field = byName.get(m.to);
    const path = ['mappings', String(m.index), 'to'];
    if (!field) {
      problems.push({ path, message: `destination "${destination.name}" has no property "${m.to}"`, suggestion: suggest(m.to, fields.map((f) => f.name)) });
      continue;
    }
    const problem = mappingTypeProblem(m.from, m.type, m.dataType, field);
    if (problem) problems.push({ path, message: problem });
  }
  return problems;
}

function nextRun(data: { status: SyncStatus; scheduleKind: Schedule['kind']; scheduleCron: string | null; scheduleTimezone: string | null }, now = new Date()): Date | null {
  return data.status === 'ACTIVE' ? nextRunAt(scheduleFromRow(data), now) : null;
}

export async function createSync(services: Services, workspaceId: string, input: SyncInput, extra: { managed?: boolean } = {}): Promise<AudienceSync> {
  const { data } = await checkedSync(services, workspaceId, input);
  return services.db.prisma.audienceSync.create({ data: { ...data, managed: extra.managed ?? false, nextRunAt: nextRun(data) } });
}

/** The stored sync as the input it was made from, for updates that change a part. */
export function inputOf(sync: AudienceSync): SyncInput {
  return {
    segmentId: sync.segmentId,
    entityId: sync.segmentId ? null : sync.entityId,
    destinationId: sync.destinationId,
    audience: { target: sync.audienceTarget, externalId: sync.audienceExternalId, name: sync.audienceName, nameColumn: sync.audienceNameColumn, type: sync.audienceType },
    mode: sync.mode,
    removalBehavior: sync.removalBehavior,
    mappings: sync.mappings as { from: string; to: string }[],
    identifiers: (sync.identifiers as { type: IdentifierType }[]).map((i) => i.type),
    schedule: scheduleFromRow(sync),
    status: sync.status,
  };
}

export async function updateSync(services: Services, workspaceId: string, id: string, patch: Partial<SyncInput>): Promise<AudienceSync> {
  const sync = await findSync(services, workspaceId, id);
  if (sync.managed) {
    throw new InvalidStateError('this sync is a managed one-click audience: it can be turned on or off, not edited; create a classic sync to customise it', ['id']);
  }
  const merged: SyncInput = { ...inputOf(sync), ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) } as SyncInput;
  // The source and destination of a sync are what its snapshot describes; changing them would be a different sync.
  if ((patch.segmentId && patch.segmentId !== sync.segmentId) || (patch.destinationId && patch.destinationId !== sync.destinationId)) {
    throw new ValidationError([{ path: [patch.segmentId ? 'segmentId' : 'destinationId'], message: "a sync's source and destination cannot change (its snapshot describes them); create another sync" }]);
  }
  const { data } = await checkedSync(services, workspaceId, merged);
  return services.db.prisma.audienceSync.update({ where: { id: sync.id }, data: { ...data, nextRunAt: nextRun(data) } });
}

export async function setSyncStatus(services: Services, workspaceId: string, id: string, status: SyncStatus): Promise<AudienceSync> {
  const sync = await findSync(services, workspaceId, id);
  return services.db.prisma.audienceSync.update({ where: { id: sync.id }, data: { status, nextRunAt: nextRun({ ...sync, status }) } });
}

export async function deleteSync(services: Services, workspaceId: string, id: string): Promise<AudienceSync> {
  const sync = await findSync(services, workspaceId, id);
  if (sync.managed && sync.status === 'ACTIVE') {
    throw new InvalidStateError('this sync is an enabled one-click audience; turn it off (setOneClickAudience with enabled: false) before deleting it', ['id']);
  }
  const running = await services.db.prisma.syncRun.count({ where: { syncId: sync.id, status: { in: ['QUEUED', 'RUNNING'] } } });
  if (running) throw new InvalidStateError('this sync has a run queued or in progress; pause it and wait for the run to finish', ['id']);
  await services.db.prisma.audienceSync.delete({ where: { id: sync.id } });
  return sync;
}

/** Warnings about a valid sync: scheduled faster than its segment is evaluated. */
export async function syncWarnings(services: Services, sync: AudienceSync): Promise<string[]> {
  if (!sync.segmentId) return [];
  const segment = await services.db.prisma.segment.findUnique({ where: { id: sync.segmentId } });
  if (!segment) return [];
  const syncSchedule = scheduleFromRow(sync);
  const segmentSchedule = scheduleFromRow(segment);
  if (syncSchedule.kind !== 'MANUAL' && fasterThan(syncSchedule, segmentSchedule)) {
    return [`this sync runs more often than segment "${segment.name}" is evaluated (${segmentSchedule.kind.toLowerCase()}); runs in between find no changes`];
  }
  return [];
}

// ─── Quick sync ──────────────────────────────────────────────────────────────

/**
 * Templates for a segment: per destination, the most recently created ACTIVE
 * sync of the same entity (paused and draft syncs never serve as templates).
 */
export async function quickSyncTemplates(services: Services, workspaceId: string, segmentId: string): Promise<AudienceSync[]> {
  const segment = await findSegment(services, workspaceId, segmentId, ['segmentId']);
  const active = await services.db.prisma.audienceSync.findMany({
    where: { workspaceId, entityId: segment.entityId, status: 'ACTIVE', managed: false },
    orderBy: { createdAt: 'desc' },
  });
  const byDestination = new Map<string, AudienceSync>();
  for (const sync of active) if (!byDestination.has(sync.destinationId)) byDestination.set(sync.destinationId, sync);
  return [...byDestination.values()];
}

export async function quickSync(services: Services, workspaceId: string, segmentId: string, destinationId: string): Promise<AudienceSync> {
  const segment = await findSegment(services, workspaceId, segmentId, ['segmentId']);
  const template = (await quickSyncTemplates(services, workspaceId, segmentId)).find((s) => s.destinationId === destinationId);
  if (!template) {
    await findDestination(services, workspaceId, destinationId);
    throw new InvalidStateError(`no active sync of this entity to that destination to copy from; create a sync first`, ['destinationId']);
  }
  const base = inputOf(template);
  return createSync(services, workspaceId, {
    ...base,
    segmentId: segment.id,
    entityId: null,
    audience: { target: 'CREATE_BY_NAME', name: segment.name, type: template.audienceType },
    // segmentMembership belongs to whole-entity syncs only.
    mappings: (base.mappings ?? []).filter((m) => m.from !== SEGMENT_MEMBERSHIP),
    status: 'ACTIVE',
  });
}
