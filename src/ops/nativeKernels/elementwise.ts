/**
 * Native element-wise kernels of the `sigvwap` backend:
 *   binary  Add, Sub, Multiply, RealDiv, Maximum, Minimum: out = a ∘ b with tfjs broadcasting
 *   unary   Sigmoid, Tanh, Relu, Exp, Neg, Abs, Square
 * (native/core/src/tensor/{binary,unary}.rs). float32 inputs of at least NATIVE_MIN_ELEMENTS
 * output values run natively; everything else (other dtypes, small tensors) on the CPU
 * kernel. Same results as tfjs' CPU kernels (transcendentals in double, rounded once).
 * Cost: one pass over the output; tfjs' CPU backend runs broadcasting other than
 * "same shape" or "scalar" as a per-element index computation, 10-100× slower.
 */
import * as tfc from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { binaryF32, unaryF32, type BinaryOpName, type UnaryOpName } from '../../native/tensorOps.js';
import { NATIVE_MIN_ELEMENTS, isF32, sizeOf, values } from './common.js';

const BINARY: [string, BinaryOpName][] = [
  [tfc.Add, 'add'], [tfc.Sub, 'sub'], [tfc.Multiply, 'mul'], [tfc.RealDiv, 'div'], [tfc.Maximum, 'max'], [tfc.Minimum, 'min'],
];
const UNARY: [string, UnaryOpName][] = [
  [tfc.Sigmoid, 'sigmoid'], [tfc.Tanh, 'tanh'], [tfc.Relu, 'relu'], [tfc.Exp, 'exp'], [tfc.Neg, 'neg'], [tfc.Abs, 'abs'], [tfc.Square, 'square'],
];

export function nativeElementwiseKernels(cpu: (name: string) => KernelFunc): KernelConfig[] {
  const binary = ([name, op]: [string, BinaryOpName]): KernelConfig => {
    const fallback = cpu(name);
    const kernelFunc: KernelFunc = (args) => {
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      if (!isF32(args.backend as MathBackendCPU, a, b)) return fallback(args);
      let shape: number[];
      try {
        shape = tfc.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
      } catch {
        return fallback(args); // tfjs' own error message
      }
      const n = sizeOf(shape);
      if (n < NATIVE_MIN_ELEMENTS) return fallback(args);
      const backend = args.backend as MathBackendCPU;
      const out = new Float32Array(n);
      binaryF32(op, values(backend, a), a.shape, values(backend, b), b.shape, out);
      return backend.makeTensorInfo(shape, 'float32', out);
    };
    return { kernelName: name, backendName: '', kernelFunc };
  };
  const unary = ([name, op]: [string, UnaryOpName]): KernelConfig => {
    const fallback = cpu(name);
    const kernelFunc: KernelFunc = (args) => {
      const { x } = args.inputs as { x: TensorInfo };
      const n = sizeOf(x.shape);
      if (!isF32(args.backend as MathBackendCPU, x) || n < NATIVE_MIN_ELEMENTS) return fallback(args);
      const backend = args.backend as MathBackendCPU;
      const out = new Float32Array(n);
      unaryF32(op, values(backend, x), out);
      return backend.makeTensorInfo(x.shape, 'float32', out);
    };
    return { kernelName: name, backendName: '', kernelFunc };
  };
  return [...BINARY.map(binary), ...UNARY.map(unary)];
}
