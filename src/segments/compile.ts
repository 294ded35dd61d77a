// The condition compiler: a pure function from (metadata, condition, now) to
// parameterised PostgreSQL. Every identifier comes from the metadata (looked
// up by the names in the condition, never copied from it) and is quoted; every
// value, the evaluation time included, is bound as a parameter with an
// explicit cast. Conditions are validated first (validate.ts), so what reaches
// the generator is known to fit the metadata.
//
// Semantics (two-valued: a compiled predicate is never NULL):
// - A NULL value, including a MANY_TO_ONE path with no related row, makes EQ,
//   IN, GT/GTE/LT/LTE, BETWEEN (inclusive), CONTAINS, STARTS_WITH, IS_TRUE,
//   IS_FALSE, WITHIN_LAST, BEFORE and AFTER false; NEQ, NOT_IN and
//   NOT_WITHIN_LAST are their negations, so true for NULL.
// - CONTAINS / STARTS_WITH on text: ILIKE with %, _ and \ escaped in the bound
//   pattern (case folding follows the warehouse's ctype: under the C locale,
//   ASCII letters only). CONTAINS on a text array: exact element membership.
// - Time windows are computed in UTC from the bound `now`, with PostgreSQL's
//   interval arithmetic (months clamp to month ends): for a TIMESTAMP,
//   now - n unit <= value <= now; for a DATE, the calendar dates from
//   date(now - n unit) to date(now), both in UTC. TIMESTAMP columns without a
//   time zone hold UTC wall-clock times. NOT_WITHIN_LAST is the negation.
// - Paths through MANY_TO_ONE relationships become EXISTS subqueries: a path
//   value is the related row's column (if the data breaks the declared
//   MANY_TO_ONE and several rows match, a positive test matches when any does).
// - event: counts related rows (related.toColumn = row.fromColumn) that match
//   `where` and the window; default: at least one. `count` compares the count;
//   `aggregate` compares fn(column) over those rows (SUM of none = 0; AVG, MIN,
//   MAX of none = NULL, which makes any comparison false); both must hold.
// - segment: membership in the latest materialised evaluation
//   (<planner>.segment_member_buckets), by the record's key as text.
import { ValidationError } from '../graphql/errors.js';
import { quoteIdent, type SqlQuery } from '../lib/sql.js';
import type { WarehouseColumn } from '../warehouse/types.js';
import {
  TIME_UNIT_SQL,
  type AttributeCondition,
  type AttributeOp,
  type ComparisonOp,
  type Condition,
  type EventCondition,
  type Scalar,
  type TimeWindow,
} from './condition.js';
import {
  isNaiveTimestamp,
  relationSql,
  resolvePath,
  timeColumns,
  type CompileContext,
  type EntityMeta,
} from './metadata.js';
import { memberSql } from './store-sql.js';
import { validateCondition } from './validate.js';

/** The cast of a bound value, by the column's type family. */
const CASTS: Partial<Record<WarehouseColumn['type'], string>> = {
  STRING: 'text',
  INTEGER: 'numeric',
  NUMBER: 'numeric',
  BOOLEAN: 'boolean',
  DATE: 'date',
  TIMESTAMP: 'timestamptz',
  UUID: 'uuid',
  ARRAY: 'text', // CONTAINS on a text array binds one text element
};

const COMPARISON_SQL: Record<ComparisonOp, string> = { EQ: '=', NEQ: '<>', GT: '>', GTE: '>=', LT: '<', LTE: '<=' };

/**
 * Operators that are negations of another: NEQ is NOT EQ, so a NULL value
 * (false for EQ) is true for NEQ, and so on.
 */
const NEGATED: Partial<Record<AttributeOp, AttributeOp>> = {
  NEQ: 'EQ',
  NOT_IN: 'IN',
  NOT_WITHIN_LAST: 'WITHIN_LAST',
  IS_NULL: 'IS_NOT_NULL',
};

/** A compiled boolean expression. */
interface Expr {
  sql: string;
  /** May evaluate to NULL (which always means false here). */
  nullable: boolean;
  /** Safe as the operand of NOT / IS without parentheses of its own. */
  atomic: boolean;
}

const TRUE: Expr = { sql: 'TRUE', nullable: false, atomic: true };
const FALSE: Expr = { sql: 'FALSE', nullable: false, atomic: true };

function group(sql: string): string {
  return `(${sql})`;
}

function operand(e: Expr): string {
  return e.atomic ? e.sql : group(e.sql);
}

/** NOT, two-valued: NULL (false) becomes true. */
function negate(e: Expr): Expr {
  if (e === TRUE) return FALSE;
  if (e === FALSE) return TRUE;
  return { sql: e.nullable ? `${operand(e)} IS NOT TRUE` : `NOT ${operand(e)}`, nullable: false, atomic: false };
}

