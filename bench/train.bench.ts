/**
 * Benchmarks of the model layer on the tfjs backends cpu (tfjs-backend-cpu), wasm
 * (tfjs-backend-wasm: under Node its SIMD build on one thread) and native (our `sigvwap`
 * backend), side by side in one run:
 *   lstm/cpu/s22-b1024-c7-u16       the LSTM kernel forward+backward vs the tfjs-composed LSTM
 *   step/cpu/<kind>-b1024           one training step of constCurve, static and dynamic on
 *                                   synthetic orders (kept for the history's continuity)
 *   train/<backend>/<model>-<config> training samples/s on real data batches (the bundled
 *                                   Binance sample in data/): one whole step as trainEpoch runs
 *                                   it (gather, features, forward, VWAP loss, backward, Adam);
 *                                   <config> l12-u16 is docs/results.md's encoder (lookback 12,
 *                                   16 units), l60-u64 a paper-like one (lookback 60, 64 units);
 *                                   gft-l12-h32 and gftSig-l12-h32 the GFT models at their default
 *                                   width (hidden 32; gftSig: the 400-bar signature path),
 *                                   gft-l12-h64 and gftSig-l12-h64 at hidden 64 (only when
 *                                   --cases names them)
 * With --profile, instead: the time shares of one step (data gathering, feature building,
 * forward, backward, optimizer; inside forward+backward: tfjs kernels by name, the custom ops'
 * own loops, and the per-op overhead = the rest) per case, then the same steps with the batches
 * built by data workers (`.../data-worker`, --data-workers N, default 1: the training thread's wait for data and the step
 * time against the in-thread step); suite `train-profile`.
 * Every case is checked before it is timed: the loss is finite and, across backends, the
 * loss and every gradient agree within tolerance. Medians; appends to
 * bench/results/history.jsonl with the load average.
 *
 * --backend takes the backend choice names (cpu, wasm, native); the default is all of them
 * that run here (one that does not is named with its reason; an explicit one that does not is
 * an error).
 *
 * --cases picks cases by name; it also leaves out the lstm/ and step/ rows (a full run has them).
 * --tkan tfjs|native forces the TKAN layers' implementation (rows named .../tkan-<impl>): the
 * tfjs composition on the native backend is the before of the fused TKAN kernel.
 *
 * Run: npx tsx bench/train.bench.ts [--profile [--data-workers N]] [--backend cpu,wasm,native] [--cases static,dynamic-l12-u16,...] [--tkan tfjs|native]
 */
