/**
 * Inference: schedules from a store, the causal cut of the history, errors that name the
 * argument, and the stepwise form of a dynamic model (identical to the batch allocations).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomizedModel } from '../helpers/models.js';
import { buildAssetSeries, datasetConfigFrom } from '../../src/data/index.js';
import { saveCheckpoint, type CheckpointState } from '../../src/allocators/neural/checkpoint.js';
import type { MarketSeries, OrderBatch } from '../../src/data/marketSeries.js';
import { defaultModelConfig, type ModelConfig } from '../../src/allocators/neural/modelConfig.js';
import { NeuralAllocator } from '../../src/allocators/neural/neuralAllocator.js';
import { scheduleOrder } from '../../src/execution/scheduleOrder.js';
import { StepwiseSchedule, beginStepwiseSchedule } from '../../src/execution/stepwiseSchedule.js';
import { truncateSeries } from '../../src/data/marketSeries.js';
import { DEFAULT_TRAIN_CONFIG } from '../../src/train/trainConfig.js';
import { HOUR_MS, T0_MS, removeDir, seasonalBars, storeWith, tempDir } from '../helpers/market.js';

const dir = tempDir();
afterAll(() => removeDir(dir));
const H = 12;
const N = 1200;
const bars = seasonalBars(N, 21);
const series: MarketSeries = buildAssetSeries(bars, HOUR_MS, datasetConfigFrom({}), 'SYNUSDT').series;
const iso = (bar: number) => new Date(T0_MS + bar * HOUR_MS).toISOString();
let store = '';
let storeShort = '';
const R = 1000;

const randomModel = (config: ModelConfig, seed = 3): NeuralAllocator => randomizedModel(config, seed);

function save(model: NeuralAllocator, name: string): string {
  const path = join(dir, name);
  const w = model.getWeights();
  const state = { format: 'sigvwap-checkpoint', version: 1, label: model.label, model: model.config, train: DEFAULT_TRAIN_CONFIG, asset: null, epoch: 1, done: true, stopReason: 'max-epochs', bestEpoch: 1, bestValLoss: 0, plateauWait: 0, stopWait: 0, optimizer: { step: 1, learningRate: 1e-3 }, rng: [1, 2, 3, 4], fingerprint: '', dataset: {}, trainAnchors: 0, validationAnchors: 0, parameters: 0, history: [], elapsedMs: 0, updatedAt: '' } as CheckpointState;
  saveCheckpoint(path, state, { current: w, best: w, adamM: new Map(), adamV: new Map() });
  return path;
}

const dynamicConfig: ModelConfig = { ...defaultModelConfig('dynamic'), dynamic: { ...defaultModelConfig('dynamic').dynamic, sequence: { encoderLookback: 8, baselineBars: 336 } } };
const staticModel = randomModel(defaultModelConfig('static'));
const dynamicModel = randomModel(dynamicConfig);
let staticPath = '';
let dynamicPath = '';

beforeAll(async () => {
  store = await storeWith(dir, 'SYNUSDT', bars);
  storeShort = await storeWith(dir, 'SYNUSDT', bars, R);
  staticPath = save(staticModel, 'static.ckpt');
  dynamicPath = save(dynamicModel, 'dynamic.ckpt');
});

const order = (s: MarketSeries, r: number): OrderBatch => ({ series: [s], assetIndex: Int32Array.of(0), bar: Int32Array.of(r), horizon: H });

describe('scheduleOrder', () => {
  it('splits a TWAP order evenly over the bars after the start, with quantities and times', () => {
    const s = scheduleOrder({ model: 'twap', store, asset: 'SYNUSDT', start: iso(R), side: 'sell', quantity: 24 });
    expect(s.bars.map((b) => b.fraction)).toEqual(new Array(H).fill(1 / H));
    expect(s.bars.map((b) => b.quantity)).toEqual(new Array(H).fill(2));
    expect(s.bars[1]!.openTime).toBe(iso(R + 1));
    expect(s.side).toBe('sell');
  });

  it.each([
    ['static', () => staticPath, () => staticModel],
    ['dynamic', () => dynamicPath, () => dynamicModel],
  ])('%s: a historical order replays the model allocations on the stored bars', (_name, path, model) => {
    const s = scheduleOrder({ model: path(), store, asset: 'SYNUSDT', start: iso(R) });
    expect(s.bars.map((b) => b.fraction)).toEqual(Array.from(model().allocate(order(series, R))));
    expect(s.bars.every((b) => b.firm)).toBe(true);
  });

  it.each([
    ['static', () => staticPath, H],
    ['dynamic', () => dynamicPath, 1],
  ])('%s: a live order (start = the bar after the store ends) reads only the past; %i allocation(s) firm', (_name, path, firm) => {
    const live = scheduleOrder({ model: path(), store: storeShort, asset: 'SYNUSDT', start: iso(R) });
    const replay = scheduleOrder({ model: path(), store, asset: 'SYNUSDT', start: iso(R) });
    expect(live.bars.filter((b) => b.firm)).toHaveLength(firm);
    expect(live.bars.slice(0, firm).map((b) => b.fraction)).toEqual(replay.bars.slice(0, firm).map((b) => b.fraction));
    expect(live.bars.reduce((a, b) => a + b.fraction, 0)).toBeCloseTo(1, 6);
    expect(live.historyEndMs).toBe(T0_MS + (R - 1) * HOUR_MS);
  });

  it.each([
    ['start off the bar grid', () => ({ start: new Date(T0_MS + R * HOUR_MS + 60_000).toISOString() }), /bar grid/],
    ['start after the next bar', () => ({ store: storeShort, start: iso(R + 1) }), /outside/],
    ['too little history', () => ({ model: staticPath, start: iso(100) }), /bars of history/],
    ['a horizon the model was not trained for', () => ({ model: staticPath, horizon: 6 }), /horizon/],
    ['an unknown asset', () => ({ asset: 'NOPEUSDT' }), /NOPEUSDT/],
    ['an unparsable start', () => ({ start: 'yesterday' }), /start/],
  ])('rejects %s with ERR_ARG', (_name, patch, message) => {
    expect(() => scheduleOrder({ model: 'twap', store, asset: 'SYNUSDT', start: iso(R), ...patch() }))
      .toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(message) }));
  });

  it('refuses a look-ahead model on a live order', () => {
    const path = save(randomModel({ ...defaultModelConfig('static'), lookahead: 1 }), 'leak.ckpt');
    expect(() => scheduleOrder({ model: path, store: storeShort, asset: 'SYNUSDT', start: iso(R) }))
      .toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(/looks ahead/) }));
  });
});

describe('scheduleOrder with a per-asset model folder', () => {
  let afd = '';
  beforeAll(() => {
    afd = join(dir, 'dynamic-afd');
    mkdirSync(afd);
    copyFileSync(dynamicPath, join(afd, 'SYNUSDT.ckpt'));
    writeFileSync(join(afd, 'afd.json'), JSON.stringify({ kind: 'per-asset', label: 'dynamic-afd', assets: { SYNUSDT: 'SYNUSDT.ckpt' } }));
  });

  it.each([
    ['live', () => storeShort],
    ['historical', () => store],
  ])('a %s order is scheduled exactly as by the asset\'s own model (history bars and plan come through the Allocator interface)', (_name, st) => {
    const one = scheduleOrder({ model: dynamicPath, store: st(), asset: 'SYNUSDT', start: iso(R) });
    const perAsset = scheduleOrder({ model: afd, store: st(), asset: 'SYNUSDT', start: iso(R) });
    expect(perAsset.model).toBe('dynamic-afd');
    expect(perAsset.bars.map((b) => [b.fraction, b.firm])).toEqual(one.bars.map((b) => [b.fraction, b.firm]));
  });

  it('needs the history its asset\'s model needs', () => {
    const need = dynamicModel.historyBars(HOUR_MS);
    expect(need).toBeGreaterThan(100);
    expect(() => scheduleOrder({ model: afd, store, asset: 'SYNUSDT', start: iso(100) }))
      .toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringContaining(`needs ${need} bars of history`) }));
  });
});

describe('StepwiseSchedule', () => {
  it.each([700, 1000, 1150])('feeding bars one by one gives the batch allocations exactly (r=%i)', (r) => {
    const batch = Array.from(dynamicModel.allocate(order(series, r)));
    const step = new StepwiseSchedule(dynamicModel, truncateSeries(series, r), H);
    const got = [step.first()];
    for (let t = 0; t < H - 1; t++) got.push(step.observe({ volume: bars.volume[r + t]!, quoteVolume: bars.quoteVolume[r + t]! }));
    expect(got).toEqual(batch);
  });

  it('starts from the store and refuses to observe past the horizon', () => {
    const step = beginStepwiseSchedule({ model: dynamicPath, store: storeShort, asset: 'SYNUSDT', start: iso(R) });
    step.first();
    for (let t = 0; t < H - 1; t++) step.observe({ volume: 10, price: 100 });
    expect(step.allocations.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(() => step.observe({ volume: 1, price: 1 })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  });
});
