/**
 * The backtest report (src/report): a real backtest (runBacktest on synthetic hourly bars, open-
 * and closed-loop strategies, order sizes that vary) rendered to one HTML file, which must be
 * self-contained (no URL but SVG namespaces, no script, no external style or font), hold the six
 * charts as SVGs that drew marks and the TCA table with formatTca's columns, escape what it
 * prints, keep its size independent of the number of orders, and be written by `sigvwap
 * backtest --out`. Then headless Chromium (Debian's `chromium` driven by playwright-core, never a
 * downloaded browser; SIGVWAP_CHROMIUM overrides the path) opens the file: no console or page
 * error, no request, every chart drew marks with a non-zero box, nothing wider than the page;
 * a screenshot goes to the test's temp dir and to $SIGVWAP_SCREENSHOT_DIR when set. Without
 * Chromium that test is skipped with a printed SKIPPED line.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModelConfig, type ModelConfig } from '../../src/allocators/neural/modelConfig.js';
import { runBacktestCli } from '../../src/cli/backtest.js';
import { ordersFromAnchors, type BacktestOrders } from '../../src/execution/backtestOrders.js';
import { backtestToMarkdown } from '../../src/execution/formatTca.js';
import { orderBins, type OrderMarket } from '../../src/execution/orderBins.js';
import { runBacktest, type BacktestResult } from '../../src/execution/runBacktest.js';
import { allocatorStrategy, resolveStrategy } from '../../src/execution/strategies/index.js';
import { chooseOrder } from '../../src/report/backtestData.js';
import { CHART_IDS, backtestReportHtml, escapeHtml } from '../../src/report/backtestReport.js';
import { captureIo, twoAssetStore } from '../helpers/cli.js';
import { HOUR_MS, removeDir, smallDataset, tempDir } from '../helpers/market.js';
import { randomizedModel } from '../helpers/models.js';

const dir = tempDir('sigvwap-report-');
afterAll(() => removeDir(dir));

const NASTY = 'SYN<b>&"0\'USDT';
const SIZES = [0.2, 0.5, 1, 2, 5, 10];

interface Run { result: BacktestResult; orders: BacktestOrders; market: OrderMarket }

/** Orders on the test split of two synthetic assets (one with a symbol full of HTML), sized 0.2–10% ADV. */
function backtest(maxOrders: number, finalBin: 'sweep' | 'leave' = 'leave'): Run {
  const dataset = smallDataset(2, 1500);
  const test = dataset.anchors('test', 'all');
  const ids = Array.from(test.index).filter((_, i) => i % Math.max(1, Math.floor(test.index.length / maxOrders)) === 0).slice(0, maxOrders);
  const base = ordersFromAnchors(dataset, ids, { side: 'buy', sizeAdv: 0.01 });
  const orders: BacktestOrders = { ...base, symbols: [NASTY, base.symbols[1]!], quantity: Float64Array.from(base.quantity, (q, b) => q * SIZES[b % SIZES.length]!) };
  const series = dataset.assets.map((a) => dataset.series(a.index));
  const market = orderBins(series, orders);
  const dynamic: ModelConfig = { ...defaultModelConfig('dynamic'), dynamic: { ...defaultModelConfig('dynamic').dynamic, sequence: { encoderLookback: 8, baselineBars: 336 } } };
  const strategies = [
    ...['twap', 'passiveTwap', 'histCurve', 'pov', 'immediate'].map((n) => resolveStrategy(n, { horizon: orders.bins, intervalMs: HOUR_MS })),
    allocatorStrategy(randomizedModel(dynamic, 7)),
  ];
  try {
    return { result: runBacktest({ orders, series, market, strategies, params: { finalBin } }), orders, market };
  } finally {
    for (const s of strategies) s.dispose?.();
  }
}

/** The `<figure id="chart-…">` of each chart. */
function figures(html: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of html.matchAll(/<figure id="chart-([a-z-]+)"[\s\S]*?<\/figure>/g)) out.set(m[1]!, m[0]);
  return out;
}

let run: Run;
let html = '';
const warnings: string[] = [];

beforeAll(async () => {
  run = backtest(240);
  html = await backtestReportHtml(run.result, run.orders, run.market, {
    title: 'report <test>', settings: { params: { maxParticipation: 0.1, stopSlippageBps: Infinity }, orders: 'test-anchors', size: '1%adv' }, onWarning: (m) => warnings.push(m),
  });
  writeFileSync(join(dir, 'report.html'), html);
});

