// Match rates (samples read back from the platforms) and one-click audiences,
// on syncs and segments.
import { builder } from '../builder.js';
import { workspaceOf } from '../../context.js';
import { InvalidStateError, NotFoundError, ValidationError } from '../errors.js';
import { resultOf } from '../results.js';
import { findSync } from '../../sync/syncs.js';
import { reportsMatchRate, sampleMatchRates } from '../../sync/match-rates.js';
import { oneClickAudiences, setOneClickAudience, type OneClickAudience } from '../../sync/one-click.js';
import { AudienceSyncRef } from './AudienceSync.js';
import { DestinationRef } from './Destination.js';
import { SegmentRef } from './Segment.js';
import { MATCH_RATE_SAMPLES } from '../../history.js';
import { historyConnection, newestOf } from '../history.js';
import type { Context } from '../../context.js';

const MatchRateSampleRef = builder.prismaObject('MatchRateSample', {
  description: 'What the destination reported about one audience at one time.',
  fields: (t) => ({
    id: t.exposeID('id'),
    audienceId: t.exposeString('audienceExternalId', { description: "The destination's id of the audience." }),
    matched: t.exposeInt('matched', { nullable: true, description: 'Members matched, or the audience size where that is what the platform reports.' }),
    uploaded: t.exposeInt('uploaded', { description: "Members uploaded: the platform's count, else what Roster has sent." }),
    rate: t.exposeFloat('rate', { nullable: true, description: 'From 0 to 1; null when the platform reports nothing to compute it from.' }),
    sampledAt: t.expose('sampledAt', { type: 'DateTime' }),
  }),
});

/** Match-rate samples by id (their syncs' workspace is the parent's). */
function samplesById(ctx: Context, ids: string[]) {
  return ctx.prisma.matchRateSample.findMany({ where: { id: { in: ids } } });
}

builder.prismaObjectFields('AudienceSync', (t) => ({
  reportsMatchRate: t.boolean({ select: { destination: { select: { type: true } } }, resolve: (s) => reportsMatchRate(s.destination.type) }),
  // Read a page per sync, for a whole list of syncs at once, as runs are (src/history.ts).
  matchRate: t.loadable({
    type: MatchRateSampleRef,
    nullable: true,
    description: 'The most recent sample (of any of the sync’s audiences); the history is in matchRates.',
    load: (syncIds: string[], ctx: Context) => newestOf(ctx, MATCH_RATE_SAMPLES, syncIds, samplesById),
    resolve: (s) => s.id,
  }),
  matchRates: t.connection(
    {
      type: MatchRateSampleRef,
      description: 'Match-rate samples, newest first.',
      resolve: (s, args, ctx) => historyConnection(ctx, MATCH_RATE_SAMPLES, s.id, args, samplesById),
    },
    { name: 'AudienceSyncMatchRatesConnection' },
    { name: 'AudienceSyncMatchRatesConnectionEdge' },
  ),
}));

const OneClickAudienceRef = builder.objectRef<OneClickAudience>('OneClickAudience').implement({
  description: "A segment's one-click audience on one connected ad platform.",
  fields: (t) => ({
    destination: t.field({ type: DestinationRef, resolve: (o) => o.destination }),
    enabled: t.exposeBoolean('enabled'),
    sync: t.field({ type: AudienceSyncRef, nullable: true, description: 'The managed sync, once first enabled.', resolve: (o) => o.sync }),
    audienceName: t.exposeString('audienceName', { nullable: true, description: "The audience's name on the platform: the segment's name when first enabled." }),
    latestMatchRate: t.field({ type: MatchRateSampleRef, nullable: true, resolve: (o) => o.latestMatchRate }),
  }),
});

