/**
 * Dataset: per-asset feature series plus an index of anchors (asset, bar). Windows are
 * views, never materialized: `gather` copies the windows of a batch of anchors into
 * Float32Array x [batch, steps, channels] (one `subarray` + `set` per window, then the
 * volume channel scaled in place by the anchor's normalizer m: x = fround(fround(V) · (1/m)))
 * and the targets price and volume
 * Float64Array [batch, horizon] for bars r .. r+H-1.
 * Window of anchor r: bars r-L .. r-L+steps-1; steps = L + H - 1 by default (dynamic
 * models: the horizon bars r .. r+H-2 become known while the order runs), L for static models.
 *
 * Feature building runs in a piscina pool, one task per asset (the worker reads the
 * asset's store file itself; arrays come back by transfer). A failing worker surfaces as
 * ERR_WORKER naming the asset. `workers: 0` builds in this thread (same code).
 *
 * Universe: assets ranked by liquidity (median quote volume before the first validation
 * anchor, most liquid = rank 0); even ranks form the training universe, odd ranks the
 * out-of-sample assets.
 * Cost: gather writes batch·steps·channels·4 + 2·batch·H·8 bytes; memory of the dataset is
 * about bars·(channels·4 + 41) bytes.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { SigvwapError, isErrorCode } from '../errors.js';
import {
  DEFAULT_FEATURE_CONFIG, SPLITS, SPLIT_CODE, buildAssetFeatures, checkFeatureConfig,
  type AssetAnchors, type AssetFeatures, type AssetSeries, type DropReason, type FeatureConfig, type FeatureName,
  type NormalizerKind, type Split,
} from './buildAssetFeatures.js';
import type { FeatureTask, FeatureTaskError } from './featureWorker.js';
import { intervalToMs } from './interval.js';
import { DEFAULT_STORE_DIR, openStoreManifest, readStoreAsset } from './store.js';

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
  /** feature channels, in order (default volume, hour, weekday, return) */
  features?: readonly FeatureName[];
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

export interface GatherOutput {
  x: Float32Array;
  price: Float64Array;
  volume: Float64Array;
}

export interface GatherOptions {
  /** window length: a number in 1 .. L+H-1, 'dynamic' (= L+H-1, default) or 'static' (= L) */
  steps?: number | 'static' | 'dynamic';
  /** reuse these buffers (exact sizes) instead of allocating */
  out?: GatherOutput;
}

export interface GatherResult extends GatherOutput {
  /** open time of each anchor bar r (bar r+t opens at anchorTimeMs + t·intervalMs) */
  anchorTimeMs: Float64Array;
  assetIndex: Int32Array;
  bar: Int32Array;
  /** normalizer m of each window (its volume channel was scaled by 1/m) */
  normalizer: Float64Array;
  shape: { batch: number; steps: number; channels: number; horizon: number };
}

export interface AnchorSet {
  /** global anchor ids, to pass to `gather` */
  index: Int32Array;
  assetIndex: Int32Array;
  bar: Int32Array;
}

export class Dataset {
  readonly featureNames: readonly FeatureName[];
  readonly channels: number;
  readonly lookback: number;
  readonly horizon: number;
  readonly config: Readonly<FeatureConfig>;
  readonly assets: readonly AssetInfo[];
  /** anchor id -> asset index, bar, split code (SPLIT_CODE) */
  readonly anchorAsset: Int32Array;
  readonly anchorBar: Int32Array;
  readonly anchorSplit: Uint8Array;
  readonly #series: readonly AssetSeries[];
  readonly #volumeChannel: number;
  // Per-asset arrays pulled out of the series objects, for the gather loop.
  readonly #features: Float32Array[];
  readonly #price: Float64Array[];
  readonly #volume: Float64Array[];
  readonly #normalizer: Float64Array[];
  readonly #startMs: Float64Array;
  readonly #intervalMs: Float64Array;

