// The only place that listens, starts workers and handles signals. The CLI
// (src/cli/main.ts) calls `run` for `roster start | serve | worker`.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, parseSecretKey, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded.js';
import { applyMigrations } from './migrate.js';
import { createServices, type ProcessServices } from './services.js';
import { startBoss, stopBoss } from './jobs/boss.js';
import { createQueues } from './jobs/queues.js';
import { startWorkers } from './jobs/worker.js';
import { closePostgresTablePools } from './connectors/postgres-table/index.js';
import { createPgEventTarget, createRosterPubSub, type RosterEventTarget } from './graphql/pubsub.js';
import type { App } from './app.js';

export type Mode = 'start' | 'serve' | 'worker';

export interface Runtime {
  config: Config;
  logger: Logger;
  databaseUrl: string;
  embedded?: EmbeddedDatabase;
  services: ProcessServices;
  app?: App;
  url?: string;
  stop(): Promise<void>;
}

/** The embedded default keeps its key beside its data, created on first start. */
async function embeddedSecretKey(dataDir: string): Promise<Buffer> {
  const file = join(dataDir, 'secret.key');
  if (existsSync(file)) {
    const key = parseSecretKey(await readFile(file, 'utf8'));
    if (!key) throw new Error(`expected ${file} to hold a 32-byte key as 64 hex characters, but it holds something else`);
    return key;
  }
  await mkdir(dataDir, { recursive: true });
  const key = randomBytes(32);
  await writeFile(file, `${key.toString('hex')}\n`, { mode: 0o600 });
  return key;
}

/** Opens the database (embedded when DATABASE_URL is unset), migrates it, and creates the services. */
export async function openRuntime(mode: Mode | 'cli', config = loadConfig()): Promise<Omit<Runtime, 'app' | 'url'>> {
  const logger = createLogger(config.logLevel);
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    if (mode === 'worker') {
      throw new Error('roster worker expected DATABASE_URL (the database it shares with the API processes), but it is unset');
    }
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, logger });
    databaseUrl = embedded.url;
  }
  try {
    const applied = await applyMigrations(databaseUrl);
    if (applied.length) logger.info({ applied }, 'migrations applied');
    const secretKey = config.secretKey ?? (await embeddedSecretKey(config.dataDir));
    const services = createServices({ config, databaseUrl, secretKey, logger });
    return {
      config,
      logger,
      databaseUrl,
      embedded,
      services,
      async stop() {
        await services.close();
        await embedded?.stop();
      },
    };
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
}

export interface RunOptions {
  /** Create the demo workspace when the database has no workspace (start only). */
  demo?: boolean;
  demoUsers?: number;
  /** Called once the process is ready, with what a newcomer needs to know. */
  onReady?: (info: { url?: string; demoToken?: string; demoTokenFile?: string }) => void;
}

