/**
 * Validation: the mean VWAP losses of a model's allocations over a fixed set of orders.
 *   d_b = P_ach/P_mkt - 1 (native vwapLoss, float64, in order), abs = mean |d|, quad = mean d².
 * Cost: one allocation pass over the orders plus one native loss pass.
 */
import type { Allocator } from '../allocators/allocator.js';
import { type OrderBatch, orderTargets } from '../data/marketSeries.js';
import { vwapLoss } from '../native/vwapLoss.js';
import type { TrainConfig } from './trainConfig.js';

export type OrderTargets = { price: Float64Array; volume: Float64Array };

/** Mean abs and quad loss (float64, in order) of allocations over orders. */
export function meanLosses(allocations: Float64Array, orders: OrderBatch, targets = orderTargets(orders)): { abs: number; quad: number; perOrder: Float64Array } {
  const n = orders.bar.length;
  const r = vwapLoss({ alloc: allocations, price: targets.price, volume: targets.volume, batch: n, horizon: orders.horizon, kind: 'abs' });
  let abs = 0;
  let quad = 0;
  for (let i = 0; i < n; i++) {
    const d = r.perOrder[i]!;
    abs += Math.abs(d);
    quad += d * d;
  }
  return { abs: abs / n, quad: quad / n, perOrder: r.perOrder };
}

/** The validation losses of a model; `loss` in the training objective's units. */
export function validate(model: Allocator, orders: OrderBatch, targets: OrderTargets, train: Pick<TrainConfig, 'loss'>): { loss: number; abs: number; quad: number } {
  const alloc = model.allocate(orders);
  // a diverged model allocates NaN: report a NaN loss (the caller stops) instead of the loss
  // kernel's ERR_NONFINITE about its input
  if (!alloc.every(Number.isFinite)) return { loss: NaN, abs: NaN, quad: NaN };
  const m = meanLosses(alloc, orders, targets);
  return { loss: train.loss === 'abs' ? m.abs : m.quad, abs: m.abs, quad: m.quad };
}
