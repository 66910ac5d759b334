/**
 * The gated residual network (docs/method.md §5, src/layers/grn.ts) without a context input, as
 * a TensorFlow.js op (tf.customGrad) whose forward and backward passes are each one fused native
 * call on the `sigvwap` (native) backend (native/core/src/grn: blocks of rows on the pool, each
 * running its products on the crate's gemm and its normalization while its arrays are in cache).
 * On 'cpu' and 'wasm' it is `grnTfjs`, the tfjs composition the layer always ran, which stays the
 * reference the parity tests compare with (tests/ops/fusedLayers.test.ts). The LSTM's fused-op
 * pattern (src/ops/lstmSequence.ts).
 * Plain or stacked: with stacked weights (rank 3, S GRNs: VariableSelection's per-variable GRNs,
 * S = V) x is [S, ..., in] and GRN s runs on x[s] with weights [s]; still one native call each
 * way for all S. The GRN with a context input (c·Wc) stays on the composition
 * (src/layers/grn.ts `applyGrn` routes every other GRN here).
 *
 * Math, over the last axis (h = hidden, u = units), per GRN of the stack:
 *   η = ELU(x·W1 + b1),  e = η·W2 + b2,  GLU = (e·Wv + bv) ⊙ σ(e·Wg + bg)
 *   y = LayerNorm(skip(x) + GLU) = γ ⊙ (s − mean s) / √(var s + ε) + β
 *   skip(x) = x (in = u) or x·Ws + bs (in ≠ u)
 * Layout: plain: x [..., in] → y [..., units]; W1 [in, h], b1 [h], W2 [h, h], b2 [h], Wv, Wg
 * [h, u], bv, bg [u], Ws [in, u], bs [u], γ, β [u]. Stacked: x [S, ..., in] → y [S, ..., units],
 * every weight with a leading [S] (W1 [S, in, h], b1 [S, h], ..., γ, β [S, u]), the layout of
 * `addGrnWeights` with `stack` (checkpoints unchanged).
 * Gradient: every weight and x.
 * Cost per row and GRN: in·h + h² + 2·h·u (+ in·u) multiply-adds forward, about twice backward.
 * Memory: the fused forward keeps S·rows·(2h + 3u + 1) floats for the backward.
 */
import { SigvwapError } from '../errors.js';
import { grnBackwardF32, grnForwardF32, grnParamParts, type GrnDims, type GrnParamName } from '../native/grn.js';
import { f32Of, type FusedImplementation, fusedImplementation } from './causalAttention.js';
import { timed } from './opTimer.js';
import { tf } from './tf.js';

export interface GrnOpWeights {
  w1: tf.Tensor;
  b1: tf.Tensor;
  w2: tf.Tensor;
  b2: tf.Tensor;
  wv: tf.Tensor;
  bv: tf.Tensor;
  wg: tf.Tensor;
  bg: tf.Tensor;
  /** the skip projection, exactly when in ≠ units */
  ws?: tf.Tensor | null;
  bs?: tf.Tensor | null;
  gamma: tf.Tensor;
  beta: tf.Tensor;
}

function shapeError(name: string, expected: number[], actual: readonly number[] | null, what: string): SigvwapError {
  return new SigvwapError('ERR_SHAPE', `${name}: expected shape [${expected}] for ${what}, got ${actual ? `[${actual}]` : 'none'}`, { argument: name, expected, actual });
}

