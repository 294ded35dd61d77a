-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "TokenScope" AS ENUM ('READ', 'WRITE', 'ADMIN');

-- CreateEnum
CREATE TYPE "SourceStatus" AS ENUM ('CONNECTED', 'ERROR');

-- CreateEnum
CREATE TYPE "EntityKind" AS ENUM ('PERSON', 'COMPANY', 'OTHER');

-- CreateEnum
CREATE TYPE "IdentifierType" AS ENUM ('EMAIL', 'PHONE', 'MAID', 'EXTERNAL_ID', 'FIRST_NAME', 'LAST_NAME', 'ZIP', 'CITY', 'STATE', 'COUNTRY', 'DATE_OF_BIRTH', 'GENDER');

-- CreateEnum
CREATE TYPE "RelationshipKind" AS ENUM ('MANY_TO_ONE', 'ONE_TO_MANY');

-- CreateEnum
CREATE TYPE "ScheduleKind" AS ENUM ('MANUAL', 'EVERY_15_MINUTES', 'HOURLY', 'DAILY', 'WEEKLY', 'CRON');

-- CreateEnum
CREATE TYPE "EvaluationStatus" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED');

-- CreateEnum
CREATE TYPE "SyncMode" AS ENUM ('MIRROR', 'ADDITIVE', 'SUBTRACTIVE');

-- CreateEnum
CREATE TYPE "RemovalBehavior" AS ENUM ('REMOVE', 'DO_NOTHING');

-- CreateEnum
CREATE TYPE "SyncStatus" AS ENUM ('ACTIVE', 'PAUSED', 'DRAFT');

-- CreateEnum
CREATE TYPE "AudienceTarget" AS ENUM ('EXISTING', 'CREATE_BY_NAME', 'NAME_FROM_COLUMN');

-- CreateEnum
CREATE TYPE "RunStatus" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "RunOperation" AS ENUM ('ADD', 'REMOVE', 'UPDATE');

