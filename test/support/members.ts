// A segment's membership set to given keys in a test, through the same
// materialise an evaluation runs (buckets, sizes and bits written as Roster
// writes them), from a query that yields those keys.
import type pg from 'pg';
import { materialise, type MaterialiseResult } from '../../src/segments/store.js';

export function setMembers(pool: pg.Pool, plannerSchema: string, segmentId: string, keys: readonly string[]): Promise<MaterialiseResult> {
  return materialise(pool, plannerSchema, segmentId, { text: 'SELECT unnest($1::text[]) AS key', values: [[...keys]] });
}
