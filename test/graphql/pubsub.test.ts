// The app's pub/sub across processes: two PostgreSQL event targets on separate
// connections stand for two processes (an API replica and a worker).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { useTestDatabase } from '../support/db.js';
import { createLogger } from '../../src/logger.js';
import {
  createLocalEventTarget,
  createPgEventTarget,
  createRosterPubSub,
  EVENT_PAYLOAD_TABLE,
  type PgEventTarget,
  type RosterEventTarget,
  type SegmentEvaluatedPayload,
  type SyncRunProgressPayload, type SyncRunFinishedPayload,
} from '../../src/graphql/pubsub.js';

const zeroCounts = { ADD: 0, REMOVE: 0, UPDATE: 0 };
function progressOf(syncId: string): SyncRunProgressPayload {
  return { workspaceId: randomUUID(), syncId, runId: randomUUID(), phase: 'DELIVERING', planned: zeroCounts, delivered: zeroCounts, rejected: 0, percent: 0, rowsPerSecond: 0, etaSeconds: null };
}
function finishedOf(syncId: string): SyncRunFinishedPayload {
  return { workspaceId: 'w', syncId, runId: 'r', status: 'SUCCEEDED', planned: zeroCounts, delivered: zeroCounts, rejected: 0, error: null, durationMs: 1 };
}

const t = await useTestDatabase();

// Log lines, to check that failures are logged rather than thrown.
const logs: { level: number; msg: string; [k: string]: unknown }[] = [];
const logger = createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line)) });

const open: RosterEventTarget[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((target) => target.close()));
});

function channel(): string {
  return `roster_test_${randomBytes(4).toString('hex')}`;
}

/** Two "processes" on one channel, both listening. */
async function twoProcesses(opts: { reconnect?: { minDelayMs?: number; maxDelayMs?: number } } = {}) {
  const ch = channel();
  const a = createPgEventTarget({ connectionString: t.url, channel: ch, logger, ...opts });
  const b = createPgEventTarget({ connectionString: t.url, channel: ch, logger, ...opts });
  open.push(a, b);
  await Promise.all([a.start(), b.start()]);
  return { a, b, pubA: createRosterPubSub(a), pubB: createRosterPubSub(b) };
}

/** Starts consuming a subscription at once (so its listener is registered) and collects what arrives. */
function collect<T>(iterator: AsyncIterableIterator<T>) {
  const items: T[] = [];
  const done = (async () => {
    for await (const item of iterator) items.push(item);
  })();
  return {
    items,
    async stop() {
      await iterator.return?.();
      await done;
    },
  };
}

function evaluated(segmentId: string, extra: Partial<SegmentEvaluatedPayload> = {}): SegmentEvaluatedPayload {
  return {
    workspaceId: randomUUID(),
    segmentId,
    evaluationId: randomUUID(),
    status: 'SUCCEEDED',
    size: 42,
    entered: 3,
    exited: 1,
    version: 7,
    evaluatedAt: '2026-01-02T03:04:05.000Z',
    error: null,
    ...extra,
  };
}