describe('backtestReportHtml', () => {
  it('ran a backtest with an open- and a closed-loop strategy and orders of several sizes', () => {
    expect(run.result.orders).toBeGreaterThan(100);
    expect(run.result.strategies.map((s) => s.loop)).toContain('closed');
    expect(new Set(Array.from(run.orders.quantity, (q, b) => (q / run.orders.adv[b]!).toFixed(4))).size).toBeGreaterThan(3);
  });

  it('renders without a vega-lite or vega warning', () => {
    expect(warnings).toEqual([]);
  });

  it('is self-contained: no URL but SVG namespaces, no script, no external style, font or image', () => {
    const withoutNamespaces = html.replace(/\sxmlns(:\w+)?="[^"]*"/g, '');
    expect(withoutNamespaces).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link\b|<img\b|<iframe\b|@import|@font-face/i);
    expect(html).not.toMatch(/\s(src|srcset)=/i);
    for (const m of html.matchAll(/url\(([^)]*)\)/g)) expect(m[1]).toMatch(/^#/); // only in-document references
    expect(html).toContain("Content-Security-Policy\" content=\"default-src 'none'");
  });

  it('has the six charts, each one SVG with marks (path, rect or line inside a data mark)', () => {
    const figs = figures(html);
    expect([...figs.keys()]).toEqual([...CHART_IDS]);
    for (const [id, fig] of figs) {
      const svgs = fig.match(/<svg\b/g) ?? [];
      expect(svgs, id).toHaveLength(1);
      // a data mark is a <g class="mark-… role-mark"> group; it must hold drawn elements
      const marks = [...fig.matchAll(/<g class="mark-[a-z]+ role-mark[^"]*"[^>]*>([\s\S]*?)<\/g>/g)].filter((m) => /<(path|rect|line)\b[^>]*\b(d="M|width="[1-9]|x2=)/.test(m[1]!));
      expect(marks.length, id).toBeGreaterThan(0);
    }
  });

  it('has the TCA table with the columns of formatTca and one row per strategy', () => {
    const md = backtestToMarkdown(run.result).split('\n').find((l) => l.startsWith('| strategy |'))!;
    const mdColumns = md.split('|').map((c) => c.trim()).filter(Boolean);
    const table = /<table class="tca">([\s\S]*?)<\/table>/.exec(html)![1]!;
    const htmlColumns = [...table.matchAll(/<th scope="col"[^>]*>([^<]*)<\/th>/g)].map((m) => m[1]);
    expect(htmlColumns).toEqual(mdColumns);
    expect(table.match(/<th scope="row">/g)).toHaveLength(run.result.strategies.length);
    const twap = run.result.strategies.find((s) => s.name === 'twap')!;
    expect(table).toContain(`<td>${twap.summary.slippageBps.mean.toFixed(2)}</td>`);
  });

  it('escapes every string it prints: a symbol with <, &, quotes and the title', () => {
    expect(html).not.toContain(NASTY);
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('<test>');
    expect(html).toContain(escapeHtml(NASTY));
    expect(html).toContain('<title>report &lt;test&gt;</title>');
    expect(html).toContain('SYN&lt;b&gt;&amp;'); // also inside the SVG of chart (d)
  });

  it('gives every element id once across the inlined SVGs', () => {
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const m of html.matchAll(/url\(#([^)]+)\)/g)) expect(ids).toContain(m[1]);
  });

  it('shows the settings, and infinite parameters as ∞', () => {
    expect(html).toContain('params.maxParticipation');
    expect(html).toMatch(/params\.stopSlippageBps<\/dt><dd>∞</);
  });

  it('draws the order with the largest TWAP completion shortfall, or the one named by orderIndex', async () => {
    const twap = run.result.strategies.find((s) => s.name === 'twap')!;
    let worst = 0;
    for (let b = 1; b < run.result.orders; b++) if (twap.tca.completion[b]! < twap.tca.completion[worst]!) worst = b;
    expect(twap.tca.completion[worst]).toBeLessThan(1); // finalBin 'leave' with 10% ADV orders
    expect(chooseOrder(run.result).index).toBe(worst);
    expect(figures(html).get('order-path')).toContain(`Order #${worst}:`);
    const other = await backtestReportHtml(run.result, run.orders, run.market, { orderIndex: 3, onWarning: () => {} });
    expect(figures(other).get('order-path')).toContain('Order #3:');
    await expect(backtestReportHtml(run.result, run.orders, run.market, { orderIndex: run.result.orders })).rejects.toMatchObject({ code: 'ERR_ARG', data: { argument: 'orderIndex' } });
  });

  it('draws the median TWAP-slippage order when every TWAP order completed', () => {
    const swept = backtest(60, 'sweep');
    const twap = swept.result.strategies.find((s) => s.name === 'twap')!;
    expect(twap.summary.completion).toBeCloseTo(1, 12);
    const { index, reason } = chooseOrder(swept.result);
    const below = Array.from(twap.tca.slippageBps).filter((x) => x < twap.tca.slippageBps[index]!).length;
    expect(below).toBe(Math.floor((swept.result.orders - 1) / 2));
    expect(reason).toMatch(/median/);
  });

  it('does not grow with the number of orders (charts embed aggregates only)', async () => {
    const small = backtest(40);
    const smallHtml = await backtestReportHtml(small.result, small.orders, small.market, { onWarning: () => {} });
    expect(small.result.orders * 4).toBeLessThan(run.result.orders);
    expect(Math.abs(html.length - smallHtml.length) / html.length).toBeLessThan(0.25);
    expect(html.length).toBeLessThan(1_000_000);
  });
});

describe('sigvwap backtest --out writes report.html', () => {
  it('next to results.json and orders.arrow, atomically (no temporary file or lock left)', async () => {
    const store = await twoAssetStore(join(dir, 'cli'));
    const out = join(dir, 'cli-out');
    const io = captureIo();
    await runBacktestCli({ store, strategies: ['twap', 'histCurve', 'pov'], orders: 'test-anchors', side: 'buy', size: '1%adv', workers: 0, out, progress: false }, io);
    expect(readdirSync(out).sort()).toEqual(['orders.arrow', 'report.html', 'results.json']);
    const page = readFileSync(join(out, 'report.html'), 'utf8');
    expect([...figures(page).keys()]).toEqual([...CHART_IDS]);
    expect(page).toContain('params.maxParticipation'); // the command's settings
    expect(io.err()).toContain('report.html');
  });
});

// The little of the DOM the page.evaluate callbacks use (they run in the browser; the
// project compiles without the DOM library, and these declarations stay local to this module).
interface BrowserRect { width: number; height: number; right: number }
interface BrowserElement { getBoundingClientRect(): BrowserRect; querySelectorAll(selector: string): Iterable<BrowserElement> }
declare const document: { querySelector(selector: string): BrowserElement | null; documentElement: { scrollWidth: number } };
declare const window: { innerWidth: number };

/** Debian's chromium (or $SIGVWAP_CHROMIUM); undefined after printing SKIPPED when absent. */
function findChromium(): string | undefined {
  const env = process.env.SIGVWAP_CHROMIUM;
  const onPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean).flatMap((d) => [join(d, 'chromium'), join(d, 'chromium-browser')]);
  const candidates = env ? [env] : ['/usr/bin/chromium', '/usr/bin/chromium-browser', ...onPath];
  const found = candidates.find((p) => existsSync(p));
  if (!found) console.warn(`SKIPPED: chromium not found (${env ? env : '/usr/bin/chromium, /usr/bin/chromium-browser or PATH'}); the report's browser check did not run (apt-get install chromium, or set SIGVWAP_CHROMIUM)`);
  return found;
}

const chromiumPath = findChromium();

describe('the report in headless Chromium', () => {
  it.skipIf(!chromiumPath)('opens from file:// without a console or page error or a request, and every chart drew marks', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: chromiumPath!, chromiumSandbox: process.getuid?.() !== 0, timeout: 60_000 });
    try {
      const page = await browser.newPage({ viewport: { width: 1320, height: 900 } });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      const file = join(dir, 'report.html');
      const url = pathToFileURL(file).href;
      await page.goto(url, { waitUntil: 'load' });
      const charts = await page.evaluate((ids) => ids.map((id) => {
        const svg = document.querySelector(`#chart-${id} svg`);
        const figure = document.querySelector(`#chart-${id}`)!.getBoundingClientRect();
        const marks = svg ? [...svg.querySelectorAll('.role-mark path, .role-mark rect, .role-mark line')] : [];
        const drawn = marks.filter((m) => {
          const r = m.getBoundingClientRect();
          return r.width > 0 && r.height > 0;
        }).length;
        const box = svg?.getBoundingClientRect();
        return { id, drawn, svgWidth: box?.width ?? 0, svgHeight: box?.height ?? 0, insideFigure: box ? box.right <= figure.right + 0.5 : false };
      }), [...CHART_IDS]);
      const pageOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      const shot = join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      const shotDir = process.env.SIGVWAP_SCREENSHOT_DIR;
      if (shotDir) {
        mkdirSync(shotDir, { recursive: true });
        copyFileSync(shot, join(shotDir, 'backtest-report.png'));
        copyFileSync(file, join(shotDir, 'backtest-report.html'));
        console.info(`report screenshot: ${join(shotDir, 'backtest-report.png')}`);
      }
      expect(problems).toEqual([]);
      expect(requests).toEqual([url]);
      for (const c of charts) {
        expect(c.drawn, c.id).toBeGreaterThan(0);
        expect(c.svgWidth, c.id).toBeGreaterThan(200);
        expect(c.svgHeight, c.id).toBeGreaterThan(100);
        expect(c.insideFigure, c.id).toBe(true);
      }
      expect(pageOverflow).toBeLessThanOrEqual(0);
      expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
    } finally {
      await browser.close();
    }
  });
});
