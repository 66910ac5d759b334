/**
 * GRN: the gated residual network of docs/method.md §5 (the TFT block),
 *   η   = ELU(x·W_1 + c·W_c + b_1)              hidden width `hiddenUnits` (default `units`)
 *   e   = η·W_2 + b_2
 *   GRN = LayerNorm(skip(x) + GLU(e))           GLU(e) = (e·W + b) ⊙ σ(e·W' + b')
 * skip(x) = x when the input width equals `units`, else the projection x·W_s + b_s. The context
 * c is optional: call the layer on [x, c]; c·W_c has no bias (b_1 is the bias of the sum). c has
 * x's leading shape, or is [batch, contextWidth] for x [batch, time, width] (one context per
 * sequence, broadcast over time as in the TFT's static enrichment).
 * Layout: [..., in] → [..., units] over the last axis.
 * Parameters: in·h + h + h·h + h + 2·units·(h + 1) + 2·units [LayerNorm γ, β]
 *             + (in ≠ units ? in·units + units : 0) + contextWidth·h, with h = hiddenUnits.
 * Cost per row: in·h + h² + 2·h·units (+ in·units, + contextWidth·h) multiply-adds, plus
 * element-wise work and two last-axis reductions (LayerNorm).
 * Without a context, plain or stacked, `applyGrn` runs the `grnOp` (src/ops/grnOp.ts): one fused
 * native call forward and one backward on the native backend (for all the stack's GRNs at once),
 * the same composition elsewhere; with a context, the composition below.
 * `addGrnWeights` / `applyGrn` are the block for layers that embed GRNs (VariableSelection),
 * also stacked: one GRN per leading index, [stack, rows, in] → [stack, rows, units] (the
 * composition: batched GEMMs).
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { grnOp } from '../ops/grnOp.js';
import { tf } from '../ops/tf.js';
import { type GluWeights, addGluWeights, applyGlu, gluParameterCount } from './glu.js';
import {
  type AddWeight, type ConfigDict, type Kwargs, type LayerArgs, type LayerVariable, type Shape,
  DEFAULT_EPSILON, addDense, dense, isShapeList, lastDim, layerNorm, ones, positiveInt, shapeError, zeros,
} from './layerHelpers.js';

export interface GrnDims {
  inDim: number;
  hiddenUnits: number;
  units: number;
  /** width of the context input; null without one */
  contextDim: number | null;
  /** one GRN per leading index (VariableSelection's per-variable GRNs); null for one GRN */
  stack: number | null;
}

export interface GrnWeights {
  dims: GrnDims;
  hiddenKernel: LayerVariable;
  hiddenBias: LayerVariable;
  contextKernel: LayerVariable | null;
  outKernel: LayerVariable;
  outBias: LayerVariable;
  glu: GluWeights;
  skipKernel: LayerVariable | null;
  skipBias: LayerVariable | null;
  gamma: LayerVariable;
  beta: LayerVariable;
}

/** The GRN's weights, names prefixed by `prefix`. */
export function addGrnWeights(add: AddWeight, prefix: string, dims: GrnDims): GrnWeights {
  const { inDim, hiddenUnits: h, units, contextDim, stack } = dims;
  const lead = stack === null ? [] : [stack];
  const hidden = addDense(add, `${prefix}hidden`, inDim, h, stack);
  const context = contextDim === null ? null : addDense(add, `${prefix}context`, contextDim, h, stack, false).kernel;
  const out = addDense(add, `${prefix}out`, h, h, stack);
  const glu = addGluWeights(add, `${prefix}glu/`, h, units, stack);
  const skip = inDim === units ? null : addDense(add, `${prefix}skip`, inDim, units, stack);
  return {
    dims,
    hiddenKernel: hidden.kernel,
    hiddenBias: hidden.bias!,
    contextKernel: context,
    outKernel: out.kernel,
    outBias: out.bias!,
    glu,
    skipKernel: skip?.kernel ?? null,
    skipBias: skip?.bias ?? null,
    gamma: add(`${prefix}gamma`, [...lead, units], ones()),
    beta: add(`${prefix}beta`, [...lead, units], zeros()),
  };
}

