/**
 * What happens after an epoch's validation (method.md §6): a new best (val < best·(1 - ε))
 * resets both patience counters; otherwise reduce-on-plateau multiplies the learning rate by
 * `plateauFactor` after `plateauPatience` epochs without improvement (not below
 * `minLearningRate`), and early stopping ends the run after `earlyStoppingPatience` such
 * epochs. The epoch budget and the time limit end it too. Mutates `state` and `adam`; returns
 * whether this epoch is the new best.
 */
import type { CheckpointState } from '../allocators/neural/checkpoint.js';
import type { Adam } from './adam.js';
import type { TrainConfig } from './trainConfig.js';

export function advanceSchedule(state: CheckpointState, epoch: number, valLoss: number, adam: Adam, train: TrainConfig, elapsedMs: number): boolean {
  let improved = false;
  state.epoch = epoch;
  if (valLoss < state.bestValLoss * (1 - train.minRelativeImprovement)) {
    state.bestValLoss = valLoss;
    state.bestEpoch = epoch;
    state.plateauWait = 0;
    state.stopWait = 0;
    improved = true;
  } else {
    state.plateauWait++;
    state.stopWait++;
    if (state.plateauWait >= train.plateauPatience && adam.learningRate > train.minLearningRate) {
      adam.learningRate = Math.max(train.minLearningRate, adam.learningRate * train.plateauFactor);
      state.plateauWait = 0;
    }
    if (state.stopWait >= train.earlyStoppingPatience) state.stopReason = 'early-stopping';
  }
  state.elapsedMs = elapsedMs;
  if (!state.stopReason && epoch >= train.epochs) state.stopReason = 'max-epochs';
  if (!state.stopReason && train.timeLimitMinutes > 0 && state.elapsedMs >= train.timeLimitMinutes * 60_000) state.stopReason = 'time-limit';
  state.done = state.stopReason !== null;
  state.optimizer = { step: adam.step, learningRate: adam.learningRate };
  return improved;
}
