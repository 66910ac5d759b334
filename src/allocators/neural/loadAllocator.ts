/**
 * A trained allocator from disk: a checkpoint file restores the best weights bit for bit; a
 * per-asset (AFD) directory holds `afd.json` and one checkpoint per asset. `expect` rejects
 * (ERR_CHECKPOINT) a model made for other features, horizon or bar interval.
 * Callers go through the registry (../registry.ts), which resolves names and paths in one place.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SigvwapError } from '../../errors.js';
import { PerAssetAllocator } from '../perAssetAllocator.js';
import { AFD_MANIFEST, type ModelExpectation, checkModelExpectation, loadCheckpoint } from './checkpoint.js';
import { NeuralAllocator } from './neuralAllocator.js';

export type { ModelExpectation } from './checkpoint.js';

/** The allocator of a checkpoint file (best weights) or of a per-asset directory. */
export function loadAllocator(path: string, expect: ModelExpectation = {}): NeuralAllocator | PerAssetAllocator {
  if (existsSync(path) && statSync(path).isDirectory()) return loadPerAssetAllocator(path, expect);
  return loadNeuralAllocator(path, expect);
}

/** The best weights of one checkpoint file. */
export function loadNeuralAllocator(path: string, expect: ModelExpectation = {}): NeuralAllocator {
  const { state, weights } = loadCheckpoint(path);
  checkModelExpectation(state.model, expect, path);
  return NeuralAllocator.fromWeights(state.model, weights.best);
}

/** A per-asset directory: `afd.json` maps symbols to checkpoint files in it. */
export function loadPerAssetAllocator(dir: string, expect: ModelExpectation = {}): PerAssetAllocator {
  const manifestPath = join(dir, AFD_MANIFEST);
  if (!existsSync(manifestPath)) throw new SigvwapError('ERR_CHECKPOINT', `${dir} is a directory without ${AFD_MANIFEST}: not a per-asset model`, { file: dir });
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { assets: Record<string, string> };
  const models = new Map<string, NeuralAllocator>();
  for (const [symbol, file] of Object.entries(manifest.assets)) {
    const path = join(dir, file);
    if (existsSync(path) && statSync(path).isDirectory()) throw new SigvwapError('ERR_CHECKPOINT', `${path}: nested per-asset model`, { file });
    models.set(symbol, loadNeuralAllocator(path, expect));
  }
  return new PerAssetAllocator(models);
}
