// Accounting in the background of a sync run's delivery. The destination's
// confirmation of batch N is written to the snapshot while batch N+1 is on
// the wire, instead of the run waiting for the database between every two
// requests; when the writes fall behind, everything confirmed meanwhile is
// written in one go (a group commit: one statement for several batches).
//
// The bound is the crash guarantee: at most `maxPending` confirmed batches
// are ever waiting to be written, so a worker killed at any moment makes the
// next run re-send at most those (and the one on the wire), never lose any.
// Order is kept: a group is written only after every earlier one.

export interface AccountantOptions {
  /** Confirmed batches allowed to wait for their write; push() waits beyond it. At least 1. */
  maxPending: number;
}

export class Accountant<T> {
  readonly #write: (items: T[]) => Promise<void>;
  readonly #maxPending: number;
  #queue: T[] = [];
  /** Items taken by the write in progress. */
  #writing = 0;
  #loop: Promise<void> | null = null;
  #failure: { error: unknown } | null = null;
  /** Resolved whenever a write ends: push() calls waiting on the bound. */
  #wakers: (() => void)[] = [];
  #waitedMs = 0;

  constructor(write: (items: T[]) => Promise<void>, opts: AccountantOptions) {
    if (!Number.isInteger(opts.maxPending) || opts.maxPending < 1) {
      throw new Error(`expected maxPending to be an integer of at least 1, but got ${opts.maxPending}`);
    }
    this.#write = write;
    this.#maxPending = opts.maxPending;
  }

  /** Confirmed items waiting or being written. */
  get pending(): number {
    return this.#queue.length + this.#writing;
  }

  /** Time push() and drain() spent waiting for writes, in ms: what accounting cost the run. */
  get waitedMs(): number {
    return this.#waitedMs;
  }

  /**
   * Queues a confirmed item for writing. Resolves at once while fewer than
   * `maxPending` items wait, else when a write makes room; rejects with the
   * write's error if a write failed (nothing more is written after one).
   */
  async push(item: T): Promise<void> {
    this.#throwIfFailed();
    this.#queue.push(item);
    this.#loop ??= this.#run();
    if (this.pending <= this.#maxPending) return;
    const t = performance.now();
    while (this.pending > this.#maxPending && !this.#failure) await new Promise<void>((resolve) => this.#wakers.push(resolve));
    this.#waitedMs += performance.now() - t;
    this.#throwIfFailed();
  }

  /** Waits until everything pushed is written; rejects with the error of a failed write. */
  async drain(): Promise<void> {
    const t = performance.now();
    while (this.#loop) await this.#loop;
    this.#waitedMs += performance.now() - t;
    this.#throwIfFailed();
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#failure) {
        const items = this.#queue;
        this.#queue = [];
        this.#writing = items.length;
        try {
          await this.#write(items);
        } catch (error) {
          // The first failed write ends the run (the database is most likely
          // unreachable). What was confirmed and not written is planned
          // again by the next run and sent again, which destinations take
          // as a no-op: an add of a member, a remove of a non-member.
          this.#failure = { error };
          this.#queue = [];
        } finally {
          this.#writing = 0;
          for (const wake of this.#wakers.splice(0)) wake();
        }
      }
    } finally {
      this.#loop = null;
    }
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }
}