  constructor(config: FeatureConfig, symbols: readonly string[], intervals: readonly string[], built: readonly AssetFeatures[]) {
    this.config = Object.freeze({ ...config, features: [...config.features] });
    this.featureNames = this.config.features;
    this.channels = config.features.length;
    this.lookback = config.lookback;
    this.horizon = config.horizon;
    this.#series = built.map((b) => b.series);
    this.#features = built.map((b) => b.series.features);
    this.#price = built.map((b) => b.series.price);
    this.#volume = built.map((b) => b.series.volume);
    this.#normalizer = built.map((b) => b.series.normalizer);
    this.#startMs = Float64Array.from(built, (b) => b.series.openTimeMs[0]!);
    this.#intervalMs = Float64Array.from(built, (b) => b.series.intervalMs);
    this.#volumeChannel = config.features.indexOf('volume');
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

  /** Index of a feature channel, -1 when absent. */
  channelOf(name: FeatureName): number {
    return this.featureNames.indexOf(name);
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
    this.#checkAnchor(anchor, 0);
    return this.#series[this.anchorAsset[anchor]!]!.normalizer[this.anchorBar[anchor]! - this.lookback]!;
  }

  /** Window length for gather options. */
  stepsOf(steps: GatherOptions['steps'] = 'dynamic'): number {
    const max = this.lookback + this.horizon - 1;
    const s = steps === 'dynamic' ? max : steps === 'static' ? this.lookback : steps;
    if (!Number.isInteger(s) || s < 1 || s > max) {
      throw new SigvwapError('ERR_ARG', `steps: expected 'static', 'dynamic' or an integer in 1..${max} (lookback + horizon - 1), got ${JSON.stringify(steps)}`, { argument: 'steps', value: steps });
    }
    return s;
  }

  /** Copy the windows and targets of a batch of anchors. */
  gather(anchorIdx: Int32Array | readonly number[], opts: GatherOptions = {}): GatherResult {
    const batch = anchorIdx.length;
    const steps = this.stepsOf(opts.steps);
    const F = this.channels;
    const H = this.horizon;
    const L = this.lookback;
    const rowLen = steps * F;
    const out = opts.out ?? { x: new Float32Array(batch * rowLen), price: new Float64Array(batch * H), volume: new Float64Array(batch * H) };
    const want = { x: batch * rowLen, price: batch * H, volume: batch * H } as const;
    for (const k of ['x', 'price', 'volume'] as const) {
      if (!out[k] || out[k].length !== want[k]) {
        throw new SigvwapError('ERR_ARG', `out.${k}: expected length ${want[k]} for batch ${batch}, got ${out[k]?.length}`, { argument: `out.${k}`, expected: want[k], actual: out[k]?.length });
      }
    }
    const { x, price, volume } = out;
    const anchorTimeMs = new Float64Array(batch);
    const assetIndex = new Int32Array(batch);
    const bar = new Int32Array(batch);
    const normalizer = new Float64Array(batch);
    const anchors = this.anchorBar.length;
    for (let b = 0; b < batch; b++) {
      const a = anchorIdx[b]!;
      if (!(a >= 0 && a < anchors && Number.isInteger(a))) this.#checkAnchor(a, b);
    }
    gatherWindows(
      anchorIdx, this.anchorAsset, this.anchorBar, this.#features, this.#normalizer, this.#price, this.#volume, this.#startMs, this.#intervalMs,
      L, H, F, steps, this.#volumeChannel, x, price, volume, anchorTimeMs, assetIndex, bar, normalizer,
    );
    return { x, price, volume, anchorTimeMs, assetIndex, bar, normalizer, shape: { batch, steps, channels: F, horizon: H } };
  }

  #checkAnchor(a: number, position: number): void {
    if (!Number.isInteger(a) || a < 0 || a >= this.anchorBar.length) {
      throw new SigvwapError('ERR_ARG', `anchorIdx[${position}]: expected an anchor id in 0..${this.anchorBar.length - 1}, got ${a}`, { argument: 'anchorIdx', index: position, value: a });
    }
  }

  /** Per-asset anchor and drop counts (for reports). */
  anchorReport(): { symbol: string; universe: Universe; candidates: number; anchors: Record<Split, number>; dropped: Record<DropReason, number> }[] {
    return this.assets.map((a) => ({ symbol: a.symbol, universe: a.universe, candidates: a.candidates, anchors: { ...a.anchors }, dropped: { ...a.dropped } }));
  }
}

/** The gather loop (a small monomorphic function, which V8 optimizes best). Anchors are checked by the caller. */
function gatherWindows(
  anchorIdx: Int32Array | readonly number[], anchorAsset: Int32Array, anchorBar: Int32Array,
  features: Float32Array[], normalizers: Float64Array[], prices: Float64Array[], volumes: Float64Array[], startMs: Float64Array, intervalMs: Float64Array,
  L: number, H: number, F: number, steps: number, vc: number,
  x: Float32Array, price: Float64Array, volume: Float64Array, anchorTimeMs: Float64Array, assetIndex: Int32Array, bar: Int32Array, normalizer: Float64Array,
): void {
  const rowLen = steps * F;
  for (let b = 0; b < anchorIdx.length; b++) {
    const a = anchorIdx[b]!;
    const asset = anchorAsset[a]!;
    const r = anchorBar[a]!;
    const start = r - L;
    const o = b * rowLen;
    x.set(features[asset]!.subarray(start * F, start * F + rowLen), o);
    const m = normalizers[asset]![start]!;
    if (vc >= 0) scaleStrided(x, o + vc, steps, F, 1 / m);
    price.set(prices[asset]!.subarray(r, r + H), b * H);
    volume.set(volumes[asset]!.subarray(r, r + H), b * H);
    anchorTimeMs[b] = startMs[asset]! + r * intervalMs[asset]!;
    assetIndex[b] = asset;
    bar[b] = r;
    normalizer[b] = m;
  }
}

