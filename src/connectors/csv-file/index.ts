// One CSV file per audience in a directory, equal to the audience's
// membership after each run: `<directory>/<audience id>.csv`.
//
// Columns: `key`, then one `identifier_<type>` per identifier type seen (in
// the IdentifierType order), then the fields sorted by name. A field whose
// name would be mistaken for one of those columns ("key", "identifier_…",
// "field_…") is written as `field_<name>`. Columns are never dropped: rows
// written before a field was added keep an empty cell.
//
// The file is never held in memory. add/update/remove append their rows to a
// change log, `<id>.csv.pending` (one JSON object per line, synced to disk
// before the call returns, so a confirmed batch survives a crash). flush(),
// called once per audience after a run's last batch, streams the old file
// through csv-parse into `<id>.csv.tmp`, dropping every key the log changes,
// then appends the log's final upserts, renames the temporary file over the
// old one and deletes the log. Only the changed keys (and their line numbers
// in the log) are held in memory. Replaying a log on a file it was already
// applied to gives the same file, so a crash between the rename and the
// deletion of the log is harmless; a log left by a crash before flush is
// applied by the next flush.
//
// Writers of one file are serialised within a process. Two processes writing
// the same audience file at once are not supported (the engine runs one
// sync at a time; two syncs should not share an audience file).
import { constants as fsConstants, createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, unlink, writeFile, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import { IdentifierType } from '../../generated/prisma/enums.js';
import type { ValidationProblem } from '../../graphql/errors.js';
import type { Logger } from '../../logger.js';
import { ConnectorError, type Audience, type Connector, type ConnectorContext, type DeliveryResult, type RowRejection, type SyncRow } from '../contract.js';

export type CsvDelimiter = ',' | ';' | '\t';

export type CsvFileConfig = {
  /** Absolute path; created if missing. */
  directory: string;
  /** Default ",". */
  delimiter?: CsvDelimiter;
};

export const CSV_FILE_BATCH_SIZE = 10_000;
const DELIMITERS: readonly CsvDelimiter[] = [',', ';', '\t'];
const IDENTIFIER_ORDER: readonly string[] = Object.values(IdentifierType);
const MAX_ID_LENGTH = 120;

// ---------------------------------------------------------------------------
// Names.

/**
 * A file-system-safe id for an audience name: lower-case ASCII letters,
 * digits, ".", "_" and "-", without leading dots or "..". "Spring Sale (EU)"
 * → "spring-sale-eu". Different names may share a slug ("VIP" and "vip"):
 * they then share a file.
 */
export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/-{2,}/g, '-')
    .replace(/^[-._]+/, '')
    .slice(0, MAX_ID_LENGTH)
    .replace(/[-.]+$/, '');
  if (slug === '') {
    throw new ConnectorError(
      `expected an audience name with at least one letter or digit to name its file, but got ${name.trim() === '' ? 'an empty name' : `"${name.slice(0, 60)}"`}`,
      'INVALID_AUDIENCE',
      false,
    );
  }
  return slug;
}

/** Refuses an audience id that could name a file outside the directory. */
export function checkAudienceId(id: string): void {
  const bad =
    typeof id !== 'string' ? 'it is not a string'
    : id === '' ? 'it is empty'
    : id.length > 200 ? 'it is longer than 200 characters'
    : /[/\\]/.test(id) ? 'it contains a path separator'
    : id.includes('\0') ? 'it contains a NUL character'
    : id.includes('..') ? 'it contains ".."'
    : id.startsWith('.') ? 'it starts with "."'
    : undefined;
  if (bad) throw new ConnectorError(`expected an audience id that is a plain file name, but ${bad}`, 'INVALID_AUDIENCE', false);
}

const RESERVED_COLUMN = /^(?:key|identifier_.*|field_.*)$/i;

/** The column a field is written to. */
export function fieldColumn(name: string): string {
  return RESERVED_COLUMN.test(name) ? `field_${name}` : name;
}

export function identifierColumn(type: string): string {
  return `identifier_${type.toLowerCase()}`;
}

/** key, identifiers (known types in enum order, then others by name), fields by name. */
export function orderColumns(columns: Iterable<string>): string[] {
  const identifiers: string[] = [];
  const fields: string[] = [];
  for (const c of new Set(columns)) {
    if (c === 'key') continue;
    if (/^identifier_/.test(c)) identifiers.push(c);
    else fields.push(c);
  }
  const rank = (c: string) => {
    const i = IDENTIFIER_ORDER.indexOf(c.slice('identifier_'.length).toUpperCase());
    return i === -1 ? IDENTIFIER_ORDER.length : i;
  };
  identifiers.sort((a, b) => rank(a) - rank(b) || compare(a, b));
  fields.sort(compare);
  return ['key', ...identifiers, ...fields];
}

