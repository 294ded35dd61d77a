// The CPU time of the PostgreSQL server, when it runs on this machine: its
// backends, parallel workers, WAL writer, checkpointer and autovacuum all
// share the bench's cores with Roster and the lower bounds, so a ratio can
// be read against what each side made PostgreSQL do. Backends come and go,
// so the server is measured as the postmaster's whole process tree
// (bench/lib/proc.ts).
import type pg from 'pg';
import { procIdentity, procTreeCpuSeconds } from './proc.js';

/**
 * A function that reads the server's CPU seconds so far (the difference of
 * two readings is what it used in between), or null when the server is not
 * visible from here: on another machine, in a container of its own, or not
 * on Linux. The postmaster is found as the parent of this connection's own
 * backend, which must be a process of this machine's /proc.
 */
export async function postgresCpuMeter(pool: pg.Pool): Promise<(() => number | null) | null> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  // The server's pid of another machine or namespace may name an unrelated process here: the backend and its
  // parent must both be PostgreSQL's executable, and the parent's tree readable.
  const backend = procIdentity(rows[0]!.pid);
  const postmaster = backend?.name === 'postgres' ? backend.ppid : null;
  if (postmaster === null || procIdentity(postmaster)?.name !== 'postgres' || procTreeCpuSeconds(postmaster) === null) return null;
  return () => procTreeCpuSeconds(postmaster);
}
