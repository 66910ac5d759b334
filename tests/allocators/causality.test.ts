/**
 * Causality (method.md §4): a_t may depend only on bars <= r+t-1 and a_0..a_{t-1}. For every
 * allocator, perturb every raw bar >= r+t (volume, prices), rebuild the series with the data
 * layer, and check that a_0..a_t are unchanged, bit for bit. The look-ahead variants must fail
 * the same check (the test can detect a one-bar leak).
 */
import { describe, expect, it } from 'vitest';
import { randomizedModel } from '../helpers/models.js';
import { histCurveAllocator, twapAllocator, type Allocator } from '../../src/allocators/index.js';
import type { MarketSeries } from '../../src/data/marketSeries.js';
import { defaultModelConfig, type ModelConfig } from '../../src/allocators/neural/modelConfig.js';
import { NeuralAllocator } from '../../src/allocators/neural/neuralAllocator.js';
import { HOUR_MS, seasonalBars } from '../helpers/market.js';
import { causalityProbe } from '../helpers/causality.js';

const H = 12;
const BARS = 1100;
const ANCHORS = [700, 1003];

/** A neural allocator with every trainable weight random (so all inputs matter). */
function randomModel(overrides: Partial<ModelConfig> & { kind: ModelConfig['kind'] }, series: MarketSeries): NeuralAllocator {
  const base = defaultModelConfig(overrides.kind, H, HOUR_MS);
  const config: ModelConfig = { ...base, ...overrides, dynamic: { ...base.dynamic, ...(overrides.dynamic ?? {}), sequence: { ...base.dynamic.sequence, encoderLookback: 8 } } };
  // a small GFT; the signature path of 400 bars ends before the order (it reads bars < r only)
  if (config.gft) config.gft = { ...config.gft, hidden: 6, ...(overrides.gft ?? {}) };
  const m = randomizedModel(config, 7, 0.4);
  const sample = probe.order(650, series);
  const rows = [600, 620, 650, 680, 699];
  m.fitStandardizer(m.rawFeatures({ ...sample, assetIndex: new Int32Array(rows.length), bar: Int32Array.from(rows) }), rows.length);
  return m;
}

const bars = seasonalBars(BARS, 5);
const probe = causalityProbe(bars, H);
const { series, firstViolation } = probe;

const allocators: [string, () => Allocator][] = [
  ['twap', () => twapAllocator()],
  ['histCurve', () => histCurveAllocator()],
  ['histCurve by weekday', () => histCurveAllocator({ byWeekday: true, days: 3 })],
  ['constCurve', () => randomModel({ kind: 'constCurve' }, series)],
  ['static linear', () => randomModel({ kind: 'static' }, series)],
  ['static mlp', () => randomModel({ kind: 'static', staticHidden: [8] }, series)],
  ['dynamic, features base', () => randomModel({ kind: 'dynamic' }, series)],
  ['dynamic, learned base, no execution state', () => randomModel({ kind: 'dynamic', dynamic: { ...defaultModelConfig('dynamic').dynamic, base: 'learned', executionState: false } }, series)],
  ['gft', () => randomModel({ kind: 'gft' }, series)],
  ['gft, lstm cells, learned base', () => randomModel({ kind: 'gft', dynamic: { ...defaultModelConfig('gft').dynamic, base: 'learned' }, gft: { ...defaultModelConfig('gft').gft!, tkan: { cell: 'lstm', gridSize: 5, kanUnits: null } } }, series)],
  ['gftSig', () => randomModel({ kind: 'gftSig' }, series)],
  ['gftSig, time-volume-price lead-lag path', () => randomModel({ kind: 'gftSig', gft: { ...defaultModelConfig('gftSig').gft!, signature: { path: { length: 50, channels: 'timeVolumePrice', leadLag: true, baselineBars: 48 }, depth: 3, logSignature: false } } }, series)],
  ['gftSig, log-signature of the lead-lag path', () => randomModel({ kind: 'gftSig', gft: { ...defaultModelConfig('gftSig').gft!, signature: { path: { length: 50, channels: 'timeVolumePrice', leadLag: true, baselineBars: 48 }, depth: 3, logSignature: true } } }, series)],
];

describe('causality: perturbing bars >= r+t leaves a_0..a_t unchanged', () => {
  it.each(allocators.flatMap(([name, make]) => ANCHORS.map((r) => [`${name}, r=${r}`, make, r] as const)))('%s', (_name, make, r) => {
    const allocator = make();
    const a = allocator.allocate(probe.order(r));
    expect(Math.abs(a.reduce((x, y) => x + y, 0) - 1)).toBeLessThan(1e-6);
    expect(firstViolation(allocator, r).t).toBe(-1);
  });

  it.each(['dynamic', 'gft', 'gftSig'] as const)('the %s model does read the bars of the order as they complete', (kind) => {
    // otherwise the check above would be vacuous for it
    expect(firstViolation(randomModel({ kind }, series), ANCHORS[0]!).changedLater).toBe(true);
  });

  it.each([
    ['static', { kind: 'static', lookahead: 1 }],
    ['dynamic', { kind: 'dynamic', lookahead: 1 }],
    ['gft', { kind: 'gft', lookahead: 1 }],
    ['gftSig', { kind: 'gftSig', lookahead: 1 }],
  ] as const)('%s with lookahead 1 fails the check (the leak is detected)', (_name, overrides) => {
    const v = firstViolation(randomModel(overrides, series), ANCHORS[0]!);
    expect(v.t).toBeGreaterThanOrEqual(0);
  });
});
