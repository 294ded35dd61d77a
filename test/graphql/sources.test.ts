import { describe, expect, inject, it } from 'vitest';
import { ok, useTestApp } from '../support/app.js';
import { createShopWarehouse, withDatabase, withPassword } from '../support/warehouse.js';
import { freePort } from '../../src/embedded.js';

const t = await useTestApp();
await createShopWarehouse(t.url);
const { gql } = await t.workspace('acme');
const password = new URL(t.url).password;

const CREATE = `mutation($input: CreateSourceInput!) {
  createSource(input: $input) {
    __typename
    ... on CreateSourcePayload { source { id name connection plannerSchema status } }
    ... on Error { message path }
    ... on SourceConnectionError { code }
    ... on ValidationError { problems { path message } }
  }
}`;

describe('createSource', () => {
  let sourceId: string;

  it('checks the connection, creates the planner schema and never returns the password', async () => {
    const res = await gql(CREATE, { input: { name: 'Warehouse', url: t.url } });
    const out = ok(res).createSource;
    expect(out.__typename).toBe('CreateSourcePayload');
    expect(out.source.status).toBe('CONNECTED');
    expect(out.source.plannerSchema).toBe('roster_planner');
    expect(out.source.connection).not.toContain(password);
    expect(JSON.stringify(res)).not.toContain(password);
    sourceId = out.source.id;

    const { rows } = await t.db.pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'roster_planner'`);
    expect(rows).toHaveLength(1);
    // Stored encrypted: neither the URL nor its password is in the row.
    const stored = await t.db.pool.query('SELECT "connectionEnc" FROM "Source"');
    expect(stored.rows[0].connectionEnc).not.toContain(password);
    expect(stored.rows[0].connectionEnc).toMatch(/^v1:[0-9a-f]{8}:/);
    expect(t.services.secrets.open(stored.rows[0].connectionEnc)).toBe(t.url);
  });

  it('refuses a second source with the same name', async () => {
    const out = ok(await gql(CREATE, { input: { name: 'Warehouse', url: t.url } })).createSource;
    expect(out.__typename).toBe('ConflictError');
    expect(out.message).toMatch(/already exists/);
  });

  it('says clearly when the host cannot be reached', async () => {
    const port = await freePort();
    const url = new URL(t.url);
    url.port = String(port);
    const out = ok(await gql(CREATE, { input: { name: 'Nowhere', url: url.toString() } })).createSource;
    expect(out.__typename).toBe('SourceConnectionError');
    expect(out.code).toBe('HOST_UNREACHABLE');
    expect(out.message).toContain(`127.0.0.1:${port}`);
    expect(out.message).not.toContain(password);
  });

  it.skipIf(!inject('pgChecksPasswords'))('says clearly when the password is wrong, without echoing it', async () => {
    const out = ok(await gql(CREATE, { input: { name: 'Bad password', url: withPassword(t.url, 'hunter2-wrong') } })).createSource;
    expect(out.__typename).toBe('SourceConnectionError');
    expect(out.code).toBe('AUTH_FAILED');
    expect(out.message).not.toContain('hunter2-wrong');
  });

  it('says clearly when the database does not exist', async () => {
    const out = ok(await gql(CREATE, { input: { name: 'No db', url: withDatabase(t.url, 'no_such_database') } })).createSource;
    expect(out.__typename).toBe('SourceConnectionError');
    expect(out.code).toBe('DATABASE_NOT_FOUND');
    expect(out.message).toContain('no_such_database');
  });

  it('validates the URL, the name and the planner schema', async () => {
    const out = ok(await gql(CREATE, { input: { name: '', url: 'mysql://root:secret@h/db', plannerSchema: 'Bad-Schema' } })).createSource;
    expect(out.__typename).toBe('ValidationError');
    expect(out.problems.map((p: { path: string[] }) => p.path[0])).toEqual(['name', 'plannerSchema']);
    const url = ok(await gql(CREATE, { input: { name: 'x', url: 'mysql://root:secret@h/db' } })).createSource;
    expect(url.__typename).toBe('ValidationError');
    expect(url.message).toMatch(/postgres/);
    expect(url.message).not.toContain('secret');
  });

  it('introspects schemas, tables, views, columns and primary keys', async () => {
    const data = ok(await gql(`query($id: ID!) { source(id: $id) {
      schemas { __typename ... on SourceSchemasSuccess { data } }
      tables(schema: "shop") { __typename ... on SourceTablesSuccess { data { schema name kind primaryKey columns { name dataType type nullable } } } }
      table(schema: "shop", name: "orders") { __typename ... on SourceTableSuccess { data { name primaryKey columns { name type } } } }
      missing: table(schema: "shop", name: "nope") { __typename ... on SourceTableSuccess { data { name } } }
    } }`, { id: sourceId })).source;
    expect(data.schemas.data).toEqual(expect.arrayContaining(['public', 'shop', 'roster_planner']));
    expect(data.schemas.data).not.toContain('pg_catalog');
    const tables = Object.fromEntries(data.tables.data.map((x: { name: string }) => [x.name, x]));
    expect(Object.keys(tables).sort()).toEqual(['active_customers', 'companies', 'customers', 'orders']);
    expect(tables.active_customers.kind).toBe('VIEW');
    expect(tables.customers.kind).toBe('TABLE');
    expect(tables.customers.primaryKey).toEqual(['id']);
    const types = Object.fromEntries(tables.customers.columns.map((c: { name: string; type: string }) => [c.name, c.type]));
    expect(types).toMatchObject({
      id: 'INTEGER', email: 'STRING', birthday: 'DATE', age: 'INTEGER', is_active: 'BOOLEAN',
      signed_up_at: 'TIMESTAMP', external_uuid: 'UUID', meta: 'JSON', tags: 'ARRAY',
    });
    const email = tables.customers.columns.find((c: { name: string }) => c.name === 'email');
    expect(email).toEqual({ name: 'email', dataType: 'text', type: 'STRING', nullable: false });
    expect(data.table.data.columns.map((c: { name: string }) => c.name)).toEqual(['id', 'customer_id', 'amount', 'product', 'ordered_at']);
    expect(data.missing).toBeNull();
  });

  it('re-checks a source and records the outcome', async () => {
    const out = ok(await gql(`mutation($id: ID!) { checkSource(id: $id) { __typename ... on CheckSourcePayload { source { status lastError checkedAt } } } }`, { id: sourceId })).checkSource;
    expect(out.source).toMatchObject({ status: 'CONNECTED', lastError: null });
  });

  it('lists sources and finds one by id', async () => {
    const data = ok(await gql('{ sources { edges { node { id name } } } }'));
    expect(data.sources.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['Warehouse']);
  });

  it('deletes a source without entities', async () => {
    const created = ok(await gql(CREATE, { input: { name: 'Temporary', url: t.url } })).createSource;
    const del = ok(await gql(`mutation($id: ID!) { deleteSource(id: $id) { __typename ... on DeleteSourcePayload { deletedId } } }`, { id: created.source.id })).deleteSource;
    expect(del.deletedId).toBe(created.source.id);
  });
});
