/**
 * Prefix sums over one series, so that window statistics of any bar range cost O(1):
 *   cumVolume[k]  = Σ_{j<k} V_j                (missing bars count 0)
 *   cumLogRet[k]  = Σ_{j<k} lr_j,  cumLogRet2[k] = Σ_{j<k} lr_j²
 * with lr_j = ln(p_j / p_{j-1}) (0 at j = 0 or when a price is not positive).
 * Window [from, to] inclusive: sum = cum[to+1] - cum[from]. Float64 throughout.
 * Cached per series object (WeakMap): a series must not be mutated after its first use.
 * Cost: O(bars) once per series, 3·(bars+1)·8 bytes.
 */
import type { MarketSeries } from '../data/marketSeries.js';

export interface SeriesStats {
  cumVolume: Float64Array;
  cumLogRet: Float64Array;
  cumLogRet2: Float64Array;
  logRet: Float64Array;
}

const cache = new WeakMap<MarketSeries, SeriesStats>();

export function seriesStats(s: MarketSeries): SeriesStats {
  let st = cache.get(s);
  if (st && st.cumVolume.length === s.bars + 1) return st;
  st = computeStats(s);
  cache.set(s, st);
  return st;
}

function computeStats(s: MarketSeries): SeriesStats {
  const n = s.bars;
  const cumVolume = new Float64Array(n + 1);
  const cumLogRet = new Float64Array(n + 1);
  const cumLogRet2 = new Float64Array(n + 1);
  const logRet = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const v = s.volume[k]!;
    cumVolume[k + 1] = cumVolume[k]! + (v > 0 ? v : 0);
    const a = k > 0 ? s.price[k - 1]! : NaN;
    const b = s.price[k]!;
    const lr = a > 0 && b > 0 ? Math.log(b / a) : 0;
    logRet[k] = lr;
    cumLogRet[k + 1] = cumLogRet[k]! + lr;
    cumLogRet2[k + 1] = cumLogRet2[k]! + lr * lr;
  }
  return { cumVolume, cumLogRet, cumLogRet2, logRet };
}

/** Mean volume over bars from..to (inclusive, clamped to the series start). */
export function meanVolume(st: SeriesStats, from: number, to: number): number {
  const a = Math.max(0, from);
  if (to < a) return NaN;
  return (st.cumVolume[to + 1]! - st.cumVolume[a]!) / (to + 1 - a);
}

/** Root mean square of log returns over bars from..to (inclusive, clamped). */
export function rmsLogReturn(st: SeriesStats, from: number, to: number): number {
  const a = Math.max(1, from);
  if (to < a) return NaN;
  return Math.sqrt(Math.max(0, st.cumLogRet2[to + 1]! - st.cumLogRet2[a]!) / (to + 1 - a));
}

/** Sum of log returns over bars from..to (inclusive, clamped) = ln(p_to / p_{from-1}). */
export function sumLogReturn(st: SeriesStats, from: number, to: number): number {
  const a = Math.max(0, from);
  if (to < a) return 0;
  return st.cumLogRet[to + 1]! - st.cumLogRet[a]!;
}
