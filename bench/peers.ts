/**
 * `npm run bench:peers`: time the peer signature libraries (iisignature, esig,
 * pysiglib from PyPI, in the git-ignored virtualenv .venv-peers) on the
 * benchmark shapes in the same run as sigvwap, check that all agree on a
 * path, and append the peers' rows with the ratio ours/peer to
 * bench/results/history.jsonl. The ratios are the headline: < 1 means
 * sigvwap is faster.
 *
 * The headline peer, pySigLib on as many threads as ours, is also timed
 * interleaved: `PEERS_ROUNDS` rounds (default 5) of every shape, direction and
 * float type, each case timed as peer then sigvwap (sigvwap first in every
 * other round, against drift), both as the median of `PEERS_INTERLEAVED_REPEATS`
 * back-to-back calls (default 11) after a warm-up. The ratio of a case is the
 * median over rounds of the paired per-round ratios, with their range. Why:
 * on a shared 2-core VM the same call's median moves by up to 1.5x between
 * minutes, and the one-shot run times all peers minutes before sigvwap.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

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

/** Median ms of `repeats` back-to-back calls after one warm-up (peers.py's `timed`). */
function timedMs(fn: () => unknown, repeats: number): number {
  fn();
  const t: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

function median(xs: number[]): number {
  const t = [...xs].sort((a, b) => a - b);
  const h = t.length >> 1;
  return t.length % 2 ? t[h]! : (t[h - 1]! + t[h]!) / 2;
}

/** pySigLib timings on request from `peers.py --serve` (one JSON line each way). */
class PeerServer {
  private readonly proc = spawn(python, [join(benchDir, 'peers.py'), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  private readonly lines = createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();

  async medianMs(q: { shape: object; dtype: string; dir: string; threads: number; repeats: number }): Promise<number> {
    this.proc.stdin!.write(`${JSON.stringify(q)}\n`);
    const { value, done } = await this.lines.next();
    if (done) throw new Error('peers.py --serve exited early');
    const r = JSON.parse(value as string) as { medianMs?: number; error?: string };
    if (r.error !== undefined || r.medianMs === undefined) throw new Error(`peers.py --serve: ${r.error}`);
    return r.medianMs;
  }

  close(): void {
    this.proc.stdin!.end();
  }
}

interface InterleavedCase {
  shape: string;
  dir: 'forward' | 'backward';
  dtype: 'f32' | 'f64';
  peerMs: number[];
  oursMs: number[];
}

/** pySigLib (as many threads as ours) and sigvwap in alternation; see the header. */
async function interleaved(threads: number): Promise<InterleavedCase[]> {
  const rounds = Number(process.env.PEERS_ROUNDS ?? 5);
  const repeats = Number(process.env.PEERS_INTERLEAVED_REPEATS ?? 11);
  const { randomPaths } = await import('./signature.bench.js');
  const server = new PeerServer();
  const cases: InterleavedCase[] = [];
  const inputs = SHAPES.map((s) => {
    const p64 = randomPaths(s, 1);
    const w64 = Float64Array.from({ length: s.batch * sigLength(s.channels, s.depth) }, (_, i) => Math.sin(i));
    return { s, f64: { path: p64, w: w64 }, f32: { path: new Float32Array(p64), w: new Float32Array(w64) } };
  });
  try {
    for (let round = 0; round < rounds; round++) {
      for (const { s, ...byType } of inputs) {
        for (const dtype of ['f64', 'f32'] as const) {
          const { path, w } = byType[dtype];
          for (const dir of ['forward', 'backward'] as const) {
            let c = cases.find((x) => x.shape === s.id && x.dir === dir && x.dtype === dtype);
            if (!c) cases.push((c = { shape: s.id, dir, dtype, peerMs: [], oursMs: [] }));
            const fn = dir === 'forward' ? () => signature(path, s) : () => signatureBackward(path, w, s);
            const shape = { id: s.id, batch: s.batch, length: s.length, channels: s.channels, depth: s.depth };
            const peer = () => server.medianMs({ shape, dtype, dir, threads, repeats });
            if (round % 2 === 0) {
              c.peerMs.push(await peer());
              c.oursMs.push(timedMs(fn, repeats));
            } else {
              c.oursMs.push(timedMs(fn, repeats));
              c.peerMs.push(await peer());
            }
          }
        }
      }
      console.error(`bench:peers: interleaved round ${round + 1}/${rounds} done`);
    }
  } finally {
    server.close();
  }
  return cases;
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
  const inter = (await interleaved(threads)).map((c) => {
    const ratios = c.oursMs.map((o, i) => o / c.peerMs[i]!);
    return { ...c, ratios, ratio: median(ratios), peerMedianMs: median(c.peerMs), oursMedianMs: median(c.oursMs) };
  });
  console.log(`\npySigLib (${threads} threads) and sigvwap (${threads} threads) interleaved, ${inter[0]?.ratios.length ?? 0} rounds:`);
  console.log(
    table(
      inter.map((c) => ({
        shape: c.shape,
        dir: c.dir,
        dtype: c.dtype,
        'pysiglib ms': c.peerMedianMs,
        'sigvwap ms': c.oursMedianMs,
        'ours/peer (median of rounds)': c.ratio,
        'range over rounds': `${Math.min(...c.ratios).toFixed(2)}-${Math.max(...c.ratios).toFixed(2)}`,
        target: c.dir === 'forward' ? (c.ratio <= 0.5 ? 'met (<= 0.5)' : 'MISSED (<= 0.5)') : c.ratio <= 1 / 3 ? 'met (<= 1/3)' : 'MISSED (<= 1/3)',
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
    interleaved: inter.map((c) => ({
      name: `pysiglib/${threads}thr/${c.shape}/${c.dir}/${c.dtype}/interleaved`,
      peerMs: c.peerMs,
      oursMs: c.oursMs,
      ratios: c.ratios,
      ratio: c.ratio,
    })),
  });
}

await main();
