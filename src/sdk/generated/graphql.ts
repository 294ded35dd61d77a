/* eslint-disable */
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type Maybe<T> = T | null;
export type InputMaybe<T> = T | null | undefined;
export type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
export type MakeOptional<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]?: Maybe<T[SubKey]> };
export type MakeMaybe<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]: Maybe<T[SubKey]> };
export type MakeEmpty<T extends { [key: string]: unknown }, K extends keyof T> = { [_ in K]?: never };
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** A string, number or boolean. Dates and timestamps are ISO-8601 strings. */
  ConditionValue: { input: any; output: any; }
  /** An instant, as an ISO-8601 string with a time zone (e.g. 2026-11-23T10:00:00Z). */
  DateTime: { input: string; output: string; }
  /** Any JSON value. */
  JSON: { input: unknown; output: unknown; }
};

export type AggregateFn =
  | 'AVG'
  | 'MAX'
  | 'MIN'
  | 'SUM';

export type AggregateInput = {
  column: Scalars['String']['input'];
  fn: AggregateFn;
  op: ComparisonOp;
  /** A number; for MIN/MAX of a date or timestamp, an ISO-8601 string. */
  value: Scalars['ConditionValue']['input'];
};

export type ApiToken = Node & {
  __typename?: 'ApiToken';
  createdAt: Scalars['DateTime']['output'];
  expiresAt?: Maybe<Scalars['DateTime']['output']>;
  id: Scalars['ID']['output'];
  lastUsedAt?: Maybe<Scalars['DateTime']['output']>;
  name: Scalars['String']['output'];
  persistedOnly: Scalars['Boolean']['output'];
  /** The first characters of the token, to tell tokens apart. The token itself is shown only once. */
  prefix: Scalars['String']['output'];
  revokedAt?: Maybe<Scalars['DateTime']['output']>;
  scopes: Array<TokenScope>;
};

/** A column of the entity, or relationship.column through many-to-one relationships (company.industry). */
export type AttributeConditionInput = {
  op: AttributeOp;
  path: Scalars['String']['input'];
  value?: InputMaybe<Scalars['ConditionValue']['input']>;
  values?: InputMaybe<Array<Scalars['ConditionValue']['input']>>;
  within?: InputMaybe<TimeWindowInput>;
};

export type AttributeOp =
  | 'AFTER'
  | 'BEFORE'
  | 'BETWEEN'
  | 'CONTAINS'
  | 'EQ'
  | 'GT'
  | 'GTE'
  | 'IN'
  | 'IS_FALSE'
  | 'IS_NOT_NULL'
  | 'IS_NULL'
  | 'IS_TRUE'
  | 'LT'
  | 'LTE'
  | 'NEQ'
  | 'NOT_IN'
  | 'NOT_WITHIN_LAST'
  | 'STARTS_WITH'
  | 'WITHIN_LAST';

export type AudienceSync = Node & {
  __typename?: 'AudienceSync';
  audience: SyncAudience;
  createdAt: Scalars['DateTime']['output'];
  destination: Destination;
  entity: Entity;
  id: Scalars['ID']['output'];
  identifiers: Array<SyncIdentifierType>;
  lastRun?: Maybe<SyncRun>;
  /** A one-click audience: can be turned on or off, not edited. */
  managed: Scalars['Boolean']['output'];
  mappings: Array<FieldMapping>;
  /** The most recent sample (of any of the sync’s audiences); the history is in matchRates. */
  matchRate?: Maybe<MatchRateSample>;
  /** Match-rate samples, newest first. */
  matchRates: AudienceSyncMatchRatesConnection;
  mode: SyncMode;
  removalBehavior: RemovalBehavior;
  reportsMatchRate: Scalars['Boolean']['output'];
  /** Newest first. */
  runs: AudienceSyncRunsConnection;
  schedule: Schedule;
  /** null: the sync sends every record of its entity. */
  segment?: Maybe<Segment>;
  status: SyncStatus;
  warnings: Array<Scalars['String']['output']>;
};


export type AudienceSyncMatchRatesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};


export type AudienceSyncRunsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};

export type AudienceSyncDiff = {
  __typename?: 'AudienceSyncDiff';
  adds: Scalars['Int']['output'];
  /** Changes the mode leaves out. */
  filtered: Scalars['Int']['output'];
  removes: Scalars['Int']['output'];
  samples: Array<DiffSample>;
  updates: Scalars['Int']['output'];
};

export type AudienceSyncMatchRatesConnection = {
  __typename?: 'AudienceSyncMatchRatesConnection';
  edges: Array<AudienceSyncMatchRatesConnectionEdge>;
  pageInfo: PageInfo;
};

export type AudienceSyncMatchRatesConnectionEdge = {
  __typename?: 'AudienceSyncMatchRatesConnectionEdge';
  cursor: Scalars['String']['output'];
  node: MatchRateSample;
};

export type AudienceSyncRunsConnection = {
  __typename?: 'AudienceSyncRunsConnection';
  edges: Array<AudienceSyncRunsConnectionEdge>;
  pageInfo: PageInfo;
};

export type AudienceSyncRunsConnectionEdge = {
  __typename?: 'AudienceSyncRunsConnectionEdge';
  cursor: Scalars['String']['output'];
  node: SyncRun;
};

export type AudienceTarget =
  | 'CREATE_BY_NAME'
  | 'EXISTING'
  | 'NAME_FROM_COLUMN';

export type BreakdownRow = {
  __typename?: 'BreakdownRow';
  count: Scalars['Int']['output'];
  value?: Maybe<Scalars['String']['output']>;
};

export type CancelSyncRunPayload = {
  __typename?: 'CancelSyncRunPayload';
  run: SyncRun;
};

export type CancelSyncRunResult = CancelSyncRunPayload | InvalidStateError | NotFoundError;

export type CheckSourcePayload = {
  __typename?: 'CheckSourcePayload';
  source: Source;
};

export type CheckSourceResult = CheckSourcePayload | NotFoundError;

/** A column's type family: it decides which operators and identifiers fit the column. */
export type ColumnType =
  | 'ARRAY'
  | 'BOOLEAN'
  | 'DATE'
  | 'INTEGER'
  | 'JSON'
  | 'NUMBER'
  | 'OTHER'
  | 'STRING'
  | 'TIMESTAMP'
  | 'UUID';

export type ComparisonOp =
  | 'EQ'
  | 'GT'
  | 'GTE'
  | 'LT'
  | 'LTE'
  | 'NEQ';

/** One of: and, or, not, attribute, event, segment. */
export type ConditionInput =
  { and: Array<ConditionInput>; attribute?: never; event?: never; not?: never; or?: never; segment?: never; }
  |  { and?: never; attribute: AttributeConditionInput; event?: never; not?: never; or?: never; segment?: never; }
  |  { and?: never; attribute?: never; event: EventConditionInput; not?: never; or?: never; segment?: never; }
  |  { and?: never; attribute?: never; event?: never; not: ConditionInput; or?: never; segment?: never; }
  |  { and?: never; attribute?: never; event?: never; not?: never; or: Array<ConditionInput>; segment?: never; }
  |  { and?: never; attribute?: never; event?: never; not?: never; or?: never; segment: SegmentConditionInput; };

export type ConflictError = Error & {
  __typename?: 'ConflictError';
  message: Scalars['String']['output'];
  /** The input field at fault, e.g. ["input", "identifiers", "1", "column"]. */
  path: Array<Scalars['String']['output']>;
};

export type ConnectorConfigField = {
  __typename?: 'ConnectorConfigField';
  description: Scalars['String']['output'];
  enum?: Maybe<Array<Scalars['String']['output']>>;
  name: Scalars['String']['output'];
  required: Scalars['Boolean']['output'];
  /** Stored encrypted and never returned. */
  secret: Scalars['Boolean']['output'];
  type: Scalars['String']['output'];
};

/** What a kind of destination accepts and can do. */
export type ConnectorType = {
  __typename?: 'ConnectorType';
  audienceTypes: Array<Scalars['String']['output']>;
  batchSize: Scalars['Int']['output'];
  canCreateAudiences: Scalars['Boolean']['output'];
  canListAudiences: Scalars['Boolean']['output'];
  category: Scalars['String']['output'];
  configFields: Array<ConnectorConfigField>;
  defaultAudienceType?: Maybe<Scalars['String']['output']>;
  identifiers: Array<Scalars['String']['output']>;
  name: Scalars['String']['output'];
  reportsMatchRate: Scalars['Boolean']['output'];
  requiresProfiles: Scalars['Boolean']['output'];
  type: Scalars['String']['output'];
};

export type CountInput = {
  op: ComparisonOp;
  value: Scalars['Int']['input'];
};

export type CreateApiTokenInput = {
  expiresAt?: InputMaybe<Scalars['DateTime']['input']>;
  name: Scalars['String']['input'];
  /** Partner tokens: may run persisted operations only. */
  persistedOnly?: InputMaybe<Scalars['Boolean']['input']>;
  scopes: Array<TokenScope>;
};

export type CreateApiTokenPayload = {
  __typename?: 'CreateApiTokenPayload';
  created: CreatedApiToken;
};

export type CreateApiTokenResult = CreateApiTokenPayload | ValidationError;

export type CreateAudienceSyncInput = {
  audience: SyncAudienceInput;
  destinationId: Scalars['ID']['input'];
  /** Instead of a segment: sync every record of the entity. */
  entityId?: InputMaybe<Scalars['ID']['input']>;
  /** Default: the entity's identifiers that the destination accepts. */
  identifiers?: InputMaybe<Array<SyncIdentifierType>>;
  mappings?: InputMaybe<Array<FieldMappingInput>>;
  mode?: InputMaybe<SyncMode>;
  removalBehavior?: InputMaybe<RemovalBehavior>;
  schedule?: InputMaybe<ScheduleInput>;
  segmentId?: InputMaybe<Scalars['ID']['input']>;
  /** Default DRAFT. */
  status?: InputMaybe<SyncStatus>;
};

export type CreateAudienceSyncPayload = {
  __typename?: 'CreateAudienceSyncPayload';
  audienceSync: AudienceSync;
};

export type CreateAudienceSyncResult = CreateAudienceSyncPayload | InvalidStateError | NotFoundError | SourceConnectionError | ValidationError;

