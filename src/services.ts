// The long-lived parts a process needs, created once and closed in reverse.
import type { Config } from './config.js';
import type { Services } from './context.js';
import { connectDatabase } from './db.js';
import type { Logger } from './logger.js';
import { SecretBox } from './secrets.js';
import { WarehousePools } from './warehouse/connection.js';

export interface ProcessServices extends Services {
  close(): Promise<void>;
}

export function createServices(opts: { config: Config; databaseUrl: string; secretKey: Buffer; logger: Logger; poolSize?: number }): ProcessServices {
  const db = connectDatabase(opts.databaseUrl, { max: opts.poolSize ?? 10 });
  const warehouses = new WarehousePools();
  return {
    config: opts.config,
    db,
    secrets: new SecretBox(opts.secretKey, opts.config.previousSecretKeys),
    warehouses,
    logger: opts.logger,
    async close() {
      await warehouses.closeAll();
      await db.close();
    },
  };
}
