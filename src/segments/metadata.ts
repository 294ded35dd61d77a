// What validation and compilation of conditions know about a source: its
// entities (rows, key, introspected columns, outgoing relationships) and the
// workspace's segments. Plain data, built once per request or job from the
// configuration database, so that validate.ts and compile.ts stay pure.
// These are the only names that may ever reach generated SQL.
import type { Entity, Relationship, Segment } from '../generated/prisma/client.js';
import { qualified } from '../lib/sql.js';
import type { ColumnType, WarehouseColumn } from '../warehouse/types.js';

export interface RelationshipMeta {
  name: string;
  kind: 'MANY_TO_ONE' | 'ONE_TO_MANY';
  /** A column of the entity the relationship starts from. */
  fromColumn: string;
  /** A column of the target entity: target.toColumn = from.fromColumn. */
  toColumn: string;
  targetId: string;
}

export interface EntityMeta {
  id: string;
  name: string;
  from: { table: { schema: string; name: string } } | { sql: string };
  primaryKey: string;
  columns: WarehouseColumn[];
  /** Outgoing relationships. */
  relationships: RelationshipMeta[];
}

export interface SegmentMeta {
  id: string;
  name: string;
  entityId: string;
  /** The stored condition, as JSON: read only to detect reference cycles. */
  condition: unknown;
}

export interface CompileContext {
  /** Every entity of the source (relationship targets resolve here). */
  entities: ReadonlyMap<string, EntityMeta>;
  /** The workspace's segments that conditions may reference. */
  segments: ReadonlyMap<string, SegmentMeta>;
  /** The warehouse schema where segment_members lives. */
  plannerSchema: string;
}

/**
 * The entity's rows as a FROM item: `"schema"."name"`, or a SQL model as a
 * parenthesised subquery. The model's text goes on lines of its own so that a
 * trailing `-- comment` in it cannot swallow the closing parenthesis.
 */
export function relationSql(entity: EntityMeta): string {
  return 'sql' in entity.from ? `(\n${entity.from.sql}\n)` : qualified(entity.from.table.schema, entity.from.table.name);
}

const COLUMN_TYPES: ReadonlySet<string> = new Set<ColumnType>([
  'STRING', 'INTEGER', 'NUMBER', 'BOOLEAN', 'TIMESTAMP', 'DATE', 'JSON', 'UUID', 'ARRAY', 'OTHER',
]);

/** Entity.columns as stored (JSON); anything malformed is dropped rather than trusted. */
function columnsFromJson(json: unknown): WarehouseColumn[] {
  if (!Array.isArray(json)) return [];
  const columns: WarehouseColumn[] = [];
  for (const c of json as unknown[]) {
    if (typeof c !== 'object' || c === null) continue;
    const o = c as Record<string, unknown>;
    if (typeof o.name !== 'string' || o.name === '') continue;
    columns.push({
      name: o.name,
      dataType: typeof o.dataType === 'string' ? o.dataType : '',
      type: typeof o.type === 'string' && COLUMN_TYPES.has(o.type) ? (o.type as ColumnType) : 'OTHER',
      nullable: o.nullable !== false,
    });
  }
  return columns;
}

export function entityMetaOf(entity: Entity & { relationships: Relationship[] }): EntityMeta {
  return {
    id: entity.id,
    name: entity.name,
    from:
      entity.sql != null
        ? { sql: entity.sql }
        : { table: { schema: entity.tableSchema ?? '', name: entity.tableName ?? '' } },
    primaryKey: entity.primaryKey,
    columns: columnsFromJson(entity.columns),
    relationships: entity.relationships
      // Only outgoing ones: an include of `relationships` is exactly that, but be sure.
      .filter((r) => r.fromEntityId === entity.id)
      .map((r) => ({ name: r.name, kind: r.kind, fromColumn: r.fromColumn, toColumn: r.toColumn, targetId: r.toEntityId })),
  };
}

/** The compile context from Prisma rows: entities with their outgoing relationships, and segments. */
export function buildCompileContext(input: {
  entities: (Entity & { relationships: Relationship[] })[];
  segments: Segment[];
  plannerSchema: string;
}): CompileContext {
  return {
    entities: new Map(input.entities.map((e) => [e.id, entityMetaOf(e)])),
    segments: new Map(
      input.segments.map((s) => [s.id, { id: s.id, name: s.name, entityId: s.entityId, condition: s.condition as unknown }]),
    ),
    plannerSchema: input.plannerSchema,
  };
}

// ─── Attribute paths ─────────────────────────────────────────────────────────

export interface PathHop {
  relationship: RelationshipMeta;
  /** The entity the relationship leads to. */
  target: EntityMeta;
}

