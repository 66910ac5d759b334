/**
 * Neural allocators with every trainable weight random (N(0, scale²)), so that every input
 * matters: for causality, checkpoint and schedule tests. The standardizer and other
 * non-trainable weights (gftSig's BatchNorm statistics) stay as created.
 */
import { NeuralAllocator, type NamedWeights } from '../../src/allocators/neural/neuralAllocator.js';
import type { ModelConfig } from '../../src/allocators/neural/modelConfig.js';
import { Rng } from '../../src/rng.js';

export function randomizedModel(config: ModelConfig, seed: number, scale = 0.3): NeuralAllocator {
  const rng = Rng.fromSeed(seed);
  const m = NeuralAllocator.create(config, rng);
  const w: NamedWeights = new Map();
  const trainable = new Set(m.trainableNames);
  for (const [name, a] of m.getWeights()) if (trainable.has(name)) w.set(name, { shape: a.shape, data: Float32Array.from(a.data, () => scale * rng.nextNormal()) });
  m.setWeights(w, false);
  return m;
}
