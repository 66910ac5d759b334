/**
 * The fused TKAN sequence ('kan' cell, src/ops/tkanSequence.ts): on the native backend, one
 * native call forward and one backward, whose output and every gradient (the 13 weights and
 * x) match the tfjs composition on the cpu backend within 1e-4 of the array's largest value,
 * on named shapes (batch 1, one and two steps, odd sizes, a grid off [-1, 1]) with each base
 * activation; typed errors for weights of the wrong shape. Skips, saying why, where the addon
 * lacks the kernel.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { tf } from '../../src/ops/tf.js';
import { activeBackend, nativeBackendStatus, useBackend } from '../../src/ops/backend.js';
import { tkanImplementation, tkanSequence, tkanSequenceTfjs, type TkanBaseActivation, type TkanSequenceOptions, type TkanSequenceWeights } from '../../src/ops/tkanSequence.js';
import { TKAN_WEIGHT_NAMES, tkanWeightSizes } from '../../src/native/tkan.js';
import { loadBinding } from '../../src/native/binding.js';
import { Rng } from '../../src/rng.js';
import { thrown } from '../helpers/errors.js';
import { maxAbs, maxAbsDiff, randomArray } from '../helpers/layers.js';

const status = nativeBackendStatus();
const available = status.available;
if (!available) console.warn(`SKIPPED native TKAN parity: ${status.reason}`);
const initial = activeBackend();
afterAll(() => useBackend(initial));

interface Case {
  T: number;
  B: number;
  C: number;
  U: number;
  K: number;
  G: number;
  lo: number;
  hi: number;
}
const SHAPES: [string, Case][] = [
  ['b1-t1-c1-u1-k1-g1', { T: 1, B: 1, C: 1, U: 1, K: 1, G: 1, lo: -1, hi: 1 }],
  ['b1-t2-c2-u3-k2-g5', { T: 2, B: 1, C: 2, U: 3, K: 2, G: 5, lo: -1, hi: 1 }],
  ['b3-t5-c7-u5-k3-g4', { T: 5, B: 3, C: 7, U: 5, K: 3, G: 4, lo: -1, hi: 1 }],
  ['b2-t4-c3-u2-k4-g3 grid [-2, 3]', { T: 4, B: 2, C: 3, U: 2, K: 4, G: 3, lo: -2, hi: 3 }],
  ['b70-t3-c5-u6-k5-g5 (row blocks)', { T: 3, B: 70, C: 5, U: 6, K: 5, G: 5, lo: -1, hi: 1 }],
];
const BASES: TkanBaseActivation[] = ['silu', 'relu', 'linear'];
const CASES = SHAPES.flatMap(([name, c]) => BASES.map((base) => [`${name} ${base}`, c, base] as const));

interface Arrays {
  x: Float32Array;
  weights: Record<string, Float32Array>;
  /** the loss is Σ h ⊙ r: its gradient with respect to h */
  r: Float32Array;
}

function arrays(c: Case, seed: number): Arrays {
  const rng = Rng.fromSeed(seed);
  const sizes = tkanWeightSizes({ steps: c.T, batch: c.B, channels: c.C, units: c.U, kanUnits: c.K, gridSize: c.G, gridMin: c.lo, gridMax: c.hi, baseActivation: 'silu' });
  return {
    x: randomArray(c.T * c.B * c.C, rng),
    weights: Object.fromEntries(TKAN_WEIGHT_NAMES.map((n) => [n, randomArray(sizes[n], rng, 0.6)])),
    r: randomArray(c.T * c.B * c.U, rng),
  };
}

function shapes(c: Case): Record<string, number[]> {
  const { C, U, K, G } = c;
  return {
    kernel: [C, 3 * U], recurrentKernel: [U, 3 * U], bias: [3 * U], kanKernel: [C, K], kanRecurrentKernel: [K, K], kanBias: [K],
    splineKernel: [K * (G + 3), K], baseKernel: [K, K], memoryKernel: [K, K], memoryRecurrentKernel: [K, K], memoryBias: [K], outputKernel: [K, U], outputBias: [U],
  };
}

