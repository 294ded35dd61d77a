// Validation of condition trees (DESIGN.md §4) against a source's metadata.
// The input is unknown JSON: a stored Segment.condition or GraphQL input. Every
// problem is reported at once, each with the path to the node at fault, what
// was expected and what arrived, and a "did you mean" for misspelt names.
// compile.ts relies on this: it compiles only trees that pass.
import type { ValidationProblem } from '../graphql/errors.js';
import { suggest } from '../lib/suggest.js';
import type { WarehouseColumn } from '../warehouse/types.js';
import {
  AGGREGATE_FNS,
  ATTRIBUTE_OPS,
  COMPARISON_OPS,
  TIME_UNITS,
  type AggregateFn,
  type AttributeCondition,
  type AttributeOp,
  type ComparisonOp,
  type Condition,
  type EventCondition,
  type Scalar,
  type SegmentReference,
  type TimeUnit,
  type TimeWindow,
} from './condition.js';
import {
  isTextArray,
  resolvePath,
  timeColumns,
  type CompileContext,
  type EntityMeta,
  type PathFailure,
  type RelationshipMeta,
} from './metadata.js';

export const CONDITION_LIMITS = {
  /** Levels of nesting: the root is level 1; and/or/not children and an event's `where` add one. */
  maxDepth: 20,
  /** Condition nodes in the whole tree, `where` subtrees included. */
  maxNodes: 500,
  /** Elements of `values` for IN / NOT_IN. */
  maxValues: 1000,
  /** Characters (code points) of any string value. */
  maxStringLength: 10_000,
  /** `within.last`, in any unit but YEAR. */
  maxWindow: 10_000,
  /**
   * `within.last` in YEARs: PostgreSQL timestamps end at 4713 BC, so a
   * 10,000-year window would make the query fail instead of matching.
   */
  maxWindowYears: 1_000,
  /** Characters of an attribute path. */
  maxPathLength: 1_000,
} as const;

const NODE_KEYS = ['and', 'or', 'not', 'attribute', 'event', 'segment'] as const;
type NodeKey = (typeof NODE_KEYS)[number];
const NODE_KEYS_TEXT = NODE_KEYS.join(', ');

const EQUALITY_OPS: AttributeOp[] = ['EQ', 'NEQ', 'IN', 'NOT_IN'];
const ORDER_OPS: AttributeOp[] = ['GT', 'GTE', 'LT', 'LTE', 'BETWEEN'];
const TIME_OPS: AttributeOp[] = ['WITHIN_LAST', 'NOT_WITHIN_LAST', 'BEFORE', 'AFTER'];
const NULL_OPS: AttributeOp[] = ['IS_NULL', 'IS_NOT_NULL'];

/** The operators that apply to a column, by its type family. */
export function operatorsFor(column: WarehouseColumn): AttributeOp[] {
  switch (column.type) {
    case 'STRING':
      return [...EQUALITY_OPS, 'CONTAINS', 'STARTS_WITH', ...NULL_OPS];
    case 'INTEGER':
    case 'NUMBER':
      return [...EQUALITY_OPS, ...ORDER_OPS, ...NULL_OPS];
    case 'BOOLEAN':
      return [...EQUALITY_OPS, 'IS_TRUE', 'IS_FALSE', ...NULL_OPS];
    case 'DATE':
    case 'TIMESTAMP':
      return [...EQUALITY_OPS, ...ORDER_OPS, ...TIME_OPS, ...NULL_OPS];
    case 'UUID':
      return [...EQUALITY_OPS, ...NULL_OPS];
    case 'ARRAY':
      return isTextArray(column) ? ['CONTAINS', ...NULL_OPS] : [...NULL_OPS];
    default:
      return [...NULL_OPS];
  }
}

/** What each operator takes besides the path. */
export const OPERANDS: Record<AttributeOp, 'value' | 'values' | 'within' | 'none'> = {
  EQ: 'value',
  NEQ: 'value',
  GT: 'value',
  GTE: 'value',
  LT: 'value',
  LTE: 'value',
  CONTAINS: 'value',
  STARTS_WITH: 'value',
  BEFORE: 'value',
  AFTER: 'value',
  IN: 'values',
  NOT_IN: 'values',
  BETWEEN: 'values',
  WITHIN_LAST: 'within',
  NOT_WITHIN_LAST: 'within',
  IS_NULL: 'none',
  IS_NOT_NULL: 'none',
  IS_TRUE: 'none',
  IS_FALSE: 'none',
};

