/**
 * The evaluation protocol (method.md §2): every allocator on the test split of every asset,
 * losses per asset, aggregated separately over training-universe and out-of-sample assets,
 * mean ± std over seeds, and moving-block bootstrap intervals and paired tests for each
 * model against each reference (TWAP, histCurve, constCurve, static, ... when present).
 *
 * Per order b: d_b from the native VWAP loss; abs = |d_b|, quad = d_b². Per allocator group
 * (seeds of one label): loss of an asset or universe = mean over its orders (reported as bps
 * and millionths); improvement over a reference = 1 - ΣL_model / ΣL_ref over the same orders,
 * per seed (mean ± std), and on the seed-averaged per-order losses for the interval and test
 * (blockBootstrap.ts). "Mean of assets" columns average the per-asset improvements.
 * Cost: one allocation pass per allocator and seed over the test orders, one native loss pass,
 * then O(R · orders / ℓ) per comparison.
 */
import { SigvwapError } from '../errors.js';
import type { Dataset, DropReason, Split, Universe } from '../data/index.js';
import { vwapLoss } from '../native/vwapLoss.js';
import type { Allocator } from '../allocators/allocator.js';
import { type BootstrapOptions, type PairedResult, checkBootstrapOptions, pairedBlockBootstrap } from './blockBootstrap.js';
import { type OrderBatch, orderTargets, ordersFromDataset, sliceOrders } from '../data/marketSeries.js';

export interface AllocatorGroup {
  label: string;
  kind: string;
  lookahead: number;
  /** one allocator per seed */
  allocators: Allocator[];
}

/** Group allocators by label (the seeds of one model). */
export function groupAllocators(allocators: readonly Allocator[]): AllocatorGroup[] {
  const groups = new Map<string, AllocatorGroup>();
  for (const a of allocators) {
    const g = groups.get(a.label);
    if (g) {
      if (g.lookahead !== a.lookahead) throw new SigvwapError('ERR_ARG', `allocators: two allocators labelled ${a.label} differ in lookahead`, { argument: 'allocators', label: a.label });
      g.allocators.push(a);
    } else groups.set(a.label, { label: a.label, kind: a.kind, lookahead: a.lookahead, allocators: [a] });
  }
  return [...groups.values()];
}

export const DEFAULT_REFERENCES = ['twap', 'histCurve', 'constCurve', 'static'];

export interface EvaluateOptions {
  dataset: Dataset;
  allocators: readonly Allocator[];
  split?: Split;
  /** symbols to evaluate (default: all) */
  assets?: readonly string[];
  /** labels every other allocator is compared with (those present; default DEFAULT_REFERENCES) */
  references?: readonly string[];
  bootstrap?: Partial<BootstrapOptions>;
  /** orders per allocation call */
  batchSize?: number;
  onProgress?: (p: { asset: string; done: number; total: number }) => void;
}

export interface LossSummary {
  absBps: number;
  quadMillionths: number;
  /** std over seeds (0 with one seed) */
  absBpsStd: number;
  quadMillionthsStd: number;
}

export interface ImprovementSummary {
  abs: number;
  quad: number;
  absStd: number;
  quadStd: number;
}

export interface AssetResult {
  symbol: string;
  universe: Universe;
  orders: number;
  candidates: number;
  /** anchors dropped in all splits, by reason */
  dropped: Record<DropReason, number>;
  models: Record<string, LossSummary & { vsTwap: ImprovementSummary | null }>;
}

export interface Comparison {
  model: string;
  reference: string;
  abs: PairedResult & { std: number };
  quad: PairedResult & { std: number };
}

export interface UniverseResult {
  universe: Universe | 'all';
  assets: number;
  orders: number;
  models: Record<string, LossSummary & { seeds: number; meanAssetVsTwap: ImprovementSummary | null }>;
  comparisons: Comparison[];
}

export interface EvaluationReport {
  split: Split;
  horizon: number;
  intervalMs: number;
  createdAt: string;
  bootstrap: BootstrapOptions;
  allocators: { label: string; kind: string; lookahead: number; seeds: number; causal: boolean }[];
  assets: AssetResult[];
  universes: UniverseResult[];
  elapsedMs: number;
}

