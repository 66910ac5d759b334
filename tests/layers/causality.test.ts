/**
 * Causality of the sequence layers (CausalMultiHeadAttention, TKAN with both cells): for every
 * position i, replacing the inputs at positions > i leaves the outputs at positions <= i
 * bit-identical, while the outputs after i do change (so the perturbation reaches the layer).
 */
import { describe, expect, it } from 'vitest';

import { tf } from '../../src/ops/tf.js';
import { CausalMultiHeadAttention, TKAN } from '../../src/layers/index.js';
import { Rng } from '../../src/rng.js';
import { BACKENDS, maxAbsDiff, onBackend, randomArray, randomizeWeights, type Layer } from '../helpers/layers.js';

const CASES: [string, () => Layer, number, number, number][] = [
  ['CausalMultiHeadAttention b2-t2-d5-h3', () => new CausalMultiHeadAttention(), 2, 2, 5],
  ['CausalMultiHeadAttention b3-t7-d6-h3', () => new CausalMultiHeadAttention(), 3, 7, 6],
  ['CausalMultiHeadAttention b1-t9-d5-h2-k3-u4', () => new CausalMultiHeadAttention({ heads: 2, keyDim: 3, units: 4 }), 1, 9, 5],
  ['TKAN kan b2-t6-c3-u4', () => new TKAN({ units: 4, returnSequences: true }), 2, 6, 3],
  ['TKAN kan b1-t2-c5-u3-k2', () => new TKAN({ units: 3, kanUnits: 2, returnSequences: true }), 1, 2, 5],
  ['TKAN lstm b3-t6-c3-u5', () => new TKAN({ units: 5, cell: 'lstm', returnSequences: true }), 3, 6, 3],
];

/** Values of y [B, T, ·] at time steps from..to-1. */
function steps(y: tf.Tensor, from: number, to: number): Float32Array {
  return tf.slice(y, [0, from, 0], [-1, to - from, -1]).dataSync() as Float32Array;
}

describe.each(BACKENDS)('causality on the %s backend', (backend) => {
  onBackend(backend);

  it.each(CASES)('%s: inputs after position i leave outputs up to i unchanged', (_name, make, B, T, C) => {
    const rng = Rng.fromSeed(T * 10 + C);
    const xs = randomArray(B * T * C, rng);
    const layer = make();
    const x = tf.tensor3d(xs, [B, T, C]);
    layer.apply(x);
    randomizeWeights(layer, 3);
    const y = layer.apply(x) as tf.Tensor;
    for (let i = 0; i < T - 1; i++) {
      const perturbed = xs.slice();
      for (let b = 0; b < B; b++) for (let t = i + 1; t < T; t++) for (let c = 0; c < C; c++) perturbed[(b * T + t) * C + c] = 3 * rng.nextNormal();
      const yp = layer.apply(tf.tensor3d(perturbed, [B, T, C])) as tf.Tensor;
      expect(maxAbsDiff(steps(yp, 0, i + 1), steps(y, 0, i + 1)), `outputs 0..${i}`).toBe(0);
      expect(maxAbsDiff(steps(yp, i + 1, T), steps(y, i + 1, T)), `outputs after ${i}`).toBeGreaterThan(0);
    }
  });
});
