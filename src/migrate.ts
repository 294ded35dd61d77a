// Applies and creates Prisma-format SQL migrations with Prisma's own schema
// engine built to WebAssembly. The native engine is a download that fails on
// offline machines; the WebAssembly one ships in an npm package. History is
// recorded in `_prisma_migrations` exactly as `prisma migrate deploy` does, so
// users with the native CLI can keep using it on the same database.
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as engineGlue from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { MigrationList, SchemaEngine, SchemaFilter } from '@prisma/schema-engine-wasm';

export const PRISMA_DIR = resolve(fileURLToPath(new URL('../prisma', import.meta.url)));
export const MIGRATIONS_DIR = join(PRISMA_DIR, 'migrations');
export const SCHEMA_FILE = join(PRISMA_DIR, 'schema.prisma');

const NO_FILTER: SchemaFilter = { externalTables: [], externalEnums: [] };

/** Reads the migrations folder into the shape the engine expects. */
export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<MigrationList> {
  const names = existsSync(dir) ? (await readdir(dir, { withFileTypes: true })) : [];
  const migrationDirectories = await Promise.all(
    names
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort()
      .map(async (name) => {
        const file = join(dir, name, 'migration.sql');
        const content = existsSync(file)
          ? ({ tag: 'ok', value: await readFile(file, 'utf8') } as const)
          : ({ tag: 'error', value: `missing ${file}` } as const);
        return { path: name, migrationFile: { path: 'migration.sql', content } };
      }),
  );
  const lockPath = join(dir, 'migration_lock.toml');
  return {
    baseDir: dir,
    lockfile: {
      path: 'migration_lock.toml',
      content: existsSync(lockPath) ? await readFile(lockPath, 'utf8') : null,
    },
    shadowDbInitScript: '',
    migrationDirectories,
  } as MigrationList;
}

let engineReady: Promise<typeof engineGlue.SchemaEngine> | undefined;

/**
 * Instantiates the engine's WebAssembly module ourselves instead of through the
 * package's entry file: that file imports the .wasm as an ES module, which
 * Node 20 allows only behind --experimental-wasm-modules. This is the same
 * wiring, done with the stable WebAssembly API.
 */
function loadEngine(): Promise<typeof engineGlue.SchemaEngine> {
  engineReady ??= (async () => {
    const pkgDir = dirname(createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm'));
    const bytes = await readFile(join(pkgDir, 'schema_engine_bg.wasm'));
    // TypeScript's Node typings do not describe the WebAssembly global.
    const wasm = (globalThis as unknown as { WebAssembly: { instantiate(b: Uint8Array, i: object): Promise<{ instance: { exports: Record<string, unknown> } }> } }).WebAssembly;
    const { instance } = await wasm.instantiate(bytes, { './schema_engine_bg.js': engineGlue });
    engineGlue.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return engineGlue.SchemaEngine;
  })();
  return engineReady;
}

async function withEngine<T>(
  connectionString: string,
  schema: string | null,
  fn: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  const SchemaEngine = await loadEngine();
  // Our own pool, ended when we are done: the engine holds a session-level
  // advisory lock on its connection, and a pool left to idle out would keep
  // that lock (and the process) alive for another ten seconds.
  const pool = new pg.Pool({ connectionString, max: 2 });
  const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPg(pool));
  const engine = await SchemaEngine.new(
    { datamodels: schema ? [[SCHEMA_FILE, schema]] : undefined },
    () => {},
    adapter,
  );
  try {
    return await fn(engine);
  } finally {
    engine.free();
    await pool.end();
  }
}

/** Applies every migration not yet recorded; returns the names applied now. */
export async function applyMigrations(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrationsList = await loadMigrations(dir);
  const schema = await readFile(SCHEMA_FILE, 'utf8');
  return withEngine(databaseUrl, schema, async (engine) => {
    const out = await engine.applyMigrations({ migrationsList, filters: NO_FILTER });
    return out.appliedMigrationNames;
  });
}

/**
 * The SQL that takes a database from the `from` Prisma schema (null: empty)
 * to the `to` schema. Pure schema-to-schema: no database is read.
 */
export async function diffSchemas(databaseUrl: string, from: string | null, to: string): Promise<string> {
  // The engine opens its adapter's connection when it starts, even for a pure
  // schema-to-schema diff, so it needs a reachable database (nothing is read).
  return withEngine(databaseUrl, to, async (engine) => {
    const out = await engine.diff({
      from: from === null ? { tag: 'empty' } : { tag: 'schemaDatamodel', files: [{ path: 'from.prisma', content: from }] },
      to: { tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content: to }] },
      script: true,
      exitCode: null,
      filters: NO_FILTER,
    });
    return out.stdout ?? '';
  });
}
