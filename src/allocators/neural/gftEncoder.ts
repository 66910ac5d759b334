/**
 * The encoder of the gft and gftSig models (docs/method.md §5), built from the layers of
 * src/layers; the rest of the model (base curve, per-step heads, clip and remainder, closed
 * loop) is the dynamic model's (neuralAllocator.ts), which reads h_t from here instead of
 * from its LSTM.
 *
 * For the sequence features x [S, B, C] (time-major, sequenceFeatures.ts), U = gft.hidden:
 *   gftSig only:  z = SignatureFeatures(path) [B, S, W]   path = the bars before the order
 *                 (signaturePath.ts), ⊙ K, signature (W = siglen) or with
 *                 gft.signature.logSignature the log-signature in the Lyndon basis
 *                 (W = logsiglen), BatchNorm, repeated over the S steps; x ← [x ; z] per step
 *                 (C + W variables)
 *   v = VariableSelection(x)              per-variable Dense 1 → d, GRN weights, GRN per variable [B, S, U]
 *   h = TKAN_2(TKAN_1(v))                 returnSequences                                   [B, S, U]
 *   g = LayerNorm(v + GLU(h))             gated skip connection with the selection output
 *   e = GRN(g)
 *   y = CausalMultiHeadAttention(e)       position i attends to j ≤ i                        [B, S, U]
 * returned time-major [S, B, U]. Every block is per step or causal in time (TKAN is a
 * recurrence, the attention is masked) and the path ends at bar r − 1 + k, so y at step s
 * reads the sequence's steps ≤ s only (method.md §4; tests/allocators/causality.test.ts).
 *
 * Weights: the layers own them (tfjs-layers `LayerVariable`s, built here with known shapes);
 * the allocator's named variables are those same tf.Variables under the names
 *   gft/sig/<w>   gft/vsn/<w>   gft/tkan1/<w>   gft/tkan2/<w>   gft/skip/glu/<w>
 *   gft/skip/gamma, gft/skip/beta   gft/grn/<w>   gft/attention/<w>
 * (<w> = the layer's own weight name, e.g. gft/vsn/selection/hiddenKernel), so checkpoints are
 * the same named-weights format as every other kind and round trip bit for bit. The initial
 * values come from the allocator's RNG (`gftInit`), not tfjs' global random state.
 * The BatchNorm's moving statistics (gft/sig/movingMean, movingVariance) are non-trainable
 * weights updated by training forwards (ModelInputs.training) and saved like the others.
 *
 * Parameters: `parameterSummary` (neuralAllocator.ts) counts them per block; each block is
 * its layer's own count (the layers' headers); the heads are the dynamic model's. Cost per order: the layers' costs (their headers) over S steps, plus the signature.
 */
import { CausalMultiHeadAttention, GLU, GRN, SignatureFeatures, TKAN, VariableSelection, signatureFeaturesWidth } from '../../layers/index.js';
import { DEFAULT_EPSILON, type LayerVariable, layerNorm } from '../../layers/layerHelpers.js';
import { SEQUENCE_CHANNELS, sequenceSteps } from '../../features/sequenceFeatures.js';
import { signaturePathShape } from '../../features/signaturePath.js';
import { tf } from '../../ops/tf.js';
import type { GftConfig, ModelConfig } from './modelConfig.js';

/** How a weight starts (the layers' own initializers, drawn from the allocator's RNG). */
export interface GftInit {
  init: 'zeros' | 'ones' | 'glorot' | 'lstmBias';
  /** Glorot fans when not the last two dimensions */
  fans?: [number, number];
  /** gates of a recurrent bias (unit forget bias on the second) */
  gates?: number;
}

/** The initializer of a GFT weight, from its layer and name (the layers' conventions). */
export function gftInit(layer: string, weight: string, shape: number[], config: GftConfig): GftInit {
  const leaf = weight.slice(weight.lastIndexOf('/') + 1);
  if (layer === 'sig') return { init: leaf === 'kernel' || leaf === 'gamma' || leaf === 'movingVariance' ? 'ones' : 'zeros' };
  if (layer === 'vsn' && weight === 'embedKernel') return { init: 'glorot', fans: [1, shape[1]!] };
  if (layer.startsWith('tkan') && weight === 'bias') return { init: 'lstmBias', gates: config.tkan.cell === 'lstm' ? 4 : 3 };
  if (leaf === 'gamma') return { init: 'ones' };
  if (leaf === 'beta' || /bias$/i.test(leaf)) return { init: 'zeros' };
  return { init: 'glorot' };
}

export interface GftWeight {
  name: string;
  shape: number[];
  trainable: boolean;
  init: GftInit;
}

