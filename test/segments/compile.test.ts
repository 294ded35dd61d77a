// The condition compiler, as text: the exact SQL and values for every
// operator, paths through MANY_TO_ONE relationships, events, segment
// references and SQL-model entities. Every statement is also run against a
// small warehouse, so the text is not only as expected but valid PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { useTestDatabase } from '../support/db.js';
import { ValidationError } from '../../src/graphql/errors.js';
import { compileMembers, compilePredicate, escapeLike } from '../../src/segments/compile.js';
import type { Condition } from '../../src/segments/condition.js';
import { relationSql, type CompileContext, type EntityMeta } from '../../src/segments/metadata.js';
import { createSegmentTablesSql } from '../../src/segments/store-sql.js';
import { setMembers } from '../support/members.js';
import type { ColumnType, WarehouseColumn } from '../../src/warehouse/types.js';

const t = await useTestDatabase();

const col = (name: string, type: ColumnType, dataType: string, nullable = true): WarehouseColumn => ({ name, type, dataType, nullable });

const VIP = '11111111-1111-4111-8111-111111111111';
const CHURNED = '22222222-2222-4222-8222-222222222222';
const REFUNDS = '33333333-3333-4333-8333-333333333333';

const users: EntityMeta = {
  id: 'u',
  name: 'Users',
  from: { table: { schema: 'shop', name: 'users' } },
  primaryKey: 'id',
  columns: [
    col('id', 'INTEGER', 'bigint', false),
    col('email', 'STRING', 'text', false),
    col('plan', 'STRING', 'text'),
    col('age', 'INTEGER', 'integer'),
    col('score', 'NUMBER', 'numeric'),
    col('active', 'BOOLEAN', 'boolean'),
    col('birthday', 'DATE', 'date'),
    col('signed_up_at', 'TIMESTAMP', 'timestamp with time zone'),
    col('last_seen', 'TIMESTAMP', 'timestamp without time zone'),
    col('ext_id', 'UUID', 'uuid'),
    col('tags', 'ARRAY', 'text[]'),
    col('meta', 'JSON', 'jsonb'),
    col('company_id', 'INTEGER', 'bigint'),
    col('balance', 'NUMBER', 'money'),
  ],
  relationships: [
    { name: 'company', kind: 'MANY_TO_ONE', fromColumn: 'company_id', toColumn: 'id', targetId: 'c' },
    { name: 'purchases', kind: 'ONE_TO_MANY', fromColumn: 'id', toColumn: 'user_id', targetId: 'p' },
    { name: 'events', kind: 'ONE_TO_MANY', fromColumn: 'id', toColumn: 'user_id', targetId: 'ev' },
  ],
};
const companies: EntityMeta = {
  id: 'c',
  name: 'Companies',
  from: { table: { schema: 'shop', name: 'companies' } },
  primaryKey: 'id',
  columns: [col('id', 'INTEGER', 'bigint', false), col('name', 'STRING', 'text'), col('region_id', 'INTEGER', 'integer')],
  relationships: [{ name: 'region', kind: 'MANY_TO_ONE', fromColumn: 'region_id', toColumn: 'id', targetId: 'r' }],
};
const regions: EntityMeta = {
  id: 'r',
  name: 'Regions',
  from: { sql: 'SELECT id, name FROM shop.regions -- all of them' },
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
    col('id', 'INTEGER', 'bigint', false),
    col('user_id', 'INTEGER', 'bigint'),
    col('amount', 'NUMBER', 'numeric(10,2)'),
    col('product', 'STRING', 'text'),
    col('purchased_at', 'TIMESTAMP', 'timestamp with time zone'),
    col('paid_on', 'DATE', 'date'),
  ],
  relationships: [],
};
const events: EntityMeta = {
  id: 'ev',
  name: 'Events',
  from: { table: { schema: 'shop', name: 'events' } },
  primaryKey: 'id',
  columns: [col('id', 'INTEGER', 'bigint', false), col('user_id', 'INTEGER', 'bigint'), col('name', 'STRING', 'text'), col('at', 'TIMESTAMP', 'timestamp without time zone')],
  relationships: [],
};
/** A SQL-model entity of its own (segments on SQL models). */
const vips: EntityMeta = {
  id: 'v',
  name: 'VIP users',
  from: { sql: "SELECT id, plan, company_id FROM shop.users WHERE plan = 'pro'" },
  primaryKey: 'id',
  columns: [col('id', 'INTEGER', 'bigint'), col('plan', 'STRING', 'text'), col('company_id', 'INTEGER', 'bigint')],
  relationships: [{ name: 'company', kind: 'MANY_TO_ONE', fromColumn: 'company_id', toColumn: 'id', targetId: 'c' }],
};
/** Names that only quoting keeps intact. */
const weird: EntityMeta = {
  id: 'w',
  name: 'Weird',
  from: { table: { schema: 'we"ird sch', name: 'my "table"; --' } },
  primaryKey: 'Key Col',
  columns: [col('Key Col', 'STRING', 'text', false), col('naïve "col"', 'STRING', 'text'), col('a.b', 'INTEGER', 'integer')],
  relationships: [],
};

