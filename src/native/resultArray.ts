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
 *
 * Why uninitialized: every kernel that takes a result array writes all of
 * its elements (tests fill `out` with NaN and compare), so zeroing it first
 * is wasted work, and costly: a zeroed array comes from calloc, whose memory
 * the kernel's threads then fault in page by page. `Buffer.allocUnsafeSlow`
 * mallocs without zeroing, and freed blocks of the same size come back from
 * glibc's heap already mapped. Measured (signature 256×128×8 depth 4, f64,
 * 9.6 MB result, 2 threads, AMD EPYC Zen 4): 6.6–7.3 ms per call with a zeroed
 * array, 5.4–5.9 with an uninitialized one, 5.2–6.0 with a reused `out`.
 * `allocUnsafeSlow`, not `allocUnsafe`: the latter slices small sizes out of
 * a shared pool, and a result must own its ArrayBuffer (a caller may
 * transfer it).
 */
import { assertFloatArray, type FloatArray } from './checks.js';

/** Results up to this size (per array) are allocated by JavaScript in sync calls. */
export const JS_RESULT_MAX_BYTES = 2 ** 31;

/** A typed-array constructor that can view an ArrayBuffer. */
type ViewCtor<A> = { new (buffer: ArrayBuffer, byteOffset: number, length: number): A; readonly BYTES_PER_ELEMENT: number };

/**
 * An array of `n` elements of type `ctor` with unspecified contents, on an
 * ArrayBuffer of its own: only for a result whose every element is written
 * before the caller sees it.
 */
export function uninitialized<A>(ctor: ViewCtor<A>, n: number): A {
  return new ctor(Buffer.allocUnsafeSlow(n * ctor.BYTES_PER_ELEMENT).buffer as ArrayBuffer, 0, n);
}

/** `uninitialized` of `like`'s float type. */
export function uninitializedLike(like: FloatArray, n: number): FloatArray {
  return like instanceof Float32Array ? uninitialized(Float32Array, n) : uninitialized(Float64Array, n);
}

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
 * The array a sync call writes into: `o.out`, or a fresh uninitialized one of
 * `elements()` values of `like`'s type (the kernel must write every element).
 * Invalid or huge sizes (`elements` throws, or more than 2 GiB) are left to
 * the native call, which reports or allocates them.
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
  return uninitializedLike(like, n);
}
