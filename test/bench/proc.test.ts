// The bench's CPU accounting (bench/lib/proc.ts, bench/lib/postgres-cpu.ts):
// a process tree's CPU time counts children that ended in between, and
// PostgreSQL's is read from its postmaster's tree when the server runs here.
import { spawn } from 'node:child_process';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { procCpuSeconds, procIdentity, procMemory, procTreeCpuSeconds } from '../../bench/lib/proc.js';
import { postgresCpuMeter } from '../../bench/lib/postgres-cpu.js';

const linux = process.platform === 'linux';

/**
 * Runs a child that spins until it has used `ms` of CPU time (not of wall
 * time: on a busy machine it may wait for a core), and resolves once it has
 * ended and been reaped.
 */
function burn(ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', `while (process.cpuUsage().user < ${ms * 1000});`], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve());
  });
}

describe.runIf(linux)('process CPU time', () => {
  it("counts a child's CPU in its parent's tree after the child has ended", async () => {
    const before = procTreeCpuSeconds(process.pid)!;
    const own = procCpuSeconds(process.pid)!;
    await burn(400);
    const after = procTreeCpuSeconds(process.pid)!;
    // The child used 0.4 s of CPU and more to start (counted in clock ticks): all of it counted, though it is gone.
    expect(after - before).toBeGreaterThan(0.35);
    // This process's own time did not take them.
    expect(procCpuSeconds(process.pid)! - own).toBeLessThan(after - before);
  });

  it('knows a process by its executable, parent and memory, and an absent one by nothing', () => {
    expect(procIdentity(process.pid)).toMatchObject({ name: expect.stringMatching(/node/), ppid: process.ppid });
    expect(procIdentity(2 ** 30)).toBeNull();
    expect(procTreeCpuSeconds(2 ** 30)).toBeNull();
    // Its resident set now, and its peak, which is never below it.
    const rss = procMemory(process.pid, 'VmRSS')!;
    expect(rss).toBeGreaterThan(10 * 2 ** 20);
    expect(procMemory(process.pid, 'VmHWM')!).toBeGreaterThanOrEqual(rss);
    expect(procMemory(2 ** 30, 'VmRSS')).toBeNull();
  });
});

describe.runIf(linux)("PostgreSQL's CPU time", () => {
  it("grows by what a query made the server do, backends' and parallel workers' alike", async () => {
    // The tests' cluster: an embedded one of this run, or TEST_DATABASE_URL's.
    const url = inject('pgAdminUrl');
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const meter = await postgresCpuMeter(pool);
      // A server on this machine is read; one elsewhere cannot be, and is said to be unknown (null).
      const local = ['localhost', '127.0.0.1', '[::1]'].includes(new URL(url).hostname);
      if (!local && meter === null) return;
      expect(meter, `expected PostgreSQL at ${new URL(url).host} to be read from this machine's /proc`).not.toBeNull();
      const before = meter!()!;
      await pool.query('SELECT count(*) FROM generate_series(1, 3000000) AS g WHERE g % 7 = 3');
      const used = meter!()! - before;
      expect(used).toBeGreaterThan(0.1);
      expect(used).toBeLessThan(60);
    } finally {
      await pool.end();
    }
  });
});
