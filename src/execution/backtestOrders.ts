/**
 * Orders of an execution backtest (issue F): which asset, from which bar, over how many bins of
 * how many bars, which side and how much.
 *
 *   BacktestOrders   order b trades `quantity[b]` base units of asset `assetIndex[b]` on side
 *                    `side[b]` (+1 buy, -1 sell) over bins t = 0 .. bins-1; bin t covers the
 *                    grid bars startBar[b] + t·binBars .. startBar[b] + (t+1)·binBars - 1.
 *                    `adv[b]` is the average daily volume the size is measured against (NaN
 *                    when there is no history); quantity / adv is the order's size in ADV.
 * Builders:
 *   ordersFromAnchors  dataset anchors (crypto test anchors): start = the anchor's bar,
 *                      bins = H, binBars = 1 by default. ADV: the volume of the advDays·P bars
 *                      before the order (P bars per day; fewer at the start of the series)
 *                      scaled to one day, ADV = Σ V · P / n: rolling 24-hour days, causal.
 *   sessionOrders      minute equity data: one order per regular trading session (09:30-16:00
 *                      America/New_York; detection in src/data/sessions.ts: the exchange clock,
 *                      not gaps), from the open (+ skipOpenMinutes) to the close
 *                      (- skipCloseMinutes), so it never spans the overnight gap; 390 bins of
 *                      one minute, or 13 of 30 minutes. ADV: the mean regular-session volume
 *                      of the advDays sessions before the order's session.
 *                      A session gives no order (it is listed in `skipped`, with the reason)
 *                      when it closes early (`earlyClose`: a shorter day does not fit a batch of
 *                      full days), when its window is not inside the data (`beforeData`,
 *                      `afterData`), when it starts at the series' first bar (`noBarBefore`:
 *                      no arrival price), or when the size is a share of ADV and no earlier
 *                      session has volume (`noAdv`).
 *   readOrdersFile     a CSV (header) or JSON file of rows (asset, start, bins, binBars, side,
 *                      quantity | sizeAdv); ERR_ARG naming the row for an unknown asset, a start
 *                      off the bar grid or before the data, an order running past the data, or
 *                      bins that differ from the first row's (one batch has one T).
 * Size: `sizeAdv` (a share of ADV, 0.01 = 1%: the default) or `quantity` (base units), not both.
 * Layout: Int32Array/Int8Array/Float64Array [B]. Cost: O(B) plus O(bars) per asset for ADV.
 */
import { readFileSync } from 'node:fs';
import { parse as parseCsv } from 'csv-parse/sync';
import { SigvwapError } from '../errors.js';
import type { Dataset } from '../data/buildDataset.js';
import { slotsPerDay, type MarketSeries } from '../data/marketSeries.js';
import { localDateOf, resolveSessionOptions, tradingSessions, type SessionOptions, type TradingSession } from '../data/sessions.js';

export interface BacktestOrders {
  /** symbols by asset index */
  symbols: readonly string[];
  /** asset of each order [B] */
  assetIndex: Int32Array;
  /** first bar of each order on its asset's grid [B] */
  startBar: Int32Array;
  /** T: bins per order */
  bins: number;
  /** bars per bin */
  binBars: number;
  /** +1 buy, -1 sell [B] */
  side: Int8Array;
  /** base units [B] */
  quantity: Float64Array;
  /** average daily volume (base units) the size is measured against [B]; NaN without history */
  adv: Float64Array;
  /** sessions or entries that gave no order, with the reason (sessionOrders) */
  skipped: SkippedOrder[];
}

export const SKIP_REASONS = ['earlyClose', 'beforeData', 'afterData', 'noBarBefore', 'noAdv'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface SkippedOrder {
  asset: string;
  /** local date of the session (sessionOrders) */
  date: string;
  startMs: number;
  reason: SkipReason;
}

export type SideOption = 'buy' | 'sell' | 1 | -1;

/** Size and side shared by the builders. */
export interface OrderSizeOptions {
  side?: SideOption;
  /** order size as a share of ADV (0.01 = 1% ADV; the default when `quantity` is not given) */
  sizeAdv?: number;
  /** order size in base units (instead of sizeAdv) */
  quantity?: number;
  /** days of the ADV (default 20) */
  advDays?: number;
}

export const DEFAULT_SIZE_ADV = 0.01;
export const DEFAULT_ADV_DAYS = 20;

function argError(argument: string, message: string, data: Record<string, unknown> = {}): SigvwapError {
  return new SigvwapError('ERR_ARG', `${argument}: ${message}`, { argument, ...data });
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw argError(name, `expected a positive integer, got ${v}`, { value: v });
  return v;
}

function nonNegativeInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw argError(name, `expected an integer >= 0, got ${v}`, { value: v });
  return v;
}

