/**
 * A single-layer LSTM over a time-major sequence, as a TensorFlow.js op (tf.customGrad) whose
 * forward pass and back-propagation through time are each one fused call: on the `sigvwap`
 * (native) backend the Rust kernel of native/core/src/lstm (threaded over the batch, products
 * on the gemm crate), on the 'cpu' backend the plain TypeScript loops of `lstmForward` /
 * `lstmBackward` below. tfjs would otherwise run a composed LSTM as ~12 small kernels per step.
 * `lstmSequenceTfjs` is the same math in tfjs ops: the reference the tests check both against,
 * and what runs on the 'wasm' backend, whose XNNPACK kernels run the composition faster than
 * the TypeScript loops (s72-b1024-c7-u64 forward+backward 7.2 s against 14.6 s; a whole
 * training step of dynamic-l60-u64 3.7 s against 13.6 s), so the wasm peer is measured on its
 * own kernels.
 * The fused-op pattern (issue E's GRN, attention and TKAN follow it): Rust spec + kernel with
 * a reference in the core, an N-API call on caller-allocated arrays, a typed wrapper in
 * src/native, a tf.customGrad here that keeps the forward's arrays for the backward, and
 * parity tests against the tfjs composition (tests/ops/lstmSequence.test.ts).
 *
 * Math (gate order i, f, g, o; σ = logistic):
 *   z_t = x_t·Wx + h_{t-1}·Wh + b,  i = σ(z_i), f = σ(z_f), g = tanh(z_g), o = σ(z_o)
 *   c_t = f ⊙ c_{t-1} + i ⊙ g,      h_t = o ⊙ tanh(c_t),   h_{-1} = c_{-1} = 0.
 * Layout: x [steps, batch, channels], Wx [channels, 4·units], Wh [units, 4·units], b [4·units],
 * output h [steps, batch, units]; all float32, sums in float64.
 * Gradient: d/dWx, d/dWh, d/db always; d/dx only with `inputGrad` (the encoder's input is data,
 * so by default a zero tensor is returned for it and the work is skipped).
 * Cost: forward 4·units·(channels+units)·steps·batch multiply-adds; backward about twice that.
 * Memory (float64): step inputs, gates and cell states, (channels + 6·units)·steps·batch values.
 */
import { SigvwapError } from '../errors.js';
import { lstmBackwardF32, lstmForwardF32, type LstmDims } from '../native/lstm.js';
import { activeBackend } from './backend.js';
import { timed } from './opTimer.js';
import { tf } from './tf.js';

export interface LstmShape {
  steps: number;
  batch: number;
  channels: number;
  units: number;
}

