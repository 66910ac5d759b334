/** Test helpers: synthetic bars, fixture files in temp dirs, the shared data folder, the compiled dist. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { allocBarTable, type BarTable } from '../../src/data/barTable.js';
import { repoRoot } from '../helpers/sharedDir.js';

export const REPO_ROOT = repoRoot;

export const HOUR_MS = 3_600_000;
export const T0_MS = Date.UTC(2024, 0, 1);

export function tempDir(prefix = 'sigvwap-data-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Deterministic PRNG (mulberry32), shared by every test suite. */
import { rng } from '../helpers/random.js';

export { rng };

/** n consistent bars (VWAP inside [low, high]) from startMs every stepMs; values with few decimals. */
export function syntheticBars(n: number, opts: { startMs?: number; stepMs?: number; seed?: number; trades?: boolean } = {}): BarTable {
  const start = opts.startMs ?? T0_MS;
  const step = opts.stepMs ?? HOUR_MS;
  const rand = rng(opts.seed ?? 1);
  const b = allocBarTable(n);
  let price = 100;
  for (let i = 0; i < n; i++) {
    const open = round(price, 2);
    const close = round(price * (1 + (rand() - 0.5) * 0.02), 2);
    const high = round(Math.max(open, close) * (1 + rand() * 0.01), 2);
    const low = round(Math.min(open, close) * (1 - rand() * 0.01), 2);
    const volume = round(10 + rand() * 1000, 4);
    const vwap = low + (high - low) * (0.25 + 0.5 * rand());
    b.openTimeMs[i] = start + i * step;
    b.open[i] = open;
    b.high[i] = high;
    b.low[i] = low;
    b.close[i] = close;
    b.volume[i] = volume;
    b.quoteVolume[i] = round(volume * vwap, 4);
    b.trades[i] = opts.trades ? Math.floor(rand() * 5000) : NaN;
    price = close;
  }
  return b;
}

function round(x: number, d: number): number {
  const m = 10 ** d;
  return Math.round(x * m) / m;
}

export type CsvLayout = 'sigvwap' | 'binance';

/** CSV text of bars; Binance layout has 12 columns, optional header and µs times. */
export function barsToCsv(b: BarTable, layout: CsvLayout, opts: { header?: boolean; microseconds?: boolean; rows?: number[] } = {}): string {
  const lines: string[] = [];
  const header = opts.header ?? layout === 'sigvwap';
  if (header) {
    lines.push(layout === 'sigvwap'
      ? 'open_time_ms,open,high,low,close,volume,quote_volume,trades'
      : 'open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore');
  }
  const rows = opts.rows ?? Array.from({ length: b.length }, (_, i) => i);
  for (const i of rows) {
    const scale = opts.microseconds ? 1000 : 1;
    const t = b.openTimeMs[i]! * scale;
    const tr = Number.isNaN(b.trades[i]!) ? '' : String(b.trades[i]);
    if (layout === 'sigvwap') {
      lines.push([t, b.open[i], b.high[i], b.low[i], b.close[i], b.volume[i], b.quoteVolume[i], tr].join(','));
    } else {
      const closeTime = (b.openTimeMs[i]! + HOUR_MS - 1) * scale + (opts.microseconds ? 999 : 0);
      lines.push([t, b.open[i], b.high[i], b.low[i], b.close[i], b.volume[i], closeTime, b.quoteVolume[i], tr === '' ? 0 : tr, 1, 2, 0].join(','));
    }
  }
  return lines.join('\n') + '\n';
}

export function writeText(dir: string, name: string, text: string | Uint8Array): string {
  const path = join(dir, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

export function writeGzip(dir: string, name: string, text: string): string {
  return writeText(dir, name, gzipSync(Buffer.from(text)));
}

export function writeZip(dir: string, name: string, entries: Record<string, string>): string {
  const files: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(entries)) files[k] = Buffer.from(v);
  return writeText(dir, name, zipSync(files));
}

/** Rows of a sub-range of a table (copy). */
export function sliceBars(b: BarTable, from: number, to: number): BarTable {
  const out = allocBarTable(to - from);
  for (const k of ['openTimeMs', 'open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'trades'] as const) out[k].set(b[k].subarray(from, to));
  return out;
}

/**
 * Make sure dist/ holds a build of the current src/ (the worker pool runs compiled JS):
 * when any src file is newer than its compiled twin, run `tsc` once (a lock directory keeps
 * concurrent test files from compiling at the same time), then check again and fail loudly.
 */
export function ensureFreshDist(): void {
  const stale = staleDistFiles();
  if (stale.length === 0) return;
  const lock = join(REPO_ROOT, 'dist', '.build-lock');
  mkdirSync(join(REPO_ROOT, 'dist'), { recursive: true });
  let owner = false;
  for (let i = 0; i < 600; i++) {
    try {
      mkdirSync(lock);
      owner = true;
      break;
    } catch {
      execFileSync('sleep', ['0.2']);
    }
  }
  try {
    if (staleDistFiles().length > 0) {
      try {
        execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO_ROOT, 'tsconfig.json')], { stdio: 'pipe' });
      } catch {
        // tsc reports type errors of other modules but still emits; the check below decides
      }
    }
  } finally {
    if (owner) rmSync(lock, { recursive: true, force: true });
  }
  const still = staleDistFiles();
  if (still.length > 0) throw new Error(`dist/ is stale or missing after tsc for: ${still.slice(0, 5).join(', ')}`);
}

function staleDistFiles(): string[] {
  const out: string[] = [];
  const srcFiles = [join(REPO_ROOT, 'src', 'errors.ts'), ...listTs(join(REPO_ROOT, 'src', 'data'))];
  for (const src of srcFiles) {
    const rel = src.slice(join(REPO_ROOT, 'src').length + 1).replace(/\.ts$/, '.js');
    const js = join(REPO_ROOT, 'dist', rel);
    if (!existsSync(js) || statSync(js).mtimeMs < statSync(src).mtimeMs) out.push(rel);
  }
  return out;
}

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listTs(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}
