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
    /** false on servers with `trust` authentication, where a wrong password is accepted. */
    pgChecksPasswords: boolean;
  }
}

const TEST_ROLE = 'roster_test';
const TEST_ROLE_PASSWORD = 'roster-test-Pw-1';

/**
 * Tests check that passwords never leak, which needs a URL with a password.
 * Given a TEST_DATABASE_URL without one (a trust-auth server, say), a
 * superuser role with a password is made for the run; otherwise the URL is
 * used as it is.
 */
async function withPasswordRole(url: string): Promise<string> {
  if (new URL(url).password) return url;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${TEST_ROLE}') THEN
        CREATE ROLE ${TEST_ROLE} LOGIN SUPERUSER PASSWORD '${TEST_ROLE_PASSWORD}';
      END IF; END $$`);
    const u = new URL(url);
    u.username = TEST_ROLE;
    u.password = TEST_ROLE_PASSWORD;
    return u.toString();
  } catch {
    return url;
  } finally {
    await client.end();
  }
}

async function checksPasswords(url: string): Promise<boolean> {
  const u = new URL(url);
  u.password = 'certainly-not-the-password';
  const client = new pg.Client({ connectionString: u.toString() });
  try {
    await client.connect();
    await client.end();
    return false;
  } catch {
    return true;
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
  } else {
    adminUrl = await withPasswordRole(adminUrl);
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
  project.provide('pgChecksPasswords', await checksPasswords(adminUrl));

  return async () => {
    await embedded?.stop();
  };
}
