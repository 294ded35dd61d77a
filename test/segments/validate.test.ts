// Validation of condition trees: every kind of problem with its exact path,
// message and suggestion, all reported at once.
import { describe, expect, it } from 'vitest';
import { formatProblem, type ValidationProblem } from '../../src/graphql/errors.js';
import type { CompileContext, EntityMeta, SegmentMeta } from '../../src/segments/metadata.js';
import { CONDITION_LIMITS, isIsoDate, isIsoTimestamp, validateCondition } from '../../src/segments/validate.js';
import type { ColumnType, WarehouseColumn } from '../../src/warehouse/types.js';

const col = (name: string, type: ColumnType, dataType: string): WarehouseColumn => ({ name, type, dataType, nullable: true });

const users: EntityMeta = {
  id: 'u',
  name: 'Users',
  from: { table: { schema: 'shop', name: 'users' } },
  primaryKey: 'id',
  columns: [
    col('id', 'INTEGER', 'bigint'),
    col('plan', 'STRING', 'text'),
    col('age', 'INTEGER', 'integer'),
    col('score', 'NUMBER', 'numeric'),
    col('active', 'BOOLEAN', 'boolean'),
    col('birthday', 'DATE', 'date'),
    col('signed_up_at', 'TIMESTAMP', 'timestamp with time zone'),
    col('ext_id', 'UUID', 'uuid'),
    col('tags', 'ARRAY', 'text[]'),
    col('lucky', 'ARRAY', 'integer[]'),
    col('meta', 'JSON', 'jsonb'),
    col('company_id', 'INTEGER', 'bigint'),
  ],
  relationships: [
    { name: 'company', kind: 'MANY_TO_ONE', fromColumn: 'company_id', toColumn: 'id', targetId: 'c' },
    { name: 'purchases', kind: 'ONE_TO_MANY', fromColumn: 'id', toColumn: 'user_id', targetId: 'p' },
    { name: 'notes', kind: 'ONE_TO_MANY', fromColumn: 'id', toColumn: 'user_id', targetId: 'n' },
    { name: 'logins', kind: 'ONE_TO_MANY', fromColumn: 'id', toColumn: 'user_id', targetId: 'l' },
    { name: 'ghost', kind: 'MANY_TO_ONE', fromColumn: 'id', toColumn: 'id', targetId: 'elsewhere' },
  ],
};
const companies: EntityMeta = {
  id: 'c',
  name: 'Companies',
  from: { table: { schema: 'shop', name: 'companies' } },
  primaryKey: 'id',
  columns: [col('id', 'INTEGER', 'bigint'), col('name', 'STRING', 'text'), col('region_id', 'INTEGER', 'integer')],
  relationships: [
    { name: 'region', kind: 'MANY_TO_ONE', fromColumn: 'region_id', toColumn: 'id', targetId: 'r' },
    { name: 'staff', kind: 'ONE_TO_MANY', fromColumn: 'id', toColumn: 'company_id', targetId: 'u' },
  ],
};
const regions: EntityMeta = {
  id: 'r',
  name: 'Regions',
  from: { sql: 'SELECT 1 AS id, $$EU$$ AS name' },
  primaryKey: 'id',
  columns: [col('id', 'INTEGER', 'integer'), col('name', 'STRING', 'text')],
  relationships: [],
};
const purchases: EntityMeta = {
  id: 'p',
  name: 'Purchases',
  from: { table: { schema: 'shop', name: 'purchases' } },
  primaryKey: 'id',
  columns: [
    col('id', 'INTEGER', 'bigint'),
    col('user_id', 'INTEGER', 'bigint'),
    col('amount', 'NUMBER', 'numeric(10,2)'),
    col('product', 'STRING', 'text'),
    col('purchased_at', 'TIMESTAMP', 'timestamp with time zone'),
    col('paid_on', 'DATE', 'date'),
  ],
  relationships: [],
};
const notes: EntityMeta = {
  id: 'n',
  name: 'Notes',
  from: { table: { schema: 'shop', name: 'notes' } },
  primaryKey: 'id',
  columns: [col('id', 'INTEGER', 'bigint'), col('user_id', 'INTEGER', 'bigint'), col('body', 'STRING', 'text')],
  relationships: [],
};

const logins: EntityMeta = {
  id: 'l',
  name: 'Logins',
  from: { table: { schema: 'shop', name: 'logins' } },
  primaryKey: 'id',
  columns: [col('id', 'INTEGER', 'bigint'), col('user_id', 'INTEGER', 'bigint'), col('at', 'TIMESTAMP', 'timestamp without time zone')],
  relationships: [],
};

