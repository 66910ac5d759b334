import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';

import {
  SigvwapError,
  addTime,
  leadLag,
  sigLength,
  signature,
  signatureAsync,
  signatureBackward,
  signatureBackwardAsync,
  type SignatureOptions,
} from '../../src/index.js';
import { native } from '../../src/native/binding.js';
import { signatureOp } from '../../src/ops/signatureOp.js';
import { centeredUniform, rng } from '../helpers/random.js';
import { flattenLevels, signatureReference } from '../helpers/signatureReference.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function walk(batch: number, length: number, channels: number, seed: number): Float64Array {
  return centeredUniform(batch * length * channels, seed);
}

const maxAbs = (x: ArrayLike<number>) => Array.from(x).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('sigLength', () => {
  it.each([
    { c: 1, m: 1, want: 1 },
    { c: 2, m: 3, want: 14 },
    { c: 3, m: 4, want: 120 },
    { c: 8, m: 4, want: 4680 },
  ])('d=$c m=$m -> $want', ({ c, m, want }) => expect(sigLength(c, m)).toBe(want));
});

const shapes = [
  { name: 'b1-l1-c3-m2', batch: 1, length: 1, channels: 3, depth: 2 },
  { name: 'b1-l2-c2-m3', batch: 1, length: 2, channels: 2, depth: 3 },
  { name: 'b3-l7-c5-m3', batch: 3, length: 7, channels: 5, depth: 3 },
  { name: 'b2-l9-c1-m4', batch: 2, length: 9, channels: 1, depth: 4 },
  { name: 'b5-l33-c3-m1', batch: 5, length: 33, channels: 3, depth: 1 },
];

describe('signature against the TypeScript reference', () => {
  it.each(shapes)('$name', ({ batch, length, channels, depth }) => {
    const path = walk(batch, length, channels, batch + length);
    const got = signature(path, { batch, length, channels, depth });
    const siglen = sigLength(channels, depth);
    for (let b = 0; b < batch; b++) {
      const ref = flattenLevels(signatureReference(path.subarray(b * length * channels, (b + 1) * length * channels), length, channels, depth));
      const tol = 1e-12 * Math.max(1, maxAbs(ref));
      for (let i = 0; i < siglen; i++) expect(Math.abs(got[b * siglen + i]! - ref[i]!)).toBeLessThanOrEqual(tol);
    }
  });
});

describe('stream and basepoint', () => {
  it.each(shapes.filter((s) => s.length > 1))('$name: last stream entry equals the signature; entry i is the prefix 0..i+1', ({ batch, length, channels, depth }) => {
    const o = { batch, length, channels, depth };
    const path = walk(batch, length, channels, 3);
    const siglen = sigLength(channels, depth);
    const stream = signature(path, { ...o, stream: true });
    expect(stream.length).toBe(batch * (length - 1) * siglen);
    const sig = signature(path, o);
    for (let b = 0; b < batch; b++) {
      const last = stream.subarray((b * (length - 1) + length - 2) * siglen, (b * (length - 1) + length - 1) * siglen);
      expect(Array.from(last)).toEqual(Array.from(sig.subarray(b * siglen, (b + 1) * siglen)).map((x) => expect.closeTo(x, 12)));
      const prefix = signature(path.slice(b * length * channels, (b * length + 2) * channels), { ...o, batch: 1, length: 2 });
      expect(Array.from(stream.subarray(b * (length - 1) * siglen, (b * (length - 1) + 1) * siglen))).toEqual(Array.from(prefix).map((x) => expect.closeTo(x, 12)));
    }
  });

  it.each(shapes)('$name: basepoint equals prepending a zero point', ({ batch, length, channels, depth }) => {
    const path = walk(batch, length, channels, 4);
    const withZero = new Float64Array(batch * (length + 1) * channels);
    for (let b = 0; b < batch; b++) withZero.set(path.subarray(b * length * channels, (b + 1) * length * channels), (b * (length + 1) + 1) * channels);
    const a = signature(path, { batch, length, channels, depth, basepoint: true });
    const b = signature(withZero, { batch, length: length + 1, channels, depth });
    expect(Array.from(a)).toEqual(Array.from(b).map((x) => expect.closeTo(x, 12)));
  });
});

