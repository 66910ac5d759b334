/**
 * tkanForwardF32 / tkanBackwardF32 at the N-API boundary: a typed error naming the argument
 * for every kind of bad input (wrong lengths of x, a weight, a state, dh or a gradient;
 * outputs overlapping inputs; bad sizes, grid or base activation), never a crash. Parity with
 * the tfjs composition: tests/ops/tkanSequence.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native/binding.js';
import { fromNative } from '../../src/errors.js';
import { TKAN_WEIGHT_NAMES, tkanBackwardF32, tkanForwardF32, tkanWeightSizes, type TkanDims, type TkanWeightArrays } from '../../src/native/tkan.js';
import { nativeBackendStatus } from '../../src/ops/backend.js';
import { Rng } from '../../src/rng.js';
import { thrown } from '../helpers/errors.js';

const available = nativeBackendStatus().available;
if (!available) console.warn('SKIPPED native TKAN boundary tests: the addon has no TKAN kernels');
const d = available ? describe : describe.skip;

const dims: TkanDims = { steps: 3, batch: 5, channels: 2, units: 4, kanUnits: 3, gridSize: 4, gridMin: -1, gridMax: 1, baseActivation: 'silu' };
const rnd = (n: number, seed: number) => {
  const r = Rng.fromSeed(seed);
  return Float32Array.from({ length: n }, () => r.nextFloat() - 0.5);
};
const rows = dims.steps * dims.batch;
const sizes = tkanWeightSizes(dims);
const x = rnd(rows * dims.channels, 1);
const w = Object.fromEntries(TKAN_WEIGHT_NAMES.map((n, i) => [n, rnd(sizes[n], 10 + i)])) as TkanWeightArrays;
const freshGrads = () => Object.fromEntries(TKAN_WEIGHT_NAMES.map((n) => [n, new Float32Array(sizes[n])])) as TkanWeightArrays;

/** A native call's SigvwapError (the binding throws napi errors; fromNative decodes them). */
const nativeError = (f: () => void) => thrown(() => {
  try {
    f();
  } catch (e) {
    throw fromNative(e);
  }
});

d('native TKAN', () => {
  it('forward then backward run and write finite values', () => {
    const f = tkanForwardF32(x, w, dims);
    expect(f.h.every(Number.isFinite) && f.m.every(Number.isFinite)).toBe(true);
    const g = tkanBackwardF32(x, w, f, rnd(rows * dims.units, 2), dims);
    expect(g.dx!.every(Number.isFinite)).toBe(true);
    expect(TKAN_WEIGHT_NAMES.every((n) => g.grads[n].some((v) => v !== 0))).toBe(true);
  });

  it.each([
    ['x one short', () => tkanForwardF32(x.subarray(1), w, dims), 'ERR_SHAPE', 'x'],
    ['splineKernel one short', () => tkanForwardF32(x, { ...w, splineKernel: w.splineKernel.subarray(1) }, dims), 'ERR_SHAPE', 'splineKernel'],
    ['outputBias of the wrong units', () => tkanForwardF32(x, { ...w, outputBias: new Float32Array(3) }, dims), 'ERR_SHAPE', 'outputBias'],
    ['a fractional batch', () => tkanForwardF32(x, w, { ...dims, batch: 2.5 }), 'ERR_ARG', 'batch'],
    ['zero kanUnits', () => tkanForwardF32(x, w, { ...dims, kanUnits: 0 }), 'ERR_ARG', 'kanUnits'],
    ['an unknown base activation', () => tkanForwardF32(x, w, { ...dims, baseActivation: 'gelu' as 'silu' }), 'ERR_ARG', 'baseActivation'],
    ['an empty grid (native check)', () => native().tkanForwardF32(x, w, tkanForwardF32(x, w, dims), { ...dims, gridMax: -1 }), 'ERR_ARG', 'gridMax'],
    ['h overlapping x', () => {
      const f = tkanForwardF32(x, w, dims);
      native().tkanForwardF32(x, w, { ...f, h: x }, dims);
    }, 'ERR_ARG', 'h'],
    ['m overlapping phi', () => {
      const f = tkanForwardF32(x, w, dims);
      native().tkanForwardF32(x, w, { ...f, m: f.phi }, dims);
    }, 'ERR_ARG', 'm'],
    ['gates one short', () => {
      const f = tkanForwardF32(x, w, dims);
      native().tkanForwardF32(x, w, { ...f, gates: new Float32Array(f.gates.length - 1) }, dims);
    }, 'ERR_SHAPE', 'gates'],
    ['backward: dh one short', () => {
      const f = tkanForwardF32(x, w, dims);
      tkanBackwardF32(x, w, f, new Float32Array(rows * dims.units - 1), dims);
    }, 'ERR_SHAPE', 'dh'],
    ['backward: a gradient one long', () => {
      const f = tkanForwardF32(x, w, dims);
      native().tkanBackwardF32(x, w, f, new Float32Array(rows * dims.units), { ...freshGrads(), memoryBias: new Float32Array(dims.kanUnits + 1) }, undefined, dims);
    }, 'ERR_SHAPE', 'dMemoryBias'],
    ['backward: dKernel overlapping dh', () => {
      const f = tkanForwardF32(x, w, dims);
      const dh = new Float32Array(rows * dims.units);
      native().tkanBackwardF32(x, w, f, dh, { ...freshGrads(), kernel: dh.subarray(0, sizes.kernel) }, undefined, dims);
    }, 'ERR_ARG', 'dKernel'],
  ] as const)('%s', (_name, call, code, argument) => {
    const err = nativeError(call);
    expect(err.code).toBe(code);
    expect(err.data['argument']).toBe(argument);
  });
});
