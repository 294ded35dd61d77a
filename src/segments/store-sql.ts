// Where materialised memberships live: one table in each source's planner
// schema, shared by all of the source's segments, keyed by (segment, record
// key as text). One table (not one per segment) is what lets a record's
// memberships, overlaps and whole-entity membership lists be one statement.
import { qualified } from '../lib/sql.js';

export const SEGMENT_MEMBERS_TABLE = 'segment_members';

export function segmentMembersTable(plannerSchema: string): string {
  return qualified(plannerSchema, SEGMENT_MEMBERS_TABLE);
}

/** Idempotent DDL for the membership table and its lookup-by-key index. */
export function createSegmentTablesSql(plannerSchema: string): string {
  const table = segmentMembersTable(plannerSchema);
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (segment_id uuid NOT NULL, key text NOT NULL, entered_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (segment_id, key))`,
    // record(entity, key) asks "which segments is this key in": by key first.
    `CREATE INDEX IF NOT EXISTS segment_members_by_key ON ${table} (key, segment_id)`,
  ].join(';\n');
}
