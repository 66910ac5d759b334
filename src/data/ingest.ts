/**
 * Ingest market-data files into the bar store.
 *
 * Per symbol: parse every new source (CSV, gzip, zip entries, Arrow), check each source
 * is sorted by open time, merge with the rows already stored (stable by time: store rows
 * first, then sources in the order given, each by line), then apply the explicit quality
 * policies and write the asset file and the manifest atomically.
 * - duplicates (same open time twice): `error` (default; ERR_DATA naming both file:line),
 *   `keep-first` or `keep-last` (every dropped row is recorded as a change);
 * - unsorted rows inside a source: `error` (default) or `sort` (recorded);
 * - invalid bars (non-positive price, OHLC inconsistency, negative volume): `keep`
 *   (default; reported by the quality report), `drop` (recorded) or `error`. A bar without
 *   quote volume or trade count (empty fields: US equity minute bars) is valid: both are
 *   stored as unknown (null), never estimated.
 * Sources already in the store (same sha256) are skipped, so re-ingesting is a no-op.
 * Nothing is written before every source of a symbol has been read and checked, so a
 * failed ingest leaves the previous store file intact.
 * Cost: O(rows) to parse and merge (a sort only when sources overlap or are unsorted).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { SigvwapError } from '../errors.js';
import { BAR_COLUMNS, concatBarTables, sameBarRow, takeBarRows, type BarTable } from './barTable.js';
import { inferIntervalMs, intervalToMs, msToInterval } from './interval.js';
import { sniffKlineCsv } from './parseKlineCsv.js';
import { parseSourceName } from './parseSourceName.js';
import { parseSourceFile, readSourceBytes, sourceKind, type SourcePart } from './readSourceFile.js';
import {
  DEFAULT_STORE_DIR, STORE_LOCK_FILE, assetFileName, readManifest, readStoreAsset, writeManifest, writeStoreAsset,
  type ManifestAsset, type PolicyChange,
} from './store.js';
import { withFileLock } from './fileLock.js';
import { ensureDir } from './writeFileAtomic.js';

export type DuplicatePolicy = 'error' | 'keep-first' | 'keep-last';
export type UnsortedPolicy = 'error' | 'sort';
export type InvalidBarPolicy = 'keep' | 'drop' | 'error';

export const DUPLICATE_POLICIES: readonly DuplicatePolicy[] = ['error', 'keep-first', 'keep-last'];
export const UNSORTED_POLICIES: readonly UnsortedPolicy[] = ['error', 'sort'];
export const INVALID_BAR_POLICIES: readonly InvalidBarPolicy[] = ['keep', 'drop', 'error'];

export interface IngestOptions {
  /** store directory (default `.sigvwap/store`) */
  store?: string;
  onDuplicate?: DuplicatePolicy;
  onUnsorted?: UnsortedPolicy;
  onInvalid?: InvalidBarPolicy;
  /** bar interval when neither the file names nor the data say it (e.g. a single row) */
  interval?: string;
  /** called after each file is read (for a progress bar) */
  onProgress?: (event: { done: number; total: number; file: string }) => void;
  /** how long to wait for another writer of the store, ms (default 60 s) */
  lockTimeoutMs?: number;
}

export interface IngestedAsset {
  symbol: string;
  status: 'created' | 'appended' | 'unchanged';
  interval: string;
  rows: number;
  rowsAdded: number;
  /** ISO-8601 UTC */
  start: string;
  end: string;
  sourcesAdded: string[];
  /** what the policies changed in this ingest */
  changes: PolicyChange[];
}

export interface IngestResult {
  store: string;
  assets: IngestedAsset[];
  /** files found in folders that are not kline data, with the reason */
  skipped: { file: string; reason: string }[];
  rowsRead: number;
  bytesRead: number;
  elapsedMs: number;
}

interface InputFile {
  path: string;
  symbol: string;
  interval: string | undefined;
}

function argError(argument: string, message: string, value?: unknown): SigvwapError {
  return new SigvwapError('ERR_ARG', `${argument}: ${message}`, { argument, value });
}

