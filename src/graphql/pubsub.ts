// The application's pub/sub. API replicas and workers are separate processes
// (DESIGN.md §2), so an event published by a worker ("segment evaluated",
// "sync run progress") must reach the subscriptions held open by whichever API
// replica a client is connected to. That crossing happens through PostgreSQL
// LISTEN/NOTIFY on Roster's own database.
//
// Subscriptions are live notifications, not a durable log: an event published
// while a process's LISTEN connection is down (between a drop and the
// reconnect) is not delivered to that process, and nothing is replayed.
// Clients that need the truth re-read it through queries (a sync run's status,
// a segment's last evaluation); subscriptions only tell them when to look.
//
// Payloads travel as JSON, so they must be JSON-serialisable (no Date, BigInt,
// Map, cycles): subscribers receive a parsed copy, in every process including
// the publishing one. `createLocalEventTarget` applies the same JSON round trip
// so tests that use it see what production sees.
import pg from 'pg';
// The pub/sub of graphql-yoga, from its own package: a worker process
// publishes without loading the GraphQL server.
import { createPubSub, type PubSub, type PubSubEventTarget } from '@graphql-yoga/subscription';
import { createLogger, type Logger } from '../logger.js';

// ---------------------------------------------------------------------------
// Roster's topics
// ---------------------------------------------------------------------------

export interface SegmentEvaluatedPayload {
  workspaceId: string;
  segmentId: string;
  evaluationId: string;
  status: 'SUCCEEDED' | 'FAILED';
  size: number | null;
  entered: number | null;
  exited: number | null;
  version: number;
  /** ISO-8601 timestamp. */
  evaluatedAt: string;
  error: string | null;
}

export interface OperationCountsPayload {
  ADD: number;
  REMOVE: number;
  UPDATE: number;
}

export interface SyncRunProgressPayload {
  workspaceId: string;
  syncId: string;
  runId: string;
  phase: 'PLANNING' | 'DELIVERING' | 'ACCOUNTING';
  planned: OperationCountsPayload;
  delivered: OperationCountsPayload;
  rejected: number;
  percent: number;
  rowsPerSecond: number;
  etaSeconds: number | null;
}

export interface SyncRunFinishedPayload {
  workspaceId: string;
  syncId: string;
  runId: string;
  status: 'SUCCEEDED' | 'PARTIAL' | 'FAILED' | 'CANCELLED';
  planned: OperationCountsPayload;
  delivered: OperationCountsPayload;
  rejected: number;
  error: string | null;
  durationMs: number;
}

/** Kept for callers that publish sync events generically. */
export type SyncRunEventPayload = SyncRunProgressPayload | SyncRunFinishedPayload;

export interface MatchRateUpdatedPayload {
  workspaceId: string;
  syncId: string;
  /** The destination's id of the audience, and its name. */
  audienceId: string;
  audienceName: string;
  /** Matched members (or audience size where that is all the platform reports); null when not reported. */
  matched: number | null;
  uploaded: number;
  /** From 0 to 1; null when it cannot be known. */
  rate: number | null;
  /** ISO-8601 timestamp. */
  sampledAt: string;
}

/**
 * Topic → publish arguments `[id, payload]`. graphql-yoga's `createPubSub`
 * turns `publish(topic, id, payload)` into an event of type `${topic}:${id}`
 * with `detail: payload`, and `subscribe(topic, id)` listens to exactly that
 * type; ids are raw database uuids.
 */
export type RosterPubSubTopics = {
  segmentEvaluated: [segmentId: string, payload: SegmentEvaluatedPayload];
  syncRunProgress: [syncId: string, payload: SyncRunProgressPayload];
  syncRunFinished: [syncId: string, payload: SyncRunFinishedPayload];
  matchRateUpdated: [syncId: string, payload: MatchRateUpdatedPayload];
};

export type RosterPubSub = PubSub<RosterPubSubTopics>;

/** The typed pub/sub over an event target (`createPgEventTarget` or `createLocalEventTarget`). */
export function createRosterPubSub(eventTarget: PubSubEventTarget<RosterPubSubTopics>): RosterPubSub {
  return createPubSub<RosterPubSubTopics>({ eventTarget });
}

// ---------------------------------------------------------------------------
// Event targets
// ---------------------------------------------------------------------------

export type RosterEventListener =
  | ((event: CustomEvent) => unknown)
  | { handleEvent(event: CustomEvent): unknown };

