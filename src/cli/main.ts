// roster start | serve | worker | migrate | token create | demo | secret-key | secrets rotate | print-schema
import { Command, InvalidArgumentError, Option } from 'commander';
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '../config.js';
import type { Mode } from '../main.js';
import type { TokenScope } from '../generated/prisma/enums.js';

// Modules that pull in the schema, Prisma and the database are imported by
// the commands that need them, so that `roster --help` answers at once.
const main = () => import('../main.js');

function positiveInt(value: string): number {
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, but got "${value}"`);
  return n;
}

function scopesOf(value: string): TokenScope[] {
  const scopes = value.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  const bad = scopes.filter((s) => !['READ', 'WRITE', 'ADMIN'].includes(s));
  if (!scopes.length || bad.length) throw new InvalidArgumentError(`expected a comma-separated list of read, write, admin, but got "${value}"`);
  return scopes as TokenScope[];
}

function banner(info: { url?: string; demoToken?: string; demoTokenFile?: string }) {
  const lines = ['', '  Roster is running.'];
  if (info.url) lines.push(`  GraphiQL:   ${info.url}`);
  if (info.demoToken) {
    lines.push(`  Admin token (demo workspace): ${info.demoToken}`);
    lines.push(`  Use it as the header  Authorization: Bearer ${info.demoToken}`);
    if (info.demoTokenFile) lines.push(`  (kept in ${info.demoTokenFile})`);
  }
  lines.push('');
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function serveCommand(mode: Mode, opts: { demo?: boolean; demoUsers?: number }) {
  const { run, handleSignals } = await main();
  const { createLogger } = await import('../logger.js');
  const signals = handleSignals(createLogger(loadConfig().logLevel));
  const runtime = await run(mode, { demo: opts.demo, demoUsers: opts.demoUsers, onReady: banner });
  signals.attach(runtime);
}

const program = new Command();
program
  .name('roster')
  .description('Roster: audience activation from your warehouse.\nConfiguration comes from the environment: DATABASE_URL, PORT, HOST, ROSTER_SECRET_KEY, ROSTER_SECRET_KEY_PREVIOUS, LOG_LEVEL, ROSTER_DATA_DIR.')
  .showHelpAfterError();

program
  .command('start')
  .description('API and worker in one process; with no DATABASE_URL, an embedded PostgreSQL and, on first start, a demo workspace')
  .option('--no-demo', 'do not create the demo workspace on an empty database')
  .addOption(new Option('--demo-users <n>', 'users in the demo warehouse').argParser(positiveInt).default(100_000))
  .action((opts) => serveCommand('start', opts));

program.command('serve').description('the GraphQL API only (HTTP and WebSocket)').action(() => serveCommand('serve', {}));
program.command('worker').description('the job worker only (needs DATABASE_URL)').action(() => serveCommand('worker', {}));

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(async () => {
    const config = loadConfig();
    const { createLogger } = await import('../logger.js');
    const { startEmbeddedPostgres } = await import('../embedded.js');
    const { applyMigrations } = await import('../migrate.js');
    const logger = createLogger(config.logLevel);
    const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres({ dataDir: config.dataDir, logger });
    try {
      const applied = await applyMigrations(config.databaseUrl ?? embedded!.url);
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
    } finally {
      await embedded?.stop();
    }
  });

const token = program.command('token').description('API tokens');
token
  .command('create')
  .description('create an API token (and the workspace, if it does not exist) and print it once')
  .requiredOption('--workspace <slug>', 'workspace slug, e.g. acme')
  .option('--name <name>', 'what the token is for', 'cli')
  .addOption(new Option('--scopes <list>', 'comma-separated: read, write, admin').argParser(scopesOf).default(['READ'] as TokenScope[], 'read'))
  .option('--persisted-only', 'may run persisted operations only (partner tokens)', false)
  .action(async (opts: { workspace: string; name: string; scopes: TokenScope[]; persistedOnly: boolean }) => {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(opts.workspace)) {
      throw new InvalidArgumentError(`--workspace: expected a slug of lower-case letters, digits and -, but got "${opts.workspace}"`);
    }
    const { openRuntime } = await main();
    const { createApiToken } = await import('../auth.js');
    const runtime = await openRuntime('cli');
    try {
      const prisma = runtime.services.db.prisma;
      const workspace = await prisma.workspace.upsert({
        where: { slug: opts.workspace },
        create: { slug: opts.workspace, name: opts.workspace },
        update: {},
      });
      const created = await createApiToken(prisma, { workspaceId: workspace.id, name: opts.name, scopes: opts.scopes, persistedOnly: opts.persistedOnly });
      process.stdout.write(`${created.token}\n`);
      process.stderr.write(`token for workspace "${workspace.slug}" with scopes ${opts.scopes.join(', ').toLowerCase()}; it is shown only now\n`);
    } finally {
      await runtime.stop();
    }
  });

program
  .command('demo')
  .description('(re)load the demo warehouse at a chosen size, creating the demo workspace if needed')
  .addOption(new Option('--users <n>', 'number of users').argParser(positiveInt).default(100_000))
  .addOption(new Option('--seed <n>', 'random seed').argParser(positiveInt).default(42))
  .action(async (opts: { users: number; seed: number }) => {
    const { openRuntime } = await main();
    const runtime = await openRuntime('cli');
    try {
      const { seedDemoWorkspace, reloadDemoWarehouse, DEMO_SLUG } = await import('../../prisma/seed.js');
      const started = Date.now();
      const exists = await runtime.services.db.prisma.workspace.findUnique({ where: { slug: DEMO_SLUG } });
      if (exists) {
        const r = await reloadDemoWarehouse(runtime.services, { warehouseUrl: runtime.databaseUrl, users: opts.users, seed: opts.seed });
        process.stdout.write(`demo warehouse reloaded: ${r.users} users, ${r.companies} companies, ${r.purchases} purchases, ${r.events} events in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      } else {
        const seeded = await seedDemoWorkspace(runtime.services, { warehouseUrl: runtime.databaseUrl, users: opts.users, seed: opts.seed });
        const r = seeded.warehouse;
        process.stdout.write(`demo workspace created: ${r.users} users, ${r.companies} companies, ${r.purchases} purchases, ${r.events} events in ${((Date.now() - started) / 1000).toFixed(1)} s\nadmin token: ${seeded.token}\n`);
      }
    } finally {
      await runtime.stop();
    }
  });

