// The payloads and hashes the sync planner computes, run on a real PostgreSQL
// over values that stress them: JSON escaping, every common type, NULLs,
// and the changes a hash must see (or may ignore).
import { beforeAll, describe, expect, it } from 'vitest';
import type { CompileContext, EntityMeta } from '../../src/segments/metadata.js';
import { currentRowsSql, type SyncShape } from '../../src/sync/plan-sql.js';
import { useTestDatabase } from '../support/db.js';

const t = await useTestDatabase();
const pool = t.db.pool;

const columns: [string, string][] = [
  ['id', 'bigint'],
  ['name', 'text'],
  ['score', 'numeric(10,2)'],
  ['ratio', 'double precision'],
  ['active', 'boolean'],
  ['seen', 'timestamp with time zone'],
  ['born', 'date'],
  ['doc', 'json'],
  ['meta', 'jsonb'],
  ['tags', 'text[]'],
  ['price', 'money'],
  ['email', 'character varying(200)'],
];

const things: EntityMeta = {
  id: 't',
  name: 'Things',
  from: { table: { schema: 'wh_payload', name: 'things' } },
  primaryKey: 'id',
  columns: columns.map(([name, dataType]) => ({ name, dataType, type: 'OTHER', nullable: name !== 'id' })),
  relationships: [],
};
const ctx: CompileContext = { entities: new Map([['t', things]]), segments: new Map(), plannerSchema: 'roster_planner' };
const shape: SyncShape = {
  entity: things,
  segmentId: null,
  audience: { kind: 'FIXED', reference: 'A' },
  // Keys that need escaping, as a destination's field names may.
  mappings: columns.filter(([c]) => c !== 'email').map(([c]) => ({ from: c, to: c === 'name' ? 'the "name"\\\n' : c })),
  identifiers: [{ type: 'EMAIL', column: 'email' }, { type: 'EXTERNAL_ID', column: 'id' }],
  segments: [],
  uniqueKeys: true,
};

async function current(): Promise<Map<string, { payload: unknown; text: string; hash: string }>> {
  const { text, params } = currentRowsSql(ctx, shape);
  const { rows } = await pool.query<{ key: string; payload: string; payload_hash: string }>({ text, values: params.values, types: { getTypeParser: () => (v: string) => v } });
  return new Map(rows.map((r) => [r.key, { payload: JSON.parse(r.payload), text: r.payload, hash: r.payload_hash }]));
}