-- CreateTable
CREATE TABLE "Workspace" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "isDemo" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Workspace_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiToken" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "scopes" "TokenScope"[],
    "persistedOnly" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" TIMESTAMP(3),
    "expiresAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),

    CONSTRAINT "ApiToken_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Source" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "connectionEnc" TEXT NOT NULL,
    "displayUrl" TEXT NOT NULL,
    "plannerSchema" TEXT NOT NULL,
    "status" "SourceStatus" NOT NULL DEFAULT 'CONNECTED',
    "lastError" TEXT,
    "checkedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Source_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Entity" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "sourceId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "EntityKind" NOT NULL,
    "tableSchema" TEXT,
    "tableName" TEXT,
    "sql" TEXT,
    "primaryKey" TEXT NOT NULL,
    "columns" JSONB NOT NULL,
    "introspectedAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Entity_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "EntityIdentifier" (
    "id" UUID NOT NULL,
    "entityId" UUID NOT NULL,
    "type" "IdentifierType" NOT NULL,
    "column" TEXT NOT NULL,

    CONSTRAINT "EntityIdentifier_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Relationship" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "RelationshipKind" NOT NULL,
    "fromEntityId" UUID NOT NULL,
    "toEntityId" UUID NOT NULL,
    "fromColumn" TEXT NOT NULL,
    "toColumn" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Relationship_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Segment" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "entityId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "condition" JSONB NOT NULL,
    "scheduleKind" "ScheduleKind" NOT NULL DEFAULT 'MANUAL',
    "scheduleCron" TEXT,
    "scheduleTimezone" TEXT,
    "version" INTEGER NOT NULL DEFAULT 0,
    "size" INTEGER,
    "evaluatedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Segment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "SegmentEvaluation" (
    "id" UUID NOT NULL,
    "segmentId" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "status" "EvaluationStatus" NOT NULL DEFAULT 'QUEUED',
    "size" INTEGER,
    "entered" INTEGER,
    "exited" INTEGER,
    "error" TEXT,
    "queuedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "SegmentEvaluation_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Destination" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "config" JSONB NOT NULL,
    "secretsEnc" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Destination_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AudienceSync" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "entityId" UUID NOT NULL,
    "segmentId" UUID,
    "destinationId" UUID NOT NULL,
    "audienceTarget" "AudienceTarget" NOT NULL,
    "audienceExternalId" TEXT,
    "audienceName" TEXT,
    "audienceNameColumn" TEXT,
    "audienceType" TEXT,
    "mode" "SyncMode" NOT NULL DEFAULT 'MIRROR',
    "removalBehavior" "RemovalBehavior" NOT NULL DEFAULT 'REMOVE',
    "mappings" JSONB NOT NULL DEFAULT '[]',
    "identifiers" JSONB NOT NULL DEFAULT '[]',
    "scheduleKind" "ScheduleKind" NOT NULL DEFAULT 'MANUAL',
    "scheduleCron" TEXT,
    "scheduleTimezone" TEXT,
    "status" "SyncStatus" NOT NULL DEFAULT 'DRAFT',
    "managed" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "AudienceSync_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "SyncRun" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "syncId" UUID NOT NULL,
    "status" "RunStatus" NOT NULL DEFAULT 'QUEUED',
    "trigger" TEXT NOT NULL,
    "plannedAdds" INTEGER NOT NULL DEFAULT 0,
    "plannedRemoves" INTEGER NOT NULL DEFAULT 0,
    "plannedUpdates" INTEGER NOT NULL DEFAULT 0,
    "deliveredAdds" INTEGER NOT NULL DEFAULT 0,
    "deliveredRemoves" INTEGER NOT NULL DEFAULT 0,
    "deliveredUpdates" INTEGER NOT NULL DEFAULT 0,
    "rejected" INTEGER NOT NULL DEFAULT 0,
    "phaseDurations" JSONB NOT NULL DEFAULT '{}',
    "error" TEXT,
    "queuedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "heartbeatAt" TIMESTAMP(3),

    CONSTRAINT "SyncRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "SyncRunError" (
    "id" UUID NOT NULL,
    "runId" UUID NOT NULL,
    "recordKey" TEXT NOT NULL,
    "operation" "RunOperation" NOT NULL,
    "message" TEXT NOT NULL,
    "code" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "SyncRunError_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DestinationAudience" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "destinationId" UUID NOT NULL,
    "externalId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "type" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "DestinationAudience_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "MatchRateSample" (
    "id" UUID NOT NULL,
    "syncId" UUID NOT NULL,
    "audienceId" UUID,
    "matched" INTEGER NOT NULL,
    "uploaded" INTEGER NOT NULL,
    "sampledAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "MatchRateSample_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Workspace_slug_key" ON "Workspace"("slug");

-- CreateIndex
CREATE UNIQUE INDEX "ApiToken_tokenHash_key" ON "ApiToken"("tokenHash");

-- CreateIndex
CREATE INDEX "ApiToken_workspaceId_idx" ON "ApiToken"("workspaceId");

-- CreateIndex
CREATE INDEX "Source_workspaceId_idx" ON "Source"("workspaceId");

-- CreateIndex
CREATE UNIQUE INDEX "Source_workspaceId_name_key" ON "Source"("workspaceId", "name");

-- CreateIndex
CREATE INDEX "Entity_sourceId_idx" ON "Entity"("sourceId");

-- CreateIndex
CREATE UNIQUE INDEX "Entity_workspaceId_name_key" ON "Entity"("workspaceId", "name");

-- CreateIndex
CREATE UNIQUE INDEX "EntityIdentifier_entityId_type_key" ON "EntityIdentifier"("entityId", "type");

-- CreateIndex
CREATE INDEX "Relationship_workspaceId_idx" ON "Relationship"("workspaceId");

-- CreateIndex
CREATE INDEX "Relationship_toEntityId_idx" ON "Relationship"("toEntityId");

-- CreateIndex
CREATE UNIQUE INDEX "Relationship_fromEntityId_name_key" ON "Relationship"("fromEntityId", "name");

-- CreateIndex
CREATE INDEX "Segment_entityId_idx" ON "Segment"("entityId");

-- CreateIndex
CREATE UNIQUE INDEX "Segment_workspaceId_name_key" ON "Segment"("workspaceId", "name");

-- CreateIndex
CREATE INDEX "SegmentEvaluation_segmentId_queuedAt_idx" ON "SegmentEvaluation"("segmentId", "queuedAt");

-- CreateIndex
CREATE UNIQUE INDEX "Destination_workspaceId_name_key" ON "Destination"("workspaceId", "name");

-- CreateIndex
CREATE INDEX "AudienceSync_workspaceId_idx" ON "AudienceSync"("workspaceId");

-- CreateIndex
CREATE INDEX "AudienceSync_segmentId_idx" ON "AudienceSync"("segmentId");

-- CreateIndex
CREATE INDEX "AudienceSync_destinationId_entityId_createdAt_idx" ON "AudienceSync"("destinationId", "entityId", "createdAt");

-- CreateIndex
CREATE INDEX "SyncRun_syncId_queuedAt_idx" ON "SyncRun"("syncId", "queuedAt");

-- CreateIndex
CREATE INDEX "SyncRun_status_idx" ON "SyncRun"("status");

-- CreateIndex
CREATE INDEX "SyncRunError_runId_idx" ON "SyncRunError"("runId");

-- CreateIndex
CREATE UNIQUE INDEX "DestinationAudience_destinationId_name_key" ON "DestinationAudience"("destinationId", "name");

-- CreateIndex
CREATE UNIQUE INDEX "DestinationAudience_destinationId_externalId_key" ON "DestinationAudience"("destinationId", "externalId");

-- CreateIndex
CREATE INDEX "MatchRateSample_syncId_sampledAt_idx" ON "MatchRateSample"("syncId", "sampledAt");

-- AddForeignKey
ALTER TABLE "ApiToken" ADD CONSTRAINT "ApiToken_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Source" ADD CONSTRAINT "Source_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Entity" ADD CONSTRAINT "Entity_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Entity" ADD CONSTRAINT "Entity_sourceId_fkey" FOREIGN KEY ("sourceId") REFERENCES "Source"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "EntityIdentifier" ADD CONSTRAINT "EntityIdentifier_entityId_fkey" FOREIGN KEY ("entityId") REFERENCES "Entity"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Relationship" ADD CONSTRAINT "Relationship_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Relationship" ADD CONSTRAINT "Relationship_fromEntityId_fkey" FOREIGN KEY ("fromEntityId") REFERENCES "Entity"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Relationship" ADD CONSTRAINT "Relationship_toEntityId_fkey" FOREIGN KEY ("toEntityId") REFERENCES "Entity"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Segment" ADD CONSTRAINT "Segment_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Segment" ADD CONSTRAINT "Segment_entityId_fkey" FOREIGN KEY ("entityId") REFERENCES "Entity"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SegmentEvaluation" ADD CONSTRAINT "SegmentEvaluation_segmentId_fkey" FOREIGN KEY ("segmentId") REFERENCES "Segment"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Destination" ADD CONSTRAINT "Destination_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AudienceSync" ADD CONSTRAINT "AudienceSync_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AudienceSync" ADD CONSTRAINT "AudienceSync_entityId_fkey" FOREIGN KEY ("entityId") REFERENCES "Entity"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AudienceSync" ADD CONSTRAINT "AudienceSync_segmentId_fkey" FOREIGN KEY ("segmentId") REFERENCES "Segment"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AudienceSync" ADD CONSTRAINT "AudienceSync_destinationId_fkey" FOREIGN KEY ("destinationId") REFERENCES "Destination"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SyncRun" ADD CONSTRAINT "SyncRun_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SyncRun" ADD CONSTRAINT "SyncRun_syncId_fkey" FOREIGN KEY ("syncId") REFERENCES "AudienceSync"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SyncRunError" ADD CONSTRAINT "SyncRunError_runId_fkey" FOREIGN KEY ("runId") REFERENCES "SyncRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DestinationAudience" ADD CONSTRAINT "DestinationAudience_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DestinationAudience" ADD CONSTRAINT "DestinationAudience_destinationId_fkey" FOREIGN KEY ("destinationId") REFERENCES "Destination"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MatchRateSample" ADD CONSTRAINT "MatchRateSample_syncId_fkey" FOREIGN KEY ("syncId") REFERENCES "AudienceSync"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MatchRateSample" ADD CONSTRAINT "MatchRateSample_audienceId_fkey" FOREIGN KEY ("audienceId") REFERENCES "DestinationAudience"("id") ON DELETE SET NULL ON UPDATE CASCADE;