export type CreateDestinationInput = {
  /** Settings per the connector type; secret ones are encrypted. */
  config: Scalars['JSON']['input'];
  name: Scalars['String']['input'];
  /** A connector type, see connectorTypes. */
  type: Scalars['String']['input'];
};

export type CreateDestinationPayload = {
  __typename?: 'CreateDestinationPayload';
  destination: Destination;
};

export type CreateDestinationResult = ConflictError | CreateDestinationPayload | SourceConnectionError | ValidationError;

export type CreateEntityInput = {
  from: EntityFromInput;
  identifiers?: InputMaybe<Array<IdentifierInput>>;
  kind: EntityKind;
  name: Scalars['String']['input'];
  primaryKey: Scalars['String']['input'];
  sourceId: Scalars['ID']['input'];
};

export type CreateEntityPayload = {
  __typename?: 'CreateEntityPayload';
  entity: Entity;
};

export type CreateEntityResult = ConflictError | CreateEntityPayload | NotFoundError | SourceConnectionError | ValidationError;

export type CreateRelationshipInput = {
  fromColumn: Scalars['String']['input'];
  fromEntityId: Scalars['ID']['input'];
  kind: RelationshipKind;
  /** Used in paths: company.industry. */
  name: Scalars['String']['input'];
  toColumn: Scalars['String']['input'];
  toEntityId: Scalars['ID']['input'];
};

export type CreateRelationshipPayload = {
  __typename?: 'CreateRelationshipPayload';
  relationship: Relationship;
};

export type CreateRelationshipResult = ConflictError | CreateRelationshipPayload | NotFoundError | ValidationError;

export type CreateSegmentInput = {
  condition: ConditionInput;
  description?: InputMaybe<Scalars['String']['input']>;
  entityId: Scalars['ID']['input'];
  name: Scalars['String']['input'];
  /** When to evaluate; default manual. */
  schedule?: InputMaybe<ScheduleInput>;
};

export type CreateSegmentPayload = {
  __typename?: 'CreateSegmentPayload';
  segment: Segment;
};

export type CreateSegmentResult = ConflictError | CreateSegmentPayload | NotFoundError | SourceConnectionError | ValidationError;

export type CreateSourceInput = {
  name: Scalars['String']['input'];
  /** Defaults to roster_planner. */
  plannerSchema?: InputMaybe<Scalars['String']['input']>;
  /** postgresql://user:password@host:5432/database — checked now, stored encrypted. */
  url: Scalars['String']['input'];
};

export type CreateSourcePayload = {
  __typename?: 'CreateSourcePayload';
  source: Source;
};

export type CreateSourceResult = ConflictError | CreateSourcePayload | SourceConnectionError | ValidationError;

export type CreatedApiToken = {
  __typename?: 'CreatedApiToken';
  apiToken: ApiToken;
  /** The secret token. Shown only in this response; store it now. */
  token: Scalars['String']['output'];
};

export type DeleteAudienceSyncPayload = {
  __typename?: 'DeleteAudienceSyncPayload';
  deletedId: Scalars['ID']['output'];
};

export type DeleteAudienceSyncResult = DeleteAudienceSyncPayload | InvalidStateError | NotFoundError;

export type DeleteDestinationPayload = {
  __typename?: 'DeleteDestinationPayload';
  deletedId: Scalars['ID']['output'];
};

export type DeleteDestinationResult = DeleteDestinationPayload | InvalidStateError | NotFoundError;

export type DeleteEntityPayload = {
  __typename?: 'DeleteEntityPayload';
  deletedId: Scalars['ID']['output'];
};

export type DeleteEntityResult = DeleteEntityPayload | InvalidStateError | NotFoundError;

export type DeleteRelationshipPayload = {
  __typename?: 'DeleteRelationshipPayload';
  deletedId: Scalars['ID']['output'];
};

export type DeleteRelationshipResult = DeleteRelationshipPayload | NotFoundError;

export type DeleteSegmentPayload = {
  __typename?: 'DeleteSegmentPayload';
  deletedId: Scalars['ID']['output'];
};

export type DeleteSegmentResult = DeleteSegmentPayload | InvalidStateError | NotFoundError;

export type DeleteSourcePayload = {
  __typename?: 'DeleteSourcePayload';
  deletedId: Scalars['ID']['output'];
};

export type DeleteSourceResult = DeleteSourcePayload | InvalidStateError | NotFoundError;

/** A configured destination. Secret settings are never returned. */
export type Destination = Node & {
  __typename?: 'Destination';
  audienceSyncs: DestinationAudienceSyncsConnection;
  /** Audiences Roster created or found in this destination. */
  audiences: Array<DestinationAudience>;
  /** Non-secret settings only. */
  config: Scalars['JSON']['output'];
  connector: ConnectorType;
  createdAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  name: Scalars['String']['output'];
  type: Scalars['String']['output'];
};


/** A configured destination. Secret settings are never returned. */
export type DestinationAudienceSyncsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};

export type DestinationAudience = {
  __typename?: 'DestinationAudience';
  createdAt: Scalars['DateTime']['output'];
  externalId: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  name: Scalars['String']['output'];
  type?: Maybe<Scalars['String']['output']>;
};

export type DestinationAudienceSyncsConnection = {
  __typename?: 'DestinationAudienceSyncsConnection';
  edges: Array<DestinationAudienceSyncsConnectionEdge>;
  pageInfo: PageInfo;
};

export type DestinationAudienceSyncsConnectionEdge = {
  __typename?: 'DestinationAudienceSyncsConnectionEdge';
  cursor: Scalars['String']['output'];
  node: AudienceSync;
};

export type DiffSample = {
  __typename?: 'DiffSample';
  audience: Scalars['String']['output'];
  fields: Scalars['JSON']['output'];
  identifiers: Scalars['JSON']['output'];
  key: Scalars['String']['output'];
  operation: RunOperation;
};

export type Entity = Node & {
  __typename?: 'Entity';
  columns: Array<WarehouseColumn>;
  createdAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  identifiers: Array<EntityIdentifier>;
  introspectedAt: Scalars['DateTime']['output'];
  kind: EntityKind;
  name: Scalars['String']['output'];
  primaryKey: Scalars['String']['output'];
  /** Relationships from this entity to others. */
  relationships: Array<Relationship>;
  source: Source;
  sql?: Maybe<Scalars['String']['output']>;
  table?: Maybe<TableRef>;
  updatedAt: Scalars['DateTime']['output'];
};

/** Where the rows come from: a table or view, or a SQL model (one SELECT statement). */
export type EntityFromInput =
  { sql: Scalars['String']['input']; table?: never; }
  |  { sql?: never; table: TableInput; };

export type EntityIdentifier = {
  __typename?: 'EntityIdentifier';
  column: Scalars['String']['output'];
  type: IdentifierType;
};

export type EntityKind =
  | 'COMPANY'
  | 'OTHER'
  | 'PERSON';

/** An expected failure: its message says what was expected and what arrived. */
export type Error = {
  message: Scalars['String']['output'];
  /** The input field at fault, e.g. ["input", "identifiers", "1", "column"]. */
  path: Array<Scalars['String']['output']>;
};

export type EvaluateSegmentPayload = {
  __typename?: 'EvaluateSegmentPayload';
  evaluation: SegmentEvaluation;
};

export type EvaluateSegmentResult = EvaluateSegmentPayload | InvalidStateError | NotFoundError;

export type EvaluationStatus =
  | 'FAILED'
  | 'QUEUED'
  | 'RUNNING'
  | 'SUCCEEDED';

/** Related rows through a one-to-many relationship: "purchased Product A at least once in the last 6 months". */
export type EventConditionInput = {
  aggregate?: InputMaybe<AggregateInput>;
  /** Default: at least one. */
  count?: InputMaybe<CountInput>;
  relationship: Scalars['String']['input'];
  /** The related rows' time column for `within`; needed when they have several. */
  timeColumn?: InputMaybe<Scalars['String']['input']>;
  where?: InputMaybe<ConditionInput>;
  within?: InputMaybe<TimeWindowInput>;
};

export type FieldMapping = {
  __typename?: 'FieldMapping';
  from: Scalars['String']['output'];
  to: Scalars['String']['output'];
};

export type FieldMappingInput = {
  /** A column, a many-to-one path (company.name), or segmentMembership. */
  from: Scalars['String']['input'];
  /** The destination field. */
  to: Scalars['String']['input'];
};

export type IdentifierInput = {
  column: Scalars['String']['input'];
  type: IdentifierType;
};

export type IdentifierType =
  | 'CITY'
  | 'COUNTRY'
  | 'DATE_OF_BIRTH'
  | 'EMAIL'
  | 'EXTERNAL_ID'
  | 'FIRST_NAME'
  | 'GENDER'
  | 'LAST_NAME'
  | 'MAID'
  | 'PHONE'
  | 'STATE'
  | 'ZIP';

export type InvalidStateError = Error & {
  __typename?: 'InvalidStateError';
  message: Scalars['String']['output'];
  /** The input field at fault, e.g. ["input", "identifiers", "1", "column"]. */
  path: Array<Scalars['String']['output']>;
};

/** What the destination reported about one audience at one time. */
export type MatchRateSample = {
  __typename?: 'MatchRateSample';
  /** The destination's id of the audience. */
  audienceId: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  /** Members matched, or the audience size where that is what the platform reports. */
  matched?: Maybe<Scalars['Int']['output']>;
  /** From 0 to 1; null when the platform reports nothing to compute it from. */
  rate?: Maybe<Scalars['Float']['output']>;
  sampledAt: Scalars['DateTime']['output'];
  /** Members uploaded: the platform's count, else what Roster has sent. */
  uploaded: Scalars['Int']['output'];
};

export type MatchRateUpdate = {
  __typename?: 'MatchRateUpdate';
  /** The destination's id of the audience. */
  audienceId: Scalars['String']['output'];
  audienceName: Scalars['String']['output'];
  /** Members matched, or the audience size where that is what the platform reports. */
  matched?: Maybe<Scalars['Int']['output']>;
  /** From 0 to 1. */
  rate?: Maybe<Scalars['Float']['output']>;
  sampledAt: Scalars['DateTime']['output'];
  uploaded: Scalars['Int']['output'];
};

