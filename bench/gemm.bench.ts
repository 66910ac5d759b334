/**
 * GEMM throughput: C = A·B at 1024×1024×1024, float32, on
 *   gemm/native/<threads>t/1024     the native kernel (native/core/src/matmul, `gemm` crate)
 *                                   called directly, on 1 thread and on every core
 *   gemm/sigvwap/1024               tf.matMul on the `sigvwap` tfjs backend (the same kernel plus
 *                                   the output allocation and tfjs' bookkeeping)
 *   gemm/cpu/1024                   tf.matMul on tfjs-backend-cpu (blocked JavaScript loops)
 * next to the machine's float32 FMA peak on every core, measured (`fmaPeak`,
 * native/core/src/fma_peak.rs: register-resident FMA chains on the widest vectors, all pool
 * threads at once). Until 2026-12-03 this was a formula (cores × nominal clock × 2 FMA units ×
 * lanes × 2) that could not see turbo or the number of FMA pipes.
 * Each result is checked against a float64 dot product on 256 sampled entries before it is
 * timed. GFLOP/s = 2·n³ / median time. Appends to bench/results/history.jsonl (suite `gemm`)
 * with the load average (the machine is shared: medians, and read the load).
 *
 * Run: npx tsx bench/gemm.bench.ts [--n 1024]
 */
import { availableParallelism, loadavg } from 'node:os';

import { tf } from '../src/ops/tf.js';
import { nativeBackendStatus, useBackend } from '../src/ops/backend.js';
import { matmulF32 } from '../src/native/matmul.js';
import { fmaPeak, setThreads } from '../src/native/index.js';
import { Rng } from '../src/rng.js';
import { appendHistory, fingerprint, gitCommit, measure, table } from './common.js';

const argv = process.argv.slice(2);
const nAt = argv.indexOf('--n');
const N = nAt >= 0 ? Number(argv[nAt + 1]) : 1024;
const load = () => loadavg()[0]!.toFixed(2);

function peakF32(): { gflops: number; formula: string } {
  const p = fmaPeak('f32');
  return { gflops: p.gflops, formula: `measured ${p.gflops.toFixed(1)} GFLOP/s (${p.threads} threads, ${p.simd}, ${p.lanes} f32 lanes per FMA)` };
}

const r = Rng.fromSeed(7);
const a = Float32Array.from({ length: N * N }, () => r.nextFloat() * 2 - 1);
const b = Float32Array.from({ length: N * N }, () => r.nextFloat() * 2 - 1);
const samples = Array.from({ length: 256 }, () => [Math.floor(r.nextFloat() * N), Math.floor(r.nextFloat() * N)] as const);

function check(name: string, c: ArrayLike<number>): void {
  for (const [i, j] of samples) {
    let want = 0;
    for (let p = 0; p < N; p++) want += a[i * N + p]! * b[p * N + j]!;
    const got = c[i * N + j]!;
    if (!(Math.abs(got - want) <= 1e-4 * N)) throw new Error(`${name} check failed: C[${i}, ${j}] = ${got}, expected ${want}`);
  }
}

const peak = peakF32();
const flops = 2 * N ** 3;
const rows: Record<string, string | number>[] = [];
const record = (name: string, ms: number) => {
  const gflops = flops / (ms / 1000) / 1e9;
  rows.push({ bench: name, medianMs: ms, gflops, ofPeak: `${((100 * gflops) / peak.gflops).toFixed(1)}%`, load: load() });
  console.log(`${name}: ${ms.toFixed(2)} ms, ${gflops.toFixed(1)} GFLOP/s (${((100 * gflops) / peak.gflops).toFixed(1)}% of peak), load ${load()}`);
};
console.log(`FMA peak: ${peak.formula}; load ${load()}`);

const status = nativeBackendStatus();
if (status.available) {
  const out = new Float32Array(N * N);
  const shape = { batchA: 1, batchB: 1, m: N, k: N, n: N };
  for (const threads of [1, availableParallelism()]) {
    setThreads(threads);
    out.fill(Number.NaN);
    matmulF32(a, b, out, shape);
    check(`native ${threads}t`, out);
    const s = await measure(`gemm/native/${threads}t/${N}`, () => matmulF32(a, b, out, shape), { iterations: 20, timeMs: 2000 });
    record(`gemm/native/${threads}t/${N}`, s.medianMs);
  }
  useBackend('native');
  const ta = tf.tensor2d(a, [N, N]);
  const tb = tf.tensor2d(b, [N, N]);
  const c = tf.matMul(ta, tb);
  check('sigvwap backend', c.dataSync());
  c.dispose();
  const s = await measure(`gemm/sigvwap/${N}`, () => tf.matMul(ta, tb).dispose(), { iterations: 20, timeMs: 2000 });
  record(`gemm/sigvwap/${N}`, s.medianMs);
  ta.dispose();
  tb.dispose();
} else {
  console.log(`native GEMM skipped: ${status.reason}`);
}
useBackend('cpu');
{
  const ta = tf.tensor2d(a, [N, N]);
  const tb = tf.tensor2d(b, [N, N]);
  const c = tf.matMul(ta, tb);
  check('tfjs cpu', c.dataSync());
  c.dispose();
  const s = await measure(`gemm/cpu/${N}`, () => tf.matMul(ta, tb).dispose(), { iterations: 2, timeMs: 0 });
  record(`gemm/cpu/${N}`, s.medianMs);
}
console.log(table(rows));
appendHistory({ suite: 'gemm', commit: gitCommit(), machine: fingerprint(), date: new Date().toISOString(), peak: peak.formula, peakGflops: peak.gflops, loadAverage: loadavg(), rows });