// API commands go through the typed SDK, like any other client.
async function sdk(opts: { api: string; token?: string }) {
  const token = opts.token ?? process.env.ROSTER_TOKEN;
  if (!token) throw new InvalidArgumentError('expected an API token in --token or ROSTER_TOKEN, but got neither');
  const { createRosterClient } = await import('../sdk/client.js');
  return createRosterClient({ url: opts.api, token });
}

const syncs = program.command('syncs').description('audience syncs, through the API');
const apiOption = () => new Option('--api <url>', 'GraphQL endpoint').default(process.env.ROSTER_API_URL ?? 'http://localhost:4000/graphql');
syncs
  .command('list')
  .description('list audience syncs with their last run')
  .addOption(apiOption())
  .option('--token <token>', 'API token (default: ROSTER_TOKEN)')
  .action(async (opts: { api: string; token?: string }) => {
    const client = await sdk(opts);
    const { AudienceSyncsDocument } = await import('../sdk/client.js');
    const data = await client.request(AudienceSyncsDocument, { first: 100 });
    for (const { node } of data.audienceSyncs?.edges ?? []) {
      const run = node.lastRun;
      const counts = run?.delivered ? ` +${run.delivered.adds} -${run.delivered.removes} ~${run.delivered.updates}` : '';
      process.stdout.write(`${node.id}\t${node.status}\t${node.segment?.name ?? '(whole entity)'} → ${node.destination?.name ?? '?'}\t${run ? `${run.status}${counts}` : 'never run'}\n`);
    }
  });
syncs
  .command('trigger <id>')
  .description('queue a run of a sync')
  .addOption(apiOption())
  .option('--token <token>', 'API token (default: ROSTER_TOKEN)')
  .option('--evaluate', 'evaluate the segment first', false)
  .action(async (id: string, opts: { api: string; token?: string; evaluate: boolean }) => {
    const client = await sdk(opts);
    const { TriggerAudienceSyncDocument } = await import('../sdk/client.js');
    const data = await client.request(TriggerAudienceSyncDocument, { id, evaluateSegmentFirst: opts.evaluate });
    const result = data.triggerAudienceSync;
    if (result?.__typename !== 'TriggerAudienceSyncPayload') throw new Error(result && 'message' in result && result.message ? result.message : `expected a queued run, but got ${result?.__typename ?? 'nothing'}`);
    process.stdout.write(`queued run ${result.run?.id} (${result.run?.status})\n`);
  });

program
  .command('secret-key')
  .description('print a new random ROSTER_SECRET_KEY')
  .action(() => {
    process.stdout.write(`${randomBytes(32).toString('hex')}\n`);
  });

const secrets = program.command('secrets').description('stored credentials');
secrets
  .command('rotate')
  .description('re-seal stored credentials with ROSTER_SECRET_KEY; older values open with ROSTER_SECRET_KEY_PREVIOUS (comma-separated)')
  .option('--batch-size <n>', 'rows per round trip', positiveInt, 200)
  .action(async (opts: { batchSize: number }) => {
    const { openRuntime } = await main();
    const { rotateSecrets } = await import('../secrets-rotate.js');
    const runtime = await openRuntime('cli');
    try {
      const box = runtime.services.secrets;
      const r = await rotateSecrets(runtime.services.db.prisma, box, { batchSize: opts.batchSize });
      const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
      process.stdout.write(
        `re-sealed with key ${box.currentKeyId}: ${plural(r.sources, 'source')}, ${plural(r.destinations, 'destination')}; already current: ${r.alreadyCurrent}; could not open: ${r.failures.length}\n`,
      );
      // Only row ids and key ids are printed, never a stored value.
      for (const f of r.failures) process.stderr.write(`cannot re-seal ${f.message}\n`);
      if (r.failures.length) {
        throw new Error(
          `${plural(r.failures.length, 'stored secret')} could not be opened (listed above); the others were re-sealed. Add the keys that sealed them to ROSTER_SECRET_KEY_PREVIOUS and run again`,
        );
      }
    } finally {
      await runtime.stop();
    }
  });

program
  .command('print-schema')
  .description('print the GraphQL schema (SDL)')
  .action(async () => {
    const { printedSchema } = await import('../graphql/schema.js');
    process.stdout.write(printedSchema());
  });

try {
  await program.parseAsync(process.argv);
  // One-shot commands end here; the WebAssembly migration engine leaves
  // timers behind that would otherwise hold the process for a few seconds.
  const command = process.argv[2];
  if (command && !['start', 'serve', 'worker'].includes(command)) process.exit(0);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`roster: ${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  process.stderr.write(`roster: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace') console.error(err);
  process.exit(1);
}
