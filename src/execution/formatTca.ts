/**
 * Markdown tables of a backtest: one row per strategy (slippage vs the interval VWAP with its
 * spread of outcomes, implementation shortfall, cost components, completion, participation,
 * hit rate, and qlib's PA/FFR/POS against the baseline), then the per-asset mean slippage.
 */
import type { BacktestResult } from './runBacktest.js';

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '–');

export function backtestToMarkdown(r: BacktestResult): string {
  const lines: string[] = [];
  lines.push(`${r.orders} orders × ${r.bins} bins (${r.binBars} bar${r.binBars === 1 ? '' : 's'} per bin); costs in bps, positive = cost; PA vs ${r.baseline ?? '–'} (positive = better)`);
  lines.push('');
  lines.push('| strategy | loop | slippage mean | p5 | p50 | p95 | shortfall | spread | impact | fee | total cost | completion | mean / max participation | hit rate | PA | POS | stopped |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of r.strategies) {
    const m = s.summary;
    lines.push(`| ${s.name}${s.passive ? ' (passive)' : ''} | ${s.loop} | ${f(m.slippageBps.mean)} | ${f(m.slippageBps.p5)} | ${f(m.slippageBps.p50)} | ${f(m.slippageBps.p95)} | ${f(m.shortfallBps)} | ${f(m.spreadBps)} | ${f(m.impactBps)} | ${f(m.feeBps)} | ${f(m.totalCostBps)} | ${pct(m.completion)} | ${pct(m.meanParticipation)} / ${pct(m.maxParticipation)} | ${pct(m.hitRate)} | ${f(m.paBps)} | ${pct(m.pos)} | ${m.stoppedOrders} |`);
  }
  const assets = [...new Set(r.strategies.flatMap((s) => Object.keys(s.byAsset)))].sort();
  if (assets.length > 1) {
    lines.push('');
    lines.push(`| asset | orders | ${r.strategies.map((s) => s.name).join(' | ')} |`);
    lines.push(`|---|---|${r.strategies.map(() => '---').join('|')}|`);
    for (const a of assets) {
      lines.push(`| ${a} | ${r.strategies[0]!.byAsset[a]?.orders ?? 0} | ${r.strategies.map((s) => f(s.byAsset[a]?.slippageBps.mean ?? NaN)).join(' | ')} |`);
    }
    lines.push('');
    lines.push('Per asset: mean slippage vs the interval market VWAP, bps.');
  }
  return lines.join('\n') + '\n';
}