const seg = (id: string, name: string, entityId: string, condition: unknown = { and: [] }): SegmentMeta => ({ id, name, entityId, condition });
const ref = (id: string, member = true) => ({ segment: { id, member } });
const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'aaaaaaaa-0000-4000-8000-000000000002';
const C = 'aaaaaaaa-0000-4000-8000-000000000003';
const D = 'aaaaaaaa-0000-4000-8000-000000000004';
const E = 'aaaaaaaa-0000-4000-8000-000000000005';
const BIG = 'aaaaaaaa-0000-4000-8000-000000000006';
const VIP = 'aaaaaaaa-0000-4000-8000-000000000007';

const ctx: CompileContext = {
  entities: new Map([users, companies, regions, purchases, notes, logins].map((e) => [e.id, e])),
  segments: new Map(
    [
      seg(A, 'A', 'u', { and: [ref(B)] }),
      seg(B, 'B', 'u', { or: [{ not: ref(C, false) }] }),
      // C reaches back to A from inside an event's where.
      seg(C, 'C', 'u', { event: { relationship: 'purchases', where: { and: [] } }, extra: ref(A) }),
      seg(D, 'D', 'u', ref(E)),
      seg(E, 'E', 'u', ref(D)),
      seg(BIG, 'Big companies', 'c'),
      seg(VIP, 'VIP', 'u'),
    ].map((s) => [s.id, s]),
  ),
  plannerSchema: 'roster',
};

function problems(input: unknown, entityId = 'u', opts?: { segmentId?: string }): ValidationProblem[] {
  return validateCondition(ctx, entityId, input, opts).problems;
}
/** The single problem of an input (and that there is exactly one). */
function problem(input: unknown, entityId = 'u', opts?: { segmentId?: string }): ValidationProblem {
  const ps = problems(input, entityId, opts);
  expect(ps, JSON.stringify(ps)).toHaveLength(1);
  return ps[0]!;
}
const attr = (a: Record<string, unknown>) => ({ attribute: a });

describe('tree shape', () => {
  it.each<[string, unknown, ValidationProblem]>([
    ['null', null, { path: [], message: 'expected a condition (an object with one of and, or, not, attribute, event, segment), but got null' }],
    ['a list', [], { path: [], message: 'expected a condition (an object with one of and, or, not, attribute, event, segment), but got an empty list' }],
    ['an empty object', {}, { path: [], message: 'expected exactly one of and, or, not, attribute, event, segment, but got an empty object' }],
    ['only nulls', { and: null, or: null }, { path: [], message: 'expected exactly one of and, or, not, attribute, event, segment, but got only null fields (and, or)' }],
    [
      'two keys',
      { and: [], or: [] },
      { path: [], message: 'expected exactly one of and, or, not, attribute, event, segment in a condition, but got 2: and, or; combine them with "and" or "or"' },
    ],
    ['an unknown key', { andd: [] }, { path: ['andd'], message: 'unknown condition "andd"; expected one of and, or, not, attribute, event, segment', suggestion: 'and' }],
    ['and not a list', { and: { x: 1 } }, { path: ['and'], message: 'expected a list of conditions, but got an object with "x"' }],
    ['a child not an object', { or: [{ and: [] }, 5] }, { path: ['or', '1'], message: 'expected a condition (an object with one of and, or, not, attribute, event, segment), but got the number 5' }],
    ['not of a string', { not: 'x' }, { path: ['not'], message: 'expected a condition (an object with one of and, or, not, attribute, event, segment), but got the string "x"' }],
  ])('%s', (_name, input, expected) => {
    expect(problem(input)).toEqual(expected);
  });

  it('and[] (everyone) and or[] (nobody) are valid', () => {
    expect(problems({ and: [] })).toEqual([]);
    expect(problems({ or: [] })).toEqual([]);
    expect(problems({ not: { or: [{ and: [] }] } })).toEqual([]);
  });

  it(`at most ${CONDITION_LIMITS.maxDepth} levels`, () => {
    let deep: unknown = { and: [] };
    for (let i = 0; i < 20; i++) deep = { not: deep };
    // 21 levels: the innermost and[] is one too deep.
    expect(problem(deep)).toEqual({
      path: Array(20).fill('not'),
      message: 'conditions may be nested at most 20 levels deep, but this one is at level 21; flatten it, or move part of it into a segment and reference that',
    });
    expect(problems((deep as { not: unknown }).not)).toEqual([]);
  });

  it(`at most ${CONDITION_LIMITS.maxNodes} nodes, checked before anything else and cheaply`, () => {
    const leaf = attr({ path: 'nope', op: 'EQ', value: 1 });
    expect(problem({ and: Array(500).fill(leaf) })).toEqual({
      path: [],
      message: 'a condition may have at most 500 nodes, but this one has more; move parts of it into segments and reference those',
    });
    expect(problems({ and: Array(499).fill({ and: [] }) })).toEqual([]);
    // A hostile chain far deeper than the stack would allow is refused quickly.
    let chain: unknown = { and: [] };
    for (let i = 0; i < 100_000; i++) chain = { not: chain };
    expect(problem(chain).message).toMatch(/at most 500 nodes/);
  });

  it('accepts objects without a prototype (GraphQL input objects)', () => {
    const a = Object.assign(Object.create(null) as object, { path: 'plan', op: 'EQ', value: 'pro' });
    expect(problems(Object.assign(Object.create(null) as object, { attribute: a }))).toEqual([]);
  });
});