export type Mutation = {
  __typename?: 'Mutation';
  /** Cancels a queued run. */
  cancelSyncRun: CancelSyncRunResult;
  /** Re-checks the connection and the planner schema; the outcome is in status and lastError. */
  checkSource: CheckSourceResult;
  createApiToken: CreateApiTokenResult;
  createAudienceSync: CreateAudienceSyncResult;
  createDestination: CreateDestinationResult;
  createEntity: CreateEntityResult;
  createRelationship: CreateRelationshipResult;
  createSegment: CreateSegmentResult;
  createSource: CreateSourceResult;
  deleteAudienceSync: DeleteAudienceSyncResult;
  deleteDestination: DeleteDestinationResult;
  deleteEntity: DeleteEntityResult;
  deleteRelationship: DeleteRelationshipResult;
  deleteSegment: DeleteSegmentResult;
  deleteSource: DeleteSourceResult;
  /** Queues an evaluation (or returns the one already queued). Subscribe to segmentEvaluated for the outcome. */
  evaluateSegment: EvaluateSegmentResult;
  /** Stops scheduled runs; a run in progress finishes. */
  pauseAudienceSync: PauseAudienceSyncResult;
  /** A dry run: what the next run would send, with samples; nothing is sent or recorded. */
  previewAudienceSyncDiff: PreviewAudienceSyncDiffResult;
  /** A new active sync of the segment, copying schedule, mappings and mode from the template to that destination; the audience takes the segment name. */
  quickSync: QuickSyncResult;
  /** Reads the match rates of the sync’s audiences from the destination now. */
  refreshMatchRates: RefreshMatchRatesResult;
  /** Schedules runs again; the next run covers everything since the last delivery. */
  resumeAudienceSync: ResumeAudienceSyncResult;
  revokeApiToken: RevokeApiTokenResult;
  /** Sends the segment to an ad platform in one click (a managed MIRROR sync, daily, automatic identifiers, the audience named after the segment), or stops sending it. Turning it on again resumes the same audience. */
  setOneClickAudience: SetOneClickAudienceResult;
  /** Sends a few current members to the audience without recording them in the snapshot. */
  testAudienceSync: TestAudienceSyncResult;
  /** Queues a run (or returns the one already queued). One run at a time per sync. */
  triggerAudienceSync: TriggerAudienceSyncResult;
  updateAudienceSync: UpdateAudienceSyncResult;
  updateEntity: UpdateEntityResult;
  updateRelationship: UpdateRelationshipResult;
  updateSegment: UpdateSegmentResult;
  updateSource: UpdateSourceResult;
};


export type MutationCancelSyncRunArgs = {
  id: Scalars['ID']['input'];
};


export type MutationCheckSourceArgs = {
  id: Scalars['ID']['input'];
};


export type MutationCreateApiTokenArgs = {
  input: CreateApiTokenInput;
};


export type MutationCreateAudienceSyncArgs = {
  input: CreateAudienceSyncInput;
};


export type MutationCreateDestinationArgs = {
  input: CreateDestinationInput;
};


export type MutationCreateEntityArgs = {
  input: CreateEntityInput;
};


export type MutationCreateRelationshipArgs = {
  input: CreateRelationshipInput;
};


export type MutationCreateSegmentArgs = {
  input: CreateSegmentInput;
};


export type MutationCreateSourceArgs = {
  input: CreateSourceInput;
};


export type MutationDeleteAudienceSyncArgs = {
  id: Scalars['ID']['input'];
};


export type MutationDeleteDestinationArgs = {
  id: Scalars['ID']['input'];
};


export type MutationDeleteEntityArgs = {
  id: Scalars['ID']['input'];
};


export type MutationDeleteRelationshipArgs = {
  id: Scalars['ID']['input'];
};


export type MutationDeleteSegmentArgs = {
  id: Scalars['ID']['input'];
};


export type MutationDeleteSourceArgs = {
  id: Scalars['ID']['input'];
};


export type MutationEvaluateSegmentArgs = {
  id: Scalars['ID']['input'];
};


export type MutationPauseAudienceSyncArgs = {
  id: Scalars['ID']['input'];
};


export type MutationPreviewAudienceSyncDiffArgs = {
  id: Scalars['ID']['input'];
  sampleSize?: InputMaybe<Scalars['Int']['input']>;
};


export type MutationQuickSyncArgs = {
  destinationId: Scalars['ID']['input'];
  segmentId: Scalars['ID']['input'];
};


export type MutationRefreshMatchRatesArgs = {
  syncId: Scalars['ID']['input'];
};


export type MutationResumeAudienceSyncArgs = {
  id: Scalars['ID']['input'];
};


export type MutationRevokeApiTokenArgs = {
  id: Scalars['ID']['input'];
};


export type MutationSetOneClickAudienceArgs = {
  destinationId: Scalars['ID']['input'];
  enabled: Scalars['Boolean']['input'];
  segmentId: Scalars['ID']['input'];
};


export type MutationTestAudienceSyncArgs = {
  id: Scalars['ID']['input'];
  size?: InputMaybe<Scalars['Int']['input']>;
};


export type MutationTriggerAudienceSyncArgs = {
  evaluateSegmentFirst?: InputMaybe<Scalars['Boolean']['input']>;
  id: Scalars['ID']['input'];
};


export type MutationUpdateAudienceSyncArgs = {
  id: Scalars['ID']['input'];
  input: UpdateAudienceSyncInput;
};


export type MutationUpdateEntityArgs = {
  id: Scalars['ID']['input'];
  input: UpdateEntityInput;
};


export type MutationUpdateRelationshipArgs = {
  id: Scalars['ID']['input'];
  input: UpdateRelationshipInput;
};


export type MutationUpdateSegmentArgs = {
  id: Scalars['ID']['input'];
  input: UpdateSegmentInput;
};


export type MutationUpdateSourceArgs = {
  id: Scalars['ID']['input'];
  input: UpdateSourceInput;
};

export type Node = {
  id: Scalars['ID']['output'];
};

export type NotFoundError = Error & {
  __typename?: 'NotFoundError';
  id: Scalars['String']['output'];
  message: Scalars['String']['output'];
  /** The input field at fault, e.g. ["input", "identifiers", "1", "column"]. */
  path: Array<Scalars['String']['output']>;
  typeName: Scalars['String']['output'];
};

/** A segment's one-click audience on one connected ad platform. */
export type OneClickAudience = {
  __typename?: 'OneClickAudience';
  /** The audience's name on the platform: the segment's name when first enabled. */
  audienceName?: Maybe<Scalars['String']['output']>;
  destination: Destination;
  enabled: Scalars['Boolean']['output'];
  latestMatchRate?: Maybe<MatchRateSample>;
  /** The managed sync, once first enabled. */
  sync?: Maybe<AudienceSync>;
};

export type OperationCounts = {
  __typename?: 'OperationCounts';
  adds: Scalars['Int']['output'];
  removes: Scalars['Int']['output'];
  updates: Scalars['Int']['output'];
};

export type PageInfo = {
  __typename?: 'PageInfo';
  endCursor?: Maybe<Scalars['String']['output']>;
  hasNextPage: Scalars['Boolean']['output'];
  hasPreviousPage: Scalars['Boolean']['output'];
  startCursor?: Maybe<Scalars['String']['output']>;
};

export type PauseAudienceSyncPayload = {
  __typename?: 'PauseAudienceSyncPayload';
  audienceSync: AudienceSync;
};

export type PauseAudienceSyncResult = NotFoundError | PauseAudienceSyncPayload;

/** Milliseconds per phase. */
export type PhaseDurations = {
  __typename?: 'PhaseDurations';
  accounting?: Maybe<Scalars['Int']['output']>;
  delivering?: Maybe<Scalars['Int']['output']>;
  planning?: Maybe<Scalars['Int']['output']>;
};

export type PreviewAudienceSyncDiffPayload = {
  __typename?: 'PreviewAudienceSyncDiffPayload';
  diff: AudienceSyncDiff;
};

export type PreviewAudienceSyncDiffResult = NotFoundError | PreviewAudienceSyncDiffPayload | SourceConnectionError;

export type Query = {
  __typename?: 'Query';
  apiTokens: QueryApiTokensConnection;
  audienceSync?: Maybe<AudienceSync>;
  audienceSyncs: QueryAudienceSyncsConnection;
  connectorTypes: Array<ConnectorType>;
  destinations: QueryDestinationsConnection;
  entities: QueryEntitiesConnection;
  /** An entity by id or by name. */
  entity?: Maybe<Entity>;
  node?: Maybe<Node>;
  nodes: Array<Maybe<Node>>;
  /** Per destination, the most recently created active sync of the segment’s entity: what quickSync copies. */
  quickSyncTemplates: QueryQuickSyncTemplatesResult;
  /** A record by its primary key, and the segments it belongs to: the lookup personalisation services call at request time. */
  record?: Maybe<QueryRecordResult>;
  /** The workspace's relationships, optionally those from or to one entity. */
  relationships: QueryRelationshipsConnection;
  segment?: Maybe<Segment>;
  /** Pairwise overlaps of 2 to 10 segments of one entity, from their latest evaluations. */
  segmentOverlap: QuerySegmentOverlapResult;
  /** Size and a sample of members of a condition that need not be saved, evaluated now. */
  segmentPreview: QuerySegmentPreviewResult;
  segments: QuerySegmentsConnection;
  source?: Maybe<Source>;
  sources: QuerySourcesConnection;
  /** A sync's runs, newest first; null when the sync is not in the caller's workspace. */
  syncRuns?: Maybe<QuerySyncRunsConnection>;
  viewer: Viewer;
};


export type QueryApiTokensArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};


export type QueryAudienceSyncArgs = {
  id: Scalars['ID']['input'];
};


export type QueryAudienceSyncsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  destinationId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
  segmentId?: InputMaybe<Scalars['ID']['input']>;
  status?: InputMaybe<SyncStatus>;
};


export type QueryDestinationsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};


export type QueryEntitiesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  kind?: InputMaybe<EntityKind>;
  last?: InputMaybe<Scalars['Int']['input']>;
  sourceId?: InputMaybe<Scalars['ID']['input']>;
};


export type QueryEntityArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
  name?: InputMaybe<Scalars['String']['input']>;
};


export type QueryNodeArgs = {
  id: Scalars['ID']['input'];
};


export type QueryNodesArgs = {
  ids: Array<Scalars['ID']['input']>;
};