describe('signatureBackward: directional derivative', () => {
  it.each(shapes)('$name', ({ batch, length, channels, depth }) => {
    const o = { batch, length, channels, depth };
    const path = walk(batch, length, channels, 9);
    const r = rng(2);
    const w = Float64Array.from({ length: batch * sigLength(channels, depth) }, () => r() - 0.5);
    const v = Float64Array.from({ length: path.length }, () => r() - 0.5);
    const g = signatureBackward(path, w, o);
    expect(g.length).toBe(path.length);
    const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i]!, 0);
    const eps = 1e-5;
    const fd = (dot(w, signature(path.map((x, i) => x + eps * v[i]!), o)) - dot(w, signature(path.map((x, i) => x - eps * v[i]!), o))) / (2 * eps);
    expect(Math.abs(dot(g, v) - fd)).toBeLessThanOrEqual(1e-7 * Math.max(1, Math.abs(fd)));
  });
});

describe('Async forms', () => {
  it('signatureAsync and signatureBackwardAsync equal the sync forms (f32 and f64)', async () => {
    const o = { batch: 64, length: 50, channels: 3, depth: 3 };
    for (const path of [walk(64, 50, 3, 1), new Float32Array(walk(64, 50, 3, 1))]) {
      const w = path instanceof Float32Array ? new Float32Array(64 * 39).fill(0.5) : new Float64Array(64 * 39).fill(0.5);
      const [a, b] = await Promise.all([signatureAsync(path, o), signatureBackwardAsync(path, w as typeof path, o)]);
      expect(a).toBeInstanceOf(path.constructor);
      expect(Array.from(a)).toEqual(Array.from(signature(path, o)));
      expect(Array.from(b)).toEqual(Array.from(signatureBackward(path, w as typeof path, o)));
    }
  });
});

