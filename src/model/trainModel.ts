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
 * Cost per epoch: samplesPerEpoch forward+backward passes (see neuralAllocator.ts) plus one
 * forward pass over the validation subset; one checkpoint write.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SigvwapError } from '../errors.js';
import type { Dataset } from '../data/index.js';
import { vwapLoss } from '../native/vwapLoss.js';
import { Adam } from './adam.js';
import { writeFileAtomic } from '../data/writeFileAtomic.js';
import {
  AFD_MANIFEST, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, PerAssetAllocator, checkModelExpectation, loadCheckpoint, saveCheckpoint,
  type CheckpointState, type EpochRecord,
} from './checkpoint.js';
import { dataFingerprint } from './dataFingerprint.js';
import { type OrderBatch, orderTargets, ordersFromDataset } from './marketSeries.js';
import { type ModelConfig, defaultModelConfig, modelLabel, parseModelConfig } from './modelConfig.js';
import { NeuralAllocator, type NamedWeights } from './neuralAllocator.js';
import { Rng } from './rng.js';
import { type TrainConfig, parseTrainConfig } from './trainConfig.js';
import { tf } from './tf.js';
import { vwapLossTensor } from './vwapLossOp.js';

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

export interface BatchProgress {
  epoch: number;
  batch: number;
  batches: number;
  /** running mean training loss of the epoch, objective units */
  loss: number;
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
  const merged = { ...base, ...model, horizon: dataset.horizon, intervalMs, dynamic: { ...base.dynamic, ...(model.dynamic ?? {}) } };
  if (model.horizon !== undefined && model.horizon !== dataset.horizon) {
    throw new SigvwapError('ERR_ARG', `model.horizon ${model.horizon} differs from the dataset's horizon ${dataset.horizon}`, { argument: 'horizon' });
  }
  return parseModelConfig(merged);
}

export async function trainModel(options: TrainOptions): Promise<TrainResult> {
  const config = resolveModelConfig(options.dataset, options.model);
  const train = parseTrainConfig(options.train ?? {});
  if (train.mode === 'per-asset') return trainPerAsset(options, config, train);
  const { model, state } = await trainOne(options, config, train, null, options.out);
  return { model, states: [state], path: options.out };
}

