/**
 * The fused native attention and GRN ops (src/ops/causalAttention.ts, src/ops/grnOp.ts) against
 * their tfjs compositions run on the 'cpu' backend: outputs and the gradient of every weight
 * and of the input, within 1e-4 relative (float32), on named odd shapes (batch 1, length 1 and
 * 2, widths that the heads do not divide, with and without the GRN's skip projection, the gft
 * encoder's shape at hidden 32; the stacked GRN with stacks of 1, 2 and 7 and VariableSelection's
 * shapes in gft and gftSig; VariableSelection itself, whose per-variable GRNs run stacked). The
 * loss is Σ y ⊙ R for a fixed random R, so every output element's gradient is exercised. Finite
 * differences: tests/layers/gradients.test.ts (the layers, on both backends) and
 * native/core/tests/{attention,grn}_cpu.rs (the kernels' math).
 */
import { describe, expect, it } from 'vitest';

import { causalAttention, fusedImplementation } from '../../src/ops/causalAttention.js';
import { grnOp } from '../../src/ops/grnOp.js';
import { activeBackend, nativeBackendStatus, useBackend } from '../../src/ops/backend.js';
import { tf } from '../../src/ops/tf.js';
import { Rng } from '../../src/rng.js';
import { apply, builtLayer, caseByName, maxAbs, maxAbsDiff, onBackend } from '../helpers/layers.js';

const status = nativeBackendStatus();
if (!status.available) console.warn(`SKIPPED fused attention/GRN parity: ${status.reason}`);
const d = status.available ? describe : describe.skip;

/** The bound: 1e-4 relative to the scale of each result (at least 1). */
const RTOL = 1e-4;

interface Arrays {
  /** the input first, then the weights in the op's order */
  inputs: { name: string; shape: number[]; values: Float32Array }[];
  r: Float32Array;
}

function random(shape: number[], rng: Rng, scale: number): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.nextNormal() * scale);
}

/** Output and the gradients of Σ y ⊙ R with respect to every input, on `backend`, as arrays. */
function run(backend: string, a: Arrays, f: (ts: tf.Tensor[]) => tf.Tensor): { y: Float32Array; grads: Float32Array[] } {
  const before = activeBackend();
  useBackend(backend);
  try {
    return tf.tidy(() => {
      const ts = a.inputs.map((i) => tf.tensor(i.values, i.shape, 'float32'));
      const y = f(ts);
      const r = tf.tensor(a.r, y.shape, 'float32');
      const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(xs), r)))(ts);
      return { y: y.dataSync() as Float32Array, grads: grads.map((g) => g.dataSync() as Float32Array) };
    });
  } finally {
    useBackend(before);
  }
}

function expectParity(a: Arrays, fused: (ts: tf.Tensor[]) => tf.Tensor, reference: (ts: tf.Tensor[]) => tf.Tensor): void {
  const got = run('native', a, fused);
  const want = run('cpu', a, reference);
  expect(maxAbsDiff(got.y, want.y), 'y').toBeLessThanOrEqual(RTOL * Math.max(1, maxAbs(want.y)));
  a.inputs.forEach((input, i) => {
    const scale = Math.max(1, maxAbs(want.grads[i]!));
    expect(maxAbsDiff(got.grads[i]!, want.grads[i]!), `d${input.name}`).toBeLessThanOrEqual(RTOL * scale);
  });
}

const ATT = ['wq', 'bq', 'wk', 'wv', 'bv', 'wo', 'bo'] as const;

d('causalAttention: the fused native op against the tfjs composition on cpu', () => {
  onBackend('native');
  it('runs the fused kernel on the native backend', () => {
    expect(fusedImplementation()).toBe('native');
  });

  it.each([
    ['b1-t1-d1-h3-k1-u1', 1, 1, 1, 3, 1, 1],
    ['b1-t2-d4-h2-k2-u4', 1, 2, 4, 2, 2, 4],
    ['b3-t5-d7-h3-k3-u7 (width 7 over 3 heads: keyDim ceil(7/3) = 3)', 3, 5, 7, 3, 3, 7],
    ['b2-t5-d7-h2-k3-u4', 2, 5, 7, 2, 3, 4],
    ['b67-t12-d32-h3-k11-u32 (the gft encoder at hidden 32)', 67, 12, 32, 3, 11, 32],
  ] as const)('%s: outputs and every gradient within 1e-4', (_name, B, T, D, H, K, U) => {
    const rng = Rng.fromSeed(B * 1000 + T * 10 + D);
    const hk = H * K;
    const shapes: Record<(typeof ATT)[number], number[]> = { wq: [D, hk], bq: [hk], wk: [D, hk], wv: [D, hk], bv: [hk], wo: [hk, U], bo: [U] };
    const a: Arrays = {
      inputs: [{ name: 'x', shape: [B, T, D], values: random([B, T, D], rng, 1) }, ...ATT.map((n) => ({ name: n, shape: shapes[n], values: random(shapes[n], rng, 0.5) }))],
      r: random([B, T, U], rng, 1),
    };
    const weights = (ts: tf.Tensor[]) => Object.fromEntries(ATT.map((n, i) => [n, ts[i + 1]!])) as unknown as Parameters<typeof causalAttention>[1];
    expectParity(
      a,
      (ts) => causalAttention(ts[0] as tf.Tensor3D, weights(ts), H, { implementation: 'native' }),
      (ts) => causalAttention(ts[0] as tf.Tensor3D, weights(ts), H, { implementation: 'tfjs' }),
    );
  });
});

