/**
 * The 'kan' cell of the TKAN layer (src/layers/tkan.ts) over a time-major sequence, as a
 * TensorFlow.js op: on the `sigvwap` (native) backend a tf.customGrad whose forward pass and
 * back-propagation through time are each one fused call of the Rust kernel of
 * native/core/src/tkan (threaded over the batch, products on the gemm crate); on every other
 * backend (cpu, wasm) `tkanSequenceTfjs`, the same math in tfjs ops, which is also the
 * reference the parity tests compare the kernel with (tests/ops/tkanSequence.test.ts). The
 * composition runs about a dozen small tfjs kernels per step forward and more backward. The
 * fused-op pattern is the LSTM's (src/ops/lstmSequence.ts).
 *
 * Math, per step t (x_t [C], states h, c [U] and the KAN memory m [K], all zero at the start):
 *   s_t = x_t·A_x + m_{t-1}·A_m + a,   φ_t = base(s_t)·Φ_b + B(s_t)·Φ_s,
 *   m_t = tanh(φ_t·M_φ + m_{t-1}·M_m + μ),   [i, f, g] = [σ, σ, tanh](x_t·W + h_{t-1}·W_h + b),
 *   o_t = σ(φ_t·W_o + b_o),   c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o_t ⊙ tanh(c_t)
 * with base SiLU, ReLU or identity and B the cubic B-spline basis of `cubicBSplineBasis`.
 * Layout: x [steps, batch, C], the layer's weights (`TkanSequenceWeights`, names as the
 * layer's), output h [steps, batch, U]; float32.
 * Gradient: every weight always; x unless `inputGrad: false` (then zeros and no work).
 * Cost per step and row: 3U·(C + U) + K·(C + K) + K²·(G + 4) + 2K² + K·U multiply-adds
 * forward, about twice that backward; the native forward keeps 6U + 3K floats per step and
 * row for the backward.
 */
import { SigvwapError } from '../errors.js';
import { TKAN_WEIGHT_NAMES, tkanBackwardF32, tkanForwardF32, type TkanDims, type TkanWeightArrays, type TkanWeightName } from '../native/tkan.js';
import { activeBackend } from './backend.js';
import { timed } from './opTimer.js';
import { tf } from './tf.js';

export type TkanBaseActivation = 'silu' | 'relu' | 'linear';

/** The 'kan' cell's weights, by the TKAN layer's names. */
export interface TkanSequenceWeights {
  kernel: tf.Tensor2D;
  recurrentKernel: tf.Tensor2D;
  bias: tf.Tensor1D;
  kanKernel: tf.Tensor2D;
  kanRecurrentKernel: tf.Tensor2D;
  kanBias: tf.Tensor1D;
  splineKernel: tf.Tensor2D;
  baseKernel: tf.Tensor2D;
  memoryKernel: tf.Tensor2D;
  memoryRecurrentKernel: tf.Tensor2D;
  memoryBias: tf.Tensor1D;
  outputKernel: tf.Tensor2D;
  outputBias: tf.Tensor1D;
}

export interface TkanSequenceOptions {
  /** Grid intervals G of the B-spline basis */
  gridSize: number;
  gridMin: number;
  gridMax: number;
  baseActivation: TkanBaseActivation;
  /** ∂/∂x (default true: a stacked layer trains through it) */
  inputGrad?: boolean;
  /** default: 'native' on the native backend, else 'tfjs' */
  implementation?: TkanImplementation;
}

/** Which implementation runs the op: the fused Rust kernel or the tfjs composition. */
export type TkanImplementation = 'native' | 'tfjs';

let forced: TkanImplementation | null = null;

/** Run every TKAN sequence on `impl` (null: by the backend again). For benchmarks: the tfjs
 * composition on the native backend is the before of the fused kernel. */
export function setTkanImplementation(impl: TkanImplementation | null): void {
  forced = impl;
}

