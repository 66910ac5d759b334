import { describe, expect, it } from 'vitest';

import {
  SigvwapError,
  backendInfo,
  vwapLoss,
  vwapLossAndGrad,
  vwapLossAndGradAsync,
  vwapLossAsync,
  vwapLossGrad,
  vwapLossGradAsync,
  type VwapLossInput,
} from '../../src/index.js';
import { randomOrders } from '../helpers/random.js';
import { vwapLossReference } from '../helpers/vwapReference.js';

const maxAbs = (xs: ArrayLike<number>) => Array.from(xs).reduce((m, x) => Math.max(m, Math.abs(x)), 0);

function expectCode(fn: () => unknown, code: string, needle?: string): SigvwapError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SigvwapError);
    const err = e as SigvwapError;
    expect(err.code).toBe(code);
    if (needle) expect(err.message).toContain(needle);
    return err;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

const shapes = [
  { name: 'b1-h1', batch: 1, horizon: 1 },
  { name: 'b1-h12', batch: 1, horizon: 12 },
  { name: 'b3-h2', batch: 3, horizon: 2 },
  { name: 'b7-h5', batch: 7, horizon: 5 },
  { name: 'b5001-h12', batch: 5001, horizon: 12 },
];
const cases = shapes.flatMap((s) =>
  (['abs', 'quad'] as const).flatMap((kind) => (['f64', 'f32'] as const).map((dtype) => ({ ...s, kind, dtype, label: `${s.name}-${kind}-${dtype}` }))),
);

describe('vwapLoss against the float64 TypeScript reference', () => {
  it.each(cases)('$label', ({ batch, horizon, kind, dtype }) => {
    const d = randomOrders(batch, horizon, batch * 7 + horizon);
    const cast = (x: Float64Array) => (dtype === 'f32' ? new Float32Array(x) : x);
    const alloc = cast(d.alloc), price = cast(d.price), volume = cast(d.volume);
    // The reference sees exactly the values the kernel sees.
    const ref = vwapLossReference(alloc, price, volume, batch, horizon, kind);
    const out = vwapLossAndGrad({ alloc, price, volume, batch, horizon, kind, device: 'cpu' });
    expect(out.device).toBe('cpu');
    expect(out.used).toBe(batch);
    // d = P_ach/P_mkt − 1 cancels: its absolute rounding is ~1e-16, so compare
    // the mean relative to 1e-9 (d ~ 1e-4) plus that floor.
    expect(Math.abs(out.mean - ref.mean)).toBeLessThanOrEqual(1e-9 * ref.mean + 1e-15);
    for (let b = 0; b < batch; b++) expect(Math.abs(out.perOrder[b]! - ref.perOrder[b]!)).toBeLessThanOrEqual(1e-13);
    expect(out.grad).toBeInstanceOf(dtype === 'f32' ? Float32Array : Float64Array);
    const gmax = maxAbs(ref.grad);
    const tol = (dtype === 'f32' ? 1e-6 : 1e-10) * gmax;
    for (let i = 0; i < ref.grad.length; i++) expect(Math.abs(out.grad[i]! - ref.grad[i]!)).toBeLessThanOrEqual(tol);
    expect(vwapLoss({ alloc, price, volume, batch, horizon, kind }).mean).toBe(out.mean);
  });
});

describe('vwapLossGrad: central finite differences of the native forward', () => {
  it.each(shapes.slice(0, 4).flatMap((s) => (['abs', 'quad'] as const).map((kind) => ({ ...s, kind, label: `${s.name}-${kind}` }))))(
    '$label',
    ({ batch, horizon, kind }) => {
      const { alloc, price, volume } = randomOrders(batch, horizon, 99 + batch);
      const grad = vwapLossGrad({ alloc, price, volume, batch, horizon, kind });
      for (let i = 0; i < alloc.length; i++) {
        const h = 1e-4 * Math.max(alloc[i]!, 1e-2);
        const up = alloc.slice(), dn = alloc.slice();
        up[i]! += h;
        dn[i]! -= h;
        const fd =
          (vwapLoss({ alloc: up, price, volume, batch, horizon, kind }).mean - vwapLoss({ alloc: dn, price, volume, batch, horizon, kind }).mean) /
          (2 * h);
        expect(Math.abs(fd - grad[i]!)).toBeLessThanOrEqual(1e-5 * Math.abs(grad[i]!) + 1e-10);
      }
    },
  );
});