interface GroupLosses {
  /** per asset: seed-mean per-order losses */
  abs: Float64Array[];
  quad: Float64Array[];
  /** per asset, per seed: loss sums */
  absSum: number[][];
  quadSum: number[][];
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: readonly number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};

/** Per-order slippage d of an allocator over orders (float64), in chunks. */
export function orderSlippage(allocator: Allocator, orders: OrderBatch, targets: { price: Float64Array; volume: Float64Array }, batchSize = 4096): Float64Array {
  const n = orders.bar.length;
  const H = orders.horizon;
  const d = new Float64Array(n);
  for (let from = 0; from < n; from += batchSize) {
    const to = Math.min(n, from + batchSize);
    const alloc = allocator.allocate(sliceOrders(orders, from, to));
    const r = vwapLoss({ alloc, price: targets.price.subarray(from * H, to * H), volume: targets.volume.subarray(from * H, to * H), batch: to - from, horizon: H, kind: 'abs' });
    d.set(r.perOrder, from);
  }
  return d;
}

export function evaluateAllocators(options: EvaluateOptions): EvaluationReport {
  const started = performance.now();
  const { dataset } = options;
  const split = options.split ?? 'test';
  const H = dataset.horizon;
  const bootstrap: BootstrapOptions = { replicates: 1000, blockLength: 4 * H, seed: 1, confidence: 0.95, ...(options.bootstrap ?? {}) };
  checkBootstrapOptions(bootstrap, H);
  const groups = groupAllocators(options.allocators);
  if (!groups.some((g) => g.label === 'twap')) throw new SigvwapError('ERR_ARG', 'allocators: include twap (every improvement is measured against it)', { argument: 'allocators' });
  const wanted = options.assets ? new Set(options.assets) : undefined;
  if (wanted) for (const s of wanted) if (!dataset.assets.some((a) => a.symbol === s)) throw new SigvwapError('ERR_ARG', `assets: ${s} is not in the dataset`, { argument: 'assets', value: s });
  const assets = dataset.assets.filter((a) => !wanted || wanted.has(a.symbol));
  const anchors = dataset.anchors(split, 'all');
  const losses = new Map<string, GroupLosses>(groups.map((g) => [g.label, { abs: [], quad: [], absSum: [], quadSum: [] }]));
  const assetResults: AssetResult[] = [];
  assets.forEach((asset, done) => {
    const ids: number[] = [];
    for (let i = 0; i < anchors.index.length; i++) if (anchors.assetIndex[i] === asset.index) ids.push(anchors.index[i]!);
    const orders = ordersFromDataset(dataset, ids);
    const targets = orderTargets(orders);
    const n = ids.length;
    for (const g of groups) {
      const abs = new Float64Array(n);
      const quad = new Float64Array(n);
      const absSum: number[] = [];
      const quadSum: number[] = [];
      for (const a of g.allocators) {
        const d = n > 0 ? orderSlippage(a, orders, targets, options.batchSize) : new Float64Array(0);
        let sa = 0;
        let sq = 0;
        for (let i = 0; i < n; i++) {
          const x = d[i]!;
          abs[i]! += Math.abs(x) / g.allocators.length;
          quad[i]! += (x * x) / g.allocators.length;
          sa += Math.abs(x);
          sq += x * x;
        }
        absSum.push(sa);
        quadSum.push(sq);
      }
      const l = losses.get(g.label)!;
      l.abs.push(abs);
      l.quad.push(quad);
      l.absSum.push(absSum);
      l.quadSum.push(quadSum);
    }
    const k = assetResults.length;
    const twap = losses.get('twap')!;
    const models: AssetResult['models'] = {};
    for (const g of groups) {
      const l = losses.get(g.label)!;
      models[g.label] = {
        ...lossSummary(l.absSum[k]!, l.quadSum[k]!, n),
        vsTwap: n > 0 ? improvementSummary(l.absSum[k]!, l.quadSum[k]!, mean(twap.absSum[k]!), mean(twap.quadSum[k]!)) : null,
      };
    }
    assetResults.push({ symbol: asset.symbol, universe: asset.universe, orders: n, candidates: asset.candidates, dropped: { ...asset.dropped }, models });
    options.onProgress?.({ asset: asset.symbol, done: done + 1, total: assets.length });
  });

  const labels = groups.map((g) => g.label);
  const references = (options.references ?? DEFAULT_REFERENCES).filter((r) => labels.includes(r));
  const universes: UniverseResult[] = (['train', 'oos', 'all'] as const).map((u) => {
    const idx = assetResults.map((a, i) => (u === 'all' || a.universe === u) && a.orders > 0 ? i : -1).filter((i) => i >= 0);
    const orders = idx.reduce((s, i) => s + assetResults[i]!.orders, 0);
    const models: UniverseResult['models'] = {};
    const sumOver = (sums: number[][], seed: number) => idx.reduce((s, i) => s + sums[i]![seed]!, 0);
    for (const g of groups) {
      const l = losses.get(g.label)!;
      const seeds = g.allocators.length;
      const absSum = Array.from({ length: seeds }, (_, s) => sumOver(l.absSum, s));
      const quadSum = Array.from({ length: seeds }, (_, s) => sumOver(l.quadSum, s));
      const perAsset = idx.map((i) => assetResults[i]!.models[g.label]!.vsTwap!).filter(Boolean);
      models[g.label] = {
        ...lossSummary(absSum, quadSum, orders),
        seeds,
        meanAssetVsTwap: perAsset.length > 0 ? { abs: mean(perAsset.map((p) => p.abs)), quad: mean(perAsset.map((p) => p.quad)), absStd: std(perAsset.map((p) => p.abs)), quadStd: std(perAsset.map((p) => p.quad)) } : null,
      };
    }
    const comparisons: Comparison[] = [];
    if (orders > 0) {
      for (const ref of references) {
        for (const g of groups) {
          if (g.label === ref || g.label === 'twap') continue;
          comparisons.push(compare(g.label, ref, idx, losses, bootstrap));
        }
      }
    }
    return { universe: u, assets: idx.length, orders, models, comparisons };
  });

  return {
    split,
    horizon: H,
    intervalMs: dataset.assets[0]?.intervalMs ?? 0,
    createdAt: new Date().toISOString(),
    bootstrap,
    allocators: groups.map((g) => ({ label: g.label, kind: g.kind, lookahead: g.lookahead, seeds: g.allocators.length, causal: g.lookahead === 0 })),
    assets: assetResults,
    universes,
    elapsedMs: performance.now() - started,
  };
}

