/**
 * Helpers for model tests: synthetic hourly markets with an intraday volume profile (so a curve
 * can be learned), datasets built in this thread without a store, perturbations of raw bars,
 * and the shared data folder (tests that need it skip with a message when it is absent).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Dataset, buildAssetSeries, datasetConfigFrom, ingest, type BarTable, type DatasetOptions,
} from '../../src/data/index.js';
import { allocBarTable } from '../../src/data/barTable.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_BINANCE_1H = resolve(REPO_ROOT, '..', 'shared', 'data', 'binance-spot-usdt-1h');
export const HOUR_MS = 3_600_000;
export const T0_MS = Date.UTC(2023, 0, 2); // a Monday

/** mulberry32, shared by every test suite. */
import { rng as rand } from './random.js';

export { rand };

/** Hourly bars: volume = level · (1 + amplitude·sin(hour)) · lognormal noise, random-walk prices
 * (step ±0.1%·`trend`) with VWAP noise ±0.2% around them. */
export function seasonalBars(n: number, seed = 1, startMs = T0_MS, amplitude = 0.8, trend = 1): BarTable {
  const r = rand(seed);
  const b = allocBarTable(n);
  let price = 100;
  let level = 1000;
  for (let i = 0; i < n; i++) {
    const hour = ((startMs + i * HOUR_MS) / HOUR_MS) % 24;
    level *= Math.exp(0.05 * (r() - 0.5));
    const volume = level * (1 + 0.8 * Math.sin((2 * Math.PI * hour) / 24)) * Math.exp(0.6 * (r() - 0.5)) + 1;
    const vwap = price * (1 + 0.004 * (r() - 0.5));
    const close = vwap * (1 + 0.002 * trend * (r() - 0.5));
    b.openTimeMs[i] = startMs + i * HOUR_MS;
    b.open[i] = price;
    b.close[i] = close;
    b.high[i] = Math.max(price, close, vwap) * 1.001;
    b.low[i] = Math.min(price, close, vwap) * 0.999;
    b.volume[i] = volume;
    b.quoteVolume[i] = volume * vwap;
    price = close;
  }
  return b;
}

/** A dataset over synthetic bars, built in this thread (no store, no workers). */
export function syntheticDataset(assets: { symbol: string; bars: BarTable }[], options: Omit<DatasetOptions, 'store' | 'workers'> = {}): Dataset {
  const config = datasetConfigFrom(options);
  const built = assets.map((a) => buildAssetSeries(a.bars, HOUR_MS, config, a.symbol));
  return new Dataset(config, assets.map((a) => a.symbol), assets.map(() => '1h'), built);
}

/** A small market of `count` synthetic assets. */
export function smallDataset(count = 2, bars = 1500, options: Omit<DatasetOptions, 'store' | 'workers'> = {}, amplitude = 0.8, trend = 1): Dataset {
  return syntheticDataset(Array.from({ length: count }, (_, i) => ({ symbol: `SYN${i}USDT`, bars: seasonalBars(bars, 11 + i, T0_MS, amplitude, trend) })), options);
}

/** A copy of `bars` with every row >= `from` changed (volume, prices), seeded. */
export function perturbFrom(bars: BarTable, from: number, seed = 99): BarTable {
  const r = rand(seed);
  const out = allocBarTable(bars.length);
  for (const k of ['openTimeMs', 'open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'trades'] as const) out[k].set(bars[k]);
  for (let i = from; i < bars.length; i++) {
    const f = 0.3 + 3 * r();
    const g = 1 + 0.05 * (r() - 0.5);
    out.volume[i] = bars.volume[i]! * f;
    out.quoteVolume[i] = bars.quoteVolume[i]! * f * g;
    out.open[i] = bars.open[i]! * g;
    out.close[i] = bars.close[i]! * g;
    out.high[i] = bars.high[i]! * g * 1.01;
    out.low[i] = bars.low[i]! * g * 0.99;
  }
  return out;
}

export function tempDir(prefix = 'sigvwap-model-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Write bars as a sigvwap CSV (`<symbol>.csv`) into `dir`; returns the path. */
export function writeBarsCsv(dir: string, symbol: string, bars: BarTable, rows = bars.length): string {
  const lines = ['open_time_ms,open,high,low,close,volume,quote_volume,trades'];
  for (let i = 0; i < rows; i++) {
    lines.push([bars.openTimeMs[i], bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i], bars.quoteVolume[i], ''].join(','));
  }
  const path = join(dir, `${symbol}.csv`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

/** A store holding `bars` (first `rows` of them) of one symbol. */
export async function storeWith(dir: string, symbol: string, bars: BarTable, rows = bars.length): Promise<string> {
  const src = join(dir, `src-${rows}`);
  mkdirSync(src, { recursive: true });
  writeBarsCsv(src, symbol, bars, rows);
  const store = join(dir, `store-${rows}`);
  await ingest([src], { store });
  return store;
}