// ─── Scalars ─────────────────────────────────────────────────────────────────

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// With the u flag a well-formed surrogate pair is one code point, so this
// matches only unpaired halves (which would reach PostgreSQL as U+FFFD).
const LONE_SURROGATE_RE = /\p{Cs}/u;

function validCalendarDate(y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return d <= days[m - 1]!;
}

/** YYYY-MM-DD, a real calendar date between 0001-01-01 and 9999-12-31. */
export function isIsoDate(v: string): boolean {
  const m = DATE_RE.exec(v);
  return !!m && validCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]));
}

/** YYYY-MM-DDTHH:MM[:SS[.fraction]] with Z or ±HH:MM: an instant, whatever the session's time zone. */
export function isIsoTimestamp(v: string): boolean {
  const m = TIMESTAMP_RE.exec(v);
  if (!m || !validCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))) return false;
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || (m[6] !== undefined && Number(m[6]) > 59)) return false;
  if (m[7] !== undefined && (Number(m[7]) > 15 || Number(m[8]) > 59)) return false;
  return true;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function truncate(s: string, max = 40): string {
  const chars = Array.from(s.length > max * 2 ? s.slice(0, max * 2) : s);
  return chars.length > max ? `${chars.slice(0, max).join('')}…` : chars.join('');
}

/** What arrived, for "expected …, but got …" messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return v === '' ? 'an empty string' : `the string ${JSON.stringify(truncate(v))}`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : `a list of ${v.length}`;
  if (typeof v === 'object') {
    const keys = Object.keys(v);
    return keys.length === 0 ? 'an empty object' : `an object with ${keys.map((k) => JSON.stringify(truncate(k, 20))).join(', ')}`;
  }
  return `a ${typeof v}`;
}

/** Problems with any string value: length, NUL, unpaired surrogates. */
function stringProblem(v: string): string | undefined {
  if (v.length > CONDITION_LIMITS.maxStringLength) {
    const length = Array.from(v).length;
    if (length > CONDITION_LIMITS.maxStringLength) {
      return `expected at most ${CONDITION_LIMITS.maxStringLength} characters, but got ${length}`;
    }
  }
  if (v.includes('\0')) return 'expected text without NUL characters (\\u0000), which PostgreSQL cannot store, but got one';
  if (LONE_SURROGATE_RE.test(v)) return 'expected valid Unicode text, but got an unpaired surrogate';
  return undefined;
}

/** What a value for the column must be, in words. */
function expectation(column: WarehouseColumn): string {
  switch (column.type) {
    case 'STRING':
      return 'a string';
    case 'ARRAY':
      return 'a string (an element to look for)';
    case 'INTEGER':
      return 'an integer';
    case 'NUMBER':
      return 'a finite number';
    case 'BOOLEAN':
      return 'true or false';
    case 'DATE':
      return 'a date as YYYY-MM-DD';
    case 'TIMESTAMP':
      return 'an ISO-8601 timestamp with a time zone (e.g. "2024-01-31T09:00:00Z")';
    case 'UUID':
      return 'a UUID';
    default:
      return 'no value';
  }
}

/** Checks one value against a column's type family; the problem's message, or undefined. */
function scalarProblem(v: unknown, column: WarehouseColumn, label: string): string | undefined {
  const bad = () => `expected ${expectation(column)} for ${label}, but got ${describeValue(v)}`;
  switch (column.type) {
    case 'STRING':
    case 'ARRAY':
      return typeof v === 'string' ? stringProblem(v) : bad();
    case 'INTEGER':
      if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) {
        return `expected an integer between -${Number.MAX_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER} for ${label}, but got ${v}`;
      }
      return typeof v === 'number' && Number.isSafeInteger(v) ? undefined : bad();
    case 'NUMBER':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : bad();
    case 'BOOLEAN':
      return typeof v === 'boolean' ? undefined : bad();
    case 'DATE':
      if (typeof v === 'string' && DATE_RE.test(v) && !isIsoDate(v)) {
        return `expected a valid calendar date (0001-01-01 to 9999-12-31) for ${label}, but got ${describeValue(v)}`;
      }
      return typeof v === 'string' && isIsoDate(v) ? undefined : bad();
    case 'TIMESTAMP':
      return typeof v === 'string' && isIsoTimestamp(v) ? undefined : bad();
    case 'UUID':
      return typeof v === 'string' && UUID_RE.test(v) ? undefined : bad();
    default:
      return bad();
  }
}

