-- AlterTable
ALTER TABLE "SyncRun" ADD COLUMN     "evaluateFirst" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "jobId" TEXT;
