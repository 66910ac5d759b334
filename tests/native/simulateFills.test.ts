import { describe, expect, it } from 'vitest';

import { SigvwapError } from '../../src/errors.js';
import { backendInfo } from '../../src/native/backend.js';
import {
  FILL_DEFAULTS,
  FillSimulator,
  simulateFills,
  simulateFillsAsync,
  type FillArrays,
  type FillMarketInput,
  type FillParamsInput,
} from '../../src/native/simulateFills.js';
import { randomFillMarket, simulateFillsReference } from '../helpers/fillsReference.js';

const FIELDS = [
  'filled',
  'fillPrice',
  'filledQty',
  'notional',
  'spreadCost',
  'temporaryImpactCost',
  'permanentImpactCost',
  'feeCost',
  'collarBlockedQty',
  'maxParticipation',
  'marketVolume',
  'marketVwap',
  'shortfallCost',
  'zeroVolumeBins',
  'stoppedAt',
] as const satisfies readonly (keyof FillArrays)[];

/** Every output equal bit for bit (NaN equals NaN), or within `rel` when given. */
function expectSame(got: FillArrays, want: FillArrays, rel = 0) {
  for (const f of FIELDS) {
    const g = got[f], w = want[f];
    expect(g.length, f).toBe(w.length);
    for (let i = 0; i < w.length; i++) {
      if (rel === 0 || !Number.isFinite(w[i]!)) {
        if (!Object.is(g[i], w[i])) throw new Error(`${f}[${i}]: got ${g[i]}, want ${w[i]}`);
      } else if (Math.abs(g[i]! - w[i]!) > rel * Math.max(Math.abs(w[i]!), 1)) {
        throw new Error(`${f}[${i}]: got ${g[i]}, want ${w[i]} (rel ${rel})`);
      }
    }
  }
}

function expectCode(fn: () => unknown, code: string, argument?: string, needle?: string): SigvwapError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SigvwapError);
    const err = e as SigvwapError;
    expect(err.code, err.message).toBe(code);
    if (argument) expect(err.data.argument, err.message).toBe(argument);
    if (needle) expect(err.message).toContain(needle);
    return err;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

const ALL_ON: FillParamsInput = { permanentGamma: 0.05, sweepImpactMultiplier: 2, stopSlippageBps: 30, makerFeeBps: -0.5 };
const PARAMS: { pname: string; params: FillParamsInput; rel: number }[] = [
  { pname: 'defaults', params: {}, rel: 0 },
  { pname: 'all-on', params: ALL_ON, rel: 0 },
  { pname: 'leave-linear', params: { ...ALL_ON, finalBin: 'leave', impactBeta: 1, maxParticipation: 0.2 }, rel: 0 },
  // Math.pow and libm's pow may differ in the last bit.
  { pname: 'beta0.6', params: { ...ALL_ON, impactBeta: 0.6 }, rel: 1e-12 },
];
const SHAPES = [
  { name: 'b1-h1', batch: 1, horizon: 1 },
  { name: 'b1-h2', batch: 1, horizon: 2 },
  { name: 'b3-h2', batch: 3, horizon: 2 },
  { name: 'b7-h5', batch: 7, horizon: 5 },
  { name: 'b1-h12', batch: 1, horizon: 12 },
  { name: 'b2049-h13', batch: 2049, horizon: 13 },
  { name: 'b5001-h12', batch: 5001, horizon: 12 },
];
const CASES = SHAPES.flatMap((s) => PARAMS.map((p) => ({ ...s, ...p, label: `${s.name}-${p.pname}` })));

