// Entities (a table, view or SQL model of a source) and relationships between
// them. Everything a user names is checked against the warehouse as it is
// now: the columns stored on an entity are the only identifiers that generated
// SQL may ever contain.
import type { Services } from '../context.js';
import type { Entity, Prisma, Relationship } from '../generated/prisma/client.js';
import type { EntityKind, IdentifierType, RelationshipKind } from '../generated/prisma/enums.js';
import {
  ConflictError,
  InvalidStateError,
  NotFoundError,
  ValidationError,
  type ValidationProblem,
} from '../graphql/errors.js';
import { isUniqueViolation } from '../lib/prisma-errors.js';
import { suggest } from '../lib/suggest.js';
import { WarehouseError } from './connection.js';
import { describeQuery, describeTable, listTables } from './introspect.js';
import { findSource, validateName, withSourcePool } from './sources.js';
import type { ColumnType, WarehouseColumn } from './types.js';

/** Which column types can hold each identifier. */
export const IDENTIFIER_COLUMN_TYPES: Record<IdentifierType, readonly ColumnType[]> = {
  EMAIL: ['STRING'],
  PHONE: ['STRING', 'INTEGER', 'NUMBER'],
  MAID: ['STRING', 'UUID'],
  EXTERNAL_ID: ['STRING', 'INTEGER', 'UUID'],
  FIRST_NAME: ['STRING'],
  LAST_NAME: ['STRING'],
  ZIP: ['STRING', 'INTEGER'],
  CITY: ['STRING'],
  STATE: ['STRING'],
  COUNTRY: ['STRING'],
  DATE_OF_BIRTH: ['DATE', 'TIMESTAMP', 'STRING'],
  GENDER: ['STRING'],
};

/** A primary key must be a scalar that compares exactly. */
export const KEY_COLUMN_TYPES: readonly ColumnType[] = ['STRING', 'INTEGER', 'UUID', 'NUMBER'];

export type EntityFrom = { table: { schema: string; name: string }; sql?: never } | { sql: string; table?: never };

export interface EntityDraft {
  name: string;
  kind: EntityKind;
  from: EntityFrom;
  primaryKey: string;
  identifiers: { type: IdentifierType; column: string }[];
}

export function entityFromOf(entity: Pick<Entity, 'tableSchema' | 'tableName' | 'sql'>): EntityFrom {
  return entity.sql != null ? { sql: entity.sql } : { table: { schema: entity.tableSchema!, name: entity.tableName! } };
}

export function columnsOf(entity: Pick<Entity, 'columns'>): WarehouseColumn[] {
  return entity.columns as unknown as WarehouseColumn[];
}

function columnProblem(path: string[], column: string, columns: WarehouseColumn[], where: string): ValidationProblem {
  const names = columns.map((c) => c.name);
  return {
    path,
    message: `no column "${column}" on ${where} (it has ${names.length <= 12 ? names.join(', ') : `${names.slice(0, 12).join(', ')}, …`})`,
    suggestion: suggest(column, names),
  };
}

/** Pure: checks a draft's key and identifiers against the columns it resolves to. */
export function validateEntityColumns(draft: Pick<EntityDraft, 'primaryKey' | 'identifiers'>, columns: WarehouseColumn[], where: string): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const byName = new Map(columns.map((c) => [c.name, c]));

  const pk = byName.get(draft.primaryKey);
  if (!pk) problems.push(columnProblem(['primaryKey'], draft.primaryKey, columns, where));
  else if (!KEY_COLUMN_TYPES.includes(pk.type)) {
    problems.push({
      path: ['primaryKey'],
      message: `expected a primary key column of a text, integer, numeric or uuid type, but "${pk.name}" is ${pk.dataType}`,
    });
  }

  const seen = new Set<IdentifierType>();
  draft.identifiers.forEach((identifier, i) => {
    const path = ['identifiers', String(i)];
    if (seen.has(identifier.type)) {
      problems.push({ path: [...path, 'type'], message: `expected each identifier type once, but ${identifier.type} is given again` });
    }
    seen.add(identifier.type);
    const column = byName.get(identifier.column);
    if (!column) {
      problems.push(columnProblem([...path, 'column'], identifier.column, columns, where));
      return;
    }
    const fits = IDENTIFIER_COLUMN_TYPES[identifier.type];
    if (!fits.includes(column.type)) {
      problems.push({
        path: [...path, 'column'],
        message: `expected a ${fits.map((f) => f.toLowerCase()).join(' or ')} column for ${identifier.type}, but "${column.name}" is ${column.dataType}`,
      });
    }
  });
  return problems;
}

