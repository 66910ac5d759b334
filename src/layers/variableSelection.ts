/**
 * VariableSelection: the variable selection network of docs/method.md §5 (GFT, after the TFT).
 * Input x [..., V]: V scalar variables per row (per step of a sequence).
 *   e_v = x_v · E_v + b_v                     per-variable embedding Dense 1 → d (d = `embedding`, 3)
 *   w   = softmax(GRN_sel([e_1 … e_V]))        selection weights over the V variables, from one GRN
 *                                              on the flattened embeddings (V·d → hidden → V)
 *   out = Σ_v w_v · GRN_v(e_v)                 one GRN per variable (d → hidden → units)
 * Layout: [..., V] → [..., units]; with `returnWeights` also w [..., V] (second output; it is
 * computed anyway, so returning it costs nothing).
 * The V per-variable GRNs are stacked weights [V, in, out] applied to [V, rows, d] (one transpose
 * of the embeddings), not V layers: on the native backend one fused call forward and one backward
 * for all V (src/ops/grnOp.ts), elsewhere batched GEMMs.
 * Parameters (h = hiddenUnits, U = units): 2·V·d (embeddings) + GRN(V·d, h, V)
 *   + V·GRN(d, h, U), GRN(in, h, out) as in grn.ts (both have skip projections unless widths match).
 * Cost per row: V·(d·h + h² + 2·h·U + d·U) + (V·d·h + h² + 2·h·V + V·d·V) multiply-adds.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { tf } from '../ops/tf.js';
import { type GrnWeights, addGrnWeights, applyGrn, grnParameterCount } from './grn.js';
import {
  type ConfigDict, type Kwargs, type LayerArgs, type LayerVariable, type Shape,
  DEFAULT_EPSILON, argError, lastDim, oneShape, oneTensor, positiveInt, stackedGlorot, zeros,
} from './layerHelpers.js';

export interface VariableSelectionArgs extends LayerArgs {
  /** Output width U. */
  units: number;
  /** Embedding width d per variable; default 3 (method.md §5). */
  embedding?: number | null;
  /** Hidden width of every GRN; default `units`. */
  hiddenUnits?: number | null;
  /** Also return the selection weights [..., V] as a second output; default false. */
  returnWeights?: boolean | null;
  /** LayerNorm epsilon of the GRNs; default 1e-3. */
  epsilon?: number | null;
}

/** Trainable parameters of a VariableSelection over V variables. */
export function variableSelectionParameterCount(variables: number, units: number, embedding = 3, hiddenUnits = units): number {
  return 2 * variables * embedding + grnParameterCount(variables * embedding, hiddenUnits, variables) + variables * grnParameterCount(embedding, hiddenUnits, units);
}

export class VariableSelection extends tfl.layers.Layer {
  static className = 'VariableSelection';
  readonly units: number;
  readonly embedding: number;
  readonly hiddenUnits: number;
  readonly returnWeights: boolean;
  readonly epsilon: number;
  private variables = 0;
  private embedKernel: LayerVariable | null = null;
  private embedBias: LayerVariable | null = null;
  private selection: GrnWeights | null = null;
  private perVariable: GrnWeights | null = null;

  constructor(args: VariableSelectionArgs) {
    super(args);
    this.units = positiveInt('VariableSelection', 'units', args.units);
    this.embedding = positiveInt('VariableSelection', 'embedding', args.embedding, 3);
    this.hiddenUnits = positiveInt('VariableSelection', 'hiddenUnits', args.hiddenUnits, this.units);
    this.returnWeights = args.returnWeights ?? false;
    this.epsilon = args.epsilon ?? DEFAULT_EPSILON;
  }

  override build(inputShape: Shape | Shape[]): void {
    const V = lastDim('VariableSelection', 'inputs', oneShape('VariableSelection', inputShape));
    if (V < 1) throw argError('VariableSelection', 'inputs', `expected at least one variable, got ${V}`, V);
    this.variables = V;
    const d = this.embedding;
    const add = (n: string, s: number[], i: Parameters<typeof this.addWeight>[3]) => this.addWeight(n, s, 'float32', i);
    // each variable's Dense 1 → d: fan-in 1, fan-out d
    this.embedKernel = add('embedKernel', [V, d], stackedGlorot(1, d));
    this.embedBias = add('embedBias', [V, d], zeros());
    this.selection = addGrnWeights(add, 'selection/', { inDim: V * d, hiddenUnits: this.hiddenUnits, units: V, contextDim: null, stack: null });
    this.perVariable = addGrnWeights(add, 'variable/', { inDim: d, hiddenUnits: this.hiddenUnits, units: this.units, contextDim: null, stack: V });
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    const s = oneShape('VariableSelection', inputShape);
    const out = [...s.slice(0, -1), this.units];
    return this.returnWeights ? [out, s.slice()] : out;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => {
      const x = oneTensor('VariableSelection', inputs);
      const V = this.variables;
      const d = this.embedding;
      const lead = x.shape.slice(0, -1);
      const rows = lead.reduce((a, b) => a * b, 1);
      // [rows, V, 1] · [V, d] + [V, d]: each variable's own Dense 1 → d
      const emb = tf.add(tf.mul(tf.reshape(x, [rows, V, 1]), this.embedKernel!.read()), this.embedBias!.read());
      const weights = tf.softmax(applyGrn(this.selection!, tf.reshape(emb, [rows, V * d]), null, this.epsilon)) as tf.Tensor2D;
      const perVar = applyGrn(this.perVariable!, tf.transpose(emb, [1, 0, 2]), null, this.epsilon); // [V, rows, U]
      const mixed = tf.sum(tf.mul(tf.expandDims(tf.transpose(weights), 2), perVar), 0); // [rows, U]
      const out = tf.reshape(mixed, [...lead, this.units]);
      return this.returnWeights ? [out, tf.reshape(weights, [...lead, V])] : out;
    });
  }

  override getConfig(): ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      embedding: this.embedding,
      hiddenUnits: this.hiddenUnits,
      returnWeights: this.returnWeights,
      epsilon: this.epsilon,
    };
  }
}
tf.serialization.registerClass(VariableSelection, 'sigvwap');
