/**
 * CausalMultiHeadAttention: multi-head self-attention over a sequence in which position i
 * attends only to positions j ≤ i (docs/method.md §5: 3 heads in the GFT).
 *   Q = x·W_q + b_q,  K = x·W_k,  V = x·W_v + b_v              [batch, time, heads·keyDim]
 *   A_h = softmax(Q_h·K_hᵀ / √keyDim + M),  M_ij = 0 (j ≤ i), −1e9 (j > i)
 *   out = [A_1·V_1 … A_heads·V_heads]·W_o + b_o                  [batch, time, units]
 * The mask is additive and large: exp(−1e9 − max) is exactly 0 in float32, so the weights on
 * later positions are exact zeros and perturbing x at positions > i leaves outputs ≤ i
 * bit-identical (the test checks this), while no −∞ reaches the gradient.
 * The key projection has no bias: b_k would add q_i·b_k to every score of row i, a shift that
 * softmax ignores, so its gradient is identically zero (Keras' layer carries it anyway).
 * Layout: x [batch, time, width] → [batch, time, units] (units default: width).
 * Computed by the `causalAttention` op (src/ops/causalAttention.ts): one fused native call
 * forward and one backward on the native backend (only the causal half of the scores), the
 * tfjs composition on 'cpu' and 'wasm' (heads moved next to the batch, [batch·heads, time,
 * keyDim], for two batched GEMMs), the same math.
 * Parameters: 3·heads·keyDim·width + 2·heads·keyDim + units·(heads·keyDim + 1).
 * Cost per sequence: 3·time·width·heads·keyDim + 2·heads·time²·keyDim +
 * time·heads·keyDim·units multiply-adds (the masked half of time² is computed, then zeroed),
 * a softmax over heads·time² scores, four transposes of time·heads·keyDim values.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { CAUSAL_MASK_VALUE, causalAttention } from '../ops/causalAttention.js';
import { tf } from '../ops/tf.js';
import {
  type ConfigDict, type Kwargs, type LayerArgs, type LayerVariable, type Shape,
  addDense, oneShape, oneTensor, positiveInt, shapeError,
} from './layerHelpers.js';

/** The additive mask value on positions j > i. */
export { CAUSAL_MASK_VALUE };

export interface CausalMultiHeadAttentionArgs extends LayerArgs {
  /** Attention heads; default 3. */
  heads?: number | null;
  /** Query/key/value width per head; default ceil(width / heads). */
  keyDim?: number | null;
  /** Output width; default the input width. */
  units?: number | null;
}

/** Trainable parameters over an input width. */
export function causalMultiHeadAttentionParameterCount(width: number, heads = 3, keyDim = Math.ceil(width / heads), units = width): number {
  return 3 * heads * keyDim * width + 2 * heads * keyDim + units * (heads * keyDim + 1);
}

export class CausalMultiHeadAttention extends tfl.layers.Layer {
  static className = 'CausalMultiHeadAttention';
  readonly heads: number;
  readonly keyDimArg: number | null;
  readonly unitsArg: number | null;
  private keyDim = 0;
  private units = 0;
  private w: Record<'query' | 'key' | 'value' | 'output', { kernel: LayerVariable; bias?: LayerVariable }> | null = null;

  constructor(args: CausalMultiHeadAttentionArgs = {}) {
    super(args);
    this.heads = positiveInt('CausalMultiHeadAttention', 'heads', args.heads, 3);
    this.keyDimArg = args.keyDim == null ? null : positiveInt('CausalMultiHeadAttention', 'keyDim', args.keyDim);
    this.unitsArg = args.units == null ? null : positiveInt('CausalMultiHeadAttention', 'units', args.units);
  }

  override build(inputShape: Shape | Shape[]): void {
    const s = oneShape('CausalMultiHeadAttention', inputShape);
    const D = s[2];
    if (s.length !== 3 || D == null) throw shapeError('CausalMultiHeadAttention', 'inputs', `expected [batch, time, width] with a known width, got [${s}]`, { shape: s });
    this.keyDim = this.keyDimArg ?? Math.ceil(D / this.heads);
    this.units = this.unitsArg ?? D;
    const add = (n: string, shape: number[], init: Parameters<typeof this.addWeight>[3]) => this.addWeight(n, shape, 'float32', init);
    const hk = this.heads * this.keyDim;
    this.w = {
      query: addDense(add, 'query', D, hk, null),
      key: addDense(add, 'key', D, hk, null, false),
      value: addDense(add, 'value', D, hk, null),
      output: addDense(add, 'output', hk, this.units, null),
    };
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = oneShape('CausalMultiHeadAttention', inputShape);
    return [s[0]!, s[1]!, this.unitsArg ?? s[2]!];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = oneTensor('CausalMultiHeadAttention', inputs);
      if (x.rank !== 3) throw shapeError('CausalMultiHeadAttention', 'inputs', `expected [batch, time, width], got [${x.shape}]`, { shape: x.shape });
      const w = this.w!;
      const weights = {
        wq: w.query.kernel.read(), bq: w.query.bias!.read(), wk: w.key.kernel.read(), wv: w.value.kernel.read(), bv: w.value.bias!.read(),
        wo: w.output.kernel.read(), bo: w.output.bias!.read(),
      };
      return causalAttention(x as tf.Tensor3D, weights, this.heads);
    });
  }

  override getConfig(): ConfigDict {
    return { ...super.getConfig(), heads: this.heads, keyDim: this.keyDimArg, units: this.unitsArg };
  }
}
tf.serialization.registerClass(CausalMultiHeadAttention, 'sigvwap');
