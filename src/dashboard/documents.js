// The dashboard's GraphQL documents: a plain ES module without imports, so
// that the page (app.js) and Node (the statement-count test, bench/: api)
// send the very same operations.

/** Runs shown in a sync's history (and charted). */
export const RUNS_SHOWN = 10;
/** Match-rate samples charted per sync. */
export const MATCH_RATES_SHOWN = 30;
/**
 * Syncs per page of the list. The server limits each operation's estimated
 * cost (first × fields × depth), so the list carries only each sync's summary
 * and every card loads its run history with a query of its own.
 */
export const PAGE_SIZE = 20;
export const COUNTS = 'adds removes updates';
export const RUN_FIELDS = `id status trigger queuedAt startedAt finishedAt durationMs
  planned { ${COUNTS} } delivered { ${COUNTS} } rejected error`;
export const SYNC_SUMMARY = `id status mode
  segment { id name size }
  entity { id name }
  destination { id name type }
  schedule { description nextAt }
  lastRun { ${RUN_FIELDS} }
  matchRate { rate sampledAt }`;

export const VIEWER_QUERY = `query DashboardViewer { viewer { scopes workspace { name slug } } }`;
export const SYNCS_QUERY = `query DashboardSyncs($first: Int = ${PAGE_SIZE}, $after: String) {
  audienceSyncs(first: $first, after: $after) {
    edges { node { ${SYNC_SUMMARY} } }
    pageInfo { hasNextPage endCursor }
  }
}`;
export const SYNC_QUERY = `query DashboardSync($id: ID!) {
  audienceSync(id: $id) { ${SYNC_SUMMARY} runs(first: ${RUNS_SHOWN}) { edges { node { ${RUN_FIELDS} } } }
    matchRates(first: ${MATCH_RATES_SHOWN}) { edges { node { rate sampledAt } } } }
}`;
export const RUN_NOW_MUTATION = `mutation DashboardRunNow($id: ID!) {
  triggerAudienceSync(id: $id, evaluateSegmentFirst: true) {
    __typename
    ... on TriggerAudienceSyncPayload { run { ${RUN_FIELDS} } }
    ... on Error { message }
  }
}`;
export const PROGRESS_SUBSCRIPTION = `subscription DashboardProgress($syncId: ID!) {
  syncRunProgress(syncId: $syncId) {
    runId phase percent rowsPerSecond etaSeconds rejected
    planned { ${COUNTS} } done { ${COUNTS} }
  }
}`;
export const FINISHED_SUBSCRIPTION = `subscription DashboardFinished($syncId: ID!) {
  syncRunFinished(syncId: $syncId) {
    runId status rejected error durationMs
    planned { ${COUNTS} } delivered { ${COUNTS} }
  }
}`;
export const MATCH_RATE_SUBSCRIPTION = `subscription DashboardMatchRate($syncId: ID!) {
  matchRateUpdated(syncId: $syncId) { matched uploaded rate sampledAt }
}`;