describe('vwapLoss edge cases', () => {
  it.each([
    { name: 'scale-1', scale: 1 },
    { name: 'scale-1e-6', scale: 1e-6 },
    { name: 'scale-1e6', scale: 1e6 },
  ])('non-normalized allocations give the same slippage ($name)', ({ scale }) => {
    const { alloc, price, volume } = randomOrders(4, 6, 5);
    const base = vwapLoss({ alloc, price, volume, batch: 4, horizon: 6, kind: 'abs' });
    const scaled = vwapLoss({ alloc: alloc.map((a) => a * scale), price, volume, batch: 4, horizon: 6, kind: 'abs' });
    for (let b = 0; b < 4; b++) expect(scaled.perOrder[b]).toBeCloseTo(base.perOrder[b]!, 14);
  });

  it('TWAP on flat volume has zero slippage and zero abs gradient', () => {
    const price = new Float64Array([100, 101, 99, 102]);
    const ones = new Float64Array(4).fill(1);
    const out = vwapLossAndGrad({ alloc: ones, price, volume: ones, batch: 1, horizon: 4, kind: 'abs' });
    expect(out.perOrder[0]).toBe(0);
    expect(Array.from(out.grad)).toEqual([0, 0, 0, 0]);
  });

  it('zero-volume order: error by default, skipped and counted with skip', () => {
    const { alloc, price, volume } = randomOrders(5, 3, 8);
    volume.fill(0, 6, 9); // order 2
    const err = expectCode(() => vwapLoss({ alloc, price, volume, batch: 5, horizon: 3, kind: 'abs' }), 'ERR_ZERO_VOLUME', 'order 2');
    expect(err.data).toMatchObject({ order: 2, argument: 'volume' });
    const out = vwapLossAndGrad({ alloc, price, volume, batch: 5, horizon: 3, kind: 'quad', onZeroVolume: 'skip' });
    expect([out.used, out.skipped]).toEqual([4, 1]);
    expect(out.perOrder[2]).toBeNaN();
    expect(Array.from(out.grad.subarray(6, 9))).toEqual([0, 0, 0]);
    const keep = (x: Float64Array) => Float64Array.from([...x.subarray(0, 6), ...x.subarray(9)]);
    const four = vwapLossAndGrad({ alloc: keep(alloc), price: keep(price), volume: keep(volume), batch: 4, horizon: 3, kind: 'quad' });
    expect(out.mean).toBeCloseTo(four.mean, 15);
    expect(Array.from(keep(out.grad as Float64Array))).toEqual(Array.from(four.grad).map((g) => expect.closeTo(g, 15)));
  });

  it('batch 0 returns NaN mean and empty outputs', () => {
    const e = new Float64Array(0);
    const out = vwapLoss({ alloc: e, price: e, volume: e, batch: 0, horizon: 12, kind: 'abs' });
    expect(out.mean).toBeNaN();
    expect(out.perOrder.length).toBe(0);
  });
});