const ctx: CompileContext = {
  entities: new Map([users, companies, regions, purchases, events, vips, weird].map((e) => [e.id, e])),
  segments: new Map([
    [VIP, { id: VIP, name: 'VIP', entityId: 'u', condition: { and: [] } }],
    [CHURNED, { id: CHURNED, name: 'Churned', entityId: 'u', condition: { and: [] } }],
    [REFUNDS, { id: REFUNDS, name: 'Refunds', entityId: 'p', condition: { and: [] } }],
  ]),
  plannerSchema: 'roster planner',
};

const NOW = new Date('2025-03-31T10:30:00Z');
const NOW_ISO = '2025-03-31T10:30:00.000Z';
const PREFIX = 'SELECT e."id"::text AS key FROM "shop"."users" AS e WHERE ';

// Every statement compiled below is kept and run against the warehouse at the end.
const compiled: { entity: string; text: string; values: unknown[] }[] = [];

function members(c: Condition, entityId = 'u') {
  const q = compileMembers(ctx, entityId, c, { now: NOW });
  compiled.push({ entity: entityId, ...q });
  return q;
}
/** The WHERE clause of the members query of Users. */
function where(c: Condition) {
  const q = members(c);
  expect(q.text.startsWith(PREFIX), q.text).toBe(true);
  return { text: q.text.slice(PREFIX.length), values: q.values };
}

