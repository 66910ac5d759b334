import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.js';

const draws = (r: Rng, n: number) => Array.from({ length: n }, () => r.nextU32());

describe('Rng', () => {
  it.each([0, 1, 42, -7, 2 ** 31])('seed %d reproduces the same sequence', (seed) => {
    expect(draws(Rng.fromSeed(seed), 16)).toEqual(draws(Rng.fromSeed(seed), 16));
  });

  it('different seeds give different sequences', () => {
    expect(draws(Rng.fromSeed(1), 8)).not.toEqual(draws(Rng.fromSeed(2), 8));
  });

  it('a saved state continues exactly where the generator was', () => {
    const a = Rng.fromSeed(5);
    draws(a, 37);
    const b = Rng.fromState(a.state());
    expect(draws(b, 50)).toEqual(draws(a, 50));
  });

  it.each([
    ['three words', [1, 2, 3]],
    ['all zero', [0, 0, 0, 0]],
    ['not uint32', [1, 2, 3, 2 ** 32]],
  ])('rejects a state with %s', (_name, state) => {
    expect(() => Rng.fromState(state)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  });

  it.each([1, 2, 7])('nextInt(%d) stays in range and covers it', (n) => {
    const r = Rng.fromSeed(3);
    const seen = new Set<number>();
    for (let i = 0; i < 4000; i++) {
      const k = r.nextInt(n);
      expect(k >= 0 && k < n && Number.isInteger(k)).toBe(true);
      seen.add(k);
    }
    expect(seen.size).toBe(n);
  });

  it('nextFloat is in [0, 1) with mean near 1/2', () => {
    const r = Rng.fromSeed(9);
    let s = 0;
    for (let i = 0; i < 20000; i++) {
      const x = r.nextFloat();
      expect(x >= 0 && x < 1).toBe(true);
      s += x;
    }
    expect(Math.abs(s / 20000 - 0.5)).toBeLessThan(0.01);
  });

  it('nextNormal has mean 0 and variance 1', () => {
    const r = Rng.fromSeed(10);
    let s = 0;
    let s2 = 0;
    const n = 40000;
    for (let i = 0; i < n; i++) {
      const x = r.nextNormal();
      s += x;
      s2 += x * x;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.02);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.03);
  });

  it.each([0, 1, 10, 257])('permutation(%d) is a permutation', (n) => {
    const p = Rng.fromSeed(4).permutation(n);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it.each([
    ['k below n', 5],
    ['k equal n', 20],
    ['k above n', 30],
  ])('sample with %s draws distinct items of the input', (_name, k) => {
    const items = Int32Array.from({ length: 20 }, (_, i) => 100 + i);
    const s = Rng.fromSeed(8).sample(items, k);
    expect(s.length).toBe(Math.min(k, 20));
    expect(new Set(s).size).toBe(s.length);
    for (const x of s) expect(items.includes(x)).toBe(true);
  });

  it('fork gives a generator independent of the parent stream', () => {
    const a = Rng.fromSeed(1);
    const child = a.fork();
    expect(draws(child, 8)).not.toEqual(draws(a, 8));
  });
});
