// Hostile input through the real API, in-process: generated condition trees,
// syncs, schedules, names, SQL and ids. Whatever arrives, the answer is a
// typed error or a request error (HTTP 200 or 400, never 500), and no message
// carries a PostgreSQL error text, a stack trace, Prisma's name, or yoga's
// "Unexpected error." (the mask of an unhandled exception: always a bug). A
// canary table in the warehouse survives everything.
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { getNamedType, isInputObjectType } from 'graphql';
import { schema } from '../../src/graphql/schema.js';
import { ok, useTestApp, type GqlResponse } from '../support/app.js';
import { createShopWarehouse } from '../support/warehouse.js';

const t = await useTestApp({ jobs: true });
await createShopWarehouse(t.url);
const CANARY = `CREATE SCHEMA fuzz_canary; CREATE TABLE fuzz_canary.canary (id int PRIMARY KEY, note text NOT NULL);
  INSERT INTO fuzz_canary.canary VALUES (1, 'alive'), (2, 'still alive');`;
await t.db.pool.query(CANARY);
const ws = await t.workspace('fuzz');

// ─── Calling the API, and what every answer must satisfy ─────────────────────

/** PostgreSQL's own wording, which must never reach a client unasked. */
const POSTGRES_TEXTS: RegExp[] = [
  /syntax error at or near/i,
  /syntax error at end of input/i,
  /relation "[^"]*" does not exist/i,
  /column "[^"]*" (does not exist|of relation|is of type|must appear)/i,
  /violates [a-z -]*constraint/i,
  /duplicate key value/i,
  /invalid input syntax for/i,
  /invalid input value for enum/i,
  /out of range for type/i,
  /operator does not exist/i,
  /function [^ ]+\(.*\) does not exist/i,
  /current transaction is aborted/i,
  /invalid byte sequence for encoding/i,
  /unterminated (quoted|dollar)/i,
];
const ALWAYS_FORBIDDEN: [string, RegExp][] = [
  ['unmasked unexpected error', /Unexpected error\./],
  ['stack trace', /\n\s+at \S|\bat [\w$.<>]+ \((?:file:|\/|node:)[^)]*:\d+:\d+\)|node_modules\//],
  ['Prisma internals', /prisma/i],
];

/**
 * A user's own SQL (an entity's SQL model) is reported with PostgreSQL's
 * message on purpose, always inside this framing; nowhere else.
 */
const USER_SQL_FEEDBACK = /expected a SELECT statement PostgreSQL can run, but it reported: |PostgreSQL reported: /;

function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, out);
  return out;
}

interface Finding {
  where: string;
  problem: string;
  message: string;
  input: unknown;
}
const findings: Finding[] = [];

/** The problems with one answer; empty when it is acceptable. */
function problemsOf(res: GqlResponse, opts: { userSql?: boolean } = {}): { problem: string; message: string }[] {
  const out: { problem: string; message: string }[] = [];
  if (res.status !== 200 && res.status !== 400) out.push({ problem: `HTTP ${res.status}`, message: JSON.stringify(res.errors ?? res.data).slice(0, 500) });
  for (const text of strings({ errors: res.errors, data: res.data })) {
    for (const [problem, pattern] of ALWAYS_FORBIDDEN) if (pattern.test(text)) out.push({ problem, message: text });
    if (opts.userSql && USER_SQL_FEEDBACK.test(text)) continue;
    for (const pattern of POSTGRES_TEXTS) {
      if (pattern.test(text)) {
        out.push({ problem: `PostgreSQL text (${pattern.source})`, message: text });
        break;
      }
    }
  }
  return out;
}

/**
 * ROSTER_FUZZ_SURVEY=1: record every finding and let the properties run on
 * (the last test fails with the list), to see them all at once instead of
 * the first one, shrunk.
 */
const SURVEY = process.env.ROSTER_FUZZ_SURVEY === '1';
/** ROSTER_FUZZ_SCALE=10: ten times the runs of every property (a longer, deeper search). */
const SCALE = Math.max(0.1, Number(process.env.ROSTER_FUZZ_SCALE ?? 1) || 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));

// The per-token rate limit (bursts of 200) is not what is under test: a new
// token every 150 calls keeps it out of the way.
let token = ws.token;
let calls = 0;
/** Time spent per kind of call, printed in survey mode (to tune the runs). */
const timings = new Map<string, { calls: number; ms: number }>();
async function call(where: string, query: string, variables: Record<string, unknown> = {}, opts: { userSql?: boolean } = {}): Promise<GqlResponse> {
  calls += 1;
  if (calls % 150 === 0) token = await t.tokenFor(ws.workspaceId, ['ADMIN']);
  const started = performance.now();
  const res = await t.gql(token, query, variables);
  const spent = timings.get(where) ?? { calls: 0, ms: 0 };
  timings.set(where, { calls: spent.calls + 1, ms: spent.ms + performance.now() - started });
  const problems = problemsOf(res, opts);
  for (const p of problems) findings.push({ where, ...p, input: { query: query.length > 600 ? `${query.slice(0, 600)}…` : query, variables: clip(variables) } });
  if (problems.length && !SURVEY) {
    throw new Error(`${where}: ${problems.map((p) => `${p.problem}: ${p.message.slice(0, 300)}`).join('; ')}`);
  }
  return res;
}

/** Inputs as reported: long strings and lists shortened. */
function clip(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > 80 ? `${value.slice(0, 80)}…(${value.length} chars)` : value;
  if (depth > 8) return '…';
  if (Array.isArray(value)) return value.length > 6 ? [...value.slice(0, 6).map((v) => clip(v, depth + 1)), `…(${value.length} items)`] : value.map((v) => clip(v, depth + 1));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clip(v, depth + 1)]));
  return value;
}

const RESULT = '{ __typename ... on Error { message } }';

// ─── Fixtures: one of everything, to aim ids and references at ───────────────

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const ids: Record<string, string> = {};