interface ForwardCache {
  shape: LstmShape;
  /** step inputs [x_t; h_{t-1}] per step and row: [steps, batch, channels+units] */
  inputs: Float64Array;
  /** transposed weights [4·units, channels+units]: row j holds the weights of gate unit j */
  wT: Float64Array;
  /** activated gates i, f, g, o per step and row: [steps, batch, 4·units] */
  gates: Float64Array;
  /** cell states [steps, batch, units] */
  c: Float64Array;
  /** outputs [steps, batch, units] */
  h: Float32Array;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Forward pass; keeps what back-propagation needs. Gate pre-activations are dot products of
 * the step input [x_t; h_{t-1}] with rows of the transposed weights (a scalar accumulator is
 * about twice as fast in JS as accumulating into an array). */
export function lstmForward(x: Float32Array, wx: ArrayLike<number>, wh: ArrayLike<number>, bias: ArrayLike<number>, shape: LstmShape): ForwardCache {
  const { steps: S, batch: B, channels: C, units: U } = shape;
  const G = 4 * U;
  const K = C + U;
  const wT = new Float64Array(G * K);
  for (let j = 0; j < G; j++) {
    for (let k = 0; k < C; k++) wT[j * K + k] = wx[k * G + j]!;
    for (let k = 0; k < U; k++) wT[j * K + C + k] = wh[k * G + j]!;
  }
  const b0 = Float64Array.from(bias);
  const inputs = new Float64Array(S * B * K);
  const gates = new Float64Array(S * B * G);
  const c = new Float64Array(S * B * U);
  const h = new Float32Array(S * B * U);
  const z = new Float64Array(G);
  for (let t = 0; t < S; t++) {
    for (let b = 0; b < B; b++) {
      const row = t * B + b;
      const io = row * K;
      const xo = row * C;
      for (let k = 0; k < C; k++) inputs[io + k] = x[xo + k]!;
      if (t > 0) {
        const ho = (row - B) * U;
        for (let k = 0; k < U; k++) inputs[io + C + k] = h[ho + k]!;
      }
      for (let j = 0; j < G; j++) {
        let acc = b0[j]!;
        const wo = j * K;
        for (let k = 0; k < K; k++) acc += inputs[io + k]! * wT[wo + k]!;
        z[j] = acc;
      }
      const go = row * G;
      const co = row * U;
      const cp = co - B * U;
      for (let u = 0; u < U; u++) {
        const ig = sigmoid(z[u]!);
        const fg = sigmoid(z[U + u]!);
        const gg = Math.tanh(z[2 * U + u]!);
        const og = sigmoid(z[3 * U + u]!);
        gates[go + u] = ig;
        gates[go + U + u] = fg;
        gates[go + 2 * U + u] = gg;
        gates[go + 3 * U + u] = og;
        const cv = (t > 0 ? fg * c[cp + u]! : 0) + ig * gg;
        c[co + u] = cv;
        h[co + u] = og * Math.tanh(cv);
      }
    }
  }
  return { shape, inputs, wT, gates, c, h };
}

/** Back-propagation through time: gradients of Σ dh ⊙ h with respect to Wx, Wh, b (and x). */
export function lstmBackward(cache: ForwardCache, dhOut: ArrayLike<number>, inputGrad = false): { dwx: Float32Array; dwh: Float32Array; dbias: Float32Array; dx: Float32Array | undefined } {
  const { shape, inputs, wT, gates, c } = cache;
  const { steps: S, batch: B, channels: C, units: U } = shape;
  const G = 4 * U;
  const K = C + U;
  const dWT = new Float64Array(G * K);
  const db = new Float64Array(G);
  const dx = inputGrad ? new Float32Array(S * B * C) : undefined;
  const dhNext = new Float64Array(B * U);
  const dcNext = new Float64Array(B * U);
  const dz = new Float64Array(G);
  for (let t = S - 1; t >= 0; t--) {
    for (let b = 0; b < B; b++) {
      const row = t * B + b;
      const go = row * G;
      const co = row * U;
      const cp = co - B * U;
      const no = b * U;
      for (let u = 0; u < U; u++) {
        const ig = gates[go + u]!;
        const fg = gates[go + U + u]!;
        const gg = gates[go + 2 * U + u]!;
        const og = gates[go + 3 * U + u]!;
        const tc = Math.tanh(c[co + u]!);
        const dh = dhOut[co + u]! + dhNext[no + u]!;
        const dc = dh * og * (1 - tc * tc) + dcNext[no + u]!;
        const cPrev = t > 0 ? c[cp + u]! : 0;
        dz[u] = dc * gg * ig * (1 - ig);
        dz[U + u] = dc * cPrev * fg * (1 - fg);
        dz[2 * U + u] = dc * ig * (1 - gg * gg);
        dz[3 * U + u] = dh * tc * og * (1 - og);
        dcNext[no + u] = dc * fg;
      }
      const io = row * K;
      for (let j = 0; j < G; j++) {
        const d = dz[j]!;
        db[j]! += d;
        const wo = j * K;
        for (let k = 0; k < K; k++) dWT[wo + k]! += d * inputs[io + k]!;
      }
      // gradient with respect to the step input [x_t; h_{t-1}]
      const from = dx ? 0 : C;
      for (let k = from; k < K; k++) {
        let acc = 0;
        for (let j = 0; j < G; j++) acc += dz[j]! * wT[j * K + k]!;
        if (k < C) dx![row * C + k] = acc;
        else dhNext[no + k - C] = t > 0 ? acc : 0;
      }
    }
  }
  const dwx = new Float32Array(C * G);
  const dwh = new Float32Array(U * G);
  for (let j = 0; j < G; j++) {
    for (let k = 0; k < C; k++) dwx[k * G + j] = dWT[j * K + k]!;
    for (let k = 0; k < U; k++) dwh[k * G + j] = dWT[j * K + C + k]!;
  }
  return { dwx, dwh, dbias: Float32Array.from(db), dx };
}

function shapeOf(x: tf.Tensor, wx: tf.Tensor, wh: tf.Tensor, bias: tf.Tensor): LstmShape {
  if (x.rank !== 3) throw new SigvwapError('ERR_SHAPE', `x: expected [steps, batch, channels], got shape [${x.shape}]`, { argument: 'x', shape: x.shape });
  const [steps, batch, channels] = x.shape as [number, number, number];
  const units = wh.shape[0]!;
  const want: [string, tf.Tensor, number[]][] = [['wx', wx, [channels, 4 * units]], ['wh', wh, [units, 4 * units]], ['bias', bias, [4 * units]]];
  for (const [name, t, shape] of want) {
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SigvwapError('ERR_SHAPE', `${name}: expected shape [${shape}] for channels ${channels} and units ${units}, got [${t.shape}]`, { argument: name, expected: shape, actual: t.shape });
    }
  }
  return { steps, batch, channels, units };
}

