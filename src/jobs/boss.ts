// pg-boss, in Roster's own database under its own schema. Queues are declared
// here by name so producers and workers agree on them.
import PgBoss from 'pg-boss';
import type { Logger } from '../logger.js';

export const BOSS_SCHEMA = 'pgboss';

export async function startBoss(databaseUrl: string, logger: Logger, opts: { supervise: boolean }): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema: BOSS_SCHEMA,
    max: 4,
    // Only workers maintain queues and run schedules; API replicas only enqueue.
    supervise: opts.supervise,
    schedule: opts.supervise,
    migrate: true,
  });
  boss.on('error', (err) => logger.error({ err }, 'pg-boss error'));
  await boss.start();
  return boss;
}

export async function stopBoss(boss: PgBoss): Promise<void> {
  // Graceful: running jobs get time to finish before connections close.
  await boss.stop({ graceful: true, wait: true, close: true, timeout: 20_000 });
}
