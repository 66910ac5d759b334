/**
 * Inference: the schedule of one order from an allocator (a registered name, a checkpoint or an
 * Allocator: ../allocators/registry.ts) and the bars in the store.
 *
 * The series handed to the model is cut at the last bar the model may read: bars < r for a
 * causal static model (r = the order's first bar), bars < r+H-1 for a causal dynamic model
 * (a_t reads bars <= r+t-1); k more with lookahead k. For a live order (r = one bar after the
 * store's last bar) a dynamic model's a_0 is firm and a_1.. are a plan: its base curve b
 * scaled to the remaining quantity; for a historical order every a_t whose bars are in the
 * store is firm (a replay of the execution).
 * What the model reads comes from the Allocator interface: `historyBars` (bars needed before r),
 * `adaptive` (a_t reads r .. r+t-1) and `planCurve` (the plan of the allocations not yet firm).
 * The stepwise form (feed each completed bar, get the next allocation) is stepwiseSchedule.ts.
 * Cost: reading and gridding one asset (O(bars)), one forward pass per call.
 */
import { SigvwapError } from '../errors.js';
import { DEFAULT_STORE_DIR } from '../data/store.js';
import { loadStoreSeries } from '../data/loadStoreSeries.js';
import { type MarketSeries, type OrderBatch, truncateSeries } from '../data/marketSeries.js';
import { type Allocator, resolveAllocator } from '../allocators/index.js';

export type Side = 'buy' | 'sell';

export interface ScheduleRequest {
  /** a registered allocator name (twap, histCurve, ...), a checkpoint file or per-asset folder, or an Allocator */
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

export function parseTime(start: ScheduleRequest['start']): number {
  const ms = start instanceof Date ? start.getTime() : typeof start === 'number' ? start : Date.parse(start);
  if (!Number.isFinite(ms)) throw new SigvwapError('ERR_ARG', `start: expected an ISO-8601 time or epoch milliseconds, got ${JSON.stringify(start)}`, { argument: 'start', value: start });
  return ms;
}

/** Bars a model reads after the order's start bar r (exclusive bound offset): see the header. */
function readsUpTo(allocator: Allocator, horizon: number): number {
  const k = allocator.lookahead;
  return allocator.adaptive ? horizon - 1 + k : k;
}

export function startBar(series: MarketSeries, startMs: number, asset: string): number {
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
  const need = allocator.historyBars(full.intervalMs);
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
  if (allocator.adaptive) firm = Math.min(horizon, Math.max(1, cut - r - k + 1));
  const fractions = Array.from(alloc);
  if (firm < horizon && allocator.planCurve) {
    const base = allocator.planCurve(orders);
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
