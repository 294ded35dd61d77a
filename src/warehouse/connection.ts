// Connections to a customer's warehouse (a PostgreSQL URL): parsing, checking,
// pooling, and turning driver errors into WarehouseErrors whose messages say
// what was expected and what happened, naming host, port, database and user
// but never the password.
import pg from 'pg';

export type WarehouseErrorCode =
  | 'INVALID_URL'
  | 'HOST_UNREACHABLE'
  | 'AUTH_FAILED'
  | 'DATABASE_NOT_FOUND'
  | 'TIMEOUT'
  | 'PERMISSION_DENIED'
  | 'UNSUPPORTED_VERSION'
  | 'QUERY_FAILED';

/** Where a warehouse lives: everything about a URL that may be shown. */
export interface WarehouseTarget {
  host: string;
  port: number;
  database: string;
  user: string;
}

export interface WarehouseErrorDetails {
  /** PostgreSQL's SQLSTATE (e.g. "42P01"), or Node's errno code (e.g. "ECONNREFUSED"). */
  sqlState?: string;
  /** 1-based character offset into the SQL the caller sent, when PostgreSQL gave one. */
  position?: number;
  /** PostgreSQL's hint, if any. */
  hint?: string;
}

export class WarehouseError extends Error {
  override name = 'WarehouseError';
  readonly code: WarehouseErrorCode;
  readonly sqlState?: string;
  readonly position?: number;
  readonly hint?: string;

  // The driver's original error is deliberately not kept as `cause`: loggers
  // serialise causes, and only this error's text has been checked for secrets.
  constructor(code: WarehouseErrorCode, message: string, details: WarehouseErrorDetails = {}) {
    super(message);
    this.code = code;
    if (details.sqlState !== undefined) this.sqlState = details.sqlState;
    if (details.position !== undefined) this.position = details.position;
    if (details.hint !== undefined) this.hint = details.hint;
  }
}

const EXAMPLE_URL = 'postgresql://user:password@host:5432/database';

/**
 * URL parameters passed on to node-postgres. Everything else is refused:
 * `sslrootcert`/`sslcert`/`sslkey` make the driver read files from Roster's
 * own disk, `host`/`user`/`password`/`options` would silently override or
 * extend what the URL's visible parts say.
 */
const ALLOWED_PARAMS = new Set(['sslmode', 'ssl', 'sslnegotiation', 'uselibpqcompat', 'application_name']);

interface ParsedUrl extends WarehouseTarget {
  displayUrl: string;
  password: string;
}

function invalidUrl(problem: string): WarehouseError {
  return new WarehouseError('INVALID_URL', `expected a PostgreSQL URL like ${EXAMPLE_URL}, but ${problem}`);
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalidUrl(`its ${what} has an invalid percent-encoding`);
  }
}

