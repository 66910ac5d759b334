/**
 * Engineered causal features of an order, for the static allocator and the base curve of the
 * dynamic one. Every value for an order at bar r reads bars <= e = r - 1 + lookahead only
 * (lookahead 0: strictly before the order; method.md §4), plus the calendar of bar r itself
 * (known in advance).
 *
 * With m = mean V over bars e-W+1 .. e (W = baselineBars, two weeks of hours) and
 * σ = RMS log return over the same bars:
 *   hour_h, weekday_d         one-hots of bar r's UTC hour (24) and weekday (7)
 *   logVolume_w               ln((mean V over e-w+1 .. e + 1e-3·m) / m)        per w in volumeWindows
 *   logVolatility_w           ln((RMS lr over e-w+1 .. e + 1e-3·σ) / σ)         per w in volatilityWindows
 *   return_w                  ln(p_e / p_{e-w}) / (σ·√w)                         per w in returnWindows
 *   histN_t                   ln((hv_t + 1e-3·h̄) / h̄), hv = past volume of bar r+t's time
 *                             slot over the last N days (historicalCurve), h̄ = mean_t hv_t
 *                             per N in histCurveDays, t = 0 .. H-1
 *   volN_t                     ln((hσ_t + 1e-3·σ) / σ), hσ_t = RMS log return of bar r+t's time
 *                             slot over the last N days, per N in histVolatilityDays
 * Values are clipped to ±clip (default 10). Layout: Float32Array [batch, features] row-major.
 * Cost: O(H·ΣN + windows) per order (prefix sums make window stats O(1)).
 */
import { z } from 'zod';
import { historicalVolumes } from './historicalCurve.js';
import { type MarketSeries, type OrderBatch, hourOf, openTimeOf, seriesOf, weekdayOf } from '../data/marketSeries.js';
import { meanVolume, rmsLogReturn, seriesStats, sumLogReturn } from './seriesStats.js';

const windows = z.array(z.number().int().positive()).max(16);

export const staticFeatureSpecSchema = z.object({
  calendar: z.boolean(),
  baselineBars: z.number().int().min(2),
  volumeWindows: windows,
  volatilityWindows: windows,
  returnWindows: windows,
  histCurveDays: windows,
  /** optional (absent in older checkpoints): time-of-day volatility profile windows in days */
  histVolatilityDays: windows.default([]),
  clip: z.number().positive(),
}).strict();

export type StaticFeatureSpec = z.infer<typeof staticFeatureSpecSchema>;

export const DEFAULT_STATIC_FEATURES: StaticFeatureSpec = {
  calendar: true,
  baselineBars: 336,
  volumeWindows: [1, 3, 6, 12, 24],
  volatilityWindows: [6, 24],
  returnWindows: [1, 6, 24],
  histCurveDays: [1, 5, 20],
  histVolatilityDays: [],
  clip: 10,
};

/** Feature names in column order. */
export function staticFeatureNames(spec: StaticFeatureSpec, horizon: number): string[] {
  const names: string[] = [];
  if (spec.calendar) {
    for (let h = 0; h < 24; h++) names.push(`hour_${h}`);
    for (let d = 0; d < 7; d++) names.push(`weekday_${d}`);
  }
  for (const w of spec.volumeWindows) names.push(`logVolume_${w}`);
  for (const w of spec.volatilityWindows) names.push(`logVolatility_${w}`);
  for (const w of spec.returnWindows) names.push(`return_${w}`);
  for (const n of spec.histCurveDays) for (let t = 0; t < horizon; t++) names.push(`hist${n}_t${t}`);
  for (const n of spec.histVolatilityDays) for (let t = 0; t < horizon; t++) names.push(`vol${n}_t${t}`);
  return names;
}

export function staticFeatureCount(spec: StaticFeatureSpec, horizon: number): number {
  return (spec.calendar ? 31 : 0) + spec.volumeWindows.length + spec.volatilityWindows.length + spec.returnWindows.length + (spec.histCurveDays.length + spec.histVolatilityDays.length) * horizon;
}

