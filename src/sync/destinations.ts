// Destinations: a connector type and its configuration. Secret fields are
// sealed together (AES-256-GCM) and only ever opened to build a connector's
// context inside the process.
import type { Services } from '../context.js';
import type { Destination, Prisma } from '../generated/prisma/client.js';
import { ConflictError, InvalidStateError, NotFoundError, SourceConnectionError, ValidationError } from '../graphql/errors.js';
import { isUniqueViolation } from '../lib/prisma-errors.js';
import { suggest } from '../lib/suggest.js';
import { ConnectorError, type Audience, type Connector, type ConnectorContext } from '../connectors/contract.js';
import { getConnector, listConnectors, mergeConfig, validateDestinationConfig } from '../connectors/registry.js';
import { validateName } from '../warehouse/sources.js';

export function connectorOf(type: string, path = ['type']): Connector {
  const connector = getConnector(type);
  if (!connector) {
    const types = listConnectors().map((c) => c.type);
    throw new ValidationError([{ path, message: `expected a destination type (${types.join(', ')}), but got "${type}"`, suggestion: suggest(type, types) }]);
  }
  return connector;
}

export function contextFor(services: Services, destination: Destination, signal: AbortSignal = new AbortController().signal): ConnectorContext<Record<string, unknown>> {
  const secrets = destination.secretsEnc ? (JSON.parse(services.secrets.open(destination.secretsEnc)) as Record<string, string>) : {};
  return {
    destinationId: destination.id,
    config: mergeConfig(destination.config as Record<string, unknown>, secrets),
    logger: services.logger.child({ destinationId: destination.id, connector: destination.type }),
    signal,
  };
}

async function checkConnector(connector: Connector, ctx: ConnectorContext<Record<string, unknown>>): Promise<void> {
  try {
    await connector.check(ctx);
  } catch (err) {
    if (err instanceof ConnectorError) throw new SourceConnectionError(`the destination did not answer as expected: ${err.message}`, err.code, ['config']);
    throw err;
  }
}

export async function createDestination(services: Services, workspaceId: string, input: { name: string; type: string; config: unknown }): Promise<Destination> {
  const nameProblem = validateName(input.name, ['name'], 'destination');
  const connector = connectorOf(input.type);
  const { config, secrets, problems } = validateDestinationConfig(connector, input.config, ['config']);
  const all = [...(nameProblem ? [nameProblem] : []), ...problems];
  if (all.length) throw new ValidationError(all);
  const secretsEnc = Object.keys(secrets).length ? services.secrets.seal(JSON.stringify(secrets)) : null;
  await checkConnector(connector, {
    destinationId: 'new',
    config: mergeConfig(config, secrets),
    logger: services.logger.child({ connector: connector.type }),
    signal: new AbortController().signal,
  });
  try {
    return await services.db.prisma.destination.create({
      data: { workspaceId, name: input.name.trim(), type: connector.type, config: config as Prisma.InputJsonValue, secretsEnc },
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`a destination named "${input.name.trim()}" already exists in this workspace`, ['name']);
    throw err;
  }
}

export async function findDestination(services: Services, workspaceId: string, id: string, path = ['destinationId']): Promise<Destination> {
  const destination = await services.db.prisma.destination.findFirst({ where: { id, workspaceId } });
  if (!destination) throw new NotFoundError('Destination', id, path);
  return destination;
}

export async function deleteDestination(services: Services, workspaceId: string, id: string): Promise<Destination> {
  const destination = await findDestination(services, workspaceId, id, ['id']);
  const syncs = await services.db.prisma.audienceSync.count({ where: { destinationId: destination.id } });
  if (syncs) throw new InvalidStateError(`destination "${destination.name}" is used by ${syncs} sync(s); delete them first`, ['id']);
  await services.db.prisma.destination.delete({ where: { id: destination.id } });
  return destination;
}

/**
 * The destination audience a reference names, created if needed. Roster
 * remembers every audience it created (DestinationAudience), so it never
 * creates a duplicate, even where the destination cannot list audiences; the
 * unique (destination, name) index settles a race between two runs.
 */
export async function resolveAudience(
  services: Services,
  destination: Destination,
  connector: Connector,
  ctx: ConnectorContext<Record<string, unknown>>,
  target: { kind: 'EXISTING'; id: string } | { kind: 'BY_NAME'; name: string; type: string | null },
): Promise<Audience> {
  if (target.kind === 'EXISTING') return { id: target.id, name: target.id };
  const prisma = services.db.prisma;
  const known = await prisma.destinationAudience.findUnique({ where: { destinationId_name: { destinationId: destination.id, name: target.name } } });
  if (known) return { id: known.externalId, name: known.name, type: known.type };
  let audience: Audience | undefined;
  if (connector.spec.audiences.canList && connector.listAudiences) {
    audience = (await connector.listAudiences(ctx)).find((a) => a.name === target.name);
  }
  if (!audience) {
    if (!connector.spec.audiences.canCreate || !connector.createAudience) {
      throw new InvalidStateError(`audience "${target.name}" does not exist in destination "${destination.name}", which cannot create audiences`);
    }
    audience = await connector.createAudience(ctx, { name: target.name, type: target.type ?? connector.spec.audiences.defaultType });
  }
  try {
    await prisma.destinationAudience.create({
      data: { workspaceId: destination.workspaceId, destinationId: destination.id, externalId: audience.id, name: audience.name === target.name ? target.name : target.name, type: audience.type ?? target.type ?? null },
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const winner = await prisma.destinationAudience.findUniqueOrThrow({ where: { destinationId_name: { destinationId: destination.id, name: target.name } } });
    return { id: winner.externalId, name: winner.name, type: winner.type };
  }
  return audience;
}
