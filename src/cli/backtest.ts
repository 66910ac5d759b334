/**
 * `sigvwap backtest --strategies twap,passiveTwap,histCurve,pov,runs/static.ckpt ... [--orders
 * test-anchors|sessions|FILE] [--size 1%adv] [--out DIR]`: execute the same orders with every
 * strategy through the fill simulator (participation cap, carry, spread, impact, fees; method.md
 * §8) and report TCA. Orders:
 *   test-anchors  the test split's anchors of every asset (crypto; one bar per bin, H bins)
 *   sessions      one full-day order per trading session (equity minute bars; --bin-minutes)
 *   FILE          CSV or JSON rows (asset, start, bins, binBars, side, quantity | sizeAdv)
 * --out DIR receives results.json (parameters, per-strategy TCA and breakdowns), orders.arrow
 * (one row per order and strategy) and report.html (src/report/backtestReport.ts: one
 * self-contained file with the TCA table and inline SVG charts), written atomically under the
 * folder's lock. The TCA table
 * goes to stdout (JSON with --json), progress to stderr.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { SigvwapError } from '../errors.js';
import { DEFAULT_STORE_DIR } from '../data/store.js';
import { loadStoreAssets } from '../data/loadStoreSeries.js';
import type { MarketSeries } from '../data/marketSeries.js';
import { writeResultFiles } from '../data/fileLock.js';
import { ensureDir } from '../data/writeFileAtomic.js';
import { type BacktestOrders, ordersFromAnchors, readOrdersFile, sessionOrders } from '../execution/backtestOrders.js';
import { type OrderMarket, orderBins } from '../execution/orderBins.js';
import { type BacktestResult, runBacktest } from '../execution/runBacktest.js';
import { backtestToMarkdown } from '../execution/formatTca.js';
import { registeredStrategies, resolveStrategy } from '../execution/strategies/index.js';
import { FILL_DEFAULTS, type FillParamsInput } from '../native/simulateFills.js';
import { type CliIo, intOption, listOption, loadDatasetForCli, numberOption, processIo } from './io.js';

export interface BacktestCliOptions extends FillParamsInput {
  store: string;
  strategies: string[];
  orders: string;
  size?: string;
  quantity?: number;
  side: 'buy' | 'sell';
  binMinutes?: number;
  skipOpenMinutes?: number;
  skipCloseMinutes?: number;
  assets?: string[];
  maxOrders?: number;
  lookback?: number;
  horizon?: number;
  workers?: number;
  halfSpreadBps?: string;
  povRate?: number;
  histDays?: number;
  config?: string;
  out?: string;
  json?: boolean;
  progress?: boolean;
}

const PARAM_KEYS = Object.keys(FILL_DEFAULTS) as (keyof FillParamsInput)[];

/** "1%adv", "1%", "0.01adv" -> a share of ADV. */
export function parseSize(text: string): number {
  const m = /^\s*([0-9]*\.?[0-9]+(?:e-?\d+)?)\s*(%)?\s*(adv)?\s*$/i.exec(text);
  const v = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!m || !(v > 0) || (!m[2] && !m[3])) throw new SigvwapError('ERR_ARG', `--size: expected a share of ADV such as 1%adv or 0.01adv, got ${JSON.stringify(text)}`, { argument: 'size', value: text });
  return v;
}

/** Options from --config FILE (JSON), overridden by the command line. */
function withConfig(o: BacktestCliOptions, given: Set<string>): BacktestCliOptions {
  if (!o.config) return o;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(o.config, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new SigvwapError('ERR_ARG', `--config: cannot read ${o.config}: ${(e as Error).message}`, { argument: 'config', file: o.config });
  }
  const merged: Record<string, unknown> = { ...o };
  for (const [k, v] of Object.entries(json)) if (!given.has(k)) merged[k] = v;
  return merged as unknown as BacktestCliOptions;
}

interface Loaded {
  orders: BacktestOrders;
  series: MarketSeries[];
  intervalMs: number;
}