describe('out: results written into a caller\'s array', () => {
  type Call = (path: Float64Array | Float32Array, w: Float64Array | Float32Array, out: Float64Array | Float32Array | undefined) => Promise<Float64Array | Float32Array>;
  const o = { batch: 5, length: 7, channels: 3, depth: 3, basepoint: true };
  const calls: { name: string; call: Call; size: (path: Float64Array | Float32Array) => number }[] = [
    { name: 'signature', call: async (p, _w, out) => signature(p, { ...o, out }), size: () => 5 * 39 },
    { name: 'signatureBackward', call: async (p, w, out) => signatureBackward(p, w, { ...o, out }), size: (p) => p.length },
    { name: 'signatureAsync', call: (p, _w, out) => signatureAsync(p, { ...o, out }), size: () => 5 * 39 },
    { name: 'signatureBackwardAsync', call: (p, w, out) => signatureBackwardAsync(p, w, { ...o, out }), size: (p) => p.length },
    { name: 'signature (stream)', call: async (p, _w, out) => signature(p, { ...o, stream: true, out }), size: () => 5 * 7 * 39 },
  ];
  const cases = calls.flatMap((c) => (['f64', 'f32'] as const).map((dtype) => ({ ...c, dtype })));
  it.each(cases)('$name $dtype: every element overwritten, out returned, equal to a fresh result', async ({ call, size, dtype }) => {
    const p64 = walk(5, 7, 3, 4);
    const path = dtype === 'f64' ? p64 : new Float32Array(p64);
    const w = dtype === 'f64' ? walk(5, 39, 1, 5) : new Float32Array(walk(5, 39, 1, 5));
    const fresh = await call(path, w, undefined);
    const out = dtype === 'f64' ? new Float64Array(size(path)).fill(NaN) : new Float32Array(size(path)).fill(NaN);
    const got = await call(path, w, out);
    expect(got).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(fresh));
  });

  const mem = new Float64Array(5 * 7 * 3 * 2);
  const pathIn = mem.subarray(0, 5 * 7 * 3);
  pathIn.set(walk(5, 7, 3, 6));
  const bad: { name: string; run: () => unknown; code: string; needle: string }[] = [
    { name: 'wrong length', run: () => signature(walk(5, 7, 3, 1), { ...o, out: new Float64Array(5 * 39 - 1) }), code: 'ERR_SHAPE', needle: 'out' },
    { name: 'other float type', run: () => signature(walk(5, 7, 3, 1), { ...o, out: new Float32Array(5 * 39) as unknown as Float64Array }), code: 'ERR_ARG', needle: 'out' },
    { name: 'backward, other float type', run: () => signatureBackward(walk(5, 7, 3, 1), walk(5, 39, 1, 2), { ...o, out: new Float32Array(105) as unknown as Float64Array }), code: 'ERR_ARG', needle: 'out' },
    { name: 'not a typed array', run: () => signature(walk(5, 7, 3, 1), { ...o, out: [0] as unknown as Float64Array }), code: 'ERR_ARG', needle: 'out' },
    { name: 'overlaps path', run: () => signatureBackward(pathIn, walk(5, 39, 1, 2), { ...o, out: mem.subarray(1, 1 + 105) }), code: 'ERR_ARG', needle: 'share memory with path' },
    { name: 'overlaps gradOut', run: () => { const g = new Float64Array(5 * 39 + 105); return signatureBackward(walk(5, 7, 3, 1), g.subarray(0, 5 * 39), { ...o, out: g.subarray(5 * 39 - 1, 5 * 39 + 104) }); }, code: 'ERR_ARG', needle: 'share memory with gradOut' },
  ];
  it.each(bad)('$name -> $code', ({ run, code, needle }) => {
    expect(run).toThrow(expect.objectContaining({ code, message: expect.stringContaining(needle) }));
  });

  it('an adjacent, non-overlapping view of the same buffer is accepted', () => {
    const got = signatureBackward(pathIn, walk(5, 39, 1, 2), { ...o, out: mem.subarray(105) });
    expect(Array.from(got)).toEqual(Array.from(signatureBackward(pathIn, walk(5, 39, 1, 2), o)));
  });
});