function describeFrom(from: EntityFrom): string {
  return from.table ? `"${from.table.schema}"."${from.table.name}"` : 'the SQL model';
}

/** Resolves where an entity's rows come from to their columns, or says why it cannot. */
async function resolveColumns(services: Services, source: Parameters<typeof withSourcePool>[1], from: EntityFrom): Promise<WarehouseColumn[]> {
  if ((from.table ? 1 : 0) + (from.sql != null ? 1 : 0) !== 1) {
    throw new ValidationError([{ path: ['from'], message: 'expected exactly one of from.table or from.sql' }]);
  }
  return withSourcePool(services, source, async (pool) => {
    if (from.table) {
      const table = await describeTable(pool, from.table.schema, from.table.name);
      if (table) return table.columns;
      const candidates = await listTables(pool);
      const names = candidates.map((t) => `${t.schema}.${t.name}`);
      throw new ValidationError([
        {
          path: ['from', 'table'],
          message: `no table or view "${from.table.schema}.${from.table.name}" that this source's user can read in source "${source.name}"`,
          suggestion: suggest(`${from.table.schema}.${from.table.name}`, names),
        },
      ]);
    }
    try {
      return await describeQuery(pool, from.sql!);
    } catch (err) {
      if (err instanceof WarehouseError && err.code === 'QUERY_FAILED') {
        throw new ValidationError([{ path: ['from', 'sql'], message: err.message }]);
      }
      throw err;
    }
  });
}

const entityInclude = { identifiers: true } satisfies Prisma.EntityInclude;

export async function findEntity(services: Services, workspaceId: string, id: string, path = ['entityId']) {
  const entity = await services.db.prisma.entity.findFirst({ where: { id, workspaceId }, include: entityInclude });
  if (!entity) throw new NotFoundError('Entity', id, path);
  return entity;
}

/** Checks a draft's name, then resolves its rows to columns and checks key and identifiers against them. */
async function checkDraft(services: Services, workspaceId: string, sourceId: string, draft: EntityDraft) {
  const nameProblem = validateName(draft.name, ['name'], 'entity');
  if (nameProblem) throw new ValidationError([nameProblem]);
  const source = await findSource(services, workspaceId, sourceId);
  const columns = await resolveColumns(services, source, draft.from);
  return { source, columns, problems: validateEntityColumns(draft, columns, describeFrom(draft.from)) };
}

/** The stored form of a checked draft (columns as just introspected). */
function entityData(draft: EntityDraft, columns: WarehouseColumn[]) {
  return {
    name: draft.name.trim(),
    kind: draft.kind,
    tableSchema: draft.from.table?.schema ?? null,
    tableName: draft.from.table?.name ?? null,
    sql: draft.from.sql ?? null,
    primaryKey: draft.primaryKey,
    columns: columns as unknown as Prisma.InputJsonValue,
    introspectedAt: new Date(),
    identifiers: { create: draft.identifiers.map((i) => ({ type: i.type, column: i.column })) },
  };
}

function nameTaken(err: unknown, draft: EntityDraft): never {
  if (isUniqueViolation(err)) throw new ConflictError(`an entity named "${draft.name.trim()}" already exists in this workspace`, ['name']);
  throw err;
}

