/**
 * Dataset: per-asset series on their bar grids plus an index of anchors (asset, bar). Nothing
 * is windowed or copied here: models read the series and the (asset, bar) pairs and compute
 * order-relative features themselves (src/features; `ordersFromDataset` in marketSeries.ts
 * turns anchor ids into an order batch). Those inputs are scaled by statistics of the bars
 * before each order and carry in-order flags, so a per-bar feature matrix could not be shared
 * by them; typed series + (asset, bar) pairs are also what native training gathers from.
 * Anchor a covers bars anchorBar[a] - L .. anchorBar[a] + H - 1 of asset anchorAsset[a]; its
 * normalizer (`normalizerOf`) is series.normalizer[r - L].
 *
 * Series building runs in a piscina pool, one task per asset (the worker reads the
 * asset's store file itself; arrays come back by transfer). A failing worker surfaces as
 * ERR_WORKER naming the asset. `workers: 0` builds in this thread (same code).
 *
 * Universe: assets ranked by liquidity (median quote volume before the first validation
 * anchor, most liquid = rank 0); even ranks form the training universe, odd ranks the
 * out-of-sample assets.
 * Layout: anchor ids are global, asset by asset, chronological within an asset
 * (anchorAsset/anchorBar Int32Array, anchorSplit Uint8Array [anchors]).
 * Cost: memory about 57 bytes per bar (AssetSeries) plus 9 bytes per anchor; `anchors(...)`
 * is O(anchors).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { SigvwapError, isErrorCode } from '../errors.js';
import {
  DEFAULT_DATASET_CONFIG, SPLITS, SPLIT_CODE, buildAssetSeries, checkDatasetConfig, rejectRemovedFeatures,
  type AssetAnchors, type AssetData, type AssetSeries, type DatasetConfig, type DropReason,
  type NormalizerKind, type Split,
} from './buildAssetSeries.js';
import type { SeriesTask, SeriesTaskError } from './seriesWorker.js';
import { intervalToMs } from './interval.js';
import { DEFAULT_STORE_DIR, openStoreManifest, readStoreAsset, unknownAssetError } from './store.js';

export type Universe = 'train' | 'oos';

export interface DatasetOptions {
  /** store directory (default `.sigvwap/store`) */
  store?: string;
  /** symbols to load (default: every asset in the store) */
  assets?: readonly string[];
  /** L, bars before the anchor (default 60) */
  lookback?: number;
  /** H, bars of an order (default 12) */
  horizon?: number;
  /**
   * Removed (per-bar feature channels): passing it throws ERR_ARG. Models build their
   * features from the series (src/features).
   */
  features?: never;
  /** volume normalizer statistic (default mean) */
  normalizer?: NormalizerKind;
  /** bars of the normalizer (default 336) */
  normalizerBars?: number;
  testFraction?: number;
  validationFraction?: number;
  /** drop train/validation anchors whose horizon reaches the next split (default true) */
  purge?: boolean;
  /** worker threads; 0 builds in this thread (default: available parallelism, at most one per asset) */
  workers?: number;
  /** heap limit of each worker, MiB (default: Node's) */
  workerMemoryLimitMb?: number;
  onProgress?: (event: { done: number; total: number; symbol: string }) => void;
}

export interface AssetInfo {
  index: number;
  symbol: string;
  interval: string;
  intervalMs: number;
  bars: number;
  /** bars absent from the data, filled as zero-volume bars */
  missingBars: number;
  startMs: number;
  endMs: number;
  /** median quote volume before the first validation anchor */
  liquidity: number;
  /** 0 = most liquid */
  liquidityRank: number;
  universe: Universe;
  candidates: number;
  anchors: Record<Split, number>;
  dropped: Record<DropReason, number>;
}

export interface AnchorSet {
  /** global anchor ids, to pass to `ordersFromDataset` (marketSeries.ts) or `normalizerOf` */
  index: Int32Array;
  assetIndex: Int32Array;
  bar: Int32Array;
}

