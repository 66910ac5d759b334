/**
 * Native data-movement kernels of the `sigvwap` backend, all one native loop, a copy between
 * two strided views (native/core/src/tensor/strided.rs):
 *   Transpose  source strides permuted          Slice   source offset (non-contiguous slices)
 *   Concat     each input at its offset         PadV2   the input at its offset in a filled output
 *   SplitV     one slice per part               Unpack  one slice per index of the axis
 * tfjs-backend-cpu runs these (except contiguous slices, which it returns as views, and which
 * stay there) as per-element index arithmetic. float32 with at least NATIVE_MIN_ELEMENTS
 * values runs natively; other dtypes, small tensors and invalid arguments go to the CPU
 * kernel (its results, its errors). Cost: one pass over the output.
 */
import * as tfc from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { stridedCopyF32 } from '../../native/tensorOps.js';
import { NATIVE_MIN_ELEMENTS, isF32, sizeOf, stridesOf, values } from './common.js';

/** Slices of x along `axis` at `begins` with `sizes` (shapes keep the axis unless `drop`). */
function slices(backend: MathBackendCPU, x: TensorInfo, axis: number, begins: number[], sizes: number[], drop: boolean): TensorInfo[] {
  const xs = stridesOf(x.shape);
  const src = values(backend, x);
  return begins.map((begin, i) => {
    const shape = [...x.shape];
    shape[axis] = sizes[i]!;
    const out = new Float32Array(sizeOf(shape));
    stridedCopyF32(shape, src, begin * xs[axis]!, xs, out, 0, stridesOf(shape));
    const outShape = drop ? shape.filter((_, d) => d !== axis) : shape;
    return backend.makeTensorInfo(outShape, 'float32', out);
  });
}