let wh: pg.Pool;
beforeAll(async () => {
  wh = new pg.Pool({ connectionString: t.url, max: 2 });
  await wh.query(`
    CREATE SCHEMA shop;
    CREATE TABLE shop.regions (id integer PRIMARY KEY, name text);
    CREATE TABLE shop.companies (id bigint PRIMARY KEY, name text, region_id integer);
    CREATE TABLE shop.users (id bigint PRIMARY KEY, email text NOT NULL, plan text, age integer, score numeric, active boolean,
      birthday date, signed_up_at timestamptz, last_seen timestamp, ext_id uuid, tags text[], meta jsonb, company_id bigint, balance money);
    CREATE TABLE shop.purchases (id bigint PRIMARY KEY, user_id bigint, amount numeric(10,2), product text, purchased_at timestamptz, paid_on date);
    CREATE TABLE shop.events (id bigint PRIMARY KEY, user_id bigint, name text, at timestamp);
    CREATE SCHEMA "we""ird sch";
    CREATE TABLE "we""ird sch"."my ""table""; --" ("Key Col" text PRIMARY KEY, "naïve ""col""" text, "a.b" integer);
    CREATE SCHEMA "roster planner";
    ${createSegmentTablesSql('roster planner')};
    INSERT INTO shop.regions VALUES (1, 'EU'), (2, 'US');
    INSERT INTO shop.companies VALUES (10, 'Acme', 1), (20, 'Globex', 2), (30, 'Initech', NULL);
    INSERT INTO shop.users (id, email, plan, age, score, active, birthday, signed_up_at, last_seen, tags, company_id, balance) VALUES
      (1, 'a@x', 'pro', 30, 10.5, true, '1990-01-01', '2025-03-20T00:00:00Z', '2025-03-30 12:00', '{vip}', 10, 5),
      (2, 'b@x', 'free', 17, NULL, false, NULL, '2024-01-01T00:00:00Z', NULL, NULL, 20, 50),
      (3, 'c@x', NULL, NULL, 99, NULL, '2025-03-15', NULL, '2020-01-01 00:00', '{}', 30, NULL);
    INSERT INTO shop.purchases VALUES (1, 1, 60.00, 'A', '2025-03-01T00:00:00Z', '2025-03-02'), (2, 1, 50.00, 'B', '2025-02-01T00:00:00Z', NULL),
      (3, 2, 5.00, 'A', '2023-01-01T00:00:00Z', '2023-01-01');
    INSERT INTO shop.events VALUES (1, 1, 'login', '2025-03-29 08:00'), (2, 3, 'login', '2025-01-01 08:00');
    INSERT INTO "we""ird sch"."my ""table""; --" VALUES ('k''1', 'x "y"', 1), ('k2', NULL, 2);
  `);
  await setMembers(wh, 'roster planner', VIP, ['1', '3']);
  await setMembers(wh, 'roster planner', CHURNED, ['3']);
  await setMembers(wh, 'roster planner', REFUNDS, ['3']);
});
afterAll(async () => {
  await wh?.end();
});