/** Orders two valid values of the column's type (for BETWEEN's low ≤ high). */
function compareValues(a: Scalar, b: Scalar, column: WarehouseColumn): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (column.type === 'TIMESTAMP') return Date.parse(String(a)) - Date.parse(String(b));
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** Counts condition nodes, stopping as soon as `limit` is passed (so hostile input costs little). */
function countNodes(input: unknown, limit: number): number {
  let count = 0;
  const visit = (node: unknown): void => {
    count++;
    if (count > limit || !isObject(node)) return;
    for (const [key, child] of Object.entries(node)) {
      if ((key === 'and' || key === 'or') && Array.isArray(child)) {
        for (const c of child) {
          visit(c);
          if (count > limit) return;
        }
      } else if (key === 'not') visit(child);
      else if (key === 'event' && isObject(child) && child.where != null) visit(child.where);
      if (count > limit) return;
    }
  };
  visit(input);
  return count;
}

/** Ids of the segments a stored condition references, anywhere in it. */
function segmentRefsOf(condition: unknown): string[] {
  const ids: string[] = [];
  const visit = (node: unknown, depth: number): void => {
    if (depth > 64 || typeof node !== 'object' || node === null) return;
    if (Array.isArray(node)) {
      for (const c of node) visit(c, depth + 1);
      return;
    }
    for (const [key, child] of Object.entries(node)) {
      if (key === 'segment' && isObject(child) && typeof child.id === 'string') ids.push(child.id);
      else visit(child, depth + 1);
    }
  };
  visit(condition, 0);
  return ids;
}

function listNames(names: readonly string[], max = 12): string {
  if (names.length === 0) return 'none';
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')}, …`;
}

// ─── The validator ───────────────────────────────────────────────────────────

class Validator {
  readonly problems: ValidationProblem[] = [];
  private readonly cycles = new Map<string, string[] | null>();

  constructor(
    private readonly ctx: CompileContext,
    private readonly segmentId: string | undefined,
  ) {}

  private problem(path: string[], message: string, suggestion?: string): void {
    this.problems.push(suggestion === undefined ? { path, message } : { path, message, suggestion });
  }

  /** Refuses keys outside `allowed` (with a suggestion); keys set to null count as absent. */
  private checkKeys(input: Record<string, unknown>, allowed: readonly string[], path: string[], what: string): void {
    for (const key of Object.keys(input)) {
      if (allowed.includes(key)) continue;
      this.problem([...path, key], `unknown field "${key}" in ${what}; expected ${allowed.join(', ')}`, suggest(key, allowed));
    }
  }

  node(input: unknown, entity: EntityMeta, path: string[], depth: number): Condition {
    if (!isObject(input)) {
      this.problem(path, `expected a condition (an object with one of ${NODE_KEYS_TEXT}), but got ${describeValue(input)}`);
      return { and: [] };
    }
    if (depth > CONDITION_LIMITS.maxDepth) {
      this.problem(path, `conditions may be nested at most ${CONDITION_LIMITS.maxDepth} levels deep, but this one is at level ${depth}; flatten it, or move part of it into a segment and reference that`);
      return { and: [] };
    }
    const present = Object.keys(input).filter((k) => input[k] !== null && input[k] !== undefined);
    const known = present.filter((k): k is NodeKey => (NODE_KEYS as readonly string[]).includes(k));
    for (const key of present) {
      if (known.includes(key as NodeKey)) continue;
      this.problem([...path, key], `unknown condition "${key}"; expected one of ${NODE_KEYS_TEXT}`, suggest(key, NODE_KEYS));
    }
    if (known.length === 0) {
      if (present.length === 0) {
        const keys = Object.keys(input);
        this.problem(path, `expected exactly one of ${NODE_KEYS_TEXT}, but got ${keys.length ? `only null fields (${keys.join(', ')})` : 'an empty object'}`);
      }
      return { and: [] };
    }
    if (known.length > 1) {
      this.problem(path, `expected exactly one of ${NODE_KEYS_TEXT} in a condition, but got ${known.length}: ${known.join(', ')}; combine them with "and" or "or"`);
    }
    // With several keys, each is still checked, so that all problems come at once.
    const results = known.map((key) => this.keyed(key, input[key], entity, [...path, key], depth));
    return results[0]!;
  }

  private keyed(key: NodeKey, value: unknown, entity: EntityMeta, path: string[], depth: number): Condition {
    switch (key) {
      case 'and':
      case 'or': {
        if (!Array.isArray(value)) {
          this.problem(path, `expected a list of conditions, but got ${describeValue(value)}`);
          return key === 'and' ? { and: [] } : { or: [] };
        }
        const children = value.map((c, i) => this.node(c, entity, [...path, String(i)], depth + 1));
        return key === 'and' ? { and: children } : { or: children };
      }
      case 'not':
        return { not: this.node(value, entity, path, depth + 1) };
      case 'attribute':
        return { attribute: this.attribute(value, entity, path) };
      case 'event':
        return { event: this.event(value, entity, path, depth) };
      case 'segment':
        return { segment: this.segment(value, entity, path) };
    }
  }

