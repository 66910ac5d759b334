/**
 * lstmForwardF32 / lstmBackwardF32 at the N-API boundary: a typed error naming the argument
 * for every kind of bad input (wrong lengths, outputs overlapping inputs, bad sizes), never a
 * crash. Parity with the TypeScript loops and the tfjs composition: tests/ops/ops.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native/binding.js';
import { fromNative } from '../../src/errors.js';
import { lstmBackwardF32, lstmForwardF32, type LstmDims } from '../../src/native/lstm.js';
import { lstmForward } from '../../src/ops/lstmSequence.js';
import { nativeBackendStatus } from '../../src/ops/backend.js';
import { Rng } from '../../src/rng.js';
import { thrown } from '../helpers/errors.js';

const available = nativeBackendStatus().available;
if (!available) console.warn('SKIPPED native LSTM boundary tests: the addon has no LSTM kernels');
const d = available ? describe : describe.skip;

const dims: LstmDims = { steps: 3, batch: 5, channels: 2, units: 4 };
const rnd = (n: number, seed: number) => {
  const r = Rng.fromSeed(seed);
  return Float32Array.from({ length: n }, () => r.nextFloat() - 0.5);
};
const G = 4 * dims.units;
const rows = dims.steps * dims.batch;
const x = rnd(rows * dims.channels, 1);
const wx = rnd(dims.channels * G, 2);
const wh = rnd(dims.units * G, 3);
const bias = rnd(G, 4);

/** A native call's SigvwapError (the binding throws napi errors; fromNative decodes them). */
const nativeError = (f: () => void) => thrown(() => {
  try {
    f();
  } catch (e) {
    throw fromNative(e);
  }
});

d('native LSTM', () => {
  it('the forward pass matches the TypeScript loops on a small shape', () => {
    const out = lstmForwardF32(x, wx, wh, bias, dims);
    const ref = lstmForward(x, wx, wh, bias, dims);
    for (let i = 0; i < ref.h.length; i++) expect(out.h[i]).toBeCloseTo(ref.h[i]!, 6);
  });

  it.each([
    ['x one short', () => lstmForwardF32(x.subarray(1), wx, wh, bias, dims), 'ERR_SHAPE', 'x'],
    ['wx one short', () => lstmForwardF32(x, wx.subarray(1), wh, bias, dims), 'ERR_SHAPE', 'wx'],
    ['wh one long', () => lstmForwardF32(x, wx, new Float32Array(wh.length + 1), bias, dims), 'ERR_SHAPE', 'wh'],
    ['bias of the wrong units', () => lstmForwardF32(x, wx, wh, bias, { ...dims, units: 3 }), 'ERR_SHAPE', 'wx'],
    ['a fractional batch', () => lstmForwardF32(x, wx, wh, bias, { ...dims, batch: 2.5 }), 'ERR_ARG', 'batch'],
    ['negative steps', () => lstmForwardF32(x, wx, wh, bias, { ...dims, steps: -1 }), 'ERR_ARG', 'steps'],
    ['h overlapping x', () => native().lstmForwardF32(x, wx, wh, bias, x, new Float32Array(rows * G), new Float32Array(rows * dims.units), dims), 'ERR_ARG', 'h'],
    ['c overlapping gates', () => {
      const gates = new Float32Array(rows * G);
      native().lstmForwardF32(x, wx, wh, bias, new Float32Array(rows * dims.units), gates, gates.subarray(0, rows * dims.units), dims);
    }, 'ERR_ARG', 'c'],
    ['gates one short', () => native().lstmForwardF32(x, wx, wh, bias, new Float32Array(rows * dims.units), new Float32Array(rows * G - 1), new Float32Array(rows * dims.units), dims), 'ERR_SHAPE', 'gates'],
    ['backward: dh one short', () => {
      const f = lstmForwardF32(x, wx, wh, bias, dims);
      lstmBackwardF32({ x, wx, wh, ...f }, new Float32Array(rows * dims.units - 1), dims);
    }, 'ERR_SHAPE', 'dh'],
    ['backward: dwx overlapping dh', () => {
      const f = lstmForwardF32(x, wx, wh, bias, dims);
      const dh = new Float32Array(rows * dims.units);
      native().lstmBackwardF32(x, wx, wh, f.h, f.gates, f.c, dh, dh.subarray(0, dims.channels * G), new Float32Array(dims.units * G), new Float32Array(G), undefined, dims);
    }, 'ERR_ARG', 'dwx'],
  ] as const)('%s', (_name, call, code, argument) => {
    const err = nativeError(call);
    expect(err.code).toBe(code);
    expect(err.data['argument']).toBe(argument);
  });
});
