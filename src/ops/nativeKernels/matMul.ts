/**
 * Native BatchMatMul and _FusedMatMul kernels of the `sigvwap` backend (tfjs' `tf.matMul`
 * and `tf.fused.matMul`; MatMul is not a separate kernel in tfjs).
 *
 * Math: out = act(op(a)·op(b) + bias) per batch entry (native/core/src/matmul), float32,
 * with tfjs' shapes: a [...batchA, m, k] (or [..., k, m] with transposeA), b [...batchB, k, n]
 * (or [..., n, k]), out [...broadcast(batchA, batchB), m, n].
 * Storage: the inputs' typed arrays are read in place and the result array becomes the
 * output tensor's storage (no copy).
 * Falls back to the tfjs CPU kernel (same results, its own errors) for what the native kernel
 * does not take: non-float32 dtypes, batch shapes other than equal or 1 (tfjs' flattened
 * `i mod batch` indexing, whose other cases are not broadcasting), a bias that is not one row
 * of n values, the 'prelu' activation, and inner sizes that do not match (tfjs' message).
 * Cost: batch·m·n·k multiply-adds (gemm), one N-API call (about 1 µs).
 */
import * as tfc from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { matmulF32, type MatmulActivation } from '../../native/matmul.js';
import { isF32, values } from './common.js';

const NATIVE_ACTIVATIONS = new Set<string>(['linear', 'relu', 'relu6', 'sigmoid', 'elu', 'leakyrelu']);

interface MatmulPlan {
  batchA: number;
  batchB: number;
  m: number;
  k: number;
  n: number;
  outShape: number[];
}

/** Sizes of a tfjs batched matmul, or undefined when the native kernel does not take it. */
export function planMatmul(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): MatmulPlan | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return undefined;
  const innerA = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const innerB = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  if (innerA !== innerB) return undefined;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = tfc.util.sizeFromShape(outerA);
  const batchB = tfc.util.sizeFromShape(outerB);
  if (!(batchA === batchB || batchA === 1 || batchB === 1)) return undefined;
  // the shape checks (and their errors) of tfjs' own kernel: [2, 3] against [3, 2] does not
  // broadcast although both hold 6 matrices
  let outer: number[];
  try {
    outer = tfc.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  } catch {
    return undefined;
  }
  return { batchA, batchB, m, k: innerA, n, outShape: [...outer, m, n] };
}


export function nativeMatmulKernels(cpu: (name: string) => KernelFunc): KernelConfig[] {
  const cpuBatchMatMul = cpu(tfc.BatchMatMul);
  const cpuFused = cpu(tfc._FusedMatMul);

  const batchMatMul: KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const backend = args.backend as MathBackendCPU;
    const plan = planMatmul(a, b, transposeA, transposeB);
    if (!plan || !isF32(backend, a, b)) return cpuBatchMatMul(args);
    const out = new Float32Array(tfc.util.sizeFromShape(plan.outShape));
    matmulF32(values(backend, a), values(backend, b), out, { ...plan, transposeA, transposeB });
    return backend.makeTensorInfo(plan.outShape, 'float32', out);
  };

  const fusedMatMul: KernelFunc = (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
    const attrs = args.attrs as unknown as { transposeA: boolean; transposeB: boolean; activation?: string; leakyreluAlpha?: number };
    const plan = planMatmul(a, b, attrs.transposeA, attrs.transposeB);
    const activation = attrs.activation ?? 'linear';
    const rowBias = !bias || (bias.dtype === 'float32' && bias.shape.length >= 1 && bias.shape[bias.shape.length - 1] === plan?.n && tfc.util.sizeFromShape(bias.shape) === plan?.n);
    // a bias of higher rank than the product would broadcast the output up: tfjs' kernel handles it
    const biasFits = !bias || bias.shape.length <= (plan?.outShape.length ?? 0);
    const backend = args.backend as MathBackendCPU;
    if (!plan || !rowBias || !biasFits || preluActivationWeights || !NATIVE_ACTIVATIONS.has(activation) || !isF32(backend, a, b, ...(bias ? [bias] : []))) return cpuFused(args);
    const out = new Float32Array(tfc.util.sizeFromShape(plan.outShape));
    matmulF32(values(backend, a), values(backend, b), out, {
      ...plan, transposeA: attrs.transposeA, transposeB: attrs.transposeB, activation: activation as MatmulActivation, leakyreluAlpha: attrs.leakyreluAlpha,
    }, bias ? values(backend, bias) : undefined);
    return backend.makeTensorInfo(plan.outShape, 'float32', out);
  };

  return [
    { kernelName: tfc.BatchMatMul, backendName: '', kernelFunc: batchMatMul },
    { kernelName: tfc._FusedMatMul, backendName: '', kernelFunc: fusedMatMul },
  ] satisfies KernelConfig[];
}
