/**
 * What each backtest order meets (src/execution/orderBins.ts) and the session curve
 * (src/features/sessionCurve.ts): bin VWAP, volume and the last price over an empty bin on
 * hand-made series; sigma and the Corwin-Schultz spread by hand; causality (changing every bar
 * from an order's start on changes none of its sigma, arrival price, spread or session curve);
 * the U shape of the curve on the shared SPY data (skipped with a message when absent).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocBarTable, type BarTable } from '../../src/data/barTable.js';
import { ingest } from '../../src/data/ingest.js';
import { loadStoreAssets } from '../../src/data/loadStoreSeries.js';
import { tradingSessions } from '../../src/data/sessions.js';
import { sessionOrders, type BacktestOrders } from '../../src/execution/backtestOrders.js';
import { binSigma, corwinSchultzHalfSpreadBps, orderBins, type BinSeries } from '../../src/execution/orderBins.js';
import { sessionCurve } from '../../src/features/sessionCurve.js';
import { rng } from '../helpers/random.js';
import { sharedPath } from '../helpers/sharedDir.js';
import { DST_WEEK, JULY_2025, MINUTE_MS, equityBars, minuteSeries } from '../data/equityHelpers.js';
import { removeDir, tempDir } from '../data/helpers.js';
import { thrown } from '../helpers/errors.js';

/** A hand-made series (no gridding): every bar present unless listed. */
function handSeries(price: number[], volume: number[], missing: number[] = [], hl?: { high: number[]; low: number[] }): Required<BinSeries> {
  const n = price.length;
  const miss = new Uint8Array(n);
  for (const k of missing) miss[k] = 1;
  return {
    intervalMs: MINUTE_MS, bars: n, openTimeMs: Float64Array.from({ length: n }, (_, k) => Date.UTC(2024, 0, 2) + k * MINUTE_MS),
    price: Float64Array.from(price), volume: Float64Array.from(volume), missing: miss,
    high: Float64Array.from(hl?.high ?? price.map((p) => p * 1.001)), low: Float64Array.from(hl?.low ?? price.map((p) => p * 0.999)),
  };
}

function orders(startBar: number[], bins: number, binBars: number, assetIndex = startBar.map(() => 0)): BacktestOrders {
  const B = startBar.length;
  return {
    symbols: ['A', 'B'], assetIndex: Int32Array.from(assetIndex), startBar: Int32Array.from(startBar), bins, binBars,
    side: new Int8Array(B).fill(1), quantity: new Float64Array(B).fill(1), adv: new Float64Array(B).fill(NaN), skipped: [],
  };
}


