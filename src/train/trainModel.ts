/**
 * Training loop: minibatch Adam on the VWAP loss of the model's own allocations, validation
 * after every epoch, reduce-on-plateau, early stopping restoring the best weights, and an
 * atomic checkpoint after every epoch (a killed run loses at most the epoch in progress;
 * `resume` continues bit for bit: weights, Adam moments, step, learning rate, counters and
 * the sampling RNG are all restored).
 *
 * Data: GFD ('global') learns from the training split of the chosen universe (default: the
 * training-universe assets), validates on their validation split; AFD ('per-asset') trains one
 * model per asset on its own splits and writes `<out>/<SYMBOL>.ckpt` plus `afd.json`.
 * Randomness (seed s): root = Rng(s); init = root.fork() draws the initial weights and the
 * standardizer sample, data = root.fork() draws each epoch's anchors (its state is saved),
 * val = root.fork() draws the fixed validation subset.
 * Steps: startRun (a fresh model or the resumed checkpoint) → per epoch trainEpoch
 * (trainEpoch.ts) → validate (validate.ts) → advanceSchedule (epochSchedule.ts) → checkpoint.
 * Cost per epoch: samplesPerEpoch forward+backward passes (allocators/neural/neuralAllocator.ts)
 * plus one forward pass over the validation subset; one checkpoint write.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SigvwapError } from '../errors.js';
import type { Dataset } from '../data/index.js';
import { ensureDir, writeFileAtomic } from '../data/writeFileAtomic.js';
import { withFileLock } from '../data/fileLock.js';
import { type OrderBatch, orderTargets, ordersFromDataset } from '../data/marketSeries.js';
import {
  AFD_MANIFEST, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, checkModelExpectation, loadCheckpoint, saveCheckpoint,
  type CheckpointState, type EpochRecord,
} from '../allocators/neural/checkpoint.js';
import { type ModelConfig, defaultModelConfig, modelLabel, parseModelConfig, readsStaticFeatures } from '../allocators/neural/modelConfig.js';
import { NeuralAllocator, type NamedWeights } from '../allocators/neural/neuralAllocator.js';
import { PerAssetAllocator } from '../allocators/perAssetAllocator.js';
import { Rng } from '../rng.js';
import { Adam } from './adam.js';
import { advanceSchedule } from './epochSchedule.js';
import { dataFingerprint } from './dataFingerprint.js';
import { BatchPipeline, defaultDataWorkers } from './batchPipeline.js';
import { type BatchProgress, diverged, trainEpoch } from './trainEpoch.js';
import { type TrainConfig, parseTrainConfig } from './trainConfig.js';
import { OUTPUT_LOCK_FILE, checkCheckpointOut, preparePerAssetOut } from './trainOutput.js';
import { type OrderTargets, validate } from './validate.js';

export type { BatchProgress } from './trainEpoch.js';
export { meanLosses } from './validate.js';

export interface TrainStartInfo {
  label: string;
  asset: string | null;
  epochsDone: number;
  trainAnchors: number;
  validationAnchors: number;
  batchesPerEpoch: number;
  parameters: number;
  resumed: boolean;
}

export interface TrainOptions {
  dataset: Dataset;
  /** a full config, or a kind plus overrides (horizon and interval come from the dataset) */
  model: ModelConfig | ({ kind: ModelConfig['kind'] } & Partial<ModelConfig>);
  train?: Partial<TrainConfig>;
  /** checkpoint file (global) or directory (per-asset) */
  out: string;
  /** continue from `out` when it exists */
  resume?: boolean;
  /** replace an existing `out` (otherwise ERR_ARG) */
  overwrite?: boolean;
  /** per-asset mode: the assets to train (default: every asset of the dataset) */
  assets?: readonly string[];
  /**
   * worker threads that build the training batches ahead while this thread trains (default
   * defaultDataWorkers(): cores − 2, at most 4; 0 = build them in this thread). Results do not
   * depend on it (same bytes either way).
   */
  dataWorkers?: number;
  onStart?: (info: TrainStartInfo) => void;
  onBatch?: (p: BatchProgress) => void;
  onEpoch?: (record: EpochRecord, state: CheckpointState) => void;
}