/** Bars of history before the order that the features read (for inference: how much to load). */
export function staticHistoryBars(spec: StaticFeatureSpec, intervalMs: number): number {
  const maxDays = Math.max(0, ...spec.histCurveDays, ...spec.histVolatilityDays);
  const perDay = Math.max(1, Math.round(86_400_000 / intervalMs));
  return Math.max(spec.baselineBars, ...spec.volumeWindows, ...spec.volatilityWindows, ...spec.returnWindows.map((w) => w + 1), (maxDays + 1) * perDay) + 1;
}

/** Features of every order, [batch, features]. */
export function computeStaticFeatures(orders: OrderBatch, spec: StaticFeatureSpec, lookahead = 0, out?: Float32Array): Float32Array {
  const H = orders.horizon;
  const F = staticFeatureCount(spec, H);
  const n = orders.bar.length;
  const x = out ?? new Float32Array(n * F);
  const hv = new Float64Array(H);
  for (let b = 0; b < n; b++) {
    staticFeaturesOf(seriesOf(orders, b), orders.bar[b]!, H, spec, lookahead, x, b * F, hv);
  }
  return x;
}

/** Features of one order at bar r into x[offset .. offset+F). */
export function staticFeaturesOf(s: MarketSeries, r: number, H: number, spec: StaticFeatureSpec, lookahead: number, x: Float32Array, offset: number, hv = new Float64Array(H)): void {
  const st = seriesStats(s);
  const e = Math.min(r - 1 + lookahead, s.bars - 1);
  const W = spec.baselineBars;
  const clip = spec.clip;
  const put = (v: number) => {
    x[offset++] = Number.isFinite(v) ? Math.max(-clip, Math.min(clip, v)) : 0;
  };
  if (spec.calendar) {
    const t0 = openTimeOf(s, r);
    const hour = hourOf(t0);
    const day = weekdayOf(t0);
    for (let h = 0; h < 24; h++) x[offset++] = h === hour ? 1 : 0;
    for (let d = 0; d < 7; d++) x[offset++] = d === day ? 1 : 0;
  }
  const m = meanVolume(st, e - W + 1, e);
  const sigma = rmsLogReturn(st, e - W + 1, e);
  for (const w of spec.volumeWindows) put(Math.log((meanVolume(st, e - w + 1, e) + 1e-3 * m) / m));
  for (const w of spec.volatilityWindows) put(Math.log((rmsLogReturn(st, e - w + 1, e) + 1e-3 * sigma) / sigma));
  for (const w of spec.returnWindows) put(sumLogReturn(st, e - w + 1, e) / (sigma * Math.sqrt(w)));
  for (const days of spec.histCurveDays) {
    historicalVolumes(s, r, H, { days, byWeekday: false }, hv, e);
    let mean = 0;
    let count = 0;
    for (let t = 0; t < H; t++) if (hv[t]! >= 0) (mean += hv[t]!), count++;
    mean = count > 0 ? mean / count : NaN;
    for (let t = 0; t < H; t++) put(mean > 0 && hv[t]! >= 0 ? Math.log((hv[t]! + 1e-3 * mean) / mean) : 0);
  }
  if (spec.histVolatilityDays.length > 0) {
    const period = Math.round(86_400_000 / s.intervalMs);
    for (const days of spec.histVolatilityDays) {
      for (let t = 0; t < H; t++) {
        const k0 = r + t;
        const d0 = Math.max(1, Math.ceil((k0 - e) / period));
        let s2 = 0;
        let count = 0;
        for (let d = d0; d < d0 + days; d++) {
          const k = k0 - d * period;
          if (k < 1) break;
          if (k >= s.bars || s.missing[k] === 1) continue;
          s2 += st.logRet[k]! * st.logRet[k]!;
          count++;
        }
        put(count > 0 && sigma > 0 ? Math.log((Math.sqrt(s2 / count) + 1e-3 * sigma) / sigma) : 0);
      }
    }
  }
}
