// A fake TikTok Business API v1.3 (customer-file audiences) on loopback,
// enforcing what src/connectors/tiktok/index.ts relies on:
// - the Access-Token header, and the advertiser the token may act for;
// - the { code, message, request_id, data } envelope, always with HTTP 200:
//   40001 for auth, 40002 for a bad parameter, 40100 when throttled;
// - file upload as multipart/form-data with advertiser_id, calculate_type,
//   file_signature (MD5 of the file, checked) and the file: a CSV whose
//   header names known columns, whose cells are 64 lower-case hex digits or
//   blank, at least one value per row, under the file size limit;
// - create / update with file_paths uploaded by the same advertiser and of
//   the audience's calculate_type; update's action defaulting to REPLACE,
//   which fails below 1,000 members;
// - list with page ≥ 1 and page_size 1–100, cover_num = floor(members × ratio).
// Audiences keep their members (one record per customer-file row) so a test
// asserts the exact membership. TikTok reports no per-row results: values
// listed in `rejectValues` make the upload that carries them fail whole,
// as a request with bad data does.
import { createHash } from 'node:crypto';
import {
  Refusal,
  SHA256_HEX,
  startFakeVendor,
  type FakePlatform,
  type FakeVendor,
  type Throttle,
  type VendorRequest,
  type VendorResponse,
} from './fake-vendor.js';

const API = '/open_api/v1.3';
const COLUMN_TYPES: Record<string, string> = { EMAIL_SHA256: 'EMAIL', PHONE_SHA256: 'PHONE', MAID_SHA256: 'MAID' };
const SINGLE_TYPES: Record<string, string> = { EMAIL_SHA256: 'EMAIL_SHA256', PHONE_SHA256: 'PHONE_SHA256', IDFA_SHA256: 'MAID_SHA256', GAID_SHA256: 'MAID_SHA256' };
const CALCULATE_TYPES = new Set(['MULTIPLE_TYPES', ...Object.keys(SINGLE_TYPES)]);

export interface TikTokFakeOptions {
  accessToken?: string;
  advertiserId?: string;
  matchRatio?: number;
  /** Largest customer file accepted, in bytes (TikTok: under 1 GB). */
  maxFileBytes?: number;
  /** Most audiences per list page, whatever page_size asks (to exercise paging). */
  pageSizeCap?: number;
  throttle?: Throttle;
}

interface StoredFile {
  advertiserId: string;
  calculateType: string;
  rows: Record<string, string>[];
}

interface FakeAudience {
  id: string;
  name: string;
  calculateType: string;
  createdAt: string;
  members: Map<string, Record<string, string>>;
}

export interface TikTokFake extends FakePlatform {
  accessToken: string;
  advertiserId: string;
  files: Map<string, StoredFile>;
  /** Every update applied, in order. */
  updates: { audienceId: string; action: string; filePaths: string[] }[];
  /** Hashed values that make an upload carrying them fail with code 40002. */
  rejectValues: Set<string>;
  /** Throttle answered the TikTok way: HTTP 200, code 40100, no Retry-After. */
  throttleWithCode(limit: number, windowMs: number): void;
}

let requestCounter = 0;
const requestId = () => `2024${String(++requestCounter).padStart(12, '0')}`;
const ok = (data: unknown): VendorResponse => ({ status: 200, body: { code: 0, message: 'OK', request_id: requestId(), data } });
const fail = (code: number, message: string): Refusal => new Refusal(200, message, { code, message, request_id: requestId(), data: {} });