function checkChoice<T extends string>(argument: string, value: T | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!choices.includes(value)) throw argError(argument, `expected one of ${choices.join('|')}, got ${JSON.stringify(value)}`, value);
  return value;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Expand folders (recursively, sorted) into data files; unrelated files found in folders are skipped with a reason. */
export function collectInputFiles(inputs: readonly string[]): { files: InputFile[]; skipped: { file: string; reason: string }[] } {
  if (inputs.length === 0) throw argError('files', 'give at least one file or folder');
  const files: InputFile[] = [];
  const skipped: { file: string; reason: string }[] = [];
  const visit = (path: string, explicit: boolean): void => {
    let st;
    try {
      st = statSync(path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new SigvwapError('ERR_IO', `cannot read ${path}: ${e.code ?? e.message}`, { file: path, errno: e.code }, { cause: err });
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(path).sort()) {
        if (name.startsWith('.')) continue;
        visit(join(path, name), false);
      }
      return;
    }
    const kind = sourceKind(path);
    const name = parseSourceName(basename(path));
    if (!kind || !name) {
      if (explicit) throw argError('files', `${path} is not a market-data file (.csv, .csv.gz, .zip, .arrow named after its symbol)`, path);
      skipped.push({ file: path, reason: kind ? 'no symbol in the file name' : 'not a data file type' });
      return;
    }
    if (!explicit && kind === 'csv') {
      const head = readFileSync(path).subarray(0, 4096);
      if (head.length > 0 && !sniffKlineCsv(head)) {
        skipped.push({ file: path, reason: 'CSV with neither 8 nor 12 columns (not kline data)' });
        return;
      }
    }
    files.push({ path, symbol: name.symbol, interval: name.interval });
  };
  for (const input of inputs) visit(input, true);
  return { files, skipped };
}

/** Ingest files and folders into the store. */
export async function ingest(inputs: readonly string[], options: IngestOptions = {}): Promise<IngestResult> {
  const started = performance.now();
  const storeDir = options.store ?? DEFAULT_STORE_DIR;
  if (typeof storeDir !== 'string' || storeDir.length === 0) throw argError('store', 'must be a directory path', storeDir);
  const onDuplicate = checkChoice('onDuplicate', options.onDuplicate, DUPLICATE_POLICIES, 'error');
  const onUnsorted = checkChoice('onUnsorted', options.onUnsorted, UNSORTED_POLICIES, 'error');
  const onInvalid = checkChoice('onInvalid', options.onInvalid, INVALID_BAR_POLICIES, 'keep');
  if (options.interval !== undefined) intervalToMs(options.interval);

  const { files, skipped } = collectInputFiles(inputs);
  const bySymbol = new Map<string, InputFile[]>();
  for (const f of files) {
    const list = bySymbol.get(f.symbol) ?? [];
    list.push(f);
    bySymbol.set(f.symbol, list);
  }
  const result: IngestResult = { store: storeDir, assets: [], skipped, rowsRead: 0, bytesRead: 0, elapsedMs: 0 };
  if (bySymbol.size === 0) {
    result.elapsedMs = performance.now() - started;
    return result;
  }
  ensureDir(storeDir, 'store');
  // One writer per store: the manifest is read, extended and written under the lock, so two
  // ingests into one store both land (the second waits) instead of the last one winning.
  await withFileLock(join(storeDir, STORE_LOCK_FILE), `the store ${storeDir}`, async () => {
    const manifest = readManifest(storeDir);
    let done = 0;
    for (const [symbol, group] of bySymbol) {
      const asset = ingestSymbol(symbol, group, storeDir, manifest, { onDuplicate, onUnsorted, onInvalid, interval: options.interval }, (file, rows, bytes) => {
        done++;
        result.rowsRead += rows;
        result.bytesRead += bytes;
        options.onProgress?.({ done, total: files.length, file });
      });
      result.assets.push(asset);
      // Yield between symbols so a progress bar can redraw.
      await new Promise<void>((r) => setImmediate(r));
    }
  }, { timeoutMs: options.lockTimeoutMs });
  result.elapsedMs = performance.now() - started;
  return result;
}

