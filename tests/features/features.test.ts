/**
 * Historical volume curve, static features and sequence features against direct computations.
 */
import { describe, expect, it } from 'vitest';
import { buildAssetSeries, datasetConfigFrom } from '../../src/data/index.js';
import { historicalCurve, historicalVolumes } from '../../src/features/historicalCurve.js';
import type { MarketSeries, OrderBatch } from '../../src/data/marketSeries.js';
import { computeStaticFeatures, staticFeatureCount, staticFeatureNames, DEFAULT_STATIC_FEATURES } from '../../src/features/staticFeatures.js';
import { computeExecutionState, computeSequenceFeatures, sequenceSteps, SEQUENCE_CHANNELS, DEFAULT_SEQUENCE_FEATURES } from '../../src/features/sequenceFeatures.js';
import { defaultModelConfig, parseModelConfig } from '../../src/allocators/neural/modelConfig.js';
import { HOUR_MS, seasonalBars } from '../helpers/market.js';

const bars = seasonalBars(800, 3);
const series: MarketSeries = buildAssetSeries(bars, HOUR_MS, datasetConfigFrom({}), 'SYN').series;
const order = (r: number, horizon = 12): OrderBatch => ({ series: [series], assetIndex: Int32Array.of(0), bar: Int32Array.of(r), horizon });

describe('historicalCurve', () => {
  it.each([
    ['1 day', 1, false],
    ['20 days', 20, false],
    ['3 weeks, by weekday', 3, true],
  ])('%s: hv_t is the mean volume of the same slot on past days', (_name, days, byWeekday) => {
    const r = 700;
    const hv = historicalVolumes(series, r, 12, { days, byWeekday });
    const period = byWeekday ? 168 : 24;
    for (let t = 0; t < 12; t++) {
      const ks = Array.from({ length: days }, (_, d) => r + t - (d + 1) * period).filter((k) => k >= 0);
      expect(hv[t]).toBeCloseTo(ks.reduce((s, k) => s + series.volume[k]!, 0) / ks.length, 9);
    }
  });

  it('normalizes to the simplex', () => {
    const a = historicalCurve(series, 700, 12);
    expect(a.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 12);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
  });

  it('falls back to TWAP without history', () => {
    expect(Array.from(historicalCurve(series, 5, 12))).toEqual(new Array(12).fill(1 / 12));
  });

  it('skips lags that would reach the order itself (horizon longer than a day)', () => {
    const hv = historicalVolumes(series, 700, 30, { days: 1, byWeekday: false });
    // bar r+25 would be r+1 one day back: inside the order, so the lag is two days
    expect(hv[25]).toBe(series.volume[700 + 25 - 48]);
  });
});

describe('static features', () => {
  it('names match the count', () => {
    expect(staticFeatureNames(DEFAULT_STATIC_FEATURES, 12)).toHaveLength(staticFeatureCount(DEFAULT_STATIC_FEATURES, 12));
  });

  it.each([
    ['hour one-hot', 'hour_', (r: number) => new Date(series.openTimeMs[r]!).getUTCHours()],
    ['weekday one-hot', 'weekday_', (r: number) => (new Date(series.openTimeMs[r]!).getUTCDay() + 6) % 7],
  ])('%s marks the calendar of the start bar', (_name, prefix, expected) => {
    const names = staticFeatureNames(DEFAULT_STATIC_FEATURES, 12);
    for (const r of [500, 613, 777]) {
      const x = computeStaticFeatures(order(r), DEFAULT_STATIC_FEATURES);
      const on = names.filter((n, i) => n.startsWith(prefix) && x[i] === 1);
      expect(on).toEqual([`${prefix}${expected(r)}`]);
    }
  });

  it.each([
    ['logVolume_6', (r: number) => {
      const mean = (a: number, b: number) => { let s = 0; for (let k = a; k <= b; k++) s += series.volume[k]!; return s / (b - a + 1); };
      const m = mean(r - 336, r - 1);
      return Math.log((mean(r - 6, r - 1) + 1e-3 * m) / m);
    }],
    ['return_6', (r: number) => {
      let s2 = 0;
      for (let k = r - 336; k <= r - 1; k++) s2 += Math.log(series.price[k]! / series.price[k - 1]!) ** 2;
      return Math.log(series.price[r - 1]! / series.price[r - 7]!) / (Math.sqrt(s2 / 336) * Math.sqrt(6));
    }],
  ])('%s matches a direct computation', (name, direct) => {
    const names = staticFeatureNames(DEFAULT_STATIC_FEATURES, 12);
    const i = names.indexOf(name);
    for (const r of [500, 700]) expect(computeStaticFeatures(order(r), DEFAULT_STATIC_FEATURES)[i]).toBeCloseTo(direct(r), 4);
  });
});

describe('hour-of-day volatility profile (histVolatilityDays)', () => {
  it('vol20_t matches the RMS log return of the same slot on the last 20 days, relative to σ', () => {
    const spec = { ...DEFAULT_STATIC_FEATURES, histVolatilityDays: [20] };
    const names = staticFeatureNames(spec, 12);
    const r = 700;
    const x = computeStaticFeatures(order(r), spec);
    let s2 = 0;
    for (let k = r - 336; k <= r - 1; k++) s2 += Math.log(series.price[k]! / series.price[k - 1]!) ** 2;
    const sigma = Math.sqrt(s2 / 336);
    for (const t of [0, 5, 11]) {
      let v = 0;
      for (let d = 1; d <= 20; d++) v += Math.log(series.price[r + t - 24 * d]! / series.price[r + t - 24 * d - 1]!) ** 2;
      const want = Math.log((Math.sqrt(v / 20) + 1e-3 * sigma) / sigma);
      expect(x[names.indexOf(`vol20_t${t}`)]).toBeCloseTo(want, 4);
    }
  });

  it('a model config without the field (older checkpoints) parses with no volatility features', () => {
    const { histVolatilityDays: _drop, ...older } = defaultModelConfig('static').staticFeatures;
    const parsed = parseModelConfig({ ...defaultModelConfig('static'), staticFeatures: older });
    expect(parsed.staticFeatures.histVolatilityDays).toEqual([]);
  });
});

describe('sequence features', () => {
  it('the window ends at bar r+H-3: its last H-1 encoder states are h_0 .. h_{H-2}', () => {
    const spec = { ...DEFAULT_SEQUENCE_FEATURES, encoderLookback: 5 };
    const S = sequenceSteps(spec, 12, 0);
    expect(S).toBe(5 + 12 - 2);
    const x = computeSequenceFeatures(order(600), spec);
    const C = SEQUENCE_CHANNELS.length;
    const inOrder = Array.from({ length: S }, (_, i) => x[i * C + 6]);
    // bars r-5 .. r-1 outside the order, r .. r+9 inside
    expect(inOrder).toEqual([...new Array(5).fill(0), ...new Array(10).fill(1)]);
  });

  it('execution state at step t reads bars r .. r+t-1 only', () => {
    const r = 600;
    const st = computeExecutionState(order(r), DEFAULT_SEQUENCE_FEATURES);
    let m = 0;
    for (let k = r - 336; k < r; k++) m += series.volume[k]!;
    m /= 336;
    expect(st[0]).toBe(0);
    const t = 5;
    let v = 0;
    for (let k = r; k < r + t; k++) v += series.volume[k]!;
    expect(st[t * 4]).toBeCloseTo(v / (m * 12), 5);
  });
});