/** Code-point order: stable across machines and locales. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A cell: strings as they are, objects and arrays as JSON, null/undefined empty. */
export function cellOf(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v);
}

function jsonReplacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

// ---------------------------------------------------------------------------
// Files.

interface Paths {
  csv: string;
  pending: string;
  tmp: string;
}

function pathsOf(config: CsvFileConfig, audienceId: string): Paths {
  checkAudienceId(audienceId);
  const csv = join(config.directory, `${audienceId}.csv`);
  return { csv, pending: `${csv}.pending`, tmp: `${csv}.tmp` };
}

function fsError(err: unknown, what: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const c = typeof code === 'string' ? code : 'UNKNOWN';
  if (c.startsWith('CSV_')) {
    return new ConnectorError(`could not ${what}: the existing file is not valid CSV (${err instanceof Error ? err.message : c})`, 'FILE_INVALID_CSV', false);
  }
  const reason =
    c === 'ENOENT' ? 'it does not exist'
    : c === 'EACCES' || c === 'EPERM' ? 'permission denied'
    : c === 'ENOSPC' ? 'the disk is full'
    : c === 'EROFS' ? 'the file system is read-only'
    : c === 'ENOTDIR' ? 'a part of the path is not a directory'
    : c === 'EISDIR' ? 'it is a directory'
    : err instanceof Error ? err.message : String(err);
  const retryable = c === 'EAGAIN' || c === 'EBUSY' || c === 'EMFILE' || c === 'ENFILE';
  return new ConnectorError(`could not ${what}: ${reason}`, `FS_${c}`, retryable);
}

// Serialises the writers of one file within the process.
const locks = new Map<string, Promise<unknown>>();

async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(key) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(fn);
  locks.set(key, run);
  try {
    return await run;
  } finally {
    if (locks.get(key) === run) locks.delete(key);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return false;
    throw err;
  }
}

async function syncPath(path: string, flags: number = fsConstants.O_RDONLY): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

type Op = 'add' | 'update' | 'remove';

interface LogEntry {
  op: Op;
  key: string;
  fields?: Record<string, unknown>;
  identifiers?: Record<string, string | null | undefined>;
}

/** Appends rows to the change log and syncs it; rows that cannot be written are rejected. */
async function appendToLog(ctx: ConnectorContext<CsvFileConfig>, audience: Audience, op: Op, rows: SyncRow[]): Promise<DeliveryResult> {
  const paths = pathsOf(ctx.config, audience.id);
  const rejected: RowRejection[] = [];
  const lines: string[] = [];
  for (const row of rows) {
    const entry: LogEntry = op === 'remove' ? { op, key: row.key } : { op, key: row.key, fields: row.fields ?? {}, identifiers: row.identifiers ?? {} };
    try {
      lines.push(`${JSON.stringify(entry, jsonReplacer)}\n`);
    } catch (err) {
      rejected.push({ key: row.key, message: `the row cannot be written as JSON (${err instanceof Error ? err.message : String(err)})`, code: 'UNSUPPORTED_VALUE' });
    }
  }
  if (lines.length === 0) return { rejected };
  if (ctx.signal.aborted) throw new ConnectorError('cancelled before the batch was written', 'ABORTED', true);
  await withLock(paths.csv, async () => {
    try {
      await mkdir(ctx.config.directory, { recursive: true });
      const fh = await open(paths.pending, 'a+');
      try {
        // A crash in the middle of an append leaves a partial last line;
        // the next batch starts on a line of its own.
        const { size } = await fh.stat();
        let prefix = '';
        if (size > 0) {
          const last = Buffer.alloc(1);
          await fh.read(last, 0, 1, size - 1);
          if (last[0] !== 0x0a) prefix = '\n';
        }
        await fh.appendFile(prefix + lines.join(''));
        // The engine accounts the batch once this returns.
        await fh.datasync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw fsError(err, `append to ${paths.pending}`);
    }
  });
  return { rejected };
}

/** Reads the change log line by line; unreadable lines (a torn last write) are skipped. */
async function* readLog(path: string, logger: Logger): AsyncGenerator<{ line: number; entry: LogEntry }> {
  const input = createReadStream(path, { encoding: 'utf8' });
  const rl = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of rl) {
      line++;
      if (text.trim() === '') continue;
      let entry: LogEntry;
      try {
        entry = JSON.parse(text) as LogEntry;
      } catch {
        logger.warn({ line }, 'csv_file: skipped an unreadable line of the change log (an interrupted write)');
        continue;
      }
      if (typeof entry?.key !== 'string' || (entry.op !== 'add' && entry.op !== 'update' && entry.op !== 'remove')) {
        logger.warn({ line }, 'csv_file: skipped a change log line of an unexpected shape');
        continue;
      }
      yield { line, entry };
    }
  } finally {
    // Closing readline leaves its input open; a generator left early must not leak the descriptor.
    rl.close();
    input.destroy();
  }
}