describe('attribute paths', () => {
  it.each<[string, string, ValidationProblem]>([
    ['a misspelt column', 'plann', { path: ['attribute', 'path'], message: 'no column "plann" on Users', suggestion: 'plan' }],
    [
      'an unknown column, listing the columns',
      'zzzzzz',
      { path: ['attribute', 'path'], message: 'no column "zzzzzz" on Users (it has id, plan, age, score, active, birthday, signed_up_at, ext_id, tags, lucky, meta, company_id)' },
    ],
    ['a misspelt relationship', 'compnay.name', { path: ['attribute', 'path'], message: 'no relationship "compnay" on Users', suggestion: 'company.name' }],
    [
      'an unknown relationship',
      'zzz.name',
      { path: ['attribute', 'path'], message: 'no relationship "zzz" on Users (its MANY_TO_ONE relationships: company, ghost)' },
    ],
    ['a misspelt column after one hop', 'company.nmae', { path: ['attribute', 'path'], message: 'no column "nmae" on Companies (reached through company)', suggestion: 'company.name' }],
    [
      'a misspelt column after two hops',
      'company.region.nam',
      { path: ['attribute', 'path'], message: 'no column "nam" on Regions (reached through company.region)', suggestion: 'company.region.name' },
    ],
    [
      'a ONE_TO_MANY relationship in the path',
      'purchases.amount',
      { path: ['attribute', 'path'], message: '"purchases" is a ONE_TO_MANY relationship of Users; a path can follow MANY_TO_ONE relationships only, so use an event condition on "purchases" instead' },
    ],
    [
      'a ONE_TO_MANY relationship after a hop',
      'company.staff.plan',
      { path: ['attribute', 'path'], message: '"staff" is a ONE_TO_MANY relationship of Companies (reached through company); a path can follow MANY_TO_ONE relationships only, so use an event condition on "staff" instead' },
    ],
    [
      'a relationship where a column belongs',
      'company',
      { path: ['attribute', 'path'], message: '"company" is a relationship of Users, not a column; name one of Companies columns such as "company.id"' },
    ],
    [
      'a column where a relationship belongs',
      'plan.name',
      { path: ['attribute', 'path'], message: '"plan" is a column of Users, not a relationship; a path goes column, or relationship.column through MANY_TO_ONE relationships' },
    ],
    ['a relationship to an entity outside the source', 'ghost.name', { path: ['attribute', 'path'], message: 'relationship "ghost" of Users leads to an entity that is not in this source' }],
  ])('%s', (_name, path, expected) => {
    expect(problem(attr({ path, op: 'IS_NULL' }))).toEqual(expected);
  });

  it('a path that is not a string', () => {
    expect(problem(attr({ path: 5, op: 'IS_NULL' }))).toEqual({ path: ['attribute', 'path'], message: 'expected a path (a column, or relationship.column), but got the number 5' });
    expect(problem(attr({ op: 'IS_NULL' }))).toEqual({ path: ['attribute', 'path'], message: 'expected a path (a column, or relationship.column), but got nothing' });
    expect(problem(attr({ path: 'x'.repeat(1001), op: 'IS_NULL' }))).toEqual({ path: ['attribute', 'path'], message: 'expected a path of at most 1000 characters, but got 1001' });
  });

  it('the brief\'s example, formatted', () => {
    const ps = problems({ and: [attr({ path: 'plan', op: 'EQ', value: 'pro' }), attr({ path: 'plann', op: 'EQ', value: 'pro' })] });
    expect(ps.map(formatProblem)).toEqual(['and[1].attribute.path: no column "plann" on Users; did you mean "plan"?']);
  });
});

