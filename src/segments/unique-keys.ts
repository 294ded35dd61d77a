// Whether the warehouse itself guarantees one row per key: then the rows
// of a segment's members, or of a sync, need no deduplication, which
// otherwise sorts or hashes every row (bench/: evaluate and delivery).
// Asked at every evaluation and run: indexes come and go in a warehouse.
import type pg from 'pg';
import { qualified, type SqlQuery } from '../lib/sql.js';
import { resolvePath, type CompileContext, type EntityMeta } from './metadata.js';

/**
 * The check that the entity's key, and the key each of `paths` (many-to-one
 * paths, such as company.name) joins on, have unique indexes: a valid,
 * non-partial unique index (or primary key) on exactly that column. NULLs,
 * which such an index lets repeat, are never kept. Null when one of the
 * relations is a SQL model, whose uniqueness the warehouse cannot vouch for.
 */
export function uniqueKeysSql(ctx: CompileContext, entity: EntityMeta, paths: readonly string[] = []): SqlQuery | null {
  const checks: { relation: string; column: string }[] = [];
  const add = (of: EntityMeta, column: string): boolean => {
    if (!('table' in of.from)) return false;
    checks.push({ relation: qualified(of.from.table.schema, of.from.table.name), column });
    return true;
  };
  if (!add(entity, entity.primaryKey)) return null;
  for (const path of paths) {
    const found = resolvePath(ctx, entity, path);
    if (!found.ok) continue; // refused when saved; the statement that uses it reports it
    for (const hop of found.resolved.hops) if (!add(hop.target, hop.relationship.toColumn)) return null;
  }
  return {
    text:
      `SELECT bool_and(EXISTS (SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] ` +
      `WHERE i.indrelid = to_regclass(r.relation) AND i.indisunique AND i.indisvalid AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = r.col)) AS unique ` +
      `FROM unnest($1::text[], $2::text[]) AS r(relation, col)`,
    values: [checks.map((c) => c.relation), checks.map((c) => c.column)],
  };
}

/** Runs uniqueKeysSql: false when the warehouse cannot vouch for it. */
export async function keysAreUnique(pool: pg.Pool, ctx: CompileContext, entity: EntityMeta, paths: readonly string[] = []): Promise<boolean> {
  const q = uniqueKeysSql(ctx, entity, paths);
  if (!q) return false;
  return (await pool.query<{ unique: boolean | null }>(q)).rows[0]?.unique === true;
}