/** +1 / -1 from 'buy' | 'sell' | 1 | -1 (also '+1', '-1', case-insensitive); undefined otherwise. */
export function parseSide(v: unknown): 1 | -1 | undefined {
  if (v === 1 || v === -1) return v;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  if (s === 'buy' || s === 'b' || s === '1' || s === '+1') return 1;
  if (s === 'sell' || s === 's' || s === '-1') return -1;
  return undefined;
}

interface Sizing {
  side: 1 | -1;
  sizeAdv: number | undefined;
  quantity: number | undefined;
  advDays: number;
}

function resolveSizing(o: OrderSizeOptions): Sizing {
  const side = parseSide(o.side ?? 'buy');
  if (side === undefined) throw argError('side', `expected buy|sell|1|-1, got ${JSON.stringify(o.side)}`, { value: o.side });
  if (o.sizeAdv !== undefined && o.quantity !== undefined) throw argError('quantity', 'give sizeAdv or quantity, not both', { value: o.quantity });
  if (o.quantity !== undefined && !(o.quantity > 0 && Number.isFinite(o.quantity))) throw argError('quantity', `expected a positive number of base units, got ${o.quantity}`, { value: o.quantity });
  const sizeAdv = o.quantity === undefined ? (o.sizeAdv ?? DEFAULT_SIZE_ADV) : undefined;
  if (sizeAdv !== undefined && !(sizeAdv > 0 && Number.isFinite(sizeAdv))) throw argError('sizeAdv', `expected a positive share of ADV (0.01 = 1%), got ${sizeAdv}`, { value: sizeAdv });
  return { side, sizeAdv, quantity: o.quantity, advDays: positiveInt('advDays', o.advDays ?? DEFAULT_ADV_DAYS) };
}

const cumCache = new WeakMap<MarketSeries, Float64Array>();

/** cum[k] = Σ_{j<k} V_j (missing bars count 0), cached per series. */
function cumVolume(s: MarketSeries): Float64Array {
  let c = cumCache.get(s);
  if (c && c.length === s.bars + 1) return c;
  c = new Float64Array(s.bars + 1);
  for (let k = 0; k < s.bars; k++) c[k + 1] = c[k]! + (s.volume[k]! > 0 ? s.volume[k]! : 0);
  cumCache.set(s, c);
  return c;
}

/**
 * Rolling ADV before bar r: the volume of the advDays·P bars r-n .. r-1 (n = min(advDays·P, r),
 * P = bars per day) scaled to one day, Σ V · P / n; NaN when r = 0.
 */
export function rollingAdv(s: MarketSeries, r: number, advDays = DEFAULT_ADV_DAYS): number {
  const P = slotsPerDay(s.intervalMs);
  const n = Math.min(advDays * P, r);
  if (n <= 0) return NaN;
  const c = cumVolume(s);
  return ((c[r]! - c[r - n]!) * P) / n;
}

/**
 * Session ADV of session i: the mean volume over the regular window [openBar, closeBar) of the
 * up to advDays sessions before it whose window lies inside the data; NaN when there is none.
 */
export function sessionAdv(s: MarketSeries, sessions: readonly TradingSession[], i: number, advDays = DEFAULT_ADV_DAYS): number {
  const c = cumVolume(s);
  let sum = 0;
  let n = 0;
  for (let j = i - 1; j >= 0 && n < advDays; j--) {
    const x = sessions[j]!;
    if (x.openBar < 0 || x.closeBar > s.bars) continue;
    sum += c[x.closeBar]! - c[x.openBar]!;
    n++;
  }
  return n > 0 ? sum / n : NaN;
}

/** ERR_ARG naming the order when bins run past the series. */
function checkInside(s: MarketSeries, r: number, span: number, what: string, data: Record<string, unknown>): void {
  if (r < 0 || r + span > s.bars) {
    throw new SigvwapError('ERR_ARG', `${what}: bars ${r}..${r + span - 1} are not all in the data (${s.bars} bars, last ${new Date(s.openTimeMs[s.bars - 1]!).toISOString()})`, { argument: 'orders', bar: r, bars: s.bars, ...data });
  }
}