describe('operators and operands', () => {
  it.each<[string, Record<string, unknown>, ValidationProblem]>([
    ['an unknown operator', { path: 'plan', op: 'EQQ', value: 'x' }, { path: ['attribute', 'op'], message: 'expected an operator (one of EQ, NEQ, IN, NOT_IN, GT, GTE, LT, LTE, BETWEEN, CONTAINS, STARTS_WITH, IS_NULL, IS_NOT_NULL, IS_TRUE, IS_FALSE, WITHIN_LAST, NOT_WITHIN_LAST, BEFORE, AFTER), but got the string "EQQ"', suggestion: 'EQ' }],
    ['no operator', { path: 'plan' }, { path: ['attribute', 'op'], message: 'expected an operator (one of EQ, NEQ, IN, NOT_IN, GT, GTE, LT, LTE, BETWEEN, CONTAINS, STARTS_WITH, IS_NULL, IS_NOT_NULL, IS_TRUE, IS_FALSE, WITHIN_LAST, NOT_WITHIN_LAST, BEFORE, AFTER), but got nothing' }],
    ['GT on a string', { path: 'plan', op: 'GT', value: 'a' }, { path: ['attribute', 'op'], message: 'GT does not apply to "plan" (STRING), a column of type text; expected one of EQ, NEQ, IN, NOT_IN, CONTAINS, STARTS_WITH, IS_NULL, IS_NOT_NULL' }],
    ['CONTAINS on a number', { path: 'age', op: 'CONTAINS', value: 1 }, { path: ['attribute', 'op'], message: 'CONTAINS does not apply to "age" (INTEGER), a column of type integer; expected one of EQ, NEQ, IN, NOT_IN, GT, GTE, LT, LTE, BETWEEN, IS_NULL, IS_NOT_NULL' }],
    ['CONTAINS on an integer array', { path: 'lucky', op: 'CONTAINS', value: '7' }, { path: ['attribute', 'op'], message: 'CONTAINS does not apply to "lucky" (ARRAY), a column of type integer[]; expected one of IS_NULL, IS_NOT_NULL' }],
    ['IS_TRUE on a date', { path: 'birthday', op: 'IS_TRUE' }, { path: ['attribute', 'op'], message: 'IS_TRUE does not apply to "birthday" (DATE), a column of type date; expected one of EQ, NEQ, IN, NOT_IN, GT, GTE, LT, LTE, BETWEEN, WITHIN_LAST, NOT_WITHIN_LAST, BEFORE, AFTER, IS_NULL, IS_NOT_NULL' }],
    ['WITHIN_LAST on a uuid', { path: 'ext_id', op: 'WITHIN_LAST', within: { last: 1, unit: 'DAY' } }, { path: ['attribute', 'op'], message: 'WITHIN_LAST does not apply to "ext_id" (UUID), a column of type uuid; expected one of EQ, NEQ, IN, NOT_IN, IS_NULL, IS_NOT_NULL' }],
    ['EQ on json', { path: 'meta', op: 'EQ', value: '{}' }, { path: ['attribute', 'op'], message: 'EQ does not apply to "meta" (JSON), a column of type jsonb; expected one of IS_NULL, IS_NOT_NULL' }],
    ['through a path', { path: 'company.region.name', op: 'LT', value: 'x' }, { path: ['attribute', 'op'], message: 'LT does not apply to "company.region.name" (STRING), a column of type text; expected one of EQ, NEQ, IN, NOT_IN, CONTAINS, STARTS_WITH, IS_NULL, IS_NOT_NULL' }],
    ['a missing value', { path: 'age', op: 'GT' }, { path: ['attribute', 'value'], message: 'GT needs a value: an integer, but got nothing' }],
    ['EQ null', { path: 'age', op: 'EQ', value: null }, { path: ['attribute', 'value'], message: 'EQ needs a value: an integer, but got null (to find missing values, use IS_NULL)' }],
    ['a value where none is taken', { path: 'plan', op: 'IS_NULL', value: 'x' }, { path: ['attribute', 'value'], message: 'IS_NULL takes no "value"; it takes no operand' }],
    ['value instead of values', { path: 'plan', op: 'IN', value: 'x', values: ['x'] }, { path: ['attribute', 'value'], message: 'IN takes no "value"; use "values"' }],
    ['values instead of value', { path: 'plan', op: 'EQ', value: 'x', values: ['x'] }, { path: ['attribute', 'values'], message: 'EQ takes no "values"; use "value"' }],
    ['within where none is taken', { path: 'birthday', op: 'BEFORE', value: '2024-01-01', within: { last: 1, unit: 'DAY' } }, { path: ['attribute', 'within'], message: 'BEFORE takes no "within"; use "value"' }],
    ['no values for IN', { path: 'plan', op: 'IN' }, { path: ['attribute', 'values'], message: 'IN needs a non-empty list of values (at most 1000), but got nothing' }],
    ['empty values', { path: 'plan', op: 'NOT_IN', values: [] }, { path: ['attribute', 'values'], message: 'NOT_IN needs a non-empty list of values (at most 1000), but got an empty list' }],
    ['too many values', { path: 'age', op: 'IN', values: Array.from({ length: 1001 }, (_, i) => i) }, { path: ['attribute', 'values'], message: 'IN needs a non-empty list of values (at most 1000), but got 1001' }],
    ['BETWEEN with three', { path: 'age', op: 'BETWEEN', values: [1, 2, 3] }, { path: ['attribute', 'values'], message: 'BETWEEN needs exactly two values [low, high], but got 3' }],
    ['BETWEEN upside down', { path: 'birthday', op: 'BETWEEN', values: ['2024-02-01', '2024-01-01'] }, { path: ['attribute', 'values'], message: 'BETWEEN needs [low, high] with low ≤ high, but got the string "2024-02-01" > the string "2024-01-01"' }],
    ['a bad element', { path: 'age', op: 'IN', values: [1, 'two', 3] }, { path: ['attribute', 'values', '1'], message: 'expected an integer for "age" (INTEGER), but got the string "two"' }],
    ['no window', { path: 'signed_up_at', op: 'WITHIN_LAST' }, { path: ['attribute', 'within'], message: 'WITHIN_LAST needs a time window { last, unit }, but got nothing' }],
    ['a window of 0', { path: 'signed_up_at', op: 'WITHIN_LAST', within: { last: 0, unit: 'DAY' } }, { path: ['attribute', 'within', 'last'], message: 'expected a positive integer, but got the number 0' }],
    ['a window too long', { path: 'signed_up_at', op: 'NOT_WITHIN_LAST', within: { last: 10_001, unit: 'DAY' } }, { path: ['attribute', 'within', 'last'], message: 'expected at most 10000, but got 10001' }],
    ['too many years', { path: 'signed_up_at', op: 'WITHIN_LAST', within: { last: 1001, unit: 'YEAR' } }, { path: ['attribute', 'within', 'last'], message: 'expected at most 1000 YEARs, but got 1001' }],
    ['a misspelt unit', { path: 'signed_up_at', op: 'WITHIN_LAST', within: { last: 3, unit: 'DAYS' } }, { path: ['attribute', 'within', 'unit'], message: 'expected a time unit (one of MINUTE, HOUR, DAY, WEEK, MONTH, YEAR), but got the string "DAYS"', suggestion: 'DAY' }],
    ['an unknown field in a window', { path: 'signed_up_at', op: 'WITHIN_LAST', within: { last: 3, unit: 'DAY', ago: true } }, { path: ['attribute', 'within', 'ago'], message: 'unknown field "ago" in a time window; expected last, unit' }],
    ['an unknown field', { path: 'plan', op: 'EQ', value: 'x', valeus: ['y'] }, { path: ['attribute', 'valeus'], message: 'unknown field "valeus" in an attribute condition; expected path, op, value, values, within', suggestion: 'values' }],
  ])('%s', (_name, a, expected) => {
    expect(problem(attr(a))).toEqual(expected);
  });

  it('reports five bad elements one by one and counts the rest', () => {
    const ps = problems(attr({ path: 'age', op: 'IN', values: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 1] }));
    expect(ps.map((p) => p.path.join('.'))).toEqual(['attribute.values.0', 'attribute.values.1', 'attribute.values.2', 'attribute.values.3', 'attribute.values.4', 'attribute.values']);
    expect(ps[5]!.message).toBe('and 2 more values are not an integer');
  });

  it('a value and an operator against an unknown column are still checked where they can be', () => {
    expect(problems(attr({ path: 'nope', op: 'IS_NULL', value: { x: 1 } })).map((p) => p.path.join('.'))).toEqual(['attribute.path', 'attribute.value']);
    expect(problems(attr({ path: 'nope', op: 'EQ', value: { x: 1 } }))[1]).toEqual({ path: ['attribute', 'value'], message: 'expected a string, number or boolean, but got an object with "x"' });
  });
});

