/**
 * The market data a model reads, and a batch of orders over it.
 *
 * MarketSeries: one asset on its regular bar grid (a subset of the data layer's AssetSeries,
 * which satisfies it): open times, bar VWAP `price` (carried forward over empty bars), base
 * `volume` (0 for empty or missing bars) and `missing` flags. Bar k opens at
 * openTimeMs[0] + k·intervalMs.
 * OrderBatch: orders b = 0 .. batch-1, order b starts at bar r = bar[b] of series
 * series[assetIndex[b]] and runs over bars r .. r+horizon-1. Allocators may read bars < r
 * (and bars r .. r+t-1 for a_t: method.md §4); targets read r .. r+H-1.
 * Cost: `orderTargets` copies 2·batch·horizon float64 values.
 */
import { SigvwapError } from '../errors.js';
import type { Dataset } from './index.js';

export interface MarketSeries {
  intervalMs: number;
  bars: number;
  openTimeMs: Float64Array;
  price: Float64Array;
  volume: Float64Array;
  missing: Uint8Array;
}

export interface OrderBatch {
  /** series by asset index */
  series: readonly MarketSeries[];
  assetIndex: Int32Array;
  /** start bar r of each order */
  bar: Int32Array;
  horizon: number;
  /** symbols by asset index (per-asset models need them) */
  symbols?: readonly string[];
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export function batchSize(orders: OrderBatch): number {
  return orders.bar.length;
}

/** Orders of dataset anchors (ids as given by `dataset.anchors(...)`). */
export function ordersFromDataset(dataset: Dataset, anchorIds: Int32Array | readonly number[]): OrderBatch {
  const n = anchorIds.length;
  const assetIndex = new Int32Array(n);
  const bar = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = anchorIds[i]!;
    if (!Number.isInteger(a) || a < 0 || a >= dataset.anchorCount) {
      throw new SigvwapError('ERR_ARG', `anchorIds[${i}]: expected an anchor id in 0..${dataset.anchorCount - 1}, got ${a}`, { argument: 'anchorIds', index: i, value: a });
    }
    assetIndex[i] = dataset.anchorAsset[a]!;
    bar[i] = dataset.anchorBar[a]!;
  }
  return { series: datasetSeries(dataset), assetIndex, bar, horizon: dataset.horizon, symbols: dataset.assets.map((a) => a.symbol) };
}

const seriesCache = new WeakMap<Dataset, MarketSeries[]>();

/** Every series of a dataset, by asset index. */
export function datasetSeries(dataset: Dataset): MarketSeries[] {
  let s = seriesCache.get(dataset);
  if (!s) {
    s = dataset.assets.map((a) => dataset.series(a.index));
    seriesCache.set(dataset, s);
  }
  return s;
}

/** Rows `from .. to-1` of a batch (views of its arrays). */
export function sliceOrders(orders: OrderBatch, from: number, to: number): OrderBatch {
  return { ...orders, assetIndex: orders.assetIndex.subarray(from, to), bar: orders.bar.subarray(from, to) };
}

/** Orders `index[0], index[1], ...` of a batch (a copy). */
export function takeOrders(orders: OrderBatch, index: ArrayLike<number>): OrderBatch {
  const assetIndex = new Int32Array(index.length);
  const bar = new Int32Array(index.length);
  for (let i = 0; i < index.length; i++) {
    assetIndex[i] = orders.assetIndex[index[i]!]!;
    bar[i] = orders.bar[index[i]!]!;
  }
  return { ...orders, assetIndex, bar };
}

/** Prices and volumes of bars r .. r+H-1, [batch, horizon] row-major. */
export function orderTargets(orders: OrderBatch): { price: Float64Array; volume: Float64Array } {
  const H = orders.horizon;
  const n = orders.bar.length;
  const price = new Float64Array(n * H);
  const volume = new Float64Array(n * H);
  for (let b = 0; b < n; b++) {
    const s = seriesOf(orders, b);
    const r = orders.bar[b]!;
    if (r < 0 || r + H > s.bars) {
      throw new SigvwapError('ERR_ARG', `order ${b}: bars ${r}..${r + H - 1} are not all in the series (${s.bars} bars)`, { argument: 'orders', index: b, bar: r });
    }
    price.set(s.price.subarray(r, r + H), b * H);
    volume.set(s.volume.subarray(r, r + H), b * H);
  }
  return { price, volume };
}

export function seriesOf(orders: OrderBatch, b: number): MarketSeries {
  const s = orders.series[orders.assetIndex[b]!];
  if (!s) throw new SigvwapError('ERR_ARG', `order ${b}: asset index ${orders.assetIndex[b]} has no series`, { argument: 'orders', index: b });
  return s;
}

/** Bars per day, when the interval divides a day (1h -> 24); ERR_ARG otherwise. */
export function slotsPerDay(intervalMs: number): number {
  const spd = DAY_MS / intervalMs;
  if (!Number.isInteger(spd) || spd < 1) {
    throw new SigvwapError('ERR_ARG', `interval of ${intervalMs} ms does not divide a day: a time-of-day profile needs one`, { argument: 'intervalMs', value: intervalMs });
  }
  return spd;
}

/** UTC hour 0..23 of a time. */
export function hourOf(ms: number): number {
  return Math.floor((((ms % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS);
}

/** 0 = Monday .. 6 = Sunday (UTC). 1970-01-01 was a Thursday. */
export function weekdayOf(ms: number): number {
  return (((Math.floor(ms / DAY_MS) + 3) % 7) + 7) % 7;
}

/** Open time of bar k (also for k beyond the stored bars). */
export function openTimeOf(s: MarketSeries, k: number): number {
  return s.bars > 0 ? s.openTimeMs[0]! + k * s.intervalMs : k * s.intervalMs;
}

/** A series whose arrays are views of the first `bars` bars of `s`. */
export function truncateSeries(s: MarketSeries, bars: number): MarketSeries {
  const n = Math.max(0, Math.min(bars, s.bars));
  return { intervalMs: s.intervalMs, bars: n, openTimeMs: s.openTimeMs.subarray(0, n), price: s.price.subarray(0, n), volume: s.volume.subarray(0, n), missing: s.missing.subarray(0, n) };
}
