/**
 * `logSignatureOp`: the truncated log-signature as a TensorFlow.js computation on top of the
 * native signature op (signatureOp.ts), so its gradient is tfjs autodiff through the tensor
 * logarithm and the native backward pass of the signature.
 *
 * x: tf.Tensor3D [batch, length, channels] (float32), depth m, d = channels.
 *   s        = signatureOp(x)                     levels 1..m, no leading 1, iisignature order
 *   expanded = log(1 + s) = Σ_{k=1}^{m} (−1)^{k+1} s^{⊗k} / k   in the tensor algebra truncated
 *              at level m, by Horner: log(1 + s) = s ⊗ r_1, r_k = (−1)^{k+1}/k + s ⊗ r_{k+1},
 *              r_m = (−1)^{m+1}/m, where r_k is needed up to level m − k only.
 *              (a⊗b)_n = Σ_{i+j=n} a_i ⊗ b_j, each a batched outer product [N, d^i] × [N, d^j]
 *              → [N, d^(i+j)] (first letter most significant, as in the signature).
 *              → [batch, siglen], the same word order as the signature (iisignature method 'X').
 *   lyndon   = the coordinates v in the Lyndon basis (iisignature method 'S', lyndonBasis.ts):
 *              v = gather(expanded, Lyndon words) · (A⁻¹)ᵀ → [batch, logSigLength(d, m)].
 *              Linear, so its gradient is the transposed product and a scatter.
 * `stream` gives every prefix's log-signature: [batch, length' − 1, ·].
 *
 * Precision: float32 throughout (tfjs). Level k of log(1 + s) is a sum of products as large
 * as level k of the signature, so its absolute error is ~1e-7..1e-6 of max|Sig_k| whatever
 * the cancellation: on the iisignature vectors ≤ 3e-6 of the logarithm's own magnitude per
 * level at depth ≤ 4 and 4e-5 at level 5 (gradients ≤ 1e-6), but where the logarithm is orders smaller than the signature (high levels of short,
 * smooth paths) its relative error grows accordingly (2e-4 at level 5 of a 9-point walk).
 * `precision: 'f64'` (the signature's recursion in float64) removes about half of that.
 * Cost (N = batch rows): the signature (signatureOp.ts), then the Horner products: the step
 * that builds levels 1..t does Σ_{n≤t} (n − 1) batched outer products of N·d^n multiply-adds
 * (4 products at depth 3, ~m³/6 in all), O(N·m·d^m) dominated by the last step's top level;
 * plus N·n gathered values and an N·n·n product for the Lyndon coordinates. Every product is
 * a separate tfjs op: small depths (m ≤ 4) keep the op count in the tens.
 */
import type * as tfc from '@tensorflow/tfjs-core';

import { tf } from './tf.js';
import { SigvwapError } from '../errors.js';
import { sigLength } from '../native/signature.js';
import { lyndonBasis } from './lyndonBasis.js';
import { type SignatureOpOptions, signatureOp } from './signatureOp.js';

export type LogSignatureBasis = 'lyndon' | 'expanded';

export interface LogSignatureOpOptions extends SignatureOpOptions {
  /** 'lyndon' (default): coordinates in the Lyndon basis; 'expanded': the tensor logarithm [siglen] */
  basis?: LogSignatureBasis;
}

/** Levels 1..m of a truncated tensor series: levels[k − 1] is [N, d^k] or null (zero). */
type Levels = (tfc.Tensor2D | null)[];

function outer(a: tfc.Tensor2D, b: tfc.Tensor2D): tfc.Tensor2D {
  const [N, p] = a.shape;
  const q = b.shape[1];
  return tf.reshape(tf.mul(tf.reshape(a, [N, p, 1]), tf.reshape(b, [N, 1, q])), [N, p * q]);
}

/** s ⊗ (c + r), levels 1..top: level n = c·s_n + Σ_{j=1}^{n−1} s_{n−j} ⊗ r_j. */
function mulSeries(s: Levels, c: number, r: Levels, top: number): Levels {
  const out: Levels = [];
  for (let n = 1; n <= top; n++) {
    let acc: tfc.Tensor2D | null = c === 0 ? null : (tf.mul(s[n - 1]!, c) as tfc.Tensor2D);
    for (let j = 1; j < n; j++) {
      const rj = r[j - 1];
      if (!rj) continue;
      const term = outer(s[n - j - 1]!, rj);
      acc = acc ? (tf.add(acc, term) as tfc.Tensor2D) : term;
    }
    out.push(acc);
  }
  return out;
}

/** log(1 + s) truncated at level m, for the signature rows s [N, siglen]. */
export function tensorLog(s: tfc.Tensor2D, channels: number, depth: number): tfc.Tensor2D {
  const N = s.shape[0];
  const sizes = Array.from({ length: depth }, (_, k) => channels ** (k + 1));
  const levels: Levels = tf.split(s, sizes, 1) as tfc.Tensor2D[];
  const coef = (k: number) => (k % 2 === 1 ? 1 : -1) / k;
  // r_m = coef(m) (a scalar); r_k = coef(k) + s ⊗ r_{k+1} up to level m − k
  let r: Levels = [];
  for (let k = depth - 1; k >= 1; k--) r = mulSeries(levels, coef(k + 1), r, depth - k);
  const out = mulSeries(levels, 1, r, depth);
  return tf.concat(out.map((t, i) => t ?? tf.zeros([N, sizes[i]!])), 1) as tfc.Tensor2D;
}

/** The Lyndon coordinates [N, n] of log-signature rows `expanded` [N, siglen]. */
export function lyndonCoordinates(expanded: tfc.Tensor2D, channels: number, depth: number): tfc.Tensor2D {
  const basis = lyndonBasis(channels, depth);
  const n = basis.words.length;
  const g = tf.gather(expanded, tf.tensor1d(basis.indices, 'int32'), 1) as tfc.Tensor2D;
  // v = A⁻¹ g per row, i.e. rows g · (A⁻¹)ᵀ
  return tf.matMul(g, tf.tensor2d(Float32Array.from(basis.inverse), [n, n]), false, true);
}

export function logSignatureOp(x: tfc.Tensor3D, depth: number, opts: LogSignatureOpOptions = {}): tfc.Tensor {
  const basis = opts.basis ?? 'lyndon';
  if (basis !== 'lyndon' && basis !== 'expanded') {
    throw new SigvwapError('ERR_ARG', `basis: expected 'lyndon' or 'expanded', got ${JSON.stringify(basis)}`, { argument: 'basis', value: basis });
  }
  const { basis: _b, ...sigOpts } = opts;
  return tf.tidy(() => {
    const sig = signatureOp(x, depth, sigOpts);
    const channels = x.shape[2];
    const lead = sig.shape.slice(0, -1);
    const rows = tf.reshape(sig, [-1, sigLength(channels, depth)]) as tfc.Tensor2D;
    const expanded = tensorLog(rows, channels, depth);
    const out = basis === 'expanded' ? expanded : lyndonCoordinates(expanded, channels, depth);
    return tf.reshape(out, [...lead, out.shape[1]]);
  });
}
