/**
 * Where a native kernel writes its result: the caller's `out`, or, in sync
 * calls, a fresh array allocated here in JavaScript.
 *
 * Why JavaScript allocates: V8 frees its own ArrayBuffers during GC, while a
 * native (external) buffer is released by a finalizer that only runs when the
 * event loop turns; a synchronous loop of calls would then keep every result
 * alive and pay fresh-memory page faults on each (measured:
 * signatureBackward 256×10000×4 depth 3, f64, 160 ms per call with native
 * results vs 99 ms with JS results, 42 ms with `out`). Async calls leave
 * allocation to the native side (the event loop turns between them).
 */
import { assertFloatArray, type FloatArray } from './checks.js';

/** Results up to this size are allocated by JavaScript in sync calls. */
const JS_RESULT_MAX_BYTES = 2 ** 31;

/** A zero-filled array of `like`'s float type. */
export function arrayLike(like: FloatArray, n: number): FloatArray {
  return like instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
}

/** The caller's `out` option, checked to be a float array (ERR_ARG naming `out`). */
export function outArg(o: { out?: unknown } | undefined): FloatArray | undefined {
  const out = o?.out;
  if (out === undefined || out === null) return undefined;
  assertFloatArray('out', out);
  return out;
}

/**
 * The array a sync call writes into: `o.out`, or a fresh one of `elements()`
 * values of `like`'s type. Invalid or huge sizes (`elements` throws, or more
 * than 2 GiB) are left to the native call, which reports or allocates them.
 */
export function resultArray(like: FloatArray, elements: () => number, o: { out?: unknown }): FloatArray | undefined {
  const out = outArg(o);
  if (out !== undefined) return out;
  let n: number;
  try {
    n = elements();
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(n) || n < 0 || n * like.BYTES_PER_ELEMENT > JS_RESULT_MAX_BYTES) return undefined;
  return arrayLike(like, n);
}
