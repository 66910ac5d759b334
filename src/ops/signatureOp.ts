/**
 * `signatureOp`: the truncated path signature as a TensorFlow.js op whose
 * forward and gradient run in the native engine (tf.customGrad).
 *
 * x: tf.Tensor3D [batch, length, channels] (float32) → [batch, siglen], or
 * [batch, length' − 1, siglen] with `stream`. The gradient with respect to x
 * is `signatureBackward(x, dy)`, so anything upstream of x (e.g. a learnable
 * kernel multiplied onto the path, as in GFT-Sig) receives gradients.
 * Data cross to the native side as Float32Array (tfjs tensors are float32);
 * the engine forms increments in float64 and, with the default `precision`
 * ('auto', i.e. the input's float32), runs the recursion in float32 lanes:
 * twice the SIMD width of float64, and the result is float32 either way.
 * `precision: 'f64'` keeps float64 arithmetic inside.
 * Cost: one download of x (and dy) from the tfjs backend, the native kernel,
 * one upload of the result.
 */
import type * as tfc from '@tensorflow/tfjs-core';

// tf.ts loads tfjs-core with the CPU backend and the gradient registrations
// (tfjs-core's own ESM gradient files do not load under Node's resolver).
import { tf } from './tf.js';

import { SigvwapError } from '../errors.js';
import type { DeviceName } from '../native/backend.js';
import { signature, signatureBackward, sigLength, type SignaturePrecision } from '../native/signature.js';

export interface SignatureOpOptions {
  stream?: boolean;
  basepoint?: boolean;
  device?: DeviceName;
  /** Arithmetic of the CPU kernels (see SignatureOptions.precision); default 'auto' = float32 here. */
  precision?: SignaturePrecision;
}

export function signatureOp(x: tfc.Tensor3D, depth: number, opts: SignatureOpOptions = {}): tfc.Tensor {
  if (!(x instanceof tf.Tensor) || x.rank !== 3) {
    throw new SigvwapError('ERR_SHAPE', `x: expected a rank-3 tensor [batch, length, channels], got rank ${(x as tfc.Tensor)?.rank}`, { argument: 'x' });
  }
  const [batch, length, channels] = x.shape;
  const shape = {
    batch,
    length,
    channels,
    depth,
    stream: !!opts.stream,
    basepoint: !!opts.basepoint,
    device: opts.device ?? 'auto',
    precision: opts.precision ?? 'auto',
  };
  const siglen = sigLength(channels, depth);
  const steps = length + (shape.basepoint ? 1 : 0) - 1;
  const outShape = shape.stream ? [batch, steps, siglen] : [batch, siglen];
  // customGrad passes the inputs, then the save function, as positional arguments.
  const forward = (input: tfc.Tensor, save: tfc.GradSaveFunc) => {
    const path = input.dataSync() as Float32Array;
    save([input]);
    const value = tf.tensor(signature(path, shape), outShape, 'float32');
    const gradFunc = (dy: tfc.Tensor, saved: tfc.Tensor[]) => {
      const p = saved[0]!.dataSync() as Float32Array;
      const g = signatureBackward(p, dy.dataSync() as Float32Array, shape);
      return tf.tensor(g, [batch, length, channels], 'float32');
    };
    return { value, gradFunc };
  };
  const op = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x);
}
