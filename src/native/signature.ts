/**
 * Truncated path signatures, computed natively.
 *
 * A path is `length` points in R^channels, linearly interpolated; row-major
 * Float32Array | Float64Array [batch, length, channels]. Its truncated
 * signature of depth m is levels 1..m of the iterated integrals
 *   S^{i1..ik} = ∫_{0<t1<...<tk<T} dX^{i1}_{t1} ... dX^{ik}_{tk}
 * concatenated without the leading 1: siglen = d + d² + ... + d^m entries,
 * word (i1..ik) at position i1·d^(k−1) + ... + ik inside level k (first
 * letter most significant; iisignature's order). `stream: true` returns the
 * signature of every prefix [batch, length'−1, siglen]; `basepoint: true`
 * prepends a zero point (length' = length + 1). Increments are formed in
 * float64 even for Float32Array input, then the recursion runs in the
 * `precision` option's arithmetic (default: the input's type). Cost: O(batch · length · siglen)
 * work, O(siglen) memory per path, forward and backward (the backward walks
 * the path in reverse, undoing one segment at a time).
 */
import { fromNative, SigvwapError } from '../errors.js';
import type { DeviceName } from './backend.js';
import { native } from './binding.js';
import { assertFloatArray, assertOneOf, assertSize, type FloatArray } from './checks.js';
import { arrayLike, outArg, resultArray } from './resultArray.js';

export interface SignatureOptions {
  batch: number;
  length: number;
  channels: number;
  depth: number;
  /** Signature of every prefix: output [batch, length' − 1, siglen]. */
  stream?: boolean;
  /** Prepend a zero point to every path. */
  basepoint?: boolean;
  device?: DeviceName;
  /**
   * Arithmetic of the CPU kernels. `'auto'` (default): the element type of
   * `path`, i.e. float32 lanes for a Float32Array (twice the SIMD width of
   * float64; ~1e-6 relative error on the test vectors, inside the 1e-4
   * float32 tolerance). `'f64'`: float64 arithmetic whatever the input (the
   * result is still rounded to the input's type). `'f32'`: float32
   * arithmetic also for a Float64Array. Increments are formed in float64
   * from the points in every mode. The CUDA kernels ignore it.
   */
  precision?: SignaturePrecision;
}

/** Values of `SignatureOptions.precision`. */
export type SignaturePrecision = 'auto' | 'f32' | 'f64';
export const SIGNATURE_PRECISIONS = ['auto', 'f32', 'f64'] as const satisfies readonly SignaturePrecision[];

/**
 * Where to write the result, for loops that call the kernel many times:
 * `out` must have the input's float type and the result's length, and must
 * not share memory with `path` or `gradOut`. It is returned. Without it the
 * result is a fresh array: for a sync call, allocated by JavaScript without
 * zeroing, since the kernel writes every element (see resultArray.ts); for an
 * Async call, a zero-copy native buffer (large ones are huge-page backed, see
 * native/core/src/buffer.rs).
 *
 * Async forms: the inputs are copied when the call is made (changing or
 * transferring them afterwards does not affect the result), the kernel
 * writes native memory, and `out` is written when the promise settles, on
 * this thread. If `out`'s buffer was transferred (detached) meanwhile, the
 * promise rejects with ERR_ARG naming `out`. See README "Async forms".
 */
export interface OutOption<T extends FloatArray> {
  out?: T;
}

/** d + d² + … + d^m (ERR_ARG naming `depth` beyond 1024, or when it does not fit in memory). */
export function sigLength(channels: number, depth: number): number {
  assertSize('channels', channels);
  assertSize('depth', depth);
  try {
    return native().sigLength(channels, depth);
  } catch (e) {
    throw fromNative(e);
  }
}

/** Elements of the forward result (throws on invalid options; the native call reports those). */
function forwardElements(o: SignatureOptions): number {
  const siglen = native().sigLength(o.channels, o.depth);
  const segments = o.length + (o.basepoint ? 1 : 0) - 1;
  return o.stream ? o.batch * Math.max(segments, 0) * siglen : o.batch * siglen;
}

/**
 * The options as a fresh plain object of checked values: the native call
 * then reads no getter (no JavaScript runs while it converts its arguments)
 * and never fails a type conversion, which would give an error without an
 * argument name.
 */
function options(o: SignatureOptions) {
  if (o === null || typeof o !== 'object') throw new SigvwapError('ERR_ARG', 'options: expected an object', { argument: 'options' });
  for (const k of ['batch', 'length', 'channels', 'depth'] as const) assertSize(k, o[k]);
  if (o.device !== undefined) assertOneOf('device', o.device, ['auto', 'cpu', 'cuda'] as const);
  if (o.precision !== undefined) assertOneOf('precision', o.precision, SIGNATURE_PRECISIONS);
  return {
    batch: o.batch,
    length: o.length,
    channels: o.channels,
    depth: o.depth,
    stream: !!o.stream,
    basepoint: !!o.basepoint,
    device: o.device ?? 'auto',
    precision: o.precision ?? 'auto',
  };
}

type Checked = ReturnType<typeof options>;

