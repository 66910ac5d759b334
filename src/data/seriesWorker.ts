/**
 * Piscina worker: one task = one asset. Reads the asset's Arrow file from the store,
 * builds its series, normalizers and anchors (buildAssetSeries) and sends every array back
 * by transfer (Piscina.move: zero copy, the worker gives up the buffers).
 * Runs as compiled JS (dist/data/seriesWorker.js); the pool resolves it relative to
 * buildDataset's own module.
 * Cost: one asset's O(bars) build per task; the transfer copies nothing.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { SigvwapError } from '../errors.js';
import { buildAssetSeries, type AssetData, type DatasetConfig } from './buildAssetSeries.js';
import { intervalToMs } from './interval.js';
import { readStoreAsset } from './store.js';

export interface SeriesTask {
  storeDir: string;
  symbol: string;
  file: string;
  /** the manifest's checksum of the file (verified on read) */
  fileSha256: string | undefined;
  interval: string;
  config: DatasetConfig;
}

/** The worker's result: arrays travel in the transfer list. */
export function transferableAssetData(result: AssetData): unknown {
  const s = result.series;
  const a = result.anchors;
  const buffers = [s.openTimeMs, s.price, s.volume, s.quoteVolume, s.high, s.low, s.missing, s.normalizer, a.bar, a.split].map((x) => x.buffer);
  return move({ [transferableSymbol]: buffers, [valueSymbol]: result } as never);
}

/** A typed error of the task, sent back as a value (thrown errors lose their code between threads). */
export interface SeriesTaskError {
  sigvwapError: { code: string; message: string; data: Record<string, unknown> };
}

export default function seriesTask(task: SeriesTask): unknown {
  try {
    const { bars } = readStoreAsset(task.storeDir, task);
    return transferableAssetData(buildAssetSeries(bars, intervalToMs(task.interval), task.config, task.symbol));
  } catch (err) {
    if (err instanceof SigvwapError) return { sigvwapError: { code: err.code, message: err.message, data: err.data } } satisfies SeriesTaskError;
    throw err;
  }
}