export type RosterListenerOptions =
  | boolean
  | { capture?: boolean; once?: boolean; passive?: boolean; signal?: AbortSignal };

/**
 * What graphql-yoga's `createPubSub` needs (`TypedEventTarget`), plus
 * lifecycle. Both implementations deliver asynchronously: `dispatchEvent`
 * returns `true` at once and a slow or throwing listener never reaches the
 * publisher.
 */
export interface RosterEventTarget extends EventTarget {
  addEventListener(type: string, callback: RosterEventListener | null, options?: RosterListenerOptions): void;
  removeEventListener(type: string, callback: RosterEventListener | null, options?: RosterListenerOptions): void;
  /** Publishes `event.type` with `event.detail` (a `CustomEvent`); `false` only after `close()`. */
  dispatchEvent(event: Event): boolean;
  /** Readies delivery (for the PostgreSQL target: connects and LISTENs). */
  start(): Promise<void>;
  /** Resolves when everything dispatched so far has been sent. Never rejects. */
  flush(): Promise<void>;
  /** Flushes, then releases connections and timers. Idempotent. */
  close(): Promise<void>;
}

export interface PgEventTarget extends RosterEventTarget {
  readonly channel: string;
  /** True while the LISTEN connection is up. */
  readonly listening: boolean;
  /** Backend pid of the LISTEN connection, or null while it is down (diagnostics, tests). */
  readonly listenerPid: number | null;
}

export interface PgEventTargetOptions {
  connectionString: string;
  /** NOTIFY channel; default `roster_events`. All processes of one deployment must agree. */
  channel?: string;
  logger?: Logger;
  /** How long bodies of large events stay in `roster_event_payloads`; default 5 minutes. */
  payloadRetentionMs?: number;
  /** Reconnect backoff of the LISTEN connection; defaults 250 ms doubling to 15 s. */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number };
}

export const DEFAULT_EVENT_CHANNEL = 'roster_events';
export const EVENT_PAYLOAD_TABLE = 'roster_event_payloads';
/** PostgreSQL rejects NOTIFY payloads of this many bytes or more (default build). */
export const NOTIFY_PAYLOAD_LIMIT = 8000;
const CONNECT_TIMEOUT_MS = 10_000;

interface Registration {
  callback: RosterEventListener;
  once: boolean;
  removed: boolean;
  detachSignal?: () => void;
}

/**
 * Listener bookkeeping with EventTarget semantics (a callback registered twice
 * for a type is called once; `once`; `signal`), except that a throwing
 * listener is logged and does not stop the others — Node's EventTarget would
 * rethrow it as an uncaught exception and end the process.
 */
class ListenerRegistry {
  private readonly byType = new Map<string, Registration[]>();

  constructor(private readonly logger: Logger) {}

  add(type: string, callback: RosterEventListener | null, options?: RosterListenerOptions): void {
    if (!callback) return;
    const opts = typeof options === 'object' ? options : {};
    if (opts.signal?.aborted) return;
    const list = this.byType.get(type) ?? [];
    if (list.some((r) => r.callback === callback)) return;
    const reg: Registration = { callback, once: opts.once === true, removed: false };
    const signal = opts.signal;
    if (signal) {
      const onAbort = () => this.remove(type, callback);
      signal.addEventListener('abort', onAbort, { once: true });
      reg.detachSignal = () => signal.removeEventListener('abort', onAbort);
    }
    list.push(reg);
    this.byType.set(type, list);
  }

  remove(type: string, callback: RosterEventListener | null): void {
    if (!callback) return;
    const list = this.byType.get(type);
    if (!list) return;
    const i = list.findIndex((r) => r.callback === callback);
    if (i < 0) return;
    const [reg] = list.splice(i, 1);
    if (reg) {
      reg.removed = true;
      reg.detachSignal?.();
    }
    if (list.length === 0) this.byType.delete(type);
  }

  has(type: string): boolean {
    return this.byType.has(type);
  }

  get size(): number {
    let n = 0;
    for (const list of this.byType.values()) n += list.length;
    return n;
  }

  deliver(type: string, detail: unknown): void {
    const list = this.byType.get(type);
    if (!list) return;
    const event = new CustomEvent(type, { detail });
    for (const reg of [...list]) {
      if (reg.removed) continue;
      if (reg.once) this.remove(type, reg.callback);
      try {
        const cb = reg.callback;
        const result: unknown = typeof cb === 'function' ? cb(event) : cb.handleEvent(event);
        if (isThenable(result)) {
          result.then(undefined, (err: unknown) => this.logger.error({ err, type }, 'event listener failed'));
        }
      } catch (err) {
        this.logger.error({ err, type }, 'event listener failed');
      }
    }
  }

