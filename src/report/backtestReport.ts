/**
 * The backtest report: ONE self-contained HTML file (inline CSS, inline SVG charts, no script,
 * no font or image to fetch; a Content-Security-Policy of default-src 'none' proves it) that a
 * TCA desk can open from disk or attach to a mail.
 *
 *   header     title, the run (orders × bins, strategies, baseline, time) and the settings
 *   table      the TCA summary, the columns of src/execution/formatTca.ts; per-asset mean
 *              slippage, and the size-bucket and start-hour breakdowns folded in <details>
 *   charts     (a) market volume curve vs each strategy's schedule, (b) cumulative target vs
 *              filled for one order, (c) slippage distribution, (d) per-asset improvement over
 *              TWAP, (e) impact cost vs order size, (f) completion and participation
 * Charts are Vega-Lite specs rendered to SVG in Node (renderVega.ts) from aggregates
 * (backtestData.ts): the file size does not grow with the number of orders. Every string that
 * enters the HTML goes through `escapeHtml`; SVG text is escaped by Vega's serializer.
 */
import type { BacktestOrders } from '../execution/backtestOrders.js';
import type { OrderMarket } from '../execution/orderBins.js';
import type { BacktestResult } from '../execution/runBacktest.js';
import type { TcaSummary } from '../execution/tca.js';
import {
  ALL_ASSETS, MARKET_SERIES, MAX_ASSETS, assetImprovement, chooseOrder, impactBySize, orderPath, participation, slippageStats, volumeCurve,
} from './backtestData.js';
import { renderVegaLiteSvg, type VegaLiteSpec, type WarningSink } from './renderVega.js';

export interface BacktestReportOptions {
  /** page title (default "sigvwap backtest") */
  title?: string;
  /** the order drawn in chart (b) (default: the largest TWAP completion shortfall, else the median TWAP slippage) */
  orderIndex?: number;
  /** parameters shown in the header (nested objects are flattened: params.maxParticipation) */
  settings?: Record<string, unknown>;
  /** vega-lite / vega warnings (default: console.warn) */
  onWarning?: WarningSink;
}

export const CHART_IDS = ['volume-curve', 'order-path', 'slippage', 'asset-improvement', 'impact-size', 'participation'] as const;

const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d', '#ff9da6', '#bab0ac'];
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const W = 470;

