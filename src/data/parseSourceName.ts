/**
 * Symbol and interval from a market-data file name:
 * `BTCUSDT.csv.gz` -> {symbol: BTCUSDT}, `BTCUSDT-1h-2024-01.zip` -> {symbol: BTCUSDT, interval: 1h},
 * `ethusdt_1h.csv` -> {symbol: ETHUSDT, interval: 1h}, `V.csv.gz` -> {symbol: V}. The symbol
 * is the leading run of letters and digits (a single letter, or 2-30 characters); an interval token is a later `-`/`_`-separated part like `1h`, `15m`, `1d`.
 */
export interface SourceName {
  symbol: string;
  interval?: string;
}

const DATA_EXTENSIONS = ['.csv.gz', '.csv', '.zip', '.arrow', '.arrows', '.ipc', '.feather', '.gz'] as const;

/** File name without directories and without a known data extension. */
export function stripDataExtension(fileName: string): string {
  const base = fileName.replace(/^.*[\\/]/, '');
  const lower = base.toLowerCase();
  for (const ext of DATA_EXTENSIONS) if (lower.endsWith(ext)) return base.slice(0, base.length - ext.length);
  return base;
}

/** Undefined when the name does not start with a symbol. */
export function parseSourceName(fileName: string): SourceName | undefined {
  const stem = stripDataExtension(fileName);
  const parts = stem.split(/[-_.\s]+/).filter((p) => p.length > 0);
  const head = parts[0];
  // one letter is a symbol too (V, F, T on US exchanges); one digit is not
  if (head === undefined || !/^(?:[A-Za-z]|[A-Za-z0-9]{2,30})$/.test(head)) return undefined;
  const out: SourceName = { symbol: head.toUpperCase() };
  for (const p of parts.slice(1)) {
    if (/^\d+(s|m|h|d|w)$/.test(p)) {
      out.interval = p;
      break;
    }
  }
  return out;
}
