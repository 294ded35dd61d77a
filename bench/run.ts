// npm run bench [-- scenario... --quick --users N …]
// Runs the benchmarks (all five by default), prints each one's table and
// writes bench/results/<scenario>.json and bench/results/summary.md. See
// bench/README.md for what each measures and why its lower bound is fair.
import type { ProcessServices } from '../src/services.js';
import { benchLogger, ensureWarehouse, openDatabase, openServices, resetRosterState, type BenchDatabase } from './lib/env.js';
import { parseOptions, SCENARIOS, type ScenarioName } from './lib/options.js';
import { machineFacts, printScenario, writeScenario, writeSummary, type ScenarioResult } from './lib/results.js';
import type { BenchContext, Scenario } from './lib/context.js';

const load: Record<ScenarioName, () => Promise<Scenario>> = {
  evaluate: async () => (await import('./scenarios/evaluate.js')).evaluateScenario,
  delivery: async () => (await import('./scenarios/delivery.js')).deliveryScenario,
  api: async () => (await import('./scenarios/api.js')).apiScenario,
  fanout: async () => (await import('./scenarios/fanout.js')).fanoutScenario,
  record: async () => (await import('./scenarios/record.js')).recordScenario,
};

function log(message: string) {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = benchLogger();
  log(`scenarios: ${opts.scenarios.join(', ')}; ${opts.users.toLocaleString('en-US')} users${opts.quick ? ' (quick mode)' : ''}`);
  let db: BenchDatabase | undefined;
  let services: ProcessServices | undefined;
  let failed = false;
  try {
    db = await openDatabase(logger);
    log(`database: ${db.kind} (${db.serverVersion.split(' on ')[0]})`);
    services = openServices(db.url, logger);
    await resetRosterState(services);
    const warehouse = await ensureWarehouse(db.url, opts, log);
    log(`warehouse: ${Object.entries(warehouse.rows).map(([t, n]) => `${t} ${n.toLocaleString('en-US')}`).join(', ')}`);
    const machine = machineFacts(db.serverVersion, db.kind);
    const ctx: BenchContext = { opts, db, services, logger, log };
    for (const name of opts.scenarios) {
      const startedAt = new Date();
      log(`── ${name} ──`);
      let result: ScenarioResult;
      try {
        result = await (await load[name]())(ctx);
      } catch (err) {
        failed = true;
        log(`${name} failed: ${(err as Error).stack ?? String(err)}`);
        continue;
      }
      result.sizes = { ...result.sizes, warehouseLoadMs: warehouse.loadedMs ?? 'reused' };
      printScenario(result);
      const file = await writeScenario(result, machine, startedAt, opts.quick);
      log(`wrote ${file}`);
      const summary = await writeSummary(opts.quick, SCENARIOS);
      log(`wrote ${summary}`);
    }
  } finally {
    await services?.close().catch(() => {});
    await db?.close().catch((err) => log(`could not drop the bench database: ${(err as Error).message}`));
  }
  process.exit(failed ? 1 : 0);
}

await main();
