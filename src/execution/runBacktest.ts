/**
 * A backtest: every strategy executes the same orders through the fill simulator
 * (src/native/simulateFills.ts) on the same bins, then TCA (tca.ts) per order and aggregated.
 *
 *   open loop    schedule [B, T] → one native simulateFills call (threaded over orders)
 *   closed loop  for t = 0 .. T-1: the strategy's fraction a_t for every order (it sees the fills
 *                of bins < t) → one FillSimulator.step. The simulator carries unfilled
 *                quantity forward by itself; a closed-loop strategy already counts what is
 *                left, so the runner passes a'_t = max(0, a_t - carry_t/Q) and bin t's
 *                target is max(Q·a_t, carry_t): the model's wish, or at least the backlog.
 * The last bin releases whatever the strategy left unreleased (1 - Σ a_s, e.g. POV on a thin
 * market, or float32 rounding of a model's allocations), so that the final-bin rule ('sweep'
 * or 'leave') applies to the order's whole remainder.
 * PA compares each strategy with the baseline (TWAP when it runs) on the same orders.
 * Breakdowns: by asset, by size bucket (order size / ADV: < 0.5%, 0.5–2%, 2–5%, >= 5%) and by the
 * UTC hour of the order's start.
 * Cost: per strategy its schedule or T steps, the simulation O(B·T), TCA O(B·T).
 */
import { SigvwapError } from '../errors.js';
import type { MarketSeries } from '../data/marketSeries.js';
import { FillSimulator, simulateFills, type FillMarketInput, type FillParamsInput, type FillResult } from '../native/simulateFills.js';
import type { BacktestOrders } from './backtestOrders.js';
import type { OrderMarket } from './orderBins.js';
import type { Strategy, StrategyContext } from './strategy.js';
import { type OrderTca, type TcaSummary, orderTca, summarizeTca } from './tca.js';

export interface BacktestOptions {
  orders: BacktestOrders;
  series: readonly MarketSeries[];
  market: OrderMarket;
  strategies: readonly Strategy[];
  params?: FillParamsInput;
  /** limit price per order (NaN = none) */
  limitPrice?: Float64Array;
  /** strategy whose average price PA is measured against (default 'twap' when present) */
  baseline?: string;
  onProgress?: (p: { strategy: string; done: number; total: number }) => void;
}

export interface StrategyResult {
  name: string;
  loop: 'open' | 'closed';
  passive: boolean;
  /** fractions released to the simulator per bin [B, T] (its carry comes on top): the schedule
   * of an open-loop strategy, a'_t of a closed-loop one; Q·cumsum is the cumulative target */
  schedule: Float64Array;
  fills: FillResult;
  tca: OrderTca;
  summary: TcaSummary;
  byAsset: Record<string, TcaSummary>;
  bySize: Record<string, TcaSummary>;
  byHour: Record<string, TcaSummary>;
  elapsedMs: number;
}

export interface BacktestResult {
  orders: number;
  bins: number;
  binBars: number;
  baseline: string | null;
  strategies: StrategyResult[];
  elapsedMs: number;
}

export const SIZE_BUCKETS = [
  { label: '<0.5% ADV', max: 0.005 },
  { label: '0.5-2% ADV', max: 0.02 },
  { label: '2-5% ADV', max: 0.05 },
  { label: '>=5% ADV', max: Infinity },
] as const;

