// Match rates read back from the destinations that report them (ad platforms
// above all): after every run that delivered something, and on a schedule,
// since platforms match uploads over hours. Each reading is kept as a sample
// per audience, so the API can show the latest and the history, and each is
// published as `matchRateUpdated(syncId)` for live dashboards.
//
// Platforms report different things (matched members, an approximate
// audience size, or a percentage); the connector turns them into
// AudienceStats, and this module into one rate: the platform's percentage
// when it gives one, else matched / uploaded, where uploaded is the
// platform's own count or, failing that, the members Roster has confirmed
// (the sync's snapshot).
import type { Services } from '../context.js';
import type { AudienceSync, MatchRateSample } from '../generated/prisma/client.js';
import type { AudienceStats } from '../connectors/contract.js';
import { ConnectorError } from '../connectors/contract.js';
import { sourcePool } from '../warehouse/sources.js';
import { NotFoundError } from '../graphql/errors.js';
import { connectorOf, contextFor } from './destinations.js';
import { createSyncTablesSql, snapshotTable } from './plan-sql.js';

/** How often the scheduler reads match rates back between runs. */
export const MATCH_RATE_EVERY_MS = 6 * 60 * 60 * 1000;

/** One rate from what a platform reported; null when it cannot be known. */
export function rateOf(stats: AudienceStats, uploaded: number): number | null {
  if (stats.rate !== undefined && stats.rate !== null && Number.isFinite(stats.rate)) return Math.min(1, Math.max(0, stats.rate));
  if (stats.matched === null || uploaded <= 0) return null;
  return Math.min(1, Math.max(0, stats.matched / uploaded));
}

/** Whether syncs to this destination type get match rates read back. */
export function reportsMatchRate(destinationType: string): boolean {
  try {
    const c = connectorOf(destinationType);
    return c.spec.reportsMatchRate && typeof c.matchRate === 'function';
  } catch {
    return false;
  }
}

/**
 * Reads the match rate of every audience the sync has members in (or its
 * one fixed audience), stores a sample per audience, publishes each, and
 * schedules the next reading. A platform error is logged and returned, not
 * thrown: a missing reading must not fail the run that asked for it.
 */
export async function sampleMatchRates(
  services: Services,
  syncOrId: AudienceSync | string,
  now: Date = new Date(),
): Promise<{ samples: MatchRateSample[]; error: string | null }> {
  const prisma = services.db.prisma;
  const sync = typeof syncOrId === 'string' ? await prisma.audienceSync.findUnique({ where: { id: syncOrId } }) : syncOrId;
  if (!sync) throw new NotFoundError('AudienceSync', typeof syncOrId === 'string' ? syncOrId : '', ['syncId']);
  const destination = await prisma.destination.findUniqueOrThrow({ where: { id: sync.destinationId } });
  if (!reportsMatchRate(destination.type)) {
    await prisma.audienceSync.update({ where: { id: sync.id }, data: { nextMatchRateAt: null } });
    return { samples: [], error: null };
  }
  const connector = connectorOf(destination.type);

  // Members Roster has confirmed per audience reference, from the snapshot.
  const entity = await prisma.entity.findUniqueOrThrow({ where: { id: sync.entityId }, include: { source: true } });
  const pool = sourcePool(services, entity.source);
  await pool.query(createSyncTablesSql(entity.source.plannerSchema));
  const { rows } = await pool.query<{ audience: string; n: number }>(
    `SELECT audience, count(*)::int AS n FROM ${snapshotTable(entity.source.plannerSchema)} WHERE sync_id = $1::uuid GROUP BY audience`,
    [sync.id],
  );
  const counts = new Map(rows.map((r) => [r.audience, r.n]));
  const fixed = sync.audienceTarget === 'EXISTING' ? sync.audienceExternalId : sync.audienceTarget === 'CREATE_BY_NAME' ? sync.audienceName : null;
  if (fixed && !counts.has(fixed)) counts.set(fixed, 0);

  // References become audiences: an existing id as is, a name through what Roster created.
  const tracked = await prisma.destinationAudience.findMany({ where: { destinationId: destination.id, name: { in: [...counts.keys()] } } });
  const byName = new Map(tracked.map((a) => [a.name, a]));
  const ctx = contextFor(services, destination);
  const samples: MatchRateSample[] = [];
  let error: string | null = null;
  for (const [reference, members] of counts) {
    const known = byName.get(reference);
    const audience =
      sync.audienceTarget === 'EXISTING' ? { id: reference, name: reference } : known ? { id: known.externalId, name: known.name, type: known.type } : null;
    if (!audience) continue; // not created yet: nothing to read
    let stats: AudienceStats;
    try {
      stats = await connector.matchRate!(ctx, audience);
    } catch (err) {
      error = err instanceof ConnectorError ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err);
      services.logger.warn({ err, syncId: sync.id, audience: audience.id }, 'could not read the match rate');
      continue;
    }
    const uploaded = stats.uploaded ?? members;
    const sample = await prisma.matchRateSample.create({
      data: {
        syncId: sync.id,
        audienceId: known?.id ?? null,
        audienceExternalId: audience.id,
        matched: stats.matched === null ? null : Math.max(0, Math.round(stats.matched)),
        uploaded: Math.max(0, Math.round(uploaded)),
        rate: rateOf(stats, uploaded),
        sampledAt: now,
      },
    });
    samples.push(sample);
    services.pubsub?.publish('matchRateUpdated', sync.id, {
      workspaceId: sync.workspaceId,
      syncId: sync.id,
      audienceId: audience.id,
      audienceName: audience.name,
      matched: sample.matched,
      uploaded: sample.uploaded,
      rate: sample.rate,
      sampledAt: sample.sampledAt.toISOString(),
    });
  }
  await prisma.audienceSync.update({ where: { id: sync.id }, data: { nextMatchRateAt: new Date(now.getTime() + MATCH_RATE_EVERY_MS) } });
  return { samples, error };
}

/**
 * Syncs due a scheduled reading, claimed with a compare-and-set on
 * nextMatchRateAt so that overlapping ticks read each once.
 */
export async function claimDueMatchRates(services: Services, now: Date, take = 200): Promise<string[]> {
  const prisma = services.db.prisma;
  const due = await prisma.audienceSync.findMany({
    // A paused sync's audience no longer changes: nothing new to read.
    where: { nextMatchRateAt: { lte: now }, status: 'ACTIVE' },
    orderBy: { nextMatchRateAt: 'asc' },
    take,
    select: { id: true, nextMatchRateAt: true },
  });
  const claimed: string[] = [];
  for (const sync of due) {
    const next = new Date(now.getTime() + MATCH_RATE_EVERY_MS);
    const won = await prisma.audienceSync.updateMany({ where: { id: sync.id, nextMatchRateAt: sync.nextMatchRateAt }, data: { nextMatchRateAt: next } });
    if (won.count) claimed.push(sync.id);
  }
  return claimed;
}
