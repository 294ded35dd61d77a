// Batches on the wire at once: results in the order sent, a bounded number
// in flight, and confirmed batches handed on even after an earlier failure.
import { describe, expect, it } from 'vitest';
import { InFlight } from '../../src/sync/in-flight.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('InFlight', () => {
  it('keeps at most `limit` tasks in flight and hands results on in the order they were started', async () => {
    const done: number[] = [];
    const flight = new InFlight<number>(2, async (v) => void done.push(v));
    const tasks = [deferred<number>(), deferred<number>(), deferred<number>()];
    let started = 0;
    const start = (i: number) => () => {
      started++;
      return tasks[i]!.promise;
    };
    await flight.add(start(0));
    await flight.add(start(1));
    expect(started).toBe(2);
    const third = flight.add(start(2)); // waits for the oldest
    await tick();
    expect(started).toBe(2);
    tasks[1]!.resolve(1); // the second finishes first: nothing is handed on before the first
    await tick();
    expect(done).toEqual([]);
    tasks[0]!.resolve(0);
    await third; // room for one: only the oldest was handed on
    expect(started).toBe(3);
    expect(done).toEqual([0]);
    tasks[2]!.resolve(2);
    await flight.drain();
    expect(done).toEqual([0, 1, 2]);
    expect(flight.size).toBe(0);
  });

  it('after a failure, still hands on the later successes, then rejects with the failure', async () => {
    const done: string[] = [];
    const flight = new InFlight<string>(3, async (v) => void done.push(v));
    await flight.add(() => Promise.resolve('a'));
    await flight.add(() => Promise.reject(new Error('batch 2 refused')));
    await flight.add(() => Promise.resolve('c'));
    await expect(flight.drain()).rejects.toThrow('batch 2 refused');
    expect(done).toEqual(['a', 'c']);
    expect(flight.size).toBe(0);
  });

  it('abandons what is in flight, keeping what succeeds; one at a time is sending one after the other', async () => {
    const done: string[] = [];
    const flight = new InFlight<string>(1, async (v) => void done.push(v));
    let running = 0;
    let most = 0;
    const task = (v: string) => async () => {
      running++;
      most = Math.max(most, running);
      await tick();
      running--;
      return v;
    };
    await flight.add(task('a'));
    await flight.add(task('b'));
    await flight.abandon();
    expect(done).toEqual(['a', 'b']);
    expect(most).toBe(1);
    expect(() => new InFlight(0, async () => {})).toThrow('expected a number of batches in flight of at least 1, but got 0');
  });
});
