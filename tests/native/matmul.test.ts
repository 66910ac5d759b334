/**
 * matmulF32 at the N-API boundary: results against a plain float64 loop on named shapes,
 * written in place into the caller's `out`, and a typed error naming the argument for every
 * kind of bad input (never a crash).
 */
import { describe, expect, it } from 'vitest';
import { matmulF32, type MatmulShape } from '../../src/native/matmul.js';
import { Rng } from '../../src/rng.js';
import { thrown } from '../helpers/errors.js';

const rnd = (n: number, seed: number) => {
  const r = Rng.fromSeed(seed);
  return Float32Array.from({ length: n }, () => r.nextFloat() * 2 - 1);
};

function reference(a: Float32Array, b: Float32Array, s: Required<Pick<MatmulShape, 'batchA' | 'batchB' | 'm' | 'k' | 'n' | 'transposeA' | 'transposeB'>>, bias?: Float32Array): Float64Array {
  const batch = Math.max(s.batchA, s.batchB);
  const { m, k, n } = s;
  const out = new Float64Array(batch * m * n);
  for (let bi = 0; bi < batch; bi++) {
    const ao = (bi % s.batchA) * m * k;
    const bo = (bi % s.batchB) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += a[ao + (s.transposeA ? p * m + i : i * k + p)]! * b[bo + (s.transposeB ? j * k + p : p * n + j)]!;
        out[(bi * m + i) * n + j] = acc + (bias ? bias[j]! : 0);
      }
    }
  }
  return out;
}

describe('matmulF32', () => {
  it.each([
    ['1x1x1', 1, 1, 1, 1, 1, false, false],
    ['batch-1 row', 1, 1, 1, 7, 5, false, false],
    ['odd, transposeA', 1, 1, 3, 5, 7, true, false],
    ['odd, transposeB', 1, 1, 3, 5, 7, false, true],
    ['k = 0 gives zeros', 1, 1, 4, 0, 3, false, false],
    ['broadcast a', 1, 4, 9, 6, 5, false, false],
    ['broadcast b, both transposed', 3, 1, 9, 6, 5, true, true],
    ['batched training size 11x1024x16x16', 11, 11, 1024, 16, 16, false, false],
  ])('%s', (_, batchA, batchB, m, k, n, transposeA, transposeB) => {
    const s = { batchA, batchB, m, k, n, transposeA, transposeB };
    const a = rnd(batchA * m * k, 1);
    const b = rnd(batchB * k * n, 2);
    const bias = rnd(n, 3);
    const out = new Float32Array(Math.max(batchA, batchB) * m * n).fill(Number.NaN);
    matmulF32(a, b, out, s, bias);
    const want = reference(a, b, s, bias);
    for (let i = 0; i < want.length; i++) expect(Math.abs(out[i]! - want[i]!)).toBeLessThan(1e-5 * (k + 1));
  });

  const base = () => ({ a: new Float32Array(6), b: new Float32Array(12), out: new Float32Array(8), shape: { batchA: 1, batchB: 1, m: 2, k: 3, n: 4 } as MatmulShape, bias: undefined as Float32Array | undefined });
  it.each([
    ['a too short', 'ERR_SHAPE', 'a', (c: ReturnType<typeof base>) => { c.a = new Float32Array(5); }],
    ['b too long', 'ERR_SHAPE', 'b', (c: ReturnType<typeof base>) => { c.b = new Float32Array(13); }],
    ['bias of the wrong length', 'ERR_SHAPE', 'bias', (c: ReturnType<typeof base>) => { c.bias = new Float32Array(3); }],
    ['out of the wrong length', 'ERR_SHAPE', 'out', (c: ReturnType<typeof base>) => { c.out = new Float32Array(9); }],
    ['out overlapping a', 'ERR_ARG', 'out', (c: ReturnType<typeof base>) => { const buf = new Float32Array(14); c.a = buf.subarray(0, 6); c.out = buf.subarray(4, 12); }],
    ['m not an integer', 'ERR_ARG', 'm', (c: ReturnType<typeof base>) => { c.shape.m = 2.5; }],
    ['k negative', 'ERR_ARG', 'k', (c: ReturnType<typeof base>) => { c.shape.k = -1; }],
    ['batches that do not broadcast', 'ERR_ARG', 'batchB', (c: ReturnType<typeof base>) => { c.shape.batchA = 2; c.shape.batchB = 3; }],
    ['unknown activation', 'ERR_ARG', 'activation', (c: ReturnType<typeof base>) => { c.shape.activation = 'gelu' as never; }],
    ['leakyrelu alpha NaN', 'ERR_ARG', 'leakyreluAlpha', (c: ReturnType<typeof base>) => { c.shape.activation = 'leakyrelu'; c.shape.leakyreluAlpha = Number.NaN; }],
  ])('%s: %s naming %s', (_, code, argument, mutate) => {
    const c = base();
    mutate(c);
    const e = thrown(() => matmulF32(c.a, c.b, c.out, c.shape, c.bias));
    expect([e.code, e.data.argument]).toEqual([code, argument]);
    expect(e.message.startsWith(`${argument}:`)).toBe(true);
  });

  it('a Float64Array where float32 is needed is a typed error, not a crash', () => {
    const e = thrown(() => matmulF32(new Float64Array(6) as unknown as Float32Array, new Float32Array(12), new Float32Array(8), { batchA: 1, batchB: 1, m: 2, k: 3, n: 4 }));
    expect(e.code).toBe('ERR_ARG');
  });
});