describe('vwapLossGrad with out', () => {
  type Call = (i: Parameters<typeof vwapLossAndGrad>[0]) => Promise<{ grad: Float32Array | Float64Array; mean: number }>;
  const calls: { name: string; call: Call }[] = [
    { name: 'vwapLossAndGrad', call: async (i) => vwapLossAndGrad(i) },
    { name: 'vwapLossAndGradAsync', call: (i) => vwapLossAndGradAsync(i) },
    { name: 'vwapLossGrad', call: async (i) => ({ grad: vwapLossGrad(i), mean: NaN }) },
  ];
  const cases = calls.flatMap((c) => (['f64', 'f32'] as const).flatMap((dtype) => (['error', 'skip'] as const).map((zero) => ({ ...c, dtype, zero }))));
  it.each(cases)('$name $dtype onZeroVolume=$zero: out fully overwritten, returned, equal to a fresh gradient', async ({ call, dtype, zero }) => {
    const o = randomOrders(7, 5, 21);
    if (zero === 'skip') o.volume.fill(0, 10, 15); // order 2: its gradient row must be written as zeros
    const alloc = dtype === 'f64' ? o.alloc : new Float32Array(o.alloc);
    const input = { alloc, price: o.price, volume: o.volume, batch: 7, horizon: 5, kind: 'abs' as const, onZeroVolume: zero };
    const fresh = await call(input);
    const out = dtype === 'f64' ? new Float64Array(35).fill(NaN) : new Float32Array(35).fill(NaN);
    const got = await call({ ...input, out });
    expect(got.grad).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(fresh.grad));
    if (zero === 'skip') expect(Array.from(out.subarray(10, 15))).toEqual([0, 0, 0, 0, 0]);
  });

  const o = randomOrders(3, 4, 2);
  const base = { ...o, batch: 3, horizon: 4, kind: 'quad' as const };
  const shared = new Float64Array(24);
  shared.set(o.alloc);
  it.each([
    { name: 'wrong length', input: { ...base, out: new Float64Array(11) }, code: 'ERR_SHAPE' },
    { name: 'other float type', input: { ...base, out: new Float32Array(12) as unknown as Float64Array }, code: 'ERR_ARG' },
    { name: 'not a typed array', input: { ...base, out: [] as unknown as Float64Array }, code: 'ERR_ARG' },
    { name: 'is price', input: { ...base, out: o.price }, code: 'ERR_ARG', needle: 'share memory with price' },
    { name: 'overlaps alloc', input: { ...base, alloc: shared.subarray(0, 12), out: shared.subarray(11, 23) }, code: 'ERR_ARG', needle: 'share memory with alloc' },
  ])('$name -> $code naming out', ({ input, code, needle }) => {
    expectCode(() => vwapLossAndGrad(input), code, needle ?? 'out');
  });
});

