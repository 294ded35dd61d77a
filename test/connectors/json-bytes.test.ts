// Batch bodies built item by item are the bytes JSON.stringify would give.
import { describe, expect, it } from 'vitest';
import { jsonBytesWithList } from '../../src/connectors/json-bytes.js';

describe('jsonBytesWithList', () => {
  it('is JSON.stringify of the head with the list, byte for byte', () => {
    const rows = [
      { key: '1', fields: { name: 'Zoë "Z" Ålund', note: 'line\nbreak \u2028 😀', n: 1.5, none: null }, identifiers: { EMAIL: 'z@example.test' } },
      { key: '2', fields: {}, identifiers: {} },
    ];
    const head = { operation: 'add', audience: { id: 'a/1', name: 'VIPs' } };
    expect(jsonBytesWithList(head, 'rows', rows).equals(Buffer.from(JSON.stringify({ ...head, rows })))).toBe(true);
    expect(jsonBytesWithList(head, 'rows', []).toString()).toBe(JSON.stringify({ ...head, rows: [] }));
    expect(jsonBytesWithList({}, 'items', [1, 'two']).toString()).toBe('{"items":[1,"two"]}');
  });

  it('grows past its first estimate, and splices items a caller serialises', () => {
    const items = [{ n: 1 }, ...Array.from({ length: 50 }, (_, i) => ({ text: `${'ü€😀'.repeat(40 * i)}` }))];
    expect(jsonBytesWithList({ a: 1 }, 'list', items).equals(Buffer.from(JSON.stringify({ a: 1, list: items })))).toBe(true);
    expect(jsonBytesWithList({}, 'list', ['{"x":1}', '{"y":2}'], (text) => text).toString()).toBe('{"list":[{"x":1},{"y":2}]}');
  });

  it('refuses a head that already has the list key', () => {
    expect(() => jsonBytesWithList({ rows: 1 }, 'rows', [])).toThrow('expected the head of a JSON body without "rows", which the list fills');
  });
});
