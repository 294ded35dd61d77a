-- DropIndex
DROP INDEX "Entity_sourceId_idx";

-- CreateIndex
CREATE INDEX "Entity_sourceId_id_idx" ON "Entity"("sourceId", "id");

-- CreateIndex
CREATE INDEX "AudienceSync_destinationId_id_idx" ON "AudienceSync"("destinationId", "id");