export class Dataset {
  readonly lookback: number;
  readonly horizon: number;
  readonly config: Readonly<DatasetConfig>;
  readonly assets: readonly AssetInfo[];
  /** anchor id -> asset index, bar, split code (SPLIT_CODE) */
  readonly anchorAsset: Int32Array;
  readonly anchorBar: Int32Array;
  readonly anchorSplit: Uint8Array;
  readonly #series: readonly AssetSeries[];

  constructor(config: DatasetConfig, symbols: readonly string[], intervals: readonly string[], built: readonly AssetData[]) {
    checkDatasetConfig(config);
    this.config = Object.freeze({ ...config });
    this.lookback = config.lookback;
    this.horizon = config.horizon;
    this.#series = built.map((b) => b.series);
    const order = built.map((_, i) => i).sort((a, b) => built[b]!.anchors.liquidity - built[a]!.anchors.liquidity || (symbols[a]! < symbols[b]! ? -1 : 1));
    const rank = new Int32Array(built.length);
    order.forEach((assetIndex, r) => (rank[assetIndex] = r));
    this.assets = built.map((b, i) => {
      const s = b.series;
      let missingBars = 0;
      for (let k = 0; k < s.bars; k++) missingBars += s.missing[k]!;
      return {
        index: i,
        symbol: symbols[i]!,
        interval: intervals[i]!,
        intervalMs: s.intervalMs,
        bars: s.bars,
        missingBars,
        startMs: s.openTimeMs[0]!,
        endMs: s.openTimeMs[s.bars - 1]!,
        liquidity: b.anchors.liquidity,
        liquidityRank: rank[i]!,
        universe: rank[i]! % 2 === 0 ? 'train' : 'oos',
        candidates: b.anchors.candidates,
        anchors: { ...b.anchors.counts },
        dropped: { ...b.anchors.dropped },
      } satisfies AssetInfo;
    });
    let total = 0;
    for (const b of built) total += b.anchors.bar.length;
    this.anchorAsset = new Int32Array(total);
    this.anchorBar = new Int32Array(total);
    this.anchorSplit = new Uint8Array(total);
    let at = 0;
    built.forEach((b, i) => {
      const a: AssetAnchors = b.anchors;
      this.anchorAsset.fill(i, at, at + a.bar.length);
      this.anchorBar.set(a.bar, at);
      this.anchorSplit.set(a.split, at);
      at += a.bar.length;
    });
  }

  get anchorCount(): number {
    return this.anchorBar.length;
  }

  /** The series of one asset (grid, raw volume, price, missing flags, timestamps, normalizers). */
  series(assetIndex: number): AssetSeries {
    const s = this.#series[assetIndex];
    if (!s) throw new SigvwapError('ERR_ARG', `assetIndex: expected 0..${this.#series.length - 1}, got ${assetIndex}`, { argument: 'assetIndex', value: assetIndex });
    return s;
  }

  /** Anchors of a split ('all' for every split) and universe ('all' for both), chronological per asset. */
  anchors(split: Split | 'all' = 'all', universe: Universe | 'all' = 'all'): AnchorSet {
    if (split !== 'all' && !SPLITS.includes(split)) {
      throw new SigvwapError('ERR_ARG', `split: expected one of ${SPLITS.join('|')}|all, got ${JSON.stringify(split)}`, { argument: 'split', value: split });
    }
    if (universe !== 'all' && universe !== 'train' && universe !== 'oos') {
      throw new SigvwapError('ERR_ARG', `universe: expected train|oos|all, got ${JSON.stringify(universe)}`, { argument: 'universe', value: universe });
    }
    const code = split === 'all' ? -1 : SPLIT_CODE[split];
    const ids: number[] = [];
    for (let a = 0; a < this.anchorBar.length; a++) {
      if (code >= 0 && this.anchorSplit[a] !== code) continue;
      if (universe !== 'all' && this.assets[this.anchorAsset[a]!]!.universe !== universe) continue;
      ids.push(a);
    }
    const index = Int32Array.from(ids);
    return { index, assetIndex: index.map((a) => this.anchorAsset[a]!), bar: index.map((a) => this.anchorBar[a]!) };
  }

