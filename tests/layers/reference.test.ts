/**
 * The layers' values against plain float64 references written from the module headers
 * (tests/helpers/layerReference.ts): GLU, GRN (with and without context and skip projection),
 * VariableSelection (outputs and selection weights), CausalMultiHeadAttention and TKAN's KAN
 * cell, on every named case of tests/helpers/layers.ts. (TKAN's LSTM cell is checked against
 * lstmSequence in tkan.test.ts, SignatureFeatures against the native signature in
 * signatureFeatures.test.ts.)
 */
import { describe, expect, it } from 'vitest';

import { tf } from '../../src/ops/tf.js';
import { apply, BACKENDS, builtLayer, LAYER_CASES, maxAbs, maxAbsDiff, onBackend, outputValues, type Layer } from '../helpers/layers.js';
import { causalAttentionSequence, grnRow, gluRow, tkanKanSequence, variableSelectionRow, weightsByName } from '../helpers/layerReference.js';

/** Rows of a tensor's last axis. */
function rows(t: tf.Tensor): Float64Array[] {
  const d = t.shape[t.rank - 1]!;
  const v = Float64Array.from(t.dataSync());
  return Array.from({ length: v.length / d }, (_, i) => v.subarray(i * d, (i + 1) * d));
}

/** x [B, T, C] as B sequences of T rows. */
function sequences(t: tf.Tensor): Float64Array[][] {
  const [B, T] = t.shape as [number, number, number];
  const r = rows(t);
  return Array.from({ length: B }, (_, b) => r.slice(b * T, (b + 1) * T));
}

function reference(layer: Layer, inputs: tf.Tensor[]): Float64Array {
  const w = weightsByName(layer);
  const config = layer.getConfig() as Record<string, unknown>;
  const eps = config['epsilon'] as number;
  const flat = (parts: ArrayLike<number>[]) => Float64Array.from(parts.flatMap((p) => Array.from(p)));
  switch (layer.getClassName()) {
    case 'GLU':
      return flat(rows(inputs[0]!).map((x) => gluRow(w, '', x)));
    case 'GRN': {
      const [x, c] = inputs;
      const xr = rows(x!);
      const cr = c ? rows(c) : null;
      // one context row per sequence when x has a time axis and the context has none
      const perRow = cr ? xr.length / cr.length : 1;
      return flat(xr.map((r, i) => grnRow(w, '', r, cr ? cr[Math.floor(i / perRow)]! : null, eps)));
    }
    case 'VariableSelection': {
      const res = rows(inputs[0]!).map((x) => variableSelectionRow(w, x, eps));
      const out = flat(res.map((r) => r.out));
      return config['returnWeights'] ? flat([out, flat(res.map((r) => r.weights))]) : out;
    }
    case 'CausalMultiHeadAttention':
      return flat(sequences(inputs[0]!).flatMap((s) => causalAttentionSequence(w, s, config['heads'] as number)));
    case 'TKAN': {
      const opts = { gridSize: config['gridSize'] as number, gridMin: config['gridMin'] as number, gridMax: config['gridMax'] as number, base: config['baseActivation'] as 'silu' };
      const hs = sequences(inputs[0]!).map((s) => tkanKanSequence(w, s, opts));
      return flat(config['returnSequences'] ? hs.flat() : hs.map((h) => h[h.length - 1]!));
    }
    default:
      throw new Error(`no reference for ${layer.getClassName()}`);
  }
}

const CASES = LAYER_CASES.filter((c) => !c.name.startsWith('SignatureFeatures') && !c.name.startsWith('TKAN lstm'));

describe.each(BACKENDS)('layer values against float64 references on the %s backend', (backend) => {
  onBackend(backend);

  it.each(CASES.map((c) => [c.name, c] as const))('%s: outputs match the reference', (_name, c) => {
    const { layer, inputs } = builtLayer(c, 51);
    const got = outputValues(apply(layer, inputs));
    const want = reference(layer, inputs);
    expect(got.length).toBe(want.length);
    expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(2e-5 * Math.max(1, maxAbs(want)));
  });
});