/** The fused kernel on the native backend, the tfjs composition elsewhere (unless set). */
export function tkanImplementation(): TkanImplementation {
  return forced ?? (activeBackend() === 'native' ? 'native' : 'tfjs');
}

/**
 * The cubic B-spline basis of every KAN input: s [rows, K] → [rows, K·(G+3)], the G + 3 basis
 * values of input k at columns k·(G+3) .. k·(G+3)+G+2: centres gridMin + (j − 1)·h,
 * h = (gridMax − gridMin)/G, N(v) = ((2 − |v|)₊³ − 4·(1 − |v|)₊³)/6 of v = (s − centre)/h.
 */
export function cubicBSplineBasis(s: tf.Tensor2D, gridSize: number, gridMin: number, gridMax: number): tf.Tensor2D {
  const G = gridSize;
  const h = (gridMax - gridMin) / G;
  const centres = tf.tensor1d(Array.from({ length: G + 3 }, (_, j) => gridMin + (j - 1) * h));
  const a = tf.abs(tf.div(tf.sub(tf.expandDims(s, 2), centres), h));
  // N = (2 − a)₊³/6 − 4·(1 − a)₊³/6: both pieces at once, no branch (tfjs has no gradient
  // for the comparison a where() would need)
  const cube = (t: tf.Tensor) => tf.mul(t, tf.square(t));
  const b = tf.mul(1 / 6, tf.sub(cube(tf.relu(tf.sub(2, a))), tf.mul(4, cube(tf.relu(tf.sub(1, a))))));
  return tf.reshape(b, [s.shape[0], s.shape[1] * (G + 3)]);
}

function dimsOf(x: tf.Tensor, w: TkanSequenceWeights, opts: TkanSequenceOptions): TkanDims {
  if (x.rank !== 3) throw new SigvwapError('ERR_SHAPE', `x: expected [steps, batch, channels], got shape [${x.shape}]`, { argument: 'x', shape: x.shape });
  const [steps, batch, channels] = x.shape as [number, number, number];
  const units = w.recurrentKernel.shape[0]!;
  const kanUnits = w.kanRecurrentKernel.shape[0]!;
  const G = opts.gridSize;
  const U = units;
  const K = kanUnits;
  const want: Record<TkanWeightName, number[]> = {
    kernel: [channels, 3 * U], recurrentKernel: [U, 3 * U], bias: [3 * U], kanKernel: [channels, K], kanRecurrentKernel: [K, K], kanBias: [K],
    splineKernel: [K * (G + 3), K], baseKernel: [K, K], memoryKernel: [K, K], memoryRecurrentKernel: [K, K], memoryBias: [K], outputKernel: [K, U], outputBias: [U],
  };
  for (const name of TKAN_WEIGHT_NAMES) {
    const t = w[name];
    const shape = want[name];
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SigvwapError('ERR_SHAPE', `${name}: expected shape [${shape}] for channels ${channels}, units ${U}, kanUnits ${K}, gridSize ${G}, got [${t.shape}]`, { argument: name, expected: shape, actual: t.shape });
    }
  }
  return { steps, batch, channels, units, kanUnits, gridSize: G, gridMin: opts.gridMin, gridMax: opts.gridMax, baseActivation: opts.baseActivation };
}

