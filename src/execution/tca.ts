/**
 * Transaction-cost analysis of simulated fills (method.md §8), per order and aggregated.
 *
 * Per order b (side s = +1 buy, -1 sell; costs in bps, positive = cost):
 *   avg price        P̄ = notional / filled
 *   slippageBps      s·(P̄ / VWAP_mkt - 1)·1e4      VWAP_mkt over the order's bins (the benchmark)
 *   shortfallBps     s·(P̄ / P_arrival - 1)·1e4     implementation shortfall of the filled part
 *   feeBps, spreadBps, impactBps (temporary + permanent): each cost / notional · 1e4
 *   totalCostBps     slippageBps + feeBps            (spread and impact are inside P̄)
 *   completion       filled / Q;  participation: mean and max over bins of q_t / V_t
 *   hit              slippageBps < 0 (beat the market VWAP)
 * qlib's names, against a baseline strategy (TWAP by default) on the same orders:
 *   PA (price advantage, bps)  s·(P̄_base - P̄) / P̄_base · 1e4  (positive = better than the baseline)
 *   FFR (fulfil rate)          = completion;  POS = share of orders with PA > 0
 * Aggregates (by strategy, and by asset, size bucket and start hour): order-weighted means
 * and the 5/25/50/75/95th percentiles of slippageBps; orders with nothing filled have NaN
 * price metrics and are left out of those means (counted in `unfilledOrders`).
 * Cost: O(B·T) per strategy plus sorting for percentiles.
 */
import type { BacktestOrders } from './backtestOrders.js';
import type { OrderMarket } from './orderBins.js';

/** The simulator's per-order outputs TCA reads (src/native/simulateFills.ts). */
export interface FillOutputs {
  filled: Float64Array;
  filledQty: Float64Array;
  notional: Float64Array;
  spreadCost: Float64Array;
  temporaryImpactCost: Float64Array;
  permanentImpactCost: Float64Array;
  feeCost: Float64Array;
  collarBlockedQty: Float64Array;
  stoppedAt: Int32Array;
  maxParticipation: Float64Array;
  marketVwap: Float64Array;
}

export interface OrderTca {
  avgPrice: Float64Array;
  slippageBps: Float64Array;
  shortfallBps: Float64Array;
  feeBps: Float64Array;
  spreadBps: Float64Array;
  impactBps: Float64Array;
  totalCostBps: Float64Array;
  completion: Float64Array;
  meanParticipation: Float64Array;
  maxParticipation: Float64Array;
  /** PA against the baseline strategy, bps (NaN without a baseline) */
  paBps: Float64Array;
  stopped: Uint8Array;
  collarBlockedQty: Float64Array;
}

export interface TcaSummary {
  orders: number;
  unfilledOrders: number;
  slippageBps: { mean: number; p5: number; p25: number; p50: number; p75: number; p95: number };
  shortfallBps: number;
  feeBps: number;
  spreadBps: number;
  impactBps: number;
  totalCostBps: number;
  completion: number;
  meanParticipation: number;
  maxParticipation: number;
  hitRate: number;
  paBps: number;
  /** qlib: fulfil rate and share of orders with PA > 0 */
  ffr: number;
  pos: number;
  stoppedOrders: number;
  collarBlockedQty: number;
}

