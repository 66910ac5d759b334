/**
 * Helpers for the layer tests (tests/layers): the named cases every behaviour runs over (one
 * table, so a new layer is one entry), random weights, outputs as plain arrays, and a
 * finite-difference gradient check that works in float32.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll } from 'vitest';

import { tf } from '../../src/ops/tf.js';
import { activeBackend, nativeBackendStatus, useBackend } from '../../src/ops/backend.js';
import {
  CausalMultiHeadAttention, GLU, GRN, SignatureFeatures, TKAN, VariableSelection,
  causalMultiHeadAttentionParameterCount, gluParameterCount, grnParameterCount, signatureFeaturesParameterCount,
  tkanParameterCount, variableSelectionParameterCount,
} from '../../src/layers/index.js';
import { Rng } from '../../src/rng.js';

export type Layer = InstanceType<typeof tfl.layers.Layer>;

/** The backends every layer test runs on: the default (native, when it loads) and 'cpu'. */
export const BACKENDS: string[] = nativeBackendStatus().available ? ['native', 'cpu'] : ['cpu'];

/** Run the enclosing describe block's tests on `backend`; the backend before it is restored after. */
export function onBackend(backend: string): void {
  const before = activeBackend();
  beforeAll(() => useBackend(backend));
  afterAll(() => useBackend(before));
}

export interface LayerCase {
  name: string;
  make: () => Layer;
  /** input shapes (two for a context input) */
  inputs: number[][];
  /** trainable parameters by the module's documented formula */
  params: number;
  /** sequence layers: output[:, t] may read inputs[:, 0..t] only */
  causal?: boolean;
  /** call arguments (SignatureFeatures' `training`) */
  kwargs?: Record<string, unknown>;
  /** why some gradient is identically zero here (a single step, a single variable, ...):
   * the finite-difference test, which requires every gradient to be nonzero, skips the case */
  degenerate?: string;
}

