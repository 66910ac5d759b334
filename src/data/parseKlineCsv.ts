/**
 * Fast parser for the two fixed kline CSV layouts, straight from bytes:
 *
 * - `binance-kline` (12 columns, Binance Data Vision): open_time, open, high, low, close,
 *   volume, close_time, quote_volume, trades, taker_buy_base, taker_buy_quote, ignore;
 *   with or without a header line;
 * - `sigvwap` (8 columns, the layout of ../shared/data): open_time_ms, open, high, low,
 *   close, volume, quote_volume, trades (trades may be empty); header optional.
 *
 * Open times are milliseconds or microseconds since the epoch, decided per row by size
 * (Binance spot files switched to microseconds in 2025; a value >= 1e14 cannot be a
 * millisecond time before year 5138, and a microsecond time after 1973 is >= 1e14).
 * Every row must have the layout's column count and numeric fields, else ERR_CSV naming
 * the file and the 1-based line. Two fields may be empty: quote_volume (NaN in the table:
 * unknown, e.g. US equity minute bars, whose bar price is then the typical price, see
 * buildAssetSeries.ts) and trades (NaN: unknown); every other empty field is an error. Rows keep their order; `line[i]` is row i's line number.
 * Cost: one pass over the bytes plus one memchr pass to count lines; 8 doubles per row.
 */
import { SigvwapError } from '../errors.js';
import { allocBarTable, truncateBarTable, type BarTable } from './barTable.js';
import { parseDecimal, parseUnsignedInteger } from './parseDecimal.js';

export type KlineLayout = 'binance-kline' | 'sigvwap';

export interface ParsedKlines {
  bars: BarTable;
  /** 1-based source line of each row */
  line: Int32Array;
  layout: KlineLayout;
  hasHeader: boolean;
  /** rows whose open time was given in microseconds */
  microsecondRows: number;
}

export const SIGVWAP_HEADER = ['open_time_ms', 'open', 'high', 'low', 'close', 'volume', 'quote_volume', 'trades'] as const;
export const BINANCE_KLINE_COLUMNS = [
  'open_time', 'open', 'high', 'low', 'close', 'volume', 'close_time', 'quote_volume', 'trades',
  'taker_buy_base', 'taker_buy_quote', 'ignore',
] as const;

/** Column index of each parsed field, per layout. */
const FIELD_INDEX: Record<KlineLayout, { columns: number; time: number; open: number; high: number; low: number; close: number; volume: number; quote: number; trades: number }> = {
  'binance-kline': { columns: 12, time: 0, open: 1, high: 2, low: 3, close: 4, volume: 5, quote: 7, trades: 8 },
  sigvwap: { columns: 8, time: 0, open: 1, high: 2, low: 3, close: 4, volume: 5, quote: 6, trades: 7 },
};

const MICROSECOND_THRESHOLD = 1e14;
const SECONDS_THRESHOLD = 1e11;

function csvError(file: string, line: number, message: string, extra: Record<string, unknown> = {}): SigvwapError {
  return new SigvwapError('ERR_CSV', `${file}:${line}: ${message}`, { file, line, ...extra });
}

/** Latin-1 text of one line, for error messages (cut at 120 characters). */
function lineText(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, Math.min(end - start, 120)).toString('latin1');
}

/**
 * Is this first line a kline CSV? Returns the layout and whether it is a header, or
 * undefined when the column count is neither 8 nor 12 (used to skip unrelated CSVs
 * found in folders).
 */
export function sniffKlineCsv(bytes: Uint8Array): { layout: KlineLayout; hasHeader: boolean } | undefined {
  let end = bytes.indexOf(10);
  if (end < 0) end = bytes.length;
  if (end > 0 && bytes[end - 1] === 13) end--;
  let commas = 0;
  let firstComma = -1;
  for (let i = 0; i < end; i++) {
    if (bytes[i] === 44) {
      if (firstComma < 0) firstComma = i;
      commas++;
    }
  }
  const layout = commas === 11 ? 'binance-kline' : commas === 7 ? 'sigvwap' : undefined;
  if (!layout) return undefined;
  const hasHeader = Number.isNaN(parseUnsignedInteger(bytes, 0, firstComma));
  return { layout, hasHeader };
}

