/**
 * Typed wrapper of the native batched matrix product (native/core/src/matmul):
 * out = act(op(a)·op(b) + bias) for each of max(batchA, batchB) matrices, float32, row-major;
 * a is [batchA, m, k] ([batchA, k, m] with transposeA), b is [batchB, k, n] ([batchB, n, k]
 * with transposeB), bias has n values, out is [batch, m, n] and is written in place.
 * A batch of 1 broadcasts; other unequal batches are ERR_ARG (tfjs' other cases stay on its
 * own kernel). Cost: batch·m·n·k multiply-adds on the `gemm` crate over the native pool.
 * Sync only: it serves the `sigvwap` tfjs backend, whose kernels are synchronous. The
 * native layer checks every length (ERR_SHAPE naming the array); this wrapper adds nothing
 * on the hot path but the error conversion (it runs once per tfjs matMul).
 */
import { fromNative } from '../errors.js';
import { native } from './binding.js';

export type MatmulActivation = 'linear' | 'relu' | 'relu6' | 'sigmoid' | 'elu' | 'leakyrelu';

export interface MatmulShape {
  batchA: number;
  batchB: number;
  m: number;
  k: number;
  n: number;
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: MatmulActivation;
  /** slope of 'leakyrelu' below 0 (default 0.2, as tfjs) */
  leakyreluAlpha?: number;
}

/** out = act(op(a)·op(b) + bias), batched; see the file header. */
export function matmulF32(a: Float32Array, b: Float32Array, out: Float32Array, shape: MatmulShape, bias?: Float32Array): void {
  try {
    native().matmulF32(a, b, out, shape, bias);
  } catch (e) {
    throw fromNative(e);
  }
}