import { loadavg, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../src/ops/tf.js';
import { initBackend, useBackend, type BackendName } from '../src/ops/backend.js';
import { opTime } from '../src/ops/opTimer.js';
import { lstmSequence, lstmSequenceTfjs } from '../src/ops/lstmSequence.js';
import { setTkanImplementation, type TkanImplementation } from '../src/ops/tkanSequence.js';
import { NeuralAllocator } from '../src/allocators/neural/neuralAllocator.js';
import { defaultModelConfig, type ModelConfig, type ModelKind } from '../src/allocators/neural/modelConfig.js';
import { ordersFromDataset, orderTargets } from '../src/data/marketSeries.js';
import { buildDataset, ingest, type Dataset } from '../src/data/index.js';
import { Rng } from '../src/rng.js';
import { Adam } from '../src/train/adam.js';
import { BatchPipeline } from '../src/train/batchPipeline.js';
import { vwapLossTensor } from '../src/ops/vwapLossOp.js';
import { smallDataset } from '../tests/helpers/market.js';
import { appendHistory, benchDir, fingerprint, gitCommit, measure, table } from './common.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const option = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const BATCH = 1024;
/** data workers of the pipelined profile (--data-workers, default 1 as `sigvwap train`) */
const DATA_WORKERS = Number(option('--data-workers') ?? 1);
/** --tkan tfjs|native: the TKAN layers' implementation on every backend (default: the fused
 * kernel on native, the tfjs composition elsewhere); named in the rows as /tkan-<impl> */
const TKAN_IMPL = option('--tkan') as TkanImplementation | undefined;
if (TKAN_IMPL && !['tfjs', 'native'].includes(TKAN_IMPL)) throw new Error(`--tkan: expected tfjs or native, got ${TKAN_IMPL}`);
setTkanImplementation(TKAN_IMPL ?? null);
const tkanTag = TKAN_IMPL ? `/tkan-${TKAN_IMPL}` : '';
const rows: Record<string, string | number>[] = [];
const load = () => loadavg()[0]!.toFixed(2);

// ---- cases -------------------------------------------------------------------------------

/** `onDemand`: only when --cases names it (too slow for every run on the cpu and wasm backends) */
interface Case { name: string; kind: ModelKind; lookback?: number; units?: number; hidden?: number; onDemand?: boolean }
const ALL_CASES: Case[] = [
  { name: 'static', kind: 'static' },
  { name: 'dynamic-l12-u16', kind: 'dynamic', lookback: 12, units: 16 },
  { name: 'dynamic-l60-u64', kind: 'dynamic', lookback: 60, units: 64 },
  { name: 'gft-l12-h32', kind: 'gft', lookback: 12, hidden: 32 },
  { name: 'gftSig-l12-h32', kind: 'gftSig', lookback: 12, hidden: 32 },
  { name: 'gft-l12-h64', kind: 'gft', lookback: 12, hidden: 64, onDemand: true },
  { name: 'gftSig-l12-h64', kind: 'gftSig', lookback: 12, hidden: 64, onDemand: true },
];

function configOf(c: Case): ModelConfig {
  const config = defaultModelConfig(c.kind);
  if (c.lookback) config.dynamic.sequence.encoderLookback = c.lookback;
  if (c.units) config.dynamic.lstmUnits = c.units;
  if (c.hidden && config.gft) config.gft.hidden = c.hidden;
  return config;
}

/** Real bars: the bundled sample (10 Binance assets, 1h) ingested into a temporary store. */
async function realDataset(): Promise<{ dataset: Dataset; cleanup: () => void }> {
  const work = mkdtempSync(join(tmpdir(), 'sigvwap-train-bench-'));
  const store = join(work, 'store');
  await ingest([join(benchDir, '..', 'data')], { store });
  const dataset = await buildDataset({ store, workers: 0 });
  return { dataset, cleanup: () => rmSync(work, { recursive: true, force: true }) };
}

/** One training step split into its phases, as trainEpoch runs it. */
class Trainer {
  readonly model: NeuralAllocator;
  readonly vars: tf.Variable[];
  readonly params: Map<string, Float32Array>;
  readonly names: Map<string, string>;
  readonly adam = new Adam();
  #batch = 0;

  constructor(readonly dataset: Dataset, readonly ids: Int32Array, config: ModelConfig) {
    this.model = NeuralAllocator.create(config, Rng.fromSeed(1));
    const sample = ids.subarray(0, 4 * BATCH);
    this.model.fitStandardizer(this.model.rawFeatures(ordersFromDataset(dataset, sample)), sample.length);
    this.vars = this.model.trainableNames.map((n) => this.model.variables.get(n)!);
    this.params = new Map(this.model.trainableNames.map((n) => [n, Float32Array.from(this.model.variables.get(n)!.dataSync() as Float32Array)]));
    this.names = new Map(this.vars.map((v, i) => [v.name, this.model.trainableNames[i]!]));
  }

  /** The next batch's anchors (cycling through `ids`, so every step gathers fresh rows). */
  nextIds(): Int32Array {
    const n = Math.floor(this.ids.length / BATCH);
    const k = this.#batch++ % n;
    return this.ids.subarray(k * BATCH, (k + 1) * BATCH);
  }

  /** The batch's orders and their targets (prices, volumes of the horizon). */
  gather(ids: Int32Array) {
    const orders = ordersFromDataset(this.dataset, ids);
    return { orders, targets: orderTargets(orders) };
  }

  /** The model's inputs (static features, sequence, execution state). */
  features(g: ReturnType<Trainer['gather']>) {
    return { inputs: this.model.inputs(g.orders), targets: g.targets };
  }

  forward(f: ReturnType<Trainer['features']>): number {
    const loss = tf.tidy(() => vwapLossTensor(this.model.forward(f.inputs), f.targets));
    const v = loss.dataSync()[0]!;
    loss.dispose();
    return v;
  }

  forwardBackward(f: ReturnType<Trainer['features']>): { loss: number; grads: Map<string, Float32Array> } {
    // a training forward as trainEpoch's (gftSig's BatchNorm on batch statistics)
    const { value, grads } = tf.variableGrads(() => vwapLossTensor(this.model.forward({ ...f.inputs, training: true }), f.targets), this.vars);
    const g = new Map(Object.entries(grads).map(([k, t]) => [this.names.get(k)!, t.dataSync() as Float32Array]));
    const loss = value.dataSync()[0]!;
    value.dispose();
    for (const t of Object.values(grads)) t.dispose();
    return { loss, grads: g };
  }

  optimize(grads: Map<string, Float32Array>): void {
    this.adam.apply(this.params, grads);
    for (const [n, p] of this.params) this.model.variables.get(n)!.assign(tf.tensor(p, this.model.variables.get(n)!.shape, 'float32'));
  }

  step(): number {
    const f = this.features(this.gather(this.nextIds()));
    const { loss, grads } = this.forwardBackward(f);
    this.optimize(grads);
    return loss;
  }

  dispose(): void {
    this.model.dispose();
  }
}

// ---- profile -----------------------------------------------------------------------------

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function profile(dataset: Dataset, ids: Int32Array, c: Case, backend: string, steps: number) {
  useBackend(backend);
  const t = new Trainer(dataset, ids, configOf(c));
  const first = t.step();
  if (!Number.isFinite(first)) throw new Error(`profile check failed for ${c.name}: loss ${first}`);
  const phase: Record<string, number[]> = { gather: [], features: [], forward: [], forwardBackward: [], optimizer: [] };
  const time = <T>(name: string, f: () => T): T => {
    const t0 = performance.now();
    const r = f();
    phase[name]!.push(performance.now() - t0);
    return r;
  };
  // at least `steps` steps and 3 s of them (the short static step needs more samples)
  const started = performance.now();
  for (let s = 0; s < steps || performance.now() - started < 3000; s++) {
    const g = time('gather', () => t.gather(t.nextIds()));
    const f = time('features', () => t.features(g));
    time('forward', () => t.forward(f));
    const { grads } = time('forwardBackward', () => t.forwardBackward(f));
    time('optimizer', () => t.optimize(grads));
  }
  const m = Object.fromEntries(Object.entries(phase).map(([k, v]) => [k, median(v)])) as Record<string, number>;
  const backward = Math.max(0, m.forwardBackward! - m.forward!);
  const total = m.gather! + m.features! + m.forwardBackward! + m.optimizer!;

  // inside forward+backward: tfjs kernels (tf.profile), the custom ops' loops (opTime), the rest
  const f = t.features(t.gather(t.nextIds()));
  opTime.clear();
  const t0 = performance.now();
  const info = await tf.profile(() => {
    t.forwardBackward(f);
  });
  const profiledMs = performance.now() - t0;
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs);
    e.calls++;
    byKernel.set(k.name, e);
  }
  // tf.customGrad runs its forward function as a pseudo-kernel named 'forward': that time is
  // the custom ops' (opTime), not a tfjs kernel's
  byKernel.delete('forward');
  const kernelCalls = [...byKernel.values()].reduce((a, e) => a + e.calls, 0);
  const kernelMs = [...byKernel.values()].reduce((a, e) => a + e.ms, 0);
  const customMs = [...opTime.values()].reduce((a, b) => a + b, 0);
  // scale the profiled split to the unprofiled median (profiling adds bookkeeping per kernel)
  const scale = m.forwardBackward! / profiledMs;
  const overheadMs = Math.max(0, profiledMs - kernelMs - customMs) * scale;
  const top = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 6);
  const pct = (x: number) => `${((100 * x) / total).toFixed(1)}%`;
  const row: Record<string, string | number> = {
    bench: `profile/${backend}/${c.name}-b${BATCH}${tkanTag}`,
    stepMs: total,
    gather: pct(m.gather!),
    features: pct(m.features!),
    forward: pct(m.forward!),
    backward: pct(backward),
    optimizer: pct(m.optimizer!),
    kernels: pct(kernelMs * scale),
    customOps: pct(customMs * scale),
    perOpOverhead: pct(overheadMs),
    kernelCalls,
    load: load(),
  };
  rows.push(row);
  console.log(`\n${row.bench}: step ${total.toFixed(1)} ms (medians of ${phase.gather!.length} steps), load ${load()}`);
  console.log(`  phases ms: gather ${m.gather!.toFixed(1)}, features ${m.features!.toFixed(1)}, forward ${m.forward!.toFixed(1)}, backward ${backward.toFixed(1)}, optimizer ${m.optimizer!.toFixed(1)}`);
  console.log(`  forward+backward ${m.forwardBackward!.toFixed(1)} ms = kernels ${(kernelMs * scale).toFixed(1)} + custom ops ${(customMs * scale).toFixed(1)} (${[...opTime].map(([k, v]) => `${k} ${(v * scale).toFixed(1)}`).join(', ')}) + per-op overhead ${overheadMs.toFixed(1)}; ${kernelCalls} kernel calls`);
  console.log(`  top kernels: ${top.map(([k, e]) => `${k} ${(e.ms * scale).toFixed(1)} ms/${e.calls}`).join(', ')}`);
  t.dispose();
  return total;
}