export interface AnchorOrderOptions extends OrderSizeOptions {
  /** T (default: the dataset's horizon H) */
  bins?: number;
  /** bars per bin (default 1) */
  binBars?: number;
}

/** Orders at dataset anchors (e.g. `dataset.anchors('test').index`); ERR_ARG naming the anchor when an order runs past the data or has no ADV. */
export function ordersFromAnchors(dataset: Dataset, anchorIds: Int32Array | readonly number[], options: AnchorOrderOptions = {}): BacktestOrders {
  const sizing = resolveSizing(options);
  const bins = positiveInt('bins', options.bins ?? dataset.horizon);
  const binBars = positiveInt('binBars', options.binBars ?? 1);
  const B = anchorIds.length;
  const out = allocOrders(dataset.assets.map((a) => a.symbol), B, bins, binBars);
  for (let i = 0; i < B; i++) {
    const a = anchorIds[i]!;
    if (!Number.isInteger(a) || a < 0 || a >= dataset.anchorCount) {
      throw argError('anchorIds', `anchorIds[${i}]: expected an anchor id in 0..${dataset.anchorCount - 1}, got ${a}`, { index: i, value: a });
    }
    const asset = dataset.anchorAsset[a]!;
    const r = dataset.anchorBar[a]!;
    const s = dataset.series(asset);
    checkInside(s, r, bins * binBars, `order ${i} (anchor ${a}, ${dataset.assets[asset]!.symbol})`, { index: i, anchor: a });
    const adv = rollingAdv(s, r, sizing.advDays);
    out.assetIndex[i] = asset;
    out.startBar[i] = r;
    out.side[i] = sizing.side;
    out.adv[i] = adv;
    if (sizing.sizeAdv !== undefined) {
      if (!(adv > 0)) throw argError('sizeAdv', `order ${i} (anchor ${a}, ${dataset.assets[asset]!.symbol}): no volume in the ${sizing.advDays} days before it, so a size in ADV is undefined; give quantity`, { index: i, anchor: a });
      out.quantity[i] = sizing.sizeAdv * adv;
    } else out.quantity[i] = sizing.quantity!;
  }
  return out;
}

function allocOrders(symbols: readonly string[], B: number, bins: number, binBars: number): BacktestOrders {
  return {
    symbols, assetIndex: new Int32Array(B), startBar: new Int32Array(B), bins, binBars,
    side: new Int8Array(B), quantity: new Float64Array(B), adv: new Float64Array(B), skipped: [],
  };
}

export interface SessionOrderOptions extends OrderSizeOptions, SessionOptions {
  /** minutes per bin (default 1: 390 bins a day; 30: 13 bins) */
  binMinutes?: number;
  /** minutes left out after the open and before the close (default 0; e.g. 15) */
  skipOpenMinutes?: number;
  skipCloseMinutes?: number;
  /** symbols by asset index (default asset0, asset1, ...) */
  symbols?: readonly string[];
}

