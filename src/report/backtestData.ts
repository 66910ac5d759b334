/**
 * What the backtest report draws, aggregated in TypeScript from a `BacktestResult` so that a
 * chart embeds O(strategies × bins) or O(strategies × assets) points, never one per order
 * (a report of 400,000 orders is as large as one of 400).
 *
 *   volumeCurve        per bin t: the mean over orders of V[b,t] / Σ_t V[b,t] (orders with no
 *                      volume left out) and, per strategy, the mean released fraction a[b,t]
 *   chooseOrder        the order drawn in full: `orderIndex` when given, else the one with the
 *                      largest completion shortfall of the reference strategy (TWAP, else the
 *                      baseline, else the first), else (all complete) its median-slippage order
 *   orderPath          that order's cumulative target (Q·Σ a) and fills, % of its quantity,
 *                      per strategy, with the market's cumulative volume share
 *   slippageStats      per strategy: 1/5/25/50/75/95/99th percentiles and mean of slippageBps;
 *                      a histogram over [min p1, max p99] (values outside are not drawn and
 *                      counted in `outsideShare`)
 *   assetImprovement   per asset and strategy: mean over orders of slippage(TWAP) − slippage(s)
 *                      (bps, positive = better than TWAP) with a ±1.96 standard-error interval;
 *                      the 20 assets with the most orders, plus an "(all)" row when there are several
 *   impactBySize       per strategy: mean impactBps in equal-count bins of order size, the
 *                      size being quantity / ADV when it varies across orders, else quantity /
 *                      the order's interval market volume (a fixed %ADV backtest still shows
 *                      impact against how much of the market the order took)
 *   participation      per strategy: mean completion, mean participation, mean of the per-order
 *                      maximum, and the maximum over orders
 * Cost: O(B·T) per strategy plus a sort of B values per strategy.
 */
import { SigvwapError } from '../errors.js';
import type { BacktestOrders } from '../execution/backtestOrders.js';
import type { OrderMarket } from '../execution/orderBins.js';
import type { BacktestResult, StrategyResult } from '../execution/runBacktest.js';
import { quantile } from '../execution/tca.js';

export const MARKET_SERIES = 'market volume';
export const ALL_ASSETS = '(all)';
export const MAX_ASSETS = 20;
const HIST_BINS = 40;
const SIZE_BINS = 10;

export interface CurveRow { bin: number; series: string; pct: number }

export function volumeCurve(r: BacktestResult, market: OrderMarket): CurveRow[] {
  const B = r.orders;
  const T = r.bins;
  const share = new Float64Array(T);
  let n = 0;
  for (let b = 0; b < B; b++) {
    let total = 0;
    for (let t = 0; t < T; t++) total += market.volume[b * T + t]!;
    if (!(total > 0)) continue;
    n++;
    for (let t = 0; t < T; t++) share[t]! += market.volume[b * T + t]! / total;
  }
  const rows: CurveRow[] = [];
  for (let t = 0; t < T; t++) rows.push({ bin: t + 1, series: MARKET_SERIES, pct: n > 0 ? (100 * share[t]!) / n : NaN });
  for (const s of r.strategies) {
    const mean = new Float64Array(T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) mean[t]! += s.schedule[b * T + t]!;
    for (let t = 0; t < T; t++) rows.push({ bin: t + 1, series: s.name, pct: B > 0 ? (100 * mean[t]!) / B : NaN });
  }
  return rows.filter((row) => Number.isFinite(row.pct));
}

/** TWAP, else the baseline, else the first strategy. */
export function referenceStrategy(r: BacktestResult): StrategyResult | undefined {
  return r.strategies.find((s) => s.name === 'twap') ?? r.strategies.find((s) => s.name === r.baseline) ?? r.strategies[0];
}

export interface ChosenOrder { index: number; reason: string }

export function chooseOrder(r: BacktestResult, orderIndex?: number): ChosenOrder {
  const B = r.orders;
  if (orderIndex !== undefined) {
    if (!Number.isInteger(orderIndex) || orderIndex < 0 || orderIndex >= B) {
      throw new SigvwapError('ERR_ARG', `orderIndex: expected an order index in 0..${B - 1}, got ${orderIndex}`, { argument: 'orderIndex', value: orderIndex });
    }
    return { index: orderIndex, reason: 'chosen by the caller' };
  }
  const ref = referenceStrategy(r);
  if (!ref || B === 0) return { index: 0, reason: 'the first order' };
  let worst = -1;
  let gap = 1e-9;
  for (let b = 0; b < B; b++) {
    const g = 1 - ref.tca.completion[b]!;
    if (g > gap) {
      gap = g;
      worst = b;
    }
  }
  if (worst >= 0) return { index: worst, reason: `the largest completion shortfall of ${ref.name} (${(100 * gap).toFixed(1)}% unfilled)` };
  const ids: number[] = [];
  for (let b = 0; b < B; b++) if (Number.isFinite(ref.tca.slippageBps[b]!)) ids.push(b);
  if (ids.length === 0) return { index: 0, reason: 'the first order' };
  ids.sort((x, y) => ref.tca.slippageBps[x]! - ref.tca.slippageBps[y]! || x - y);
  return { index: ids[(ids.length - 1) >> 1]!, reason: `the median ${ref.name} slippage (every ${ref.name} order completed)` };
}

