/**
 * The classical VWAP strategy: the historical volume curve, open loop.
 *   one bar per bin   the allocator histCurve (time-of-day profile over the last N days,
 *                     bars before the order: features/historicalCurve.ts)
 *   coarser bins      the session curve (mean bin share over the last N sessions, the U shape of
 *                     equities: features/sessionCurve.ts)
 * Cost: O(B·T·N).
 */
import { histCurveAllocator } from '../../allocators/index.js';
import { sessionCurve } from '../../features/sessionCurve.js';
import { registerStrategy, type Strategy } from '../strategy.js';

export function histCurveStrategy(days = 20): Strategy {
  const allocator = histCurveAllocator({ days });
  return {
    name: 'histCurve',
    loop: 'open',
    passive: false,
    schedule(ctx) {
      const { orders } = ctx;
      if (orders.binBars === 1) {
        return allocator.allocate({ series: ctx.series, assetIndex: orders.assetIndex, bar: orders.startBar, horizon: orders.bins, symbols: orders.symbols });
      }
      return sessionCurve(ctx.series, orders, days);
    },
  };
}

registerStrategy({
  name: 'histCurve',
  description: 'historical volume curve over the last N days (--hist-days, default 20): time of day per bar, or the session curve for coarser bins',
  create: (o) => histCurveStrategy(o.histDays),
});
