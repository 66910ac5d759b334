/**
 * Any allocator as a strategy: the allocator registry resolves the name or checkpoint
 * (twap, histCurve, constCurve/static/dynamic checkpoints, per-asset folders, plugins).
 *   non-adaptive       open loop: its allocation [B, T] is the schedule
 *   adaptive with      closed loop: bin t's fraction is a_t computed from the fractions actually
 *   openClosedLoop     executed in bins < t (the dynamic model's remaining quantity and own
 *                      running deviation come from the simulated fills, not from its plan)
 *   adaptive without   open loop on its own plan (a causal replay), said in the strategy name
 * Allocators work on the store's bars: orders must have one bar per bin and the allocator's
 * horizon (ERR_ARG otherwise). Cost: one allocation (open); closed: one session (features and encoder once) and T head steps.
 */
import { SigvwapError } from '../../errors.js';
import type { OrderBatch } from '../../data/marketSeries.js';
import type { Allocator, ClosedLoop } from '../../allocators/allocator.js';
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
  const closed = allocator.adaptive && typeof allocator.openClosedLoop === 'function';
  // an adaptive allocator without a closed loop replays its own plan: the name says so
  const name = allocator.adaptive && !closed ? `${allocator.label} (open loop)` : allocator.label;
  if (!closed) return { name, loop: 'open', passive: false, schedule: (ctx) => allocator.allocate(orderBatch(ctx, allocator)), dispose: () => allocator.dispose?.() };
  // one session per backtest: opened at bin 0, released after the last bin
  let session: { ctx: StrategyContext; loop: ClosedLoop } | undefined;
  const release = () => {
    session?.loop.dispose();
    session = undefined;
  };
  return {
    name: allocator.label,
    loop: 'closed',
    passive: false,
    step(ctx, t, filled) {
      if (t === 0 || session?.ctx !== ctx) {
        release();
        session = { ctx, loop: allocator.openClosedLoop!(orderBatch(ctx, allocator)) };
      }
      const B = ctx.orders.assetIndex.length;
      const T = ctx.orders.bins;
      const executed = new Float64Array(B * T);
      for (let b = 0; b < B; b++) {
        const Q = ctx.orders.quantity[b]!;
        for (let s = 0; s < t; s++) executed[b * T + s] = Q > 0 ? filled[b * T + s]! / Q : 0;
      }
      const a = session.loop.next(executed, t);
      if (t === T - 1) release();
      return a;
    },
    dispose: () => {
      release();
      allocator.dispose?.();
    },
  };
}