describe('simulateFills against the TypeScript reference', () => {
  it.each(CASES)('$label', ({ batch, horizon, params, rel }) => {
    const { market, schedule } = randomFillMarket(batch, horizon, batch * 7 + horizon);
    const want = simulateFillsReference(market, schedule, params);
    const got = simulateFills({ ...market, schedule, device: 'cpu' }, params);
    expect(got.device).toBe('cpu');
    expectSame(got, want, rel);
  });

  it('the random markets exercise every rule', () => {
    const { market, schedule } = randomFillMarket(5001, 12, 11);
    const r = simulateFills({ ...market, schedule, device: 'cpu' }, ALL_ON);
    const count = (f: (b: number) => boolean) => Array.from({ length: 5001 }, (_, b) => b).filter(f).length;
    expect(count((b) => r.stoppedAt[b]! >= 0)).toBeGreaterThan(10);
    expect(count((b) => r.collarBlockedQty[b]! > 0)).toBeGreaterThan(10);
    expect(count((b) => r.zeroVolumeBins[b]! > 0)).toBeGreaterThan(10);
    expect(count((b) => r.maxParticipation[b]! > 0.1 + 1e-12)).toBeGreaterThan(10);
    expect(count((b) => r.feeCost[b]! < 0)).toBeGreaterThan(10);
  });

  it('a hand-computed case: cap, carry and sweep with impact and fees', () => {
    // Buy 100, V = 100 per bin, cap 10: bin 0 fills 10 at x = 0.1, bin 1 sweeps 90 at x = 0.9.
    const market: FillMarketInput = {
      batch: 1, horizon: 2, price: new Float64Array([100, 100]), volume: new Float64Array([100, 100]),
      sigma: new Float64Array([0.01]), halfSpreadBps: new Float64Array([1]), quantity: new Float64Array([100]), side: new Int8Array([1]),
    };
    const r = simulateFills({ ...market, schedule: new Float64Array([0.5, 0.5]) });
    expect(Array.from(r.filled)).toEqual([10, 90]);
    // p·(1 + 1e-4 + 0.5·0.01·√x)
    expect(r.fillPrice[0]).toBeCloseTo(100 * (1 + 1e-4 + 0.005 * Math.sqrt(0.1)), 12);
    expect(r.fillPrice[1]).toBeCloseTo(100 * (1 + 1e-4 + 0.005 * Math.sqrt(0.9)), 12);
    expect(r.feeCost[0]).toBeCloseTo(2e-4 * r.notional[0]!, 12);
    expect(r.spreadCost[0]).toBeCloseTo(100 * 100 * 1e-4, 12);
    expect(r.stoppedAt[0]).toBe(-1);
    expect(r.marketVwap[0]).toBe(100);
    expect(r.shortfallCost[0]).toBeNaN();
  });

  it('defaults are the documented ones', () => {
    expect(FILL_DEFAULTS).toEqual({
      maxParticipation: 0.1, impactEta: 0.5, impactBeta: 0.5, permanentGamma: 0, takerFeeBps: 2, makerFeeBps: 0,
      finalBin: 'sweep', sweepImpactMultiplier: 1, stopSlippageBps: Infinity, passiveFillShare: 0.5,
    });
    const { market, schedule } = randomFillMarket(50, 6, 3);
    expectSame(simulateFills({ ...market, schedule }), simulateFills({ ...market, schedule }, { ...FILL_DEFAULTS }));
  });

  it('passive: true applies to every order', () => {
    const { market, schedule } = randomFillMarket(40, 6, 4);
    const all = simulateFills({ ...market, schedule, passive: true });
    expectSame(all, simulateFillsReference({ ...market, passive: true }, schedule));
    expectSame(all, simulateFills({ ...market, schedule, passive: new Uint8Array(40).fill(1) }));
  });

  it('an empty batch', () => {
    const { market, schedule } = randomFillMarket(0, 3, 5);
    const r = simulateFills({ ...market, schedule });
    expect(r.filled.length).toBe(0);
    expect(r.stoppedAt.length).toBe(0);
  });
});

// Sync results are allocated uninitialized (src/native/resultArray.ts), which
// is only right if the kernel writes every element of every output: outputs
// prefilled with a sentinel must come back equal to the reference everywhere.
// Two sentinels, so that an element the kernel skips shows up whatever value
// the reference gives it (NaN fill prices included).
const SENTINELS = [
  { sname: 'NaN', f64: NaN, i32: -777 },
  { sname: '-777', f64: -777, i32: 2 ** 31 - 1 },
];
const PREFILL_CASES = ['b1-h1', 'b7-h5', 'b2049-h13'].flatMap((name) =>
  ['all-on', 'leave-linear'].flatMap((pname) =>
    SENTINELS.map((sentinel) => ({
      ...SHAPES.find((x) => x.name === name)!,
      ...PARAMS.find((x) => x.pname === pname)!,
      ...sentinel,
      label: `${name}-${pname}-${sentinel.sname}`,
    })),
  ),
);

describe('simulateFills writes every element of every output', () => {
  it.each(PREFILL_CASES)('$label', ({ batch, horizon, params, rel, f64, i32 }) => {
    const { market, schedule } = randomFillMarket(batch, horizon, batch * 7 + horizon);
    const out = Object.fromEntries(
      FIELDS.map((f) => {
        const n = f === 'filled' || f === 'fillPrice' ? batch * horizon : batch;
        return [f, f === 'zeroVolumeBins' || f === 'stoppedAt' ? new Int32Array(n).fill(i32) : new Float64Array(n).fill(f64)];
      }),
    ) as unknown as FillArrays;
    const got = simulateFills({ ...market, schedule, device: 'cpu', out }, params);
    for (const f of FIELDS) expect(got[f], f).toBe(out[f]);
    expectSame(got, simulateFillsReference(market, schedule, params), rel);
  });
});

