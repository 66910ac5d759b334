#!/usr/bin/env node
// `npm test`: cargo test for the Rust crates, then vitest, and one closing
// line `N passed, N failed` that sums both. Exits non-zero when anything
// failed or a runner could not run.
//
// The core crate's tests are compiled with the `cuda` feature when nvcc is
// available (scripts/install-nvcc.sh puts it in .cuda/); its CPU-vs-CUDA
// parity tests then run and print SKIPPED lines when no GPU is present.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let passed = 0;
let failed = 0;
const broken = [];

function run(cmd, args, opts = {}) {
  console.error(`\n$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28, ...opts });
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  return r;
}

function findNvcc(dir, depth = 6) {
  if (depth === 0 || !existsSync(dir)) return undefined;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'nvcc' && dir.endsWith('bin')) return p;
    if (statSync(p).isDirectory()) {
      const hit = findNvcc(p, depth - 1);
      if (hit) return hit;
    }
  }
  return undefined;
}

// 1. TypeScript build: tests of workers run the compiled dist/.
const tsc = run('npx', ['tsc', '-p', 'tsconfig.json']);
if (tsc.status !== 0) broken.push('tsc');
// Type-check tests and benchmarks too (they are run by vitest and tsx, which do not check
// types): a moved module or a changed interface fails here, not in a benchmark run months later.
const tscCheck = run('npx', ['tsc', '-p', 'tsconfig.check.json']);
if (tscCheck.status !== 0) broken.push('tsc (tests and benchmarks)');

// 2. cargo test.
const cudaNvcc = process.env.NVCC || findNvcc(join(root, '.cuda'));
// --show-output: SKIPPED lines printed by passing tests stay visible.
const cargoRuns = [['test', '--workspace', '--release', '--', '--show-output']];
if (cudaNvcc) {
  // every native/core/tests/*_cuda.rs (a new kernel's parity test needs no edit here), and the
  // device-dispatch test, whose CUDA-build branch checks the typed errors without a GPU
  const cudaTests = readdirSync(join(root, 'native/core/tests')).filter((f) => f.endsWith('_cuda.rs') || f === 'device_dispatch.rs').map((f) => f.slice(0, -3)).sort();
  cargoRuns.push(['test', '--release', '-p', 'sigvwap-core', '--features', 'cuda', ...cudaTests.flatMap((t) => ['--test', t]), '--', '--show-output']);
} else {
  console.error('\nCUDA tests SKIPPED: nvcc not found (run `bash scripts/install-nvcc.sh` to compile and run them)');
}
for (const args of cargoRuns) {
  const r = run('cargo', args);
  let seen = 0;
  for (const m of `${r.stdout}\n${r.stderr}`.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
    passed += Number(m[1]);
    failed += Number(m[2]);
    seen++;
  }
  if (r.status !== 0 && seen === 0) broken.push(`cargo ${args.join(' ')}`);
}

// 3. vitest.
const out = mkdtempSync(join(tmpdir(), 'sigvwap-vitest-'));
const report = join(out, 'report.json');
const v = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
if (existsSync(report)) {
  const j = JSON.parse(readFileSync(report, 'utf8'));
  passed += j.numPassedTests;
  failed += j.numFailedTests;
  if (j.numFailedTestSuites > 0 && j.numFailedTests === 0) broken.push('vitest (a test file failed to load)');
} else {
  broken.push('vitest (no report)');
}
if (v.status !== 0 && failed === 0 && broken.length === 0) broken.push('vitest');
rmSync(out, { recursive: true, force: true });

if (broken.length) console.error(`\nrunners that failed to run: ${broken.join(', ')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || broken.length > 0 ? 1 : 0);