interface Policies {
  onDuplicate: DuplicatePolicy;
  onUnsorted: UnsortedPolicy;
  onInvalid: InvalidBarPolicy;
  interval: string | undefined;
}

function ingestSymbol(
  symbol: string,
  group: InputFile[],
  storeDir: string,
  manifest: ReturnType<typeof readManifest>,
  policies: Policies,
  progress: (file: string, rows: number, bytes: number) => void,
): IngestedAsset {
  const entry = manifest.assets[symbol];
  const known = new Set(entry?.sources.map((s) => s.sha256));
  const fresh = group.map((f) => ({ f, bytes: readSourceBytes(f.path) }));
  if (entry && fresh.every(({ bytes }) => known.has(bytes.sha256))) {
    for (const { f, bytes } of fresh) progress(f.path, 0, bytes.raw.length);
    return {
      symbol, status: 'unchanged', interval: entry.interval, rows: entry.rows, rowsAdded: 0,
      start: entry.start, end: entry.end, sourcesAdded: [], changes: [],
    };
  }
  const stored = entry ? readStoreAsset(storeDir, entry, { verify: false }) : undefined;
  // The file's own metadata is the truth about what it holds (the manifest is written after
  // it): a file newer than its manifest entry is a crash between the two writes, repaired
  // here; a file whose metadata matches the entry but whose bytes do not is corruption.
  if (stored && entry?.fileSha256 !== undefined && stored.sha256 !== entry.fileSha256 && sameSources(stored.meta, entry)) {
    readStoreAsset(storeDir, entry);
  }
  const previous: ManifestAsset | undefined = stored?.meta ?? entry;
  for (const s of previous?.sources ?? []) known.add(s.sha256);

  const parts: SourcePart[] = [];
  const newSources: { file: string; sha256: string }[] = [];
  let interval = policies.interval;
  for (const { f, bytes } of fresh) {
    if (known.has(bytes.sha256) || newSources.some((s) => s.sha256 === bytes.sha256)) {
      progress(f.path, 0, bytes.raw.length);
      continue;
    }
    const src = parseSourceFile(bytes);
    progress(f.path, src.parts.reduce((n, p) => n + p.bars.length, 0), src.bytes);
    if (f.interval !== undefined) {
      if (interval !== undefined && interval !== f.interval) {
        throw new SigvwapError('ERR_DATA', `${f.path}: file name says interval ${f.interval} but ${interval} was expected for ${symbol}`, { file: f.path, symbol, interval: f.interval, expected: interval });
      }
      interval = f.interval;
    }
    newSources.push({ file: relativeSourceName(f.path), sha256: src.sha256 });
    parts.push(...src.parts);
  }
  if (newSources.length === 0 && previous && stored) {
    return {
      symbol, status: 'unchanged', interval: previous.interval, rows: previous.rows, rowsAdded: 0,
      start: previous.start, end: previous.end, sourcesAdded: [], changes: [],
    };
  }

  // The interval of the new files must be the stored one, before anything is merged.
  const partMs = parts.map((p) => inferIntervalMs(p.bars.openTimeMs)).find((ms) => ms !== undefined);
  const newInterval = interval ?? (partMs === undefined ? undefined : msToInterval(partMs));
  if (previous && newInterval !== undefined && newInterval !== previous.interval) {
    throw new SigvwapError('ERR_DATA', `${symbol}: the store holds ${previous.interval} bars; these files have ${newInterval} bars (use another --store for another interval)`, { symbol, interval: newInterval, stored: previous.interval });
  }

  const changes: PolicyChange[] = [];
  for (const part of parts) checkSorted(part, policies.onUnsorted, changes);

  const storePart: SourcePart | undefined = stored
    ? { label: `store:${previous?.file ?? symbol}`, bars: stored.bars, line: Int32Array.from({ length: stored.bars.length }, (_, i) => i + 1), microsecondRows: 0 }
    : undefined;
  const all = storePart ? [storePart, ...parts] : parts;
  const merged = mergeParts(all, policies.onDuplicate, changes);
  const kept = applyInvalidPolicy(merged, storePart ? 1 : 0, policies.onInvalid, changes);
  const bars = kept.bars;

  const inferredMs = inferIntervalMs(bars.openTimeMs);
  const inferred = inferredMs === undefined ? undefined : msToInterval(inferredMs);
  if (interval !== undefined && inferred !== undefined && intervalToMs(interval) !== inferredMs) {
    throw new SigvwapError('ERR_DATA', `${symbol}: interval ${interval} (from the file name or --interval) does not match the bar step inferred from the data, ${inferred}`, { symbol, interval, inferred });
  }
  interval ??= inferred;
  if (interval === undefined) {
    throw new SigvwapError('ERR_DATA', `${symbol}: cannot infer the bar interval from a single row; name it in the file name (SYMBOL-1h-...) or pass --interval`, { symbol });
  }
  if (previous && previous.interval !== interval) {
    throw new SigvwapError('ERR_DATA', `${symbol}: the store holds ${previous.interval} bars; these files have ${interval} bars (use another --store for another interval)`, { symbol, interval, stored: previous.interval });
  }
  const meta: ManifestAsset = {
    rows: bars.length,
    start: iso(bars.openTimeMs[0]!),
    end: iso(bars.openTimeMs[bars.length - 1]!),
    interval,
    file: assetFileName(symbol, interval),
    hasTrades: bars.trades.some((t) => !Number.isNaN(t)),
    sources: [...(previous?.sources ?? []), ...newSources],
    changes: [...(previous?.changes ?? []), ...changes],
  };
  const fileSha256 = writeStoreAsset(storeDir, bars, meta);
  manifest.assets[symbol] = { ...meta, fileSha256 };
  writeManifest(storeDir, manifest);
  return {
    symbol, status: previous ? 'appended' : 'created', interval, rows: bars.length, rowsAdded: bars.length - (previous?.rows ?? 0),
    start: meta.start, end: meta.end, sourcesAdded: newSources.map((s) => s.file), changes,
  };
}

