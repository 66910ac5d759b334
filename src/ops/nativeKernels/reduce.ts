/**
 * Native reductions of the `sigvwap` backend: Sum, Mean and Max over a contiguous run of
 * axes (viewed as the middle axis of [outer, n, inner]: no transpose, where tfjs' CPU kernel
 * transposes the reduced axes innermost first), and Softmax over the last axis in one kernel
 * (tfjs' CPU Softmax is five kernels: max, sub, exp, sum, div)
 * (native/core/src/tensor/reduce.rs). Sums accumulate in double like tfjs'. float32 inputs of
 * at least NATIVE_MIN_ELEMENTS values run natively; other dtypes, small tensors, empty or
 * non-contiguous axis lists and invalid arguments go to the CPU kernel.
 * Cost: one pass over the input (softmax: two, and one exp per value).
 */
import * as tfc from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { reduceF32, softmaxF32, type ReduceOpName } from '../../native/tensorOps.js';
import { NATIVE_MIN_ELEMENTS, isF32, sizeOf, values } from './common.js';

/** [outer, n, inner] and the output shape of a reduction over `axis`, or undefined. */
function plan(x: TensorInfo, axis: number | number[], keepDims: boolean): { outer: number; n: number; inner: number; shape: number[] } | undefined {
  let axes: number[];
  try {
    axes = [...tfc.util.parseAxisParam(axis, x.shape)].sort((a, b) => a - b);
  } catch {
    return undefined;
  }
  if (axes.length === 0 || axes.some((a, i) => i > 0 && a !== axes[i - 1]! + 1)) return undefined;
  const first = axes[0]!;
  const last = axes[axes.length - 1]!;
  const outer = sizeOf(x.shape.slice(0, first));
  const n = sizeOf(x.shape.slice(first, last + 1));
  const inner = sizeOf(x.shape.slice(last + 1));
  const shape = keepDims ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : x.shape.filter((_, i) => i < first || i > last);
  return { outer, n, inner, shape };
}

export function nativeReduceKernels(cpu: (name: string) => KernelFunc): KernelConfig[] {
  const reduction = (name: string, op: ReduceOpName, axisAttr: 'axis' | 'reductionIndices'): KernelConfig => {
    const fallback = cpu(name);
    const kernelFunc: KernelFunc = (args) => {
      const { x } = args.inputs as { x: TensorInfo };
      const attrs = args.attrs as unknown as Record<string, unknown>;
      if (!isF32(args.backend as MathBackendCPU, x) || sizeOf(x.shape) < NATIVE_MIN_ELEMENTS) return fallback(args);
      const p = plan(x, attrs[axisAttr] as number | number[], Boolean(attrs.keepDims));
      if (!p || (op === 'max' && p.n === 0)) return fallback(args);
      const backend = args.backend as MathBackendCPU;
      const out = new Float32Array(p.outer * p.inner);
      reduceF32(op, values(backend, x), out, p.outer, p.n, p.inner);
      return backend.makeTensorInfo(p.shape, 'float32', out);
    };
    return { kernelName: name, backendName: '', kernelFunc };
  };

  const softmax: KernelFunc = (args) => {
    const { logits } = args.inputs as { logits: TensorInfo };
    const { dim } = args.attrs as unknown as { dim: number };
    const rank = logits.shape.length;
    const size = sizeOf(logits.shape);
    if (!isF32(args.backend as MathBackendCPU, logits) || rank === 0 || (dim !== -1 && dim !== rank - 1) || size < NATIVE_MIN_ELEMENTS) return cpu(tfc.Softmax)(args);
    const backend = args.backend as MathBackendCPU;
    const n = logits.shape[rank - 1]!;
    const out = new Float32Array(size);
    softmaxF32(values(backend, logits), out, n === 0 ? 0 : size / n, n);
    return backend.makeTensorInfo(logits.shape, 'float32', out);
  };

  return [
    reduction(tfc.Sum, 'sum', 'axis'),
    reduction(tfc.Mean, 'mean', 'axis'),
    reduction(tfc.Max, 'max', 'reductionIndices'),
    { kernelName: tfc.Softmax, backendName: '', kernelFunc: softmax },
  ];
}
