// The demo workspace: a generated warehouse (src/warehouse/demo.ts) described
// as entities and relationships through the same code paths a user's requests
// take, so the demo is also a check that those paths work.
import pg from 'pg';
import type { Services } from '../src/context.js';
import { createApiToken } from '../src/auth.js';
import { loadDemoWarehouse, type DemoResult } from '../src/warehouse/demo.js';
import { createSource } from '../src/warehouse/sources.js';
import { createEntity, createRelationship, updateEntity } from '../src/warehouse/entities.js';
import { createSegment } from '../src/segments/segments.js';
import { createDestination } from '../src/sync/destinations.js';
import { createSync } from '../src/sync/syncs.js';

export const DEMO_SLUG = 'demo';
export const DEMO_SCHEMA = 'demo';

export interface DemoSeed {
  workspaceId: string;
  token: string;
  warehouse: DemoResult;
  /** The demo's audience syncs, ready to run. */
  syncIds: string[];
}

/** Loads the warehouse into `warehouseUrl` (schema "demo") and describes it in a new demo workspace. */
export async function seedDemoWorkspace(services: Services, opts: { warehouseUrl: string; users: number; seed?: number; exportDir?: string }): Promise<DemoSeed> {
  const { logger } = services;
  const pool = new pg.Pool({ connectionString: opts.warehouseUrl, max: 2 });
  let warehouse: DemoResult;
  try {
    logger.info({ users: opts.users }, 'loading the demo warehouse');
    warehouse = await loadDemoWarehouse(pool, { users: opts.users, seed: opts.seed ?? 42, schema: DEMO_SCHEMA });
    logger.info({ ...warehouse }, 'demo warehouse loaded');
  } finally {
    await pool.end();
  }

  const prisma = services.db.prisma;
  const workspace = await prisma.workspace.create({ data: { name: 'Demo', slug: DEMO_SLUG, isDemo: true } });
  const ws = workspace.id;
  const source = await createSource(services, ws, { name: 'Demo warehouse', url: opts.warehouseUrl });
  const table = (name: string) => ({ table: { schema: DEMO_SCHEMA, name } });

  const users = await createEntity(services, ws, source.id, {
    name: 'Users',
    kind: 'PERSON',
    from: table('users'),
    primaryKey: 'id',
    identifiers: [
      { type: 'EMAIL', column: 'email' },
      { type: 'PHONE', column: 'phone' },
      { type: 'FIRST_NAME', column: 'first_name' },
      { type: 'LAST_NAME', column: 'last_name' },
      { type: 'CITY', column: 'city' },
      { type: 'STATE', column: 'state' },
      { type: 'ZIP', column: 'zip' },
      { type: 'COUNTRY', column: 'country' },
      { type: 'EXTERNAL_ID', column: 'id' },
    ],
  });
  const companies = await createEntity(services, ws, source.id, {
    name: 'Companies',
    kind: 'COMPANY',
    from: table('companies'),
    primaryKey: 'id',
    identifiers: [{ type: 'EXTERNAL_ID', column: 'id' }, { type: 'COUNTRY', column: 'country' }],
  });
  const purchases = await createEntity(services, ws, source.id, {
    name: 'Purchases', kind: 'OTHER', from: table('purchases'), primaryKey: 'id', identifiers: [],
  });
  const events = await createEntity(services, ws, source.id, {
    name: 'Product events', kind: 'OTHER', from: table('events'), primaryKey: 'id', identifiers: [],
  });

  const rel = (name: string, kind: 'MANY_TO_ONE' | 'ONE_TO_MANY', from: { id: string }, to: { id: string }, fromColumn: string, toColumn: string) =>
    createRelationship(services, ws, { name, kind, fromEntityId: from.id, toEntityId: to.id, fromColumn, toColumn });
  await rel('company', 'MANY_TO_ONE', users, companies, 'company_id', 'id');
  await rel('purchases', 'ONE_TO_MANY', users, purchases, 'id', 'user_id');
  await rel('events', 'ONE_TO_MANY', users, events, 'id', 'user_id');
  await rel('users', 'ONE_TO_MANY', companies, users, 'id', 'company_id');
  await rel('user', 'MANY_TO_ONE', purchases, users, 'user_id', 'id');
  await rel('user', 'MANY_TO_ONE', events, users, 'user_id', 'id');

  // The product pages' example segments, evaluated daily.
  const daily = { kind: 'DAILY' as const };
  const segment = (name: string, condition: unknown, description: string) =>
    createSegment(services, ws, { entityId: users.id, name, description, condition, schedule: daily });
  await segment('Dormant users', { not: { event: { relationship: 'events', within: { last: 30, unit: 'DAY' } } } }, "Users who haven't engaged with the product in the last 30 days");
  const idleTrials = await segment(
    'Idle trials',
    { and: [{ attribute: { path: 'plan', op: 'EQ', value: 'trial' } }, { attribute: { path: 'last_seen_at', op: 'NOT_WITHIN_LAST', within: { last: 7, unit: 'DAY' } } }] },
    "Trial users who haven't used the product in the past week",
  );
  const boughtA = await segment(
    'Bought Product A',
    { event: { relationship: 'purchases', where: { attribute: { path: 'product', op: 'EQ', value: 'Product A' } }, within: { last: 6, unit: 'MONTH' } } },
    'Customers who bought Product A in the last six months',
  );
  await segment(
    'Bought Product A at software companies',
    { and: [{ segment: { id: boughtA.id, member: true } }, { attribute: { path: 'company.industry', op: 'EQ', value: 'Software' } }] },
    'The same, at companies in the Software industry',
  );

  // Two destinations that need no outside account, with syncs on a schedule.
  const tableDestination = await createDestination(services, ws, { name: 'Warehouse table', type: 'postgres_table', config: { url: opts.warehouseUrl, schema: 'demo_out', table: 'audience_members' } });
  const syncIds = [
    (await createSync(services, ws, {
      segmentId: boughtA.id, destinationId: tableDestination.id, audience: { target: 'CREATE_BY_NAME' },
      mappings: [{ from: 'first_name', to: 'first_name' }, { from: 'company.name', to: 'company' }, { from: 'lifetime_value', to: 'lifetime_value' }],
      schedule: { kind: 'HOURLY' }, status: 'ACTIVE',
    })).id,
  ];
  if (opts.exportDir) {
    const csv = await createDestination(services, ws, { name: 'CSV exports', type: 'csv_file', config: { directory: opts.exportDir } });
    syncIds.push(
      (await createSync(services, ws, {
        segmentId: idleTrials.id, destinationId: csv.id, audience: { target: 'CREATE_BY_NAME' },
        mappings: [{ from: 'first_name', to: 'first_name' }, { from: 'last_seen_at', to: 'last_seen_at' }],
        schedule: { kind: 'DAILY' }, status: 'ACTIVE',
      })).id,
    );
  }

  const { token } = await createApiToken(prisma, { workspaceId: ws, name: 'Demo admin', scopes: ['ADMIN'] });
  return { workspaceId: ws, token, warehouse, syncIds };
}

/** Reloads the demo warehouse at another size; the workspace's entities stay valid. */
export async function reloadDemoWarehouse(services: Services, opts: { warehouseUrl: string; users: number; seed?: number }): Promise<DemoResult> {
  const pool = new pg.Pool({ connectionString: opts.warehouseUrl, max: 2 });
  try {
    const result = await loadDemoWarehouse(pool, { users: opts.users, seed: opts.seed ?? 42, schema: DEMO_SCHEMA });
    const workspace = await services.db.prisma.workspace.findUnique({ where: { slug: DEMO_SLUG } });
    if (workspace) {
      // Columns are re-read so the entities reflect the reloaded tables.
      const entities = await services.db.prisma.entity.findMany({ where: { workspaceId: workspace.id } });
      for (const e of entities) await updateEntity(services, workspace.id, e.id, {});
    }
    return result;
  } finally {
    await pool.end();
  }
}