// Created before the generators, which aim at them.
{
  const gql = (q: string, v?: Record<string, unknown>) => t.gql(ws.token, q, v);
  ids.Source = ok(await gql(`mutation($url: String!) { createSource(input: { name: "Shop", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url })).createSource.source.id;
  const entity = async (name: string, table: string, kind: string, identifiers = '[]') =>
    ok(await gql(`mutation($s: ID!) { createEntity(input: { sourceId: $s, name: "${name}", kind: ${kind}, from: { table: { schema: "shop", name: "${table}" } }, primaryKey: "id", identifiers: ${identifiers} }) { __typename ... on CreateEntityPayload { entity { id } } ... on Error { message } } }`, { s: ids.Source })).createEntity.entity.id as string;
  ids.Entity = await entity('Customers', 'customers', 'PERSON', '[{ column: "email", type: EMAIL }, { column: "phone", type: PHONE }]');
  ids.Entity2 = await entity('Companies', 'companies', 'COMPANY');
  ids.Entity3 = await entity('Orders', 'orders', 'OTHER');
  const rel = async (name: string, kind: string, from: string, to: string, fromColumn: string, toColumn: string) =>
    ok(await gql(`mutation($f: ID!, $t: ID!) { createRelationship(input: { name: "${name}", kind: ${kind}, fromEntityId: $f, toEntityId: $t, fromColumn: "${fromColumn}", toColumn: "${toColumn}" }) { __typename ... on CreateRelationshipPayload { relationship { id } } ... on Error { message } } }`, { f: from, t: to })).createRelationship.relationship.id as string;
  ids.Relationship = await rel('company', 'MANY_TO_ONE', ids.Entity, ids.Entity2, 'company_id', 'id');
  await rel('orders', 'ONE_TO_MANY', ids.Entity, ids.Entity3, 'id', 'customer_id');
  ids.Segment = ok(await gql(`mutation($e: ID!) { createSegment(input: { entityId: $e, name: "Pros", condition: { attribute: { path: "plan", op: EQ, value: "pro" } } }) { __typename ... on CreateSegmentPayload { segment { id } } ... on Error { message } } }`, { e: ids.Entity })).createSegment.segment.id;
  ids.Destination = ok(await gql(`mutation($c: JSON!) { createDestination(input: { name: "Out", type: "postgres_table", config: $c }) { __typename ... on CreateDestinationPayload { destination { id } } ... on Error { message } } }`, { c: { url: t.url, schema: 'fuzz_out', table: 'members' } })).createDestination.destination.id;
  ids.AudienceSync = ok(await gql(`mutation($s: ID!, $d: ID!) { createAudienceSync(input: { segmentId: $s, destinationId: $d, audience: { target: CREATE_BY_NAME } }) { __typename ... on CreateAudienceSyncPayload { audienceSync { id } } ... on Error { message } } }`, { s: ids.Segment, d: ids.Destination })).createAudienceSync.audienceSync.id;
  const sync = await t.services.db.prisma.audienceSync.findFirstOrThrow({ where: { workspaceId: ws.workspaceId } });
  const run = await t.services.db.prisma.syncRun.create({ data: { workspaceId: ws.workspaceId, syncId: sync.id, trigger: 'TEST', status: 'SUCCEEDED' } });
  ids.SyncRun = b64(`SyncRun:${run.id}`);
  const viewer = ok(await gql('{ viewer { workspace { id } token { id } } }'));
  ids.Workspace = viewer.viewer.workspace.id;
  ids.ApiToken = viewer.viewer.token.id;
  for (const [k, v] of Object.entries(ids)) if (typeof v !== 'string' || !v) throw new Error(`fixture ${k} was not created`);
}

afterAll(() => {
  if (SURVEY) {
    const rows = [...timings.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15);
    console.warn(`fuzz: ${calls} calls\n${rows.map(([w, x]) => `  ${w}: ${x.calls} calls, ${Math.round(x.ms)} ms`).join('\n')}`);
  }
  if (findings.length) {
    // One line per distinct problem, with the smallest input that produced it.
    const seen = new Map<string, Finding>();
    for (const f of findings) {
      const key = `${f.where} | ${f.problem} | ${f.message.slice(0, 120)}`;
      const size = JSON.stringify(f.input).length;
      const prev = seen.get(key);
      if (!prev || JSON.stringify(prev.input).length > size) seen.set(key, f);
    }
    console.warn(`fuzz findings:\n${[...seen.values()].map((f) => `- ${f.where}: ${f.problem}: ${f.message.slice(0, 300)}\n  input: ${JSON.stringify(f.input)}`).join('\n')}`);
  }
});

// ─── Generators ──────────────────────────────────────────────────────────────

const HOSTILE = [
  "'; DROP TABLE fuzz_canary.canary; --",
  "' OR '1'='1",
  "'' OR 1=1 --",
  '"; DROP TABLE fuzz_canary.canary; --',
  'x"; DELETE FROM fuzz_canary.canary; --',
  '$1',
  '$2::text',
  '$$; DROP TABLE fuzz_canary.canary; $$',
  "\\'; DROP TABLE fuzz_canary.canary; --",
  "E'\\x41'",
  '/* comment */ x',
  '-- comment',
  ');',
  'x\u0000y',
  '\u0000',
  '',
  ' ',
  '\t\n\r',
  'a'.repeat(300),
  'b'.repeat(20_000),
  '😀'.repeat(64),
  '\uD800',
  '\u202Eevil',
  '\uFEFF',
  'e\u0301',
  'İ',
  '%s%n%x',
  '{{7*7}}',
  '${7*7}',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  'NULL',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'pg_catalog.pg_authid',
  'information_schema.tables',
  'public."Workspace"',
  'fuzz_canary.canary',
  'shop.customers',
  'SELECT 1',
  '*',
  '.',
  '..',
  'a.b.c.d.e.f',
  'company.',
  '.email',
  'company..name',
  'x'.repeat(63),
  'x'.repeat(64),
  '1e309',
  'NaN',
  'Infinity',
  '-0',
  '0x10',
  'infinity',
  'now',
  'epoch',
  '2025-13-45',
  '1999-12-31T23:59:60Z',
  '294277-01-01',
  '-infinity',
  'true',
  '{}',
  '[]',
  '{"a":1}',
];

const COLUMNS = ['id', 'email', 'phone', 'first_name', 'last_name', 'birthday', 'age', 'plan', 'is_active', 'signed_up_at', 'external_uuid', 'meta', 'tags', 'company_id'];
const PATHS = [...COLUMNS, 'company.name', 'company.industry', 'company.employees', 'company.id', 'orders.amount', 'company.company.name', 'segmentMembership'];

const text = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom(...PATHS) },
);
const hostileInt = fc.oneof(
  fc.integer({ min: -5, max: 100 }),
  fc.integer(),
  fc.constantFrom(0, -1, 2147483647, -2147483648, 2147483648, 1e12, 1.5, -0),
);
const value = fc.oneof(
  { weight: 6, arbitrary: text },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 63, 5e-324, 0.1) },
  // Wrong types for the ConditionValue scalar.
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, [], [1, 2], {}, { a: 1 }, [[]], JSON.parse('{"__proto__": 1}')) },
);
const ATTRIBUTE_OPS = ['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE', 'IN', 'NOT_IN', 'CONTAINS', 'STARTS_WITH', 'IS_NULL', 'IS_NOT_NULL', 'IS_TRUE', 'IS_FALSE', 'BEFORE', 'AFTER', 'BETWEEN', 'WITHIN_LAST', 'NOT_WITHIN_LAST'];
const enumOr = (values: string[]) => fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...values) }, { weight: 1, arbitrary: text });
const timeWindow = fc.record({ last: hostileInt, unit: enumOr(['MINUTE', 'HOUR', 'DAY', 'WEEK', 'MONTH', 'YEAR']) });
const attribute = fc.record(
  {
    path: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...PATHS) }, { weight: 1, arbitrary: text }),
    op: enumOr(ATTRIBUTE_OPS),
    value,
    values: fc.oneof(fc.array(value, { maxLength: 5 }), fc.array(fc.integer(), { minLength: 1001, maxLength: 1200 })),
    within: timeWindow,
  },
  { requiredKeys: ['path', 'op'] },
);

/** Ids as an attacker would send them: garbage, other types' ids, forged ids of the right type. */
const TYPES = ['Source', 'Entity', 'Relationship', 'Segment', 'Destination', 'AudienceSync', 'SyncRun', 'ApiToken', 'Workspace', 'SegmentEvaluation', 'Nope', ''];
function hostileId(ownType?: string) {
  return fc.oneof(
    text,
    fc.base64String({ maxLength: 60 }),
    fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b).toString('base64')),
    fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b).toString('base64url')),
    // Another object's id, of another type (never the fixture of the type asked for: that one is real).
    fc.constantFrom(...Object.keys(ids)).filter((k) => k.replace(/\d$/, '') !== ownType).map((k) => ids[k]!),
    // The right type (or another), with something that is not an existing uuid.
    fc.tuple(fc.constantFrom(...TYPES, ownType ?? 'Source'), fc.oneof(text, fc.uuid(), fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '1', '-1', ':', 'a:b'))).map(([type, id]) => b64(`${type}:${id}`)),
    fc.constantFrom('', ' ', 'null', '0', '-1', '9'.repeat(400), b64('Source'), b64(':'), b64('Source:'), b64(':Source'), b64('Source:a:b'), '=', '====', 'U291cmNlOj'),
  );
}

const { condition } = fc.letrec<{ condition: unknown; node: unknown }>((tie) => ({
  condition: fc.oneof(
    { weight: 24, arbitrary: tie('node') },
    // Wrong shapes: anything JSON, several @oneOf keys, unknown keys.
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.tuple(tie('node'), tie('node')).map(([a, b]) => ({ ...(a as object), ...(b as object) })) },
    { weight: 1, arbitrary: fc.tuple(tie('node'), text, fc.jsonValue({ maxDepth: 1 })).map(([n, k, v]) => ({ ...(n as object), [k]: v })) },
  ),
  node: fc.oneof(
    { depthSize: 'small', maxDepth: 4, withCrossShrink: true },
    fc.record({ attribute }),
    fc.record({ attribute }),
    fc.record({
      event: fc.record(
        {
          relationship: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('orders', 'company') }, { weight: 1, arbitrary: text }),
          where: tie('condition'),
          within: timeWindow,
          count: fc.record({ op: enumOr(['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE']), value: hostileInt }),
          aggregate: fc.record({
            column: fc.oneof(fc.constantFrom('amount', 'product', 'ordered_at', 'id', 'customer_id'), text),
            fn: enumOr(['SUM', 'AVG', 'MIN', 'MAX']),
            op: enumOr(['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE']),
            value,
          }),
          timeColumn: fc.oneof(fc.constantFrom('ordered_at', 'amount', 'product'), text),
        },
        { requiredKeys: ['relationship'] },
      ),
    }),
    fc.record({ segment: fc.record({ id: fc.oneof(fc.constant(ids.Segment!), hostileId('Segment')), member: fc.boolean() }, { requiredKeys: ['id'] }) }),
    fc.record({ and: fc.array(tie('condition'), { maxLength: 4 }) }),
    fc.record({ or: fc.array(tie('condition'), { maxLength: 4 }) }),
    fc.record({ not: tie('condition') }),
  ),
}));

const ENUM_KEYS = new Set(['op', 'fn', 'unit', 'kind', 'target', 'mode', 'removalBehavior', 'status', 'type']);
/** A JSON value as a GraphQL literal (enum-valued keys bare when they can be), to go through the document path too. */
function literal(v: unknown, key?: string): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return key && ENUM_KEYS.has(key) && /^[_A-Za-z][_0-9A-Za-z]*$/.test(v) && key !== 'type' ? v : JSON.stringify(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => literal(x)).join(', ')}]`;
  return `{ ${Object.entries(v as object).map(([k, x]) => `${/^[_A-Za-z][_0-9A-Za-z]*$/.test(k) ? k : '_bad_key'}: ${literal(x, k)}`).join(', ')} }`;
}

const cron = fc.oneof(
  fc.constantFrom(
    '* * * * *', '0 9 * * 1', '*/15 * * * *', '*/0 * * * *', '0 0 31 2 *', '0 0 30 2 *', '@yearly', '@reboot', '@every 1s',
    '99 99 99 99 99', '-1 * * * *', '1-1000000 * * * *', '0-59/1000000 * * * *', '* * * * * * *', '* * * *', '0 0 L * *', '0 0 * * 5L', '0 0 15W * *', '0 0 * * 1#5', '0 0 * * 1#9',
    '0 0 ? * *', '60 * * * *', '* 24 * * *', '* * 0 * *', '* * * 13 *', '* * * * 8', 'MON * * * *', '* * * JAN-DEC SUN-SAT', '1,2,3,,4 * * * *', ',,,,', '/5 * * * *', '5/ * * * *', '*/-1 * * * *',
    '0 0 29 2 *', '59 23 31 12 7', '0 0 1 1 0 2100', '', ' ', '\u0000', '* * * * *\u0000', '* * * * * ; DROP TABLE fuzz_canary.canary', '٣ * * * *', '１ * * * *',
  ),
  text,
  fc.array(fc.oneof(fc.constantFrom('*', '?', 'L', 'W', '#', '/', '-', ','), fc.integer({ min: -100, max: 100_000 }).map(String), text), { minLength: 1, maxLength: 8 }).map((parts) => parts.join(' ')),
);
const timezone = fc.oneof(
  fc.constantFrom('UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kathmandu', 'Pacific/Chatham', 'Etc/GMT+12', 'Etc/GMT-14', 'GMT', 'Z', 'utc', 'europe/paris', 'Mars/Phobos', 'UTC+25', '+99:99', '-00:00', 'EST5EDT', 'Factory', 'localtime', 'posixrules', '../../../etc/passwd', '/etc/localtime', 'Europe/Paris\u0000', 'Europe/../Europe/Paris', 'America/Argentina/ComodRivadavia'),
  text,
);
const schedule = fc.record({ kind: enumOr(['MANUAL', 'EVERY_15_MINUTES', 'HOURLY', 'DAILY', 'WEEKLY', 'CRON']), cron, timezone }, { requiredKeys: ['kind'] });

const counter = { n: 0 };
const uniqueName = (base: string) => `${base} ${++counter.n}`;

const segmentResult = '{ __typename ... on Error { message } ... on CreateSegmentPayload { segment { id } } }';

// ─── Properties ──────────────────────────────────────────────────────────────

describe('hostile input through the API', () => {
  it('condition trees: segmentPreview and createSegment, as variables and as literals', async () => {
    await fc.assert(
      fc.asyncProperty(condition, fc.boolean(), fc.integer({ min: 0, max: 9 }), async (c, asLiteral, roll) => {
        await call('segmentPreview', `query($e: ID!, $c: ConditionInput!) { segmentPreview(entityId: $e, condition: $c, sampleSize: 3) ${RESULT} }`, { e: ids.Entity, c });
        await call('createSegment', `mutation($e: ID!, $n: String!, $c: ConditionInput!) { createSegment(input: { entityId: $e, name: $n, condition: $c }) ${segmentResult} }`, { e: ids.Entity, n: uniqueName('Fuzz'), c });
        if (asLiteral && roll < 3) {
          await call('segmentPreview (literal)', `query($e: ID!) { segmentPreview(entityId: $e, condition: ${literal(c)}, sampleSize: 3) ${RESULT} }`, { e: ids.Entity });
        }
      }),
      { numRuns: runs(220), endOnFailure: false },
    );
  }, 120_000);

  it('deep nesting, huge lists, huge strings', async () => {
    const leaf = { attribute: { path: 'plan', op: 'EQ', value: 'pro' } };
    const nest = (depth: number, wrap: (c: unknown) => unknown) => {
      let c: unknown = leaf;
      for (let i = 0; i < depth; i++) c = wrap(c);
      return c;
    };
    const cases: [string, unknown][] = [
      ['not × 40', nest(40, (c) => ({ not: c }))],
      ['not × 2,000', nest(2_000, (c) => ({ not: c }))],
      ['and × 1,500', nest(1_500, (c) => ({ and: [c] }))],
      ['event.where × 200', nest(200, (c) => ({ event: { relationship: 'orders', where: c } }))],
      ['and of 20,000 leaves', { and: Array.from({ length: 20_000 }, () => leaf) }],
      ['or of 5,000 segment refs', { or: Array.from({ length: 5_000 }, () => ({ segment: { id: ids.Segment } })) }],
      ['IN with 100,000 values', { attribute: { path: 'email', op: 'IN', values: Array.from({ length: 100_000 }, (_, i) => `u${i}@x.test`) } }],
      ['EQ with a 1 MB string', { attribute: { path: 'email', op: 'EQ', value: 'x'.repeat(1_000_000) } }],
      ['path of 100,000 dots', { attribute: { path: '.'.repeat(100_000), op: 'IS_NULL' } }],
      ['path of 2,000 relations', { attribute: { path: Array.from({ length: 2_000 }, () => 'company').join('.') + '.name', op: 'IS_NULL' } }],
    ];
    for (const [name, c] of cases) {
      await call(`segmentPreview (${name})`, `query($e: ID!, $c: ConditionInput!) { segmentPreview(entityId: $e, condition: $c) ${RESULT} }`, { e: ids.Entity, c });
      await call(`createSegment (${name})`, `mutation($e: ID!, $n: String!, $c: ConditionInput!) { createSegment(input: { entityId: $e, name: $n, condition: $c }) ${segmentResult} }`, { e: ids.Entity, n: uniqueName('Deep'), c });
    }
    // Deep literal nesting in the document itself.
    const deepLiteral = `${'{ not: '.repeat(300)}{ attribute: { path: "plan", op: EQ, value: "pro" } }${' }'.repeat(300)}`;
    await call('segmentPreview (literal nesting × 300)', `query($e: ID!) { segmentPreview(entityId: $e, condition: ${deepLiteral}) ${RESULT} }`, { e: ids.Entity });
  }, 120_000);

  it('createAudienceSync and updateAudienceSync: mappings, identifiers, audiences, schedules', async () => {
    const IDENTIFIERS = ['EMAIL', 'PHONE', 'MAID', 'EXTERNAL_ID', 'FIRST_NAME', 'LAST_NAME', 'ZIP', 'COUNTRY', 'CITY', 'STATE', 'GENDER', 'DATE_OF_BIRTH'];
    const input = fc.record(
      {
        segmentId: fc.oneof({ weight: 4, arbitrary: fc.constant(ids.Segment!) }, { weight: 1, arbitrary: hostileId('Segment') }),
        entityId: fc.oneof(fc.constant(ids.Entity!), hostileId('Entity')),
        destinationId: fc.oneof({ weight: 4, arbitrary: fc.constant(ids.Destination!) }, { weight: 1, arbitrary: hostileId('Destination') }),
        audience: fc.record(
          { target: enumOr(['EXISTING', 'CREATE_BY_NAME', 'NAME_FROM_COLUMN']), externalId: text, name: text, nameColumn: fc.oneof(fc.constantFrom(...PATHS), text), type: text },
          { requiredKeys: ['target'] },
        ),
        mappings: fc.array(fc.record({ from: fc.oneof(fc.constantFrom(...PATHS), text), to: text }), { maxLength: 6 }),
        identifiers: fc.array(enumOr(IDENTIFIERS), { maxLength: 6 }),
        mode: enumOr(['MIRROR', 'ADDITIVE', 'SUBTRACTIVE']),
        removalBehavior: enumOr(['DO_NOTHING', 'REMOVE']),
        schedule,
        // Created syncs stay drafts or paused: the point is the API, not a storm of runs.
        status: fc.oneof({ weight: 9, arbitrary: fc.constantFrom('DRAFT', 'PAUSED') }, { weight: 1, arbitrary: text }),
      },
      { requiredKeys: ['destinationId', 'audience'] },
    );
    const created: string[] = [];
    await fc.assert(
      fc.asyncProperty(input, async (i) => {
        const res = await call('createAudienceSync', `mutation($i: CreateAudienceSyncInput!) { createAudienceSync(input: $i) { __typename ... on Error { message } ... on CreateAudienceSyncPayload { audienceSync { id } } } }`, { i });
        const id = res.data?.createAudienceSync?.audienceSync?.id;
        if (id) created.push(id);
        const { segmentId: _s, entityId: _e, destinationId: _d, ...update } = i;
        await call('updateAudienceSync', `mutation($id: ID!, $i: UpdateAudienceSyncInput!) { updateAudienceSync(id: $id, input: $i) ${RESULT} }`, { id: created[created.length - 1] ?? ids.AudienceSync, i: update });
      }),
      { numRuns: runs(150), endOnFailure: false },
    );
    // Whatever was accepted can be previewed and tested without an unexpected error.
    for (const id of created.slice(0, 10)) {
      await call('previewAudienceSyncDiff', `mutation($id: ID!) { previewAudienceSyncDiff(id: $id, sampleSize: 3) ${RESULT} }`, { id });
    }
  }, 120_000);

  it('schedules: cron expressions and time zones on segments and syncs', async () => {
    await fc.assert(
      fc.asyncProperty(schedule, async (s) => {
        await call('createSegment (schedule)', `mutation($e: ID!, $n: String!, $s: ScheduleInput!) { createSegment(input: { entityId: $e, name: $n, condition: { and: [] }, schedule: $s }) ${segmentResult} }`, { e: ids.Entity, n: uniqueName('Sched'), s });
        await call('updateSegment (schedule)', `mutation($id: ID!, $s: ScheduleInput!) { updateSegment(id: $id, input: { schedule: $s }) ${RESULT} }`, { id: ids.Segment, s });
        await call('updateAudienceSync (schedule)', `mutation($id: ID!, $s: ScheduleInput!) { updateAudienceSync(id: $id, input: { schedule: $s }) ${RESULT} }`, { id: ids.AudienceSync, s });
      }),
      { numRuns: runs(150), endOnFailure: false },
    );
    // Leave the fixtures unscheduled.
    await call('reset', `mutation($a: ID!, $s: ID!) { a: updateAudienceSync(id: $a, input: { schedule: { kind: MANUAL } }) ${RESULT} s: updateSegment(id: $s, input: { schedule: { kind: MANUAL } }) ${RESULT} }`, { a: ids.AudienceSync, s: ids.Segment });
  }, 120_000);

  it('sources: names, planner schemas and connection URLs', async () => {
    const good = new URL(t.url);
    const url = fc.oneof(
      { weight: 1, arbitrary: fc.constant(t.url) },
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          'postgresql://127.0.0.1:1/db',
          `postgresql://${good.username}:wrong-password@${good.host}${good.pathname}`,
          `postgresql://${good.username}:${good.password}@${good.host}/no_such_db_${'x'.repeat(5)}`,
          `postgresql://${good.username}:${good.password}@${good.host}/"; DROP TABLE fuzz_canary.canary; --`,
          `postgresql://'; DROP TABLE x; --:${good.password}@${good.host}${good.pathname}`,
          `${t.url}?options=-c%20search_path%3Dfuzz_canary`,
          `${t.url}?sslmode=require`,
          `${t.url}?application_name=%00`,
          `${t.url}?host=/nonexistent`,
          'postgresql://',
          'postgresql:///',
          'postgresql://:@:/',
          'postgres://[::1:5432/db',
          'mysql://u:p@127.0.0.1/db',
          'file:///etc/passwd',
          'http://169.254.169.254/latest/meta-data/',
          'javascript:alert(1)',
        ),
      },
      { weight: 2, arbitrary: text },
    );
    await fc.assert(
      fc.asyncProperty(text, fc.option(text, { nil: undefined }), url, async (name, plannerSchema, u) => {
        const input = { name, url: u, ...(plannerSchema !== undefined ? { plannerSchema } : {}) };
        await call('createSource', `mutation($i: CreateSourceInput!) { createSource(input: $i) ${RESULT} }`, { i: input });
        await call('updateSource', `mutation($id: ID!, $i: UpdateSourceInput!) { updateSource(id: $id, input: $i) ${RESULT} }`, { id: ids.Source, i: { name } });
      }),
      { numRuns: runs(40), endOnFailure: false, examples: [['x\u0000y', undefined, t.url]] },
    );
    // The fixture keeps its name.
    await call('reset', `mutation($id: ID!) { updateSource(id: $id, input: { name: "Shop", url: ${JSON.stringify(t.url)} }) ${RESULT} }`, { id: ids.Source });
  }, 120_000);

  it('names and descriptions of segments, destinations and tokens; destination configurations', async () => {
    const config = fc.oneof(
      fc.record({ url: fc.oneof(fc.constant(t.url), text), table: text, schema: text }, { requiredKeys: [] }),
      fc.record({ url: text, signingSecret: text, batchSize: fc.oneof(hostileInt, text) }, { requiredKeys: [] }),
      fc.dictionary(text, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
      fc.jsonValue({ maxDepth: 3 }),
      fc.constant(JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}')),
    );
    await fc.assert(
      fc.asyncProperty(text, fc.option(text, { nil: undefined }), fc.oneof(fc.constantFrom('postgres_table', 'webhook', 'csv_file'), text), config, async (name, description, type, c) => {
        await call('createSegment (name)', `mutation($e: ID!, $n: String!, $d: String) { createSegment(input: { entityId: $e, name: $n, description: $d, condition: { and: [] } }) ${segmentResult} }`, { e: ids.Entity, n: name, d: description });
        await call('updateSegment (name)', `mutation($id: ID!, $n: String, $d: String) { updateSegment(id: $id, input: { name: $n, description: $d }) ${RESULT} }`, { id: ids.Segment, n: name, d: description });
        await call('createDestination', `mutation($n: String!, $t: String!, $c: JSON!) { createDestination(input: { name: $n, type: $t, config: $c }) ${RESULT} }`, { n: name, t: type, c });
        await call('createApiToken', `mutation($n: String!) { createApiToken(input: { name: $n, scopes: [READ] }) ${RESULT} }`, { n: name });
      }),
      { numRuns: runs(60), endOnFailure: false, examples: [['x\u0000y', 'd\u0000', 'postgres_table', { url: t.url, table: 'x\u0000' }]] },
    );
    await call('reset', `mutation($id: ID!) { updateSegment(id: $id, input: { name: "Pros", description: "" }) ${RESULT} }`, { id: ids.Segment });
  }, 120_000);

  it('entities and relationships: names, tables, SQL models, keys and identifiers', async () => {
    const SQL = [
      'SELECT 1 AS id',
      'SELECT * FROM shop.customers',
      'SELECT id, email FROM shop.customers; DROP TABLE fuzz_canary.canary',
      'DROP TABLE fuzz_canary.canary',
      'DELETE FROM fuzz_canary.canary RETURNING id',
      'WITH d AS (DELETE FROM fuzz_canary.canary RETURNING id) SELECT id FROM d',
      'UPDATE fuzz_canary.canary SET note = $$gone$$ RETURNING id',
      'INSERT INTO fuzz_canary.canary VALUES (3, $$x$$) RETURNING id',
      'SELECT id FROM fuzz_canary.canary FOR UPDATE',
      'SELECT pg_sleep(0.01)::text AS id',
      'SELECT 1 AS id) AS m; DROP TABLE fuzz_canary.canary; --',
      'SELECT 1 AS id) x, (SELECT 1',
      "SELECT 1 AS id WHERE '' = ''''",
      'SELECT $1 AS id',
      'SELECT 1 AS id -- ',
      'SELECT 1 AS id /*',
      'SELECT',
      '',
      ';',
      'COMMIT; DROP TABLE fuzz_canary.canary',
      'SELECT set_config($$default_transaction_read_only$$, $$off$$, false) AS id',
      'SELECT 1 AS a, 2 AS a',
      'SELECT 1 AS "" ',
      'SELECT * FROM pg_catalog.pg_authid',
      'SELECT * FROM "Workspace"',
      'SELECT * FROM "ApiToken"',
      'SELECT 1/0 AS id',
      'SELECT repeat($$x$$, 100000000) AS id',
      'SELECT generate_series(1, 10) AS id, generate_series(1, 3) AS b',
      'SELECT \u0000 AS id',
      'VALUES (1)',
      'TABLE shop.customers',
      'EXPLAIN SELECT 1',
      'SELECT 1 AS id UNION SELECT $$x$$',
      'COPY (SELECT 1) TO PROGRAM $$id$$',
      'CALL pg_terminate_backend(pg_backend_pid())',
      'SELECT pg_terminate_backend(pg_backend_pid()) AS id',
    ];
    const from = fc.oneof(
      fc.record({ table: fc.record({ schema: fc.oneof(fc.constantFrom('shop', 'fuzz_canary', 'pg_catalog', 'public', 'information_schema'), text), name: fc.oneof(fc.constantFrom('customers', 'companies', 'orders', 'active_customers', 'canary', 'pg_authid', 'Workspace'), text) }) }),
      fc.record({ sql: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...SQL) }, { weight: 1, arbitrary: text }) }),
      fc.constantFrom<unknown>({}, { sql: 'SELECT 1 AS id', table: { schema: 'shop', name: 'customers' } }, null),
    );
    const identifiers = fc.array(fc.record({ column: fc.oneof(fc.constantFrom(...COLUMNS), text), type: enumOr(['EMAIL', 'PHONE', 'MAID', 'EXTERNAL_ID', 'FIRST_NAME', 'ZIP']) }), { maxLength: 4 });
    const entityInput = fc.record({
      name: fc.oneof(text, fc.constant(null).map(() => uniqueName('Entity'))),
      kind: enumOr(['PERSON', 'COMPANY', 'OTHER']),
      from,
      primaryKey: fc.oneof(fc.constantFrom(...COLUMNS), text),
      identifiers,
    });
    await fc.assert(
      fc.asyncProperty(entityInput, fc.oneof({ weight: 5, arbitrary: fc.constant(ids.Source!) }, { weight: 1, arbitrary: hostileId('Source') }), async (input, sourceId) => {
        const res = await call('createEntity', `mutation($i: CreateEntityInput!) { createEntity(input: $i) { __typename ... on Error { message } ... on CreateEntityPayload { entity { id } } } }`, { i: { ...input, sourceId } }, { userSql: true });
        const created: string | undefined = res.data?.createEntity?.entity?.id;
        const { kind: _k, ...update } = input;
        await call('updateEntity', `mutation($id: ID!, $i: UpdateEntityInput!) { updateEntity(id: $id, input: $i) ${RESULT} }`, { id: created ?? ids.Entity3, i: update }, { userSql: true });
        if (created) await call('deleteEntity', `mutation($id: ID!) { deleteEntity(id: $id) ${RESULT} }`, { id: created });
      }),
      { numRuns: runs(120), endOnFailure: false, examples: [[{ name: uniqueName('Entity'), kind: 'OTHER', from: { table: { schema: 'shop', name: '\u0000' } }, primaryKey: 'id', identifiers: [] }, ids.Source!]] },
    );
    const relationshipInput = fc.record({
      name: fc.oneof(text, fc.constant(null).map(() => uniqueName('rel'))),
      kind: enumOr(['MANY_TO_ONE', 'ONE_TO_MANY']),
      fromEntityId: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('Entity', 'Entity2', 'Entity3').map((k) => ids[k]!) }, { weight: 1, arbitrary: hostileId('Entity') }),
      toEntityId: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('Entity', 'Entity2', 'Entity3').map((k) => ids[k]!) }, { weight: 1, arbitrary: hostileId('Entity') }),
      fromColumn: fc.oneof(fc.constantFrom(...COLUMNS, 'customer_id', 'amount'), text),
      toColumn: fc.oneof(fc.constantFrom(...COLUMNS, 'customer_id', 'amount'), text),
    });
    await fc.assert(
      fc.asyncProperty(relationshipInput, async (input) => {
        const res = await call('createRelationship', `mutation($i: CreateRelationshipInput!) { createRelationship(input: $i) { __typename ... on Error { message } ... on CreateRelationshipPayload { relationship { id } } } }`, { i: input });
        const created: string | undefined = res.data?.createRelationship?.relationship?.id;
        const { fromEntityId: _f, toEntityId: _t, ...update } = input;
        await call('updateRelationship', `mutation($id: ID!, $i: UpdateRelationshipInput!) { updateRelationship(id: $id, input: $i) ${RESULT} }`, { id: created ?? ids.Relationship, i: update });
        if (created) await call('deleteRelationship', `mutation($id: ID!) { deleteRelationship(id: $id) ${RESULT} }`, { id: created });
      }),
      { numRuns: runs(100), endOnFailure: false },
    );
  }, 120_000);

  /**
   * Each mutation that takes an id, with a call that is valid apart from the
   * id(s) under test; `slots` names the type each variable expects.
   */
  const idCalls: Record<string, { query: string; slots: Record<string, string>; fixed?: () => Record<string, unknown> }> = {
    cancelSyncRun: { query: `mutation($id: ID!) { cancelSyncRun(id: $id) ${RESULT} }`, slots: { id: 'SyncRun' } },
    checkSource: { query: `mutation($id: ID!) { checkSource(id: $id) ${RESULT} }`, slots: { id: 'Source' } },
    createAudienceSync: { query: `mutation($s: ID!, $d: ID!, $e: ID) { createAudienceSync(input: { segmentId: $s, entityId: $e, destinationId: $d, audience: { target: CREATE_BY_NAME } }) ${RESULT} }`, slots: { s: 'Segment', d: 'Destination', e: 'Entity' } },
    createEntity: { query: `mutation($id: ID!, $n: String!) { createEntity(input: { sourceId: $id, name: $n, kind: OTHER, from: { sql: "SELECT 1 AS id" }, primaryKey: "id" }) ${RESULT} }`, slots: { id: 'Source' }, fixed: () => ({ n: uniqueName('E') }) },
    createRelationship: { query: `mutation($f: ID!, $t: ID!, $n: String!) { createRelationship(input: { name: $n, kind: MANY_TO_ONE, fromEntityId: $f, toEntityId: $t, fromColumn: "company_id", toColumn: "id" }) ${RESULT} }`, slots: { f: 'Entity', t: 'Entity' }, fixed: () => ({ n: uniqueName('r') }) },
    createSegment: { query: `mutation($id: ID!, $ref: ID!, $n: String!) { createSegment(input: { entityId: $id, name: $n, condition: { segment: { id: $ref } } }) ${RESULT} }`, slots: { id: 'Entity', ref: 'Segment' }, fixed: () => ({ n: uniqueName('S') }) },
    deleteAudienceSync: { query: `mutation($id: ID!) { deleteAudienceSync(id: $id) ${RESULT} }`, slots: { id: 'AudienceSync' } },
    deleteDestination: { query: `mutation($id: ID!) { deleteDestination(id: $id) ${RESULT} }`, slots: { id: 'Destination' } },
    deleteEntity: { query: `mutation($id: ID!) { deleteEntity(id: $id) ${RESULT} }`, slots: { id: 'Entity' } },
    deleteRelationship: { query: `mutation($id: ID!) { deleteRelationship(id: $id) ${RESULT} }`, slots: { id: 'Relationship' } },
    deleteSegment: { query: `mutation($id: ID!) { deleteSegment(id: $id) ${RESULT} }`, slots: { id: 'Segment' } },
    deleteSource: { query: `mutation($id: ID!) { deleteSource(id: $id) ${RESULT} }`, slots: { id: 'Source' } },
    evaluateSegment: { query: `mutation($id: ID!) { evaluateSegment(id: $id) ${RESULT} }`, slots: { id: 'Segment' } },
    pauseAudienceSync: { query: `mutation($id: ID!) { pauseAudienceSync(id: $id) ${RESULT} }`, slots: { id: 'AudienceSync' } },
    previewAudienceSyncDiff: { query: `mutation($id: ID!) { previewAudienceSyncDiff(id: $id) ${RESULT} }`, slots: { id: 'AudienceSync' } },
    quickSync: { query: `mutation($s: ID!, $d: ID!) { quickSync(segmentId: $s, destinationId: $d) ${RESULT} }`, slots: { s: 'Segment', d: 'Destination' } },
    refreshMatchRates: { query: `mutation($id: ID!) { refreshMatchRates(syncId: $id) ${RESULT} }`, slots: { id: 'AudienceSync' } },
    setOneClickAudience: { query: `mutation($s: ID!, $d: ID!) { setOneClickAudience(segmentId: $s, destinationId: $d, enabled: true) ${RESULT} }`, slots: { s: 'Segment', d: 'Destination' } },
    resumeAudienceSync: { query: `mutation($id: ID!) { resumeAudienceSync(id: $id) ${RESULT} }`, slots: { id: 'AudienceSync' } },
    revokeApiToken: { query: `mutation($id: ID!) { revokeApiToken(id: $id) ${RESULT} }`, slots: { id: 'ApiToken' } },
    testAudienceSync: { query: `mutation($id: ID!) { testAudienceSync(id: $id) ${RESULT} }`, slots: { id: 'AudienceSync' } },
    triggerAudienceSync: { query: `mutation($id: ID!) { triggerAudienceSync(id: $id) ${RESULT} }`, slots: { id: 'AudienceSync' } },
    updateAudienceSync: { query: `mutation($id: ID!) { updateAudienceSync(id: $id, input: { mode: ADDITIVE }) ${RESULT} }`, slots: { id: 'AudienceSync' } },
    updateEntity: { query: `mutation($id: ID!) { updateEntity(id: $id, input: { kind: OTHER }) ${RESULT} }`, slots: { id: 'Entity' } },
    updateRelationship: { query: `mutation($id: ID!) { updateRelationship(id: $id, input: { kind: MANY_TO_ONE }) ${RESULT} }`, slots: { id: 'Relationship' } },
    updateSegment: { query: `mutation($id: ID!) { updateSegment(id: $id, input: { description: "d" }) ${RESULT} }`, slots: { id: 'Segment' } },
    updateSource: { query: `mutation($id: ID!) { updateSource(id: $id, input: { name: "Shop" }) ${RESULT} }`, slots: { id: 'Source' } },
  };
  const queryCalls: Record<string, { query: string; slots: Record<string, string> }> = {
    node: { query: 'query($id: ID!) { node(id: $id) { id } }', slots: { id: 'Source' } },
    nodes: { query: 'query($id: ID!, $id2: ID!) { nodes(ids: [$id, $id2]) { id } }', slots: { id: 'Source', id2: 'Segment' } },
    source: { query: 'query($id: ID!) { source(id: $id) { id } }', slots: { id: 'Source' } },
    entity: { query: 'query($id: ID!) { entity(id: $id) { id } }', slots: { id: 'Entity' } },
    entities: { query: 'query($id: ID!) { entities(sourceId: $id) { edges { node { id } } } }', slots: { id: 'Source' } },
    relationships: { query: 'query($id: ID!) { relationships(entityId: $id) { edges { node { id } } } }', slots: { id: 'Entity' } },
    segment: { query: 'query($id: ID!) { segment(id: $id) { id } }', slots: { id: 'Segment' } },
    segments: { query: 'query($id: ID!) { segments(entityId: $id) { edges { node { id } } } }', slots: { id: 'Entity' } },
    segmentPreview: { query: `query($id: ID!) { segmentPreview(entityId: $id, condition: { and: [] }) ${RESULT} }`, slots: { id: 'Entity' } },
    segmentOverlap: { query: `query($a: ID!, $b: ID!) { segmentOverlap(ids: [$a, $b]) ${RESULT} }`, slots: { a: 'Segment', b: 'Segment' } },
    record: { query: `query($id: ID!, $k: String!) { record(entityId: $id, key: $k) ${RESULT} }`, slots: { id: 'Entity' } },
    audienceSync: { query: 'query($id: ID!) { audienceSync(id: $id) { id } }', slots: { id: 'AudienceSync' } },
    audienceSyncs: { query: 'query($s: ID!, $d: ID!) { audienceSyncs(segmentId: $s, destinationId: $d) { edges { node { id } } } }', slots: { s: 'Segment', d: 'Destination' } },
    quickSyncTemplates: { query: `query($id: ID!) { quickSyncTemplates(segmentId: $id) ${RESULT} }`, slots: { id: 'Segment' } },
    syncRuns: { query: 'query($id: ID!) { syncRuns(syncId: $id) { edges { node { id } } } }', slots: { id: 'AudienceSync' } },
  };

  /** Fields of a root type whose arguments (or input fields) include an ID. */
  const takingIds = (root: 'Query' | 'Mutation') =>
    Object.values((root === 'Query' ? schema.getQueryType() : schema.getMutationType())!.getFields())
      .filter((field) =>
        field.args.some((arg) => {
          const named = getNamedType(arg.type);
          return named.name === 'ID' || (isInputObjectType(named) && Object.values(named.getFields()).some((f) => getNamedType(f.type).name === 'ID'));
        }),
      )
      .map((f) => f.name)
      .sort();

  it('covers every mutation and query that takes an id', () => {
    expect(Object.keys(idCalls).sort()).toEqual(takingIds('Mutation'));
    expect(Object.keys(queryCalls).sort()).toEqual(takingIds('Query'));
  });

  it('ids: garbage, other types\' ids and forged ids on every mutation and query that takes one', async () => {
    const all = { ...idCalls, ...queryCalls } as Record<string, { query: string; slots: Record<string, string>; fixed?: () => Record<string, unknown> }>;
    const arbitraries = Object.entries(all).map(([name, c]) =>
      fc.record(Object.fromEntries(Object.entries(c.slots).map(([slot, type]) => [slot, hostileId(type)]))).map((vars) => ({ name, vars })),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(...arbitraries), text, async ({ name, vars }, key) => {
        const c = all[name]!;
        await call(name, c.query, { ...vars, ...(c.fixed?.() ?? {}), ...(name === 'record' ? { k: key } : {}) });
      }),
      {
        numRuns: runs(600),
        endOnFailure: false,
        examples: [
          [{ name: 'cancelSyncRun', vars: { id: b64('SyncRun:a:b') } }, ''],
          [{ name: 'node', vars: { id: b64('ApiToken:1') } }, ''],
          [{ name: 'entity', vars: { id: b64('Entity:x') } }, ''],
          [{ name: 'deleteSource', vars: { id: b64("Source:' OR 1=1 --") } }, ''],
        ],
      },
    );
  }, 120_000);

  it('left the warehouse and the configuration database intact', async () => {
    const canary = await t.db.pool.query('SELECT id, note FROM fuzz_canary.canary ORDER BY id');
    expect(canary.rows).toEqual([{ id: 1, note: 'alive' }, { id: 2, note: 'still alive' }]);
    const shop = await t.db.pool.query('SELECT count(*)::int AS n FROM shop.customers');
    expect(shop.rows[0].n).toBe(3);
    // The fixtures are still there and the fuzzing token still works.
    const data = ok(await t.gql(token, 'query($id: ID!, $e: ID!) { source(id: $id) { id } entity(id: $e) { id } }', { id: ids.Source, e: ids.Entity }));
    expect(data).toEqual({ source: { id: ids.Source }, entity: { id: ids.Entity } });
    expect(findings.map((f) => `${f.where}: ${f.problem}`)).toEqual([]);
  });
});
