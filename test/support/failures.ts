// Awaiting an expected failure: the error, checked to be of the expected class.
import { expect } from 'vitest';

export async function failureOf<E extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error(`expected a ${type.name}, but the promise resolved`);
}