function lossSummary(absSum: readonly number[], quadSum: readonly number[], n: number): LossSummary {
  const a = absSum.map((s) => (s / n) * 1e4);
  const q = quadSum.map((s) => (s / n) * 1e6);
  return { absBps: mean(a), quadMillionths: mean(q), absBpsStd: std(a), quadMillionthsStd: std(q) };
}

function improvementSummary(absSum: readonly number[], quadSum: readonly number[], refAbs: number, refQuad: number): ImprovementSummary {
  const a = absSum.map((s) => 1 - s / refAbs);
  const q = quadSum.map((s) => 1 - s / refQuad);
  return { abs: mean(a), quad: mean(q), absStd: std(a), quadStd: std(q) };
}

function compare(model: string, reference: string, idx: number[], losses: Map<string, GroupLosses>, o: BootstrapOptions): Comparison {
  const m = losses.get(model)!;
  const r = losses.get(reference)!;
  const seedImprovements = (kind: 'absSum' | 'quadSum') => {
    const refTotal = mean(r[kind][0]!.map((_, s) => idx.reduce((acc, i) => acc + r[kind][i]![s]!, 0)));
    return m[kind][idx[0]!]!.map((_, s) => 1 - idx.reduce((acc, i) => acc + m[kind][i]![s]!, 0) / refTotal);
  };
  const paired = (kind: 'abs' | 'quad') => pairedBlockBootstrap(idx.map((i) => ({ model: m[kind][i]!, reference: r[kind][i]! })), o);
  return {
    model,
    reference,
    abs: { ...paired('abs'), std: std(seedImprovements('absSum')) },
    quad: { ...paired('quad'), std: std(seedImprovements('quadSum')) },
  };
}
