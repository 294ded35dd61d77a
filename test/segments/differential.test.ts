// Differential test of the condition compiler: random valid condition trees
// (fast-check) are evaluated twice, by the compiled SQL in PostgreSQL and by
// an in-memory evaluator written here from the semantics in the brief (it
// never calls the compiler), and the member sets must be equal.
//
// The warehouse is generated from a fixed seed: users (every column type,
// NULLs, awkward names) → companies → regions (MANY_TO_ONE, two levels),
// purchases and page views (ONE_TO_MANY; page views as a SQL model), products
// and buyers reached from purchases, and materialised segments. Values sit on
// the edges that matter: window starts (month ends, leap days), NULLs, LIKE
// wildcards in the data and in the patterns. The session's TimeZone is not
// UTC, to show that results do not depend on it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { useTestDatabase } from '../support/db.js';
import { qualified, quoteIdent } from '../../src/lib/sql.js';
import { describeQuery, describeTable } from '../../src/warehouse/introspect.js';
import { compileMembers, compilePredicate } from '../../src/segments/compile.js';
import { validateCondition } from '../../src/segments/validate.js';
import { createSegmentTablesSql } from '../../src/segments/store-sql.js';
import { setMembers } from '../support/members.js';
import {
  ATTRIBUTE_OPS,
  type AggregateFn,
  type AttributeCondition,
  type AttributeOp,
  type ComparisonOp,
  type Condition,
  type EventCondition,
  type Scalar,
  type TimeUnit,
  type TimeWindow,
} from '../../src/segments/condition.js';
import type { CompileContext, EntityMeta, RelationshipMeta } from '../../src/segments/metadata.js';

const t = await useTestDatabase();

const SCHEMA = 'diff "shop"';
const PLANNER = 'roster planner';
const NOW_MS = Date.UTC(2025, 2, 31, 10, 30, 0, 0); // 2025-03-31T10:30:00Z: a month end
const NOW = new Date(NOW_MS);

// ─── The model (the test's own description; the evaluator reads only this) ──

type Kind = 'int' | 'cents' | 'text' | 'bool' | 'date' | 'ts' | 'naive' | 'uuid' | 'tags' | 'json';
type Table = 'regions' | 'companies' | 'users' | 'products' | 'purchases' | 'page_views';
type Value = number | string | boolean | null | (string | null)[] | Record<string, unknown>;
type Row = Record<string, Value>;

interface TableDef {
  name: string; // entity name
  table: string; // warehouse table
  pk: string;
  columns: Record<string, { kind: Kind; sql: string }>;
}

const TABLES: Record<Table, TableDef> = {
  regions: {
    name: 'Regions',
    table: 'regions',
    pk: 'id',
    columns: { id: { kind: 'int', sql: 'integer PRIMARY KEY' }, name: { kind: 'text', sql: 'text NOT NULL' }, code: { kind: 'text', sql: 'text' } },
  },
  companies: {
    name: 'Companies',
    table: 'companies',
    pk: 'id',
    columns: {
      id: { kind: 'text', sql: 'text PRIMARY KEY' },
      name: { kind: 'text', sql: 'text' },
      employees: { kind: 'int', sql: 'integer' },
      industry: { kind: 'text', sql: 'text' },
      founded: { kind: 'date', sql: 'date' },
      region_id: { kind: 'int', sql: 'integer' },
      public: { kind: 'bool', sql: 'boolean' },
    },
  },
  users: {
    name: 'Users',
    table: 'users',
    pk: 'id',
    columns: {
      id: { kind: 'int', sql: 'integer PRIMARY KEY' },
      'e-mail': { kind: 'text', sql: 'varchar(100) NOT NULL' },
      name: { kind: 'text', sql: 'text' },
      'plan"tier': { kind: 'text', sql: 'text' },
      age: { kind: 'int', sql: 'integer' },
      score: { kind: 'cents', sql: 'numeric(10,2)' },
      active: { kind: 'bool', sql: 'boolean' },
      birthday: { kind: 'date', sql: 'date' },
      'signed up at': { kind: 'ts', sql: 'timestamptz' },
      last_seen: { kind: 'naive', sql: 'timestamp(3)' },
      ext_id: { kind: 'uuid', sql: 'uuid' },
      tags: { kind: 'tags', sql: 'text[]' },
      meta: { kind: 'json', sql: 'jsonb' },
      company_ref: { kind: 'text', sql: 'text' },
      'utm.source': { kind: 'text', sql: 'text' },
      café: { kind: 'text', sql: 'text' },
    },
  },
  products: {
    name: 'Products',
    table: 'products',
    pk: 'id',
    columns: {
      id: { kind: 'uuid', sql: 'uuid PRIMARY KEY' },
      name: { kind: 'text', sql: 'text NOT NULL' },
      category: { kind: 'text', sql: 'text' },
      price: { kind: 'cents', sql: 'numeric(10,2)' },
    },
  },
  purchases: {
    name: 'Purchases',
    table: 'purchases',
    pk: 'id',
    columns: {
      id: { kind: 'int', sql: 'integer PRIMARY KEY' },
      user_id: { kind: 'int', sql: 'integer' },
      product_id: { kind: 'uuid', sql: 'uuid' },
      amount: { kind: 'cents', sql: 'numeric(12,2)' },
      quantity: { kind: 'int', sql: 'integer' },
      purchased_at: { kind: 'ts', sql: 'timestamptz' },
      paid_on: { kind: 'date', sql: 'date' },
      status: { kind: 'text', sql: 'text' },
    },
  },
  page_views: {
    name: 'Page views',
    table: 'page_views_raw',
    pk: 'id',
    columns: {
      id: { kind: 'int', sql: 'integer PRIMARY KEY' },
      user_id: { kind: 'int', sql: 'integer' },
      url: { kind: 'text', sql: 'text NOT NULL' },
      viewed_at: { kind: 'naive', sql: 'timestamp(3) NOT NULL' },
      duration: { kind: 'int', sql: 'integer' },
    },
  },
};

