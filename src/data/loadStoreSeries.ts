/**
 * Assets' bars from the store as series on their regular grids (inference and execution read
 * single assets or a few; datasets with anchors read many through `buildDataset`).
 * The result is an AssetSeries (a MarketSeries plus quote volume, high, low and normalizer).
 * Cost: reading each asset's Arrow file and gridding it, O(bars).
 */
import { buildAssetSeries, type AssetSeries, type DatasetConfig } from './buildAssetSeries.js';
import { intervalToMs } from './interval.js';
import { openStoreManifest, readStoreAsset, unknownAssetError, type StoreManifest } from './store.js';

/** Anchors are not used here: the smallest valid config (normalizer of one bar). */
const SERIES_ONLY: DatasetConfig = {
  lookback: 1, horizon: 1, normalizerBars: 1, normalizer: 'mean', testFraction: 0, validationFraction: 0, purge: false,
};

function loadOne(store: string, manifest: StoreManifest, asset: string, argument: string): AssetSeries {
  const entry = manifest.assets[asset];
  if (!entry) throw unknownAssetError(asset, manifest, store, argument);
  const { bars } = readStoreAsset(store, entry);
  return buildAssetSeries(bars, intervalToMs(entry.interval), SERIES_ONLY, asset).series;
}

export function loadStoreSeries(store: string, asset: string): AssetSeries {
  return loadOne(store, openStoreManifest(store), asset, 'asset');
}

/** Several assets (default: every asset in the store, sorted), series by index of `symbols`. */
export function loadStoreAssets(store: string, assets?: readonly string[]): { symbols: string[]; series: AssetSeries[] } {
  const manifest = openStoreManifest(store);
  const symbols = assets ? [...assets] : Object.keys(manifest.assets).sort();
  return { symbols, series: symbols.map((s) => loadOne(store, manifest, s, 'assets')) };
}
