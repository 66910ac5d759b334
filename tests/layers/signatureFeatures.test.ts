/**
 * SignatureFeatures against the native signature it wraps: values (the signature of x ⊙ K,
 * normalized by the moving statistics, repeated over the steps), the gradient that reaches K
 * (nonzero, equal to Σ_batch x ⊙ signatureBackward(x ⊙ K, ·), and to central differences), and
 * the BatchNorm moving statistics that a training call updates. With `logSignature`: the
 * values against the float64 log-signature reference of x ⊙ K, the width, the config, and the
 * gradient reaching K.
 */
import { describe, expect, it } from 'vitest';

import { tf } from '../../src/ops/tf.js';
import { SignatureFeatures } from '../../src/layers/index.js';
import { sigLength, signature, signatureBackward } from '../../src/native/signature.js';
import { Rng } from '../../src/rng.js';
import { logSigLength } from '../../src/ops/lyndonBasis.js';
import { BACKENDS, finiteDifferenceCheck, maxAbs, maxAbsDiff, onBackend, randomArray } from '../helpers/layers.js';
import { logSignatureReferenceBatch } from '../helpers/logSignatureReference.js';

const CASES = [
  ['b1-l2-c2-m3-s3', 1, 2, 2, 3, 3],
  ['b3-l7-c3-m3-s5', 3, 7, 3, 3, 5],
  ['b2-l9-c2-m4-s1', 2, 9, 2, 4, 1],
  ['b4-l400-c2-m3-s11 (the paper\'s branch)', 4, 400, 2, 3, 11],
] as const;

/** A layer on x with a random kernel K and moving statistics (mean μ, variance σ²), γ, β. */
function setup(B: number, L: number, C: number, depth: number, steps: number, seed: number, logSignature = false) {
  const rng = Rng.fromSeed(seed);
  const siglen = logSignature ? logSigLength(C, depth) : sigLength(C, depth);
  // a random walk, scaled like normalized market data
  const xs = new Float32Array(B * L * C);
  for (let i = 0; i < xs.length; i++) xs[i] = (i % (L * C) >= C ? xs[i - C]! : 0) + rng.nextNormal() / Math.sqrt(L);
  const k = Float32Array.from({ length: L * C }, () => 1 + 0.3 * rng.nextNormal());
  const mean = randomArray(siglen, rng, 0.1);
  const variance = Float32Array.from({ length: siglen }, () => 0.5 + rng.nextFloat());
  const gamma = Float32Array.from({ length: siglen }, () => 1 + 0.2 * rng.nextNormal());
  const beta = randomArray(siglen, rng, 0.2);
  const layer = new SignatureFeatures({ steps, depth, logSignature });
  const x = tf.tensor3d(xs, [B, L, C]);
  layer.apply(x);
  layer.setWeights([tf.tensor2d(k, [L, C]), tf.tensor1d(gamma), tf.tensor1d(beta), tf.tensor1d(mean), tf.tensor1d(variance)]);
  return { layer, x, xs, k, mean, variance, gamma, beta, siglen };
}

