/**
 * Checkpoint files: atomic container, bit-identical model reload, clear errors for corrupt
 * files and for checkpoints made for another feature set, and the tfjs IOHandler.
 */
import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomizedModel } from '../helpers/models.js';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../../src/ops/tf.js';
import { fileIOHandler, readContainer, writeContainer } from '../../src/allocators/neural/checkpointFile.js';
import { checkModelExpectation, loadAllocator, loadCheckpoint, saveCheckpoint, type CheckpointState } from '../../src/allocators/index.js';
import { ordersFromDataset } from '../../src/data/marketSeries.js';
import { defaultModelConfig, type ModelConfig } from '../../src/allocators/neural/modelConfig.js';
import { NeuralAllocator } from '../../src/allocators/neural/neuralAllocator.js';
import { DEFAULT_TRAIN_CONFIG } from '../../src/train/trainConfig.js';
import { removeDir, smallDataset, tempDir } from '../helpers/market.js';

const dir = tempDir();
afterAll(() => removeDir(dir));
const dataset = smallDataset(1, 1000);
const orders = ordersFromDataset(dataset, dataset.anchors('test').index.subarray(0, 40));

const randomized = (config: ModelConfig, seed: number): NeuralAllocator => randomizedModel(config, seed);

function stateFor(config: ModelConfig): CheckpointState {
  return {
    format: 'sigvwap-checkpoint', version: 1, label: config.kind, model: config, train: DEFAULT_TRAIN_CONFIG, asset: null, epoch: 3, done: true,
    stopReason: 'max-epochs', bestEpoch: 2, bestValLoss: 0.002, plateauWait: 1, stopWait: 1, optimizer: { step: 30, learningRate: 1e-3 },
    rng: [1, 2, 3, 4], fingerprint: 'f', dataset: {}, trainAnchors: 1, validationAnchors: 1, parameters: 1, history: [], elapsedMs: 1, updatedAt: '',
  };
}

function save(model: NeuralAllocator, name: string): string {
  const path = join(dir, name);
  const w = model.getWeights();
  saveCheckpoint(path, stateFor(model.config), { current: w, best: w, adamM: new Map(), adamV: new Map() });
  return path;
}