const SegmentMatchRateRef = builder
  .objectRef<{ syncId: string; destinationId: string; sample: { id: string } }>('SegmentDestinationMatchRate')
  .implement({
    description: 'The latest match rate of a segment in one destination (through one sync).',
    fields: (t) => ({
      destination: t.prismaField({ type: 'Destination', resolve: (query, m, _a, ctx) => ctx.prisma.destination.findUniqueOrThrow({ ...query, where: { id: m.destinationId } }) }),
      sync: t.prismaField({ type: 'AudienceSync', resolve: (query, m, _a, ctx) => ctx.prisma.audienceSync.findUniqueOrThrow({ ...query, where: { id: m.syncId } }) }),
      latest: t.prismaField({ type: 'MatchRateSample', resolve: (query, m, _a, ctx) => ctx.prisma.matchRateSample.findUniqueOrThrow({ ...query, where: { id: m.sample.id } }) }),
    }),
  });

builder.prismaObjectFields('Segment', (t) => ({
  oneClickAudiences: t.field({
    type: [OneClickAudienceRef],
    description: 'One entry per ad platform connected to the workspace: whether the segment is sent there in one click.',
    resolve: (s, _a, ctx) => oneClickAudiences(ctx.services, workspaceOf(ctx), s.id),
  }),
  matchRates: t.field({
    type: [SegmentMatchRateRef],
    description: 'Per destination the segment is synced to, the latest match rate read back.',
    // The newest sample of each of the segment's syncs, not all of them (Prisma's `distinct` reads every one).
    resolve: async (s, _a, ctx) => {
      const syncs = await ctx.prisma.audienceSync.findMany({ where: { segmentId: s.id, workspaceId: workspaceOf(ctx) }, select: { id: true, destinationId: true } });
      const latest = await newestOf(ctx, MATCH_RATE_SAMPLES, syncs.map((sync) => sync.id), (c, ids) =>
        c.prisma.matchRateSample.findMany({ where: { id: { in: ids } }, select: { id: true, sampledAt: true } }),
      );
      return syncs
        .flatMap((sync, i) => (latest[i] ? [{ syncId: sync.id, destinationId: sync.destinationId, sample: latest[i] }] : []))
        .sort((a, b) => b.sample.sampledAt.getTime() - a.sample.sampledAt.getTime());
    },
  }),
}));

builder.mutationField('setOneClickAudience', (t) =>
  t.field({
    type: OneClickAudienceRef,
    description:
      'Sends the segment to an ad platform in one click (a managed MIRROR sync, daily, automatic identifiers, the audience named after the segment), or stops sending it. Turning it on again resumes the same audience.',
    errors: resultOf('SetOneClickAudience', 'oneClickAudience', [NotFoundError, ValidationError, InvalidStateError]),
    args: {
      segmentId: t.arg.globalID({ required: true, for: [SegmentRef] }),
      destinationId: t.arg.globalID({ required: true, for: [DestinationRef] }),
      enabled: t.arg.boolean({ required: true }),
    },
    resolve: (_root, args, ctx) => setOneClickAudience(ctx.services, workspaceOf(ctx), args.segmentId.id, args.destinationId.id, args.enabled),
  }),
);

builder.mutationField('refreshMatchRates', (t) =>
  t.field({
    type: [MatchRateSampleRef],
    description: 'Reads the match rates of the sync’s audiences from the destination now.',
    errors: resultOf('RefreshMatchRates', 'samples', [NotFoundError, InvalidStateError]),
    args: { syncId: t.arg.globalID({ required: true, for: [AudienceSyncRef] }) },
    resolve: async (_root, { syncId }, ctx) => {
      const sync = await findSync(ctx.services, workspaceOf(ctx), syncId.id, ['syncId']);
      const destination = await ctx.prisma.destination.findUniqueOrThrow({ where: { id: sync.destinationId } });
      if (!reportsMatchRate(destination.type)) throw new InvalidStateError(`destination "${destination.name}" (${destination.type}) does not report match rates`, ['syncId']);
      const { samples, error } = await sampleMatchRates(ctx.services, sync);
      if (error && samples.length === 0) throw new InvalidStateError(`the destination did not report match rates: ${error}`, ['syncId']);
      return samples;
    },
  }),
);
