// The background accountant of a sync run: order, group commits, the bound
// on what may wait (the crash guarantee) and failures.
import { describe, expect, it } from 'vitest';
import { Accountant } from '../../src/sync/accountant.js';
import { MAX_UNACCOUNTED_ROWS, unaccountedGroups } from '../../src/sync/run.js';

/** A write the test finishes by hand, recording the groups it was given. */
function manualWrites() {
  const groups: number[][] = [];
  const finish: ((err?: Error) => void)[] = [];
  const write = (items: number[]) =>
    new Promise<void>((resolve, reject) => {
      groups.push(items);
      finish.push((err) => (err ? reject(err) : resolve()));
    });
  return { groups, finish, write };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Accountant', () => {
  it('writes in order, and everything confirmed during a write in one group after it', async () => {
    const w = manualWrites();
    const a = new Accountant(w.write, { maxPending: 10 });
    await a.push(1);
    await a.push(2);
    await a.push(3);
    expect(w.groups).toEqual([[1]]);
    w.finish[0]!();
    await tick();
    expect(w.groups).toEqual([[1], [2, 3]]);
    await a.push(4);
    w.finish[1]!();
    await tick();
    expect(w.groups).toEqual([[1], [2, 3], [4]]);
    w.finish[2]!();
    await a.drain();
    expect(a.pending).toBe(0);
  });

  it('never lets more than maxPending confirmed items wait: push() waits for a write to make room', async () => {
    const w = manualWrites();
    const a = new Accountant(w.write, { maxPending: 2 });
    await a.push(1);
    await a.push(2);
    let third = false;
    const pushing = a.push(3).then(() => (third = true));
    await tick();
    expect(third).toBe(false);
    expect(a.pending).toBe(3);
    w.finish[0]!();
    await pushing;
    expect(third).toBe(true);
    expect(a.pending).toBeLessThanOrEqual(2);
    expect(w.groups).toEqual([[1], [2, 3]]);
    w.finish[1]!();
    await a.drain();
    expect(a.waitedMs).toBeGreaterThan(0);
  });

  it('stops at the first failed write: push() and drain() reject with its error, and nothing after it is written', async () => {
    const w = manualWrites();
    const a = new Accountant(w.write, { maxPending: 5 });
    await a.push(1);
    await a.push(2);
    w.finish[0]!(new Error('connection lost'));
    await expect(a.drain()).rejects.toThrow('connection lost');
    await expect(a.push(3)).rejects.toThrow('connection lost');
    expect(w.groups).toEqual([[1]]);
  });

  it('refuses a bound below 1', () => {
    expect(() => new Accountant(async () => {}, { maxPending: 0 })).toThrow('expected maxPending to be an integer of at least 1, but got 0');
  });
});

describe('the bound of a run (unaccountedGroups)', () => {
  it('lets confirmed rows wait up to MAX_UNACCOUNTED_ROWS in whole batches, and never fewer than two batches', () => {
    expect(MAX_UNACCOUNTED_ROWS).toBe(10_000);
    // Small batches (a webhook's) may fall behind by several and catch up in one write.
    expect(unaccountedGroups(1_000)).toBe(10);
    expect(unaccountedGroups(500)).toBe(20);
    expect(unaccountedGroups(3_000)).toBe(3);
    // Large batches (an ad platform's) keep the bound of two batches.
    expect(unaccountedGroups(10_000)).toBe(2);
    expect(unaccountedGroups(100_000)).toBe(2);
    // Whatever the batch size, what may wait is at most the larger of the two bounds.
    for (const size of [1, 7, 20, 333, 999, 1_001, 4_999, 5_001, 50_000]) {
      expect(unaccountedGroups(size) * size).toBeLessThanOrEqual(Math.max(MAX_UNACCOUNTED_ROWS, 2 * size));
    }
    expect(unaccountedGroups(0)).toBe(10_000);
  });
});
