/**
 * The package root exports what a user needs and nothing else (about 220 names before the
 * pipeline layout, including `tf` and `lstmBackward`). Adding an export is a decision: add it
 * here too. Internals stay importable by path.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';

const PUBLIC = [
  // errors
  'ERROR_CODES', 'NativeLoadError', 'SigvwapError', 'isErrorCode',
  // native kernels
  'backendInfo', 'setThreads', 'vwapLoss', 'vwapLossAsync', 'vwapLossGrad', 'vwapLossGradAsync', 'vwapLossAndGrad', 'vwapLossAndGradAsync',
  'sigLength', 'signature', 'signatureAsync', 'signatureBackward', 'signatureBackwardAsync', 'addTime', 'leadLag',
  'simulateFills', 'simulateFillsAsync', 'FillSimulator', 'FILL_DEFAULTS',
  // data
  'ingest', 'qualityReport', 'buildDataset', 'Dataset', 'DEFAULT_STORE_DIR', 'SPLITS', 'loadStoreSeries', 'ordersFromDataset', 'orderTargets',
  // features
  'computeStaticFeatures', 'staticFeatureNames', 'DEFAULT_STATIC_FEATURES', 'computeSequenceFeatures', 'computeExecutionState',
  'SEQUENCE_CHANNELS', 'EXECUTION_STATE_CHANNELS', 'DEFAULT_SEQUENCE_FEATURES',
  // allocators
  'registerAllocator', 'unregisterAllocator', 'registeredAllocators', 'resolveAllocator', 'twapAllocator', 'histCurveAllocator',
  'NeuralAllocator', 'PerAssetAllocator', 'loadAllocator', 'MODEL_KINDS', 'defaultModelConfig', 'parseModelConfig', 'loadCheckpoint',
  'isAllocatorSpec', 'PRETRAINED_PREFIX', 'pretrainedModels', 'pretrainedPath', 'exportModel',
  // training, evaluation
  'trainModel', 'DEFAULT_TRAIN_CONFIG', 'parseTrainConfig', 'evaluateAllocators', 'pairedBlockBootstrap', 'reportToMarkdown',
  // execution
  'scheduleOrder', 'StepwiseSchedule', 'beginStepwiseSchedule',
  'ordersFromAnchors', 'sessionOrders', 'readOrdersFile', 'orderBins', 'registerStrategy', 'registeredStrategies', 'resolveStrategy',
  'runBacktest', 'orderTca', 'summarizeTca',
  // tfjs ops
  'signatureOp', 'logSignatureOp', 'logSigLength', 'vwapLossTensor',
  // tfjs backends
  'BACKENDS', 'initBackend', 'useBackend', 'activeBackend', 'nativeBackendStatus', 'wasmBackendStatus',
];

describe('public API', () => {
  it('exports exactly the documented names', () => {
    expect(Object.keys(api).sort()).toEqual([...PUBLIC].sort());
  });

  it('the built-in allocators are registered by importing the package', () => {
    expect(api.registeredAllocators().map((e) => e.name)).toEqual(expect.arrayContaining(['twap', 'histCurve']));
  });
});