interface Rel {
  kind: 'MANY_TO_ONE' | 'ONE_TO_MANY';
  from: string;
  to: string;
  target: Table;
}
const RELS: Record<Table, Record<string, Rel>> = {
  regions: {},
  companies: { region: { kind: 'MANY_TO_ONE', from: 'region_id', to: 'id', target: 'regions' } },
  users: {
    company: { kind: 'MANY_TO_ONE', from: 'company_ref', to: 'id', target: 'companies' },
    purchases: { kind: 'ONE_TO_MANY', from: 'id', to: 'user_id', target: 'purchases' },
    views: { kind: 'ONE_TO_MANY', from: 'id', to: 'user_id', target: 'page_views' },
  },
  products: {},
  purchases: {
    product: { kind: 'MANY_TO_ONE', from: 'product_id', to: 'id', target: 'products' },
    buyer: { kind: 'MANY_TO_ONE', from: 'user_id', to: 'id', target: 'users' },
  },
  page_views: {},
};
/** The time column an event window uses when none is named (the only DATE/TIMESTAMP one). */
const DEFAULT_TIME: Partial<Record<Table, string>> = { page_views: 'viewed_at' };

// ─── Time, as PostgreSQL's interval arithmetic does it, in UTC ───────────────

const DAY_MS = 86_400_000;
function daysInMonth(y: number, m0: number): number {
  return new Date(Date.UTC(y, m0 + 1, 0)).getUTCDate();
}
/** now - n unit: exact for minutes/hours, calendar days, months clamped to the month's end. */
function minus(ms: number, w: TimeWindow): number {
  switch (w.unit) {
    case 'MINUTE':
      return ms - w.last * 60_000;
    case 'HOUR':
      return ms - w.last * 3_600_000;
    case 'DAY':
      return ms - w.last * DAY_MS;
    case 'WEEK':
      return ms - w.last * 7 * DAY_MS;
    case 'MONTH':
    case 'YEAR': {
      const months = w.unit === 'YEAR' ? w.last * 12 : w.last;
      const d = new Date(ms);
      const total = d.getUTCFullYear() * 12 + d.getUTCMonth() - months;
      const y = Math.floor(total / 12);
      const m0 = total - y * 12;
      const day = Math.min(d.getUTCDate(), daysInMonth(y, m0));
      const timeOfDay = ms - Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      return Date.UTC(y, m0, day) + timeOfDay;
    }
  }
}
const dateOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const addDays = (date: string, n: number) => dateOf(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS);

const WINDOWS: TimeWindow[] = [
  { last: 30, unit: 'MINUTE' },
  { last: 1, unit: 'HOUR' },
  { last: 1, unit: 'DAY' },
  { last: 2, unit: 'DAY' },
  { last: 7, unit: 'DAY' },
  { last: 1, unit: 'WEEK' },
  { last: 1, unit: 'MONTH' },
  { last: 13, unit: 'MONTH' }, // 2024-02-31 → 2024-02-29
  { last: 1, unit: 'YEAR' },
  { last: 2, unit: 'YEAR' },
];
/** Instants on, just inside and just outside each window's start, and around now. */
const EDGE_MS = [
  ...WINDOWS.flatMap((w) => [minus(NOW_MS, w), minus(NOW_MS, w) - 1, minus(NOW_MS, w) + 1]),
  NOW_MS,
  NOW_MS - 1,
  NOW_MS + 1,
  NOW_MS + DAY_MS,
];
const TODAY = dateOf(NOW_MS);
const EDGE_DATES = [
  ...WINDOWS.flatMap((w) => [dateOf(minus(NOW_MS, w)), addDays(dateOf(minus(NOW_MS, w)), -1)]),
  TODAY,
  addDays(TODAY, 1),
  addDays(TODAY, -1),
];