  // ─── attribute ───

  private pathProblem(failure: PathFailure, path: string[]): void {
    const prefix = failure.via.length ? `${failure.via.join('.')}.` : '';
    const through = failure.via.length ? ` (reached through ${failure.via.join('.')})` : '';
    const e = failure.entity;
    switch (failure.kind) {
      case 'no-column': {
        const names = e.columns.map((c) => c.name);
        const s = suggest(failure.name, names);
        if (s !== undefined) this.problem(path, `no column "${failure.name}" on ${e.name}${through}`, `${prefix}${s}`);
        else this.problem(path, `no column "${failure.name}" on ${e.name}${through} (it has ${listNames(names)})`);
        return;
      }
      case 'relationship-not-column': {
        const r = failure.relationship;
        if (r.kind === 'ONE_TO_MANY') {
          this.problem(path, `"${r.name}" is a ONE_TO_MANY relationship of ${e.name}, not a column; to test related records, use an event condition on "${r.name}"`);
        } else {
          const target = this.ctx.entities.get(r.targetId);
          const example = target?.columns[0] ? ` such as "${prefix}${r.name}.${target.columns[0].name}"` : '';
          this.problem(path, `"${r.name}" is a relationship of ${e.name}, not a column; name one of ${target?.name ?? 'its'} columns${example}`);
        }
        return;
      }
      case 'no-relationship': {
        if (e.columns.some((c) => c.name === failure.name)) {
          this.problem(path, `"${failure.name}" is a column of ${e.name}${through}, not a relationship; a path goes column, or relationship.column through MANY_TO_ONE relationships`);
          return;
        }
        const manyToOne = e.relationships.filter((r) => r.kind === 'MANY_TO_ONE').map((r) => r.name);
        const s = suggest(failure.name, manyToOne);
        if (s !== undefined) {
          this.problem(path, `no relationship "${failure.name}" on ${e.name}${through}`, `${prefix}${s}.${failure.rest}`);
        } else {
          this.problem(path, `no relationship "${failure.name}" on ${e.name}${through} (its MANY_TO_ONE relationships: ${listNames(manyToOne)})`);
        }
        return;
      }
      case 'one-to-many':
        this.problem(path, `"${failure.relationship.name}" is a ONE_TO_MANY relationship of ${e.name}${through}; a path can follow MANY_TO_ONE relationships only, so use an event condition on "${failure.relationship.name}" instead`);
        return;
      case 'missing-target':
        this.problem(path, `relationship "${failure.relationship.name}" of ${e.name}${through} leads to an entity that is not in this source`);
        return;
    }
  }

  private window(input: unknown, path: string[]): TimeWindow {
    if (!isObject(input)) {
      this.problem(path, `expected a time window { last, unit }, but got ${describeValue(input)}`);
      return { last: 1, unit: 'DAY' };
    }
    this.checkKeys(input, ['last', 'unit'], path, 'a time window');
    const { last, unit } = input;
    let unitOk: TimeUnit | undefined;
    if (typeof unit === 'string' && (TIME_UNITS as readonly string[]).includes(unit)) unitOk = unit as TimeUnit;
    else {
      this.problem(
        [...path, 'unit'],
        `expected a time unit (one of ${TIME_UNITS.join(', ')}), but got ${describeValue(unit)}`,
        typeof unit === 'string' ? suggest(unit, TIME_UNITS) : undefined,
      );
    }
    const max = unitOk === 'YEAR' ? CONDITION_LIMITS.maxWindowYears : CONDITION_LIMITS.maxWindow;
    if (typeof last !== 'number' || !Number.isInteger(last) || last < 1) {
      this.problem([...path, 'last'], `expected a positive integer, but got ${describeValue(last)}`);
    } else if (last > max) {
      this.problem([...path, 'last'], `expected at most ${max}${unitOk === 'YEAR' ? ' YEARs' : ''}, but got ${last}`);
    }
    return { last: last as number, unit: (unitOk ?? unit) as TimeUnit };
  }

