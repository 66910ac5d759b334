/**
 * Execution strategies: how an order's quantity is released bin by bin into the fill simulator
 * (src/native/simulateFills.ts, method.md §8).
 *
 *   open loop    `schedule(ctx)` fixes every bin's fraction a [B, T] before the order starts
 *                (TWAP, historical curve, POV on the previous bin's volume, static models);
 *                the simulator adds what a capped bin could not fill to the next bin (carry).
 *   closed loop  `step(ctx, t, filled)` chooses bin t's fraction after seeing the fills of bins
 *                0 .. t-1 (filled [B, T] in base units; columns >= t are zero): the dynamic
 *                model reads its executed fractions, not its plan. The simulator's carry is
 *                then the strategy's job: the runner releases max(a_t·Q, carry) (runBacktest.ts).
 * A strategy reads only bars before each bin it decides (causal) and is registered by name;
 * any allocator of the allocator registry (twap, histCurve, checkpoints) is a strategy too.
 */
import { NamedRegistry } from '../namedRegistry.js';
import type { MarketSeries } from '../data/marketSeries.js';
import type { BacktestOrders } from './backtestOrders.js';
import type { OrderMarket } from './orderBins.js';

export interface StrategyContext {
  orders: BacktestOrders;
  /** series by asset index (bars of the store grid) */
  series: readonly MarketSeries[];
  /** bins of every order: price, volume [B, T], sigma, arrival price, ... */
  market: OrderMarket;
}

export interface Strategy {
  /** name in reports */
  readonly name: string;
  readonly loop: 'open' | 'closed';
  /** posts passively: pays no half spread and the maker fee, fills a smaller share of volume */
  readonly passive: boolean;
  /** open loop: fractions [B, T] of each order's quantity (rows need not sum to 1: POV) */
  schedule?(ctx: StrategyContext): Float64Array;
  /** closed loop: fractions [B] for bin t, given the fills [B, T] of bins < t */
  step?(ctx: StrategyContext, t: number, filled: Float64Array): Float64Array;
  dispose?(): void;
}

export interface StrategyEntry {
  name: string;
  description: string;
  create(options: StrategyOptions): Strategy;
}

/** What a factory may read from the command line or config. */
export interface StrategyOptions {
  /** POV: the share of the previous bin's volume to trade (default 0.1) */
  povRate?: number;
  /** historical curve: days of history (default 20) */
  histDays?: number;
}

const entries = new NamedRegistry<StrategyEntry>('a strategy');

/** Register a strategy under a name; ERR_ARG when the name is taken or malformed. */
export function registerStrategy(entry: StrategyEntry): void {
  entries.register(entry);
}

export function registeredStrategies(): readonly StrategyEntry[] {
  return entries.list();
}

/** A registered strategy by name, else undefined (the caller then tries the allocators). */
export function findStrategy(name: string): StrategyEntry | undefined {
  return entries.get(name);
}
