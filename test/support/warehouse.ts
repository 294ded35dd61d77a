// A small warehouse fixture: a shop with customers, companies and orders, in
// schema "shop" of the given database.
import pg from 'pg';

export const SHOP_SQL = `
  DROP SCHEMA IF EXISTS shop CASCADE;
  CREATE SCHEMA shop;
  CREATE TABLE shop.companies (id bigint PRIMARY KEY, name text NOT NULL, industry text, employees integer);
  CREATE TABLE shop.customers (
    id bigint PRIMARY KEY,
    email text NOT NULL,
    phone text,
    first_name text,
    last_name text,
    birthday date,
    age integer,
    plan text,
    is_active boolean NOT NULL DEFAULT true,
    signed_up_at timestamptz NOT NULL,
    external_uuid uuid,
    meta jsonb,
    tags text[],
    company_id bigint REFERENCES shop.companies(id)
  );
  CREATE TABLE shop.orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES shop.customers(id), amount numeric(10,2) NOT NULL, product text NOT NULL, ordered_at timestamptz NOT NULL);
  CREATE VIEW shop.active_customers AS SELECT id, email, plan FROM shop.customers WHERE is_active;
  INSERT INTO shop.companies VALUES (1, 'Acme', 'Software', 120), (2, 'Globex', 'Retail', 40);
  INSERT INTO shop.customers (id, email, phone, first_name, last_name, birthday, age, plan, signed_up_at, company_id)
    VALUES (1, 'ada@acme.test', '+14155550101', 'Ada', 'Lovelace', '1990-12-10', 35, 'pro', now() - interval '300 days', 1),
           (2, 'bob@globex.test', NULL, 'Bob', 'Stone', NULL, 41, 'trial', now() - interval '3 days', 2),
           (3, 'cy@example.test', '+442071838750', 'Cy', 'Young', NULL, NULL, 'free', now() - interval '40 days', NULL);
  INSERT INTO shop.orders VALUES (1, 1, 99.00, 'Product A', now() - interval '20 days'), (2, 1, 19.00, 'Product B', now() - interval '200 days');
`;

export async function createShopWarehouse(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(SHOP_SQL);
  } finally {
    await client.end();
  }
}

/** The same URL with another password, or another database: for connection-error tests. */
export function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.password = password;
  return u.toString();
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
