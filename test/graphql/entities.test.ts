import { beforeAll, describe, expect, it } from 'vitest';
import { ok, useTestApp } from '../support/app.js';
import { createShopWarehouse } from '../support/warehouse.js';

const t = await useTestApp();
await createShopWarehouse(t.url);
const { gql } = await t.workspace('acme');

const RESULT = `__typename
  ... on Error { message path }
  ... on ValidationError { problems { path message suggestion } }`;

const CREATE = `mutation($input: CreateEntityInput!) { createEntity(input: $input) {
  ${RESULT}
  ... on CreateEntityPayload { entity { id name kind primaryKey table { schema name } sql identifiers { type column } columns { name type } } }
} }`;

const CREATE_REL = `mutation($input: CreateRelationshipInput!) { createRelationship(input: $input) {
  ${RESULT}
  ... on CreateRelationshipPayload { relationship { id name kind fromColumn toColumn fromEntity { name } toEntity { name } } }
} }`;

let sourceId: string;
const ids: Record<string, string> = {};

async function create(input: Record<string, unknown>) {
  return ok(await gql(CREATE, { input: { sourceId, ...input } })).createEntity;
}

beforeAll(async () => {
  const res = ok(await gql(`mutation($url: String!) { createSource(input: { name: "Shop", url: $url }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url }));
  sourceId = res.createSource.source.id;
});

describe('createEntity', () => {
  it('creates a person entity on a table, with identifiers and introspected columns', async () => {
    const out = await create({
      name: 'Customers',
      kind: 'PERSON',
      from: { table: { schema: 'shop', name: 'customers' } },
      primaryKey: 'id',
      identifiers: [
        { type: 'EMAIL', column: 'email' },
        { type: 'PHONE', column: 'phone' },
        { type: 'FIRST_NAME', column: 'first_name' },
        { type: 'DATE_OF_BIRTH', column: 'birthday' },
        { type: 'EXTERNAL_ID', column: 'external_uuid' },
      ],
    });
    expect(out.__typename).toBe('CreateEntityPayload');
    expect(out.entity).toMatchObject({ name: 'Customers', kind: 'PERSON', primaryKey: 'id', table: { schema: 'shop', name: 'customers' }, sql: null });
    expect(out.entity.identifiers).toHaveLength(5);
    expect(out.entity.columns.find((c: { name: string }) => c.name === 'signed_up_at').type).toBe('TIMESTAMP');
    ids.customers = out.entity.id;
  });

  it('creates entities on a view and on a SQL model', async () => {
    const view = await create({ name: 'Active', kind: 'PERSON', from: { table: { schema: 'shop', name: 'active_customers' } }, primaryKey: 'id', identifiers: [{ type: 'EMAIL', column: 'email' }] });
    expect(view.__typename).toBe('CreateEntityPayload');
    const model = await create({
      name: 'Order totals',
      kind: 'OTHER',
      from: { sql: 'SELECT customer_id, sum(amount) AS total FROM shop.orders GROUP BY customer_id' },
      primaryKey: 'customer_id',
    });
    expect(model.__typename).toBe('CreateEntityPayload');
    expect(model.entity.columns).toEqual([{ name: 'customer_id', type: 'INTEGER' }, { name: 'total', type: 'NUMBER' }]);
    ids.orderTotals = model.entity.id;
    const companies = await create({ name: 'Companies', kind: 'COMPANY', from: { table: { schema: 'shop', name: 'companies' } }, primaryKey: 'id' });
    ids.companies = companies.entity.id;
    const orders = await create({ name: 'Orders', kind: 'OTHER', from: { table: { schema: 'shop', name: 'orders' } }, primaryKey: 'id' });
    ids.orders = orders.entity.id;
  });

  it('names a missing table and suggests the closest one', async () => {
    const out = await create({ name: 'X', kind: 'PERSON', from: { table: { schema: 'shop', name: 'custmers' } }, primaryKey: 'id' });
    expect(out.__typename).toBe('ValidationError');
    expect(out.problems[0]).toMatchObject({ path: ['from', 'table'], suggestion: 'shop.customers' });
    expect(out.message).toMatch(/no table or view "shop\.custmers".*did you mean "shop\.customers"/);
  });

  it('names a missing primary key column and suggests one', async () => {
    const out = await create({ name: 'X', kind: 'PERSON', from: { table: { schema: 'shop', name: 'customers' } }, primaryKey: 'idd' });
    expect(out.problems).toEqual([expect.objectContaining({ path: ['primaryKey'], suggestion: 'id' })]);
  });

  it('refuses a primary key of a type that cannot identify rows', async () => {
    const out = await create({ name: 'X', kind: 'PERSON', from: { table: { schema: 'shop', name: 'customers' } }, primaryKey: 'meta' });
    expect(out.problems[0].message).toMatch(/expected a primary key column .* but "meta" is jsonb/);
  });

  it('reports every identifier problem at once: missing column, unfit type, repeated type', async () => {
    const out = await create({
      name: 'X',
      kind: 'PERSON',
      from: { table: { schema: 'shop', name: 'customers' } },
      primaryKey: 'id',
      identifiers: [
        { type: 'EMAIL', column: 'emial' },
        { type: 'PHONE', column: 'is_active' },
        { type: 'DATE_OF_BIRTH', column: 'age' },
        { type: 'FIRST_NAME', column: 'first_name' },
        { type: 'FIRST_NAME', column: 'last_name' },
      ],
    });
    expect(out.__typename).toBe('ValidationError');
    expect(out.problems.map((p: { path: string[] }) => p.path.join('.'))).toEqual([
      'identifiers.0.column',
      'identifiers.1.column',
      'identifiers.2.column',
      'identifiers.4.type',
    ]);
    expect(out.problems[0].suggestion).toBe('email');
    expect(out.problems[1].message).toMatch(/expected a string or integer or number column for PHONE, but "is_active" is boolean/);
    expect(out.problems[2].message).toMatch(/DATE_OF_BIRTH, but "age" is integer/);
  });

  it('reports a SQL model that does not run, with the warehouse message', async () => {
    const bad = await create({ name: 'X', kind: 'OTHER', from: { sql: 'SELECT * FROM shop.nope' }, primaryKey: 'id' });
    expect(bad.__typename).toBe('ValidationError');
    expect(bad.problems[0].path).toEqual(['from', 'sql']);
    expect(bad.message).toMatch(/nope/);
    const two = await create({ name: 'X', kind: 'OTHER', from: { sql: 'SELECT 1 AS id; DROP TABLE shop.orders' }, primaryKey: 'id' });
    expect(two.__typename).toBe('ValidationError');
    const still = await t.db.pool.query('SELECT count(*)::int AS n FROM shop.orders');
    expect(still.rows[0].n).toBe(2);
  });

  it('requires exactly one of table and sql', async () => {
    const res = await gql(CREATE, { input: { sourceId, name: 'X', kind: 'OTHER', from: { table: { schema: 'shop', name: 'orders' }, sql: 'SELECT 1' }, primaryKey: 'id' } });
    expect(res.errors?.[0]?.message).toMatch(/exactly one/i);
  });

  it('refuses a duplicate name and an unknown source', async () => {
    const dup = await create({ name: 'Customers', kind: 'PERSON', from: { table: { schema: 'shop', name: 'customers' } }, primaryKey: 'id' });
    expect(dup.__typename).toBe('ConflictError');
    const other = ok(await gql(CREATE, { input: { sourceId: Buffer.from('Source:00000000-0000-0000-0000-000000000001').toString('base64'), name: 'Y', kind: 'OTHER', from: { sql: 'SELECT 1 AS id' }, primaryKey: 'id' } })).createEntity;
    expect(other.__typename).toBe('NotFoundError');
  });
});

describe('relationships', () => {
  it('creates many-to-one and one-to-many relationships', async () => {
    const m2o = ok(await gql(CREATE_REL, { input: { name: 'company', kind: 'MANY_TO_ONE', fromEntityId: ids.customers, toEntityId: ids.companies, fromColumn: 'company_id', toColumn: 'id' } })).createRelationship;
    expect(m2o.relationship).toMatchObject({ name: 'company', kind: 'MANY_TO_ONE', fromEntity: { name: 'Customers' }, toEntity: { name: 'Companies' } });
    const o2m = ok(await gql(CREATE_REL, { input: { name: 'orders', kind: 'ONE_TO_MANY', fromEntityId: ids.customers, toEntityId: ids.orders, fromColumn: 'id', toColumn: 'customer_id' } })).createRelationship;
    expect(o2m.__typename).toBe('CreateRelationshipPayload');
    ids.ordersRel = o2m.relationship.id;

    const data = ok(await gql(`query($id: ID!) { node(id: $id) { ... on Entity { relationships { name toEntity { name } } } } }`, { id: ids.customers }));
    expect(data.node.relationships.map((r: { name: string }) => r.name).sort()).toEqual(['company', 'orders']);
  });

  it('checks join columns exist, with suggestions, and that their types compare', async () => {
    const missing = ok(await gql(CREATE_REL, { input: { name: 'comp', kind: 'MANY_TO_ONE', fromEntityId: ids.customers, toEntityId: ids.companies, fromColumn: 'compny_id', toColumn: 'idx' } })).createRelationship;
    expect(missing.problems.map((p: { path: string[]; suggestion: string }) => [p.path[0], p.suggestion])).toEqual([['fromColumn', 'company_id'], ['toColumn', 'id']]);
    const types = ok(await gql(CREATE_REL, { input: { name: 'comp', kind: 'MANY_TO_ONE', fromEntityId: ids.customers, toEntityId: ids.companies, fromColumn: 'email', toColumn: 'id' } })).createRelationship;
    expect(types.message).toMatch(/comparable types.*email is text.*id is bigint/);
  });

  it('refuses names that are not identifiers, clash with a column, or repeat', async () => {
    const bad = ok(await gql(CREATE_REL, { input: { name: 'my company', kind: 'MANY_TO_ONE', fromEntityId: ids.customers, toEntityId: ids.companies, fromColumn: 'company_id', toColumn: 'id' } })).createRelationship;
    expect(bad.problems[0].path).toEqual(['name']);
    const clash = ok(await gql(CREATE_REL, { input: { name: 'email', kind: 'MANY_TO_ONE', fromEntityId: ids.customers, toEntityId: ids.companies, fromColumn: 'company_id', toColumn: 'id' } })).createRelationship;
    expect(clash.message).toMatch(/already a column/);
    const dup = ok(await gql(CREATE_REL, { input: { name: 'company', kind: 'MANY_TO_ONE', fromEntityId: ids.customers, toEntityId: ids.companies, fromColumn: 'company_id', toColumn: 'id' } })).createRelationship;
    expect(dup.__typename).toBe('ConflictError');
  });

  it('updates a relationship with the same checks, and lists relationships by entity', async () => {
    const UPDATE = `mutation($id: ID!, $input: UpdateRelationshipInput!) { updateRelationship(id: $id, input: $input) { ${RESULT} ... on UpdateRelationshipPayload { relationship { name toColumn } } } }`;
    const bad = ok(await gql(UPDATE, { id: ids.ordersRel, input: { toColumn: 'custmer_id' } })).updateRelationship;
    expect(bad.problems[0]).toMatchObject({ path: ['toColumn'], suggestion: 'customer_id' });
    const renamed = ok(await gql(UPDATE, { id: ids.ordersRel, input: { name: 'order_rows' } })).updateRelationship;
    expect(renamed.relationship).toEqual({ name: 'order_rows', toColumn: 'customer_id' });
    const list = ok(await gql('query($e: ID!) { relationships(entityId: $e) { edges { node { name } } } }', { e: ids.orders }));
    expect(list.relationships.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['order_rows']);
  });

  it('refuses a relationship between entities of different sources', async () => {
    const other = ok(await gql(`mutation($url: String!) { createSource(input: { name: "Other", url: $url, plannerSchema: "other_planner" }) { ... on CreateSourcePayload { source { id } } } }`, { url: t.url })).createSource.source.id;
    const e = ok(await gql(CREATE, { input: { sourceId: other, name: 'Other companies', kind: 'COMPANY', from: { table: { schema: 'shop', name: 'companies' } }, primaryKey: 'id' } })).createEntity;
    const out = ok(await gql(CREATE_REL, { input: { name: 'othercompany', kind: 'MANY_TO_ONE', fromEntityId: ids.customers, toEntityId: e.entity.id, fromColumn: 'company_id', toColumn: 'id' } })).createRelationship;
    expect(out.message).toMatch(/same source/);
  });
});

describe('updating, listing and deleting entities', () => {
  it('re-reads columns on update and refuses to drop a relationship join column', async () => {
    await t.db.pool.query('ALTER TABLE shop.customers ADD COLUMN score integer');
    const UPDATE = `mutation($id: ID!, $input: UpdateEntityInput!) { updateEntity(id: $id, input: $input) { ${RESULT} ... on UpdateEntityPayload { entity { name kind columns { name } identifiers { type } } } } }`;
    const refreshed = ok(await gql(UPDATE, { id: ids.customers, input: {} })).updateEntity;
    expect(refreshed.entity.columns.map((c: { name: string }) => c.name)).toContain('score');

    const renamed = ok(await gql(UPDATE, { id: ids.customers, input: { name: 'People', identifiers: [{ type: 'EMAIL', column: 'email' }] } })).updateEntity;
    expect(renamed.entity).toMatchObject({ name: 'People', identifiers: [{ type: 'EMAIL' }] });

    // The view has no company_id, which the "company" relationship joins on.
    const broken = ok(await gql(UPDATE, { id: ids.customers, input: { from: { table: { schema: 'shop', name: 'active_customers' } } } })).updateEntity;
    expect(broken.__typename).toBe('ValidationError');
    expect(broken.message).toMatch(/relationship "company" joins on column "company_id"/);
  });

  it('lists entities, filtered by kind, and finds one by name', async () => {
    const all = ok(await gql('{ entities { edges { node { name kind } } } }'));
    expect(all.entities.edges.length).toBe(6);
    const people = ok(await gql('{ entities(kind: PERSON) { edges { node { name } } } }'));
    expect(people.entities.edges.map((e: { node: { name: string } }) => e.node.name).sort()).toEqual(['Active', 'People']);
    const byName = ok(await gql('{ entity(name: "People") { primaryKey source { name } } }'));
    expect(byName.entity).toEqual({ primaryKey: 'id', source: { name: 'Shop' } });
  });

  it('deletes an entity with its relationships, and refuses to delete a source that has entities', async () => {
    const del = ok(await gql(`mutation($id: ID!) { deleteEntity(id: $id) { __typename ... on DeleteEntityPayload { deletedId } } }`, { id: ids.orders })).deleteEntity;
    expect(del.deletedId).toBe(ids.orders);
    const rel = ok(await gql(`query($id: ID!) { node(id: $id) { id } }`, { id: ids.ordersRel }));
    expect(rel.node).toBeNull();
    const src = ok(await gql(`mutation($id: ID!) { deleteSource(id: $id) { __typename ... on Error { message } } }`, { id: sourceId })).deleteSource;
    expect(src.__typename).toBe('InvalidStateError');
    expect(src.message).toMatch(/still has \d+ entities/);
  });
});