/** The delimiter an existing file was written with, read from its header ("key" then the delimiter). */
async function sniff(path: string): Promise<{ delimiter: CsvDelimiter; empty: boolean }> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(8);
    const { bytesRead } = await fh.read(buf, 0, 8, 0);
    if (bytesRead === 0) return { delimiter: ',', empty: true };
    let head = buf.subarray(0, bytesRead).toString('utf8');
    if (head.startsWith('\uFEFF')) head = head.slice(1);
    if (!head.startsWith('key')) {
      throw new ConnectorError(`${path} is not a file Roster wrote: expected a header starting with "key"`, 'FILE_NOT_ROSTER', false);
    }
    const next = head[3];
    if (next === ',' || next === ';' || next === '\t') return { delimiter: next, empty: false };
    if (next === undefined || next === '\n' || next === '\r') return { delimiter: ',', empty: false };
    throw new ConnectorError(`${path} is not a file Roster wrote: expected "key" then a delimiter in its header`, 'FILE_NOT_ROSTER', false);
  } finally {
    await fh.close();
  }
}

async function readHeader(path: string, delimiter: CsvDelimiter): Promise<string[]> {
  const input = createReadStream(path);
  const parser = input.pipe(parse({ delimiter, bom: true, to_line: 1, relax_column_count: true }));
  input.on('error', (err) => parser.destroy(err));
  try {
    for await (const record of parser) return record as string[];
    return [];
  } finally {
    parser.destroy();
    input.destroy();
  }
}

/**
 * Applies the change log to the file (see the top of this file). Idempotent;
 * without a log, only makes sure the file exists.
 */
async function applyLog(config: CsvFileConfig, audienceId: string, logger: Logger): Promise<void> {
  const paths = pathsOf(config, audienceId);
  const delimiter = config.delimiter ?? ',';
  await mkdir(config.directory, { recursive: true });
  const hasLog = await exists(paths.pending);
  const hasCsv = await exists(paths.csv);
  if (!hasLog) {
    if (!hasCsv) await writeAtomically(paths, Readable.from([['key']]), delimiter);
    return;
  }

  // Pass 1 over the log: the last operation per key, and the columns it brings.
  const last = new Map<string, { line: number; remove: boolean }>();
  const columns = new Set<string>(['key']);
  for await (const { line, entry } of readLog(paths.pending, logger)) {
    const remove = entry.op === 'remove';
    last.set(entry.key, { line, remove });
    if (remove) continue;
    for (const [type, value] of Object.entries(entry.identifiers ?? {})) {
      if (value !== null && value !== undefined) columns.add(identifierColumn(type));
    }
    for (const name of Object.keys(entry.fields ?? {})) columns.add(fieldColumn(name));
  }

  let old: { delimiter: CsvDelimiter; header: string[] } | null = null;
  if (hasCsv) {
    const sniffed = await sniff(paths.csv);
    if (!sniffed.empty) {
      const header = await readHeader(paths.csv, sniffed.delimiter);
      if (header[0] !== 'key') throw new ConnectorError(`${paths.csv} is not a file Roster wrote: expected a header starting with "key"`, 'FILE_NOT_ROSTER', false);
      old = { delimiter: sniffed.delimiter, header };
      for (const c of header) columns.add(c);
    }
  }
  const ordered = orderColumns(columns);
  const index = new Map(ordered.map((c, i) => [c, i]));

  async function* records(): AsyncGenerator<string[]> {
    yield ordered;
    if (old) {
      // The old file, minus every key the log touches, realigned to the new header.
      const from = old.header.map((c) => index.get(c) ?? -1);
      const input = createReadStream(paths.csv);
      const parser = input.pipe(parse({ delimiter: old.delimiter, bom: true, from_line: 2, relax_column_count: true }));
      // pipe() does not pass errors on: a read error must fail the rewrite.
      input.on('error', (err) => parser.destroy(err));
      try {
        for await (const record of parser as AsyncIterable<string[]>) {
          const key = record[0];
          if (key === undefined || last.has(key)) continue;
          const out = new Array<string>(ordered.length).fill('');
          for (let i = 0; i < record.length; i++) {
            const to = from[i];
            if (to !== undefined && to >= 0) out[to] = record[i] ?? '';
          }
          yield out;
        }
      } finally {
        parser.destroy();
        input.destroy();
      }
    }
    // Pass 2 over the log: each key's final upsert, in log order.
    for await (const { line, entry } of readLog(paths.pending, logger)) {
      const final = last.get(entry.key);
      if (!final || final.remove || final.line !== line) continue;
      const out = new Array<string>(ordered.length).fill('');
      out[0] = entry.key;
      for (const [type, value] of Object.entries(entry.identifiers ?? {})) {
        const i = index.get(identifierColumn(type));
        if (i !== undefined) out[i] = cellOf(value);
      }
      for (const [name, value] of Object.entries(entry.fields ?? {})) {
        const i = index.get(fieldColumn(name));
        if (i !== undefined) out[i] = cellOf(value);
      }
      yield out;
    }
  }

  await writeAtomically(paths, Readable.from(records()), delimiter);
  // Only now is the log applied for good; a crash before this line replays it.
  await unlink(paths.pending);
}

