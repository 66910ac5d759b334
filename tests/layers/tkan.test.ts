/**
 * TKAN specifics: the 'lstm' cell is the LSTM of src/ops/lstmSequence.ts on the layer's weights
 * (outputs and gradients against the tfjs-composed LSTM, and bit-identical to the fused op it
 * calls), and the KAN's cubic B-spline basis is what tkan.ts's header says.
 */
import { describe, expect, it } from 'vitest';

import { tf } from '../../src/ops/tf.js';
import { lstmSequence, lstmSequenceTfjs } from '../../src/ops/lstmSequence.js';
import { TKAN, cubicBSplineBasis } from '../../src/layers/index.js';
import { Rng } from '../../src/rng.js';
import { BACKENDS, maxAbs, maxAbsDiff, onBackend, randomArray, randomizeWeights } from '../helpers/layers.js';

describe.each(BACKENDS)('TKAN on the %s backend', (backend) => {
  onBackend(backend);

  it.each([
    ['b1-t1-c1-u1', 1, 1, 1, 1],
    ['b2-t3-c3-u2', 2, 3, 3, 2],
    ['b5-t7-c4-u6', 5, 7, 4, 6],
  ] as const)("cell 'lstm' %s: outputs and gradients match the LSTM of lstmSequence on the same weights", (_name, B, T, C, U) => {
    const rng = Rng.fromSeed(B * 100 + T);
    const x = tf.tensor3d(randomArray(B * T * C, rng), [B, T, C]);
    const layer = new TKAN({ units: U, cell: 'lstm', returnSequences: true });
    layer.apply(x);
    randomizeWeights(layer, 9);
    const [wx, wh, bias] = layer.getWeights() as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
    const R = tf.tensor3d(randomArray(B * T * U, rng), [B, T, U]);
    const timeMajor = (t: tf.Tensor) => tf.transpose(t, [1, 0, 2]) as tf.Tensor3D;
    const reference = (xs: tf.Tensor) => timeMajor(lstmSequenceTfjs(timeMajor(xs), wx, wh, bias));
    const y = layer.apply(x) as tf.Tensor;
    const want = reference(x);
    expect(maxAbsDiff(y.dataSync(), want.dataSync())).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs(want.dataSync())));
    expect(maxAbsDiff(y.dataSync(), timeMajor(lstmSequence(timeMajor(x), wx, wh, bias)).dataSync())).toBe(0);
    // the input gradient is real (the layer passes inputGrad: a stacked layer trains through it)
    const g = tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(layer.apply(xs) as tf.Tensor, R)))(x);
    const gr = tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(reference(xs), R)))(x);
    expect(maxAbs(gr.dataSync())).toBeGreaterThan(0);
    expect(maxAbsDiff(g.dataSync(), gr.dataSync())).toBeLessThanOrEqual(1e-4 * Math.max(1, maxAbs(gr.dataSync())));
    // the last step when returnSequences is off
    const last = new TKAN({ units: U, cell: 'lstm' });
    last.apply(x);
    last.setWeights([wx, wh, bias]);
    expect(maxAbsDiff((last.apply(x) as tf.Tensor).dataSync(), tf.slice(y, [0, T - 1, 0], [B, 1, U]).dataSync())).toBe(0);
  });

  it.each([
    ['g5 on [-1, 1]', 5, -1, 1],
    ['g3 on [-2, 3]', 3, -2, 3],
    ['g1 on [0, 0.5]', 1, 0, 0.5],
  ] as const)('cubic B-spline basis %s: a partition of unity on the grid, 1/6 2/3 1/6 at knots, 0 beyond the extended knots', (_name, G, lo, hi) => {
    const h = (hi - lo) / G;
    const inside = Array.from({ length: 41 }, (_, i) => lo + ((hi - lo) * i) / 40);
    const b = cubicBSplineBasis(tf.tensor2d(inside, [inside.length, 1]), G, lo, hi).arraySync();
    for (const row of b) {
      expect(row.length).toBe(G + 3);
      expect(Math.min(...row)).toBeGreaterThanOrEqual(0);
      expect(Math.abs(row.reduce((a, v) => a + v, 0) - 1)).toBeLessThan(1e-5);
    }
    const atKnot = cubicBSplineBasis(tf.tensor2d([lo + h], [1, 1]), G, lo, hi).arraySync()[0]!;
    // knot lo + h is the centre of basis 2: neighbours 1 and 3 hold 1/6
    expect(atKnot.slice(1, 4).map((v) => Math.round(v * 6e5) / 1e5)).toEqual([1, 4, 1]);
    const outside = cubicBSplineBasis(tf.tensor2d([lo - 3 * h - 1e-3, hi + 3 * h + 1e-3], [2, 1]), G, lo, hi).arraySync();
    expect(outside.flat().every((v) => v === 0)).toBe(true);
  });
});