export type QueryQuickSyncTemplatesArgs = {
  segmentId: Scalars['ID']['input'];
};


export type QueryRecordArgs = {
  entityId: Scalars['ID']['input'];
  key: Scalars['String']['input'];
};


export type QueryRelationshipsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  entityId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};


export type QuerySegmentArgs = {
  id: Scalars['ID']['input'];
};


export type QuerySegmentOverlapArgs = {
  ids: Array<Scalars['ID']['input']>;
};


export type QuerySegmentPreviewArgs = {
  condition: ConditionInput;
  entityId: Scalars['ID']['input'];
  sampleSize?: InputMaybe<Scalars['Int']['input']>;
};


export type QuerySegmentsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  entityId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};


export type QuerySourceArgs = {
  id: Scalars['ID']['input'];
};


export type QuerySourcesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};


export type QuerySyncRunsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
  syncId: Scalars['ID']['input'];
};

export type QueryApiTokensConnection = {
  __typename?: 'QueryApiTokensConnection';
  edges: Array<QueryApiTokensConnectionEdge>;
  pageInfo: PageInfo;
};

export type QueryApiTokensConnectionEdge = {
  __typename?: 'QueryApiTokensConnectionEdge';
  cursor: Scalars['String']['output'];
  node: ApiToken;
};

export type QueryAudienceSyncsConnection = {
  __typename?: 'QueryAudienceSyncsConnection';
  edges: Array<QueryAudienceSyncsConnectionEdge>;
  pageInfo: PageInfo;
};

export type QueryAudienceSyncsConnectionEdge = {
  __typename?: 'QueryAudienceSyncsConnectionEdge';
  cursor: Scalars['String']['output'];
  node: AudienceSync;
};

export type QueryDestinationsConnection = {
  __typename?: 'QueryDestinationsConnection';
  edges: Array<QueryDestinationsConnectionEdge>;
  pageInfo: PageInfo;
};

export type QueryDestinationsConnectionEdge = {
  __typename?: 'QueryDestinationsConnectionEdge';
  cursor: Scalars['String']['output'];
  node: Destination;
};

export type QueryEntitiesConnection = {
  __typename?: 'QueryEntitiesConnection';
  edges: Array<QueryEntitiesConnectionEdge>;
  pageInfo: PageInfo;
};

export type QueryEntitiesConnectionEdge = {
  __typename?: 'QueryEntitiesConnectionEdge';
  cursor: Scalars['String']['output'];
  node: Entity;
};

export type QueryQuickSyncTemplatesResult = NotFoundError | QueryQuickSyncTemplatesSuccess;

export type QueryQuickSyncTemplatesSuccess = {
  __typename?: 'QueryQuickSyncTemplatesSuccess';
  data: Array<AudienceSync>;
};

export type QueryRecordResult = NotFoundError | QueryRecordSuccess | SourceConnectionError;

export type QueryRecordSuccess = {
  __typename?: 'QueryRecordSuccess';
  data: Record;
};

export type QueryRelationshipsConnection = {
  __typename?: 'QueryRelationshipsConnection';
  edges: Array<QueryRelationshipsConnectionEdge>;
  pageInfo: PageInfo;
};

export type QueryRelationshipsConnectionEdge = {
  __typename?: 'QueryRelationshipsConnectionEdge';
  cursor: Scalars['String']['output'];
  node: Relationship;
};

export type QuerySegmentOverlapResult = NotFoundError | QuerySegmentOverlapSuccess | SourceConnectionError | ValidationError;

export type QuerySegmentOverlapSuccess = {
  __typename?: 'QuerySegmentOverlapSuccess';
  data: SegmentOverlap;
};

export type QuerySegmentPreviewResult = NotFoundError | QuerySegmentPreviewSuccess | SourceConnectionError | ValidationError;

export type QuerySegmentPreviewSuccess = {
  __typename?: 'QuerySegmentPreviewSuccess';
  data: SegmentPreview;
};

export type QuerySegmentsConnection = {
  __typename?: 'QuerySegmentsConnection';
  edges: Array<QuerySegmentsConnectionEdge>;
  pageInfo: PageInfo;
};

export type QuerySegmentsConnectionEdge = {
  __typename?: 'QuerySegmentsConnectionEdge';
  cursor: Scalars['String']['output'];
  node: Segment;
};

export type QuerySourcesConnection = {
  __typename?: 'QuerySourcesConnection';
  edges: Array<QuerySourcesConnectionEdge>;
  pageInfo: PageInfo;
};

export type QuerySourcesConnectionEdge = {
  __typename?: 'QuerySourcesConnectionEdge';
  cursor: Scalars['String']['output'];
  node: Source;
};

export type QuerySyncRunsConnection = {
  __typename?: 'QuerySyncRunsConnection';
  edges: Array<QuerySyncRunsConnectionEdge>;
  pageInfo: PageInfo;
};

export type QuerySyncRunsConnectionEdge = {
  __typename?: 'QuerySyncRunsConnectionEdge';
  cursor: Scalars['String']['output'];
  node: SyncRun;
};

export type QuickSyncPayload = {
  __typename?: 'QuickSyncPayload';
  audienceSync: AudienceSync;
};

export type QuickSyncResult = ConflictError | InvalidStateError | NotFoundError | QuickSyncPayload | ValidationError;

/** One record of an entity, with the segments it is in (from their latest evaluations). */
export type Record = {
  __typename?: 'Record';
  attributes: Scalars['JSON']['output'];
  key: Scalars['String']['output'];
  segmentMemberships: Array<Segment>;
};

export type RefreshMatchRatesPayload = {
  __typename?: 'RefreshMatchRatesPayload';
  samples: Array<MatchRateSample>;
};

export type RefreshMatchRatesResult = InvalidStateError | NotFoundError | RefreshMatchRatesPayload;

export type RelationKind =
  | 'FOREIGN_TABLE'
  | 'MATERIALIZED_VIEW'
  | 'PARTITIONED_TABLE'
  | 'TABLE'
  | 'VIEW';

export type Relationship = Node & {
  __typename?: 'Relationship';
  createdAt: Scalars['DateTime']['output'];
  fromColumn: Scalars['String']['output'];
  fromEntity: Entity;
  id: Scalars['ID']['output'];
  kind: RelationshipKind;
  /** Used in condition paths, e.g. company.industry. */
  name: Scalars['String']['output'];
  toColumn: Scalars['String']['output'];
  toEntity: Entity;
};

export type RelationshipKind =
  | 'MANY_TO_ONE'
  | 'ONE_TO_MANY';

export type RemovalBehavior =
  | 'DO_NOTHING'
  | 'REMOVE';

export type ResumeAudienceSyncPayload = {
  __typename?: 'ResumeAudienceSyncPayload';
  audienceSync: AudienceSync;
};

export type ResumeAudienceSyncResult = NotFoundError | ResumeAudienceSyncPayload;

export type RevokeApiTokenPayload = {
  __typename?: 'RevokeApiTokenPayload';
  apiToken: ApiToken;
};

export type RevokeApiTokenResult = NotFoundError | RevokeApiTokenPayload;

export type RunOperation =
  | 'ADD'
  | 'REMOVE'
  | 'UPDATE';

export type RunStatus =
  | 'CANCELLED'
  | 'FAILED'
  | 'PARTIAL'
  | 'QUEUED'
  | 'RUNNING'
  | 'SUCCEEDED';

export type Schedule = {
  __typename?: 'Schedule';
  cron?: Maybe<Scalars['String']['output']>;
  /** In words, e.g. "daily at 00:00 UTC". */
  description: Scalars['String']['output'];
  kind: ScheduleKind;
  /** When it next runs; null when manual. */
  nextAt?: Maybe<Scalars['DateTime']['output']>;
  timezone?: Maybe<Scalars['String']['output']>;
};

export type ScheduleInput = {
  /** For CRON: minute hour day-of-month month day-of-week. */
  cron?: InputMaybe<Scalars['String']['input']>;
  kind: ScheduleKind;
  /** IANA time zone, e.g. Europe/Paris; default UTC. */
  timezone?: InputMaybe<Scalars['String']['input']>;
};

export type ScheduleKind =
  | 'CRON'
  | 'DAILY'
  | 'EVERY_15_MINUTES'
  | 'HOURLY'
  | 'MANUAL'
  | 'WEEKLY';

export type Segment = Node & {
  __typename?: 'Segment';
  /** The most common values of one of the entity's columns among the members. */
  breakdown: SegmentBreakdownResult;
  condition: Scalars['JSON']['output'];
  description?: Maybe<Scalars['String']['output']>;
  entity: Entity;
  evaluatedAt?: Maybe<Scalars['DateTime']['output']>;
  /** Newest first. */
  evaluations: SegmentEvaluationsConnection;
  id: Scalars['ID']['output'];
  lastEvaluation?: Maybe<SegmentEvaluation>;
  /** Per destination the segment is synced to, the latest match rate read back. */
  matchRates: Array<SegmentDestinationMatchRate>;
  name: Scalars['String']['output'];
  /** One entry per ad platform connected to the workspace: whether the segment is sent there in one click. */
  oneClickAudiences: Array<OneClickAudience>;
  schedule: Schedule;
  /** Members at the latest evaluation; null before the first. */
  size?: Maybe<Scalars['Int']['output']>;
  /** Size after each successful evaluation, oldest first. */
  sizeHistory: Array<SegmentSizePoint>;
  /** Increases with every successful evaluation. */
  version: Scalars['Int']['output'];
};


export type SegmentBreakdownArgs = {
  column: Scalars['String']['input'];
  limit?: InputMaybe<Scalars['Int']['input']>;
};


export type SegmentEvaluationsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};


export type SegmentSizeHistoryArgs = {
  last?: InputMaybe<Scalars['Int']['input']>;
};

export type SegmentBreakdownResult = SegmentBreakdownSuccess | SourceConnectionError | ValidationError;

export type SegmentBreakdownSuccess = {
  __typename?: 'SegmentBreakdownSuccess';
  data: Array<BreakdownRow>;
};

export type SegmentConditionInput = {
  /** Another segment of the same entity. */
  id: Scalars['ID']['input'];
  /** false: records that are NOT in that segment. */
  member?: InputMaybe<Scalars['Boolean']['input']>;
};

