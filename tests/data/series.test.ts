import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SigvwapError } from '../../src/errors.js';
import { allocBarTable, type BarTable } from '../../src/data/barTable.js';
import {
  buildAssetSeries, DEFAULT_DATASET_CONFIG, type DatasetConfig, type NormalizerKind,
} from '../../src/data/buildAssetSeries.js';
import { buildDataset, type Dataset } from '../../src/data/buildDataset.js';
import { ingest } from '../../src/data/ingest.js';
import { barsToCsv, HOUR_MS, removeDir, rng, sliceBars, syntheticBars, T0_MS, tempDir, writeText } from './helpers.js';

const small: DatasetConfig = { ...DEFAULT_DATASET_CONFIG, lookback: 5, horizon: 3, normalizerBars: 10 };

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

describe('causality: changing any bar after t changes no series value at or before t', () => {
  const base = craft(400, { remove: [50, 51, 52, 120], zero: [60, 61, 200], seed: 4 });
  it.each([
    { name: 't10', t: 10 }, { name: 't49-before-gap', t: 49 }, { name: 't51-inside-gap', t: 51 }, { name: 't60-zero-volume', t: 60 },
    { name: 't150', t: 150 }, { name: 't333', t: 333 }, { name: 't398', t: 398 },
  ])('$name', ({ t }) => {
    const tMs = T0_MS + t * HOUR_MS;
    const a = buildAssetSeries(base, HOUR_MS, { ...small, normalizer: 'median' }).series;
    for (let seed = 1; seed <= 3; seed++) {
      const b = buildAssetSeries(perturbAfter(base, tMs, seed * 100 + t), HOUR_MS, { ...small, normalizer: 'median' }).series;
      const upto = t + 1;
      expect(Array.from(b.openTimeMs)).toEqual(Array.from(a.openTimeMs));
      for (const k of ['price', 'volume', 'quoteVolume', 'missing'] as const) {
        expect(Array.from(b[k].subarray(0, upto)), k).toEqual(Array.from(a[k].subarray(0, upto)));
      }
      // normalizer[k] reads bars k-W .. k-1 only: unchanged up to k = t + 1
      expect(b.bars).toBe(a.bars);
      expect(Array.from(b.normalizer.subarray(0, upto + 1))).toEqual(Array.from(a.normalizer.subarray(0, upto + 1)));
      // and the perturbation is visible after t (the check could fail)
      expect(Array.from(b.volume.subarray(upto))).not.toEqual(Array.from(a.volume.subarray(upto)));
    }
  });
});

describe('normalizer', () => {
  const bars = craft(300, { remove: [40, 41, 42, 100], zero: [70, 71], seed: 8 });
  it.each(['mean', 'median'] as NormalizerKind[])('%s equals the brute-force statistic over existing bars k-W .. k-1', (kind) => {
    const s = buildAssetSeries(bars, HOUR_MS, { ...small, normalizer: kind }).series;
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
    const base = buildAssetSeries(bars, HOUR_MS, config);
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
      const a = buildAssetSeries(inside, HOUR_MS, config).series;
      const b = buildAssetSeries(before, HOUR_MS, config).series;
      expect(a.normalizer[r - L]).toBe(base.series.normalizer[r - L]);
      expect(b.normalizer[r - L]).not.toBe(base.series.normalizer[r - L]);
    }
  });
});

describe('grid and config', () => {
  it('missing bars become zero-volume bars with the last price carried forward, flagged', () => {
    const bars = craft(20, { remove: [5, 6], zero: [10], seed: 2 });
    const s = buildAssetSeries(bars, HOUR_MS, small).series;
    expect(s.bars).toBe(20);
    expect(Array.from(s.openTimeMs)).toEqual(Array.from({ length: 20 }, (_, i) => T0_MS + i * HOUR_MS));
    expect(Array.from(s.missing)).toEqual(Array.from({ length: 20 }, (_, i) => (i === 5 || i === 6 ? 1 : 0)));
    const vwap4 = bars.quoteVolume[4]! / bars.volume[4]!;
    expect([s.price[5], s.price[6], s.volume[5], s.volume[6], s.quoteVolume[5], s.quoteVolume[6]]).toEqual([vwap4, vwap4, 0, 0, 0, 0]);
    expect(s.price[7]).toBe(bars.quoteVolume[5]! / bars.volume[5]!); // grid bar 7 = row 5
    expect(s.price[10]).toBe(s.price[9]); // zero-volume bar: carried
    expect([s.volume[10], s.missing[10]]).toEqual([0, 0]);
  });

  it('before the first traded bar the price is the bar close', () => {
    const bars = craft(6, { zero: [0, 1], seed: 3 });
    const s = buildAssetSeries(bars, HOUR_MS, small).series;
    expect([s.price[0], s.price[1]]).toEqual([bars.close[0], bars.close[1]]);
    expect(s.price[2]).toBe(bars.quoteVolume[2]! / bars.volume[2]!);
  });

  it.each([
    { name: 'lookback-0', patch: { lookback: 0 }, argument: 'lookback' },
    { name: 'horizon-1.5', patch: { horizon: 1.5 }, argument: 'horizon' },
    { name: 'normalizer-mode', patch: { normalizer: 'max' }, argument: 'normalizer' },
    { name: 'test-fraction', patch: { testFraction: 1 }, argument: 'testFraction' },
    { name: 'removed-features', patch: { features: ['volume'] }, argument: 'features' },
  ])('bad config $name -> ERR_ARG naming it', ({ patch, argument }) => {
    try {
      buildAssetSeries(syntheticBars(5), HOUR_MS, { ...small, ...patch } as DatasetConfig);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SigvwapError);
      expect((e as SigvwapError).code).toBe('ERR_ARG');
      expect((e as SigvwapError).data.argument).toBe(argument);
    }
  });

  it('bars off the grid or out of order -> ERR_DATA naming the asset', () => {
    const b = syntheticBars(5);
    b.openTimeMs[3] = b.openTimeMs[3]! + 1;
    expect(() => buildAssetSeries(b, HOUR_MS, small, 'XUSDT')).toThrow(/XUSDT: bar 3 .* not on the 3600000 ms grid/);
    const c = syntheticBars(5);
    c.openTimeMs[3] = c.openTimeMs[2]!;
    expect(() => buildAssetSeries(c, HOUR_MS, small, 'XUSDT')).toThrow(/XUSDT: bar 3 .* not after the previous bar/);
  });
});

