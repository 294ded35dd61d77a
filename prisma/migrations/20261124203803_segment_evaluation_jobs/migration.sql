-- AlterTable
ALTER TABLE "SegmentEvaluation" ADD COLUMN     "jobId" TEXT;