// ─── Data, from a fixed seed ─────────────────────────────────────────────────

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(20250331);
const int = (min: number, max: number) => min + Math.floor(rnd() * (max - min + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const maybe = <T>(p: number, f: () => T): T | null => (rnd() < p ? null : f());
const uuidFrom = () =>
  'xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx'.replace(/x/g, () => '0123456789abcdef'[int(0, 15)]!);

const TEXTS = [
  'Ada Lovelace', 'ada', 'ADA', "O'Brien", 'Zoë', 'ÉMILE', 'émile', '100% pure', 'under_score', 'back\\slash',
  'naïve café', '日本語テキスト', '🙂 smile', '', 'A_B', 'a%b', 'x; DROP TABLE users; --', '$1', 'Bob', 'bobby tables',
];
const randomTs = () => (rnd() < 0.35 ? pick(EDGE_MS) : NOW_MS - int(-5, 3 * 365) * DAY_MS - int(0, DAY_MS - 1));
const randomDate = () => (rnd() < 0.35 ? pick(EDGE_DATES) : dateOf(NOW_MS - int(-5, 3 * 365) * DAY_MS));

const DATA: Record<Table, Row[]> = { regions: [], companies: [], users: [], products: [], purchases: [], page_views: [] };
DATA.regions = [1, 2, 3, 4].map((id) => ({ id, name: pick(['North', 'south', 'EAST', 'Wést']), code: maybe(0.3, () => pick(['N', 'S', 'e'])) }));
const COMPANY_IDS = ['c1', 'c2', 'c3', 'c4', 'c5', "c'6", 'C7', 'c 8'];
DATA.companies = COMPANY_IDS.map((id) => ({
  id,
  name: maybe(0.15, () => pick(TEXTS)),
  employees: maybe(0.2, () => int(1, 500)),
  industry: maybe(0.2, () => pick(['Software', 'software', 'Retail', 'Health_care'])),
  founded: maybe(0.2, randomDate),
  region_id: maybe(0.2, () => pick([1, 2, 3, 4, 99])),
  public: maybe(0.25, () => rnd() < 0.5),
}));
DATA.products = Array.from({ length: 8 }, () => ({
  id: uuidFrom(),
  name: pick(TEXTS) || 'Product',
  category: maybe(0.25, () => pick(['Books', 'books', 'Games', 'Garden%'])),
  price: maybe(0.2, () => int(0, 20_000)),
}));
const EXT_IDS = Array.from({ length: 6 }, uuidFrom);
const TAGS = ['vip', 'beta', 'Churn', 'churn', 'x_y'];
DATA.users = Array.from({ length: 140 }, (_, i) => ({
  id: i + 1,
  'e-mail': `user${i + 1}@example.test`,
  name: maybe(0.15, () => pick(TEXTS)),
  'plan"tier': maybe(0.2, () => pick(['free', 'pro', 'Pro', 'enterprise'])),
  age: maybe(0.2, () => int(16, 80)),
  score: maybe(0.2, () => int(-5000, 10_000)),
  active: maybe(0.25, () => rnd() < 0.6),
  birthday: maybe(0.25, randomDate),
  'signed up at': maybe(0.15, randomTs),
  last_seen: maybe(0.2, randomTs),
  ext_id: maybe(0.3, () => pick(EXT_IDS)),
  tags: maybe(0.25, () => {
    const tags: (string | null)[] = TAGS.filter(() => rnd() < 0.3);
    if (rnd() < 0.15) tags.push(null);
    return tags;
  }),
  meta: maybe(0.5, () => ({ source: pick(['ads', 'organic']) })),
  company_ref: maybe(0.2, () => pick([...COMPANY_IDS, 'missing'])),
  'utm.source': maybe(0.4, () => pick(['google', 'Newsletter', 'partner_x'])),
  café: maybe(0.5, () => pick(['latte', 'Flat white', 'espresso'])),
}));
DATA.purchases = Array.from({ length: 420 }, (_, i) => ({
  id: i + 1,
  user_id: maybe(0.05, () => int(1, 150)), // a few buyers that do not exist
  product_id: maybe(0.1, () => pick(DATA.products).id as string),
  amount: maybe(0.1, () => int(0, 50_000)),
  quantity: maybe(0.1, () => int(1, 5)),
  purchased_at: maybe(0.1, randomTs),
  paid_on: maybe(0.3, randomDate),
  status: maybe(0.1, () => pick(['paid', 'refunded', 'Paid'])),
}));
DATA.page_views = Array.from({ length: 300 }, (_, i) => ({
  id: i + 1,
  user_id: maybe(0.05, () => int(1, 140)),
  url: pick(['/', '/pricing', '/docs/_intro', '/blog/100%']),
  viewed_at: randomTs(),
  duration: maybe(0.2, () => int(0, 600)),
}));

// Materialised segments: keys as text, as the evaluator writes them.
const SEGMENTS = {
  usersA: { id: randomUUID(), name: 'Users A', table: 'users' as Table },
  usersB: { id: randomUUID(), name: 'Users B', table: 'users' as Table },
  purchasesP: { id: randomUUID(), name: 'Purchases P', table: 'purchases' as Table },
};
const MEMBERS = new Map<string, Set<string>>([
  [SEGMENTS.usersA.id, new Set(DATA.users.filter(() => rnd() < 0.4).map((u) => String(u.id)))],
  [SEGMENTS.usersB.id, new Set(DATA.users.filter(() => rnd() < 0.25).map((u) => String(u.id)))],
  [SEGMENTS.purchasesP.id, new Set(DATA.purchases.filter(() => rnd() < 0.3).map((p) => String(p.id)))],
]);

// ─── The in-memory evaluator ─────────────────────────────────────────────────

/** Case folding as the warehouse does it: set from the server's lower() (C locale: ASCII only). */
let fold: (s: string) => string = (s) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

function kindOf(table: Table, column: string): Kind {
  return TABLES[table].columns[column]!.kind;
}

/** A value as the evaluator compares it: cents as integers, timestamps as ms, UUIDs lower-case. */
function norm(kind: Kind, v: Scalar): number | string | boolean {
  switch (kind) {
    case 'cents':
      return Math.round((v as number) * 100);
    case 'ts':
    case 'naive':
      return Date.parse(v as string);
    case 'uuid':
      return (v as string).toLowerCase();
    default:
      return v;
  }
}
function cmp(a: number | string | boolean, b: number | string | boolean): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return a < b ? -1 : a > b ? 1 : 0;
}
function inWindow(kind: Kind, v: Value, w: TimeWindow): boolean {
  if (v === null) return false;
  if (kind === 'date') return (v as string) >= dateOf(minus(NOW_MS, w)) && (v as string) <= TODAY;
  return (v as number) >= minus(NOW_MS, w) && (v as number) <= NOW_MS;
}
function compare(a: number, op: ComparisonOp, b: number): boolean {
  switch (op) {
    case 'EQ':
      return a === b;
    case 'NEQ':
      return a !== b;
    case 'GT':
      return a > b;
    case 'GTE':
      return a >= b;
    case 'LT':
      return a < b;
    case 'LTE':
      return a <= b;
  }
}

function related(row: Row, rel: Rel): Row[] {
  const key = row[rel.from];
  if (key === null || key === undefined) return [];
  return DATA[rel.target].filter((r) => r[rel.to] === key);
}

/** The value at a path: the table's column, or through MANY_TO_ONE relationships (null if no related row). */
function valueAt(table: Table, row: Row | null, path: string): { kind: Kind; value: Value } {
  if (path in TABLES[table].columns) return { kind: kindOf(table, path), value: row ? row[path]! : null };
  const dot = path.indexOf('.');
  const rel = RELS[table][path.slice(0, dot)]!;
  const next = row ? (related(row, rel)[0] ?? null) : null;
  return valueAt(rel.target, next, path.slice(dot + 1));
}

function evalAttribute(a: AttributeCondition, kind: Kind, v: Value): boolean {
  switch (a.op) {
    case 'IS_NULL':
      return v === null;
    case 'IS_NOT_NULL':
      return v !== null;
    case 'NEQ':
      return !evalAttribute({ ...a, op: 'EQ' }, kind, v);
    case 'NOT_IN':
      return !evalAttribute({ ...a, op: 'IN' }, kind, v);
    case 'NOT_WITHIN_LAST':
      return !evalAttribute({ ...a, op: 'WITHIN_LAST' }, kind, v);
    default:
  }
  if (v === null) return false;
  const x = v as number | string | boolean;
  const value = () => norm(kind, a.value as Scalar);
  switch (a.op) {
    case 'EQ':
      return cmp(x, value()) === 0;
    case 'IN':
      return a.values!.some((w) => cmp(x, norm(kind, w)) === 0);
    case 'GT':
    case 'AFTER':
      return cmp(x, value()) > 0;
    case 'GTE':
      return cmp(x, value()) >= 0;
    case 'LT':
    case 'BEFORE':
      return cmp(x, value()) < 0;
    case 'LTE':
      return cmp(x, value()) <= 0;
    case 'BETWEEN':
      return cmp(x, norm(kind, a.values![0]!)) >= 0 && cmp(x, norm(kind, a.values![1]!)) <= 0;
    case 'CONTAINS':
      if (kind === 'tags') return (v as (string | null)[]).includes(a.value as string);
      return fold(x as string).includes(fold(a.value as string));
    case 'STARTS_WITH':
      return fold(x as string).startsWith(fold(a.value as string));
    case 'IS_TRUE':
      return v === true;
    case 'IS_FALSE':
      return v === false;
    case 'WITHIN_LAST':
      return inWindow(kind, v, a.within!);
    default:
      throw new Error(`evaluator: ${a.op}`);
  }
}

/** Numbers on a common scale (hundredths), so sums and averages compare exactly. */
const hundredths = (kind: Kind, v: number) => (kind === 'cents' ? v : v * 100);

function evalEvent(ev: EventCondition, table: Table, row: Row): boolean {
  const rel = RELS[table][ev.relationship]!;
  const target = rel.target;
  const timeColumn = ev.timeColumn ?? DEFAULT_TIME[target];
  const rows = related(row, rel).filter(
    (r) => (!ev.where || evalCondition(ev.where, target, r)) && (!ev.within || inWindow(kindOf(target, timeColumn!), r[timeColumn!]!, ev.within)),
  );
  if (!ev.count && !ev.aggregate) return rows.length >= 1;
  if (ev.count && !compare(rows.length, ev.count.op, ev.count.value)) return false;
  if (ev.aggregate) {
    const { fn, column, op, value } = ev.aggregate;
    const kind = kindOf(target, column);
    const present = rows.map((r) => r[column]!).filter((x) => x !== null);
    if (kind === 'date' || kind === 'ts' || kind === 'naive') {
      if (present.length === 0) return false;
      const xs = present as (string | number)[];
      const best = xs.reduce((m, x) => ((fn === 'MIN' ? cmp(x, m) < 0 : cmp(x, m) > 0) ? x : m));
      const c = cmp(best, norm(kind, value));
      return compare(c, op, 0);
    }
    const xs = (present as number[]).map((x) => hundredths(kind, x));
    const target100 = Math.round((value as number) * 100);
    switch (fn as AggregateFn) {
      case 'SUM':
        return compare(xs.reduce((s, x) => s + x, 0), op, target100);
      case 'AVG':
        // sum / n op value  ⇔  sum op value × n  (n > 0)
        return xs.length > 0 && compare(xs.reduce((s, x) => s + x, 0), op, target100 * xs.length);
      case 'MIN':
        return xs.length > 0 && compare(Math.min(...xs), op, target100);
      case 'MAX':
        return xs.length > 0 && compare(Math.max(...xs), op, target100);
    }
  }
  return true;
}

function evalCondition(c: Condition, table: Table, row: Row): boolean {
  if ('and' in c) return c.and.every((x) => evalCondition(x, table, row));
  if ('or' in c) return c.or.some((x) => evalCondition(x, table, row));
  if ('not' in c) return !evalCondition(c.not, table, row);
  if ('attribute' in c) {
    const { kind, value } = valueAt(table, row, c.attribute.path);
    return evalAttribute(c.attribute, kind, value);
  }
  if ('event' in c) return evalEvent(c.event, table, row);
  const members = MEMBERS.get(c.segment.id)!;
  return members.has(String(row[TABLES[table].pk])) === c.segment.member;
}

function expectedMembers(c: Condition): string[] {
  return DATA.users.filter((u) => evalCondition(c, 'users', u)).map((u) => String(u.id)).sort();
}

// ─── Condition generators ────────────────────────────────────────────────────

const OPS: Record<Kind, AttributeOp[]> = {
  text: ['EQ', 'NEQ', 'IN', 'NOT_IN', 'CONTAINS', 'STARTS_WITH', 'IS_NULL', 'IS_NOT_NULL'],
  int: ['EQ', 'NEQ', 'IN', 'NOT_IN', 'GT', 'GTE', 'LT', 'LTE', 'BETWEEN', 'IS_NULL', 'IS_NOT_NULL'],
  cents: ['EQ', 'NEQ', 'IN', 'NOT_IN', 'GT', 'GTE', 'LT', 'LTE', 'BETWEEN', 'IS_NULL', 'IS_NOT_NULL'],
  bool: ['EQ', 'NEQ', 'IN', 'NOT_IN', 'IS_TRUE', 'IS_FALSE', 'IS_NULL', 'IS_NOT_NULL'],
  date: ['EQ', 'NEQ', 'IN', 'NOT_IN', 'GT', 'GTE', 'LT', 'LTE', 'BETWEEN', 'WITHIN_LAST', 'NOT_WITHIN_LAST', 'BEFORE', 'AFTER', 'IS_NULL', 'IS_NOT_NULL'],
  ts: ['EQ', 'NEQ', 'IN', 'NOT_IN', 'GT', 'GTE', 'LT', 'LTE', 'BETWEEN', 'WITHIN_LAST', 'NOT_WITHIN_LAST', 'BEFORE', 'AFTER', 'IS_NULL', 'IS_NOT_NULL'],
  naive: ['EQ', 'NEQ', 'IN', 'NOT_IN', 'GT', 'GTE', 'LT', 'LTE', 'BETWEEN', 'WITHIN_LAST', 'NOT_WITHIN_LAST', 'BEFORE', 'AFTER', 'IS_NULL', 'IS_NOT_NULL'],
  uuid: ['EQ', 'NEQ', 'IN', 'NOT_IN', 'IS_NULL', 'IS_NOT_NULL'],
  tags: ['CONTAINS', 'IS_NULL', 'IS_NOT_NULL'],
  json: ['IS_NULL', 'IS_NOT_NULL'],
};

/** Attribute paths from a table: its columns, and through MANY_TO_ONE relationships (up to three hops). */
function pathsOf(table: Table, depth = 0): { path: string; table: Table; column: string }[] {
  const own = Object.keys(TABLES[table].columns).map((column) => ({ path: column, table, column }));
  if (depth >= 3) return own;
  const via = Object.entries(RELS[table])
    .filter(([, r]) => r.kind === 'MANY_TO_ONE')
    .flatMap(([name, r]) => pathsOf(r.target, depth + 1).map((p) => ({ ...p, path: `${name}.${p.path}` })));
  return [...own, ...via];
}
const PATHS: Partial<Record<Table, ReturnType<typeof pathsOf>>> = {
  users: pathsOf('users'),
  purchases: pathsOf('purchases').filter((p) => p.path.split('.').length <= 3),
  page_views: pathsOf('page_views'),
};

const OFFSETS = [0, 120, -330, 840, -720]; // minutes east of UTC
function isoWithOffset(ms: number, offset: number): string {
  if (offset === 0) return new Date(ms).toISOString();
  const local = new Date(ms + offset * 60_000).toISOString().slice(0, 23);
  const sign = offset > 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function pool(table: Table, column: string): Value[] {
  return [...new Set(DATA[table].map((r) => r[column]!).filter((v) => v !== null))];
}

function scalarArb(table: Table, column: string): fc.Arbitrary<Scalar> {
  const kind = kindOf(table, column);
  const values = pool(table, column);
  const from = <T>(xs: T[], extra: fc.Arbitrary<T>) => (xs.length ? fc.oneof(fc.constantFrom(...xs), extra) : extra);
  switch (kind) {
    case 'int':
      return from(values as number[], fc.integer({ min: -5, max: 600 }));
    case 'cents':
      return from((values as number[]).map((c) => c / 100), fc.integer({ min: -6000, max: 60_000 }).map((c) => c / 100));
    case 'text':
      return from(values as string[], fc.constantFrom('nope', "O'Brien", '', 'ADA'));
    case 'bool':
      return fc.boolean();
    case 'date':
      return from([...(values as string[]), ...EDGE_DATES], fc.integer({ min: -2000, max: 30 }).map((d) => dateOf(NOW_MS + d * DAY_MS)));
    case 'ts':
    case 'naive':
      return fc
        .tuple(from([...(values as number[]), ...EDGE_MS], fc.integer({ min: NOW_MS - 1200 * DAY_MS, max: NOW_MS + 5 * DAY_MS })), fc.constantFrom(...OFFSETS))
        .map(([ms, offset]) => isoWithOffset(ms, offset));
    case 'uuid':
      return fc.tuple(from(values as string[], fc.uuid()), fc.boolean()).map(([u, upper]) => (upper ? u.toUpperCase() : u));
    case 'tags':
      return fc.constantFrom(...TAGS, 'nope', 'VIP');
    case 'json':
      throw new Error('no values for json');
  }
}

/** A piece of a data value, perhaps upper-cased, or a wildcard character on its own. */
function patternArb(table: Table, column: string, prefix: boolean): fc.Arbitrary<string> {
  const values = pool(table, column) as string[];
  const piece = fc.tuple(fc.constantFrom(...(values.length ? values : ['x'])), fc.nat(), fc.nat(), fc.boolean()).map(([s, i, j, upper]) => {
    const chars = Array.from(s);
    const a = prefix ? 0 : i % (chars.length + 1);
    const b = a + (j % (chars.length - a + 1));
    const p = chars.slice(a, b).join('');
    return upper ? p.replace(/[a-z]/g, (c) => c.toUpperCase()) : p;
  });
  return fc.oneof({ arbitrary: piece, weight: 4 }, { arbitrary: fc.constantFrom('%', '_', '\\', "'", 'é', 'É', 'ë', 'a', '', '_b'), weight: 1 });
}

function sortedPair(kind: Kind, a: Scalar, b: Scalar): [Scalar, Scalar] {
  return cmp(norm(kind, a), norm(kind, b)) <= 0 ? [a, b] : [b, a];
}

const windowArb: fc.Arbitrary<TimeWindow> = fc.oneof(
  { arbitrary: fc.constantFrom(...WINDOWS), weight: 3 },
  {
    arbitrary: fc
      .tuple(fc.constantFrom<TimeUnit>('MINUTE', 'HOUR', 'DAY', 'WEEK', 'MONTH', 'YEAR'), fc.integer({ min: 1, max: 500 }))
      .map(([unit, last]) => ({ unit, last: unit === 'YEAR' ? (last % 4) + 1 : last })),
    weight: 1,
  },
);

function attributeArb(table: Table): fc.Arbitrary<Condition> {
  return fc.constantFrom(...PATHS[table]!).chain(({ path, table: t2, column }) => {
    const kind = kindOf(t2, column);
    return fc.constantFrom(...OPS[kind]).chain((op): fc.Arbitrary<Condition> => {
      const base = { path, op };
      switch (op) {
        case 'IS_NULL':
        case 'IS_NOT_NULL':
        case 'IS_TRUE':
        case 'IS_FALSE':
          return fc.constant({ attribute: base });
        case 'IN':
        case 'NOT_IN':
          return fc.array(scalarArb(t2, column), { minLength: 1, maxLength: 4 }).map((values) => ({ attribute: { ...base, values } }));
        case 'BETWEEN':
          return fc.tuple(scalarArb(t2, column), scalarArb(t2, column)).map(([a, b]) => ({ attribute: { ...base, values: sortedPair(kind, a, b) } }));
        case 'WITHIN_LAST':
        case 'NOT_WITHIN_LAST':
          return windowArb.map((within) => ({ attribute: { ...base, within } }));
        case 'CONTAINS':
          return (kind === 'tags' ? scalarArb(t2, column) : patternArb(t2, column, false)).map((value) => ({ attribute: { ...base, value } }));
        case 'STARTS_WITH':
          return patternArb(t2, column, true).map((value) => ({ attribute: { ...base, value } }));
        default:
          return scalarArb(t2, column).map((value) => ({ attribute: { ...base, value } }));
      }
    });
  });
}

const COMPARISONS: ComparisonOp[] = ['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE'];

function aggregateArb(target: Table): fc.Arbitrary<EventCondition['aggregate']> {
  const numeric = Object.entries(TABLES[target].columns).filter(([n, c]) => (c.kind === 'int' || c.kind === 'cents') && !n.endsWith('id')).map(([n]) => n);
  const temporal = Object.entries(TABLES[target].columns).filter(([, c]) => ['date', 'ts', 'naive'].includes(c.kind)).map(([n]) => n);
  const numberValue = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 200_000 }).map((c) => c / 100), fc.integer({ min: 0, max: 2000 }).map((c) => c / 4));
  const sumAvg = fc.record({ fn: fc.constantFrom<AggregateFn>('SUM', 'AVG'), column: fc.constantFrom(...numeric), op: fc.constantFrom(...COMPARISONS), value: numberValue });
  const minMaxNumber = fc.record({ fn: fc.constantFrom<AggregateFn>('MIN', 'MAX'), column: fc.constantFrom(...numeric), op: fc.constantFrom(...COMPARISONS), value: numberValue });
  const minMaxTime = fc
    .tuple(fc.constantFrom<AggregateFn>('MIN', 'MAX'), fc.constantFrom(...temporal), fc.constantFrom(...COMPARISONS))
    .chain(([fn, column, op]) => scalarArb(target, column).map((value) => ({ fn, column, op, value: value as string })));
  return fc.oneof(sumAvg, minMaxNumber, minMaxTime);
}