/** The encoder's layers, built for one configuration. */
export class GftEncoder {
  readonly steps: number;
  readonly units: number;
  readonly #sig: SignatureFeatures | null;
  readonly #vsn: VariableSelection;
  readonly #tkan1: TKAN;
  readonly #tkan2: TKAN;
  readonly #glu: GLU;
  readonly #grn: GRN;
  readonly #attention: CausalMultiHeadAttention;
  /** gft/skip/gamma, gft/skip/beta: the gated skip's LayerNorm (plain variables) */
  readonly #norm: { gamma: tf.Variable; beta: tf.Variable };
  /** every weight by its model name, in a fixed order */
  readonly weights = new Map<string, { variable: tf.Variable; info: GftWeight }>();

  constructor(config: ModelConfig) {
    const g = config.gft!;
    const U = g.hidden;
    this.units = U;
    this.steps = sequenceSteps(config.dynamic.sequence, config.horizon, config.lookahead);
    const S = this.steps;
    let variables = SEQUENCE_CHANNELS.length;
    const collect = (key: string, layer: { weights: LayerVariable[] }) => {
      for (const w of layer.weights) {
        const variable = w.read() as tf.Variable;
        const shape = [...variable.shape];
        this.weights.set(`gft/${key}/${w.originalName}`, { variable, info: { name: `gft/${key}/${w.originalName}`, shape, trainable: w.trainable, init: gftInit(key, w.originalName, shape, g) } });
      }
    };
    if (config.kind === 'gftSig') {
      const p = signaturePathShape(g.signature.path, 1);
      this.#sig = new SignatureFeatures({ steps: S, depth: g.signature.depth, logSignature: g.signature.logSignature });
      this.#sig.build([null, p.length, p.channels]);
      collect('sig', this.#sig);
      variables += signatureFeaturesWidth(p.channels, g.signature.depth, g.signature.logSignature);
    } else {
      this.#sig = null;
    }
    this.#vsn = new VariableSelection({ units: U, embedding: g.embedding });
    this.#vsn.build([null, S, variables]);
    collect('vsn', this.#vsn);
    const tkanArgs = { units: U, cell: g.tkan.cell, gridSize: g.tkan.gridSize, kanUnits: g.tkan.kanUnits, returnSequences: true };
    this.#tkan1 = new TKAN(tkanArgs);
    this.#tkan1.build([null, S, U]);
    collect('tkan1', this.#tkan1);
    this.#tkan2 = new TKAN(tkanArgs);
    this.#tkan2.build([null, S, U]);
    collect('tkan2', this.#tkan2);
    this.#glu = new GLU({ units: U });
    this.#glu.build([null, S, U]);
    collect('skip/glu', this.#glu);
    this.#norm = tf.tidy(() => ({ gamma: tf.variable(tf.ones([U]), true), beta: tf.variable(tf.zeros([U]), true) }));
    for (const [leaf, variable] of [['gamma', this.#norm.gamma], ['beta', this.#norm.beta]] as const) {
      const name = `gft/skip/${leaf}`;
      this.weights.set(name, { variable, info: { name, shape: [U], trainable: true, init: { init: leaf === 'gamma' ? 'ones' : 'zeros' } } });
    }
    this.#grn = new GRN({ units: U });
    this.#grn.build([null, S, U]);
    collect('grn', this.#grn);
    this.#attention = new CausalMultiHeadAttention({ heads: g.heads });
    this.#attention.build([null, S, U]);
    collect('attention', this.#attention);
  }

  /** The weights' names, shapes and initializers, in order, without keeping a built encoder. */
  static weightInfo(config: ModelConfig): GftWeight[] {
    const enc = new GftEncoder(config);
    const out = [...enc.weights.values()].map((w) => w.info);
    enc.dispose();
    return out;
  }

  /**
   * Encoder states [S, B, U] for the sequence [S, B, C] (time-major) and, for gftSig, the
   * signature path [B, L', C']; `training` uses (and updates) the BatchNorm's batch statistics.
   */
  forward(sequence: tf.Tensor3D, path: tf.Tensor3D | null, training: boolean): tf.Tensor3D {
    let x = tf.transpose(sequence, [1, 0, 2]) as tf.Tensor3D; // [B, S, C]
    if (this.#sig) x = tf.concat([x, this.#sig.call(path!, { training }) as tf.Tensor3D], 2);
    const v = this.#vsn.call(x, {}) as tf.Tensor3D;
    const h = this.#tkan2.call(this.#tkan1.call(v, {}), {}) as tf.Tensor3D;
    const g = layerNorm(tf.add(v, this.#glu.call(h, {}) as tf.Tensor3D), this.#norm.gamma, this.#norm.beta, DEFAULT_EPSILON);
    const e = this.#grn.call(g, {}) as tf.Tensor3D;
    const y = this.#attention.call(e, {}) as tf.Tensor3D;
    return tf.transpose(y, [1, 0, 2]) as tf.Tensor3D;
  }

  dispose(): void {
    for (const { variable } of this.weights.values()) if (!variable.isDisposed) variable.dispose();
    this.weights.clear();
  }
}