/** The latest match rate of a segment in one destination (through one sync). */
export type SegmentDestinationMatchRate = {
  __typename?: 'SegmentDestinationMatchRate';
  destination: Destination;
  latest: MatchRateSample;
  sync: AudienceSync;
};

export type SegmentEvaluatedEvent = {
  __typename?: 'SegmentEvaluatedEvent';
  entered?: Maybe<Scalars['Int']['output']>;
  error?: Maybe<Scalars['String']['output']>;
  evaluatedAt: Scalars['DateTime']['output'];
  evaluationId: Scalars['ID']['output'];
  exited?: Maybe<Scalars['Int']['output']>;
  segment?: Maybe<Segment>;
  size?: Maybe<Scalars['Int']['output']>;
  status: EvaluationStatus;
  version: Scalars['Int']['output'];
};

export type SegmentEvaluation = {
  __typename?: 'SegmentEvaluation';
  /** Records that joined since the previous evaluation. */
  entered?: Maybe<Scalars['Int']['output']>;
  error?: Maybe<Scalars['String']['output']>;
  /** Records that left since the previous evaluation. */
  exited?: Maybe<Scalars['Int']['output']>;
  finishedAt?: Maybe<Scalars['DateTime']['output']>;
  id: Scalars['ID']['output'];
  queuedAt: Scalars['DateTime']['output'];
  size?: Maybe<Scalars['Int']['output']>;
  startedAt?: Maybe<Scalars['DateTime']['output']>;
  status: EvaluationStatus;
  trigger: Scalars['String']['output'];
  version: Scalars['Int']['output'];
};

export type SegmentEvaluationsConnection = {
  __typename?: 'SegmentEvaluationsConnection';
  edges: Array<SegmentEvaluationsConnectionEdge>;
  pageInfo: PageInfo;
};

export type SegmentEvaluationsConnectionEdge = {
  __typename?: 'SegmentEvaluationsConnectionEdge';
  cursor: Scalars['String']['output'];
  node: SegmentEvaluation;
};

export type SegmentOverlap = {
  __typename?: 'SegmentOverlap';
  /** Every pair, including those with no overlap. */
  pairs: Array<SegmentOverlapPair>;
  sizes: Array<SegmentSize>;
};

export type SegmentOverlapPair = {
  __typename?: 'SegmentOverlapPair';
  a: Segment;
  b: Segment;
  /** Records in both. */
  count: Scalars['Int']['output'];
};

export type SegmentPreview = {
  __typename?: 'SegmentPreview';
  /** Members with their attributes. */
  sample: Array<Scalars['JSON']['output']>;
  size: Scalars['Int']['output'];
};

export type SegmentSize = {
  __typename?: 'SegmentSize';
  segment: Segment;
  size: Scalars['Int']['output'];
};

export type SegmentSizePoint = {
  __typename?: 'SegmentSizePoint';
  at: Scalars['DateTime']['output'];
  entered?: Maybe<Scalars['Int']['output']>;
  exited?: Maybe<Scalars['Int']['output']>;
  size: Scalars['Int']['output'];
};

export type SetOneClickAudiencePayload = {
  __typename?: 'SetOneClickAudiencePayload';
  oneClickAudience: OneClickAudience;
};

export type SetOneClickAudienceResult = InvalidStateError | NotFoundError | SetOneClickAudiencePayload | ValidationError;

/** A warehouse connection. Its credentials are stored encrypted and never returned. */
export type Source = Node & {
  __typename?: 'Source';
  checkedAt?: Maybe<Scalars['DateTime']['output']>;
  /** Host, port, database and user; never the password. */
  connection: Scalars['String']['output'];
  createdAt: Scalars['DateTime']['output'];
  entities: SourceEntitiesConnection;
  id: Scalars['ID']['output'];
  lastError?: Maybe<Scalars['String']['output']>;
  name: Scalars['String']['output'];
  /** Where Roster keeps memberships and snapshots in this warehouse. */
  plannerSchema: Scalars['String']['output'];
  /** Schemas in the warehouse, read now. */
  schemas: SourceSchemasResult;
  status: SourceStatus;
  table?: Maybe<SourceTableResult>;
  /** Tables and views this source's user can read, with their columns, read now. */
  tables: SourceTablesResult;
};


/** A warehouse connection. Its credentials are stored encrypted and never returned. */
export type SourceEntitiesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};


/** A warehouse connection. Its credentials are stored encrypted and never returned. */
export type SourceTableArgs = {
  name: Scalars['String']['input'];
  schema: Scalars['String']['input'];
};


/** A warehouse connection. Its credentials are stored encrypted and never returned. */
export type SourceTablesArgs = {
  schema?: InputMaybe<Scalars['String']['input']>;
};

export type SourceConnectionError = Error & {
  __typename?: 'SourceConnectionError';
  /** INVALID_URL, HOST_UNREACHABLE, AUTH_FAILED, DATABASE_NOT_FOUND, TIMEOUT, PERMISSION_DENIED, UNSUPPORTED_VERSION or QUERY_FAILED. */
  code: Scalars['String']['output'];
  message: Scalars['String']['output'];
  /** The input field at fault, e.g. ["input", "identifiers", "1", "column"]. */
  path: Array<Scalars['String']['output']>;
};

export type SourceEntitiesConnection = {
  __typename?: 'SourceEntitiesConnection';
  edges: Array<SourceEntitiesConnectionEdge>;
  pageInfo: PageInfo;
};

export type SourceEntitiesConnectionEdge = {
  __typename?: 'SourceEntitiesConnectionEdge';
  cursor: Scalars['String']['output'];
  node: Entity;
};

export type SourceSchemasResult = SourceConnectionError | SourceSchemasSuccess;

export type SourceSchemasSuccess = {
  __typename?: 'SourceSchemasSuccess';
  data: Array<Scalars['String']['output']>;
};

export type SourceStatus =
  | 'CONNECTED'
  | 'ERROR';

export type SourceTableResult = SourceConnectionError | SourceTableSuccess;

export type SourceTableSuccess = {
  __typename?: 'SourceTableSuccess';
  data: WarehouseTable;
};

export type SourceTablesResult = SourceConnectionError | SourceTablesSuccess;

export type SourceTablesSuccess = {
  __typename?: 'SourceTablesSuccess';
  data: Array<WarehouseTable>;
};

export type Subscription = {
  __typename?: 'Subscription';
  /** Match rates read back from the destination for this sync. */
  matchRateUpdated: MatchRateUpdate;
  /** Each evaluation's outcome for one segment of the caller's workspace. */
  segmentEvaluated: SegmentEvaluatedEvent;
  /** Each finished run of the sync, with its final status and counts. */
  syncRunFinished: SyncRunFinished;
  /** Progress of the sync's runs: phase, counts, percent, rate and time left. Throttled; the last event of a run always arrives. */
  syncRunProgress: SyncRunProgress;
};


export type SubscriptionMatchRateUpdatedArgs = {
  syncId: Scalars['ID']['input'];
};


export type SubscriptionSegmentEvaluatedArgs = {
  segmentId: Scalars['ID']['input'];
};


export type SubscriptionSyncRunFinishedArgs = {
  syncId: Scalars['ID']['input'];
};


export type SubscriptionSyncRunProgressArgs = {
  syncId: Scalars['ID']['input'];
};

export type SyncAudience = {
  __typename?: 'SyncAudience';
  externalId?: Maybe<Scalars['String']['output']>;
  name?: Maybe<Scalars['String']['output']>;
  nameColumn?: Maybe<Scalars['String']['output']>;
  target: AudienceTarget;
  type?: Maybe<Scalars['String']['output']>;
};

export type SyncAudienceInput = {
  /** EXISTING: the audience id in the destination. */
  externalId?: InputMaybe<Scalars['String']['input']>;
  /** CREATE_BY_NAME: default, the segment name. */
  name?: InputMaybe<Scalars['String']['input']>;
  /** NAME_FROM_COLUMN: a text column whose value names each record's audience. */
  nameColumn?: InputMaybe<Scalars['String']['input']>;
  target: AudienceTarget;
  /** Audience type where the destination has several. */
  type?: InputMaybe<Scalars['String']['input']>;
};

export type SyncIdentifierType =
  | 'CITY'
  | 'COUNTRY'
  | 'DATE_OF_BIRTH'
  | 'EMAIL'
  | 'EXTERNAL_ID'
  | 'FIRST_NAME'
  | 'GENDER'
  | 'LAST_NAME'
  | 'MAID'
  | 'PHONE'
  | 'STATE'
  | 'ZIP';

export type SyncMode =
  | 'ADDITIVE'
  | 'MIRROR'
  | 'SUBTRACTIVE';

export type SyncRun = Node & {
  __typename?: 'SyncRun';
  delivered: OperationCounts;
  durationMs?: Maybe<Scalars['Int']['output']>;
  error?: Maybe<Scalars['String']['output']>;
  /** Rows the destination rejected. */
  errors: SyncRunErrorsConnection;
  finishedAt?: Maybe<Scalars['DateTime']['output']>;
  id: Scalars['ID']['output'];
  phaseDurations: PhaseDurations;
  planned: OperationCounts;
  queuedAt: Scalars['DateTime']['output'];
  rejected: Scalars['Int']['output'];
  startedAt?: Maybe<Scalars['DateTime']['output']>;
  status: RunStatus;
  sync: AudienceSync;
  trigger: Scalars['String']['output'];
};


export type SyncRunErrorsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};

export type SyncRunError = {
  __typename?: 'SyncRunError';
  /** The destination's own error code. */
  code?: Maybe<Scalars['String']['output']>;
  createdAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  message: Scalars['String']['output'];
  operation: RunOperation;
  recordKey: Scalars['String']['output'];
};

export type SyncRunErrorsConnection = {
  __typename?: 'SyncRunErrorsConnection';
  edges: Array<SyncRunErrorsConnectionEdge>;
  pageInfo: PageInfo;
};

export type SyncRunErrorsConnectionEdge = {
  __typename?: 'SyncRunErrorsConnectionEdge';
  cursor: Scalars['String']['output'];
  node: SyncRunError;
};

export type SyncRunFinished = {
  __typename?: 'SyncRunFinished';
  delivered: OperationCounts;
  durationMs: Scalars['Int']['output'];
  error?: Maybe<Scalars['String']['output']>;
  planned: OperationCounts;
  rejected: Scalars['Int']['output'];
  run?: Maybe<SyncRun>;
  runId: Scalars['ID']['output'];
  status: RunStatus;
};

