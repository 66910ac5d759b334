/**
 * Helpers of the native kernels of the `sigvwap` backend: a tensor's typed array (read in
 * place), row-major strides, and the size below which a kernel stays on tfjs' CPU code.
 *
 * Why a threshold: a native call costs a fixed ~1-2 µs (N-API argument conversion, the
 * shape arrays), while tfjs' CPU loops on a few hundred values finish in about that time;
 * below NATIVE_MIN_ELEMENTS output values the CPU kernel is as fast or faster
 * (measured by bench/kernels.bench.ts; see docs/architecture.md "Backends").
 */
import type { DataType, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

/** Outputs smaller than this run on the CPU kernel (see the header). */
export let NATIVE_MIN_ELEMENTS = 1024;

/** Change the threshold (bench/kernels.bench.ts measures both sides of it); returns the old one. */
export function setNativeMinElements(n: number): number {
  const old = NATIVE_MIN_ELEMENTS;
  NATIVE_MIN_ELEMENTS = n;
  return old;
}

export function values(backend: MathBackendCPU, t: TensorInfo): Float32Array {
  return backend.data.get(t.dataId).values as Float32Array;
}

/**
 * Whether every tensor is float32 *and stored as a Float32Array*: tfjs' CPU Cast shares the
 * storage of a bool or int32 tensor cast to float32 (a Uint8Array or Int32Array under a
 * float32 dtype), which the native kernels must not read as f32.
 */
export function isF32(backend: MathBackendCPU, ...ts: TensorInfo[]): boolean {
  return ts.every((t) => t.dtype === ('float32' as DataType) && backend.data.get(t.dataId)?.values instanceof Float32Array);
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of `shape`, in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}