const CONFIG = {
  font: FONT,
  background: 'white',
  padding: 8,
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', titleColor: '#222', labelColor: '#333', gridColor: '#ececec', domainColor: '#888', tickColor: '#888' },
  legend: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'bold', labelLimit: 200, symbolStrokeWidth: 2, symbolSize: 220, columnPadding: 14 },
  header: { labelFontSize: 11, titleFontSize: 12 },
};

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const num = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const pct = (x: number, d = 1) => (Number.isFinite(x) ? `${(100 * x).toFixed(d)}%` : '–');
const utc = (ms: number) => (Number.isFinite(ms) ? `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '–');

function strategyColor(names: readonly string[]) {
  return { domain: [...names], range: names.map((_, i) => PALETTE[i % PALETTE.length]!) };
}

function spec(body: VegaLiteSpec): VegaLiteSpec {
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, ...body };
}

/** A chart that says why there is nothing to draw (still an SVG with a frame). */
function messageSpec(text: string): VegaLiteSpec {
  return spec({
    width: W, height: 80, data: { values: [{ text }] },
    layer: [
      { mark: { type: 'rect', fill: '#fafafa', stroke: '#ddd' }, encoding: { x: { datum: 0, type: 'quantitative', scale: { domain: [0, 1] }, axis: null }, x2: { datum: 1 }, y: { datum: 0, type: 'quantitative', scale: { domain: [0, 1] }, axis: null }, y2: { datum: 1 } } },
      { mark: { type: 'text', fontSize: 13, color: '#555' }, encoding: { text: { field: 'text' } } },
    ],
  });
}

// (a) ------------------------------------------------------------------------------------------
function volumeCurveSpec(r: BacktestResult, market: OrderMarket, names: string[]): { spec: VegaLiteSpec; clipped: string } {
  const rows = volumeCurve(r, market);
  const marketRows = rows.filter((x) => x.series === MARKET_SERIES);
  const T = r.bins;
  // a front-loaded strategy (immediate: 100% in bin 1) would flatten every curve: the axis stops
  // at 3× the largest market share or 3 bins' worth of TWAP, and the note names what goes above
  const marketMax = Math.max(0, ...marketRows.map((x) => x.pct));
  const dataMax = Math.max(0, ...rows.map((x) => x.pct));
  const top = Math.min(dataMax, Math.max(3 * marketMax, 300 / T));
  const above = new Map<string, number>();
  for (const row of rows) if (row.pct > top * 1.0001) above.set(row.series, Math.max(above.get(row.series) ?? 0, row.pct));
  const clipped = [...above].map(([n, v]) => `${n} (up to ${v.toFixed(1)}%)`).join(', ');
  const x = { field: 'bin', type: 'quantitative', title: `bin of the order (1 … ${T}; ${r.binBars} bar${r.binBars === 1 ? '' : 's'} per bin)`, scale: { domain: [1, T], nice: false }, axis: { tickMinStep: 1, format: 'd' } };
  const y = { field: 'pct', type: 'quantitative', title: 'share per bin (% of the order; market: % of volume)', scale: { domain: [0, top > 0 ? top : 1], nice: false } };
  const colors = { domain: [MARKET_SERIES, ...names], range: ['#222', ...strategyColor(names).range] };
  const dashes = { domain: colors.domain, range: [[5, 3], ...names.map(() => [1, 0])] };
  const legend = { title: null, orient: 'bottom', direction: 'horizontal', columns: 4, symbolType: 'stroke' };
  const seriesEnc = {
    color: { field: 'series', type: 'nominal', scale: colors, sort: colors.domain, legend },
    strokeDash: { field: 'series', type: 'nominal', scale: dashes, sort: colors.domain, legend },
  };
  const lines = clipAbove(rows.filter((row) => row.series !== MARKET_SERIES), top);
  const layer: VegaLiteSpec[] = [
    { data: { values: marketRows }, mark: { type: 'area', color: '#999', opacity: 0.22 }, encoding: { x, y } },
    { data: { values: lines }, mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y, detail: { field: 'seg' }, ...seriesEnc } },
  ];
  if (T <= 48) layer.push({ data: { values: lines.filter((row) => row.orig) }, mark: { type: 'point', filled: true, size: 20 }, encoding: { x, y, color: seriesEnc.color } });
  layer.push({ data: { values: marketRows }, mark: { type: 'line', strokeWidth: 2.2 }, encoding: { x, y, ...seriesEnc } });
  const spec_ = spec({ width: W, height: 260, layer });
  return { spec: spec_, clipped };
}

/**
 * Polylines cut at y = top: points above are dropped, a crossing adds a point on the edge, and
 * each piece below the edge gets its own `seg` (drawn as a separate line). Rows are in order of
 * series, then bin.
 */
function clipAbove(rows: { bin: number; series: string; pct: number }[], top: number): { bin: number; series: string; pct: number; seg: string; orig: boolean }[] {
  const out: { bin: number; series: string; pct: number; seg: string; orig: boolean }[] = [];
  let piece = 0;
  for (let i = 0; i < rows.length; i++) {
    const p = rows[i]!;
    const prev = i > 0 && rows[i - 1]!.series === p.series ? rows[i - 1]! : undefined;
    if (!prev) piece++;
    const cross = (a: typeof p, b: typeof p) => ({ bin: a.bin + ((top - a.pct) / (b.pct - a.pct)) * (b.bin - a.bin), series: p.series, pct: top, seg: `${p.series}#${piece}`, orig: false });
    if (p.pct <= top) {
      if (prev && prev.pct > top) {
        piece++;
        out.push(cross(prev, p));
      }
      out.push({ ...p, seg: `${p.series}#${piece}`, orig: true });
    } else if (prev && prev.pct <= top) {
      out.push(cross(prev, p));
    }
  }
  return out;
}