export interface TrainResult {
  model: NeuralAllocator | PerAssetAllocator;
  /** final checkpoint state(s) */
  states: CheckpointState[];
  path: string;
}

/** Complete a model config from a dataset (horizon, interval) and validate it. */
export function resolveModelConfig(dataset: Dataset, model: TrainOptions['model']): ModelConfig {
  const intervals = new Set(dataset.assets.map((a) => a.intervalMs));
  if (intervals.size !== 1) throw new SigvwapError('ERR_ARG', `dataset: assets have different bar intervals (${[...intervals].join(', ')} ms)`, { argument: 'dataset' });
  const intervalMs = [...intervals][0]!;
  const base = defaultModelConfig(model.kind, dataset.horizon, intervalMs);
  const merged = { ...base, ...model, horizon: dataset.horizon, intervalMs, dynamic: { ...base.dynamic, ...(model.dynamic ?? {}) }, ...(base.gft ? { gft: { ...base.gft, ...(model.gft ?? {}) } } : {}) };
  if (model.horizon !== undefined && model.horizon !== dataset.horizon) {
    throw new SigvwapError('ERR_ARG', `model.horizon ${model.horizon} differs from the dataset's horizon ${dataset.horizon}`, { argument: 'horizon' });
  }
  return parseModelConfig(merged);
}

export async function trainModel(options: TrainOptions): Promise<TrainResult> {
  const config = resolveModelConfig(options.dataset, options.model);
  const train = parseTrainConfig(options.train ?? {});
  // one writer per output: a second run into the same checkpoint or folder fails at once
  if (train.mode === 'per-asset') {
    ensureDir(options.out, 'output folder');
    return withFileLock(join(options.out, OUTPUT_LOCK_FILE), `the per-asset model ${options.out}`, () => trainPerAsset(options, config, train), { timeoutMs: 0 });
  }
  ensureDir(dirname(options.out), 'output folder');
  return withFileLock(`${options.out}.lock`, `the checkpoint ${options.out}`, async () => {
    const { model, state } = await trainOne(options, config, train, null, options.out);
    return { model, states: [state], path: options.out };
  }, { timeoutMs: 0 });
}

async function trainPerAsset(options: TrainOptions, config: ModelConfig, train: TrainConfig): Promise<TrainResult> {
  const symbols = options.assets ? [...options.assets] : options.dataset.assets.map((a) => a.symbol);
  const known = new Set(options.dataset.assets.map((a) => a.symbol));
  for (const s of symbols) if (!known.has(s)) throw new SigvwapError('ERR_ARG', `assets: ${s} is not in the dataset`, { argument: 'assets', value: s });
  const dir = options.out;
  preparePerAssetOut(dir, options);
  const models = new Map<string, NeuralAllocator>();
  const states: CheckpointState[] = [];
  const files: Record<string, string> = {};
  for (const symbol of symbols) {
    const file = `${symbol}.ckpt`;
    const { model, state } = await trainOne({ ...options, overwrite: true }, config, train, symbol, join(dir, file));
    models.set(symbol, model);
    states.push(state);
    files[symbol] = file;
    writeFileAtomic(join(dir, AFD_MANIFEST), JSON.stringify({ kind: 'per-asset', label: `${modelLabel(config)}-afd`, assets: files }, null, 2) + '\n');
  }
  return { model: new PerAssetAllocator(models), states, path: dir };
}

function anchorsFor(dataset: Dataset, split: 'train' | 'validation', train: TrainConfig, asset: string | null): Int32Array {
  const universe = asset !== null ? 'all' : train.universe;
  const all = dataset.anchors(split, universe);
  if (asset === null) return all.index;
  const idx = dataset.assets.find((a) => a.symbol === asset)!.index;
  const ids: number[] = [];
  for (let i = 0; i < all.index.length; i++) if (all.assetIndex[i] === idx) ids.push(all.index[i]!);
  return Int32Array.from(ids);
}

/** Everything an epoch needs, fresh or restored from the checkpoint at `path`. */
interface Run {
  model: NeuralAllocator;
  state: CheckpointState;
  best: NamedWeights;
  adam: Adam;
  dataRng: Rng;
  trainIds: Int32Array;
  valOrders: OrderBatch;
  valTargets: OrderTargets;
  resumed: boolean;
}

