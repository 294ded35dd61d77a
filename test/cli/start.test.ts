// `roster start` as a user runs it: a child process, on port 0, stopped by a
// signal. Once against a database URL, once with the embedded default.
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '../support/db.js';

const t = await useTestDatabase();
const ROOT = new URL('../../', import.meta.url).pathname;

interface Started {
  child: ChildProcess;
  url: string;
  token: string;
  output: () => string;
}

function startRoster(env: Record<string, string>, args: string[] = [], opts: { ownGroup?: boolean } = {}): Promise<Started> {
  const child = spawn(process.execPath, ['bin/roster.js', 'start', '--demo-users', '300', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, as a shell gives a command it runs: a Ctrl-C signals that whole group.
    detached: opts.ownGroup ?? false,
  });
  let out = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  child.stderr!.on('data', (chunk) => (out += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`roster start did not become ready in 90 s:\n${out}`)), 90_000);
    const check = () => {
      const url = /GraphiQL:\s+(\S+)/.exec(out)?.[1];
      const token = /Admin token \(demo workspace\): (\S+)/.exec(out)?.[1];
      if (url && token) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve({ child, url, token, output: () => out });
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`roster start exited with ${code} before it was ready:\n${out}`));
    });
  });
}

function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}

const DONE_WHEN = '{ viewer { workspace { name } } entities { edges { node { name kind } } } }';

async function query(url: string, token: string, q: string) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: q }) });
  return res.json() as Promise<{ data: any; errors?: unknown[] }>;
}

const DEMO_ENTITIES = [
  { name: 'Companies', kind: 'COMPANY' },
  { name: 'Product events', kind: 'OTHER' },
  { name: 'Purchases', kind: 'OTHER' },
  { name: 'Users', kind: 'PERSON' },
];

function sortedEntities(data: any) {
  return data.entities.edges.map((e: any) => e.node).sort((a: any, b: any) => a.name.localeCompare(b.name));
}

