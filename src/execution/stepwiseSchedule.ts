/**
 * Stepwise execution of one order with an allocator: `first()` gives a_0; `observe(bar)` takes
 * the bar that just completed (r, r+1, ...) and returns the next allocation; after H-1 bars
 * every allocation is known (the last is the remainder).
 * It keeps the history plus the bars observed so far and calls the allocator on a one-order
 * batch whose series ends at the last observed bar: the same code path as evaluation, so the
 * allocations equal the batch allocations exactly.
 * Cost: one forward pass of the allocator per observed bar.
 */
import { SigvwapError } from '../errors.js';
import { DEFAULT_STORE_DIR } from '../data/store.js';
import { loadStoreSeries } from '../data/loadStoreSeries.js';
import { type MarketSeries, type OrderBatch, truncateSeries } from '../data/marketSeries.js';
import { type Allocator, resolveAllocator } from '../allocators/index.js';
import { type ScheduleRequest, parseTime, startBar } from './scheduleOrder.js';

export interface ObservedBar {
  /** base volume of the bar */
  volume: number;
  /** quote volume (notional); the bar price is quoteVolume / volume */
  quoteVolume?: number;
  /** bar VWAP, when quoteVolume is not given */
  price?: number;
}

export class StepwiseSchedule {
  readonly allocator: Allocator;
  readonly horizon: number;
  readonly start: number;
  readonly allocations: number[] = [];
  #price: Float64Array;
  #volume: Float64Array;
  #missing: Uint8Array;
  #openTimeMs: Float64Array;
  #observed = 0;
  readonly #intervalMs: number;
  readonly #symbol: string;

  /** `history` holds bars < r only (r = history.bars). */
  constructor(allocator: Allocator, history: MarketSeries, horizon: number, symbol = 'asset') {
    if (allocator.horizon !== undefined && allocator.horizon !== horizon) {
      throw new SigvwapError('ERR_ARG', `horizon: the model ${allocator.label} schedules ${allocator.horizon} bars, got ${horizon}`, { argument: 'horizon' });
    }
    if (allocator.lookahead > 0) throw new SigvwapError('ERR_ARG', `model: ${allocator.label} looks ahead; stepwise execution needs a causal model`, { argument: 'model' });
    this.allocator = allocator;
    this.horizon = horizon;
    this.start = history.bars;
    this.#symbol = symbol;
    this.#intervalMs = history.intervalMs;
    const cap = history.bars + horizon;
    this.#price = new Float64Array(cap);
    this.#volume = new Float64Array(cap);
    this.#missing = new Uint8Array(cap);
    this.#openTimeMs = new Float64Array(cap);
    this.#price.set(history.price);
    this.#volume.set(history.volume);
    this.#missing.set(history.missing);
    this.#openTimeMs.set(history.openTimeMs);
    const t0 = history.bars > 0 ? history.openTimeMs[0]! : 0;
    for (let k = history.bars; k < cap; k++) this.#openTimeMs[k] = t0 + k * history.intervalMs;
  }

  /** Bars observed so far. */
  get observed(): number {
    return this.#observed;
  }

  #allocate(): number {
    const n = this.start + this.#observed;
    const series: MarketSeries = {
      intervalMs: this.#intervalMs,
      bars: n,
      openTimeMs: this.#openTimeMs.slice(0, n),
      price: this.#price.slice(0, n),
      volume: this.#volume.slice(0, n),
      missing: this.#missing.slice(0, n),
    };
    const orders: OrderBatch = { series: [series], assetIndex: Int32Array.of(0), bar: Int32Array.of(this.start), horizon: this.horizon, symbols: [this.#symbol] };
    const t = this.allocations.length;
    const a = this.allocator.allocate(orders)[t]!;
    this.allocations.push(a);
    return a;
  }

  /** a_0. */
  first(): number {
    if (this.allocations.length > 0) throw new SigvwapError('ERR_ARG', 'first() was already called', {});
    return this.#allocate();
  }

  /** Record the bar that just completed and return the next allocation. */
  observe(bar: ObservedBar): number {
    if (this.allocations.length === 0) throw new SigvwapError('ERR_ARG', 'call first() before observe()', {});
    if (this.allocations.length >= this.horizon) throw new SigvwapError('ERR_ARG', `all ${this.horizon} allocations are known; no bar left to observe`, {});
    const k = this.start + this.#observed;
    if (!(bar.volume >= 0)) throw new SigvwapError('ERR_ARG', `bar.volume: expected a non-negative number, got ${bar.volume}`, { argument: 'volume' });
    const prev = k > 0 ? this.#price[k - 1]! : NaN;
    let p = bar.quoteVolume !== undefined && bar.volume > 0 ? bar.quoteVolume / bar.volume : bar.price;
    if (!(p !== undefined && p > 0)) p = prev;
    this.#price[k] = p!;
    this.#volume[k] = bar.volume;
    this.#missing[k] = 0;
    this.#observed++;
    return this.#allocate();
  }
}

/** A stepwise schedule of an order starting at `start` from the bars in the store before it. */
export function beginStepwiseSchedule(request: Omit<ScheduleRequest, 'side' | 'quantity'>): StepwiseSchedule {
  const allocator = resolveAllocator(request.model);
  const full = loadStoreSeries(request.store ?? DEFAULT_STORE_DIR, request.asset);
  const r = startBar(full, parseTime(request.start), request.asset);
  const horizon = request.horizon ?? allocator.horizon ?? 12;
  return new StepwiseSchedule(allocator, truncateSeries(full, r), horizon, request.asset);
}
