// A database of its own for each test file, cloned from the migrated template.
// It is dropped when the file's tests all pass and kept (until the next run)
// when one fails, so a failure's data can be inspected.
import { afterAll, inject, onTestFailed, beforeEach } from 'vitest';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { connectDatabase, type Database } from '../../src/db.js';

export interface TestDatabase {
  /** URL of the file's own database (migrated). */
  url: string;
  /** URL of the cluster's maintenance database. */
  adminUrl: string;
  db: Database;
  /** Creates another empty, unmigrated database (e.g. a separate warehouse). */
  createEmptyDatabase(prefix?: string): Promise<string>;
}

export function databaseUrl(adminUrl: string, database: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Call at the top level of a test file. Returns once the database exists;
 * registers the clean-up itself.
 */
export async function useTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  const template = inject('pgTemplate');
  const created: string[] = [];
  let failed = false;

  const make = async (prefix: string, fromTemplate: boolean) => {
    const name = `rt_${prefix}_${randomBytes(5).toString('hex')}`;
    await adminQuery(adminUrl, `CREATE DATABASE "${name}"${fromTemplate ? ` TEMPLATE "${template}"` : ''}`);
    created.push(name);
    return databaseUrl(adminUrl, name);
  };

  const url = await make('cfg', true);
  const db = connectDatabase(url, { max: 5 });

  beforeEach(() => {
    onTestFailed(() => {
      failed = true;
    });
  });
  afterAll(async () => {
    await db.close();
    if (failed) {
      console.warn(`kept for inspection: ${created.join(', ')}`);
      return;
    }
    for (const name of created) await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });

  return { url, adminUrl, db, createEmptyDatabase: (prefix = 'wh') => make(prefix, false) };
}