/** The named cases of every layer: odd widths, batch 1, length 1 and 2. */
export const LAYER_CASES: LayerCase[] = [
  { name: 'GLU b1-t1-d1-u1', make: () => new GLU({ units: 1 }), inputs: [[1, 1, 1]], params: gluParameterCount(1, 1) },
  { name: 'GLU b3-d5-u2 (rank 2)', make: () => new GLU({ units: 2 }), inputs: [[3, 5]], params: gluParameterCount(5, 2) },
  { name: 'GLU b2-t3-d4-u7', make: () => new GLU({ units: 7 }), inputs: [[2, 3, 4]], params: gluParameterCount(4, 7) },
  { name: 'GRN b1-d3-u3 (no skip projection)', make: () => new GRN({ units: 3 }), inputs: [[1, 3]], params: grnParameterCount(3, 3, 3) },
  { name: 'GRN b2-t3-d5-u3-h4', make: () => new GRN({ units: 3, hiddenUnits: 4 }), inputs: [[2, 3, 5]], params: grnParameterCount(5, 4, 3) },
  { name: 'GRN b2-t2-d5-u3-c2 (context per sequence)', make: () => new GRN({ units: 3 }), inputs: [[2, 2, 5], [2, 2]], params: grnParameterCount(5, 3, 3, 2) },
  { name: 'GRN b3-d4-u2-c3 (context per row)', make: () => new GRN({ units: 2, hiddenUnits: 5 }), inputs: [[3, 4], [3, 3]], params: grnParameterCount(4, 5, 2, 3) },
  { name: 'VariableSelection b1-t1-v1-u2', make: () => new VariableSelection({ units: 2 }), inputs: [[1, 1, 1]], params: variableSelectionParameterCount(1, 2), degenerate: 'softmax over one variable' },
  { name: 'VariableSelection b2-t3-v5-u3-e3', make: () => new VariableSelection({ units: 3 }), inputs: [[2, 3, 5]], params: variableSelectionParameterCount(5, 3) },
  { name: 'VariableSelection b3-v4-u5-e2-h3 (rank 2)', make: () => new VariableSelection({ units: 5, embedding: 2, hiddenUnits: 3 }), inputs: [[3, 4]], params: variableSelectionParameterCount(4, 5, 2, 3) },
  { name: 'VariableSelection b2-t2-v3-u3 returnWeights', make: () => new VariableSelection({ units: 3, returnWeights: true }), inputs: [[2, 2, 3]], params: variableSelectionParameterCount(3, 3) },
  { name: 'TKAN kan b1-t1-c1-u1', make: () => new TKAN({ units: 1, returnSequences: true }), inputs: [[1, 1, 1]], params: tkanParameterCount('kan', 1, 1), causal: true, degenerate: 'one step: no recurrent product' },
  { name: 'TKAN kan b2-t2-c3-u5 last', make: () => new TKAN({ units: 5 }), inputs: [[2, 2, 3]], params: tkanParameterCount('kan', 3, 5), degenerate: 'two steps: the KAN memory of the last step is unused' },
  { name: 'TKAN kan b2-t3-c3-u5 last', make: () => new TKAN({ units: 5 }), inputs: [[2, 3, 3]], params: tkanParameterCount('kan', 3, 5) },
  { name: 'TKAN kan b3-t5-c4-u3-k2-g3', make: () => new TKAN({ units: 3, kanUnits: 2, gridSize: 3, returnSequences: true }), inputs: [[3, 5, 4]], params: tkanParameterCount('kan', 4, 3, 2, 3), causal: true },
  { name: 'TKAN kan b2-t4-c3-u2 relu base, grid [-2, 3]', make: () => new TKAN({ units: 2, baseActivation: 'relu', gridMin: -2, gridMax: 3, returnSequences: true }), inputs: [[2, 4, 3]], params: tkanParameterCount('kan', 3, 2), causal: true },
  { name: 'TKAN lstm b1-t1-c1-u1', make: () => new TKAN({ units: 1, cell: 'lstm', returnSequences: true }), inputs: [[1, 1, 1]], params: tkanParameterCount('lstm', 1, 1), causal: true, degenerate: 'one step: no recurrent product' },
  { name: 'TKAN lstm b2-t2-c3-u5 last', make: () => new TKAN({ units: 5, cell: 'lstm' }), inputs: [[2, 2, 3]], params: tkanParameterCount('lstm', 3, 5) },
  { name: 'TKAN lstm b3-t5-c4-u3', make: () => new TKAN({ units: 3, cell: 'lstm', returnSequences: true }), inputs: [[3, 5, 4]], params: tkanParameterCount('lstm', 4, 3), causal: true },
  { name: 'CausalMultiHeadAttention b1-t1-d1-h3', make: () => new CausalMultiHeadAttention(), inputs: [[1, 1, 1]], params: causalMultiHeadAttentionParameterCount(1), causal: true, degenerate: 'one position: softmax over one score' },
  { name: 'CausalMultiHeadAttention b2-t2-d5-h3', make: () => new CausalMultiHeadAttention(), inputs: [[2, 2, 5]], params: causalMultiHeadAttentionParameterCount(5), causal: true },
  { name: 'CausalMultiHeadAttention b3-t5-d7-h2-k3-u4', make: () => new CausalMultiHeadAttention({ heads: 2, keyDim: 3, units: 4 }), inputs: [[3, 5, 7]], params: causalMultiHeadAttentionParameterCount(7, 2, 3, 4), causal: true },
  { name: 'SignatureFeatures b1-l1-c2-m3-s1', make: () => new SignatureFeatures({ steps: 1 }), inputs: [[1, 1, 2]], params: signatureFeaturesParameterCount(1, 2), degenerate: 'one point: zero signature' },
  { name: 'SignatureFeatures b2-l2-c3-m3-s5', make: () => new SignatureFeatures({ steps: 5 }), inputs: [[2, 2, 3]], params: signatureFeaturesParameterCount(2, 3) },
  { name: 'SignatureFeatures b3-l7-c2-m2-s4', make: () => new SignatureFeatures({ steps: 4, depth: 2 }), inputs: [[3, 7, 2]], params: signatureFeaturesParameterCount(7, 2, 2) },
  { name: 'SignatureFeatures b3-l5-c1-m4-s3 basepoint, training', make: () => new SignatureFeatures({ steps: 3, depth: 4, basepoint: true }), inputs: [[3, 5, 1]], params: signatureFeaturesParameterCount(5, 1, 4), kwargs: { training: true } },
  { name: 'SignatureFeatures b2-l4-c3-m3-s2 logSignature', make: () => new SignatureFeatures({ steps: 2, logSignature: true }), inputs: [[2, 4, 3]], params: signatureFeaturesParameterCount(4, 3, 3, true) },
  { name: 'SignatureFeatures b1-l2-c2-m3-s1 logSignature (one segment)', make: () => new SignatureFeatures({ steps: 1, logSignature: true }), inputs: [[1, 2, 2]], params: signatureFeaturesParameterCount(2, 2, 3, true), degenerate: 'one segment: the log-signature is the increment, zero above level 1' },
  { name: 'SignatureFeatures b3-l6-c2-m4-s3 logSignature, basepoint, training', make: () => new SignatureFeatures({ steps: 3, depth: 4, basepoint: true, logSignature: true }), inputs: [[3, 6, 2]], params: signatureFeaturesParameterCount(6, 2, 4, true), kwargs: { training: true } },
];