describe('simulateFills boundary', () => {
  const { market, schedule } = randomFillMarket(4, 3, 21);
  const base = { ...market, schedule };

  it('Async gives the sync results and copies its inputs when called', async () => {
    const sync = simulateFills(base, ALL_ON);
    const copy = { ...base, price: base.price.slice() };
    const p = simulateFillsAsync(copy, ALL_ON);
    copy.price.fill(1); // after the call: must not matter
    const r = await p;
    expectSame(r, sync);
    expect(r.device).toBe(sync.device);
    await expect(simulateFillsAsync({ ...base, volume: new Float64Array(2) })).rejects.toMatchObject({ code: 'ERR_SHAPE', data: { argument: 'volume', expected: 12 } });
    await expect(simulateFillsAsync(base, { impactEta: -1 })).rejects.toMatchObject({ code: 'ERR_ARG', data: { argument: 'impactEta' } });
    await expect(simulateFillsAsync({ ...base, out: {} })).rejects.toMatchObject({ code: 'ERR_ARG', data: { argument: 'out' } });
  });

  it('writes into the given out arrays and allocates the rest', () => {
    const out = { filled: new Float64Array(12).fill(7), stoppedAt: new Int32Array(4).fill(9) };
    const r = simulateFills({ ...base, out });
    expect(r.filled).toBe(out.filled);
    expect(r.stoppedAt).toBe(out.stoppedAt);
    expectSame(r, simulateFills(base));
  });

  const errors: { name: string; input: () => Parameters<typeof simulateFills>; code: string; argument: string; needle?: string }[] = [
    { name: 'price of the wrong type', input: () => [{ ...base, price: new Float32Array(12) as unknown as Float64Array }], code: 'ERR_ARG', argument: 'price', needle: 'Float64Array' },
    { name: 'side of the wrong type', input: () => [{ ...base, side: new Float64Array(4) as unknown as Int8Array }], code: 'ERR_ARG', argument: 'side', needle: 'Int8Array' },
    { name: 'passive of the wrong type', input: () => [{ ...base, passive: [1, 0] as unknown as Uint8Array }], code: 'ERR_ARG', argument: 'passive' },
    { name: 'schedule missing', input: () => [{ ...base, schedule: undefined as unknown as Float64Array }], code: 'ERR_ARG', argument: 'schedule' },
    { name: 'batch not an integer', input: () => [{ ...base, batch: 1.5 }], code: 'ERR_ARG', argument: 'batch' },
    { name: 'horizon 0', input: () => [{ ...base, horizon: 0 }], code: 'ERR_ARG', argument: 'horizon' },
    { name: 'price too short', input: () => [{ ...base, price: new Float64Array(11) }], code: 'ERR_SHAPE', argument: 'price', needle: 'expected 12' },
    { name: 'sigma too long', input: () => [{ ...base, sigma: new Float64Array(5) }], code: 'ERR_SHAPE', argument: 'sigma', needle: 'expected 4' },
    { name: 'limitPrice too short', input: () => [{ ...base, limitPrice: new Float64Array(1) }], code: 'ERR_SHAPE', argument: 'limitPrice', needle: 'expected 4' },
    { name: 'schedule too short', input: () => [{ ...base, schedule: new Float64Array(3) }], code: 'ERR_SHAPE', argument: 'schedule', needle: 'expected 12' },
    { name: 'out.filled too short', input: () => [{ ...base, out: { filled: new Float64Array(3) } }], code: 'ERR_SHAPE', argument: 'out.filled', needle: 'expected 12' },
    { name: 'out.stoppedAt of the wrong type', input: () => [{ ...base, out: { stoppedAt: new Float64Array(4) as unknown as Int32Array } }], code: 'ERR_ARG', argument: 'out.stoppedAt' },
    { name: 'out.fillPrice sharing memory with price', input: () => [{ ...base, out: { fillPrice: base.price } }], code: 'ERR_ARG', argument: 'out.fillPrice', needle: 'price' },
    { name: 'maxParticipation 0', input: () => [base, { maxParticipation: 0 }], code: 'ERR_ARG', argument: 'maxParticipation' },
    { name: 'impactBeta a string', input: () => [base, { impactBeta: '0.5' as unknown as number }], code: 'ERR_ARG', argument: 'impactBeta' },
    { name: 'finalBin unknown', input: () => [base, { finalBin: 'cancel' as 'leave' }], code: 'ERR_ARG', argument: 'finalBin' },
    { name: 'stopSlippageBps NaN', input: () => [base, { stopSlippageBps: NaN }], code: 'ERR_ARG', argument: 'stopSlippageBps' },
    { name: 'passiveFillShare > 1', input: () => [base, { passiveFillShare: 2 }], code: 'ERR_ARG', argument: 'passiveFillShare' },
    { name: 'device unknown', input: () => [{ ...base, device: 'gpu' as 'cuda' }], code: 'ERR_ARG', argument: 'device' },
    { name: 'price NaN', input: () => [{ ...base, price: withAt(base.price, 5, NaN) }], code: 'ERR_NONFINITE', argument: 'price', needle: 'price[5]' },
    { name: 'price 0', input: () => [{ ...base, price: withAt(base.price, 5, 0) }], code: 'ERR_ARG', argument: 'price', needle: 'price[5]' },
    { name: 'volume negative', input: () => [{ ...base, volume: withAt(base.volume, 7, -1) }], code: 'ERR_ARG', argument: 'volume', needle: 'volume[7]' },
    { name: 'schedule Infinity', input: () => [{ ...base, schedule: withAt(base.schedule, 2, Infinity) }], code: 'ERR_NONFINITE', argument: 'schedule', needle: 'schedule[2]' },
    { name: 'quantity negative', input: () => [{ ...base, quantity: withAt(base.quantity, 3, -1) }], code: 'ERR_ARG', argument: 'quantity', needle: 'quantity[3]' },
    { name: 'side 0', input: () => [{ ...base, side: new Int8Array([1, 0, 1, 1]) }], code: 'ERR_ARG', argument: 'side', needle: 'side[1]' },
    { name: 'limitPrice -1', input: () => [{ ...base, limitPrice: new Float64Array([NaN, NaN, -1, NaN]) }], code: 'ERR_ARG', argument: 'limitPrice', needle: 'limitPrice[2]' },
    { name: 'arrivalPrice NaN', input: () => [{ ...base, arrivalPrice: withAt(base.arrivalPrice, 0, NaN) }], code: 'ERR_NONFINITE', argument: 'arrivalPrice', needle: 'arrivalPrice[0]' },
    { name: 'passive 2', input: () => [{ ...base, passive: new Uint8Array([0, 2, 0, 0]) }], code: 'ERR_ARG', argument: 'passive', needle: 'passive[1]' },
  ];

  it.each(errors)('$name → $code naming $argument', ({ input, code, argument, needle }) => {
    const e = expectCode(() => simulateFills(...input()), code, argument, needle);
    if (code === 'ERR_SHAPE') expect(e.data.expected).toBeTypeOf('number');
  });

  it("device 'cuda' without CUDA throws ERR_CUDA_UNAVAILABLE; 'auto' falls back to the CPU", () => {
    const info = backendInfo();
    if (info.cuda.available) {
      console.log('SKIPPED: CUDA is available here (parity is tested in native/core/tests/fills_cuda.rs)');
      return;
    }
    expectCode(() => simulateFills({ ...base, device: 'cuda' }), 'ERR_CUDA_UNAVAILABLE', 'device');
    expect(simulateFills({ ...base, device: 'auto' }).device).toBe('cpu');
  });
});

