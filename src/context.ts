// What every resolver receives: the caller's identity and the process's
// services. Built once per request (HTTP) or per operation (WebSocket).
import type { AuthInfo } from './auth.js';
import type { Config } from './config.js';
import type { Database, PrismaClient } from './db.js';
import type { Logger } from './logger.js';
import type { SecretBox } from './secrets.js';
import type { WarehousePools } from './warehouse/connection.js';
import type PgBoss from 'pg-boss';
import type { RosterPubSub } from './graphql/pubsub.js';

export interface Services {
  config: Config;
  db: Database;
  secrets: SecretBox;
  warehouses: WarehousePools;
  logger: Logger;
  /** Enqueues jobs; set once pg-boss has started. */
  boss?: PgBoss;
  /** Events for subscriptions, across processes. */
  pubsub?: RosterPubSub;
}

export interface Context {
  services: Services;
  prisma: PrismaClient;
  /** null: no token was sent (only introspection may run). */
  auth: AuthInfo | null;
  logger: Logger;
}

/** The caller's workspace; resolvers run behind scope checks, so auth is present. */
export function workspaceOf(ctx: Context): string {
  if (!ctx.auth) throw new Error('expected an authenticated context; a resolver ran without its scope check');
  return ctx.auth.workspaceId;
}
