/**
 * The batch pipeline: batches built by worker threads are the bytes the training thread would
 * build (every model kind, 0–2 workers, a short last batch), training is bit-identical with and
 * without data workers, an early exit abandons batches cleanly, and failures keep their code.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NeuralAllocator } from '../../src/allocators/neural/neuralAllocator.js';
import { defaultModelConfig, type ModelConfig } from '../../src/allocators/neural/modelConfig.js';
import { orderTargets, ordersFromDataset } from '../../src/data/marketSeries.js';
import { BatchPipeline, defaultDataWorkers } from '../../src/train/batchPipeline.js';
import { trainModel } from '../../src/train/trainModel.js';
import { Rng } from '../../src/rng.js';
import { SigvwapError } from '../../src/errors.js';
import { removeDir, smallDataset, tempDir } from '../helpers/market.js';

const dir = tempDir();
afterAll(() => removeDir(dir));
const dataset = smallDataset(3, 1500);
const ids = dataset.anchors('train').index.subarray(0, 300);

function dynamicConfig(executionState: boolean): ModelConfig {
  const c = defaultModelConfig('dynamic');
  c.dynamic.sequence.encoderLookback = 5;
  c.dynamic.executionState = executionState;
  return c;
}

function gftSigConfig(): ModelConfig {
  const c = dynamicConfig(true);
  return { ...defaultModelConfig('gftSig'), dynamic: c.dynamic, gft: { ...defaultModelConfig('gftSig').gft!, hidden: 4 } };
}

function model(config: ModelConfig): NeuralAllocator {
  const m = NeuralAllocator.create(config, Rng.fromSeed(3));
  const sample = ordersFromDataset(dataset, ids);
  m.fitStandardizer(m.rawFeatures(sample), ids.length);
  return m;
}

const bytes = (a: Float32Array | Float64Array | undefined) => (a ? Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64') : undefined);

describe('BatchPipeline', () => {
  it.each([
    { name: 'constCurve, 1 worker', config: defaultModelConfig('constCurve'), workers: 1 },
    { name: 'static, 0 workers', config: defaultModelConfig('static'), workers: 0 },
    { name: 'static, 2 workers', config: defaultModelConfig('static'), workers: 2 },
    { name: 'dynamic with execution state, 1 worker', config: dynamicConfig(true), workers: 1 },
    { name: 'dynamic without execution state, 2 workers', config: dynamicConfig(false), workers: 2 },
    { name: 'gftSig (signature path), 1 worker', config: gftSigConfig(), workers: 1 },
  ])('$name: every batch equals the inputs and targets built in this thread', async ({ config, workers }) => {
    const m = model(config);
    const pipeline = new BatchPipeline(dataset, { workers });
    try {
      const size = 64; // 300 anchors: 4 full batches and a short one of 44
      const seen: number[] = [];
      for await (const b of pipeline.batches(m.inputSpec(), ids, size)) {
        seen.push(b.ids.length);
        const orders = ordersFromDataset(dataset, ids.subarray(b.index * size, b.index * size + b.ids.length));
        const want = m.inputs(orders);
        const targets = orderTargets(orders);
        expect({ batch: b.inputs.batch, x: bytes(b.inputs.x), sequence: bytes(b.inputs.sequence), state: bytes(b.inputs.state), path: bytes(b.inputs.signaturePath) })
          .toEqual({ batch: want.batch, x: bytes(want.x), sequence: bytes(want.sequence), state: bytes(want.state), path: bytes(want.signaturePath) });
        expect(b.inputs.signaturePath !== undefined).toBe(config.kind === 'gftSig');
        expect([bytes(b.targets.price), bytes(b.targets.volume)]).toEqual([bytes(targets.price), bytes(targets.volume)]);
      }
      expect(seen).toEqual([64, 64, 64, 64, 44]);
    } finally {
      await pipeline.close();
      m.dispose();
    }
  });

  it('an early exit abandons the batches in flight and the next epoch starts clean', async () => {
    const m = model(defaultModelConfig('static'));
    const pipeline = new BatchPipeline(dataset, { workers: 1, depth: 3 });
    try {
      for await (const b of pipeline.batches(m.inputSpec(), ids, 32)) if (b.index === 1) break;
      const got: number[] = [];
      for await (const b of pipeline.batches(m.inputSpec(), ids.subarray(0, 96), 32)) got.push(b.ids[0]!);
      expect(got).toEqual([ids[0], ids[32], ids[64]]);
    } finally {
      await pipeline.close();
      m.dispose();
    }
  });

  it.each([
    { name: 'a bad anchor id (checked in this thread)', workers: 1, ids: Int32Array.of(0, -5), spec: 'ok', code: 'ERR_ARG', argument: 'anchorIds' },
    { name: 'a horizon the model was not built for (thrown in the worker, code kept)', workers: 1, ids, spec: 'horizon', code: 'ERR_SHAPE', argument: 'orders' },
    { name: 'a standardizer of the wrong width (thrown in the worker, code kept)', workers: 2, ids, spec: 'width', code: 'ERR_SHAPE', argument: 'features' },
    { name: 'a negative worker count', workers: -1, ids, spec: 'ok', code: 'ERR_ARG', argument: 'dataWorkers' },
  ])('$name is a typed error', async ({ workers, ids: batchIds, spec, code, argument }) => {
    const m = model(defaultModelConfig('static'));
    try {
      const s = m.inputSpec();
      if (spec === 'horizon') s.horizon = 7;
      if (spec === 'width') s.features = { ...s.features!, mean: s.features!.mean.subarray(1), std: s.features!.std.subarray(1) };
      const consume = async () => {
        const pipeline = new BatchPipeline(dataset, { workers });
        try {
          for await (const _ of pipeline.batches(s, batchIds, 64)) { /* consume */ }
        } finally {
          await pipeline.close();
        }
      };
      const err = await consume().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(SigvwapError);
      expect(err).toMatchObject({ code, data: expect.objectContaining({ argument }) });
    } finally {
      m.dispose();
    }
  });

  it('training with data workers is bit-identical to training in this thread', async () => {
    const run = async (dataWorkers: number) => {
      const r = await trainModel({
        dataset,
        model: dynamicConfig(true),
        train: { batchSize: 64, samplesPerEpoch: 192, validationSamples: 128, epochs: 2 },
        out: join(dir, `w${dataWorkers}.ckpt`),
        dataWorkers,
      });
      const w = (r.model as NeuralAllocator).getWeights();
      r.model.dispose();
      return [...w].map(([k, v]) => `${k}:${bytes(v.data)}`);
    };
    const inThread = await run(0);
    expect(await run(2)).toEqual(inThread);
  });

  it.each([
    { cores: 1, workers: 0 },
    { cores: 2, workers: 0 },
    { cores: 3, workers: 1 },
    { cores: 8, workers: 4 },
    { cores: 64, workers: 4 },
  ])('$cores cores default to $workers data workers (a worker needs a core the kernels leave free)', ({ cores, workers }) => {
    expect(defaultDataWorkers(cores)).toBe(workers);
  });
});