function withAt(x: Float64Array, i: number, v: number): Float64Array {
  const y = x.slice();
  y[i] = v;
  return y;
}

describe('FillSimulator (stepped)', () => {
  it.each(SHAPES.filter((s) => s.batch < 3000).flatMap((s) => PARAMS.map((p) => ({ ...s, ...p, label: `${s.name}-${p.pname}` }))))(
    'stepping the schedule column by column gives the batch results bit for bit: $label',
    ({ batch, horizon, params }) => {
      const { market, schedule } = randomFillMarket(batch, horizon, batch * 3 + horizon);
      const sim = new FillSimulator(market, params);
      expect([sim.batch, sim.horizon, sim.bin]).toEqual([batch, horizon, 0]);
      const filled = new Float64Array(batch * horizon);
      for (let t = 0; t < horizon; t++) {
        const frac = Float64Array.from({ length: batch }, (_, b) => schedule[b * horizon + t]!);
        const s = sim.step(frac);
        expect(s.bin).toBe(t);
        for (let b = 0; b < batch; b++) filled[b * horizon + t] = s.filled[b]!;
      }
      expect(sim.bin).toBe(horizon);
      const r = sim.finish();
      expect(r.device).toBe('cpu');
      expectSame(r, simulateFills({ ...market, schedule, device: 'cpu' }, params));
      expect(Array.from(filled)).toEqual(Array.from(r.filled));
    },
  );

  it('a closed-loop strategy sees a capped fill and its carry', () => {
    // Wants 60 of 100 in bin 0, the cap (10 % of 100) lets 10 through: 50 carries.
    const market: FillMarketInput = {
      batch: 1, horizon: 3, price: new Float64Array([100, 100, 100]), volume: new Float64Array([100, 1000, 1000]),
      sigma: new Float64Array([0]), halfSpreadBps: new Float64Array([0]), quantity: new Float64Array([100]), side: new Int8Array([1]),
    };
    const sim = new FillSimulator(market, { impactEta: 0, takerFeeBps: 0 });
    const out = { filled: new Float64Array(1), fillPrice: new Float64Array(1), carry: new Float64Array(1) };
    const s0 = sim.step(new Float64Array([0.6]), out);
    expect(s0.filled).toBe(out.filled);
    expect([s0.filled[0], s0.fillPrice[0], s0.carry[0]]).toEqual([10, 100, 50]);
    // React: ask for nothing new while the backlog is large.
    const s1 = sim.step(new Float64Array([s0.carry[0]! > 20 ? 0 : 0.2]));
    expect([s1.filled[0], s1.carry[0]]).toEqual([50, 0]);
    const s2 = sim.step(new Float64Array([0.4]));
    expect(s2.filled[0]).toBe(40);
    expect(Array.from(sim.finish().filled)).toEqual([10, 50, 40]);
  });

  it('copies the market when constructed', () => {
    const { market, schedule } = randomFillMarket(5, 2, 8);
    const want = simulateFills({ ...market, schedule });
    const mine = { ...market, price: market.price.slice() };
    const sim = new FillSimulator(mine);
    mine.price.fill(1);
    for (let t = 0; t < 2; t++) sim.step(Float64Array.from({ length: 5 }, (_, b) => schedule[b * 2 + t]!));
    expectSame(sim.finish(), { ...want });
  });

  it('errors name their argument and a failed step changes nothing', () => {
    const { market } = randomFillMarket(3, 2, 9);
    expectCode(() => new FillSimulator({ ...market, volume: new Float64Array(5) }), 'ERR_SHAPE', 'volume', 'expected 6');
    expectCode(() => new FillSimulator(market, { impactEta: NaN }), 'ERR_ARG', 'impactEta');
    expectCode(() => new FillSimulator({ ...market, device: 'cuda' }), 'ERR_ARG', 'device');
    expectCode(() => new FillSimulator({ ...market, price: withAt(market.price, 4, NaN) }), 'ERR_NONFINITE', 'price', 'price[4]');
    const sim = new FillSimulator(market);
    expectCode(() => sim.step(new Float64Array(2)), 'ERR_SHAPE', 'fractions', 'expected 3');
    expectCode(() => sim.step(new Float64Array([0, NaN, 0])), 'ERR_NONFINITE', 'fractions', 'fractions[1]');
    expectCode(() => sim.step(new Float64Array([0, 0, -1])), 'ERR_ARG', 'fractions', 'fractions[2]');
    expectCode(() => sim.step([0.5, 0.5, 0.5] as unknown as Float64Array), 'ERR_ARG', 'fractions', 'Float64Array');
    expectCode(() => sim.step(new Float64Array(3), { filled: new Float64Array(2) }), 'ERR_SHAPE', 'filled', 'expected 3');
    const shared = new Float64Array(3);
    expectCode(() => sim.step(new Float64Array(3), { filled: shared, fillPrice: shared }), 'ERR_ARG', 'fillPrice', 'filled');
    expect(sim.bin).toBe(0);
    expectCode(() => sim.finish(), 'ERR_ARG', 'finish', 'only 0 of 2 bins');
    sim.step(new Float64Array([0.5, 0.5, 0.5]));
    sim.step(new Float64Array([0.5, 0.5, 0.5]));
    expectCode(() => sim.step(new Float64Array(3)), 'ERR_ARG', 'fractions', 'all 2 bins');
    expectSame(sim.finish(), sim.finish());
  });
});
