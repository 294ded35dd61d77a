import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyMigrations, diffSchemas, loadMigrations, MIGRATIONS_DIR } from '../src/migrate.js';
import { useTestDatabase } from './support/db.js';

const t = await useTestDatabase();

describe('migrations', () => {
  it('applies the migrations folder to an empty database and records history', async () => {
    const url = await t.createEmptyDatabase('mig');
    const applied = await applyMigrations(url);
    const all = (await loadMigrations()).migrationDirectories.map((d) => d.path);
    expect(applied).toEqual(all);
    // A second apply is a no-op.
    expect(await applyMigrations(url)).toEqual([]);
  });

  it('the template database records every migration as prisma migrate deploy would', async () => {
    const { rows } = await t.db.pool.query('SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY migration_name');
    const all = (await loadMigrations()).migrationDirectories.map((d) => d.path);
    expect(rows.map((r) => r.migration_name)).toEqual(all);
    expect(rows.every((r) => r.finished_at)).toBe(true);
  });

  it('schema.prisma has no change that lacks a migration', async () => {
    const dirs = (await loadMigrations()).migrationDirectories.map((d) => d.path);
    const last = dirs.at(-1)!;
    const built = await readFile(join(MIGRATIONS_DIR, last, 'schema.prisma'), 'utf8');
    const current = await readFile(join(MIGRATIONS_DIR, '..', 'schema.prisma'), 'utf8');
    const sql = await diffSchemas(t.url, built, current);
    expect(sql.replace(/--.*$/gm, '').trim(), 'run `npm run migrate:new -- <name>`').toBe('');
  });
});