export interface PathRow { bin: number; strategy: string; kind: 'target' | 'filled'; pct: number }

export function orderPath(r: BacktestResult, orders: BacktestOrders, market: OrderMarket, b: number): { rows: PathRow[]; market: { bin: number; pct: number }[] } {
  const T = r.bins;
  const Q = orders.quantity[b]!;
  const rows: PathRow[] = [];
  for (const s of r.strategies) {
    let target = 0;
    let filled = 0;
    rows.push({ bin: 0, strategy: s.name, kind: 'target', pct: 0 }, { bin: 0, strategy: s.name, kind: 'filled', pct: 0 });
    for (let t = 0; t < T; t++) {
      target += s.schedule[b * T + t]!;
      filled += s.fills.filled[b * T + t]!;
      rows.push({ bin: t + 1, strategy: s.name, kind: 'target', pct: 100 * target }, { bin: t + 1, strategy: s.name, kind: 'filled', pct: Q > 0 ? (100 * filled) / Q : NaN });
    }
  }
  let total = 0;
  for (let t = 0; t < T; t++) total += market.volume[b * T + t]!;
  const cum: { bin: number; pct: number }[] = [{ bin: 0, pct: 0 }];
  let acc = 0;
  for (let t = 0; t < T; t++) {
    acc += market.volume[b * T + t]!;
    cum.push({ bin: t + 1, pct: total > 0 ? (100 * acc) / total : NaN });
  }
  return { rows: rows.filter((x) => Number.isFinite(x.pct)), market: cum.filter((x) => Number.isFinite(x.pct)) };
}

export interface SlippageBox { strategy: string; n: number; p1: number; p5: number; p25: number; p50: number; p75: number; p95: number; p99: number; mean: number; outsideShare: number }
export interface HistRow { strategy: string; mid: number; pct: number }

export function slippageStats(r: BacktestResult): { boxes: SlippageBox[]; hist: HistRow[]; domain: [number, number] } | undefined {
  const sorted = r.strategies.map((s) => {
    const v = s.tca.slippageBps.filter((x) => Number.isFinite(x)).sort();
    return { s, v };
  });
  const filledAny = sorted.filter((x) => x.v.length > 0);
  if (filledAny.length === 0) return undefined;
  let lo = Math.min(...filledAny.map((x) => quantile(x.v, 0.01)));
  let hi = Math.max(...filledAny.map((x) => quantile(x.v, 0.99)));
  if (!(hi > lo)) {
    lo -= 1;
    hi += 1;
  }
  const width = (hi - lo) / HIST_BINS;
  const boxes: SlippageBox[] = [];
  const hist: HistRow[] = [];
  for (const { s, v } of filledAny) {
    const counts = new Float64Array(HIST_BINS);
    let outside = 0;
    let sum = 0;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      sum += x;
      if (x < lo || x > hi) {
        outside++;
        continue;
      }
      counts[Math.min(HIST_BINS - 1, Math.floor((x - lo) / width))]!++;
    }
    boxes.push({
      strategy: s.name, n: v.length, mean: sum / v.length, outsideShare: outside / v.length,
      p1: quantile(v, 0.01), p5: quantile(v, 0.05), p25: quantile(v, 0.25), p50: quantile(v, 0.5), p75: quantile(v, 0.75), p95: quantile(v, 0.95), p99: quantile(v, 0.99),
    });
    for (let k = 0; k < HIST_BINS; k++) hist.push({ strategy: s.name, mid: lo + (k + 0.5) * width, pct: (100 * counts[k]!) / v.length });
  }
  return { boxes, hist, domain: [lo, hi] };
}

export interface ImprovementRow { asset: string; strategy: string; meanBps: number; lo: number; hi: number; n: number }