  /** Normalizer of one anchor: the volume statistic over the bars right before its window. */
  normalizerOf(anchor: number): number {
    if (!Number.isInteger(anchor) || anchor < 0 || anchor >= this.anchorBar.length) {
      throw new SigvwapError('ERR_ARG', `anchor: expected an anchor id in 0..${this.anchorBar.length - 1}, got ${anchor}`, { argument: 'anchor', value: anchor });
    }
    return this.#series[this.anchorAsset[anchor]!]!.normalizer[this.anchorBar[anchor]! - this.lookback]!;
  }

  /** Per-asset anchor and drop counts (for reports). */
  anchorReport(): { symbol: string; universe: Universe; candidates: number; anchors: Record<Split, number>; dropped: Record<DropReason, number> }[] {
    return this.assets.map((a) => ({ symbol: a.symbol, universe: a.universe, candidates: a.candidates, anchors: { ...a.anchors }, dropped: { ...a.dropped } }));
  }
}

/** Dataset config from dataset options (defaults filled in, validated; `features` is rejected). */
export function datasetConfigFrom(options: DatasetOptions): DatasetConfig {
  rejectRemovedFeatures(options);
  const d = DEFAULT_DATASET_CONFIG;
  const config: DatasetConfig = {
    lookback: options.lookback ?? d.lookback,
    horizon: options.horizon ?? d.horizon,
    normalizerBars: options.normalizerBars ?? d.normalizerBars,
    normalizer: options.normalizer ?? d.normalizer,
    testFraction: options.testFraction ?? d.testFraction,
    validationFraction: options.validationFraction ?? d.validationFraction,
    purge: options.purge ?? d.purge,
  };
  checkDatasetConfig(config);
  return config;
}

const WORKER_URL = new URL('./seriesWorker.js', import.meta.url);

/** Build a dataset from the store. */
export async function buildDataset(options: DatasetOptions = {}): Promise<Dataset> {
  const config = datasetConfigFrom(options);
  const storeDir = options.store ?? DEFAULT_STORE_DIR;
  const manifest = openStoreManifest(storeDir);
  const symbols = options.assets ? [...options.assets] : Object.keys(manifest.assets).sort();
  if (symbols.length === 0) throw new SigvwapError('ERR_ARG', `assets: the store ${storeDir} holds no asset`, { argument: 'assets', store: storeDir });
  const tasks: SeriesTask[] = symbols.map((symbol) => {
    const entry = manifest.assets[symbol];
    if (!entry) {
      throw unknownAssetError(symbol, manifest, storeDir, 'assets');
    }
    return { storeDir, symbol, file: entry.file, fileSha256: entry.fileSha256, interval: entry.interval, config };
  });
  const workers = options.workers ?? Math.min(availableParallelism(), tasks.length);
  if (!Number.isInteger(workers) || workers < 0) throw new SigvwapError('ERR_ARG', `workers: expected a non-negative integer, got ${workers}`, { argument: 'workers', value: workers });
  let done = 0;
  const progress = (symbol: string) => options.onProgress?.({ done: ++done, total: tasks.length, symbol });

  let built: AssetData[];
  if (workers === 0) {
    built = tasks.map((t) => {
      const { bars } = readStoreAsset(t.storeDir, t);
      const r = buildAssetSeries(bars, intervalToMs(t.interval), t.config, t.symbol);
      progress(t.symbol);
      return r;
    });
  } else {
    built = await runPool(tasks, workers, options.workerMemoryLimitMb, progress);
  }
  return new Dataset(config, symbols, tasks.map((t) => t.interval), built);
}

