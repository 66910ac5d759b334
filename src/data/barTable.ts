/**
 * BarTable: the in-memory column layout of one asset's OHLCV bars, one Float64Array
 * per column, all of length `length`. Times are bar open times in integer
 * milliseconds since the Unix epoch (exact in a double up to year 287396).
 * `trades` holds NaN where the source has no trade count (nullable int in the store);
 * `quoteVolume` holds NaN where the source has no quote volume (US equity minute bars: the
 * store writes it as null, and the bar price falls back to the typical price, see
 * buildAssetSeries.ts).
 */
export interface BarTable {
  length: number;
  openTimeMs: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  /** base-asset volume */
  volume: Float64Array;
  /** quote-asset (notional) volume, NaN when unknown (never estimated) */
  quoteVolume: Float64Array;
  /** number of trades, NaN when unknown */
  trades: Float64Array;
}

export const BAR_COLUMNS = ['openTimeMs', 'open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'trades'] as const;
export type BarColumn = (typeof BAR_COLUMNS)[number];

/** A table of `length` rows with zero-filled columns (trades NaN). */
export function allocBarTable(length: number): BarTable {
  const t = {
    length,
    openTimeMs: new Float64Array(length),
    open: new Float64Array(length),
    high: new Float64Array(length),
    low: new Float64Array(length),
    close: new Float64Array(length),
    volume: new Float64Array(length),
    quoteVolume: new Float64Array(length),
    trades: new Float64Array(length),
  };
  t.trades.fill(NaN);
  return t;
}

/** The first `length` rows (views, no copy). */
export function truncateBarTable(t: BarTable, length: number): BarTable {
  const out = { length } as BarTable;
  for (const c of BAR_COLUMNS) out[c] = t[c].subarray(0, length);
  return out;
}

/** Rows `index[0], index[1], ...` of `t` (a copy). */
export function takeBarRows(t: BarTable, index: ArrayLike<number>): BarTable {
  const out = allocBarTable(index.length);
  for (const c of BAR_COLUMNS) {
    const src = t[c];
    const dst = out[c];
    for (let i = 0; i < index.length; i++) dst[i] = src[index[i]!]!;
  }
  return out;
}

/** Tables one after the other (a copy). */
export function concatBarTables(tables: readonly BarTable[]): BarTable {
  let n = 0;
  for (const t of tables) n += t.length;
  const out = allocBarTable(n);
  let at = 0;
  for (const t of tables) {
    for (const c of BAR_COLUMNS) out[c].set(t[c].subarray(0, t.length), at);
    at += t.length;
  }
  return out;
}

/** True when row i of a equals row j of b in every column (NaN trades equal NaN). */
export function sameBarRow(a: BarTable, i: number, b: BarTable, j: number): boolean {
  for (const c of BAR_COLUMNS) if (!Object.is(a[c][i], b[c][j])) return false;
  return true;
}
