/**
 * Any allocator as a strategy: the allocator registry resolves the name or checkpoint
 * (twap, histCurve, constCurve/static/dynamic checkpoints, per-asset folders, plugins).
 *   non-adaptive       open loop: its allocation [B, T] is the schedule
 *   adaptive with      closed loop: bin t's fraction is a_t computed from the fractions actually
 *   allocateClosedLoop executed in bins < t (the dynamic model's remaining quantity and own
 *                      running deviation come from the simulated fills, not from its plan)
 *   adaptive without   open loop on its own plan (a causal replay), said in the strategy name
 * Allocators work on the store's bars: orders must have one bar per bin and the allocator's
 * horizon (ERR_ARG otherwise). Cost: one allocation (open) or T allocations (closed).
 */
import { SigvwapError } from '../../errors.js';
import type { OrderBatch } from '../../data/marketSeries.js';
import type { Allocator } from '../../allocators/allocator.js';
import type { Strategy, StrategyContext } from '../strategy.js';

function orderBatch(ctx: StrategyContext, allocator: Allocator): OrderBatch {
  const { orders } = ctx;
  if (orders.binBars !== 1) {
    throw new SigvwapError('ERR_ARG', `strategies: ${allocator.label} allocates bars; these orders have ${orders.binBars} bars per bin (use --bin-bars 1 or a bin-aware strategy)`, { argument: 'strategies', value: allocator.label });
  }
  if (allocator.horizon !== undefined && allocator.horizon !== orders.bins) {
    throw new SigvwapError('ERR_ARG', `strategies: ${allocator.label} schedules ${allocator.horizon} bins, the orders have ${orders.bins}`, { argument: 'strategies', value: allocator.label, expected: allocator.horizon });
  }
  return { series: ctx.series, assetIndex: orders.assetIndex, bar: orders.startBar, horizon: orders.bins, symbols: orders.symbols };
}

export function allocatorStrategy(allocator: Allocator): Strategy {
  const closed = allocator.adaptive && typeof allocator.allocateClosedLoop === 'function';
  const base = { name: allocator.label, passive: false, dispose: () => allocator.dispose?.() };
  if (!closed) return { ...base, loop: 'open', schedule: (ctx) => allocator.allocate(orderBatch(ctx, allocator)) };
  return {
    ...base,
    loop: 'closed',
    step(ctx, t, filled) {
      const batch = orderBatch(ctx, allocator);
      const B = batch.bar.length;
      const T = batch.horizon;
      const executed = new Float64Array(B * T);
      for (let b = 0; b < B; b++) {
        const Q = ctx.orders.quantity[b]!;
        for (let s = 0; s < t; s++) executed[b * T + s] = Q > 0 ? filled[b * T + s]! / Q : 0;
      }
      const a = allocator.allocateClosedLoop!(batch, executed, t);
      return Float64Array.from({ length: B }, (_, b) => a[b * T + t]!);
    },
  };
}
