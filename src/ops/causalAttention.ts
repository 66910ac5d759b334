/**
 * Causal multi-head self-attention as a TensorFlow.js op (tf.customGrad) whose forward and
 * backward passes are each one fused native call on the `sigvwap` (native) backend
 * (native/core/src/attention: projections on the crate's gemm, the causal core threaded over
 * the batch). On 'cpu' and 'wasm' it is `causalAttentionTfjs`, the tfjs composition the layer
 * always ran (src/layers/causalMultiHeadAttention.ts), which stays the reference the parity
 * tests compare with (tests/ops/fusedLayers.test.ts). The LSTM's fused-op pattern
 * (src/ops/lstmSequence.ts).
 *
 * Math (H heads of width K, HK = H·K):
 *   Q = x·Wq + bq,  Kp = x·Wk,  V = x·Wv + bv                       [batch, time, HK]
 *   A_h = softmax(Q_h·Kp_hᵀ / √K + M),  M_ij = 0 (j ≤ i), −1e9 (j > i)
 *   y = [A_1·V_1 … A_H·V_H]·Wo + bo                                  [batch, time, units]
 * The fused kernel computes only the causal half (weights on j > i are exact zeros in both).
 * Layout: x [batch, time, width]; Wq, Wk, Wv [width, HK]; bq, bv [HK]; Wo [HK, units]; bo [units].
 * Gradient: every weight and x (x is a hidden state in the gft encoder).
 * Cost: forward 3·B·T·width·HK + B·T·HK·units + B·H·T(T+1)·K multiply-adds; backward about twice.
 * Memory: the fused forward keeps Q, Kp, V, M and A (4·B·T·HK + B·H·T² floats) for the backward.
 */
import { SigvwapError } from '../errors.js';
import { attentionBackwardF32, attentionForwardF32, attentionParamParts, type AttentionDims } from '../native/attention.js';
import { activeBackend } from './backend.js';
import { timed } from './opTimer.js';
import { tf } from './tf.js';

/** The additive mask value on positions j > i. */
export const CAUSAL_MASK_VALUE = -1e9;

export interface CausalAttentionWeights {
  wq: tf.Tensor;
  bq: tf.Tensor;
  wk: tf.Tensor;
  wv: tf.Tensor;
  bv: tf.Tensor;
  wo: tf.Tensor;
  bo: tf.Tensor;
}

const ORDER = ['wq', 'bq', 'wk', 'wv', 'bv', 'wo', 'bo'] as const;

/** Which implementation runs the op: the fused native kernel, or the tfjs composition. */
export type FusedImplementation = 'native' | 'tfjs';

/** 'native' on the `sigvwap` backend, the tfjs composition on 'cpu' and 'wasm'. */
export function fusedImplementation(): FusedImplementation {
  return activeBackend() === 'native' ? 'native' : 'tfjs';
}

function dimsOf(x: tf.Tensor, w: CausalAttentionWeights, heads: number): AttentionDims {
  if (x.rank !== 3) throw new SigvwapError('ERR_SHAPE', `x: expected [batch, time, width], got shape [${x.shape}]`, { argument: 'x', shape: x.shape });
  const [batch, time, width] = x.shape as [number, number, number];
  const hk = w.wq.shape[1] ?? 0;
  if (!Number.isInteger(heads) || heads < 1 || hk % heads !== 0) {
    throw new SigvwapError('ERR_ARG', `heads: expected a positive divisor of the projection width ${hk}, got ${heads}`, { argument: 'heads', value: heads });
  }
  const units = w.wo.shape[1] ?? 0;
  const dims = { batch, time, width, heads, keyDim: hk / heads, units };
  const want: Record<(typeof ORDER)[number], number[]> = { wq: [width, hk], bq: [hk], wk: [width, hk], wv: [width, hk], bv: [hk], wo: [hk, units], bo: [units] };
  for (const name of ORDER) {
    const t = w[name];
    if (t.shape.length !== want[name].length || t.shape.some((d, i) => d !== want[name][i])) {
      throw new SigvwapError('ERR_SHAPE', `${name}: expected shape [${want[name]}] for width ${width}, heads·keyDim ${hk} and units ${units}, got [${t.shape}]`, { argument: name, expected: want[name], actual: t.shape });
    }
  }
  return dims;
}