async function writeAtomically(paths: Paths, source: Readable, delimiter: CsvDelimiter): Promise<void> {
  try {
    await pipeline(source, stringify({ delimiter, record_delimiter: 'unix' }), createWriteStream(paths.tmp));
    await syncPath(paths.tmp, fsConstants.O_RDWR);
    await rename(paths.tmp, paths.csv);
    // The rename itself is durable once the directory is synced.
    await syncPath(join(paths.csv, '..')).catch(() => {});
  } catch (err) {
    await unlink(paths.tmp).catch(() => {});
    throw err;
  }
}

// ---------------------------------------------------------------------------

export const csvFileConnector: Connector<CsvFileConfig> = {
  type: 'csv_file',
  name: 'CSV file',
  spec: {
    category: 'FILE',
    configSchema: [
      { name: 'directory', type: 'path', required: true, secret: false, description: 'an absolute directory path for the audience files (created if missing)' },
      { name: 'delimiter', type: 'enum', required: false, secret: false, description: 'the column delimiter', enum: DELIMITERS, default: ',' },
    ],
    identifiers: Object.values(IdentifierType).map((type) => ({ type, hashed: false })),
    audiences: { canList: true, canCreate: true, types: [], defaultType: null },
    batchSize: CSV_FILE_BATCH_SIZE,
    rateLimit: null,
    requiresProfiles: false,
    reportsMatchRate: false,
    supportsUpdate: true,
  },

  validateConfig(config): ValidationProblem[] {
    if (!isAbsolute(config.directory)) {
      return [{ path: ['directory'], message: `expected an absolute path (starting with /), but got the relative path "${config.directory.slice(0, 200)}"` }];
    }
    return [];
  },

  async check(ctx) {
    const dir = ctx.config.directory;
    const probe = join(dir, `.roster-check-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(probe, 'ok');
      await unlink(probe);
    } catch (err) {
      await unlink(probe).catch(() => {});
      throw fsError(err, `write to the directory ${dir}`);
    }
  },

  async listAudiences(ctx) {
    let names: string[];
    try {
      const entries = await readdir(ctx.config.directory, { withFileTypes: true });
      names = entries.filter((e) => e.isFile() && e.name.endsWith('.csv')).map((e) => e.name);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return [];
      throw fsError(err, `list the directory ${ctx.config.directory}`);
    }
    const out: Audience[] = [];
    for (const name of names.sort(compare)) {
      const id = name.slice(0, -'.csv'.length);
      try {
        checkAudienceId(id);
      } catch {
        continue;
      }
      out.push({ id, name: id, type: null, size: null });
    }
    return out;
  },

  async createAudience(ctx, input) {
    const id = slugify(input.name);
    const paths = pathsOf(ctx.config, id);
    await withLock(paths.csv, async () => {
      try {
        await mkdir(ctx.config.directory, { recursive: true });
        // A header-only file, so the audience is listed before its first flush.
        await writeFile(paths.csv, 'key\n', { flag: 'wx' });
      } catch (err) {
        if ((err as { code?: unknown }).code === 'EEXIST') return;
        throw fsError(err, `create ${paths.csv}`);
      }
    });
    return { id, name: input.name, type: null };
  },

  add: (ctx, audience, rows) => appendToLog(ctx, audience, 'add', rows),
  update: (ctx, audience, rows) => appendToLog(ctx, audience, 'update', rows),
  remove: (ctx, audience, rows) => appendToLog(ctx, audience, 'remove', rows),

  async flush(ctx, audience) {
    const paths = pathsOf(ctx.config, audience.id);
    await withLock(paths.csv, async () => {
      try {
        await applyLog(ctx.config, audience.id, ctx.logger);
      } catch (err) {
        throw fsError(err, `rewrite ${paths.csv}`);
      }
    });
  },
};
