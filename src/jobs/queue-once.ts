// Queuing a piece of work (a sync run, a segment evaluation) at most once
// while one waits: its row in the configuration database, and a job in a
// pg-boss queue that holds one waiting job per key (a stately queue). The
// queue decides which of several simultaneous triggers waits; the others
// join that one.

/** How long a refused trigger looks for the row that holds the queue's waiting place. */
const JOIN_WITHIN_MS = 2_000;
/** How often it looks: that row names its job one round trip after the queue took it. */
const JOIN_POLL_MS = 20;

export interface QueueOnce<T> {
  /** The row waiting in the queue: one whose job the queue took (its jobId is set), never one without. */
  waiting(): Promise<T | null>;
  /** A new row, without a job: nobody can join it. */
  create(): Promise<T>;
  /** Queues the row's job; null when the queue refused it (another job waits). */
  send(row: T): Promise<string | null>;
  /** Records the job the queue took for the row, which makes it joinable. */
  taken(row: T, jobId: string): Promise<T>;
  /** Deletes a row the queue refused. */
  discard(row: T): Promise<void>;
  /** The error when the waiting place stays taken without a row to join. */
  refused(): Error;
}

/**
 * Returns the waiting row, or queues a new one. Simultaneous triggers each
 * create a row; the queue takes one and refuses the others, and a refused
 * trigger deletes its own row (nobody can have joined it: it never had a
 * job) and joins the one taken once that row names its job. Should the
 * taken one start meanwhile (no longer waiting), the place behind it is
 * free again and the refused trigger's next attempt queues its own row, as
 * if it had come a moment later.
 *
 * Joining any waiting row instead, job or not, let a trigger answer another
 * trigger's row that was then deleted: an id that did not exist
 * (test/sync/trigger-race.test.ts).
 */
export async function queueOnce<T>(q: QueueOnce<T>): Promise<T> {
  const waiting = await q.waiting();
  if (waiting) return waiting;
  const row = await q.create();
  const deadline = Date.now() + JOIN_WITHIN_MS;
  for (;;) {
    const jobId = await q.send(row);
    if (jobId !== null) return q.taken(row, jobId);
    const other = await q.waiting();
    if (other || Date.now() >= deadline) {
      await q.discard(row);
      if (other) return other;
      throw q.refused();
    }
    await new Promise((resolve) => setTimeout(resolve, JOIN_POLL_MS));
  }
}
