// Nothing a user types reaches SQL as text: hostile values are bound (and
// match exactly what they say), hostile names are refused by validation with
// a clear problem, and names from the metadata, however odd, are quoted. A
// canary table must survive everything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { useTestDatabase } from '../support/db.js';
import { formatProblem, ValidationError } from '../../src/graphql/errors.js';
import { qualified, quoteIdent } from '../../src/lib/sql.js';
import { describeTable } from '../../src/warehouse/introspect.js';
import { compileMembers, compilePredicate } from '../../src/segments/compile.js';
import type { Condition } from '../../src/segments/condition.js';
import type { CompileContext, EntityMeta } from '../../src/segments/metadata.js';
import { createSegmentTablesSql, segmentBucketsTable } from '../../src/segments/store-sql.js';
import { setMembers } from '../support/members.js';
import { validateCondition } from '../../src/segments/validate.js';

const t = await useTestDatabase();

// Names that only quoting keeps in one piece.
const SCHEMA = 'x"; DROP TABLE inj.canary; --';
const USERS = "u'; DELETE FROM inj.canary; --";
const EVENTS = 'ev"ents';
const NAME = 'na"me; DROP TABLE inj.canary; --';
const KEY = 'k$1';
const PLANNER = 'pl"anner';
const NOW = new Date('2025-03-31T10:30:00Z');
const SEGMENT = '7e57a11a-0000-4000-8000-000000000001';

const HOSTILE = [
  "'; DROP TABLE inj.canary; --",
  "' OR '1'='1",
  "'' OR 1=1 --",
  '$1',
  '$2::text',
  '$$; DROP TABLE inj.canary; $$',
  "\\'; DROP TABLE inj.canary; --",
  '/* comment */ x',
  '-- comment',
  '"; DROP TABLE inj.canary; --',
  "E'\\x41'",
  'Zoë 🙂 日本語',
  '%',
  '_',
  '\\',
  '\\%',
  'a\tb\nc\r',
  ';',
  'x'.repeat(10_000),
  '🙂'.repeat(10_000),
];
const ROWS = [...HOSTILE, 'plain', "O'Brien", '100% pure', 'a_b', 'back\\slash', null];

let wh: pg.Pool;
let ctx: CompileContext;
const entityId = 'users';

beforeAll(async () => {
  wh = new pg.Pool({ connectionString: t.url, max: 2 });
  await wh.query(`
    CREATE SCHEMA inj;
    CREATE TABLE inj.canary (id integer);
    INSERT INTO inj.canary VALUES (1);
    CREATE SCHEMA ${quoteIdent(SCHEMA)};
    CREATE TABLE ${qualified(SCHEMA, USERS)} (${quoteIdent(KEY)} text PRIMARY KEY, ${quoteIdent(NAME)} text, n integer);
    CREATE TABLE ${qualified(SCHEMA, EVENTS)} (id integer PRIMARY KEY, ${quoteIdent('user key')} text, label text, at timestamptz);
    CREATE SCHEMA ${quoteIdent(PLANNER)};
    ${createSegmentTablesSql(PLANNER)};
  `);
  await wh.query(
    `INSERT INTO ${qualified(SCHEMA, USERS)} SELECT 'k' || i, v, i FROM unnest($1::text[]) WITH ORDINALITY AS x(v, i)`,
    [ROWS],
  );
  await wh.query(
    `INSERT INTO ${qualified(SCHEMA, EVENTS)} SELECT i, 'k' || i, v, '2025-03-30T00:00:00Z' FROM unnest($1::text[]) WITH ORDINALITY AS x(v, i)`,
    [ROWS],
  );
  await setMembers(wh, PLANNER, SEGMENT, ['k1', "k'; --"]);

  const users = (await describeTable(wh, SCHEMA, USERS))!;
  const events = (await describeTable(wh, SCHEMA, EVENTS))!;
  const meta = (id: string, table: typeof users, relationships: EntityMeta['relationships']): EntityMeta => ({
    id,
    name: table.name,
    from: { table: { schema: SCHEMA, name: table.name } },
    primaryKey: table.primaryKey[0]!,
    columns: table.columns,
    relationships,
  });
  ctx = {
    entities: new Map([
      [entityId, meta(entityId, users, [{ name: 'ev"; --', kind: 'ONE_TO_MANY', fromColumn: KEY, toColumn: 'user key', targetId: 'events' }])],
      ['events', meta('events', events, [])],
    ]),
    segments: new Map([[SEGMENT, { id: SEGMENT, name: "seg'; --", entityId, condition: { and: [] } }]]),
    plannerSchema: PLANNER,
  };
});

afterAll(async () => {
  await wh?.end();
});