/** Per-order TCA of one strategy's fills; `baselineAvgPrice` gives PA (e.g. TWAP's avgPrice). */
export function orderTca(orders: BacktestOrders, market: OrderMarket, fills: FillOutputs, baselineAvgPrice?: Float64Array): OrderTca {
  const B = orders.assetIndex.length;
  const T = orders.bins;
  const f = (n = B) => new Float64Array(n);
  const out: OrderTca = {
    avgPrice: f(), slippageBps: f(), shortfallBps: f(), feeBps: f(), spreadBps: f(), impactBps: f(), totalCostBps: f(), completion: f(),
    meanParticipation: f(), maxParticipation: Float64Array.from(fills.maxParticipation), paBps: f(), stopped: new Uint8Array(B), collarBlockedQty: Float64Array.from(fills.collarBlockedQty),
  };
  for (let b = 0; b < B; b++) {
    const side = orders.side[b]!;
    const q = fills.filledQty[b]!;
    const notional = fills.notional[b]!;
    const avg = q > 0 ? notional / q : NaN;
    const perNotional = (cost: number) => (notional > 0 ? (cost / notional) * 1e4 : NaN);
    out.avgPrice[b] = avg;
    out.slippageBps[b] = side * (avg / fills.marketVwap[b]! - 1) * 1e4;
    out.shortfallBps[b] = side * (avg / market.arrivalPrice[b]! - 1) * 1e4;
    out.feeBps[b] = perNotional(fills.feeCost[b]!);
    out.spreadBps[b] = perNotional(fills.spreadCost[b]!);
    out.impactBps[b] = perNotional(fills.temporaryImpactCost[b]! + fills.permanentImpactCost[b]!);
    out.totalCostBps[b] = out.slippageBps[b]! + out.feeBps[b]!;
    out.completion[b] = orders.quantity[b]! > 0 ? q / orders.quantity[b]! : NaN;
    let part = 0;
    let bins = 0;
    for (let t = 0; t < T; t++) {
      const v = market.volume[b * T + t]!;
      if (v > 0) {
        part += fills.filled[b * T + t]! / v;
        bins++;
      }
    }
    out.meanParticipation[b] = bins > 0 ? part / bins : NaN;
    const base = baselineAvgPrice?.[b];
    out.paBps[b] = base !== undefined && base > 0 ? (side * (base - avg) / base) * 1e4 : NaN;
    out.stopped[b] = fills.stoppedAt[b]! >= 0 ? 1 : 0;
  }
  return out;
}

/** Aggregate per-order TCA over the orders `index` (default: all). */
export function summarizeTca(t: OrderTca, index?: ArrayLike<number>): TcaSummary {
  const ids = index ?? Array.from({ length: t.slippageBps.length }, (_, i) => i);
  const filled: number[] = [];
  for (let i = 0; i < ids.length; i++) if (Number.isFinite(t.slippageBps[ids[i]!]!)) filled.push(ids[i]!);
  const mean = (a: Float64Array | Uint8Array, over: readonly number[] | ArrayLike<number> = filled) => {
    let s = 0;
    let n = 0;
    for (let i = 0; i < over.length; i++) {
      const x = a[over[i]!]!;
      if (Number.isFinite(x)) {
        s += x;
        n++;
      }
    }
    return n > 0 ? s / n : NaN;
  };
  const slip = Float64Array.from(filled, (i) => t.slippageBps[i]!).sort();
  const q = (p: number) => quantile(slip, p);
  let hits = 0;
  let pos = 0;
  let paN = 0;
  let stopped = 0;
  let blocked = 0;
  let maxPart = 0;
  for (const i of filled) {
    if (t.slippageBps[i]! < 0) hits++;
    if (Number.isFinite(t.paBps[i]!)) {
      paN++;
      if (t.paBps[i]! > 0) pos++;
    }
  }
  for (let k = 0; k < ids.length; k++) {
    const i = ids[k]!;
    stopped += t.stopped[i]!;
    blocked += t.collarBlockedQty[i]!;
    if (t.maxParticipation[i]! > maxPart) maxPart = t.maxParticipation[i]!;
  }
  return {
    orders: ids.length,
    unfilledOrders: ids.length - filled.length,
    slippageBps: { mean: mean(t.slippageBps), p5: q(0.05), p25: q(0.25), p50: q(0.5), p75: q(0.75), p95: q(0.95) },
    shortfallBps: mean(t.shortfallBps),
    feeBps: mean(t.feeBps),
    spreadBps: mean(t.spreadBps),
    impactBps: mean(t.impactBps),
    totalCostBps: mean(t.totalCostBps),
    completion: mean(t.completion, ids),
    meanParticipation: mean(t.meanParticipation),
    maxParticipation: maxPart,
    hitRate: filled.length > 0 ? hits / filled.length : NaN,
    paBps: mean(t.paBps),
    ffr: mean(t.completion, ids),
    pos: paN > 0 ? pos / paN : NaN,
    stoppedOrders: stopped,
    collarBlockedQty: blocked,
  };
}

/** Linear-interpolated quantile of sorted values (NaN when empty). */
export function quantile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const x = p * (sorted.length - 1);
  const lo = Math.floor(x);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (x - lo) * (sorted[hi]! - sorted[lo]!);
}