describe('attribute operators', () => {
  it.each<[string, Condition, string, unknown[]]>([
    ['EQ', { attribute: { path: 'plan', op: 'EQ', value: 'pro' } }, 'e."plan" = $1::text', ['pro']],
    ['NEQ', { attribute: { path: 'plan', op: 'NEQ', value: 'pro' } }, 'e."plan" IS DISTINCT FROM $1::text', ['pro']],
    ['IN', { attribute: { path: 'age', op: 'IN', values: [18, 21] } }, 'e."age" = ANY($1::numeric[])', [[18, 21]]],
    ['NOT_IN', { attribute: { path: 'age', op: 'NOT_IN', values: [18, 21] } }, '(e."age" = ANY($1::numeric[])) IS NOT TRUE', [[18, 21]]],
    ['GT', { attribute: { path: 'score', op: 'GT', value: 1.5 } }, 'e."score" > $1::numeric', [1.5]],
    ['GTE', { attribute: { path: 'age', op: 'GTE', value: 18 } }, 'e."age" >= $1::numeric', [18]],
    ['LT', { attribute: { path: 'birthday', op: 'LT', value: '2000-01-01' } }, 'e."birthday" < $1::date', ['2000-01-01']],
    ['LTE', { attribute: { path: 'signed_up_at', op: 'LTE', value: '2025-01-01T00:00:00Z' } }, 'e."signed_up_at" <= $1::timestamptz', ['2025-01-01T00:00:00Z']],
    ['BETWEEN', { attribute: { path: 'age', op: 'BETWEEN', values: [18, 30] } }, '(e."age" BETWEEN $1::numeric AND $2::numeric)', [18, 30]],
    ['CONTAINS (escaped pattern)', { attribute: { path: 'plan', op: 'CONTAINS', value: '50%_off\\' } }, 'e."plan" ILIKE $1::text', ['%50\\%\\_off\\\\%']],
    ['CONTAINS on a text array', { attribute: { path: 'tags', op: 'CONTAINS', value: 'vip' } }, '$1::text = ANY(e."tags")', ['vip']],
    ['STARTS_WITH', { attribute: { path: 'email', op: 'STARTS_WITH', value: 'a_' } }, 'e."email" ILIKE $1::text', ['a\\_%']],
    ['IS_NULL', { attribute: { path: 'meta', op: 'IS_NULL' } }, 'e."meta" IS NULL', []],
    ['IS_NOT_NULL', { attribute: { path: 'meta', op: 'IS_NOT_NULL' } }, 'e."meta" IS NOT NULL', []],
    ['IS_TRUE', { attribute: { path: 'active', op: 'IS_TRUE' } }, 'e."active" IS TRUE', []],
    ['IS_FALSE', { attribute: { path: 'active', op: 'IS_FALSE' } }, 'e."active" IS FALSE', []],
    [
      'WITHIN_LAST on a timestamptz',
      { attribute: { path: 'signed_up_at', op: 'WITHIN_LAST', within: { last: 30, unit: 'DAY' } } },
      `(e."signed_up_at" BETWEEN ((($1::timestamptz AT TIME ZONE 'UTC') - $2::interval) AT TIME ZONE 'UTC') AND $1::timestamptz)`,
      [NOW_ISO, '30 days'],
    ],
    [
      'WITHIN_LAST on a timestamp without time zone (UTC wall clock)',
      { attribute: { path: 'last_seen', op: 'WITHIN_LAST', within: { last: 2, unit: 'HOUR' } } },
      `(e."last_seen" BETWEEN (($1::timestamptz AT TIME ZONE 'UTC') - $2::interval) AND ($1::timestamptz AT TIME ZONE 'UTC'))`,
      [NOW_ISO, '2 hours'],
    ],
    [
      'NOT_WITHIN_LAST on a date (UTC calendar dates)',
      { attribute: { path: 'birthday', op: 'NOT_WITHIN_LAST', within: { last: 1, unit: 'MONTH' } } },
      `(e."birthday" BETWEEN (($1::timestamptz AT TIME ZONE 'UTC') - $2::interval)::date AND ($1::timestamptz AT TIME ZONE 'UTC')::date) IS NOT TRUE`,
      [NOW_ISO, '1 months'],
    ],
    ['BEFORE', { attribute: { path: 'birthday', op: 'BEFORE', value: '2000-01-01' } }, 'e."birthday" < $1::date', ['2000-01-01']],
    ['AFTER', { attribute: { path: 'signed_up_at', op: 'AFTER', value: '2025-01-01T00:00:00+02:00' } }, 'e."signed_up_at" > $1::timestamptz', ['2025-01-01T00:00:00+02:00']],
    [
      'BEFORE on a timestamp without time zone',
      { attribute: { path: 'last_seen', op: 'BEFORE', value: '2025-01-01T00:00:00+02:00' } },
      `e."last_seen" < ($1::timestamptz AT TIME ZONE 'UTC')`,
      ['2025-01-01T00:00:00+02:00'],
    ],
    [
      'IN on a timestamp without time zone',
      { attribute: { path: 'last_seen', op: 'IN', values: ['2025-03-30T12:00:00Z'] } },
      `(e."last_seen" AT TIME ZONE 'UTC') = ANY($1::timestamptz[])`,
      [['2025-03-30T12:00:00Z']],
    ],
    ['EQ on a boolean', { attribute: { path: 'active', op: 'EQ', value: false } }, 'e."active" = $1::boolean', [false]],
    ['EQ on a uuid', { attribute: { path: 'ext_id', op: 'EQ', value: '6F9619FF-8B86-D011-B42D-00C04FC964FF' } }, 'e."ext_id" = $1::uuid', ['6F9619FF-8B86-D011-B42D-00C04FC964FF']],
    ['NOT_IN on a uuid', { attribute: { path: 'ext_id', op: 'NOT_IN', values: ['6f9619ff-8b86-d011-b42d-00c04fc964ff'] } }, '(e."ext_id" = ANY($1::uuid[])) IS NOT TRUE', [['6f9619ff-8b86-d011-b42d-00c04fc964ff']]],
    ['money compares as numeric', { attribute: { path: 'balance', op: 'LTE', value: 10 } }, 'e."balance"::numeric <= $1::numeric', [10]],
  ])('%s', (_name, condition, text, values) => {
    expect(where(condition)).toEqual({ text, values });
  });
});