async function canaryAlive(): Promise<void> {
  const { rows } = await wh.query<{ n: string }>('SELECT count(*) AS n FROM inj.canary');
  expect(rows[0]!.n).toBe('1');
  const users = await wh.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified(SCHEMA, USERS)}`);
  expect(Number(users.rows[0]!.n)).toBe(ROWS.length);
}

async function keys(c: Condition): Promise<string[]> {
  const q = compileMembers(ctx, entityId, c, { now: NOW });
  // The text does not depend on the values at all: the same with harmless ones.
  const harmless = JSON.parse(JSON.stringify(c), (k, v: unknown) => (k === 'value' && typeof v === 'string' ? 'v' : k === 'values' ? ['v'] : v)) as Condition;
  expect(compileMembers(ctx, entityId, harmless, { now: NOW }).text).toBe(q.text);
  const { rows } = await wh.query<{ key: string }>(q.text, q.values);
  return rows.map((r) => r.key).sort();
}
const rowsWhere = (f: (v: string) => boolean) =>
  ROWS.map((v, i) => ({ v, key: `k${i + 1}` }))
    .filter((r) => r.v !== null && f(r.v))
    .map((r) => r.key)
    .sort();

describe('hostile values are bound and mean what they say', () => {
  it.each(HOSTILE.map((v) => [v.length > 40 ? `${v.slice(0, 20)}… (${v.length})` : v, v]))('%j', async (_label, value) => {
    expect(await keys({ attribute: { path: NAME, op: 'EQ', value } })).toEqual(rowsWhere((v) => v === value));
    // Case-insensitive, wildcards taken literally (the server folds ASCII at least; these fold the same in any locale).
    const lower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
    expect(await keys({ attribute: { path: NAME, op: 'CONTAINS', value } })).toEqual(rowsWhere((v) => lower(v).includes(lower(value))));
    expect(await keys({ attribute: { path: NAME, op: 'STARTS_WITH', value } })).toEqual(rowsWhere((v) => lower(v).startsWith(lower(value))));
    expect(await keys({ not: { attribute: { path: NAME, op: 'NEQ', value } } })).toEqual(rowsWhere((v) => v === value));
    // Through an event on a relationship with a hostile name, too.
    expect(await keys({ event: { relationship: 'ev"; --', where: { attribute: { path: 'label', op: 'EQ', value } } } })).toEqual(rowsWhere((v) => v === value));
    await canaryAlive();
  });

  it('all of them at once, in IN and NOT_IN', async () => {
    expect(await keys({ attribute: { path: NAME, op: 'IN', values: HOSTILE } })).toEqual(rowsWhere((v) => HOSTILE.includes(v)));
    expect(await keys({ attribute: { path: NAME, op: 'NOT_IN', values: HOSTILE } })).toEqual(
      ROWS.map((v, i) => ({ v, key: `k${i + 1}` })).filter((r) => r.v === null || !HOSTILE.includes(r.v)).map((r) => r.key).sort(),
    );
    await canaryAlive();
  });

  it('a compiled predicate embedded after the caller\'s own parameter keeps its meaning', async () => {
    const q = compilePredicate(ctx, entityId, { attribute: { path: NAME, op: 'EQ', value: '$1' } }, { now: NOW, params: ["'; DROP TABLE inj.canary; --"] });
    const { rows } = await wh.query<{ key: string; tag: string }>(
      `SELECT e.${quoteIdent(KEY)} AS key, $1::text AS tag FROM ${qualified(SCHEMA, USERS)} AS e WHERE ${q.text}`,
      q.values,
    );
    expect(rows).toEqual([{ key: `k${HOSTILE.indexOf('$1') + 1}`, tag: "'; DROP TABLE inj.canary; --" }]);
    await canaryAlive();
  });

  it('segment membership is matched by bound key, whatever the key holds', async () => {
    expect(await keys({ segment: { id: SEGMENT, member: true } })).toEqual(['k1']);
    await canaryAlive();
  });
});

describe('hostile input that cannot be bound is refused by validation', () => {
  it.each<[string, unknown, string]>([
    ['a NUL in a string', { attribute: { path: NAME, op: 'EQ', value: "a\u0000'; DROP TABLE inj.canary; --" } }, 'attribute.value: expected text without NUL characters (\\u0000), which PostgreSQL cannot store, but got one'],
    ['an unpaired surrogate', { attribute: { path: NAME, op: 'EQ', value: '\uDFFF' } }, 'attribute.value: expected valid Unicode text, but got an unpaired surrogate'],
    ['10,001 characters', { attribute: { path: NAME, op: 'CONTAINS', value: 'x'.repeat(10_001) } }, 'attribute.value: expected at most 10000 characters, but got 10001'],
    ['a column that does not exist', { attribute: { path: 'n"; DROP TABLE canary; --', op: 'IS_NULL' } }, `attribute.path: no column "n"; DROP TABLE canary; --" on ${USERS}; did you mean "${NAME}"?`],
    ['a column nothing like any', { attribute: { path: "'); SELECT pg_sleep(10); --", op: 'IS_NULL' } }, `attribute.path: no column "'); SELECT pg_sleep(10); --" on ${USERS} (it has ${KEY}, ${NAME}, n)`],
    ['a relationship that does not exist', { event: { relationship: "ev'; DROP TABLE inj.canary; --" } }, `event.relationship: no relationship "ev'; DROP TABLE inj.canary; --" on ${USERS} (its ONE_TO_MANY relationships: ev"; --)`],
    ['a path through a relationship that does not exist', { attribute: { path: 'x; DROP TABLE inj.canary.y', op: 'IS_NULL' } }, `attribute.path: no relationship "x; DROP TABLE inj" on ${USERS} (its MANY_TO_ONE relationships: none)`],
    ['a segment id that is SQL', { segment: { id: "'; DROP TABLE inj.canary; --", member: true } }, `segment.id: no segment with id "'; DROP TABLE inj.canary; --" in this workspace`],
    ['an operator that is SQL', { attribute: { path: 'n', op: '= 1 OR 1=1 --', value: 1 } }, 'attribute.op: expected an operator'],
    ['a date that is SQL', { event: { relationship: 'ev"; --', aggregate: { fn: 'MAX', column: 'at', op: 'GT', value: "2024-01-01'); DROP TABLE inj.canary; --" } } }, 'event.aggregate.value: expected an ISO-8601 timestamp with a time zone'],
    ['a number that is SQL', { attribute: { path: 'n', op: 'GT', value: '1; DROP TABLE inj.canary' } }, 'attribute.value: expected an integer for "n" (INTEGER), but got the string "1; DROP TABLE inj.canary"'],
    ['a window that is SQL', { event: { relationship: 'ev"; --', within: { last: "1 day'; DROP TABLE inj.canary; --", unit: 'DAY' } } }, 'event.within.last: expected a positive integer, but got the string'],
    ['a unit that is SQL', { event: { relationship: 'ev"; --', within: { last: 1, unit: "DAY'::interval); DROP TABLE inj.canary; --" } } }, 'event.within.unit: expected a time unit'],
    ['a time column that is SQL', { event: { relationship: 'ev"; --', within: { last: 1, unit: 'DAY' }, timeColumn: 'at"; DROP TABLE inj.canary; --' } }, 'event.timeColumn: no column "at"; DROP TABLE inj.canary; --" on ev"ents'],
    ['an aggregate column that is SQL', { event: { relationship: 'ev"; --', aggregate: { fn: 'SUM', column: 'id) FROM inj.canary; --', op: 'GT', value: 1 } } }, 'event.aggregate.column: no column "id) FROM inj.canary; --" on ev"ents'],
    ['an aggregate function that is SQL', { event: { relationship: 'ev"; --', aggregate: { fn: 'pg_sleep', column: 'id', op: 'GT', value: 1 } } }, 'event.aggregate.fn: expected an aggregate function'],
    ['a non-finite number', { attribute: { path: 'n', op: 'GT', value: Number.POSITIVE_INFINITY } }, 'attribute.value: expected an integer for "n" (INTEGER), but got the number Infinity'],
    ['an object pretending to be a string', { attribute: { path: NAME, op: 'EQ', value: { toString: () => "'; DROP TABLE inj.canary; --" } } }, `attribute.value: expected a string for "${NAME}" (STRING), but got an object with "toString"`],
  ])('%s', async (_name, input, message) => {
    const { problems } = validateCondition(ctx, entityId, input);
    expect(problems).toHaveLength(1);
    const text = formatProblem(problems[0]!);
    expect(text.startsWith(message), text).toBe(true);
    // compile validates too: it refuses rather than generating anything.
    expect(() => compileMembers(ctx, entityId, input as Condition, { now: NOW })).toThrow(ValidationError);
    await canaryAlive();
  });
});

describe('names from the metadata, however odd, are quoted', () => {
  it('schema, table, columns, relationship columns and the planner schema', async () => {
    const q = compileMembers(
      ctx,
      entityId,
      { and: [{ attribute: { path: 'n', op: 'LTE', value: 3 } }, { event: { relationship: 'ev"; --', within: { last: 2, unit: 'DAY' } } }, { segment: { id: SEGMENT, member: true } }] },
      { now: NOW },
    );
    expect(q.text).toContain(qualified(SCHEMA, USERS));
    expect(q.text).toContain(`r1.${quoteIdent('user key')} = e.${quoteIdent(KEY)}`);
    expect(q.text).toContain(segmentBucketsTable(PLANNER));
    const { rows } = await wh.query<{ key: string }>(q.text, q.values);
    expect(rows.map((r) => r.key)).toEqual(['k1']);
    await canaryAlive();
  });
});