function relativeSourceName(path: string): string {
  const rel = relative(process.cwd(), resolve(path));
  return rel.startsWith('..') ? basename(path) : rel;
}

function checkSorted(part: SourcePart, policy: UnsortedPolicy, changes: PolicyChange[]): void {
  const t = part.bars.openTimeMs;
  let count = 0;
  let first = -1;
  for (let i = 1; i < part.bars.length; i++) {
    if (t[i]! < t[i - 1]!) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (count === 0) return;
  const line = part.line[first]!;
  if (policy === 'error') {
    throw new SigvwapError(
      'ERR_DATA',
      `${part.label}:${line}: open time ${iso(t[first]!)} is earlier than the previous row's ${iso(t[first - 1]!)} (${count} unsorted rows); pass --on-unsorted sort to sort them`,
      { file: part.label, line, rows: count, policy: 'on-unsorted' },
    );
  }
  changes.push({ kind: 'unsorted', policy: 'sort', file: part.label, rows: count, firstLine: line });
}

interface MergedRows {
  bars: BarTable;
  part: Int32Array;
  line: Int32Array;
  labels: string[];
}

/** Stable merge by open time, then resolve equal times by the duplicate policy. */
function mergeParts(parts: SourcePart[], policy: DuplicatePolicy, changes: PolicyChange[]): MergedRows {
  const all = concatBarTables(parts.map((p) => p.bars));
  const n = all.length;
  const partOf = new Int32Array(n);
  const lineOf = new Int32Array(n);
  let at = 0;
  parts.forEach((p, k) => {
    partOf.fill(k, at, at + p.bars.length);
    lineOf.set(p.line, at);
    at += p.bars.length;
  });
  const t = all.openTimeMs;
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) if (t[i]! < t[i - 1]!) sorted = false;
  let order: Uint32Array | Int32Array;
  if (sorted) {
    order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
  } else {
    // Parts in file-name order may overlap or interleave: a stable sort by time.
    const idx = Array.from({ length: n }, (_, i) => i);
    idx.sort((a, b) => t[a]! - t[b]! || a - b);
    order = Int32Array.from(idx);
  }
  const keep: number[] = [];
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && t[order[j]!] === t[order[i]!]) j++;
    if (j - i === 1) {
      keep.push(order[i]!);
    } else {
      const rows = Array.from(order.subarray(i, j));
      const where = (r: number) => ({ file: parts[partOf[r]!]!.label, line: lineOf[r]! });
      const identical = rows.every((r) => sameBarRow(all, r, all, rows[0]!));
      if (policy === 'error') {
        const a = where(rows[0]!);
        const b = where(rows[1]!);
        throw new SigvwapError(
          'ERR_DATA',
          `${b.file}:${b.line}: duplicate open time ${iso(t[rows[0]!]!)} (${identical ? 'identical to' : 'conflicts with'} ${a.file}:${a.line}); pass --on-duplicate keep-first|keep-last to resolve`,
          { file: b.file, line: b.line, firstFile: a.file, firstLine: a.line, openTime: iso(t[rows[0]!]!), identical, policy: 'on-duplicate' },
        );
      }
      const chosen = policy === 'keep-first' ? rows[0]! : rows[rows.length - 1]!;
      keep.push(chosen);
      changes.push({
        kind: 'duplicate', policy, openTime: iso(t[chosen]!), identical, kept: where(chosen),
        dropped: rows.filter((r) => r !== chosen).map(where),
      });
    }
    i = j;
  }
  const labels = parts.map((p) => p.label);
  return { bars: takeBarRows(all, keep), part: Int32Array.from(keep, (r) => partOf[r]!), line: Int32Array.from(keep, (r) => lineOf[r]!), labels };
}

