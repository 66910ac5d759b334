/**
 * Per-asset (AFD) allocation: one allocator per symbol; orders of other symbols are ERR_ARG.
 * Everything the pipeline asks (history bars, adaptivity, the plan) is answered from the
 * per-asset models, so a per-asset model behaves like any other allocator.
 * Cost: one grouping pass O(B), then each asset's allocator on its own orders.
 */
import { SigvwapError } from '../errors.js';
import type { OrderBatch } from '../data/marketSeries.js';
import { type Allocator, type ClosedLoop, fixedClosedLoop } from './allocator.js';

export class PerAssetAllocator implements Allocator {
  readonly label: string;
  readonly kind: string;
  readonly lookahead: number;
  readonly horizon: number | undefined;
  readonly adaptive: boolean;
  readonly models: ReadonlyMap<string, Allocator>;

  /** `models` by symbol, all of one kind; the label defaults to `<first label>-afd`. */
  constructor(models: Map<string, Allocator>, label?: string) {
    const first = models.values().next().value as Allocator | undefined;
    if (!first) throw new SigvwapError('ERR_CHECKPOINT', 'per-asset model without any asset', {});
    for (const [symbol, m] of models) {
      if (m.kind !== first.kind || m.lookahead !== first.lookahead || m.horizon !== first.horizon || m.adaptive !== first.adaptive) {
        throw new SigvwapError('ERR_CHECKPOINT', `per-asset model: ${symbol} is a ${m.label} model, the others ${first.label}`, { asset: symbol });
      }
    }
    this.models = models;
    this.kind = first.kind;
    this.lookahead = first.lookahead;
    this.horizon = first.horizon;
    this.adaptive = first.adaptive;
    this.label = label ?? `${first.label}-afd`;
  }

  has(symbol: string): boolean {
    return this.models.has(symbol);
  }

  historyBars(intervalMs: number): number {
    let n = 0;
    for (const m of this.models.values()) n = Math.max(n, m.historyBars(intervalMs));
    return n;
  }

  allocate(orders: OrderBatch): Float64Array {
    return this.#byAsset(orders, (m, sub) => m.allocate(sub));
  }

  planCurve(orders: OrderBatch): Float64Array {
    return this.#byAsset(orders, (m, sub) => (m.planCurve ? m.planCurve(sub) : m.allocate(sub)));
  }

  openClosedLoop(orders: OrderBatch): ClosedLoop {
    const H = orders.horizon;
    const sessions: { rows: number[]; loop: ClosedLoop }[] = [];
    try {
      for (const { model, sub, rows } of this.#groups(orders)) {
        sessions.push({ rows, loop: model.openClosedLoop ? model.openClosedLoop(sub) : fixedClosedLoop(model.allocate(sub), rows.length, H) });
      }
    } catch (e) {
      for (const s of sessions) s.loop.dispose();
      throw e;
    }
    return {
      next: (executed, t) => {
        const out = new Float64Array(orders.bar.length);
        for (const { rows, loop } of sessions) {
          const mine = new Float64Array(rows.length * H);
          rows.forEach((b, i) => mine.set(executed.subarray(b * H, (b + 1) * H), i * H));
          const a = loop.next(mine, t);
          rows.forEach((b, i) => (out[b] = a[i]!));
        }
        return out;
      },
      dispose: () => {
        for (const s of sessions) s.loop.dispose();
      },
    };
  }

  dispose(): void {
    for (const m of this.models.values()) m.dispose?.();
  }

  /** Rows of each asset through its model, scattered back into [B, H]. */
  #byAsset(orders: OrderBatch, run: (model: Allocator, sub: OrderBatch) => Float64Array): Float64Array {
    const H = orders.horizon;
    const out = new Float64Array(orders.bar.length * H);
    for (const { model, sub, rows } of this.#groups(orders)) {
      const a = run(model, sub);
      rows.forEach((b, i) => out.set(a.subarray(i * H, (i + 1) * H), b * H));
    }
    return out;
  }

  /** The orders of each asset with its model: their rows in the batch and the sub-batch of them
   * (ERR_ARG for orders without symbols or of an asset without a model). */
  #groups(orders: OrderBatch): { model: Allocator; sub: OrderBatch; rows: number[] }[] {
    const symbols = orders.symbols;
    if (!symbols) throw new SigvwapError('ERR_ARG', 'orders: a per-asset model needs the symbols of the orders (OrderBatch.symbols)', { argument: 'orders' });
    const byAsset = new Map<number, number[]>();
    for (let b = 0; b < orders.bar.length; b++) {
      const a = orders.assetIndex[b]!;
      const list = byAsset.get(a) ?? [];
      list.push(b);
      byAsset.set(a, list);
    }
    return [...byAsset].map(([asset, rows]) => {
      const symbol = symbols[asset]!;
      const model = this.models.get(symbol);
      if (!model) throw new SigvwapError('ERR_ARG', `orders: the per-asset model has no model for ${symbol}`, { argument: 'orders', asset: symbol });
      const sub: OrderBatch = { ...orders, assetIndex: Int32Array.from(rows, (b) => orders.assetIndex[b]!), bar: Int32Array.from(rows, (b) => orders.bar[b]!) };
      return { model, sub, rows };
    });
  }
}