describe('Async fresh results: recycled once collected', () => {
  // An Async call's fresh result (>= 4 MiB) is native memory; Node frees it on
  // the event loop after the GC that collected it, and its finalizer keeps the
  // buffer as a spare that the next native result of the same type and length
  // takes (stale contents: the kernel must overwrite every element). Sync
  // calls get JavaScript-allocated results (resultArray.ts) and are not
  // concerned; the backward's result has its input's size, whose Async copy
  // is parked too, so the forward stands for both.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const fwd = { length: 9, channels: 8, depth: 4 };
  const cases: { name: string; dtype: 'f64' | 'f32'; o: SignatureOptions }[] = [
    { name: 'signatureAsync f64', dtype: 'f64', o: { ...fwd, batch: 128 } },
    { name: 'signatureAsync f32', dtype: 'f32', o: { ...fwd, batch: 256 } },
  ];
  it.each(cases)('$name: the spare is kept, taken by the next result, and every element is new', async ({ dtype, o }) => {
    const len = o.batch * sigLength(o.channels, o.depth);
    const call = (p: Float64Array | Float32Array, out?: Float64Array | Float32Array) => signatureAsync(p, { ...o, out });
    expect(len * (dtype === 'f64' ? 8 : 4)).toBeGreaterThanOrEqual(4 << 20);
    const spares = () => native().debugSpares().filter((s) => s.length === len && s.f64 === (dtype === 'f64')).length;
    const typed = (x: Float64Array) => (dtype === 'f64' ? x : new Float32Array(x));
    const [a, b] = [typed(walk(o.batch, o.length, o.channels, 11)), typed(walk(o.batch, o.length, o.channels, 12))];
    // The calls' input copies of other sizes are parked too; only `len` is counted.
    const before = spares();
    let first: Float64Array | Float32Array | null = await call(a);
    expect(first.length).toBe(len);
    first = null;
    for (let turn = 0; turn < 50 && spares() === before; turn++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    expect(spares()).toBe(before + 1);
    const second = await call(b);
    expect(spares()).toBe(before);
    const out = dtype === 'f64' ? new Float64Array(len).fill(NaN) : new Float32Array(len).fill(NaN);
    const want = await call(b, out);
    // (toEqual walks 10^6 elements slowly: count the differences instead)
    let differ = 0;
    for (let i = 0; i < len; i++) differ += Number(!Object.is(second[i], want[i]));
    expect(differ).toBe(0);
  });
});

describe('bad input', () => {
  const ok: SignatureOptions = { batch: 2, length: 3, channels: 2, depth: 2 };
  const good = () => walk(2, 3, 2, 1);
  const cases: { name: string; run: () => unknown; code: string; needle: string; data?: Record<string, unknown> }[] = [
    { name: 'depth-0', run: () => signature(good(), { ...ok, depth: 0 }), code: 'ERR_ARG', needle: 'depth' },
    { name: 'channels-0', run: () => signature(new Float64Array(0), { ...ok, channels: 0 }), code: 'ERR_ARG', needle: 'channels' },
    { name: 'short-path', run: () => signature(good().subarray(1), ok), code: 'ERR_SHAPE', needle: 'path' },
    { name: 'gradOut-length', run: () => signatureBackward(good(), new Float64Array(5), ok), code: 'ERR_SHAPE', needle: 'gradOut' },
    { name: 'gradOut-type', run: () => signatureBackward(good(), new Float32Array(12) as unknown as Float64Array, ok), code: 'ERR_ARG', needle: 'gradOut' },
    {
      name: 'nan-path',
      run: () => {
        const p = good();
        p[1 * 6 + 2 * 2 + 1] = NaN; // batch 1, step 2, channel 1
        return signature(p, ok);
      },
      code: 'ERR_NONFINITE',
      needle: 'path[1][2][1]',
      data: { batch: 1, step: 2, channel: 1 },
    },
    { name: 'huge', run: () => signature(new Float64Array(2), { batch: 1, length: 2, channels: 1000, depth: 6 }), code: 'ERR_ARG', needle: 'bytes' },
    { name: 'not-typed', run: () => signature([1, 2] as unknown as Float64Array, ok), code: 'ERR_ARG', needle: 'path' },
    { name: 'fraction', run: () => signature(good(), { ...ok, batch: 1.5 }), code: 'ERR_ARG', needle: 'batch' },
  ];
  it.each(cases)('$name -> $code', ({ run, code, needle, data }) => {
    let err: unknown;
    try {
      run();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SigvwapError);
    expect((err as SigvwapError).code).toBe(code);
    expect((err as SigvwapError).message).toContain(needle);
    if (data) expect((err as SigvwapError).data).toMatchObject(data);
  });
});

describe('path transforms', () => {
  it('addTime prepends t = i/(L-1) as channel 0', () => {
    const { path, shape } = addTime(Float64Array.from([5, 6, 7, 8, 9, 10]), { batch: 2, length: 3, channels: 1 });
    expect(shape).toEqual({ batch: 2, length: 3, channels: 2 });
    expect(Array.from(path)).toEqual([0, 5, 0.5, 6, 1, 7, 0, 8, 0.5, 9, 1, 10]);
  });

  it('leadLag: level-2 antisymmetric part is half the quadratic variation', () => {
    const x = Float64Array.from([0, 1, -1, 2, 0.5]);
    const { path, shape } = leadLag(x, { batch: 1, length: 5, channels: 1 });
    expect(shape).toEqual({ batch: 1, length: 9, channels: 2 });
    expect(Array.from(path.subarray(0, 8))).toEqual([0, 0, 1, 0, 1, 1, -1, 1]);
    const s = signature(path, { ...shape, depth: 2 });
    // level 2 = [S00, S01, S10, S11] at offsets 2..5 (0 = lead, 1 = lag): (S01 − S10) / 2 = Σ (Δx)² / 2.
    let qv = 0;
    for (let i = 1; i < 5; i++) qv += (x[i]! - x[i - 1]!) ** 2;
    expect((s[3]! - s[4]!) / 2).toBeCloseTo(qv / 2, 12);
  });
});

describe('signatureOp (tf.customGrad)', () => {
  // GFT-Sig calls the op on float32 tensors: it must run the float32
  // arithmetic (bit for bit precision 'f32'), and `precision: 'f64'` the
  // float64-internal path; the two round differently on this shape.
  it.each([
    { name: 'default -> f32 arithmetic', opPrecision: undefined, want: 'f32', other: 'f64' },
    { name: "precision 'f64' -> f64 arithmetic", opPrecision: 'f64', want: 'f64', other: 'f32' },
  ] as const)('b4-l30-c3-m4: $name, forward and gradient', ({ opPrecision, want, other }) => {
    const [batch, length, channels, depth] = [4, 30, 3, 4];
    const path = new Float32Array(walk(batch, length, channels, 8));
    const opts = { batch, length, channels, depth };
    const x = tf.tensor3d(path, [batch, length, channels]);
    const y = signatureOp(x, depth, { precision: opPrecision });
    const dy = new Float32Array(batch * sigLength(channels, depth)).map((_, i) => Math.sin(i));
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(signatureOp(t as tf.Tensor3D, depth, { precision: opPrecision }), tf.tensor(dy, y.shape))))(x);
    const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));
    expect(same(y.dataSync(), signature(path, { ...opts, precision: want }))).toBe(true);
    expect(same(y.dataSync(), signature(path, { ...opts, precision: other }))).toBe(false);
    expect(same(g.dataSync(), signatureBackward(path, dy, { ...opts, precision: want }))).toBe(true);
  });


  it('gradient through a learnable kernel multiplied onto the path matches finite differences', () => {
    const [batch, length, channels, depth] = [3, 6, 2, 3];
    const x = tf.tensor3d(Array.from(walk(batch, length, channels, 5)), [batch, length, channels]);
    const r = rng(6);
    const kernel0 = Array.from({ length: length * channels }, () => 1 + 0.2 * (r() - 0.5));
    const w = tf.tensor2d(Array.from({ length: batch * sigLength(channels, depth) }, () => r() - 0.5), [batch, sigLength(channels, depth)]);
    const loss = (k: tf.Tensor) => tf.sum(tf.mul(signatureOp(tf.mul(x, tf.reshape(k, [1, length, channels])) as tf.Tensor3D, depth), w));
    const kernelVar = tf.variable(tf.tensor1d(kernel0));
    const { grads } = tf.variableGrads(() => loss(kernelVar) as tf.Scalar, [kernelVar]);
    const g = grads[kernelVar.name]!.dataSync();
    for (let i = 0; i < kernel0.length; i++) {
      const h = 1e-3;
      const up = kernel0.slice(), dn = kernel0.slice();
      up[i]! += h;
      dn[i]! -= h;
      const fd = (loss(tf.tensor1d(up)).dataSync()[0]! - loss(tf.tensor1d(dn)).dataSync()[0]!) / (2 * h);
      expect(Math.abs(fd - g[i]!)).toBeLessThanOrEqual(2e-3 * Math.max(1, Math.abs(fd)));
    }
  });
});
