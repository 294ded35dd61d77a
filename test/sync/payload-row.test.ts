// Rows over the warehouse's JSON text: parsed only when a connector reads
// them, spliced as they are into webhook bodies.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.js';
import { PAYLOAD_AS_TEXT, PayloadRow } from '../../src/sync/payload-row.js';
import { webhookBody, webhookRowJson } from '../../src/connectors/webhook/index.js';

const t = await useTestDatabase();

describe('PayloadRow', () => {
  it('reads json and jsonb as text, and parses a payload once, on first use', async () => {
    const { rows } = await t.db.pool.query<{ payload: string; plain: string; n: string }>({
      text: `SELECT jsonb_build_object('fields', jsonb_build_object('name', 'Zoë "Z"', 'n', 1.5, 'none', NULL), 'identifiers', jsonb_build_object('EMAIL', 'z@example.test')) AS payload, '{"a" : 1}'::json AS plain, 7::bigint AS n`,
      types: PAYLOAD_AS_TEXT,
    });
    const { payload, plain, n } = rows[0]!;
    expect(payload).toBe('{"fields": {"n": 1.5, "name": "Zoë \\"Z\\"", "none": null}, "identifiers": {"EMAIL": "z@example.test"}}');
    expect(plain).toBe('{"a" : 1}');
    expect(n).toBe('7'); // other types keep their usual parsers

    const row = new PayloadRow('42', payload);
    expect(row.fields).toEqual({ name: 'Zoë "Z"', n: 1.5, none: null });
    expect(row.fields).toBe(row.fields); // one parse, one object: an edit sticks
    expect(row.identifiers).toEqual({ EMAIL: 'z@example.test' });
    expect(JSON.parse(JSON.stringify(row))).toEqual({ key: '42', fields: row.fields, identifiers: row.identifiers });
    // A payload without one of the parts reads as empty, as a plain row has it.
    expect(new PayloadRow('1', '{"fields": {}}').identifiers).toEqual({});
  });

  it('splices into webhook bodies the same JSON a parsed row gives', () => {
    const text = '{"fields": {"name": "Zoë", "tags": ["a", "b"]}, "identifiers": {"EMAIL": "z@example.test", "PHONE": null}}';
    const spliced = new PayloadRow('k"1', text);
    const plain = { key: 'k"1', fields: { name: 'Zoë', tags: ['a', 'b'] }, identifiers: { EMAIL: 'z@example.test', PHONE: null } };
    expect(webhookRowJson(spliced)).toBe(`{"key":"k\\"1",${text.slice(1)}`);
    expect(JSON.parse(webhookRowJson(spliced))).toEqual(plain);
    expect(webhookRowJson(plain)).toBe(JSON.stringify(plain));
    const body = webhookBody('add', { id: 'a1', name: 'VIPs' }, [spliced, plain]);
    expect(JSON.parse(body.toString())).toEqual({ operation: 'add', audience: { id: 'a1', name: 'VIPs' }, rows: [plain, plain] });
  });
});