describe('checkpoint round trip', () => {
  it.each([
    ['constCurve', defaultModelConfig('constCurve')],
    ['static linear', defaultModelConfig('static')],
    ['static mlp', { ...defaultModelConfig('static'), staticHidden: [16, 8] }],
    ['dynamic', defaultModelConfig('dynamic')],
  ])('%s: a loaded model allocates bit-identically', (name, config) => {
    const model = randomized(config, 3);
    model.fitStandardizer(model.rawFeatures(orders), orders.bar.length);
    const path = save(model, `${name.replace(/ /g, '-')}.ckpt`);
    const loaded = loadAllocator(path);
    expect(Array.from(loaded.allocate(orders))).toEqual(Array.from(model.allocate(orders)));
    for (const [k, w] of model.getWeights()) expect(Array.from((loaded as NeuralAllocator).getWeights().get(k)!.data)).toEqual(Array.from(w.data));
  });

  it('keeps the training state in the header', () => {
    const path = save(randomized(defaultModelConfig('constCurve'), 1), 'state.ckpt');
    const { state } = loadCheckpoint(path);
    expect({ epoch: state.epoch, rng: state.rng, optimizer: state.optimizer, stopReason: state.stopReason }).toEqual({ epoch: 3, rng: [1, 2, 3, 4], optimizer: { step: 30, learningRate: 1e-3 }, stopReason: 'max-epochs' });
  });

  it('leaves no temporary file behind', () => {
    save(randomized(defaultModelConfig('constCurve'), 1), 'tidy.ckpt');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('checkpoint errors', () => {
  const good = () => save(randomized(defaultModelConfig('static'), 2), 'good.ckpt');

  it.each([
    ['missing file', (p: string) => `${p}.absent`, /cannot read checkpoint/],
    ['wrong magic', (p: string) => { const b = readFileSync(p); b.write('XXXX', 0); writeFileSync(`${p}.magic`, b); return `${p}.magic`; }, /wrong magic/],
    ['truncated', (p: string) => { const b = readFileSync(p); writeFileSync(`${p}.cut`, b.subarray(0, b.length - 10)); return `${p}.cut`; }, /file checksum mismatch/],
    ['flipped payload byte', (p: string) => { const b = readFileSync(p); b[b.length - 1]! ^= 0xff; writeFileSync(`${p}.flip`, b); return `${p}.flip`; }, /checksum/],
    // issue I #4: the checksum covered the weights only, so an edited header loaded
    ['edited header option (clip 10 -> 19)', (p: string) => { const b = readFileSync(p); const at = b.indexOf('"clip":10'); b.write('"clip":19', at); writeFileSync(`${p}.clip`, b); return `${p}.clip`; }, /file checksum mismatch/],
  ])('%s -> ERR_CHECKPOINT', (_name, corrupt, message) => {
    expect(() => loadAllocator(corrupt(good()))).toThrow(expect.objectContaining({ code: 'ERR_CHECKPOINT', message: expect.stringMatching(message) }));
  });

  it.each([
    ['horizon', { horizon: 6 }, /horizon 12 \(expected 6\)/],
    ['bar interval', { intervalMs: 900_000 }, /bar interval/],
    ['feature windows', { staticFeatures: { ...defaultModelConfig('static').staticFeatures, volumeWindows: [1, 2] } }, /staticFeatures.volumeWindows/],
    ['history days', { staticFeatures: { ...defaultModelConfig('static').staticFeatures, histCurveDays: [20] } }, /staticFeatures.histCurveDays/],
  ])('a checkpoint made for another %s is rejected with ERR_CHECKPOINT', (_name, expect_, message) => {
    expect(() => loadAllocator(good(), expect_)).toThrow(expect.objectContaining({ code: 'ERR_CHECKPOINT', message: expect.stringMatching(message) }));
  });

  // Issue I #9: a checkpoint with NaN weights (valid checksum) loaded, and evaluate failed
  // later with "alloc[0] is NaN" while schedule printed NaN fractions
  it('a checkpoint with a NaN weight (valid checksum) is rejected with ERR_CHECKPOINT naming the weight', () => {
    const path = good();
    const { header, binary } = readContainer(path);
    const entry = (header.weights as Record<string, { name: string; offset: number }[]>).best!.find((e) => e.name === 'map/out/bias')!;
    new Float32Array(binary.buffer, binary.byteOffset + entry.offset, 1)[0] = NaN;
    writeContainer(`${path}.nan`, header, binary);
    expect(() => loadAllocator(`${path}.nan`)).toThrow(expect.objectContaining({ code: 'ERR_CHECKPOINT', message: expect.stringContaining('map/out/bias[0] is NaN') }));
  });

  it('a version-1 file (payload checksum only) still loads', () => {
    const path = good();
    const v2 = readFileSync(path);
    const v1 = Buffer.concat([Buffer.from('SVWCKPT1', 'latin1'), v2.subarray(8, 12), v2.subarray(44)]);
    writeFileSync(`${path}.v1`, v1);
    expect(Array.from(loadAllocator(`${path}.v1`).allocate(orders))).toEqual(Array.from(loadAllocator(path).allocate(orders)));
  });

  it('a model config whose weights do not fit is rejected with ERR_CHECKPOINT', () => {
    const path = save(randomized(defaultModelConfig('static'), 2), 'shape.ckpt');
    const { header, binary } = readContainer(path);
    (header.model as ModelConfig).staticHidden = [4];
    writeContainer(path, header, binary);
    expect(() => loadAllocator(path)).toThrow(expect.objectContaining({ code: 'ERR_CHECKPOINT' }));
  });

  it('checkModelExpectation accepts a matching expectation', () => {
    const c = defaultModelConfig('dynamic');
    expect(() => checkModelExpectation(c, { horizon: 12, intervalMs: 3_600_000, staticFeatures: c.staticFeatures, sequence: c.dynamic.sequence }, 'x')).not.toThrow();
  });
});

describe('fileIOHandler (tfjs model artifacts in one atomic file)', () => {
  it('saves and loads a tfjs-layers model with identical predictions', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 4, inputShape: [3], activation: 'relu' }), tfl.layers.dense({ units: 2 })] });
    const path = join(dir, 'layers.svw');
    await model.save(fileIOHandler(path));
    expect(existsSync(path)).toBe(true);
    const loaded = await tfl.loadLayersModel(fileIOHandler(path));
    const x = tf.tensor2d([[1, 2, 3], [-1, 0.5, 2]]);
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((model.predict(x) as tf.Tensor).dataSync()));
  });

  it('refuses to load a training checkpoint as model artifacts', async () => {
    await expect(fileIOHandler(good2()).load!()).rejects.toMatchObject({ code: 'ERR_CHECKPOINT' });
  });
});

function good2(): string {
  return save(randomized(defaultModelConfig('constCurve'), 2), 'notartifacts.ckpt');
}