/**
 * The same steps with the batches built by one data worker (train/batchPipeline.ts, as
 * `sigvwap train` runs by default): how long the training thread still waits for data, and the
 * step time against the in-thread step (`inThreadMs`, from profile()). Checked first: the
 * worker's first batch gives exactly the loss of the same batch built in this thread.
 */
async function pipelinedProfile(dataset: Dataset, ids: Int32Array, c: Case, backend: string, steps: number, inThreadMs: number) {
  useBackend(backend);
  const t = new Trainer(dataset, ids, configOf(c));
  const pipeline = new BatchPipeline(dataset, { workers: DATA_WORKERS });
  const wait: number[] = [];
  const compute: number[] = [];
  const step: number[] = [];
  try {
    const reference = t.forward(t.features(t.gather(ids.subarray(0, BATCH))));
    const batches = pipeline.batches(t.model.inputSpec(), ids.subarray(0, Math.floor(ids.length / BATCH) * BATCH), BATCH);
    const started = performance.now();
    for (let s = 0; ; s++) {
      const t0 = performance.now();
      const r = await batches.next();
      if (r.done) break;
      const t1 = performance.now();
      if (s === 0) {
        const loss = t.forward(r.value);
        if (loss !== reference) throw new Error(`pipelined check failed for ${c.name}: the worker's batch gives loss ${loss}, the same batch built here ${reference}`);
      }
      t.optimize(t.forwardBackward(r.value).grads);
      const t2 = performance.now();
      // the first two steps fill the pipeline (the worker starts and builds its prefix sums)
      if (s >= 2) {
        wait.push(t1 - t0);
        compute.push(t2 - t1);
        step.push(t2 - t0);
      }
      if (s >= steps + 2 && performance.now() - started > 3000) break;
    }
    await batches.return(undefined);
  } finally {
    await pipeline.close();
    t.dispose();
  }
  // a pipeline's step times are bimodal (most batches are ready, some are waited for): the
  // throughput is the mean step, and the shares are of the total time
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const stepMs = sum(step) / step.length;
  const row: Record<string, string | number> = {
    bench: `profile/${backend}/${c.name}-b${BATCH}${tkanTag}/data-worker`,
    workers: DATA_WORKERS,
    stepMs,
    dataWait: `${((100 * sum(wait)) / sum(step)).toFixed(1)}%`,
    compute: `${((100 * sum(compute)) / sum(step)).toFixed(1)}%`,
    inThreadStepMs: inThreadMs,
    speedup: inThreadMs / stepMs,
    samplesPerSec: (BATCH / stepMs) * 1000,
    load: load(),
  };
  rows.push(row);
  console.log(`${row.bench}: step ${stepMs.toFixed(1)} ms (in-thread ${inThreadMs.toFixed(1)} ms), waiting for data ${row.dataWait}, compute ${row.compute} (mean of ${step.length} steps, ${DATA_WORKERS} data workers), load ${load()}`);
}