export async function createEntity(services: Services, workspaceId: string, sourceId: string, draft: EntityDraft) {
  const { source, columns, problems } = await checkDraft(services, workspaceId, sourceId, draft);
  if (problems.length) throw new ValidationError(problems);
  try {
    return await services.db.prisma.entity.create({
      data: { workspaceId, sourceId: source.id, ...entityData(draft, columns) },
      include: entityInclude,
    });
  } catch (err) {
    nameTaken(err, draft);
  }
}

/**
 * Updates an entity and re-reads its columns from the warehouse (so `update`
 * with no changes is also "refresh columns"). Relationships that would lose
 * their join column are reported, not silently broken.
 */
export async function updateEntity(services: Services, workspaceId: string, id: string, patch: Partial<EntityDraft>) {
  const entity = await findEntity(services, workspaceId, id, ['id']);
  const draft: EntityDraft = {
    name: patch.name ?? entity.name,
    kind: patch.kind ?? entity.kind,
    from: patch.from ?? entityFromOf(entity),
    primaryKey: patch.primaryKey ?? entity.primaryKey,
    identifiers: patch.identifiers ?? entity.identifiers.map((i) => ({ type: i.type, column: i.column })),
  };
  const { columns, problems } = await checkDraft(services, workspaceId, entity.sourceId, draft);

  const names = new Set(columns.map((c) => c.name));
  const rels = await services.db.prisma.relationship.findMany({
    where: { OR: [{ fromEntityId: entity.id }, { toEntityId: entity.id }] },
  });
  for (const rel of rels) {
    const column = rel.fromEntityId === entity.id ? rel.fromColumn : rel.toColumn;
    if (!names.has(column)) {
      problems.push({ path: ['from'], message: `relationship "${rel.name}" joins on column "${column}", which the new definition no longer has; delete or change the relationship first` });
    }
  }
  if (problems.length) throw new ValidationError(problems);

  try {
    return await services.db.prisma.$transaction(async (tx) => {
      await tx.entityIdentifier.deleteMany({ where: { entityId: entity.id } });
      return tx.entity.update({ where: { id: entity.id }, data: entityData(draft, columns), include: entityInclude });
    });
  } catch (err) {
    nameTaken(err, draft);
  }
}

export async function deleteEntity(services: Services, workspaceId: string, id: string) {
  const entity = await findEntity(services, workspaceId, id, ['id']);
  const [segments, syncs] = await Promise.all([
    services.db.prisma.segment.count({ where: { entityId: entity.id } }),
    services.db.prisma.audienceSync.count({ where: { entityId: entity.id } }),
  ]);
  if (segments || syncs) {
    throw new InvalidStateError(
      `entity "${entity.name}" is used by ${segments} segment(s) and ${syncs} sync(s); delete those first`,
      ['id'],
    );
  }
  // Its relationships (both directions) and identifiers go with it.
  await services.db.prisma.entity.delete({ where: { id: entity.id } });
  return entity;
}

// ─── Relationships ───────────────────────────────────────────────────────────

export interface RelationshipDraft {
  name: string;
  kind: RelationshipKind;
  fromEntityId: string;
  toEntityId: string;
  fromColumn: string;
  toColumn: string;
}

const RELATIONSHIP_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Join columns must compare without a cast that changes meaning. */
function joinable(a: ColumnType, b: ColumnType): boolean {
  const numeric = (t: ColumnType) => t === 'INTEGER' || t === 'NUMBER';
  if (numeric(a) && numeric(b)) return true;
  return a === b && a !== 'JSON' && a !== 'ARRAY' && a !== 'OTHER';
}

