// The payload and hash of a sync of the bench's users, written by hand for the
// lower bounds (the evaluate scenario's diff, the delivery scenario's durable
// client): the same JSON text Roster sends, and the hash Roster's snapshot
// keeps (the record of the payload's values, seeded with the payload's
// layout, see rowHashSql), over `users AS u LEFT JOIN companies AS c`.
import { rowHashSql } from '../../src/sync/plan-sql.js';

export interface HandWrittenValue {
  object: 'fields' | 'identifiers';
  name: string;
  /** The value's expression over u (users) and c (the user's company). */
  sql: string;
  /** The expression it is hashed as (text in the "C" collation, the value itself for lifetime_value, a numeric). */
  hashed: string;
}

export function handWrittenValues(mappings: readonly { from: string; to: string }[], identifiers: readonly { type: string; column: string }[]): HandWrittenValue[] {
  const text = (column: string) => `${column}::text COLLATE "C"`;
  const columnOf = (from: string) => (from === 'company.name' ? 'c.name' : `u.${from}`);
  return [
    ...mappings.map((m) => ({ object: 'fields' as const, name: m.to, sql: columnOf(m.from), hashed: m.from === 'lifetime_value' ? columnOf(m.from) : text(columnOf(m.from)) })),
    ...identifiers.map((i) => ({ object: 'identifiers' as const, name: i.type, sql: `u.${i.column}::text`, hashed: text(`u.${i.column}`) })),
  ];
}

/** The hash of a row, with the layout's seed as `seedParam` (its value: shapeSeed(values), src/sync/plan-sql.ts). */
export function handWrittenHash(values: readonly HandWrittenValue[], seedParam: string): string {
  return rowHashSql(seedParam, values.map((v) => v.hashed));
}

/**
 * The payload's JSON text, `{"fields":{…},"identifiers":{…}}`, with each
 * value as `expr(value, index)` (the expression itself, or a column it was
 * selected as).
 */
export function handWrittenPayload(values: readonly HandWrittenValue[], expr: (v: HandWrittenValue, i: number) => string): string {
  // The bench's own key names: plain words, written as SQL literals.
  const object = (kind: HandWrittenValue['object']) =>
    values
      .map((v, i) => ({ v, i }))
      .filter(({ v }) => v.object === kind)
      .map(({ v, i }, n) => `'${n ? ',' : ''}"${v.name}":' || COALESCE(to_json(${expr(v, i)})::text, 'null')`)
      .join(' || ') || "''";
  return `'{"fields":{' || ${object('fields')} || '},"identifiers":{' || ${object('identifiers')} || '}}'`;
}