async function runPool(tasks: SeriesTask[], workers: number, memoryLimitMb: number | undefined, progress: (symbol: string) => void): Promise<AssetData[]> {
  const workerPath = fileURLToPath(WORKER_URL);
  if (!existsSync(workerPath)) {
    throw new SigvwapError('ERR_WORKER', `series worker ${workerPath} not found: the pool runs compiled JS (build with \`npx tsc -p tsconfig.json\` and import from dist/), or pass workers: 0`, { task: 'series', file: workerPath });
  }
  if (memoryLimitMb !== undefined && !(memoryLimitMb > 0)) {
    throw new SigvwapError('ERR_ARG', `workerMemoryLimitMb: expected a positive number, got ${memoryLimitMb}`, { argument: 'workerMemoryLimitMb', value: memoryLimitMb });
  }
  const pool = new Piscina({
    filename: WORKER_URL.href,
    minThreads: 0,
    maxThreads: Math.min(workers, tasks.length),
    ...(memoryLimitMb !== undefined ? { resourceLimits: { maxOldGenerationSizeMb: memoryLimitMb, maxYoungGenerationSizeMb: Math.max(1, Math.min(16, memoryLimitMb / 4)) } } : {}),
  });
  // A worker that dies outside a task (e.g. at start-up) is reported by the pool's 'error'
  // event and its queued tasks would wait forever: fail them all instead.
  let poolFailed: (err: unknown) => void = () => undefined;
  const failure = new Promise<never>((_, reject) => (poolFailed = reject));
  failure.catch(() => undefined);
  pool.on('error', (err: unknown) => poolFailed(new PoolCrash(err)));
  try {
    const settled = await Promise.allSettled(
      tasks.map(async (t) => {
        const r = (await Promise.race([pool.run(t), failure])) as AssetData | SeriesTaskError;
        if ('sigvwapError' in r) {
          const e = r.sigvwapError;
          throw new SigvwapError(isErrorCode(e.code) ? e.code : 'ERR_WORKER', e.message, { ...e.data, asset: t.symbol, task: 'series' });
        }
        progress(t.symbol);
        return r;
      }),
    );
    const failed = settled.findIndex((s) => s.status === 'rejected');
    if (failed >= 0) {
      const pending = settled.filter((s) => s.status === 'rejected').length;
      throw workerError(tasks[failed]!.symbol, (settled[failed] as PromiseRejectedResult).reason, pending);
    }
    return settled.map((s) => (s as PromiseFulfilledResult<AssetData>).value);
  } finally {
    await pool.destroy();
  }
}

/** A worker crash that the pool could not tie to a task. */
class PoolCrash {
  constructor(readonly error: unknown) {}
}

/** A worker failure as ERR_WORKER naming the asset; a typed error thrown by the task keeps its code. */
function workerError(symbol: string, reason: unknown, failedTasks: number): SigvwapError {
  if (reason instanceof PoolCrash) {
    const e = reason.error as { message?: unknown; code?: unknown };
    const message = typeof e?.message === 'string' ? e.message : String(reason.error);
    const others = failedTasks > 1 ? ` (and ${failedTasks - 1} other assets not built)` : '';
    return new SigvwapError('ERR_WORKER', `series worker crashed before finishing asset ${symbol}${others}: ${message}`, {
      asset: symbol, task: 'series', failedTasks, causeCode: typeof e?.code === 'string' ? e.code : undefined,
    }, { cause: reason.error });
  }
  const e = reason as { message?: unknown; code?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(reason);
  const causeCode = typeof e?.code === 'string' ? e.code : undefined;
  if (reason instanceof SigvwapError) return reason;
  return new SigvwapError('ERR_WORKER', `series worker failed for asset ${symbol}: ${message}`, { asset: symbol, task: 'series', causeCode }, { cause: reason });
}
