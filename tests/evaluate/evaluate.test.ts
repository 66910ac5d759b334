/**
 * Evaluation protocol and the moving-block bootstrap.
 */
import { describe, expect, it } from 'vitest';
import { pairedBlockBootstrap, checkBootstrapOptions } from '../../src/evaluate/blockBootstrap.js';
import { evaluateAllocators } from '../../src/evaluate/evaluateAllocators.js';
import { reportToMarkdown } from '../../src/evaluate/formatReport.js';
import { histCurveAllocator, twapAllocator, type Allocator } from '../../src/allocators/index.js';
import { Rng } from '../../src/rng.js';
import { smallDataset } from '../helpers/market.js';

/** AR(1) losses (correlated like overlapping orders), with the model `gain` lower in expectation. */
function series(n: number, seed: number, gain: number) {
  const r = Rng.fromSeed(seed);
  const reference = new Float64Array(n);
  const model = new Float64Array(n);
  let x = 0;
  let y = 0;
  for (let i = 0; i < n; i++) {
    x = 0.9 * x + r.nextNormal();
    y = 0.8 * y + 0.6 * r.nextNormal();
    reference[i] = 1 + 0.3 * Math.abs(x) + 0.1 * r.nextFloat();
    model[i] = reference[i]! * (1 - gain + 0.01 * y);
  }
  return { model, reference };
}

const opts = { replicates: 400, blockLength: 24, seed: 1, confidence: 0.95 };

describe('pairedBlockBootstrap', () => {
  it.each([
    ['a 10% better model', 0.1],
    ['a 2% better model', 0.02],
  ])('%s: the interval excludes zero and the paired test rejects', (_name, gain) => {
    const r = pairedBlockBootstrap([series(3000, 1, gain), series(2000, 2, gain)], { ...opts, blockLength: 48 });
    expect(r.ci[0]).toBeLessThan(r.improvement);
    expect(r.ci[1]).toBeGreaterThan(r.improvement);
    expect(r.ci[0]).toBeGreaterThan(0);
    expect(r.p).toBeLessThan(0.01);
  });

  it('95% intervals cover the true improvement in most of 40 independent markets', () => {
    // correlated losses (AR(1) 0.8, correlation length ~9 orders), blocks of 48
    let covered = 0;
    for (let k = 0; k < 40; k++) {
      const r = pairedBlockBootstrap([series(4000, 100 + k, 0.05)], { ...opts, blockLength: 48, replicates: 200, seed: k });
      if (r.ci[0] <= 0.05 && 0.05 <= r.ci[1]) covered++;
    }
    expect(covered).toBeGreaterThanOrEqual(33);
  });

  it('an identical-in-expectation model gets an interval containing zero and a large p', () => {
    const r = pairedBlockBootstrap([series(3000, 3, 0)], opts);
    expect(r.ci[0]).toBeLessThan(0);
    expect(r.ci[1]).toBeGreaterThan(0);
    expect(r.p).toBeGreaterThan(0.05);
  });

  it('longer blocks widen the interval of correlated losses', () => {
    const data = [series(4000, 4, 0.05)];
    const width = (l: number) => {
      const r = pairedBlockBootstrap(data, { ...opts, blockLength: l });
      return r.ci[1] - r.ci[0];
    };
    expect(width(100)).toBeGreaterThan(width(1) * 1.3);
  });

  it('is deterministic for a seed', () => {
    const data = [series(500, 5, 0.05)];
    expect(pairedBlockBootstrap(data, opts)).toEqual(pairedBlockBootstrap(data, opts));
  });

  it.each([
    ['blockLength', { blockLength: 6 }, /horizon/],
    ['replicates', { replicates: 5 }, /replicates/],
    ['confidence', { confidence: 1 }, /confidence/],
  ])('rejects %s', (_name, bad, message) => {
    expect(() => checkBootstrapOptions({ ...opts, ...bad }, 12)).toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(message) }));
  });
});

describe('evaluateAllocators', () => {
  const dataset = smallDataset(2, 1500);
  /** TWAP tilted towards the middle, under a custom label (a stand-in for a trained model). */
  const tilted = (label: string, seed: number, lookahead = 0): Allocator => ({
    label, kind: 'test', lookahead, horizon: undefined, adaptive: false, historyBars: () => 0,
    allocate(orders) {
      const H = orders.horizon;
      const out = new Float64Array(orders.bar.length * H);
      for (let b = 0; b < orders.bar.length; b++) {
        let s = 0;
        for (let t = 0; t < H; t++) s += out[b * H + t] = 1 + 0.5 * Math.sin((Math.PI * (t + 0.5)) / H) + 0.01 * seed;
        for (let t = 0; t < H; t++) out[b * H + t]! /= s;
      }
      return out;
    },
  });
  const report = evaluateAllocators({ dataset, allocators: [twapAllocator(), histCurveAllocator(), tilted('static', 1), tilted('static', 2), tilted('leaky', 1, 1)], bootstrap: { replicates: 100 } });

  it('reports every asset with its universe, orders and dropped counts', () => {
    expect(report.assets.map((a) => [a.symbol, a.universe])).toEqual(dataset.assets.map((a) => [a.symbol, a.universe]));
    for (const a of report.assets) expect(a.orders).toBe(dataset.assets.find((d) => d.symbol === a.symbol)!.anchors.test);
  });

  it('aggregates the training universe, the out-of-sample assets and all assets separately', () => {
    expect(report.universes.map((u) => [u.universe, u.assets])).toEqual([['train', 1], ['oos', 1], ['all', 2]]);
    const all = report.universes[2]!;
    expect(all.orders).toBe(report.assets.reduce((s, a) => s + a.orders, 0));
  });

  it('groups allocators with the same label as seeds (mean ± std)', () => {
    expect(report.allocators.find((a) => a.label === 'static')!.seeds).toBe(2);
    expect(report.universes[2]!.models.static!.absBpsStd).toBeGreaterThan(0);
    expect(report.universes[2]!.models.twap!.absBpsStd).toBe(0);
  });

  it('TWAP improves on itself by exactly 0 and the universe loss is the order-weighted mean', () => {
    const all = report.universes[2]!;
    const pooled = report.assets.reduce((s, a) => s + a.models.twap!.absBps * a.orders, 0) / all.orders;
    expect(all.models.twap!.absBps).toBeCloseTo(pooled, 9);
    for (const a of report.assets) expect(a.models.twap!.vsTwap!.abs).toBe(0);
  });

  it('compares every model with each reference present', () => {
    const pairs = report.universes[2]!.comparisons.map((c) => `${c.model}/${c.reference}`);
    expect(pairs).toEqual(expect.arrayContaining(['histCurve/twap', 'static/twap', 'leaky/twap', 'static/histCurve', 'leaky/static']));
    expect(pairs).not.toContain('twap/twap');
  });

  it('labels non-causal allocators in the Markdown table', () => {
    const md = reportToMarkdown(report);
    expect(md).toContain('| leaky † |');
    expect(md).toMatch(/NOT CAUSAL: leaky/);
    expect(md).toContain('### Out-of-sample assets');
  });

  it('needs twap among the allocators', () => {
    expect(() => evaluateAllocators({ dataset, allocators: [histCurveAllocator()] })).toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringContaining('twap') }));
  });
});
