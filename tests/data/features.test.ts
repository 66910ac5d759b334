import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SigvwapError } from '../../src/errors.js';
import { allocBarTable, type BarTable } from '../../src/data/barTable.js';
import {
  buildAssetFeatures, DEFAULT_FEATURE_CONFIG, FEATURE_NAMES, type FeatureConfig, type NormalizerKind,
} from '../../src/data/buildAssetFeatures.js';
import { buildDataset, type Dataset } from '../../src/data/buildDataset.js';
import { ingest } from '../../src/data/ingest.js';
import { barsToCsv, HOUR_MS, removeDir, rng, sliceBars, syntheticBars, T0_MS, tempDir, writeText } from './helpers.js';

const small: FeatureConfig = { ...DEFAULT_FEATURE_CONFIG, features: [...FEATURE_NAMES].filter((f) => f !== 'log_trades'), lookback: 5, horizon: 3, normalizerBars: 10 };

/** Bars with the given rows removed (missing bars) and zero-volume rows. */
function craft(n: number, opts: { remove?: number[]; zero?: number[]; seed?: number } = {}): BarTable {
  const b = syntheticBars(n, { seed: opts.seed ?? 1, trades: true });
  for (const i of opts.zero ?? []) {
    b.volume[i] = 0;
    b.quoteVolume[i] = 0;
  }
  const keep = Array.from({ length: n }, (_, i) => i).filter((i) => !(opts.remove ?? []).includes(i));
  const out = allocBarTable(keep.length);
  for (const k of ['openTimeMs', 'open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'trades'] as const) keep.forEach((r, j) => (out[k][j] = b[k][r]!));
  return out;
}

/** A copy of `b` where every bar opening after `tMs` is changed at random (values and presence). */
function perturbAfter(b: BarTable, tMs: number, seed: number): BarTable {
  const rand = rng(seed);
  const rows: number[] = [];
  for (let i = 0; i < b.length; i++) if (b.openTimeMs[i]! <= tMs || i === b.length - 1 || rand() > 0.2) rows.push(i); // the last bar stays: same grid length
  const out = allocBarTable(rows.length);
  rows.forEach((r, j) => {
    for (const k of ['openTimeMs', 'open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'trades'] as const) out[k][j] = b[k][r]!;
    if (out.openTimeMs[j]! > tMs) {
      const f = 0.5 + rand() * 2;
      out.open[j]! *= f;
      out.high[j]! *= f * 1.01;
      out.low[j]! *= f * 0.99;
      out.close[j]! *= f;
      out.volume[j] = rand() < 0.2 ? 0 : out.volume[j]! * (0.1 + rand() * 10);
      out.quoteVolume[j] = out.volume[j]! * out.close[j]!;
      out.trades[j] = Math.floor(rand() * 100);
    }
  });
  return out;
}

describe('causality: changing any bar after t changes no feature at or before t', () => {
  const base = craft(400, { remove: [50, 51, 52, 120], zero: [60, 61, 200], seed: 4 });
  it.each([
    { name: 't10', t: 10 }, { name: 't49-before-gap', t: 49 }, { name: 't51-inside-gap', t: 51 }, { name: 't60-zero-volume', t: 60 },
    { name: 't150', t: 150 }, { name: 't333', t: 333 }, { name: 't398', t: 398 },
  ])('$name', ({ t }) => {
    const tMs = T0_MS + t * HOUR_MS;
    const F = small.features.length;
    const a = buildAssetFeatures(base, HOUR_MS, { ...small, normalizer: 'median' }).series;
    for (let seed = 1; seed <= 3; seed++) {
      const b = buildAssetFeatures(perturbAfter(base, tMs, seed * 100 + t), HOUR_MS, { ...small, normalizer: 'median' }).series;
      const upto = t + 1;
      expect(Array.from(b.features.subarray(0, upto * F))).toEqual(Array.from(a.features.subarray(0, upto * F)));
      expect(Array.from(b.price.subarray(0, upto))).toEqual(Array.from(a.price.subarray(0, upto)));
      expect(Array.from(b.missing.subarray(0, upto))).toEqual(Array.from(a.missing.subarray(0, upto)));
      // normalizer[k] reads bars k-W .. k-1 only: unchanged up to k = t + 1
      expect(b.bars).toBe(a.bars);
      expect(Array.from(b.normalizer.subarray(0, upto + 1))).toEqual(Array.from(a.normalizer.subarray(0, upto + 1)));
      // and the perturbation is visible after t (the check could fail)
      expect(Array.from(b.features.subarray(upto * F))).not.toEqual(Array.from(a.features.subarray(upto * F)));
    }
  });
});

describe('normalizer', () => {
  const bars = craft(300, { remove: [40, 41, 42, 100], zero: [70, 71], seed: 8 });
  it.each(['mean', 'median'] as NormalizerKind[])('%s equals the brute-force statistic over existing bars k-W .. k-1', (kind) => {
    const s = buildAssetFeatures(bars, HOUR_MS, { ...small, normalizer: kind }).series;
    const W = small.normalizerBars;
    for (let k = 0; k < s.bars; k++) {
      if (k < W) {
        expect(s.normalizer[k]).toBeNaN();
        continue;
      }
      const xs: number[] = [];
      for (let j = k - W; j < k; j++) if (s.missing[j] === 0) xs.push(s.volume[j]!);
      xs.sort((x, y) => x - y);
      const h = xs.length >> 1;
      const want = kind === 'mean' ? xs.reduce((p, x) => p + x, 0) / xs.length : xs.length % 2 ? xs[h]! : (xs[h - 1]! + xs[h]!) / 2;
      expect(s.normalizer[k]! / want - 1, `k=${k}`).toBeCloseTo(0, 12);
    }
  });

  it.each(['mean', 'median'] as NormalizerKind[])('%s: a sample normalizer never reads a bar inside the sample, and does read the bar just before', (kind) => {
    const config = { ...small, normalizer: kind };
    const base = buildAssetFeatures(bars, HOUR_MS, config);
    const L = config.lookback;
    const H = config.horizon;
    for (const r of [base.anchors.bar[0]!, base.anchors.bar[10]!, base.anchors.bar[base.anchors.bar.length - 1]!]) {
      const inside = sliceBars(bars, 0, bars.length);
      const before = sliceBars(bars, 0, bars.length);
      const t0 = bars.openTimeMs[0]!;
      for (let i = 0; i < bars.length; i++) {
        const k = Math.round((bars.openTimeMs[i]! - t0) / HOUR_MS);
        if (k >= r - L && k <= r + H - 1) inside.volume[i] = inside.volume[i]! * 7 + 1;
        if (k >= r - L - config.normalizerBars && k < r - L) before.volume[i] = before.volume[i]! * 3 + 5;
      }
      const a = buildAssetFeatures(inside, HOUR_MS, config).series;
      const b = buildAssetFeatures(before, HOUR_MS, config).series;
      expect(a.normalizer[r - L]).toBe(base.series.normalizer[r - L]);
      expect(b.normalizer[r - L]).not.toBe(base.series.normalizer[r - L]);
    }
  });
});

describe('grid and features', () => {
  it('missing bars become zero-volume bars with the last price carried forward, flagged', () => {
    const bars = craft(20, { remove: [5, 6], zero: [10], seed: 2 });
    const config = { ...small, features: ['volume', 'return', 'missing', 'range'] as const };
    const s = buildAssetFeatures(bars, HOUR_MS, { ...config, features: [...config.features] }).series;
    expect(s.bars).toBe(20);
    expect(Array.from(s.missing)).toEqual(Array.from({ length: 20 }, (_, i) => (i === 5 || i === 6 ? 1 : 0)));
    const vwap4 = bars.quoteVolume[4]! / bars.volume[4]!;
    expect([s.price[5], s.price[6], s.volume[5], s.volume[6]]).toEqual([vwap4, vwap4, 0, 0]);
    expect(s.price[10]).toBe(s.price[9]); // zero-volume bar: carried
    const F = 4;
    expect([s.features[5 * F + 0], s.features[5 * F + 1], s.features[5 * F + 2], s.features[5 * F + 3]]).toEqual([0, 0, 1, 0]);
    expect(s.features[7 * F + 1]).toBeCloseTo(s.price[7]! / vwap4 - 1, 6);
    expect(s.features[3 * F + 3]).toBeCloseTo(bars.high[3]! / bars.low[3]! - 1, 6);
  });

  it.each([
    { name: 'monday-00', ms: Date.UTC(2024, 0, 1, 0), hour: 0, weekday: 0 },
    { name: 'sunday-23', ms: Date.UTC(2024, 0, 7, 23), hour: 23, weekday: 6 },
    { name: 'thursday-epoch', ms: Date.UTC(1970, 0, 1, 5), hour: 5, weekday: 3 },
  ])('hour and weekday of $name', ({ ms, hour, weekday }) => {
    const b = syntheticBars(2, { startMs: ms });
    const s = buildAssetFeatures(b, HOUR_MS, { ...small, features: ['hour', 'weekday', 'hour_sin', 'hour_cos'] }).series;
    expect([s.features[0], s.features[1]]).toEqual([hour, weekday]);
    expect(s.features[2]).toBeCloseTo(Math.sin((2 * Math.PI * hour) / 24), 6);
    expect(s.features[3]).toBeCloseTo(Math.cos((2 * Math.PI * hour) / 24), 6);
  });

  it.each([
    { name: 'lookback-0', patch: { lookback: 0 }, argument: 'lookback' },
    { name: 'horizon-1.5', patch: { horizon: 1.5 }, argument: 'horizon' },
    { name: 'unknown-feature', patch: { features: ['volume', 'vibes'] }, argument: 'features' },
    { name: 'normalizer-mode', patch: { normalizer: 'max' }, argument: 'normalizer' },
    { name: 'test-fraction', patch: { testFraction: 1 }, argument: 'testFraction' },
  ])('bad config $name -> ERR_ARG naming it', ({ patch, argument }) => {
    try {
      buildAssetFeatures(syntheticBars(5), HOUR_MS, { ...small, ...patch } as FeatureConfig);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SigvwapError);
      expect((e as SigvwapError).code).toBe('ERR_ARG');
      expect((e as SigvwapError).data.argument).toBe(argument);
    }
  });

  it('log_trades without trade counts -> ERR_DATA naming the asset', () => {
    expect(() => buildAssetFeatures(syntheticBars(5), HOUR_MS, { ...small, features: ['log_trades'] }, 'XUSDT')).toThrow(/XUSDT: feature log_trades needs trade counts/);
  });
});

describe('anchors near gaps and zero-volume bars', () => {
  // L = 5, H = 3, W = 10: candidates r = 15 .. n - 3
  const config: FeatureConfig = { ...small, features: ['volume'], testFraction: 0, validationFraction: 0, purge: false };
  it.each([
    // a 2-bar gap at 30-31 drops every r whose window r-5 .. r+2 touches 30..31: r = 28 .. 36
    { name: 'gap-2-bars', remove: [30, 31], zero: [], gap: 9, zero_: 0, droppedBars: [28, 36] },
    // a single missing bar at 30: kept in lookbacks (r = 31 .. 35), dropped where it is in the horizon (r = 28 .. 30)
    { name: 'single-missing', remove: [30], zero: [], gap: 0, zero_: 3, droppedBars: [28, 30] },
    { name: 'zero-volume', remove: [], zero: [40], gap: 0, zero_: 3, droppedBars: [38, 40] },
  ])('$name', ({ remove, zero, gap, zero_, droppedBars }) => {
    const { anchors } = buildAssetFeatures(craft(80, { remove, zero, seed: 5 }), HOUR_MS, config);
    expect(anchors.candidates).toBe(80 - 3 - 15 + 1);
    expect(anchors.dropped).toEqual({ gap, zeroVolumeHorizon: zero_, normalizer: 0, purge: 0 });
    const kept = new Set(anchors.bar);
    for (let r = 15; r <= 77; r++) {
      const shouldDrop = r >= droppedBars[0]! && r <= droppedBars[1]!;
      expect(kept.has(r), `r=${r}`).toBe(!shouldDrop);
    }
  });

  it('a normalizer window without volume drops the anchor', () => {
    const zero = Array.from({ length: 12 }, (_, i) => 20 + i);
    const { anchors } = buildAssetFeatures(craft(80, { zero, seed: 6 }), HOUR_MS, config);
    expect(anchors.dropped.normalizer).toBeGreaterThan(0);
  });
});

describe('splits', () => {
  it.each([
    { name: 'purged', purge: true },
    { name: 'unpurged', purge: false },
  ])('chronological train/validation/test per asset ($name)', ({ purge }) => {
    const config: FeatureConfig = { ...small, purge };
    const { anchors } = buildAssetFeatures(craft(1000, { remove: [300, 301], seed: 9 }), HOUR_MS, config);
    const bars = (code: number) => Array.from(anchors.bar).filter((_, i) => anchors.split[i] === code);
    const [train, val, test] = [bars(0), bars(1), bars(2)];
    const valid = anchors.candidates - anchors.dropped.gap - anchors.dropped.zeroVolumeHorizon - anchors.dropped.normalizer;
    expect(test.length).toBe(Math.floor(valid * 0.2));
    // anchors are consecutive bars near the split boundaries, so the purge removes H - 1 of each
    const purged = purge ? config.horizon - 1 : 0;
    const nVal = Math.floor((valid - test.length) * 0.2);
    expect(val.length).toBe(nVal - purged);
    expect(train.length).toBe(valid - test.length - nVal - purged);
    expect(Math.max(...train)).toBeLessThan(Math.min(...val));
    expect(Math.max(...val)).toBeLessThan(Math.min(...test));
    if (purge) {
      // no target bar r .. r+H-1 is shared across splits
      expect(Math.max(...train) + config.horizon - 1).toBeLessThan(Math.min(...val));
      expect(Math.max(...val) + config.horizon - 1).toBeLessThan(Math.min(...test));
      expect(anchors.dropped.purge).toBe(2 * (config.horizon - 1));
    } else {
      expect(anchors.dropped.purge).toBe(0);
    }
    expect(anchors.counts).toEqual({ train: train.length, validation: val.length, test: test.length });
  });
});

describe('dataset (in-process) and gather', () => {
  let dir: string;
  let ds: Dataset;
  beforeAll(async () => {
    dir = tempDir();
    const specs: [string, number, number[]][] = [['AAAUSDT', 600, [200, 201]], ['BBBUSDT', 500, [100]], ['CCCUSDT', 700, []], ['DDDUSDT', 450, []]];
    specs.forEach(([symbol, n, remove], k) => {
      const b = craft(n, { remove, seed: 30 + k });
      for (let i = 0; i < b.length; i++) {
        b.volume[i]! *= k + 1;
        b.quoteVolume[i]! *= k + 1;
      }
      writeText(dir, `in/${symbol}.csv`, barsToCsv(b, 'sigvwap'));
    });
    await ingest([join(dir, 'in')], { store: join(dir, 'store') });
    ds = await buildDataset({ store: join(dir, 'store'), lookback: 24, horizon: 6, normalizerBars: 48, workers: 0, features: ['volume', 'hour', 'return', 'missing'] });
  });
  afterAll(() => removeDir(dir));

  it('ranks assets by liquidity; every other asset is in the training universe', () => {
    expect(ds.assets.map((a) => a.liquidityRank)).toEqual([3, 2, 1, 0]);
    expect(ds.assets.map((a) => a.universe)).toEqual(['oos', 'train', 'oos', 'train']);
    const train = ds.anchors('all', 'train');
    expect(new Set(train.assetIndex)).toEqual(new Set([1, 3]));
    const counts = ds.assets.map((a) => a.anchors.train + a.anchors.validation + a.anchors.test);
    expect(ds.anchorCount).toBe(counts.reduce((p, x) => p + x, 0));
    expect(ds.anchors('train').index.length + ds.anchors('validation').index.length + ds.anchors('test').index.length).toBe(ds.anchorCount);
  });

  it.each([
    { name: 'dynamic', steps: 'dynamic' as const, want: 24 + 6 - 1 },
    { name: 'static', steps: 'static' as const, want: 24 },
    { name: 's10', steps: 10, want: 10 },
  ])('gather equals a naive reference ($name)', ({ steps, want }) => {
    const ids = Array.from({ length: 37 }, (_, i) => (i * 101) % ds.anchorCount);
    const g = ds.gather(ids, { steps });
    expect(g.shape).toEqual({ batch: 37, steps: want, channels: 4, horizon: 6 });
    for (let b = 0; b < ids.length; b++) {
      const asset = ds.anchorAsset[ids[b]!]!;
      const r = ds.anchorBar[ids[b]!]!;
      const s = ds.series(asset);
      const m = s.normalizer[r - 24]!;
      expect(g.normalizer[b]).toBe(m);
      expect(g.anchorTimeMs[b]).toBe(s.openTimeMs[r]);
      for (let t = 0; t < want; t++) {
        const k = r - 24 + t;
        const o = (b * want + t) * 4;
        expect(g.x[o]).toBe(Math.fround(Math.fround(s.volume[k]!) * (1 / m)));
        expect(g.x[o + 1]).toBe(s.features[k * 4 + 1]);
        expect(g.x[o + 2]).toBe(s.features[k * 4 + 2]);
        expect(g.x[o + 3]).toBe(s.missing[k]);
      }
      for (let h = 0; h < 6; h++) {
        expect(g.price[b * 6 + h]).toBe(s.price[r + h]);
        expect(g.volume[b * 6 + h]).toBe(s.volume[r + h]);
        expect(g.volume[b * 6 + h]).toBeGreaterThan(0);
      }
    }
    // reusing output buffers gives the same result
    const again = ds.gather(ids, { steps, out: { x: new Float32Array(g.x.length), price: new Float64Array(g.price.length), volume: new Float64Array(g.volume.length) } });
    expect(again.x).toEqual(g.x);
  });

  it.each([
    { name: 'anchor-out-of-range', call: () => ds.gather([ds.anchorCount]), argument: 'anchorIdx' },
    { name: 'negative-anchor', call: () => ds.gather([-1]), argument: 'anchorIdx' },
    { name: 'steps-too-long', call: () => ds.gather([0], { steps: 30 }), argument: 'steps' },
    { name: 'out-wrong-size', call: () => ds.gather([0, 1], { out: { x: new Float32Array(3), price: new Float64Array(12), volume: new Float64Array(12) } }), argument: 'out.x' },
    { name: 'bad-split', call: () => ds.anchors('holdout' as never), argument: 'split' },
    { name: 'bad-universe', call: () => ds.anchors('train', 'everything' as never), argument: 'universe' },
  ])('$name -> ERR_ARG naming the argument', ({ call, argument }) => {
    try {
      call();
      expect.unreachable();
    } catch (e) {
      expect((e as SigvwapError).code).toBe('ERR_ARG');
      expect((e as SigvwapError).data.argument).toBe(argument);
    }
  });

  it('unknown asset and missing store -> typed errors', async () => {
    await expect(buildDataset({ store: join(dir, 'store'), assets: ['ZZZUSDT'], workers: 0 })).rejects.toMatchObject({ code: 'ERR_ARG', data: { argument: 'assets', value: 'ZZZUSDT' } });
    await expect(buildDataset({ store: join(dir, 'nowhere'), workers: 0 })).rejects.toMatchObject({ code: 'ERR_IO' });
  });
});
