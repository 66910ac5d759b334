/**
 * What the custom tfjs-layers layers of this folder share: the types of the Layer API (derived
 * from tfjs-layers' public class, so no deep import into its dist folder), shape checks that
 * name the layer and the argument, and the small tensor functions the layers are written in.
 *
 * Every layer here owns its weights directly (`addWeight` in `build`) and computes with tfjs
 * ops; none nests another Layer object. tfjs-layers does not track a nested layer's weights,
 * and a nested layer's weight names come from a process-wide counter, so a saved model would
 * not find them again on load. Weight names are `<layer name>/<weight>`, stable across runs.
 *
 * Configs survive `model.toJSON()`: tfjs-layers snake-cases keys and string values on save and
 * camel-cases them on load, and writes `undefined` as null, so every option value is a number,
 * a boolean, null or a lower-case string, and constructors read `?? default` (null included).
 *
 * Cost notes: `dense` reshapes to 2-D (a view) for one GEMM; `layerNorm` is two reductions
 * over the last axis and five element-wise ops.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { SigvwapError } from '../errors.js';
import { tf } from '../ops/tf.js';

export type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
export type Kwargs = Parameters<InstanceType<typeof tfl.layers.Layer>['call']>[1];
export type Shape = tfl.Shape;
export type ConfigDict = tf.serialization.ConfigDict;
export type LayerVariable = tfl.LayerVariable;

/** Keras' default LayerNormalization / BatchNormalization epsilon. */
export const DEFAULT_EPSILON = 1e-3;

export function shapeError(layer: string, argument: string, message: string, data: Record<string, unknown> = {}): SigvwapError {
  return new SigvwapError('ERR_SHAPE', `${layer}: ${argument}: ${message}`, { argument, ...data });
}

export function argError(layer: string, argument: string, message: string, value?: unknown): SigvwapError {
  return new SigvwapError('ERR_ARG', `${layer}: ${argument}: ${message}`, { argument, value });
}

/** A positive integer option (null/undefined → `fallback`). */
export function positiveInt(layer: string, name: string, value: number | null | undefined, fallback?: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw argError(layer, name, `expected a positive integer, got ${v}`, v);
  return v;
}

/** True when `inputShape` is a list of shapes (a multi-input call). */
export function isShapeList(inputShape: Shape | Shape[]): inputShape is Shape[] {
  return Array.isArray(inputShape[0]);
}

/** The one shape of a single-input layer. */
export function oneShape(layer: string, inputShape: Shape | Shape[]): Shape {
  if (!isShapeList(inputShape)) return inputShape;
  if (inputShape.length !== 1) throw shapeError(layer, 'inputs', `expected one input, got ${inputShape.length}`);
  return inputShape[0]!;
}

export function oneTensor(layer: string, inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (Array.isArray(inputs)) {
    if (inputs.length !== 1) throw shapeError(layer, 'inputs', `expected one tensor, got ${inputs.length}`);
    return inputs[0]!;
  }
  return inputs;
}

/** The last dimension of a shape, which must be known. */
export function lastDim(layer: string, argument: string, shape: Shape): number {
  const d = shape[shape.length - 1];
  if (shape.length < 2 || d == null) throw shapeError(layer, argument, `expected rank >= 2 with a known last dimension, got [${shape}]`, { shape });
  return d;
}

/**
 * x·W + b over the last axis. W [in, out] (b [out]) for x [..., in]; or stacked W [V, in, out]
 * (b [V, out]) for x [V, N, in], one product per leading index (a batched GEMM).
 */
export function dense(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  if (w.rank === 3) {
    const y = tf.matMul(x as tf.Tensor3D, w as tf.Tensor3D);
    return b ? tf.add(y, tf.reshape(b, [w.shape[0]!, 1, w.shape[2]!])) : y;
  }
  const inDim = w.shape[0]!;
  const outDim = w.shape[1]!;
  const lead = x.shape.slice(0, -1);
  const y2 = tf.matMul(tf.reshape(x, [-1, inDim]) as tf.Tensor2D, w as tf.Tensor2D);
  const y = b ? tf.add(y2, b) : y2;
  return lead.length === 1 ? y : tf.reshape(y, [...lead, outDim]);
}

/**
 * Layer normalization over the last axis: γ ⊙ (x − mean) / sqrt(var + ε) + β, γ and β [out]
 * or stacked [V, out] for x [V, N, out].
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
  const g = gamma.rank === 2 ? tf.reshape(gamma, [gamma.shape[0]!, 1, gamma.shape[1]!]) : gamma;
  const b = beta.rank === 2 ? tf.reshape(beta, [beta.shape[0]!, 1, beta.shape[1]!]) : beta;
  return tf.add(tf.mul(normed, g), b);
}

export const glorot = () => tfl.initializers.glorotUniform({});
export const zeros = () => tfl.initializers.zeros();
export const ones = () => tfl.initializers.ones();

/** A Glorot-uniform initializer for stacked kernels [V, in, out]: the fans of one [in, out]. */
export function stackedGlorot(inDim: number, outDim: number) {
  const limit = Math.sqrt(6 / (inDim + outDim));
  return tfl.initializers.randomUniform({ minval: -limit, maxval: limit });
}

export type Initializer = ReturnType<typeof tfl.initializers.zeros>;
/** `layer.addWeight` bound to a layer (it is protected): name, shape, initializer. */
export type AddWeight = (name: string, shape: number[], initializer: Initializer) => LayerVariable;

/**
 * Adds a kernel [in, out] (or stacked [stack, in, out]) with Glorot-uniform initialization over
 * the fans of one [in, out] product, and optionally its zero bias [out] (or [stack, out]).
 */
export function addDense(add: AddWeight, name: string, inDim: number, outDim: number, stack: number | null, bias = true): { kernel: LayerVariable; bias?: LayerVariable } {
  const lead = stack === null ? [] : [stack];
  const kernel = add(`${name}Kernel`, [...lead, inDim, outDim], stack === null ? glorot() : stackedGlorot(inDim, outDim));
  return bias ? { kernel, bias: add(`${name}Bias`, [...lead, outDim], zeros()) } : { kernel };
}
