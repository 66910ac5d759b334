/**
 * One asset's causal series on its bar grid, its volume normalizers and its anchor index
 * (method.md §2–§4).
 *
 * There is no per-bar feature matrix here: the models' inputs are order-relative (scaled by
 * statistics of the bars before each order, plus in-order flags), so a per-bar matrix could
 * not be reused by them. Models compute their features from this series and (asset, bar)
 * pairs in src/features (prefix sums, O(1) per window statistic); those typed arrays are
 * also what native training gathers from.
 *
 * Grid. Bars are put on a regular grid from the first to the last open time (step =
 * interval). A bar absent from the data becomes a zero-volume bar with the last price
 * carried forward and `missing[t] = 1`.
 *
 * Bar price (one rule for every source, applied to each bar present in the data):
 *   - quote volume known (finite) and > 0, volume > 0: p_t = quoteVolume_t / volume_t, the
 *     bar's own VWAP (Binance klines; unchanged from before);
 *   - quote volume unknown (NaN: empty in the source, e.g. US equity minute bars), volume > 0:
 *     p_t = (high_t + low_t + close_t) / 3, the typical price, a documented proxy for the bar
 *     VWAP (no notional is invented: quoteVolume stays NaN in the store and in the series);
 *   - otherwise (volume 0, or a known quote volume of 0): p_{t-1}, carried forward;
 * missing bars carry p_{t-1} forward too; before the first traded bar, the bar's close.
 * `high`/`low` are the bar's own (NaN for missing bars): the spread estimators of
 * src/execution/orderBins.ts read them.
 *
 * Normalizer: normalizer[k] = mean (or median) of V over the bars k-W .. k-1 that exist in
 * the data (W = 336, two weeks of hours), NaN when k < W or no bar exists there. The
 * normalizer of an anchor r with lookback L is normalizer[r - L]: the statistic ends right
 * before the sample's first lookback bar, so nothing inside the sample (r-L .. r+H-1)
 * reads into it. Anchors whose normalizer is not positive are dropped (no volume scale).
 *
 * Anchors: r is a candidate when r - L - W >= 0 and r + H - 1 < bars. A candidate is dropped
 * (and counted per reason, in this order) when its window r-L .. r+H-1 holds a gap longer
 * than one bar (`gap`), its horizon r .. r+H-1 holds a zero-volume or missing bar
 * (`zeroVolumeHorizon`: P_mkt undefined), or its normalizer is not positive (`normalizer`).
 * Split (chronological over the valid anchors): the last `testFraction` are test, the last
 * `validationFraction` of the rest are validation. With `purge`, a train (validation) anchor
 * whose horizon reaches the first validation (test) anchor is dropped (`purge`), so no two
 * splits share a target bar.
 * Liquidity: the median notional of the bars before the first validation anchor, where a
 * bar's notional is its quote volume, or volume · p_t when its quote volume is unknown.
 *
 * Layout: AssetSeries holds Float64Array openTimeMs, price, volume, quoteVolume, high, low,
 * normalizer and Uint8Array missing, [bars] each (57 bytes per bar); every array owns its
 * buffer (transferable from a worker).
 * Cost: O(bars) time and memory (the median normalizer adds O(bars · W) memmove).
 */
import { SigvwapError } from '../errors.js';
import type { BarTable } from './barTable.js';

export type NormalizerKind = 'mean' | 'median';
export const SPLITS = ['train', 'validation', 'test'] as const;
export type Split = (typeof SPLITS)[number];
/** split codes stored in `AssetAnchors.split` */
export const SPLIT_CODE: Record<Split, number> = { train: 0, validation: 1, test: 2 };

export interface DatasetConfig {
  /** L: bars before the anchor */
  lookback: number;
  /** H: bars of the order */
  horizon: number;
  /** W: bars of the volume normalizer (336 = two weeks of hours) */
  normalizerBars: number;
  normalizer: NormalizerKind;
  testFraction: number;
  validationFraction: number;
  purge: boolean;
}

