/**
 * Typed wrappers of the native element-wise, copy and reduction kernels
 * (native/core/src/tensor) that the `sigvwap` tfjs backend calls. float32, row-major; the
 * caller allocates `out`/`dst`, which is written in place. Sync only (tfjs kernels are
 * synchronous). The native layer checks every length and shape (ERR_SHAPE / ERR_ARG naming
 * the argument); these wrappers only convert errors, since they run once per tfjs op.
 *   binaryF32(op, a, aShape, b, bShape, out)   out = a ∘ b, broadcast (add sub mul div max min)
 *   unaryF32(op, x, out)                        sigmoid tanh relu exp neg abs square
 *   stridedCopyF32(shape, src, so, ss, dst, do, ds)   dst[do + i·ds] = src[so + i·ss]
 *   reduceF32(op, x, out, outer, n, inner)      sum / mean / max over n of [outer, n, inner]
 *   softmaxF32(x, out, rows, n)                 row softmax of [rows, n]
 * Cost: one pass over the output (softmax two), on the calling thread.
 */
import { fromNative } from '../errors.js';
import { native } from './binding.js';

export type BinaryOpName = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min';
export type UnaryOpName = 'sigmoid' | 'tanh' | 'relu' | 'exp' | 'neg' | 'abs' | 'square';
export type ReduceOpName = 'sum' | 'mean' | 'max';

export function binaryF32(op: BinaryOpName, a: Float32Array, aShape: readonly number[], b: Float32Array, bShape: readonly number[], out: Float32Array): void {
  try {
    native().binaryF32(op, a, aShape as number[], b, bShape as number[], out);
  } catch (e) {
    throw fromNative(e);
  }
}

export function unaryF32(op: UnaryOpName, x: Float32Array, out: Float32Array): void {
  try {
    native().unaryF32(op, x, out);
  } catch (e) {
    throw fromNative(e);
  }
}

export function stridedCopyF32(shape: readonly number[], src: Float32Array, srcOffset: number, srcStrides: readonly number[], dst: Float32Array, dstOffset: number, dstStrides: readonly number[]): void {
  try {
    native().stridedCopyF32(shape as number[], src, srcOffset, srcStrides as number[], dst, dstOffset, dstStrides as number[]);
  } catch (e) {
    throw fromNative(e);
  }
}

export function reduceF32(op: ReduceOpName, x: Float32Array, out: Float32Array, outer: number, n: number, inner: number): void {
  try {
    native().reduceF32(op, x, out, outer, n, inner);
  } catch (e) {
    throw fromNative(e);
  }
}

export function softmaxF32(x: Float32Array, out: Float32Array, rows: number, n: number): void {
  try {
    native().softmaxF32(x, out, rows, n);
  } catch (e) {
    throw fromNative(e);
  }
}
