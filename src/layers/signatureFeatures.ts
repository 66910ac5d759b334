/**
 * SignatureFeatures: the signature branch of GFT-Sig (docs/method.md §5). For the path of the
 * bars before an order, x [batch, length, channels] (src/features/signaturePath.ts builds it):
 *   y   = x ⊙ K                       K [length, channels] learnable, initialized to 1
 *   s   = Sig_depth(y)                truncated signature, levels 1..depth, no leading 1
 *                                     (the native engine through src/ops/signatureOp.ts)
 *       or, with `logSignature`, the log-signature of y in the Lyndon basis:
 *         s = Lyndon coordinates of log(1 + Sig_depth(y)), the tensor logarithm truncated at
 *         `depth` (src/ops/logSignatureOp.ts; iisignature's logsig method 'S')
 *   z   = γ ⊙ (s − μ) / √(σ² + ε) + β  BatchNorm over the batch: μ, σ² of the batch when
 *                                     training (moving averages updated with `momentum`),
 *                                     the moving averages otherwise
 *   out = z repeated over `steps`      [batch, steps, width], to concatenate to every step
 * width = siglen = channels + channels² + … + channels^depth (14 for 2 channels at depth 3, 39
 * for 3), or with `logSignature` logsiglen = the number of Lyndon words of length ≤ depth
 * (Witt's formula: 5 for 2 channels at depth 3, 14 for 3). The log-signature carries the same
 * information as the signature (each determines the other) without its polynomial redundancy.
 * The gradient with respect to x (hence K) is the native backward pass of the signature
 * (through tfjs autodiff of the logarithm with `logSignature`).
 * `basepoint` prepends a zero point, so the signature also sees where the path starts.
 *
 * Parameters: length·channels (K) + 2·width (γ, β) trainable, 2·width moving statistics.
 * Cost: one download of y to the native kernel, O(batch·length·siglen) forward and backward
 * there, batch·length·channels products for K, and batch·steps·width copied values for the
 * repeat. `logSignature` adds the truncated logarithm, O(batch·depth·siglen) in ~depth³/6
 * batched outer products, and a batch·logsiglen² product to the Lyndon coordinates.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { sigLength } from '../native/signature.js';
import { logSignatureOp } from '../ops/logSignatureOp.js';
import { logSigLength } from '../ops/lyndonBasis.js';
import { signatureOp } from '../ops/signatureOp.js';
import { tf } from '../ops/tf.js';
import {
  type ConfigDict, type Kwargs, type LayerArgs, type LayerVariable, type Shape,
  DEFAULT_EPSILON, oneShape, oneTensor, ones, positiveInt, shapeError, zeros,
} from './layerHelpers.js';

export interface SignatureFeaturesArgs extends LayerArgs {
  /** Time steps T of the output [batch, T, siglen]. */
  steps: number;
  /** Signature depth; default 3. */
  depth?: number | null;
  /** Prepend a zero point to every path; default false. */
  basepoint?: boolean | null;
  /** The log-signature in the Lyndon basis instead of the signature; default false. */
  logSignature?: boolean | null;
  /** BatchNorm moving-average momentum; default 0.99 (Keras). */
  momentum?: number | null;
  /** BatchNorm epsilon; default 1e-3 (Keras). */
  epsilon?: number | null;
}

/** Width of SignatureFeatures' output: siglen, or logsiglen with `logSignature`. */
export function signatureFeaturesWidth(channels: number, depth = 3, logSignature = false): number {
  return logSignature ? logSigLength(channels, depth) : sigLength(channels, depth);
}

/** Trainable parameters of SignatureFeatures over a path [length, channels]. */
export function signatureFeaturesParameterCount(length: number, channels: number, depth = 3, logSignature = false): number {
  return length * channels + 2 * signatureFeaturesWidth(channels, depth, logSignature);
}

export class SignatureFeatures extends tfl.layers.Layer {
  static className = 'SignatureFeatures';
  readonly steps: number;
  readonly depth: number;
  readonly basepoint: boolean;
  readonly logSignature: boolean;
  readonly momentum: number;
  readonly epsilon: number;
  private width = 0;
  private kernel: LayerVariable | null = null;
  private gamma: LayerVariable | null = null;
  private beta: LayerVariable | null = null;
  private movingMean: LayerVariable | null = null;
  private movingVariance: LayerVariable | null = null;

  constructor(args: SignatureFeaturesArgs) {
    super(args);
    this.steps = positiveInt('SignatureFeatures', 'steps', args.steps);
    this.depth = positiveInt('SignatureFeatures', 'depth', args.depth, 3);
    this.basepoint = args.basepoint ?? false;
    this.logSignature = args.logSignature ?? false;
    this.momentum = args.momentum ?? 0.99;
    this.epsilon = args.epsilon ?? DEFAULT_EPSILON;
  }

  override build(inputShape: Shape | Shape[]): void {
    const s = oneShape('SignatureFeatures', inputShape);
    const [, L, C] = s;
    if (s.length !== 3 || L == null || C == null) {
      throw shapeError('SignatureFeatures', 'inputs', `expected [batch, length, channels] with known length and channels (K is length × channels), got [${s}]`, { shape: s });
    }
    this.width = signatureFeaturesWidth(C, this.depth, this.logSignature);
    const add = (n: string, shape: number[], init: Parameters<typeof this.addWeight>[3], trainable = true) => this.addWeight(n, shape, 'float32', init, undefined, trainable);
    this.kernel = add('kernel', [L, C], ones());
    this.gamma = add('gamma', [this.width], ones());
    this.beta = add('beta', [this.width], zeros());
    this.movingMean = add('movingMean', [this.width], zeros(), false);
    this.movingVariance = add('movingVariance', [this.width], ones(), false);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = oneShape('SignatureFeatures', inputShape);
    const C = s[2];
    return [s[0]!, this.steps, C == null ? null : signatureFeaturesWidth(C, this.depth, this.logSignature)] as Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = oneTensor('SignatureFeatures', inputs);
      const training = kwargs['training'] === true;
      const y = tf.mul(x, this.kernel!.read()) as tf.Tensor3D;
      const opts = { basepoint: this.basepoint };
      const sig = this.logSignature ? logSignatureOp(y, this.depth, opts) : signatureOp(y, this.depth, opts);
      let mean: tf.Tensor;
      let variance: tf.Tensor;
      if (training) {
        ({ mean, variance } = tf.moments(sig, 0));
        const m = this.momentum;
        // moving statistics are state, not part of the gradient (as tfjs-layers' BatchNormalization)
        this.movingMean!.write(tf.add(tf.mul(this.movingMean!.read(), m), tf.mul(mean, 1 - m)));
        this.movingVariance!.write(tf.add(tf.mul(this.movingVariance!.read(), m), tf.mul(variance, 1 - m)));
      } else {
        mean = this.movingMean!.read();
        variance = this.movingVariance!.read();
      }
      const z = tf.add(tf.mul(tf.mul(tf.sub(sig, mean), tf.rsqrt(tf.add(variance, this.epsilon))), this.gamma!.read()), this.beta!.read());
      return tf.tile(tf.expandDims(z, 1), [1, this.steps, 1]);
    });
  }

  override getConfig(): ConfigDict {
    return {
      ...super.getConfig(),
      steps: this.steps,
      depth: this.depth,
      basepoint: this.basepoint,
      logSignature: this.logSignature,
      momentum: this.momentum,
      epsilon: this.epsilon,
    };
  }
}
tf.serialization.registerClass(SignatureFeatures, 'sigvwap');
