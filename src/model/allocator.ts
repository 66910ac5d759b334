/**
 * The allocator interface and the two classical allocators.
 *
 * An allocator maps a batch of orders to allocations a [batch, horizon] (row-major float64),
 * each row on the simplex (a_t >= 0, Σ_t a_t = 1), reading for a_t only bars <= r + t - 1
 * (plus `lookahead` bars for labelled non-causal variants; method.md §4).
 *   twap       a_t = 1/H.
 *   histCurve  a_t ∝ mean volume of bar r+t's time of day over the last N days (N = 20),
 *              bars < r only (historicalCurve.ts).
 * Cost: twap O(B·H); histCurve O(B·H·N).
 */
import { SigvwapError } from '../errors.js';
import { DEFAULT_HIST_CURVE, historicalCurve, type HistCurveOptions } from './historicalCurve.js';
import { type OrderBatch, seriesOf } from './marketSeries.js';

export interface Allocator {
  /** name in reports, e.g. `twap`, `static`, `dynamic+lookahead1` */
  readonly label: string;
  readonly kind: string;
  /** bars of look-ahead beyond the causal cut-off (0 = causal) */
  readonly lookahead: number;
  /** the horizon it was built for; undefined = any */
  readonly horizon: number | undefined;
  /** allocations [batch, horizon], rows on the simplex */
  allocate(orders: OrderBatch): Float64Array;
}

export function checkHorizon(allocator: Allocator, orders: OrderBatch): void {
  if (allocator.horizon !== undefined && allocator.horizon !== orders.horizon) {
    throw new SigvwapError('ERR_ARG', `horizon: allocator ${allocator.label} was built for ${allocator.horizon} bars, the orders have ${orders.horizon}`, {
      argument: 'horizon', expected: allocator.horizon, actual: orders.horizon,
    });
  }
}

export function twapAllocator(): Allocator {
  return {
    label: 'twap',
    kind: 'twap',
    lookahead: 0,
    horizon: undefined,
    allocate(orders: OrderBatch): Float64Array {
      return new Float64Array(orders.bar.length * orders.horizon).fill(1 / orders.horizon);
    },
  };
}

export function histCurveAllocator(options: Partial<HistCurveOptions> = {}): Allocator {
  const opts = { ...DEFAULT_HIST_CURVE, ...options };
  if (!Number.isInteger(opts.days) || opts.days < 1) throw new SigvwapError('ERR_ARG', `days: expected a positive integer, got ${opts.days}`, { argument: 'days', value: opts.days });
  return {
    label: opts.byWeekday ? 'histCurveWeekday' : 'histCurve',
    kind: 'histCurve',
    lookahead: 0,
    horizon: undefined,
    allocate(orders: OrderBatch): Float64Array {
      const H = orders.horizon;
      const out = new Float64Array(orders.bar.length * H);
      for (let b = 0; b < orders.bar.length; b++) historicalCurve(seriesOf(orders, b), orders.bar[b]!, H, opts, out.subarray(b * H, (b + 1) * H));
      return out;
    },
  };
}
