#!/usr/bin/env node
/**
 * The demo (`npm run demo` = `node dist/cli/demo.js`): on a fresh clone, ingest the bundled
 * sample `data/` (10 liquid Binance pairs, 2020-01 .. 2022-06, hourly), train constCurve,
 * static and a small dynamic model (warm-started from static), evaluate every allocator on the
 * test split with block-bootstrap intervals, backtest them (fills with a participation cap, spread,
 * impact and fees) on a sample of the test orders, print the tables and write results/demo/.
 * Sized to finish in under 10 minutes on 2 CPU cores; prints how long each step took.
 * Options: --out DIR (default results/demo), --store DIR (default .sigvwap/demo/store),
 * --quick (tiny training budgets: a smoke test of the pipeline, not meaningful numbers),
 * --no-time-limit (the full epoch budgets however long they take: the time limits otherwise
 * cut training short on a busy machine, and the tables then depend on the load).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDataset, ingest } from '../data/index.js';
import { reportToMarkdown } from '../evaluate/formatReport.js';
import { Writable } from 'node:stream';
import { runBacktestCli } from './backtest.js';
import { runEvaluateOnDataset, writeReport } from './evaluate.js';
import { type CliIo, processIo } from './io.js';
import { type TrainCliOptions, runTrainOnDataset } from './train.js';

export interface DemoOptions {
  out: string;
  store: string;
  data: string;
  quick: boolean;
  /** train for the full epoch budgets even on a slow or busy machine (reproducible tables) */
  noTimeLimit: boolean;
}

interface Step {
  step: string;
  elapsedMs: number;
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function runDemo(o: DemoOptions, io: CliIo = processIo()): Promise<{ steps: Step[]; markdown: string }> {
  const steps: Step[] = [];
  const t0 = performance.now();
  const step = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
    io.stderr.write(`\n== ${name}\n`);
    const s = performance.now();
    const r = await f();
    const elapsedMs = performance.now() - s;
    steps.push({ step: name, elapsedMs });
    io.stderr.write(`== ${name}: ${(elapsedMs / 1000).toFixed(1)} s\n`);
    return r;
  };
  const ckpt = (name: string) => join(o.out, 'checkpoints', `${name}.ckpt`);
  await step(`ingest ${o.data}`, async () => {
    const r = await ingest([o.data], { store: o.store });
    io.stderr.write(`${r.assets.length} assets, ${r.rowsRead} new rows into ${r.store}\n`);
  });
  const dataset = await step('build dataset', () => buildDataset({ store: o.store }));
  io.stderr.write(`${dataset.assets.length} assets, ${dataset.anchorCount} anchors; training universe ${dataset.assets.filter((a) => a.universe === 'train').map((a) => a.symbol).join(', ')}\n`);
  const q = o.quick;
  const limit = (minutes: number) => (o.noTimeLimit ? undefined : minutes);
  const common: Omit<TrainCliOptions, 'model'> = { store: o.store, seeds: [1], overwrite: true, progress: true, validationSamples: q ? 2048 : 16384 };
  await step('train constCurve', () => runTrainOnDataset(dataset, { ...common, model: 'constCurve', out: ckpt('constCurve'), epochs: q ? 2 : 15, samplesPerEpoch: q ? 4096 : 65536 }, io));
  await step('train static (softmax-linear on causal features)', () => runTrainOnDataset(dataset, { ...common, model: 'static', out: ckpt('static'), epochs: q ? 2 : 20, samplesPerEpoch: q ? 4096 : 65536, timeLimit: limit(3) }, io));
  await step('train dynamic (LSTM 16, per-step heads, warm-started from static)', () =>
    runTrainOnDataset(dataset, {
      ...common, model: 'dynamic', out: ckpt('dynamic'), initFrom: ckpt('static'), encoderLookback: 12,
      // 10 epochs take about 3.5 minutes on 2 idle cores; the time limit keeps a busy machine under budget
      epochs: q ? 1 : 10, samplesPerEpoch: q ? 1024 : 32768, timeLimit: limit(q ? 1 : 4),
    }, io));
  const report = await step('evaluate (test split, block bootstrap)', () =>
    runEvaluateOnDataset(dataset, { models: ['twap', 'histCurve', ckpt('constCurve'), ckpt('static'), ckpt('dynamic')], store: o.store, split: 'test', progress: true, replicates: q ? 100 : 1000 }, io));
  const files = await writeReport(report, o.out);
  // execution: the same models as strategies through the fill simulator (closed loop for the
  // dynamic model), on an evenly spaced sample of the test orders
  let tca = '';
  const backtestDir = join(o.out, 'backtest');
  await step('backtest (fills with participation cap, spread, impact, fees)', async () => {
    const sink = new Writable({ write(chunk, _enc, cb) { tca += String(chunk); cb(); } });
    await runBacktestCli({
      store: o.store, strategies: ['twap', 'passiveTwap', 'histCurve', 'pov', ckpt('static'), ckpt('dynamic')], orders: 'test-anchors', side: 'buy', size: '1%adv',
      maxOrders: q ? 500 : 5000, out: backtestDir, progress: false,
    }, { ...io, stdout: sink });
  });
  const totalMs = performance.now() - t0;
  steps.push({ step: 'total', elapsedMs: totalMs });
  writeFileSync(join(o.out, 'timings.json'), JSON.stringify(steps, null, 2) + '\n');
  const markdown = reportToMarkdown(report, { perAsset: true });
  io.stdout.write(`\n${markdown}\n`);
  io.stdout.write(`Backtest of the test orders (1% of ADV each):\n\n${tca}\n`);
  io.stdout.write('Step timings:\n');
  for (const s of steps) io.stdout.write(`  ${s.step.padEnd(66)} ${(s.elapsedMs / 1000).toFixed(1).padStart(7)} s\n`);
  io.stdout.write(`Wrote ${files.json}, ${files.markdown}, ${join(o.out, 'timings.json')} and the backtest in ${backtestDir} (open ${join(backtestDir, 'report.html')})\n`);
  return { steps, markdown };
}

function parseArgs(argv: readonly string[]): DemoOptions {
  const o: DemoOptions = { out: 'results/demo', store: '.sigvwap/demo/store', data: join(packageRoot, 'data'), quick: false, noTimeLimit: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') o.quick = true;
    else if (a === '--no-time-limit') o.noTimeLimit = true;
    else if (a === '--out' || a === '--store' || a === '--data') {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      o[a.slice(2) as 'out' | 'store' | 'data'] = v;
    } else throw new Error(`unknown option ${a} (options: --out DIR, --store DIR, --data DIR, --quick, --no-time-limit)`);
  }
  mkdirSync(o.out, { recursive: true });
  return o;
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    await runDemo(parseArgs(process.argv.slice(2)));
  } catch (e) {
    const err = e as { code?: string; message?: string };
    console.error(`demo: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`);
    process.exitCode = 1;
  }
}