/** The parts of a multipart/form-data body (RFC 7578): text fields and files by name. */
function parseMultipart(req: VendorRequest): Map<string, { value: string; filename?: string }> {
  const type = String(req.headers['content-type'] ?? '');
  const m = /^multipart\/form-data;\s*boundary="?([^";]+)"?/i.exec(type);
  if (!m) throw fail(40002, `expected Content-Type multipart/form-data with a boundary, but got "${type}"`);
  const parts = new Map<string, { value: string; filename?: string }>();
  const chunks = req.rawBody.split(`--${m[1]}`);
  if (chunks.length < 3 || !chunks[chunks.length - 1]!.startsWith('--')) throw fail(40002, 'multipart body is not terminated by the closing boundary');
  for (const chunk of chunks.slice(1, -1)) {
    const sep = chunk.indexOf('\r\n\r\n');
    if (!chunk.startsWith('\r\n') || sep === -1 || !chunk.endsWith('\r\n')) throw fail(40002, 'malformed multipart part');
    const head = chunk.slice(2, sep);
    const disposition = /content-disposition:\s*form-data;\s*name="([^"]+)"(?:;\s*filename="([^"]*)")?/i.exec(head);
    if (!disposition) throw fail(40002, 'multipart part without Content-Disposition: form-data; name=…');
    parts.set(disposition[1]!, { value: chunk.slice(sep + 4, -2), ...(disposition[2] !== undefined ? { filename: disposition[2] } : {}) });
  }
  return parts;
}

/** A customer file's rows by Roster identifier type, checked against calculate_type. */
function parseCustomerFile(csv: string, calculateType: string): Record<string, string>[] {
  const lines = csv.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim().toUpperCase());
  if (header.length === 0 || header[0] === '') throw fail(40002, 'customer file has no header row');
  for (const h of header) if (!(h in COLUMN_TYPES)) throw fail(40002, `customer file header "${h}" is not one of ${Object.keys(COLUMN_TYPES).join(', ')}`);
  if (new Set(header).size !== header.length) throw fail(40002, 'customer file header repeats a column');
  if (calculateType !== 'MULTIPLE_TYPES' && (header.length !== 1 || SINGLE_TYPES[calculateType] !== header[0])) {
    throw fail(40002, `calculate_type ${calculateType} expects one column ${SINGLE_TYPES[calculateType]}, but the header is ${header.join(',')}`);
  }
  return lines.map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== header.length) throw fail(40002, `customer file line ${i + 2} has ${cells.length} cells; expected ${header.length}`);
    const row: Record<string, string> = {};
    cells.forEach((cell, c) => {
      if (cell === '') return;
      if (!SHA256_HEX.test(cell)) throw fail(40002, `customer file line ${i + 2}, column ${header[c]}: expected 64 lower-case hex digits (SHA-256)`);
      row[COLUMN_TYPES[header[c]!]!] = cell;
    });
    if (Object.keys(row).length === 0) throw fail(40002, `customer file line ${i + 2} holds no identifier`);
    return row;
  });
}

const memberKey = (m: Record<string, string>) => JSON.stringify(['EMAIL', 'PHONE', 'MAID'].map((t) => m[t] ?? null));