function parseWithPassword(url: string): ParsedUrl {
  if (typeof url !== 'string' || url.trim() === '') throw invalidUrl('got an empty string');
  const input = url.trim();

  // Only the scheme is ever echoed back, and only when it looks like one: the
  // rest of a string that fails to parse may be a password.
  const scheme = /^([a-z][a-z0-9+.-]{0,20}):\/\//i.exec(input)?.[1]?.toLowerCase();
  if (scheme === undefined) throw invalidUrl('got a string that does not start with postgresql://');
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    throw invalidUrl(`got the scheme "${scheme}://" (expected postgres:// or postgresql://)`);
  }

  // A '#' is most often an unencoded character in a password that cuts the URL short.
  if (input.includes('#')) throw invalidUrl('got one containing "#" (percent-encode it as %23 in the password)');
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    // The WHATWG parser refuses credentials without a host ("user:pw@/db").
    if (/^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#]*@)?(?=[/?:]|$)/i.test(input)) throw invalidUrl('got one without a host name');
    throw invalidUrl('got a string that is not a valid URL (percent-encode @, :, /, ?, # and spaces in the user name and password)');
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw invalidUrl('got one without a host name');
  const port = u.port === '' ? 5432 : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidUrl('got one with an invalid port');
  const path = u.pathname.replace(/^\//, '');
  if (path === '') throw invalidUrl('got one without a database name (the path after the host)');
  if (path.includes('/')) throw invalidUrl('got one whose path has more than one segment (expected /database)');
  const database = decode(path, 'database name');
  const user = decode(u.username, 'user name');
  if (user === '') throw invalidUrl('got one without a user name');
  const password = decode(u.password, 'password');

  for (const key of u.searchParams.keys()) {
    if (!ALLOWED_PARAMS.has(key)) {
      const shown = /^[a-z_]{1,40}$/i.test(key) ? `"${key}"` : 'a parameter';
      throw invalidUrl(`got ${shown} in its query string (only ${[...ALLOWED_PARAMS].join(', ')} are accepted)`);
    }
  }

  const hostPart = host.includes(':') ? `[${host}]` : host;
  const sslmode = u.searchParams.get('sslmode');
  const query = sslmode && /^[a-z-]+$/.test(sslmode) ? `?sslmode=${sslmode}` : '';
  const displayUrl = `${scheme}://${encodeURIComponent(user)}@${hostPart}:${port}/${encodeURIComponent(database)}${query}`;
  return { host, port, database, user, displayUrl, password };
}

/**
 * Reads a warehouse URL into the parts that may be shown. Accepts
 * `postgres://` and `postgresql://` with a user, a host and a database;
 * `displayUrl` is the URL without the password.
 */
export function parseWarehouseUrl(url: string): WarehouseTarget & { displayUrl: string } {
  const { password: _password, ...shown } = parseWithPassword(url);
  return shown;
}

function hostPort(target: Partial<WarehouseTarget>): string {
  const host = target.host ?? 'the warehouse';
  const h = host.includes(':') ? `[${host}]` : host;
  return target.port !== undefined ? `${h}:${target.port}` : h;
}

function hostPortDb(target: Partial<WarehouseTarget>): string {
  return target.database !== undefined ? `${hostPort(target)}/${target.database}` : hostPort(target);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Removes anything that may be a credential from a message that is about to
 * be copied from the server or the driver: the password itself (plain and
 * percent-encoded), URLs with credentials, and `password=` / `PASSWORD '…'`.
 */
export function redactSecrets(message: string, secrets: readonly string[] = []): string {
  let out = message;
  for (const secret of secrets) {
    // Very short passwords would garble every message; they are also the
    // least likely to be recognisable in one.
    if (!secret || secret.length < 4) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      out = out.replace(new RegExp(escapeRegExp(form), 'g'), '********');
    }
  }
  return out
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi, '$1:********@')
    .replace(/\b(password\s*=\s*)('[^']*'|"[^"]*"|\S+)/gi, '$1********')
    .replace(/\b(password\s+)('(?:[^']|'')*')/gi, "$1'********'");
}

interface DriverError {
  code?: unknown;
  message?: unknown;
  position?: unknown;
  hint?: unknown;
  errors?: unknown;
}

function errorCode(err: DriverError): string | undefined {
  if (typeof err.code === 'string') return err.code;
  // Node's "happy eyeballs" connect reports an AggregateError whose own code
  // may be missing; the attempts inside it carry one.
  if (Array.isArray(err.errors)) {
    for (const inner of err.errors) {
      const code = (inner as DriverError | null)?.code;
      if (typeof code === 'string') return code;
    }
  }
  return undefined;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  EHOSTDOWN: 'host is down',
  EADDRNOTAVAIL: 'address not available',
  ENOTFOUND: 'host name not found',
  EAI_NONAME: 'host name not found',
  EAI_FAIL: 'host name lookup failed',
  EAI_AGAIN: 'host name lookup failed temporarily',
  ENOENT: 'no such socket',
};

const TLS_CODES = /^(?:ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|ERR_OSSL_)/;

/**
 * Turns an error from node-postgres or PostgreSQL into a WarehouseError.
 * Connection problems get messages of our own; the server's text is copied
 * only for query errors, and then with anything resembling a credential
 * removed. `password`, when given, is redacted wherever it might appear.
 */
export function classifyPgError(
  err: unknown,
  target: Partial<WarehouseTarget> = {},
  opts: { password?: string; timeoutMs?: number } = {},
): WarehouseError {
  if (err instanceof WarehouseError) return err;
  const e: DriverError = typeof err === 'object' && err !== null ? (err as DriverError) : { message: String(err) };
  const code = errorCode(e);
  const rawMessage = typeof e.message === 'string' ? e.message : String(err);
  const secrets = opts.password ? [opts.password] : [];
  const serverMessage = redactSecrets(rawMessage, secrets);
  const hint = typeof e.hint === 'string' ? redactSecrets(e.hint, secrets) : undefined;
  const position = typeof e.position === 'string' && /^\d+$/.test(e.position) ? Number(e.position) : undefined;
  const user = target.user !== undefined ? `user "${target.user}"` : 'the user';
  const within = opts.timeoutMs !== undefined ? ` within ${opts.timeoutMs} ms` : '';
  const details = (extra: WarehouseErrorDetails = {}): WarehouseErrorDetails => ({
    ...(code !== undefined ? { sqlState: code } : {}),
    ...extra,
  });

  // SQLSTATEs are five characters of digits and capitals; errno codes start with E.
  const isSqlState = code !== undefined && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('E');

  if (isSqlState) {
    switch (code) {
      case '28P01':
        return new WarehouseError(
          'AUTH_FAILED',
          `password authentication failed for ${user} on ${hostPortDb(target)}; expected the password of that PostgreSQL role`,
          details(),
        );
      case '28000':
        return new WarehouseError(
          'AUTH_FAILED',
          `the server at ${hostPort(target)} rejected ${user} for database "${target.database ?? '?'}" (no pg_hba.conf rule admits it, or the role may not log in); expected a role allowed to connect from Roster's address`,
          details(),
        );
      case '3D000':
        return new WarehouseError(
          'DATABASE_NOT_FOUND',
          `database "${target.database ?? '?'}" does not exist on ${hostPort(target)}; expected an existing database name in the URL's path`,
          details(),
        );
      case '42501':
        return new WarehouseError(
          'PERMISSION_DENIED',
          `${user} lacks a privilege on ${hostPortDb(target)}: ${serverMessage}`,
          details({ ...(position !== undefined ? { position } : {}), ...(hint ? { hint } : {}) }),
        );
      case '57014':
        return new WarehouseError(
          'TIMEOUT',
          `the query on ${hostPortDb(target)} was cancelled (${serverMessage}); expected it to finish within the statement timeout`,
          details(),
        );
      case '53300':
        return new WarehouseError(
          'HOST_UNREACHABLE',
          `PostgreSQL at ${hostPort(target)} has no free connection slots (too many clients); expected it to accept one more connection`,
          details(),
        );
      case '57P03':
        return new WarehouseError(
          'HOST_UNREACHABLE',
          `PostgreSQL at ${hostPort(target)} is not accepting connections yet (${serverMessage}); expected a running server`,
          details(),
        );
    }
    if (code!.startsWith('08') || code!.startsWith('57P')) {
      return new WarehouseError(
        'HOST_UNREACHABLE',
        `lost the connection to PostgreSQL at ${hostPort(target)} (${serverMessage}); expected a stable connection`,
        details(),
      );
    }
    return new WarehouseError(
      'QUERY_FAILED',
      `PostgreSQL at ${hostPortDb(target)} reported: ${serverMessage}${hint ? ` (hint: ${hint})` : ''}`,
      details({ ...(position !== undefined ? { position } : {}), ...(hint ? { hint } : {}) }),
    );
  }

  if (code === 'ETIMEDOUT' || /connection timeout|timeout expired|timeout exceeded when trying to connect|query read timeout/i.test(rawMessage)) {
    const query = /query read timeout/i.test(rawMessage);
    return new WarehouseError(
      'TIMEOUT',
      query
        ? `no answer to a query from PostgreSQL at ${hostPortDb(target)}${within}; expected a result before the query timeout`
        : `timed out connecting to PostgreSQL at ${hostPort(target)}${within}; expected a server answering there (check the host, the port and firewalls)`,
      details(),
    );
  }
  if (code !== undefined && code in NETWORK_REASONS) {
    const reason = NETWORK_REASONS[code]!;
    const expected = /^E(?:NOTFOUND|AI_)/.test(code)
      ? `expected a host name that resolves (got "${target.host ?? '?'}")`
      : 'expected a server listening there';
    return new WarehouseError(
      'HOST_UNREACHABLE',
      `could not reach PostgreSQL at ${hostPort(target)} (${reason}); ${expected}`,
      details(),
    );
  }
  if ((code !== undefined && TLS_CODES.test(code)) || /\b(?:ssl|tls|certificate)\b/i.test(rawMessage)) {
    return new WarehouseError(
      'HOST_UNREACHABLE',
      `could not establish a secure connection to PostgreSQL at ${hostPort(target)} (${serverMessage}); expected TLS settings the server accepts (see the sslmode URL parameter)`,
      details(),
    );
  }
  if (/connection terminated|connection ended|not queryable|client has encountered a connection error/i.test(rawMessage)) {
    return new WarehouseError(
      'HOST_UNREACHABLE',
      `lost the connection to PostgreSQL at ${hostPort(target)} (${serverMessage}); expected a stable connection`,
      details(),
    );
  }
  return new WarehouseError(
    'QUERY_FAILED',
    `unexpected error talking to PostgreSQL at ${hostPortDb(target)}: ${serverMessage}`,
    details(),
  );
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/**
 * The oldest PostgreSQL a warehouse may run: sync plans hash rows with
 * hash_record_extended (src/sync/plan-sql.ts), new in PostgreSQL 14.
 */
const MIN_SERVER_VERSION_NUM = 140000;

/** The error for a server older than MIN_SERVER_VERSION_NUM, or null. */
export function unsupportedVersionError(versionNum: number, version: string, target: Partial<WarehouseTarget>): WarehouseError | null {
  if (!Number.isFinite(versionNum) || versionNum >= MIN_SERVER_VERSION_NUM) return null;
  const major = MIN_SERVER_VERSION_NUM / 10000;
  return new WarehouseError(
    'UNSUPPORTED_VERSION',
    `expected PostgreSQL ${major} or later on ${hostPortDb(target)} (sync plans hash rows with hash_record_extended, new in ${major}), but it runs ${version}`,
  );
}

/**
 * Connects, asks the server's version, disconnects. Any failure is a
 * classified WarehouseError (INVALID_URL before any network traffic), and
 * so is a server too old for Roster's SQL (UNSUPPORTED_VERSION).
 */
export async function checkWarehouse(url: string, opts: { timeoutMs?: number } = {}): Promise<{ serverVersion: string }> {
  const parsed = parseWithPassword(url);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const client = new pg.Client({
    connectionString: url.trim(),
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    // A client-side limit too, for a server that accepts the connection but never answers.
    query_timeout: timeoutMs,
    application_name: 'roster',
  });
  // Errors after connect() are emitted as events; unheard, they would crash the process.
  client.on('error', () => {});
  const classify = (err: unknown) => classifyPgError(err, parsed, { password: parsed.password, timeoutMs });
  try {
    await client.connect();
  } catch (err) {
    // A client that never connected may still hold a socket.
    await client.end().catch(() => {});
    throw classify(err);
  }
  let server: { version: string; num: string } | undefined;
  try {
    ({ rows: [server] } = await client.query<{ version: string; num: string }>(`SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num`));
  } catch (err) {
    throw classify(err);
  } finally {
    await client.end().catch(() => {});
  }
  const serverVersion = server?.version ?? 'unknown';
  const tooOld = unsupportedVersionError(Number(server?.num), serverVersion, parsed);
  if (tooOld) throw tooOld;
  return { serverVersion };
}

export interface WarehousePoolOptions {
  /** Connections per source (default 5). */
  max?: number;
  /** Connect timeout in ms (default 5 s). */
  connectTimeoutMs?: number;
  /** statement_timeout for every session, in ms (default 5 min). */
  statementTimeoutMs?: number;
  /** How long an idle connection is kept, in ms (default 30 s). */
  idleTimeoutMs?: number;
  /** Told about connections that fail while idle (already classified and redacted). */
  onError?: (sourceId: string, err: WarehouseError) => void;
}

/**
 * One pg.Pool per source, created on first use. Asking again with a changed
 * URL (new credentials, moved host) ends the old pool and starts a new one.
 */
export class WarehousePools {
  readonly #entries = new Map<string, { url: string; pool: pg.Pool }>();
  readonly #opts: WarehousePoolOptions;

  constructor(opts: WarehousePoolOptions = {}) {
    this.#opts = opts;
  }

  get(sourceId: string, url: string): pg.Pool {
    const existing = this.#entries.get(sourceId);
    if (existing && existing.url === url) return existing.pool;
    // Validates before anything is replaced, so a bad URL leaves a working pool in place.
    const parsed = parseWithPassword(url);
    if (existing) {
      this.#entries.delete(sourceId);
      // Clients still checked out finish their work; end() waits for them.
      existing.pool.end().catch(() => {});
    }
    const pool = new pg.Pool({
      connectionString: url.trim(),
      max: this.#opts.max ?? 5,
      connectionTimeoutMillis: this.#opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: this.#opts.idleTimeoutMs ?? 30_000,
      statement_timeout: this.#opts.statementTimeoutMs ?? 300_000,
      application_name: 'roster',
    });
    // An idle client that loses its connection emits 'error' on the pool;
    // without a listener that would crash the process.
    pool.on('error', (err) => {
      this.#opts.onError?.(sourceId, classifyPgError(err, parsed, { password: parsed.password }));
    });
    this.#entries.set(sourceId, { url, pool });
    return pool;
  }

  has(sourceId: string): boolean {
    return this.#entries.has(sourceId);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Ends one source's pool (e.g. when the source is deleted). */
  async close(sourceId: string): Promise<void> {
    const entry = this.#entries.get(sourceId);
    if (!entry) return;
    this.#entries.delete(sourceId);
    await entry.pool.end();
  }

  async closeAll(): Promise<void> {
    const pools = [...this.#entries.values()].map((e) => e.pool);
    this.#entries.clear();
    await Promise.allSettled(pools.map((p) => p.end()));
  }
}
