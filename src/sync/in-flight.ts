// Batches on the wire at once during a sync run. A connector may allow
// several (Connector.concurrencyFor): the next batch is built and sent while
// the destination still works on the previous one, instead of the worker
// and the destination taking turns. Results are handed on in the order the
// batches were sent, so the accountant and the run's counters see them as
// if they had been sent one after the other.
//
// A failed batch ends the run, but the batches sent after it that the
// destination confirmed are still handed on (and so accounted): the
// snapshot never misses a confirmed row it could have kept.

export class InFlight<T> {
  readonly #limit: number;
  readonly #onDone: (value: T) => Promise<void>;
  #queue: Promise<T>[] = [];

  constructor(limit: number, onDone: (value: T) => Promise<void>) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`expected a number of batches in flight of at least 1, but got ${limit}`);
    this.#limit = limit;
    this.#onDone = onDone;
  }

  /** Tasks started and not yet handed on. */
  get size(): number {
    return this.#queue.length;
  }

  /**
   * Starts a task once fewer than `limit` are in flight, handing on the
   * oldest results to make room. Rejects with the first failure among them
   * (after handing on every later success).
   */
  async add(task: () => Promise<T>): Promise<void> {
    while (this.#queue.length >= this.#limit) await this.#settleOldest();
    const started = task();
    started.catch(() => {}); // awaited in order later
    this.#queue.push(started);
  }

  /** Hands on everything in flight, in order; rejects with the first failure (after handing on every later success). */
  async drain(): Promise<void> {
    while (this.#queue.length > 0) await this.#settleOldest();
  }

  /** After a failure elsewhere: hands on what succeeds of what is in flight, ignoring failures. */
  async abandon(): Promise<void> {
    const rest = this.#queue.splice(0);
    for (const p of rest) {
      let value: T;
      try {
        value = await p;
      } catch {
        continue;
      }
      await this.#onDone(value);
    }
  }

  async #settleOldest(): Promise<void> {
    const oldest = this.#queue.shift()!;
    let value: T;
    try {
      value = await oldest;
    } catch (err) {
      await this.abandon();
      throw err;
    }
    await this.#onDone(value);
  }
}
