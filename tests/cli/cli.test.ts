/**
 * The train, evaluate and schedule commands end to end on a small synthetic store, and the
 * option parsing of the commands (messages name the option).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelFromOptions, registerTrainCommand, runTrain, outForSeed, type TrainCliOptions } from '../../src/cli/train.js';
import { registerEvaluateCommand, runEvaluate } from '../../src/cli/evaluate.js';
import { registerScheduleCommand, runSchedule } from '../../src/cli/schedule.js';
import { activeBackend, useBackend } from '../../src/ops/backend.js';
import { HOUR_MS, REPO_ROOT, T0_MS, removeDir, tempDir } from '../helpers/market.js';
import { captureIo as io, twoAssetStore } from '../helpers/cli.js';

const dir = tempDir();
afterAll(() => removeDir(dir));

const store = join(dir, 'store');
beforeAll(async () => {
  await twoAssetStore(dir);
});

const trainOpts = { store, workers: 0, epochs: 1, samplesPerEpoch: 512, validationSamples: 256, batchSize: 256, progress: false, overwrite: true };

describe('sigvwap train / evaluate / schedule', () => {
  it('trains, evaluates and schedules from the checkpoints', async () => {
    const t = io();
    const rows = await runTrain({ ...trainOpts, model: 'static', seeds: [1, 2], out: join(dir, 'static-{seed}.ckpt'), json: true }, t);
    expect(rows.map((r) => r.path)).toEqual([join(dir, 'static-1.ckpt'), join(dir, 'static-2.ckpt')]);
    expect(JSON.parse(t.out())).toHaveLength(2);
    expect(t.err()).toMatch(/static seed 1 epoch 1: loss [\d.]+ val [\d.]+ bps/);

    const e = io();
    const out = join(dir, 'results');
    const report = await runEvaluate({ models: ['twap', join(dir, 'static-1.ckpt'), join(dir, 'static-2.ckpt')], store, split: 'test', out, replicates: 20, workers: 0, progress: false }, e);
    expect(report.allocators.map((a) => [a.label, a.seeds])).toEqual([['twap', 1], ['histCurve', 1], ['static', 2]]);
    expect(existsSync(join(out, 'evaluation.json')) && existsSync(join(out, 'evaluation.md'))).toBe(true);
    expect(e.out()).toContain('| static | 2 |');
    expect(readFileSync(join(out, 'evaluation.md'), 'utf8')).toContain('Out-of-sample assets');

    const s = io();
    const start = new Date(T0_MS + 1300 * HOUR_MS).toISOString();
    const schedule = runSchedule({ model: join(dir, 'static-1.ckpt'), asset: 'AAAUSDT', start, side: 'buy', quantity: 10, store, json: true }, s);
    expect(JSON.parse(s.out()).bars).toHaveLength(12);
    expect(schedule.bars.reduce((a, b) => a + (b.quantity ?? 0), 0)).toBe(10);
  });

  it.each([
    ['gft', 'gft', undefined],
    ['gftSig', 'gftSig', undefined],
    ['gftSig --sig-transform logsig', 'gftSig', 'logsig'],
  ] as const)('trains a small %s with its parameter summary; evaluate and schedule take the checkpoint', async (_name, model, sigTransform) => {
    const t = io();
    const ckpt = join(dir, `${model}${sigTransform ? `-${sigTransform}` : ''}.ckpt`);
    const [row] = await runTrain({ ...trainOpts, model, seeds: [1], out: ckpt, gftHidden: 4, encoderLookback: 4, headHidden: 4, sigLength: 48, sigTransform, json: true }, t);
    expect(t.err()).toMatch(new RegExp(`parameters of ${model}:\\n(.|\\n)*  vsn (.|\\n)*  attention (.|\\n)*  total +${row!.parameters.toLocaleString('en-US')}\\n`));
    if (model === 'gftSig') expect(t.err()).toMatch(/ {2}sig +\d/);
    const report = await runEvaluate({ models: ['twap', ckpt], store, split: 'test', out: join(dir, `results-${model}`), replicates: 20, workers: 0, progress: false }, io());
    expect(report.allocators.map((a) => a.label)).toContain(model);
    const start = new Date(T0_MS + 1300 * HOUR_MS).toISOString();
    const schedule = runSchedule({ model: ckpt, asset: 'AAAUSDT', start, side: 'buy', quantity: 10, store, json: true }, io());
    expect(schedule.bars).toHaveLength(12);
    expect(schedule.bars.reduce((a, b) => a + (b.quantity ?? 0), 0)).toBeCloseTo(10, 9);
  }, 60_000);

  // the summary a real run prints first, without the run: the counts equal the trained model's
  it.each([
    ['gft', 'gft'],
    ['gftSig', 'gftSig'],
    ['dynamic', 'dynamic'],
  ] as const)('--summary-only prints the %s parameter summary, trains nothing and writes no checkpoint', async (_name, model) => {
    const opts = { ...trainOpts, model, seeds: [1], gftHidden: 4, encoderLookback: 4, headHidden: 4, sigLength: 48 };
    const ckpt = join(dir, `summary-${model}.ckpt`);
    const s = io();
    expect(await runTrain({ ...opts, out: ckpt, summaryOnly: true, json: true }, s)).toEqual([]);
    expect(existsSync(ckpt)).toBe(false);
    const summary = JSON.parse(s.out()) as { kind: string; total: number; groups: Record<string, number> };
    expect(summary.kind).toBe(model);
    expect(Object.values(summary.groups).reduce((a, b) => a + b, 0)).toBe(summary.total);
    const [row] = await runTrain({ ...opts, out: ckpt }, io());
    expect(summary.total).toBe(row!.parameters);
  }, 60_000);

  // wasm initialises asynchronously: the command awaits it, then trains there (no warning)
  it.each(['wasm', 'cpu'] as const)('--backend %s trains on that backend', async (backend) => {
    const before = activeBackend();
    try {
      const t = io();
      const [row] = await runTrain({ ...trainOpts, model: 'constCurve', seeds: [1], out: join(dir, `backend-${backend}.ckpt`), backend }, t);
      expect(activeBackend()).toBe(backend);
      expect(row!.epochs).toBe(1);
      expect(t.err()).toMatch(/epoch 1: loss [\d.]+ val [\d.]+ bps/);
      expect(t.err()).not.toContain('warning');
    } finally {
      useBackend(before);
    }
  });

  it('a checkpoint made for another horizon is rejected by evaluate with ERR_CHECKPOINT', async () => {
    await runTrain({ ...trainOpts, model: 'constCurve', seeds: [1], out: join(dir, 'h6.ckpt'), horizon: 6 }, io());
    await expect(runEvaluate({ models: [join(dir, 'h6.ckpt')], store, split: 'test', replicates: 20, workers: 0, progress: false }, io()))
      .rejects.toMatchObject({ code: 'ERR_CHECKPOINT', message: expect.stringMatching(/horizon 6 \(expected 12\)/) });
  });
});

describe('sigvwap --plugin', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'cli', 'main.js'), ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  const start = () => new Date(T0_MS + 1300 * HOUR_MS).toISOString();

  it('imports a module that registers an allocator before the command resolves --model', () => {
    const r = cli('--plugin', './tests/fixtures/fixedCurvePlugin.mjs', 'schedule', '--model', 'frontLoaded', '--asset', 'AAAUSDT', '--start', start(), '--store', store, '--json');
    expect(r.stderr).toBe('');
    const s = JSON.parse(r.stdout) as { model: string; bars: { fraction: number }[] };
    expect(s.model).toBe('frontLoaded');
    expect(s.bars.map((b) => b.fraction)).toEqual(Array.from({ length: 12 }, (_, t) => (2 * (12 - t)) / (12 * 13)));
  });

  it.each([
    ['a plugin that cannot be imported', ['--plugin', './tests/fixtures/noSuchPlugin.mjs'], /ERR_ARG: --plugin: cannot import/],
    ['an allocator nobody registered', [], /ERR_ARG: model: "frontLoaded" is neither a registered allocator/],
  ])('%s exits 1 with a typed error', (_name, pre, message) => {
    const r = cli(...pre, 'schedule', '--model', 'frontLoaded', '--asset', 'AAAUSDT', '--start', start(), '--store', store);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
  });
});

// Issue I #10: raw stack traces for a --store or --out under a regular file, a zod message for
// --lr, no hint for a mistyped symbol, and nothing about resuming after Ctrl-C
describe('every CLI failure is one line', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'cli', 'main.js'), ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  const start = () => new Date(T0_MS + 1300 * HOUR_MS).toISOString();
  const aFile = () => {
    const f = join(dir, 'a-regular-file');
    writeFileSync(f, 'x');
    return f;
  };
  const trainArgs = ['--store', store, '--workers', '0', '--epochs', '1', '--samples-per-epoch', '256', '--validation-samples', '256', '--no-progress'];

  it.each([
    ['a --store under a regular file', () => ['ingest', join(REPO_ROOT, 'data'), '--store', join(aFile(), 'store')], /^sigvwap: ERR_IO: cannot create the store .*a path component is a file/],
    ['a train --out under a regular file', () => ['train', '--model', 'constCurve', ...trainArgs, '--out', join(aFile(), 'm.ckpt')], /^sigvwap: ERR_IO: cannot create the output folder/],
    ['--lr 0', () => ['train', '--model', 'constCurve', ...trainArgs, '--lr', '0', '--out', join(dir, 'lr0.ckpt')], /^sigvwap: ERR_ARG: --lr: /],
    ['a mistyped symbol', () => ['schedule', '--model', 'twap', '--asset', 'aaausdt', '--start', start(), '--store', store], /^sigvwap: ERR_ARG: asset: aaausdt is not in the store .*did you mean AAAUSDT\?/],
    ['an unknown model', () => ['schedule', '--model', 'nope', '--asset', 'AAAUSDT', '--start', start(), '--store', store], /^sigvwap: ERR_ARG: model: "nope" is neither a registered allocator \(twap, histCurve\)/],
  ])('%s', (_name, args, message) => {
    const r = cli(...args());
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('dataset:'))).toEqual([expect.stringMatching(message)]);
  });

  it('with --json the error is also a JSON object on stdout', () => {
    const r = cli('schedule', '--model', 'twap', '--asset', 'NOPE', '--start', start(), '--store', store, '--json');
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'ERR_ARG', data: { argument: 'asset', value: 'NOPE' } } });
  });

  it('Ctrl-C during training exits 130 and says how to resume', async () => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'cli', 'main.js'), 'train', '--model', 'static', ...trainArgs, '--epochs', '1000', '--out', join(dir, 'sigint.ckpt'), '--overwrite'], { cwd: REPO_ROOT });
    let err = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => {
      err += String(d);
      if (/epoch 1:/.test(err)) resolve();
    }));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(err).toMatch(/interrupted; each checkpoint holds its last finished epoch\. Continue with:\n  sigvwap train .* --resume/);
    expect(err).not.toMatch(/--overwrite/);
  });
});

describe('option parsing', () => {
  const parse = (args: string[]) => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerTrainCommand(program);
    registerEvaluateCommand(program);
    registerScheduleCommand(program);
    for (const c of program.commands) c.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} }).action(() => {});
    program.parse(args, { from: 'user' });
    return program.commands.find((c) => c.name() === args[0])!.opts();
  };

  it.each([
    ['--epochs 0', ['train', '--model', 'static', '--epochs', '0'], /epochs: expected an integer >= 1/],
    ['--seeds a', ['train', '--model', 'static', '--seeds', '1,a'], /seeds/],
    ['--lr x', ['train', '--model', 'static', '--lr', 'x'], /lr: expected a number/],
    ['--replicates 3', ['evaluate', '--replicates', '3'], /replicates: expected an integer >= 10/],
  ])('%s names the option', (_name, args, message) => {
    expect(() => parse(args)).toThrow(message);
  });

  it.each([
    ['an unknown model kind', ['train', '--model', 'transformer']],
    ['a missing --model', ['train']],
    ['an unknown --backend', ['train', '--model', 'static', '--backend', 'webgl']],
    ['an unknown --sig-transform', ['train', '--model', 'gftSig', '--sig-transform', 'hall']],
    ['a schedule without --asset', ['schedule', '--model', 'twap', '--start', '2022-06-01T00:00Z']],
  ])('commander rejects %s', (_name, args) => {
    expect(() => parse(args)).toThrow();
  });

  it('parses lists and defaults', () => {
    const o = parse(['train', '--model', 'dynamic', '--seeds', '1,2,3', '--hist-days', '1,20', '--no-execution-state']);
    expect(o).toMatchObject({ seeds: [1, 2, 3], histDays: [1, 20], executionState: false, store: '.sigvwap/store' });
    for (const backend of ['native', 'wasm', 'cpu']) expect(parse(['train', '--model', 'static', '--backend', backend])).toMatchObject({ backend });
    expect(parse(['train', '--model', 'gftSig', '--gft-hidden', '200', '--gft-heads', '4', '--tkan-cell', 'lstm', '--sig-length', '100', '--sig-channels', 'timeVolumePrice', '--sig-depth', '2']))
      .toMatchObject({ model: 'gftSig', gftHidden: 200, gftHeads: 4, tkanCell: 'lstm', sigLength: 100, sigChannels: 'timeVolumePrice', sigDepth: 2 });
  });

  it.each([
    ['no --sig-transform: the signature', [], false],
    ['--sig-transform signature', ['--sig-transform', 'signature'], false],
    ['--sig-transform logsig', ['--sig-transform', 'logsig'], true],
  ] as const)('%s sets gft.signature.logSignature to %s', (_name, flags, logSignature) => {
    const o = parse(['train', '--model', 'gftSig', '--sig-depth', '2', ...flags]) as TrainCliOptions;
    const model = modelFromOptions(o);
    expect(model.gft!.signature).toMatchObject({ depth: 2, logSignature });
  });

  it.each([
    ['a {seed} placeholder', 'runs/m-{seed}.ckpt', 3, 'runs/m-2.ckpt'],
    ['several seeds', 'runs/m.ckpt', 3, 'runs/m-seed2.ckpt'],
    ['one seed', 'runs/m.ckpt', 1, 'runs/m.ckpt'],
  ])('--out with %s', (_name, out, seeds, expected) => {
    expect(outForSeed(out, 2, seeds)).toBe(expected);
  });
});
