/**
 * The Allocator interface: what every stage after the features needs to know about a model
 * that splits an order over its bars.
 *
 * An allocator maps a batch of orders to allocations a [batch, horizon] (row-major float64),
 * each row on the simplex (a_t >= 0, Σ_t a_t = 1). For an order starting at bar r:
 *   - it reads `historyBars(intervalMs)` bars before r (r - historyBars .. r - 1);
 *   - an `adaptive` allocator's a_t also reads the order's own bars r .. r + t - 1 (the
 *     dynamic model: it reacts as bars complete); a non-adaptive one fixes the whole curve at r;
 *   - `lookahead` k > 0 moves every information cut-off k bars later (labelled, non-causal
 *     variants for measuring the one-bar leak; method.md §4).
 * `planCurve` is what an adaptive allocator would follow for the allocations whose bars are not
 * known yet (live schedules print it as the plan); a non-adaptive allocator's plan is its
 * allocation.
 * Registering a new allocator: src/allocators/registry.ts (docs/architecture.md has the checklist).
 */
import { SigvwapError } from '../errors.js';
import type { OrderBatch } from '../data/marketSeries.js';

export interface Allocator {
  /** name in reports, e.g. `twap`, `static`, `dynamic+lookahead1` */
  readonly label: string;
  readonly kind: string;
  /** bars of look-ahead beyond the causal cut-off (0 = causal) */
  readonly lookahead: number;
  /** the horizon it was built for; undefined = any */
  readonly horizon: number | undefined;
  /** true when a_t reads the order's bars r .. r+t-1 (closed loop) */
  readonly adaptive: boolean;
  /** bars before the order's first bar that `allocate` reads, for bars of `intervalMs` */
  historyBars(intervalMs: number): number;
  /** allocations [batch, horizon], rows on the simplex */
  allocate(orders: OrderBatch): Float64Array;
  /** adaptive allocators: the curve [batch, horizon] planned before any order bar is known */
  planCurve?(orders: OrderBatch): Float64Array;
  /**
   * Adaptive allocators in a closed loop (execution backtests): a session over these orders
   * whose `next(executed, t)` is bin t's fraction, given the fractions actually executed in bins
   * 0 .. t-1, so that it reacts to capped or missed fills. Opening pays what does not depend on
   * the fills (features, encoders) once; each step pays only bin t's part.
   */
  openClosedLoop?(orders: OrderBatch): ClosedLoop;
  /** release tensors or other resources */
  dispose?(): void;
}

/** A closed-loop session over a fixed batch of orders (Allocator.openClosedLoop). */
export interface ClosedLoop {
  /**
   * Bin t's fractions [batch] of each order's quantity, given `executed` [batch, horizon]: the
   * fractions executed in bins 0 .. t-1 (columns >= t are ignored). Steps come in order
   * t = 0, 1, .., horizon-1; at the last bin the fraction is what remains (1 - Σ executed, >= 0).
   */
  next(executed: Float64Array, t: number): Float64Array;
  /** release what opening kept (tensors) */
  dispose(): void;
}

/** The closed loop of a fixed allocation [batch, horizon]: bin t is column t, whatever was executed. */
export function fixedClosedLoop(allocation: Float64Array, batch: number, horizon: number): ClosedLoop {
  return { next: (_executed, t) => Float64Array.from({ length: batch }, (_, b) => allocation[b * horizon + t]!), dispose: () => {} };
}

export function checkHorizon(allocator: Allocator, orders: OrderBatch): void {
  if (allocator.horizon !== undefined && allocator.horizon !== orders.horizon) {
    throw new SigvwapError('ERR_ARG', `horizon: allocator ${allocator.label} was built for ${allocator.horizon} bars, the orders have ${orders.horizon}`, {
      argument: 'horizon', expected: allocator.horizon, actual: orders.horizon,
    });
  }
}