async function trainPerAsset(options: TrainOptions, config: ModelConfig, train: TrainConfig): Promise<TrainResult> {
  const symbols = options.assets ? [...options.assets] : options.dataset.assets.map((a) => a.symbol);
  const known = new Set(options.dataset.assets.map((a) => a.symbol));
  for (const s of symbols) if (!known.has(s)) throw new SigvwapError('ERR_ARG', `assets: ${s} is not in the dataset`, { argument: 'assets', value: s });
  const dir = options.out;
  if (existsSync(dir) && !options.resume) {
    if (!options.overwrite) throw new SigvwapError('ERR_ARG', `out: ${dir} exists; resume it or allow overwriting`, { argument: 'out', value: dir });
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
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

interface Split {
  ids: Int32Array;
}

function anchorsFor(dataset: Dataset, split: 'train' | 'validation', train: TrainConfig, asset: string | null): Split {
  const universe = asset !== null ? 'all' : train.universe;
  const all = dataset.anchors(split, universe);
  if (asset === null) return { ids: all.index };
  const idx = dataset.assets.find((a) => a.symbol === asset)!.index;
  const ids: number[] = [];
  for (let i = 0; i < all.index.length; i++) if (all.assetIndex[i] === idx) ids.push(all.index[i]!);
  return { ids: Int32Array.from(ids) };
}

/** Mean abs and quad loss (float64, in order) of a model over orders. */
export function meanLosses(allocations: Float64Array, orders: OrderBatch, targets = orderTargets(orders)): { abs: number; quad: number; perOrder: Float64Array } {
  const n = orders.bar.length;
  const r = vwapLoss({ alloc: allocations, price: targets.price, volume: targets.volume, batch: n, horizon: orders.horizon, kind: 'abs' });
  let abs = 0;
  let quad = 0;
  for (let i = 0; i < n; i++) {
    const d = r.perOrder[i]!;
    abs += Math.abs(d);
    quad += d * d;
  }
  return { abs: abs / n, quad: quad / n, perOrder: r.perOrder };
}

async function trainOne(options: TrainOptions, config: ModelConfig, train: TrainConfig, asset: string | null, path: string): Promise<{ model: NeuralAllocator; state: CheckpointState }> {
  const { dataset } = options;
  const fingerprint = dataFingerprint(dataset, asset ? [asset] : undefined);
  const trainSplit = anchorsFor(dataset, 'train', train, asset);
  const valAll = anchorsFor(dataset, 'validation', train, asset);
  const what = asset ? `asset ${asset}` : `universe ${train.universe}`;
  if (trainSplit.ids.length === 0) throw new SigvwapError('ERR_DATA', `no training anchors for ${what}`, { asset });
  if (valAll.ids.length === 0) throw new SigvwapError('ERR_DATA', `no validation anchors for ${what}`, { asset });

  const root = Rng.fromSeed(train.seed);
  const initRng = root.fork();
  let dataRng = root.fork();
  const valRng = root.fork();
  const valIds = train.validationSamples > 0 && train.validationSamples < valAll.ids.length
    ? valRng.sample(valAll.ids, train.validationSamples).sort()
    : valAll.ids;
  const valOrders = ordersFromDataset(dataset, valIds);
  const valTargets = orderTargets(valOrders);

  let model: NeuralAllocator;
  let state: CheckpointState;
  let best: NamedWeights;
  const adam = new Adam({ learningRate: train.learningRate });
  const exists = existsSync(path);
  if (exists && options.resume) {
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
    model = NeuralAllocator.fromWeights(config, ck.weights.current);
    best = ck.weights.best;
    adam.setState({ step: ck.state.optimizer.step, learningRate: ck.state.optimizer.learningRate, m: ck.weights.adamM, v: ck.weights.adamV });
    dataRng = Rng.fromState(ck.state.rng);
    state = { ...ck.state, train };
    // a run stopped by its epoch budget or time limit continues when the new budget allows
    if (state.stopReason === 'max-epochs' && state.epoch < train.epochs) state.stopReason = null;
    if (state.stopReason === 'time-limit' && (train.timeLimitMinutes === 0 || state.elapsedMs < train.timeLimitMinutes * 60_000)) state.stopReason = null;
    state.done = state.stopReason !== null;
    if (state.done) {
      model.setWeights(best);
      return { model, state };
    }
  } else {
    if (exists && !options.overwrite) {
      throw new SigvwapError('ERR_ARG', `out: ${path} exists; resume it (--resume) or overwrite it (--overwrite)`, { argument: 'out', value: path });
    }
    model = NeuralAllocator.create(config, initRng);
    let warm: string[] = [];
    if (train.initFrom) {
      const init = loadCheckpoint(train.initFrom);
      // equal names and shapes are not enough: the inputs must mean the same thing
      checkModelExpectation(init.state.model, {
        horizon: config.horizon, intervalMs: config.intervalMs, lookahead: config.lookahead,
        ...(config.kind !== 'constCurve' ? { staticFeatures: config.staticFeatures } : {}),
      }, train.initFrom);
      warm = model.copyMatchingWeights(init.weights.best);
      if (warm.length === 0) throw new SigvwapError('ERR_CHECKPOINT', `initFrom: ${train.initFrom} shares no parameter with a ${config.kind} model`, { file: train.initFrom });
    }
    if (model.usesFeatures && !warm.includes('features/mean')) {
      const sampleIds = initRng.sample(trainSplit.ids, train.standardizerSamples);
      const orders = ordersFromDataset(dataset, sampleIds);
      model.fitStandardizer(model.rawFeatures(orders), sampleIds.length);
    }
    best = model.getWeights();
    state = {
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
      trainAnchors: trainSplit.ids.length,
      validationAnchors: valIds.length,
      parameters: model.parameterCount,
      history: [],
      elapsedMs: 0,
      updatedAt: new Date().toISOString(),
    };
    const v = validate(model, valOrders, valTargets, train);
    state.bestValLoss = v.loss;
  }

  const perEpoch = train.samplesPerEpoch > 0 ? Math.min(train.samplesPerEpoch, trainSplit.ids.length) : trainSplit.ids.length;
  const batches = Math.ceil(perEpoch / train.batchSize);
  options.onStart?.({
    label: state.label, asset, epochsDone: state.epoch, trainAnchors: trainSplit.ids.length, validationAnchors: valIds.length,
    batchesPerEpoch: batches, parameters: model.parameterCount, resumed: exists && !!options.resume,
  });

  const names = model.trainableNames;
  const vars = names.map((n) => model.variables.get(n)!);
  const varName = new Map(vars.map((v, i) => [v.name, names[i]!]));
  const params = new Map(names.map((n) => [n, Float32Array.from(model.variables.get(n)!.dataSync() as Float32Array)]));
  const started = performance.now() - state.elapsedMs;

  while (!state.done) {
    const epochStart = performance.now();
    const epoch = state.epoch + 1;
    const ids = dataRng.sample(trainSplit.ids, perEpoch);
    let lossSum = 0;
    let lossCount = 0;
    for (let k = 0; k < batches; k++) {
      const batchIds = ids.subarray(k * train.batchSize, Math.min(perEpoch, (k + 1) * train.batchSize));
      const orders = ordersFromDataset(dataset, batchIds);
      const inputs = model.inputs(orders);
      const targets = orderTargets(orders);
      const { value, grads } = tf.variableGrads(() => vwapLossTensor(model.forward(inputs), targets, train.loss), vars);
      const gradArrays = new Map<string, Float32Array>();
      for (const [name, g] of Object.entries(grads)) gradArrays.set(varName.get(name)!, g.dataSync() as Float32Array);
      adam.apply(params, gradArrays);
      for (const n of names) model.variables.get(n)!.assign(tf.tensor(params.get(n)!, model.variables.get(n)!.shape, 'float32'));
      lossSum += value.dataSync()[0]! * batchIds.length;
      lossCount += batchIds.length;
      value.dispose();
      for (const g of Object.values(grads)) g.dispose();
      options.onBatch?.({ epoch, batch: k + 1, batches, loss: lossSum / lossCount });
    }
    const v = validate(model, valOrders, valTargets, train);
    const record: EpochRecord = {
      epoch,
      loss: lossSum / lossCount,
      valLoss: v.loss,
      valAbsBps: v.abs * 1e4,
      valQuadMillionths: v.quad * 1e6,
      learningRate: adam.learningRate,
      elapsedMs: performance.now() - epochStart,
    };
    state.history.push(record);
    state.epoch = epoch;
    if (v.loss < state.bestValLoss * (1 - train.minRelativeImprovement)) {
      state.bestValLoss = v.loss;
      state.bestEpoch = epoch;
      state.plateauWait = 0;
      state.stopWait = 0;
      best = model.getWeights();
    } else {
      state.plateauWait++;
      state.stopWait++;
      if (state.plateauWait >= train.plateauPatience && adam.learningRate > train.minLearningRate) {
        adam.learningRate = Math.max(train.minLearningRate, adam.learningRate * train.plateauFactor);
        state.plateauWait = 0;
      }
      if (state.stopWait >= train.earlyStoppingPatience) state.stopReason = 'early-stopping';
    }
    state.elapsedMs = performance.now() - started;
    if (!state.stopReason && epoch >= train.epochs) state.stopReason = 'max-epochs';
    if (!state.stopReason && train.timeLimitMinutes > 0 && state.elapsedMs >= train.timeLimitMinutes * 60_000) state.stopReason = 'time-limit';
    state.done = state.stopReason !== null;
    state.optimizer = { step: adam.step, learningRate: adam.learningRate };
    state.rng = dataRng.state();
    state.updatedAt = new Date().toISOString();
    const opt = adam.getState();
    saveCheckpoint(path, state, { current: model.getWeights(), best, adamM: opt.m, adamV: opt.v });
    options.onEpoch?.(record, state);
  }
  model.setWeights(best);
  return { model, state };
}

function validate(model: NeuralAllocator, orders: OrderBatch, targets: { price: Float64Array; volume: Float64Array }, train: TrainConfig): { loss: number; abs: number; quad: number } {
  const alloc = model.allocate(orders);
  const m = meanLosses(alloc, orders, targets);
  return { loss: train.loss === 'abs' ? m.abs : m.quad, abs: m.abs, quad: m.quad };
}
