/**
 * One training epoch: `perEpoch` anchors drawn from the training split with the data RNG, cut
 * into minibatches; per batch, the model's inputs (features of the orders), forward, the VWAP
 * loss of its allocations, gradients of every trainable variable, and one Adam step.
 * Returns the mean training loss over the epoch (objective units); a non-finite batch loss
 * stops the run with ERR_DIVERGED before the optimizer applies it.
 * Batches come from a BatchPipeline (batchPipeline.ts): with data workers they are built ahead
 * in worker threads while this thread trains (same bytes as building them here).
 * Cost: perEpoch forward+backward passes (allocators/neural/neuralAllocator.ts) plus the
 * feature building of each batch (off this thread with data workers).
 */
import { SigvwapError } from '../errors.js';
import type { NeuralAllocator } from '../allocators/neural/neuralAllocator.js';
import type { Dataset } from '../data/buildDataset.js';
import { tf } from '../ops/tf.js';
import { vwapLossTensor } from '../ops/vwapLossOp.js';
import type { Rng } from '../rng.js';
import type { Adam } from './adam.js';
import { BatchPipeline } from './batchPipeline.js';
import type { TrainConfig } from './trainConfig.js';

export interface BatchProgress {
  epoch: number;
  batch: number;
  batches: number;
  /** running mean training loss of the epoch, objective units */
  loss: number;
}

export interface EpochInput {
  epoch: number;
  dataset: Dataset;
  model: NeuralAllocator;
  adam: Adam;
  /** draws the epoch's anchors; advanced by one draw */
  dataRng: Rng;
  trainIds: Int32Array;
  perEpoch: number;
  train: TrainConfig;
  /** where batches are built (default: this thread) */
  pipeline?: BatchPipeline;
  onBatch?: (p: BatchProgress) => void;
}

/** ERR_DIVERGED: stop now; the checkpoint of the last finished epoch stays as it is. */
export function diverged(what: string, epoch: number, learningRate: number): SigvwapError {
  return new SigvwapError('ERR_DIVERGED', `training diverged: ${what} (learning rate ${learningRate}); the checkpoint keeps the last good epoch. Try a smaller --lr`, {
    epoch, learningRate,
  });
}

/** One epoch of minibatch Adam steps; the mean training loss. */
export async function trainEpoch(o: EpochInput): Promise<number> {
  const { model, adam, train } = o;
  const names = model.trainableNames;
  const vars = names.map((n) => model.variables.get(n)!);
  const varName = new Map(vars.map((v, i) => [v.name, names[i]!]));
  const params = new Map(names.map((n) => [n, Float32Array.from(model.variables.get(n)!.dataSync() as Float32Array)]));
  const batches = Math.ceil(o.perEpoch / train.batchSize);
  const ids = o.dataRng.sample(o.trainIds, o.perEpoch).subarray(0, o.perEpoch);
  const pipeline = o.pipeline ?? new BatchPipeline(o.dataset, { workers: 0 });
  let lossSum = 0;
  let lossCount = 0;
  for await (const { index: k, ids: batchIds, inputs, targets } of pipeline.batches(model.inputSpec(), ids, train.batchSize)) {
    const { value, grads } = tf.variableGrads(() => vwapLossTensor(model.forward({ ...inputs, training: true }), targets, train.loss), vars);
    const loss = value.dataSync()[0]!;
    value.dispose();
    if (!Number.isFinite(loss)) {
      for (const g of Object.values(grads)) g.dispose();
      throw diverged(`the training loss of batch ${k + 1} of epoch ${o.epoch} is ${loss}`, o.epoch, adam.learningRate);
    }
    const gradArrays = new Map<string, Float32Array>();
    for (const [name, g] of Object.entries(grads)) gradArrays.set(varName.get(name)!, g.dataSync() as Float32Array);
    adam.apply(params, gradArrays);
    for (const n of names) model.variables.get(n)!.assign(tf.tensor(params.get(n)!, model.variables.get(n)!.shape, 'float32'));
    for (const g of Object.values(grads)) g.dispose();
    lossSum += loss * batchIds.length;
    lossCount += batchIds.length;
    o.onBatch?.({ epoch: o.epoch, batch: k + 1, batches, loss: lossSum / lossCount });
    // let the event loop turn between batches: signals (Ctrl-C) and progress output are handled
    // during an epoch, not after it
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return lossSum / lossCount;
}
