/**
 * Signature engine benchmark (issue B shapes), forward and backward, f32 and
 * f64, all threads. Before timing, each shape is checked: the forward against
 * the float64 TypeScript reference (per level, relative 1e-10), the backward
 * by a directional derivative (central difference of <gradOut, sig(x ± εv)>).
 *
 * Work is counted in multiply-adds of the algorithm per segment (as
 * native/core/examples/sigbench.rs counts it; level-1 additions ignored):
 *   F(m)  = Σ_{k=2..m} Σ_{i=2..k} d^i             forward Horner step
 *   Fr    = Σ_{k=4..m} Σ_{i=2..k-2} d^i           backward: recomputing A_2..A_{k-2}
 *   Ft    = Σ_{k=2..m} d^(k-1)                    backward: A_{k-1} formed on the fly
 *   forward  GFLOP = 2 · F(m) · segments · batch
 *   backward GFLOP = 2 · (2 F(m-1) + Fr + Ft + 2 F(m)) · segments · batch
 * (forward sweep and undo step to depth m-1, the recomputation, and the
 * reverse sweep's two multiply-adds per adjoint entry of levels ≥ 2).
 *
 * Each direction is timed twice: returning a fresh array (the plain call)
 * and writing into a reused `out` array (steady state of a training loop; no
 * allocation, no first-touch page faults). Targets are judged on both.
 *
 * 'of peak' (the figure the targets use) divides by the measured FMA peak of
 * the pool's threads (`fmaPeak`: register-resident FMA chains on the widest
 * vectors, every thread at once; native/core/src/fma_peak.rs), because the
 * formula cannot know the clock under load or whether a core has one 512-bit
 * FMA pipe or two. 'of nominal' is that formula, kept for the history before
 * 2026-12-03: cores × nominal GHz (/proc/cpuinfo) × 8 f64 / 16 f32 FMA lanes
 * per cycle on AVX2/AVX-512 parts (2 / 4 otherwise) × 2. On the 2-core
 * AVX-512 VM of the history the measured peak is ~2.35x the nominal one (two
 * 512-bit pipes, turbo above the 2.3 GHz shown).
 *
 * Appends one line per run to bench/results/history.jsonl; `npm run
 * bench:compare` prints the change against the previous run on this machine.
 * Run: npm run bench:signature   (SIGVWAP_BENCH_QUICK=1 for fewer samples)
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

import { backendInfo, sigLength, signature, signatureBackward } from '../src/index.js';
import { fmaPeak } from '../src/native/index.js';
import { rng } from '../tests/helpers/random.js';
import { signatureReference } from '../tests/helpers/signatureReference.js';
import { appendHistory, fingerprint, gitCommit, measure, table } from './common.js';

export const SHAPES = [
  { id: 'a', batch: 1024, length: 400, channels: 3, depth: 3, targetMs: { forward: 3, backward: 9 } },
  { id: 'b', batch: 1024, length: 400, channels: 3, depth: 4, targetMs: { forward: 8, backward: 24 } },
  { id: 'c', batch: 256, length: 128, channels: 8, depth: 4, targetMs: { forward: 15, backward: 45 } },
  { id: 'd', batch: 256, length: 10000, channels: 4, depth: 3, targetMs: { forward: 30, backward: 90 } },
] as const;

export type Shape = (typeof SHAPES)[number];

export const caseName = (s: Shape, dir: string, dtype: string) => `signature/cpu/b${s.batch}-l${s.length}-c${s.channels}-m${s.depth}/${dir}/${dtype}`;

/** Multiply-adds per path and segment: [forward, backward] (see the header). */
export function macsPerSegment(d: number, m: number): [number, number] {
  const F = (depth: number) => {
    let n = 0;
    for (let k = 2; k <= depth; k++) for (let i = 2; i <= k; i++) n += d ** i;
    return n;
  };
  let fr = 0;
  for (let k = 4; k <= m; k++) for (let i = 2; i <= k - 2; i++) fr += d ** i;
  let ft = 0;
  for (let k = 2; k <= m; k++) ft += d ** (k - 1);
  return [F(m), 2 * F(m - 1) + fr + ft + 2 * F(m)];
}