describe('values by type', () => {
  const bad = (path: string, value: unknown) => problem(attr({ path, op: 'EQ', value }));
  it.each<[string, string, unknown, string]>([
    ['INTEGER, a fraction', 'age', 1.5, 'expected an integer for "age" (INTEGER), but got the number 1.5'],
    ['INTEGER, beyond 2^53', 'age', 2 ** 60, `expected an integer between -9007199254740991 and 9007199254740991 for "age" (INTEGER), but got ${2 ** 60}`],
    ['INTEGER, a numeric string', 'age', '5', 'expected an integer for "age" (INTEGER), but got the string "5"'],
    ['NUMBER, a string', 'score', 'NaN', 'expected a finite number for "score" (NUMBER), but got the string "NaN"'],
    ['BOOLEAN, a string', 'active', 'true', 'expected true or false for "active" (BOOLEAN), but got the string "true"'],
    ['DATE, slashes', 'birthday', '2024/01/01', 'expected a date as YYYY-MM-DD for "birthday" (DATE), but got the string "2024/01/01"'],
    ['DATE, not in the calendar', 'birthday', '2023-02-29', 'expected a valid calendar date (0001-01-01 to 9999-12-31) for "birthday" (DATE), but got the string "2023-02-29"'],
    ['DATE, a timestamp', 'birthday', '2024-01-01T00:00:00Z', 'expected a date as YYYY-MM-DD for "birthday" (DATE), but got the string "2024-01-01T00:00:00Z"'],
    ['TIMESTAMP, a date', 'signed_up_at', '2024-01-01', 'expected an ISO-8601 timestamp with a time zone (e.g. "2024-01-31T09:00:00Z") for "signed_up_at" (TIMESTAMP), but got the string "2024-01-01"'],
    ['TIMESTAMP, no zone', 'signed_up_at', '2024-01-01T10:00:00', 'expected an ISO-8601 timestamp with a time zone (e.g. "2024-01-31T09:00:00Z") for "signed_up_at" (TIMESTAMP), but got the string "2024-01-01T10:00:00"'],
    ['TIMESTAMP, a number', 'signed_up_at', 1_700_000_000_000, 'expected an ISO-8601 timestamp with a time zone (e.g. "2024-01-31T09:00:00Z") for "signed_up_at" (TIMESTAMP), but got the number 1700000000000'],
    ['UUID, not one', 'ext_id', 'abc', 'expected a UUID for "ext_id" (UUID), but got the string "abc"'],
    ['STRING, a number', 'plan', 5, 'expected a string for "plan" (STRING), but got the number 5'],
    ['STRING, a NUL', 'plan', 'a\u0000b', 'expected text without NUL characters (\\u0000), which PostgreSQL cannot store, but got one'],
    ['STRING, an unpaired surrogate', 'plan', 'a\uD800b', 'expected valid Unicode text, but got an unpaired surrogate'],
    ['STRING, too long', 'plan', 'x'.repeat(10_001), 'expected at most 10000 characters, but got 10001'],
  ])('%s', (_name, path, value, message) => {
    expect(bad(path, value)).toEqual({ path: ['attribute', 'value'], message });
  });

  it('accepts what fits', () => {
    const ok = (a: Record<string, unknown>) => expect(problems(attr(a)), JSON.stringify(a)).toEqual([]);
    ok({ path: 'plan', op: 'EQ', value: 'x'.repeat(10_000) });
    ok({ path: 'plan', op: 'EQ', value: '🙂'.repeat(10_000) }); // characters, not UTF-16 units
    ok({ path: 'plan', op: 'CONTAINS', value: '' });
    ok({ path: 'age', op: 'BETWEEN', values: [18, 18] });
    ok({ path: 'score', op: 'LT', value: -0.5 });
    ok({ path: 'active', op: 'IN', values: [true, false] });
    ok({ path: 'birthday', op: 'EQ', value: '2024-02-29' });
    ok({ path: 'signed_up_at', op: 'AFTER', value: '2024-01-01T10:00Z' });
    ok({ path: 'signed_up_at', op: 'BEFORE', value: '2024-01-01T10:00:00.123456+05:30' });
    ok({ path: 'ext_id', op: 'NEQ', value: '6F9619FF-8B86-D011-B42D-00C04FC964FF' });
    ok({ path: 'tags', op: 'CONTAINS', value: 'vip' });
    ok({ path: 'meta', op: 'IS_NOT_NULL', value: null, values: null, within: null });
    ok({ path: 'company.region.name', op: 'STARTS_WITH', value: 'E' });
    ok({ path: 'signed_up_at', op: 'WITHIN_LAST', within: { last: 1000, unit: 'YEAR' } });
  });

  it('ISO-8601 parsing edges', () => {
    expect(isIsoDate('0001-01-01')).toBe(true);
    expect(isIsoDate('0000-01-01')).toBe(false);
    expect(isIsoDate('2100-02-29')).toBe(false);
    expect(isIsoDate('2000-02-29')).toBe(true);
    expect(isIsoTimestamp('2024-01-01T24:00:00Z')).toBe(false);
    expect(isIsoTimestamp('2024-01-01T23:59:60Z')).toBe(false);
    expect(isIsoTimestamp('2024-01-01T10:00:00+16:00')).toBe(false);
    expect(isIsoTimestamp('2024-01-01T10:00:00-03:30')).toBe(true);
    expect(isIsoTimestamp('2024-01-01 10:00:00Z')).toBe(false);
  });
});