describe('vwapLoss bad input', () => {
  const good = () => randomOrders(3, 4, 21);
  type Mut = (d: ReturnType<typeof good>) => Partial<VwapLossInput>;
  const bad: { name: string; mut: Mut; code: string; needle: string; data?: Record<string, unknown> }[] = [
    { name: 'nan-alloc', mut: (d) => ((d.alloc[5] = NaN), {}), code: 'ERR_NONFINITE', needle: 'alloc[5]', data: { argument: 'alloc', index: 5 } },
    { name: 'inf-price', mut: (d) => ((d.price[7] = Infinity), {}), code: 'ERR_NONFINITE', needle: 'price[7]', data: { argument: 'price', index: 7 } },
    { name: 'nan-volume', mut: (d) => ((d.volume[11] = NaN), {}), code: 'ERR_NONFINITE', needle: 'volume[11]', data: { index: 11, order: 2 } },
    { name: 'short-volume', mut: (d) => ({ volume: d.volume.subarray(0, 11) }), code: 'ERR_SHAPE', needle: 'volume: expected 12', data: { expected: 12, got: 11 } },
    { name: 'long-alloc', mut: () => ({ alloc: new Float64Array(13).fill(1) }), code: 'ERR_SHAPE', needle: 'alloc: expected 12' },
    { name: 'negative-price', mut: (d) => ((d.price[2] = -1), {}), code: 'ERR_ARG', needle: 'price[2]' },
    { name: 'negative-alloc', mut: (d) => ((d.alloc[1] = -1), {}), code: 'ERR_ARG', needle: 'alloc[1]' },
    { name: 'zero-alloc-row', mut: (d) => (d.alloc.fill(0, 4, 8), {}), code: 'ERR_ARG', needle: 'order 1' },
    { name: 'plain-array', mut: () => ({ price: [1, 2, 3] as unknown as Float64Array }), code: 'ERR_ARG', needle: 'price: expected a Float32Array or Float64Array' },
    { name: 'int32-array', mut: () => ({ alloc: new Int32Array(12) as unknown as Float64Array }), code: 'ERR_ARG', needle: 'alloc' },
    { name: 'kind', mut: () => ({ kind: 'l1' as 'abs' }), code: 'ERR_ARG', needle: 'kind' },
    { name: 'horizon-0', mut: () => ({ horizon: 0 }), code: 'ERR_ARG', needle: 'horizon' },
    { name: 'batch-fraction', mut: () => ({ batch: 1.5 }), code: 'ERR_ARG', needle: 'batch' },
    { name: 'zero-volume-policy', mut: () => ({ onZeroVolume: 'drop' as 'skip' }), code: 'ERR_ARG', needle: 'onZeroVolume' },
    { name: 'device', mut: () => ({ device: 'gpu' as 'cuda' }), code: 'ERR_ARG', needle: 'device' },
  ];
  it.each(bad)('$name -> $code', ({ mut, code, needle, data }) => {
    const d = good();
    const input: VwapLossInput = { ...d, batch: 3, horizon: 4, kind: 'abs', ...mut(d) };
    const err = expectCode(() => vwapLoss(input), code, needle);
    if (data) expect(err.data).toMatchObject(data);
    expectCode(() => vwapLossGrad(input), code, needle);
  });

  it.each(bad.filter((b) => b.code !== 'ERR_ARG' || b.name.startsWith('negative')))('$name rejects the Async form too', async ({ mut, code }) => {
    const d = good();
    const input: VwapLossInput = { ...d, batch: 3, horizon: 4, kind: 'abs', ...mut(d) };
    await expect(vwapLossAsync(input)).rejects.toMatchObject({ code });
    await expect(vwapLossGradAsync(input)).rejects.toMatchObject({ code });
  });

  it("device 'cuda' without CUDA throws ERR_CUDA_UNAVAILABLE with the reason; 'auto' falls back", () => {
    const info = backendInfo();
    const d = good();
    const base = { ...d, batch: 3, horizon: 4, kind: 'abs' as const };
    if (info.cuda.available) {
      console.log('SKIPPED: CUDA is available here, the unavailable path cannot be exercised');
      return;
    }
    expect(info.cuda.reason).toBeTruthy();
    const err = expectCode(() => vwapLoss({ ...base, device: 'cuda' }), 'ERR_CUDA_UNAVAILABLE');
    expect(err.message).toContain(info.cuda.reason!);
    expect(vwapLoss({ ...base, device: 'auto' }).device).toBe('cpu');
  });
});

describe('Async forms', () => {
  it.each([
    { name: 'b1-h1', batch: 1, horizon: 1 },
    { name: 'b20000-h12', batch: 20000, horizon: 12 },
  ])('give the same results as the sync forms ($name)', async ({ batch, horizon }) => {
    const d = randomOrders(batch, horizon, 3);
    const input = { ...d, alloc: new Float32Array(d.alloc), batch, horizon, kind: 'abs' as const };
    const [a, b] = await Promise.all([vwapLossAsync(input), vwapLossAndGradAsync(input)]);
    const s = vwapLossAndGrad(input);
    expect(a.mean).toBe(s.mean);
    expect(b.mean).toBe(s.mean);
    expect(b.grad).toBeInstanceOf(Float32Array);
    expect(Array.from(b.grad)).toEqual(Array.from(s.grad));
  });
});
