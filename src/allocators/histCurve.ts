/**
 * The historical-curve VWAP allocator (method.md §5): a_t ∝ mean volume of bar r+t's time of
 * day (or of week, `byWeekday`) over the last N days (N = 20), bars < r only
 * (features/historicalCurve.ts). Reads N days (N weeks with byWeekday) of history.
 * Cost O(B·H·N).
 */
import { SigvwapError } from '../errors.js';
import { type OrderBatch, seriesOf } from '../data/marketSeries.js';
import { DEFAULT_HIST_CURVE, historicalCurve, type HistCurveOptions } from '../features/historicalCurve.js';
import type { Allocator } from './allocator.js';
import { registerAllocator } from './registry.js';

export function histCurveAllocator(options: Partial<HistCurveOptions> = {}): Allocator {
  const opts = { ...DEFAULT_HIST_CURVE, ...options };
  if (!Number.isInteger(opts.days) || opts.days < 1) throw new SigvwapError('ERR_ARG', `days: expected a positive integer, got ${opts.days}`, { argument: 'days', value: opts.days });
  return {
    label: opts.byWeekday ? 'histCurveWeekday' : 'histCurve',
    kind: 'histCurve',
    lookahead: 0,
    horizon: undefined,
    adaptive: false,
    // one day of bars places every time slot; the curve averages whatever of N days exists
    historyBars: (intervalMs: number) => Math.round(86_400_000 / intervalMs),
    allocate(orders: OrderBatch): Float64Array {
      const H = orders.horizon;
      const out = new Float64Array(orders.bar.length * H);
      for (let b = 0; b < orders.bar.length; b++) historicalCurve(seriesOf(orders, b), orders.bar[b]!, H, opts, out.subarray(b * H, (b + 1) * H));
      return out;
    },
  };
}

registerAllocator({
  name: 'histCurve',
  description: 'hour-of-day volume profile over the last N days (--hist-days, default 20), bars before the order',
  create: (context) => histCurveAllocator(context.histDays !== undefined ? { days: context.histDays } : {}),
});
