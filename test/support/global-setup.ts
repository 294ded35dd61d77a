// Starts (or finds) the PostgreSQL the tests run against and prepares a
// template database with every migration applied. Each test file then clones
// the template into a database of its own (test/support/db.ts): cheap, isolated
// and parallel.
//
// TEST_DATABASE_URL: any PostgreSQL URL whose user may create databases.
// Unset: a throwaway embedded PostgreSQL for this run (runs may overlap).
import type { TestProject } from 'vitest/node';
import pg from 'pg';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/embedded.js';
import { applyMigrations, loadMigrations } from '../../src/migrate.js';
import { createLogger } from '../../src/logger.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplate: string;
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export default async function setup(project: TestProject) {
  let embedded: EmbeddedDatabase | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: '', ephemeral: true, logger: createLogger('warn'), database: 'postgres' });
    adminUrl = embedded.adminUrl;
  }

  // The template's name carries a hash of the migrations and schema, so a
  // changed migration gets a fresh template and a stale one is never reused.
  const migrations = await loadMigrations();
  const hash = createHash('sha256')
    .update(JSON.stringify(migrations.migrationDirectories))
    .update(await readFile(join(process.cwd(), 'prisma', 'schema.prisma')))
    .digest('hex')
    .slice(0, 12);
  const template = `roster_template_${hash}`;

  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // Databases of earlier runs that failed are kept for inspection until the
    // next run; clear them now.
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'rt\\_%' OR (datname LIKE 'roster\\_template\\_%' AND datname <> $1)`,
      [template],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);

    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (!exists.rowCount) {
      await admin.query(`CREATE DATABASE "${template}_tmp"`);
      await applyMigrations(withDatabase(adminUrl, `${template}_tmp`));
      // Renamed only once complete, so an interrupted run never leaves a half-built template.
      await admin.query(`ALTER DATABASE "${template}_tmp" RENAME TO "${template}"`);
      await admin.query(`ALTER DATABASE "${template}" WITH IS_TEMPLATE true`);
    }
  } finally {
    await admin.end();
  }

  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgTemplate', template);

  return async () => {
    await embedded?.stop();
  };
}
