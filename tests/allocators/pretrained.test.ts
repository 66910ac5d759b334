/**
 * The shipped models (models/*.ckpt with their cards models/*.md, `pretrained:<name>`): every
 * one loads, is causal (the perturbation probe of method.md §4), and is the model its card
 * describes; `export-model` keeps the best weights bit for bit and drops the optimizer state;
 * evaluate, schedule and backtest take `pretrained:<name>`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isAllocatorSpec, loadCheckpoint, pretrainedDir, pretrainedModels, resolveAllocator,
  type NeuralAllocator,
} from '../../src/allocators/index.js';
import { parseModelCardConfiguration } from '../../src/allocators/neural/pretrained.js';
import { runTrain } from '../../src/cli/train.js';
import { runEvaluate } from '../../src/cli/evaluate.js';
import { runExportModel } from '../../src/cli/exportModel.js';
import { resolveStrategy } from '../../src/execution/strategies/index.js';
import { causalityProbe } from '../helpers/causality.js';
import { HOUR_MS, REPO_ROOT, T0_MS, removeDir, seasonalBars, tempDir } from '../helpers/market.js';
import { captureIo as io, twoAssetStore } from '../helpers/cli.js';

const H = 12;
const shipped = pretrainedModels();
const probe = causalityProbe(seasonalBars(1100, 5), H);

describe('shipped models', () => {
  it('ships at least constCurve, static and dynamic, each with a card, and nothing else in models/', () => {
    expect(pretrainedDir()).toBe(join(REPO_ROOT, 'models'));
    expect(shipped).toEqual(expect.arrayContaining(['constCurve', 'static', 'dynamic']));
    const files = readdirSync(pretrainedDir()).sort();
    expect(files).toEqual(shipped.flatMap((n) => [`${n}.ckpt`, `${n}.md`]).sort());
  });

  it.each(shipped)('pretrained:%s loads, is the model of its card and is small enough for git', (name) => {
    const path = join(pretrainedDir(), `${name}.ckpt`);
    const { state, weights } = loadCheckpoint(path);
    const card = readFileSync(join(pretrainedDir(), `${name}.md`), 'utf8');
    expect(parseModelCardConfiguration(card, `${name}.md`)).toEqual(state.model);
    expect(card).toContain(`${state.parameters.toLocaleString('en-US')} parameters`);
    expect(card).toContain(`${statSync(path).size.toLocaleString('en-US')} bytes`);
    expect(statSync(path).size).toBeLessThan(1 << 20);
    // exported: best weights only (current aliases them), no optimizer moments
    expect(weights.adamM.size + weights.adamV.size).toBe(0);
    expect([...weights.current.keys()]).toEqual([...weights.best.keys()]);
    const allocator = resolveAllocator(`pretrained:${name}`, { horizon: H, intervalMs: HOUR_MS });
    expect(allocator.label).toBe(`pretrained:${name}`);
    expect((allocator as NeuralAllocator).config).toEqual(state.model);
  });

  it.each(shipped.flatMap((name) => [700, 1003].map((r) => [name, r] as const)))('pretrained:%s is causal at r=%i', (name, r) => {
    const allocator = resolveAllocator(`pretrained:${name}`);
    const a = allocator.allocate(probe.order(r));
    expect(Math.abs(a.reduce((x, y) => x + y, 0) - 1)).toBeLessThan(1e-6);
    expect(probe.firstViolation(allocator, r).t).toBe(-1);
  });

  it('the dynamic model reads the bars of the order as they complete (the probe is not vacuous)', () => {
    expect(probe.firstViolation(resolveAllocator('pretrained:dynamic'), 700).changedLater).toBe(true);
  });

  it.each([
    ['an unknown shipped model', () => resolveAllocator('pretrained:gptVwap'), /"pretrained:gptVwap" is not a shipped model \(pretrained:constCurve, /],
    ['a horizon the model was not made for', () => resolveAllocator('pretrained:static', { horizon: 6 }), /horizon 12 \(expected 6\)|horizon/],
  ])('%s is a typed error', (_name, f, message) => {
    expect(f).toThrow(message);
  });

  it.each([
    ['pretrained:dynamic', true], ['mine=pretrained:static', true], ['runs/x.ckpt', true], ['twap', true], ['pov', false], ['nope', false],
  ] as const)('isAllocatorSpec(%s) is %s', (spec, expected) => {
    expect(isAllocatorSpec(spec)).toBe(expected);
  });
});

describe('export-model and the commands on pretrained models', () => {
  const dir = tempDir();
  let store = '';
  beforeAll(async () => {
    store = await twoAssetStore(dir);
  });
  afterAll(() => removeDir(dir));

  it('export-model keeps the best weights bit for bit, with the state, and drops the Adam moments', async () => {
    const ckpt = join(dir, 'static.ckpt');
    await runTrain({ store, workers: 0, epochs: 2, samplesPerEpoch: 512, validationSamples: 256, batchSize: 256, progress: false, overwrite: true, model: 'static', seeds: [1], out: ckpt }, io());
    const out = join(dir, 'exported.ckpt');
    const t = io();
    runExportModel(ckpt, { out }, t);
    expect(t.out()).toMatch(/exported\.ckpt: static, 936 parameters, best epoch \d of 2, \d+ bytes\n\nconfiguration:\n\n```json\n/);
    const a = loadCheckpoint(ckpt);
    const b = loadCheckpoint(out);
    expect(b.weights.best).toEqual(a.weights.best);
    expect(b.weights.current).toEqual(a.weights.best);
    expect(b.weights.adamM.size).toBe(0);
    const { exported, ...state } = b.state as typeof b.state & { exported: unknown };
    expect(state).toEqual(a.state);
    expect(exported).toMatchObject({ from: 'static.ckpt', fromSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(statSync(out).size).toBeLessThan(statSync(ckpt).size / 2);
    const order = probe.order(900);
    expect(resolveAllocator(out).allocate(order)).toEqual(resolveAllocator(ckpt).allocate(order));
  }, 60_000);

  it('evaluate reports pretrained models under their own label (or label=pretrained:name), and compares with --references', async () => {
    const report = await runEvaluate({ models: ['twap', 'pretrained:static', 'dynamic=pretrained:dynamic'], store, split: 'test', replicates: 20, workers: 0, progress: false }, io());
    expect(report.allocators.map((a) => a.label)).toEqual(['twap', 'histCurve', 'pretrained:static', 'dynamic']);
    // --references: paired comparisons against any evaluated model (the ablations' gftSig vs gft)
    const paired = await runEvaluate({ models: ['pretrained:static', 'dynamic=pretrained:dynamic'], references: ['dynamic'], store, split: 'test', replicates: 20, workers: 0, progress: false }, io());
    expect(paired.universes[2]!.comparisons.map((c) => `${c.model} vs ${c.reference}`)).toEqual(['histCurve vs dynamic', 'pretrained:static vs dynamic']);
    await expect(runEvaluate({ models: ['pretrained:static'], references: ['statc'], store, split: 'test', replicates: 20, workers: 0, progress: false }, io()))
      .rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringMatching(/references: "statc" is not one of the evaluated models \(twap, histCurve, pretrained:static\)/) });
  }, 60_000);

  it('backtest takes pretrained:<name> as a strategy', () => {
    expect(resolveStrategy('pretrained:dynamic', { horizon: H, intervalMs: HOUR_MS }).name).toBe('pretrained:dynamic');
  });

  it('sigvwap schedule --model pretrained:dynamic (the built command)', () => {
    const main = join(REPO_ROOT, 'dist', 'cli', 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build:ts`);
    const start = new Date(T0_MS + 1250 * HOUR_MS).toISOString();
    const r = spawnSync(process.execPath, [main, 'schedule', '--model', 'pretrained:dynamic', '--asset', 'AAAUSDT', '--start', start, '--store', store, '--quantity', '10', '--json'], { encoding: 'utf8', cwd: dir });
    expect(r.stderr).toBe('');
    const s = JSON.parse(r.stdout) as { model: string; bars: { quantity: number }[] };
    expect(s.model).toBe('pretrained:dynamic');
    expect(s.bars).toHaveLength(H);
    expect(s.bars.reduce((x, b) => x + b.quantity, 0)).toBeCloseTo(10, 9);
  }, 60_000);
});
