/**
 * logSignatureOp against every `logsig_*` case of ../shared/testvectors/signature (iisignature
 * `logsig` method 'S' and 'X', `logsigbackprop`): the labels and length of the Lyndon basis,
 * the Lyndon coordinates and the expanded tensor logarithm per level, and the gradient of
 * Σ values·weights with respect to the path (tf.grad through the logarithm and the native
 * signature backward pass) per array, all within the float32 tolerance the README gives
 * (1e-4 of the largest magnitude). The path is rebased to its first point in float64 before
 * the float32 cast, as the README prescribes (tests/native/signatureVectors.test.ts).
 */
import { describe, expect, it } from 'vitest';

import { tf } from '../../src/ops/tf.js';
import { logSignatureOp } from '../../src/ops/logSignatureOp.js';
import { logSigLength, lyndonBasis } from '../../src/ops/lyndonBasis.js';
import { BACKENDS, onBackend } from '../helpers/layers.js';
import { type VectorArray, type VectorCase, rebasedF32, signatureVectors } from '../helpers/signatureVectors.js';

interface Case extends VectorCase {
  logsig: { basis: string; method: string; labels: string[]; length: number; values: VectorArray; weights: VectorArray; grad: VectorArray; expanded: VectorArray };
}

const REL = 1e-4;
const { dir, index, load } = signatureVectors<Case>('log-signature test vectors', (name) => name.startsWith('logsig_'));

/** max|got − want| / max|want| over the entries of each group (rows of `width`, group of a column). */
function groupErrors(got: ArrayLike<number>, want: number[], width: number, groupOf: (column: number) => number): Map<number, number> {
  const err = new Map<number, number>();
  const max = new Map<number, number>();
  for (let j = 0; j < want.length; j++) {
    const g = groupOf(j % width);
    err.set(g, Math.max(err.get(g) ?? 0, Math.abs(got[j]! - want[j]!)));
    max.set(g, Math.max(max.get(g) ?? 0, Math.abs(want[j]!)));
  }
  return new Map([...err].map(([g, e]) => [g, max.get(g) === 0 ? (e === 0 ? 0 : Infinity) : e / max.get(g)!]));
}

function levelOfSigIndex(channels: number): (i: number) => number {
  return (i) => {
    let k = 1;
    for (let size = channels; i >= size; k++) { i -= size; size *= channels; }
    return k;
  };
}

describe.skipIf(!dir)('log-signature test vectors (iisignature)', () => {
  it.each(index.map((c) => ({ ...c })))('$name: labels and length of the Lyndon basis', ({ file }) => {
    const c = load(file);
    expect(c.logsig.basis).toBe('lyndon');
    expect(logSigLength(c.channels, c.depth)).toBe(c.logsig.length);
    expect(lyndonBasis(c.channels, c.depth).labels).toEqual(c.logsig.labels);
  });

  describe.each(BACKENDS)('on the %s backend', (backend) => {
    onBackend(backend);

    it.each(index.map((c) => ({ ...c })))('$name: values, expanded and gradient within 1e-4 per level', ({ file }) => {
      const c = load(file);
      const { words } = lyndonBasis(c.channels, c.depth);
      const x = tf.tensor3d(rebasedF32(c), [c.batch, c.length, c.channels]);
      const values = logSignatureOp(x, c.depth);
      expect(values.shape).toEqual(c.logsig.values.shape);
      for (const [level, e] of groupErrors(values.dataSync(), c.logsig.values.data, c.logsig.length, (j) => words[j]!.length)) {
        expect(e, `${c.name} Lyndon coordinates, level ${level}`).toBeLessThanOrEqual(REL);
      }
      const expanded = logSignatureOp(x, c.depth, { basis: 'expanded' });
      expect(expanded.shape).toEqual(c.logsig.expanded.shape);
      const siglen = c.logsig.expanded.shape[1]!;
      for (const [level, e] of groupErrors(expanded.dataSync(), c.logsig.expanded.data, siglen, levelOfSigIndex(c.channels))) {
        expect(e, `${c.name} expanded, level ${level}`).toBeLessThanOrEqual(REL);
      }
      const w = tf.tensor2d(c.logsig.weights.data, c.logsig.weights.shape as [number, number]);
      const grad = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(logSignatureOp(p as tf.Tensor3D, c.depth), w)))(x);
      expect(grad.shape).toEqual(c.logsig.grad.shape);
      const [e] = groupErrors(grad.dataSync(), c.logsig.grad.data, 1, () => 0).values();
      expect(e, `${c.name} gradient`).toBeLessThanOrEqual(REL);
      tf.dispose([x, values, expanded, w, grad]);
    });
  });
});
