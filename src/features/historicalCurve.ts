/**
 * The classical VWAP curve (method.md §5): for an order starting at bar r over H bars,
 *   hv_t = mean of V_k over k = r + t - d·P, d = d0 .. d0 + N - 1,
 * the same time of day (P = bars per day) or the same time of week (P = 7·bars per day,
 * `byWeekday`) on the last N days, where d0 is the first lag whose bar is <= `endBar`
 * (default r - 1: causal), skipping missing bars; a_t = hv_t / Σ hv (TWAP when Σ hv = 0).
 * Layout: `out` [H] float64. Cost: O(H·N) per order.
 */
import type { MarketSeries } from '../data/marketSeries.js';
import { slotsPerDay } from '../data/marketSeries.js';

export interface HistCurveOptions {
  /** N, days of history (default 20) */
  days: number;
  /** same hour and weekday instead of same hour (default false) */
  byWeekday: boolean;
}

export const DEFAULT_HIST_CURVE: HistCurveOptions = { days: 20, byWeekday: false };

/** Mean past volume of each order bar's time slot, [H]; NaN where no past bar exists. */
export function historicalVolumes(s: MarketSeries, r: number, horizon: number, opts: HistCurveOptions, out = new Float64Array(horizon), endBar = r - 1): Float64Array {
  const period = slotsPerDay(s.intervalMs) * (opts.byWeekday ? 7 : 1);
  for (let t = 0; t < horizon; t++) {
    const k0 = r + t;
    const d0 = Math.max(1, Math.ceil((k0 - endBar) / period));
    let sum = 0;
    let count = 0;
    for (let d = d0; d < d0 + opts.days; d++) {
      const k = k0 - d * period;
      if (k < 0) break;
      if (k >= s.bars || s.missing[k] === 1) continue;
      sum += s.volume[k]!;
      count++;
    }
    out[t] = count > 0 ? sum / count : NaN;
  }
  return out;
}

/** The historical-curve allocation of one order, [H] on the simplex. */
export function historicalCurve(s: MarketSeries, r: number, horizon: number, opts: HistCurveOptions = DEFAULT_HIST_CURVE, out = new Float64Array(horizon)): Float64Array {
  historicalVolumes(s, r, horizon, opts, out);
  let total = 0;
  for (let t = 0; t < horizon; t++) if (out[t]! > 0) total += out[t]!;
  for (let t = 0; t < horizon; t++) out[t] = total > 0 ? (out[t]! > 0 ? out[t]! / total : 0) : 1 / horizon;
  return out;
}
