// CPU time and memory of processes, from Linux's /proc/<pid>/stat and
// /proc/<pid>/status. Elsewhere (or for a process in another PID namespace)
// every reading is null, and the bench reports the figure as unknown.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ; 100 on every common Linux). */
let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface ProcStat {
  /** The executable's name (the kernel's `comm`, at most 15 characters). */
  name: string;
  ppid: number;
  /** user + system time of the process itself, in seconds. */
  own: number;
  /** user + system time of its children that have exited and been waited for, in seconds. */
  reapedChildren: number;
}

function procStat(pid: number): ProcStat | null {
  try {
    // Fields after the command's closing parenthesis (the command may itself hold spaces and parentheses):
    // ppid is the 2nd, utime and stime the 12th and 13th, cutime and cstime the 14th and 15th.
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 1).trim().split(/\s+/);
    const ticks = clockTicks();
    return { name: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')), ppid: Number(f[1]), own: (Number(f[11]) + Number(f[12])) / ticks, reapedChildren: (Number(f[13]) + Number(f[14])) / ticks };
  } catch {
    return null;
  }
}

/** A process's resident set size now (VmRSS) or at its peak so far (VmHWM, the kernel's own high-water mark), in bytes, or null. */
export function procMemory(pid: number, field: 'VmHWM' | 'VmRSS'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** CPU time the process has used so far (user + system, all its threads), in seconds, or null when unknown. */
export function procCpuSeconds(pid: number): number | null {
  return procStat(pid)?.own ?? null;
}

/** A process's executable name and parent, or null when unknown. */
export function procIdentity(pid: number): { name: string; ppid: number } | null {
  const stat = procStat(pid);
  return stat ? { name: stat.name, ppid: stat.ppid } : null;
}

/**
 * CPU time used so far by a process and every child it has had: its own,
 * that of its children that have ended (the kernel adds it to the parent's
 * when the parent reaps them), and that of those still running. Read at
 * two moments, the difference is what the whole tree used in between, also
 * counting children that started or ended in between. Null when unknown.
 */
export function procTreeCpuSeconds(pid: number): number | null {
  const root = procStat(pid);
  if (!root) return null;
  let total = root.own + root.reapedChildren;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = procStat(Number(entry));
    if (child?.ppid === pid) total += child.own + child.reapedChildren;
  }
  return total;
}