// ---- training throughput per backend, checked across backends first ---------------------

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]!));
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d / scale;
}

async function trainBench(dataset: Dataset, ids: Int32Array, c: Case, backends: string[]) {
  // check: the same weights and batch give the same loss and gradients on every backend
  const results = backends.map((b) => {
    useBackend(b);
    const t = new Trainer(dataset, ids, configOf(c));
    const r = t.forwardBackward(t.features(t.gather(ids.subarray(0, BATCH))));
    t.dispose();
    return r;
  });
  const ref = results[0]!;
  if (!Number.isFinite(ref.loss)) throw new Error(`train check failed for ${c.name}: loss ${ref.loss}`);
  for (let i = 1; i < results.length; i++) {
    const r = results[i]!;
    if (Math.abs(r.loss - ref.loss) > 1e-5 * Math.max(1e-3, Math.abs(ref.loss))) throw new Error(`train check failed for ${c.name}: loss ${r.loss} on ${backends[i]} vs ${ref.loss} on ${backends[0]}`);
    for (const [name, g] of ref.grads) {
      const d = maxRelDiff(g, r.grads.get(name)!);
      if (!(d < 1e-3)) throw new Error(`train check failed for ${c.name}: gradient ${name} differs by ${d} (relative to its largest value) on ${backends[i]}`);
    }
  }
  for (const b of backends) {
    useBackend(b);
    const t = new Trainer(dataset, ids, configOf(c));
    const name = `train/${b}/${c.name}${tkanTag}`;
    const s = await measure(name, () => t.step(), { iterations: 5, timeMs: 2000 });
    rows.push({ bench: name, medianMs: s.medianMs, samplesPerSec: (BATCH / s.medianMs) * 1000, load: load() });
    console.log(`${name}: ${s.medianMs.toFixed(1)} ms/step, ${((BATCH / s.medianMs) * 1000).toFixed(0)} samples/s, load ${load()}`);
    t.dispose();
  }
}