/** Pure: checks a relationship between two entities' columns. */
export function validateRelationship(
  draft: Pick<RelationshipDraft, 'name' | 'fromColumn' | 'toColumn'>,
  from: { name: string; columns: WarehouseColumn[]; sourceId: string },
  to: { name: string; columns: WarehouseColumn[]; sourceId: string },
): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (!RELATIONSHIP_NAME.test(draft.name)) {
    problems.push({ path: ['name'], message: `expected a relationship name of letters, digits and _ (used in paths such as company.industry), but got ${JSON.stringify(draft.name)}` });
  } else if (from.columns.some((c) => c.name === draft.name)) {
    problems.push({ path: ['name'], message: `"${draft.name}" is already a column of ${from.name}; a relationship needs a name that paths can tell apart from its columns` });
  }
  if (from.sourceId !== to.sourceId) {
    problems.push({ path: ['toEntityId'], message: `expected both entities in the same source (joins run inside one warehouse), but ${from.name} and ${to.name} are in different sources` });
  }
  const fromCol = from.columns.find((c) => c.name === draft.fromColumn);
  const toCol = to.columns.find((c) => c.name === draft.toColumn);
  if (!fromCol) problems.push(columnProblem(['fromColumn'], draft.fromColumn, from.columns, from.name));
  if (!toCol) problems.push(columnProblem(['toColumn'], draft.toColumn, to.columns, to.name));
  if (fromCol && toCol && !joinable(fromCol.type, toCol.type)) {
    problems.push({
      path: ['toColumn'],
      message: `expected join columns of comparable types, but ${from.name}.${fromCol.name} is ${fromCol.dataType} and ${to.name}.${toCol.name} is ${toCol.dataType}`,
    });
  }
  return problems;
}

export async function createRelationship(services: Services, workspaceId: string, draft: RelationshipDraft): Promise<Relationship> {
  const [from, to] = await Promise.all([
    findEntity(services, workspaceId, draft.fromEntityId, ['fromEntityId']),
    findEntity(services, workspaceId, draft.toEntityId, ['toEntityId']),
  ]);
  const problems = validateRelationship(
    draft,
    { name: from.name, columns: columnsOf(from), sourceId: from.sourceId },
    { name: to.name, columns: columnsOf(to), sourceId: to.sourceId },
  );
  if (problems.length) throw new ValidationError(problems);
  try {
    return await services.db.prisma.relationship.create({
      data: { workspaceId, name: draft.name, kind: draft.kind, fromEntityId: from.id, toEntityId: to.id, fromColumn: draft.fromColumn, toColumn: draft.toColumn },
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`entity "${from.name}" already has a relationship named "${draft.name}"`, ['name']);
    throw err;
  }
}

export async function findRelationship(services: Services, workspaceId: string, id: string): Promise<Relationship> {
  const rel = await services.db.prisma.relationship.findFirst({ where: { id, workspaceId } });
  if (!rel) throw new NotFoundError('Relationship', id, ['id']);
  return rel;
}

/** Changes a relationship's name, kind or join columns, checked as on creation. */
export async function updateRelationship(
  services: Services,
  workspaceId: string,
  id: string,
  patch: Partial<Pick<RelationshipDraft, 'name' | 'kind' | 'fromColumn' | 'toColumn'>>,
): Promise<Relationship> {
  const rel = await findRelationship(services, workspaceId, id);
  const next = {
    name: patch.name ?? rel.name,
    kind: patch.kind ?? rel.kind,
    fromColumn: patch.fromColumn ?? rel.fromColumn,
    toColumn: patch.toColumn ?? rel.toColumn,
  };
  const [from, to] = await Promise.all([
    findEntity(services, workspaceId, rel.fromEntityId, ['id']),
    findEntity(services, workspaceId, rel.toEntityId, ['id']),
  ]);
  const problems = validateRelationship(
    next,
    { name: from.name, columns: columnsOf(from), sourceId: from.sourceId },
    { name: to.name, columns: columnsOf(to), sourceId: to.sourceId },
  );
  if (problems.length) throw new ValidationError(problems);
  try {
    return await services.db.prisma.relationship.update({ where: { id: rel.id }, data: next });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`entity "${from.name}" already has a relationship named "${next.name}"`, ['name']);
    throw err;
  }
}

export async function deleteRelationship(services: Services, workspaceId: string, id: string): Promise<Relationship> {
  const rel = await findRelationship(services, workspaceId, id);
  await services.db.prisma.relationship.delete({ where: { id: rel.id } });
  return rel;
}