  clear(): void {
    for (const list of this.byType.values()) {
      for (const reg of list) {
        reg.removed = true;
        reg.detachSignal?.();
      }
    }
    this.byType.clear();
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function detailOf(event: Event): unknown {
  const detail = (event as Partial<CustomEvent>).detail;
  return detail === undefined ? null : detail;
}

function defaultLogger(): Logger {
  return createLogger('warn');
}

// ---------------------------------------------------------------------------
// In-process target
// ---------------------------------------------------------------------------

/**
 * An event target for one process (tests, or `roster start` when nothing else
 * needs the events). Delivery is asynchronous and in order, and the detail is
 * JSON round-tripped, as with the PostgreSQL target.
 */
export function createLocalEventTarget(opts: { logger?: Logger } = {}): RosterEventTarget {
  return new LocalEventTarget(opts.logger ?? defaultLogger());
}

class LocalEventTarget implements RosterEventTarget {
  private readonly listeners: ListenerRegistry;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly logger: Logger) {
    this.listeners = new ListenerRegistry(logger);
  }

  addEventListener(type: string, callback: RosterEventListener | null, options?: RosterListenerOptions): void {
    if (!this.closed) this.listeners.add(type, callback, options);
  }

  removeEventListener(type: string, callback: RosterEventListener | null): void {
    this.listeners.remove(type, callback);
  }

  dispatchEvent(event: Event): boolean {
    if (this.closed) {
      this.logger.warn({ type: event.type }, 'event dispatched after close; dropped');
      return false;
    }
    const type = event.type;
    let json: string;
    try {
      json = JSON.stringify(detailOf(event)) ?? 'null';
    } catch (err) {
      this.logger.error({ err, type }, 'event detail is not JSON-serialisable; dropped');
      return true;
    }
    this.chain = this.chain.then(() => {
      if (!this.closed) this.listeners.deliver(type, JSON.parse(json));
    });
    return true;
  }

  async start(): Promise<void> {}

  flush(): Promise<void> {
    return this.chain;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    this.listeners.clear();
  }
}

// ---------------------------------------------------------------------------
// PostgreSQL target
// ---------------------------------------------------------------------------

/**
 * An event target whose events cross processes through PostgreSQL
 * LISTEN/NOTIFY, for `createPubSub({ eventTarget })`.
 *
 * - `dispatchEvent` serialises `{ type, detail }` at once (later mutation of
 *   the detail does not change what is sent) and queues `pg_notify` on one
 *   publishing connection, so one process's events keep their order. Bodies of
 *   8000 bytes or more are stored in `roster_event_payloads` and the
 *   notification carries the row id; listeners read the row.
 * - Local listeners are fed only from the LISTEN connection, including the
 *   process's own events, so every listener sees each event once.
 * - The LISTEN connection starts with the first `addEventListener` (or
 *   `start()`), and reconnects with backoff when it drops; events published in
 *   between are not delivered to this process.
 */
export function createPgEventTarget(opts: PgEventTargetOptions): PgEventTarget {
  return new PostgresEventTarget(opts);
}

type ListenerState =
  | { kind: 'idle' }
  | { kind: 'connecting'; client: pg.Client }
  | { kind: 'listening'; client: pg.Client }
  | { kind: 'waiting'; timer: NodeJS.Timeout }
  | { kind: 'closed' };

class PostgresEventTarget implements PgEventTarget {
  readonly channel: string;
  private readonly connectionString: string;
  private readonly logger: Logger;
  private readonly retentionSeconds: number;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly listeners: ListenerRegistry;

  private publishPool: pg.Pool | null = null;
  private publishChain: Promise<void> = Promise.resolve();
  private tableReady: Promise<void> | null = null;

  private state: ListenerState = { kind: 'idle' };
  private attempt = 0;
  private hasListened = false;
  private receiveChain: Promise<void> = Promise.resolve();
  private waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private closed = false;

