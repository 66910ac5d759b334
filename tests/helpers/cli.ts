/**
 * Helpers for command tests: a CliIo that captures what a command writes, and the two-asset
 * synthetic store the command tests run on.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { CliIo } from '../../src/cli/io.js';
import { ingest } from '../../src/data/index.js';
import { seasonalBars, writeBarsCsv } from './market.js';

export function captureIo(): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const stream = (f: (s: string) => void) => new Writable({ write(chunk, _enc, cb) { f(String(chunk)); cb(); } });
  return { stdout: stream((s) => (out += s)), stderr: stream((s) => (err += s)), env: {}, out: () => out, err: () => err };
}

/** A store at `dir/store` with AAAUSDT and BBBUSDT, 1300 hourly bars each from T0_MS. */
export async function twoAssetStore(dir: string): Promise<string> {
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  writeBarsCsv(src, 'AAAUSDT', seasonalBars(1300, 1));
  writeBarsCsv(src, 'BBBUSDT', seasonalBars(1300, 2));
  const store = join(dir, 'store');
  await ingest([src], { store });
  return store;
}