// (b) ------------------------------------------------------------------------------------------
function orderPathSpec(r: BacktestResult, orders: BacktestOrders, market: OrderMarket, names: string[], b: number): VegaLiteSpec {
  const { rows, market: cum } = orderPath(r, orders, market, b);
  const T = r.bins;
  const x = { field: 'bin', type: 'quantitative', title: `end of bin (0 … ${T})`, scale: { domain: [0, T], nice: false }, axis: { tickMinStep: 1, format: 'd' } };
  const y = { field: 'pct', type: 'quantitative', title: 'cumulative, % of the order quantity' };
  return spec({
    width: W, height: 260,
    layer: [
      { data: { values: cum }, mark: { type: 'area', color: '#999', opacity: 0.2 }, encoding: { x, y } },
      {
        data: { values: rows },
        mark: { type: 'line', strokeWidth: 2, point: T <= 48 ? { size: 14 } : false },
        encoding: {
          x, y,
          color: { field: 'strategy', type: 'nominal', scale: strategyColor(names), sort: names, legend: { title: 'strategy', orient: 'bottom', direction: 'horizontal', columns: 3, symbolType: 'stroke' } },
          strokeDash: { field: 'kind', type: 'nominal', scale: { domain: ['filled', 'target'], range: [[1, 0], [5, 3]] }, legend: { title: 'line', orient: 'bottom', symbolType: 'stroke', symbolSize: 400, encode: { symbols: { update: { stroke: { value: '#333' } } } }, labelExpr: "datum.label === 'target' ? 'target (Q·Σa)' : 'filled'" } },
        },
      },
    ],
  });
}

// (c) ------------------------------------------------------------------------------------------
function slippageSpec(r: BacktestResult, names: string[]): { spec: VegaLiteSpec; note: string } {
  const st = slippageStats(r);
  if (!st) return { spec: messageSpec('no order filled: no slippage to show'), note: '' };
  const domain = st.domain;
  const xTitle = 'slippage vs the interval market VWAP (bps, positive = cost)';
  const xs = (field: string, title: string | null) => ({ field, type: 'quantitative', title, scale: { domain, nice: false, zero: false, clamp: true }, axis: { tickCount: 8 } });
  const y = { field: 'strategy', type: 'nominal', sort: names, title: null };
  const color = { field: 'strategy', type: 'nominal', scale: strategyColor(names), sort: names, legend: { title: null, orient: 'bottom', direction: 'horizontal', columns: 4, symbolType: 'stroke' } };
  const box = {
    width: W, height: { step: 26 },
    data: { values: st.boxes },
    layer: [
      { mark: { type: 'rule', strokeWidth: 1 }, encoding: { x: xs('p1', null), x2: { field: 'p99' }, y, color } },
      { mark: { type: 'rule', strokeWidth: 3 }, encoding: { x: xs('p5', null), x2: { field: 'p95' }, y, color } },
      { mark: { type: 'bar', size: 14 }, encoding: { x: xs('p25', null), x2: { field: 'p75' }, y, color } },
      { mark: { type: 'tick', color: 'white', thickness: 2, size: 14 }, encoding: { x: xs('p50', null), y } },
      { mark: { type: 'point', shape: 'diamond', filled: true, color: '#111', size: 45 }, encoding: { x: xs('mean', null), y } },
    ],
  };
  const hist = {
    width: W, height: 170,
    data: { values: st.hist },
    mark: { type: 'line', interpolate: 'step', strokeWidth: 1.8 },
    encoding: {
      x: xs('mid', xTitle), y: { field: 'pct', type: 'quantitative', title: 'orders (% of the strategy’s, sqrt scale)', scale: { type: 'sqrt' } },
      color,
    },
  };
  const worst = Math.max(...st.boxes.map((x) => x.outsideShare));
  return {
    spec: spec({ vconcat: [box, hist], spacing: 14 }),
    note: `Box: 25th–75th percentile, white tick the median, ◆ the mean, thick line 5th–95th, thin line 1st–99th percentile. The axis runs from the lowest 1st to the highest 99th percentile of the strategies (${num(domain[0], 1)} to ${num(domain[1], 1)} bps); at most ${pct(worst)} of a strategy's orders lie outside it and are left out of the histogram.`,
  };
}

