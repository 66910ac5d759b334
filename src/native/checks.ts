/**
 * Argument checks shared by the typed wrappers; messages name the argument.
 * The native layer checks again (it is the boundary); these checks give
 * JavaScript-level messages for JavaScript-level mistakes (wrong types).
 */
import { SigvwapError } from '../errors.js';

export type FloatArray = Float32Array | Float64Array;

export function assertFloatArray(name: string, value: unknown): asserts value is FloatArray {
  if (!(value instanceof Float32Array) && !(value instanceof Float64Array)) {
    const got = value === null ? 'null' : typeof value === 'object' ? (value as object).constructor?.name : typeof value;
    throw new SigvwapError('ERR_ARG', `${name}: expected a Float32Array or Float64Array, got ${got}`, { argument: name });
  }
}

export function assertSize(name: string, value: unknown, min = 0): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new SigvwapError('ERR_ARG', `${name}: expected an integer >= ${min}, got ${String(value)}`, { argument: name });
  }
}

export function assertOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): asserts value is T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new SigvwapError('ERR_ARG', `${name}: expected one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${String(value)}`, {
      argument: name,
    });
  }
}