export function gflop(s: Shape, dir: 'forward' | 'backward'): number {
  const [f, b] = macsPerSegment(s.channels, s.depth);
  return (2 * (dir === 'backward' ? b : f) * (s.length - 1) * s.batch) / 1e9;
}

export function peakGflops(dtype: 'f32' | 'f64', cores: number, simd: string): number {
  let mhz = 0;
  try {
    const m = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    mhz = m ? Number(m[1]) : 0;
  } catch {
    /* not Linux */
  }
  const ghz = mhz > 0 ? mhz / 1000 : 3;
  const wide = /avx2|avx512/.test(simd);
  const lanes = (wide ? 8 : 2) * (dtype === 'f32' ? 2 : 1);
  return cores * ghz * lanes * 2;
}

export function randomPaths(s: { batch: number; length: number; channels: number }, seed: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(s.batch * s.length * s.channels);
  const scale = 1 / Math.sqrt(Math.max(1, s.length - 1));
  for (let b = 0; b < s.batch; b++) {
    for (let c = 0; c < s.channels; c++) {
      let x = r() - 0.5;
      for (let i = 0; i < s.length; i++) {
        x += (r() - 0.5) * 2 * scale;
        out[(b * s.length + i) * s.channels + c] = x;
      }
    }
  }
  return out;
}

/** Throws unless the native engine matches the reference on two paths of this shape. */
export function checkShape(s: Shape): void {
  const small = { ...s, batch: 2 };
  const path = randomPaths(small, 7);
  const got = signature(path, small);
  const siglen = sigLength(s.channels, s.depth);
  for (let b = 0; b < 2; b++) {
    const ref = signatureReference(path.subarray(b * s.length * s.channels, (b + 1) * s.length * s.channels), s.length, s.channels, s.depth);
    let o = b * siglen;
    for (const [k, level] of ref.entries()) {
      const max = level.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      for (let i = 0; i < level.length; i++) {
        if (Math.abs(got[o + i]! - level[i]!) > 1e-10 * max) throw new Error(`check failed: ${s.id} path ${b} level ${k + 1} entry ${i}`);
      }
      o += level.length;
    }
  }
  // Backward: <backward(x, w), v> == d/dε <w, sig(x + εv)> at ε = 0.
  const r = rng(11);
  const w = Float64Array.from({ length: 2 * siglen }, () => r() - 0.5);
  const v = Float64Array.from({ length: path.length }, () => r() - 0.5);
  const g = signatureBackward(path, w, small);
  const eps = 1e-6;
  const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
  const up = signature(path.map((x, i) => x + eps * v[i]!), small);
  const dn = signature(path.map((x, i) => x - eps * v[i]!), small);
  const fd = (dot(w, up) - dot(w, dn)) / (2 * eps);
  const an = dot(g, v);
  if (Math.abs(fd - an) > 1e-6 * Math.max(1, Math.abs(an))) throw new Error(`check failed: ${s.id} backward directional derivative ${an} vs ${fd}`);
}

