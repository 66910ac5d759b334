/**
 * Closed-loop sessions (Allocator.openClosedLoop): step t of a session must equal column t of
 * the whole-forward reference (NeuralAllocator.allocateClosedLoop with the same executed
 * fractions), for dynamic configs with and without the execution state and head layers, in
 * chunks smaller than the batch, through a per-asset model, and for fixed (non-adaptive) models.
 */
import { describe, expect, it } from 'vitest';
import { defaultModelConfig, type ModelConfig } from '../../src/allocators/neural/modelConfig.js';
import { PerAssetAllocator } from '../../src/allocators/perAssetAllocator.js';
import type { Allocator } from '../../src/allocators/allocator.js';
import { buildAssetSeries, datasetConfigFrom } from '../../src/data/index.js';
import type { MarketSeries, OrderBatch } from '../../src/data/marketSeries.js';
import { Rng } from '../../src/rng.js';
import { HOUR_MS, seasonalBars } from '../helpers/market.js';
import { randomizedModel } from '../helpers/models.js';
import { thrown } from '../helpers/errors.js';

const H = 12;
const base = defaultModelConfig('dynamic');
const dynamic = (over: Partial<ModelConfig['dynamic']>): ModelConfig => ({ ...base, dynamic: { ...base.dynamic, sequence: { encoderLookback: 8, baselineBars: 336 }, ...over } });
/** A small GFT (hidden 6) over the same sequence and heads. */
const gft = (kind: 'gft' | 'gftSig'): ModelConfig => {
  const g = defaultModelConfig(kind).gft!;
  return { ...dynamic({}), kind, gft: { ...g, hidden: 6, signature: { ...g.signature, path: { ...g.signature.path, length: 48 } } } };
};
const series: MarketSeries[] = ['AAA', 'BBB'].map((s, i) => buildAssetSeries(seasonalBars(1200, 5 + i), HOUR_MS, datasetConfigFrom({}), s).series);
const starts = [700, 731, 760, 800, 843, 900, 950, 1000, 1050];
const orders: OrderBatch = { series, assetIndex: Int32Array.from(starts, (_, i) => i % 2), bar: Int32Array.from(starts), horizon: H, symbols: ['AAA', 'BBB'] };

/** Executed fractions: the plan scaled by random fill ratios (some bins fully missed). */
function executedFrom(plan: Float64Array, seed: number): Float64Array {
  const rng = Rng.fromSeed(seed);
  return Float64Array.from(plan, (a) => (rng.nextFloat() < 0.2 ? 0 : a * rng.nextFloat()));
}

/** Every step of a session against the reference's column t, with the same executed fractions. */
function expectSessionMatches(model: Allocator & { allocateClosedLoop(o: OrderBatch, e: Float64Array, k: number, chunk?: number): Float64Array }, session: Allocator, executed: Float64Array): void {
  const loop = session.openClosedLoop!(orders);
  try {
    for (let t = 0; t < H; t++) {
      const got = loop.next(executed, t);
      const ref = model.allocateClosedLoop(orders, executed, t);
      starts.forEach((_, b) => expect(got[b], `order ${b} bin ${t}`).toBeCloseTo(t === H - 1 ? Math.max(0, ref[b * H + t]!) : ref[b * H + t]!, 6));
    }
  } finally {
    loop.dispose();
  }
}

describe('closed-loop session matches the whole-forward reference', () => {
  it.each([
    ['execution state, 1 head layer', dynamic({})],
    ['no execution state', dynamic({ executionState: false })],
    ['linear heads (0 layers)', dynamic({ headLayers: 0 })],
    ['2 head layers, learned base', dynamic({ headLayers: 2, base: 'learned' })],
    ['gft', gft('gft')],
    ['gftSig', gft('gftSig')],
  ])('%s', (_name, config) => {
    const model = randomizedModel(config, 3);
    const executed = executedFrom(model.allocate(orders), 5);
    expectSessionMatches(model, model, executed);
    model.dispose();
  });

  it('in chunks smaller than the batch (4 orders per chunk)', () => {
    const model = randomizedModel(dynamic({}), 4);
    const executed = executedFrom(model.allocate(orders), 6);
    const loop = model.openClosedLoop(orders, 4);
    for (let t = 0; t < H; t++) {
      const got = loop.next(executed, t);
      const ref = model.allocateClosedLoop(orders, executed, t);
      starts.forEach((_, b) => expect(got[b]).toBeCloseTo(Math.max(0, ref[b * H + t]!), 6));
    }
    loop.dispose();
  });

  it('through a per-asset model (each asset its own session)', () => {
    const models = new Map([['AAA', randomizedModel(dynamic({}), 7)], ['BBB', randomizedModel(dynamic({}), 8)]]);
    const perAsset = new PerAssetAllocator(models);
    const executed = executedFrom(perAsset.allocate(orders), 9);
    const loop = perAsset.openClosedLoop(orders);
    for (let t = 0; t < H; t++) {
      const got = loop.next(executed, t);
      starts.forEach((_, b) => {
        const model = models.get(b % 2 === 0 ? 'AAA' : 'BBB')!;
        const one: OrderBatch = { ...orders, assetIndex: Int32Array.of(b % 2), bar: Int32Array.of(starts[b]!) };
        const ref = model.allocateClosedLoop(one, executed.slice(b * H, (b + 1) * H), t);
        expect(got[b]).toBeCloseTo(Math.max(0, ref[t]!), 6);
      });
    }
    loop.dispose();
    perAsset.dispose();
  });

  it('executing the plan exactly reproduces the open-loop allocation', () => {
    const model = randomizedModel(dynamic({}), 12);
    const plan = model.allocate(orders);
    const loop = model.openClosedLoop(orders);
    for (let t = 0; t < H; t++) {
      const got = loop.next(plan, t);
      starts.forEach((_, b) => expect(got[b]).toBeCloseTo(plan[b * H + t]!, 6));
    }
    loop.dispose();
    model.dispose();
  });

  it('a static model (not adaptive) returns its fixed allocation whatever was executed', () => {
    const model = randomizedModel({ ...defaultModelConfig('static') }, 13);
    const plan = model.allocate(orders);
    const loop = model.openClosedLoop(orders);
    for (let t = 0; t < H; t++) expect(Array.from(loop.next(new Float64Array(plan.length), t))).toEqual(starts.map((_, b) => plan[b * H + t]!));
    loop.dispose();
  });
});

describe('closed-loop session: bad input', () => {
  const model = randomizedModel(dynamic({}), 14);
  it.each([
    ['a step out of order', (e: Float64Array) => model.openClosedLoop(orders).next(e, 1), 'ERR_ARG', /expected step 0, got 1/],
    ['executed of the wrong length', () => model.openClosedLoop(orders).next(new Float64Array(3), 0), 'ERR_SHAPE', /executed: expected 108 values/],
  ])('%s', (_name, call, code, message) => {
    const err = thrown(() => call(new Float64Array(starts.length * H)));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });
});
