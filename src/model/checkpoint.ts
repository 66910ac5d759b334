/**
 * Training checkpoints: everything needed to continue a run exactly, in one container file
 * (checkpointFile.ts) rewritten atomically after every epoch.
 *
 * Header: format 'sigvwap-checkpoint', version, label, model config (the topology), train
 * config, epochs done, best epoch and validation loss, plateau/early-stopping counters,
 * optimizer step and learning rate, RNG state, data fingerprint, per-epoch history, stop
 * reason. Payload groups: `current` and `best` weights, Adam moments `adam.m`, `adam.v`.
 * A per-asset (AFD) model is a directory with one checkpoint per asset and `afd.json`.
 * `loadAllocator` restores the best weights bit for bit; `expect` rejects (ERR_CHECKPOINT) a
 * checkpoint made for other features, horizon or bar interval.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SigvwapError } from '../errors.js';
import type { Allocator } from './allocator.js';
import { type WeightEntry, packWeights, readContainer, unpackWeights, writeContainer } from './checkpointFile.js';
import type { OrderBatch } from './marketSeries.js';
import { type ModelConfig, modelLabel, parseModelConfig } from './modelConfig.js';
import { NeuralAllocator, type NamedWeights } from './neuralAllocator.js';
import type { RngState } from './rng.js';
import type { TrainConfig } from './trainConfig.js';

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
  /** the dataset's feature config (lookback, horizon, splits) the anchors came from */
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
  if (config.kind !== 'constCurve') cmp('staticFeatures', config.staticFeatures, expect.staticFeatures);
  if (config.kind === 'dynamic') cmp('sequence', config.dynamic.sequence, expect.sequence);
  if (diffs.length > 0) {
    throw new SigvwapError('ERR_CHECKPOINT', `${path} was made for another feature set or shape: ${diffs.join('; ')}`, { file: path, differences: diffs });
  }
}

/** The allocator of a checkpoint file (best weights) or of a per-asset directory. */
export function loadAllocator(path: string, expect: ModelExpectation = {}): NeuralAllocator | PerAssetAllocator {
  if (existsSync(path) && statSync(path).isDirectory()) return PerAssetAllocator.load(path, expect);
  const { state, weights } = loadCheckpoint(path);
  checkModelExpectation(state.model, expect, path);
  return NeuralAllocator.fromWeights(state.model, weights.best);
}

/** Per-asset (AFD) models: one checkpoint per asset; orders of other assets are an error. */
export class PerAssetAllocator implements Allocator {
  readonly label: string;
  readonly kind: string;
  readonly lookahead: number;
  readonly horizon: number;
  readonly models: ReadonlyMap<string, NeuralAllocator>;

  constructor(models: Map<string, NeuralAllocator>) {
    const first = models.values().next().value as NeuralAllocator | undefined;
    if (!first) throw new SigvwapError('ERR_CHECKPOINT', 'per-asset model without any asset', {});
    this.models = models;
    this.kind = first.kind;
    this.lookahead = first.lookahead;
    this.horizon = first.horizon;
    this.label = `${modelLabel(first.config)}-afd`;
  }

  static load(dir: string, expect: ModelExpectation = {}): PerAssetAllocator {
    const manifestPath = join(dir, AFD_MANIFEST);
    if (!existsSync(manifestPath)) throw new SigvwapError('ERR_CHECKPOINT', `${dir} is a directory without ${AFD_MANIFEST}: not a per-asset model`, { file: dir });
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { assets: Record<string, string> };
    const models = new Map<string, NeuralAllocator>();
    for (const [symbol, file] of Object.entries(manifest.assets)) {
      const m = loadAllocator(join(dir, file), expect);
      if (!(m instanceof NeuralAllocator)) throw new SigvwapError('ERR_CHECKPOINT', `${join(dir, file)}: nested per-asset model`, { file });
      models.set(symbol, m);
    }
    return new PerAssetAllocator(models);
  }

  has(symbol: string): boolean {
    return this.models.has(symbol);
  }

  allocate(orders: OrderBatch): Float64Array {
    const H = orders.horizon;
    const n = orders.bar.length;
    const out = new Float64Array(n * H);
    const symbols = orders.symbols;
    if (!symbols) throw new SigvwapError('ERR_ARG', 'orders: a per-asset model needs the symbols of the orders (OrderBatch.symbols)', { argument: 'orders' });
    const byAsset = new Map<number, number[]>();
    for (let b = 0; b < n; b++) {
      const a = orders.assetIndex[b]!;
      const list = byAsset.get(a) ?? [];
      list.push(b);
      byAsset.set(a, list);
    }
    for (const [asset, rows] of byAsset) {
      const symbol = symbols[asset]!;
      const model = this.models.get(symbol);
      if (!model) throw new SigvwapError('ERR_ARG', `orders: the per-asset model has no model for ${symbol}`, { argument: 'orders', asset: symbol });
      const sub: OrderBatch = { ...orders, assetIndex: Int32Array.from(rows, (b) => orders.assetIndex[b]!), bar: Int32Array.from(rows, (b) => orders.bar[b]!) };
      const a = model.allocate(sub);
      rows.forEach((b, i) => out.set(a.subarray(i * H, (i + 1) * H), b * H));
    }
    return out;
  }

  dispose(): void {
    for (const m of this.models.values()) m.dispose();
  }
}
