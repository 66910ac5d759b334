/**
 * `npm run bench:peers`: time the peer signature libraries (iisignature, esig,
 * pysiglib from PyPI, in the git-ignored virtualenv .venv-peers) on the
 * benchmark shapes in the same run as sigvwap, check that all agree on a
 * path, and append the peers' rows with the ratio ours/peer to
 * bench/results/history.jsonl. The ratios are the headline: < 1 means
 * sigvwap is faster.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';

import { backendInfo, signature, signatureBackward, sigLength } from '../src/index.js';
import { appendHistory, benchDir, fingerprint, gitCommit, measure, table } from './common.js';
import { SHAPES, caseName, checkShape } from './signature.bench.js';

const root = join(benchDir, '..');
const venv = join(root, '.venv-peers');
const python = join(venv, 'bin', 'python');

function ensureVenv() {
  if (existsSync(python)) return;
  console.error('bench:peers: creating .venv-peers and installing numpy, iisignature, esig, pysiglib from PyPI');
  execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  const pip = [join(venv, 'bin', 'pip'), 'install', '--quiet', '--disable-pip-version-check'];
  execFileSync(pip[0]!, [...pip.slice(1), 'numpy', 'setuptools', 'wheel'], { stdio: 'inherit' });
  // iisignature builds against the installed numpy.
  execFileSync(pip[0]!, [...pip.slice(1), '--no-build-isolation', 'iisignature', 'esig', 'pysiglib'], { stdio: 'inherit' });
}

interface PeerRow {
  peer: string;
  threads: number;
  shape: string;
  dir: 'forward' | 'backward';
  dtype: 'f32' | 'f64';
  medianMs: number;
  minMs: number;
  maxMs: number;
}

async function main() {
  ensureVenv();
  const fp = fingerprint();
  const threads = backendInfo().threads;
  const shapes = SHAPES.map((s) => ({ id: s.id, batch: s.batch, length: s.length, channels: s.channels, depth: s.depth }));
  console.error('bench:peers: timing peers (this takes a few minutes: iisignature is single-threaded)');
  const r = spawnSync(python, [join(benchDir, 'peers.py')], { input: JSON.stringify(shapes), encoding: 'utf8', stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`peers.py failed with status ${r.status}`);
  const out = JSON.parse(r.stdout) as { versions: Record<string, string>; threadsAll: number; rows: PeerRow[]; checks: Record<string, number[] | string>[] };
  console.error(`peers: ${JSON.stringify(out.versions)}`);

  // All libraries must agree with sigvwap on one path per shape.
  for (const c of out.checks) {
    const s = SHAPES.find((x) => x.id === c.shape)!;
    const path = Float64Array.from(c.path as number[]);
    const ours = signature(path, { batch: 1, length: s.length, channels: s.channels, depth: s.depth });
    for (const peer of ['iisignature', 'pysiglib', 'esig']) {
      const theirs = c[peer] as number[] | undefined;
      if (!theirs) continue;
      const max = theirs.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      const err = theirs.reduce((m, x, i) => Math.max(m, Math.abs(x - ours[i]!)), 0) / max;
      if (!(err <= 1e-6)) throw new Error(`check failed: ${peer} disagrees with sigvwap on shape ${s.id} (relative error ${err})`);
    }
  }

  // Ours, same run, same shapes and data law.
  const oursMs = new Map<string, number>();
  for (const s of SHAPES) {
    checkShape(s);
    const siglen = sigLength(s.channels, s.depth);
    const { randomPaths } = await import('./signature.bench.js');
    const p64 = randomPaths(s, 1);
    const w64 = Float64Array.from({ length: s.batch * siglen }, (_, i) => Math.sin(i));
    for (const dtype of ['f64', 'f32'] as const) {
      const path = dtype === 'f32' ? new Float32Array(p64) : p64;
      const w = dtype === 'f32' ? new Float32Array(w64) : w64;
      for (const dir of ['forward', 'backward'] as const) {
        const fn = dir === 'forward' ? () => signature(path, s) : () => signatureBackward(path, w, s);
        oursMs.set(`${s.id}/${dir}/${dtype}`, (await measure(caseName(s, dir, dtype), fn, { iterations: 5, timeMs: 300 })).medianMs);
      }
    }
  }
  const rows = out.rows.map((p) => {
    const ours = oursMs.get(`${p.shape}/${p.dir}/${p.dtype}`)!;
    return { ...p, oursMs: ours, ratio: ours / p.medianMs };
  });
  console.log(
    table(
      rows.map((p) => ({
        shape: p.shape,
        dir: p.dir,
        dtype: p.dtype,
        peer: p.peer,
        'peer threads': p.threads,
        'peer ms': p.medianMs,
        [`sigvwap ms (${threads} thr)`]: p.oursMs,
        'ours/peer': p.ratio,
      })),
    ),
  );
  appendHistory({
    suite: 'signature',
    impl: 'peers',
    commit: gitCommit(),
    date: new Date().toISOString(),
    machine: fp,
    threads,
    loadAvg: loadavg(),
    versions: out.versions,
    cases: rows.map((p) => ({
      name: `${p.peer}/${p.threads}thr/${p.shape}/${p.dir}/${p.dtype}`,
      peer: p.peer,
      threads: String(p.threads),
      medianMs: p.medianMs,
      minMs: p.minMs,
      maxMs: p.maxMs,
      oursMs: p.oursMs,
      ratio: p.ratio,
    })),
  });
}

await main();
