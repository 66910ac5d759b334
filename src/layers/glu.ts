/**
 * GLU: the gated linear unit of docs/method.md §5,
 *   GLU(e) = (e·W + b) ⊙ σ(e·W' + b'),   W, W' [in, units], b, b' [units].
 * Layout: [..., in] → [..., units] over the last axis (any rank ≥ 2).
 * Parameters: 2·units·(in + 1).
 * Cost: two GEMMs of rows × in × units multiply-adds, a sigmoid and a product per output.
 * Two kernels instead of one [in, 2·units]: splitting a product's columns is a strided copy,
 * two products over the same rows are not more work.
 * `addGluWeights` / `applyGlu` are the same unit for layers that embed it (GRN, VariableSelection),
 * also stacked ([stack, in, units] weights for inputs [stack, rows, in]).
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { tf } from '../ops/tf.js';
import {
  type AddWeight, type ConfigDict, type Kwargs, type LayerArgs, type LayerVariable, type Shape,
  addDense, dense, lastDim, oneShape, oneTensor, positiveInt,
} from './layerHelpers.js';

export interface GluWeights {
  valueKernel: LayerVariable;
  valueBias: LayerVariable;
  gateKernel: LayerVariable;
  gateBias: LayerVariable;
}

/** The GLU's weights (prefix + value/gate Kernel/Bias), stacked when `stack` is a number. */
export function addGluWeights(add: AddWeight, prefix: string, inDim: number, units: number, stack: number | null = null): GluWeights {
  const value = addDense(add, `${prefix}value`, inDim, units, stack);
  const gate = addDense(add, `${prefix}gate`, inDim, units, stack);
  return { valueKernel: value.kernel, valueBias: value.bias!, gateKernel: gate.kernel, gateBias: gate.bias! };
}

export function applyGlu(w: GluWeights, e: tf.Tensor): tf.Tensor {
  const value = dense(e, w.valueKernel.read(), w.valueBias.read());
  const gate = tf.sigmoid(dense(e, w.gateKernel.read(), w.gateBias.read()));
  return tf.mul(value, gate);
}

export function gluParameterCount(inDim: number, units: number): number {
  return 2 * units * (inDim + 1);
}

export interface GLUArgs extends LayerArgs {
  /** Output width. */
  units: number;
}

export class GLU extends tfl.layers.Layer {
  static className = 'GLU';
  readonly units: number;
  private w: GluWeights | null = null;

  constructor(args: GLUArgs) {
    super(args);
    this.units = positiveInt('GLU', 'units', args.units);
  }

  override build(inputShape: Shape | Shape[]): void {
    const inDim = lastDim('GLU', 'inputs', oneShape('GLU', inputShape));
    this.w = addGluWeights((n, s, i) => this.addWeight(n, s, 'float32', i), '', inDim, this.units);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = oneShape('GLU', inputShape);
    return [...s.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => applyGlu(this.w!, oneTensor('GLU', inputs)));
  }

  override getConfig(): ConfigDict {
    return { ...super.getConfig(), units: this.units };
  }
}
tf.serialization.registerClass(GLU, 'sigvwap');