function startRun(options: TrainOptions, config: ModelConfig, train: TrainConfig, asset: string | null, path: string): Run {
  const { dataset } = options;
  const fingerprint = dataFingerprint(dataset, asset ? [asset] : undefined);
  const trainIds = anchorsFor(dataset, 'train', train, asset);
  const valAll = anchorsFor(dataset, 'validation', train, asset);
  const what = asset ? `asset ${asset}` : `universe ${train.universe}`;
  if (trainIds.length === 0) throw new SigvwapError('ERR_DATA', `no training anchors for ${what}`, { asset });
  if (valAll.length === 0) throw new SigvwapError('ERR_DATA', `no validation anchors for ${what}`, { asset });

  const root = Rng.fromSeed(train.seed);
  const initRng = root.fork();
  const dataRng = root.fork();
  const valRng = root.fork();
  const valIds = train.validationSamples > 0 && train.validationSamples < valAll.length
    ? valRng.sample(valAll, train.validationSamples).sort()
    : valAll;
  const valOrders = ordersFromDataset(dataset, valIds);
  const valTargets = orderTargets(valOrders);
  const common = { trainIds, valOrders, valTargets };
  const adam = new Adam({ learningRate: train.learningRate });
  checkCheckpointOut(path, options);
  if (options.resume && existsSync(path)) return { ...resumeRun(path, config, train, fingerprint, adam), ...common, resumed: true };
  const model = NeuralAllocator.create(config, initRng);
  let warm: string[] = [];
  if (train.initFrom) {
    const init = loadCheckpoint(train.initFrom);
    // equal names and shapes are not enough: the inputs must mean the same thing
    checkModelExpectation(init.state.model, {
      horizon: config.horizon, intervalMs: config.intervalMs, lookahead: config.lookahead,
      ...(readsStaticFeatures(config) ? { staticFeatures: config.staticFeatures } : {}),
    }, train.initFrom);
    warm = model.copyMatchingWeights(init.weights.best, init.state.model);
    if (warm.length === 0) throw new SigvwapError('ERR_CHECKPOINT', `initFrom: ${train.initFrom} shares no parameter with a ${config.kind} model`, { file: train.initFrom });
  }
  if (model.usesFeatures && !warm.includes('features/mean')) {
    const sampleIds = initRng.sample(trainIds, train.standardizerSamples);
    const orders = ordersFromDataset(dataset, sampleIds);
    model.fitStandardizer(model.rawFeatures(orders), sampleIds.length);
  }
  const state: CheckpointState = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    label: modelLabel(config),
    model: config,
    train,
    asset,
    epoch: 0,
    done: false,
    stopReason: null,
    bestEpoch: 0,
    bestValLoss: Infinity,
    plateauWait: 0,
    stopWait: 0,
    optimizer: { step: 0, learningRate: train.learningRate },
    rng: dataRng.state(),
    fingerprint,
    dataset: { ...dataset.config },
    trainAnchors: trainIds.length,
    validationAnchors: valIds.length,
    parameters: model.parameterCount,
    history: [],
    elapsedMs: 0,
    updatedAt: new Date().toISOString(),
  };
  state.bestValLoss = validate(model, valOrders, valTargets, train).loss;
  if (!Number.isFinite(state.bestValLoss)) throw diverged(`the validation loss before the first epoch is ${state.bestValLoss}${train.initFrom ? ` (warm start from ${train.initFrom})` : ''}`, 0, train.learningRate);
  return { model, state, best: model.getWeights(), adam, dataRng, ...common, resumed: false };
}

