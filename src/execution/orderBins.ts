/**
 * The market each backtest order meets, bin by bin, and the causal cost inputs measured before
 * it (method.md §8, issue F). Bin t of order b covers the grid bars
 * startBar + t·binBars .. startBar + (t+1)·binBars - 1.
 *
 *   price [B, T]        the bin's VWAP Σ V_k p_k / Σ V_k over its bars (p_k the bar price of the
 *                       series: the bar VWAP, or the typical price for bars without quote volume,
 *                       carried forward over empty bars); without volume, the last bar's price
 *                       (the price carried forward to the end of the bin)
 *   volume [B, T]       Σ V_k
 *   sigma [B]           per-bin volatility: the RMS (no mean removed) of the log returns of
 *                       bin-sized blocks before the order. Blocks of binBars bars are laid back
 *                       from bar startBar-1 (block j ends at startBar-1-j·binBars); the return of
 *                       a block is ln(p_end / p_end-binBars) between the prices at the ends of
 *                       the block and of the block before it, and it is used only when both
 *                       blocks hold a bar present in the data (so an overnight or suspension gap
 *                       contributes no jump); the `sigmaBins` (default 60) most recent usable
 *                       blocks count. NaN when there is none (an order at the series' start).
 *   arrivalPrice [B]    the price of bar startBar-1 (the last bar before the order, carried
 *                       forward); NaN when the order starts at bar 0
 *   halfSpreadBps [B]   a constant, 1 bp by default (a liquid crypto major or large-cap stock;
 *                       minute and hourly bars carry no quotes), or 'corwin-schultz': the
 *                       Corwin-Schultz (2012) high-low estimator over the `spreadBars` (default
 *                       390) most recent pairs of consecutive bars present in the data before the
 *                       order: per pair β = ln²(H1/L1) + ln²(H2/L2), γ = ln²(max H / min L),
 *                       α = (√(2β) - √β)/(3 - 2√2) - √(γ/(3 - 2√2)), S = 2(e^α - 1)/(1 + e^α),
 *                       negative S set to 0; half spread = mean S / 2 · 1e4 bps. No overnight
 *                       adjustment (pairs across a gap are not used). Without a usable pair, the
 *                       constant `fallbackHalfSpreadBps` (default 1). Needs `high`/`low` in the
 *                       series (AssetSeries has them).
 *   startTimeMs [B]     the open time of the order's first bar
 * Causality: sigma, arrivalPrice and halfSpreadBps read bars < startBar only.
 * Cost: O(B·T·binBars) for the bins plus O(sigmaBins·binBars + spreadBars) per order (more
 * when gaps must be scanned over).
 */
import { SigvwapError } from '../errors.js';
import type { MarketSeries } from '../data/marketSeries.js';
import { presentPrefix } from '../data/sessions.js';
import { checkBacktestOrders, type BacktestOrders } from './backtestOrders.js';

/** A series with the bar high and low (needed by the Corwin-Schultz spread only). */
export interface BinSeries extends MarketSeries {
  high?: Float64Array;
  low?: Float64Array;
}

export interface OrderBinsOptions {
  /** half spread in bps, a constant (default 1) or 'corwin-schultz' (estimated before each order) */
  halfSpreadBps?: number | 'corwin-schultz';
  /** Corwin-Schultz: pairs of consecutive present bars before the order (default 390) */
  spreadBars?: number;
  /** Corwin-Schultz: the half spread where no pair is usable (default 1 bp) */
  fallbackHalfSpreadBps?: number;
  /** bin-sized returns before the order in sigma (default 60) */
  sigmaBins?: number;
}

export const DEFAULT_HALF_SPREAD_BPS = 1;
export const DEFAULT_SPREAD_BARS = 390;
export const DEFAULT_SIGMA_BINS = 60;

/** What an order meets: bins [B, T] row-major, per-order values [B]. */
export interface OrderMarket {
  bins: number;
  binBars: number;
  price: Float64Array;
  volume: Float64Array;
  sigma: Float64Array;
  arrivalPrice: Float64Array;
  halfSpreadBps: Float64Array;
  startTimeMs: Float64Array;
}

function argError(argument: string, message: string, value: unknown): SigvwapError {
  return new SigvwapError('ERR_ARG', `${argument}: ${message}`, { argument, value });
}