/** Why a bar is invalid, or undefined. */
export function invalidBarReason(b: BarTable, i: number): string | undefined {
  for (const c of BAR_COLUMNS) {
    if (c === 'trades') continue;
    const v = b[c][i]!;
    // quote volume NaN = unknown (equity minute bars), not invalid; ±Infinity still is
    if (c === 'quoteVolume' && Number.isNaN(v)) continue;
    if (!Number.isFinite(v)) return `${c} is not finite`;
  }
  const o = b.open[i]!, h = b.high[i]!, l = b.low[i]!, c = b.close[i]!;
  if (o <= 0 || h <= 0 || l <= 0 || c <= 0) return 'non-positive price';
  if (h < Math.max(o, c, l) || l > Math.min(o, c)) return 'OHLC inconsistent (high below open/close/low or low above open/close)';
  if (b.volume[i]! < 0 || b.quoteVolume[i]! < 0) return 'negative volume';
  return undefined;
}

function applyInvalidPolicy(m: MergedRows, firstNewPart: number, policy: InvalidBarPolicy, changes: PolicyChange[]): MergedRows {
  if (policy === 'keep') return m;
  const keep: number[] = [];
  for (let i = 0; i < m.bars.length; i++) {
    const reason = m.part[i]! >= firstNewPart ? invalidBarReason(m.bars, i) : undefined;
    if (reason === undefined) {
      keep.push(i);
      continue;
    }
    const file = m.labels[m.part[i]!]!;
    const line = m.line[i]!;
    if (policy === 'error') {
      throw new SigvwapError('ERR_DATA', `${file}:${line}: invalid bar at ${iso(m.bars.openTimeMs[i]!)}: ${reason}; pass --on-invalid keep|drop`, { file, line, reason, policy: 'on-invalid' });
    }
    changes.push({ kind: 'invalid-bar', policy: 'drop', openTime: iso(m.bars.openTimeMs[i]!), file, line, reason });
  }
  if (keep.length === m.bars.length) return m;
  return { bars: takeBarRows(m.bars, keep), part: Int32Array.from(keep, (r) => m.part[r]!), line: Int32Array.from(keep, (r) => m.line[r]!), labels: m.labels };
}

/** Two entries list the same sources (the file's metadata describes the manifest's entry). */
function sameSources(a: ManifestAsset | undefined, b: ManifestAsset): boolean {
  return a !== undefined && a.sources.length === b.sources.length && a.sources.every((s, i) => s.sha256 === b.sources[i]!.sha256);
}