/** Output and gradients (x first, then the weights in the layer's order) on `backend`. */
function run(backend: string, c: Case, a: Arrays, f: (x: tf.Tensor3D, w: TkanSequenceWeights) => tf.Tensor3D): { h: Float32Array; grads: Float32Array[] } {
  useBackend(backend);
  return tf.tidy(() => {
    const sh = shapes(c);
    const x = tf.tensor3d(a.x, [c.T, c.B, c.C]);
    const ws = TKAN_WEIGHT_NAMES.map((n) => tf.tensor(a.weights[n]!, sh[n]));
    const r = tf.tensor3d(a.r, [c.T, c.B, c.U]);
    const model = (xs: tf.Tensor, ...w: tf.Tensor[]) => f(xs as tf.Tensor3D, Object.fromEntries(TKAN_WEIGHT_NAMES.map((n, i) => [n, w[i]])) as unknown as TkanSequenceWeights);
    const h = model(x, ...ws);
    // + 0·Σ w: tf.grads refuses a weight without a path to the loss (the recurrent kernels
    // over one step, the memory's over two), though its gradient is simply zero
    const loss = (...args: tf.Tensor[]) => tf.addN([tf.sum(tf.mul(model(args[0]!, ...args.slice(1)), r)), ...args.map((a) => tf.mul(0, tf.sum(a)))]);
    const grads = tf.grads(loss)([x, ...ws]);
    return { h: h.dataSync() as Float32Array, grads: grads.map((g) => g.dataSync() as Float32Array) };
  });
}

/** Calls of the native TKAN functions while `f` runs. */
function countingCalls<T>(f: () => T): { result: T; calls: Record<string, number> } {
  const binding = loadBinding().binding as unknown as Record<string, (...a: unknown[]) => unknown>;
  const names = ['tkanForwardF32', 'tkanBackwardF32'];
  const saved = names.map((n) => [n, binding[n]!] as const);
  const calls: Record<string, number> = {};
  for (const [n, orig] of saved) binding[n] = (...a: unknown[]) => ((calls[n] = (calls[n] ?? 0) + 1), orig(...a));
  try {
    return { result: f(), calls };
  } finally {
    for (const [n, orig] of saved) binding[n] = orig;
  }
}

describe.skipIf(!available)('tkanSequence: the fused native kernel against the tfjs composition', () => {
  it.each(CASES)('%s: output and every gradient within 1e-4 (relative to the largest value)', (name, c, base) => {
    const opts: TkanSequenceOptions = { gridSize: c.G, gridMin: c.lo, gridMax: c.hi, baseActivation: base };
    const a = arrays(c, name.length * 7 + c.T);
    const want = run('cpu', c, a, (x, w) => tkanSequenceTfjs(x, w, opts));
    useBackend('native');
    expect(tkanImplementation()).toBe('native');
    const { result: got, calls } = countingCalls(() => run('native', c, a, (x, w) => tkanSequence(x, w, opts)));
    // one call each way (the output is computed twice: once bare, once under the gradient)
    expect(calls).toEqual({ tkanForwardF32: 2, tkanBackwardF32: 1 });
    const close = (what: string, g: Float32Array, w: Float32Array) => {
      const scale = Math.max(maxAbs(w), 1e-6);
      expect(maxAbsDiff(g, w) / scale, `${name} ${what}`).toBeLessThanOrEqual(1e-4);
    };
    close('h', got.h, want.h);
    const names = ['x', ...TKAN_WEIGHT_NAMES];
    got.grads.forEach((g, i) => close(`d${names[i]}`, g, want.grads[i]!));
    // from three steps on every gradient is exercised (a zero one would prove nothing); with
    // fewer, the memory of the last step feeds nothing and one step has no recurrent product
    if (c.T >= 3) for (const [i, n] of names.entries()) expect(maxAbs(want.grads[i]!), `${name} d${n} is zero`).toBeGreaterThan(0);
  });

  it('a weight of the wrong shape is ERR_SHAPE naming it; inputGrad false gives a zero dx', () => {
    const c: Case = { T: 2, B: 3, C: 4, U: 3, K: 2, G: 3, lo: -1, hi: 1 };
    const opts: TkanSequenceOptions = { gridSize: c.G, gridMin: c.lo, gridMax: c.hi, baseActivation: 'silu' };
    const a = arrays(c, 5);
    useBackend('native');
    tf.tidy(() => {
      const sh = shapes(c);
      const w = Object.fromEntries(TKAN_WEIGHT_NAMES.map((n) => [n, tf.tensor(a.weights[n]!, sh[n])])) as unknown as TkanSequenceWeights;
      const x = tf.tensor3d(a.x, [c.T, c.B, c.C]);
      const bad = { ...w, splineKernel: tf.zeros([c.K * c.G, c.K]) as tf.Tensor2D };
      const e = thrown(() => tkanSequence(x, bad, opts));
      expect([e.code, e.data.argument]).toEqual(['ERR_SHAPE', 'splineKernel']);
      const dx = tf.grad((xs: tf.Tensor) => tf.sum(tkanSequence(xs as tf.Tensor3D, w, { ...opts, inputGrad: false })))(x);
      expect(maxAbs(dx.dataSync())).toBe(0);
    });
  });
});
