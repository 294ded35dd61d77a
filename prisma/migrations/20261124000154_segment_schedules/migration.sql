-- AlterTable
ALTER TABLE "Segment" ADD COLUMN     "nextEvaluationAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "SegmentEvaluation" ADD COLUMN     "trigger" TEXT NOT NULL DEFAULT 'MANUAL';

-- AlterTable
ALTER TABLE "AudienceSync" ADD COLUMN     "nextRunAt" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "Segment_nextEvaluationAt_idx" ON "Segment"("nextEvaluationAt");
