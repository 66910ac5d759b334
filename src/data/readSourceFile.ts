/**
 * One market-data file -> parsed bar parts, whatever its container:
 * `.csv`, `.csv.gz` / `.gz` (gzip), `.zip` (every `.csv` entry, e.g. Binance monthly
 * archives) and Arrow IPC (`.arrow`, `.arrows`, `.ipc`, `.feather`; columns found by name:
 * open_time_ms | open_time, open, high, low, close, volume, quote_volume, trades).
 * quote_volume and trades may be absent or null (NaN in the table: unknown).
 * A truncated gzip is decompressed as far as it goes to name the first missing line.
 * Cost: one read, one decompression, one parse; the bytes are hashed (sha256) for the manifest.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { tableFromIPC, type Table } from 'apache-arrow';
import { SigvwapError } from '../errors.js';
import { allocBarTable, type BarTable } from './barTable.js';
import { parseKlineCsv } from './parseKlineCsv.js';
import { readZipEntries } from './readZipEntries.js';

/** Rows of one CSV (or zip entry, or Arrow file) with their source lines. */
export interface SourcePart {
  /** `file` or `file!entry` for zip entries */
  label: string;
  bars: BarTable;
  /** 1-based line (CSV) or row (Arrow) of each bar */
  line: Int32Array;
  microsecondRows: number;
}

export interface SourceFile {
  path: string;
  sha256: string;
  bytes: number;
  parts: SourcePart[];
}

export type SourceKind = 'csv' | 'gzip' | 'zip' | 'arrow';

export function sourceKind(path: string): SourceKind | undefined {
  const p = path.toLowerCase();
  if (p.endsWith('.csv')) return 'csv';
  if (p.endsWith('.gz')) return 'gzip';
  if (p.endsWith('.zip')) return 'zip';
  if (p.endsWith('.arrow') || p.endsWith('.arrows') || p.endsWith('.ipc') || p.endsWith('.feather')) return 'arrow';
  return undefined;
}

export function readFileBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new SigvwapError('ERR_IO', `cannot read ${path}: ${e.code ?? e.message}`, { file: path, errno: e.code }, { cause: err });
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** gunzip; ERR_CSV naming the file and the first line that is missing when the stream is cut or corrupt. */
export function gunzipOrExplain(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length === 0) throw new SigvwapError('ERR_CSV', `${file}:1: empty file (no gzip data)`, { file, line: 1 });
  try {
    return gunzipSync(bytes);
  } catch (err) {
    let partialLines = 0;
    try {
      const partial = gunzipSync(bytes, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      for (let p = partial.indexOf(10); p >= 0; p = partial.indexOf(10, p + 1)) partialLines++;
    } catch {
      // not even a gzip header
    }
    const reason = (err as Error).message;
    throw new SigvwapError('ERR_CSV', `${file}:${partialLines + 1}: truncated or corrupt gzip data (${reason}); complete lines before it: ${partialLines}`, {
      file,
      line: partialLines + 1,
      cause: reason,
    }, { cause: err });
  }
}

/** Read one file's bytes and hash them (parse later with `parseSourceFile`, or skip it when the hash is known). */
export function readSourceBytes(path: string): { path: string; raw: Uint8Array; sha256: string } {
  if (!sourceKind(path)) {
    throw new SigvwapError('ERR_ARG', `files: ${path} is not a .csv, .csv.gz, .zip or Arrow IPC file`, { argument: 'files', file: path });
  }
  const raw = readFileBytes(path);
  return { path, raw, sha256: sha256Hex(raw) };
}