export type SyncRunPhase =
  | 'ACCOUNTING'
  | 'DELIVERING'
  | 'PLANNING';

/** A running sync run, a few times a second while it moves. */
export type SyncRunProgress = {
  __typename?: 'SyncRunProgress';
  /** Delivered and confirmed so far. */
  done: OperationCounts;
  /** Estimated seconds left; null until rows move. */
  etaSeconds?: Maybe<Scalars['Int']['output']>;
  percent: Scalars['Float']['output'];
  phase: SyncRunPhase;
  planned: OperationCounts;
  rejected: Scalars['Int']['output'];
  rowsPerSecond: Scalars['Int']['output'];
  runId: Scalars['ID']['output'];
};

export type SyncStatus =
  | 'ACTIVE'
  | 'DRAFT'
  | 'PAUSED';

export type TableInput = {
  name: Scalars['String']['input'];
  schema: Scalars['String']['input'];
};

export type TableRef = {
  __typename?: 'TableRef';
  name: Scalars['String']['output'];
  schema: Scalars['String']['output'];
};

export type TestAudienceSyncPayload = {
  __typename?: 'TestAudienceSyncPayload';
  result: TestSyncResult;
};

export type TestAudienceSyncResult = InvalidStateError | NotFoundError | SourceConnectionError | TestAudienceSyncPayload;

export type TestSyncRejection = {
  __typename?: 'TestSyncRejection';
  code?: Maybe<Scalars['String']['output']>;
  key: Scalars['String']['output'];
  message: Scalars['String']['output'];
};

export type TestSyncResult = {
  __typename?: 'TestSyncResult';
  audience: Scalars['String']['output'];
  rejected: Array<TestSyncRejection>;
  sent: Scalars['Int']['output'];
};

export type TimeUnit =
  | 'DAY'
  | 'HOUR'
  | 'MINUTE'
  | 'MONTH'
  | 'WEEK'
  | 'YEAR';

export type TimeWindowInput = {
  last: Scalars['Int']['input'];
  unit: TimeUnit;
};

export type TokenScope =
  | 'ADMIN'
  | 'READ'
  | 'WRITE';

export type TriggerAudienceSyncPayload = {
  __typename?: 'TriggerAudienceSyncPayload';
  run: SyncRun;
};

export type TriggerAudienceSyncResult = InvalidStateError | NotFoundError | TriggerAudienceSyncPayload;

/** Fields left out keep their value. Source and destination cannot change. */
export type UpdateAudienceSyncInput = {
  audience?: InputMaybe<SyncAudienceInput>;
  identifiers?: InputMaybe<Array<SyncIdentifierType>>;
  mappings?: InputMaybe<Array<FieldMappingInput>>;
  mode?: InputMaybe<SyncMode>;
  removalBehavior?: InputMaybe<RemovalBehavior>;
  schedule?: InputMaybe<ScheduleInput>;
  status?: InputMaybe<SyncStatus>;
};

export type UpdateAudienceSyncPayload = {
  __typename?: 'UpdateAudienceSyncPayload';
  audienceSync: AudienceSync;
};

export type UpdateAudienceSyncResult = InvalidStateError | NotFoundError | SourceConnectionError | UpdateAudienceSyncPayload | ValidationError;

/** Fields left out keep their value. Columns are read again from the warehouse in any case. */
export type UpdateEntityInput = {
  from?: InputMaybe<EntityFromInput>;
  /** Replaces the whole list. */
  identifiers?: InputMaybe<Array<IdentifierInput>>;
  kind?: InputMaybe<EntityKind>;
  name?: InputMaybe<Scalars['String']['input']>;
  primaryKey?: InputMaybe<Scalars['String']['input']>;
};

export type UpdateEntityPayload = {
  __typename?: 'UpdateEntityPayload';
  entity: Entity;
};

export type UpdateEntityResult = ConflictError | NotFoundError | SourceConnectionError | UpdateEntityPayload | ValidationError;

/** Fields left out keep their value. */
export type UpdateRelationshipInput = {
  fromColumn?: InputMaybe<Scalars['String']['input']>;
  kind?: InputMaybe<RelationshipKind>;
  name?: InputMaybe<Scalars['String']['input']>;
  toColumn?: InputMaybe<Scalars['String']['input']>;
};

export type UpdateRelationshipPayload = {
  __typename?: 'UpdateRelationshipPayload';
  relationship: Relationship;
};

export type UpdateRelationshipResult = ConflictError | NotFoundError | UpdateRelationshipPayload | ValidationError;

/** Fields left out keep their value. */
export type UpdateSegmentInput = {
  condition?: InputMaybe<ConditionInput>;
  description?: InputMaybe<Scalars['String']['input']>;
  name?: InputMaybe<Scalars['String']['input']>;
  schedule?: InputMaybe<ScheduleInput>;
};

export type UpdateSegmentPayload = {
  __typename?: 'UpdateSegmentPayload';
  segment: Segment;
};

export type UpdateSegmentResult = ConflictError | NotFoundError | SourceConnectionError | UpdateSegmentPayload | ValidationError;

export type UpdateSourceInput = {
  name?: InputMaybe<Scalars['String']['input']>;
  /** A new connection URL: checked before it replaces the old one. */
  url?: InputMaybe<Scalars['String']['input']>;
};

export type UpdateSourcePayload = {
  __typename?: 'UpdateSourcePayload';
  source: Source;
};

export type UpdateSourceResult = ConflictError | NotFoundError | SourceConnectionError | UpdateSourcePayload | ValidationError;

export type ValidationError = Error & {
  __typename?: 'ValidationError';
  message: Scalars['String']['output'];
  /** The input field at fault, e.g. ["input", "identifiers", "1", "column"]. */
  path: Array<Scalars['String']['output']>;
  problems: Array<ValidationProblem>;
};

export type ValidationProblem = {
  __typename?: 'ValidationProblem';
  message: Scalars['String']['output'];
  path: Array<Scalars['String']['output']>;
  suggestion?: Maybe<Scalars['String']['output']>;
};

/** Who is calling: the token and its workspace. */
export type Viewer = {
  __typename?: 'Viewer';
  scopes: Array<TokenScope>;
  token: ApiToken;
  workspace: Workspace;
};

export type WarehouseColumn = {
  __typename?: 'WarehouseColumn';
  /** The warehouse's own type name, e.g. "timestamp with time zone". */
  dataType: Scalars['String']['output'];
  name: Scalars['String']['output'];
  nullable: Scalars['Boolean']['output'];
  type: ColumnType;
};

export type WarehouseTable = {
  __typename?: 'WarehouseTable';
  columns: Array<WarehouseColumn>;
  kind: RelationKind;
  name: Scalars['String']['output'];
  primaryKey: Array<Scalars['String']['output']>;
  schema: Scalars['String']['output'];
};

export type Workspace = Node & {
  __typename?: 'Workspace';
  createdAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  isDemo: Scalars['Boolean']['output'];
  name: Scalars['String']['output'];
  slug: Scalars['String']['output'];
};

export type SegmentAudiencesQueryVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type SegmentAudiencesQuery = { __typename?: 'Query', segment?: { __typename?: 'Segment', id: string, name: string, oneClickAudiences: Array<{ __typename?: 'OneClickAudience', enabled: boolean, audienceName?: string | null, destination: { __typename?: 'Destination', id: string, name: string, type: string }, sync?: { __typename?: 'AudienceSync', id: string, status: SyncStatus } | null, latestMatchRate?: { __typename?: 'MatchRateSample', matched?: number | null, uploaded: number, rate?: number | null, sampledAt: string } | null }>, matchRates: Array<{ __typename?: 'SegmentDestinationMatchRate', destination: { __typename?: 'Destination', id: string, name: string }, latest: { __typename?: 'MatchRateSample', rate?: number | null, sampledAt: string } }> } | null };

export type SetOneClickAudienceMutationVariables = Exact<{
  segmentId: Scalars['ID']['input'];
  destinationId: Scalars['ID']['input'];
  enabled: Scalars['Boolean']['input'];
}>;


export type SetOneClickAudienceMutation = { __typename?: 'Mutation', setOneClickAudience:
    | { __typename: 'InvalidStateError', message: string }
    | { __typename: 'NotFoundError', message: string }
    | { __typename: 'SetOneClickAudiencePayload', oneClickAudience: { __typename?: 'OneClickAudience', enabled: boolean, audienceName?: string | null, sync?: { __typename?: 'AudienceSync', id: string, status: SyncStatus } | null } }
    | { __typename: 'ValidationError', message: string, problems: Array<{ __typename?: 'ValidationProblem', path: Array<string>, message: string }> }
   };

export type SyncMatchRatesQueryVariables = Exact<{
  id: Scalars['ID']['input'];
  first?: InputMaybe<Scalars['Int']['input']>;
}>;


export type SyncMatchRatesQuery = { __typename?: 'Query', audienceSync?: { __typename?: 'AudienceSync', id: string, reportsMatchRate: boolean, matchRate?: { __typename?: 'MatchRateSample', audienceId: string, matched?: number | null, uploaded: number, rate?: number | null, sampledAt: string } | null, matchRates: { __typename?: 'AudienceSyncMatchRatesConnection', edges: Array<{ __typename?: 'AudienceSyncMatchRatesConnectionEdge', node: { __typename?: 'MatchRateSample', audienceId: string, matched?: number | null, uploaded: number, rate?: number | null, sampledAt: string } }> } } | null };

export type MatchRateUpdatedSubscriptionVariables = Exact<{
  syncId: Scalars['ID']['input'];
}>;


export type MatchRateUpdatedSubscription = { __typename?: 'Subscription', matchRateUpdated: { __typename?: 'MatchRateUpdate', audienceId: string, audienceName: string, matched?: number | null, uploaded: number, rate?: number | null, sampledAt: string } };