  constructor(opts: PgEventTargetOptions) {
    this.connectionString = opts.connectionString;
    this.channel = opts.channel ?? DEFAULT_EVENT_CHANNEL;
    if (this.channel === '' || Buffer.byteLength(this.channel) > 63) {
      throw new Error(`event channel must be 1 to 63 bytes long, got ${JSON.stringify(this.channel)}`);
    }
    this.logger = (opts.logger ?? defaultLogger()).child({ component: 'events', channel: this.channel });
    this.retentionSeconds = Math.max(1, Math.ceil((opts.payloadRetentionMs ?? 5 * 60_000) / 1000));
    this.minDelayMs = Math.max(1, opts.reconnect?.minDelayMs ?? 250);
    this.maxDelayMs = Math.max(this.minDelayMs, opts.reconnect?.maxDelayMs ?? 15_000);
    this.listeners = new ListenerRegistry(this.logger);
  }

  get listening(): boolean {
    return this.state.kind === 'listening';
  }

  get listenerPid(): number | null {
    if (this.state.kind !== 'listening') return null;
    return (this.state.client as pg.Client & { processID?: number | null }).processID ?? null;
  }

  // --- EventTarget ---------------------------------------------------------

  addEventListener(type: string, callback: RosterEventListener | null, options?: RosterListenerOptions): void {
    if (this.closed) return;
    this.listeners.add(type, callback, options);
    if (this.state.kind === 'idle') {
      // Failures are logged and retried by the connection loop itself.
      this.start().catch(() => {});
    }
  }

  removeEventListener(type: string, callback: RosterEventListener | null): void {
    this.listeners.remove(type, callback);
  }

  dispatchEvent(event: Event): boolean {
    const type = event.type;
    if (this.closed) {
      this.logger.warn({ type }, 'event dispatched after close; dropped');
      return false;
    }
    let message: string;
    try {
      message = JSON.stringify({ type, detail: detailOf(event) });
    } catch (err) {
      this.logger.error({ err, type }, 'event detail is not JSON-serialisable; dropped');
      return true;
    }
    this.publishChain = this.publishChain.then(() =>
      this.publish(type, message).catch((err: unknown) => {
        this.logger.error({ err, type }, 'publishing event failed; dropped');
      }),
    );
    return true;
  }

  // --- lifecycle -----------------------------------------------------------

