import { afterAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '../support/db.js';
import { freePort } from '../../src/embedded.js';
import {
  checkWarehouse,
  classifyPgError,
  parseWarehouseUrl,
  redactSecrets,
  unsupportedVersionError,
  WarehouseError,
  WarehousePools,
  type WarehouseErrorCode,
} from '../../src/warehouse/connection.js';
import { failureOf } from '../support/failures.js';

const t = await useTestDatabase();
const base = new URL(t.url);
const realPassword = decodeURIComponent(base.password);
const host = base.hostname;
const port = Number(base.port);
const database = decodeURIComponent(base.pathname.slice(1));

function withParts(parts: { user?: string; password?: string; database?: string; host?: string; port?: number }): string {
  const u = new URL(t.url);
  if (parts.user !== undefined) u.username = encodeURIComponent(parts.user);
  if (parts.password !== undefined) u.password = encodeURIComponent(parts.password);
  if (parts.database !== undefined) u.pathname = `/${encodeURIComponent(parts.database)}`;
  if (parts.host !== undefined) u.hostname = parts.host;
  if (parts.port !== undefined) u.port = String(parts.port);
  return u.toString();
}

const failure = (promise: Promise<unknown>) => failureOf(promise, WarehouseError);

function thrown(fn: () => unknown): WarehouseError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WarehouseError);
    return err as WarehouseError;
  }
  throw new Error('expected a WarehouseError, but the call returned');
}

describe('parseWarehouseUrl', () => {
  it('reads host, port, database and user, and shows the URL without its password', () => {
    expect(parseWarehouseUrl('postgresql://roster:s3cret@db.example.com:5433/analytics')).toEqual({
      host: 'db.example.com',
      port: 5433,
      database: 'analytics',
      user: 'roster',
      displayUrl: 'postgresql://roster@db.example.com:5433/analytics',
    });
  });

  it('accepts postgres:// and defaults the port to 5432', () => {
    const p = parseWarehouseUrl('postgres://roster:pw@db.example.com/analytics');
    expect(p.port).toBe(5432);
    expect(p.displayUrl).toBe('postgres://roster@db.example.com:5432/analytics');
  });

  it('decodes percent-encoded parts and keeps sslmode in the display URL', () => {
    const p = parseWarehouseUrl('postgresql://data%40team:p%40ss%23w0rd@10.0.0.5:5432/my%20db?sslmode=require');
    expect(p.user).toBe('data@team');
    expect(p.database).toBe('my db');
    expect(p.displayUrl).toBe('postgresql://data%40team@10.0.0.5:5432/my%20db?sslmode=require');
    expect(p.displayUrl).not.toContain('w0rd');
  });

  it('reads IPv6 hosts', () => {
    const p = parseWarehouseUrl('postgresql://roster:pw@[::1]:6543/analytics');
    expect(p.host).toBe('::1');
    expect(p.displayUrl).toBe('postgresql://roster@[::1]:6543/analytics');
  });

  const secret = 'Sup3r-Secret-Pw';
  it.each([
    ['a MySQL URL', `mysql://roster:${secret}@db.example.com/analytics`, 'scheme "mysql://"'],
    ['no scheme', `roster:${secret}@db.example.com/analytics`, 'does not start with postgresql://'],
    ['no host', `postgresql://roster:${secret}@/analytics`, 'without a host'],
    ['no host and no credentials', 'postgresql:///analytics', 'without a host'],
    ['no database', `postgresql://roster:${secret}@db.example.com:5432`, 'without a database name'],
    ['an empty database', `postgresql://roster:${secret}@db.example.com:5432/`, 'without a database name'],
    ['no user', 'postgresql://db.example.com/analytics', 'without a user name'],
    ['a bad port', `postgresql://roster:${secret}@db.example.com:99999/analytics`, 'not a valid URL'],
    ['an unencoded # in the password', `postgresql://roster:${secret}#x@db.example.com/analytics`, '%23'],
    ['an unencoded @/? in the password', `postgresql://roster:${secret}?x@db.example.com/analytics`, 'not a valid URL'],
    ['a file-reading parameter', `postgresql://roster:${secret}@db.example.com/analytics?sslrootcert=/etc/passwd`, '"sslrootcert"'],
    ['a password parameter', `postgresql://roster@db.example.com/analytics?password=${secret}`, '"password"'],
    ['an empty string', '   ', 'empty string'],
  ])('refuses %s with INVALID_URL, never echoing the password', (_label, url, mention) => {
    const err = thrown(() => parseWarehouseUrl(url));
    expect(err.code).toBe<WarehouseErrorCode>('INVALID_URL');
    expect(err.message).toContain('expected a PostgreSQL URL like postgresql://user:password@host:5432/database');
    expect(err.message).toContain(mention);
    expect(err.message).not.toContain(secret);
    expect(err.message).not.toContain('db.example.com');
  });
});