export const DEFAULT_DATASET_CONFIG: DatasetConfig = {
  lookback: 60,
  horizon: 12,
  normalizerBars: 336,
  normalizer: 'mean',
  testFraction: 0.2,
  validationFraction: 0.2,
  purge: true,
};

/** One asset on its regular bar grid. Every array owns its buffer (transferable). */
export interface AssetSeries {
  intervalMs: number;
  bars: number;
  openTimeMs: Float64Array;
  /** bar VWAP, carried forward over zero-volume and missing bars */
  price: Float64Array;
  /** base volume, 0 for missing bars */
  volume: Float64Array;
  /** quote volume, 0 for missing bars, NaN where the data have none (liquidity ranking) */
  quoteVolume: Float64Array;
  /** the bar's high and low, NaN for missing bars (spread estimators) */
  high: Float64Array;
  low: Float64Array;
  /** 1 where the bar is absent from the data (filled) */
  missing: Uint8Array;
  /** normalizer[k] = statistic of volume over bars k-W .. k-1 (see header) */
  normalizer: Float64Array;
}

export const DROP_REASONS = ['gap', 'zeroVolumeHorizon', 'normalizer', 'purge'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface AssetAnchors {
  /** anchor bars r (grid index), ascending */
  bar: Int32Array;
  /** SPLIT_CODE of each anchor */
  split: Uint8Array;
  candidates: number;
  dropped: Record<DropReason, number>;
  counts: Record<Split, number>;
  /** median quote volume of the bars before the first validation anchor */
  liquidity: number;
}

/** One asset's series and anchors. */
export interface AssetData {
  series: AssetSeries;
  anchors: AssetAnchors;
}

/**
 * ERR_ARG for the removed `features` option (per-bar channels), so that an old caller fails
 * loudly instead of having it silently ignored.
 */
export function rejectRemovedFeatures(options: object): void {
  if ('features' in options && (options as { features?: unknown }).features !== undefined) {
    throw new SigvwapError('ERR_ARG', 'features: removed; models build their features from the series (src/features)', {
      argument: 'features', value: (options as { features?: unknown }).features,
    });
  }
}

/** Validate a dataset config; ERR_ARG naming the option. */
export function checkDatasetConfig(c: DatasetConfig): void {
  rejectRemovedFeatures(c);
  const positiveInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new SigvwapError('ERR_ARG', `${name}: expected a positive integer, got ${v}`, { argument: name, value: v });
  };
  positiveInt('lookback', c.lookback);
  positiveInt('horizon', c.horizon);
  positiveInt('normalizerBars', c.normalizerBars);
  if (c.normalizer !== 'mean' && c.normalizer !== 'median') {
    throw new SigvwapError('ERR_ARG', `normalizer: expected "mean" or "median", got ${JSON.stringify(c.normalizer)}`, { argument: 'normalizer', value: c.normalizer });
  }
  for (const name of ['testFraction', 'validationFraction'] as const) {
    const v = c[name];
    if (!(v >= 0 && v < 1)) throw new SigvwapError('ERR_ARG', `${name}: expected a number in [0, 1), got ${v}`, { argument: name, value: v });
  }
}

/** Build the grid, series, normalizers and anchors of one asset. `symbol` only names errors. */
export function buildAssetSeries(bars: BarTable, intervalMs: number, config: DatasetConfig, symbol = 'asset'): AssetData {
  checkDatasetConfig(config);
  const series = buildSeries(bars, intervalMs, config, symbol);
  const anchors = buildAnchors(series, config);
  return { series, anchors };
}

