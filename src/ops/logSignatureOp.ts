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
 *              A is block diagonal over the levels, so per level k, g_k = the entries of the
 *              Lyndon words, v_k = g_k · (A_k⁻¹)ᵀ → [batch, logSigLength(d, m)] concatenated;
 *              the selection and the product are one dense [d^k, n_k] matrix where it has at
 *              most 2^16 entries (one matMul, whose gradient is one more), else a gather and
 *              an [n_k, n_k] product. Linear, with cached constant matrices.
 * `stream` gives every prefix's log-signature: [batch, length' − 1, ·].
 *
 * Precision: float32 throughout (tfjs). Level k of log(1 + s) is a sum of products as large
 * as level k of the signature, so its absolute error is ~1e-7..1e-6 of max|Sig_k| whatever
 * the cancellation: on the iisignature vectors ≤ 3e-6 of the logarithm's own magnitude per
 * level at depth ≤ 4 and 4e-5 at level 5 (gradients ≤ 1e-6), but where the logarithm is
 * orders smaller than the signature (high levels of short, smooth paths) its relative error
 * grows accordingly (2e-4 at level 5 of a 9-point walk). `precision: 'f64'` (the signature's
 * recursion in float64) removes the signature's share of it (3e-5 there).
 * Cost (N = batch rows): the signature (signatureOp.ts), then the Horner products: the step
 * that builds levels 1..t does Σ_{n≤t} (n − 1) batched outer products of N·d^n multiply-adds
 * (4 products at depth 3, ~m³/6 in all), O(N·m·d^m) dominated by the last step's top level;
 * plus Σ_k N·d^k·n_k (dense) or N·n_k² (gather) for the Lyndon coordinates. Measured
 * (b1024-l400-c2-m3, forward + gradient, 2 shared cores): on the native tfjs backend about
 * the signature op's own time (7 vs 11 ms, within the noise), 40 ms with a gather in place of
 * the dense product; on the cpu backend 53 ms against 7 (its element-wise ops). Every product is
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

/** Levels 1..m [N, d^k] of log(1 + s) truncated at level m, for the signature rows s [N, siglen]. */
export function tensorLogLevels(s: tfc.Tensor2D, channels: number, depth: number): tfc.Tensor2D[] {
  const N = s.shape[0];
  const sizes = Array.from({ length: depth }, (_, k) => channels ** (k + 1));
  const levels: Levels = tf.split(s, sizes, 1) as tfc.Tensor2D[];
  const coef = (k: number) => (k % 2 === 1 ? 1 : -1) / k;
  // r_m = coef(m) (a scalar); r_k = coef(k) + s ⊗ r_{k+1} up to level m − k
  let r: Levels = [];
  for (let k = depth - 1; k >= 1; k--) r = mulSeries(levels, coef(k + 1), r, depth - k);
  return mulSeries(levels, 1, r, depth).map((t, i) => t ?? (tf.zeros([N, sizes[i]!]) as tfc.Tensor2D));
}

/** Levels above this many entries d^k·n_k take the gather path (the dense matrix would be large). */
const DENSE_LEVEL_ENTRIES = 1 << 16;

interface LevelProjection {
  /** dense [d^k, n_k]: Lyndon-word rows of (A_k⁻¹)ᵀ, zero elsewhere; or null (gather) */
  dense: Float32Array | null;
  /** positions of the level's Lyndon words inside the level [n_k] */
  local: Int32Array;
  /** (A_k⁻¹)ᵀ [n_k, n_k] row-major */
  inverseT: Float32Array;
}
const projections = new Map<string, LevelProjection[]>();

/** Per level k: what maps log level k [N, d^k] to its Lyndon coordinates [N, n_k] (cached). */
function levelProjections(channels: number, depth: number): LevelProjection[] {
  const key = `${channels}/${depth}`;
  const hit = projections.get(key);
  if (hit) return hit;
  const { words, indices, inverse } = lyndonBasis(channels, depth);
  const n = words.length;
  const out: LevelProjection[] = [];
  let first = 0;
  let levelStart = 0;
  for (let k = 1; k <= depth; k++) {
    const size = channels ** k;
    let count = 0;
    while (first + count < n && words[first + count]!.length === k) count++;
    const local = Int32Array.from({ length: count }, (_, i) => indices[first + i]! - levelStart);
    const inverseT = new Float32Array(count * count);
    for (let i = 0; i < count; i++) for (let j = 0; j < count; j++) inverseT[i * count + j] = inverse[(first + j) * n + first + i]!;
    let dense: Float32Array | null = null;
    if (size * count <= DENSE_LEVEL_ENTRIES) {
      dense = new Float32Array(size * count);
      for (let i = 0; i < count; i++) dense.set(inverseT.subarray(i * count, (i + 1) * count), local[i]! * count);
    }
    out.push({ dense, local, inverseT });
    first += count;
    levelStart += size;
  }
  projections.set(key, out);
  return out;
}

/** The Lyndon coordinates [N, n] of the log-signature levels [N, d^k] (lyndonBasis.ts). */
export function lyndonCoordinates(levels: tfc.Tensor2D[], channels: number, depth: number): tfc.Tensor2D {
  const parts = levelProjections(channels, depth).map((p, i) => {
    const level = levels[i]!;
    const count = p.local.length;
    // v_k = A_k⁻¹ g_k per row (g_k the Lyndon words' entries), i.e. rows g_k · (A_k⁻¹)ᵀ; a dense
    // [d^k, n_k] product does the selection too, and its gradient is one more product, where
    // the gather's gradient is a scatter (unsortedSegmentSum), several times slower in tfjs
    if (p.dense) return tf.matMul(level, tf.tensor2d(p.dense, [level.shape[1], count]));
    const g = tf.gather(level, tf.tensor1d(p.local, 'int32'), 1) as tfc.Tensor2D;
    return tf.matMul(g, tf.tensor2d(p.inverseT, [count, count]));
  });
  return tf.concat(parts, 1) as tfc.Tensor2D;
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
    const levels = tensorLogLevels(rows, channels, depth);
    const out = basis === 'expanded' ? tf.concat(levels, 1) : lyndonCoordinates(levels, channels, depth);
    return tf.reshape(out, [...lead, out.shape[1]]);
  });
}