  private attribute(input: unknown, entity: EntityMeta, path: string[]): AttributeCondition {
    if (!isObject(input)) {
      this.problem(path, `expected an attribute condition { path, op, value | values | within }, but got ${describeValue(input)}`);
      return { path: '', op: 'IS_NULL' };
    }
    this.checkKeys(input, ['path', 'op', 'value', 'values', 'within'], path, 'an attribute condition');

    // The path, resolved to a column.
    const rawPath = input.path;
    let column: WarehouseColumn | undefined;
    if (typeof rawPath !== 'string' || rawPath === '') {
      this.problem([...path, 'path'], `expected a path (a column, or relationship.column), but got ${describeValue(rawPath)}`);
    } else if (rawPath.length > CONDITION_LIMITS.maxPathLength) {
      this.problem([...path, 'path'], `expected a path of at most ${CONDITION_LIMITS.maxPathLength} characters, but got ${rawPath.length}`);
    } else {
      const r = resolvePath(this.ctx, entity, rawPath);
      if (r.ok) column = r.resolved.column;
      else this.pathProblem(r.failure, [...path, 'path']);
    }
    const label = `"${typeof rawPath === 'string' ? truncate(rawPath, 80) : ''}" (${column?.type ?? ''})`;

    // The operator, against the column's type family.
    const rawOp = input.op;
    let op: AttributeOp | undefined;
    if (typeof rawOp === 'string' && (ATTRIBUTE_OPS as readonly string[]).includes(rawOp)) op = rawOp as AttributeOp;
    else {
      this.problem(
        [...path, 'op'],
        `expected an operator (one of ${ATTRIBUTE_OPS.join(', ')}), but got ${describeValue(rawOp)}`,
        typeof rawOp === 'string' ? suggest(rawOp, ATTRIBUTE_OPS) : undefined,
      );
    }
    let typed = false;
    if (op && column) {
      const allowed = operatorsFor(column);
      if (allowed.includes(op)) typed = true;
      else {
        this.problem(
          [...path, 'op'],
          `${op} does not apply to ${label}, a column of type ${column.dataType || column.type}; expected one of ${allowed.join(', ')}`,
        );
      }
    }

    const out: AttributeCondition = { path: rawPath as string, op: (op ?? rawOp) as AttributeOp };
    if (!op) return out;

    // The operands: exactly the one the operator takes.
    const operand = OPERANDS[op];
    const use = operand === 'value' ? 'use "value"' : operand === 'values' ? 'use "values"' : operand === 'within' ? 'use "within"' : 'it takes no operand';
    if (operand !== 'value' && input.value != null) this.problem([...path, 'value'], `${op} takes no "value"; ${use}`);
    if (operand !== 'values' && input.values != null) this.problem([...path, 'values'], `${op} takes no "values"; ${use}`);
    if (operand !== 'within' && input.within != null) this.problem([...path, 'within'], `${op} takes no "within"; ${use}`);

    // The problem with one value, or undefined.
    const valueProblem = (v: unknown): string | undefined => {
      if (typed && column) return scalarProblem(v, column, label);
      // Column unknown (reported above): at least a scalar.
      if (typeof v === 'string') return stringProblem(v);
      if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return undefined;
      return `expected a string, number or boolean, but got ${describeValue(v)}`;
    };

    if (operand === 'value') {
      if (input.value == null) {
        const hint = op === 'EQ' ? ' (to find missing values, use IS_NULL)' : op === 'NEQ' ? ' (to find present values, use IS_NOT_NULL)' : '';
        this.problem([...path, 'value'], `${op} needs a value${typed && column ? `: ${expectation(column)}` : ''}, but got ${describeValue(input.value)}${hint}`);
      } else {
        const message = valueProblem(input.value);
        if (message) this.problem([...path, 'value'], message);
        else out.value = input.value as Scalar;
      }
    } else if (operand === 'values') {
      const values = input.values;
      const wanted = op === 'BETWEEN' ? 'exactly two values [low, high]' : `a non-empty list of values (at most ${CONDITION_LIMITS.maxValues})`;
      if (!Array.isArray(values)) {
        this.problem([...path, 'values'], `${op} needs ${wanted}, but got ${describeValue(values)}`);
      } else if ((op === 'BETWEEN' && values.length !== 2) || values.length === 0 || values.length > CONDITION_LIMITS.maxValues) {
        this.problem([...path, 'values'], `${op} needs ${wanted}, but got ${values.length === 0 ? 'an empty list' : `${values.length}`}`);
      } else {
        // The first five bad elements are reported one by one, the rest counted.
        const bad = values.map((v, i) => ({ i, message: valueProblem(v) })).filter((b) => b.message !== undefined);
        for (const b of bad.slice(0, 5)) this.problem([...path, 'values', String(b.i)], b.message!);
        if (bad.length > 5) this.problem([...path, 'values'], `and ${bad.length - 5} more values are not ${typed && column ? expectation(column) : 'valid'}`);
        if (bad.length === 0) {
          out.values = values as Scalar[];
          if (op === 'BETWEEN' && typed && column && compareValues(values[0] as Scalar, values[1] as Scalar, column) > 0) {
            this.problem([...path, 'values'], `BETWEEN needs [low, high] with low ≤ high, but got ${describeValue(values[0])} > ${describeValue(values[1])}`);
          }
        }
      }
    } else if (operand === 'within') {
      if (input.within == null) this.problem([...path, 'within'], `${op} needs a time window { last, unit }, but got ${describeValue(input.within)}`);
      else out.within = this.window(input.within, [...path, 'within']);
    }
    return out;
  }

