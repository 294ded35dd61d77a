// A transaction on one pooled connection: committed when `fn` resolves,
// rolled back when it throws, the connection always returned.
import type pg from 'pg';

export interface TransactionOptions {
  /**
   * Settings of the transaction (`SET LOCAL …` statements, trusted text),
   * sent with BEGIN in one round trip.
   */
  settings?: readonly string[];
}

export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(['BEGIN', ...(opts.settings ?? [])].join('; '));
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