describe.each(BACKENDS)('SignatureFeatures on the %s backend', (backend) => {
  onBackend(backend);

  it.each(CASES)('%s: outputs are the normalized signature of x ⊙ K at every step', (_name, B, L, C, depth, steps) => {
    const { layer, x, xs, k, mean, variance, gamma, beta, siglen } = setup(B, L, C, depth, steps, L + C);
    const y = layer.apply(x) as tf.Tensor;
    expect(y.shape).toEqual([B, steps, siglen]);
    const scaled = Float32Array.from(xs, (v, i) => v * k[i % (L * C)]!);
    const sig = signature(scaled, { batch: B, length: L, channels: C, depth });
    const want = new Float64Array(B * steps * siglen);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < steps; t++) {
        for (let j = 0; j < siglen; j++) want[(b * steps + t) * siglen + j] = gamma[j]! * (sig[b * siglen + j]! - mean[j]!) / Math.sqrt(variance[j]! + 1e-3) + beta[j]!;
      }
    }
    expect(maxAbsDiff(y.dataSync(), want)).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs(want)));
  });

  it.each(CASES)('%s: the gradient reaches K, equals the native backward pass and central differences', (_name, B, L, C, depth, steps) => {
    const { layer, x, xs, k, variance, gamma, siglen } = setup(B, L, C, depth, steps, 3 * L + C);
    const rng = Rng.fromSeed(L);
    const R = randomArray(B * steps * siglen, rng);
    const kernel = layer.trainableWeights[0]!.read() as tf.Variable;
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, tf.tensor3d(R, [B, steps, siglen]))) as tf.Scalar, [kernel]);
    const gK = grads[kernel.name]!.dataSync();
    expect(maxAbs(gK)).toBeGreaterThan(0);
    // chain rule by hand: d/dsig = Σ_t R·γ/√(σ²+ε); d/dy = signatureBackward; d/dK = Σ_b x ⊙ d/dy
    const dsig = new Float32Array(B * siglen);
    for (let b = 0; b < B; b++) for (let t = 0; t < steps; t++) for (let j = 0; j < siglen; j++) dsig[b * siglen + j]! += R[(b * steps + t) * siglen + j]! * gamma[j]! / Math.sqrt(variance[j]! + 1e-3);
    const scaled = Float32Array.from(xs, (v, i) => v * k[i % (L * C)]!);
    const dy = signatureBackward(scaled, dsig, { batch: B, length: L, channels: C, depth });
    const want = new Float64Array(L * C);
    for (let i = 0; i < xs.length; i++) want[i % (L * C)]! += xs[i]! * dy[i]!;
    expect(maxAbsDiff(gK, want)).toBeLessThanOrEqual(1e-4 * maxAbs(want));
    if (L <= 9) {
      const { mismatches } = finiteDifferenceCheck(layer, [x], undefined, 7, { samples: 4 });
      expect(mismatches).toEqual([]);
    }
  });

  it.each([
    ['b3-l5-c2-m3', 3, 5, 2, 3],
    ['b5-l4-c3-m2', 5, 4, 3, 2],
  ] as const)('%s: a training call normalizes by the batch and moves the moving statistics by 1 − momentum', (_name, B, L, C, depth) => {
    const { layer, x, xs, k, mean, variance, gamma, beta, siglen } = setup(B, L, C, depth, 2, 17);
    const y = layer.apply(x, { training: true }) as tf.Tensor;
    const [, , , movingMean, movingVariance] = layer.getWeights().map((w) => w.dataSync());
    const sig = signature(Float32Array.from(xs, (v, i) => v * k[i % (L * C)]!), { batch: B, length: L, channels: C, depth });
    const want = new Float64Array(B * 2 * siglen);
    for (let j = 0; j < siglen; j++) {
      let m = 0;
      for (let b = 0; b < B; b++) m += sig[b * siglen + j]! / B;
      let v = 0;
      for (let b = 0; b < B; b++) v += (sig[b * siglen + j]! - m) ** 2 / B;
      expect(movingMean![j]!).toBeCloseTo(0.99 * mean[j]! + 0.01 * m, 5);
      expect(movingVariance![j]!).toBeCloseTo(0.99 * variance[j]! + 0.01 * v, 5);
      for (let b = 0; b < B; b++) for (let t = 0; t < 2; t++) want[(b * 2 + t) * siglen + j] = gamma[j]! * (sig[b * siglen + j]! - m) / Math.sqrt(v + 1e-3) + beta[j]!;
    }
    expect(maxAbsDiff(y.dataSync(), want)).toBeLessThanOrEqual(1e-4 * Math.max(1, maxAbs(want)));
  });

  it.each([
    ['b1-l2-c2-m3-s3 (one segment)', 1, 2, 2, 3, 3],
    ['b3-l7-c3-m3-s5', 3, 7, 3, 3, 5],
    ['b2-l9-c2-m4-s1', 2, 9, 2, 4, 1],
    ['b2-l6-c1-m3-s2 (one channel: width 1)', 2, 6, 1, 3, 2],
    ['b4-l400-c2-m3-s11 (the paper\'s branch)', 4, 400, 2, 3, 11],
  ] as const)('%s with logSignature: outputs are the normalized Lyndon log-signature of x ⊙ K, width logsiglen; the gradient reaches K', (_name, B, L, C, depth, steps) => {
    const { layer, x, xs, k, mean, variance, gamma, beta, siglen: width } = setup(B, L, C, depth, steps, L + C, true);
    expect(width).toBe(logSigLength(C, depth));
    expect(layer.getConfig()['logSignature']).toBe(true);
    const y = layer.apply(x) as tf.Tensor;
    expect(y.shape).toEqual([B, steps, width]);
    expect(layer.computeOutputShape([null, L, C])).toEqual([null, steps, width]);
    const { lyndon } = logSignatureReferenceBatch(Float32Array.from(xs, (v, i) => v * k[i % (L * C)]!), B, L, C, depth);
    const want = new Float64Array(B * steps * width);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < steps; t++) {
        for (let j = 0; j < width; j++) want[(b * steps + t) * width + j] = gamma[j]! * (lyndon[b * width + j]! - mean[j]!) / Math.sqrt(variance[j]! + 1e-3) + beta[j]!;
      }
    }
    expect(maxAbsDiff(y.dataSync(), want)).toBeLessThanOrEqual(1e-4 * Math.max(1, maxAbs(want)));
    const kernel = layer.trainableWeights[0]!.read() as tf.Variable;
    const R = randomArray(B * steps * width, Rng.fromSeed(L));
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, tf.tensor3d(R, [B, steps, width]))) as tf.Scalar, [kernel]);
    const gK = grads[kernel.name]!.dataSync();
    expect(maxAbs(gK)).toBeGreaterThan(0);
    if (L <= 9 && L > 2 && C > 1) {
      const { mismatches } = finiteDifferenceCheck(layer, [x], undefined, 7, { samples: 4 });
      expect(mismatches).toEqual([]);
    }
  });
});
