/**
 * Market-data benchmarks (tinybench 6), named op/device/shape:
 *   ingest/cpu/<n>-assets              all files of ../shared/data/binance-spot-usdt-1h into a fresh store
 *   dataset/cpu/l400-h72-<n>           buildDataset: series, normalizers and anchors of every asset (piscina pool)
 *   orderFeatures/cpu/b1024-h72-static     ordersFromDataset + computeStaticFeatures (DEFAULT_STATIC_FEATURES)
 *                                          of 1024 train anchors: [1024, F] float32
 *   orderFeatures/cpu/b1024-h72-sequence   ordersFromDataset + computeSequenceFeatures (DEFAULT_SEQUENCE_FEATURES):
 *                                          [L + H - 2, 1024, 7] float32
 *   orderFeatures/cpu/b1024-h72-execState  ordersFromDataset + computeExecutionState: [H - 1, 1024, 4] float32
 * The order features (src/features, lookahead 0) are what the models read: they are computed
 * from the series and (asset, bar) pairs, with O(1) window statistics from per-series prefix
 * sums (built once per series and cached, so the timed calls measure the per-order work).
 * Each result is checked before it is timed (row count; feature shapes, finite values, and
 * one order of the batch equal to a single-order call).
 * Reports medians with rows/s, orders/s, and the peak RSS of the process (worker threads included).
 *
 * Run: `npx tsc -p tsconfig.json && npx tsx bench/data.bench.ts` (the pool runs compiled JS from dist/;
 * a stale dist is rebuilt first). Falls back to the bundled data/ when ../shared is absent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { ordersFromDataset, type OrderBatch } from '../src/data/marketSeries.js';
import { DEFAULT_SEQUENCE_FEATURES, computeExecutionState, computeSequenceFeatures, sequenceSteps, SEQUENCE_CHANNELS, EXECUTION_STATE_CHANNELS } from '../src/features/sequenceFeatures.js';
import { DEFAULT_STATIC_FEATURES, computeStaticFeatures, staticFeatureCount } from '../src/features/staticFeatures.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = resolve(ROOT, '..', 'shared', 'data', 'binance-spot-usdt-1h');

function ensureFreshDist(): void {
  const srcDir = join(ROOT, 'src');
  const stale = [join(srcDir, 'errors.ts'), ...readdirSync(join(srcDir, 'data')).map((f) => join(srcDir, 'data', f))]
    .filter((f) => f.endsWith('.ts'))
    .some((f) => {
      const js = join(ROOT, 'dist', f.slice(srcDir.length + 1).replace(/\.ts$/, '.js'));
      return !existsSync(js) || statSync(js).mtimeMs < statSync(f).mtimeMs;
    });
  if (!stale) return;
  console.error('dist/ is stale: running tsc');
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
  } catch {
    console.error('tsc reported errors (it still emits); going on');
  }
}

ensureFreshDist();
type DataApi = typeof import('../src/data/index.js');
const api = (await import(join(ROOT, 'dist', 'data', 'index.js'))) as DataApi;

const source = existsSync(SHARED) ? SHARED : join(ROOT, 'data');
if (source !== SHARED) console.error(`../shared not found: benchmarking the bundled sample ${source}`);
const work = mkdtempSync(join(tmpdir(), 'sigvwap-bench-'));
const store = join(work, 'store');
const LOOKBACK = 400;
const HORIZON = 72;
const BATCH = 1024;

interface Row { name: string; medianMs: number; unit: string; rate: string; note?: string }
const rows: Row[] = [];
const medianOf = (bench: Bench): number => {
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`benchmark ${bench.tasks[0]!.name} did not complete: ${r.state}`);
  return r.latency.p50;
};

try {
  // ---- ingest: check, then time (fresh store each run)
  const first = await api.ingest([source], { store });
  const totalRows = first.assets.reduce((n, a) => n + a.rows, 0);
  if (first.rowsRead !== totalRows || first.assets.some((a) => a.status !== 'created')) throw new Error('ingest check failed: rows read != rows stored');
  if (source === SHARED && (first.assets.length !== 110 || totalRows !== 2_138_837)) throw new Error(`ingest check failed: ${first.assets.length} assets, ${totalRows} rows (expected 110, 2,138,837)`);
  const bytesIn = first.bytesRead;
  const ingestBench = new Bench({ iterations: 3, warmupIterations: 0, warmup: false, time: 0 });
  ingestBench.add(`ingest/cpu/${first.assets.length}-assets`, async () => {
    rmSync(store, { recursive: true, force: true });
    await api.ingest([source], { store });
  });
  await ingestBench.run();
  const ingestMs = medianOf(ingestBench);
  rows.push({ name: ingestBench.tasks[0]!.name, medianMs: ingestMs, unit: 'rows/s', rate: `${Math.round(totalRows / (ingestMs / 1000)).toLocaleString('en-US')} rows/s, ${(bytesIn / 1e6 / (ingestMs / 1000)).toFixed(1)} MB/s compressed`, note: 'target <= 15 s' });

  // ---- series, normalizers and anchors via the pool
  let dataset = await api.buildDataset({ store, lookback: LOOKBACK, horizon: HORIZON });
  const featBench = new Bench({ iterations: 3, warmupIterations: 0, warmup: false, time: 0 });
  featBench.add(`dataset/cpu/l${LOOKBACK}-h${HORIZON}-${first.assets.length}`, async () => {
    dataset = await api.buildDataset({ store, lookback: LOOKBACK, horizon: HORIZON });
  });
  await featBench.run();
  const featMs = medianOf(featBench);
  const bars = dataset.assets.reduce((n, a) => n + a.bars, 0);
  rows.push({ name: featBench.tasks[0]!.name, medianMs: featMs, unit: 'bars/s', rate: `${Math.round(bars / (featMs / 1000)).toLocaleString('en-US')} bars/s, ${dataset.anchorCount.toLocaleString('en-US')} anchors`, note: 'target <= 5 s' });

  // ---- order features of a batch (the path the models use): check, then time
  const all = dataset.anchors('train');
  const rand = (() => { let s = 12345; return () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296); })();
  const batches = Array.from({ length: 16 }, () => Int32Array.from({ length: BATCH }, () => all.index[Math.floor(rand() * all.index.length)]!));
  const sSpec = DEFAULT_STATIC_FEATURES;
  const qSpec = DEFAULT_SEQUENCE_FEATURES;
  // time-major [steps, batch, C] or row-major [batch, C] (steps = 1): order b's values, in order
  const orderValues = (x: Float32Array, steps: number, batch: number, C: number, b: number): Float32Array => {
    const v = new Float32Array(steps * C);
    for (let i = 0; i < steps; i++) v.set(x.subarray((i * batch + b) * C, (i * batch + b + 1) * C), i * C);
    return v;
  };
  const kinds: { kind: string; steps: number; channels: number; run: (o: OrderBatch) => Float32Array }[] = [
    { kind: 'static', steps: 1, channels: staticFeatureCount(sSpec, HORIZON), run: (o) => computeStaticFeatures(o, sSpec, 0) },
    { kind: 'sequence', steps: sequenceSteps(qSpec, HORIZON, 0), channels: SEQUENCE_CHANNELS.length, run: (o) => computeSequenceFeatures(o, qSpec, 0) },
    { kind: 'execState', steps: HORIZON - 1, channels: EXECUTION_STATE_CHANNELS.length, run: (o) => computeExecutionState(o, qSpec, 0) },
  ];
  for (const { kind, steps, channels, run } of kinds) {
    const ids = batches[0]!;
    const x = run(ordersFromDataset(dataset, ids));
    if (x.length !== steps * BATCH * channels) throw new Error(`${kind} check failed: length ${x.length}, expected ${steps} x ${BATCH} x ${channels}`);
    const bad = x.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`${kind} check failed: non-finite value ${x[bad]} at ${bad}`);
    for (const b of [0, 517, BATCH - 1]) {
      const single = run(ordersFromDataset(dataset, [ids[b]!]));
      const got = orderValues(x, steps, BATCH, channels, b);
      if (single.length !== got.length || single.some((v, i) => !Object.is(v, got[i]))) throw new Error(`${kind} check failed: order ${b} of the batch differs from a single-order call`);
    }
  }
  let k = 0;
  const featureBench = new Bench({ iterations: 64, warmupIterations: 8, time: 0 });
  for (const { kind, run } of kinds) {
    featureBench.add(`orderFeatures/cpu/b${BATCH}-h${HORIZON}-${kind}`, () => {
      run(ordersFromDataset(dataset, batches[k++ % batches.length]!));
    });
  }
  await featureBench.run();
  // CPU time of the same calls (process.cpuUsage; only this thread runs now): on a shared
  // machine the wall-clock median also counts time the OS gave to other processes.
  const cpuMs = (fn: () => void): number => {
    const samples: number[] = [];
    for (let i = 0; i < 64; i++) {
      const c0 = process.cpuUsage();
      fn();
      const c = process.cpuUsage(c0);
      samples.push((c.user + c.system) / 1000);
    }
    return samples.sort((a, b) => a - b)[32]!;
  };
  const cpu = kinds.map(({ run }) => cpuMs(() => run(ordersFromDataset(dataset, batches[k++ % batches.length]!))));
  featureBench.tasks.forEach((task, i) => {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`${task.name} did not complete`);
    const ms = r.latency.p50;
    const { steps, channels } = kinds[i]!;
    const perSec = (t: number) => Math.round(BATCH / (t / 1000)).toLocaleString('en-US');
    rows.push({
      name: task.name, medianMs: ms, unit: 'orders/s',
      rate: `${perSec(ms)} orders/s (${steps > 1 ? `${steps} x ` : ''}${channels} values/order); CPU time ${cpu[i]!.toFixed(3)} ms = ${perSec(cpu[i]!)} orders per CPU-second`,
      note: 'lookahead 0, series prefix sums cached',
    });
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}

const peakRssMiB = process.resourceUsage().maxRSS / 1024;
console.log(`data benchmarks (${source === SHARED ? '../shared/data/binance-spot-usdt-1h' : 'data/'}, node ${process.version}, medians; load average ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} CPUs)`);
for (const r of rows) console.log(`${r.name.padEnd(42)} ${r.medianMs.toFixed(r.medianMs < 100 ? 3 : 0).padStart(9)} ms  ${r.rate}  [${r.note ?? ''}]`);
console.log(`peak RSS ${peakRssMiB.toFixed(0)} MiB  [target <= 2048 MiB]`);
