// Results: bench/results/<scenario>.json (machine facts, sizes, raw timings,
// ratios, targets) and bench/results/summary.md, rebuilt from every
// scenario's JSON so that running one scenario keeps the others' rows.
import { cpus, loadavg, totalmem, platform, release } from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { round } from './stats.js';

export const RESULTS_DIR = fileURLToPath(new URL('../results', import.meta.url));

export interface Measurement {
  what: string;
  /** Roster's figure, formatted with its unit. */
  roster: string;
  /** The lower bound's figure (or "—" when there is none), formatted. */
  lowerBound: string;
  /** Roster ÷ lower bound for times, Roster ÷ bound for rates; null when not a ratio. */
  ratio: number | null;
  /** e.g. "≤ 1.3×", "≥ 0.7×", "< 300 MB", "same at 5/20/100", "report". */
  target: string;
  /** null: no target (reported only). */
  met: boolean | null;
  /** The raw numbers behind the row. */
  values?: Record<string, unknown>;
}

export interface ScenarioResult {
  scenario: string;
  title: string;
  sizes: Record<string, unknown>;
  measurements: Measurement[];
  raw: Record<string, unknown>;
  notes?: string[];
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  platform: string;
  node: string;
  postgres: string;
  database: string;
  loadAverageAtStart: number[];
  commit: string | null;
}

export function machineFacts(postgres: string, database: string): Machine {
  let commit: string | null = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = null;
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: round(totalmem() / 2 ** 30, 1),
    platform: `${platform()} ${release()}`,
    node: process.version,
    postgres,
    database,
    loadAverageAtStart: loadavg().map((v) => round(v, 2)),
    commit,
  };
}

export async function writeScenario(result: ScenarioResult, machine: Machine, startedAt: Date, quick: boolean): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${result.scenario}${quick ? '.quick' : ''}.json`);
  const doc = {
    ...result,
    quick,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { ...machine, loadAverageAtEnd: loadavg().map((v) => round(v, 2)) },
    pass: result.measurements.every((m) => m.met !== false),
  };
  await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

export function formatRatio(ratio: number | null): string {
  return ratio === null || !Number.isFinite(ratio) ? '—' : `${ratio.toFixed(2)}×`;
}

function mark(met: boolean | null): string {
  return met === null ? 'report' : met ? 'yes' : '**no**';
}

/** Rebuilds summary.md (or summary.quick.md) from the scenario JSON files present. */
export async function writeSummary(quick: boolean, order: readonly string[]): Promise<string> {
  const suffix = quick ? '.quick.json' : '.json';
  const files = (await readdir(RESULTS_DIR)).filter((f) => f.endsWith(suffix) && (quick || !f.endsWith('.quick.json')));
  const docs: (ScenarioResult & { machine: Machine; startedAt: string; sizes: Record<string, unknown> })[] = [];
  for (const f of files) docs.push(JSON.parse(await readFile(join(RESULTS_DIR, f), 'utf8')));
  docs.sort((a, b) => order.indexOf(a.scenario) - order.indexOf(b.scenario));
  const lines: string[] = [];
  lines.push(`# Benchmark results${quick ? ' (quick mode)' : ''}`, '');
  lines.push('Ratios are against a lower bound measured in the same run on the same machine (see bench/README.md).', '');
  lines.push('| scenario | what | Roster | lower bound | ratio | target | met? |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const d of docs) {
    for (const m of d.measurements) {
      lines.push(`| ${d.scenario} | ${m.what} | ${m.roster} | ${m.lowerBound} | ${formatRatio(m.ratio)} | ${m.target} | ${mark(m.met)} |`);
    }
  }
  lines.push('', '## Runs', '');
  for (const d of docs) {
    const m = d.machine;
    const sizes = Object.entries(d.sizes).map(([k, v]) => `${k} ${typeof v === 'number' ? v.toLocaleString('en-US') : String(v)}`).join(', ');
    lines.push(`- **${d.scenario}** (${d.startedAt}): ${sizes}. ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, Node ${m.node}, ${m.postgres.split(' on ')[0]}, load ${m.loadAverageAtStart.join(' ')}${m.commit ? `, commit ${m.commit}` : ''}.`);
    for (const note of d.notes ?? []) lines.push(`  - ${note}`);
  }
  const file = join(RESULTS_DIR, quick ? 'summary.quick.md' : 'summary.md');
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

export function printScenario(result: ScenarioResult): void {
  const rows = result.measurements.map((m) => [m.what, m.roster, m.lowerBound, formatRatio(m.ratio), m.target, mark(m.met)]);
  const header = ['what', 'Roster', 'lower bound', 'ratio', 'target', 'met?'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`;
  process.stdout.write(`\n${result.title}\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n${rows.map(line).join('\n')}\n`);
  for (const note of result.notes ?? []) process.stdout.write(`  note: ${note}\n`);
  process.stdout.write('\n');
}
