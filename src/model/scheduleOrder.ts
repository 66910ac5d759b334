/**
 * Inference: the schedule of one order from a trained model and the bars in the store, and
 * the stepwise form of a dynamic model (feed each completed bar, get the next allocation).
 *
 * The series handed to the model is cut at the last bar the model may read: bars < r for a
 * causal static model (r = the order's first bar), bars < r+H-1 for a causal dynamic model
 * (a_t reads bars <= r+t-1); k more with lookahead k. For a live order (r = one bar after the
 * store's last bar) a dynamic model's a_0 is firm and a_1.. are a plan: its base curve b
 * scaled to the remaining quantity; for a historical order every a_t whose bars are in the
 * store is firm (a replay of the execution).
 * Stepwise: `StepwiseSchedule` keeps the history plus the bars observed so far and calls the
 * allocator on a one-order batch whose series ends at the last observed bar: the same code
 * path as evaluation, so the allocations equal the batch allocations exactly.
 * Cost: reading and gridding one asset (O(bars)), one forward pass per call.
 */
import { SigvwapError } from '../errors.js';
import {
  DEFAULT_STORE_DIR, buildAssetFeatures, intervalToMs, openStoreManifest, readStoreAsset,
} from '../data/index.js';
import { type Allocator, histCurveAllocator, twapAllocator } from './allocator.js';
import { loadAllocator } from './checkpoint.js';
import type { MarketSeries, OrderBatch } from './marketSeries.js';
import { NeuralAllocator } from './neuralAllocator.js';
import { staticHistoryBars } from './staticFeatures.js';

export type Side = 'buy' | 'sell';

export interface ScheduleRequest {
  /** checkpoint path, or 'twap' | 'histCurve', or an allocator */
  model: string | Allocator;
  store?: string;
  asset: string;
  /** open time of the order's first bar (ISO-8601 or epoch ms) */
  start: string | number | Date;
  /** bars of the order (default: the model's horizon, 12 for twap/histCurve) */
  horizon?: number;
  side?: Side;
  /** total quantity to split (optional) */
  quantity?: number;
}

export interface ScheduleBar {
  openTime: string;
  openTimeMs: number;
  fraction: number;
  quantity: number | null;
  /** false: a plan that a dynamic model revises when the preceding bars are known */
  firm: boolean;
}

export interface Schedule {
  asset: string;
  side: Side;
  model: string;
  lookahead: number;
  causal: boolean;
  horizon: number;
  intervalMs: number;
  startMs: number;
  /** open time of the last bar of history the schedule read */
  historyEndMs: number;
  bars: ScheduleBar[];
}

/** A series whose arrays are views of the first `bars` bars of `s`. */
export function truncateSeries(s: MarketSeries, bars: number): MarketSeries {
  const n = Math.max(0, Math.min(bars, s.bars));
  return { intervalMs: s.intervalMs, bars: n, openTimeMs: s.openTimeMs.subarray(0, n), price: s.price.subarray(0, n), volume: s.volume.subarray(0, n), missing: s.missing.subarray(0, n) };
}

function resolveAllocator(model: string | Allocator): Allocator {
  if (typeof model !== 'string') return model;
  if (model === 'twap') return twapAllocator();
  if (model === 'histCurve') return histCurveAllocator();
  return loadAllocator(model);
}

function parseTime(start: ScheduleRequest['start']): number {
  const ms = start instanceof Date ? start.getTime() : typeof start === 'number' ? start : Date.parse(start);
  if (!Number.isFinite(ms)) throw new SigvwapError('ERR_ARG', `start: expected an ISO-8601 time or epoch milliseconds, got ${JSON.stringify(start)}`, { argument: 'start', value: start });
  return ms;
}

/** Bars a model reads after the order's start bar r (exclusive bound offset): see the header. */
function readsUpTo(allocator: Allocator, horizon: number): number {
  const k = allocator.lookahead;
  return allocator.kind === 'dynamic' ? horizon - 1 + k : k;
}

/** Bars of history a model needs before r. */
function historyNeeded(allocator: Allocator, intervalMs: number): number {
  if (allocator instanceof NeuralAllocator) {
    const c = allocator.config;
    const stat = c.kind === 'constCurve' ? 0 : staticHistoryBars(c.staticFeatures, intervalMs);
    const seq = c.kind === 'dynamic' ? c.dynamic.sequence.encoderLookback + c.dynamic.sequence.baselineBars : 0;
    return Math.max(stat, seq);
  }
  return allocator.kind === 'histCurve' ? Math.round(86_400_000 / intervalMs) : 0;
}

/** Load one asset's series from the store. */
export function loadStoreSeries(store: string, asset: string): MarketSeries {
  const manifest = openStoreManifest(store);
  const entry = manifest.assets[asset];
  if (!entry) throw new SigvwapError('ERR_ARG', `asset: ${asset} is not in the store ${store} (it holds ${Object.keys(manifest.assets).length} assets)`, { argument: 'asset', value: asset });
  const { bars } = readStoreAsset(store, entry);
  const intervalMs = intervalToMs(entry.interval);
  const { series } = buildAssetFeatures(bars, intervalMs, {
    features: ['volume'], lookback: 1, horizon: 1, normalizerBars: 1, normalizer: 'mean', testFraction: 0, validationFraction: 0, purge: false,
  }, asset);
  return series;
}

