// An app built on the file's own database, with helpers to make workspaces
// and tokens and to call the API in-process through `yoga.fetch`.
import { afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { buildApp, type App } from '../../src/app.js';
import { createApiToken } from '../../src/auth.js';
import { loadConfig, type LogLevel } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type ProcessServices } from '../../src/services.js';
import type { TokenScope } from '../../src/generated/prisma/enums.js';
import { useTestDatabase, type TestDatabase } from './db.js';
import { startBoss, stopBoss } from '../../src/jobs/boss.js';
import { startWorkers } from '../../src/jobs/worker.js';
import { createPgEventTarget, createRosterPubSub, type RosterEventTarget } from '../../src/graphql/pubsub.js';

export interface GqlResponse<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown>; path?: string[] }[];
}

export interface TestApp extends TestDatabase {
  app: App;
  services: ProcessServices;
  workspace(slug?: string, scopes?: TokenScope[]): Promise<{ workspaceId: string; token: string; gql: Gql }>;
  tokenFor(workspaceId: string, scopes: TokenScope[], extra?: { expiresAt?: Date; persistedOnly?: boolean }): Promise<string>;
  gql: (token: string | undefined, query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) => Promise<GqlResponse>;
}

export type Gql = <T = any>(query: string, variables?: Record<string, unknown>) => Promise<GqlResponse<T>>;

export interface TestAppOptions {
  /** Start pg-boss with the workers and the LISTEN/NOTIFY pub/sub, as `roster start` does. */
  jobs?: boolean;
}

export async function useTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const t = await useTestDatabase();
  const config = { ...loadConfig({ DATABASE_URL: t.url, ROSTER_SECRET_KEY: randomBytes(32).toString('hex'), LOG_LEVEL: 'silent' }) };
  const services = createServices({ config, databaseUrl: t.url, secretKey: config.secretKey!, logger: createLogger((process.env.TEST_LOG_LEVEL as LogLevel | undefined) ?? 'silent'), poolSize: 5 });
  let events: RosterEventTarget | undefined;
  if (opts.jobs) {
    events = createPgEventTarget({ connectionString: t.url, logger: services.logger });
    await events.start();
    services.pubsub = createRosterPubSub(events);
    services.boss = await startBoss(t.url, services.logger, { supervise: true });
    await startWorkers(services.boss, services);
  }
  const app = buildApp(services);
  afterAll(async () => {
    await app.stop();
    if (services.boss) await stopBoss(services.boss);
    await events?.close();
    await services.close();
  });

  const gql: TestApp['gql'] = async (token, query, variables, headers = {}) => {
    const res = await app.yoga.fetch('http://roster.test/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as GqlResponse;
    return { ...body, status: res.status };
  };

  const tokenFor: TestApp['tokenFor'] = async (workspaceId, scopes, extra = {}) =>
    (await createApiToken(services.db.prisma, { workspaceId, name: 'test', scopes, ...extra })).token;

  let counter = 0;
  const workspace: TestApp['workspace'] = async (slug, scopes = ['ADMIN']) => {
    counter += 1;
    const ws = await services.db.prisma.workspace.create({
      data: { name: slug ?? `Workspace ${counter}`, slug: slug ?? `ws-${counter}-${randomBytes(3).toString('hex')}` },
    });
    const token = await tokenFor(ws.id, scopes);
    return { workspaceId: ws.id, token, gql: (q, v) => gql(token, q, v) };
  };

  return { ...t, app, services, workspace, tokenFor, gql };
}

/** Fails with the response's errors when a GraphQL call did not succeed. */
export function ok<T>(res: GqlResponse<T>): T {
  if (res.errors?.length || !res.data) {
    throw new Error(`expected data without errors, but got HTTP ${res.status}: ${JSON.stringify(res.errors)}`);
  }
  return res.data;
}