async function main() {
  const fp = fingerprint();
  const info = backendInfo();
  const quick = !!process.env.SIGVWAP_BENCH_QUICK;
  console.error(`machine: ${fp.cpu}, ${fp.cores} cores, ${fp.simd}; threads ${info.threads}`);
  const measuredPeak = { f64: fmaPeak('f64'), f32: fmaPeak('f32') };
  console.error(`measured FMA peak: f64 ${measuredPeak.f64.gflops.toFixed(1)} GFLOP/s, f32 ${measuredPeak.f32.gflops.toFixed(1)} GFLOP/s (${measuredPeak.f64.simd})`);
  const rows: Record<string, string | number>[] = [];
  const cases: Record<string, unknown>[] = [];
  for (const s of SHAPES) {
    checkShape(s);
    const p64 = randomPaths(s, 1);
    const siglen = sigLength(s.channels, s.depth);
    const w64 = Float64Array.from({ length: s.batch * siglen }, (_, i) => Math.sin(i));
    for (const dtype of ['f64', 'f32'] as const) {
      const path = dtype === 'f32' ? new Float32Array(p64) : p64;
      const w = dtype === 'f32' ? new Float32Array(w64) : w64;
      const outF = dtype === 'f32' ? new Float32Array(w64.length) : new Float64Array(w64.length);
      const outB = dtype === 'f32' ? new Float32Array(p64.length) : new Float64Array(p64.length);
      // the `out` forms must give the plain calls' results bit for bit
      const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => Object.is(v, b[i]));
      if (!same(signature(path, { ...s, out: outF }), signature(path, s))) throw new Error(`check failed: ${s.id} ${dtype} forward with out`);
      if (!same(signatureBackward(path, w, { ...s, out: outB }), signatureBackward(path, w, s))) throw new Error(`check failed: ${s.id} ${dtype} backward with out`);
      for (const dir of ['forward', 'backward'] as const) {
        for (const into of [false, true]) {
          const name = caseName(s, into ? `${dir}-out` : dir, dtype);
          const fn =
            dir === 'forward'
              ? into ? () => signature(path, { ...s, out: outF }) : () => signature(path, s)
              : into ? () => signatureBackward(path, w, { ...s, out: outB }) : () => signatureBackward(path, w, s);
          const m = await measure(name, fn, { iterations: quick ? 3 : 10, timeMs: quick ? 100 : 1000 });
          const gf = gflop(s, dir) / (m.medianMs / 1000);
          const peak = measuredPeak[dtype].gflops;
          const nominal = peakGflops(dtype, info.threads, fp.simd);
          const target = s.targetMs[dir];
          rows.push({
            shape: `${s.id}) ${s.batch}x${s.length}x${s.channels} m${s.depth}`,
            dir,
            result: into ? 'out' : 'fresh',
            dtype,
            'median ms': m.medianMs,
            'min ms': m.minMs,
            'paths/s': s.batch / (m.medianMs / 1000),
            'GFLOP/s': gf,
            'of peak': `${((100 * gf) / peak).toFixed(1)}%`,
            'of nominal': `${((100 * gf) / nominal).toFixed(1)}%`,
            target: dtype === 'f64' ? `${m.medianMs <= target ? 'met' : 'MISSED'} (≤ ${target})` : '',
          });
          cases.push({ name, shape: s.id, dir, result: into ? 'out' : 'fresh', dtype, medianMs: m.medianMs, minMs: m.minMs, maxMs: m.maxMs, pathsPerS: s.batch / (m.medianMs / 1000), gflops: gf, shareOfPeak: gf / nominal, shareOfMeasuredPeak: gf / peak, targetMs: target });
        }
      }
    }
  }
  console.log(table(rows));
  // f32 forward over f64 forward (same shape, plain call): the float32 path's gain.
  const fwd = (id: string, dtype: string) => cases.find((c) => c.shape === id && c.dir === 'forward' && c.result === 'fresh' && c.dtype === dtype)?.medianMs as number;
  const f32OverF64 = Object.fromEntries(SHAPES.map((s) => [s.id, fwd(s.id, 'f64') / fwd(s.id, 'f32')]));
  console.log(`forward speed-up f32 over f64 (median ms f64 / f32): ${SHAPES.map((s) => `${s.id} ${f32OverF64[s.id]!.toFixed(2)}x`).join(', ')}`);
  appendHistory({ suite: 'signature', impl: 'sigvwap', commit: gitCommit(), date: new Date().toISOString(), machine: fp, threads: info.threads, loadAvg: loadavg(), measuredPeakGflops: { f64: measuredPeak.f64.gflops, f32: measuredPeak.f32.gflops }, forwardF32OverF64: f32OverF64, cases });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