function startBar(series: MarketSeries, startMs: number, asset: string): number {
  const first = series.openTimeMs[0]!;
  const r = (startMs - first) / series.intervalMs;
  const last = first + (series.bars - 1) * series.intervalMs;
  if (!Number.isInteger(r)) throw new SigvwapError('ERR_ARG', `start: ${new Date(startMs).toISOString()} is not on the ${series.intervalMs / 60000}-minute bar grid of ${asset}`, { argument: 'start' });
  if (r < 0 || r > series.bars) {
    throw new SigvwapError('ERR_ARG', `start: ${new Date(startMs).toISOString()} is outside ${asset}'s history in the store (${new Date(first).toISOString()} .. ${new Date(last).toISOString()}; the latest schedulable start is the next bar, ${new Date(last + series.intervalMs).toISOString()})`, { argument: 'start' });
  }
  return r;
}

/** The schedule of one order. */
export function scheduleOrder(request: ScheduleRequest): Schedule {
  const allocator = resolveAllocator(request.model);
  const store = request.store ?? DEFAULT_STORE_DIR;
  const full = loadStoreSeries(store, request.asset);
  const startMs = parseTime(request.start);
  const r = startBar(full, startMs, request.asset);
  const horizon = request.horizon ?? allocator.horizon ?? 12;
  if (allocator.horizon !== undefined && horizon !== allocator.horizon) {
    throw new SigvwapError('ERR_ARG', `horizon: the model ${allocator.label} schedules ${allocator.horizon} bars, got ${horizon}`, { argument: 'horizon', expected: allocator.horizon, actual: horizon });
  }
  if (!Number.isInteger(horizon) || horizon < 1) throw new SigvwapError('ERR_ARG', `horizon: expected a positive integer, got ${horizon}`, { argument: 'horizon', value: horizon });
  const side = request.side ?? 'buy';
  if (side !== 'buy' && side !== 'sell') throw new SigvwapError('ERR_ARG', `side: expected buy or sell, got ${JSON.stringify(side)}`, { argument: 'side', value: side });
  if (request.quantity !== undefined && !(request.quantity > 0)) throw new SigvwapError('ERR_ARG', `quantity: expected a positive number, got ${request.quantity}`, { argument: 'quantity', value: request.quantity });
  const need = historyNeeded(allocator, full.intervalMs);
  if (r < need) throw new SigvwapError('ERR_ARG', `start: ${allocator.label} needs ${need} bars of history before the order; the store holds ${r}`, { argument: 'start', needed: need, available: r });
  const k = allocator.lookahead;
  if (k > 0 && r + k > full.bars) {
    throw new SigvwapError('ERR_ARG', `model: ${allocator.label} looks ahead ${k} bar(s) past its information cut-off; those bars are not in the store, so it cannot schedule this order (look-ahead models are for measuring the leak only)`, { argument: 'model', lookahead: k });
  }
  const cut = Math.min(full.bars, r + readsUpTo(allocator, horizon));
  const series = truncateSeries(full, cut);
  const orders: OrderBatch = { series: [series], assetIndex: Int32Array.of(0), bar: Int32Array.of(r), horizon, symbols: [request.asset] };
  const alloc = allocator.allocate(orders);
  // firm allocations: those whose information is in the series
  let firm = horizon;
  if (allocator.kind === 'dynamic') firm = Math.min(horizon, Math.max(1, cut - r - k + 1));
  const fractions = Array.from(alloc);
  if (firm < horizon && allocator instanceof NeuralAllocator) {
    const base = allocator.baseCurve(orders);
    const done = fractions.slice(0, firm).reduce((a, b) => a + b, 0);
    let rest = 0;
    for (let t = firm; t < horizon; t++) rest += base[t]!;
    for (let t = firm; t < horizon; t++) fractions[t] = rest > 0 ? ((1 - done) * base[t]!) / rest : (1 - done) / (horizon - firm);
  }
  // quantities: proportional to the fractions (float32 model outputs sum to 1 within ~1e-7),
  // the last bar takes the remainder so that they add up to the order exactly
  const total = fractions.reduce((a, b) => a + b, 0);
  let assigned = 0;
  const bars: ScheduleBar[] = fractions.map((fraction, t) => {
    const openTimeMs = startMs + t * full.intervalMs;
    let quantity: number | null = null;
    if (request.quantity !== undefined) {
      quantity = t < horizon - 1 ? (request.quantity * fraction) / total : request.quantity - assigned;
      assigned += quantity;
    }
    return { openTime: new Date(openTimeMs).toISOString(), openTimeMs, fraction, quantity, firm: t < firm };
  });
  return {
    asset: request.asset,
    side,
    model: allocator.label,
    lookahead: k,
    causal: k === 0,
    horizon,
    intervalMs: full.intervalMs,
    startMs,
    historyEndMs: series.openTimeMs[series.bars - 1] ?? NaN,
    bars,
  };
}

export interface ObservedBar {
  /** base volume of the bar */
  volume: number;
  /** quote volume (notional); the bar price is quoteVolume / volume */
  quoteVolume?: number;
  /** bar VWAP, when quoteVolume is not given */
  price?: number;
}

/**
 * Stepwise execution of one order: `first()` gives a_0; `observe(bar)` takes the bar that just
 * completed (r, r+1, ...) and returns the next allocation; after H-1 bars every allocation is
 * known (the last is the remainder).
 */
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
