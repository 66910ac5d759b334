/**
 * attentionForwardF32 / attentionBackwardF32 and grnForwardF32 / grnBackwardF32 at the N-API
 * boundary: a typed error naming the argument for every kind of bad input (wrong packed
 * lengths, outputs overlapping inputs, bad sizes, a stack that does not match the arrays),
 * never a crash; and the stacked GRN's packed layout (GRN s of a stack is the plain GRN on its
 * rows with its weights). Parity with the tfjs compositions: tests/ops/fusedLayers.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native/binding.js';
import { fromNative } from '../../src/errors.js';
import { attentionBackwardF32, attentionForwardF32, attentionParamParts, type AttentionDims } from '../../src/native/attention.js';
import { grnBackwardF32, grnForwardF32, grnParamParts, type GrnDims } from '../../src/native/grn.js';
import { nativeBackendStatus } from '../../src/ops/backend.js';
import { Rng } from '../../src/rng.js';
import { thrown } from '../helpers/errors.js';

const available = nativeBackendStatus().available;
if (!available) console.warn('SKIPPED native attention/GRN boundary tests: the addon has no such kernels');
const d = available ? describe : describe.skip;

const rnd = (n: number, seed: number) => {
  const r = Rng.fromSeed(seed);
  return Float32Array.from({ length: n }, () => r.nextFloat() - 0.5);
};
const nativeError = (f: () => void) => thrown(() => {
  try {
    f();
  } catch (e) {
    throw fromNative(e);
  }
});
const total = (parts: [string, number][]) => parts.reduce((a, [, n]) => a + n, 0);

const att: AttentionDims = { batch: 2, time: 3, width: 5, heads: 2, keyDim: 3, units: 4 };
const ax = rnd(2 * 3 * 5, 1);
const ap = rnd(total(attentionParamParts(att)), 2);
const grn: GrnDims = { rows: 4, inDim: 3, hidden: 2, units: 5, epsilon: 1e-3 };
const gx = rnd(4 * 3, 3);
const gp = rnd(total(grnParamParts(grn)), 4);
/** two GRNs of grn's sizes */
const sgrn: GrnDims = { ...grn, stack: 2 };
const sx = rnd(2 * 4 * 3, 5);
const sp = rnd(total(grnParamParts(sgrn)), 6);