/** The run saved at `path`, checked to be the same data, model and training options. */
function resumeRun(path: string, config: ModelConfig, train: TrainConfig, fingerprint: string, adam: Adam): Pick<Run, 'model' | 'state' | 'best' | 'adam' | 'dataRng'> {
  const ck = loadCheckpoint(path);
  if (ck.state.fingerprint !== fingerprint) {
    throw new SigvwapError('ERR_CHECKPOINT', `${path} was trained on other data (fingerprint ${ck.state.fingerprint.slice(0, 12)}…, this dataset ${fingerprint.slice(0, 12)}…)`, { file: path });
  }
  if (JSON.stringify(ck.state.model) !== JSON.stringify(config)) {
    throw new SigvwapError('ERR_CHECKPOINT', `${path} holds another model configuration; resume with the same options`, { file: path, checkpoint: ck.state.model, requested: config });
  }
  const { epochs: _e1, timeLimitMinutes: _t1, ...a } = ck.state.train;
  const { epochs: _e2, timeLimitMinutes: _t2, ...b } = train;
  if (JSON.stringify(a) !== JSON.stringify(b)) {
    throw new SigvwapError('ERR_CHECKPOINT', `${path} was trained with other training options (only epochs and the time limit may change on resume)`, { file: path, checkpoint: ck.state.train, requested: train });
  }
  const model = NeuralAllocator.fromWeights(config, ck.weights.current);
  adam.setState({ step: ck.state.optimizer.step, learningRate: ck.state.optimizer.learningRate, m: ck.weights.adamM, v: ck.weights.adamV });
  const state: CheckpointState = { ...ck.state, train };
  // a run stopped by its epoch budget or time limit continues when the new budget allows
  if (state.stopReason === 'max-epochs' && state.epoch < train.epochs) state.stopReason = null;
  if (state.stopReason === 'time-limit' && (train.timeLimitMinutes === 0 || state.elapsedMs < train.timeLimitMinutes * 60_000)) state.stopReason = null;
  state.done = state.stopReason !== null;
  return { model, state, best: ck.weights.best, adam, dataRng: Rng.fromState(ck.state.rng) };
}

async function trainOne(options: TrainOptions, config: ModelConfig, train: TrainConfig, asset: string | null, path: string): Promise<{ model: NeuralAllocator; state: CheckpointState }> {
  const run = startRun(options, config, train, asset, path);
  const { model, state, adam } = run;
  if (state.done) {
    model.setWeights(run.best);
    return { model, state };
  }
  const perEpoch = train.samplesPerEpoch > 0 ? Math.min(train.samplesPerEpoch, run.trainIds.length) : run.trainIds.length;
  options.onStart?.({
    label: state.label, asset, epochsDone: state.epoch, trainAnchors: run.trainIds.length, validationAnchors: run.valOrders.bar.length,
    batchesPerEpoch: Math.ceil(perEpoch / train.batchSize), parameters: model.parameterCount, resumed: run.resumed,
  });
  const started = performance.now() - state.elapsedMs;
  const pipeline = new BatchPipeline(options.dataset, { workers: options.dataWorkers ?? defaultDataWorkers() });
  try {
    while (!state.done) {
      const epochStart = performance.now();
      const epoch = state.epoch + 1;
      const loss = await trainEpoch({ epoch, dataset: options.dataset, model, adam, dataRng: run.dataRng, trainIds: run.trainIds, perEpoch, train, pipeline, onBatch: options.onBatch });
      const bad = firstNonFinite(model.getWeights());
      if (bad) throw diverged(`weight ${bad} is not finite after epoch ${epoch}`, epoch, adam.learningRate);
      const v = validate(model, run.valOrders, run.valTargets, train);
      if (!Number.isFinite(v.loss)) throw diverged(`the validation loss of epoch ${epoch} is ${v.loss}`, epoch, adam.learningRate);
      const record: EpochRecord = {
        epoch,
        loss,
        valLoss: v.loss,
        valAbsBps: v.abs * 1e4,
        valQuadMillionths: v.quad * 1e6,
        learningRate: adam.learningRate,
        elapsedMs: performance.now() - epochStart,
      };
      state.history.push(record);
      if (advanceSchedule(state, epoch, v.loss, adam, train, performance.now() - started)) run.best = model.getWeights();
      state.rng = run.dataRng.state();
      state.updatedAt = new Date().toISOString();
      const opt = adam.getState();
      saveCheckpoint(path, state, { current: model.getWeights(), best: run.best, adamM: opt.m, adamV: opt.v });
      options.onEpoch?.(record, state);
    }
  } finally {
    await pipeline.close();
  }
  model.setWeights(run.best);
  return { model, state };
}

/** `name[index]` of the first NaN or infinite weight, if any. */
function firstNonFinite(weights: NamedWeights): string | undefined {
  for (const [name, w] of weights) {
    const i = w.data.findIndex((x) => !Number.isFinite(x));
    if (i >= 0) return `${name}[${i}]`;
  }
  return undefined;
}