const GRN = ['w1', 'b1', 'w2', 'b2', 'wv', 'bv', 'wg', 'bg', 'ws', 'bs', 'gamma', 'beta'] as const;

d('grnOp: the fused native op against the tfjs composition on cpu', () => {
  onBackend('native');
  it.each([
    ['r1-d1-h1-u1', [1], 1, 1, 1],
    ['b1-t1-d3-h3-u3 (identity skip)', [1, 1], 3, 3, 3],
    ['b3-t5-d7-h7-u7 (identity skip)', [3, 5], 7, 7, 7],
    ['b3-d5-h4-u3 (skip projection, rank 2)', [3], 5, 4, 3],
    ['b2-t5-d4-h5-u7 (skip projection)', [2, 5], 4, 5, 7],
    ['b67-t12-d32-h32-u32 (the gft encoder at hidden 32)', [67, 12], 32, 32, 32],
    ['b5-d21-h8-u7 (a VariableSelection selection GRN)', [5], 21, 8, 7],
  ] as const)('%s: outputs and every gradient within 1e-4', (_name, lead, D, h, u) => {
    const rng = Rng.fromSeed(D * 100 + h * 10 + u);
    const shapes: Record<(typeof GRN)[number], number[]> = {
      w1: [D, h], b1: [h], w2: [h, h], b2: [h], wv: [h, u], bv: [u], wg: [h, u], bg: [u], ws: [D, u], bs: [u], gamma: [u], beta: [u],
    };
    const names = GRN.filter((n) => D !== u || (n !== 'ws' && n !== 'bs'));
    const a: Arrays = {
      inputs: [{ name: 'x', shape: [...lead, D], values: random([...lead, D], rng, 1) }, ...names.map((n) => ({ name: n, shape: shapes[n], values: random(shapes[n], rng, 0.6) }))],
      r: random([...lead, u], rng, 1),
    };
    const weights = (ts: tf.Tensor[]) => Object.fromEntries(names.map((n, i) => [n, ts[i + 1]!])) as unknown as Parameters<typeof grnOp>[1];
    expectParity(
      a,
      (ts) => grnOp(ts[0]!, weights(ts), 1e-3, { implementation: 'native' }),
      (ts) => grnOp(ts[0]!, weights(ts), 1e-3, { implementation: 'tfjs' }),
    );
  });

  // stack-rows-in-hidden-units; x [S, ...rows, in], every weight with a leading [S]
  it.each([
    ['s1-r4-d3-h4-u5 (stacked weights, one GRN)', 1, [4], 3, 4, 5],
    ['s2-r1-d3-h4-u3 (one row each, identity skip)', 2, [1], 3, 4, 3],
    ['s2-r6-d3-h5-u4 (skip projection)', 2, [6], 3, 5, 4],
    ['s7-r13-d3-h8-u6 (seven variables, d = 3)', 7, [13], 3, 8, 6],
    ['s7-b3-t5-d4-h3-u4 (identity skip, rows as [batch, time])', 7, [3, 5], 4, 3, 4],
    ['s3-r600-d3-h16-u16 (several row blocks per GRN)', 3, [600], 3, 16, 16],
    ['s7-r804-d3-h32-u32 (gft\'s per-variable GRNs at hidden 32, 67·12 rows)', 7, [804], 3, 32, 32],
    ['s46-r24-d3-h32-u32 (gftSig\'s 46 variables)', 46, [24], 3, 32, 32],
  ] as const)('stacked %s: outputs and every gradient within 1e-4', (_name, S, rows, D, h, u) => {
    const rng = Rng.fromSeed(S * 1000 + D * 100 + h * 10 + u);
    const one: Record<(typeof GRN)[number], number[]> = {
      w1: [D, h], b1: [h], w2: [h, h], b2: [h], wv: [h, u], bv: [u], wg: [h, u], bg: [u], ws: [D, u], bs: [u], gamma: [u], beta: [u],
    };
    const names = GRN.filter((n) => D !== u || (n !== 'ws' && n !== 'bs'));
    const xShape = [S, ...rows, D];
    const a: Arrays = {
      inputs: [{ name: 'x', shape: xShape, values: random(xShape, rng, 1) }, ...names.map((n) => ({ name: n, shape: [S, ...one[n]], values: random([S, ...one[n]], rng, 0.6) }))],
      r: random([S, ...rows, u], rng, 1),
    };
    const weights = (ts: tf.Tensor[]) => Object.fromEntries(names.map((n, i) => [n, ts[i + 1]!])) as unknown as Parameters<typeof grnOp>[1];
    expectParity(
      a,
      (ts) => grnOp(ts[0]!, weights(ts), 1e-3, { implementation: 'native' }),
      (ts) => grnOp(ts[0]!, weights(ts), 1e-3, { implementation: 'tfjs' }),
    );
  });

  it.each([
    ['gamma', { gamma: [4] }],
    ['ws', { ws: [3, 2] }],
  ] as [string, Record<string, number[]>][])('names %s when its shape is wrong', (name, bad) => {
    const shapes: Record<string, number[]> = { w1: [3, 4], b1: [4], w2: [4, 4], b2: [4], wv: [4, 3], bv: [3], wg: [4, 3], bg: [3], gamma: [3], beta: [3], ...bad };
    const w = Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, tf.ones(s)])) as unknown as Parameters<typeof grnOp>[1];
    const x = name === 'ws' ? tf.ones([2, 4]) : tf.ones([2, 3]);
    if (name === 'ws') {
      const w2 = { ...w, w1: tf.ones([4, 4]), bs: tf.zeros([3]) };
      expect(() => grnOp(x, w2, 1e-3)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE', message: expect.stringContaining('ws') }));
    } else {
      expect(() => grnOp(x, w, 1e-3)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE', message: expect.stringContaining(name) }));
    }
  });

  it.each([
    ['x', 'a stack of 3 over x of 2', [2, 4, 3], {}],
    ['b1', 'one GRN\'s b1 in a stack of 3', [3, 4, 3], { b1: [4] }],
    ['beta', 'beta of a stack of 2 in a stack of 3', [3, 4, 3], { beta: [2, 3] }],
  ] as [string, string, number[], Record<string, number[]>][])('stacked: names %s (%s)', (name, _what, xShape, bad) => {
    const shapes: Record<string, number[]> = { w1: [3, 3, 4], b1: [3, 4], w2: [3, 4, 4], b2: [3, 4], wv: [3, 4, 3], bv: [3, 3], wg: [3, 4, 3], bg: [3, 3], gamma: [3, 3], beta: [3, 3], ...bad };
    const w = Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, tf.ones(s)])) as unknown as Parameters<typeof grnOp>[1];
    expect(() => grnOp(tf.ones(xShape), w, 1e-3)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE', message: expect.stringContaining(`${name}:`) }));
  });
});

