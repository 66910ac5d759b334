/**
 * Quality report of a store (never silent): per asset, missing bars grouped into gaps
 * (each gap marked exchange-wide when most assets listed at that time miss it too),
 * duplicate or unsorted timestamps, misaligned open times, zero-volume runs, non-positive
 * prices, OHLC inconsistencies, negative volumes, bar VWAP (quote/base volume) outside
 * [low, high] by more than a relative tolerance, non-finite values (NaN, ±Infinity: a
 * source value like 1e400 parses to Infinity; a NaN quote volume is not one, it means the
 * source has none and is counted in `quoteVolumeAbsent`), the file's checksum against the manifest
 * ('mismatch': a byte changed after ingest; the rest of the report still reads the file),
 * and every change an ingest policy made.
 * Counts are exact; example lists are capped at `maxExamples` (the count says how many).
 * Times are epoch ms in memory (`...Ms` fields); `qcReportToJson` turns them into
 * ISO-8601 UTC strings. Cost: one pass over every stored bar.
 */
import { SigvwapError } from '../errors.js';
import type { BarTable } from './barTable.js';
import { intervalToMs } from './interval.js';
import { DEFAULT_STORE_DIR, openStoreManifest, readStoreAsset, unknownAssetError, type PolicyChange } from './store.js';

export interface QcOptions {
  store?: string;
  assets?: readonly string[];
  /** relative tolerance of the VWAP-in-range check (default 0.01: the source rounds quote volume) */
  vwapTolerance?: number;
  /** share of listed assets that must miss a bar for its gap to be exchange-wide (default 0.5) */
  exchangeWideShare?: number;
  /** fewest listed assets needed to call a gap exchange-wide or not (default 3; fewer gives null) */
  exchangeWideMinAssets?: number;
  maxExamples?: number;
}

export interface QcGap {
  /** first missing bar */
  startMs: number;
  bars: number;
  /** assets missing the first bar of this gap, among those listed then */
  sharedBy: number;
  listed: number;
  exchangeWide: boolean | null;
}

export interface QcCount {
  count: number;
  examplesMs: number[];
}

export interface AssetQc {
  symbol: string;
  interval: string;
  rows: number;
  startMs: number;
  endMs: number;
  expectedRows: number;
  missingBars: number;
  gaps: QcGap[];
  duplicateTimestamps: QcCount;
  unsortedTimestamps: QcCount;
  misalignedTimestamps: QcCount;
  zeroVolume: { rows: number; runs: number; longestRun: { startMs: number; bars: number } | null; runsList: { startMs: number; bars: number }[] };
  nonPositivePrice: QcCount;
  ohlcInconsistent: QcCount;
  negativeVolume: QcCount;
  vwapOutsideRange: QcCount;
  /** bars with a NaN or infinite open, high, low, close or volume, or an infinite quote volume */
  nonFinite: QcCount;
  /** bars without quote volume (unknown, NaN in the store: US equity minute bars; their bar price is the typical price) */
  quoteVolumeAbsent: number;
  /** the store file against its manifest checksum; 'absent' in stores written before checksums */
  checksum: 'ok' | 'mismatch' | 'absent';
  /** what ingest policies changed (duplicates resolved, rows sorted, bars dropped) */
  changes: PolicyChange[];
}

export interface QcReport {
  store: string;
  vwapTolerance: number;
  exchangeWideShare: number;
  assets: AssetQc[];
  /** gaps that are exchange-wide, across assets (first missing bar, longest length seen) */
  exchangeWideGaps: { startMs: number; bars: number; sharedBy: number; listed: number }[];
}

function counter(): QcCount {
  return { count: 0, examplesMs: [] };
}

export function qualityReport(options: QcOptions = {}): QcReport {
  const storeDir = options.store ?? DEFAULT_STORE_DIR;
  const tolerance = options.vwapTolerance ?? 0.01;
  const share = options.exchangeWideShare ?? 0.5;
  const minAssets = options.exchangeWideMinAssets ?? 3;
  const maxExamples = options.maxExamples ?? 20;
  if (!(tolerance >= 0)) throw new SigvwapError('ERR_ARG', `vwapTolerance: expected a number >= 0, got ${tolerance}`, { argument: 'vwapTolerance', value: tolerance });
  if (!(share > 0 && share <= 1)) throw new SigvwapError('ERR_ARG', `exchangeWideShare: expected a number in (0, 1], got ${share}`, { argument: 'exchangeWideShare', value: share });
  if (!(Number.isInteger(maxExamples) && maxExamples >= 0)) throw new SigvwapError('ERR_ARG', `maxExamples: expected an integer >= 0, got ${maxExamples}`, { argument: 'maxExamples', value: maxExamples });
  const manifest = openStoreManifest(storeDir);
  const symbols = options.assets ? [...options.assets] : Object.keys(manifest.assets).sort();
  const assets: AssetQc[] = [];
  const missingCount = new Map<number, number>();
  for (const symbol of symbols) {
    const entry = manifest.assets[symbol];
    if (!entry) throw unknownAssetError(symbol, manifest, storeDir, 'assets');
    const { bars, sha256 } = readStoreAsset(storeDir, entry, { verify: false });
    const qc = assetQc(symbol, entry.interval, bars, tolerance, maxExamples);
    qc.changes = entry.changes;
    qc.checksum = entry.fileSha256 === undefined ? 'absent' : entry.fileSha256 === sha256 ? 'ok' : 'mismatch';
    assets.push(qc);
    const step = intervalToMs(entry.interval);
    for (const g of qc.gaps) for (let k = 0; k < g.bars; k++) missingCount.set(g.startMs + k * step, (missingCount.get(g.startMs + k * step) ?? 0) + 1);
  }
  const exchangeWide = new Map<number, { startMs: number; bars: number; sharedBy: number; listed: number }>();
  for (const qc of assets) {
    for (const g of qc.gaps) {
      g.sharedBy = missingCount.get(g.startMs) ?? 0;
      g.listed = assets.filter((a) => a.startMs <= g.startMs && g.startMs <= a.endMs).length;
      g.exchangeWide = g.listed >= minAssets ? g.sharedBy / g.listed >= share : null;
      if (g.exchangeWide) {
        const seen = exchangeWide.get(g.startMs);
        if (!seen || seen.bars < g.bars) exchangeWide.set(g.startMs, { startMs: g.startMs, bars: g.bars, sharedBy: g.sharedBy, listed: g.listed });
      }
    }
  }
  return {
    store: storeDir,
    vwapTolerance: tolerance,
    exchangeWideShare: share,
    assets,
    exchangeWideGaps: [...exchangeWide.values()].sort((a, b) => a.startMs - b.startMs),
  };
}

