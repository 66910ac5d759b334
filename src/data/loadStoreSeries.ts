/**
 * One asset's bars from the store as a MarketSeries on its regular grid (inference and
 * execution read single assets; datasets read many through `buildDataset`).
 * Cost: reading the asset's Arrow file and gridding it, O(bars).
 */
import { buildAssetSeries } from './buildAssetSeries.js';
import { intervalToMs } from './interval.js';
import type { MarketSeries } from './marketSeries.js';
import { openStoreManifest, readStoreAsset, unknownAssetError } from './store.js';

export function loadStoreSeries(store: string, asset: string): MarketSeries {
  const manifest = openStoreManifest(store);
  const entry = manifest.assets[asset];
  if (!entry) throw unknownAssetError(asset, manifest, store, 'asset');
  const { bars } = readStoreAsset(store, entry);
  const intervalMs = intervalToMs(entry.interval);
  const { series } = buildAssetSeries(bars, intervalMs, {
    lookback: 1, horizon: 1, normalizerBars: 1, normalizer: 'mean', testFraction: 0, validationFraction: 0, purge: false,
  }, asset);
  return series;
}
