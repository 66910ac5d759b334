/**
 * Market-data layer: ingest exchange files into an Arrow bar store, report data quality,
 * build each asset's causal series (grid, bar VWAP, volume, missing flags, normalizers) and
 * a dataset of anchors (asset, bar) over them. Models compute their order features from the
 * series (src/features).
 */
export { type BarTable, BAR_COLUMNS } from './barTable.js';
export { intervalToMs, msToInterval, inferIntervalMs } from './interval.js';
export { parseSourceName, type SourceName } from './parseSourceName.js';
export { parseDecimal } from './parseDecimal.js';
export { parseKlineCsv, sniffKlineCsv, SIGVWAP_HEADER, BINANCE_KLINE_COLUMNS, type ParsedKlines, type KlineLayout } from './parseKlineCsv.js';
export { readSourceFile, type SourceFile, type SourcePart } from './readSourceFile.js';
export {
  DEFAULT_STORE_DIR, MANIFEST_FILE, readManifest, openStoreManifest, readStoreAsset, assetFileName,
  type StoreManifest, type ManifestAsset, type PolicyChange, type AssetFile,
} from './store.js';
export {
  ingest, collectInputFiles, invalidBarReason, DUPLICATE_POLICIES, UNSORTED_POLICIES, INVALID_BAR_POLICIES,
  type IngestOptions, type IngestResult, type IngestedAsset, type DuplicatePolicy, type UnsortedPolicy, type InvalidBarPolicy,
} from './ingest.js';
export { qualityReport, assetQc, qcReportToJson, type QcOptions, type QcReport, type AssetQc, type QcGap, type QcCount } from './qualityReport.js';
export {
  buildAssetSeries, meanNormalizer, medianNormalizer, checkDatasetConfig, DEFAULT_DATASET_CONFIG,
  SPLITS, SPLIT_CODE, DROP_REASONS,
  type DatasetConfig, type NormalizerKind, type Split, type AssetSeries, type AssetAnchors, type AssetData, type DropReason,
} from './buildAssetSeries.js';
export {
  buildDataset, datasetConfigFrom, Dataset,
  type DatasetOptions, type AssetInfo, type AnchorSet, type Universe,
} from './buildDataset.js';
export { loadStoreSeries, loadStoreAssets } from './loadStoreSeries.js';
export {
  tradingSessions, sessionIndexOfBar, resolveSessionOptions, isNyseEarlyClose, zonedTimeToUtcMs, localDateOf, localMinuteOf,
  DEFAULT_SESSION_TIME_ZONE, type SessionOptions, type ResolvedSessionOptions, type TradingSession,
} from './sessions.js';