export function parseKlineCsv(bytes: Uint8Array, file: string): ParsedKlines {
  const n = bytes.length;
  // An empty file, or one of blank lines only.
  let firstNonBlank = 0;
  while (firstNonBlank < n && (bytes[firstNonBlank] === 10 || bytes[firstNonBlank] === 13 || bytes[firstNonBlank] === 32)) firstNonBlank++;
  if (firstNonBlank === n) throw csvError(file, 1, 'empty file (no header and no rows)');
  if (firstNonBlank !== 0) throw csvError(file, 1, 'blank line before the first row');

  const sniff = sniffKlineCsv(bytes);
  if (!sniff) {
    let end = bytes.indexOf(10);
    if (end < 0) end = n;
    const cols = lineText(bytes, 0, end).split(',').length;
    throw csvError(file, 1, `expected 8 columns (${SIGVWAP_HEADER.join(',')}) or 12 columns (Binance kline), got ${cols}`, {
      expectedColumns: [8, 12],
      columns: cols,
    });
  }
  const { layout, hasHeader } = sniff;
  const idx = FIELD_INDEX[layout];

  let lines = 1;
  for (let p = bytes.indexOf(10); p >= 0; p = bytes.indexOf(10, p + 1)) lines++;
  const bars = allocBarTable(lines);
  const lineOf = new Int32Array(lines);
  const { openTimeMs, open, high, low, close, volume, quoteVolume, trades } = bars;

  const fieldStart = new Int32Array(idx.columns + 1);
  let pos = 0;
  let lineNo = 0;
  let rows = 0;
  let microsecondRows = 0;

  if (hasHeader) {
    let end = bytes.indexOf(10);
    if (end < 0) end = n;
    const headerEnd = end > 0 && bytes[end - 1] === 13 ? end - 1 : end;
    if (layout === 'sigvwap') {
      const names = lineText(bytes, 0, headerEnd).trim().split(',');
      const bad = names.findIndex((name, k) => name.trim().toLowerCase() !== SIGVWAP_HEADER[k]);
      if (bad >= 0) {
        throw csvError(file, 1, `unexpected header column ${bad + 1} "${names[bad]}": expected ${SIGVWAP_HEADER.join(',')}`, { column: bad + 1 });
      }
    }
    pos = end + 1;
    lineNo = 1;
  }

  while (pos < n) {
    lineNo++;
    let end = bytes.indexOf(10, pos);
    if (end < 0) end = n;
    let lineEnd = end;
    if (lineEnd > pos && bytes[lineEnd - 1] === 13) lineEnd--;
    if (lineEnd === pos) {
      // A blank line is accepted only as the file's end.
      let rest = end + 1;
      while (rest < n && (bytes[rest] === 10 || bytes[rest] === 13)) rest++;
      if (rest >= n) break;
      throw csvError(file, lineNo, 'blank line inside the data');
    }
    // Split on commas (no quoting in kline files).
    let f = 0;
    fieldStart[0] = pos;
    for (let i = pos; i < lineEnd; i++) {
      if (bytes[i] === 44) {
        f++;
        if (f >= idx.columns) break;
        fieldStart[f] = i + 1;
      }
    }
    if (f !== idx.columns - 1) {
      let cols = 1;
      for (let i = pos; i < lineEnd; i++) if (bytes[i] === 44) cols++;
      throw csvError(file, lineNo, `expected ${idx.columns} columns, got ${cols}: "${lineText(bytes, pos, lineEnd)}"`, {
        expectedColumns: idx.columns,
        columns: cols,
      });
    }
    fieldStart[idx.columns] = lineEnd + 1;
    const fieldEnd = (k: number): number => fieldStart[k + 1]! - 1;

    let t = parseUnsignedInteger(bytes, fieldStart[idx.time]!, fieldEnd(idx.time));
    if (Number.isNaN(t)) {
      throw csvError(file, lineNo, `column ${idx.time + 1} (open time): not an integer: "${lineText(bytes, fieldStart[idx.time]!, fieldEnd(idx.time))}"`, { column: idx.time + 1 });
    }
    if (t >= MICROSECOND_THRESHOLD) {
      if (t % 1000 !== 0) throw csvError(file, lineNo, `open time ${t} µs is not a whole millisecond`, { column: idx.time + 1 });
      t /= 1000;
      microsecondRows++;
    } else if (t < SECONDS_THRESHOLD) {
      throw csvError(file, lineNo, `open time ${t} looks like seconds; expected milliseconds or microseconds since the epoch`, { column: idx.time + 1 });
    }
    openTimeMs[rows] = t;
    open[rows] = numberField(bytes, fieldStart[idx.open]!, fieldEnd(idx.open), file, lineNo, idx.open, 'open');
    high[rows] = numberField(bytes, fieldStart[idx.high]!, fieldEnd(idx.high), file, lineNo, idx.high, 'high');
    low[rows] = numberField(bytes, fieldStart[idx.low]!, fieldEnd(idx.low), file, lineNo, idx.low, 'low');
    close[rows] = numberField(bytes, fieldStart[idx.close]!, fieldEnd(idx.close), file, lineNo, idx.close, 'close');
    volume[rows] = numberField(bytes, fieldStart[idx.volume]!, fieldEnd(idx.volume), file, lineNo, idx.volume, 'volume');
    // quote volume may be empty (equity minute bars carry none): NaN = absent, never invented
    const qs = fieldStart[idx.quote]!;
    const qe = fieldEnd(idx.quote);
    quoteVolume[rows] = qe > qs ? numberField(bytes, qs, qe, file, lineNo, idx.quote, 'quote_volume') : NaN;
    const ts = fieldStart[idx.trades]!;
    const te = fieldEnd(idx.trades);
    if (te > ts) {
      const tr = parseUnsignedInteger(bytes, ts, te);
      if (Number.isNaN(tr) || tr > 2147483647) {
        throw csvError(file, lineNo, `column ${idx.trades + 1} (trades): not an integer in [0, 2^31): "${lineText(bytes, ts, te)}"`, { column: idx.trades + 1 });
      }
      trades[rows] = tr;
    }
    lineOf[rows] = lineNo;
    rows++;
    pos = end + 1;
  }
  if (rows === 0) throw csvError(file, lineNo + 1, 'no data rows (header only)');
  return { bars: truncateBarTable(bars, rows), line: lineOf.subarray(0, rows), layout, hasHeader, microsecondRows };
}

function numberField(bytes: Uint8Array, start: number, end: number, file: string, line: number, column: number, name: string): number {
  const v = parseDecimal(bytes, start, end);
  if (Number.isNaN(v)) {
    throw csvError(file, line, `column ${column + 1} (${name}): not a number: "${lineText(bytes, start, end)}"`, { column: column + 1, field: name });
  }
  return v;
}
