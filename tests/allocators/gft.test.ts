/**
 * The gft and gftSig models (method.md §5, issue 12): allocations on the simplex, the look-ahead
 * variants, gradients reaching every trainable weight, exact checkpoint round trips, training end
 * to end through trainModel, and the parameter summary against the layers' own formulas; gftSig
 * also with the log-signature option (its width, a training step, a checkpoint, old configs).
 * Causality is in causality.test.ts (same perturbation test as every allocator).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAllocator } from '../../src/allocators/index.js';
import { defaultModelConfig, modelLabel, parseModelConfig, type ModelConfig } from '../../src/allocators/neural/modelConfig.js';
import { NeuralAllocator, parameterSummary } from '../../src/allocators/neural/neuralAllocator.js';
import { orderTargets, ordersFromDataset } from '../../src/data/marketSeries.js';
import { SEQUENCE_CHANNELS } from '../../src/features/sequenceFeatures.js';
import { signaturePathShape } from '../../src/features/signaturePath.js';
import { causalMultiHeadAttentionParameterCount, grnParameterCount, gluParameterCount, signatureFeaturesParameterCount, tkanParameterCount, variableSelectionParameterCount } from '../../src/layers/index.js';
import { sigLength } from '../../src/native/signature.js';
import { logSigLength } from '../../src/ops/lyndonBasis.js';
import { tf } from '../../src/ops/tf.js';
import { vwapLossTensor } from '../../src/ops/vwapLossOp.js';
import { meanLosses, trainModel } from '../../src/train/trainModel.js';
import { twapAllocator } from '../../src/allocators/index.js';
import { removeDir, smallDataset, tempDir } from '../helpers/market.js';
import { randomizedModel } from '../helpers/models.js';
import { Rng } from '../../src/rng.js';

const dir = tempDir();
afterAll(() => removeDir(dir));
const dataset = smallDataset(2, 1500);
const H = dataset.horizon;
const KINDS = ['gft', 'gftSig'] as const;

/** A small GFT config: lookback 4, hidden 6, heads of width 8, a 48-bar signature path (its log-signature with `logSignature`). */
function small(kind: (typeof KINDS)[number], o: { lookahead?: number; cell?: 'kan' | 'lstm'; logSignature?: boolean } = {}): ModelConfig {
  const c = defaultModelConfig(kind, H, 3_600_000);
  c.lookahead = o.lookahead ?? 0;
  c.dynamic = { ...c.dynamic, sequence: { ...c.dynamic.sequence, encoderLookback: 4 }, headHidden: 8, headLayers: 1 };
  c.gft = { ...c.gft!, hidden: 6, tkan: { ...c.gft!.tkan, cell: o.cell ?? 'kan' }, signature: { ...c.gft!.signature, path: { ...c.gft!.signature.path, length: 48 }, logSignature: o.logSignature ?? false } };
  return c;
}

const orders = () => ordersFromDataset(dataset, dataset.anchors('test').index.subarray(0, 40));

