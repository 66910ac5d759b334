/**
 * A fingerprint of the data a model is trained on: sha256 over the dataset's feature config,
 * each asset's symbol, bar count, first and last open time and universe, and the bytes of its
 * price and volume series. A resumed run must see the same fingerprint.
 * Cost: one sha256 pass over 16 bytes per bar (about 0.1 s per million bars).
 */
import { createHash } from 'node:crypto';
import type { Dataset } from '../data/index.js';

export function dataFingerprint(dataset: Dataset, assets?: readonly string[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(dataset.config));
  for (const a of dataset.assets) {
    if (assets && !assets.includes(a.symbol)) continue;
    h.update(JSON.stringify([a.symbol, a.bars, a.startMs, a.endMs, a.universe, a.intervalMs]));
    const s = dataset.series(a.index);
    h.update(new Uint8Array(s.price.buffer, s.price.byteOffset, s.price.byteLength));
    h.update(new Uint8Array(s.volume.buffer, s.volume.byteOffset, s.volume.byteLength));
  }
  return h.digest('hex');
}