/** The sizes of a call, checked against every weight's shape (stacked when W1 has rank 3). */
function dimsOf(x: tf.Tensor, w: GrnOpWeights, epsilon: number): GrnDims & { stack: number } {
  if (x.rank < 2) throw new SigvwapError('ERR_SHAPE', `x: expected rank >= 2, got shape [${x.shape}]`, { argument: 'x', shape: x.shape });
  const stacked = w.w1.rank === 3;
  const lead = stacked ? [w.w1.shape[0]!] : [];
  const stack = stacked ? w.w1.shape[0]! : 1;
  const inDim = x.shape[x.rank - 1]!;
  const hidden = w.w1.shape[lead.length + 1] ?? 0;
  const units = w.wv.shape[lead.length + 1] ?? 0;
  const what = `in ${inDim}, hidden ${hidden} and units ${units}${stacked ? ` in a stack of ${stack}` : ''}`;
  if (stacked && x.shape[0] !== stack) throw shapeError('x', [stack, -1, inDim], x.shape, `${what} (the stack index first)`);
  const want: [GrnParamName, number[]][] = [
    ['w1', [inDim, hidden]], ['b1', [hidden]], ['w2', [hidden, hidden]], ['b2', [hidden]], ['wv', [hidden, units]], ['bv', [units]],
    ['wg', [hidden, units]], ['bg', [units]], ['gamma', [units]], ['beta', [units]],
    ...(inDim !== units ? ([['ws', [inDim, units]], ['bs', [units]]] as [GrnParamName, number[]][]) : []),
  ];
  for (const [name, one] of want) {
    const t = w[name];
    const shape = [...lead, ...one];
    if (!t || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw shapeError(name, shape, t?.shape ?? null, what);
  }
  if (inDim === units && (w.ws || w.bs)) throw new SigvwapError('ERR_ARG', `ws: the skip connection is the identity when in = units (${units}); got a projection`, { argument: 'ws' });
  const rows = x.shape.slice(stacked ? 1 : 0, -1).reduce((a, b) => a * b, 1);
  return { stack, rows, inDim, hidden, units, epsilon };
}

/** The GRN output y [..., units] (differentiable in tfjs). */
export function grnOp(x: tf.Tensor, w: GrnOpWeights, epsilon: number, opts: { implementation?: FusedImplementation } = {}): tf.Tensor {
  const dims = dimsOf(x, w, epsilon);
  if ((opts.implementation ?? fusedImplementation()) === 'tfjs') return grnTfjs(x, w, epsilon);
  const parts = grnParamParts(dims);
  const outShape = [...x.shape.slice(0, -1), dims.units];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const ts = args as tf.Tensor[];
    const xs = f32Of(ts[0]!);
    const params = new Float32Array(parts.reduce((a, [, n]) => a + n, 0));
    let o = 0;
    ts.slice(1, 1 + parts.length).forEach((t, i) => {
      params.set(f32Of(t), o);
      o += parts[i]![1];
    });
    const label = w.w1.rank === 3 ? 'stacked grn' : 'grn';
    const out = timed(`${label} forward`, () => grnForwardF32(xs, params, dims));
    const value = tf.tensor(out.y, outShape, 'float32');
    const gradFunc = (dy: tf.Tensor | tf.Tensor[]) => {
      const g = timed(`${label} backward`, () => grnBackwardF32(xs, params, out.saved, f32Of(dy as tf.Tensor), dims));
      let p = 0;
      const weightGrads = parts.map(([name, n]) => {
        const t = tf.tensor(g.dparams.slice(p, p + n), w[name]!.shape, 'float32');
        p += n;
        return t;
      });
      return [tf.tensor(g.dx!, x.shape, 'float32'), ...weightGrads];
    };
    return { value, gradFunc };
  });
  return op(x, ...parts.map(([name]) => w[name]!)) as tf.Tensor;
}

/** x·W + b over the last axis; stacked W [S, in, out] (b [S, out]) for x [S, N, in], one product per stack index. */
function dense(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  if (w.rank === 3) {
    const y = tf.matMul(x as tf.Tensor3D, w as tf.Tensor3D);
    return b ? tf.add(y, tf.reshape(b, [w.shape[0]!, 1, w.shape[2]!])) : y;
  }
  const lead = x.shape.slice(0, -1);
  const y2 = tf.matMul(tf.reshape(x, [-1, w.shape[0]!]) as tf.Tensor2D, w as tf.Tensor2D);
  const y = b ? tf.add(y2, b) : y2;
  return lead.length === 1 ? y : tf.reshape(y, [...lead, w.shape[1]!]);
}

/**
 * The same GRN composed of tfjs ops: the layer's original composition (src/layers/layerHelpers.ts
 * `dense` and `layerNorm`, plain or stacked), the reference.
 */
export function grnTfjs(x: tf.Tensor, w: GrnOpWeights, epsilon: number): tf.Tensor {
  const { stack, rows, inDim, units } = dimsOf(x, w, epsilon);
  const stacked = w.w1.rank === 3;
  return tf.tidy(() => {
    // stacked: [S, rows, in], the batched products' layout
    const x3 = stacked ? tf.reshape(x, [stack, rows, inDim]) : x;
    const e = dense(tf.elu(dense(x3, w.w1, w.b1)), w.w2, w.b2);
    const glu = tf.mul(dense(e, w.wv, w.bv), tf.sigmoid(dense(e, w.wg, w.bg)));
    const skip = w.ws ? dense(x3, w.ws, w.bs!) : x3;
    const s = tf.add(skip, glu);
    const { mean, variance } = tf.moments(s, -1, true);
    const perStack = (t: tf.Tensor) => (stacked ? tf.reshape(t, [stack, 1, units]) : t);
    const y = tf.add(tf.mul(tf.mul(tf.sub(s, mean), tf.rsqrt(tf.add(variance, epsilon))), perStack(w.gamma)), perStack(w.beta));
    return stacked ? tf.reshape(y, [...x.shape.slice(0, -1), units]) : y;
  });
}
