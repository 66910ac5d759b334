/**
 * logSignatureOp on named shapes against the float64 reference (tests/helpers/
 * logSignatureReference.ts: Chen's identity in TypeScript, the logarithm by its power series):
 * batch 1, path length 1 and 2, one channel, odd sizes, basepoint, stream; closed forms (a
 * point: zero; a segment or one channel: the increment); the Lyndon coordinates re-expanded
 * give back the whole tensor logarithm (it is a Lie element); the gradient against central
 * differences of the reference; argument errors.
 */
import { describe, expect, it } from 'vitest';

import { tf } from '../../src/ops/tf.js';
import { logSignatureOp } from '../../src/ops/logSignatureOp.js';
import { expandLyndon, lyndonBasis } from '../../src/ops/lyndonBasis.js';
import { sigLength } from '../../src/native/signature.js';
import { Rng } from '../../src/rng.js';
import { thrown } from '../helpers/errors.js';
import { BACKENDS, onBackend } from '../helpers/layers.js';
import { logSignatureReferenceBatch } from '../helpers/logSignatureReference.js';

/** A random walk [batch, length, channels] with increments ~ N(0, 1/length). */
function walk(B: number, L: number, C: number, seed: number): Float32Array {
  const rng = Rng.fromSeed(seed);
  const xs = new Float32Array(B * L * C);
  for (let i = 0; i < xs.length; i++) xs[i] = (i % (L * C) >= C ? xs[i - C]! : rng.nextNormal()) + (i % (L * C) >= C ? rng.nextNormal() / Math.sqrt(L) : 0);
  return xs;
}

/** The reference on the float32 points (in float64), with the basepoint prepended when asked. */
function reference(xs: Float32Array, B: number, L: number, C: number, m: number, basepoint = false) {
  if (!basepoint) return logSignatureReferenceBatch(xs, B, L, C, m);
  const withZero = new Float64Array(B * (L + 1) * C);
  for (let b = 0; b < B; b++) withZero.set(xs.subarray(b * L * C, (b + 1) * L * C), (b * (L + 1) + 1) * C);
  return logSignatureReferenceBatch(withZero, B, L + 1, C, m);
}

/**
 * Worst per-level error, relative to the level's scale: the larger of the reference's largest
 * magnitude at that level and the signature's (`sigScale`, by level). Level k of log(1 + s) is
 * a sum of products as large as level k of the signature, so float32 arithmetic leaves an
 * absolute error ~1e-7·max|Sig_k| that cancellation cannot shrink; where the logarithm is much
 * smaller than the signature (high levels of short, smooth paths) that is what limits it.
 * (The iisignature vectors meet 1e-4 of the logarithm's own magnitude: logSignatureVectors.test.ts.)
 */
function worstLevelError(got: ArrayLike<number>, want: ArrayLike<number>, width: number, levelOf: (j: number) => number, sigScale: Map<number, number> = new Map()): number {
  const err = new Map<number, number>(), max = new Map<number, number>();
  for (let i = 0; i < want.length; i++) {
    const k = levelOf(i % width);
    err.set(k, Math.max(err.get(k) ?? 0, Math.abs(got[i]! - want[i]!)));
    max.set(k, Math.max(max.get(k) ?? 0, Math.abs(want[i]!)));
  }
  return Math.max(...[...err].map(([k, e]) => e / Math.max(max.get(k)!, sigScale.get(k) ?? 0, 1e-30)));
}

/** max|Sig_k| per level k of reference signature rows [*, sigLength(C, m)]. */
function signatureScale(sig: Float64Array, C: number, m: number): Map<number, number> {
  const out = new Map<number, number>();
  const siglen = sigLength(C, m);
  for (let i = 0; i < sig.length; i++) {
    const k = sigLevelOf(C)(i % siglen);
    out.set(k, Math.max(out.get(k) ?? 0, Math.abs(sig[i]!)));
  }
  return out;
}
const sigLevelOf = (C: number) => (j: number) => {
  let k = 1;
  for (let size = C; j >= size; k++) { j -= size; size *= C; }
  return k;
};
const lyndonLevelOf = (C: number, m: number) => (j: number) => lyndonBasis(C, m).words[j]!.length;