describe('createPgEventTarget with createRosterPubSub', () => {
  it('delivers an event published in one process to a subscriber in another, filtered by topic and id', async () => {
    const { pubA, pubB } = await twoProcesses();
    const segX = randomUUID();
    const segY = randomUUID();
    const sync = randomUUID();
    const onX = collect(pubA.subscribe('segmentEvaluated', segX));
    const onY = collect(pubA.subscribe('segmentEvaluated', segY));
    const progress = collect(pubA.subscribe('syncRunProgress', sync));
    const finished = collect(pubA.subscribe('syncRunFinished', sync));

    const y = evaluated(segY, { status: 'FAILED', size: null, entered: null, exited: null, error: 'boom' });
    const x = evaluated(segX);
    const step: SyncRunProgressPayload = { ...progressOf(sync), rejected: 10 };
    pubB.publish('segmentEvaluated', segY, y);
    pubB.publish('segmentEvaluated', segX, x);
    pubB.publish('syncRunProgress', sync, step);
    pubB.publish('syncRunProgress', randomUUID(), { ...step, syncId: 'other' });

    await vi.waitFor(() => expect(progress.items).toHaveLength(1));
    // Events arrive in publish order, so everything before the last one has been handled.
    expect(onX.items).toEqual([x]);
    expect(onY.items).toEqual([y]);
    expect(progress.items).toEqual([step]);
    expect(finished.items).toEqual([]);
    await Promise.all([onX.stop(), onY.stop(), progress.stop(), finished.stop()]);
  });

  it('delivers an event to subscribers in the publishing process exactly once, as a copy', async () => {
    const { a, pubA, pubB } = await twoProcesses();
    const seg = randomUUID();
    const mine = collect(pubA.subscribe('segmentEvaluated', seg));
    const other = collect(pubB.subscribe('segmentEvaluated', seg));
    const payload = evaluated(seg);
    const raw: unknown[] = [];
    const listener = (e: CustomEvent) => raw.push(e.detail);
    // The same callback twice is one registration, as with EventTarget.
    a.addEventListener(`segmentEvaluated:${seg}`, listener);
    a.addEventListener(`segmentEvaluated:${seg}`, listener);

    pubA.publish('segmentEvaluated', seg, payload);
    const sentinel = randomUUID();
    const done = collect(pubA.subscribe('segmentEvaluated', sentinel));
    pubA.publish('segmentEvaluated', sentinel, evaluated(sentinel));

    await vi.waitFor(() => expect(done.items).toHaveLength(1));
    await vi.waitFor(() => expect(other.items).toHaveLength(1));
    expect(mine.items).toEqual([payload]);
    expect(mine.items[0]).not.toBe(payload);
    expect(raw).toEqual([payload]);
    a.removeEventListener(`segmentEvaluated:${seg}`, listener);
    await Promise.all([mine.stop(), other.stop(), done.stop()]);
  });

  it('keeps the other listeners going when one throws, and logs the error', async () => {
    const { a, b } = await twoProcesses();
    const got: unknown[] = [];
    a.addEventListener('ping', () => {
      throw new Error('listener exploded');
    });
    a.addEventListener('ping', { handleEvent: (e) => void got.push(e.detail) });
    a.addEventListener('ping', () => Promise.reject(new Error('async listener exploded')));
    const once: unknown[] = [];
    a.addEventListener('ping', (e) => void once.push(e.detail), { once: true });

    b.dispatchEvent(new CustomEvent('ping', { detail: { n: 1 } }));
    b.dispatchEvent(new CustomEvent('ping', { detail: { n: 2 } }));
    await vi.waitFor(() => expect(got).toEqual([{ n: 1 }, { n: 2 }]));
    expect(once).toEqual([{ n: 1 }]);
    await vi.waitFor(() => {
      const errors = logs.filter((l) => l.msg === 'event listener failed').map((l) => (l.err as { message: string }).message);
      expect(errors).toEqual(expect.arrayContaining(['listener exploded', 'async listener exploded']));
    });
  });

  it('never throws into the publisher: an unserialisable detail is logged and dropped', async () => {
    const { a, b } = await twoProcesses();
    const got: unknown[] = [];
    a.addEventListener('bad', (e) => void got.push(e.detail));
    expect(b.dispatchEvent(new CustomEvent('bad', { detail: { n: 10n } }))).toBe(true);
    expect(b.dispatchEvent(new CustomEvent('bad', { detail: { n: 11 } }))).toBe(true);
    await vi.waitFor(() => expect(got).toEqual([{ n: 11 }]));
    expect(logs.some((l) => l.msg === 'event detail is not JSON-serialisable; dropped')).toBe(true);
  });

  it('carries a payload over 8000 bytes intact through roster_event_payloads, and prunes old bodies', async () => {
    const { b, pubA, pubB } = await twoProcesses();
    const seg = randomUUID();
    const sub = collect(pubA.subscribe('segmentEvaluated', seg));
    // 3,000 characters but 9,000 bytes: the limit is in bytes.
    const euros = evaluated(seg, { status: 'FAILED', error: '€'.repeat(3000) });
    const mixed = evaluated(seg, {
      status: 'FAILED',
      error: `${'x'.repeat(20_000)} "quotes" \\ back\nslash ✓ 🎯 ${'é'.repeat(500)}`,
    });
    pubB.publish('segmentEvaluated', seg, euros);
    pubB.publish('segmentEvaluated', seg, mixed);
    await vi.waitFor(() => expect(sub.items).toHaveLength(2));
    expect(sub.items).toEqual([euros, mixed]);

    const { rows } = await t.db.pool.query(`SELECT body FROM ${EVENT_PAYLOAD_TABLE} ORDER BY id`);
    expect(rows.map((r) => r.body.detail)).toEqual(expect.arrayContaining([euros, mixed]));

    // An expired body is deleted by the next large publish; recent ones stay.
    const old = await t.db.pool.query(
      `INSERT INTO ${EVENT_PAYLOAD_TABLE} (body, created_at) VALUES ('{"type":"x","detail":null}', now() - interval '1 hour') RETURNING id`,
    );
    pubB.publish('segmentEvaluated', seg, mixed);
    await b.flush();
    await vi.waitFor(() => expect(sub.items).toHaveLength(3));
    const after = await t.db.pool.query(`SELECT id FROM ${EVENT_PAYLOAD_TABLE}`);
    expect(after.rows.map((r) => r.id)).not.toContain(old.rows[0].id);
    expect(after.rowCount).toBeGreaterThanOrEqual(3);
    await sub.stop();
  });

  it('preserves the order of 100 events from one publisher, small and large mixed', async () => {
    const { pubA, pubB } = await twoProcesses();
    const sync = randomUUID();
    const sub = collect(pubA.subscribe('syncRunProgress', sync));
    const base = progressOf(sync);
    for (let i = 0; i < 100; i++) {
      // `rejected` carries the order; some events are padded past NOTIFY's limit.
      pubB.publish('syncRunProgress', sync, { ...base, rejected: i, ...(i % 10 === 3 ? { pad: 'p'.repeat(9000) } : {}) } as SyncRunProgressPayload);
    }
    await vi.waitFor(() => expect(sub.items).toHaveLength(100), { timeout: 15_000 });
    expect(sub.items.map((p) => p.rejected)).toEqual([...Array(100).keys()]);
    expect((sub.items[3] as unknown as { pad: string }).pad).toHaveLength(9000);
    await sub.stop();
  });

  it('reconnects after its LISTEN connection is terminated', async () => {
    const { a, pubA, pubB } = await twoProcesses({ reconnect: { minDelayMs: 20, maxDelayMs: 200 } });
    const seg = randomUUID();
    const sub = collect(pubA.subscribe('segmentEvaluated', seg));
    const first = evaluated(seg, { version: 1 });
    pubB.publish('segmentEvaluated', seg, first);
    await vi.waitFor(() => expect(sub.items).toHaveLength(1));

    const pid = a.listenerPid;
    expect(pid).toBeTypeOf('number');
    const killed = await t.db.pool.query('SELECT pg_terminate_backend($1) AS ok', [pid]);
    expect(killed.rows[0].ok).toBe(true);

    // A new backend, listening again.
    await vi.waitFor(() => {
      const now = a.listenerPid;
      expect(now).not.toBeNull();
      expect(now).not.toBe(pid);
    });
    const second = evaluated(seg, { version: 2 });
    pubB.publish('segmentEvaluated', seg, second);
    await vi.waitFor(() => expect(sub.items).toHaveLength(2));
    expect(sub.items[1]).toEqual(second);
    expect(logs.some((l) => l.msg === 'event LISTEN connection lost; reconnecting')).toBe(true);
    expect(logs.some((l) => String(l.msg).startsWith('event LISTEN connection restored'))).toBe(true);
    await sub.stop();
  });

  it('closes without leaving open handles: a process using it exits on its own', async () => {
    const modulePath = fileURLToPath(new URL('../../src/graphql/pubsub.ts', import.meta.url));
    const script = `
      const { createPgEventTarget, createRosterPubSub } = await import(${JSON.stringify(modulePath)});
      const pg = (await import('pg')).default;
      const url = process.env.PUBSUB_URL;
      const ch = 'roster_exit_' + process.pid;
      const a = createPgEventTarget({ connectionString: url, channel: ch });
      const b = createPgEventTarget({ connectionString: url, channel: ch });
      const pubA = createRosterPubSub(a);
      const pubB = createRosterPubSub(b);
      await Promise.all([a.start(), b.start()]);
      const it = pubA.subscribe('matchRateUpdated', 's1');
      const next = it.next();
      pubB.publish('matchRateUpdated', 's1', { workspaceId: 'w', syncId: 's1', big: 'x'.repeat(9000) });
      const got = await next;
      if (got.value.big.length !== 9000) throw new Error('wrong payload');
      await it.return();

      // One closed while waiting to reconnect, one while still connecting.
      const c = createPgEventTarget({ connectionString: url, channel: ch, reconnect: { minDelayMs: 60000 } });
      await c.start();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query('SELECT pg_terminate_backend($1)', [c.listenerPid]);
      await admin.end();
      while (c.listening) await new Promise((r) => setTimeout(r, 10));
      const d = createPgEventTarget({ connectionString: url, channel: ch });
      d.addEventListener('x', () => {});

      await Promise.all([a.close(), b.close(), c.close(), d.close()]);
      console.log('closed');
    `;
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }>(
      (resolve) => {
        const child = execFile(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script],
          { cwd: fileURLToPath(new URL('../..', import.meta.url)), env: { ...process.env, PUBSUB_URL: t.url }, timeout: 20_000 },
          (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr, killed: child.killed }),
        );
      },
    );
    expect(result.killed, `the process did not exit by itself:\n${result.stderr}`).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('closed');
  });

  it('drops events dispatched after close instead of throwing', async () => {
    const target = createPgEventTarget({ connectionString: t.url, channel: channel(), logger });
    await target.start();
    await target.close();
    expect(target.dispatchEvent(new CustomEvent('late', { detail: 1 }))).toBe(false);
    await expect(target.start()).rejects.toThrow(/closed/);
    await target.close();
  });
});

describe('createLocalEventTarget', () => {
  it('delivers in order, asynchronously, as JSON copies, filtered by topic and id', async () => {
    const target = createLocalEventTarget({ logger });
    open.push(target);
    const pubsub = createRosterPubSub(target);
    const sync = randomUUID();
    const sub = collect(pubsub.subscribe('syncRunFinished', sync));
    // A Date inside a payload arrives as its ISO string, as it would across processes.
    const payload = { ...finishedOf(sync), at: new Date('2026-01-01T00:00:00Z') } as unknown as SyncRunFinishedPayload;
    pubsub.publish('syncRunFinished', sync, payload);
    pubsub.publish('syncRunFinished', 'other', { ...payload, syncId: 'other' });
    expect(sub.items).toEqual([]);
    await target.flush();
    await vi.waitFor(() => expect(sub.items).toHaveLength(1));
    // What PostgreSQL would deliver: a Date becomes its JSON string.
    expect(sub.items[0]).toEqual({ ...payload, at: '2026-01-01T00:00:00.000Z' });
    await sub.stop();
  });
});