d('VariableSelection: per-variable GRNs fused (native) against the composition (cpu)', () => {
  /** outputs and the gradients of Σ y ⊙ R for every trainable weight and the input, on `backend` */
  function runLayer(backend: string, name: string): { y: Float32Array; grads: Float32Array[]; names: string[] } {
    const before = activeBackend();
    useBackend('native');
    const { layer, inputs } = builtLayer(caseByName(name), 7);
    useBackend(backend);
    try {
      return tf.tidy(() => {
        const x = tf.variable(inputs[0]!);
        const y = apply(layer, [x])[0]!;
        const r = tf.tensor(random(y.shape, Rng.fromSeed(3), 1), y.shape, 'float32');
        const vars = [...layer.trainableWeights.map((w) => w.read() as tf.Variable), x];
        const { grads } = tf.variableGrads(() => tf.sum(tf.mul(apply(layer, [x])[0]!, r)) as tf.Scalar, vars);
        return { y: y.dataSync() as Float32Array, grads: vars.map((v) => grads[v.name]!.dataSync() as Float32Array), names: [...layer.trainableWeights.map((w) => w.originalName), 'x'] };
      });
    } finally {
      useBackend(before);
    }
  }

  it.each([
    ['VariableSelection b2-t3-v5-u3-e3'],
    ['VariableSelection b3-v4-u5-e2-h3 (rank 2)'],
  ])('%s: output and every gradient within 1e-4', (name) => {
    const got = runLayer('native', name);
    const want = runLayer('cpu', name);
    expect(maxAbsDiff(got.y, want.y), 'y').toBeLessThanOrEqual(RTOL * Math.max(1, maxAbs(want.y)));
    want.grads.forEach((g, i) => {
      expect(maxAbsDiff(got.grads[i]!, g), `d${want.names[i]}`).toBeLessThanOrEqual(RTOL * Math.max(1, maxAbs(g)));
    });
  });
});