const SHAPES = [
  ['b1-l3-c2-m3', 1, 3, 2, 3, false],
  ['b3-l7-c3-m4', 3, 7, 3, 4, false],
  ['b2-l5-c5-m3', 2, 5, 5, 3, false],
  ['b1-l9-c2-m5', 1, 9, 2, 5, false],
  ['b4-l3-c4-m2 basepoint', 4, 3, 4, 2, true],
  ['b2-l4-c3-m1', 2, 4, 3, 1, false],
  ['b2-l3-c5-m4 (level 4 by gather: 625 × 150 entries)', 2, 3, 5, 4, false],
] as const;

describe.each(BACKENDS)('logSignatureOp on the %s backend', (backend) => {
  onBackend(backend);

  it.each(SHAPES)('%s: Lyndon coordinates and the expanded logarithm match the float64 reference to 1e-4 of each level\'s scale', (_name, B, L, C, m, basepoint) => {
    const xs = walk(B, L, C, B * 100 + L * 10 + C);
    const x = tf.tensor3d(xs, [B, L, C]);
    const want = reference(xs, B, L, C, m, basepoint);
    const n = lyndonBasis(C, m).words.length;
    const values = logSignatureOp(x, m, { basepoint });
    expect(values.shape).toEqual([B, n]);
    const scale = signatureScale(want.signature, C, m);
    expect(worstLevelError(values.dataSync(), want.lyndon, n, lyndonLevelOf(C, m), scale)).toBeLessThanOrEqual(1e-4);
    const expanded = logSignatureOp(x, m, { basepoint, basis: 'expanded' });
    expect(expanded.shape).toEqual([B, sigLength(C, m)]);
    expect(worstLevelError(expanded.dataSync(), want.expanded, sigLength(C, m), sigLevelOf(C), scale)).toBeLessThanOrEqual(1e-4);
  });

  it.each(SHAPES)('%s: the Lyndon coordinates re-expanded give back the whole logarithm (a Lie element): the reference to 1e-12, the op to 1e-4 of the level\'s scale', (_name, B, L, C, m, basepoint) => {
    const xs = walk(B, L, C, 7 * L + C);
    const want = reference(xs, B, L, C, m, basepoint);
    const values = logSignatureOp(tf.tensor3d(xs, [B, L, C]), m, { basepoint }).dataSync();
    const { words, indices } = lyndonBasis(C, m);
    const siglen = sigLength(C, m);
    const reexpand = (v: ArrayLike<number>) => {
      const back = new Float64Array(B * siglen);
      words.forEach((w, j) => {
        const levelStart = indices[j]! - w.reduce((i, letter) => i * C + letter, 0);
        for (const [i, c] of expandLyndon(w, C)) for (let b = 0; b < B; b++) back[b * siglen + levelStart + i]! += c * v[b * words.length + j]!;
      });
      return back;
    };
    // the reference's coordinates come from the Lyndon words' entries only: the rest must follow
    expect(worstLevelError(reexpand(want.lyndon), want.expanded, siglen, sigLevelOf(C))).toBeLessThanOrEqual(1e-12);
    expect(worstLevelError(reexpand(values), want.expanded, siglen, sigLevelOf(C), signatureScale(want.signature, C, m))).toBeLessThanOrEqual(1e-4);
  });

  it.each([
    ['b1-l1-c2-m3 (one point: zero)', 1, 1, 2, 3],
    ['b2-l1-c3-m2 (one point: zero)', 2, 1, 3, 2],
    ['b1-l2-c3-m4 (one segment: the increment at level 1, zero above)', 1, 2, 3, 4],
    ['b3-l2-c2-m3 (one segment)', 3, 2, 2, 3],
    ['b2-l6-c1-m4 (one channel: the increment, width 1)', 2, 6, 1, 4],
    ['b1-l1-c1-m2 (one point, one channel)', 1, 1, 1, 2],
  ] as const)('%s', (_name, B, L, C, m) => {
    const xs = walk(B, L, C, 3 + L + C);
    const x = tf.tensor3d(xs, [B, L, C]);
    const n = lyndonBasis(C, m).words.length;
    const got = logSignatureOp(x, m).dataSync();
    const want = new Float64Array(B * n);
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) want[b * n + c] = xs[(b * L + L - 1) * C + c]! - xs[b * L * C + c]!;
    if (L === 1) {
      expect(Array.from(got)).toEqual(Array.from(want));
    } else {
      let err = 0, max = 0;
      for (let i = 0; i < want.length; i++) { err = Math.max(err, Math.abs(got[i]! - want[i]!)); max = Math.max(max, Math.abs(want[i]!)); }
      expect(err).toBeLessThanOrEqual(1e-6 * max);
    }
  });

  it.each([
    ['b2-l5-c2-m3', 2, 5, 2, 3],
    ['b1-l4-c3-m2', 1, 4, 3, 2],
  ] as const)('%s stream: step i is the log-signature of points 0..i+1', (_name, B, L, C, m) => {
    const xs = walk(B, L, C, 11);
    const x = tf.tensor3d(xs, [B, L, C]);
    const stream = logSignatureOp(x, m, { stream: true });
    const n = lyndonBasis(C, m).words.length;
    expect(stream.shape).toEqual([B, L - 1, n]);
    for (let i = 0; i < L - 1; i++) {
      const prefix = logSignatureOp(tf.slice(x, [0, 0, 0], [B, i + 2, C]) as tf.Tensor3D, m).dataSync();
      const step = tf.slice(stream, [0, i, 0], [B, 1, n]).dataSync();
      for (let j = 0; j < prefix.length; j++) expect(Math.abs(step[j]! - prefix[j]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(prefix[j]!)));
    }
  });

  it.each([
    ['b2-l3-c2-m3', 2, 3, 2, 3, false],
    ['b1-l4-c3-m2 basepoint', 1, 4, 3, 2, true],
    ['b1-l2-c2-m4', 1, 2, 2, 4, false],
  ] as const)('%s: the gradient of Σ values·w matches central differences of the float64 reference', (_name, B, L, C, m, basepoint) => {
    const xs = walk(B, L, C, 5 * L + C);
    const n = lyndonBasis(C, m).words.length;
    const rng = Rng.fromSeed(19);
    const w = Float64Array.from({ length: B * n }, () => rng.nextNormal());
    const grad = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(logSignatureOp(p as tf.Tensor3D, m, { basepoint }), tf.tensor2d(Float32Array.from(w), [B, n]))))(tf.tensor3d(xs, [B, L, C])).dataSync();
    const loss = (p: Float64Array) => {
      const { lyndon } = reference(p as unknown as Float32Array, B, L, C, m, basepoint);
      return lyndon.reduce((s, v, i) => s + v * w[i]!, 0);
    };
    const h = 1e-5;
    const fd = new Float64Array(xs.length);
    for (let i = 0; i < xs.length; i++) {
      const plus = Float64Array.from(xs), minus = Float64Array.from(xs);
      plus[i]! += h;
      minus[i]! -= h;
      fd[i] = (loss(plus) - loss(minus)) / (2 * h);
    }
    const max = fd.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
    expect(max).toBeGreaterThan(0);
    for (let i = 0; i < fd.length; i++) expect(Math.abs(grad[i]! - fd[i]!), `d/dx[${i}]`).toBeLessThanOrEqual(1e-4 * max);
  });
});

describe('logSignatureOp arguments', () => {
  it.each([
    ['basis', () => logSignatureOp(tf.zeros([1, 2, 2]) as tf.Tensor3D, 2, { basis: 'hall' as never }), 'ERR_ARG', 'basis'],
    ['x of rank 2', () => logSignatureOp(tf.zeros([2, 2]) as unknown as tf.Tensor3D, 2), 'ERR_SHAPE', 'x'],
  ] as const)('%s: %s naming the argument', (_name, fn, code, argument) => {
    const e = thrown(fn);
    expect(e.code).toBe(code);
    expect(e.data.argument).toBe(argument);
  });
});
