/**
 * The gated residual network (docs/method.md §5, src/layers/grn.ts) without a context input, as
 * a TensorFlow.js op (tf.customGrad) whose forward and backward passes are each one fused native
 * call on the `sigvwap` (native) backend (native/core/src/grn: products on the crate's gemm,
 * the normalization over row blocks on the pool). On 'cpu' and 'wasm' it is `grnTfjs`, the tfjs
 * composition the layer always ran, which stays the reference the parity tests compare with
 * (tests/ops/fusedLayers.test.ts). The LSTM's fused-op pattern (src/ops/lstmSequence.ts).
 * The GRN with a context input (c·Wc) and the stacked per-variable GRNs of VariableSelection
 * stay on the composition (src/layers/grn.ts `applyGrn` routes only the plain GRN here).
 *
 * Math, over the last axis (h = hidden, u = units):
 *   η = ELU(x·W1 + b1),  e = η·W2 + b2,  GLU = (e·Wv + bv) ⊙ σ(e·Wg + bg)
 *   y = LayerNorm(skip(x) + GLU) = γ ⊙ (s − mean s) / √(var s + ε) + β
 *   skip(x) = x (in = u) or x·Ws + bs (in ≠ u)
 * Layout: x [..., in] → y [..., units]; W1 [in, h], b1 [h], W2 [h, h], b2 [h], Wv, Wg [h, u],
 * bv, bg [u], Ws [in, u], bs [u], γ, β [u].
 * Gradient: every weight and x.
 * Cost per row: in·h + h² + 2·h·u (+ in·u) multiply-adds forward, about twice backward.
 * Memory: the fused forward keeps rows·(2h + 3u + 1) floats for the backward.
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

function dimsOf(x: tf.Tensor, w: GrnOpWeights, epsilon: number): GrnDims {
  if (x.rank < 2) throw new SigvwapError('ERR_SHAPE', `x: expected rank >= 2, got shape [${x.shape}]`, { argument: 'x', shape: x.shape });
  const inDim = x.shape[x.rank - 1]!;
  const hidden = w.w1.shape[1] ?? 0;
  const units = w.wv.shape[1] ?? 0;
  const want: [GrnParamName, number[]][] = [
    ['w1', [inDim, hidden]], ['b1', [hidden]], ['w2', [hidden, hidden]], ['b2', [hidden]], ['wv', [hidden, units]], ['bv', [units]],
    ['wg', [hidden, units]], ['bg', [units]], ['gamma', [units]], ['beta', [units]],
    ...(inDim !== units ? ([['ws', [inDim, units]], ['bs', [units]]] as [GrnParamName, number[]][]) : []),
  ];
  for (const [name, shape] of want) {
    const t = w[name];
    if (!t || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SigvwapError('ERR_SHAPE', `${name}: expected shape [${shape}] for in ${inDim}, hidden ${hidden} and units ${units}, got ${t ? `[${t.shape}]` : 'none'}`, { argument: name, expected: shape, actual: t?.shape ?? null });
    }
  }
  if (inDim === units && (w.ws || w.bs)) throw new SigvwapError('ERR_ARG', `ws: the skip connection is the identity when in = units (${units}); got a projection`, { argument: 'ws' });
  return { rows: x.size / inDim, inDim, hidden, units, epsilon };
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
    const out = timed('grn forward', () => grnForwardF32(xs, params, dims));
    const value = tf.tensor(out.y, outShape, 'float32');
    const gradFunc = (dy: tf.Tensor | tf.Tensor[]) => {
      const g = timed('grn backward', () => grnBackwardF32(xs, params, out.saved, f32Of(dy as tf.Tensor), dims));
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

/** x·W + b over the last axis (src/layers/layerHelpers.ts `dense`, unstacked). */
function dense(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const lead = x.shape.slice(0, -1);
  const y2 = tf.matMul(tf.reshape(x, [-1, w.shape[0]!]) as tf.Tensor2D, w as tf.Tensor2D);
  const y = b ? tf.add(y2, b) : y2;
  return lead.length === 1 ? y : tf.reshape(y, [...lead, w.shape[1]!]);
}

/** The same GRN composed of tfjs ops: the layer's original composition, the reference. */
export function grnTfjs(x: tf.Tensor, w: GrnOpWeights, epsilon: number): tf.Tensor {
  dimsOf(x, w, epsilon);
  return tf.tidy(() => {
    const e = dense(tf.elu(dense(x, w.w1, w.b1)), w.w2, w.b2);
    const glu = tf.mul(dense(e, w.wv, w.bv), tf.sigmoid(dense(e, w.wg, w.bg)));
    const skip = w.ws ? dense(x, w.ws, w.bs!) : x;
    const s = tf.add(skip, glu);
    const { mean, variance } = tf.moments(s, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(s, mean), tf.rsqrt(tf.add(variance, epsilon))), w.gamma), w.beta);
  });
}
