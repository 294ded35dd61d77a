import type { ProcessServices } from '../../src/services.js';
import type { Logger } from '../../src/logger.js';
import type { BenchDatabase } from './env.js';
import type { Options } from './options.js';
import type { ScenarioResult } from './results.js';

/** What every scenario receives. */
export interface BenchContext {
  opts: Options;
  db: BenchDatabase;
  /** Services of a Roster process, in the bench's own process (for setup and in-process runs). */
  services: ProcessServices;
  logger: Logger;
  log(message: string): void;
}

export type Scenario = (ctx: BenchContext) => Promise<ScenarioResult>;