/** Decompress and parse bytes read by `readSourceBytes`. */
export function parseSourceFile(source: { path: string; raw: Uint8Array; sha256: string }): SourceFile {
  const { path, raw, sha256 } = source;
  let parts: SourcePart[];
  switch (sourceKind(path)) {
    case 'csv':
      parts = [csvPart(raw, path)];
      break;
    case 'gzip':
      parts = [csvPart(gunzipOrExplain(raw, path), path)];
      break;
    case 'zip': {
      const entries = readZipEntries(raw, path, (entry) => entry.toLowerCase().endsWith('.csv'));
      if (entries.length === 0) throw new SigvwapError('ERR_CSV', `${path}:1: zip archive holds no .csv entry`, { file: path, line: 1 });
      parts = entries.map((e) => csvPart(e.bytes, `${path}!${e.name}`));
      break;
    }
    case 'arrow':
      parts = [arrowPart(raw, path)];
      break;
    default:
      throw new SigvwapError('ERR_ARG', `files: ${path} is not a .csv, .csv.gz, .zip or Arrow IPC file`, { argument: 'files', file: path });
  }
  return { path, sha256, bytes: raw.length, parts };
}

/** Read and parse one file. */
export function readSourceFile(path: string): SourceFile {
  return parseSourceFile(readSourceBytes(path));
}

function csvPart(bytes: Uint8Array, label: string): SourcePart {
  const parsed = parseKlineCsv(bytes, label);
  return { label, bars: parsed.bars, line: parsed.line, microsecondRows: parsed.microsecondRows };
}

const ARROW_COLUMNS: Record<Exclude<keyof BarTable, 'length'>, readonly string[]> = {
  openTimeMs: ['open_time_ms', 'open_time', 'openTimeMs'],
  open: ['open'],
  high: ['high'],
  low: ['low'],
  close: ['close'],
  volume: ['volume'],
  quoteVolume: ['quote_volume', 'quoteVolume', 'quote_asset_volume'],
  trades: ['trades', 'count', 'number_of_trades'],
};

function arrowPart(bytes: Uint8Array, file: string): SourcePart {
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (err) {
    throw new SigvwapError('ERR_CSV', `${file}:1: not a readable Arrow IPC file (${(err as Error).message})`, { file, line: 1 }, { cause: err });
  }
  const n = table.numRows;
  if (n === 0) throw new SigvwapError('ERR_CSV', `${file}:1: Arrow file has no rows`, { file, line: 1 });
  const bars = allocBarTable(n);
  for (const [key, names] of Object.entries(ARROW_COLUMNS) as [Exclude<keyof BarTable, 'length'>, readonly string[]][]) {
    const name = names.find((c) => table.schema.fields.some((f) => f.name === c));
    if (name === undefined) {
      if (key === 'trades') continue;
      if (key === 'quoteVolume') {
        bars.quoteVolume.fill(NaN); // no quote volume in the source: unknown, not zero
        continue;
      }
      throw new SigvwapError('ERR_CSV', `${file}:1: Arrow file lacks a column ${names.map((c) => `"${c}"`).join(' or ')}`, { file, line: 1, column: names[0] });
    }
    const col = table.getChild(name)!;
    const dst = bars[key];
    for (let i = 0; i < n; i++) {
      const v = col.get(i) as unknown;
      if (v === null || v === undefined) {
        if (key === 'trades') continue;
        if (key === 'quoteVolume') {
          dst[i] = NaN;
          continue;
        }
        throw new SigvwapError('ERR_CSV', `${file}:${i + 1}: column ${name} is null in row ${i + 1}`, { file, line: i + 1, column: name });
      }
      const x = typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.getTime() : Number(v);
      if (key === 'quoteVolume' && Number.isNaN(x)) {
        dst[i] = NaN; // NaN quote volume = unknown, as null
        continue;
      }
      if (!Number.isFinite(x)) throw new SigvwapError('ERR_CSV', `${file}:${i + 1}: column ${name} is not a finite number in row ${i + 1}`, { file, line: i + 1, column: name });
      dst[i] = x;
    }
  }
  const line = new Int32Array(n);
  let microsecondRows = 0;
  for (let i = 0; i < n; i++) {
    line[i] = i + 1;
    const t = bars.openTimeMs[i]!;
    if (t >= 1e14) {
      bars.openTimeMs[i] = t / 1000;
      microsecondRows++;
    }
  }
  return { label: file, bars, line, microsecondRows };
}