/** One full-day order per regular session of each series (see the header). */
export function sessionOrders(series: MarketSeries | readonly MarketSeries[], options: SessionOrderOptions = {}): BacktestOrders {
  const list: readonly MarketSeries[] = Array.isArray(series) ? series : [series as MarketSeries];
  const symbols = options.symbols ?? list.map((_, i) => `asset${i}`);
  if (symbols.length !== list.length) throw argError('symbols', `expected ${list.length} symbols (one per series), got ${symbols.length}`, { value: symbols.length });
  const sizing = resolveSizing(options);
  const sess = resolveSessionOptions(options);
  const binMinutes = positiveInt('binMinutes', options.binMinutes ?? 1);
  const skipOpen = nonNegativeInt('skipOpenMinutes', options.skipOpenMinutes ?? 0);
  const skipClose = nonNegativeInt('skipCloseMinutes', options.skipCloseMinutes ?? 0);
  const minutes = sess.closeMinute - sess.openMinute - skipOpen - skipClose;
  if (!(minutes > 0)) throw argError('skipOpenMinutes', `skipping ${skipOpen} + ${skipClose} minutes leaves nothing of a ${sess.closeMinute - sess.openMinute}-minute session`, { value: skipOpen });
  if (minutes % binMinutes !== 0) throw argError('binMinutes', `${binMinutes}-minute bins do not divide the ${minutes} minutes traded per session`, { value: binMinutes });
  const bins = minutes / binMinutes;
  let intervalMs: number | undefined;
  for (const s of list) {
    if (intervalMs !== undefined && s.intervalMs !== intervalMs) throw argError('series', `every series must have one bar interval; got ${intervalMs} and ${s.intervalMs} ms`, { value: s.intervalMs });
    intervalMs = s.intervalMs;
  }
  const step = intervalMs ?? 60_000;
  const perBar = (m: number, name: string): number => {
    const k = (m * 60_000) / step;
    if (!Number.isInteger(k)) throw argError(name, `${m} minutes is not a whole number of ${step / 60_000}-minute bars`, { value: m });
    return k;
  };
  const binBars = perBar(binMinutes, 'binMinutes');
  const skipBars = perBar(skipOpen, 'skipOpenMinutes');
  const span = bins * binBars;

  const rows: { asset: number; r: number; adv: number; quantity: number }[] = [];
  const skipped: SkippedOrder[] = [];
  list.forEach((s, asset) => {
    const sessions = tradingSessions(s, options);
    sessions.forEach((x, i) => {
      const r = x.openBar + skipBars;
      const skip = (reason: SkipReason) => skipped.push({ asset: symbols[asset]!, date: x.date, startMs: x.openMs + skipOpen * 60_000, reason });
      if (x.earlyClose) return skip('earlyClose');
      if (r < 0) return skip('beforeData');
      if (r + span > s.bars) return skip('afterData');
      if (r === 0) return skip('noBarBefore');
      const adv = sessionAdv(s, sessions, i, sizing.advDays);
      if (sizing.sizeAdv !== undefined && !(adv > 0)) return skip('noAdv');
      rows.push({ asset, r, adv, quantity: sizing.sizeAdv !== undefined ? sizing.sizeAdv * adv : sizing.quantity! });
    });
  });
  const out = allocOrders(symbols, rows.length, bins, binBars);
  rows.forEach((row, b) => {
    out.assetIndex[b] = row.asset;
    out.startBar[b] = row.r;
    out.side[b] = sizing.side;
    out.quantity[b] = row.quantity;
    out.adv[b] = row.adv;
  });
  out.skipped = skipped;
  return out;
}

/** The market an orders file is resolved against: series and symbols by asset index. */
export interface OrdersMarket {
  symbols: readonly string[];
  series: readonly MarketSeries[];
}

export interface OrdersFileOptions extends SessionOptions {
  /** bins and binBars for rows that leave them out (default: required in the file; binBars 1) */
  bins?: number;
  binBars?: number;
  /** days of the ADV (default 20) */
  advDays?: number;
  /**
   * ADV of a row given in sizeAdv: 'rolling' (default: rolling 24-hour days before the order,
   * as ordersFromAnchors) or 'sessions' (mean regular-session volume of the sessions before
   * the order's local date, as sessionOrders)
   */
  adv?: 'rolling' | 'sessions';
}

/** One row of an orders file, as read (before it is resolved against the data). */
export interface OrderRow {
  asset: string;
  /** ISO-8601 with a zone (Z or ±hh:mm) or epoch ms */
  start: string | number;
  bins?: number | string;
  binBars?: number | string;
  side?: string | number;
  quantity?: number | string;
  sizeAdv?: number | string;
}

/** Rows of an orders file: JSON (an array, or { orders: [...] }) or CSV with a header line. */
export function parseOrderRows(text: string, file: string): { rows: OrderRow[]; lineOf: (i: number) => number | undefined } {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new SigvwapError('ERR_ARG', `orders: ${file} is not valid JSON: ${(err as Error).message}`, { argument: 'orders', file }, { cause: err });
    }
    const rows = Array.isArray(json) ? json : (json as { orders?: unknown }).orders;
    if (!Array.isArray(rows)) throw new SigvwapError('ERR_ARG', `orders: ${file}: expected an array of orders or { "orders": [...] }`, { argument: 'orders', file });
    rows.forEach((r, i) => {
      if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new SigvwapError('ERR_ARG', `orders: ${file}, order ${i}: expected an object`, { argument: 'orders', file, index: i });
    });
    return { rows: rows as OrderRow[], lineOf: () => undefined };
  }
  let records: Record<string, string>[];
  try {
    records = parseCsv(text, { columns: (h: string[]) => h.map((c) => c.trim()), skip_empty_lines: true, trim: true }) as Record<string, string>[];
  } catch (err) {
    throw new SigvwapError('ERR_ARG', `orders: ${file} is not a readable CSV: ${(err as Error).message}`, { argument: 'orders', file }, { cause: err });
  }
  const rows = records.map((r) => {
    const row: Record<string, string> = {};
    for (const [k, v] of Object.entries(r)) if (v !== '') row[k] = v;
    return row as unknown as OrderRow;
  });
  // line numbers of the data rows (header = line 1; blank lines are skipped by the parser)
  const lines: number[] = [];
  text.split(/\r?\n/).forEach((l, i) => {
    if (i > 0 && l.trim() !== '') lines.push(i + 1);
  });
  return { rows, lineOf: (i) => lines[i] };
}

