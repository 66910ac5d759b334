/**
 * The causality probe of method.md §4, shared by the model tests: one synthetic hourly asset,
 * orders of `horizon` bars on it, and `firstViolation`, which perturbs the raw bars >= r+t
 * (volume, prices), rebuilds the series with the data layer and finds the first t at which one
 * of a_0..a_t changed. Cost: horizon + 1 allocations and series builds per call.
 */
import { buildAssetSeries, datasetConfigFrom, type BarTable } from '../../src/data/index.js';
import type { Allocator } from '../../src/allocators/index.js';
import type { MarketSeries, OrderBatch } from '../../src/data/marketSeries.js';
import { HOUR_MS, perturbFrom } from './market.js';

export interface CausalityProbe {
  series: MarketSeries;
  /** the order of `horizon` bars starting at bar r */
  order(r: number, series?: MarketSeries): OrderBatch;
  /** first t (0 .. horizon-1) at which a_0..a_t changed (-1: none), and whether later ones did */
  firstViolation(allocator: Allocator, r: number): { t: number; changedLater: boolean };
}

export function causalityProbe(bars: BarTable, horizon: number): CausalityProbe {
  const seriesOf = (b: BarTable) => buildAssetSeries(b, HOUR_MS, datasetConfigFrom({}), 'SYN').series;
  const series = seriesOf(bars);
  const order = (r: number, s = series): OrderBatch => ({ series: [s], assetIndex: Int32Array.of(0), bar: Int32Array.of(r), horizon });
  return {
    series,
    order,
    firstViolation(allocator, r) {
      const a = allocator.allocate(order(r));
      let changedLater = false;
      for (let t = 0; t < horizon; t++) {
        const b = allocator.allocate(order(r, seriesOf(perturbFrom(bars, r + t, 100 + t))));
        for (let s = 0; s <= t; s++) if (!Object.is(a[s], b[s])) return { t, changedLater };
        for (let s = t + 1; s < horizon; s++) if (a[s] !== b[s]) changedLater = true;
      }
      return { t: -1, changedLater };
    },
  };
}