describe('redactSecrets and classifyPgError', () => {
  it('removes passwords, credentials in URLs and password= settings', () => {
    const out = redactSecrets(
      `failed: postgresql://roster:hunter22@db/x password=hunter22 ALTER ROLE x PASSWORD 'hunter22' and p%40ss-word`,
      ['hunter22', 'p@ss-word'],
    );
    expect(out).not.toContain('hunter22');
    expect(out).not.toContain('p%40ss-word');
    expect(out).toContain('postgresql://roster:********@db/x');
  });

  it('maps SQLSTATEs and errno codes', () => {
    const target = { host: 'db.example.com', port: 5432, database: 'analytics', user: 'roster' };
    const cases: [object, WarehouseErrorCode, string][] = [
      [{ code: '28P01', message: 'x' }, 'AUTH_FAILED', 'password authentication failed for user "roster" on db.example.com:5432/analytics'],
      [{ code: '28000', message: 'x' }, 'AUTH_FAILED', 'rejected user "roster"'],
      [{ code: '3D000', message: 'x' }, 'DATABASE_NOT_FOUND', 'database "analytics" does not exist on db.example.com:5432'],
      [{ code: '42501', message: 'permission denied for table t' }, 'PERMISSION_DENIED', 'permission denied for table t'],
      [{ code: '57014', message: 'canceling statement due to statement timeout' }, 'TIMEOUT', 'statement timeout'],
      [{ code: 'ECONNREFUSED', message: 'x' }, 'HOST_UNREACHABLE', 'could not reach PostgreSQL at db.example.com:5432 (connection refused); expected a server listening there'],
      [{ code: 'ENOTFOUND', message: 'x' }, 'HOST_UNREACHABLE', 'host name not found'],
      [{ code: 'EAI_AGAIN', message: 'x' }, 'HOST_UNREACHABLE', 'lookup failed temporarily'],
      [{ code: 'EHOSTUNREACH', message: 'x' }, 'HOST_UNREACHABLE', 'no route to host'],
      [{ code: 'ETIMEDOUT', message: 'x' }, 'TIMEOUT', 'timed out connecting'],
      [new Error('Connection terminated due to connection timeout'), 'TIMEOUT', 'timed out connecting'],
      [new Error('timeout exceeded when trying to connect'), 'TIMEOUT', 'timed out connecting'],
      [Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), {}), 'HOST_UNREACHABLE', 'connection refused'],
      [{ code: '42P01', message: 'relation "x" does not exist', position: '15' }, 'QUERY_FAILED', 'relation "x" does not exist'],
    ];
    for (const [err, code, text] of cases) {
      const w = classifyPgError(err, target);
      expect(w.code, JSON.stringify(err)).toBe(code);
      expect(w.message).toContain(text);
    }
    expect(classifyPgError({ code: '42P01', message: 'x', position: '15' }, target).position).toBe(15);
  });

  it('never copies the password from a message, even in an unknown error', () => {
    const w = classifyPgError(new Error('weird failure mentioning Tr0ub4dor&3'), {}, { password: 'Tr0ub4dor&3' });
    expect(w.message).not.toContain('Tr0ub4dor&3');
    const auth = classifyPgError({ code: '28P01', message: 'password Tr0ub4dor&3 wrong' }, { user: 'roster' });
    expect(auth.message).not.toContain('Tr0ub4dor&3');
  });
});