describe('roster start', () => {
  it('on an empty database: migrates, creates the demo workspace, serves it, and stops on SIGTERM', async () => {
    const url = await t.createEmptyDatabase('start');
    const env = { DATABASE_URL: url, ROSTER_SECRET_KEY: randomBytes(32).toString('hex') };
    const roster = await startRoster(env);
    try {
      const res = await query(roster.url, roster.token, DONE_WHEN);
      expect(res.errors).toBeUndefined();
      expect(res.data.viewer.workspace.name).toBe('Demo');
      expect(sortedEntities(res.data)).toEqual(DEMO_ENTITIES);
      const rels = await query(roster.url, roster.token, '{ entity(name: "Users") { relationships { name kind toEntity { name } } } }');
      expect(rels.data.entity.relationships.map((r: any) => r.name).sort()).toEqual(['company', 'events', 'purchases']);
    } finally {
      expect(await stop(roster.child)).toBe(0);
    }

    // A second start finds the workspace and does not create another.
    const again = spawn(process.execPath, ['bin/roster.js', 'start'], { cwd: ROOT, env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    again.stdout!.on('data', (c) => (out += c));
    await new Promise<void>((resolve) => again.stdout!.on('data', () => /GraphiQL/.test(out) && resolve()));
    expect(out).not.toMatch(/Admin token/);
    expect(await stop(again, 'SIGINT')).toBe(0);
  });

  it('with no DATABASE_URL: starts an embedded PostgreSQL, keeps key and token in the data folder, and leaves no process behind', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'roster-start-'));
    await chmod(dataDir, 0o755);
    try {
      const roster = await startRoster({ ROSTER_DATA_DIR: dataDir });
      const pidFile = join(dataDir, 'pg', 'postmaster.pid');
      let postgresPid: number;
      try {
        const res = await query(roster.url, roster.token, DONE_WHEN);
        expect(sortedEntities(res.data)).toEqual(DEMO_ENTITIES);
        expect(existsSync(join(dataDir, 'secret.key'))).toBe(true);
        expect((await readFile(join(dataDir, 'demo-token'), 'utf8')).trim()).toBe(roster.token);
        postgresPid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
        expect(() => process.kill(postgresPid, 0)).not.toThrow();
      } finally {
        expect(await stop(roster.child)).toBe(0);
      }
      // The embedded cluster stopped with the process.
      expect(() => process.kill(postgresPid!, 0)).toThrow();
      expect(existsSync(pidFile)).toBe(false);

      // Restarting reuses the data folder and prints the same token.
      const again = await startRoster({ ROSTER_DATA_DIR: dataDir }, [], { ownGroup: true });
      expect(again.token).toBe(roster.token);
      // Ctrl-C in a terminal: SIGINT to the whole process group. The cluster is not in it, so it stops
      // last, after Roster closed its connections (before, it cut them at once and pg-boss logged errors).
      const exited = new Promise<number | null>((resolve) => again.child.once('exit', resolve));
      process.kill(-again.child.pid!, 'SIGINT');
      expect(await exited).toBe(0);
      expect(again.output()).not.toMatch(/terminating connection|pg-boss error/);
      expect(existsSync(pidFile)).toBe(false);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('roster CLI', () => {
  function run(args: string[], env: Record<string, string> = {}) {
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['bin/roster.js', ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.stderr.on('data', (c) => (stderr += c));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('prints help', async () => {
    const res = await run(['--help']);
    expect(res.code).toBe(0);
    for (const command of ['start', 'serve', 'worker', 'migrate', 'token', 'demo']) expect(res.stdout).toContain(command);
  });

  it('migrates a database and creates tokens that the API accepts', async () => {
    const url = await t.createEmptyDatabase('cli');
    const env = { DATABASE_URL: url, ROSTER_SECRET_KEY: randomBytes(32).toString('hex') };
    const migrated = await run(['migrate'], env);
    expect(migrated.stdout).toMatch(/applied: \d+_init/);
    expect((await run(['migrate'], env)).stdout).toMatch(/up to date/);
    const created = await run(['token', 'create', '--workspace', 'acme', '--scopes', 'read,write'], env);
    expect(created.code).toBe(0);
    expect(created.stdout.trim()).toMatch(/^rst_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/shown only now/);
  });

  it('roster demo creates the demo workspace at a chosen size, and reloads it at another', async () => {
    const url = await t.createEmptyDatabase('demo');
    const env = { DATABASE_URL: url, ROSTER_SECRET_KEY: randomBytes(32).toString('hex') };
    const created = await run(['demo', '--users', '400'], env);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/demo workspace created: 400 users, 20 companies/);
    expect(created.stdout).toMatch(/admin token: rst_/);
    const reloaded = await run(['demo', '--users', '1_000'], env);
    expect(reloaded.stdout).toMatch(/demo warehouse reloaded: 1000 users, 50 companies/);
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const users = await client.query('SELECT count(*)::int AS n FROM demo.users');
      expect(users.rows[0].n).toBe(1000);
      const workspaces = await client.query('SELECT count(*)::int AS n FROM "Workspace"');
      expect(workspaces.rows[0].n).toBe(1);
    } finally {
      await client.end();
    }
  });

  it('reports bad configuration and bad arguments clearly', async () => {
    const bad = await run(['migrate'], { PORT: 'eighty', LOG_LEVEL: 'loud' });
    expect(bad.code).toBe(78);
    expect(bad.stderr).toMatch(/PORT: expected an integer from 0 to 65535, but got "eighty"/);
    expect(bad.stderr).toMatch(/LOG_LEVEL: expected one of/);
    const scopes = await run(['token', 'create', '--workspace', 'acme', '--scopes', 'root']);
    expect(scopes.code).not.toBe(0);
    expect(scopes.stderr).toMatch(/expected a comma-separated list of read, write, admin, but got "root"/);
  });
});