describe('paths through MANY_TO_ONE relationships', () => {
  it('one hop: EXISTS on the related row', () => {
    expect(where({ attribute: { path: 'company.name', op: 'EQ', value: 'Acme' } })).toEqual({
      text: 'EXISTS (SELECT 1 FROM "shop"."companies" AS r1 WHERE r1."id" = e."company_id" AND r1."name" = $1::text)',
      values: ['Acme'],
    });
  });

  it('two hops, through a SQL model, with a negated operator (true when there is no related row)', () => {
    expect(where({ attribute: { path: 'company.region.name', op: 'NEQ', value: 'EU' } })).toEqual({
      text:
        'NOT EXISTS (SELECT 1 FROM "shop"."companies" AS r1 JOIN (\nSELECT id, name FROM shop.regions -- all of them\n) AS r2 ' +
        'ON r2."id" = r1."region_id" WHERE r1."id" = e."company_id" AND r2."name" = $1::text)',
      values: ['EU'],
    });
  });

  it('IS_NULL through a path: no related row, or a NULL in it', () => {
    expect(where({ attribute: { path: 'company.region.name', op: 'IS_NULL' } }).text).toBe(
      'NOT EXISTS (SELECT 1 FROM "shop"."companies" AS r1 JOIN (\nSELECT id, name FROM shop.regions -- all of them\n) AS r2 ' +
        'ON r2."id" = r1."region_id" WHERE r1."id" = e."company_id" AND r2."name" IS NOT NULL)',
    );
  });

  it('a negated test through a path', () => {
    expect(where({ not: { attribute: { path: 'company.name', op: 'STARTS_WITH', value: 'Ac' } } })).toEqual({
      text: 'NOT EXISTS (SELECT 1 FROM "shop"."companies" AS r1 WHERE r1."id" = e."company_id" AND r1."name" ILIKE $1::text)',
      values: ['Ac%'],
    });
  });
});