// ---- the original kernel and synthetic-step benches ----------------------------------------

async function lstmBench() {
  useBackend('cpu');
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
  useBackend('cpu');
  const dataset = smallDataset(2, 4000);
  const ids = dataset.anchors('train').index.subarray(0, BATCH);
  const config = defaultModelConfig(kind);
  if (kind === 'dynamic') config.dynamic.sequence.encoderLookback = 12;
  const t = new Trainer(dataset, ids, config);
  const first = t.step();
  if (!Number.isFinite(first)) throw new Error(`step check failed for ${kind}: loss ${first}`);
  const s = await measure(`step/cpu/${kind}-b${BATCH}`, () => t.step(), { iterations: 3, timeMs: 500 });
  rows.push({ bench: `step/cpu/${kind}-b${BATCH}`, medianMs: s.medianMs, 'orders/s': (BATCH / s.medianMs) * 1000 });
  t.dispose();
}

// ---- main ----------------------------------------------------------------------------------

// backends by their choice names, the first one the reference of the checks (cpu by default);
// 'sigvwap', the tfjs name of 'native', is accepted as an alias
const requested = option('--backend')?.split(',').map((b) => (b === 'sigvwap' ? 'native' : b));
const backends: BackendName[] = [];
for (const b of requested ?? ['cpu', 'wasm', 'native']) {
  try {
    await initBackend(b);
    backends.push(b as BackendName);
  } catch (e) {
    if (requested) throw e;
    console.log(`backend ${b} left out: ${(e as Error).message}`);
  }
}
const wanted = option('--cases')?.split(',');
const cases = wanted ? ALL_CASES.filter((c) => wanted.includes(c.name)) : ALL_CASES.filter((c) => !c.onDemand);
const { dataset, cleanup } = await realDataset();
try {
  const ids = dataset.anchors('train').index;
  console.log(`real data: ${dataset.assets.length} assets, ${ids.length} training anchors; backends ${backends.join(', ')}; load ${load()}`);
  if (flag('--profile')) {
    const steps = Number(option('--steps') ?? 5);
    for (const b of backends) {
      for (const c of cases) {
        const inThreadMs = await profile(dataset, ids, c, b, steps);
        await pipelinedProfile(dataset, ids, c, b, steps, inThreadMs);
      }
    }
  } else {
    // the kernel and synthetic-step rows only in a full run (--cases picks train rows only)
    if (!wanted) {
      await lstmBench();
      for (const kind of ['constCurve', 'static', 'dynamic'] as const) await stepBench(kind);
    }
    for (const c of cases.filter((x) => x.kind !== 'static')) await trainBench(dataset, ids, c, backends);
  }
} finally {
  cleanup();
}
// one table per kind of row (table() takes its columns from the first row)
const kindOf = (bench: string) => (bench.endsWith('/data-worker') ? 'data-worker' : bench.split('/')[0]);
for (const kind of ['profile', 'data-worker', 'lstm', 'step', 'train']) {
  const part = rows.filter((r) => kindOf(String(r.bench)) === kind);
  if (part.length > 0) console.log(table(part));
}
appendHistory({ suite: flag('--profile') ? 'train-profile' : 'train', commit: gitCommit(), machine: fingerprint(), date: new Date().toISOString(), loadAverage: loadavg(), rows });