describe('event conditions', () => {
  const ev = (e: Record<string, unknown>) => ({ event: e });
  it.each<[string, Record<string, unknown>, ValidationProblem]>([
    ['a misspelt relationship', { relationship: 'purchses' }, { path: ['event', 'relationship'], message: 'no relationship "purchses" on Users', suggestion: 'purchases' }],
    ['an unknown relationship', { relationship: 'orders' }, { path: ['event', 'relationship'], message: 'no relationship "orders" on Users (its ONE_TO_MANY relationships: purchases, notes, logins)' }],
    ['no relationship', {}, { path: ['event', 'relationship'], message: 'expected the name of a ONE_TO_MANY relationship of Users (purchases, notes, logins), but got nothing' }],
    [
      'a MANY_TO_ONE relationship',
      { relationship: 'company' },
      { path: ['event', 'relationship'], message: '"company" is a MANY_TO_ONE relationship of Users; an event condition needs a ONE_TO_MANY relationship (for the related record\'s columns, use an attribute path such as "company.id")' },
    ],
    [
      'where, against the related entity',
      { relationship: 'purchases', where: attr({ path: 'amout', op: 'GT', value: 1 }) },
      { path: ['event', 'where', 'attribute', 'path'], message: 'no column "amout" on Purchases', suggestion: 'amount' },
    ],
    [
      'a window with several time columns',
      { relationship: 'purchases', within: { last: 6, unit: 'MONTH' } },
      { path: ['event', 'timeColumn'], message: 'Purchases has several DATE/TIMESTAMP columns (purchased_at, paid_on); set timeColumn to the one the window applies to' },
    ],
    ['a window with no time column', { relationship: 'notes', within: { last: 6, unit: 'MONTH' } }, { path: ['event', 'within'], message: 'a time window needs a DATE or TIMESTAMP column, but Notes has none' }],
    ['a misspelt time column', { relationship: 'purchases', within: { last: 1, unit: 'DAY' }, timeColumn: 'purchasedat' }, { path: ['event', 'timeColumn'], message: 'no column "purchasedat" on Purchases', suggestion: 'purchased_at' }],
    [
      'a time column that is not one',
      { relationship: 'purchases', within: { last: 1, unit: 'DAY' }, timeColumn: 'product' },
      { path: ['event', 'timeColumn'], message: 'expected a DATE or TIMESTAMP column (purchased_at, paid_on), but "product" is STRING (text)' },
    ],
    ['a bad window', { relationship: 'purchases', timeColumn: 'paid_on', within: { last: 1.5, unit: 'DAY' } }, { path: ['event', 'within', 'last'], message: 'expected a positive integer, but got the number 1.5' }],
    ['a negative count', { relationship: 'purchases', count: { op: 'GTE', value: -1 } }, { path: ['event', 'count', 'value'], message: 'expected a non-negative integer, but got the number -1' }],
    ['a misspelt count op', { relationship: 'purchases', count: { op: 'GE', value: 1 } }, { path: ['event', 'count', 'op'], message: 'expected a comparison (one of EQ, NEQ, GT, GTE, LT, LTE), but got the string "GE"', suggestion: 'GT' }],
    ['a count that is not an object', { relationship: 'purchases', count: 3 }, { path: ['event', 'count'], message: 'expected { op, value }, but got the number 3' }],
    ['an unknown aggregate', { relationship: 'purchases', aggregate: { fn: 'COUNT', column: 'amount', op: 'GT', value: 1 } }, { path: ['event', 'aggregate', 'fn'], message: 'expected an aggregate function (one of SUM, AVG, MIN, MAX), but got the string "COUNT"' }],
    ['SUM of text', { relationship: 'purchases', aggregate: { fn: 'SUM', column: 'product', op: 'GT', value: 1 } }, { path: ['event', 'aggregate', 'column'], message: 'SUM needs an INTEGER or NUMBER column, but "product" is STRING (text)' }],
    ['AVG of a date', { relationship: 'purchases', aggregate: { fn: 'AVG', column: 'paid_on', op: 'GT', value: 1 } }, { path: ['event', 'aggregate', 'column'], message: 'AVG needs an INTEGER or NUMBER column, but "paid_on" is DATE (date)' }],
    ['MAX of text', { relationship: 'purchases', aggregate: { fn: 'MAX', column: 'product', op: 'GT', value: 'a' } }, { path: ['event', 'aggregate', 'column'], message: 'MAX needs an INTEGER, NUMBER, DATE or TIMESTAMP column, but "product" is STRING (text)' }],
    ['a misspelt aggregate column', { relationship: 'purchases', aggregate: { fn: 'SUM', column: 'amout', op: 'GT', value: 1 } }, { path: ['event', 'aggregate', 'column'], message: 'no column "amout" on Purchases', suggestion: 'amount' }],
    ['SUM compared with a string', { relationship: 'purchases', aggregate: { fn: 'SUM', column: 'amount', op: 'GT', value: '100' } }, { path: ['event', 'aggregate', 'value'], message: 'expected a finite number for SUM("amount"), but got the string "100"' }],
    ['MIN of a date compared with a number', { relationship: 'purchases', aggregate: { fn: 'MIN', column: 'paid_on', op: 'LT', value: 5 } }, { path: ['event', 'aggregate', 'value'], message: 'expected a date as YYYY-MM-DD for MIN("paid_on"), but got the number 5' }],
    ['no aggregate value', { relationship: 'purchases', aggregate: { fn: 'SUM', column: 'amount', op: 'GT' } }, { path: ['event', 'aggregate', 'value'], message: 'an aggregate needs a value to compare with, but got nothing' }],
    ['an unknown field', { relationship: 'purchases', whree: {} }, { path: ['event', 'whree'], message: 'unknown field "whree" in an event condition; expected relationship, where, within, timeColumn, count, aggregate', suggestion: 'where' }],
  ])('%s', (_name, e, expected) => {
    expect(problem(ev(e))).toEqual(expected);
  });

  it('accepts the full form, and the only time column by default', () => {
    expect(
      problems(
        ev({
          relationship: 'purchases',
          where: { and: [attr({ path: 'product', op: 'EQ', value: 'A' })] },
          within: { last: 6, unit: 'MONTH' },
          timeColumn: 'purchased_at',
          count: { op: 'GTE', value: 2 },
          aggregate: { fn: 'MAX', column: 'paid_on', op: 'GT', value: '2024-01-01' },
        }),
      ),
    ).toEqual([]);
    expect(problems(ev({ relationship: 'logins', within: { last: 1, unit: 'DAY' } }))).toEqual([]);
    // A time column may be named without a window (it is then unused).
    expect(problems(ev({ relationship: 'logins', timeColumn: 'at' }))).toEqual([]);
    expect(problems(ev({ relationship: 'purchases', aggregate: { fn: 'AVG', column: 'amount', op: 'GT', value: 12.5 } }))).toEqual([]);
  });

  it('where counts towards depth', () => {
    let deep: unknown = { and: [] };
    for (let i = 0; i < 19; i++) deep = { not: deep };
    expect(problems(ev({ relationship: 'purchases', where: deep }))[0]!.path).toEqual(['event', 'where', ...Array(19).fill('not')]);
  });
});