describe('event conditions', () => {
  it('at least one related row by default', () => {
    expect(where({ event: { relationship: 'purchases' } })).toEqual({
      text: 'EXISTS (SELECT 1 FROM "shop"."purchases" AS r1 WHERE r1."user_id" = e."id")',
      values: [],
    });
  });

  it('where, within, count and aggregate together, in one aggregate row', () => {
    expect(
      where({
        event: {
          relationship: 'purchases',
          where: { or: [{ attribute: { path: 'product', op: 'EQ', value: 'A' } }, { attribute: { path: 'amount', op: 'GT', value: 10 } }] },
          within: { last: 6, unit: 'MONTH' },
          timeColumn: 'purchased_at',
          count: { op: 'GTE', value: 2 },
          aggregate: { fn: 'SUM', column: 'amount', op: 'GT', value: 100 },
        },
      }),
    ).toEqual({
      text:
        '(SELECT count(*) >= $5::numeric AND COALESCE(sum(r1."amount"), 0) > $6::numeric FROM "shop"."purchases" AS r1 ' +
        'WHERE r1."user_id" = e."id" AND (r1."product" = $1::text OR r1."amount" > $2::numeric) ' +
        `AND (r1."purchased_at" BETWEEN ((($3::timestamptz AT TIME ZONE 'UTC') - $4::interval) AT TIME ZONE 'UTC') AND $3::timestamptz))`,
      values: ['A', 10, NOW_ISO, '6 months', 2, 100],
    });
  });

  it('the only time column by default; MAX of a timestamp without time zone', () => {
    expect(
      where({
        event: { relationship: 'events', within: { last: 1, unit: 'WEEK' }, aggregate: { fn: 'MAX', column: 'at', op: 'LT', value: '2025-03-30T00:00:00Z' } },
      }),
    ).toEqual({
      text:
        `(SELECT max(r1."at") < ($3::timestamptz AT TIME ZONE 'UTC') FROM "shop"."events" AS r1 WHERE r1."user_id" = e."id" ` +
        `AND (r1."at" BETWEEN (($1::timestamptz AT TIME ZONE 'UTC') - $2::interval) AND ($1::timestamptz AT TIME ZONE 'UTC')))`,
      values: [NOW_ISO, '1 weeks', '2025-03-30T00:00:00Z'],
    });
  });

  it('a window on a DATE time column; AVG and MIN', () => {
    expect(
      where({
        and: [
          { event: { relationship: 'purchases', timeColumn: 'paid_on', within: { last: 1, unit: 'YEAR' }, count: { op: 'EQ', value: 0 } } },
          { event: { relationship: 'purchases', aggregate: { fn: 'AVG', column: 'amount', op: 'LTE', value: 20.5 } } },
          { event: { relationship: 'purchases', aggregate: { fn: 'MIN', column: 'paid_on', op: 'GTE', value: '2025-01-01' } } },
        ],
      }),
    ).toEqual({
      text:
        `((SELECT count(*) = $3::numeric FROM "shop"."purchases" AS r1 WHERE r1."user_id" = e."id" ` +
        `AND (r1."paid_on" BETWEEN (($1::timestamptz AT TIME ZONE 'UTC') - $2::interval)::date AND ($1::timestamptz AT TIME ZONE 'UTC')::date)) ` +
        'AND (SELECT avg(r2."amount") <= $4::numeric FROM "shop"."purchases" AS r2 WHERE r2."user_id" = e."id") ' +
        'AND (SELECT min(r3."paid_on") >= $5::date FROM "shop"."purchases" AS r3 WHERE r3."user_id" = e."id"))',
      values: [NOW_ISO, '1 years', 0, 20.5, '2025-01-01'],
    });
  });

  it('negating an event whose aggregate may be NULL', () => {
    expect(where({ not: { event: { relationship: 'purchases', aggregate: { fn: 'MAX', column: 'amount', op: 'GT', value: 55 } } } }).text).toBe(
      '(SELECT max(r1."amount") > $1::numeric FROM "shop"."purchases" AS r1 WHERE r1."user_id" = e."id") IS NOT TRUE',
    );
  });
});

// Membership of the record (or related row) `alias`, tested by its key's bucket (store-sql's memberSql, tested there).
const member = (param: string, alias: string) =>
  'EXISTS (SELECT 1 FROM "roster planner"."segment_sizes" AS roster_ms JOIN "roster planner"."segment_member_buckets" AS roster_mb ' +
  `ON roster_mb.segment_id = roster_ms.segment_id AND roster_mb.bucket = (hashtextextended((${alias}."id"::text) COLLATE "C", 0) & ((1::bigint << (roster_ms.bits)::int) - 1))::int ` +
  `WHERE roster_ms.segment_id = ${param}::uuid AND (${alias}."id"::text) COLLATE "C" = ANY(roster_mb.keys))`;

