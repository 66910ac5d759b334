/**
 * The native signature engine, through the N-API boundary, against every case
 * of ../shared/testvectors/signature (iisignature): signature, gradient and
 * stream, float64 (≤ 1e-10 of each level's largest magnitude) and float32
 * input (≤ 1e-4); exact zeros where the reference is all zero.
 */
import { describe, expect, it } from 'vitest';

import { sigLength, signature, signatureBackward } from '../../src/index.js';
import { type VectorArray, type VectorCase, rebasedF32, signatureVectors } from '../helpers/signatureVectors.js';

interface Case extends VectorCase {
  sig: VectorArray;
  weights: VectorArray;
  grad: VectorArray;
  sig_stream?: VectorArray;
}

const { dir, index, load } = signatureVectors<Case>('signature test vectors');

/** Max relative error per level, rows of `siglen` (several rows: batch or stream steps). */
function levelErrors(got: ArrayLike<number>, want: number[], d: number, m: number): { level: number; err: number; max: number }[] {
  const siglen = sigLength(d, m);
  const out: { level: number; err: number; max: number }[] = [];
  let off = 0;
  for (let k = 1; k <= m; k++) {
    const n = d ** k;
    let err = 0, max = 0;
    for (let row = 0; row < want.length / siglen; row++) {
      for (let i = off; i < off + n; i++) {
        const j = row * siglen + i;
        max = Math.max(max, Math.abs(want[j]!));
        err = Math.max(err, Math.abs(got[j]! - want[j]!));
      }
    }
    out.push({ level: k, err, max });
    off += n;
  }
  return out;
}

function expectClose(got: ArrayLike<number>, want: number[], rel: number, what: string) {
  const max = want.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  const err = want.reduce((m, x, i) => Math.max(m, Math.abs(got[i]! - x)), 0);
  if (max === 0) expect(err, `${what}: reference is zero, got ${err}`).toBeLessThanOrEqual(1e-300);
  else expect(err / max, `${what}: relative error`).toBeLessThanOrEqual(rel);
}

describe.skipIf(!dir)('signature test vectors (iisignature)', () => {
  it.each(index.map((c) => ({ ...c })))('$name', ({ file }) => {
    const c = load(file);
    // Both arithmetics on both input types: float32 arithmetic (the default
    // for float32 input, or precision 'f32') is held to the float32 tolerance.
    const runs = [
      ['f64', 'auto', 1e-10],
      ['f64', 'f32', 1e-4],
      ['f32', 'auto', 1e-4],
      ['f32', 'f64', 1e-4],
    ] as const;
    for (const [dtype, precision, rel] of runs) {
      const opts = { batch: c.batch, length: c.length, channels: c.channels, depth: c.depth, precision };
      const path = dtype === 'f64' ? Float64Array.from(c.path.data) : rebasedF32(c);
      const got = signature(path, opts);
      expect(got.length).toBe(c.sig.data.length);
      for (const l of levelErrors(got, c.sig.data, c.channels, c.depth)) {
        if (l.max === 0) expect(l.err, `${c.name} ${dtype}/${precision} level ${l.level} must be exactly zero`).toBeLessThanOrEqual(1e-300);
        else expect(l.err / l.max, `${c.name} ${dtype}/${precision} level ${l.level}`).toBeLessThanOrEqual(rel);
      }
      const w = dtype === 'f64' ? Float64Array.from(c.weights.data) : Float32Array.from(c.weights.data);
      const g = signatureBackward(path, w as typeof path, opts);
      expectClose(g, c.grad.data, rel, `${c.name} ${dtype}/${precision} gradient`);
      if (c.sig_stream) {
        const s = signature(path, { ...opts, stream: true });
        expect(s.length).toBe(c.sig_stream.data.length);
        for (const l of levelErrors(s, c.sig_stream.data, c.channels, c.depth)) {
          if (l.max === 0) expect(l.err).toBeLessThanOrEqual(1e-300);
          else expect(l.err / l.max, `${c.name} ${dtype}/${precision} stream level ${l.level}`).toBeLessThanOrEqual(rel);
        }
      }
    }
  });
});