  /** Resolves once the LISTEN connection is up (retrying with backoff); rejects only if closed first. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('event target is closed'));
    if (this.state.kind === 'listening') return Promise.resolve();
    const ready = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.state.kind === 'idle') void this.connect();
    return ready;
  }

  flush(): Promise<void> {
    return this.publishChain;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    const state = this.state;
    this.state = { kind: 'closed' };
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w.reject(new Error('event target closed'));
    this.listeners.clear();
    const ends: Promise<unknown>[] = [];
    if (state.kind === 'waiting') clearTimeout(state.timer);
    if (state.kind === 'connecting' || state.kind === 'listening') {
      ends.push(state.client.end().catch(() => {}));
    }
    if (this.publishPool) ends.push(this.publishPool.end().catch(() => {}));
    this.publishPool = null;
    await Promise.all(ends);
    await this.receiveChain;
  }

  // --- publishing ----------------------------------------------------------

  private pool(): pg.Pool {
    if (!this.publishPool) {
      // One connection: publishes are serialised anyway (ordering), and an
      // idle process gives it back after a while.
      const pool = new pg.Pool({
        connectionString: this.connectionString,
        max: 1,
        idleTimeoutMillis: 30_000,
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
        application_name: 'roster-events-publish',
      });
      pool.on('error', (err) => this.logger.warn({ err }, 'idle publishing connection failed'));
      this.publishPool = pool;
    }
    return this.publishPool;
  }

  private async publish(type: string, message: string): Promise<void> {
    if (Buffer.byteLength(message, 'utf8') < NOTIFY_PAYLOAD_LIMIT) {
      try {
        await this.pool().query('SELECT pg_notify($1, $2)', [this.channel, message]);
        return;
      } catch (err) {
        // A server built with a smaller page size, or an encoding that grows
        // the text: fall back to the table rather than lose the event.
        if ((err as { code?: string }).code !== '22023') throw err;
      }
    }
    // The reference notification still carries the type, so that processes
    // with no listener for it skip reading the body.
    if (Buffer.byteLength(type, 'utf8') > NOTIFY_PAYLOAD_LIMIT / 2) {
      throw new Error(`event type is too long for a notification (${type.length} characters)`);
    }
    await this.ensureTable();
    // One statement: prune expired bodies, store this one, notify its id.
    await this.pool().query(
      `WITH pruned AS (
         DELETE FROM ${EVENT_PAYLOAD_TABLE} WHERE created_at < now() - make_interval(secs => $3)
       ), stored AS (
         INSERT INTO ${EVENT_PAYLOAD_TABLE} (body) VALUES ($2::jsonb) RETURNING id
       )
       SELECT pg_notify($1, json_build_object('type', $4::text, 'ref', id::text)::text) FROM stored`,
      [this.channel, message, this.retentionSeconds, type],
    );
  }

  private ensureTable(): Promise<void> {
    this.tableReady ??= this.pool()
      .query(
        `CREATE TABLE IF NOT EXISTS ${EVENT_PAYLOAD_TABLE} (
           id bigserial PRIMARY KEY,
           body jsonb NOT NULL,
           created_at timestamptz NOT NULL DEFAULT now()
         );
         CREATE INDEX IF NOT EXISTS ${EVENT_PAYLOAD_TABLE}_created_at_idx ON ${EVENT_PAYLOAD_TABLE} (created_at)`,
      )
      .then(
        () => undefined,
        (err: unknown) => {
          // Two processes creating it at once: one of them loses on the catalog's unique index.
          const code = (err as { code?: string }).code;
          if (code === '23505' || code === '42P07') return;
          this.tableReady = null;
          throw err;
        },
      );
    return this.tableReady;
  }

  // --- listening -----------------------------------------------------------

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: 'roster-events-listen',
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // The connection is idle between notifications; keepalive lets a
      // silently dropped one (NAT, failover) surface as an error, and so a reconnect.
      keepAlive: true,
    });
    this.state = { kind: 'connecting', client };
    let failed = false;
    const onDown = (err?: Error) => {
      if (failed) return;
      failed = true;
      this.disconnected(client, err);
    };
    client.on('error', onDown);
    client.on('end', () => onDown());
    client.on('notification', (msg) => {
      if (msg.channel !== this.channel || !this.isCurrent(client)) return;
      const payload = msg.payload ?? '';
      this.receiveChain = this.receiveChain.then(() => this.receive(client, payload));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${client.escapeIdentifier(this.channel)}`);
    } catch (err) {
      onDown(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (!this.isCurrent(client) || failed) return;
    this.state = { kind: 'listening', client };
    if (this.hasListened) {
      this.logger.warn(
        { attempts: this.attempt },
        'event LISTEN connection restored; events published while it was down were not delivered here',
      );
    }
    this.hasListened = true;
    this.attempt = 0;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  private isCurrent(client: pg.Client): boolean {
    return (this.state.kind === 'connecting' || this.state.kind === 'listening') && this.state.client === client;
  }

  private disconnected(client: pg.Client, err: Error | undefined): void {
    if (this.closed || !this.isCurrent(client)) return;
    const delay = Math.round(Math.min(this.maxDelayMs, this.minDelayMs * 2 ** this.attempt) * (0.5 + Math.random() / 2));
    this.attempt += 1;
    this.logger.warn({ err, attempt: this.attempt, delayMs: delay }, 'event LISTEN connection lost; reconnecting');
    client.end().catch(() => {});
    const timer = setTimeout(() => {
      if (this.state.kind === 'waiting' && this.state.timer === timer) void this.connect();
    }, delay);
    this.state = { kind: 'waiting', timer };
  }

  private async receive(client: pg.Client, payload: string): Promise<void> {
    try {
      const message = JSON.parse(payload) as Partial<{ type: unknown; detail: unknown; ref: unknown }>;
      if (typeof message !== 'object' || message === null || typeof message.type !== 'string') {
        throw new Error('notification is not an event');
      }
      const type = message.type;
      if (!this.listeners.has(type)) return;
      if ('detail' in message) {
        this.listeners.deliver(type, message.detail);
        return;
      }
      if (typeof message.ref !== 'string') throw new Error('notification is not an event');
      const { rows } = await client.query<{ body: { type: string; detail: unknown } }>(
        `SELECT body FROM ${EVENT_PAYLOAD_TABLE} WHERE id = $1`,
        [message.ref],
      );
      const row = rows[0];
      if (!row) {
        this.logger.warn({ type, ref: message.ref }, 'event body already pruned; dropped');
        return;
      }
      if (!this.closed) this.listeners.deliver(row.body.type, row.body.detail ?? null);
    } catch (err) {
      if (this.closed) return;
      this.logger.error({ err, payload: payload.slice(0, 200) }, 'could not handle event notification; dropped');
    }
  }
}
