import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import { useTestDatabase } from '../support/db.js';
import { copyText, DEMO_TABLES, loadDemoWarehouse, type DemoResult } from '../../src/warehouse/demo.js';

const t = await useTestDatabase();
const pool = new pg.Pool({ connectionString: t.url, max: 4 });
afterAll(() => pool.end());

// A fixed anchor, so every assertion about "the last 7 days" is about known data.
const NOW = new Date('2025-06-01T00:00:00Z');
const USERS = 3000;

async function one<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T> {
  const { rows } = await pool.query<T>(text, values);
  return rows[0]!;
}

async function tableDigests(schema: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of DEMO_TABLES) {
    const row = await one<{ md5: string }>(`SELECT md5(string_agg(t::text, E'\\n' ORDER BY t.id)) AS md5 FROM "${schema}"."${table}" t`);
    out[table] = row.md5;
  }
  return out;
}

describe('loadDemoWarehouse', () => {
  let result: DemoResult;
  const progress = new Map<string, number>();

  beforeAll(async () => {
    result = await loadDemoWarehouse(pool, {
      users: USERS,
      now: NOW,
      schema: 'demo',
      onProgress: (table, rows) => progress.set(table, rows),
    });
  });

  it('loads the expected volumes and reports them', async () => {
    expect(result.schema).toBe('demo');
    expect(result.users).toBe(USERS);
    expect(result.companies).toBe(USERS / 20);
    expect(result.ms).toBeGreaterThan(0);
    // The final progress call per table carries the table's row count.
    expect(Object.fromEntries(progress)).toEqual({
      companies: result.companies,
      users: result.users,
      purchases: result.purchases,
      events: result.events,
    });

    const counts = await one<Record<string, string>>(`
      SELECT (SELECT count(*) FROM demo.companies) AS companies, (SELECT count(*) FROM demo.users) AS users,
             (SELECT count(*) FROM demo.purchases) AS purchases, (SELECT count(*) FROM demo.events) AS events`);
    expect(counts).toEqual({
      companies: String(result.companies),
      users: String(USERS),
      purchases: String(result.purchases),
      events: String(result.events),
    });
    expect(result.purchases / USERS).toBeGreaterThan(1.2);
    expect(result.purchases / USERS).toBeLessThan(1.8);
    expect(result.events / USERS).toBeGreaterThan(3.2);
    expect(result.events / USERS).toBeLessThan(5);
  });

  it('has the specified mixes of plans, companies, phones and industries', async () => {
    const mix = await one<Record<string, number>>(`
      SELECT avg((plan = 'trial')::int)::float AS trial, avg((plan = 'free')::int)::float AS free,
             avg((plan = 'pro')::int)::float AS pro, avg((company_id IS NOT NULL)::int)::float AS at_company,
             avg((phone IS NOT NULL)::int)::float AS with_phone
      FROM demo.users`);
    expect(mix.trial).toBeCloseTo(0.25, 1);
    expect(mix.free).toBeCloseTo(0.45, 1);
    expect(mix.pro).toBeCloseTo(0.3, 1);
    expect(mix.at_company).toBeGreaterThan(0.8);
    expect(mix.at_company).toBeLessThan(0.9);
    expect(mix.with_phone).toBeGreaterThan(0.75);
    expect(mix.with_phone).toBeLessThan(0.85);

    // Purchases come mostly from pro users, and pro users are worth more.
    const byPlan = await pool.query<{ plan: string; share: number; ltv: number }>(`
      SELECT u.plan, count(p.*)::float / (SELECT count(*) FROM demo.purchases) AS share, avg(u.lifetime_value)::float AS ltv
      FROM demo.users u LEFT JOIN demo.purchases p ON p.user_id = u.id GROUP BY u.plan`);
    const pro = byPlan.rows.find((r) => r.plan === 'pro')!;
    expect(pro.share).toBeGreaterThan(0.75);
    for (const r of byPlan.rows) if (r.plan !== 'pro') expect(r.ltv).toBeLessThan(pro.ltv / 5);

    // Skewed industries: Software leads, and every listed one is known.
    const industries = await pool.query<{ industry: string; n: string }>(
      'SELECT industry, count(*) AS n FROM demo.companies GROUP BY 1 ORDER BY 2 DESC, 1',
    );
    expect(industries.rows[0]!.industry).toBe('Software');
    const known = ['Software', 'Fintech', 'Healthcare', 'Retail', 'Manufacturing', 'Education', 'Media', 'Logistics', 'Real Estate', 'Nonprofit', 'Travel'];
    for (const r of industries.rows) expect(known).toContain(r.industry);

    const sizes = await one<{ min: number; max: number; countries: string[] }>(
      `SELECT min(size) AS min, max(size) AS max, array_agg(DISTINCT country) AS countries FROM demo.companies`,
    );
    expect(sizes.min).toBeGreaterThanOrEqual(1);
    expect(sizes.max).toBeLessThanOrEqual(50_000);
    for (const c of sizes.countries) expect(c).toMatch(/^[A-Z]{2}$/);
  });

  it('creates the keys, foreign keys and indexes after loading, and they hold', async () => {
    const constraints = await pool.query<{ table: string; name: string; type: string; validated: boolean }>(`
      SELECT conrelid::regclass::text AS table, conname AS name, contype AS type, convalidated AS validated
      FROM pg_constraint WHERE connamespace = 'demo'::regnamespace ORDER BY 1, 2`);
    expect(constraints.rows.map((r) => `${r.table}:${r.name}:${r.type}`).sort()).toEqual(
      [
        'demo.companies:companies_pkey:p',
        'demo.users:users_pkey:p',
        'demo.users:users_email_key:u',
        'demo.users:users_company_id_fkey:f',
        'demo.purchases:purchases_pkey:p',
        'demo.purchases:purchases_user_id_fkey:f',
        'demo.events:events_pkey:p',
        'demo.events:events_user_id_fkey:f',
      ].sort(),
    );
    expect(constraints.rows.every((r) => r.validated)).toBe(true);

    const indexes = await pool.query<{ def: string }>(`SELECT indexdef AS def FROM pg_indexes WHERE schemaname = 'demo'`);
    const defs = indexes.rows.map((r) => r.def.replace(/^.* USING btree /, ''));
    for (const cols of ['(company_id)', '(plan)', '(last_seen_at)', '(user_id)', '(purchased_at)', '(user_id, occurred_at)']) {
      expect(defs).toContain(cols);
    }

    // The constraints are enforced, not just declared.
    await expect(pool.query(`INSERT INTO demo.events (id, user_id, name, occurred_at) VALUES (-1, -1, 'login', now())`)).rejects.toThrow(
      /foreign key/,
    );

    // Statistics exist as soon as the load returns (pg_stats, unlike the
    // activity counters, is not reported lazily).
    const analyzed = await one<{ n: string }>(`SELECT count(DISTINCT tablename) AS n FROM pg_stats WHERE schemaname = 'demo'`);
    expect(Number(analyzed.n)).toBe(4);
  });

  it('generates well-formed, consistent values', async () => {
    const bad = await one<Record<string, string>>(`
      SELECT
        (SELECT count(*) FROM demo.users WHERE phone IS NOT NULL AND phone !~ '^\\+[1-9][0-9]{6,14}$') AS phones,
        (SELECT count(*) FROM demo.users WHERE email !~ '^[a-z._]+[0-9]+@[a-z0-9.-]+\\.[a-z]+$') AS emails,
        (SELECT count(*) - count(DISTINCT lower(email)) FROM demo.users) AS duplicate_emails,
        (SELECT count(*) - count(DISTINCT domain) FROM demo.companies) AS duplicate_domains,
        (SELECT count(*) FROM demo.users WHERE plan NOT IN ('trial', 'free', 'pro')) AS plans,
        (SELECT count(*) FROM demo.users WHERE signed_up_at > $1 OR signed_up_at < $1::timestamptz - interval '3 years 1 day') AS signups,
        (SELECT count(*) FROM demo.users WHERE plan = 'trial' AND signed_up_at < $1::timestamptz - interval '30 days') AS old_trials,
        (SELECT count(*) FROM demo.users WHERE last_seen_at < signed_up_at OR last_seen_at > $1) AS last_seen,
        (SELECT count(*) FROM demo.users u JOIN demo.companies c ON c.id = u.company_id WHERE u.signed_up_at < c.created_at) AS before_company,
        (SELECT count(*) FROM demo.users u
           WHERE lifetime_value <> coalesce((SELECT sum(amount) FROM demo.purchases p WHERE p.user_id = u.id), 0)) AS ltv,
        (SELECT count(*) FROM demo.purchases p JOIN demo.users u ON u.id = p.user_id
           WHERE p.purchased_at < greatest(u.signed_up_at, $1::timestamptz - interval '2 years') OR p.purchased_at > $1
              OR p.amount <= 0
              OR p.product NOT IN ('Product A', 'Product B', 'Product C', 'Add-on Seats', 'Support Plan')) AS purchases,
        (SELECT count(*) FROM demo.events e JOIN demo.users u ON u.id = e.user_id
           WHERE e.occurred_at < u.signed_up_at OR e.occurred_at > u.last_seen_at
              OR e.name NOT IN ('login', 'page_view', 'feature_used', 'report_exported', 'invite_sent')) AS events`,
      [NOW],
    );
    expect(bad).toEqual({
      phones: '0',
      emails: '0',
      duplicate_emails: '0',
      duplicate_domains: '0',
      plans: '0',
      signups: '0',
      old_trials: '0',
      last_seen: '0',
      before_company: '0',
      ltv: '0',
      purchases: '0',
      events: '0',
    });

    // Events lean toward the last 90 days and toward recently active users.
    const recent = await one<{ share: number }>(
      `SELECT avg((occurred_at >= $1::timestamptz - interval '90 days')::int)::float AS share FROM demo.events`,
      [NOW],
    );
    expect(recent.share).toBeGreaterThan(0.5);
  });

  it('has members for the example segments', async () => {
    const inactiveTrials = await one<{ n: string }>(
      `SELECT count(*) AS n FROM demo.users
       WHERE plan = 'trial' AND (last_seen_at IS NULL OR last_seen_at < $1::timestamptz - interval '7 days')`,
      [NOW],
    );
    expect(Number(inactiveTrials.n)).toBeGreaterThan(USERS * 0.03);

    const productABuyers = await one<{ n: string }>(
      `SELECT count(*) AS n FROM demo.users u JOIN demo.companies c ON c.id = u.company_id
       WHERE c.industry = 'Software' AND EXISTS (
         SELECT 1 FROM demo.purchases p
         WHERE p.user_id = u.id AND p.product = 'Product A' AND p.purchased_at >= $1::timestamptz - interval '6 months')`,
      [NOW],
    );
    expect(Number(productABuyers.n)).toBeGreaterThan(10);
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const opts = { users: 400, now: NOW, seed: 7 };
    await loadDemoWarehouse(pool, { ...opts, schema: 'demo_same_a' });
    await loadDemoWarehouse(pool, { ...opts, schema: 'demo_same_b' });
    await loadDemoWarehouse(pool, { ...opts, seed: 8, schema: 'demo_other' });
    const a = await tableDigests('demo_same_a');
    const b = await tableDigests('demo_same_b');
    const other = await tableDigests('demo_other');
    expect(b).toEqual(a);
    for (const table of DEMO_TABLES) expect(other[table], table).not.toBe(a[table]);
  });

  it('replaces its own tables on reload and leaves the rest of the schema alone', async () => {
    await loadDemoWarehouse(pool, { users: 500, now: NOW, schema: 'demo_reload' });
    await pool.query(`CREATE TABLE demo_reload.keep_me (id int); INSERT INTO demo_reload.keep_me VALUES (1)`);
    const second = await loadDemoWarehouse(pool, { users: 200, now: NOW, schema: 'demo_reload' });
    const counts = await one<Record<string, string>>(`
      SELECT (SELECT count(*) FROM demo_reload.users) AS users, (SELECT count(DISTINCT id) FROM demo_reload.users) AS distinct_users,
             (SELECT count(*) FROM demo_reload.companies) AS companies, (SELECT count(*) FROM demo_reload.events) AS events,
             (SELECT count(*) FROM demo_reload.purchases) AS purchases, (SELECT count(*) FROM demo_reload.keep_me) AS kept`);
    expect(counts).toEqual({
      users: '200',
      distinct_users: '200',
      companies: '10',
      events: String(second.events),
      purchases: String(second.purchases),
      kept: '1',
    });
  });

  it('rejects a schema name that is not a plain identifier, before touching the database', async () => {
    for (const schema of ['Demo', 'demo-1', '1demo', 'demo"; DROP SCHEMA public; --', '', 'a'.repeat(64)]) {
      await expect(loadDemoWarehouse(pool, { users: 10, schema })).rejects.toThrow(
        `expected a schema name of lower-case letters, digits and _, but got ${JSON.stringify(schema)}`,
      );
    }
    await expect(loadDemoWarehouse(pool, { users: 0, schema: 'demo_x' })).rejects.toThrow(/expected users to be a positive integer/);
    const exists = await one<{ n: string }>(`SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'demo_x'`);
    expect(exists.n).toBe('0');
  });

  it('loads a single user with a single company, anchored by default at the start of the UTC day', async () => {
    const r = await loadDemoWarehouse(pool, { users: 1, schema: 'demo_tiny' });
    expect(r).toMatchObject({ users: 1, companies: 1 });
    const today = new Date();
    const startOfDay = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
    const latest = await one<{ at: Date }>(`SELECT greatest(max(signed_up_at), max(last_seen_at)) AS at FROM demo_tiny.users`);
    expect(latest.at.getTime()).toBeLessThanOrEqual(startOfDay);
    expect(latest.at.getTime()).toBeGreaterThan(startOfDay - 3 * 366 * 86_400_000);
  });
});

describe('copyText', () => {
  it('escapes what COPY text format treats specially, and round-trips through COPY', async () => {
    const values = ['plain', 'back\\slash', 'tab\there', 'new\nline', 'carriage\rreturn', '\\N', 'ünïcødé ✓', ''];
    expect(copyText(null)).toBe('\\N');
    expect(copyText('a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');

    const client = await pool.connect();
    try {
      await client.query('CREATE TEMP TABLE copy_text_check (i int, v text)');
      const lines = [...values.map((v, i) => `${i}\t${copyText(v)}\n`), `${values.length}\t${copyText(null)}\n`];
      await pipeline(Readable.from(lines), client.query(copyFrom('COPY copy_text_check (i, v) FROM STDIN')));
      const { rows } = await client.query<{ v: string | null }>('SELECT v FROM copy_text_check ORDER BY i');
      expect(rows.map((r) => r.v)).toEqual([...values, null]);
    } finally {
      client.release();
    }
  });
});