describe('orderBins: bins by hand', () => {
  const s = handSeries([10, 11, 12, 13, 14, 15, 16, 17, 18, 19], [1, 2, 0, 0, 3, 1, 0, 0, 5, 5]);

  it('bin VWAP Σ V·p / Σ V, volume Σ V, the last bar price over an empty bin, arrival price, start time', () => {
    const m = orderBins([s], orders([2], 3, 2));
    expect(Array.from(m.volume)).toEqual([0, 4, 0]);
    expect(Array.from(m.price)).toEqual([13, (3 * 14 + 1 * 15) / 4, 17]);
    expect(Array.from(m.arrivalPrice)).toEqual([11]);
    expect(Array.from(m.startTimeMs)).toEqual([s.openTimeMs[2]]);
    expect(Array.from(m.halfSpreadBps)).toEqual([1]); // the default constant
    expect([m.bins, m.binBars]).toEqual([3, 2]);
  });

  it('one-bar bins are the bars themselves; [B, T] row-major over several orders and assets', () => {
    const s2 = handSeries([20, 21, 22, 23, 24, 25, 26, 27, 28, 29], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const m = orderBins([s, s2], orders([4, 1], 3, 1, [0, 1]));
    expect(Array.from(m.price)).toEqual([14, 15, 16, 21, 22, 23]);
    expect(Array.from(m.volume)).toEqual([3, 1, 0, 1, 1, 1]);
    expect(Array.from(m.arrivalPrice)).toEqual([13, 20]);
  });

  it('an order at bar 0 has no arrival price and no sigma; ERR_ARG for an order past the data', () => {
    const m = orderBins([s], orders([0], 2, 1));
    expect(m.arrivalPrice[0]).toBeNaN();
    expect(m.sigma[0]).toBeNaN();
    const e = thrown(() => orderBins([s], orders([0, 8], 2, 2)));
    expect(e.code).toBe('ERR_ARG');
    expect(e.data).toMatchObject({ argument: 'orders', index: 1 });
    expect(thrown(() => orderBins([s], orders([2], 1, 1), { halfSpreadBps: -1 })).data).toMatchObject({ argument: 'halfSpreadBps' });
    expect(thrown(() => orderBins([s], orders([2], 1, 1), { sigmaBins: 0 })).data).toMatchObject({ argument: 'sigmaBins' });
  });
});

describe('sigma: RMS log return of bin-sized blocks before the order', () => {
  const p = [100, 101, 100, 102, 102, 103, 101, 104, 103, 105, 106];
  const v = p.map(() => 1);

  it('one-bar blocks: every return of the window; a missing bar drops its own and the next return', () => {
    const s = handSeries(p, v);
    const lr = (a: number, b: number) => Math.log(p[b]! / p[a]!);
    const rms = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + x * x, 0) / xs.length);
    expect(binSigma(s, 5, 1)).toBeCloseTo(rms([lr(3, 4), lr(2, 3), lr(1, 2), lr(0, 1)]), 14);
    expect(binSigma(s, 5, 1, 2)).toBeCloseTo(rms([lr(3, 4), lr(2, 3)]), 14); // the 2 most recent
    const gap = handSeries(p, v, [2]);
    expect(binSigma(gap, 5, 1)).toBeCloseTo(rms([lr(3, 4), lr(0, 1)]), 14);
    expect(orderBins([s], orders([5], 1, 1)).sigma[0]).toBeCloseTo(rms([lr(3, 4), lr(2, 3), lr(1, 2), lr(0, 1)]), 14);
  });

  it('two-bar blocks laid back from the order: returns between block ends', () => {
    const s = handSeries(p, v);
    const lr = (a: number, b: number) => Math.log(p[b]! / p[a]!);
    const want = Math.sqrt((lr(6, 8) ** 2 + lr(4, 6) ** 2 + lr(2, 4) ** 2) / 3);
    expect(binSigma(s, 9, 2)).toBeCloseTo(want, 14);
    // a block with no present bar is skipped, and so is the block after it (no jump over a gap)
    const gap = handSeries(p, v, [5, 6]);
    expect(binSigma(gap, 9, 2)).toBeCloseTo(Math.abs(lr(2, 4)), 14);
  });
});

describe('half spread', () => {
  it("Corwin-Schultz on one pair by hand; a constant by default or as given; the fallback without a pair", () => {
    const high = [101, 101.5, 50, 50];
    const low = [99, 99.2, 50, 50];
    const s = handSeries([100, 101, 50, 50], [1, 1, 1, 1], [], { high, low });
    const beta = Math.log(101 / 99) ** 2 + Math.log(101.5 / 99.2) ** 2;
    const gamma = Math.log(101.5 / 99) ** 2;
    const k = 3 - 2 * Math.sqrt(2);
    const alpha = (Math.sqrt(2 * beta) - Math.sqrt(beta)) / k - Math.sqrt(gamma / k);
    const S = Math.max(0, (2 * (Math.exp(alpha) - 1)) / (1 + Math.exp(alpha)));
    expect(S).toBeGreaterThan(0);
    expect(corwinSchultzHalfSpreadBps(s, 2)).toBeCloseTo((S / 2) * 1e4, 10);
    expect(orderBins([s], orders([2], 1, 1), { halfSpreadBps: 'corwin-schultz' }).halfSpreadBps[0]).toBeCloseTo((S / 2) * 1e4, 10);
    expect(orderBins([s], orders([2], 1, 1), { halfSpreadBps: 2.5 }).halfSpreadBps[0]).toBe(2.5);
    // no usable pair before bar 1; a pair with a missing bar is not used
    expect(orderBins([s], orders([1], 1, 1), { halfSpreadBps: 'corwin-schultz', fallbackHalfSpreadBps: 3 }).halfSpreadBps[0]).toBe(3);
    const gap = handSeries([100, 101, 50, 50], [1, 1, 1, 1], [1], { high, low });
    expect(corwinSchultzHalfSpreadBps(gap, 3)).toBeNaN();
  });

  it("negative two-bar estimates count as 0 (a pair with a wide joint range, narrow bars)", () => {
    const s = handSeries([100, 110, 100], [1, 1, 1], [], { high: [100.1, 110.1, 100], low: [99.9, 109.9, 100] });
    expect(corwinSchultzHalfSpreadBps(s, 2)).toBe(0);
  });

  it("'corwin-schultz' needs high and low in the series", () => {
    const s = handSeries([1, 2, 3], [1, 1, 1]);
    const plain = { intervalMs: s.intervalMs, bars: s.bars, openTimeMs: s.openTimeMs, price: s.price, volume: s.volume, missing: s.missing };
    expect(thrown(() => orderBins([plain], orders([1], 1, 1), { halfSpreadBps: 'corwin-schultz' })).data).toMatchObject({ argument: 'halfSpreadBps' });
  });
});

