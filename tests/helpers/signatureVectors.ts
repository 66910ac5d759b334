/**
 * The iisignature test vectors of ../shared/testvectors/signature (README there): the case
 * index, a case loader, and the float32 path the README prescribes. Tests that need them
 * skip with a visible message when ../shared is absent (`dir` undefined, no cases).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath } from './sharedDir.js';

export interface VectorArray {
  shape: number[];
  data: number[];
}

/** What every case has; the signature and log-signature fields are the caller's to add. */
export interface VectorCase {
  name: string;
  batch: number;
  length: number;
  channels: number;
  depth: number;
  path: VectorArray;
}

/** The vector folder (or undefined, after printing SKIPPED for `who`), its cases whose name passes `keep`, and a loader. */
export function signatureVectors<C extends VectorCase>(who: string, keep: (name: string) => boolean = () => true) {
  const dir = sharedPath('testvectors/signature', who);
  const index: { file: string; name: string }[] = dir ? (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { cases: { file: string; name: string }[] }).cases.filter((c) => keep(c.name)) : [];
  const load = (file: string): C => JSON.parse(readFileSync(join(dir!, file), 'utf8')) as C;
  return { dir, index, load };
}

/**
 * Float32 input as the README prescribes: each path rebased to its first point in float64,
 * then cast (signatures are translation invariant). Casting the raw path instead destroys tiny
 * increments before any engine sees them (edge_tiny_increments_*: 1e-2), which no engine can undo.
 */
export function rebasedF32(c: VectorCase): Float32Array {
  const out = new Float32Array(c.path.data.length);
  const per = c.length * c.channels;
  for (let b = 0; b < c.batch; b++) {
    for (let i = 0; i < per; i++) out[b * per + i] = c.path.data[b * per + i]! - c.path.data[b * per + (i % c.channels)]!;
  }
  return out;
}
