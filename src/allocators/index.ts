/**
 * Allocators: the interface, the registry and the built-in allocators. Importing this module
 * registers the built-ins (twap, histCurve); neural allocators come from checkpoints through
 * the same `resolveAllocator`.
 */
import './twap.js';
import './histCurve.js';

export { type Allocator, type ClosedLoop, checkHorizon } from './allocator.js';
export { registerAllocator, unregisterAllocator, registeredAllocators, resolveAllocator, isAllocatorSpec, type AllocatorContext, type AllocatorEntry } from './registry.js';
export { twapAllocator } from './twap.js';
export { histCurveAllocator } from './histCurve.js';
export { PerAssetAllocator } from './perAssetAllocator.js';
export { NeuralAllocator, parameterSpecs, parameterSummary, formatParameterSummary, type ParameterSummary, type NamedWeights, type NamedArray, type ModelInputs } from './neural/neuralAllocator.js';
export { loadAllocator, loadNeuralAllocator, loadPerAssetAllocator } from './neural/loadAllocator.js';
export { PRETRAINED_PREFIX, pretrainedDir, pretrainedModels, pretrainedPath, exportModel, modelCardConfiguration, parseModelCardConfiguration } from './neural/pretrained.js';
export {
  MODEL_KINDS, DEFAULT_DYNAMIC, defaultModelConfig, parseModelConfig, modelLabel, modelConfigSchema, readsStaticFeatures, readsSequence, isAdaptive,
  modelHistoryBars, type ModelConfig, type ModelKind,
} from './neural/modelConfig.js';
export {
  saveCheckpoint, loadCheckpoint, checkModelExpectation, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, AFD_MANIFEST,
  type CheckpointState, type CheckpointWeights, type EpochRecord, type ModelExpectation,
} from './neural/checkpoint.js';
