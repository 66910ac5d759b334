/**
 * sigvwap: learned VWAP execution with a Rust/CUDA native core. The public API, in the order
 * the data flows: bars → store → series and orders → features → allocator → allocation →
 * VWAP loss → evaluation; inference; the native kernels and their TensorFlow.js ops.
 * Internals stay importable by path (dist/<folder>/<module>.js) for tests and tools; what is
 * exported here is what the package promises to keep.
 */
export { SigvwapError, NativeLoadError, ERROR_CODES, isErrorCode, type ErrorCode, type ErrorData } from './errors.js';

// native kernels
export { backendInfo, setThreads, type BackendReport, type DeviceName } from './native/backend.js';
export type { FloatArray } from './native/checks.js';
export {
  vwapLoss, vwapLossAsync, vwapLossGrad, vwapLossGradAsync, vwapLossAndGrad, vwapLossAndGradAsync,
  type VwapLossInput, type VwapGradInput, type VwapLossOutput, type VwapLossGradOutput, type VwapLossKind,
} from './native/vwapLoss.js';
export {
  sigLength, signature, signatureAsync, signatureBackward, signatureBackwardAsync, addTime, leadLag,
  type SignatureOptions, type SignaturePrecision, type OutOption, type PathShape,
} from './native/signature.js';
export {
  simulateFills, simulateFillsAsync, FillSimulator, FILL_DEFAULTS,
  type FillMarketInput, type FillParamsInput, type SimulateFillsInput, type FillArrays, type FillResult, type FillStep, type FinalBin,
} from './native/simulateFills.js';

// data: ingest, store, quality, datasets, orders
export {
  ingest, qualityReport, buildDataset, Dataset, DEFAULT_STORE_DIR, SPLITS,
  type IngestOptions, type IngestResult, type QcOptions, type QcReport, type DatasetOptions, type Split, type Universe,
} from './data/index.js';
export { loadStoreSeries } from './data/loadStoreSeries.js';
export { ordersFromDataset, orderTargets, type MarketSeries, type OrderBatch } from './data/marketSeries.js';

// order features
export { computeStaticFeatures, staticFeatureNames, DEFAULT_STATIC_FEATURES, type StaticFeatureSpec } from './features/staticFeatures.js';
export {
  computeSequenceFeatures, computeExecutionState, SEQUENCE_CHANNELS, EXECUTION_STATE_CHANNELS, DEFAULT_SEQUENCE_FEATURES, type SequenceFeatureSpec,
} from './features/sequenceFeatures.js';

// allocators
export {
  type Allocator, type ClosedLoop, type AllocatorContext, type AllocatorEntry, registerAllocator, unregisterAllocator, registeredAllocators, resolveAllocator,
  twapAllocator, histCurveAllocator, NeuralAllocator, PerAssetAllocator, loadAllocator,
  MODEL_KINDS, defaultModelConfig, parseModelConfig, type ModelConfig, type ModelKind,
  loadCheckpoint, type CheckpointState, type EpochRecord,
  isAllocatorSpec, PRETRAINED_PREFIX, pretrainedModels, pretrainedPath, exportModel,
} from './allocators/index.js';

// training and evaluation
export { trainModel, type TrainOptions, type TrainResult, type TrainStartInfo, type BatchProgress } from './train/trainModel.js';
export { DEFAULT_TRAIN_CONFIG, parseTrainConfig, type TrainConfig } from './train/trainConfig.js';
export {
  evaluateAllocators, type EvaluateOptions, type EvaluationReport, type AssetResult, type UniverseResult, type Comparison,
} from './evaluate/evaluateAllocators.js';
export { pairedBlockBootstrap, type BootstrapOptions, type PairedResult } from './evaluate/blockBootstrap.js';
export { reportToMarkdown } from './evaluate/formatReport.js';

// execution: schedules of single orders
export { scheduleOrder, type ScheduleRequest, type Schedule, type ScheduleBar, type Side } from './execution/scheduleOrder.js';
export { StepwiseSchedule, beginStepwiseSchedule, type ObservedBar } from './execution/stepwiseSchedule.js';

// execution backtests: orders, bins, strategies, fills, TCA
export { ordersFromAnchors, sessionOrders, readOrdersFile, type BacktestOrders } from './execution/backtestOrders.js';
export { orderBins, type OrderMarket } from './execution/orderBins.js';
export { registerStrategy, registeredStrategies, resolveStrategy, type Strategy, type StrategyContext, type StrategyOptions } from './execution/strategies/index.js';
export { runBacktest, type BacktestOptions, type BacktestResult, type StrategyResult } from './execution/runBacktest.js';
export { orderTca, summarizeTca, type OrderTca, type TcaSummary } from './execution/tca.js';

// TensorFlow.js ops on the native kernels
export { signatureOp, type SignatureOpOptions } from './ops/signatureOp.js';
export { logSignatureOp, type LogSignatureOpOptions, type LogSignatureBasis } from './ops/logSignatureOp.js';
export { logSigLength } from './ops/lyndonBasis.js';
export { vwapLossTensor, type VwapTargets } from './ops/vwapLossOp.js';
export { BACKENDS, initBackend, useBackend, activeBackend, nativeBackendStatus, wasmBackendStatus, type BackendName, type WasmBackendStatus } from './ops/backend.js';