describe('checkWarehouse', () => {
  it('connects and reports the server version', async () => {
    const { serverVersion } = await checkWarehouse(t.url);
    expect(serverVersion).toMatch(/^\d+(\.\d+)?/);
  });

  it('UNSUPPORTED_VERSION for a server older than PostgreSQL 14, whose SQL sync plans need', () => {
    const target = { host: 'wh.example', port: 5432, database: 'dw' };
    const err = unsupportedVersionError(130012, '13.12', target)!;
    expect(err).toBeInstanceOf(WarehouseError);
    expect(err.code).toBe('UNSUPPORTED_VERSION');
    expect(err.message).toBe('expected PostgreSQL 14 or later on wh.example:5432/dw (sync plans hash rows with hash_record_extended, new in 14), but it runs 13.12');
    expect(unsupportedVersionError(140000, '14.0', target)).toBeNull();
    expect(unsupportedVersionError(170002, '17.2 (Debian 17.2-1)', target)).toBeNull();
    // A server that does not say is given the benefit of the doubt (the plan's own error would follow).
    expect(unsupportedVersionError(Number(undefined), 'unknown', target)).toBeNull();
  });

  it('HOST_UNREACHABLE for a loopback port nobody listens on', async () => {
    const unused = await freePort();
    const err = await failure(checkWarehouse(withParts({ port: unused })));
    expect(err.code).toBe('HOST_UNREACHABLE');
    expect(err.message).toBe(
      `could not reach PostgreSQL at ${host}:${unused} (connection refused); expected a server listening there`,
    );
  });

  it('HOST_UNREACHABLE for a host name that does not resolve', async () => {
    const err = await failure(checkWarehouse(withParts({ host: 'nohost.invalid' }), { timeoutMs: 10_000 }));
    expect(err.code).toBe('HOST_UNREACHABLE');
    expect(err.message).toContain(`could not reach PostgreSQL at nohost.invalid:${port}`);
    expect(err.message).toContain('expected a host name that resolves');
  });

  it.skipIf(!inject('pgChecksPasswords'))('AUTH_FAILED for a wrong password, which the message never contains', async () => {
    const wrong = `Wr0ng-${randomBytes(6).toString('hex')}`;
    const err = await failure(checkWarehouse(withParts({ password: wrong })));
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toBe(
      `password authentication failed for user "${decodeURIComponent(base.username)}" on ${host}:${port}/${database}; expected the password of that PostgreSQL role`,
    );
    expect(err.message).not.toContain(wrong);
    expect(err.message).not.toContain(realPassword);
    expect(JSON.stringify(err)).not.toContain(wrong);
  });

  it('AUTH_FAILED for a role that may not log in', async () => {
    const role = `rt_nologin_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: t.adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE ${role} NOLOGIN PASSWORD 'NoLogin-pw-1'`);
      const err = await failure(checkWarehouse(withParts({ user: role, password: 'NoLogin-pw-1' })));
      expect(err.code).toBe('AUTH_FAILED');
      expect(err.message).toContain(`user "${role}"`);
      expect(err.message).not.toContain('NoLogin-pw-1');
    } finally {
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it('DATABASE_NOT_FOUND for a database that does not exist', async () => {
    const err = await failure(checkWarehouse(withParts({ database: 'rt_no_such_db' })));
    expect(err.code).toBe('DATABASE_NOT_FOUND');
    expect(err.message).toContain(`database "rt_no_such_db" does not exist on ${host}:${port}`);
    expect(err.message).not.toContain(realPassword);
  });

  it('TIMEOUT for a server that accepts connections but never answers', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const err = await failure(checkWarehouse(withParts({ port: silentPort }), { timeoutMs: 300 }));
      expect(err.code).toBe('TIMEOUT');
      expect(err.message).toBe(
        `timed out connecting to PostgreSQL at ${host}:${silentPort} within 300 ms; expected a server answering there (check the host, the port and firewalls)`,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('INVALID_URL before any connection attempt', async () => {
    const err = await failure(checkWarehouse('mysql://roster:Secret-123@localhost/x'));
    expect(err.code).toBe('INVALID_URL');
    expect(err.message).not.toContain('Secret-123');
  });
});

describe('WarehousePools', () => {
  const pools = new WarehousePools({ max: 2 });
  afterAll(() => pools.closeAll());

  it('reuses one pool per source and URL', async () => {
    const a = pools.get('src_a', t.url);
    expect(pools.get('src_a', t.url)).toBe(a);
    const b = pools.get('src_b', t.url);
    expect(b).not.toBe(a);
    const { rows } = await a.query<{ name: string }>(`SELECT current_setting('application_name') AS name`);
    expect(rows[0]!.name).toBe('roster');
    expect(a.options.max).toBe(2);
  });

  it('sets a statement timeout on its sessions', async () => {
    const short = new WarehousePools({ statementTimeoutMs: 1234 });
    try {
      const { rows } = await short.get('s', t.url).query<{ v: string }>(`SELECT current_setting('statement_timeout') AS v`);
      expect(rows[0]!.v).toBe('1234ms');
    } finally {
      await short.closeAll();
    }
  });

  it('replaces and ends the pool when the URL of a source changes', async () => {
    const old = pools.get('src_c', t.url);
    await old.query('SELECT 1');
    const changed = `${t.url}${t.url.includes('?') ? '&' : '?'}application_name=roster`;
    const replacement = pools.get('src_c', changed);
    expect(replacement).not.toBe(old);
    expect(pools.get('src_c', changed)).toBe(replacement);
    await replacement.query('SELECT 1');
    await expect(old.query('SELECT 1')).rejects.toThrow();
  });

  it('keeps the working pool when asked with an invalid URL', () => {
    const ok = pools.get('src_d', t.url);
    expect(() => pools.get('src_d', 'mysql://x:y@z/w')).toThrow(WarehouseError);
    expect(pools.get('src_d', t.url)).toBe(ok);
  });

  it('survives an idle connection being killed, and reports it classified', async () => {
    const errors: WarehouseError[] = [];
    const own = new WarehousePools({ onError: (_id, err) => errors.push(err) });
    try {
      const pool = own.get('victim', t.url);
      const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const admin = new pg.Client({ connectionString: t.adminUrl });
      await admin.connect();
      try {
        await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      } finally {
        await admin.end();
      }
      for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(WarehouseError);
      expect(errors[0]!.message).not.toContain(realPassword);
      // The pool replaces the lost connection on the next query.
      await expect(pool.query('SELECT 1')).resolves.toBeDefined();
    } finally {
      await own.closeAll();
    }
  });

  it('closeAll ends every pool', async () => {
    const own = new WarehousePools();
    const p1 = own.get('one', t.url);
    const p2 = own.get('two', t.url);
    await p1.query('SELECT 1');
    await own.closeAll();
    expect(own.size).toBe(0);
    await expect(p1.query('SELECT 1')).rejects.toThrow();
    await expect(p2.query('SELECT 1')).rejects.toThrow();
  });
});
