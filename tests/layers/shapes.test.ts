/**
 * Every layer on named odd shapes (batch 1, length 1 and 2, odd widths), on the default
 * backend and on 'cpu': the concrete output shapes are what computeOutputShape and the symbolic
 * (functional-model) application say, the values are finite, and the trainable parameter
 * count is the module's documented formula.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { apply, BACKENDS, builtLayer, LAYER_CASES, onBackend } from '../helpers/layers.js';

describe.each(BACKENDS)('layers on the %s backend', (backend) => {
  onBackend(backend);

  it.each(LAYER_CASES.map((c) => [c.name, c] as const))('%s: output shapes, finite values, parameter count', (_name, c) => {
    const { layer, inputs } = builtLayer(c, 7);
    const ys = apply(layer, inputs, c.kwargs);
    const declared = layer.computeOutputShape(inputs.length === 1 ? inputs[0]!.shape : inputs.map((x) => x.shape));
    const declaredList = Array.isArray(declared[0]) ? declared : [declared];
    expect(ys.map((y) => y.shape)).toEqual(declaredList);
    // the symbolic application (a functional model) agrees, with the batch left open
    const symbolic = c.inputs.map((s) => tfl.input({ shape: s.slice(1) }));
    const sym = c.make().apply(symbolic.length === 1 ? symbolic[0]! : symbolic) as tfl.SymbolicTensor | tfl.SymbolicTensor[];
    expect((Array.isArray(sym) ? sym : [sym]).map((t) => t.shape)).toEqual(ys.map((y) => [null, ...y.shape.slice(1)]));
    for (const y of ys) expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
    expect(layer.trainableWeights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * b!, 1), 0)).toBe(c.params);
  });
});