/** Quality checks of one asset's bars (sorted or not). `sharedBy`/`listed` of gaps are filled by `qualityReport`. */
export function assetQc(symbol: string, interval: string, bars: BarTable, vwapTolerance = 0.01, maxExamples = 20): AssetQc {
  const step = intervalToMs(interval);
  const n = bars.length;
  const t = bars.openTimeMs;
  const note = (c: QcCount, ms: number) => {
    c.count++;
    if (c.examplesMs.length < maxExamples) c.examplesMs.push(ms);
  };
  const qc: AssetQc = {
    symbol, interval, rows: n, startMs: n ? t[0]! : NaN, endMs: n ? t[n - 1]! : NaN, expectedRows: 0, missingBars: 0, gaps: [],
    duplicateTimestamps: counter(), unsortedTimestamps: counter(), misalignedTimestamps: counter(),
    zeroVolume: { rows: 0, runs: 0, longestRun: null, runsList: [] },
    nonPositivePrice: counter(), ohlcInconsistent: counter(), negativeVolume: counter(), vwapOutsideRange: counter(), nonFinite: counter(),
    quoteVolumeAbsent: 0, checksum: 'absent', changes: [],
  };
  if (n === 0) return qc;
  let run: { startMs: number; bars: number } | null = null;
  for (let i = 0; i < n; i++) {
    const ti = t[i]!;
    if (ti % step !== 0) note(qc.misalignedTimestamps, ti);
    if (i > 0) {
      const d = ti - t[i - 1]!;
      if (d === 0) note(qc.duplicateTimestamps, ti);
      else if (d < 0) note(qc.unsortedTimestamps, ti);
      else if (d > step) {
        const missing = Math.round(d / step) - 1;
        if (missing > 0) {
          qc.missingBars += missing;
          qc.gaps.push({ startMs: t[i - 1]! + step, bars: missing, sharedBy: 0, listed: 0, exchangeWide: null });
        }
      }
    }
    const o = bars.open[i]!, h = bars.high[i]!, l = bars.low[i]!, c = bars.close[i]!;
    const v = bars.volume[i]!, q = bars.quoteVolume[i]!;
    const quoteAbsent = Number.isNaN(q);
    if (quoteAbsent) qc.quoteVolumeAbsent++;
    if (!Number.isFinite(o + h + l + c + v + (quoteAbsent ? 0 : q))) note(qc.nonFinite, ti);
    if (!(o > 0 && h > 0 && l > 0 && c > 0)) note(qc.nonPositivePrice, ti);
    if (h < Math.max(o, c, l) || l > Math.min(o, c)) note(qc.ohlcInconsistent, ti);
    if (v < 0 || q < 0) note(qc.negativeVolume, ti);
    if (v > 0 && q > 0) {
      const vwap = q / v;
      if (vwap < l * (1 - vwapTolerance) || vwap > h * (1 + vwapTolerance)) note(qc.vwapOutsideRange, ti);
    }
    if (v === 0) {
      qc.zeroVolume.rows++;
      // a run continues only over consecutive bars
      if (run && i > 0 && ti - t[i - 1]! === step && bars.volume[i - 1] === 0) run.bars++;
      else {
        run = { startMs: ti, bars: 1 };
        qc.zeroVolume.runs++;
        if (qc.zeroVolume.runsList.length < maxExamples) qc.zeroVolume.runsList.push(run);
      }
      if (!qc.zeroVolume.longestRun || run.bars > qc.zeroVolume.longestRun.bars) qc.zeroVolume.longestRun = { ...run };
    }
  }
  qc.expectedRows = Math.round((qc.endMs - qc.startMs) / step) + 1;
  return qc;
}

/** The report as JSON-ready data: every `...Ms` time becomes an ISO-8601 UTC string (key without `Ms`). */
export function qcReportToJson(report: QcReport): unknown {
  return isoTimes(report);
}

function isoTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(isoTimes);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.endsWith('Ms') && typeof v === 'number') out[k.slice(0, -2)] = Number.isFinite(v) ? new Date(v).toISOString() : null;
    else if (k.endsWith('Ms') && Array.isArray(v)) out[k.slice(0, -2)] = v.map((x) => new Date(x as number).toISOString());
    else out[k] = isoTimes(v);
  }
  return out;
}
