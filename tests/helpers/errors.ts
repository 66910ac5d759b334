/** The SigvwapError a synchronous call throws (fails the test when it throws nothing or something else). */
import { expect } from 'vitest';
import { SigvwapError } from '../../src/errors.js';

export function thrown(fn: () => unknown): SigvwapError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SigvwapError);
    return e as SigvwapError;
  }
  throw new Error('expected an error');
}