function eventArb(table: Table, depth: number): fc.Arbitrary<Condition> {
  const rels = Object.entries(RELS[table]).filter(([, r]) => r.kind === 'ONE_TO_MANY');
  return fc.constantFrom(...rels).chain(([name, rel]) => {
    const target = rel.target;
    const timeColumns = Object.entries(TABLES[target].columns).filter(([, c]) => ['date', 'ts', 'naive'].includes(c.kind)).map(([n]) => n);
    return fc
      .record({
        where: fc.option(conditionArb(target, Math.min(depth - 1, 2)), { freq: 3 }),
        within: fc.option(windowArb, { freq: 2 }),
        // Several time columns: one must be named; one: naming it is optional.
        timeColumn: timeColumns.length > 1 ? fc.constantFrom(...timeColumns) : fc.option(fc.constantFrom(...timeColumns)),
        count: fc.option(fc.record({ op: fc.constantFrom(...COMPARISONS), value: fc.integer({ min: 0, max: 4 }) }), { freq: 2 }),
        aggregate: fc.option(aggregateArb(target), { freq: 2 }),
      })
      .map((e) => ({ event: { relationship: name, ...e } }));
  });
}

function segmentArb(table: Table): fc.Arbitrary<Condition> | undefined {
  const ids = Object.values(SEGMENTS).filter((s) => s.table === table).map((s) => s.id);
  if (!ids.length) return undefined;
  return fc.record({ id: fc.constantFrom(...ids), member: fc.boolean() }).map((segment) => ({ segment }));
}