/**
 * The array a sync call writes into: the caller's `out`, or a fresh
 * JavaScript array (see resultArray.ts) only when `path` has its declared
 * length. A wrong path is left to the native call, which names `path`,
 * instead of first allocating a result for a shape the caller got wrong.
 */
function syncResult(path: FloatArray, o: Checked, elements: () => number, opts: { out?: unknown }): FloatArray | undefined {
  if (path.length !== o.batch * o.length * o.channels) return outArg(opts);
  return resultArray(path, elements, opts);
}

/** Signatures [batch, siglen] (or the stream), same float type as `path`. */
export function signature<T extends FloatArray>(path: T, opts: SignatureOptions & OutOption<T>): T {
  assertFloatArray('path', path);
  try {
    const o = options(opts);
    return native().signature(path, o, syncResult(path, o, () => forwardElements(o), opts)) as T;
  } catch (e) {
    throw fromNative(e);
  }
}

/** Gradient of Σ gradOut · signature with respect to `path` (same shape and type as `path`). */
export function signatureBackward<T extends FloatArray>(path: T, gradOut: T, opts: SignatureOptions & OutOption<T>): T {
  assertFloatArray('path', path);
  assertFloatArray('gradOut', gradOut);
  try {
    const o = options(opts);
    return native().signatureBackward(path, gradOut, o, syncResult(path, o, () => path.length, opts)) as T;
  } catch (e) {
    throw fromNative(e);
  }
}

/** `signature` on the libuv thread pool (`path` is copied when called; see OutOption). */
export async function signatureAsync<T extends FloatArray>(path: T, opts: SignatureOptions & OutOption<T>): Promise<T> {
  assertFloatArray('path', path);
  try {
    return (await native().signatureAsync(path, options(opts), outArg(opts))) as T;
  } catch (e) {
    throw fromNative(e);
  }
}

/** `signatureBackward` on the libuv thread pool (`path` and `gradOut` are copied when called). */
export async function signatureBackwardAsync<T extends FloatArray>(path: T, gradOut: T, opts: SignatureOptions & OutOption<T>): Promise<T> {
  assertFloatArray('path', path);
  assertFloatArray('gradOut', gradOut);
  try {
    return (await native().signatureBackwardAsync(path, gradOut, options(opts), outArg(opts))) as T;
  } catch (e) {
    throw fromNative(e);
  }
}

export interface PathShape {
  batch: number;
  length: number;
  channels: number;
}

function checkPath(path: FloatArray, s: PathShape) {
  assertFloatArray('path', path);
  if (s === null || typeof s !== 'object') throw new SigvwapError('ERR_ARG', 'shape: expected an object { batch, length, channels }', { argument: 'shape' });
  assertSize('batch', s.batch);
  assertSize('length', s.length, 1);
  assertSize('channels', s.channels, 1);
  const n = s.batch * s.length * s.channels;
  if (path.length !== n) {
    throw new SigvwapError('ERR_SHAPE', `path: expected ${n} elements ([batch=${s.batch}, length=${s.length}, channels=${s.channels}]), got ${path.length}`, {
      argument: 'path',
      expected: n,
      got: path.length,
    });
  }
}

/**
 * Prepend a time channel t_i = i / (length − 1) (0 for length 1):
 * [batch, length, channels] → [batch, length, channels + 1], channel 0 = time.
 * Makes the signature injective on paths (no tree-like equivalence).
 */
export function addTime<T extends FloatArray>(path: T, s: PathShape): { path: T; shape: PathShape } {
  checkPath(path, s);
  const c1 = s.channels + 1;
  const out = arrayLike(path, s.batch * s.length * c1);
  const dt = s.length > 1 ? 1 / (s.length - 1) : 0;
  for (let b = 0; b < s.batch; b++) {
    for (let i = 0; i < s.length; i++) {
      const src = (b * s.length + i) * s.channels;
      const dst = (b * s.length + i) * c1;
      out[dst] = i * dt;
      out.set(path.subarray(src, src + s.channels), dst + 1);
    }
  }
  return { path: out as T, shape: { ...s, channels: c1 } };
}

/**
 * Lead-lag transform: [batch, length, channels] → [batch, 2·length − 1, 2·channels],
 * points (lead, lag) = (x0,x0), (x1,x0), (x1,x1), (x2,x1), …; lead channels first.
 * The level-2 antisymmetric part of its signature is the quadratic variation.
 */
export function leadLag<T extends FloatArray>(path: T, s: PathShape): { path: T; shape: PathShape } {
  checkPath(path, s);
  const L2 = 2 * s.length - 1;
  const c = s.channels;
  const out = arrayLike(path, s.batch * L2 * 2 * c);
  for (let b = 0; b < s.batch; b++) {
    for (let j = 0; j < L2; j++) {
      const lead = (j + 1) >> 1;
      const lag = j >> 1;
      const dst = (b * L2 + j) * 2 * c;
      out.set(path.subarray((b * s.length + lead) * c, (b * s.length + lead + 1) * c), dst);
      out.set(path.subarray((b * s.length + lag) * c, (b * s.length + lag + 1) * c), dst + c);
    }
  }
  return { path: out as T, shape: { batch: s.batch, length: L2, channels: 2 * c } };
}