export function nativeCopyKernels(cpu: (name: string) => KernelFunc): KernelConfig[] {
  const transpose: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { perm } = args.attrs as unknown as { perm: number[] };
    const n = sizeOf(x.shape);
    if (!isF32(args.backend as MathBackendCPU, x) || n < NATIVE_MIN_ELEMENTS || perm.length !== x.shape.length) return cpu(tfc.Transpose)(args);
    const backend = args.backend as MathBackendCPU;
    const xs = stridesOf(x.shape);
    const shape = perm.map((p) => x.shape[p]!);
    const out = new Float32Array(n);
    stridedCopyF32(shape, values(backend, x), 0, perm.map((p) => xs[p]!), out, 0, stridesOf(shape));
    return backend.makeTensorInfo(shape, 'float32', out);
  };

  const slice: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    if (!isF32(args.backend as MathBackendCPU, x)) return cpu(tfc.Slice)(args);
    let b: number[];
    let s: number[];
    try {
      const parsed = tfc.slice_util.parseSliceParams(x as tfc.Tensor, begin, size);
      b = parsed[0]!;
      s = parsed[1]!;
      tfc.slice_util.assertParamsValid(x as tfc.Tensor, b, s);
    } catch {
      return cpu(tfc.Slice)(args);
    }
    // contiguous slices are zero-copy views on the CPU kernel
    if (sizeOf(s) < NATIVE_MIN_ELEMENTS || tfc.slice_util.isSliceContinous(x.shape, b, s)) return cpu(tfc.Slice)(args);
    const backend = args.backend as MathBackendCPU;
    const xs = stridesOf(x.shape);
    const out = new Float32Array(sizeOf(s));
    stridedCopyF32(s, values(backend, x), b.reduce((acc, v, d) => acc + v * xs[d]!, 0), xs, out, 0, stridesOf(s));
    return backend.makeTensorInfo(s, 'float32', out);
  };

  const concat: KernelFunc = (args) => {
    const inputs = args.inputs as unknown as TensorInfo[];
    const { axis } = args.attrs as unknown as { axis: number };
    if (inputs.length < 2 || !isF32(args.backend as MathBackendCPU, ...inputs)) return cpu(tfc.Concat)(args);
    let ax: number;
    let shape: number[];
    try {
      ax = tfc.util.parseAxisParam(axis, inputs[0]!.shape)[0]!;
      tfc.backend_util.assertParamsConsistent(inputs.map((t) => t.shape), ax);
      shape = tfc.backend_util.computeOutShape(inputs.map((t) => t.shape), ax);
    } catch {
      return cpu(tfc.Concat)(args);
    }
    const n = sizeOf(shape);
    if (n < NATIVE_MIN_ELEMENTS) return cpu(tfc.Concat)(args);
    const backend = args.backend as MathBackendCPU;
    const out = new Float32Array(n);
    const os = stridesOf(shape);
    let at = 0;
    for (const t of inputs) {
      if (sizeOf(t.shape) > 0) stridedCopyF32(t.shape, values(backend, t), 0, stridesOf(t.shape), out, at * os[ax]!, os);
      at += t.shape[ax]!;
    }
    return backend.makeTensorInfo(shape, 'float32', out);
  };

  const padV2: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { paddings, constantValue } = args.attrs as unknown as { paddings: [number, number][]; constantValue: number };
    if (!isF32(args.backend as MathBackendCPU, x) || paddings.length !== x.shape.length || paddings.some(([a, b]) => a < 0 || b < 0)) return cpu(tfc.PadV2)(args);
    const shape = paddings.map(([before, after], d) => before + x.shape[d]! + after);
    const n = sizeOf(shape);
    if (n < NATIVE_MIN_ELEMENTS) return cpu(tfc.PadV2)(args);
    const backend = args.backend as MathBackendCPU;
    const out = new Float32Array(n);
    if (constantValue !== 0) out.fill(constantValue);
    const os = stridesOf(shape);
    if (sizeOf(x.shape) > 0) stridedCopyF32(x.shape, values(backend, x), 0, stridesOf(x.shape), out, paddings.reduce((acc, [before], d) => acc + before * os[d]!, 0), os);
    return backend.makeTensorInfo(shape, 'float32', out);
  };

  const splitV: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    if (!isF32(args.backend as MathBackendCPU, x) || sizeOf(x.shape) < NATIVE_MIN_ELEMENTS) return cpu(tfc.SplitV)(args);
    let ax: number;
    let sizes: number[];
    try {
      ax = tfc.util.parseAxisParam(axis, x.shape)[0]!;
      sizes = tfc.backend_util.prepareSplitSize(x as tfc.Tensor, numOrSizeSplits, ax);
    } catch {
      return cpu(tfc.SplitV)(args);
    }
    const begins = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    return slices(args.backend as MathBackendCPU, x, ax, begins, sizes, false);
  };

  const unpack: KernelFunc = (args) => {
    const { value } = args.inputs as { value: TensorInfo };
    const { axis } = args.attrs as unknown as { axis: number };
    const ax = axis < 0 ? axis + value.shape.length : axis;
    if (!isF32(args.backend as MathBackendCPU, value) || sizeOf(value.shape) < NATIVE_MIN_ELEMENTS || ax < 0 || ax >= value.shape.length) return cpu(tfc.Unpack)(args);
    const num = value.shape[ax]!;
    return slices(args.backend as MathBackendCPU, value, ax, Array.from({ length: num }, (_, i) => i), new Array<number>(num).fill(1), true);
  };

  return [
    { kernelName: tfc.Transpose, backendName: '', kernelFunc: transpose },
    { kernelName: tfc.Slice, backendName: '', kernelFunc: slice },
    { kernelName: tfc.Concat, backendName: '', kernelFunc: concat },
    { kernelName: tfc.PadV2, backendName: '', kernelFunc: padV2 },
    { kernelName: tfc.SplitV, backendName: '', kernelFunc: splitV },
    { kernelName: tfc.Unpack, backendName: '', kernelFunc: unpack },
  ];
}