/** Escapes LIKE's wildcards and its escape character, so the value matches literally. */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, '\\$&');
}

class Compiler {
  private aliases = 0;
  private nowParam: string | undefined;

  constructor(
    private readonly ctx: CompileContext,
    private readonly params: unknown[],
    private readonly now: Date,
  ) {}

  /** Appends a value and returns its placeholder with the cast: `$3::numeric`. */
  bind(value: unknown, cast: string): string {
    this.params.push(value);
    return `$${this.params.length}::${cast}`;
  }

  /** The evaluation time, bound once (only if a window needs it). */
  private nowSql(): string {
    this.nowParam ??= this.bind(this.now.toISOString(), 'timestamptz');
    return this.nowParam;
  }

  private alias(): string {
    return `r${++this.aliases}`;
  }

  private entity(id: string): EntityMeta {
    const entity = this.ctx.entities.get(id);
    if (!entity) throw new Error(`compile: no entity "${id}" in the context`);
    return entity;
  }

  node(c: Condition, entity: EntityMeta, alias: string): Expr {
    if ('and' in c) return this.junction(c.and, entity, alias, 'AND');
    if ('or' in c) return this.junction(c.or, entity, alias, 'OR');
    if ('not' in c) return negate(this.node(c.not, entity, alias));
    if ('attribute' in c) return this.attribute(c.attribute, entity, alias);
    if ('event' in c) return this.event(c.event, entity, alias);
    if ('segment' in c) return this.segment(c.segment.id, c.segment.member, entity, alias);
    throw new Error('compile: unknown condition node');
  }

  private junction(children: Condition[], entity: EntityMeta, alias: string, op: 'AND' | 'OR'): Expr {
    // and[] is everyone, or[] is nobody.
    if (children.length === 0) return op === 'AND' ? TRUE : FALSE;
    const parts = children.map((c) => this.node(c, entity, alias));
    if (parts.length === 1) return parts[0]!;
    // NULL stands for false throughout, and SQL's AND/OR agree with that
    // reading (NULL AND x, NULL OR x behave as false AND x, false OR x), so
    // only NOT needs care.
    return {
      // Every other form binds tighter than AND / OR: no parentheses needed.
      sql: group(parts.map((p) => p.sql).join(` ${op} `)),
      nullable: parts.some((p) => p.nullable),
      atomic: true,
    };
  }

  /** The column as an expression in the comparison's type space. */
  private columnSql(alias: string, column: WarehouseColumn): string {
    const ref = `${alias}.${quoteIdent(column.name)}`;
    // money has no operators with numeric; as numeric it compares like any number.
    return column.dataType === 'money' ? `${ref}::numeric` : ref;
  }

  /** A bound value of the column's type; naive timestamps compare as UTC wall-clock times. */
  private valueSql(value: Scalar, column: WarehouseColumn): string {
    const p = this.bind(value, CASTS[column.type] ?? 'text');
    return isNaiveTimestamp(column) ? `(${p} AT TIME ZONE 'UTC')` : p;
  }

  /** `now` and `now - n unit` in the column's space (timestamptz, UTC wall clock, or UTC date). */
  private windowBounds(window: TimeWindow, column: WarehouseColumn): { start: string; end: string } {
    const utcNow = `(${this.nowSql()} AT TIME ZONE 'UTC')`;
    const interval = this.bind(`${window.last} ${TIME_UNIT_SQL[window.unit]}`, 'interval');
    const utcStart = `(${utcNow} - ${interval})`;
    if (column.type === 'DATE') return { start: `${utcStart}::date`, end: `${utcNow}::date` };
    if (isNaiveTimestamp(column)) return { start: utcStart, end: utcNow };
    return { start: `(${utcStart} AT TIME ZONE 'UTC')`, end: this.nowSql() };
  }