/** A tensor's values as float32 (a float32 tensor made by Cast may keep bool/int32 storage: copied then). */
export function f32Of(t: tf.Tensor): Float32Array {
  const d = t.dataSync();
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

/** The attention output y [batch, time, units] (differentiable in tfjs). */
export function causalAttention(x: tf.Tensor3D, w: CausalAttentionWeights, heads: number, opts: { implementation?: FusedImplementation } = {}): tf.Tensor3D {
  const dims = dimsOf(x, w, heads);
  if ((opts.implementation ?? fusedImplementation()) === 'tfjs') return causalAttentionTfjs(x, w, heads);
  const { batch, time, width } = dims;
  const parts = attentionParamParts(dims);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const ts = args as tf.Tensor[];
    const xs = f32Of(ts[0]!);
    const params = new Float32Array(parts.reduce((a, [, n]) => a + n, 0));
    let o = 0;
    ts.slice(1, 8).forEach((t, i) => {
      params.set(f32Of(t), o);
      o += parts[i]![1];
    });
    const out = timed('attention forward', () => attentionForwardF32(xs, params, dims));
    const value = tf.tensor3d(out.y, [batch, time, dims.units], 'float32');
    const gradFunc = (dy: tf.Tensor | tf.Tensor[]) => {
      const g = timed('attention backward', () => attentionBackwardF32(xs, params, out.saved, f32Of(dy as tf.Tensor), dims));
      let p = 0;
      const weightGrads = ORDER.map((name, i) => {
        const n = parts[i]![1];
        const t = tf.tensor(g.dparams.slice(p, p + n), w[name].shape, 'float32');
        p += n;
        return t;
      });
      return [tf.tensor3d(g.dx!, [batch, time, width], 'float32'), ...weightGrads];
    };
    return { value, gradFunc };
  });
  return op(x, ...ORDER.map((n) => w[n])) as tf.Tensor3D;
}

/** The same attention composed of tfjs ops: the layer's original composition, the reference. */
export function causalAttentionTfjs(x: tf.Tensor3D, w: CausalAttentionWeights, heads: number): tf.Tensor3D {
  const { batch: B, time: T, keyDim: k } = dimsOf(x, w, heads);
  const H = heads;
  return tf.tidy(() => {
    const dense = (t: tf.Tensor, kernel: tf.Tensor, bias?: tf.Tensor) => {
      const y2 = tf.matMul(tf.reshape(t, [-1, kernel.shape[0]!]) as tf.Tensor2D, kernel as tf.Tensor2D);
      return tf.reshape(bias ? tf.add(y2, bias) : y2, [B, T, kernel.shape[1]!]);
    };
    // [B, T, H·k] → [B·H, T, k]
    const split = (t: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(t, [B, T, H, k]), [0, 2, 1, 3]), [B * H, T, k]) as tf.Tensor3D;
    const q = split(dense(x, w.wq, w.bq));
    const kk = split(dense(x, w.wk));
    const v = split(dense(x, w.wv, w.bv));
    const lower = tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
    const mask = tf.mul(tf.sub(1, lower), CAUSAL_MASK_VALUE);
    const scores = tf.add(tf.mul(tf.matMul(q, kk, false, true), 1 / Math.sqrt(k)), mask);
    const attended = tf.matMul(tf.softmax(scores) as tf.Tensor3D, v); // [B·H, T, k]
    const merged = tf.reshape(tf.transpose(tf.reshape(attended, [B, H, T, k]), [0, 2, 1, 3]), [B, T, H * k]);
    return dense(merged, w.wo, w.bo) as tf.Tensor3D;
  });
}
