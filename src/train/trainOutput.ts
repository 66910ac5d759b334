/**
 * Where a training run writes, and what `overwrite` may replace: only what sigvwap wrote.
 *   global      one checkpoint file: an existing path must be a sigvwap container (magic
 *               bytes) to be replaced; a directory or any other file is refused.
 *   per-asset   a directory: an existing non-empty one must hold `afd.json`, and only the
 *               manifest and the checkpoints it lists (plus our own temp files) are removed;
 *               any other entry makes `overwrite` refuse, naming it. The directory stays.
 * `resume` reads what is there and replaces nothing up front. The run holds a lock
 * (`<checkpoint>.lock`, `<folder>/.lock`) while it writes, so two runs never share an output.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SigvwapError } from '../errors.js';
import { AFD_MANIFEST } from '../allocators/neural/checkpoint.js';
import { isContainerFile } from '../allocators/neural/checkpointFile.js';

export interface OutputOptions {
  resume?: boolean;
  overwrite?: boolean;
}

/** the lock a per-asset run holds in its folder while it writes (data/fileLock.ts) */
export const OUTPUT_LOCK_FILE = '.lock';

const refuse = (path: string, why: string) => new SigvwapError('ERR_ARG', `out: ${path} ${why}`, { argument: 'out', value: path });

/** Check that a global run may write its checkpoint at `path`. */
export function checkCheckpointOut(path: string, o: OutputOptions): void {
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) throw refuse(path, 'is a directory; a global model is one checkpoint file (a directory is for --mode per-asset)');
  if (o.resume) return;
  if (!o.overwrite) throw refuse(path, 'exists; resume it (--resume) or overwrite it (--overwrite)');
  if (!isContainerFile(path)) throw refuse(path, 'exists and is not a sigvwap checkpoint; --overwrite only replaces checkpoints that sigvwap wrote');
}

/** Prepare the directory of a per-asset run: create it, or clear what sigvwap wrote there. */
export function preparePerAssetOut(dir: string, o: OutputOptions): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw refuse(dir, 'is a file; a per-asset model is a directory');
    const entries = readdirSync(dir).filter((e) => e !== OUTPUT_LOCK_FILE);
    if (!o.resume && entries.length > 0) {
      if (!o.overwrite) throw refuse(dir, 'exists; resume it (--resume) or overwrite it (--overwrite)');
      const ours = sigvwapFiles(dir);
      const foreign = entries.filter((e) => !ours.has(e) && !/^\..+\.tmp-\d+-[0-9a-f]{8}$/.test(e));
      if (foreign.length > 0) {
        throw new SigvwapError('ERR_ARG', `out: ${dir} holds files that sigvwap did not write (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', …' : ''}); --overwrite only replaces a per-asset model folder`, {
          argument: 'out', value: dir, foreign,
        });
      }
      for (const e of entries) rmSync(join(dir, e), { force: true });
    }
  }
  mkdirSync(dir, { recursive: true });
}

/** The manifest and the checkpoint files it lists, when `dir` holds a per-asset model. */
function sigvwapFiles(dir: string): Set<string> {
  const manifest = join(dir, AFD_MANIFEST);
  if (!existsSync(manifest)) return new Set();
  let assets: Record<string, unknown> = {};
  try {
    assets = (JSON.parse(readFileSync(manifest, 'utf8')) as { assets?: Record<string, unknown> }).assets ?? {};
  } catch {
    return new Set();
  }
  const files = new Set([AFD_MANIFEST]);
  for (const f of Object.values(assets)) {
    if (typeof f === 'string' && !f.includes('/') && !f.includes('\\') && isContainerFile(join(dir, f))) files.add(f);
  }
  return files;
}
