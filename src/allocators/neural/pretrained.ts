/**
 * Pretrained models: checkpoints shipped in the package's `models/` folder, each with a model
 * card `models/<name>.md`, resolved by the registry as `pretrained:<name>` (so `sigvwap
 * evaluate --models pretrained:dynamic`, `schedule --model pretrained:dynamic` and `backtest`
 * take them without training).
 *
 * A shipped checkpoint is an *exported* one (`exportModel`): the training checkpoint's state
 * (configuration, dataset, history, wall time) and its best weights only. The container lists
 * the best weights under both `current` and `best` with the same offsets, so the payload holds
 * them once and every checkpoint reader loads it unchanged; the Adam moments, only needed to
 * resume training, are dropped (a quarter of the training checkpoint's size). Cost: one read and one
 * atomic write of the checkpoint.
 *
 * The card's `configuration` block (a fenced json block after a line `configuration:`) is the
 * checkpoint's model configuration, written by `modelCardConfiguration`; the shipped-models
 * test checks that they match, so a card cannot describe another model than the one shipped.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SigvwapError } from '../../errors.js';
import { type CheckpointState, loadCheckpoint } from './checkpoint.js';
import { packWeights, writeContainer } from './checkpointFile.js';

export const PRETRAINED_PREFIX = 'pretrained:';

/** The package's `models/` folder (three levels above this module in src/ and in dist/). */
export function pretrainedDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models');
}

/** Names of the shipped models (`models/<name>.ckpt`), sorted. */
export function pretrainedModels(dir = pretrainedDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.ckpt')).map((f) => f.slice(0, -'.ckpt'.length)).sort();
}

/** The checkpoint of `pretrained:<name>`; ERR_ARG naming the shipped models when unknown. */
export function pretrainedPath(name: string, dir = pretrainedDir()): string {
  const names = pretrainedModels(dir);
  if (!names.includes(name)) {
    throw new SigvwapError('ERR_ARG', `model: ${JSON.stringify(PRETRAINED_PREFIX + name)} is not a shipped model (${names.map((n) => PRETRAINED_PREFIX + n).join(', ') || `none in ${dir}`})`, {
      argument: 'model', value: PRETRAINED_PREFIX + name, pretrained: names,
    });
  }
  return join(dir, `${name}.ckpt`);
}

/** Where an exported checkpoint came from. */
export interface ExportRecord {
  /** file name of the training checkpoint */
  from: string;
  /** sha256 of that file */
  fromSha256: string;
}

/**
 * Write the best weights and the state of training checkpoint `from` to `to` (atomically): the
 * file `pretrained:` loads. Returns the state written.
 */
export function exportModel(from: string, to: string): CheckpointState & { exported: ExportRecord } {
  const { state, weights } = loadCheckpoint(from);
  const { entries, binary } = packWeights({ best: weights.best });
  const exported: ExportRecord = { from: basename(from), fromSha256: createHash('sha256').update(readFileSync(from)).digest('hex') };
  const out = { ...state, exported };
  writeContainer(to, { ...out, weights: { current: entries.best, best: entries.best } }, binary);
  return out;
}

/** The card's configuration block for a checkpoint's model configuration. */
export function modelCardConfiguration(state: Pick<CheckpointState, 'model'>): string {
  return `configuration:\n\n\`\`\`json\n${JSON.stringify(state.model, null, 2)}\n\`\`\`\n`;
}

/** Parse the configuration block of a model card; ERR_ARG naming the card when absent. */
export function parseModelCardConfiguration(card: string, path: string): unknown {
  const m = /^configuration:\s*\n+```json\n([\s\S]*?)\n```/m.exec(card);
  if (!m) throw new SigvwapError('ERR_ARG', `${path}: no "configuration:" json block`, { file: path });
  try {
    return JSON.parse(m[1]!);
  } catch (e) {
    throw new SigvwapError('ERR_ARG', `${path}: configuration block is not JSON: ${(e as Error).message}`, { file: path }, { cause: e });
  }
}
