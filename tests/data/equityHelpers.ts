/**
 * Synthetic US equity minute bars for session tests: regular-session bars (09:30-15:59 New York
 * time, optionally pre/post-market 04:00-19:59), without quote volume or trade count, a
 * U-shaped volume profile and a random-walk price. New York time is given as an explicit UTC
 * offset per date (EST -5, EDT -4), independent of the code under test.
 */
import { allocBarTable, type BarTable } from '../../src/data/barTable.js';
import { buildAssetSeries, DEFAULT_DATASET_CONFIG, type AssetSeries } from '../../src/data/buildAssetSeries.js';
import { rng } from '../helpers/random.js';

export const MINUTE_MS = 60_000;

export interface SessionDay {
  /** local date YYYY-MM-DD */
  date: string;
  /** UTC offset of New York on that date, hours (-5 EST, -4 EDT) */
  offset: -5 | -4;
  /** local close (default 16:00) */
  closeMinute?: number;
}

/** UTC ms of a local New York time on a day. */
export function nyTime(day: SessionDay, minuteOfDay: number): number {
  const [y, m, d] = day.date.split('-').map(Number) as [number, number, number];
  return Date.UTC(y, m - 1, d, 0, minuteOfDay) - day.offset * 3_600_000;
}

export const OPEN_MINUTE = 9 * 60 + 30;
export const CLOSE_MINUTE = 16 * 60;

/** U-shaped regular-session volume of minute m after the open (0 .. 389). */
export function uVolume(m: number): number {
  return Math.round(1000 * (1 + 4 * Math.exp(-m / 15) + 3 * Math.exp(-(389 - m) / 10)));
}

export interface EquityBarsOptions {
  seed?: number;
  /** pre-market from 04:00 and post-market to 19:59 (thin volume) */
  extended?: boolean;
  /** volume of regular minute m (default uVolume with noise) */
  volume?: (day: number, m: number) => number;
  /** regular minutes to leave out (no bar), as [day, m] */
  drop?: [number, number][];
}

/** Bars without quote volume or trades on the given days (sorted, one per minute). */
export function equityBars(days: readonly SessionDay[], opts: EquityBarsOptions = {}): BarTable {
  const rand = rng(opts.seed ?? 1);
  const rows: { t: number; o: number; h: number; l: number; c: number; v: number }[] = [];
  const dropped = new Set((opts.drop ?? []).map(([d, m]) => `${d}:${m}`));
  let price = 100;
  days.forEach((day, di) => {
    const close = day.closeMinute ?? CLOSE_MINUTE;
    const from = opts.extended ? 4 * 60 : OPEN_MINUTE;
    const to = opts.extended ? 20 * 60 : close;
    for (let minute = from; minute < to; minute++) {
      const m = minute - OPEN_MINUTE;
      const regular = minute >= OPEN_MINUTE && minute < close;
      if (regular && dropped.has(`${di}:${m}`)) continue;
      const o = price;
      const c = Math.round(price * (1 + (rand() - 0.5) * 0.002) * 100) / 100;
      const h = Math.max(o, c) + Math.round(rand() * 5) / 100;
      const l = Math.min(o, c) - Math.round(rand() * 5) / 100;
      const v = regular ? (opts.volume ? opts.volume(di, m) : Math.round(uVolume(m) * (0.7 + 0.6 * rand()))) : Math.round(20 + 50 * rand());
      rows.push({ t: nyTime(day, minute), o, h, l, c, v });
      price = c;
    }
  });
  const b = allocBarTable(rows.length);
  rows.forEach((r, i) => {
    b.openTimeMs[i] = r.t;
    b.open[i] = r.o;
    b.high[i] = r.h;
    b.low[i] = r.l;
    b.close[i] = r.c;
    b.volume[i] = r.v;
    b.quoteVolume[i] = NaN;
  });
  return b;
}

/** The series of bars on their minute grid. */
export function minuteSeries(bars: BarTable, symbol = 'EQ'): AssetSeries {
  return buildAssetSeries(bars, MINUTE_MS, { ...DEFAULT_DATASET_CONFIG, lookback: 1, horizon: 1, normalizerBars: 1 }, symbol).series;
}

/** Thursday 2024-03-07 .. Tuesday 2024-03-12: New York moves to EDT on Sunday 2024-03-10. */
export const DST_WEEK: SessionDay[] = [
  { date: '2024-03-07', offset: -5 },
  { date: '2024-03-08', offset: -5 },
  { date: '2024-03-11', offset: -4 },
  { date: '2024-03-12', offset: -4 },
];

/** Monday 2025-06-30 .. Monday 2025-07-07: 2025-07-03 closes at 13:00, 2025-07-04 is a holiday. */
export const JULY_2025: SessionDay[] = [
  { date: '2025-06-30', offset: -4 },
  { date: '2025-07-01', offset: -4 },
  { date: '2025-07-02', offset: -4 },
  { date: '2025-07-03', offset: -4, closeMinute: 13 * 60 },
  { date: '2025-07-07', offset: -4 },
];