export type EntitiesQueryVariables = Exact<{
  kind?: InputMaybe<EntityKind>;
  first?: InputMaybe<Scalars['Int']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type EntitiesQuery = { __typename?: 'Query', entities: { __typename?: 'QueryEntitiesConnection', edges: Array<{ __typename?: 'QueryEntitiesConnectionEdge', node: { __typename?: 'Entity', id: string, name: string, kind: EntityKind, primaryKey: string, table?: { __typename?: 'TableRef', schema: string, name: string } | null, identifiers: Array<{ __typename?: 'EntityIdentifier', type: IdentifierType, column: string }>, relationships: Array<{ __typename?: 'Relationship', id: string, name: string, kind: RelationshipKind, toEntity: { __typename?: 'Entity', id: string, name: string } }> } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor?: string | null } } };

export type CreateEntityMutationVariables = Exact<{
  input: CreateEntityInput;
}>;


export type CreateEntityMutation = { __typename?: 'Mutation', createEntity:
    | { __typename: 'ConflictError', message: string, path: Array<string> }
    | { __typename: 'CreateEntityPayload', entity: { __typename?: 'Entity', id: string, name: string } }
    | { __typename: 'NotFoundError', message: string, path: Array<string> }
    | { __typename: 'SourceConnectionError', message: string, path: Array<string> }
    | { __typename: 'ValidationError', message: string, path: Array<string>, problems: Array<{ __typename?: 'ValidationProblem', path: Array<string>, message: string, suggestion?: string | null }> }
   };

export type CreateRelationshipMutationVariables = Exact<{
  input: CreateRelationshipInput;
}>;


export type CreateRelationshipMutation = { __typename?: 'Mutation', createRelationship:
    | { __typename: 'ConflictError', message: string, path: Array<string> }
    | { __typename: 'CreateRelationshipPayload', relationship: { __typename?: 'Relationship', id: string, name: string } }
    | { __typename: 'NotFoundError', message: string, path: Array<string> }
    | { __typename: 'ValidationError', message: string, path: Array<string> }
   };

export type SegmentsQueryVariables = Exact<{
  entityId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type SegmentsQuery = { __typename?: 'Query', segments: { __typename?: 'QuerySegmentsConnection', edges: Array<{ __typename?: 'QuerySegmentsConnectionEdge', node: { __typename?: 'Segment', id: string, name: string, size?: number | null, version: number, evaluatedAt?: string | null, schedule: { __typename?: 'Schedule', kind: ScheduleKind, description: string, nextAt?: string | null }, entity: { __typename?: 'Entity', id: string, name: string } } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor?: string | null } } };

export type CreateSegmentMutationVariables = Exact<{
  input: CreateSegmentInput;
}>;


export type CreateSegmentMutation = { __typename?: 'Mutation', createSegment:
    | { __typename: 'ConflictError', message: string, path: Array<string> }
    | { __typename: 'CreateSegmentPayload', segment: { __typename?: 'Segment', id: string, name: string } }
    | { __typename: 'NotFoundError', message: string, path: Array<string> }
    | { __typename: 'SourceConnectionError', message: string, path: Array<string> }
    | { __typename: 'ValidationError', message: string, path: Array<string>, problems: Array<{ __typename?: 'ValidationProblem', path: Array<string>, message: string, suggestion?: string | null }> }
   };

export type EvaluateSegmentMutationVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type EvaluateSegmentMutation = { __typename?: 'Mutation', evaluateSegment:
    | { __typename: 'EvaluateSegmentPayload', evaluation: { __typename?: 'SegmentEvaluation', id: string, status: EvaluationStatus, queuedAt: string } }
    | { __typename: 'InvalidStateError', message: string }
    | { __typename: 'NotFoundError', message: string }
   };

export type SegmentPreviewQueryVariables = Exact<{
  entityId: Scalars['ID']['input'];
  condition: ConditionInput;
  sampleSize?: InputMaybe<Scalars['Int']['input']>;
}>;


export type SegmentPreviewQuery = { __typename?: 'Query', segmentPreview:
    | { __typename: 'NotFoundError', message: string, path: Array<string> }
    | { __typename: 'QuerySegmentPreviewSuccess', data: { __typename?: 'SegmentPreview', size: number, sample: Array<unknown> } }
    | { __typename: 'SourceConnectionError', message: string, path: Array<string> }
    | { __typename: 'ValidationError', message: string, path: Array<string> }
   };

export type RecordMembershipsQueryVariables = Exact<{
  entityId: Scalars['ID']['input'];
  key: Scalars['String']['input'];
}>;


export type RecordMembershipsQuery = { __typename?: 'Query', record?:
    | { __typename: 'NotFoundError', message: string }
    | { __typename: 'QueryRecordSuccess', data: { __typename?: 'Record', key: string, segmentMemberships: Array<{ __typename?: 'Segment', id: string, name: string }> } }
    | { __typename: 'SourceConnectionError', message: string }
   | null };

export type SegmentEvaluatedSubscriptionVariables = Exact<{
  segmentId: Scalars['ID']['input'];
}>;


export type SegmentEvaluatedSubscription = { __typename?: 'Subscription', segmentEvaluated: { __typename?: 'SegmentEvaluatedEvent', status: EvaluationStatus, size?: number | null, entered?: number | null, exited?: number | null, version: number, evaluatedAt: string, error?: string | null } };

export type SourcesQueryVariables = Exact<{
  first?: InputMaybe<Scalars['Int']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type SourcesQuery = { __typename?: 'Query', sources: { __typename?: 'QuerySourcesConnection', edges: Array<{ __typename?: 'QuerySourcesConnectionEdge', node: { __typename?: 'Source', id: string, name: string, connection: string, plannerSchema: string, status: SourceStatus, lastError?: string | null, checkedAt?: string | null } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor?: string | null } } };

export type CreateSourceMutationVariables = Exact<{
  input: CreateSourceInput;
}>;


export type CreateSourceMutation = { __typename?: 'Mutation', createSource:
    | { __typename: 'ConflictError', message: string, path: Array<string> }
    | { __typename: 'CreateSourcePayload', source: { __typename?: 'Source', id: string, name: string, status: SourceStatus } }
    | { __typename: 'SourceConnectionError', message: string, path: Array<string> }
    | { __typename: 'ValidationError', message: string, path: Array<string> }
   };

export type AudienceSyncsQueryVariables = Exact<{
  first?: InputMaybe<Scalars['Int']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type AudienceSyncsQuery = { __typename?: 'Query', audienceSyncs: { __typename?: 'QueryAudienceSyncsConnection', edges: Array<{ __typename?: 'QueryAudienceSyncsConnectionEdge', node: { __typename?: 'AudienceSync', id: string, status: SyncStatus, mode: SyncMode, segment?: { __typename?: 'Segment', id: string, name: string, size?: number | null } | null, destination: { __typename?: 'Destination', id: string, name: string, type: string }, schedule: { __typename?: 'Schedule', kind: ScheduleKind, description: string, nextAt?: string | null }, lastRun?: { __typename?: 'SyncRun', id: string, status: RunStatus, rejected: number, finishedAt?: string | null, planned: { __typename?: 'OperationCounts', adds: number, removes: number, updates: number }, delivered: { __typename?: 'OperationCounts', adds: number, removes: number, updates: number } } | null } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor?: string | null } } };

export type TriggerAudienceSyncMutationVariables = Exact<{
  id: Scalars['ID']['input'];
  evaluateSegmentFirst?: InputMaybe<Scalars['Boolean']['input']>;
}>;


export type TriggerAudienceSyncMutation = { __typename?: 'Mutation', triggerAudienceSync:
    | { __typename: 'InvalidStateError', message: string }
    | { __typename: 'NotFoundError', message: string }
    | { __typename: 'TriggerAudienceSyncPayload', run: { __typename?: 'SyncRun', id: string, status: RunStatus } }
   };

export type SyncRunErrorsQueryVariables = Exact<{
  runId: Scalars['ID']['input'];
  first?: InputMaybe<Scalars['Int']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type SyncRunErrorsQuery = { __typename?: 'Query', node?:
    | { __typename?: 'ApiToken' }
    | { __typename?: 'AudienceSync' }
    | { __typename?: 'Destination' }
    | { __typename?: 'Entity' }
    | { __typename?: 'Relationship' }
    | { __typename?: 'Segment' }
    | { __typename?: 'Source' }
    | { __typename?: 'SyncRun', status: RunStatus, errors: { __typename?: 'SyncRunErrorsConnection', edges: Array<{ __typename?: 'SyncRunErrorsConnectionEdge', node: { __typename?: 'SyncRunError', recordKey: string, operation: RunOperation, message: string, code?: string | null } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor?: string | null } } }
    | { __typename?: 'Workspace' }
   | null };

export type ViewerQueryVariables = Exact<{ [key: string]: never; }>;


export type ViewerQuery = { __typename?: 'Query', viewer: { __typename?: 'Viewer', scopes: Array<TokenScope>, workspace: { __typename?: 'Workspace', id: string, name: string, slug: string } } };


export const SegmentAudiencesDocument = {"__meta__":{"hash":"726de9bea7598c7235eedb0613c990ac6a08482d70998ebe6af9f9f7d3c8f6f9"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"SegmentAudiences"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"segment"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"oneClickAudiences"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"destination"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"type"}}]}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"audienceName"}},{"kind":"Field","name":{"kind":"Name","value":"sync"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}}]}},{"kind":"Field","name":{"kind":"Name","value":"latestMatchRate"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"matched"}},{"kind":"Field","name":{"kind":"Name","value":"uploaded"}},{"kind":"Field","name":{"kind":"Name","value":"rate"}},{"kind":"Field","name":{"kind":"Name","value":"sampledAt"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"matchRates"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"destination"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}},{"kind":"Field","name":{"kind":"Name","value":"latest"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"rate"}},{"kind":"Field","name":{"kind":"Name","value":"sampledAt"}}]}}]}}]}}]}}]} as unknown as DocumentNode<SegmentAudiencesQuery, SegmentAudiencesQueryVariables>;
export const SetOneClickAudienceDocument = {"__meta__":{"hash":"5de7c8e760799e3c9462095d244a19f091a6d7317e2b27b3d5d6da9e7a299f56"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"SetOneClickAudience"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"segmentId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"destinationId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"enabled"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"setOneClickAudience"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"segmentId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"segmentId"}}},{"kind":"Argument","name":{"kind":"Name","value":"destinationId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"destinationId"}}},{"kind":"Argument","name":{"kind":"Name","value":"enabled"},"value":{"kind":"Variable","name":{"kind":"Name","value":"enabled"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SetOneClickAudiencePayload"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"oneClickAudience"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"audienceName"}},{"kind":"Field","name":{"kind":"Name","value":"sync"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ValidationError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"problems"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"path"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<SetOneClickAudienceMutation, SetOneClickAudienceMutationVariables>;
export const SyncMatchRatesDocument = {"__meta__":{"hash":"723f3ccb53e067cfd7aa2bffd73fac89e78a93539b0fbc88f59073b7854fe643"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"SyncMatchRates"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"audienceSync"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"reportsMatchRate"}},{"kind":"Field","name":{"kind":"Name","value":"matchRate"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"audienceId"}},{"kind":"Field","name":{"kind":"Name","value":"matched"}},{"kind":"Field","name":{"kind":"Name","value":"uploaded"}},{"kind":"Field","name":{"kind":"Name","value":"rate"}},{"kind":"Field","name":{"kind":"Name","value":"sampledAt"}}]}},{"kind":"Field","name":{"kind":"Name","value":"matchRates"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"audienceId"}},{"kind":"Field","name":{"kind":"Name","value":"matched"}},{"kind":"Field","name":{"kind":"Name","value":"uploaded"}},{"kind":"Field","name":{"kind":"Name","value":"rate"}},{"kind":"Field","name":{"kind":"Name","value":"sampledAt"}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<SyncMatchRatesQuery, SyncMatchRatesQueryVariables>;
export const MatchRateUpdatedDocument = {"__meta__":{"hash":"a0257a93ad6b96b9a746648e55a5a336cd32a7506f07545773e9eee6f2ca8dd5"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"MatchRateUpdated"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"syncId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"matchRateUpdated"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"syncId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"syncId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"audienceId"}},{"kind":"Field","name":{"kind":"Name","value":"audienceName"}},{"kind":"Field","name":{"kind":"Name","value":"matched"}},{"kind":"Field","name":{"kind":"Name","value":"uploaded"}},{"kind":"Field","name":{"kind":"Name","value":"rate"}},{"kind":"Field","name":{"kind":"Name","value":"sampledAt"}}]}}]}}]} as unknown as DocumentNode<MatchRateUpdatedSubscription, MatchRateUpdatedSubscriptionVariables>;
export const EntitiesDocument = {"__meta__":{"hash":"1bcf8c373f09568b72555ca4b310f2ce53b1293c76265f05f0607bcc4df09aca"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Entities"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"kind"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"EntityKind"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"entities"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"kind"},"value":{"kind":"Variable","name":{"kind":"Name","value":"kind"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"primaryKey"}},{"kind":"Field","name":{"kind":"Name","value":"table"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"schema"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}},{"kind":"Field","name":{"kind":"Name","value":"identifiers"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"column"}}]}},{"kind":"Field","name":{"kind":"Name","value":"relationships"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"toEntity"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]} as unknown as DocumentNode<EntitiesQuery, EntitiesQueryVariables>;
export const CreateEntityDocument = {"__meta__":{"hash":"a9528f25e0b45cb747bb46e8c10be0674876f8e0a81b6bbbc6cf16ed86e1a849"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateEntity"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateEntityInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createEntity"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"CreateEntityPayload"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"entity"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ValidationError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"problems"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"path"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"suggestion"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"path"}}]}}]}}]}}]} as unknown as DocumentNode<CreateEntityMutation, CreateEntityMutationVariables>;
export const CreateRelationshipDocument = {"__meta__":{"hash":"0a9933d38eaf021272abeeacfda6b652ae7101048430558a9fa60463eb53041a"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateRelationship"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateRelationshipInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createRelationship"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"CreateRelationshipPayload"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"relationship"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"path"}}]}}]}}]}}]} as unknown as DocumentNode<CreateRelationshipMutation, CreateRelationshipMutationVariables>;
export const SegmentsDocument = {"__meta__":{"hash":"b76ed409937da02dfcd189d73f65bdf605767722ae07d30ca9556d79e178bb07"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Segments"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"entityId"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"segments"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"entityId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"entityId"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"size"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"evaluatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"schedule"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"nextAt"}}]}},{"kind":"Field","name":{"kind":"Name","value":"entity"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]} as unknown as DocumentNode<SegmentsQuery, SegmentsQueryVariables>;
export const CreateSegmentDocument = {"__meta__":{"hash":"d83804210c82bfaec3a5649f78569dd14718e78248938be458527f89e1b4adf0"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateSegment"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateSegmentInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createSegment"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"CreateSegmentPayload"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"segment"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ValidationError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"problems"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"path"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"suggestion"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"path"}}]}}]}}]}}]} as unknown as DocumentNode<CreateSegmentMutation, CreateSegmentMutationVariables>;
export const EvaluateSegmentDocument = {"__meta__":{"hash":"aea03ea01ec09087a1cbc938793e544f107b894aa86fb104f2d635fb8d10a294"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"EvaluateSegment"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"evaluateSegment"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"EvaluateSegmentPayload"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"evaluation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"queuedAt"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<EvaluateSegmentMutation, EvaluateSegmentMutationVariables>;
export const SegmentPreviewDocument = {"__meta__":{"hash":"d2ec58c06130f2aff79e778a2ca1e2067e93c0867f2319f0633c0aa49a68a6d2"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"SegmentPreview"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"entityId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"condition"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ConditionInput"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"sampleSize"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"segmentPreview"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"entityId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"entityId"}}},{"kind":"Argument","name":{"kind":"Name","value":"condition"},"value":{"kind":"Variable","name":{"kind":"Name","value":"condition"}}},{"kind":"Argument","name":{"kind":"Name","value":"sampleSize"},"value":{"kind":"Variable","name":{"kind":"Name","value":"sampleSize"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"QuerySegmentPreviewSuccess"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"data"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"size"}},{"kind":"Field","name":{"kind":"Name","value":"sample"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"path"}}]}}]}}]}}]} as unknown as DocumentNode<SegmentPreviewQuery, SegmentPreviewQueryVariables>;
export const RecordMembershipsDocument = {"__meta__":{"hash":"286fafab49e0ea4f83bba9c4e9d64a4d1d55e94eb5ee2b76ffe09b4df26121ed"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"RecordMemberships"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"entityId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"key"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"record"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"entityId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"entityId"}}},{"kind":"Argument","name":{"kind":"Name","value":"key"},"value":{"kind":"Variable","name":{"kind":"Name","value":"key"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"QueryRecordSuccess"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"data"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"segmentMemberships"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<RecordMembershipsQuery, RecordMembershipsQueryVariables>;
export const SegmentEvaluatedDocument = {"__meta__":{"hash":"8fb58a5e2704afd15a990dc11feb143246ca08a64e05ada542c583b0ea5ff979"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"SegmentEvaluated"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"segmentId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"segmentEvaluated"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"segmentId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"segmentId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"size"}},{"kind":"Field","name":{"kind":"Name","value":"entered"}},{"kind":"Field","name":{"kind":"Name","value":"exited"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"evaluatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"error"}}]}}]}}]} as unknown as DocumentNode<SegmentEvaluatedSubscription, SegmentEvaluatedSubscriptionVariables>;
export const SourcesDocument = {"__meta__":{"hash":"a57b80def5eb6f8c8f3d13567c5f729feac884ba1cf959c875b605ee709d514b"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Sources"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"sources"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"connection"}},{"kind":"Field","name":{"kind":"Name","value":"plannerSchema"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"lastError"}},{"kind":"Field","name":{"kind":"Name","value":"checkedAt"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]} as unknown as DocumentNode<SourcesQuery, SourcesQueryVariables>;
export const CreateSourceDocument = {"__meta__":{"hash":"9a64412c40f03cd5b0736aaecf7d18db517c4396820b1d234b2177c64a5e0b8b"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateSource"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateSourceInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createSource"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"CreateSourcePayload"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"source"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"path"}}]}}]}}]}}]} as unknown as DocumentNode<CreateSourceMutation, CreateSourceMutationVariables>;
export const AudienceSyncsDocument = {"__meta__":{"hash":"d5bbc6fa8458347501a4c9d2eec8ae8369316e7a2886200ce0896549bcbc6e66"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"AudienceSyncs"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"audienceSyncs"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"segment"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"size"}}]}},{"kind":"Field","name":{"kind":"Name","value":"destination"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"type"}}]}},{"kind":"Field","name":{"kind":"Name","value":"schedule"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"nextAt"}}]}},{"kind":"Field","name":{"kind":"Name","value":"lastRun"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"planned"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"adds"}},{"kind":"Field","name":{"kind":"Name","value":"removes"}},{"kind":"Field","name":{"kind":"Name","value":"updates"}}]}},{"kind":"Field","name":{"kind":"Name","value":"delivered"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"adds"}},{"kind":"Field","name":{"kind":"Name","value":"removes"}},{"kind":"Field","name":{"kind":"Name","value":"updates"}}]}},{"kind":"Field","name":{"kind":"Name","value":"rejected"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]} as unknown as DocumentNode<AudienceSyncsQuery, AudienceSyncsQueryVariables>;
export const TriggerAudienceSyncDocument = {"__meta__":{"hash":"8d30485041a15fa9e8b134093f89b6100c860fdb1d477ae6030702bccd936880"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"TriggerAudienceSync"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"evaluateSegmentFirst"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"triggerAudienceSync"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"evaluateSegmentFirst"},"value":{"kind":"Variable","name":{"kind":"Name","value":"evaluateSegmentFirst"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"TriggerAudienceSyncPayload"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"run"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<TriggerAudienceSyncMutation, TriggerAudienceSyncMutationVariables>;
export const SyncRunErrorsDocument = {"__meta__":{"hash":"f6e021a3d5b64ea1b6e1b506f3bbb5464a49e9a31ccd5502194b4a5bbf45a940"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"SyncRunErrors"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"runId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"runId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"SyncRun"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"errors"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recordKey"}},{"kind":"Field","name":{"kind":"Name","value":"operation"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"code"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<SyncRunErrorsQuery, SyncRunErrorsQueryVariables>;
export const ViewerDocument = {"__meta__":{"hash":"27172bd7a7b9629ca8be3d16a4aec9fb5a5c017a4c2c8b28951684f60a05b197"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Viewer"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"viewer"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"workspace"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"slug"}}]}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}}]}}]}}]} as unknown as DocumentNode<ViewerQuery, ViewerQueryVariables>;