export function caseByName(name: string): LayerCase {
  const c = LAYER_CASES.find((x) => x.name === name);
  if (!c) throw new Error(`no layer case ${name}`);
  return c;
}

export function randomArray(n: number, rng: Rng, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.nextNormal() * scale);
}

export function randomInputs(c: LayerCase, seed: number): tf.Tensor[] {
  const rng = Rng.fromSeed(seed);
  return c.inputs.map((s) => tf.tensor(randomArray(s.reduce((a, b) => a * b, 1), rng), s));
}

/** Random weights (normal · scale; variances positive), so no zero bias or unit γ hides a bug. */
export function randomizeWeights(layer: Layer, seed: number, scale = 0.5): void {
  const rng = Rng.fromSeed(seed);
  layer.setWeights(layer.weights.map((w) => {
    const n = (w.shape as number[]).reduce((a, b) => a * b, 1);
    const values = randomArray(n, rng, scale);
    if (w.originalName.endsWith('movingVariance')) for (let i = 0; i < n; i++) values[i] = 0.5 + Math.abs(values[i]!);
    return tf.tensor(values, w.shape as number[]);
  }));
}

/** Build a case's layer on its inputs with random weights. */
export function builtLayer(c: LayerCase, seed: number): { layer: Layer; inputs: tf.Tensor[] } {
  const layer = c.make();
  const inputs = randomInputs(c, seed);
  apply(layer, inputs, c.kwargs);
  randomizeWeights(layer, seed + 1);
  return { layer, inputs };
}

export function apply(layer: Layer, inputs: tf.Tensor[], kwargs?: Record<string, unknown>): tf.Tensor[] {
  const y = layer.apply(inputs.length === 1 ? inputs[0]! : inputs, kwargs ?? {}) as tf.Tensor | tf.Tensor[];
  return Array.isArray(y) ? y : [y];
}

/** Every output value, concatenated, as float64. */
export function outputValues(ys: tf.Tensor[]): Float64Array {
  const parts = ys.map((y) => y.dataSync());
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
export const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};

export interface GradientMismatch {
  what: string;
  index: number;
  autodiff: number;
  finiteDifference: number;
}

/**
 * Checks autodiff against central differences for the loss Σ_i y_i·R_i (R fixed, random), for
 * every trainable weight and every input: at the entry of largest |gradient| (where a relative
 * error binds) and `samples` random entries. The loss sums float32 outputs in float64; a step of
 * 1e-2 keeps float32 rounding (~1e-7 relative per output) far below the tolerance, and the
 * truncation error (step²·f'''/6) too. Returns the entries that miss
 * |fd − ad| ≤ rtol·max(|ad|, |fd|) + atol·(largest |gradient| of that array) + noise, where
 * noise = 4·2^-24·Σ|y_i·R_i| / step is the float32 resolution of the difference quotient (it
 * only matters for entries far below the largest, which the relative check does not reach).
 */