  /**
   * The positive (NULL-is-false) form of an operator on a column expression.
   * `op` is never one of NEGATED's keys here.
   */
  private test(op: AttributeOp, a: AttributeCondition, column: WarehouseColumn, col: string): Expr {
    const value = () => this.valueSql(a.value as Scalar, column);
    const compare = (sqlOp: string): Expr => ({ sql: `${col} ${sqlOp} ${value()}`, nullable: true, atomic: false });
    switch (op) {
      case 'EQ':
        return compare('=');
      case 'GT':
        return compare('>');
      case 'GTE':
        return compare('>=');
      case 'LT':
      case 'BEFORE':
        return compare('<');
      case 'LTE':
        return compare('<=');
      case 'AFTER':
        return compare('>');
      case 'IN': {
        const cast = CASTS[column.type] ?? 'text';
        // An array parameter (one placeholder for up to 1,000 values); naive
        // timestamps are brought to timestamptz on the column side instead.
        const left = isNaiveTimestamp(column) ? `(${col} AT TIME ZONE 'UTC')` : col;
        return { sql: `${left} = ANY(${this.bind(a.values, `${cast}[]`)})`, nullable: true, atomic: false };
      }
      case 'BETWEEN': {
        const [low, high] = a.values as [Scalar, Scalar];
        return { sql: group(`${col} BETWEEN ${this.valueSql(low, column)} AND ${this.valueSql(high, column)}`), nullable: true, atomic: true };
      }
      case 'CONTAINS':
        if (column.type === 'ARRAY') {
          return { sql: `${this.bind(a.value, 'text')} = ANY(${col})`, nullable: true, atomic: false };
        }
        return { sql: `${col} ILIKE ${this.bind(`%${escapeLike(String(a.value))}%`, 'text')}`, nullable: true, atomic: false };
      case 'STARTS_WITH':
        return { sql: `${col} ILIKE ${this.bind(`${escapeLike(String(a.value))}%`, 'text')}`, nullable: true, atomic: false };
      case 'IS_NOT_NULL':
        return { sql: `${col} IS NOT NULL`, nullable: false, atomic: false };
      case 'IS_TRUE':
        return { sql: `${col} IS TRUE`, nullable: false, atomic: false };
      case 'IS_FALSE':
        return { sql: `${col} IS FALSE`, nullable: false, atomic: false };
      case 'WITHIN_LAST': {
        const { start, end } = this.windowBounds(a.within!, column);
        return { sql: group(`${col} BETWEEN ${start} AND ${end}`), nullable: true, atomic: true };
      }
      default:
        throw new Error(`compile: ${op} has no positive form`);
    }
  }

  private attribute(a: AttributeCondition, entity: EntityMeta, alias: string): Expr {
    const r = resolvePath(this.ctx, entity, a.path);
    if (!r.ok) throw new Error(`compile: path "${a.path}" does not resolve on ${entity.name}`);
    const { hops, column } = r.resolved;
    const base = NEGATED[a.op];
    const positive = base ?? a.op;

    if (hops.length === 0) {
      const col = this.columnSql(alias, column);
      if (a.op === 'IS_NULL') return { sql: `${col} IS NULL`, nullable: false, atomic: false };
      // IS DISTINCT FROM: two-valued NEQ, and still readable.
      if (a.op === 'NEQ') return { sql: `${col} IS DISTINCT FROM ${this.valueSql(a.value as Scalar, column)}`, nullable: false, atomic: false };
      const t = this.test(positive, a, column, col);
      return base ? negate(t) : t;
    }

    // Through MANY_TO_ONE relationships: the related row, if any, joined
    // inside EXISTS so that the outer row is never repeated.
    const aliases = hops.map(() => this.alias());
    let from = '';
    hops.forEach((hop, i) => {
      const a2 = aliases[i]!;
      const relation = `${relationSql(hop.target)} AS ${a2}`;
      if (i === 0) from = relation;
      else {
        const prev = aliases[i - 1]!;
        from += ` JOIN ${relation} ON ${a2}.${quoteIdent(hop.relationship.toColumn)} = ${prev}.${quoteIdent(hop.relationship.fromColumn)}`;
      }
    });
    const first = hops[0]!.relationship;
    const last = aliases[aliases.length - 1]!;
    const join = `${aliases[0]}.${quoteIdent(first.toColumn)} = ${alias}.${quoteIdent(first.fromColumn)}`;
    const t = this.test(positive, a, column, this.columnSql(last, column));
    const exists = `EXISTS (SELECT 1 FROM ${from} WHERE ${join} AND ${t.sql})`;
    return base ? { sql: `NOT ${exists}`, nullable: false, atomic: false } : { sql: exists, nullable: false, atomic: true };
  }