export function runBacktest(o: BacktestOptions): BacktestResult {
  const started = performance.now();
  const { orders, market } = o;
  const B = orders.assetIndex.length;
  const T = orders.bins;
  if (o.strategies.length === 0) throw new SigvwapError('ERR_ARG', 'strategies: name at least one strategy', { argument: 'strategies' });
  const names = o.strategies.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new SigvwapError('ERR_ARG', `strategies: ${dup} is listed twice`, { argument: 'strategies', value: dup });
  const ctx: StrategyContext = { orders, series: o.series, market };
  const base = {
    batch: B, horizon: T, price: market.price, volume: market.volume, sigma: market.sigma, halfSpreadBps: market.halfSpreadBps,
    quantity: orders.quantity, side: orders.side, arrivalPrice: market.arrivalPrice,
    ...(o.limitPrice ? { limitPrice: o.limitPrice } : {}),
  };
  const runs: { strategy: Strategy; fills: FillResult; schedule: Float64Array; elapsedMs: number }[] = [];
  o.strategies.forEach((strategy, i) => {
    const t0 = performance.now();
    const input = { ...base, passive: strategy.passive };
    let fills: FillResult;
    let schedule: Float64Array;
    if (strategy.loop === 'open') {
      schedule = strategy.schedule!(ctx);
      if (schedule.length !== B * T) throw new SigvwapError('ERR_SHAPE', `strategy ${strategy.name}: schedule has ${schedule.length} values, expected ${B * T}`, { argument: 'schedule', expected: B * T, actual: schedule.length });
      completeLastBin(schedule, B, T);
      fills = simulateFills({ ...input, schedule }, o.params);
    } else {
      ({ fills, schedule } = runClosedLoop(strategy, ctx, input, o.params));
    }
    runs.push({ strategy, fills, schedule, elapsedMs: performance.now() - t0 });
    o.onProgress?.({ strategy: strategy.name, done: i + 1, total: o.strategies.length });
  });
  const baselineName = o.baseline ?? (names.includes('twap') ? 'twap' : null);
  if (baselineName !== null && !names.includes(baselineName)) throw new SigvwapError('ERR_ARG', `baseline: ${baselineName} is not among the strategies`, { argument: 'baseline', value: baselineName });
  const baseRun = runs.find((r) => r.strategy.name === baselineName);
  const baseAvg = baseRun ? Float64Array.from({ length: B }, (_, b) => (baseRun.fills.filledQty[b]! > 0 ? baseRun.fills.notional[b]! / baseRun.fills.filledQty[b]! : NaN)) : undefined;
  const groups = breakdowns(orders, market);
  const strategies = runs.map(({ strategy, fills, schedule, elapsedMs }): StrategyResult => {
    const tca = orderTca(orders, market, fills, strategy.name === baselineName ? undefined : baseAvg);
    const by = (g: Map<string, number[]>) => Object.fromEntries([...g].map(([k, ids]) => [k, summarizeTca(tca, ids)]));
    return {
      name: strategy.name, loop: strategy.loop, passive: strategy.passive, schedule, fills, tca, summary: summarizeTca(tca),
      byAsset: by(groups.asset), bySize: by(groups.size), byHour: by(groups.hour), elapsedMs,
    };
  });
  return { orders: B, bins: T, binBars: orders.binBars, baseline: baselineName, strategies, elapsedMs: performance.now() - started };
}

function runClosedLoop(strategy: Strategy, ctx: StrategyContext, input: FillMarketInput, params?: FillParamsInput): { fills: FillResult; schedule: Float64Array } {
  const { orders } = ctx;
  const B = orders.assetIndex.length;
  const T = orders.bins;
  const sim = new FillSimulator(input, params);
  const filled = new Float64Array(B * T);
  const schedule = new Float64Array(B * T);
  let carry: Float64Array = new Float64Array(B); // what the simulator carries into the next bin
  const frac = new Float64Array(B);
  for (let t = 0; t < T; t++) {
    const a = strategy.step!(ctx, t, filled);
    if (a.length !== B) throw new SigvwapError('ERR_SHAPE', `strategy ${strategy.name}: step ${t} gave ${a.length} fractions, expected ${B}`, { argument: 'step', expected: B, actual: a.length });
    for (let b = 0; b < B; b++) {
      const Q = orders.quantity[b]!;
      frac[b] = Q > 0 ? Math.max(0, a[b]! - carry[b]! / Q) : 0;
      schedule[b * T + t] = frac[b]!;
    }
    if (t === T - 1) completeLastBin(schedule, B, T);
    for (let b = 0; b < B; b++) {
      frac[b] = schedule[b * T + t]!;
    }
    const bin = sim.step(frac);
    for (let b = 0; b < B; b++) filled[b * T + t] = bin.filled[b]!;
    carry = bin.carry;
  }
  return { fills: sim.finish(), schedule };
}

/** Add each row's unreleased share (1 - Σ a) to its last bin. */
function completeLastBin(schedule: Float64Array, B: number, T: number): void {
  for (let b = 0; b < B; b++) {
    let sum = 0;
    for (let t = 0; t < T; t++) sum += schedule[b * T + t]!;
    if (sum < 1) schedule[b * T + T - 1]! += 1 - sum;
  }
}

function breakdowns(orders: BacktestOrders, market: OrderMarket): { asset: Map<string, number[]>; size: Map<string, number[]>; hour: Map<string, number[]> } {
  const asset = new Map<string, number[]>();
  const size = new Map<string, number[]>();
  const hour = new Map<string, number[]>();
  const push = (m: Map<string, number[]>, k: string, b: number) => {
    const l = m.get(k) ?? [];
    l.push(b);
    m.set(k, l);
  };
  for (let b = 0; b < orders.assetIndex.length; b++) {
    push(asset, orders.symbols[orders.assetIndex[b]!]!, b);
    const share = orders.quantity[b]! / orders.adv[b]!;
    if (Number.isFinite(share)) push(size, SIZE_BUCKETS.find((s) => share < s.max)!.label, b);
    push(hour, String(new Date(market.startTimeMs[b]!).getUTCHours()).padStart(2, '0'), b);
  }
  return { asset, size, hour };
}
