/**
 * One asset's bars from the store as a MarketSeries on its regular grid (inference and
 * execution read single assets; datasets read many through `buildDataset`).
 * Cost: reading the asset's Arrow file and gridding it, O(bars).
 */
import { SigvwapError } from '../errors.js';
import { buildAssetSeries } from './buildAssetSeries.js';
import { intervalToMs } from './interval.js';
import type { MarketSeries } from './marketSeries.js';
import { openStoreManifest, readStoreAsset } from './store.js';

export function loadStoreSeries(store: string, asset: string): MarketSeries {
  const manifest = openStoreManifest(store);
  const entry = manifest.assets[asset];
  if (!entry) throw new SigvwapError('ERR_ARG', `asset: ${asset} is not in the store ${store} (it holds ${Object.keys(manifest.assets).length} assets)`, { argument: 'asset', value: asset });
  const { bars } = readStoreAsset(store, entry);
  const intervalMs = intervalToMs(entry.interval);
  const { series } = buildAssetSeries(bars, intervalMs, {
    lookback: 1, horizon: 1, normalizerBars: 1, normalizer: 'mean', testFraction: 0, validationFraction: 0, purge: false,
  }, asset);
  return series;
}
