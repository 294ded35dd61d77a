// Queues created by several processes at once, as two API processes and a
// worker starting together on a new database do: pg-boss's create_queue
// deadlocks then, and createQueues must come through every time.
import PgBoss from 'pg-boss';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.js';
import { createQueues, QUEUES } from '../../src/jobs/queues.js';

const t = await useTestDatabase();

describe('createQueues', () => {
  it('creates every queue once when processes race to create them', async () => {
    for (let round = 1; round <= 6; round++) {
      // A schema of its own per round: every queue is new again.
      const bosses = Array.from({ length: 3 }, () => new PgBoss({ connectionString: t.url, schema: `pgboss_race_${round}`, max: 2, supervise: false, schedule: false, migrate: true }));
      for (const boss of bosses) boss.on('error', () => {});
      try {
        for (const boss of bosses) await boss.start();
        await Promise.all(bosses.map((boss) => createQueues(boss)));
        const names = (await bosses[0]!.getQueues()).map((q) => q.name).sort();
        expect(names).toEqual(Object.values(QUEUES).sort());
      } finally {
        await Promise.all(bosses.map((boss) => boss.stop({ graceful: false, close: true, wait: true })));
      }
    }
  }, 120_000);
});
