/**
 * Market-data benchmarks (tinybench 6), named op/device/shape:
 *   ingest/cpu/<n>-assets         all files of ../shared/data/binance-spot-usdt-1h into a fresh store
 *   features/cpu/l400-h72-<n>     buildDataset: features, normalizers and anchors of every asset (piscina pool)
 *   gather/cpu/b1024-s471-c4      Dataset.gather of 1024 windows of 400 + 71 steps, reused output buffers
 *   gather/cpu/b1024-s471-c4-alloc  the same, allocating the output
 * Each result is checked before it is timed (row count, gather against a naive reference).
 * Reports medians with rows/s, GB/s written, and the peak RSS of the process (worker threads included).
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

  // ---- features + anchors via the pool
  let dataset = await api.buildDataset({ store, lookback: LOOKBACK, horizon: HORIZON });
  const featBench = new Bench({ iterations: 3, warmupIterations: 0, warmup: false, time: 0 });
  featBench.add(`features/cpu/l${LOOKBACK}-h${HORIZON}-${first.assets.length}`, async () => {
    dataset = await api.buildDataset({ store, lookback: LOOKBACK, horizon: HORIZON });
  });
  await featBench.run();
  const featMs = medianOf(featBench);
  const bars = dataset.assets.reduce((n, a) => n + a.bars, 0);
  rows.push({ name: featBench.tasks[0]!.name, medianMs: featMs, unit: 'bars/s', rate: `${Math.round(bars / (featMs / 1000)).toLocaleString('en-US')} bars/s, ${dataset.anchorCount.toLocaleString('en-US')} anchors`, note: 'target <= 5 s' });

  // ---- gather: check against a naive reference, then time
  const all = dataset.anchors('train');
  const rand = (() => { let s = 12345; return () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296); })();
  const batches = Array.from({ length: 16 }, () => Int32Array.from({ length: BATCH }, () => all.index[Math.floor(rand() * all.index.length)]!));
  const g = dataset.gather(batches[0]!);
  const { steps, channels } = g.shape;
  const vc = dataset.channelOf('volume');
  for (let b = 0; b < BATCH; b += 97) {
    const a = batches[0]![b]!;
    const s = dataset.series(dataset.anchorAsset[a]!);
    const r = dataset.anchorBar[a]!;
    const m = s.normalizer[r - LOOKBACK]!;
    for (let t = 0; t < steps; t++) {
      for (let c = 0; c < channels; c++) {
        const want = c === vc ? Math.fround(Math.fround(s.volume[r - LOOKBACK + t]!) * (1 / m)) : s.features[(r - LOOKBACK + t) * channels + c]!;
        if (g.x[(b * steps + t) * channels + c] !== want) throw new Error(`gather check failed at batch ${b} step ${t} channel ${c}`);
      }
    }
    for (let h = 0; h < HORIZON; h++) {
      if (g.price[b * HORIZON + h] !== s.price[r + h] || g.volume[b * HORIZON + h] !== s.volume[r + h]) throw new Error(`gather target check failed at batch ${b}`);
    }
  }
  const bytesPerBatch = g.x.byteLength + g.price.byteLength + g.volume.byteLength;
  const out = { x: g.x, price: g.price, volume: g.volume };
  let k = 0;
  const gatherBench = new Bench({ iterations: 64, warmupIterations: 8, time: 0 });
  gatherBench.add(`gather/cpu/b${BATCH}-s${steps}-c${channels}`, () => {
    dataset.gather(batches[k++ % batches.length]!, { out });
  });
  gatherBench.add(`gather/cpu/b${BATCH}-s${steps}-c${channels}-alloc`, () => {
    dataset.gather(batches[k++ % batches.length]!);
  });
  await gatherBench.run();
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
  const cpu = [
    cpuMs(() => dataset.gather(batches[k++ % batches.length]!, { out })),
    cpuMs(() => dataset.gather(batches[k++ % batches.length]!)),
  ];
  gatherBench.tasks.forEach((task, i) => {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`${task.name} did not complete`);
    const ms = r.latency.p50;
    const gbps = (t: number) => (bytesPerBatch / 1e9 / (t / 1000)).toFixed(2);
    rows.push({
      name: task.name, medianMs: ms, unit: 'GB/s',
      rate: `${gbps(ms)} GB/s written (${(bytesPerBatch / 1e6).toFixed(1)} MB/batch); CPU time ${cpu[i]!.toFixed(3)} ms = ${gbps(cpu[i]!)} GB/s per CPU-second`,
      note: 'target >= 2 GB/s',
    });
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}

const peakRssMiB = process.resourceUsage().maxRSS / 1024;
console.log(`data benchmarks (${source === SHARED ? '../shared/data/binance-spot-usdt-1h' : 'data/'}, node ${process.version}, medians; load average ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} CPUs)`);
for (const r of rows) console.log(`${r.name.padEnd(40)} ${r.medianMs.toFixed(r.medianMs < 100 ? 3 : 0).padStart(9)} ms  ${r.rate}  [${r.note ?? ''}]`);
console.log(`peak RSS ${peakRssMiB.toFixed(0)} MiB  [target <= 2048 MiB]`);