function buildSeries(bars: BarTable, intervalMs: number, config: DatasetConfig, symbol: string): AssetSeries {
  if (bars.length === 0) throw new SigvwapError('ERR_DATA', `${symbol}: no bars`, { symbol });
  const t0 = bars.openTimeMs[0]!;
  const last = bars.openTimeMs[bars.length - 1]!;
  const n = Math.round((last - t0) / intervalMs) + 1;
  const openTimeMs = new Float64Array(n);
  const volume = new Float64Array(n);
  const quoteVolume = new Float64Array(n);
  const price = new Float64Array(n);
  const high = new Float64Array(n).fill(NaN);
  const low = new Float64Array(n).fill(NaN);
  const missing = new Uint8Array(n).fill(1);
  for (let k = 0; k < n; k++) openTimeMs[k] = t0 + k * intervalMs;
  let prev = -1;
  for (let i = 0; i < bars.length; i++) {
    const t = bars.openTimeMs[i]!;
    const k = (t - t0) / intervalMs;
    if (!Number.isInteger(k) || k <= prev) {
      throw new SigvwapError('ERR_DATA', `${symbol}: bar ${i} at ${new Date(t).toISOString()} is ${k <= prev ? 'not after the previous bar' : `not on the ${intervalMs} ms grid`}`, { symbol, row: i });
    }
    prev = k;
    missing[k] = 0;
    volume[k] = bars.volume[i]!;
    quoteVolume[k] = bars.quoteVolume[i]!;
    high[k] = bars.high[i]!;
    low[k] = bars.low[i]!;
    // provisional: replaced below by the VWAP (or the typical price) when traded
    price[k] = Number.isNaN(quoteVolume[k]!) && volume[k]! > 0 ? (bars.high[i]! + bars.low[i]! + bars.close[i]!) / 3 : bars.close[i]!;
  }
  // Bar VWAP (typical price without quote volume), carried forward; before the first
  // traded bar, the bar's own close.
  let carried = NaN;
  for (let k = 0; k < n; k++) {
    const present = missing[k] === 0;
    if (present && volume[k]! > 0 && quoteVolume[k]! > 0) carried = price[k] = quoteVolume[k]! / volume[k]!;
    else if (present && volume[k]! > 0 && Number.isNaN(quoteVolume[k]!) && price[k]! > 0) carried = price[k]!;
    else if (!Number.isNaN(carried)) price[k] = carried;
    else if (!(present && price[k]! > 0)) price[k] = NaN;
  }
  const normalizer = config.normalizer === 'mean'
    ? meanNormalizer(volume, missing, config.normalizerBars)
    : medianNormalizer(volume, missing, config.normalizerBars);
  return { intervalMs, bars: n, openTimeMs, price, volume, quoteVolume, high, low, missing, normalizer };
}

/** out[k] = mean of volume over existing bars k-W .. k-1 (a running sum, re-summed every W bars to bound rounding drift). */
export function meanNormalizer(volume: Float64Array, missing: Uint8Array, W: number): Float64Array {
  const n = volume.length;
  const out = new Float64Array(n).fill(NaN);
  let sum = 0;
  let count = 0;
  for (let k = 0; k < n; k++) {
    if (k >= W) out[k] = count > 0 ? sum / count : NaN;
    // window becomes k-W+1 .. k
    if (missing[k] === 0) {
      sum += volume[k]!;
      count++;
    }
    const drop = k - W;
    if (drop >= 0 && missing[drop] === 0) {
      sum -= volume[drop]!;
      count--;
    }
    if (k % W === W - 1) {
      sum = 0;
      for (let j = Math.max(0, k - W + 1); j <= k; j++) if (missing[j] === 0) sum += volume[j]!;
    }
  }
  return out;
}