/** Read an orders file and resolve it against the data (see the header). */
export function readOrdersFile(path: string, market: OrdersMarket, options: OrdersFileOptions = {}): BacktestOrders {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new SigvwapError('ERR_IO', `cannot read orders file ${path}: ${e.code ?? e.message}`, { file: path, errno: e.code }, { cause: err });
  }
  const { rows, lineOf } = parseOrderRows(text, path);
  return resolveOrderRows(rows, market, options, path, lineOf);
}

/** Resolve order rows against the data; errors name the file, the order index and (CSV) the line. */
export function resolveOrderRows(
  rows: readonly OrderRow[], market: OrdersMarket, options: OrdersFileOptions = {}, file = 'orders', lineOf: (i: number) => number | undefined = () => undefined,
): BacktestOrders {
  if (market.symbols.length !== market.series.length) throw argError('market', `expected one symbol per series, got ${market.symbols.length} symbols and ${market.series.length} series`);
  if (rows.length === 0) throw new SigvwapError('ERR_ARG', `orders: ${file} holds no order`, { argument: 'orders', file });
  const advDays = positiveInt('advDays', options.advDays ?? DEFAULT_ADV_DAYS);
  const advMode = options.adv ?? 'rolling';
  if (advMode !== 'rolling' && advMode !== 'sessions') throw argError('adv', `expected rolling|sessions, got ${JSON.stringify(advMode)}`, { value: advMode });
  if (advMode === 'sessions') resolveSessionOptions(options);
  const bySymbol = new Map(market.symbols.map((s, i) => [s, i]));
  const B = rows.length;
  let bins = 0;
  let binBars = 0;
  const out = allocOrders(market.symbols, B, 1, 1);
  for (let i = 0; i < B; i++) {
    const row = rows[i]!;
    const line = lineOf(i);
    const where = `${file}, order ${i}${line !== undefined ? ` (line ${line})` : ''}`;
    const fail = (message: string, extra: Record<string, unknown> = {}): never => {
      throw new SigvwapError('ERR_ARG', `orders: ${where}: ${message}`, { argument: 'orders', file, index: i, ...(line !== undefined ? { line } : {}), ...extra });
    };
    const asset = bySymbol.get(String(row.asset ?? ''));
    if (asset === undefined) {
      const held = market.symbols.length <= 12 ? ` (the data hold ${market.symbols.join(', ') || 'no asset'})` : '';
      fail(`asset ${JSON.stringify(row.asset ?? '')} is not in the data${held}`, { asset: row.asset });
    }
    const s = market.series[asset!]!;
    const num = (v: unknown, name: string): number | undefined => {
      if (v === undefined || v === null || v === '') return undefined;
      const x = typeof v === 'number' ? v : Number(String(v).trim());
      if (!Number.isFinite(x)) fail(`${name}: not a number: ${JSON.stringify(v)}`, { field: name });
      return x;
    };
    const rowBins = num(row.bins, 'bins') ?? options.bins;
    const rowBinBars = num(row.binBars, 'binBars') ?? options.binBars ?? 1;
    if (rowBins === undefined || !Number.isInteger(rowBins) || rowBins < 1) fail(`bins: expected a positive integer, got ${JSON.stringify(row.bins ?? null)}`, { field: 'bins' });
    if (!Number.isInteger(rowBinBars) || rowBinBars < 1) fail(`binBars: expected a positive integer, got ${JSON.stringify(row.binBars)}`, { field: 'binBars' });
    if (i === 0) {
      bins = rowBins!;
      binBars = rowBinBars;
    } else if (rowBins !== bins || rowBinBars !== binBars) {
      fail(`${rowBins} bins of ${rowBinBars} bars, but order 0 has ${bins} of ${binBars} (one batch has one shape; split the file)`, { field: 'bins' });
    }
    const startMs = parseStart(row.start);
    if (startMs === undefined) fail(`start: expected an ISO-8601 time with a zone (e.g. 2019-02-12T14:30:00Z) or epoch ms, got ${JSON.stringify(row.start ?? null)}`, { field: 'start' });
    const k = (startMs! - s.openTimeMs[0]!) / s.intervalMs;
    if (!Number.isInteger(k)) fail(`start ${new Date(startMs!).toISOString()} is not a bar open time of ${market.symbols[asset!]} (${s.intervalMs} ms bars from ${new Date(s.openTimeMs[0]!).toISOString()})`, { field: 'start' });
    if (k < 0) fail(`start ${new Date(startMs!).toISOString()} is before the data of ${market.symbols[asset!]} (first bar ${new Date(s.openTimeMs[0]!).toISOString()})`, { field: 'start' });
    if (k + bins * binBars > s.bars) {
      fail(`runs past the data of ${market.symbols[asset!]}: ${bins} bins of ${binBars} bars from ${new Date(startMs!).toISOString()} end at ${new Date(startMs! + bins * binBars * s.intervalMs).toISOString()}, the last bar opens at ${new Date(s.openTimeMs[s.bars - 1]!).toISOString()}`, { field: 'start' });
    }
    const side = parseSide(row.side ?? 'buy');
    if (side === undefined) fail(`side: expected buy|sell|1|-1, got ${JSON.stringify(row.side)}`, { field: 'side' });
    const quantity = num(row.quantity, 'quantity');
    const sizeAdv = parseShare(row.sizeAdv, fail);
    if ((quantity === undefined) === (sizeAdv === undefined)) fail('give exactly one of quantity (base units) and sizeAdv (a share of ADV)', { field: 'quantity' });
    if (quantity !== undefined && !(quantity > 0)) fail(`quantity: expected a positive number, got ${quantity}`, { field: 'quantity' });
    let adv: number;
    if (advMode === 'rolling') adv = rollingAdv(s, k, advDays);
    else {
      const sessions = tradingSessions(s, options);
      const date = localDateOf(startMs!, options.timeZone);
      let idx = sessions.findIndex((x) => x.date >= date);
      if (idx < 0) idx = sessions.length;
      adv = sessionAdv(s, sessions, idx, advDays);
    }
    if (sizeAdv !== undefined && !(adv > 0)) fail(`sizeAdv: no volume in the ${advDays} days before the order, so a size in ADV is undefined; give quantity`, { field: 'sizeAdv' });
    out.assetIndex[i] = asset!;
    out.startBar[i] = k;
    out.side[i] = side!;
    out.adv[i] = adv;
    out.quantity[i] = quantity ?? sizeAdv! * adv;
  }
  out.bins = bins;
  out.binBars = binBars;
  return out;
}