export interface ResolvedPath {
  /** MANY_TO_ONE relationships followed, in order (empty for the entity's own column). */
  hops: PathHop[];
  /** The entity that holds the column (the last hop's target, or the entity itself). */
  entity: EntityMeta;
  column: WarehouseColumn;
}

/** Why a path does not resolve, at the point where it went furthest. */
export type PathFailure =
  | { kind: 'no-column'; entity: EntityMeta; name: string; via: string[] }
  | { kind: 'relationship-not-column'; entity: EntityMeta; relationship: RelationshipMeta; via: string[] }
  | { kind: 'no-relationship'; entity: EntityMeta; name: string; rest: string; via: string[] }
  | { kind: 'one-to-many'; entity: EntityMeta; relationship: RelationshipMeta; via: string[] }
  | { kind: 'missing-target'; entity: EntityMeta; relationship: RelationshipMeta; via: string[] };

/**
 * Resolves `column`, `rel.column` or `rel.rel2.column`. Names may contain dots
 * themselves: a column whose whole name matches wins, then relationships whose
 * name followed by "." prefixes the rest (longest first). On failure, the
 * reason found furthest along the path.
 */
export function resolvePath(
  ctx: CompileContext,
  entity: EntityMeta,
  path: string,
): { ok: true; resolved: ResolvedPath } | { ok: false; failure: PathFailure } {
  let best: { failure: PathFailure; consumed: number } | undefined;
  const fail = (failure: PathFailure, consumed: number) => {
    if (!best || consumed > best.consumed) best = { failure, consumed };
  };

  const walk = (at: EntityMeta, rest: string, hops: PathHop[], consumed: number): ResolvedPath | undefined => {
    const via = hops.map((h) => h.relationship.name);
    const column = at.columns.find((c) => c.name === rest);
    if (column) return { hops, entity: at, column };

    const candidates = at.relationships
      .filter((r) => rest.startsWith(`${r.name}.`))
      .sort((a, b) => b.name.length - a.name.length);
    for (const rel of candidates) {
      const after = consumed + rel.name.length + 1;
      if (rel.kind !== 'MANY_TO_ONE') {
        fail({ kind: 'one-to-many', entity: at, relationship: rel, via }, after);
        continue;
      }
      const target = ctx.entities.get(rel.targetId);
      if (!target) {
        fail({ kind: 'missing-target', entity: at, relationship: rel, via }, after);
        continue;
      }
      const found = walk(target, rest.slice(rel.name.length + 1), [...hops, { relationship: rel, target }], after);
      if (found) return found;
    }
    if (candidates.length === 0) {
      const asRelationship = at.relationships.find((r) => r.name === rest);
      const dot = rest.indexOf('.');
      if (asRelationship) fail({ kind: 'relationship-not-column', entity: at, relationship: asRelationship, via }, consumed);
      else if (dot > 0) fail({ kind: 'no-relationship', entity: at, name: rest.slice(0, dot), rest: rest.slice(dot + 1), via }, consumed);
      else fail({ kind: 'no-column', entity: at, name: rest, via }, consumed);
    }
    return undefined;
  };

  const resolved = walk(entity, path, [], 0);
  if (resolved) return { ok: true, resolved };
  return { ok: false, failure: best!.failure };
}

/** The DATE and TIMESTAMP columns of an entity: candidates for an event's time column. */
export function timeColumns(entity: EntityMeta): WarehouseColumn[] {
  return entity.columns.filter((c) => c.type === 'DATE' || c.type === 'TIMESTAMP');
}

/**
 * A TIMESTAMP column without a time zone ("timestamp", "timestamp(3) without
 * time zone"). Roster reads such values as UTC wall-clock times, whatever the
 * session's TimeZone, so that results never depend on connection settings.
 */
export function isNaiveTimestamp(column: WarehouseColumn): boolean {
  if (column.type !== 'TIMESTAMP') return false;
  const t = column.dataType.trim().toLowerCase();
  return /without time zone/.test(t) || /^timestamp(\(\d+\))?$/.test(t);
}

/** An ARRAY column whose elements are text of some kind (CONTAINS tests element membership). */
export function isTextArray(column: WarehouseColumn): boolean {
  if (column.type !== 'ARRAY') return false;
  const element = column.dataType
    .trim()
    .toLowerCase()
    .replace(/(\[\d*\])+$/, '')
    .replace(/\([^)]*\)/g, '')
    .replace(/^(?:"(?:[^"]|"")*"|[^."]+)\./, '')
    .replace(/"/g, '')
    .trim();
  return ['text', 'character varying', 'varchar', 'character', 'char', 'bpchar', 'citext', 'name'].includes(element);
}
