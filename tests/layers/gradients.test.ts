/**
 * Gradients by finite differences: for every layer case that has no identically-zero gradient,
 * every trainable weight and every input is checked (the entry of largest gradient plus random
 * entries; tests/helpers/layers.ts `finiteDifferenceCheck`), and every one of those gradients is
 * nonzero (so a detached weight fails here). SignatureFeatures runs in both BatchNorm modes.
 */
import { describe, expect, it } from 'vitest';

import { BACKENDS, builtLayer, finiteDifferenceCheck, LAYER_CASES, onBackend } from '../helpers/layers.js';

const CASES = LAYER_CASES.filter((c) => !c.degenerate);

describe.each(BACKENDS)('finite-difference gradients on the %s backend', (backend) => {
  onBackend(backend);

  it.each(CASES.map((c) => [c.name, c] as const))('%s: every weight and input matches central differences', (_name, c) => {
    const { layer, inputs } = builtLayer(c, 21);
    const { mismatches, checked, largest } = finiteDifferenceCheck(layer, inputs, c.kwargs, 5);
    expect(checked).toEqual([...layer.trainableWeights.map((w) => w.originalName), ...inputs.map((_, k) => `input ${k}`)]);
    expect(mismatches).toEqual([]);
    for (const [what, g] of Object.entries(largest)) expect(g, what).toBeGreaterThan(0);
  });
});