export async function run(mode: Mode, opts: RunOptions = {}): Promise<Runtime> {
  // What a mode does not use is not loaded: a worker process runs jobs
  // without the GraphQL schema and server, and Redis's client is loaded
  // only where it is configured (tens of MB of resident memory each;
  // bench/: delivery, the worker's peak RSS). Loaded first, as a static
  // import would be, so that serving starts in the same order as before.
  const config = loadConfig();
  const { buildApp } = mode === 'worker' ? { buildApp: undefined } : await import('./app.js');
  const { createRedisRosterEventTarget } = config.redisUrl ? await import('./graphql/pubsub-redis.js') : { createRedisRosterEventTarget: undefined };
  const base = await openRuntime(mode, config);
  const { services, logger } = base;
  let app: App | undefined;
  let url: string | undefined;
  let events: RosterEventTarget | undefined;
  // Aborted at shutdown: runs stop between batches (nothing lost: the next
  // run resumes from the snapshot) instead of holding the process.
  const stopWork = new AbortController();
  try {
    // Events cross processes through LISTEN/NOTIFY: a worker's progress
    // reaches subscribers connected to any API replica.
    events = config.redisUrl && createRedisRosterEventTarget
      ? createRedisRosterEventTarget({ url: config.redisUrl, logger })
      : createPgEventTarget({ connectionString: base.databaseUrl, logger });
    await events.start();
    services.pubsub = createRosterPubSub(events);
    services.boss = await startBoss(base.databaseUrl, logger, { supervise: mode !== 'serve' });
    if (mode === 'serve') await createQueues(services.boss);
    else await startWorkers(services.boss, services, { signal: stopWork.signal });

    let demoToken: string | undefined;
    let demoTokenFile: string | undefined;
    if (mode === 'start' && opts.demo !== false) {
      ({ demoToken, demoTokenFile } = await ensureDemo(base, opts.demoUsers ?? 100_000));
    }

    if (buildApp) {
      app = buildApp(services);
      ({ url } = await app.start(config.port, config.host));
      logger.info({ url }, 'Roster is listening');
    }
    opts.onReady?.({ url, demoToken, demoTokenFile });
  } catch (err) {
    await app?.stop().catch(() => {});
    if (services.boss) await stopBoss(services.boss).catch(() => {});
    await events?.close().catch(() => {});
    await base.stop().catch(() => {});
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const runtime: Runtime = {
    ...base,
    app,
    url,
    stop() {
      stopping ??= (async () => {
        // Reverse order of start: stop taking requests, let jobs finish,
        // close connections, then the embedded database.
        await app?.stop();
        stopWork.abort();
        if (services.boss) await stopBoss(services.boss);
        await closePostgresTablePools();
        await events?.close();
        await base.stop();
      })();
      return stopping;
    },
  };
  return runtime;
}

/**
 * On a database without workspaces, `roster start` creates the demo. With the
 * embedded default the admin token is kept in the data folder (beside the
 * database it opens) so that every start can print it again.
 */
async function ensureDemo(base: Omit<Runtime, 'app' | 'url'>, users: number): Promise<{ demoToken?: string; demoTokenFile?: string }> {
  const { services, config } = base;
  const tokenFile = join(config.dataDir, 'demo-token');
  const count = await services.db.prisma.workspace.count();
  if (count === 0) {
    const { seedDemoWorkspace } = await import('../prisma/seed.js');
    const seeded = await seedDemoWorkspace(services, { warehouseUrl: base.databaseUrl, users, exportDir: join(config.dataDir, 'exports') });
    // First runs right away, so a newcomer sees runs move without waiting for the schedule.
    const { requestRun } = await import('./sync/run.js');
    for (const syncId of seeded.syncIds) {
      await requestRun(services, seeded.workspaceId, syncId, { trigger: 'DEMO', evaluateFirst: true }).catch((err) => services.logger.warn({ err }, 'could not queue a demo run'));
    }
    if (base.embedded) {
      await mkdir(config.dataDir, { recursive: true });
      await writeFile(tokenFile, `${seeded.token}\n`, { mode: 0o600 });
      return { demoToken: seeded.token, demoTokenFile: tokenFile };
    }
    return { demoToken: seeded.token };
  }
  if (base.embedded && existsSync(tokenFile)) {
    return { demoToken: (await readFile(tokenFile, 'utf8')).trim(), demoTokenFile: tokenFile };
  }
  return {};
}

/**
 * Stops on SIGINT/SIGTERM; a second signal forces the exit. Installed before
 * the runtime starts, so a signal during start-up (loading the demo, say) is
 * honoured as soon as there is something to stop, instead of killing the
 * process with the embedded database still running.
 */
export function handleSignals(logger: Logger): { attach(runtime: Pick<Runtime, 'stop'>): void } {
  let runtime: Pick<Runtime, 'stop'> | undefined;
  let requested: NodeJS.Signals | undefined;
  const shutdown = () => {
    runtime!.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (requested) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    requested = signal;
    logger.info({ signal }, 'shutting down');
    if (runtime) shutdown();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    attach(r) {
      runtime = r;
      if (requested) shutdown();
    },
  };
}
