/**
 * Shared benchmark helpers: machine fingerprint, memcpy bandwidth, tinybench
 * runs summarized as medians, and the append-only history
 * (bench/results/history.jsonl, one JSON object per line).
 */
import { execSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Bench } from 'tinybench';

import { backendInfo } from '../src/index.js';

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const historyPath = join(benchDir, 'results', 'history.jsonl');

export interface Fingerprint {
  cpu: string;
  cores: number;
  simd: string;
  memGiB: number;
  node: string;
  /** Stable key: runs on the same key are comparable. */
  key: string;
}

export function fingerprint(): Fingerprint {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown';
  const cores = cpus().length;
  const simd = backendInfo().simd;
  const memGiB = Math.round(totalmem() / 2 ** 30);
  return { cpu, cores, simd, memGiB, node: process.version, key: `${cpu}|${cores}c|${simd}` };
}

export function gitCommit(): string {
  const git = (args: string) => execSync(`git ${args}`, { cwd: benchDir, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  try {
    // Uncommitted changes to tracked files anywhere in the repository (the
    // history itself aside) mean the figures are not those of HEAD: the
    // commit reads `<head>+dirty`. `top` because git runs in bench/, where
    // plain pathspecs would cover bench/ only.
    const dirty = git("status --porcelain --untracked-files=no -- ':(top)' ':(top,exclude)bench/results'") !== '';
    return `${git('rev-parse --short HEAD')}${dirty ? '+dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}

export interface Summary {
  name: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
  samples: number;
}

/** Run one function under tinybench (warm-up on) and summarize its latency. */
export async function measure(name: string, fn: () => unknown, opts: { timeMs?: number; iterations?: number } = {}): Promise<Summary> {
  const bench = new Bench({ time: opts.timeMs ?? 1000, iterations: opts.iterations ?? 10, warmup: true });
  bench.add(name, fn);
  await bench.run();
  const task = bench.tasks[0]!;
  const r = task.result as unknown as { latency?: { p50: number; min: number; max: number; samplesCount?: number; samples?: number[] }; error?: unknown };
  if (!r || !r.latency) throw new Error(`benchmark ${name} failed: ${String(r?.error)}`);
  return { name, medianMs: r.latency.p50, minMs: r.latency.min, maxMs: r.latency.max, samples: r.latency.samplesCount ?? r.latency.samples?.length ?? 0 };
}

/** Single-thread memcpy bandwidth through TypedArray.set on 256 MiB (GB/s of bytes copied). */
export async function memcpyGBs(): Promise<number> {
  const n = 32 * 2 ** 20; // 32 Mi doubles = 256 MiB
  const src = new Float64Array(n).map((_, i) => i);
  const dst = new Float64Array(n);
  const s = await measure('memcpy', () => dst.set(src), { iterations: 10, timeMs: 500 });
  if (dst[n - 1] !== n - 1) throw new Error('memcpy check failed');
  return (n * 8) / (s.medianMs / 1000) / 1e9;
}

export function appendHistory(record: Record<string, unknown>): void {
  mkdirSync(dirname(historyPath), { recursive: true });
  appendFileSync(historyPath, `${JSON.stringify(record)}\n`);
}

export function readHistory(): Record<string, unknown>[] {
  try {
    return readFileSync(historyPath, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
}

export function table(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]!);
  const fmt = (v: string | number) => (typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)) : v);
  const cells = rows.map((r) => cols.map((c) => String(fmt(r[c] ?? ''))));
  const width = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (xs: string[]) => `| ${xs.map((x, i) => x.padEnd(width[i]!)).join(' | ')} |`;
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
