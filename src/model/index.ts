/**
 * Model layer: allocators (TWAP, historical curve, learned constant curve, static and dynamic
 * neural allocators), the VWAP loss as a tfjs op, training with checkpoints, the evaluation
 * protocol with block-bootstrap intervals, and inference (schedules, stepwise execution).
 */
export { Rng, type RngState } from './rng.js';
export {
  type MarketSeries, type OrderBatch, ordersFromDataset, datasetSeries, orderTargets, sliceOrders, takeOrders,
  slotsPerDay, hourOf, weekdayOf,
} from './marketSeries.js';
export { seriesStats, type SeriesStats } from './seriesStats.js';
export { historicalCurve, historicalVolumes, DEFAULT_HIST_CURVE, type HistCurveOptions } from './historicalCurve.js';
export {
  computeStaticFeatures, staticFeatureNames, staticFeatureCount, staticHistoryBars, DEFAULT_STATIC_FEATURES, type StaticFeatureSpec,
} from './staticFeatures.js';
export {
  computeSequenceFeatures, computeExecutionState, sequenceSteps, SEQUENCE_CHANNELS, EXECUTION_STATE_CHANNELS, DEFAULT_SEQUENCE_FEATURES,
  type SequenceFeatureSpec,
} from './sequenceFeatures.js';
export { type Allocator, twapAllocator, histCurveAllocator, checkHorizon } from './allocator.js';
export { lstmSequence, lstmSequenceTfjs, lstmForward, lstmBackward, type LstmShape } from './lstmSequence.js';
export { vwapLossTensor, vwapLossTfjs, type VwapTargets } from './vwapLossOp.js';
export {
  MODEL_KINDS, DEFAULT_DYNAMIC, defaultModelConfig, parseModelConfig, modelLabel, modelConfigSchema, type ModelConfig, type ModelKind,
} from './modelConfig.js';
export { NeuralAllocator, parameterSpecs, type NamedWeights, type NamedArray, type ModelInputs } from './neuralAllocator.js';
export { Adam, DEFAULT_ADAM, type AdamOptions, type AdamState } from './adam.js';
export { writeContainer, readContainer, packWeights, unpackWeights, fileIOHandler, type WeightEntry } from './checkpointFile.js';
export {
  saveCheckpoint, loadCheckpoint, loadAllocator, checkModelExpectation, PerAssetAllocator, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, AFD_MANIFEST,
  type CheckpointState, type CheckpointWeights, type EpochRecord, type ModelExpectation,
} from './checkpoint.js';
export { dataFingerprint } from './dataFingerprint.js';
export { DEFAULT_TRAIN_CONFIG, parseTrainConfig, trainConfigSchema, type TrainConfig } from './trainConfig.js';
export { trainModel, resolveModelConfig, meanLosses, type TrainOptions, type TrainResult, type TrainStartInfo, type BatchProgress } from './trainModel.js';
export { pairedBlockBootstrap, checkBootstrapOptions, type BootstrapOptions, type PairedResult, type PairedSeries } from './blockBootstrap.js';
export {
  evaluateAllocators, groupAllocators, orderSlippage, DEFAULT_REFERENCES,
  type EvaluateOptions, type EvaluationReport, type AssetResult, type UniverseResult, type Comparison, type AllocatorGroup,
  type LossSummary, type ImprovementSummary,
} from './evaluate.js';
export { reportToMarkdown } from './formatReport.js';
export {
  scheduleOrder, beginStepwiseSchedule, StepwiseSchedule, loadStoreSeries, truncateSeries,
  type ScheduleRequest, type Schedule, type ScheduleBar, type Side, type ObservedBar,
} from './scheduleOrder.js';
export { tf } from './tf.js';
