/**
 * The allocator checklist of docs/architecture.md, proven: a fixed-curve allocator defined and
 * registered in this one file is evaluated by `sigvwap evaluate --models` and scheduled by
 * `sigvwap schedule` with no other module touched; and the registry's errors.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Allocator, registerAllocator, resolveAllocator, unregisterAllocator } from '../../src/allocators/index.js';
import type { OrderBatch } from '../../src/data/marketSeries.js';
import { runEvaluate } from '../../src/cli/evaluate.js';
import { runSchedule } from '../../src/cli/schedule.js';
import { buildDataset } from '../../src/data/index.js';
import { trainModel } from '../../src/train/trainModel.js';
import { HOUR_MS, T0_MS, removeDir, tempDir } from '../helpers/market.js';
import { captureIo as io, twoAssetStore } from '../helpers/cli.js';

// ---- the extra allocator: front-loaded, a_t ∝ H - t (reads no bar) ----
function frontLoaded(horizon: number): Float64Array {
  const w = Float64Array.from({ length: horizon }, (_, t) => horizon - t);
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / sum);
}
const fixedCurve = (): Allocator => ({
  label: 'fixedCurve',
  kind: 'fixedCurve',
  lookahead: 0,
  horizon: undefined,
  adaptive: false,
  historyBars: () => 0,
  allocate(orders: OrderBatch): Float64Array {
    const curve = frontLoaded(orders.horizon);
    const out = new Float64Array(orders.bar.length * orders.horizon);
    for (let b = 0; b < orders.bar.length; b++) out.set(curve, b * orders.horizon);
    return out;
  },
});
registerAllocator({ name: 'fixedCurve', description: 'a_t ∝ H - t (test)', create: fixedCurve });
// ---- end of the extra allocator ----

const dir = tempDir();
afterAll(() => {
  removeDir(dir);
  unregisterAllocator('fixedCurve');
});

const store = join(dir, 'store');
beforeAll(async () => {
  await twoAssetStore(dir);
});

describe('a registered allocator goes through the whole pipeline', () => {
  it('sigvwap evaluate --models fixedCurve scores it on every asset against TWAP', async () => {
    const e = io();
    const report = await runEvaluate({ models: ['fixedCurve'], store, split: 'test', replicates: 20, workers: 0, progress: false }, e);
    expect(report.allocators.map((a) => a.label)).toEqual(['twap', 'histCurve', 'fixedCurve']);
    const all = report.universes.find((u) => u.universe === 'all')!;
    expect(all.orders).toBeGreaterThan(0);
    // a different curve from TWAP: a different loss, and a comparison row
    expect(all.models.fixedCurve!.absBps).not.toBe(all.models.twap!.absBps);
    expect(all.comparisons.some((c) => c.model === 'fixedCurve' && c.reference === 'twap')).toBe(true);
    expect(e.out()).toContain('| fixedCurve | 1 |');
  });

  it('sigvwap schedule --model fixedCurve splits an order along its curve', () => {
    const s = io();
    const start = new Date(T0_MS + 1300 * HOUR_MS).toISOString();
    const schedule = runSchedule({ model: 'fixedCurve', asset: 'AAAUSDT', start, side: 'buy', quantity: 78, store, json: true }, s);
    expect(schedule.model).toBe('fixedCurve');
    expect(schedule.bars.map((b) => b.fraction)).toEqual(Array.from(frontLoaded(12)));
    expect(schedule.bars.map((b) => b.quantity)).toEqual(Array.from(frontLoaded(12), (f, t) => (t < 11 ? 78 * f : expect.closeTo(78 * f, 9))));
    expect(JSON.parse(s.out()).bars[0].firm).toBe(true);
  });
});

describe('registry errors', () => {
  it.each([
    ['a taken name', () => registerAllocator({ name: 'twap', description: '', create: fixedCurve }), /already registered/],
    ['a malformed name', () => registerAllocator({ name: 'my curve', description: '', create: fixedCurve }), /letters, digits/],
    ['an unknown name', () => resolveAllocator('noSuchCurve'), /neither a registered allocator \(twap, histCurve, fixedCurve\)/],
  ])('rejects %s with ERR_ARG', (_name, call, message) => {
    expect(call).toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringMatching(message) }));
  });

  it('a missing checkpoint path is named by the checkpoint reader (ERR_CHECKPOINT)', () => {
    expect(() => resolveAllocator(join(dir, 'missing.ckpt'))).toThrow(expect.objectContaining({ code: 'ERR_CHECKPOINT', message: expect.stringContaining('missing.ckpt') }));
  });
});

describe('label=spec', () => {
  it.each([
    { name: 'a registered allocator', spec: 'front=fixedCurve', label: 'front', kind: 'fixedCurve' },
    { name: 'a label with + - _ .', spec: 'tw-a_p+1.x=twap', label: 'tw-a_p+1.x', kind: 'twap' },
  ])('$name keeps its behaviour under the new label', ({ spec, label, kind }) => {
    const a = resolveAllocator(spec, { horizon: 12 });
    expect([a.label, a.kind]).toEqual([label, kind]);
    const orders = { series: [], assetIndex: new Int32Array(2), bar: new Int32Array(2), horizon: 12 } as OrderBatch;
    expect(Array.from(a.allocate(orders))).toEqual(Array.from(resolveAllocator(kind, { horizon: 12 }).allocate(orders)));
  });

  it('a trained model (a class with private fields) evaluates under its label, apart from the same kind', async () => {
    const ds = await buildDataset({ store, workers: 0 });
    const path = join(dir, 'label-static.ckpt');
    await trainModel({ dataset: ds, model: { kind: 'static' }, train: { batchSize: 128, samplesPerEpoch: 256, validationSamples: 256, epochs: 1 }, out: path, dataWorkers: 0 });
    const report = await runEvaluate({ models: ['twap', path, `wide=${path}`], store, split: 'test', replicates: 20, workers: 0, progress: false }, io());
    expect(report.allocators.map((a) => [a.label, a.seeds])).toEqual([['twap', 1], ['histCurve', 1], ['static', 1], ['wide', 1]]);
    const all = report.universes.find((u) => u.universe === 'all')!;
    expect(all.models.wide!.absBps).toBe(all.models.static!.absBps);
  });
});
