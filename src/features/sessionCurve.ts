/**
 * The classical VWAP curve of equity orders, by minute of the session (the U shape): for an
 * order that starts o bars after its session's open and runs T bins of m bars, the curve is
 *   c_t = mean over the previous sessions d of  V_d(t) / Σ_u V_d(u),
 *   V_d(t) = Σ V over bars open_d + o + t·m .. open_d + o + (t+1)·m - 1,
 * the mean share of each bin in the same window of the N (`days`, default 20) most recent
 * earlier sessions that can hold it: the window must lie inside that session's regular hours
 * (an early close shorter than the window is skipped) and inside the data, and must hold
 * volume. Every bar read belongs to an earlier session, so it is before the order (causal).
 * Rows are on the simplex (each session's shares sum to 1); an order with no usable earlier
 * session gets the uniform curve 1/T (TWAP). Sessions come from src/data/sessions.ts (the
 * exchange clock; America/New_York 09:30-16:00 by default); an order that does not start inside
 * a regular session is an ERR_ARG naming it.
 * Layout: Float64Array [B, T] row-major. Cost: O(B·N·T·m).
 */
import { SigvwapError } from '../errors.js';
import type { MarketSeries } from '../data/marketSeries.js';
import { sessionIndexOfBar, tradingSessions, type SessionOptions } from '../data/sessions.js';

/** What the curve needs of a batch of orders (BacktestOrders of src/execution has it). */
export interface BinnedOrderRefs {
  assetIndex: Int32Array;
  startBar: Int32Array;
  bins: number;
  binBars: number;
}

export interface SessionCurveOptions extends SessionOptions {
  /** N, earlier sessions averaged (default 20) */
  days?: number;
}

export const DEFAULT_SESSION_CURVE_DAYS = 20;

/** Session-curve allocation of every order, [B, T] rows on the simplex; `options` may be the number of days. */
export function sessionCurve(series: readonly MarketSeries[], orders: BinnedOrderRefs, options: number | SessionCurveOptions = {}): Float64Array {
  const o: SessionCurveOptions = typeof options === 'number' ? { days: options } : options;
  const days = o.days ?? DEFAULT_SESSION_CURVE_DAYS;
  if (!Number.isInteger(days) || days < 1) throw new SigvwapError('ERR_ARG', `days: expected a positive integer, got ${days}`, { argument: 'days', value: days });
  const B = orders.assetIndex.length;
  const T = orders.bins;
  const m = orders.binBars;
  const span = T * m;
  const out = new Float64Array(B * T);
  const share = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    const s = series[orders.assetIndex[b]!];
    if (!s) throw new SigvwapError('ERR_ARG', `orders: order ${b}: asset index ${orders.assetIndex[b]} has no series`, { argument: 'orders', index: b });
    const sessions = tradingSessions(s, o);
    const r = orders.startBar[b]!;
    const i = sessionIndexOfBar(sessions, r);
    if (i < 0) {
      throw new SigvwapError('ERR_ARG', `orders: order ${b} starts at ${new Date(s.openTimeMs[0]! + r * s.intervalMs).toISOString()}, outside the regular session: a session curve needs session-aligned orders`, { argument: 'orders', index: b, bar: r });
    }
    const offset = r - sessions[i]!.openBar;
    const row = out.subarray(b * T, (b + 1) * T);
    let used = 0;
    for (let j = i - 1; j >= 0 && used < days; j--) {
      const x = sessions[j]!;
      const from = x.openBar + offset;
      if (from + span > x.closeBar || from < 0 || from + span > s.bars) continue;
      let total = 0;
      for (let t = 0; t < T; t++) {
        let v = 0;
        for (let k = from + t * m; k < from + (t + 1) * m; k++) if (s.volume[k]! > 0) v += s.volume[k]!;
        share[t] = v;
        total += v;
      }
      if (!(total > 0)) continue;
      for (let t = 0; t < T; t++) row[t]! += share[t]! / total;
      used++;
    }
    if (used === 0) row.fill(1 / T);
    else {
      let sum = 0;
      for (let t = 0; t < T; t++) sum += row[t]!;
      for (let t = 0; t < T; t++) row[t] = row[t]! / sum;
    }
  }
  return out;
}