export function orderBins(series: readonly BinSeries[], orders: BacktestOrders, options: OrderBinsOptions = {}): OrderMarket {
  checkBacktestOrders(orders, series);
  const spreadOpt = options.halfSpreadBps ?? DEFAULT_HALF_SPREAD_BPS;
  if (spreadOpt !== 'corwin-schultz' && !(typeof spreadOpt === 'number' && spreadOpt >= 0 && Number.isFinite(spreadOpt))) {
    throw argError('halfSpreadBps', `expected a number of bps >= 0 or 'corwin-schultz', got ${JSON.stringify(spreadOpt)}`, spreadOpt);
  }
  const sigmaBins = options.sigmaBins ?? DEFAULT_SIGMA_BINS;
  if (!Number.isInteger(sigmaBins) || sigmaBins < 1) throw argError('sigmaBins', `expected a positive integer, got ${sigmaBins}`, sigmaBins);
  const spreadBars = options.spreadBars ?? DEFAULT_SPREAD_BARS;
  if (!Number.isInteger(spreadBars) || spreadBars < 1) throw argError('spreadBars', `expected a positive integer, got ${spreadBars}`, spreadBars);
  const fallback = options.fallbackHalfSpreadBps ?? DEFAULT_HALF_SPREAD_BPS;
  if (!(fallback >= 0 && Number.isFinite(fallback))) throw argError('fallbackHalfSpreadBps', `expected a number of bps >= 0, got ${fallback}`, fallback);

  const B = orders.assetIndex.length;
  const T = orders.bins;
  const m = orders.binBars;
  const out: OrderMarket = {
    bins: T, binBars: m,
    price: new Float64Array(B * T), volume: new Float64Array(B * T),
    sigma: new Float64Array(B), arrivalPrice: new Float64Array(B), halfSpreadBps: new Float64Array(B), startTimeMs: new Float64Array(B),
  };
  for (let b = 0; b < B; b++) {
    const s = series[orders.assetIndex[b]!]!;
    const r = orders.startBar[b]!;
    for (let t = 0; t < T; t++) {
      const from = r + t * m;
      let v = 0;
      let pv = 0;
      for (let k = from; k < from + m; k++) {
        const vk = s.volume[k]!;
        if (vk > 0) {
          v += vk;
          pv += vk * s.price[k]!;
        }
      }
      out.volume[b * T + t] = v;
      out.price[b * T + t] = v > 0 ? pv / v : s.price[from + m - 1]!;
    }
    out.startTimeMs[b] = s.openTimeMs[r]!;
    out.arrivalPrice[b] = r > 0 ? s.price[r - 1]! : NaN;
    out.sigma[b] = binSigma(s, r, m, sigmaBins);
    if (spreadOpt === 'corwin-schultz') {
      if (!s.high || !s.low) throw argError('halfSpreadBps', `'corwin-schultz' needs the bar high and low in the series of ${orders.symbols[orders.assetIndex[b]!] ?? `asset ${orders.assetIndex[b]}`} (AssetSeries has them)`, spreadOpt);
      const est = corwinSchultzHalfSpreadBps(s as Required<BinSeries>, r, spreadBars);
      out.halfSpreadBps[b] = Number.isNaN(est) ? fallback : est;
    } else out.halfSpreadBps[b] = spreadOpt;
  }
  return out;
}

/** RMS log return of the `bins` most recent usable bin-sized blocks before bar r (see the header); NaN when none. */
export function binSigma(s: MarketSeries, r: number, binBars: number, bins = DEFAULT_SIGMA_BINS): number {
  const present = presentPrefix(s);
  const hasBar = (from: number, to: number) => present[to]! - present[from]! > 0; // bars from .. to-1
  let sum = 0;
  let n = 0;
  for (let end = r - 1; end - 2 * binBars + 1 >= 0 && n < bins; end -= binBars) {
    const blockFrom = end - binBars + 1;
    if (!hasBar(blockFrom, end + 1) || !hasBar(blockFrom - binBars, blockFrom)) continue;
    const a = s.price[blockFrom - 1]!;
    const z = s.price[end]!;
    if (!(a > 0 && z > 0)) continue;
    const lr = Math.log(z / a);
    sum += lr * lr;
    n++;
  }
  return n > 0 ? Math.sqrt(sum / n) : NaN;
}

const K = 3 - 2 * Math.SQRT2;

/** Corwin-Schultz half spread (bps) from up to `pairs` pairs of consecutive present bars before bar r; NaN when none. */
export function corwinSchultzHalfSpreadBps(s: Required<BinSeries>, r: number, pairs = DEFAULT_SPREAD_BARS): number {
  let sum = 0;
  let n = 0;
  for (let k = r - 1; k >= 1 && n < pairs; k--) {
    if (s.missing[k] === 1 || s.missing[k - 1] === 1) continue;
    const h1 = s.high[k - 1]!, l1 = s.low[k - 1]!, h2 = s.high[k]!, l2 = s.low[k]!;
    if (!(h1 > 0 && l1 > 0 && h2 > 0 && l2 > 0 && h1 >= l1 && h2 >= l2)) continue;
    const r1 = Math.log(h1 / l1);
    const r2 = Math.log(h2 / l2);
    const beta = r1 * r1 + r2 * r2;
    const g = Math.log(Math.max(h1, h2) / Math.min(l1, l2));
    const gamma = g * g;
    const alpha = (Math.sqrt(2 * beta) - Math.sqrt(beta)) / K - Math.sqrt(gamma / K);
    const e = Math.exp(alpha);
    const spread = (2 * (e - 1)) / (1 + e);
    sum += spread > 0 ? spread : 0;
    n++;
  }
  return n > 0 ? (sum / n / 2) * 1e4 : NaN;
}
