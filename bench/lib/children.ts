// Child processes of a benchmark: each side of a measurement runs in a
// process of its own (Roster's worker, the receiver, the bare client, the
// servers, the subscribers), so that no side borrows another's event loop.
// Children are ended by their own pid, never by name.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { procCpuSeconds, procMemory } from './proc.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ROSTER_BIN = fileURLToPath(new URL('../../bin/roster.js', import.meta.url));

export interface Child {
  process: ChildProcess;
  pid: number;
  /** Sends a message and resolves with the first answer of `type` (default: the same type). */
  request<T = Record<string, unknown>>(message: Record<string, unknown>, answerType?: string, timeoutMs?: number): Promise<T>;
  /** Resolves with the next message of `type`. */
  next<T = Record<string, unknown>>(type: string, timeoutMs?: number): Promise<T>;
  /** Every message of `type` from now on. */
  on<T = Record<string, unknown>>(type: string, listener: (message: T) => void): void;
  /** Peak resident set size so far, in bytes (Linux: VmHWM), or null when unknown. */
  peakRss(): number | null;
  /** Current resident set size in bytes (Linux: VmRSS), or null. */
  rss(): number | null;
  /** CPU time the process has used so far (user + system, all its threads), in seconds, or null when unknown. */
  cpuSeconds(): number | null;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

function wrap(child: ChildProcess, name: string): Child {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pid = child.pid!;
  const prefix = (stream: NodeJS.ReadableStream | null, out: NodeJS.WritableStream) => {
    let buf = '';
    stream?.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) out.write(`  [${name}] ${line}\n`);
      }
    });
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  const next = <T>(type: string, timeoutMs = 600_000) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off('message', onMessage);
        child.off('exit', onExit);
        reject(new Error(`${name}: no "${type}" message within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (m: { type?: string; error?: string }) => {
        if (m?.type === 'error') {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          reject(new Error(`${name}: ${m.error}`));
        } else if (m?.type === type) {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(m as T);
        }
      };
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        reject(new Error(`${name} exited (code ${code}) while waiting for "${type}"`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  return {
    process: child,
    pid,
    next,
    request<T>(message: Record<string, unknown>, answerType = String(message.type), timeoutMs?: number) {
      const answer = next<T>(answerType, timeoutMs);
      child.send(message);
      return answer;
    },
    on<T>(type: string, listener: (m: T) => void) {
      child.on('message', (m: { type?: string }) => {
        if (m?.type === type) listener(m as T);
      });
    },
    peakRss: () => procMemory(pid, 'VmHWM'),
    rss: () => procMemory(pid, 'VmRSS'),
    cpuSeconds: () => procCpuSeconds(pid),
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    exited,
  };
}

/** A TypeScript module of bench/children, run with tsx, with an IPC channel. */
export function forkChild(script: string, env: NodeJS.ProcessEnv = {}, name = script): Child {
  const child = fork(fileURLToPath(new URL(`../children/${script}`, import.meta.url)), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  return wrap(child, name);
}

/** `roster <command>` (bin/roster.js), as it runs in production, without IPC. */
export function spawnRoster(command: 'worker' | 'serve', env: NodeJS.ProcessEnv, name = `roster ${command}`, nodeArgs: string[] = []): Child {
  const child = spawn(process.execPath, [...nodeArgs, ROSTER_BIN, command], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return wrap(child, name);
}

/**
 * Node flags for every scenario's `roster serve`, from BENCH_SERVE_NODE_ARGS
 * (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`), for investigations.
 */
export function serveNodeArgs(): string[] {
  return (process.env.BENCH_SERVE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
}

/** Waits until `url` answers (any status), or fails after `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch {
      if (Date.now() > until) throw new Error(`expected ${url} to answer within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