beforeAll(async () => {
  await pool.query(`CREATE SCHEMA wh_payload`);
  await pool.query(`CREATE TABLE wh_payload.things (${columns.map(([c, type]) => `${c} ${type}`).join(', ')})`);
  await pool.query(`
    INSERT INTO wh_payload.things VALUES
      (1, E'quote " backslash \\\\ newline \\n tab \\t bell \\u0007 é 😀', 12.5, 0.1, true, '2026-03-01 10:00:00+00', '1990-02-03', '{"b": 1, "a": [1, "x"]}', '{"z": null, "y": 2.50}', '{a,"b c"}', 12.34, 'a@example.test'),
      (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
});

describe('payload text', () => {
  it('is a JSON object equal to what jsonb_build_object makes of the same values, keys escaped, NULLs as null', async () => {
    const rows = await current();
    const expected = await pool.query<{ id: string; payload: unknown }>(
      `SELECT id::text, jsonb_build_object('fields', jsonb_build_object(${shape.mappings.map((m, i) => `$${i + 1}::text, ${m.from}`).join(', ')}), ` +
        `'identifiers', jsonb_build_object('EMAIL', email::text, 'EXTERNAL_ID', id::text)) AS payload FROM wh_payload.things`,
      shape.mappings.map((m) => m.to),
    );
    for (const e of expected.rows) expect(rows.get(e.id)!.payload).toEqual(e.payload);
    const first = rows.get('1')!.payload as { fields: Record<string, unknown>; identifiers: Record<string, unknown> };
    expect(first.fields['the "name"\\\n']).toBe('quote " backslash \\ newline \n tab \t bell \u0007 é 😀');
    expect(first.fields.doc).toEqual({ b: 1, a: [1, 'x'] });
    expect(first.identifiers).toEqual({ EMAIL: 'a@example.test', EXTERNAL_ID: '1' });
    expect(rows.get('2')!.payload).toEqual({ fields: Object.fromEntries(shape.mappings.map((m) => [m.to, m.from === 'id' ? 2 : null])), identifiers: { EMAIL: null, EXTERNAL_ID: '2' } });
    // Keys in the order the sync maps them; values as to_json writes them.
    expect(rows.get('2')!.text.startsWith('{"fields":{"id":2,"the \\"name\\"\\\\\\n":null,"score":null,')).toBe(true);
  });

  it('is right for a wide payload too (built in runs of pieces)', async () => {
    const wide = { ...shape, mappings: Array.from({ length: 150 }, (_, i) => ({ from: columns[i % columns.length]![0], to: `f${i}` })) };
    const { text, params } = currentRowsSql(ctx, wide);
    expect(text).toContain('concat(');
    const { rows } = await pool.query<{ key: string; payload: string }>({ text, values: params.values, types: { getTypeParser: () => (v: string) => v } });
    const payload = JSON.parse(rows.find((r) => r.key === '1')!.payload);
    expect(Object.keys(payload.fields)).toEqual(wide.mappings.map((m) => m.to));
    expect(payload.fields.f1).toBe('quote " backslash \\ newline \n tab \t bell \u0007 é 😀');
    expect(payload.fields.f149).toEqual(payload.fields[`f${149 % columns.length}`]);
    expect(payload.identifiers).toEqual({ EMAIL: 'a@example.test', EXTERNAL_ID: '1' });
  });
});

describe('row hash', () => {
  const change = async (sql: string) => {
    const before = await current();
    await pool.query(sql);
    const after = await current();
    return { before: before.get('1')!.hash, after: after.get('1')!.hash, other: before.get('2')!.hash === after.get('2')!.hash };
  };

  it('is stable, and differs between rows', async () => {
    const [a, b] = [await current(), await current()];
    expect(a.get('1')!.hash).toBe(b.get('1')!.hash);
    expect(a.get('1')!.hash).not.toBe(a.get('2')!.hash);
    expect(a.get('1')!.hash).toMatch(/^v[0-9a-f]{1,16}$/);
  });

  it.each([
    ['a letter of a text changes case', `UPDATE wh_payload.things SET name = upper(name) WHERE id = 1`],
    ['a number changes', `UPDATE wh_payload.things SET score = score + 0.01 WHERE id = 1`],
    ['a json document reorders its keys (json keeps them as written)', `UPDATE wh_payload.things SET doc = '{"a": [1, "x"], "b": 1}' WHERE id = 1`],
    ['a jsonb value changes', `UPDATE wh_payload.things SET meta = '{"z": 1}' WHERE id = 1`],
    ['an array loses an element', `UPDATE wh_payload.things SET tags = '{a}' WHERE id = 1`],
    ['an amount of money changes', `UPDATE wh_payload.things SET price = 12.35 WHERE id = 1`],
    ['a value becomes NULL', `UPDATE wh_payload.things SET active = NULL WHERE id = 1`],
    ['an identifier changes', `UPDATE wh_payload.things SET email = 'b@example.test' WHERE id = 1`],
  ])('changes when %s, and only for that row', async (_what, sql) => {
    const { before, after, other } = await change(sql);
    expect(after).not.toBe(before);
    expect(other).toBe(true);
  });

  it('stays when a number is only written differently (12.51 and 12.510 are one value)', async () => {
    const before = (await current()).get('1')!;
    await pool.query(`ALTER TABLE wh_payload.things ALTER COLUMN score TYPE numeric(10,3)`);
    const after = (await current()).get('1')!;
    expect(after.text).not.toBe(before.text);
    expect(after.hash).toBe(before.hash);
  });

  it('changes for every row when the layout changes: a key renamed, or two keys swapped', async () => {
    const base = await current();
    const renamed = currentRowsSql(ctx, { ...shape, mappings: shape.mappings.map((m) => (m.from === 'score' ? { ...m, to: 'points' } : m)) });
    const swapped = currentRowsSql(ctx, { ...shape, identifiers: [...shape.identifiers].reverse() });
    for (const q of [renamed, swapped]) {
      const { rows } = await pool.query<{ key: string; payload_hash: string }>({ text: q.text, values: q.params.values });
      for (const r of rows) expect(r.payload_hash).not.toBe(base.get(r.key)!.hash);
    }
  });
});
