/**
 * Training: it learns, early stopping restores the best weights, reduce-on-plateau cuts the
 * learning rate, a run killed mid-epoch resumes bit for bit, resuming on other data or options
 * fails clearly, and per-asset (AFD) training writes one model per asset.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAllocator, loadCheckpoint, PerAssetAllocator } from '../../src/allocators/index.js';
import { ordersFromDataset } from '../../src/data/marketSeries.js';
import { trainModel, meanLosses, type TrainOptions } from '../../src/train/trainModel.js';
import { twapAllocator } from '../../src/allocators/index.js';
import { defaultModelConfig } from '../../src/allocators/neural/modelConfig.js';
import { readContainer, writeContainer } from '../../src/allocators/neural/checkpointFile.js';
import { removeDir, smallDataset, tempDir } from '../helpers/market.js';

const dir = tempDir();
afterAll(() => removeDir(dir));
const dataset = smallDataset(2, 1500);
const small = { batchSize: 256, samplesPerEpoch: 1024, validationSamples: 512 };

const opts = (name: string, o: Partial<TrainOptions> = {}): TrainOptions => ({
  dataset,
  model: { kind: 'static' },
  train: { ...small, epochs: 3 },
  out: join(dir, name),
  ...o,
});

describe('trainModel', () => {
  it.each([
    // trending prices, flat volume: a middle-heavy constant curve beats TWAP
    ['constCurve on a trending market', { kind: 'constCurve' as const }, smallDataset(2, 1500, {}, 0, 3), 0.03, 0.99],
    // hour-of-day volume profile: the static model learns hour-dependent curves
    ['static on a seasonal market', { kind: 'static' as const }, dataset, 0.003, 0.5],
  ])('%s learns an allocation that beats TWAP on validation orders', async (name, model, data, lr, ratio) => {
    const r = await trainModel(opts(`learn-${name.replace(/ /g, '-')}.ckpt`, { dataset: data, model, train: { ...small, epochs: 4, learningRate: lr } }));
    const val = ordersFromDataset(data, data.anchors('validation', 'train').index);
    const twap = meanLosses(twapAllocator().allocate(val), val).abs;
    expect(meanLosses(r.model.allocate(val), val).abs).toBeLessThan(ratio * twap);
  });

  it('trains a small dynamic model end to end', async () => {
    const r = await trainModel(opts('dyn.ckpt', {
      model: { kind: 'dynamic', dynamic: { sequence: { encoderLookback: 4, baselineBars: 336 }, lstmUnits: 4, headHidden: 4, headLayers: 1, base: 'features', executionState: true } },
      train: { batchSize: 128, samplesPerEpoch: 256, validationSamples: 256, epochs: 1 },
    }));
    expect(r.states[0]!.history).toHaveLength(1);
    expect(Number.isFinite(r.states[0]!.history[0]!.valLoss)).toBe(true);
  });

  it('a dynamic model warm-started from a static checkpoint starts as that static model', async () => {
    const st = await trainModel(opts('warm-static.ckpt', { train: { ...small, epochs: 1, learningRate: 0.003 } }));
    const dyn = { kind: 'dynamic' as const, dynamic: { sequence: { encoderLookback: 4, baselineBars: 336 }, lstmUnits: 4, headHidden: 4, headLayers: 1, base: 'features' as const, executionState: true } };
    // learning rate tiny and one batch: the heads barely move away from f_t = 1
    const r = await trainModel(opts('warm-dyn.ckpt', { model: dyn, train: { batchSize: 64, samplesPerEpoch: 64, validationSamples: 256, epochs: 1, learningRate: 1e-9, initFrom: join(dir, 'warm-static.ckpt') } }));
    const val = ordersFromDataset(dataset, dataset.anchors('test').index.subarray(0, 30));
    const a = r.model.allocate(val);
    const b = st.model.allocate(val);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-6);
  });

  it('warm-starting from a checkpoint with other features fails with ERR_CHECKPOINT', async () => {
    await trainModel(opts('other-features.ckpt', { model: { kind: 'static', staticFeatures: { ...defaultModelConfig('static').staticFeatures, histCurveDays: [1] } }, train: { ...small, epochs: 1 } }));
    await expect(trainModel(opts('warm-bad.ckpt', { train: { ...small, epochs: 1, initFrom: join(dir, 'other-features.ckpt') } })))
      .rejects.toMatchObject({ code: 'ERR_CHECKPOINT', message: expect.stringMatching(/histCurveDays/) });
  });

  it('early stopping restores the best weights (here: the initial TWAP model)', async () => {
    const r = await trainModel(opts('diverge.ckpt', { train: { ...small, epochs: 6, learningRate: 50, earlyStoppingPatience: 2, plateauPatience: 10 } }));
    const s = r.states[0]!;
    expect(s.stopReason).toBe('early-stopping');
    expect(s.bestEpoch).toBe(0);
    const val = ordersFromDataset(dataset, dataset.anchors('validation').index.subarray(0, 50));
    const a = r.model.allocate(val);
    for (const x of a) expect(x).toBeCloseTo(1 / 12, 6);
  });

  it('reduce-on-plateau multiplies the learning rate by the factor after `patience` bad epochs', async () => {
    const r = await trainModel(opts('plateau.ckpt', { train: { ...small, epochs: 4, learningRate: 50, plateauPatience: 1, plateauFactor: 0.5, minLearningRate: 1e-6, earlyStoppingPatience: 100 } }));
    expect(r.states[0]!.history.map((h) => h.learningRate)).toEqual([50, 25, 12.5, 6.25]);
  });

  it('a run killed mid-epoch resumes exactly: same weights, history and RNG state as an uninterrupted run', async () => {
    const full = await trainModel(opts('full.ckpt'));
    const path = join(dir, 'killed.ckpt');
    await expect(trainModel(opts('killed.ckpt', {
      onBatch: ({ epoch, batch }) => {
        if (epoch === 2 && batch === 2) throw new Error('killed');
      },
    }))).rejects.toThrow('killed');
    expect(loadCheckpoint(path).state.epoch).toBe(1);
    const resumed = await trainModel(opts('killed.ckpt', { resume: true }));
    const a = loadCheckpoint(join(dir, 'full.ckpt'));
    const b = loadCheckpoint(path);
    const strip = (h: typeof a.state.history) => h.map(({ elapsedMs: _e, ...rest }) => rest);
    expect(strip(b.state.history)).toEqual(strip(a.state.history));
    expect(b.state.rng).toEqual(a.state.rng);
    expect(b.state.optimizer).toEqual(a.state.optimizer);
    for (const group of ['current', 'best', 'adamM', 'adamV'] as const) {
      for (const [name, w] of a.weights[group]) expect(Array.from(b.weights[group].get(name)!.data), `${group}/${name}`).toEqual(Array.from(w.data));
    }
    expect(resumed.states[0]!.epoch).toBe(full.states[0]!.epoch);
  });

  it('resume with more epochs continues a finished run', async () => {
    await trainModel(opts('extend.ckpt', { train: { ...small, epochs: 1 } }));
    const r = await trainModel(opts('extend.ckpt', { train: { ...small, epochs: 2 }, resume: true }));
    expect(r.states[0]!.history.map((h) => h.epoch)).toEqual([1, 2]);
  });

  it.each([
    ['other data', () => opts('mismatch.ckpt', { dataset: smallDataset(2, 1400), resume: true }), /other data/],
    ['other training options', () => opts('mismatch.ckpt', { train: { ...small, epochs: 3, batchSize: 128 }, resume: true }), /other training options/],
    ['another model', () => opts('mismatch.ckpt', { model: { kind: 'static', staticHidden: [4] }, resume: true }), /another model configuration/],
  ])('resuming on %s fails with ERR_CHECKPOINT', async (_name, make, message) => {
    if (!existsSync(join(dir, 'mismatch.ckpt'))) await trainModel(opts('mismatch.ckpt', { train: { ...small, epochs: 1 } }));
    await expect(trainModel(make())).rejects.toMatchObject({ code: 'ERR_CHECKPOINT', message: expect.stringMatching(message) });
  });

  it('refuses to replace an existing checkpoint without resume or overwrite', async () => {
    await trainModel(opts('exists.ckpt', { train: { ...small, epochs: 1 } }));
    await expect(trainModel(opts('exists.ckpt', { train: { ...small, epochs: 1 } }))).rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringMatching(/exists/) });
  });

  it.each([
    ['epochs', { epochs: 0 }],
    ['batchSize', { batchSize: -1 }],
    ['plateauFactor', { plateauFactor: 1.5 }],
    ['loss', { loss: 'huber' as 'abs' }],
  ])('names the bad option %s', async (name, train) => {
    await expect(trainModel(opts('bad.ckpt', { train: { ...small, ...train } }))).rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringContaining(name) });
  });

  it('per-asset mode trains one model per asset and loads back as one allocator', async () => {
    const out = join(dir, 'afd');
    const r = await trainModel(opts('afd', { out, train: { ...small, epochs: 1, mode: 'per-asset' } }));
    expect(r.states.map((s) => s.asset)).toEqual(['SYN0USDT', 'SYN1USDT']);
    const loaded = loadAllocator(out);
    expect(loaded).toBeInstanceOf(PerAssetAllocator);
    const orders = ordersFromDataset(dataset, dataset.anchors('test').index);
    expect(Array.from(loaded.allocate(orders))).toEqual(Array.from(r.model.allocate(orders)));
  });

  // Issue I #2: --overwrite deleted any directory (a recursive remove with no check)
  describe('overwrite replaces only what sigvwap wrote', () => {
    const perAsset = { ...small, epochs: 1, mode: 'per-asset' as const };
    it.each([
      ['a per-asset run into a folder of other files', 'notamodel', perAsset, (p: string) => { mkdirSync(p); writeFileSync(join(p, 'thesis.tex'), 'precious'); return join(p, 'thesis.tex'); }, /did not write \(thesis\.tex\)/],
      ['a per-asset run into a model folder with an extra file', 'afd-extra', perAsset, (p: string) => { mkdirSync(p); writeFileSync(join(p, 'afd.json'), JSON.stringify({ assets: {} })); writeFileSync(join(p, 'notes.md'), 'mine'); return join(p, 'notes.md'); }, /did not write \(notes\.md\)/],
      ['a global run over a file that is not a checkpoint', 'report.csv', { ...small, epochs: 1 }, (p: string) => { writeFileSync(p, 'a,b\n1,2\n'); return p; }, /not a sigvwap checkpoint/],
      ['a global run over a directory', 'adir', { ...small, epochs: 1 }, (p: string) => { mkdirSync(p); writeFileSync(join(p, 'x'), 'x'); return join(p, 'x'); }, /is a directory/],
    ])('refuses %s with ERR_ARG and keeps it', async (_name, name, train, make, message) => {
      const out = join(dir, name);
      const kept = make(out);
      const before = readFileSync(kept, 'utf8');
      await expect(trainModel(opts(name, { out, train, overwrite: true }))).rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringMatching(message) });
      expect(readFileSync(kept, 'utf8')).toBe(before);
    });

    it('replaces a per-asset model folder it wrote (and keeps the folder)', async () => {
      const out = join(dir, 'afd-again');
      await trainModel(opts('afd-again', { out, train: perAsset }));
      const r = await trainModel(opts('afd-again', { out, train: { ...perAsset, seed: 2 }, overwrite: true }));
      expect(r.states.map((s) => s.train.seed)).toEqual([2, 2]);
      expect(readdirSync(out).sort()).toEqual(['SYN0USDT.ckpt', 'SYN1USDT.ckpt', 'afd.json']);
    });
  });

  // Issue I #3: one writer per output
  it.each([
    ['a checkpoint', 'twice.ckpt', { ...small, epochs: 1 }],
    ['a per-asset folder', 'twice-afd', { ...small, epochs: 1, mode: 'per-asset' as const }],
  ])('a second run into %s while the first runs fails with ERR_IO; the first lands', async (_name, name, train) => {
    const first = trainModel(opts(name, { train, overwrite: true }));
    await expect(trainModel(opts(name, { train, overwrite: true }))).rejects.toMatchObject({ code: 'ERR_IO', message: expect.stringMatching(/is being written by pid/) });
    const r = await first;
    expect(r.states[0]!.epoch).toBe(1);
    expect(existsSync(join(dir, `${name}.lock`)) || existsSync(join(dir, name, '.lock'))).toBe(false);
  });

  // Issue I #9: --lr 1e6 ended with exit 0 and `val NaN`. Weights of 1e38 overflow the
  // logits to ±Infinity on the first batch: a deterministic divergence.
  it('a diverging run stops with ERR_DIVERGED and leaves the checkpoint at --out as it was', async () => {
    const good = join(dir, 'diverge-good.ckpt');
    await trainModel(opts('diverge-good.ckpt', { train: { ...small, epochs: 1 } }));
    const { header, binary } = readContainer(good);
    const entries = (header.weights as Record<string, { name: string; offset: number; length: number }[]>).best!;
    const kernel = entries.find((e) => e.name === 'map/out/kernel')!;
    new Float32Array(binary.buffer, binary.byteOffset + kernel.offset, kernel.length).fill(1e38);
    const huge = join(dir, 'diverge-huge.ckpt');
    writeContainer(huge, header, binary);
    const before = readFileSync(good);
    await expect(trainModel(opts('diverge-good.ckpt', { train: { ...small, epochs: 2, initFrom: huge }, overwrite: true })))
      .rejects.toMatchObject({ code: 'ERR_DIVERGED', message: expect.stringMatching(/is NaN.*smaller --lr/) });
    expect(readFileSync(good).equals(before)).toBe(true);
  });
});

