// Stopping the server while a request runs whose client has gone away: the
// connection is closed, but the operation still runs, and it must end before
// stop() returns (the caller closes the database pool next).
import { describe, expect, it } from 'vitest';
import net from 'node:net';
import pg from 'pg';
import { useTestApp } from './support/app.js';
import { until } from './support/until.js';

const t = await useTestApp();
const { token } = await t.workspace('acme');
const { port } = await t.app.start(0, '127.0.0.1');

describe('stopping the server', () => {
  it('waits for an operation whose client went away before returning', async () => {
    // The request's token lookup waits behind this lock: the operation is in flight.
    const locker = new pg.Client({ connectionString: t.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE "ApiToken" IN ACCESS EXCLUSIVE MODE');
      const body = JSON.stringify({ query: '{ __typename }' });
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(
        `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      const waiting = async () =>
        (await locker.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0]!.n > 0;
      await until('the request to wait for the lock', waiting, 10_000);
      socket.destroy();
      await until('the server to see the connection closed', async () => t.app.server.listening && (await new Promise<number>((r) => t.app.server.getConnections((_, n) => r(n)))) === 0, 10_000);

      let released = false;
      let releasedWhenStopped: boolean | undefined;
      const stopped = t.app.stop().then(() => {
        releasedWhenStopped = released;
      });
      await new Promise((r) => setTimeout(r, 300));
      released = true;
      await locker.query('COMMIT');
      await stopped;
      // stop() returned only after the lock was released and the operation could end.
      expect(releasedWhenStopped).toBe(true);
      expect(await waiting()).toBe(false);
    } finally {
      await locker.end();
    }
  });
});