describe('segment references and combinations', () => {

  it('include and exclude', () => {
    expect(where({ and: [{ segment: { id: VIP, member: true } }, { segment: { id: CHURNED, member: false } }] })).toEqual({
      text:
        `(${member('$1', 'e')} AND NOT ${member('$2', 'e')})`,
      values: [VIP, CHURNED],
    });
  });

  it('and / or / not; and[] is everyone, or[] is nobody', () => {
    expect(where({ not: { or: [{ attribute: { path: 'plan', op: 'EQ', value: 'pro' } }, { attribute: { path: 'age', op: 'LT', value: 18 } }] } })).toEqual({
      text: '(e."plan" = $1::text OR e."age" < $2::numeric) IS NOT TRUE',
      values: ['pro', 18],
    });
    expect(where({ not: { and: [{ attribute: { path: 'meta', op: 'IS_NULL' } }, { segment: { id: VIP, member: true } }] } }).text).toBe(
      `NOT (e."meta" IS NULL AND ${member('$1', 'e')})`,
    );
    expect(where({ and: [] }).text).toBe('TRUE');
    expect(where({ or: [] }).text).toBe('FALSE');
    expect(where({ not: { and: [] } }).text).toBe('FALSE');
    expect(where({ and: [{ attribute: { path: 'plan', op: 'EQ', value: 'pro' } }] }).text).toBe('e."plan" = $1::text');
  });

  it('a segment inside an event is about the related row', () => {
    const q = where({ event: { relationship: 'purchases', where: { segment: { id: REFUNDS, member: false } } } });
    expect(q.text).toBe(
      `EXISTS (SELECT 1 FROM "shop"."purchases" AS r1 WHERE r1."user_id" = e."id" AND NOT ${member('$1', 'r1')})`,
    );
  });
});

describe('entities', () => {
  it('a SQL-model entity is a parenthesised subquery, its text on lines of its own', () => {
    expect(relationSql(vips)).toBe("(\nSELECT id, plan, company_id FROM shop.users WHERE plan = 'pro'\n)");
    expect(members({ attribute: { path: 'company.name', op: 'NEQ', value: 'Globex' } }, 'v')).toEqual({
      text:
        "SELECT e.\"id\"::text AS key FROM (\nSELECT id, plan, company_id FROM shop.users WHERE plan = 'pro'\n) AS e " +
        'WHERE NOT EXISTS (SELECT 1 FROM "shop"."companies" AS r1 WHERE r1."id" = e."company_id" AND r1."name" = $1::text)',
      values: ['Globex'],
    });
  });

  it('identifiers with quotes, spaces, dots and unicode are quoted, never altered', () => {
    expect(members({ or: [{ attribute: { path: 'naïve "col"', op: 'CONTAINS', value: 'Y' } }, { attribute: { path: 'a.b', op: 'EQ', value: 2 } }] }, 'w')).toEqual({
      text:
        'SELECT e."Key Col"::text AS key FROM "we""ird sch"."my ""table""; --" AS e ' +
        'WHERE (e."naïve ""col""" ILIKE $1::text OR e."a.b" = $2::numeric)',
      values: ['%Y%', 2],
    });
  });
});

describe('compilePredicate', () => {
  it('appends to the caller\'s values and numbers placeholders after them; never NULL', () => {
    const params: unknown[] = ['mine'];
    const q = compilePredicate(ctx, 'u', { attribute: { path: 'plan', op: 'EQ', value: 'pro' } }, { now: NOW, params });
    expect(q).toEqual({ text: '(e."plan" = $2::text) IS TRUE', values: ['mine', 'pro'] });
    expect(q.values).toBe(params);
  });

  it('leaves two-valued expressions as they are', () => {
    expect(compilePredicate(ctx, 'u', { attribute: { path: 'plan', op: 'NEQ', value: 'pro' } }, { now: NOW }).text).toBe('e."plan" IS DISTINCT FROM $1::text');
    expect(compilePredicate(ctx, 'u', { segment: { id: VIP, member: true } }, { now: NOW }).text).toBe(
      member('$1', 'e'),
    );
  });

  it('over another alias', () => {
    expect(compilePredicate(ctx, 'u', { attribute: { path: 'company.name', op: 'EQ', value: 'Acme' } }, { now: NOW, alias: 'u' }).text).toBe(
      'EXISTS (SELECT 1 FROM "shop"."companies" AS r1 WHERE r1."id" = u."company_id" AND r1."name" = $1::text)',
    );
    expect(() => compilePredicate(ctx, 'u', { and: [] }, { now: NOW, alias: 'r1' })).toThrow(/alias/);
    expect(() => compilePredicate(ctx, 'u', { and: [] }, { now: NOW, alias: 'e; DROP' })).toThrow(/alias/);
  });
});