/**
 * x[p], x[p + stride], ... (count values) multiplied by `factor`, in place: the window was
 * just copied, so this reads cache-hot values; a multiply (not a divide) per value keeps
 * the pass nearly free next to the copy.
 */
function scaleStrided(x: Float32Array, p: number, count: number, stride: number, factor: number): void {
  for (let t = 0; t < count; t++, p += stride) x[p] = x[p]! * factor;
}

/** Feature config from dataset options (defaults filled in, validated). */
export function featureConfigFrom(options: DatasetOptions): FeatureConfig {
  const d = DEFAULT_FEATURE_CONFIG;
  const config: FeatureConfig = {
    features: options.features ? [...options.features] : [...d.features],
    lookback: options.lookback ?? d.lookback,
    horizon: options.horizon ?? d.horizon,
    normalizerBars: options.normalizerBars ?? d.normalizerBars,
    normalizer: options.normalizer ?? d.normalizer,
    testFraction: options.testFraction ?? d.testFraction,
    validationFraction: options.validationFraction ?? d.validationFraction,
    purge: options.purge ?? d.purge,
  };
  checkFeatureConfig(config);
  return config;
}

const WORKER_URL = new URL('./featureWorker.js', import.meta.url);

/** Build a dataset from the store. */
export async function buildDataset(options: DatasetOptions = {}): Promise<Dataset> {
  const config = featureConfigFrom(options);
  const storeDir = options.store ?? DEFAULT_STORE_DIR;
  const manifest = openStoreManifest(storeDir);
  const symbols = options.assets ? [...options.assets] : Object.keys(manifest.assets).sort();
  if (symbols.length === 0) throw new SigvwapError('ERR_ARG', `assets: the store ${storeDir} holds no asset`, { argument: 'assets', store: storeDir });
  const tasks: FeatureTask[] = symbols.map((symbol) => {
    const entry = manifest.assets[symbol];
    if (!entry) {
      throw new SigvwapError('ERR_ARG', `assets: ${symbol} is not in the store ${storeDir} (it holds ${Object.keys(manifest.assets).length} assets)`, { argument: 'assets', value: symbol });
    }
    return { storeDir, symbol, file: entry.file, interval: entry.interval, config };
  });
  const workers = options.workers ?? Math.min(availableParallelism(), tasks.length);
  if (!Number.isInteger(workers) || workers < 0) throw new SigvwapError('ERR_ARG', `workers: expected a non-negative integer, got ${workers}`, { argument: 'workers', value: workers });
  let done = 0;
  const progress = (symbol: string) => options.onProgress?.({ done: ++done, total: tasks.length, symbol });

  let built: AssetFeatures[];
  if (workers === 0) {
    built = tasks.map((t) => {
      const { bars } = readStoreAsset(t.storeDir, { file: t.file });
      const r = buildAssetFeatures(bars, intervalToMs(t.interval), t.config, t.symbol);
      progress(t.symbol);
      return r;
    });
  } else {
    built = await runPool(tasks, workers, options.workerMemoryLimitMb, progress);
  }
  return new Dataset(config, symbols, tasks.map((t) => t.interval), built);
}

async function runPool(tasks: FeatureTask[], workers: number, memoryLimitMb: number | undefined, progress: (symbol: string) => void): Promise<AssetFeatures[]> {
  const workerPath = fileURLToPath(WORKER_URL);
  if (!existsSync(workerPath)) {
    throw new SigvwapError('ERR_WORKER', `feature worker ${workerPath} not found: the pool runs compiled JS (build with \`npx tsc -p tsconfig.json\` and import from dist/), or pass workers: 0`, { task: 'features', file: workerPath });
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
        const r = (await Promise.race([pool.run(t), failure])) as AssetFeatures | FeatureTaskError;
        if ('sigvwapError' in r) {
          const e = r.sigvwapError;
          throw new SigvwapError(isErrorCode(e.code) ? e.code : 'ERR_WORKER', e.message, { ...e.data, asset: t.symbol, task: 'features' });
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
    return settled.map((s) => (s as PromiseFulfilledResult<AssetFeatures>).value);
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
    return new SigvwapError('ERR_WORKER', `feature worker crashed before finishing asset ${symbol}${others}: ${message}`, {
      asset: symbol, task: 'features', failedTasks, causeCode: typeof e?.code === 'string' ? e.code : undefined,
    }, { cause: reason.error });
  }
  const e = reason as { message?: unknown; code?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(reason);
  const causeCode = typeof e?.code === 'string' ? e.code : undefined;
  if (reason instanceof SigvwapError) return reason;
  return new SigvwapError('ERR_WORKER', `feature worker failed for asset ${symbol}: ${message}`, { asset: symbol, task: 'features', causeCode }, { cause: reason });
}