async function loadOrders(o: BacktestCliOptions, io: CliIo): Promise<Loaded> {
  const size = o.quantity !== undefined ? { quantity: o.quantity } : { sizeAdv: o.size !== undefined ? parseSize(o.size) : undefined };
  if (o.orders === 'test-anchors') {
    const dataset = await loadDatasetForCli(o, io, o.progress !== false);
    const wanted = o.assets ? new Set(o.assets) : undefined;
    const test = dataset.anchors('test', 'all');
    const ids: number[] = [];
    for (let i = 0; i < test.index.length; i++) if (!wanted || wanted.has(dataset.assets[test.assetIndex[i]!]!.symbol)) ids.push(test.index[i]!);
    const series = dataset.assets.map((a) => dataset.series(a.index));
    const orders = ordersFromAnchors(dataset, thin(ids, o.maxOrders), { side: o.side, ...size });
    return { orders, series, intervalMs: dataset.assets[0]!.intervalMs };
  }
  const { symbols, series } = loadStoreAssets(o.store, o.assets);
  const intervalMs = series[0] ? series[0].intervalMs : 60_000;
  if (o.orders === 'sessions') {
    const orders = sessionOrders(series, {
      symbols, side: o.side, ...size, binMinutes: o.binMinutes ?? 1, skipOpenMinutes: o.skipOpenMinutes ?? 0, skipCloseMinutes: o.skipCloseMinutes ?? 0,
    });
    if (o.maxOrders !== undefined) return { orders: takeOrders(orders, thin(range(orders.assetIndex.length), o.maxOrders)), series, intervalMs };
    return { orders, series, intervalMs };
  }
  return { orders: readOrdersFile(o.orders, { symbols, series }), series, intervalMs };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** At most `max` items, evenly spaced (every item when max is absent). */
function thin(ids: number[], max?: number): number[] {
  if (max === undefined || ids.length <= max) return ids;
  return Array.from({ length: max }, (_, i) => ids[Math.floor((i * ids.length) / max)]!);
}

function takeOrders(o: BacktestOrders, idx: number[]): BacktestOrders {
  return {
    ...o,
    assetIndex: Int32Array.from(idx, (i) => o.assetIndex[i]!),
    startBar: Int32Array.from(idx, (i) => o.startBar[i]!),
    side: Int8Array.from(idx, (i) => o.side[i]!),
    quantity: Float64Array.from(idx, (i) => o.quantity[i]!),
    adv: Float64Array.from(idx, (i) => o.adv[i]!),
  };
}

export async function runBacktestCli(opts: BacktestCliOptions, io: CliIo = processIo(), given = new Set<string>()): Promise<BacktestResult> {
  const o = withConfig(opts, given);
  const params: FillParamsInput = {};
  for (const k of PARAM_KEYS) if (o[k] !== undefined) (params as Record<string, unknown>)[k] = o[k];
  const { orders, series, intervalMs } = await loadOrders(o, io);
  if (orders.assetIndex.length === 0) throw new SigvwapError('ERR_DATA', `orders: no order to backtest (${orders.skipped.length} skipped)`, { argument: 'orders', skipped: orders.skipped.length });
  const spread = o.halfSpreadBps === undefined ? undefined : o.halfSpreadBps === 'corwin-schultz' ? 'corwin-schultz' as const : numberOption('half-spread-bps')(o.halfSpreadBps);
  const market: OrderMarket = orderBins(series, orders, spread !== undefined ? { halfSpreadBps: spread } : {});
  const strategies = o.strategies.map((name) => resolveStrategy(name, { povRate: o.povRate, histDays: o.histDays, horizon: orders.bins, intervalMs }));
  const tty = o.progress !== false && Boolean(io.stderr.isTTY);
  io.stderr.write(`backtest: ${orders.assetIndex.length} orders × ${orders.bins} bins (${orders.binBars} bar(s) per bin), ${strategies.length} strategies${orders.skipped.length ? `, ${orders.skipped.length} orders skipped` : ''}\n`);
  let result: BacktestResult;
  try {
    result = runBacktest({
      orders, series, market, strategies, params,
      onProgress: ({ strategy, done, total }) => (tty ? io.stderr.write(`\rbacktest ${done}/${total} ${strategy.padEnd(20)}`) : io.stderr.write(`backtest: ${strategy} done (${done}/${total})\n`)),
    });
  } finally {
    for (const s of strategies) s.dispose?.();
  }
  if (tty) io.stderr.write('\r\x1b[K');
  if (o.out) {
    const files = await writeBacktest(result, orders, market, o.out, { params: { ...FILL_DEFAULTS, ...params }, halfSpreadBps: o.halfSpreadBps ?? null, orders: o.orders, size: o.size ?? null });
    io.stderr.write(`backtest: wrote ${files.join(', ')} (${(result.elapsedMs / 1000).toFixed(1)} s)\n`);
  }
  io.stdout.write(o.json ? JSON.stringify(resultJson(result, orders), null, 2) + '\n' : backtestToMarkdown(result));
  return result;
}

/** The JSON of a result: parameters and summaries, no per-order arrays. */
function resultJson(r: BacktestResult, orders: BacktestOrders, settings: Record<string, unknown> = {}): unknown {
  return {
    ...settings,
    orders: r.orders, bins: r.bins, binBars: r.binBars, baseline: r.baseline, skipped: orders.skipped.length, elapsedMs: r.elapsedMs,
    strategies: r.strategies.map((s) => ({ name: s.name, loop: s.loop, passive: s.passive, summary: s.summary, byAsset: s.byAsset, bySize: s.bySize, byHour: s.byHour, elapsedMs: s.elapsedMs })),
  };
}

/** results.json, orders.arrow (one row per order and strategy) and report.html, atomically under the folder's lock. */
export async function writeBacktest(r: BacktestResult, orders: BacktestOrders, market: OrderMarket, dir: string, settings: Record<string, unknown>): Promise<string[]> {
  // fail on an unusable folder before the slow rendering
  ensureDir(dir, 'results folder');
  // rendered before taking the lock (it is the slow part), written inside it with the rest;
  // imported here so that other commands do not load vega at start-up
  const { backtestReportHtml } = await import('../report/backtestReport.js');
  const report = await backtestReportHtml(r, orders, market, { settings });
  const B = r.orders;
  const rows = B * r.strategies.length;
  const col = () => new Float64Array(rows);
  const c = {
    strategy: new Array<string>(rows), asset: new Array<string>(rows), startTimeMs: col(), side: new Int8Array(rows), quantity: col(), filledQty: col(),
    avgPrice: col(), marketVwap: col(), slippageBps: col(), shortfallBps: col(), spreadBps: col(), impactBps: col(), feeBps: col(), completion: col(),
    maxParticipation: col(), paBps: col(), stopped: new Uint8Array(rows),
  };
  r.strategies.forEach((s, k) => {
    for (let b = 0; b < B; b++) {
      const i = k * B + b;
      c.strategy[i] = s.name;
      c.asset[i] = orders.symbols[orders.assetIndex[b]!]!;
      c.startTimeMs[i] = market.startTimeMs[b]!;
      c.side[i] = orders.side[b]!;
      c.quantity[i] = orders.quantity[b]!;
      c.filledQty[i] = s.fills.filledQty[b]!;
      c.avgPrice[i] = s.tca.avgPrice[b]!;
      c.marketVwap[i] = s.fills.marketVwap[b]!;
      c.slippageBps[i] = s.tca.slippageBps[b]!;
      c.shortfallBps[i] = s.tca.shortfallBps[b]!;
      c.spreadBps[i] = s.tca.spreadBps[b]!;
      c.impactBps[i] = s.tca.impactBps[b]!;
      c.feeBps[i] = s.tca.feeBps[b]!;
      c.completion[i] = s.tca.completion[b]!;
      c.maxParticipation[i] = s.tca.maxParticipation[b]!;
      c.paBps[i] = s.tca.paBps[b]!;
      c.stopped[i] = s.tca.stopped[b]!;
    }
  });
  const [json, arrow, html] = await writeResultFiles(dir, {
    'results.json': JSON.stringify(resultJson(r, orders, settings), null, 2) + '\n',
    'orders.arrow': tableToIPC(tableFromArrays(c), 'file'),
    'report.html': report,
  });
  return [json!, arrow!, html!];
}

export function registerBacktestCommand(program: Command): Command {
  const d = FILL_DEFAULTS;
  const cmd = program
    .command('backtest')
    .description('execute orders with strategies through the fill simulator (cap, carry, spread, impact, fees) and report TCA')
    .option('--strategies <list>', `strategies, comma-separated: ${registeredStrategies().map((e) => e.name).join(', ')}, allocators, checkpoint paths or shipped models pretrained:<name>`, listOption, ['twap', 'passiveTwap', 'histCurve', 'pov'])
    .option('--store <dir>', 'bar store', DEFAULT_STORE_DIR)
    .option('--orders <what>', 'test-anchors (crypto test split), sessions (one full-day order per equity session) or a CSV/JSON file', 'test-anchors')
    .option('--size <share>', 'order size as a share of ADV, e.g. 1%adv (default 1%adv)')
    .option('--quantity <q>', 'order size in base units (instead of --size)', numberOption('quantity'))
    .addOption(new Option('--side <side>', 'order side').choices(['buy', 'sell']).default('buy'))
    .option('--bin-minutes <n>', 'sessions: minutes per bin (1 = 390 bins, 30 = 13 bins)', intOption('bin-minutes', 1))
    .option('--skip-open-minutes <n>', 'sessions: start this many minutes after the open', intOption('skip-open-minutes', 0))
    .option('--skip-close-minutes <n>', 'sessions: end this many minutes before the close', intOption('skip-close-minutes', 0))
    .option('--assets <list>', 'symbols (default: all)', listOption)
    .option('--max-orders <n>', 'at most this many orders, evenly spaced', intOption('max-orders', 1))
    .option('--lookback <n>', 'test-anchors: dataset lookback L (default 60)', intOption('lookback', 1))
    .option('--horizon <n>', 'test-anchors: bins per order H (default 12)', intOption('horizon', 2))
    .option('--workers <n>', 'worker threads that build the asset series (0 = main thread)', intOption('workers', 0))
    .option('--max-participation <share>', `participation cap ρ (default ${d.maxParticipation})`, numberOption('max-participation'))
    .option('--impact-eta <x>', `temporary impact η (default ${d.impactEta})`, numberOption('impact-eta'))
    .option('--impact-beta <x>', `temporary impact exponent β (default ${d.impactBeta})`, numberOption('impact-beta'))
    .option('--permanent-gamma <x>', `permanent impact γ (default ${d.permanentGamma})`, numberOption('permanent-gamma'))
    .option('--taker-fee-bps <x>', `taker fee (default ${d.takerFeeBps})`, numberOption('taker-fee-bps'))
    .option('--maker-fee-bps <x>', `maker fee (default ${d.makerFeeBps})`, numberOption('maker-fee-bps'))
    .addOption(new Option('--final-bin <rule>', `last bin: sweep the rest or leave it unfilled (default ${d.finalBin})`).choices(['sweep', 'leave']))
    .option('--stop-slippage-bps <x>', 'emergency stop when running slippage exceeds this (default off)', numberOption('stop-slippage-bps'))
    .option('--passive-fill-share <x>', `share of the cap a passive order fills (default ${d.passiveFillShare})`, numberOption('passive-fill-share'))
    .option('--half-spread-bps <x>', 'half spread in bps, or corwin-schultz (estimated from the bars before each order; default 1)')
    .option('--pov-rate <share>', 'pov: share of the previous bin\'s volume (default 0.1)', numberOption('pov-rate'))
    .option('--hist-days <n>', 'histCurve: days of history (default 20)', intOption('hist-days', 1))
    .option('--config <file>', 'JSON file with any of these options (the command line wins)')
    .option('--out <dir>', 'write results.json, orders.arrow and report.html here')
    .option('--json', 'print the results as JSON')
    .option('--no-progress', 'no progress output');
  return cmd.action(async (opts: BacktestCliOptions) => {
    const given = new Set(cmd.options.map((op) => op.attributeName()).filter((k) => cmd.getOptionValueSource(k) === 'cli'));
    await runBacktestCli(opts, processIo(), given);
  });
}