export async function startTikTokFake(opts: TikTokFakeOptions = {}): Promise<TikTokFake> {
  const accessToken = opts.accessToken ?? 'tt-access-5f1c9e0b7a';
  const advertiserId = opts.advertiserId ?? '7012345678901234567';
  const maxFileBytes = opts.maxFileBytes ?? 1_000_000_000;
  const pageSizeCap = opts.pageSizeCap ?? 100;
  let matchRatio = opts.matchRatio ?? 0.8;
  const files = new Map<string, StoredFile>();
  const audiences: FakeAudience[] = [];
  const updates: TikTokFake['updates'] = [];
  const rejectValues = new Set<string>();
  let nextAudience = 7_300_000_001;
  let nextFile = 1;

  const requireAdvertiser = (value: unknown) => {
    if (typeof value !== 'string' || value === '') throw fail(40002, 'advertiser_id: expected a non-empty string');
    if (value !== advertiserId) throw fail(40001, `no permission to operate advertiser ${value}`);
  };
  const bodyOf = (req: VendorRequest): Record<string, unknown> => {
    if (req.json === null || typeof req.json !== 'object' || Array.isArray(req.json)) throw fail(40002, 'expected a JSON object body');
    return req.json as Record<string, unknown>;
  };
  const filesFor = (paths: unknown, calculateType: string): StoredFile[] => {
    if (!Array.isArray(paths) || paths.length === 0) throw fail(40002, 'file_paths: expected a non-empty list');
    return paths.map((p) => {
      const f = typeof p === 'string' ? files.get(p) : undefined;
      if (!f || f.advertiserId !== advertiserId) throw fail(40002, `file_paths: unknown file path ${String(p)}`);
      if (f.calculateType !== calculateType) throw fail(40002, `file_paths: file of calculate_type ${f.calculateType}, audience expects ${calculateType}`);
      return f;
    });
  };
  const cover = (a: FakeAudience) => Math.floor(a.members.size * matchRatio);
  const listed = (a: FakeAudience) => ({
    audience_id: a.id,
    name: a.name,
    audience_type: 'Customer File Audience',
    calculate_type: a.calculateType,
    cover_num: cover(a),
    is_valid: true,
    is_expiring: false,
    is_creator: true,
    shared: false,
    create_time: a.createdAt,
  });

  const vendor: FakeVendor = await startFakeVendor({
    name: 'TikTok',
    auth: (req) => {
      const token = req.headers['access-token'];
      if (token === undefined) return 'missing Access-Token header';
      if (token !== accessToken) return 'Access-Token is not the expected token';
      return undefined;
    },
    authFailure: (why) => ({ status: 200, body: { code: 40001, message: why, request_id: requestId(), data: {} } }),
    ...(opts.throttle ? { throttle: opts.throttle } : {}),
    notFound: () => ({ code: 40002, message: 'no such endpoint', request_id: requestId(), data: {} }),
    routes: [
      {
        method: 'GET',
        path: `${API}/dmp/custom_audience/list/`,
        handler: (req) => {
          requireAdvertiser(req.query.get('advertiser_id') ?? undefined);
          const page = Number(req.query.get('page') ?? '1');
          const pageSize = Number(req.query.get('page_size') ?? '10');
          if (!Number.isInteger(page) || page < 1) throw fail(40002, 'page: expected an integer ≥ 1');
          if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) throw fail(40002, 'page_size: expected an integer from 1 to 100');
          let selected = audiences;
          const idsParam = req.query.get('custom_audience_ids');
          if (idsParam !== null) {
            let ids: unknown;
            try {
              ids = JSON.parse(idsParam);
            } catch {
              ids = undefined;
            }
            if (!Array.isArray(ids) || ids.length < 1 || ids.length > 100) throw fail(40002, 'custom_audience_ids: expected a JSON list of 1 to 100 ids');
            selected = audiences.filter((a) => ids.includes(a.id));
          }
          const size = Math.min(pageSize, pageSizeCap);
          const totalPage = Math.max(1, Math.ceil(selected.length / size));
          return ok({
            list: selected.slice((page - 1) * size, page * size).map(listed),
            page_info: { page, page_size: size, total_number: selected.length, total_page: totalPage },
          });
        },
      },
      {
        method: 'POST',
        path: `${API}/dmp/custom_audience/file/upload/`,
        handler: (req) => {
          const parts = parseMultipart(req);
          requireAdvertiser(parts.get('advertiser_id')?.value);
          const calculateType = parts.get('calculate_type')?.value ?? '';
          if (!CALCULATE_TYPES.has(calculateType)) throw fail(40002, `calculate_type: "${calculateType}" is not a supported encryption type`);
          const file = parts.get('file');
          if (!file || file.filename === undefined) throw fail(40002, 'file: expected a file part');
          if (Buffer.byteLength(file.value, 'utf8') >= maxFileBytes) throw fail(40002, `file: larger than the ${maxFileBytes}-byte limit`);
          const signature = parts.get('file_signature')?.value;
          if (signature !== createHash('md5').update(file.value, 'utf8').digest('hex')) throw fail(40002, 'file_signature: not the MD5 of the file');
          const rows = parseCustomerFile(file.value, calculateType);
          // A vendor-side refusal of the data, not a contract violation: answered, not recorded as refused.
          const bad = rows.findIndex((r) => Object.values(r).some((v) => rejectValues.has(v)));
          if (bad !== -1) return { status: 200, body: { code: 40002, message: `customer file line ${bad + 2}: invalid data`, request_id: requestId(), data: {} } };
          const path = `dmp/customer_file/${advertiserId}/${nextFile++}.csv`;
          files.set(path, { advertiserId, calculateType, rows });
          return ok({ file_path: path });
        },
      },
      {
        method: 'POST',
        path: `${API}/dmp/custom_audience/create/`,
        handler: (req) => {
          const body = bodyOf(req);
          requireAdvertiser(body.advertiser_id);
          const name = body.custom_audience_name;
          if (typeof name !== 'string' || name.length < 1 || [...name].length > 128) throw fail(40002, 'custom_audience_name: expected 1 to 128 characters');
          const calculateType = String(body.calculate_type ?? '');
          if (!CALCULATE_TYPES.has(calculateType)) throw fail(40002, `calculate_type: "${calculateType}" is not a supported encryption type`);
          const stored = filesFor(body.file_paths, calculateType);
          const audience: FakeAudience = { id: String(nextAudience++), name, calculateType, createdAt: new Date().toISOString(), members: new Map() };
          for (const f of stored) for (const row of f.rows) audience.members.set(memberKey(row), row);
          audiences.push(audience);
          return ok({ custom_audience_id: audience.id });
        },
      },
      {
        method: 'POST',
        path: `${API}/dmp/custom_audience/update/`,
        handler: (req) => {
          const body = bodyOf(req);
          requireAdvertiser(body.advertiser_id);
          const audience = audiences.find((a) => a.id === body.custom_audience_id);
          if (!audience) throw fail(40002, `custom_audience_id: no audience ${String(body.custom_audience_id)}`);
          // Absent, the action is REPLACE (SDK docs) — a connector that forgets it wipes the audience.
          const action = body.action === undefined ? 'REPLACE' : String(body.action);
          if (!['APPEND', 'REMOVE', 'REPLACE'].includes(action)) throw fail(40002, `action: "${action}" is not APPEND, REMOVE or REPLACE`);
          const stored = filesFor(body.file_paths, audience.calculateType);
          const rows = stored.flatMap((f) => f.rows);
          if (action === 'REPLACE') {
            const replaced = new Map(rows.map((r) => [memberKey(r), r]));
            if (replaced.size < 1_000) throw fail(40002, 'REPLACE would leave the audience with fewer than 1,000 members');
            audience.members = replaced;
          } else if (action === 'APPEND') {
            for (const r of rows) audience.members.set(memberKey(r), r);
          } else {
            // Only data that coincides with the audience's is removed.
            for (const [key, m] of audience.members) {
              if (rows.some((r) => Object.entries(r).some(([t, v]) => m[t] === v))) audience.members.delete(key);
            }
          }
          updates.push({ audienceId: audience.id, action, filePaths: body.file_paths as string[] });
          return ok({});
        },
      },
    ],
  });

  return {
    vendor,
    type: 'tiktok',
    accessToken,
    advertiserId,
    config: { baseUrl: `${vendor.url}${API}`, accessToken, advertiserId },
    files,
    updates,
    rejectValues,
    audiences: () => audiences.map((a) => ({ id: a.id, name: a.name, type: 'Customer File Audience' })),
    members: (id) => [...(audiences.find((a) => a.id === id)?.members.values() ?? [])].map((m) => ({ ...m })),
    setMatchRatio: (r) => void (matchRatio = r),
    throttleWithCode(limit, windowMs) {
      vendor.setThrottle({ limit, windowMs, status: 200, retryAfter: false, body: { code: 40100, message: 'Too many requests', request_id: requestId(), data: {} } });
    },
    close: () => vendor.close(),
  };
}