d('native fused attention and GRN', () => {
  it('the packed layouts: the GRN has the skip projection exactly when inDim ≠ units', () => {
    expect(grnParamParts(grn).map(([n]) => n)).toContain('ws');
    expect(grnParamParts({ ...grn, inDim: 5 }).map(([n]) => n)).not.toContain('ws');
    expect(attentionParamParts(att).map(([n, l]) => `${n}:${l}`).join(' ')).toBe('wq:30 bq:6 wk:30 wv:30 bv:6 wo:24 bo:4');
  });

  it.each([
    ['attention: x one short', () => attentionForwardF32(ax.subarray(1), ap, att), 'ERR_SHAPE', 'x'],
    ['attention: params one short', () => attentionForwardF32(ax, ap.subarray(1), att), 'ERR_SHAPE', 'params'],
    ['attention: zero heads', () => attentionForwardF32(ax, ap, { ...att, heads: 0 }), 'ERR_ARG', 'heads'],
    ['attention: a fractional time', () => native().attentionForwardF32(ax, ap, new Float32Array(24), new Float32Array(1000), { ...att, time: 2.5 }), 'ERR_ARG', 'time'],
    ['attention: y overlapping x', () => native().attentionForwardF32(ax, ap, ax.subarray(0, 24), new Float32Array(4 * 36 + 36), att), 'ERR_ARG', 'y'],
    ['attention: saved one short', () => native().attentionForwardF32(ax, ap, new Float32Array(24), new Float32Array(4 * 36 + 36 - 1), att), 'ERR_SHAPE', 'saved'],
    ['attention backward: dy one short', () => {
      const f = attentionForwardF32(ax, ap, att);
      attentionBackwardF32(ax, ap, f.saved, new Float32Array(23), att);
    }, 'ERR_SHAPE', 'dy'],
    ['attention backward: dparams overlapping dy', () => {
      const f = attentionForwardF32(ax, ap, att);
      const dy = new Float32Array(1000);
      native().attentionBackwardF32(ax, ap, f.saved, dy.subarray(0, 24), dy.subarray(0, ap.length), undefined, att);
    }, 'ERR_ARG', 'dparams'],
    ['grn: params without the skip projection', () => grnForwardF32(gx, gp.subarray(0, gp.length - 3 * 5 - 5), grn), 'ERR_SHAPE', 'params'],
    ['grn: x one long', () => grnForwardF32(new Float32Array(13), gp, grn), 'ERR_SHAPE', 'x'],
    ['grn: a NaN epsilon', () => grnForwardF32(gx, gp, { ...grn, epsilon: Number.NaN }), 'ERR_ARG', 'epsilon'],
    ['grn: negative rows', () => native().grnForwardF32(gx, gp, new Float32Array(20), new Float32Array(100), { ...grn, rows: -1 }), 'ERR_ARG', 'rows'],
    ['grn backward: dx overlapping dparams', () => {
      const f = grnForwardF32(gx, gp, grn);
      const out = new Float32Array(gp.length);
      native().grnBackwardF32(gx, gp, f.saved, new Float32Array(20), out, out.subarray(0, 12), grn);
    }, 'ERR_ARG', 'dx'],
    ['grn backward: saved one short', () => {
      const f = grnForwardF32(gx, gp, grn);
      grnBackwardF32(gx, gp, f.saved.subarray(1), new Float32Array(20), grn);
    }, 'ERR_SHAPE', 'saved'],
    ['grn stacked: the params of one GRN for a stack of 2', () => grnForwardF32(sx, gp, sgrn), 'ERR_SHAPE', 'params'],
    ['grn stacked: x of one GRN for a stack of 2', () => grnForwardF32(gx, sp, sgrn), 'ERR_SHAPE', 'x'],
    ['grn stacked: a fractional stack', () => native().grnForwardF32(sx, sp, new Float32Array(40), new Float32Array(400), { ...sgrn, stack: 1.5 }), 'ERR_ARG', 'stack'],
    ['grn stacked: a negative stack (the wrapper)', () => grnForwardF32(sx, sp, { ...sgrn, stack: -2 }), 'ERR_ARG', 'stack'],
    ['grn stacked: y overlapping params', () => native().grnForwardF32(sx, sp, sp.subarray(0, 40), new Float32Array(2 * 4 * (2 * 2 + 3 * 5 + 1)), sgrn), 'ERR_ARG', 'y'],
    ['grn stacked backward: dy of one GRN', () => {
      const f = grnForwardF32(sx, sp, sgrn);
      grnBackwardF32(sx, sp, f.saved, new Float32Array(20), sgrn);
    }, 'ERR_SHAPE', 'dy'],
    ['grn stacked backward: dx of one GRN', () => {
      const f = grnForwardF32(sx, sp, sgrn);
      native().grnBackwardF32(sx, sp, f.saved, new Float32Array(40), new Float32Array(sp.length), new Float32Array(12), sgrn);
    }, 'ERR_SHAPE', 'dx'],
  ] as const)('%s', (_name, call, code, argument) => {
    const err = nativeError(call);
    expect(err.code).toBe(code);
    expect(err.data['argument']).toBe(argument);
  });

  it('the stacked layout: GRN s of a stack is the plain GRN on its rows with its weights', () => {
    const f = grnForwardF32(sx, sp, sgrn);
    const dy = rnd(2 * 4 * 5, 7);
    const b = grnBackwardF32(sx, sp, f.saved, dy, sgrn);
    const parts = grnParamParts(sgrn);
    for (let s = 0; s < 2; s++) {
      // GRN s's weights: the s-th half of every stacked part
      const own = new Float32Array(total(grnParamParts(grn)));
      let o = 0;
      let p = 0;
      for (const [, n] of parts) {
        own.set(sp.subarray(p + (s * n) / 2, p + ((s + 1) * n) / 2), o);
        o += n / 2;
        p += n;
      }
      const one = grnForwardF32(sx.subarray(s * 12, (s + 1) * 12), own, grn);
      expect(Array.from(f.y.subarray(s * 20, (s + 1) * 20))).toEqual(Array.from(one.y));
      const g = grnBackwardF32(sx.subarray(s * 12, (s + 1) * 12), own, one.saved, dy.subarray(s * 20, (s + 1) * 20), grn);
      expect(Array.from(b.dx!.subarray(s * 12, (s + 1) * 12))).toEqual(Array.from(g.dx!));
      o = 0;
      p = 0;
      for (const [name, n] of parts) {
        expect(Array.from(b.dparams.subarray(p + (s * n) / 2, p + ((s + 1) * n) / 2)), `d${name}`).toEqual(Array.from(g.dparams.subarray(o, o + n / 2)));
        o += n / 2;
        p += n;
      }
    }
  });
});