export function applyGrn(w: GrnWeights, x: tf.Tensor, context: tf.Tensor | null, epsilon: number): tf.Tensor {
  // without a context, plain or stacked: the grnOp (one fused native call each way on the native
  // backend, this same composition elsewhere)
  if (!w.contextKernel) {
    return grnOp(x, {
      w1: w.hiddenKernel.read(), b1: w.hiddenBias.read(), w2: w.outKernel.read(), b2: w.outBias.read(),
      wv: w.glu.valueKernel.read(), bv: w.glu.valueBias.read(), wg: w.glu.gateKernel.read(), bg: w.glu.gateBias.read(),
      ws: w.skipKernel?.read() ?? null, bs: w.skipBias?.read() ?? null, gamma: w.gamma.read(), beta: w.beta.read(),
    }, epsilon);
  }
  let pre = dense(x, w.hiddenKernel.read(), w.hiddenBias.read());
  if (w.contextKernel) {
    if (!context) throw shapeError('GRN', 'context', 'the layer was built with a context input; call it on [x, context]');
    let c = dense(context, w.contextKernel.read());
    // one context per sequence: broadcast over the time axis
    if (c.rank < pre.rank) c = tf.expandDims(c, 1);
    pre = tf.add(pre, c);
  }
  const e = dense(tf.elu(pre), w.outKernel.read(), w.outBias.read());
  const skip = w.skipKernel ? dense(x, w.skipKernel.read(), w.skipBias!.read()) : x;
  return layerNorm(tf.add(skip, applyGlu(w.glu, e)), w.gamma.read(), w.beta.read(), epsilon);
}

/** Trainable parameters of one GRN (see the header). */
export function grnParameterCount(inDim: number, hiddenUnits: number, units: number, contextDim: number | null = null): number {
  const h = hiddenUnits;
  return inDim * h + h + h * h + h + gluParameterCount(h, units) + 2 * units + (inDim === units ? 0 : inDim * units + units) + (contextDim ?? 0) * h;
}

export interface GRNArgs extends LayerArgs {
  /** Output width. */
  units: number;
  /** Width of the ELU layer; default `units`. */
  hiddenUnits?: number | null;
  /** LayerNorm epsilon; default 1e-3 (Keras). */
  epsilon?: number | null;
}

export class GRN extends tfl.layers.Layer {
  static className = 'GRN';
  readonly units: number;
  readonly hiddenUnits: number;
  readonly epsilon: number;
  private w: GrnWeights | null = null;

  constructor(args: GRNArgs) {
    super(args);
    this.units = positiveInt('GRN', 'units', args.units);
    this.hiddenUnits = positiveInt('GRN', 'hiddenUnits', args.hiddenUnits, this.units);
    this.epsilon = args.epsilon ?? DEFAULT_EPSILON;
  }

  override build(inputShape: Shape | Shape[]): void {
    const [xShape, cShape] = isShapeList(inputShape) ? inputShape : [inputShape];
    if (isShapeList(inputShape) && (inputShape.length < 1 || inputShape.length > 2)) throw shapeError('GRN', 'inputs', `expected x or [x, context], got ${inputShape.length} inputs`);
    const inDim = lastDim('GRN', 'x', xShape!);
    const contextDim = cShape ? lastDim('GRN', 'context', cShape) : null;
    if (cShape && !(cShape.length === xShape!.length || (cShape.length === 2 && xShape!.length === 3))) {
      throw shapeError('GRN', 'context', `expected rank ${xShape!.length} (as x) or 2 for x [batch, time, width], got [${cShape}]`, { shape: cShape });
    }
    this.w = addGrnWeights((n, s, i) => this.addWeight(n, s, 'float32', i), '', { inDim, hiddenUnits: this.hiddenUnits, units: this.units, contextDim, stack: null });
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const xShape = isShapeList(inputShape) ? inputShape[0]! : inputShape;
    return [...xShape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const [x, context] = Array.isArray(inputs) ? inputs : [inputs];
      return applyGrn(this.w!, x!, context ?? null, this.epsilon);
    });
  }

  override getConfig(): ConfigDict {
    return { ...super.getConfig(), units: this.units, hiddenUnits: this.hiddenUnits, epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(GRN, 'sigvwap');