/** The 'kan' TKAN output sequence h [steps, batch, units] (differentiable in tfjs). */
export function tkanSequence(x: tf.Tensor3D, w: TkanSequenceWeights, opts: TkanSequenceOptions): tf.Tensor3D {
  const dims = dimsOf(x, w, opts);
  const impl = opts.implementation ?? tkanImplementation();
  if (impl === 'tfjs') return tkanSequenceTfjs(x, w, opts);
  const inputGrad = opts.inputGrad ?? true;
  const { steps, batch, channels, units } = dims;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xt, ...wt] = args as tf.Tensor[];
    // a float32 tensor made by Cast may keep its source's bool/int32 storage: copy those
    const f32 = (t: tf.Tensor): Float32Array => {
      const d = t.dataSync();
      return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
    };
    const xs = f32(xt!);
    const weights = Object.fromEntries(TKAN_WEIGHT_NAMES.map((n, i) => [n, f32(wt[i]!)])) as TkanWeightArrays;
    const saved = timed('tkan forward', () => tkanForwardF32(xs, weights, dims));
    const value = tf.tensor3d(saved.h, [steps, batch, units], 'float32');
    const gradFunc = (dy: tf.Tensor | tf.Tensor[]) => {
      const g = timed('tkan backward', () => tkanBackwardF32(xs, weights, saved, f32(dy as tf.Tensor), dims, inputGrad));
      return [
        g.dx ? tf.tensor3d(g.dx, [steps, batch, channels]) : tf.zeros([steps, batch, channels]),
        ...TKAN_WEIGHT_NAMES.map((n) => tf.tensor(g.grads[n], w[n].shape, 'float32')),
      ];
    };
    return { value, gradFunc };
  });
  return op(x, ...TKAN_WEIGHT_NAMES.map((n) => w[n])) as tf.Tensor3D;
}

/** The same sequence composed of tfjs ops: the reference of the tests, and what runs on the
 * cpu and wasm backends (about a dozen small kernels per step). */
export function tkanSequenceTfjs(xt: tf.Tensor3D, w: TkanSequenceWeights, opts: TkanSequenceOptions): tf.Tensor3D {
  const { steps: T, batch: B, channels: C, units: U, kanUnits: K } = dimsOf(xt, w, opts);
  return tf.tidy(() => {
    const base = (s: tf.Tensor2D): tf.Tensor2D => {
      if (opts.baseActivation === 'relu') return tf.relu(s);
      if (opts.baseActivation === 'linear') return s;
      return tf.mul(s, tf.sigmoid(s));
    };
    const rows = tf.reshape(xt, [T * B, C]) as tf.Tensor2D;
    // the input products of every step at once; per step a contiguous [B, ·] slice
    // (slices, not tf.unstack: Unpack's gradient fails on a single step)
    const perStep = (a: tf.Tensor, width: number) => Array.from({ length: T }, (_, t) => tf.slice(a, [t * B, 0], [B, width]) as tf.Tensor2D);
    const xGates = perStep(tf.add(tf.matMul(rows, w.kernel), w.bias), 3 * U);
    const xKan = perStep(tf.add(tf.matMul(rows, w.kanKernel), w.kanBias), K);
    const mm = (a: tf.Tensor, v: tf.Tensor2D) => tf.matMul(a as tf.Tensor2D, v);
    let h: tf.Tensor2D | null = null;
    let c: tf.Tensor2D | null = null;
    let m: tf.Tensor2D | null = null;
    const out: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      // zero initial states: the first step skips the recurrent products
      const s = m ? tf.add(xKan[t]!, mm(m, w.kanRecurrentKernel)) as tf.Tensor2D : xKan[t]!;
      const phi = tf.add(mm(base(s), w.baseKernel), mm(cubicBSplineBasis(s, opts.gridSize, opts.gridMin, opts.gridMax), w.splineKernel));
      const memPre = tf.add(mm(phi, w.memoryKernel), w.memoryBias);
      m = tf.tanh(m ? tf.add(memPre, mm(m, w.memoryRecurrentKernel)) : memPre) as tf.Tensor2D;
      const z = h ? tf.add(xGates[t]!, mm(h, w.recurrentKernel)) : xGates[t]!;
      const [zi, zf, zg] = tf.split(z, 3, 1) as tf.Tensor2D[];
      const o = tf.sigmoid(tf.add(mm(phi, w.outputKernel), w.outputBias));
      const ig = tf.mul(tf.sigmoid(zi!), tf.tanh(zg!));
      c = (c ? tf.add(tf.mul(tf.sigmoid(zf!), c), ig) : ig) as tf.Tensor2D;
      h = tf.mul(o, tf.tanh(c)) as tf.Tensor2D;
      out.push(h);
    }
    return tf.stack(out) as tf.Tensor3D;
  });
}
