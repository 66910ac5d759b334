/**
 * The VWAP loss as a TensorFlow.js op: forward and gradient run in the native kernel
 * (`vwapLossAndGrad`, src/native/vwapLoss.ts) inside tf.customGrad, so any tfjs model that
 * outputs allocations can be trained on the loss itself. `vwapLossTfjs` is the same loss
 * composed of tfjs ops, the reference the tests check the op against.
 *
 * Math (method.md §1), order b over H bars:
 *   d_b = (Σ_t a_bt p_bt / Σ_t a_bt) / (Σ_t V_bt p_bt / Σ_t V_bt) - 1,
 *   loss = mean_b |d_b| ('abs') or mean_b d_b² ('quad').
 * Layout: alloc tensor [batch, horizon] (float32); price and volume Float64Array
 * [batch, horizon] (targets are data: no gradient). Output: scalar float32.
 * Cost: one download of `alloc`, one native pass (threaded over orders), one upload of the
 * gradient [batch, horizon].
 */
import { SigvwapError } from '../errors.js';
import { vwapLossAndGrad, type VwapLossKind } from '../native/vwapLoss.js';
import { timed } from './opTimer.js';
import { tf } from './tf.js';

export interface VwapTargets {
  price: Float64Array;
  volume: Float64Array;
}

function checkTargets(alloc: tf.Tensor, targets: VwapTargets): [number, number] {
  if (alloc.rank !== 2) throw new SigvwapError('ERR_SHAPE', `alloc: expected [batch, horizon], got shape [${alloc.shape}]`, { argument: 'alloc', shape: alloc.shape });
  const [batch, horizon] = alloc.shape as [number, number];
  for (const k of ['price', 'volume'] as const) {
    if (targets[k].length !== batch * horizon) {
      throw new SigvwapError('ERR_SHAPE', `${k}: expected length ${batch * horizon} (batch ${batch} × horizon ${horizon}), got ${targets[k].length}`, { argument: k, expected: batch * horizon, actual: targets[k].length });
    }
  }
  return [batch, horizon];
}

/** Mean VWAP loss of a batch of allocations, differentiable with respect to `alloc`. */
export function vwapLossTensor(alloc: tf.Tensor2D, targets: VwapTargets, kind: VwapLossKind = 'abs'): tf.Scalar {
  const [batch, horizon] = checkTargets(alloc, targets);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const a = (args[0] as tf.Tensor).dataSync() as Float32Array;
    const r = timed('vwap loss', () => vwapLossAndGrad({ alloc: a, price: targets.price, volume: targets.volume, batch, horizon, kind }));
    const value = tf.scalar(r.mean, 'float32');
    const gradFunc = (dy: tf.Tensor | tf.Tensor[]) => {
      const g = tf.tensor2d(r.grad, [batch, horizon], 'float32');
      return tf.tidy(() => tf.mul(g, dy as tf.Tensor));
    };
    return { value, gradFunc };
  });
  return op(alloc) as tf.Scalar;
}

/** The same loss in tfjs ops (reference; float32 throughout). */
export function vwapLossTfjs(alloc: tf.Tensor2D, targets: VwapTargets, kind: VwapLossKind = 'abs'): tf.Scalar {
  const [batch, horizon] = checkTargets(alloc, targets);
  return tf.tidy(() => {
    const p = tf.tensor2d(Float32Array.from(targets.price), [batch, horizon]);
    const v = tf.tensor2d(Float32Array.from(targets.volume), [batch, horizon]);
    const pAch = tf.div(tf.sum(tf.mul(alloc, p), 1), tf.sum(alloc, 1));
    const pMkt = tf.div(tf.sum(tf.mul(v, p), 1), tf.sum(v, 1));
    const d = tf.sub(tf.div(pAch, pMkt), 1);
    return (kind === 'abs' ? tf.mean(tf.abs(d)) : tf.mean(tf.square(d))) as tf.Scalar;
  });
}
