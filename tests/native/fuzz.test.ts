/**
 * Seeded fuzz of every exported native function, sync and Async (issue I,
 * "fuzz harness"): shapes 0, 1, negative, fractional, 2^31 ..., wrong
 * lengths, NaN/Inf, mixed float types, plain arrays, `out` of the wrong type
 * or length or aliasing an input, detached and SharedArrayBuffer-backed
 * arrays, inputs and `out` transferred while an Async call runs. The calls
 * are generated and run by tests/fixtures/fuzzRunner.mjs (see its header).
 *
 * Asserts: no crash (a child that dies is restarted after the call that
 * killed it, which is counted), no hang (an Async call is bounded in the
 * child; a sync call that makes no progress for WATCHDOG_MS is killed and
 * counted), and every error a SigvwapError with a code in ERROR_CODES and a
 * `data.argument` (or `data.file`). Prints the seed, the call count and the
 * tallies; the seed is SIGVWAP_FUZZ_SEED (default fixed, so CI is
 * reproducible) and the count SIGVWAP_FUZZ_CALLS (default 5000).
 *
 * Cost: calls run in CHILDREN processes at once (2 cores); ~2 ms a call,
 * 5000 calls in ~10 s here.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const runner = join(root, 'tests/fixtures/fuzzRunner.mjs');

const SEED = Number(process.env.SIGVWAP_FUZZ_SEED ?? 20240613) >>> 0;
const CALLS = Number(process.env.SIGVWAP_FUZZ_CALLS ?? 5000);
const CHILDREN = 2;
/** A sync call (or the process) that shows no progress for this long is a hang. */
const WATCHDOG_MS = 20_000;

interface Record {
  i: number;
  fn: string;
  outcome: 'ok' | 'error' | 'bad-error' | 'hang' | 'crash';
  code?: string;
  argument?: string;
  detail?: string;
}

/** Run calls [from, to) in one child; resolves with the records and where it stopped. */
function runChild(from: number, to: number): Promise<{ records: Record[]; next: number; failure?: Record }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', runner, String(SEED), String(from), String(to)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const records: Record[] = [];
    let started = -1;
    let startedFn = '?';
    let done = false;
    let hung = false;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    let timer = setTimeout(kill, WATCHDOG_MS);
    function kill() {
      hung = true;
      child.kill('SIGKILL');
    }
    createInterface({ input: child.stdout }).on('line', (line) => {
      clearTimeout(timer);
      timer = setTimeout(kill, WATCHDOG_MS);
      if (line.startsWith('S ')) {
        const [, i, fn] = line.split(' ');
        started = Number(i);
        startedFn = fn ?? '?';
      }
      else if (line.startsWith('E ')) {
        const r = JSON.parse(line.slice(2)) as Record;
        records.push(r);
        started = -1;
      } else if (line === 'D') done = true;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (done && code === 0) return resolve({ records, next: to });
      // The call that was running when the child died or stalled; else the one after the last record.
      const at = started >= 0 ? started : (records.at(-1)?.i ?? from - 1) + 1;
      const failure: Record = {
        i: at,
        fn: started >= 0 ? startedFn : '?',
        outcome: hung ? 'hang' : 'crash',
        detail: hung ? `no progress for ${WATCHDOG_MS} ms` : `exit ${code}, signal ${signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
      };
      resolve({ records, next: at + 1, failure });
    });
  });
}

/** All calls [from, to), restarting the child after a crash or hang. */
async function runRange(from: number, to: number): Promise<Record[]> {
  const all: Record[] = [];
  let at = from;
  while (at < to) {
    const { records, next, failure } = await runChild(at, to);
    all.push(...records);
    if (failure) all.push(failure);
    at = next;
  }
  return all;
}

describe('fuzz of the native functions', () => {
  it(`seed ${SEED}, ${CALLS} calls: no crash, no hang, every error typed and naming its argument`, async () => {
    const t0 = performance.now();
    const step = Math.ceil(CALLS / CHILDREN);
    const parts = await Promise.all(Array.from({ length: CHILDREN }, (_, k) => runRange(k * step, Math.min(CALLS, (k + 1) * step))));
    const records = parts.flat();
    const seconds = (performance.now() - t0) / 1000;
    const count = (o: Record['outcome']) => records.filter((r) => r.outcome === o).length;
    const byCode: { [code: string]: number } = {};
    for (const r of records) if (r.outcome === 'error') byCode[r.code!] = (byCode[r.code!] ?? 0) + 1;
    const summary = {
      seed: SEED,
      calls: records.length,
      ok: count('ok'),
      typedErrors: count('error'),
      crashes: count('crash'),
      hangs: count('hang'),
      errorsWithoutCode: count('bad-error'),
      byCode,
      wallSeconds: Number(seconds.toFixed(1)),
    };
    const bad = records.filter((r) => r.outcome === 'crash' || r.outcome === 'hang' || r.outcome === 'bad-error');
    console.log(`sigvwap fuzz: ${JSON.stringify(summary)}`);
    for (const r of bad.slice(0, 20)) console.log(`sigvwap fuzz: ${r.outcome} at call ${r.i} (${r.fn}): ${r.detail ?? ''}`);
    expect(records.length).toBe(CALLS);
    expect({ crashes: summary.crashes, hangs: summary.hangs, errorsWithoutCode: summary.errorsWithoutCode }).toEqual({ crashes: 0, hangs: 0, errorsWithoutCode: 0 });
  }, 600_000);
});
