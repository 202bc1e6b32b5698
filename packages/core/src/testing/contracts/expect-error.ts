import { expect } from 'vitest';
import { PalabreError, type ErrorKind } from '../../errors.js';

/** Assert a promise rejects with a PalabreError of this kind (never a raw driver error). */
export async function expectKind(promise: Promise<unknown>, kind: ErrorKind): Promise<PalabreError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a '${kind}' error`).toBeInstanceOf(PalabreError);
  expect((caught as PalabreError).kind).toBe(kind);
  // Driver details stay out of messages: no SQL, no constraint names.
  expect((caught as PalabreError).message).not.toMatch(/SQLITE|constraint "|violates|INSERT INTO|duplicate key/i);
  return caught as PalabreError;
}