  private event(ev: EventCondition, entity: EntityMeta, alias: string): Expr {
    const rel = entity.relationships.find((r) => r.name === ev.relationship && r.kind === 'ONE_TO_MANY');
    if (!rel) throw new Error(`compile: no ONE_TO_MANY relationship "${ev.relationship}" on ${entity.name}`);
    const target = this.entity(rel.targetId);
    const a = this.alias();
    const where = [`${a}.${quoteIdent(rel.toColumn)} = ${alias}.${quoteIdent(rel.fromColumn)}`];
    if (ev.where) {
      const w = this.node(ev.where, target, a);
      // In a WHERE clause NULL already means "no": the nullable form is fine.
      if (w !== TRUE) where.push(w.sql);
    }
    if (ev.within) {
      const timeColumn = ev.timeColumn ? target.columns.find((c) => c.name === ev.timeColumn) : timeColumns(target)[0];
      if (!timeColumn) throw new Error(`compile: no time column for "${ev.relationship}"`);
      const { start, end } = this.windowBounds(ev.within, timeColumn);
      where.push(group(`${this.columnSql(a, timeColumn)} BETWEEN ${start} AND ${end}`));
    }
    const from = `${relationSql(target)} AS ${a} WHERE ${where.join(' AND ')}`;
    if (!ev.count && !ev.aggregate) return { sql: `EXISTS (SELECT 1 FROM ${from})`, nullable: false, atomic: true };

    // One aggregate row per outer row: the count and the aggregate together.
    const tests: string[] = [];
    if (ev.count) tests.push(`count(*) ${COMPARISON_SQL[ev.count.op]} ${this.bind(ev.count.value, 'numeric')}`);
    let nullable = false;
    if (ev.aggregate) {
      const { fn, op, value } = ev.aggregate;
      const column = target.columns.find((c) => c.name === ev.aggregate!.column);
      if (!column) throw new Error(`compile: no column "${ev.aggregate.column}" on ${target.name}`);
      const col = this.columnSql(a, column);
      const agg = fn === 'SUM' ? `COALESCE(sum(${col}), 0)` : `${fn.toLowerCase()}(${col})`;
      // Sums and averages are numbers whatever the column; MIN/MAX keep its type.
      const v = fn === 'SUM' || fn === 'AVG' ? this.bind(value, 'numeric') : this.valueSql(value, column);
      tests.push(`${agg} ${COMPARISON_SQL[op]} ${v}`);
      nullable = fn !== 'SUM';
    }
    return { sql: `(SELECT ${tests.join(' AND ')} FROM ${from})`, nullable, atomic: true };
  }

  private segment(id: string, member: boolean, entity: EntityMeta, alias: string): Expr {
    const exists = memberSql(this.ctx.plannerSchema, this.bind(id, 'uuid'), `${alias}.${quoteIdent(entity.primaryKey)}::text`);
    return member ? { sql: exists, nullable: false, atomic: true } : { sql: `NOT ${exists}`, nullable: false, atomic: false };
  }
}

function checked(ctx: CompileContext, entityId: string, condition: Condition): { entity: EntityMeta; condition: Condition } {
  const { condition: valid, problems } = validateCondition(ctx, entityId, condition);
  if (problems.length) throw new ValidationError(problems);
  return { entity: ctx.entities.get(entityId)!, condition: valid };
}

function checkNow(now: Date): void {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError(`expected opts.now to be a valid Date, but got ${String(now)}`);
}

const RESERVED_ALIAS = /^(m|r\d+)$/;

export interface PredicateOptions {
  /** The evaluation time: time windows end at it. */
  now: Date;
  /**
   * The values of the statement the predicate goes into. Values are appended
   * to this array and placeholders numbered after what it already holds, so
   * a caller with `$1..$k` of its own passes its array and embeds the text.
   * The returned `values` is this same array. Default: a new array.
   */
  params?: unknown[];
  /** The alias of the entity's rows in the caller's FROM (default "e"; not "m" or r<digits>, used inside). */
  alias?: string;
}

/**
 * A boolean expression over `alias` (the entity's rows) that is true exactly
 * for the records the condition selects, and never NULL, for queries that
 * select other columns (preview, analysis). Throws a ValidationError if the
 * condition does not validate against the context.
 */
export function compilePredicate(ctx: CompileContext, entityId: string, condition: Condition, opts: PredicateOptions): SqlQuery {
  checkNow(opts.now);
  const alias = opts.alias ?? 'e';
  if (!/^[a-z_][a-z0-9_]*$/.test(alias) || RESERVED_ALIAS.test(alias)) {
    throw new TypeError(`expected an alias of lower-case letters, digits and _ other than "m" and r<digits>, but got "${alias}"`);
  }
  const v = checked(ctx, entityId, condition);
  const values = opts.params ?? [];
  const e = new Compiler(ctx, values, opts.now).node(v.condition, v.entity, alias);
  return { text: e.nullable ? `${operand(e)} IS TRUE` : e.sql, values };
}

/**
 * The members of a condition: `SELECT e.<pk>::text AS key FROM <entity> AS e
 * WHERE <predicate>`, one row per record of the entity. Throws a
 * ValidationError if the condition does not validate against the context.
 */
export function compileMembers(ctx: CompileContext, entityId: string, condition: Condition, opts: { now: Date }): SqlQuery {
  checkNow(opts.now);
  const v = checked(ctx, entityId, condition);
  const values: unknown[] = [];
  // In WHERE, NULL already excludes the row: the predicate needs no IS TRUE.
  const e = new Compiler(ctx, values, opts.now).node(v.condition, v.entity, 'e');
  return {
    text: `SELECT e.${quoteIdent(v.entity.primaryKey)}::text AS key FROM ${relationSql(v.entity)} AS e WHERE ${e.sql}`,
    values,
  };
}
