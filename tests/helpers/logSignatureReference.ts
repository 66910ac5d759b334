/**
 * Plain float64 TypeScript reference of the truncated log-signature, one path at a time:
 * the signature by Chen's identity (signatureReference.ts), then the tensor logarithm by its
 * power series term by term (no Horner form, unlike src/ops/logSignatureOp.ts),
 *   log(1 + s) = Σ_{k=1}^{m} (−1)^{k+1} s^{⊗k} / k,   s^{⊗k} = s^{⊗(k−1)} ⊗ s truncated at m,
 * and the Lyndon coordinates by re-expansion: the lower unitriangular system of the Lyndon-word
 * coefficients solved by forward substitution (A from src/ops/lyndonBasis.ts, not its inverse).
 */
import { lyndonBasis } from '../../src/ops/lyndonBasis.js';
import { flattenLevels, signatureReference } from './signatureReference.js';

/** a ⊗ b for series with levels 1..m (no scalar part), truncated at m. */
function product(a: Float64Array[], b: Float64Array[], d: number, m: number): Float64Array[] {
  const out = Array.from({ length: m }, (_, k) => new Float64Array(d ** (k + 1)));
  for (let i = 1; i < m; i++) {
    for (let j = 1; i + j <= m; j++) {
      const A = a[i - 1]!, B = b[j - 1]!, O = out[i + j - 1]!;
      for (let x = 0; x < A.length; x++) for (let y = 0; y < B.length; y++) O[x * B.length + y]! += A[x]! * B[y]!;
    }
  }
  return out;
}

export interface LogSignatureReference {
  /** the signature, levels 1..m [siglen] (the scale of each level's rounding in float32) */
  signature: Float64Array;
  /** log(1 + signature) [siglen], the signature's word order */
  expanded: Float64Array;
  /** the Lyndon coordinates [logsiglen] */
  lyndon: Float64Array;
}

export function logSignatureReference(path: ArrayLike<number>, length: number, channels: number, depth: number): LogSignatureReference {
  const s = signatureReference(path, length, channels, depth);
  const log = s.map((l) => Float64Array.from(l));
  let power = s;
  for (let k = 2; k <= depth; k++) {
    power = product(power, s, channels, depth);
    const c = (k % 2 === 1 ? 1 : -1) / k;
    for (let n = 0; n < depth; n++) for (let i = 0; i < power[n]!.length; i++) log[n]![i]! += c * power[n]![i]!;
  }
  const expanded = flattenLevels(log);
  const { indices, coefficients: A } = lyndonBasis(channels, depth);
  const n = indices.length;
  const lyndon = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = expanded[indices[i]!]!;
    for (let j = 0; j < i; j++) v -= A[i * n + j]! * lyndon[j]!;
    lyndon[i] = v;
  }
  return { signature: flattenLevels(s), expanded, lyndon };
}

/** Batched: path [batch, length, channels] → expanded [batch, siglen], lyndon [batch, n]. */
export function logSignatureReferenceBatch(path: ArrayLike<number>, batch: number, length: number, channels: number, depth: number): LogSignatureReference {
  const per = length * channels;
  const rows = Array.from({ length: batch }, (_, b) => logSignatureReference(Array.prototype.slice.call(path, b * per, (b + 1) * per) as number[], length, channels, depth));
  const cat = (xs: Float64Array[]) => {
    const out = new Float64Array(xs.reduce((t, x) => t + x.length, 0));
    let o = 0;
    for (const x of xs) { out.set(x, o); o += x.length; }
    return out;
  };
  return { signature: cat(rows.map((r) => r.signature)), expanded: cat(rows.map((r) => r.expanded)), lyndon: cat(rows.map((r) => r.lyndon)) };
}