describe('refusals', () => {
  it('an invalid condition throws a ValidationError naming every problem', () => {
    const bad = { and: [{ attribute: { path: 'plann', op: 'EQ', value: 'x' } }, { segment: { id: 'nope', member: true } }] } as Condition;
    expect(() => compileMembers(ctx, 'u', bad, { now: NOW })).toThrow(ValidationError);
    try {
      compileMembers(ctx, 'u', bad, { now: NOW });
    } catch (err) {
      expect((err as ValidationError).problems.map((p) => p.path.join('.'))).toEqual(['and.0.attribute.path', 'and.1.segment.id']);
    }
  });

  it('needs a valid now', () => {
    expect(() => compileMembers(ctx, 'u', { and: [] }, { now: new Date('nope') })).toThrow(/valid Date/);
  });

  it('escapeLike escapes %, _ and \\ only', () => {
    expect(escapeLike('a%b_c\\d*e')).toBe('a\\%b\\_c\\\\d*e');
  });
});

describe('in PostgreSQL', () => {
  it('every statement above runs', async () => {
    expect(compiled.length).toBeGreaterThan(40);
    for (const q of compiled) {
      await expect(wh.query(q.text, q.values), q.text).resolves.toBeDefined();
    }
  });

  it('and selects what it should', async () => {
    const keys = async (c: Condition, entityId = 'u') => {
      const q = compileMembers(ctx, entityId, c, { now: NOW });
      return (await wh.query<{ key: string }>(q.text, q.values)).rows.map((r) => r.key).sort();
    };
    expect(await keys({ attribute: { path: 'company.region.name', op: 'EQ', value: 'EU' } })).toEqual(['1']);
    expect(await keys({ attribute: { path: 'company.region.name', op: 'NEQ', value: 'EU' } })).toEqual(['2', '3']);
    expect(await keys({ attribute: { path: 'plan', op: 'NEQ', value: 'pro' } })).toEqual(['2', '3']);
    expect(await keys({ attribute: { path: 'signed_up_at', op: 'WITHIN_LAST', within: { last: 30, unit: 'DAY' } } })).toEqual(['1']);
    expect(await keys({ attribute: { path: 'birthday', op: 'WITHIN_LAST', within: { last: 1, unit: 'MONTH' } } })).toEqual(['3']);
    expect(await keys({ attribute: { path: 'tags', op: 'CONTAINS', value: 'vip' } })).toEqual(['1']);
    expect(await keys({ attribute: { path: 'balance', op: 'GT', value: 10 } })).toEqual(['2']);
    expect(await keys({ event: { relationship: 'purchases', aggregate: { fn: 'SUM', column: 'amount', op: 'GTE', value: 110 } } })).toEqual(['1']);
    expect(await keys({ event: { relationship: 'purchases', count: { op: 'EQ', value: 0 } } })).toEqual(['3']);
    expect(await keys({ event: { relationship: 'purchases', where: { attribute: { path: 'product', op: 'EQ', value: 'A' } }, within: { last: 6, unit: 'MONTH' }, timeColumn: 'purchased_at' } })).toEqual(['1']);
    expect(await keys({ event: { relationship: 'events', within: { last: 1, unit: 'WEEK' } } })).toEqual(['1']);
    expect(await keys({ event: { relationship: 'purchases', where: { segment: { id: REFUNDS, member: false } } } })).toEqual(['1']);
    expect(await keys({ and: [{ segment: { id: VIP, member: true } }, { segment: { id: CHURNED, member: false } }] })).toEqual(['1']);
    expect(await keys({ attribute: { path: 'company.name', op: 'EQ', value: 'Acme' } }, 'v')).toEqual(['1']);
    expect(await keys({ attribute: { path: 'naïve "col"', op: 'CONTAINS', value: 'X "Y' } }, 'w')).toEqual(["k'1"]);
  });
});
