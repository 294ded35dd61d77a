// Sizes and knobs, from flags (`--users 200000`, `--quick`) or the
// environment (BENCH_USERS=200000, BENCH_QUICK=1); flags win.

export const SCENARIOS = ['evaluate', 'delivery', 'api', 'fanout', 'record'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Options {
  scenarios: ScenarioName[];
  quick: boolean;
  /** Users in the demo warehouse (BENCH_USERS, default 1,000,000; quick: 20,000). */
  users: number;
  seed: number;
  /** Repetitions of short measurements; the median is reported (BENCH_REPEAT, default 3). */
  repeat: number;
  /** Adds delivered by the delivery scenario (BENCH_DELIVERY_ROWS, default: every user). */
  deliveryRows: number;
  /** Rows per webhook request (BENCH_BATCH_SIZE, default 1,000). */
  batchSize: number;
  /** graphql-ws subscribers (BENCH_SUBSCRIBERS, default 1,000; quick: 200). */
  subscribers: number;
  /** Rows the fan-out run delivers while it publishes progress (BENCH_FANOUT_ROWS, default 100,000; quick: 20,000). */
  fanoutRows: number;
  /** Segments for the record lookup (BENCH_SEGMENTS, default 100; quick: 20). */
  segments: number;
  /** Sequential lookups measured (BENCH_LOOKUPS, default 1,000; quick: 300). */
  lookups: number;
  /** Seconds per autocannon measurement (BENCH_API_SECONDS, default 10; quick: 3). */
  apiSeconds: number;
  /** autocannon connections (BENCH_API_CONNECTIONS, default 10). */
  apiConnections: number;
  /** Syncs of the dashboard query under load (BENCH_API_SYNCS, default 20). */
  apiSyncs: number;
  /** Finished runs of each sync in the dashboard, with a match-rate sample for every 24 (BENCH_API_RUNS, default 720: an hourly schedule's month; quick: 48). */
  apiRuns: number;
}

function num(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected ${name} to be a positive number, but got "${value}"`);
  return Math.round(n);
}

const FLAGS: Record<string, keyof Options> = {
  users: 'users',
  seed: 'seed',
  repeat: 'repeat',
  'delivery-rows': 'deliveryRows',
  'batch-size': 'batchSize',
  subscribers: 'subscribers',
  'fanout-rows': 'fanoutRows',
  segments: 'segments',
  lookups: 'lookups',
  'api-seconds': 'apiSeconds',
  'api-connections': 'apiConnections',
  'api-syncs': 'apiSyncs',
  'api-runs': 'apiRuns',
};

const ENV: Record<keyof Options, string> = {
  scenarios: 'BENCH_SCENARIOS',
  quick: 'BENCH_QUICK',
  users: 'BENCH_USERS',
  seed: 'BENCH_SEED',
  repeat: 'BENCH_REPEAT',
  deliveryRows: 'BENCH_DELIVERY_ROWS',
  batchSize: 'BENCH_BATCH_SIZE',
  subscribers: 'BENCH_SUBSCRIBERS',
  fanoutRows: 'BENCH_FANOUT_ROWS',
  segments: 'BENCH_SEGMENTS',
  lookups: 'BENCH_LOOKUPS',
  apiSeconds: 'BENCH_API_SECONDS',
  apiConnections: 'BENCH_API_CONNECTIONS',
  apiSyncs: 'BENCH_API_SYNCS',
  apiRuns: 'BENCH_API_RUNS',
};

export const USAGE = `usage: npm run bench -- [scenario...] [--quick] [--users N] [--repeat N] [--delivery-rows N] [--batch-size N]
                     [--subscribers N] [--fanout-rows N] [--segments N] [--lookups N] [--api-seconds N] [--api-connections N] [--api-syncs N]
                     [--api-runs N]
scenarios: ${SCENARIOS.join(', ')} (default: all)
environment: BENCH_DATABASE_URL (a database to use and keep), BENCH_USERS, BENCH_QUICK=1, … (see bench/README.md)`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): Options {
  const flags: Partial<Record<keyof Options, number>> = {};
  const scenarios: ScenarioName[] = [];
  let quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--help' || arg === '-h') throw new Error(USAGE);
    else if (arg.startsWith('--')) {
      const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
      const key = FLAGS[name];
      if (!key) throw new Error(`unknown flag --${name}\n${USAGE}`);
      const value = inline ?? argv[++i];
      flags[key] = num(value, `--${name}`);
    } else if ((SCENARIOS as readonly string[]).includes(arg)) scenarios.push(arg as ScenarioName);
    else throw new Error(`expected a scenario (${SCENARIOS.join(', ')}), but got "${arg}"\n${USAGE}`);
  }
  if (!scenarios.length && env.BENCH_SCENARIOS) {
    for (const s of env.BENCH_SCENARIOS.split(',').map((x) => x.trim()).filter(Boolean)) {
      if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`BENCH_SCENARIOS: unknown scenario "${s}"`);
      scenarios.push(s as ScenarioName);
    }
  }
  const pick = (key: keyof Options, full: number, small: number) => flags[key] ?? num(env[ENV[key]], ENV[key]) ?? (quick ? small : full);
  const users = pick('users', 1_000_000, 20_000);
  return {
    scenarios: scenarios.length ? scenarios : [...SCENARIOS],
    quick,
    users,
    seed: pick('seed', 42, 42),
    repeat: pick('repeat', 3, 3),
    deliveryRows: Math.min(users, pick('deliveryRows', users, users)),
    batchSize: pick('batchSize', 1_000, 1_000),
    subscribers: pick('subscribers', 1_000, 200),
    fanoutRows: Math.min(users, pick('fanoutRows', 100_000, 20_000)),
    segments: pick('segments', 100, 20),
    lookups: pick('lookups', 1_000, 300),
    apiSeconds: pick('apiSeconds', 10, 3),
    apiConnections: pick('apiConnections', 10, 10),
    apiSyncs: pick('apiSyncs', 20, 20),
    apiRuns: pick('apiRuns', 720, 48),
  };
}
