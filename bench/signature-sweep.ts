/**
 * `npm run bench:signature-sweep`: the block-size sweep of the CPU signature
 * kernels. For each benchmark shape (a–d of signature.bench.ts), dtype (f32
 * input runs float32 arithmetic, f64 input float64), instruction set this
 * machine has (AVX-512, AVX2+FMA; NEON/FMA on aarch64), lanes per block
 * (2, 4, 8, 16 paths) and segments per pass of the forward sweep (1, 2, 4, 8),
 * it times the forward and backward (median of the runs, each configuration
 * checked against the reference first) with
 * native/core/examples/sigbench.rs --sweep, prints the best configuration per
 * shape, and appends all rows to
 * bench/results/history.jsonl (suite 'signature-sweep'). The defaults in
 * native/core/src/signature/plan.rs (`default_lanes`,
 * `default_segments_per_pass`) come from these runs. The sweep runs the
 * default plan otherwise: where the forward sweep goes one first letter (or
 * pair of first letters) at a time (`by_letter.rs`: AVX-512, lanes of one
 * register, d = 2 to 4 up to depth 4, any d <= 8 at depth 2; also the
 * backward's forward sweep to depth m - 1), segments per pass do not change
 * that sweep, and rows differing only in them measure the same code (shapes
 * a, b and d at 8 float64 / 16 float32 lanes).
 *
 * On a shared machine wall times swing by 2x when another process takes a
 * core, so the best configuration is picked by CPU ms per call (summed over
 * the pool's threads; time lost to other processes is not counted), and
 * the load average is recorded with the run.
 *
 * Run: npm run bench:signature-sweep   (SIGVWAP_BENCH_QUICK=1 for fewer runs;
 * arguments after `--` go to sigbench, e.g. `-- --simd avx512 --sweep-lanes
 * 4,8 --sweep-per-pass 1,4 --only-extra --shape 256,128,8,4`)
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';

import { appendHistory, benchDir, fingerprint, gitCommit, table } from './common.js';

interface SweepRow {
  shape: string;
  dtype: 'f32' | 'f64';
  precision: string;
  simd: string;
  lanes: number;
  segmentsPerPass: number;
  threads: number;
  forwardMs: number;
  backwardMs: number;
  forwardGflops: number;
  backwardGflops: number;
  forwardCpuMs: number;
  backwardCpuMs: number;
}

function main() {
  const quick = !!process.env.SIGVWAP_BENCH_QUICK;
  const root = join(benchDir, '..');
  const load = loadavg();
  console.error(`signature-sweep: building and running sigbench --sweep (load average ${load.map((x) => x.toFixed(2)).join(' ')})`);
  const stdout = execFileSync(
    'cargo',
    ['run', '--quiet', '--release', '-p', 'sigvwap-core', '--example', 'sigbench', '--', '--sweep', '--runs', quick ? '5' : '15', ...process.argv.slice(2)],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 },
  );
  const rows = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as SweepRow);
  if (rows.length === 0) throw new Error('signature-sweep: sigbench printed no rows');
  const best = new Map<string, { fwd: SweepRow; bwd: SweepRow }>();
  for (const r of rows) {
    const key = `${r.shape}/${r.dtype}`;
    const b = best.get(key);
    if (!b) best.set(key, { fwd: r, bwd: r });
    else {
      if (r.forwardCpuMs < b.fwd.forwardCpuMs) b.fwd = r;
      if (r.backwardCpuMs < b.bwd.backwardCpuMs) b.bwd = r;
    }
  }
  console.log(table(rows.map((r) => ({ shape: r.shape, dtype: r.dtype, simd: r.simd, lanes: r.lanes, 'per pass': r.segmentsPerPass, 'fwd ms': r.forwardMs, 'bwd ms': r.backwardMs, 'fwd cpu ms': r.forwardCpuMs, 'bwd cpu ms': r.backwardCpuMs, 'fwd GF/s': r.forwardGflops, 'bwd GF/s': r.backwardGflops }))));
  console.log();
  console.log(
    table(
      [...best.entries()].map(([key, b]) => ({
        'shape/dtype': key,
        'best fwd': `${b.fwd.simd} ${b.fwd.lanes} lanes ${b.fwd.segmentsPerPass}/pass`,
        'fwd cpu ms': b.fwd.forwardCpuMs,
        'best bwd': `${b.bwd.simd} ${b.bwd.lanes} lanes ${b.bwd.segmentsPerPass}/pass`,
        'bwd cpu ms': b.bwd.backwardCpuMs,
      })),
    ),
  );
  appendHistory({
    suite: 'signature-sweep',
    impl: 'sigvwap',
    commit: gitCommit(),
    date: new Date().toISOString(),
    machine: fingerprint(),
    threads: rows[0]!.threads,
    loadAvg: load,
    loadAvgAfter: loadavg(),
    cases: rows.map((r) => ({ name: `signature/cpu/${r.shape}/${r.dtype}/${r.simd}/lanes${r.lanes}/pass${r.segmentsPerPass}`, ...r })),
  });
}

main();
