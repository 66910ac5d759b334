/**
 * Training checkpoints: everything needed to continue a run exactly, in one container file
 * (checkpointFile.ts) rewritten atomically after every epoch.
 *
 * Header: format 'sigvwap-checkpoint', version, label, model config (the topology), train
 * config, epochs done, best epoch and validation loss, plateau/early-stopping counters,
 * optimizer step and learning rate, RNG state, data fingerprint, per-epoch history, stop
 * reason. Payload groups: `current` and `best` weights, Adam moments `adam.m`, `adam.v`.
 * A per-asset (AFD) model is a directory with one checkpoint per asset and `afd.json`
 * (loadAllocator.ts). `checkModelExpectation` rejects (ERR_CHECKPOINT) a checkpoint made for
 * other features, horizon or bar interval.
 */
import { SigvwapError } from '../../errors.js';
import { type WeightEntry, packWeights, readContainer, unpackWeights, writeContainer } from './checkpointFile.js';
import { type ModelConfig, parseModelConfig, readsSequence, readsStaticFeatures } from './modelConfig.js';
import type { NamedWeights } from './neuralAllocator.js';
import type { RngState } from '../../rng.js';
import type { TrainConfig } from '../../train/trainConfig.js';

export const CHECKPOINT_FORMAT = 'sigvwap-checkpoint';
export const CHECKPOINT_VERSION = 1;
export const AFD_MANIFEST = 'afd.json';

export interface EpochRecord {
  epoch: number;
  /** mean training loss over the epoch's batches (objective units: |d| or d²) */
  loss: number;
  /** validation loss, objective units */
  valLoss: number;
  valAbsBps: number;
  valQuadMillionths: number;
  learningRate: number;
  elapsedMs: number;
}

export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  label: string;
  model: ModelConfig;
  train: TrainConfig;
  /** symbol of a per-asset model */
  asset: string | null;
  epoch: number;
  done: boolean;
  stopReason: 'max-epochs' | 'early-stopping' | 'time-limit' | null;
  bestEpoch: number;
  bestValLoss: number;
  plateauWait: number;
  stopWait: number;
  optimizer: { step: number; learningRate: number };
  rng: RngState;
  fingerprint: string;
  /** the dataset config (lookback, horizon, normalizer, splits) the anchors came from */
  dataset: Record<string, unknown>;
  trainAnchors: number;
  validationAnchors: number;
  parameters: number;
  history: EpochRecord[];
  elapsedMs: number;
  updatedAt: string;
}

export interface CheckpointWeights {
  current: NamedWeights;
  best: NamedWeights;
  adamM: NamedWeights;
  adamV: NamedWeights;
}

export function saveCheckpoint(path: string, state: CheckpointState, weights: CheckpointWeights): void {
  const { entries, binary } = packWeights({ current: weights.current, best: weights.best, 'adam.m': weights.adamM, 'adam.v': weights.adamV });
  writeContainer(path, { ...state, weights: entries }, binary);
}

export function loadCheckpoint(path: string): { state: CheckpointState; weights: CheckpointWeights } {
  const { header, binary } = readContainer(path);
  if (header.format !== CHECKPOINT_FORMAT) {
    throw new SigvwapError('ERR_CHECKPOINT', `${path} is not a sigvwap training checkpoint (format ${String(header.format)})`, { file: path });
  }
  if (header.version !== CHECKPOINT_VERSION) {
    throw new SigvwapError('ERR_CHECKPOINT', `${path}: checkpoint version ${String(header.version)} is not supported (expected ${CHECKPOINT_VERSION})`, { file: path });
  }
  const model = parseModelConfigOf(header.model, path);
  const entries = header.weights as Record<string, WeightEntry[]> | undefined;
  if (!entries?.current || !entries.best) throw new SigvwapError('ERR_CHECKPOINT', `${path}: no weights in the checkpoint`, { file: path });
  const { weights: _w, binaryBytes: _b, binarySha256: _s, ...rest } = header;
  const state = { ...rest, model } as unknown as CheckpointState;
  return {
    state,
    weights: {
      current: unpackWeights(binary, entries.current, path),
      best: unpackWeights(binary, entries.best, path),
      adamM: unpackWeights(binary, entries['adam.m'] ?? [], path),
      adamV: unpackWeights(binary, entries['adam.v'] ?? [], path),
    },
  };
}

function parseModelConfigOf(value: unknown, path: string): ModelConfig {
  try {
    return parseModelConfig(value, `${path}: model config`);
  } catch (e) {
    throw new SigvwapError('ERR_CHECKPOINT', (e as Error).message, { file: path }, { cause: e });
  }
}

/** What a caller needs a model to match. */
export interface ModelExpectation {
  horizon?: number;
  intervalMs?: number;
  /** the feature specification the caller computes inputs with */
  staticFeatures?: ModelConfig['staticFeatures'];
  sequence?: ModelConfig['dynamic']['sequence'];
  kind?: ModelConfig['kind'];
  lookahead?: number;
}

/** ERR_CHECKPOINT naming every field where `config` differs from `expect`. */
export function checkModelExpectation(config: ModelConfig, expect: ModelExpectation, path: string): void {
  const diffs: string[] = [];
  if (expect.kind !== undefined && expect.kind !== config.kind) diffs.push(`kind ${config.kind} (expected ${expect.kind})`);
  if (expect.horizon !== undefined && expect.horizon !== config.horizon) diffs.push(`horizon ${config.horizon} (expected ${expect.horizon})`);
  if (expect.intervalMs !== undefined && expect.intervalMs !== config.intervalMs) diffs.push(`bar interval ${config.intervalMs} ms (expected ${expect.intervalMs} ms)`);
  if (expect.lookahead !== undefined && expect.lookahead !== config.lookahead) diffs.push(`lookahead ${config.lookahead} (expected ${expect.lookahead})`);
  const cmp = (name: string, a: object, b: object | undefined) => {
    if (b === undefined) return;
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const va = JSON.stringify((a as Record<string, unknown>)[key]);
      const vb = JSON.stringify((b as Record<string, unknown>)[key]);
      if (va !== vb) diffs.push(`${name}.${key} ${va} (expected ${vb})`);
    }
  };
  if (readsStaticFeatures(config)) cmp('staticFeatures', config.staticFeatures, expect.staticFeatures);
  if (readsSequence(config)) cmp('sequence', config.dynamic.sequence, expect.sequence);
  if (diffs.length > 0) {
    throw new SigvwapError('ERR_CHECKPOINT', `${path} was made for another feature set or shape: ${diffs.join('; ')}`, { file: path, differences: diffs });
  }
}