const memo = new Map<string, fc.Arbitrary<Condition>>();
function conditionArb(table: Table, depth: number): fc.Arbitrary<Condition> {
  const key = `${table}:${depth}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const leaves: fc.WeightedArbitrary<Condition>[] = [{ arbitrary: attributeArb(table), weight: 6 }];
  const seg = segmentArb(table);
  if (seg) leaves.push({ arbitrary: seg, weight: 1 });
  if (depth > 0 && Object.values(RELS[table]).some((r) => r.kind === 'ONE_TO_MANY')) leaves.push({ arbitrary: eventArb(table, depth), weight: 2 });
  const leaf = fc.oneof(...leaves);
  let arb: fc.Arbitrary<Condition> = leaf;
  if (depth > 0) {
    const sub = conditionArb(table, depth - 1);
    arb = fc.oneof(
      { arbitrary: leaf, weight: 3 },
      { arbitrary: fc.array(sub, { minLength: 0, maxLength: 3 }).map((and) => ({ and })), weight: 2 },
      { arbitrary: fc.array(sub, { minLength: 0, maxLength: 3 }).map((or) => ({ or })), weight: 2 },
      { arbitrary: sub.map((not) => ({ not })), weight: 1 },
    );
  }
  memo.set(key, arb);
  return arb;
}

/** MANY_TO_ONE hops in a path (as the evaluator resolves it). */
function hopsOf(table: Table, path: string): number {
  if (path in TABLES[table].columns) return 0;
  const dot = path.indexOf('.');
  const rel = RELS[table][path.slice(0, dot)];
  return rel ? 1 + hopsOf(rel.target, path.slice(dot + 1)) : 0;
}

function depthOf(c: Condition): number {
  if ('and' in c) return 1 + Math.max(0, ...c.and.map(depthOf));
  if ('or' in c) return 1 + Math.max(0, ...c.or.map(depthOf));
  if ('not' in c) return 1 + depthOf(c.not);
  if ('event' in c && c.event.where) return 1 + depthOf(c.event.where);
  return 1;
}

/** Trees at least three levels deep, rooted in and / or / not. */
const treeArb = fc
  .oneof(
    fc.array(conditionArb('users', 3), { minLength: 1, maxLength: 4 }).map((and): Condition => ({ and })),
    fc.array(conditionArb('users', 3), { minLength: 1, maxLength: 4 }).map((or): Condition => ({ or })),
    conditionArb('users', 3).map((not): Condition => ({ not })),
  )
  .filter((c) => depthOf(c) >= 3);

// ─── The warehouse ───────────────────────────────────────────────────────────

let wh: pg.Pool;
let ctx: CompileContext;
const ENTITY_IDS = Object.fromEntries((Object.keys(TABLES) as Table[]).map((k) => [k, randomUUID()])) as Record<Table, string>;
const PAGE_VIEWS_SQL = `SELECT id, user_id, url, viewed_at, duration FROM ${qualified(SCHEMA, 'page_views_raw')} -- the SQL model's own comment`;

function sqlValue(kind: Kind, v: Value): unknown {
  if (v === null) return null;
  switch (kind) {
    case 'cents':
      return ((v as number) / 100).toFixed(2);
    case 'ts':
      return new Date(v as number).toISOString();
    case 'naive':
      return new Date(v as number).toISOString().slice(0, 23).replace('T', ' ');
    case 'json':
      return JSON.stringify(v);
    default:
      return v;
  }
}
const CAST: Record<Kind, string> = {
  int: 'integer', cents: 'numeric', text: 'text', bool: 'boolean', date: 'date', ts: 'timestamptz', naive: 'timestamp', uuid: 'uuid', tags: 'text[]', json: 'jsonb',
};

beforeAll(async () => {
  // A session time zone far from UTC (with DST): results must not depend on it.
  wh = new pg.Pool({ connectionString: t.url, max: 4, options: '-c TimeZone=America/New_York' });
  const ddl = [`CREATE SCHEMA ${quoteIdent(SCHEMA)}`, `CREATE SCHEMA ${quoteIdent(PLANNER)}`, createSegmentTablesSql(PLANNER)];
  for (const def of Object.values(TABLES)) {
    const cols = Object.entries(def.columns).map(([n, c]) => `${quoteIdent(n)} ${c.sql}`);
    ddl.push(`CREATE TABLE ${qualified(SCHEMA, def.table)} (${cols.join(', ')})`);
  }
  await wh.query(ddl.join(';\n'));
  for (const table of Object.keys(TABLES) as Table[]) {
    const def = TABLES[table];
    const names = Object.keys(def.columns);
    const values: unknown[] = [];
    const rows = DATA[table].map((row) => `(${names.map((n) => {
      values.push(sqlValue(def.columns[n]!.kind, row[n]!));
      return `$${values.length}::${CAST[def.columns[n]!.kind]}`;
    }).join(', ')})`);
    await wh.query(`INSERT INTO ${qualified(SCHEMA, def.table)} (${names.map(quoteIdent).join(', ')}) VALUES ${rows.join(', ')}`, values);
  }
  for (const [id, keys] of MEMBERS) {
    await setMembers(wh, PLANNER, id, [...keys]);
  }

  // Metadata as Roster would introspect it.
  const entities = new Map<string, EntityMeta>();
  for (const table of Object.keys(TABLES) as Table[]) {
    const def = TABLES[table];
    const columns = table === 'page_views' ? await describeQuery(wh, PAGE_VIEWS_SQL) : (await describeTable(wh, SCHEMA, def.table))!.columns;
    const relationships: RelationshipMeta[] = Object.entries(RELS[table]).map(([name, r]) => ({
      name, kind: r.kind, fromColumn: r.from, toColumn: r.to, targetId: ENTITY_IDS[r.target],
    }));
    entities.set(ENTITY_IDS[table], {
      id: ENTITY_IDS[table],
      name: def.name,
      from: table === 'page_views' ? { sql: PAGE_VIEWS_SQL } : { table: { schema: SCHEMA, name: def.table } },
      primaryKey: def.pk,
      columns,
      relationships,
    });
  }
  const segments = new Map(
    Object.values(SEGMENTS).map((s) => [s.id, { id: s.id, name: s.name, entityId: ENTITY_IDS[s.table], condition: { and: [] } }]),
  );
  ctx = { entities, segments, plannerSchema: PLANNER };

  const { rows } = await wh.query<{ unicode: boolean; tz: string }>(`SELECT lower('ÉË') = 'éë' AS unicode, current_setting('TimeZone') AS tz`);
  if (rows[0]!.unicode) fold = (s) => s.toLowerCase();
  expect(rows[0]!.tz).toBe('America/New_York');
});

afterAll(async () => {
  await wh?.end();
});

async function viaMembers(c: Condition): Promise<string[]> {
  const q = compileMembers(ctx, ENTITY_IDS.users, c, { now: NOW });
  const { rows } = await wh.query<{ key: string }>(q.text, q.values);
  return rows.map((r) => r.key).sort();
}

/** The predicate embedded after a parameter of the caller's own; it must never be NULL. */
async function viaPredicate(c: Condition): Promise<string[]> {
  const q = compilePredicate(ctx, ENTITY_IDS.users, c, { now: NOW, params: ['caller'] });
  const { rows } = await wh.query<{ key: string; hit: boolean | null; tag: string }>(
    `SELECT e.id::text AS key, ${q.text} AS hit, $1::text AS tag FROM ${qualified(SCHEMA, 'users')} AS e`,
    q.values,
  );
  for (const r of rows) {
    expect(r.hit, `predicate is NULL for user ${r.key}`).not.toBeNull();
    expect(r.tag).toBe('caller');
  }
  return rows.filter((r) => r.hit).map((r) => r.key).sort();
}

describe('compiled conditions agree with an in-memory evaluator', () => {
  it('boundary cases', async () => {
    const cases: Condition[] = [
      { attribute: { path: 'signed up at', op: 'WITHIN_LAST', within: { last: 1, unit: 'MONTH' } } },
      { attribute: { path: 'last_seen', op: 'WITHIN_LAST', within: { last: 13, unit: 'MONTH' } } },
      { attribute: { path: 'birthday', op: 'WITHIN_LAST', within: { last: 1, unit: 'DAY' } } },
      { attribute: { path: 'birthday', op: 'NOT_WITHIN_LAST', within: { last: 1, unit: 'MONTH' } } },
      { attribute: { path: 'last_seen', op: 'BEFORE', value: isoWithOffset(minus(NOW_MS, { last: 1, unit: 'MONTH' }), -330) } },
      { attribute: { path: 'name', op: 'CONTAINS', value: '%' } },
      { attribute: { path: 'name', op: 'CONTAINS', value: '_' } },
      { attribute: { path: 'name', op: 'STARTS_WITH', value: 'ada' } },
      { attribute: { path: 'name', op: 'CONTAINS', value: '\\' } },
      { attribute: { path: 'tags', op: 'CONTAINS', value: 'churn' } },
      { not: { attribute: { path: 'tags', op: 'CONTAINS', value: 'vip' } } },
      { attribute: { path: 'company.region.name', op: 'NEQ', value: 'North' } },
      { attribute: { path: 'company.region.code', op: 'IS_NULL' } },
      { attribute: { path: 'utm.source', op: 'EQ', value: 'google' } },
      { not: { attribute: { path: 'score', op: 'BETWEEN', values: [0, 50.5] } } },
      { event: { relationship: 'purchases', aggregate: { fn: 'SUM', column: 'amount', op: 'EQ', value: 0 } } },
      { event: { relationship: 'purchases', aggregate: { fn: 'AVG', column: 'quantity', op: 'NEQ', value: 3 } } },
      { not: { event: { relationship: 'purchases', aggregate: { fn: 'MAX', column: 'amount', op: 'LT', value: 100 } } } },
      { event: { relationship: 'purchases', count: { op: 'EQ', value: 0 } } },
      { event: { relationship: 'views', within: { last: 1, unit: 'MONTH' }, count: { op: 'GTE', value: 2 } } },
      { event: { relationship: 'purchases', timeColumn: 'paid_on', within: { last: 1, unit: 'MONTH' }, aggregate: { fn: 'MIN', column: 'paid_on', op: 'GTE', value: dateOf(minus(NOW_MS, { last: 1, unit: 'MONTH' })) } } },
      { event: { relationship: 'purchases', where: { and: [{ attribute: { path: 'buyer.company.industry', op: 'STARTS_WITH', value: 'soft' } }, { segment: { id: SEGMENTS.purchasesP.id, member: false } }] } } },
      { and: [{ segment: { id: SEGMENTS.usersA.id, member: true } }, { segment: { id: SEGMENTS.usersB.id, member: false } }] },
      { and: [] },
      { or: [] },
      { not: { or: [] } },
    ];
    for (const c of cases) {
      const want = expectedMembers(c);
      expect(await viaMembers(c), JSON.stringify(c)).toEqual(want);
      expect(await viaPredicate(c), JSON.stringify(c)).toEqual(want);
    }
  });

  it('on random condition trees', { timeout: 120_000 }, async () => {
    const seenOps = new Set<AttributeOp>();
    const seen = new Set<string>();
    let nonTrivial = 0;
    let runs = 0;
    const walk = (c: Condition): void => {
      if ('and' in c) c.and.forEach(walk);
      else if ('or' in c) c.or.forEach(walk);
      else if ('not' in c) walk(c.not);
      else if ('attribute' in c) {
        seenOps.add(c.attribute.op);
        const hops = hopsOf('users', c.attribute.path);
        if (hops > 0) seen.add(`path${hops}`);
      } else if ('event' in c) {
        seen.add(`event:${c.event.relationship}`);
        for (const k of ['where', 'within', 'count', 'aggregate'] as const) if (c.event[k]) seen.add(`event.${k}`);
        if (c.event.aggregate) seen.add(`aggregate:${c.event.aggregate.fn}`);
        if (c.event.where) walk(c.event.where);
      } else seen.add(`segment:${c.segment.member}`);
    };
    await fc.assert(
      fc.asyncProperty(treeArb, async (c) => {
        const { problems } = validateCondition(ctx, ENTITY_IDS.users, c);
        expect(problems).toEqual([]);
        const want = expectedMembers(c);
        expect(await viaMembers(c)).toEqual(want);
        expect(await viaPredicate(c)).toEqual(want);
        runs++;
        walk(c);
        if (want.length > 0 && want.length < DATA.users.length) nonTrivial++;
      }),
      { numRuns: 400 },
    );
    expect(runs).toBeGreaterThanOrEqual(400);
    // The generator reached everything it should, and the trees were not all trivial.
    expect([...ATTRIBUTE_OPS].filter((op) => !seenOps.has(op))).toEqual([]);
    for (const k of ['path1', 'path2', 'event:purchases', 'event:views', 'event.where', 'event.within', 'event.count', 'event.aggregate',
      'aggregate:SUM', 'aggregate:AVG', 'aggregate:MIN', 'aggregate:MAX', 'segment:true', 'segment:false']) {
      expect(seen, k).toContain(k);
    }
    expect(nonTrivial).toBeGreaterThan(runs / 3);
  });
});