describe('anchors near gaps and zero-volume bars', () => {
  // L = 5, H = 3, W = 10: candidates r = 15 .. n - 3
  const config: DatasetConfig = { ...small, testFraction: 0, validationFraction: 0, purge: false };
  it.each([
    // a 2-bar gap at 30-31 drops every r whose window r-5 .. r+2 touches 30..31: r = 28 .. 36
    { name: 'gap-2-bars', remove: [30, 31], zero: [], gap: 9, zero_: 0, droppedBars: [28, 36] },
    // a single missing bar at 30: kept in lookbacks (r = 31 .. 35), dropped where it is in the horizon (r = 28 .. 30)
    { name: 'single-missing', remove: [30], zero: [], gap: 0, zero_: 3, droppedBars: [28, 30] },
    { name: 'zero-volume', remove: [], zero: [40], gap: 0, zero_: 3, droppedBars: [38, 40] },
  ])('$name', ({ remove, zero, gap, zero_, droppedBars }) => {
    const { anchors } = buildAssetSeries(craft(80, { remove, zero, seed: 5 }), HOUR_MS, config);
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
    const { anchors } = buildAssetSeries(craft(80, { zero, seed: 6 }), HOUR_MS, config);
    expect(anchors.dropped.normalizer).toBeGreaterThan(0);
  });
});

describe('splits', () => {
  it.each([
    { name: 'purged', purge: true },
    { name: 'unpurged', purge: false },
  ])('chronological train/validation/test per asset ($name)', ({ purge }) => {
    const config: DatasetConfig = { ...small, purge };
    const { anchors } = buildAssetSeries(craft(1000, { remove: [300, 301], seed: 9 }), HOUR_MS, config);
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

describe('dataset (in-process)', () => {
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
    ds = await buildDataset({ store: join(dir, 'store'), lookback: 24, horizon: 6, normalizerBars: 48, workers: 0 });
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

  it('every anchor: normalizer = series.normalizer[r - L] > 0, horizon traded, window without long gaps', () => {
    for (let a = 0; a < ds.anchorCount; a++) {
      const s = ds.series(ds.anchorAsset[a]!);
      const r = ds.anchorBar[a]!;
      expect(ds.normalizerOf(a)).toBe(s.normalizer[r - 24]);
      expect(ds.normalizerOf(a)).toBeGreaterThan(0);
      for (let h = 0; h < 6; h++) expect(s.volume[r + h]).toBeGreaterThan(0);
      for (let k = r - 25; k < r + 6; k++) expect(s.missing[k]! + (s.missing[k + 1] ?? 0)).toBeLessThan(2); // no run of 2 missing bars touches r-L .. r+H-1
    }
  });

  it('config holds the dataset options with defaults filled in', () => {
    expect(ds.config).toEqual({ lookback: 24, horizon: 6, normalizerBars: 48, normalizer: 'mean', testFraction: 0.2, validationFraction: 0.2, purge: true });
    expect(Object.isFrozen(ds.config)).toBe(true);
  });

  it.each([
    { name: 'anchor-out-of-range', call: () => ds.normalizerOf(ds.anchorCount), argument: 'anchor' },
    { name: 'negative-anchor', call: () => ds.normalizerOf(-1), argument: 'anchor' },
    { name: 'bad-asset', call: () => ds.series(ds.assets.length), argument: 'assetIndex' },
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

  it('the removed features option -> ERR_ARG saying where features come from now', async () => {
    await expect(buildDataset({ store: join(dir, 'store'), workers: 0, features: ['volume', 'hour'] } as never)).rejects.toMatchObject({
      code: 'ERR_ARG', message: expect.stringMatching(/^features: removed; models build their features from the series \(src\/features\)/), data: { argument: 'features' },
    });
  });

  it('unknown asset and missing store -> typed errors', async () => {
    await expect(buildDataset({ store: join(dir, 'store'), assets: ['ZZZUSDT'], workers: 0 })).rejects.toMatchObject({ code: 'ERR_ARG', data: { argument: 'assets', value: 'ZZZUSDT' } });
    await expect(buildDataset({ store: join(dir, 'nowhere'), workers: 0 })).rejects.toMatchObject({ code: 'ERR_IO' });
  });
});