export function finiteDifferenceCheck(layer: Layer, inputs: tf.Tensor[], kwargs: Record<string, unknown> | undefined, seed: number, opts: { step?: number; rtol?: number; atol?: number; samples?: number } = {}): { mismatches: GradientMismatch[]; checked: string[]; largest: Record<string, number> } {
  const step = opts.step ?? 1e-2;
  const rtol = opts.rtol ?? 1e-2;
  const atol = opts.atol ?? 1e-3;
  const samples = opts.samples ?? 2;
  const rng = Rng.fromSeed(seed);
  const outCount = outputValues(apply(layer, inputs, kwargs)).length;
  const R = Float64Array.from({ length: outCount }, () => rng.nextNormal());
  // float32 resolution of the loss difference: outputs carry ~2^-24 relative rounding (a few
  // ulps after a layer's arithmetic), so differences of the loss below ~4·2^-24·Σ|y·R| are noise
  const y0 = outputValues(apply(layer, inputs, kwargs));
  let magnitude = 0;
  for (let i = 0; i < y0.length; i++) magnitude += Math.abs(y0[i]! * R[i]!);
  const noise = (4 * 2 ** -24 * magnitude) / step;
  const loss = (xs: tf.Tensor[]) => {
    const y = outputValues(apply(layer, xs, kwargs));
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * R[i]!;
    return s;
  };
  // autodiff: inputs as variables alongside the layer's weights
  const inputVars = inputs.map((x) => tf.variable(x));
  const weightVars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  const rT = tf.tensor1d(Float32Array.from(R));
  const { grads } = tf.variableGrads(() => {
    const ys = apply(layer, inputVars, kwargs);
    return tf.sum(tf.mul(tf.concat(ys.map((y) => tf.reshape(y, [-1]))), rT)) as tf.Scalar;
  }, [...weightVars, ...inputVars]);
  const mismatches: GradientMismatch[] = [];
  const checked: string[] = [];
  const largest: Record<string, number> = {};
  const entries = (g: Float32Array): number[] => {
    let best = 0;
    for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[best]!)) best = i;
    const picks = new Set([best]);
    for (let k = 0; k < samples && picks.size < g.length; k++) picks.add(Math.floor(rng.nextFloat() * g.length));
    return [...picks];
  };
  const check = (what: string, g: Float32Array, fd: (i: number) => number) => {
    checked.push(what);
    const scale = maxAbs(g);
    largest[what] = scale;
    for (const i of entries(g)) {
      const f = fd(i);
      if (!(Math.abs(f - g[i]!) <= rtol * Math.max(Math.abs(f), Math.abs(g[i]!)) + atol * scale + noise)) mismatches.push({ what, index: i, autodiff: g[i]!, finiteDifference: f });
    }
  };
  layer.trainableWeights.forEach((w, k) => {
    const v = weightVars[k]!;
    const g = (grads[v.name]?.dataSync() ?? new Float32Array(v.size)) as Float32Array;
    const base = v.dataSync().slice() as Float32Array;
    check(w.originalName, g, (i) => {
      const at = (delta: number) => {
        const p = base.slice();
        p[i] = p[i]! + delta;
        w.write(tf.tensor(p, w.shape as number[]));
        return loss(inputs);
      };
      const d = (at(step) - at(-step)) / (2 * step);
      w.write(tf.tensor(base, w.shape as number[]));
      return d;
    });
  });
  inputs.forEach((x, k) => {
    const g = (grads[inputVars[k]!.name]?.dataSync() ?? new Float32Array(x.size)) as Float32Array;
    const base = x.dataSync() as Float32Array;
    check(`input ${k}`, g, (i) => {
      const at = (delta: number) => {
        const p = base.slice();
        p[i] = p[i]! + delta;
        return loss(inputs.map((y, j) => (j === k ? tf.tensor(p, x.shape) : y)));
      };
      return (at(step) - at(-step)) / (2 * step);
    });
  });
  return { mismatches, checked, largest };
}
