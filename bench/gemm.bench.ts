/**
 * GEMM throughput: C = A·B at 1024×1024×1024, float32, on
 *   gemm/native/<threads>t/1024     the native kernel (native/core/src/matmul, `gemm` crate)
 *                                   called directly, on 1 thread and on every core
 *   gemm/sigvwap/1024               tf.matMul on the `sigvwap` tfjs backend (the same kernel plus
 *                                   the output allocation and tfjs' bookkeeping)
 *   gemm/cpu/1024                   tf.matMul on tfjs-backend-cpu (blocked JavaScript loops)
 * next to the machine's FMA peak:
 *   peak = cores × clock × FMA units per core × f32 lanes per FMA × 2 flops,
 *   lanes 16 with AVX-512 (8 with AVX2, 4 otherwise), 2 FMA units per core (the Xeon server
 *   cores with AVX-512 have two 512-bit FMA ports; an assumption the VM cannot show), clock
 *   the nominal `cpu MHz` of /proc/cpuinfo (turbo is not visible inside the VM).
 * Each result is checked against a float64 dot product on 256 sampled entries before it is
 * timed. GFLOP/s = 2·n³ / median time. Appends to bench/results/history.jsonl (suite `gemm`)
 * with the load average (the machine is shared: medians, and read the load).
 *
 * Run: npx tsx bench/gemm.bench.ts [--n 1024]
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';

import { tf } from '../src/ops/tf.js';
import { nativeBackendStatus, useBackend } from '../src/ops/backend.js';
import { matmulF32 } from '../src/native/matmul.js';
import { setThreads } from '../src/native/index.js';
import { Rng } from '../src/rng.js';
import { appendHistory, fingerprint, gitCommit, measure, table } from './common.js';

const argv = process.argv.slice(2);
const nAt = argv.indexOf('--n');
const N = nAt >= 0 ? Number(argv[nAt + 1]) : 1024;
const load = () => loadavg()[0]!.toFixed(2);

function fmaPeak(): { gflops: number; formula: string } {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const flags = new Set((/^flags\s*:(.*)$/m.exec(info)?.[1] ?? '').trim().split(/\s+/));
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(info)?.[1] ?? 0);
  const cores = availableParallelism();
  const lanes = flags.has('avx512f') ? 16 : flags.has('avx2') ? 8 : 4;
  const units = flags.has('fma') ? 2 : 1;
  const gflops = (cores * mhz * 1e-3 * units * lanes * 2);
  return { gflops, formula: `${cores} cores × ${(mhz / 1000).toFixed(2)} GHz × ${units} FMA units × ${lanes} f32 lanes × 2 = ${gflops.toFixed(1)} GFLOP/s` };
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

const peak = fmaPeak();
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
