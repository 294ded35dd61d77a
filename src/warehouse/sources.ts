// Sources: warehouse connections of a workspace. The URL is checked, the
// planner schema created, and only then is the source stored, encrypted.
import pg from 'pg';
import type { Services } from '../context.js';
import type { Source } from '../generated/prisma/client.js';
import { ConflictError, InvalidStateError, NotFoundError, SourceConnectionError, ValidationError, type ValidationProblem } from '../graphql/errors.js';
import { checkWarehouse, parseWarehouseUrl, WarehouseError } from './connection.js';
import { DEFAULT_PLANNER_SCHEMA, ensurePlannerSchema, plannerSchemaName } from './planner.js';
import { isUniqueViolation } from '../lib/prisma-errors.js';
import { createSegmentTablesSql } from '../segments/store-sql.js';

export interface SourceInput {
  name: string;
  url: string;
  plannerSchema?: string | null;
}

export function validateName(name: string | null | undefined, path: string[], what: string): ValidationProblem | undefined {
  const trimmed = name?.trim() ?? '';
  if (!trimmed) return { path, message: `expected a non-empty ${what} name, but got ${JSON.stringify(name ?? null)}` };
  if (trimmed.length > 200) return { path, message: `expected a ${what} name of at most 200 characters, but got ${trimmed.length}` };
  return undefined;
}

function asConnectionError(err: unknown, path: string[]): never {
  if (err instanceof WarehouseError) {
    if (err.code === 'INVALID_URL') throw new ValidationError([{ path, message: err.message }]);
    throw new SourceConnectionError(err.message, err.code, path);
  }
  throw err;
}

/** Checks the URL and prepares the planner schema; returns what to store. */
async function prepare(url: string, plannerSchema: string, path: string[]) {
  let parsed;
  try {
    parsed = parseWarehouseUrl(url);
  } catch (err) {
    asConnectionError(err, path);
  }
  try {
    await checkWarehouse(url);
  } catch (err) {
    asConnectionError(err, path);
  }
  // A short-lived pool: the source has no id yet, so it cannot use the registry.
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await ensurePlannerSchema(pool, plannerSchema);
    await pool.query(createSegmentTablesSql(plannerSchema));
  } catch (err) {
    asConnectionError(err, ['plannerSchema']);
  } finally {
    await pool.end();
  }
  return parsed!;
}

function plannerOrProblem(name: string | null | undefined): { schema: string } | { problem: ValidationProblem } {
  try {
    return { schema: plannerSchemaName(name?.trim() || DEFAULT_PLANNER_SCHEMA) };
  } catch (err) {
    return { problem: { path: ['plannerSchema'], message: (err as Error).message } };
  }
}

export async function createSource(services: Services, workspaceId: string, input: SourceInput): Promise<Source> {
  const problems: ValidationProblem[] = [];
  const nameProblem = validateName(input.name, ['name'], 'source');
  if (nameProblem) problems.push(nameProblem);
  const planner = plannerOrProblem(input.plannerSchema);
  if ('problem' in planner) problems.push(planner.problem);
  if (problems.length || 'problem' in planner) throw new ValidationError(problems);

  const parsed = await prepare(input.url, planner.schema, ['url']);
  try {
    return await services.db.prisma.source.create({
      data: {
        workspaceId,
        name: input.name.trim(),
        connectionEnc: services.secrets.seal(input.url),
        displayUrl: parsed.displayUrl,
        plannerSchema: planner.schema,
        status: 'CONNECTED',
        checkedAt: new Date(),
      },
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`a source named "${input.name.trim()}" already exists in this workspace`, ['name']);
    throw err;
  }
}

export async function findSource(services: Services, workspaceId: string, id: string): Promise<Source> {
  const source = await services.db.prisma.source.findFirst({ where: { id, workspaceId } });
  if (!source) throw new NotFoundError('Source', id, ['sourceId']);
  return source;
}

export async function updateSource(
  services: Services,
  workspaceId: string,
  id: string,
  input: { name?: string | null; url?: string | null },
): Promise<Source> {
  const source = await findSource(services, workspaceId, id);
  const problems: ValidationProblem[] = [];
  if (input.name !== undefined && input.name !== null) {
    const p = validateName(input.name, ['name'], 'source');
    if (p) problems.push(p);
  }
  if (problems.length) throw new ValidationError(problems);
  const data: { name?: string; connectionEnc?: string; displayUrl?: string; status?: 'CONNECTED'; checkedAt?: Date; lastError?: null } = {};
  if (input.name) data.name = input.name.trim();
  if (input.url) {
    const parsed = await prepare(input.url, source.plannerSchema, ['url']);
    Object.assign(data, {
      connectionEnc: services.secrets.seal(input.url),
      displayUrl: parsed.displayUrl,
      status: 'CONNECTED',
      checkedAt: new Date(),
      lastError: null,
    });
  }
  try {
    return await services.db.prisma.source.update({ where: { id: source.id }, data });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`a source named "${input.name?.trim()}" already exists in this workspace`, ['name']);
    throw err;
  }
}

/** Re-checks a stored source and records the outcome on it. */
export async function checkSource(services: Services, workspaceId: string, id: string): Promise<Source> {
  const source = await findSource(services, workspaceId, id);
  const url = services.secrets.open(source.connectionEnc);
  let lastError: string | null = null;
  try {
    await checkWarehouse(url);
    await ensurePlannerSchema(sourcePool(services, source), source.plannerSchema);
    await sourcePool(services, source).query(createSegmentTablesSql(source.plannerSchema));
  } catch (err) {
    if (!(err instanceof WarehouseError)) throw err;
    lastError = err.message;
  }
  return services.db.prisma.source.update({
    where: { id: source.id },
    data: { status: lastError ? 'ERROR' : 'CONNECTED', lastError, checkedAt: new Date() },
  });
}

export async function deleteSource(services: Services, workspaceId: string, id: string): Promise<Source> {
  const source = await findSource(services, workspaceId, id);
  const entities = await services.db.prisma.entity.count({ where: { sourceId: source.id } });
  if (entities > 0) {
    throw new InvalidStateError(`source "${source.name}" still has ${entities} entit${entities === 1 ? 'y' : 'ies'}; delete them first`, ['id']);
  }
  await services.db.prisma.source.delete({ where: { id: source.id } });
  return source;
}

/** The pooled connection to a source's warehouse (one pool per source per process). */
export function sourcePool(services: Services, source: Pick<Source, 'id' | 'connectionEnc'>): pg.Pool {
  return services.warehouses.get(source.id, services.secrets.open(source.connectionEnc));
}

/** Runs `fn` against the source's warehouse, turning connection failures into typed errors. */
export async function withSourcePool<T>(services: Services, source: Source, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  try {
    return await fn(sourcePool(services, source));
  } catch (err) {
    if (err instanceof WarehouseError) throw new SourceConnectionError(`source "${source.name}": ${err.message}`, err.code);
    throw err;
  }
}