describe('gft and gftSig', () => {
  it.each([
    ...KINDS.flatMap((kind) => [
      [`${kind}`, kind, 0, 'kan', false],
      [`${kind} with lstm cells`, kind, 0, 'lstm', false],
      [`${kind} with lookahead 1`, kind, 1, 'kan', false],
    ] as const),
    ['gftSig with the log-signature', 'gftSig', 0, 'kan', true] as const,
  ])('%s: allocation rows are on the simplex', (_name, kind, lookahead, cell, logSignature) => {
    const m = randomizedModel(small(kind, { lookahead, cell, logSignature }), 3, 0.4);
    const a = m.allocate(orders());
    expect(a.length).toBe(40 * H);
    for (let b = 0; b < 40; b++) {
      const row = a.subarray(b * H, (b + 1) * H);
      for (const x of row) expect(x).toBeGreaterThanOrEqual(0);
      expect(Math.abs(row.reduce((s, x) => s + x, 0) - 1)).toBeLessThan(1e-6);
    }
    m.dispose();
  });

  it.each([
    ['gft', 0, 'gft'], ['gft', 1, 'gft+lookahead1'], ['gftSig', 0, 'gftSig'], ['gftSig', 1, 'gftSig+lookahead1'],
  ] as const)('%s with lookahead %i is labelled %s', (kind, lookahead, label) => {
    const m = NeuralAllocator.create(small(kind, { lookahead }), Rng.fromSeed(1));
    expect(m.label).toBe(label);
    expect(modelLabel(m.config)).toBe(label);
    expect(m.adaptive).toBe(true);
    m.dispose();
  });

  it.each([
    ...KINDS.flatMap((kind) => (['kan', 'lstm'] as const).map((cell) => [`${kind}, ${cell} cells`, kind, cell, false] as const)),
    ['gftSig with the log-signature, kan cells', 'gftSig', 'kan', true] as const,
  ])(
    '%s: one training step gives every trainable weight a nonzero gradient', (_name, kind, cell, logSignature) => {
      const m = randomizedModel(small(kind, { cell, logSignature }), 5, 0.4);
      const o = ordersFromDataset(dataset, dataset.anchors('train').index.subarray(0, 64));
      const inputs = { ...m.inputs(o), training: true };
      const vars = m.trainableNames.map((n) => m.variables.get(n)!);
      const { value, grads } = tf.variableGrads(() => vwapLossTensor(m.forward(inputs), orderTargets(o), 'abs'), vars);
      expect(Number.isFinite(value.dataSync()[0]!)).toBe(true);
      const byVar = new Map(vars.map((v, i) => [v.name, m.trainableNames[i]!]));
      const zero: string[] = [];
      for (const [name, g] of Object.entries(grads)) {
        const d = g.dataSync();
        let any = false;
        for (let i = 0; i < d.length; i++) {
          expect(Number.isFinite(d[i]!)).toBe(true);
          if (d[i] !== 0) any = true;
        }
        if (!any) zero.push(byVar.get(name)!);
      }
      expect(Object.keys(grads)).toHaveLength(vars.length);
      expect(zero).toEqual([]);
      tf.dispose([value, ...Object.values(grads)]);
      m.dispose();
    },
  );

  it.each(KINDS)('%s trains end to end: finite losses, the training loss falls, the checkpoint round trip is exact', async (kind) => {
    const path = join(dir, `${kind}.ckpt`);
    const r = await trainModel({
      dataset,
      model: small(kind),
      train: { batchSize: 128, samplesPerEpoch: 512, validationSamples: 256, epochs: 3, learningRate: 0.01, seed: 1 },
      out: path,
    });
    const history = r.states[0]!.history;
    expect(history).toHaveLength(3);
    for (const h of history) {
      expect(Number.isFinite(h.loss)).toBe(true);
      expect(Number.isFinite(h.valLoss)).toBe(true);
    }
    expect(history[2]!.loss).toBeLessThan(history[0]!.loss);
    const val = ordersFromDataset(dataset, dataset.anchors('validation', 'train').index);
    expect(meanLosses(r.model.allocate(val), val).abs).toBeLessThan(meanLosses(twapAllocator().allocate(val), val).abs);
    // save/load: every weight (moving statistics included) and every allocation bit for bit
    const loaded = loadAllocator(path);
    if (!(loaded instanceof NeuralAllocator) || !(r.model instanceof NeuralAllocator)) throw new Error('expected global models');
    expect(loaded.kind).toBe(kind);
    const want = r.model.getWeights();
    const got = loaded.getWeights();
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [name, w] of want) expect(Buffer.from(got.get(name)!.data.buffer).equals(Buffer.from(w.data.buffer)), name).toBe(true);
    if (kind === 'gftSig') expect(Array.from(want.get('gft/sig/movingVariance')!.data).some((x) => x !== 1)).toBe(true);
    const a = r.model.allocate(orders());
    const b = loaded.allocate(orders());
    for (let i = 0; i < a.length; i++) expect(Object.is(a[i], b[i])).toBe(true);
    loaded.dispose();
  }, 120_000);

  it('gftSig with the log-signature: one epoch through trainModel; the checkpoint keeps the option and round trips exactly', async () => {
    const path = join(dir, 'gftSig-logsig.ckpt');
    const r = await trainModel({
      dataset,
      model: small('gftSig', { logSignature: true }),
      train: { batchSize: 128, samplesPerEpoch: 256, validationSamples: 128, epochs: 1, learningRate: 0.01, seed: 1 },
      out: path,
    });
    const h = r.states[0]!.history;
    expect(h).toHaveLength(1);
    expect(Number.isFinite(h[0]!.loss) && Number.isFinite(h[0]!.valLoss)).toBe(true);
    const loaded = loadAllocator(path);
    if (!(loaded instanceof NeuralAllocator) || !(r.model instanceof NeuralAllocator)) throw new Error('expected global models');
    expect(loaded.config.gft!.signature.logSignature).toBe(true);
    const p = signaturePathShape(loaded.config.gft!.signature.path, 1);
    expect(loaded.getWeights().get('gft/sig/gamma')!.shape).toEqual([logSigLength(p.channels, loaded.config.gft!.signature.depth)]);
    const a = r.model.allocate(orders());
    const b = loaded.allocate(orders());
    for (let i = 0; i < a.length; i++) expect(Object.is(a[i], b[i])).toBe(true);
    loaded.dispose();
  }, 120_000);

  it('a gftSig config written before the option (no logSignature) parses to the signature', () => {
    const c = structuredClone(defaultModelConfig('gftSig')) as { gft: { signature: Record<string, unknown> } };
    delete c.gft.signature['logSignature'];
    const parsed = parseModelConfig(c);
    expect(parsed.gft!.signature.logSignature).toBe(false);
    expect(JSON.stringify(parsed)).toBe(JSON.stringify(defaultModelConfig('gftSig')));
  });

  it.each([
    ['from dynamic, same widths: the base curve, not the heads', 'dynamic', false],
    ['from gft of the same configuration: the heads too', 'gft', true],
  ] as const)('a gft warm start %s', (_name, fromKind, headsCopied) => {
    const base = defaultModelConfig('gft', H, dataset.assets[0]!.intervalMs);
    // dynamic with 4 LSTM units and gft with hidden 4: head/wh has the same shape in both
    const target: ModelConfig = { ...base, dynamic: { ...base.dynamic, headHidden: 4, headLayers: 1 }, gft: { ...base.gft!, hidden: 4 } };
    const source: ModelConfig = fromKind === 'gft' ? target : { ...defaultModelConfig('dynamic', H, dataset.assets[0]!.intervalMs), dynamic: { ...target.dynamic, lstmUnits: 4 } };
    const from = randomizedModel(source, 3, 0.3).getWeights();
    const gft = NeuralAllocator.create(target, Rng.fromSeed(1));
    const copied = gft.copyMatchingWeights(from, source);
    expect(copied).toEqual(expect.arrayContaining(['map/out/kernel', 'map/out/bias']));
    expect(copied.some((n) => n.startsWith('head/') || /^head\d+\//.test(n))).toBe(headsCopied);
    // without the source configuration (a caller that knows better): name and shape decide
    expect(NeuralAllocator.create(target, Rng.fromSeed(1)).copyMatchingWeights(from)).toContain('head/wh');
  });

  it.each([
    ...KINDS.flatMap((kind) => [32, 200].map((hidden) => [kind, hidden, false] as const)),
    ['gftSig', 32, true] as const,
    ['gftSig', 200, true] as const,
  ])('%s at hidden %i, log-signature %s: the summary adds up the layers\' own formulas', (kind, hidden, logSignature) => {
    const c = defaultModelConfig(kind);
    c.gft!.hidden = hidden;
    c.gft!.signature.logSignature = logSignature;
    const s = parameterSummary(c);
    const U = hidden;
    const p = signaturePathShape(c.gft!.signature.path, 1);
    const V = SEQUENCE_CHANNELS.length + (kind === 'gftSig' ? (logSignature ? logSigLength : sigLength)(p.channels, c.gft!.signature.depth) : 0);
    const want: Record<string, number> = {
      vsn: variableSelectionParameterCount(V, U, 3, U),
      tkan1: tkanParameterCount('kan', U, U),
      tkan2: tkanParameterCount('kan', U, U),
      skip: gluParameterCount(U, U) + 2 * U,
      grn: grnParameterCount(U, U, U),
      attention: causalMultiHeadAttentionParameterCount(U, 3),
    };
    if (kind === 'gftSig') want.sig = signatureFeaturesParameterCount(p.length, p.channels, c.gft!.signature.depth, logSignature);
    for (const [k, n] of Object.entries(want)) expect(s.groups[k], k).toBe(n);
    const m = NeuralAllocator.create(c, Rng.fromSeed(1));
    expect(s.total).toBe(m.parameterCount);
    m.dispose();
  });
});