/** out[k] = median of volume over existing bars k-W .. k-1 (a sorted sliding window). */
export function medianNormalizer(volume: Float64Array, missing: Uint8Array, W: number): Float64Array {
  const n = volume.length;
  const out = new Float64Array(n).fill(NaN);
  const win = new Float64Array(W);
  let count = 0;
  const lowerBound = (x: number): number => {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (win[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  for (let k = 0; k < n; k++) {
    if (k >= W && count > 0) {
      const h = count >> 1;
      out[k] = count & 1 ? win[h]! : (win[h - 1]! + win[h]!) / 2;
    }
    const drop = k - W;
    if (drop >= 0 && missing[drop] === 0) {
      const at = lowerBound(volume[drop]!);
      win.copyWithin(at, at + 1, count);
      count--;
    }
    if (missing[k] === 0) {
      const at = lowerBound(volume[k]!);
      win.copyWithin(at + 1, at, count);
      win[at] = volume[k]!;
      count++;
    }
  }
  return out;
}

function buildAnchors(s: AssetSeries, c: DatasetConfig): AssetAnchors {
  const n = s.bars;
  const L = c.lookback;
  const H = c.horizon;
  // longGap[k]: bar k is missing and part of a run of >= 2 missing bars; prefix counts.
  const longGapPrefix = new Int32Array(n + 1);
  const zeroPrefix = new Int32Array(n + 1);
  for (let k = 0; k < n; k++) {
    const miss = s.missing[k] === 1;
    const longGap = miss && ((k > 0 && s.missing[k - 1] === 1) || (k + 1 < n && s.missing[k + 1] === 1));
    longGapPrefix[k + 1] = longGapPrefix[k]! + (longGap ? 1 : 0);
    zeroPrefix[k + 1] = zeroPrefix[k]! + (miss || !(s.volume[k]! > 0) ? 1 : 0);
  }
  const dropped: Record<DropReason, number> = { gap: 0, zeroVolumeHorizon: 0, normalizer: 0, purge: 0 };
  const first = L + c.normalizerBars;
  const lastAnchor = n - H;
  const candidates = Math.max(0, lastAnchor - first + 1);
  const valid = new Int32Array(candidates);
  let nv = 0;
  for (let r = first; r <= lastAnchor; r++) {
    if (longGapPrefix[r + H]! - longGapPrefix[r - L]! > 0) dropped.gap++;
    else if (zeroPrefix[r + H]! - zeroPrefix[r]! > 0) dropped.zeroVolumeHorizon++;
    else if (!(s.normalizer[r - L]! > 0)) dropped.normalizer++;
    else valid[nv++] = r;
  }
  const nTest = Math.floor(nv * c.testFraction);
  const nRest = nv - nTest;
  const nVal = Math.floor(nRest * c.validationFraction);
  const valStart = nRest - nVal;
  const firstVal = valStart < nv ? valid[valStart]! : Infinity;
  const firstTest = nRest < nv ? valid[nRest]! : Infinity;
  const bar = new Int32Array(nv);
  const split = new Uint8Array(nv);
  let kept = 0;
  for (let i = 0; i < nv; i++) {
    const r = valid[i]!;
    const code = i < valStart ? 0 : i < nRest ? 1 : 2;
    const nextStart = code === 0 ? firstVal : code === 1 ? firstTest : Infinity;
    if (c.purge && r + H - 1 >= nextStart) {
      dropped.purge++;
      continue;
    }
    bar[kept] = r;
    split[kept++] = code;
  }
  const counts: Record<Split, number> = { train: 0, validation: 0, test: 0 };
  for (let i = 0; i < kept; i++) counts[SPLITS[split[i]!]!]++;
  const liquidityEnd = valStart < nv ? valid[valStart]! : n;
  return {
    // slice: each array owns its buffer (transferable)
    bar: bar.slice(0, kept),
    split: split.slice(0, kept),
    candidates,
    dropped,
    counts,
    liquidity: medianPresent(notional(s, liquidityEnd), s.missing, liquidityEnd),
  };
}

/** Quote volume of bars 0 .. end-1, or volume · price where the quote volume is unknown (the series' own array when it has none unknown). */
function notional(s: AssetSeries, end: number): Float64Array {
  let out: Float64Array | undefined;
  for (let k = 0; k < end; k++) {
    if (!Number.isNaN(s.quoteVolume[k]!)) continue;
    out ??= s.quoteVolume.slice(0, end);
    out[k] = s.volume[k]! * s.price[k]!;
  }
  return out ?? s.quoteVolume;
}

function medianPresent(values: Float64Array, missing: Uint8Array, end: number): number {
  const xs = new Float64Array(end);
  let count = 0;
  for (let k = 0; k < end; k++) if (missing[k] === 0) xs[count++] = values[k]!;
  if (count === 0) return 0;
  const sorted = xs.subarray(0, count).sort();
  const h = count >> 1;
  return count & 1 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
}