describe('sessionCurve: mean volume share of each bin over the previous sessions', () => {
  // three regular-only sessions with known volumes: session d, minute m -> (d + 1) · (1 + m % 7) · (m < 30 ? 10 : 1)
  const vol = (d: number, m: number) => (d + 1) * (1 + (m % 7)) * (m < 30 ? 10 : 1);
  const s = minuteSeries(equityBars(DST_WEEK.slice(0, 3), { volume: vol }));
  const sessions = tradingSessions(s);
  const shares = (d: number, offset: number, T: number, m: number) => {
    const v = Array.from({ length: T }, (_, t) => {
      let x = 0;
      for (let k = 0; k < m; k++) x += vol(d, offset + t * m + k);
      return x;
    });
    const total = v.reduce((a, x) => a + x, 0);
    return v.map((x) => x / total);
  };

  it('13 bins of 30 minutes: uniform without history, then the mean of the earlier sessions\' shares', () => {
    const c = sessionCurve([s], orders(sessions.map((x) => x.openBar), 13, 30));
    const rows = [0, 1, 2].map((b) => Array.from(c.subarray(b * 13, (b + 1) * 13)));
    rows[0]!.forEach((x) => expect(x).toBeCloseTo(1 / 13, 15));
    const s0 = shares(0, 0, 13, 30);
    const s1 = shares(1, 0, 13, 30);
    rows[1]!.forEach((x, t) => expect(x).toBeCloseTo(s0[t]!, 14));
    rows[2]!.forEach((x, t) => expect(x).toBeCloseTo((s0[t]! + s1[t]!) / 2, 14));
    for (const r of rows) expect(r.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 14);
    // days = 1: only the session right before
    const c1 = sessionCurve([s], orders([sessions[2]!.openBar], 13, 30), 1);
    Array.from(c1).forEach((x, t) => expect(x).toBeCloseTo(s1[t]!, 14));
  });

  it('an order that skips the first 15 minutes reads the same window of earlier sessions', () => {
    const c = sessionCurve([s], orders([sessions[2]!.openBar + 15], 12, 30));
    const s0 = shares(0, 15, 12, 30);
    const s1 = shares(1, 15, 12, 30);
    Array.from(c).forEach((x, t) => expect(x).toBeCloseTo((s0[t]! + s1[t]!) / 2, 14));
  });

  it('an early close shorter than the window is left out; extended-hours bars are not read', () => {
    const volJuly = (d: number, m: number) => (d === 3 ? 1e6 : (d + 1) * (1 + (m % 5)));
    const j = minuteSeries(equityBars(JULY_2025, { extended: true, volume: volJuly }));
    const js = tradingSessions(j);
    const c = sessionCurve([j], orders([js[4]!.openBar], 13, 30));
    const sh = (d: number) => {
      const v = Array.from({ length: 13 }, (_, t) => {
        let x = 0;
        for (let k = 0; k < 30; k++) x += volJuly(d, t * 30 + k);
        return x;
      });
      const total = v.reduce((a, x) => a + x, 0);
      return v.map((x) => x / total);
    };
    const want = [0, 1, 2].map(sh);
    Array.from(c).forEach((x, t) => expect(x).toBeCloseTo((want[0]![t]! + want[1]![t]! + want[2]![t]!) / 3, 14));
  });

  it('ERR_ARG for an order outside the regular session and for days < 1', () => {
    expect(thrown(() => sessionCurve([s], orders([sessions[1]!.openBar - 10], 13, 30))).data).toMatchObject({ argument: 'orders', index: 0 });
    expect(thrown(() => sessionCurve([s], orders([sessions[1]!.openBar], 13, 30), 0)).data).toMatchObject({ argument: 'days' });
  });
});