/** Which implementation runs the op: 'native' (the fused Rust kernel) or 'typescript'. */
export type LstmImplementation = 'native' | 'typescript' | 'tfjs';

/** The implementation for the active tfjs backend: native on the `sigvwap` backend, the tfjs
 * composition on 'wasm', the TypeScript loops on 'cpu'. */
export function lstmImplementation(): LstmImplementation {
  const backend = activeBackend();
  return backend === 'native' ? 'native' : backend === 'wasm' ? 'tfjs' : 'typescript';
}

/** The LSTM output sequence h [steps, batch, units] (differentiable in tfjs). */
export function lstmSequence(x: tf.Tensor3D, wx: tf.Tensor2D, wh: tf.Tensor2D, bias: tf.Tensor1D, opts: { inputGrad?: boolean; implementation?: LstmImplementation } = {}): tf.Tensor3D {
  const shape = shapeOf(x, wx, wh, bias);
  const impl = opts.implementation ?? lstmImplementation();
  // tfjs' autodiff: the input gradient is computed only when something asks for it
  if (impl === 'tfjs') return lstmSequenceTfjs(x, wx, wh, bias);
  const inputGrad = opts.inputGrad ?? false;
  const { steps, batch, channels, units } = shape;
  const grads = (g: { dwx: Float32Array; dwh: Float32Array; dbias: Float32Array; dx?: Float32Array | undefined }) => [
    g.dx ? tf.tensor3d(g.dx, [steps, batch, channels]) : tf.zeros([steps, batch, channels]),
    tf.tensor2d(g.dwx, [channels, 4 * units]),
    tf.tensor2d(g.dwh, [units, 4 * units]),
    tf.tensor1d(g.dbias),
  ];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xt, wxt, wht, bt] = args as tf.Tensor[];
    // a float32 tensor made by Cast may keep its source's bool/int32 storage: copy those
    const f32 = (t: tf.Tensor): Float32Array => {
      const d = t.dataSync();
      return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
    };
    if (impl === 'native') {
      const dims: LstmDims = { steps, batch, channels, units };
      const saved = { x: f32(xt!), wx: f32(wxt!), wh: f32(wht!) };
      const out = timed('lstm forward', () => lstmForwardF32(saved.x, saved.wx, saved.wh, f32(bt!), dims));
      const value = tf.tensor3d(out.h, [steps, batch, units], 'float32');
      const gradFunc = (dy: tf.Tensor | tf.Tensor[]) => grads(timed('lstm backward', () => lstmBackwardF32({ ...saved, ...out }, f32(dy as tf.Tensor), dims, inputGrad)));
      return { value, gradFunc };
    }
    const cache = timed('lstm forward', () => lstmForward(f32(xt!), wxt!.dataSync(), wht!.dataSync(), bt!.dataSync(), shape));
    const value = tf.tensor3d(cache.h, [steps, batch, units], 'float32');
    const gradFunc = (dy: tf.Tensor | tf.Tensor[]) => grads(timed('lstm backward', () => lstmBackward(cache, (dy as tf.Tensor).dataSync(), inputGrad)));
    return { value, gradFunc };
  });
  return op(x, wx, wh, bias) as tf.Tensor3D;
}

/** The same LSTM composed of tfjs ops (reference for tests; slow on the CPU backend). */
export function lstmSequenceTfjs(x: tf.Tensor3D, wx: tf.Tensor2D, wh: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor3D {
  const { steps, batch, units } = shapeOf(x, wx, wh, bias);
  return tf.tidy(() => {
    let h: tf.Tensor2D = tf.zeros([batch, units]);
    let c: tf.Tensor2D = tf.zeros([batch, units]);
    const out: tf.Tensor2D[] = [];
    for (let t = 0; t < steps; t++) {
      const xt = tf.reshape(tf.slice(x, [t, 0, 0], [1, -1, -1]), [batch, -1]) as tf.Tensor2D;
      const z = tf.add(tf.add(tf.matMul(xt, wx), tf.matMul(h, wh)), bias) as tf.Tensor2D;
      const [zi, zf, zg, zo] = tf.split(z, 4, 1) as tf.Tensor2D[];
      c = tf.add(tf.mul(tf.sigmoid(zf!), c), tf.mul(tf.sigmoid(zi!), tf.tanh(zg!))) as tf.Tensor2D;
      h = tf.mul(tf.sigmoid(zo!), tf.tanh(c)) as tf.Tensor2D;
      out.push(h);
    }
    return tf.stack(out) as tf.Tensor3D;
  });
}