/** Epoch ms of an ISO-8601 time with a zone designator, or of epoch ms; undefined otherwise. */
function parseStart(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^\d{10,}$/.test(s)) return Number(s);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(s)) return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : undefined;
}

/** A share of ADV: 0.01, or "1%"; undefined when absent. */
function parseShare(v: unknown, fail: (message: string, extra?: Record<string, unknown>) => never): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const text = String(v).trim();
  const pct = text.endsWith('%');
  const x = Number(pct ? text.slice(0, -1) : text);
  if (!Number.isFinite(x) || !(x > 0)) fail(`sizeAdv: expected a positive share of ADV (0.01 or 1%), got ${JSON.stringify(v)}`, { field: 'sizeAdv' });
  return pct ? x / 100 : x;
}

/** ERR_ARG naming the order when an order's bins are not all in its series (for consumers of orders built elsewhere). */
export function checkBacktestOrders(orders: BacktestOrders, series: readonly MarketSeries[]): void {
  const B = orders.assetIndex.length;
  positiveInt('bins', orders.bins);
  positiveInt('binBars', orders.binBars);
  for (const [name, a] of [['startBar', orders.startBar], ['side', orders.side], ['quantity', orders.quantity]] as const) {
    if (a.length !== B) throw new SigvwapError('ERR_SHAPE', `${name}: expected ${B} values (one per order), got ${a.length}`, { argument: name, expected: B, actual: a.length });
  }
  const span = orders.bins * orders.binBars;
  for (let b = 0; b < B; b++) {
    const s = series[orders.assetIndex[b]!];
    if (!s) throw new SigvwapError('ERR_ARG', `orders: order ${b}: asset index ${orders.assetIndex[b]} has no series`, { argument: 'orders', index: b });
    checkInside(s, orders.startBar[b]!, span, `orders: order ${b} (${orders.symbols[orders.assetIndex[b]!] ?? orders.assetIndex[b]})`, { index: b });
  }
}
