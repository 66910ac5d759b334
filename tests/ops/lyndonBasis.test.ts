/**
 * The Lyndon basis on its own (src/ops/lyndonBasis.ts): Witt's count against brute-force
 * enumeration, the order and brackets of small cases, the expansion of the brackets, and the
 * unitriangular coefficient matrix with its exact inverse.
 */
import { describe, expect, it } from 'vitest';

import { expandLyndon, isLyndon, logSigLength, lyndonBasis, lyndonLabel, lyndonWords, standardFactorization, wordIndex } from '../../src/ops/lyndonBasis.js';
import { thrown } from '../helpers/errors.js';

/** Every word of length 1..depth that is Lyndon, by brute force (no Duval). */
function bruteForceLyndon(channels: number, depth: number): number[][] {
  const out: number[][] = [];
  for (let k = 1; k <= depth; k++) {
    for (let i = 0; i < channels ** k; i++) {
      const w = Array.from({ length: k }, (_, j) => Math.floor(i / channels ** (k - 1 - j)) % channels);
      if (isLyndon(w)) out.push(w);
    }
  }
  return out;
}

const SIZES = [
  ['d1-m1', 1, 1, 1], ['d1-m5', 1, 5, 1], ['d2-m1', 2, 1, 2], ['d2-m3', 2, 3, 5], ['d2-m5', 2, 5, 14],
  ['d3-m2', 3, 2, 6], ['d3-m3', 3, 3, 14], ['d3-m4', 3, 4, 32], ['d3-m5', 3, 5, 80], ['d5-m3', 5, 3, 55],
  ['d4-m4', 4, 4, 90], ['d8-m4', 8, 4, 1212],
] as const;

describe('lyndonBasis', () => {
  it.each(SIZES)('%s: Witt\'s formula gives %#, the brute-force count of Lyndon words, and Duval\'s algorithm lists them by level then lexicographically', (_name, d, m, count) => {
    expect(logSigLength(d, m)).toBe(count);
    const words = lyndonWords(d, m);
    const brute = bruteForceLyndon(d, m); // level by level, and lexicographic inside a level (index order)
    expect(words).toEqual(brute);
    expect(words).toHaveLength(count);
  });

  it.each([
    ['d2-m3', 2, 3, ['1', '2', '[1,2]', '[1,[1,2]]', '[[1,2],2]']],
    ['d2-m4 level 4', 2, 4, ['1', '2', '[1,2]', '[1,[1,2]]', '[[1,2],2]', '[1,[1,[1,2]]]', '[1,[[1,2],2]]', '[[[1,2],2],2]']],
    ['d3-m2', 3, 2, ['1', '2', '3', '[1,2]', '[1,3]', '[2,3]']],
    ['d1-m3 (one letter: no brackets)', 1, 3, ['1']],
  ] as const)('%s: the brackets of the standard factorizations, 1-based', (_name, d, m, labels) => {
    expect(lyndonBasis(d, m).labels).toEqual(labels);
  });

  it.each([
    ['112 = 1·12', [0, 0, 1], [[0], [0, 1]]],
    ['122 = 12·2', [0, 1, 1], [[0, 1], [1]]],
    ['1213 = 12·13', [0, 1, 0, 2], [[0, 1], [0, 2]]],
    ['11212 = 112·12', [0, 0, 1, 0, 1], [[0, 0, 1], [0, 1]]],
  ] as const)('standard factorization %s (v the longest proper Lyndon suffix)', (_name, w, uv) => {
    expect(standardFactorization(w)).toEqual(uv);
  });

  it.each([
    ['[1,2] = 12 − 21', [0, 1], 2, { '01': 1, '10': -1 }],
    ['[1,[1,2]] = 112 − 2·121 + 211', [0, 0, 1], 2, { '001': 1, '010': -2, '100': 1 }],
    ['[[1,2],2] = 122 − 2·212 + 221', [0, 1, 1], 2, { '011': 1, '101': -2, '110': 1 }],
    ['[1,[2,3]] = 123 − 132 − 231 + 321', [0, 1, 2], 3, { '012': 1, '021': -1, '120': -1, '210': 1 }],
  ] as const)('expansion of %s', (_name, w, d, want) => {
    const got: Record<string, number> = {};
    for (const [i, c] of expandLyndon(w, d)) got[Array.from({ length: w.length }, (_, j) => Math.floor(i / d ** (w.length - 1 - j)) % d).join('')] = c;
    expect(got).toEqual(want);
  });

  it.each(SIZES.filter(([, , , n]) => n <= 100))('%s: P_w expands to w plus larger words of its level: A is lower unitriangular and A·A⁻¹ = I exactly', (_name, d, m) => {
    const { words, coefficients: A, inverse } = lyndonBasis(d, m);
    const n = words.length;
    for (const w of words) {
      const own = wordIndex(w, d);
      const e = expandLyndon(w, d);
      expect(e.get(own), lyndonLabel(w)).toBe(1);
      for (const i of e.keys()) expect(i, lyndonLabel(w)).toBeGreaterThanOrEqual(own);
    }
    const wrong: string[] = [];
    for (let i = 0; i < n; i++) {
      if (A[i * n + i] !== 1) wrong.push(`A[${i}][${i}] = ${A[i * n + i]}`);
      for (let j = i + 1; j < n; j++) if (A[i * n + j] !== 0) wrong.push(`A[${i}][${j}] = ${A[i * n + j]}`);
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += A[i * n + k]! * inverse[k * n + j]!;
        if (s !== (i === j ? 1 : 0)) wrong.push(`(A·A⁻¹)[${i}][${j}] = ${s}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('d8-m4 (1212 words): the basis builds (block by block) and is cached', () => {
    const b = lyndonBasis(8, 4);
    expect(b.words).toHaveLength(1212);
    expect(lyndonBasis(8, 4)).toBe(b);
  });

  it.each([
    ['channels 0', () => logSigLength(0, 3), 'channels'],
    ['depth 1.5', () => lyndonBasis(2, 1.5), 'depth'],
    ['a word that is not Lyndon', () => standardFactorization([1, 0]), 'w'],
    ['a single letter', () => standardFactorization([0]), 'w'],
  ] as const)('%s is ERR_ARG naming the argument', (_name, fn, argument) => {
    const e = thrown(fn);
    expect(e.code).toBe('ERR_ARG');
    expect(e.data.argument).toBe(argument);
  });
});