// (d) ------------------------------------------------------------------------------------------
function improvementSpec(r: BacktestResult, orders: BacktestOrders, names: string[]): { spec: VegaLiteSpec; note: string } {
  const imp = assetImprovement(r, orders);
  if (!imp) return { spec: messageSpec('no TWAP (or baseline) and another strategy to compare'), note: '' };
  const others = names.filter((n) => n !== imp.base);
  const step = others.length * (imp.assets.length > 8 ? 5 : 10) + 8;
  const yEnc = { field: 'asset', type: 'nominal', sort: imp.assets, title: null, axis: { labelLimit: 140 } };
  const color = { field: 'strategy', type: 'nominal', scale: strategyColor(names), sort: others, legend: { title: null, orient: 'bottom', direction: 'horizontal', columns: 4, values: others } };
  const yOffset = { field: 'strategy', type: 'nominal', sort: others };
  const x = { field: 'meanBps', type: 'quantitative', title: `improvement over ${imp.base}: slippage(${imp.base}) − slippage (bps, positive = better)` };
  const subset = imp.totalAssets > MAX_ASSETS ? ` The ${MAX_ASSETS} assets with the most orders of ${imp.totalAssets}; "${ALL_ASSETS}" covers every order.` : '';
  return {
    spec: spec({
      width: W, height: { step, for: 'position' },
      layer: [
        { data: { values: imp.rows }, mark: { type: 'bar', opacity: 0.85 }, encoding: { y: yEnc, yOffset, x, color } },
        { data: { values: imp.rows }, mark: { type: 'rule', color: '#222', strokeWidth: 1 }, encoding: { y: yEnc, yOffset, x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' } } },
        { data: { values: [{ zero: 0 }] }, mark: { type: 'rule', color: '#444', strokeDash: [3, 2] }, encoding: { x: { field: 'zero', type: 'quantitative' } } },
      ],
    }),
    note: `Mean over each asset's orders of the paired difference slippage(${imp.base}) − slippage(strategy), bps; black lines: ±1.96 standard errors.${subset}`,
  };
}

// (e) ------------------------------------------------------------------------------------------
function impactSpec(r: BacktestResult, orders: BacktestOrders, names: string[]): { spec: VegaLiteSpec; note: string } {
  const imp = impactBySize(r, orders);
  if (!imp || imp.rows.length === 0) return { spec: messageSpec('no filled order with a size to show'), note: '' };
  const xTitle = imp.measure === 'adv' ? 'order size (% of ADV, log scale)' : 'order size (% of the interval market volume, log scale)';
  return {
    spec: spec({
      width: W, height: 260,
      data: { values: imp.rows },
      mark: { type: 'line', strokeWidth: 2, point: { size: 36, filled: true } },
      encoding: {
        x: { field: 'sizePct', type: 'quantitative', title: xTitle, scale: { type: 'log', nice: false, padding: 12 }, axis: { format: '~r', labelOverlap: 'greedy' } },
        y: { field: 'impactBps', type: 'quantitative', title: 'impact cost, temporary + permanent (bps of notional)' },
        color: { field: 'strategy', type: 'nominal', scale: strategyColor(names), sort: names, legend: { title: null, orient: 'bottom', direction: 'horizontal', columns: 4, symbolType: 'stroke' } },
      },
    }),
    note: imp.measure === 'adv'
      ? 'Mean impact cost in equal-count bins of order size (quantity / ADV); a point sits at its bin\'s mean size.'
      : 'Every order has the same size in ADV, so the size is the order\'s share of its interval\'s market volume; mean impact cost in equal-count bins of that share.',
  };
}

// (f) ------------------------------------------------------------------------------------------
function participationSpec(r: BacktestResult, names: string[], cap: number | undefined): { spec: VegaLiteSpec; clipped: boolean } {
  const rows = participation(r);
  const metrics = ['mean', 'mean of per-order max', 'max over orders'];
  const long = rows.flatMap((p) => [
    { strategy: p.strategy, metric: metrics[0], pct: p.meanPct },
    { strategy: p.strategy, metric: metrics[1], pct: p.meanMaxPct },
    { strategy: p.strategy, metric: metrics[2], pct: p.maxPct },
  ]).filter((x) => Number.isFinite(x.pct));
  // one swept order can take 1000% of a thin bin: the axis stops at 3× the cap (or the largest
  // mean of per-order maxima) and a longer bar is cut there with its value written on it
  const capPct = cap !== undefined && Number.isFinite(cap) ? 100 * cap : undefined;
  const dataMax = Math.max(0, ...long.map((x) => x.pct));
  const top = Math.min(dataMax, Math.max(3 * (capPct ?? 0), 1.25 * Math.max(0, ...rows.map((x) => (Number.isFinite(x.meanMaxPct) ? x.meanMaxPct : 0)))));
  const xTop = Math.max(top > 0 ? top : 1, capPct !== undefined ? 1.15 * capPct : 0);
  const cut = long.filter((x) => x.pct > xTop * 1.0001).map((x) => ({ ...x, label: `${x.pct.toFixed(0)}% ▸` }));
  const completion = rows.filter((x) => Number.isFinite(x.completionPct)).map((x) => ({ ...x, label: `${x.completionPct.toFixed(1)}%` }));
  const y = { field: 'strategy', type: 'nominal', sort: names, title: null };
  const left = {
    width: W, height: { step: 22 },
    data: { values: completion },
    layer: [
      { mark: { type: 'bar', size: 15 }, encoding: { y, x: { field: 'completionPct', type: 'quantitative', title: 'mean completion, filled / quantity (%)', scale: { domain: [0, 100] } }, color: { field: 'strategy', type: 'nominal', scale: strategyColor(names), legend: null } } },
      { transform: [{ filter: 'datum.completionPct >= 40' }], mark: { type: 'text', align: 'right', dx: -4, color: 'white', fontWeight: 'bold', fontSize: 11 }, encoding: { y, x: { field: 'completionPct', type: 'quantitative' }, text: { field: 'label' } } },
      { transform: [{ filter: 'datum.completionPct < 40' }], mark: { type: 'text', align: 'left', dx: 4, color: '#222', fontSize: 11 }, encoding: { y, x: { field: 'completionPct', type: 'quantitative' }, text: { field: 'label' } } },
    ],
  };
  const layers: VegaLiteSpec[] = [
    {
      data: { values: long }, mark: { type: 'bar', opacity: 0.9 },
      encoding: {
        y, yOffset: { field: 'metric', type: 'nominal', sort: metrics },
        x: { field: 'pct', type: 'quantitative', title: 'participation: fill / bin market volume (%)', scale: { domain: [0, xTop], nice: false, clamp: true } },
        color: { field: 'metric', type: 'nominal', sort: metrics, scale: { domain: metrics, range: ['#9ecae1', '#4292c6', '#08306b'] }, legend: { title: 'participation', orient: 'bottom', direction: 'horizontal', columns: 3 } },
      },
    },
  ];
  if (cut.length > 0) {
    layers.push({
      data: { values: cut }, mark: { type: 'text', align: 'right', baseline: 'middle', dx: -3, color: 'white', fontSize: 10, fontWeight: 'bold' },
      encoding: { y, yOffset: { field: 'metric', type: 'nominal', sort: metrics }, x: { datum: xTop, type: 'quantitative' }, text: { field: 'label' } },
    });
  }
  if (capPct !== undefined) {
    layers.push({ data: { values: [{ cap: capPct, label: `cap ρ = ${num(capPct, 1)}%` }] }, layer: [
      { mark: { type: 'rule', color: '#d62728', strokeDash: [4, 3], strokeWidth: 1.5 }, encoding: { x: { field: 'cap', type: 'quantitative' } } },
      { mark: { type: 'text', color: '#d62728', align: capPct > 0.6 * xTop ? 'right' : 'left', baseline: 'top', dx: capPct > 0.6 * xTop ? -3 : 3, dy: 2, fontSize: 11, y: 0 }, encoding: { x: { field: 'cap', type: 'quantitative' }, text: { field: 'label' } } },
    ] });
  }
  const right = { width: W, height: { step: 3 * 9 + 8, for: 'position' }, layer: layers };
  return { spec: spec({ vconcat: [left, right], spacing: 18, resolve: { scale: { color: 'independent', y: 'independent', x: 'independent' }, legend: { color: 'independent' } } }), clipped: cut.length > 0 };
}

// tables ---------------------------------------------------------------------------------------
function tcaTable(r: BacktestResult): string {
  const head = ['strategy', 'loop', 'slippage mean', 'p5', 'p50', 'p95', 'shortfall', 'spread', 'impact', 'fee', 'total cost', 'completion', 'mean / max participation', 'hit rate', 'PA', 'POS', 'stopped'];
  const rows = r.strategies.map((s) => {
    const m = s.summary;
    const cells = [num(m.slippageBps.mean), num(m.slippageBps.p5), num(m.slippageBps.p50), num(m.slippageBps.p95), num(m.shortfallBps), num(m.spreadBps), num(m.impactBps), num(m.feeBps), num(m.totalCostBps), pct(m.completion), `${pct(m.meanParticipation)} / ${pct(m.maxParticipation)}`, pct(m.hitRate), num(m.paBps), pct(m.pos), String(m.stoppedOrders)];
    return `<tr><th scope="row">${escapeHtml(s.name)}${s.passive ? ' <span class="tag">passive</span>' : ''}</th><td class="text">${escapeHtml(s.loop)}</td>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  return `<div class="scroll"><table class="tca"><thead><tr>${head.map((h, i) => `<th scope="col"${i < 2 ? ' class="text"' : ''}>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

/** One row per group key, one column per strategy: the mean slippage (bps) and the order count. */
function breakdownTable(r: BacktestResult, pick: (s: BacktestResult['strategies'][number]) => Record<string, TcaSummary>, keyTitle: string, keys: string[]): string {
  const head = `<tr><th scope="col" class="text">${escapeHtml(keyTitle)}</th><th scope="col">orders</th>${r.strategies.map((s) => `<th scope="col">${escapeHtml(s.name)}</th>`).join('')}</tr>`;
  const body = keys.map((k) => {
    const first = r.strategies[0] ? pick(r.strategies[0])[k] : undefined;
    return `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(first?.orders ?? 0)}</td>${r.strategies.map((s) => `<td>${escapeHtml(num(pick(s)[k]?.slippageBps.mean ?? NaN))}</td>`).join('')}</tr>`;
  });
  return `<div class="scroll"><table class="tca"><thead>${head}</thead><tbody>${body.join('')}</tbody></table></div>`;
}

function flattenSettings(value: unknown, prefix = '', out: [string, string][] = []): [string, string][] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flattenSettings(v, prefix ? `${prefix}.${k}` : k, out);
    return out;
  }
  const text = value === null || value === undefined ? '–'
    : typeof value === 'number' ? (Number.isFinite(value) ? String(value) : value > 0 ? '∞' : value < 0 ? '−∞' : 'NaN')
    : Array.isArray(value) ? value.map((v) => String(v)).join(', ')
    : String(value);
  out.push([prefix, text]);
  return out;
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;padding:24px 28px 40px;font:14px/1.45 ${FONT};color:#1d1d1f;background:#f6f7f9}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 10px}
h3{font-size:14px;margin:0 0 2px}
.meta{color:#444;margin:0 0 12px}
.card{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:14px 16px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}
table.tca{font-size:12.5px}
table.tca th,table.tca td{padding:5px 7px;border-bottom:1px solid #e6e6e6;text-align:right;white-space:nowrap}
table.tca thead th{white-space:normal;vertical-align:bottom;min-width:3.2em}
table.tca th.text,table.tca td.text,table.tca tbody th{text-align:left}
table.tca thead th{background:#f0f2f5;font-weight:600;position:sticky;top:0}
table.tca tbody tr:hover{background:#fafbfc}
dl.params{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:2px 18px;margin:0;font-size:12.5px}
dl.params div{display:flex;justify-content:space-between;border-bottom:1px dotted #ddd;padding:2px 0}
dl.params dt{color:#555}
dl.params dd{margin:0 0 0 12px;font-variant-numeric:tabular-nums;text-align:right;word-break:break-all}
.tag{font-size:10.5px;background:#eef3fb;color:#1f4e8c;border-radius:3px;padding:0 4px;font-weight:500}
.note{color:#555;font-size:12.5px;margin:6px 0 0}
details{margin-top:12px}
summary{cursor:pointer;color:#1f4e8c}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(600px,1fr));gap:18px}
figure{margin:0}
figure .card{height:100%}
figure svg{display:block;max-width:100%;height:auto;margin-top:8px}
figcaption .note{margin:2px 0 0}
footer{margin-top:28px;color:#777;font-size:12px}
`;

/**
 * The report of a backtest as one self-contained HTML string. `orders` and `market` are the
 * inputs `runBacktest` ran on (the same B orders, in the same order).
 */
export async function backtestReportHtml(result: BacktestResult, orders: BacktestOrders, market: OrderMarket, options: BacktestReportOptions = {}): Promise<string> {
  const title = options.title ?? 'sigvwap backtest';
  const names = result.strategies.map((s) => s.name);
  const settings = options.settings ?? {};
  const params = settings.params as Record<string, unknown> | undefined;
  const cap = typeof params?.maxParticipation === 'number' ? params.maxParticipation : undefined;
  const chosen = chooseOrder(result, options.orderIndex);
  const b = chosen.index;
  const onWarning = options.onWarning;

  const slip = slippageSpec(result, names);
  const impr = improvementSpec(result, orders, names);
  const impact = impactSpec(result, orders, names);
  const curve = volumeCurveSpec(result, market, names);
  const part = participationSpec(result, names, cap);
  const B = result.orders;
  const orderLine = B > 0
    ? `Order #${b}: ${orders.symbols[orders.assetIndex[b]!] ?? '?'} ${orders.side[b] === 1 ? 'buy' : 'sell'} ${num(orders.quantity[b]!, 4)} (${pct(orders.quantity[b]! / orders.adv[b]!, 2)} of ADV), from ${utc(market.startTimeMs[b]!)}: ${chosen.reason}.`
    : 'No order.';
  const charts: { id: (typeof CHART_IDS)[number]; title: string; note: string; spec: VegaLiteSpec }[] = [
    {
      id: 'volume-curve', title: 'Market volume curve vs each strategy’s schedule', spec: curve.spec,
      note: `Dashed black: the mean over orders of each bin’s share of the order’s interval volume (the curve a perfect VWAP order follows). Lines: the mean fraction of the order each strategy released to the simulator per bin (its carry comes on top; a closed-loop strategy’s fractions are those it chose after seeing its fills).${curve.clipped ? ` Above the axis: ${curve.clipped}.` : ''}`,
    },
    {
      id: 'order-path', title: 'Cumulative target vs filled for one order', spec: orderPathSpec(result, orders, market, names, b),
      note: `${orderLine} Dashed: the cumulative target Q·Σa; solid: the cumulative fills; grey area: the cumulative market volume share.`,
    },
    { id: 'slippage', title: 'Slippage distribution per strategy', spec: slip.spec, note: slip.note },
    { id: 'asset-improvement', title: 'Per-asset improvement over TWAP', spec: impr.spec, note: impr.note },
    { id: 'impact-size', title: 'Impact cost vs order size', spec: impact.spec, note: impact.note },
    {
      id: 'participation', title: 'Completion and participation', spec: part.spec,
      note: `Completion: filled / quantity, mean over orders (FFR). Participation: fill / market volume of the bin; the mean over bins and orders, the mean of each order’s maximum, and the maximum over all orders (a final sweep may exceed the cap).${cap !== undefined ? ' Red: the participation cap.' : ''}${part.clipped ? ' Bars marked ▸ run past the axis; their value is written on them.' : ''}`,
    },
  ];
  const svgs: string[] = [];
  for (const [i, c] of charts.entries()) svgs.push(await renderVegaLiteSvg(c.spec, `c${i}`, onWarning));

  const assets = [...new Set(result.strategies.flatMap((s) => Object.keys(s.byAsset)))].sort();
  const sizes = [...new Set(result.strategies.flatMap((s) => Object.keys(s.bySize)))];
  const hours = [...new Set(result.strategies.flatMap((s) => Object.keys(s.byHour)))].sort();
  const skipped = orders.skipped.length;
  const meta = `${B} orders × ${result.bins} bins (${result.binBars} bar${result.binBars === 1 ? '' : 's'} per bin) · ${names.length} strateg${names.length === 1 ? 'y' : 'ies'} · PA baseline ${result.baseline ?? '–'} · ${skipped} order${skipped === 1 ? '' : 's'} skipped · backtest ${(result.elapsedMs / 1000).toFixed(2)} s`;
  const settingRows = flattenSettings(settings).map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join('');

  const figures = charts.map((c, i) => `<figure id="chart-${c.id}" class="chart"><div class="card"><figcaption><h3>${escapeHtml(`(${'abcdef'[i]}) ${c.title}`)}</h3>${c.note ? `<p class="note">${escapeHtml(c.note)}</p>` : ''}</figcaption>${svgs[i]}</div></figure>`).join('\n');

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="meta">${escapeHtml(meta)}</p>
${settingRows ? `<div class="card"><dl class="params">${settingRows}</dl></div>` : ''}
</header>
<section id="tca">
<h2>Transaction-cost analysis</h2>
<div class="card">
${tcaTable(result)}
<p class="note">${escapeHtml(`Costs in bps, positive = cost. Slippage: average fill price vs the market VWAP of the order's bins (mean and 5th/50th/95th percentiles over orders); shortfall vs the arrival price; spread, impact and fee per notional; total cost = slippage + fee. Completion (FFR) = filled / quantity. Hit rate: share of orders beating the VWAP. PA (price advantage, bps, positive = better) and POS (share of orders with PA > 0) against ${result.baseline ?? 'no baseline'}.`)}</p>
${assets.length > 0 ? `<details${assets.length <= 12 ? ' open' : ''}><summary>Mean slippage by asset (bps)</summary>${breakdownTable(result, (s) => s.byAsset, 'asset', assets)}</details>` : ''}
${sizes.length > 0 ? `<details><summary>Mean slippage by order size (bps)</summary>${breakdownTable(result, (s) => s.bySize, 'size', sizes)}</details>` : ''}
${hours.length > 0 ? `<details><summary>Mean slippage by start hour, UTC (bps)</summary>${breakdownTable(result, (s) => s.byHour, 'hour', hours)}</details>` : ''}
</div>
</section>
<section>
<h2>Charts</h2>
<div class="charts">
${figures}
</div>
</section>
<footer>${escapeHtml(`sigvwap backtest report: ${B} orders; every chart is drawn from aggregates, so the file needs no network and does not grow with the number of orders.`)}</footer>
</body>
</html>
`;
}
