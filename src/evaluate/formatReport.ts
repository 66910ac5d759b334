/**
 * Markdown tables of an evaluation report: one table per universe (losses, improvements over
 * TWAP and constCurve with 95% block-bootstrap intervals pooled over orders, paired-test
 * p-values of the absolute loss against TWAP and histCurve, and the mean over assets of the
 * per-asset improvements), the full list of comparisons, and a per-asset table. Rows of non-causal
 * allocators (lookahead > 0) are marked and footnoted.
 */
import type { Comparison, EvaluationReport, UniverseResult } from './evaluateAllocators.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const signedPct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
const ci = (c: [number, number]) => `[${(100 * c[0]).toFixed(1)}, ${(100 * c[1]).toFixed(1)}]`;
const pv = (p: number) => (p < 0.001 ? '<0.001' : p.toFixed(3));

function improvementCell(c: Comparison | undefined, kind: 'abs' | 'quad', seeds: number): string {
  if (!c) return '–';
  const r = c[kind];
  const spread = seeds > 1 ? ` ± ${(100 * r.std).toFixed(1)}` : '';
  return `${signedPct(r.improvement)}${spread} ${ci(r.ci)}`;
}

const UNIVERSE_TITLE: Record<UniverseResult['universe'], string> = {
  train: 'Training-universe assets',
  oos: 'Out-of-sample assets (not trained on)',
  all: 'All assets',
};

export function reportToMarkdown(report: EvaluationReport, options: { perAsset?: boolean } = {}): string {
  const lines: string[] = [];
  const seeds = new Map(report.allocators.map((a) => [a.label, a.seeds]));
  const nonCausal = report.allocators.filter((a) => !a.causal).map((a) => a.label);
  const mark = (label: string) => (nonCausal.includes(label) ? `${label} †` : label);
  lines.push(`Split: ${report.split} · horizon ${report.horizon} bars · block bootstrap: ${report.bootstrap.replicates} replicates, blocks of ${report.bootstrap.blockLength} orders, ${Math.round(report.bootstrap.confidence * 100)}% intervals`);
  lines.push('');
  for (const u of report.universes) {
    lines.push(`### ${UNIVERSE_TITLE[u.universe]}: ${u.assets} assets, ${u.orders} orders`);
    lines.push('');
    lines.push('| allocator | seeds | abs (bps) | quad (1e-6) | abs vs TWAP [95% CI] | quad vs TWAP [95% CI] | abs vs constCurve | quad vs constCurve | p vs TWAP | p vs histCurve | mean of assets: abs / quad vs TWAP |');
    lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const [label, m] of Object.entries(u.models)) {
      const find = (ref: string) => u.comparisons.find((c) => c.model === label && c.reference === ref);
      const s = seeds.get(label) ?? 1;
      const loss = (v: number, sd: number, digits: number) => `${v.toFixed(digits)}${s > 1 ? ` ± ${sd.toFixed(digits)}` : ''}`;
      lines.push(`| ${mark(label)} | ${s} | ${loss(m.absBps, m.absBpsStd, 2)} | ${loss(m.quadMillionths, m.quadMillionthsStd, 1)} | ${label === 'twap' ? '–' : improvementCell(find('twap'), 'abs', s)} | ${label === 'twap' ? '–' : improvementCell(find('twap'), 'quad', s)} | ${improvementCell(find('constCurve'), 'abs', s)} | ${improvementCell(find('constCurve'), 'quad', s)} | ${find('twap') ? pv(find('twap')!.abs.p) : '–'} | ${find('histCurve') ? pv(find('histCurve')!.abs.p) : '–'} | ${label === 'twap' || !m.meanAssetVsTwap ? '–' : `${signedPct(m.meanAssetVsTwap.abs)} / ${signedPct(m.meanAssetVsTwap.quad)}`} |`);
    }
    lines.push('');
  }
  lines.push('### All comparisons (improvement of the model over the reference, pooled over orders)');
  lines.push('');
  lines.push('| universe | model | reference | abs [95% CI] | p (abs) | quad [95% CI] | p (quad) |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const u of report.universes) {
    for (const c of u.comparisons) {
      lines.push(`| ${u.universe} | ${mark(c.model)} | ${mark(c.reference)} | ${signedPct(c.abs.improvement)} ${ci(c.abs.ci)} | ${pv(c.abs.p)} | ${signedPct(c.quad.improvement)} ${ci(c.quad.ci)} | ${pv(c.quad.p)} |`);
    }
  }
  lines.push('');
  if (options.perAsset !== false) {
    const labels = report.allocators.map((a) => a.label).filter((l) => l !== 'twap');
    lines.push('### Per asset: TWAP loss and improvement over TWAP (absolute loss)');
    lines.push('');
    lines.push(`| asset | universe | orders | dropped | TWAP abs (bps) | ${labels.map(mark).join(' | ')} |`);
    lines.push(`|---|---|---|---|---|${labels.map(() => '---').join('|')}|`);
    for (const a of report.assets) {
      const dropped = Object.values(a.dropped).reduce((x, y) => x + y, 0);
      const cells = labels.map((l) => (a.models[l]?.vsTwap ? pct(a.models[l]!.vsTwap!.abs) : '–'));
      lines.push(`| ${a.symbol} | ${a.universe} | ${a.orders} | ${dropped} | ${a.models.twap?.absBps.toFixed(2) ?? '–'} | ${cells.join(' | ')} |`);
    }
    lines.push('');
    lines.push('Dropped: anchors removed in all splits (gap, zero-volume bar in the horizon, no normalizer, purge between splits).');
  }
  if (nonCausal.length > 0) {
    lines.push('');
    lines.push(`† NOT CAUSAL: ${nonCausal.join(', ')} look${nonCausal.length === 1 ? 's' : ''} ahead (each allocation reads bars after its own information cut-off); for measuring the look-ahead leak only.`);
  }
  return lines.join('\n') + '\n';
}
