/**
 * Plain float64 TypeScript reference of the truncated signature: Chen's
 * identity with the segment exponential formed explicitly,
 *   S ← S ⊗ exp(z),  exp(z)_k = z^{⊗k} / k!,
 * levels 1..m, no leading 1, first letter most significant (iisignature's
 * order). One path at a time, no shortcuts: the specification the native
 * engine is checked against in tests and before benchmarks.
 */
export function signatureReference(path: ArrayLike<number>, length: number, channels: number, depth: number): Float64Array[] {
  const d = channels;
  // levels[k] has d^k entries; levels[0] = [1].
  let S: Float64Array[] = [Float64Array.of(1)];
  for (let k = 1; k <= depth; k++) S.push(new Float64Array(d ** k));
  for (let i = 1; i < length; i++) {
    const z = new Float64Array(d);
    for (let c = 0; c < d; c++) z[c] = path[i * d + c]! - path[(i - 1) * d + c]!;
    const E: Float64Array[] = [Float64Array.of(1)];
    for (let k = 1; k <= depth; k++) {
      const prev = E[k - 1]!;
      const cur = new Float64Array(d ** k);
      for (let a = 0; a < prev.length; a++) for (let c = 0; c < d; c++) cur[a * d + c] = (prev[a]! * z[c]!) / k;
      E.push(cur);
    }
    const R: Float64Array[] = [Float64Array.of(1)];
    for (let k = 1; k <= depth; k++) {
      const out = new Float64Array(d ** k);
      for (let j = 0; j <= k; j++) {
        const A = S[j]!, B = E[k - j]!;
        for (let a = 0; a < A.length; a++) for (let b = 0; b < B.length; b++) out[a * B.length + b]! += A[a]! * B[b]!;
      }
      R.push(out);
    }
    S = R;
  }
  return S.slice(1);
}

/** Flatten levels 1..m into one array. */
export function flattenLevels(levels: Float64Array[]): Float64Array {
  const n = levels.reduce((s, l) => s + l.length, 0);
  const out = new Float64Array(n);
  let o = 0;
  for (const l of levels) {
    out.set(l, o);
    o += l.length;
  }
  return out;
}
