// Counts SQL statements sent by this process: every query on a `pg` client,
// which is where both paths end, Prisma's (through @prisma/adapter-pg and its
// pg pool) and Roster's own `pg` pools. BEGIN and COMMIT count too.
import pg from 'pg';

export interface StatementCounter {
  count: number;
  texts: string[];
  reset(): void;
  stop(): void;
}

export function countStatements(): StatementCounter {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const counter: StatementCounter = {
    count: 0,
    texts: [],
    reset() {
      counter.count = 0;
      counter.texts = [];
    },
    stop() {
      proto.query = original;
    },
  };
  proto.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0] as string | { text?: string } | undefined;
    const text = typeof q === 'string' ? q : (q?.text ?? '');
    counter.count++;
    counter.texts.push(text.replace(/\s+/g, " ").slice(0, 400));
    return original.apply(this, args);
  };
  return counter;
}