/** A copy of `bars` with every bar opening at or after `fromMs` changed (prices, range, volume). */
function perturbFrom(bars: BarTable, fromMs: number, seed: number): BarTable {
  const r = rng(seed);
  const out = allocBarTable(bars.length);
  for (const k of ['openTimeMs', 'open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'trades'] as const) out[k].set(bars[k]);
  for (let i = 0; i < bars.length; i++) {
    if (bars.openTimeMs[i]! < fromMs) continue;
    const g = 0.8 + 0.4 * r();
    out.open[i] = bars.open[i]! * g;
    out.close[i] = bars.close[i]! * g;
    out.high[i] = Math.max(out.open[i]!, out.close[i]!) * (1 + 0.01 * r());
    out.low[i] = Math.min(out.open[i]!, out.close[i]!) * (1 - 0.01 * r());
    out.volume[i] = Math.round(bars.volume[i]! * (0.1 + 5 * r()));
  }
  return out;
}

describe('causality: sigma, arrival price, spread and session curve read only bars before the order', () => {
  const bars = equityBars(JULY_2025, { extended: true, seed: 21 });
  const s = minuteSeries(bars);
  const base = sessionOrders(s, { quantity: 100, binMinutes: 30, earlyCloses: 'none' });

  it.each([0, 1, 2, 3])('cut at the start of order %i', (b) => {
    const cutMs = s.openTimeMs[base.startBar[b]!]!;
    for (const seed of [1, 2]) {
      const p = minuteSeries(perturbFrom(bars, cutMs, seed * 10 + b));
      expect(p.bars).toBe(s.bars);
      const opts = { halfSpreadBps: 'corwin-schultz' as const, sigmaBins: 30 };
      const a = orderBins([s], base, opts);
      const z = orderBins([p], base, opts);
      const ca = sessionCurve([s], base);
      const cz = sessionCurve([p], base);
      const T = base.bins;
      for (let o = 0; o < base.assetIndex.length; o++) {
        if (base.startBar[o]! > base.startBar[b]!) continue;
        expect(z.sigma[o], 'sigma').toBe(a.sigma[o]);
        expect(z.arrivalPrice[o], 'arrival').toBe(a.arrivalPrice[o]);
        expect(z.halfSpreadBps[o], 'spread').toBe(a.halfSpreadBps[o]);
        expect(Array.from(cz.subarray(o * T, (o + 1) * T)), 'curve').toEqual(Array.from(ca.subarray(o * T, (o + 1) * T)));
      }
      // the perturbation reaches the order's own bins (the check could fail)
      expect(Array.from(z.volume.subarray(b * T, (b + 1) * T))).not.toEqual(Array.from(a.volume.subarray(b * T, (b + 1) * T)));
    }
  });
});

const SPY_2025 = sharedPath('data/us-equity-spy-1min-2025-07', 'tests/execution/orderBins.test.ts (SPY 2025-07 U-shaped session curve)') ?? '';

describe.skipIf(SPY_2025 === '')('shared SPY 2025-07: bins and the U-shaped session curve', () => {
  let dir: string;
  beforeAll(async () => {
    dir = tempDir('sigvwap-spy-curve-');
    await ingest([SPY_2025], { store: join(dir, 'store') });
  }, 60_000);
  afterAll(() => dir && removeDir(dir));

  it('390 one-minute bins: traded bins, finite sigma and spread; the curve is U-shaped (first and last bins above the middle)', () => {
    const { symbols, series } = loadStoreAssets(join(dir, 'store'));
    const o = sessionOrders(series, { symbols, quantity: 10_000 });
    const m = orderBins(series, o, { halfSpreadBps: 'corwin-schultz' });
    const T = o.bins;
    expect(T).toBe(390);
    for (let i = 0; i < m.volume.length; i++) expect(m.volume[i]! > 0 && m.price[i]! > 0).toBe(true);
    for (let b = 0; b < o.assetIndex.length; b++) {
      expect(m.sigma[b]! > 0 && m.halfSpreadBps[b]! >= 0 && m.arrivalPrice[b]! > 0, `order ${b}`).toBe(true);
    }
    const c = sessionCurve(series, o);
    for (let b = 1; b < o.assetIndex.length; b++) {
      const row = c.subarray(b * T, (b + 1) * T);
      const mean = (from: number, to: number) => row.subarray(from, to).reduce((a, x) => a + x, 0) / (to - from);
      const middle = mean(165, 225); // 12:15 - 13:15
      expect(row[0]!, `order ${b} first bin`).toBeGreaterThan(middle);
      expect(row[T - 1]!, `order ${b} last bin`).toBeGreaterThan(middle);
      expect(mean(0, 30)).toBeGreaterThan(middle);
      expect(mean(T - 30, T)).toBeGreaterThan(middle);
      expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 12);
    }
  });

  it('13 bins of 30 minutes: first and last above every middle bin', () => {
    const { symbols, series } = loadStoreAssets(join(dir, 'store'));
    const o = sessionOrders(series, { symbols, quantity: 10_000, binMinutes: 30 });
    const c = sessionCurve(series, o, 20);
    const b = o.assetIndex.length - 1;
    const row = Array.from(c.subarray(b * 13, (b + 1) * 13));
    for (let t = 3; t <= 9; t++) {
      expect(row[0]!).toBeGreaterThan(row[t]!);
      expect(row[12]!).toBeGreaterThan(row[t]!);
    }
  });
});