export function assetImprovement(r: BacktestResult, orders: BacktestOrders): { base: string; rows: ImprovementRow[]; assets: string[]; totalAssets: number } | undefined {
  const base = r.strategies.find((s) => s.name === 'twap') ?? r.strategies.find((s) => s.name === r.baseline);
  const others = r.strategies.filter((s) => s !== base);
  if (!base || others.length === 0) return undefined;
  const B = r.orders;
  const countByAsset = new Map<number, number>();
  for (let b = 0; b < B; b++) countByAsset.set(orders.assetIndex[b]!, (countByAsset.get(orders.assetIndex[b]!) ?? 0) + 1);
  const ranked = [...countByAsset.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0]).slice(0, MAX_ASSETS).map(([a]) => a);
  const keep = new Set(ranked);
  const assets = ranked.map((a) => orders.symbols[a]!).sort();
  const rows: ImprovementRow[] = [];
  for (const s of others) {
    // Welford-free: sums and sums of squares per asset (differences are a few bps)
    const acc = new Map<number, { n: number; sum: number; sq: number }>();
    const all = { n: 0, sum: 0, sq: 0 };
    for (let b = 0; b < B; b++) {
      const d = base.tca.slippageBps[b]! - s.tca.slippageBps[b]!;
      if (!Number.isFinite(d)) continue;
      all.n++;
      all.sum += d;
      all.sq += d * d;
      const a = orders.assetIndex[b]!;
      if (!keep.has(a)) continue;
      const e = acc.get(a) ?? { n: 0, sum: 0, sq: 0 };
      e.n++;
      e.sum += d;
      e.sq += d * d;
      acc.set(a, e);
    }
    const row = (asset: string, e: { n: number; sum: number; sq: number }): ImprovementRow | undefined => {
      if (e.n === 0) return undefined;
      const mean = e.sum / e.n;
      const se = e.n > 1 ? Math.sqrt(Math.max(0, (e.sq - e.n * mean * mean) / (e.n - 1)) / e.n) : 0;
      return { asset, strategy: s.name, meanBps: mean, lo: mean - 1.96 * se, hi: mean + 1.96 * se, n: e.n };
    };
    const total = countByAsset.size > 1 ? row(ALL_ASSETS, all) : undefined;
    if (total) rows.push(total);
    for (const a of ranked) {
      const e = acc.get(a);
      const x = e && row(orders.symbols[a]!, e);
      if (x) rows.push(x);
    }
  }
  return { base: base.name, rows, assets: countByAsset.size > 1 ? [ALL_ASSETS, ...assets] : assets, totalAssets: countByAsset.size };
}

export interface ImpactRow { strategy: string; sizePct: number; impactBps: number; n: number }

export function impactBySize(r: BacktestResult, orders: BacktestOrders): { rows: ImpactRow[]; measure: 'adv' | 'interval' } | undefined {
  const B = r.orders;
  const first = r.strategies[0];
  if (!first) return undefined;
  const adv = new Float64Array(B);
  let lo = Infinity;
  let hi = -Infinity;
  for (let b = 0; b < B; b++) {
    const x = orders.quantity[b]! / orders.adv[b]!;
    adv[b] = x;
    if (Number.isFinite(x) && x > 0) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
  }
  const varies = hi > lo * 1.05;
  const measure: 'adv' | 'interval' = varies ? 'adv' : 'interval';
  const size = varies ? adv : Float64Array.from({ length: B }, (_, b) => orders.quantity[b]! / first.fills.marketVolume[b]!);
  const ids: number[] = [];
  for (let b = 0; b < B; b++) if (Number.isFinite(size[b]!) && size[b]! > 0) ids.push(b);
  if (ids.length === 0) return undefined;
  ids.sort((x, y) => size[x]! - size[y]!);
  const k = Math.max(1, Math.min(SIZE_BINS, Math.floor(ids.length / 5)));
  const rows: ImpactRow[] = [];
  for (const s of r.strategies) {
    for (let j = 0; j < k; j++) {
      const from = Math.floor((j * ids.length) / k);
      const to = Math.floor(((j + 1) * ids.length) / k);
      let sx = 0;
      let sy = 0;
      let n = 0;
      for (let i = from; i < to; i++) {
        const b = ids[i]!;
        const y = s.tca.impactBps[b]!;
        if (!Number.isFinite(y)) continue;
        sx += size[b]!;
        sy += y;
        n++;
      }
      if (n > 0) rows.push({ strategy: s.name, sizePct: (100 * sx) / n, impactBps: sy / n, n });
    }
  }
  return { rows, measure };
}

export interface ParticipationRow { strategy: string; completionPct: number; meanPct: number; meanMaxPct: number; maxPct: number }

export function participation(r: BacktestResult): ParticipationRow[] {
  return r.strategies.map((s) => {
    let sum = 0;
    let n = 0;
    for (let b = 0; b < r.orders; b++) {
      const x = s.tca.maxParticipation[b]!;
      if (s.fills.filledQty[b]! > 0 && Number.isFinite(x)) {
        sum += x;
        n++;
      }
    }
    return {
      strategy: s.name, completionPct: 100 * s.summary.completion, meanPct: 100 * s.summary.meanParticipation,
      meanMaxPct: n > 0 ? (100 * sum) / n : NaN, maxPct: 100 * s.summary.maxParticipation,
    };
  });
}
