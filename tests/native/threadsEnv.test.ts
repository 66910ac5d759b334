/**
 * SIGVWAP_THREADS is validated like setThreads (issue I #6): an integer in
 * 1..1024 (blank = unset). Any other value is ERR_ARG with
 * `data.argument = 'SIGVWAP_THREADS'` from backendInfo and every kernel,
 * until setThreads overrides it; the pool never starts the invalid count
 * (`100000` used to start tens of thousands of threads and never return;
 * `0` and `abc` were silently ignored).
 *
 * Through the command line, in child processes killed after 10 s: `sigvwap
 * info` must report the variable and exit 1 quickly, or print the thread
 * count for a valid value.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function cli(args: string[], threads: string) {
  return spawnSync(process.execPath, [join(root, 'dist/cli/main.js'), ...args], {
    cwd: root,
    env: { ...process.env, SIGVWAP_THREADS: threads },
    encoding: 'utf8',
    timeout: 10_000,
  });
}

describe('sigvwap info with SIGVWAP_THREADS', () => {
  it.each([
    { name: 'too many', value: '100000' },
    { name: 'zero', value: '0' },
    { name: 'not a number', value: 'abc' },
    { name: 'negative', value: '-3' },
    { name: 'fraction', value: '2.5' },
    { name: 'just above the cap', value: '1025' },
  ])('$name ($value): one ERR_ARG line naming the variable, exit 1', ({ value }) => {
    const r = cli(['info'], value);
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 1, signal: null });
    expect(r.stderr.trim()).toMatch(/^sigvwap: ERR_ARG: SIGVWAP_THREADS: .*1\.\.=?1024/);
    expect(r.stderr).toContain(`'${value}'`);
    const j = cli(['info', '--json'], value);
    expect(j.status).toBe(1);
    expect(JSON.parse(j.stdout.trim()).error).toMatchObject({ code: 'ERR_ARG', data: { argument: 'SIGVWAP_THREADS' } });
  });

  it.each([
    { name: 'valid', value: '3', threads: 3 },
    { name: 'valid with blanks', value: ' 2 ', threads: 2 },
  ])('$name ($value): exit 0 and that many threads', ({ value, threads }) => {
    const r = cli(['info'], value);
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^threads\\s+${threads}$`, 'm'));
    // and the tfjs backend models run on (native where the addon has its tensor kernels, as here)
    expect(r.stdout).toMatch(/^models\s+tfjs backend native /m);
    // and the wasm peer backend: under Node its SIMD build, on one thread
    expect(r.stdout).toMatch(/^wasm\s+tfjs-backend-wasm-simd\.wasm, 1 thread \(--backend wasm\)$/m);
  });
});

describe('the API with an invalid SIGVWAP_THREADS', () => {
  it('kernels reject with ERR_ARG naming the variable until setThreads overrides it', () => {
    const code = `import('./dist/index.js').then(async (m) => {
      const input = { alloc: new Float64Array([1, 1]), price: new Float64Array([1, 2]), volume: new Float64Array([1, 1]), batch: 1, horizon: 2, kind: 'abs' };
      const seen = [];
      const note = (e) => seen.push([e.code, e.data?.argument]);
      try { m.vwapLoss(input); seen.push('ok'); } catch (e) { note(e); }
      await m.signatureAsync(new Float64Array(4), { batch: 1, length: 2, channels: 2, depth: 2 }).then(() => seen.push('ok'), note);
      m.setThreads(2);
      seen.push(m.vwapLoss(input).used, m.backendInfo().threads);
      console.log(JSON.stringify(seen));
    })`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
      cwd: root,
      env: { ...process.env, SIGVWAP_THREADS: '100000' },
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(JSON.parse(r.stdout.trim())).toEqual([
      ['ERR_ARG', 'SIGVWAP_THREADS'],
      ['ERR_ARG', 'SIGVWAP_THREADS'],
      1,
      2,
    ]);
  });
});