describe('segment references', () => {
  it.each<[string, unknown, { segmentId?: string } | undefined, ValidationProblem]>([
    ['an unknown id', ref('nope'), undefined, { path: ['segment', 'id'], message: 'no segment with id "nope" in this workspace' }],
    ['a name instead of an id', ref('vip'), undefined, { path: ['segment', 'id'], message: `no segment with id "vip" in this workspace (the segment named "VIP" has id ${VIP})`, suggestion: VIP }],
    ['a segment of another entity', ref(BIG), undefined, { path: ['segment', 'id'], message: 'segment "Big companies" is a segment of Companies, but this condition is on Users' }],
    ['itself', ref(VIP), { segmentId: VIP }, { path: ['segment', 'id'], message: 'segment "VIP" cannot include or exclude itself' }],
    ['a cycle through stored conditions', ref(B), { segmentId: A }, { path: ['segment', 'id'], message: 'referencing segment "B" would make a cycle: "A" → "B" → "C" → "A"' }],
    ['a cycle it does not close', ref(D), undefined, { path: ['segment', 'id'], message: 'segment "D" depends on a cycle of segments: "D" → "E" → "D"' }],
    ['member missing', { segment: { id: VIP } }, undefined, { path: ['segment', 'member'], message: 'expected true (members of the segment) or false (everyone else), but got nothing' }],
    ['an unknown field', { segment: { id: VIP, member: true, exclude: true } }, undefined, { path: ['segment', 'exclude'], message: 'unknown field "exclude" in a segment reference; expected id, member' }],
  ])('%s', (_name, input, opts, expected) => {
    expect(problem(input, 'u', opts)).toEqual(expected);
  });

  it('inside an event, the segment must be of the related entity', () => {
    expect(problem({ event: { relationship: 'staff', where: ref(BIG) } }, 'c')).toEqual({
      path: ['event', 'where', 'segment', 'id'],
      message: 'segment "Big companies" is a segment of Companies, but this condition is on Users',
    });
    expect(problems({ event: { relationship: 'staff', where: ref(VIP, false) } }, 'c')).toEqual([]);
  });

  it('no cycle: fine, including a segment already referenced elsewhere', () => {
    expect(problems({ and: [ref(VIP), ref(VIP, false)] }, 'u', { segmentId: B })).toEqual([]);
  });
});

