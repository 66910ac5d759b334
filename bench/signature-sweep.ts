/**
 * `npm run bench:signature-sweep`: the block-size sweep of the CPU signature
 * kernels. For each benchmark shape (a–d of signature.bench.ts), dtype (f32
 * input runs float32 arithmetic, f64 input float64), instruction set this
 * machine has (AVX-512, AVX2+FMA; NEON/FMA on aarch64) and lanes per block
 * (2, 4, 8, 16 paths), it times the forward and backward (median of the
 * runs, each configuration checked against the reference first) with
 * native/core/examples/sigbench.rs --sweep, prints the best configuration per
 * shape next to the default's, and appends all rows to
 * bench/results/history.jsonl (suite 'signature-sweep'). The defaults in
 * native/core/src/signature/plan.rs (`default_lanes`) come from these runs.
 *
 * Run: npm run bench:signature-sweep   (SIGVWAP_BENCH_QUICK=1 for fewer runs)
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
  threads: number;
  forwardMs: number;
  backwardMs: number;
  forwardGflops: number;
  backwardGflops: number;
}

function main() {
  const quick = !!process.env.SIGVWAP_BENCH_QUICK;
  const root = join(benchDir, '..');
  const load = loadavg();
  console.error(`signature-sweep: building and running sigbench --sweep (load average ${load.map((x) => x.toFixed(2)).join(' ')})`);
  const stdout = execFileSync(
    'cargo',
    ['run', '--quiet', '--release', '-p', 'sigvwap-core', '--example', 'sigbench', '--', '--sweep', '--runs', quick ? '5' : '15'],
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
      if (r.forwardMs < b.fwd.forwardMs) b.fwd = r;
      if (r.backwardMs < b.bwd.backwardMs) b.bwd = r;
    }
  }
  console.log(table(rows.map((r) => ({ shape: r.shape, dtype: r.dtype, simd: r.simd, lanes: r.lanes, 'fwd ms': r.forwardMs, 'bwd ms': r.backwardMs, 'fwd GF/s': r.forwardGflops, 'bwd GF/s': r.backwardGflops }))));
  console.log();
  console.log(
    table(
      [...best.entries()].map(([key, b]) => ({
        'shape/dtype': key,
        'best fwd': `${b.fwd.simd} ${b.fwd.lanes} lanes`,
        'fwd ms': b.fwd.forwardMs,
        'best bwd': `${b.bwd.simd} ${b.bwd.lanes} lanes`,
        'bwd ms': b.bwd.backwardMs,
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
    cases: rows.map((r) => ({ name: `signature/cpu/${r.shape}/${r.dtype}/${r.simd}/lanes${r.lanes}`, ...r })),
  });
}

main();