  // ─── event ───

  private event(input: unknown, entity: EntityMeta, path: string[], depth: number): EventCondition {
    if (!isObject(input)) {
      this.problem(path, `expected an event condition { relationship, where?, within?, timeColumn?, count?, aggregate? }, but got ${describeValue(input)}`);
      return { relationship: '' };
    }
    this.checkKeys(input, ['relationship', 'where', 'within', 'timeColumn', 'count', 'aggregate'], path, 'an event condition');

    const name = input.relationship;
    const oneToMany = entity.relationships.filter((r) => r.kind === 'ONE_TO_MANY').map((r) => r.name);
    let rel: RelationshipMeta | undefined;
    let target: EntityMeta | undefined;
    if (typeof name !== 'string' || name === '') {
      this.problem([...path, 'relationship'], `expected the name of a ONE_TO_MANY relationship of ${entity.name} (${listNames(oneToMany)}), but got ${describeValue(name)}`);
    } else {
      rel = entity.relationships.find((r) => r.name === name);
      if (!rel) {
        const s = suggest(name, oneToMany);
        if (s !== undefined) this.problem([...path, 'relationship'], `no relationship "${name}" on ${entity.name}`, s);
        else this.problem([...path, 'relationship'], `no relationship "${name}" on ${entity.name} (its ONE_TO_MANY relationships: ${listNames(oneToMany)})`);
      } else if (rel.kind !== 'ONE_TO_MANY') {
        const t = this.ctx.entities.get(rel.targetId);
        const example = t?.columns[0] ? ` such as "${rel.name}.${t.columns[0].name}"` : '';
        this.problem([...path, 'relationship'], `"${rel.name}" is a MANY_TO_ONE relationship of ${entity.name}; an event condition needs a ONE_TO_MANY relationship (for the related record's columns, use an attribute path${example})`);
        rel = undefined;
      } else {
        target = this.ctx.entities.get(rel.targetId);
        if (!target) this.problem([...path, 'relationship'], `relationship "${rel.name}" of ${entity.name} leads to an entity that is not in this source`);
      }
    }
    const out: EventCondition = { relationship: name as string };

    if (input.where != null) {
      if (target) out.where = this.node(input.where, target, [...path, 'where'], depth + 1);
    }

    // The time column: given, or the related entity's only DATE/TIMESTAMP column.
    if (input.timeColumn != null) {
      const tc = input.timeColumn;
      if (typeof tc !== 'string' || tc === '') {
        this.problem([...path, 'timeColumn'], `expected the name of a DATE or TIMESTAMP column, but got ${describeValue(tc)}`);
      } else if (target) {
        const column = target.columns.find((c) => c.name === tc);
        const candidates = timeColumns(target).map((c) => c.name);
        if (!column) {
          const s = suggest(tc, candidates) ?? suggest(tc, target.columns.map((c) => c.name));
          if (s !== undefined) this.problem([...path, 'timeColumn'], `no column "${tc}" on ${target.name}`, s);
          else this.problem([...path, 'timeColumn'], `no column "${tc}" on ${target.name} (its DATE and TIMESTAMP columns: ${listNames(candidates)})`);
        } else if (column.type !== 'DATE' && column.type !== 'TIMESTAMP') {
          this.problem([...path, 'timeColumn'], `expected a DATE or TIMESTAMP column (${listNames(candidates)}), but "${tc}" is ${column.type} (${column.dataType})`);
        } else out.timeColumn = tc;
      }
    }
    if (input.within != null) {
      out.within = this.window(input.within, [...path, 'within']);
      if (target && input.timeColumn == null) {
        const candidates = timeColumns(target).map((c) => c.name);
        if (candidates.length === 0) {
          this.problem([...path, 'within'], `a time window needs a DATE or TIMESTAMP column, but ${target.name} has none`);
        } else if (candidates.length > 1) {
          this.problem([...path, 'timeColumn'], `${target.name} has several DATE/TIMESTAMP columns (${listNames(candidates)}); set timeColumn to the one the window applies to`);
        }
      }
    }

    if (input.count != null) {
      const count = input.count;
      const at = [...path, 'count'];
      if (!isObject(count)) this.problem(at, `expected { op, value }, but got ${describeValue(count)}`);
      else {
        this.checkKeys(count, ['op', 'value'], at, 'a count');
        const op = this.comparisonOp(count.op, [...at, 'op']);
        const v = count.value;
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
          this.problem([...at, 'value'], `expected a non-negative integer, but got ${describeValue(v)}`);
        } else if (op) out.count = { op, value: v };
      }
    }

