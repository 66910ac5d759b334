/**
 * Benchmarks of the model layer on the CPU (tfjs-backend-cpu, one thread):
 *   lstm/cpu/s22-b1024-c7-u16   the LSTM kernel forward+backward vs the tfjs-composed LSTM
 *   step/cpu/<kind>-b1024       one training step (features, forward, VWAP loss, backward,
 *                               Adam) of constCurve, static and dynamic on synthetic orders
 * Each kernel is checked against its reference before anything is timed. Reports medians in
 * ms and orders/s; appends to bench/results/history.jsonl.
 *
 * Run: npx tsx bench/train.bench.ts
 */
import { tf } from '../src/ops/tf.js';
import { lstmSequence, lstmSequenceTfjs } from '../src/ops/lstmSequence.js';
import { NeuralAllocator } from '../src/allocators/neural/neuralAllocator.js';
import { defaultModelConfig, type ModelKind } from '../src/allocators/neural/modelConfig.js';
import { ordersFromDataset, orderTargets } from '../src/data/marketSeries.js';
import { Rng } from '../src/rng.js';
import { Adam } from '../src/train/adam.js';
import { vwapLossTensor } from '../src/ops/vwapLossOp.js';
import { smallDataset } from '../tests/helpers/market.js';
import { appendHistory, fingerprint, gitCommit, measure, table } from './common.js';

const rows: Record<string, string | number>[] = [];

async function lstmBench() {
  const [S, B, C, U] = [22, 1024, 7, 16];
  const r = Rng.fromSeed(1);
  const rnd = (n: number, s: number) => Float32Array.from({ length: n }, () => r.nextNormal() * s);
  const x = tf.tensor3d(rnd(S * B * C, 1), [S, B, C]);
  const wx = tf.variable(tf.tensor2d(rnd(C * 4 * U, 0.3), [C, 4 * U]));
  const wh = tf.variable(tf.tensor2d(rnd(U * 4 * U, 0.3), [U, 4 * U]));
  const b = tf.variable(tf.tensor1d(rnd(4 * U, 0.3)));
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(lstmSequence(x, wx, wh, b), lstmSequenceTfjs(x, wx, wh, b)))).dataSync()[0]!);
  if (!(diff < 1e-5)) throw new Error(`lstm check failed: max difference ${diff}`);
  const name = `lstm/cpu/s${S}-b${B}-c${C}-u${U}`;
  for (const [impl, f] of [['kernel', lstmSequence], ['tfjs ops', lstmSequenceTfjs]] as const) {
    const s = await measure(`${name} ${impl}`, () => {
      const { value, grads } = tf.variableGrads(() => tf.mean(f(x, wx, wh, b)) as tf.Scalar, [wx, wh, b]);
      value.dataSync();
      value.dispose();
      for (const g of Object.values(grads)) g.dispose();
    }, { iterations: 3, timeMs: 500 });
    rows.push({ bench: `${name} ${impl}`, medianMs: s.medianMs, 'orders/s': (B / s.medianMs) * 1000 });
  }
}

async function stepBench(kind: ModelKind) {
  const dataset = smallDataset(2, 4000);
  const ids = dataset.anchors('train').index.subarray(0, 1024);
  const orders = ordersFromDataset(dataset, ids);
  const config = defaultModelConfig(kind);
  if (kind === 'dynamic') config.dynamic.sequence.encoderLookback = 12;
  const model = NeuralAllocator.create(config, Rng.fromSeed(1));
  const vars = model.trainableNames.map((n) => model.variables.get(n)!);
  const params = new Map(model.trainableNames.map((n) => [n, Float32Array.from(model.variables.get(n)!.dataSync() as Float32Array)]));
  const names = new Map(vars.map((v, i) => [v.name, model.trainableNames[i]!]));
  const adam = new Adam();
  const step = () => {
    const inputs = model.inputs(orders);
    const targets = orderTargets(orders);
    const { value, grads } = tf.variableGrads(() => vwapLossTensor(model.forward(inputs), targets), vars);
    const g = new Map(Object.entries(grads).map(([k, t]) => [names.get(k)!, t.dataSync() as Float32Array]));
    adam.apply(params, g);
    for (const [n, p] of params) model.variables.get(n)!.assign(tf.tensor(p, model.variables.get(n)!.shape));
    const loss = value.dataSync()[0]!;
    value.dispose();
    for (const t of Object.values(grads)) t.dispose();
    return loss;
  };
  const first = step();
  if (!Number.isFinite(first)) throw new Error(`step check failed for ${kind}: loss ${first}`);
  const s = await measure(`step/cpu/${kind}-b1024`, step, { iterations: 3, timeMs: 500 });
  rows.push({ bench: `step/cpu/${kind}-b1024`, medianMs: s.medianMs, 'orders/s': (1024 / s.medianMs) * 1000 });
}

await lstmBench();
for (const kind of ['constCurve', 'static', 'dynamic'] as const) await stepBench(kind);
console.log(table(rows));
appendHistory({ suite: 'train', commit: gitCommit(), machine: fingerprint(), date: new Date().toISOString(), rows });
