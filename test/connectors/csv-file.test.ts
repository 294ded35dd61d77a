// The CSV file connector on a real directory: membership after flush, header
// changes, the change log surviving a crash and replaying idempotently, slug
// safety, delimiters and quoting, and a large audience streamed through.
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { appendFile, copyFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { checkAudienceId, csvFileConnector, slugify, type CsvFileConfig } from '../../src/connectors/csv-file/index.js';
import { ConnectorError, type Audience, type ConnectorContext, type SyncRow } from '../../src/connectors/contract.js';
import { createLogger } from '../../src/logger.js';
import { failureOf } from '../support/failures.js';

const connector = csvFileConnector;
const root = await mkdtemp(join(tmpdir(), 'roster-csv-'));
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let dir: string;
let n = 0;
beforeEach(() => {
  dir = join(root, `case-${++n}`, 'nested');
});

const logs: string[] = [];
const logger = createLogger('debug', { write: (l: string) => void logs.push(l) });

function ctx(config: Partial<CsvFileConfig> = {}): ConnectorContext<CsvFileConfig> {
  return { destinationId: 'dest_csv', config: { directory: dir, delimiter: ',', ...config }, logger, signal: new AbortController().signal };
}

function row(key: string, fields: Record<string, unknown> = {}, identifiers: SyncRow['identifiers'] = {}): SyncRow {
  return { key, fields, identifiers };
}

async function read(id: string, delimiter = ','): Promise<string[][]> {
  return parse(await readFile(join(dir, `${id}.csv`), 'utf8'), { delimiter, relax_column_count: false }) as string[][];
}

const failure = (promise: Promise<unknown>) => failureOf(promise, ConnectorError);

describe('csv_file connector', () => {
  it('creates an audience as a header-only file named by a slug, and lists it', async () => {
    const a = await connector.createAudience!(ctx(), { name: 'Spring Sale (EU) — Café', type: null });
    expect(a).toEqual({ id: 'spring-sale-eu-cafe', name: 'Spring Sale (EU) — Café', type: null });
    expect(await readFile(join(dir, 'spring-sale-eu-cafe.csv'), 'utf8')).toBe('key\n');
    // Creating it again keeps the file.
    await connector.createAudience!(ctx(), { name: 'Spring Sale (EU) — Café', type: null });
    await connector.createAudience!(ctx(), { name: 'Another', type: null });
    expect(await connector.listAudiences!(ctx())).toEqual([
      { id: 'another', name: 'another', type: null, size: null },
      { id: 'spring-sale-eu-cafe', name: 'spring-sale-eu-cafe', type: null, size: null },
    ]);
  });

  it('add, update and remove, then flush, give exactly the membership', async () => {
    const c = ctx();
    const a = await connector.createAudience!(c, { name: 'VIP', type: null });
    await connector.add(c, a, [
      row('u1', { plan: 'pro', score: 3 }, { EMAIL: 'u1@example.com', PHONE: '+15550001' }),
      row('u2', { plan: 'free', score: 1 }, { EMAIL: 'u2@example.com' }),
      row('u3', { plan: 'free' }, { EMAIL: 'u3@example.com' }),
    ]);
    await connector.update!(c, a, [row('u2', { plan: 'pro', score: 2 }, { EMAIL: 'u2@new.example.com' })]);
    await connector.remove(c, a, [row('u3'), row('never-there')]);
    // Nothing is rewritten before flush.
    expect(await readFile(join(dir, 'vip.csv'), 'utf8')).toBe('key\n');
    await connector.flush!(c, a);

    expect(await read('vip')).toEqual([
      ['key', 'identifier_email', 'identifier_phone', 'plan', 'score'],
      ['u1', 'u1@example.com', '+15550001', 'pro', '3'],
      ['u2', 'u2@new.example.com', '', 'pro', '2'],
    ]);
    expect(await readdir(dir)).toEqual(['vip.csv']);

    // A second run: remove u1, re-add u3, update nothing else.
    await connector.remove(c, a, [row('u1')]);
    await connector.add(c, a, [row('u3', { plan: 'trial', score: 0 }, { EMAIL: 'u3@example.com' })]);
    await connector.flush!(c, a);
    expect(await read('vip')).toEqual([
      ['key', 'identifier_email', 'identifier_phone', 'plan', 'score'],
      ['u2', 'u2@new.example.com', '', 'pro', '2'],
      ['u3', 'u3@example.com', '', 'trial', '0'],
    ]);
  });

  it('rewrites the header when a new field appears, keeping a stable column order', async () => {
    const c = ctx();
    const a: Audience = { id: 'cols', name: 'cols' };
    await connector.add(c, a, [row('a', { zeta: 1, alpha: 2 }, { PHONE: '1' })]);
    await connector.flush!(c, a);
    expect((await read('cols'))[0]).toEqual(['key', 'identifier_phone', 'alpha', 'zeta']);

    await connector.add(c, a, [row('b', { mid: 'm', alpha: 3 }, { EMAIL: 'b@example.com' })]);
    await connector.flush!(c, a);
    expect(await read('cols')).toEqual([
      ['key', 'identifier_email', 'identifier_phone', 'alpha', 'mid', 'zeta'],
      ['a', '', '1', '2', '', '1'],
      ['b', 'b@example.com', '', '3', 'm', ''],
    ]);
  });

  it('stringifies values and quotes what needs quoting, with every delimiter', async () => {
    for (const delimiter of [',', ';', '\t'] as const) {
      const c = ctx({ delimiter });
      const a: Audience = { id: `values-${delimiter === '\t' ? 'tab' : delimiter === ';' ? 'semi' : 'comma'}`, name: 'v' };
      const tricky = 'a,b;c\td "quoted"\nnext line';
      await connector.add(c, a, [
        row(tricky, { obj: { x: [1, 'two'] }, list: [1, 2], nil: null, yes: true, num: 1.5, date: new Date('2025-01-02T03:04:05Z'), big: 10n, text: tricky }),
      ]);
      await connector.flush!(c, a);
      expect(await read(a.id, delimiter)).toEqual([
        ['key', 'big', 'date', 'list', 'nil', 'num', 'obj', 'text', 'yes'],
        [tricky, '10', '2025-01-02T03:04:05.000Z', '[1,2]', '', '1.5', '{"x":[1,"two"]}', tricky, 'true'],
      ]);
    }
  });

  it('writes fields whose names look like its own columns under field_…', async () => {
    const c = ctx();
    const a: Audience = { id: 'reserved', name: 'r' };
    await connector.add(c, a, [row('k1', { key: 'not the key', identifier_email: 'x', field_a: 'y', __proto__x: 'z' }, { EMAIL: 'e@x' })]);
    await connector.flush!(c, a);
    expect(await read('reserved')).toEqual([
      ['key', 'identifier_email', '__proto__x', 'field_field_a', 'field_identifier_email', 'field_key'],
      ['k1', 'e@x', 'z', 'y', 'x', 'not the key'],
    ]);
  });

  it('applies a change log left by a crash before flush, once, and replays idempotently', async () => {
    const c = ctx();
    const a: Audience = { id: 'crash', name: 'crash' };
    await connector.add(c, a, [row('1', { v: 'a' }), row('2', { v: 'b' })]);
    await connector.flush!(c, a);
    const pending = join(dir, 'crash.csv.pending');

    // A run confirmed two batches, then the process died before flush.
    await connector.add(c, a, [row('3', { v: 'c' })]);
    await connector.remove(c, a, [row('1')]);
    await connector.update!(c, a, [row('2', { v: 'B' })]);
    expect((await stat(pending)).size).toBeGreaterThan(0);
    await copyFile(pending, `${pending}.copy`);

    // The next run's flush applies it.
    await connector.flush!(c, a);
    const once = await readFile(join(dir, 'crash.csv'), 'utf8');
    // Untouched rows keep their place; upserts follow, in the log's order.
    expect(await read('crash')).toEqual([
      ['key', 'v'],
      ['3', 'c'],
      ['2', 'B'],
    ]);
    await expect(stat(pending)).rejects.toMatchObject({ code: 'ENOENT' });

    // A crash between the rename and the deletion of the log replays it: same file.
    await copyFile(`${pending}.copy`, pending);
    await connector.flush!(c, a);
    expect(await readFile(join(dir, 'crash.csv'), 'utf8')).toBe(once);
    // And a flush with nothing pending changes nothing.
    await connector.flush!(c, a);
    expect(await readFile(join(dir, 'crash.csv'), 'utf8')).toBe(once);
  });

  it('skips a torn last line of the log and keeps later batches intact', async () => {
    const c = ctx();
    const a: Audience = { id: 'torn', name: 'torn' };
    await connector.add(c, a, [row('1')]);
    // A write cut short by a crash: the batch was never confirmed.
    await appendFile(join(dir, 'torn.csv.pending'), '{"op":"add","key":"half');
    await connector.add(c, a, [row('2')]);
    logs.length = 0;
    await connector.flush!(c, a);
    expect(await read('torn')).toEqual([['key'], ['1'], ['2']]);
    expect(logs.some((l) => l.includes('unreadable line'))).toBe(true);
  });

  it('keys the rewrite on the last operation per key across batches', async () => {
    const c = ctx();
    const a: Audience = { id: 'order', name: 'order' };
    await connector.add(c, a, [row('x', { v: 1 }), row('y', { v: 1 })]);
    await connector.remove(c, a, [row('x')]);
    await connector.add(c, a, [row('x', { v: 2 })]);
    await connector.remove(c, a, [row('y')]);
    await connector.flush!(c, a);
    expect(await read('order')).toEqual([
      ['key', 'v'],
      ['x', '2'],
    ]);
  });

  it('converts the file when the delimiter setting changes', async () => {
    const a: Audience = { id: 'delim', name: 'delim' };
    await connector.add(ctx({ delimiter: ',' }), a, [row('1', { a: 'x;y', b: 'z' })]);
    await connector.flush!(ctx({ delimiter: ',' }), a);
    await connector.add(ctx({ delimiter: ';' }), a, [row('2', { a: 'p', b: 'q,r' })]);
    await connector.flush!(ctx({ delimiter: ';' }), a);
    expect(await read('delim', ';')).toEqual([
      ['key', 'a', 'b'],
      ['1', 'x;y', 'z'],
      ['2', 'p', 'q,r'],
    ]);
  });

  it('refuses to write a file that Roster did not write', async () => {
    const c = ctx();
    await connector.check(c);
    await writeFile(join(dir, 'foreign.csv'), 'name,email\nann,a@x\n');
    const a: Audience = { id: 'foreign', name: 'foreign' };
    await connector.add(c, a, [row('1')]);
    const err = await failure(connector.flush!(c, a));
    expect(err.code).toBe('FILE_NOT_ROSTER');
    expect(await readFile(join(dir, 'foreign.csv'), 'utf8')).toBe('name,email\nann,a@x\n');
  });

  it('check() creates the directory and reports one it cannot write', async () => {
    await connector.check(ctx());
    expect((await stat(dir)).isDirectory()).toBe(true);
    await writeFile(join(dir, 'a-file'), 'x');
    const err = await failure(connector.check(ctx({ directory: join(dir, 'a-file', 'sub') })));
    expect(err.code).toBe('FS_ENOTDIR');
    expect(err.message).toContain(join(dir, 'a-file', 'sub'));
  });

  it('keeps a large audience correct through the streaming rewrite (50,000 rows)', async () => {
    const c = ctx();
    const a: Audience = { id: 'large', name: 'large' };
    const total = 50_000;
    for (let start = 0; start < total; start += connector.spec.batchSize) {
      const batch = Array.from({ length: connector.spec.batchSize }, (_, i) => {
        const k = start + i;
        return row(`k${k}`, { i: k, segment: k % 7 === 0 ? 'seven' : 'other' }, { EMAIL: `user${k}@example.com` });
      });
      await connector.add(c, a, batch);
    }
    await connector.flush!(c, a);
    await connector.remove(c, a, [row('k0'), row('k49999')]);
    await connector.update!(c, a, [row('k25000', { i: -1, segment: 'changed' }, { EMAIL: 'new@example.com' })]);
    await connector.flush!(c, a);
    const rows = await read('large');
    expect(rows).toHaveLength(1 + total - 2);
    expect(rows[0]).toEqual(['key', 'identifier_email', 'i', 'segment']);
    expect(rows[1]).toEqual(['k1', 'user1@example.com', '1', 'other']);
    expect(rows[rows.length - 1]).toEqual(['k25000', 'new@example.com', '-1', 'changed']);
    expect(new Set(rows.slice(1).map((r) => r[0])).size).toBe(total - 2);
  }, 60_000);
});

describe('audience ids', () => {
  it('slugs names into plain file names', () => {
    expect(slugify('VIP Customers')).toBe('vip-customers');
    expect(slugify('../../etc/passwd')).toBe('etc-passwd');
    expect(slugify('a/b\\c')).toBe('a-b-c');
    expect(slugify('.hidden..name.')).toBe('hidden.name');
    expect(slugify('x'.repeat(500))).toHaveLength(120);
    for (const name of ['', '..', '///', '   ', '—']) {
      expect(() => slugify(name)).toThrow(ConnectorError);
    }
  });

  it('refuses ids with separators, "..", NUL or a leading dot, before touching the disk', async () => {
    for (const id of ['../x', 'a/b', 'a\\b', '..', 'a..b', '.hidden', 'nul\0', '']) {
      expect(() => checkAudienceId(id)).toThrow(/expected an audience id that is a plain file name/);
      const err = await failure(connector.add(ctx(), { id, name: id }, [row('1')]));
      expect(err.code).toBe('INVALID_AUDIENCE');
    }
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
