// One-click audiences (DESIGN.md §5; reference/001 "One-Click Experience for
// Ad Platforms"): a toggle per segment and ad platform that creates, and
// later pauses or resumes, a managed sync with the defaults most marketers
// want: MIRROR (members who leave are removed), the platform's default
// audience type, a daily schedule, and the identifiers the entity declares
// that the platform accepts. The audience takes the segment's name once;
// renaming the segment later does not rename it. Managed syncs cannot be
// edited (updateSync refuses them); a classic sync covers other needs.
//
// Toggling off pauses the managed sync rather than deleting it, so toggling
// on again resumes the same sync and the same audience: Roster never creates
// a second audience for a segment on a platform (a partial unique index on
// (segmentId, destinationId) WHERE managed settles races between toggles).
import type { Services } from '../context.js';
import type { AudienceSync, Destination, MatchRateSample } from '../generated/prisma/client.js';
import { InvalidStateError, ValidationError } from '../graphql/errors.js';
import { isUniqueViolation } from '../lib/prisma-errors.js';
import { MATCH_RATE_SAMPLES, newest } from '../history.js';
import { findSegment } from '../segments/segments.js';
import { findEntity } from '../warehouse/entities.js';
import { connectorOf, findDestination } from './destinations.js';
import { requestRun } from './run.js';
import { createSync, setSyncStatus } from './syncs.js';

export interface OneClickAudience {
  destination: Destination;
  /** The managed sync, once the toggle was first turned on. */
  sync: AudienceSync | null;
  enabled: boolean;
  /** The audience's name on the platform (the segment's name when first enabled). */
  audienceName: string | null;
  latestMatchRate: MatchRateSample | null;
}

function isAdPlatform(destination: Destination): boolean {
  try {
    return connectorOf(destination.type).spec.category === 'AD_PLATFORM';
  } catch {
    return false;
  }
}

async function managedSyncOf(services: Services, segmentId: string, destinationId: string): Promise<AudienceSync | null> {
  return services.db.prisma.audienceSync.findFirst({ where: { segmentId, destinationId, managed: true } });
}

/** Turns the one-click audience of a segment on one ad platform on or off. */
export async function setOneClickAudience(services: Services, workspaceId: string, segmentId: string, destinationId: string, enabled: boolean): Promise<OneClickAudience> {
  const segment = await findSegment(services, workspaceId, segmentId, ['segmentId']);
  const entity = await findEntity(services, workspaceId, segment.entityId);
  const destination = await findDestination(services, workspaceId, destinationId);
  if (entity.kind !== 'PERSON') {
    throw new ValidationError([{
      path: ['segmentId'],
      message: `one-click audiences are for segments of PERSON entities, but segment "${segment.name}" is on ${entity.name} (${entity.kind}); create a classic sync instead`,
    }]);
  }
  const connector = connectorOf(destination.type);
  if (connector.spec.category !== 'AD_PLATFORM') {
    throw new ValidationError([{
      path: ['destinationId'],
      message: `one-click audiences go to ad platforms, but destination "${destination.name}" is ${connector.name} (${connector.spec.category}); create a classic sync instead`,
    }]);
  }

  let sync = await managedSyncOf(services, segment.id, destination.id);
  if (!enabled) {
    if (sync && sync.status !== 'PAUSED') sync = await setSyncStatus(services, workspaceId, sync.id, 'PAUSED');
    return stateOf(services, destination, sync);
  }

  if (!sync) {
    const accepted = new Set(connector.spec.identifiers.map((i) => i.type));
    const usable = entity.identifiers.filter((i) => accepted.has(i.type)).map((i) => i.type);
    if (usable.length === 0) {
      throw new ValidationError([{
        path: ['destinationId'],
        message: `${connector.name} matches people by ${[...accepted].join(', ')}, but ${entity.name} declares ${entity.identifiers.map((i) => i.type).join(', ') || 'no identifiers'}; declare one of them on the entity`,
      }]);
    }
    try {
      sync = await createSync(
        services,
        workspaceId,
        {
          segmentId: segment.id,
          destinationId: destination.id,
          audience: { target: 'CREATE_BY_NAME', name: segment.name, type: connector.spec.audiences.defaultType },
          mode: 'MIRROR',
          removalBehavior: 'REMOVE',
          mappings: [],
          identifiers: null,
          schedule: { kind: 'DAILY' },
          status: 'ACTIVE',
        },
        { managed: true },
      );
    } catch (err) {
      // Two toggles at once: the other one created it.
      if (!isUniqueViolation(err)) throw err;
      sync = await managedSyncOf(services, segment.id, destination.id);
      if (!sync) throw err;
    }
  } else if (sync.status !== 'ACTIVE') {
    sync = await setSyncStatus(services, workspaceId, sync.id, 'ACTIVE');
  }

  // The audience is filled right away, not at the next daily run. Without a
  // job queue in this process, the daily schedule still covers it.
  if (services.boss) {
    try {
      await requestRun(services, workspaceId, sync.id, { trigger: 'ONE_CLICK' });
    } catch (err) {
      if (!(err instanceof InvalidStateError)) throw err;
    }
  }
  return stateOf(services, destination, sync);
}

async function stateOf(services: Services, destination: Destination, sync: AudienceSync | null): Promise<OneClickAudience> {
  const latestMatchRate = sync ? await services.db.prisma.matchRateSample.findFirst({ where: { syncId: sync.id }, orderBy: { sampledAt: 'desc' } }) : null;
  return { destination, sync, enabled: sync?.status === 'ACTIVE', audienceName: sync?.audienceName ?? null, latestMatchRate };
}

/** The one-click state of a segment on every ad platform connected to its workspace. */
export async function oneClickAudiences(services: Services, workspaceId: string, segmentId: string): Promise<OneClickAudience[]> {
  const prisma = services.db.prisma;
  const [destinations, syncs] = await Promise.all([
    prisma.destination.findMany({ where: { workspaceId }, orderBy: { name: 'asc' } }),
    prisma.audienceSync.findMany({ where: { workspaceId, segmentId, managed: true } }),
  ]);
  const bySync = new Map(syncs.map((s) => [s.destinationId, s]));
  // (Prisma's `distinct` reads every sample and keeps the first of each sync in memory.)
  const latest = await newest(services.db.pool, MATCH_RATE_SAMPLES, syncs.map((s) => s.id), (ids) => prisma.matchRateSample.findMany({ where: { id: { in: ids } } }));
  const latestBySync = new Map(syncs.map((s, i) => [s.id, latest[i] ?? null]));
  return destinations.filter(isAdPlatform).map((destination) => {
    const sync = bySync.get(destination.id) ?? null;
    return { destination, sync, enabled: sync?.status === 'ACTIVE', audienceName: sync?.audienceName ?? null, latestMatchRate: sync ? (latestBySync.get(sync.id) ?? null) : null };
  });
}