    if (input.aggregate != null) {
      const agg = input.aggregate;
      const at = [...path, 'aggregate'];
      if (!isObject(agg)) this.problem(at, `expected { fn, column, op, value }, but got ${describeValue(agg)}`);
      else {
        this.checkKeys(agg, ['fn', 'column', 'op', 'value'], at, 'an aggregate');
        let fn: AggregateFn | undefined;
        if (typeof agg.fn === 'string' && (AGGREGATE_FNS as readonly string[]).includes(agg.fn)) fn = agg.fn as AggregateFn;
        else {
          this.problem(
            [...at, 'fn'],
            `expected an aggregate function (one of ${AGGREGATE_FNS.join(', ')}), but got ${describeValue(agg.fn)}`,
            typeof agg.fn === 'string' ? suggest(agg.fn, AGGREGATE_FNS) : undefined,
          );
        }
        const op = this.comparisonOp(agg.op, [...at, 'op']);
        let column: WarehouseColumn | undefined;
        const c = agg.column;
        if (typeof c !== 'string' || c === '') {
          this.problem([...at, 'column'], `expected a column of ${target?.name ?? 'the related entity'}, but got ${describeValue(c)}`);
        } else if (target) {
          column = target.columns.find((x) => x.name === c);
          if (!column) {
            const names = target.columns.map((x) => x.name);
            const s = suggest(c, names);
            if (s !== undefined) this.problem([...at, 'column'], `no column "${c}" on ${target.name}`, s);
            else this.problem([...at, 'column'], `no column "${c}" on ${target.name} (it has ${listNames(names)})`);
          }
        }
        let columnOk = false;
        if (fn && column) {
          const numeric = column.type === 'INTEGER' || column.type === 'NUMBER';
          const temporal = column.type === 'DATE' || column.type === 'TIMESTAMP';
          if (fn === 'SUM' || fn === 'AVG') {
            if (numeric) columnOk = true;
            else this.problem([...at, 'column'], `${fn} needs an INTEGER or NUMBER column, but "${column.name}" is ${column.type} (${column.dataType})`);
          } else if (numeric || temporal) columnOk = true;
          else this.problem([...at, 'column'], `${fn} needs an INTEGER, NUMBER, DATE or TIMESTAMP column, but "${column.name}" is ${column.type} (${column.dataType})`);
        }
        const v = agg.value;
        let valueOk = false;
        if (v == null) this.problem([...at, 'value'], `an aggregate needs a value to compare with, but got ${describeValue(v)}`);
        else if (fn && column && columnOk) {
          // A sum or an average of integers need not be an integer.
          const as: WarehouseColumn = column.type === 'DATE' || column.type === 'TIMESTAMP' ? column : { ...column, type: 'NUMBER' };
          const message = scalarProblem(v, as, `${fn}("${column.name}")`);
          if (message) this.problem([...at, 'value'], message);
          else valueOk = true;
        } else if (typeof v !== 'number' && typeof v !== 'string') {
          this.problem([...at, 'value'], `expected a number (or a date/timestamp for MIN/MAX of a DATE/TIMESTAMP column), but got ${describeValue(v)}`);
        }
        if (fn && op && typeof c === 'string' && valueOk) out.aggregate = { fn, column: c, op, value: v as number | string };
      }
    }
    return out;
  }

  private comparisonOp(v: unknown, at: string[]): ComparisonOp | undefined {
    if (typeof v === 'string' && (COMPARISON_OPS as readonly string[]).includes(v)) return v as ComparisonOp;
    this.problem(
      at,
      `expected a comparison (one of ${COMPARISON_OPS.join(', ')}), but got ${describeValue(v)}`,
      typeof v === 'string' ? suggest(v, COMPARISON_OPS) : undefined,
    );
    return undefined;
  }

  // ─── segment ───

  private segmentName(id: string): string {
    return this.ctx.segments.get(id)?.name ?? id;
  }

  /** A cycle reachable from `start` through stored conditions (as ids, first = last), or null. */
  private cycleFrom(start: string): string[] | null {
    const cached = this.cycles.get(start);
    if (cached !== undefined) return cached;
    const stack = this.segmentId !== undefined ? [this.segmentId, start] : [start];
    const onStack = new Set(stack);
    const clean = new Set<string>();
    const refs = new Map<string, string[]>();
    const refsOf = (id: string) => {
      let r = refs.get(id);
      if (!r) refs.set(id, (r = segmentRefsOf(this.ctx.segments.get(id)?.condition)));
      return r;
    };
    // Iterative depth-first search: a long chain of references must not overflow the stack.
    const iterators: Iterator<string>[] = [refsOf(start)[Symbol.iterator]()];
    let found: string[] | null = null;
    while (iterators.length && !found) {
      const it = iterators[iterators.length - 1]!;
      const next = it.next();
      if (next.done) {
        iterators.pop();
        const id = stack.pop()!;
        onStack.delete(id);
        clean.add(id);
        continue;
      }
      const id = next.value;
      if (onStack.has(id)) found = [...stack.slice(stack.indexOf(id)), id];
      else if (!clean.has(id) && this.ctx.segments.has(id)) {
        stack.push(id);
        onStack.add(id);
        iterators.push(refsOf(id)[Symbol.iterator]());
      }
    }
    this.cycles.set(start, found);
    return found;
  }

  private segment(input: unknown, entity: EntityMeta, path: string[]): SegmentReference {
    if (!isObject(input)) {
      this.problem(path, `expected a segment reference { id, member }, but got ${describeValue(input)}`);
      return { id: '', member: true };
    }
    this.checkKeys(input, ['id', 'member'], path, 'a segment reference');
    const { id, member } = input;
    if (typeof member !== 'boolean') {
      this.problem([...path, 'member'], `expected true (members of the segment) or false (everyone else), but got ${describeValue(member)}`);
    }
    if (typeof id !== 'string' || id === '') {
      this.problem([...path, 'id'], `expected a segment id, but got ${describeValue(id)}`);
    } else {
      const seg = this.ctx.segments.get(id);
      if (!seg) {
        // Someone may have typed the name instead of the id.
        const byName = [...this.ctx.segments.values()].find((s) => s.name.toLowerCase() === id.toLowerCase() && s.entityId === entity.id);
        this.problem([...path, 'id'], `no segment with id "${truncate(id, 80)}" in this workspace${byName ? ` (the segment named "${byName.name}" has id ${byName.id})` : ''}`, byName?.id);
      } else if (seg.entityId !== entity.id) {
        const other = this.ctx.entities.get(seg.entityId)?.name ?? 'another entity';
        this.problem([...path, 'id'], `segment "${seg.name}" is a segment of ${other}, but this condition is on ${entity.name}`);
      } else if (id === this.segmentId) {
        this.problem([...path, 'id'], `segment "${seg.name}" cannot include or exclude itself`);
      } else {
        const cycle = this.cycleFrom(id);
        if (cycle) {
          const names = cycle.map((x) => `"${this.segmentName(x)}"`).join(' → ');
          const through = this.segmentId !== undefined && cycle.includes(this.segmentId);
          this.problem(
            [...path, 'id'],
            through
              ? `referencing segment "${seg.name}" would make a cycle: ${names}`
              : `segment "${seg.name}" depends on a cycle of segments: ${names}`,
          );
        }
      }
    }
    return { id: id as string, member: member as boolean };
  }
}

/**
 * Checks a condition tree (unknown JSON) for an entity against the source's
 * metadata. Returns every problem found, and the condition rebuilt from the
 * fields it knows (fields set to null dropped); the condition is meaningful
 * only when there are no problems. `segmentId`: the segment whose condition
 * this is, so that it cannot reference itself or close a cycle.
 */
export function validateCondition(
  ctx: CompileContext,
  entityId: string,
  input: unknown,
  opts: { segmentId?: string } = {},
): { condition: Condition; problems: ValidationProblem[] } {
  const entity = ctx.entities.get(entityId);
  if (!entity) {
    return { condition: { and: [] }, problems: [{ path: [], message: `no entity with id "${entityId}" in this source` }] };
  }
  const nodes = countNodes(input, CONDITION_LIMITS.maxNodes);
  if (nodes > CONDITION_LIMITS.maxNodes) {
    return {
      condition: { and: [] },
      problems: [{ path: [], message: `a condition may have at most ${CONDITION_LIMITS.maxNodes} nodes, but this one has more; move parts of it into segments and reference those` }],
    };
  }
  const v = new Validator(ctx, opts.segmentId);
  const condition = v.node(input, entity, [], 1);
  return { condition, problems: v.problems };
}