describe('all at once', () => {
  it('reports every problem in the tree, in document order, and rebuilds the condition without nulls', () => {
    const input = {
      and: [
        attr({ path: 'plann', op: 'EQ', value: 'pro' }),
        { or: [attr({ path: 'age', op: 'GT', value: 'x' }), { segment: { id: 'nope', member: true } }] },
        { not: { event: { relationship: 'purchses', count: { op: 'GTE', value: -1 } } } },
        attr({ path: 'company.name', op: 'EQ', value: 'Acme', values: null, within: null }),
      ],
    };
    const { problems: ps, condition } = validateCondition(ctx, 'u', input);
    expect(ps.map(formatProblem)).toEqual([
      'and[0].attribute.path: no column "plann" on Users; did you mean "plan"?',
      'and[1].or[0].attribute.value: expected an integer for "age" (INTEGER), but got the string "x"',
      'and[1].or[1].segment.id: no segment with id "nope" in this workspace',
      'and[2].not.event.relationship: no relationship "purchses" on Users; did you mean "purchases"?',
      'and[2].not.event.count.value: expected a non-negative integer, but got the number -1',
    ]);
    expect((condition as { and: unknown[] }).and[3]).toEqual({ attribute: { path: 'company.name', op: 'EQ', value: 'Acme' } });
  });

  it('an unknown entity', () => {
    expect(problems({ and: [] }, 'missing')).toEqual([{ path: [], message: 'no entity with id "missing" in this source' }]);
  });
});
