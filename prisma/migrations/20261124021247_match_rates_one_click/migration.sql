-- AlterTable
ALTER TABLE "AudienceSync" ADD COLUMN     "nextMatchRateAt" TIMESTAMP(3);

-- AlterTable (samples taken before this migration keep an empty audience id)
ALTER TABLE "MatchRateSample" ADD COLUMN     "audienceExternalId" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "rate" DOUBLE PRECISION,
ALTER COLUMN "matched" DROP NOT NULL;
ALTER TABLE "MatchRateSample" ALTER COLUMN "audienceExternalId" DROP DEFAULT;

-- One managed (one-click) sync per segment and destination: toggling it on
-- again resumes the same sync, so the same audience. Partial, hence raw SQL.
CREATE UNIQUE INDEX "AudienceSync_one_click_key" ON "AudienceSync"("segmentId", "destinationId") WHERE "managed";
