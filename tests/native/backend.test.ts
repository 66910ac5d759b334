import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { NativeLoadError, SigvwapError, backendInfo, setThreads, vwapLoss } from '../../src/index.js';
import { fromNative } from '../../src/errors.js';
import { fmaPeak } from '../../src/native/backend.js';
import { loadBinding, loadFrom, native } from '../../src/native/binding.js';
import { randomOrders } from '../helpers/random.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('backendInfo and threads', () => {
  it('reports version, SIMD level, threads and CUDA status with a reason', () => {
    const info = backendInfo();
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.simd).toMatch(/avx512f|avx2|sse|neon|scalar/);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(typeof info.cuda.compiled).toBe('boolean');
    expect(info.cuda.available || typeof info.cuda.reason === 'string').toBe(true);
    expect(info.binary).toMatch(/\.node$/);
  });

  it.each([
    { name: 'one', threads: 1 },
    { name: 'three', threads: 3 },
  ])('setThreads($threads) resizes the pool and keeps results identical', ({ threads }) => {
    const d = randomOrders(30000, 12, 1);
    const input = { ...d, batch: 30000, horizon: 12, kind: 'abs' as const };
    const before = vwapLoss(input).mean;
    setThreads(threads);
    expect(backendInfo().threads).toBe(threads);
    expect(vwapLoss(input).mean).toBe(before);
  });

  it.each([
    { name: 'zero', threads: 0 },
    { name: 'fraction', threads: 1.5 },
    { name: 'huge', threads: 5000 },
  ])('setThreads rejects $name with ERR_ARG', ({ threads }) => {
    expect(() => setThreads(threads)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  });

  it('SIGVWAP_THREADS sizes the pool of a new process', () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', "import('./dist/index.js').then(m => console.log(m.backendInfo().threads))"], {
      cwd: root,
      env: { ...process.env, SIGVWAP_THREADS: '3' },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('3');
  });
});

describe('fmaPeak', () => {
  // The kernel's arithmetic is checked in Rust (fma_peak.rs); here: the
  // report's shape, and float32 measured at twice float64's lanes.
  it.each([
    { name: 'float64', dtype: 'f64' as const },
    { name: 'float32', dtype: 'f32' as const },
  ])('measures $name on every pool thread', ({ dtype }) => {
    const p = fmaPeak(dtype);
    expect(p.dtype).toBe(dtype);
    expect(p.threads).toBe(backendInfo().threads);
    expect(Number.isFinite(p.gflops) && p.gflops > 0).toBe(true);
    expect(p.lanes).toBe(fmaPeak(dtype === 'f32' ? 'f64' : 'f32').lanes * (dtype === 'f32' ? 2 : 0.5));
    expect(p.simd).toMatch(/^(avx512f|avx2\+fma|portable)$/);
  });

  it.each([
    { name: 'f16', dtype: 'f16' },
    { name: 'undefined-like string', dtype: 'float64' },
  ])('rejects dtype $name with ERR_ARG naming dtype', ({ dtype }) => {
    expect(() => fmaPeak(dtype as 'f64')).toThrow(expect.objectContaining({ code: 'ERR_ARG', data: expect.objectContaining({ argument: 'dtype' }) }));
  });
});

describe('panics never abort the process', () => {
  it('sync panic becomes ERR_PANIC', () => {
    let caught: unknown;
    try {
      native().debugPanic('boom');
    } catch (e) {
      caught = fromNative(e);
    }
    expect(caught).toBeInstanceOf(SigvwapError);
    expect((caught as SigvwapError).code).toBe('ERR_PANIC');
    expect((caught as SigvwapError).message).toContain('boom');
  });

  it('async panic (on a pool thread) rejects with ERR_PANIC, and the addon keeps working', async () => {
    const err = await native().debugPanicAsync('async boom').then(
      () => undefined,
      (e: unknown) => fromNative(e),
    );
    expect(err?.code).toBe('ERR_PANIC');
    expect(err?.message).toContain('async boom');
    const d = randomOrders(2, 3, 1);
    expect(Number.isFinite(vwapLoss({ ...d, batch: 2, horizon: 3, kind: 'abs' }).mean)).toBe(true);
  });
});

describe('loader', () => {
  it('prefers the per-platform package folder and loads a .node file', () => {
    const { path } = loadBinding();
    expect(path).toMatch(/sigvwap\.[\w-]+\.node$/);
  });

  it('NativeLoadError lists every candidate tried and why', () => {
    const missing = join(root, 'no-such-dir', 'sigvwap.x.node');
    const notAnAddon = join(root, 'tests', 'fixtures', 'notAnAddon.node');
    let err: unknown;
    try {
      loadFrom([missing, 'sigvwap-no-such-platform', notAnAddon]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NativeLoadError);
    const e = err as NativeLoadError;
    expect(e.code).toBe('ERR_NATIVE_LOAD');
    expect(e.tried.map((t) => t.path)).toEqual([missing, 'sigvwap-no-such-platform', notAnAddon]);
    expect(e.tried[0]!.error).toBe('no such file');
    expect(e.tried[1]!.error).toBe('package not installed');
    expect(e.tried[2]!.error).toMatch(/invalid ELF|not a valid|header|too short|Unexpected/i);
    for (const t of e.tried) expect(e.message).toContain(t.path);
  });

  it('SIGVWAP_NATIVE_PATH is exclusive: a bad explicit path fails instead of falling back', () => {
    const bad = join(root, 'tests', 'fixtures', 'notAnAddon.node');
    const r = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', "import('./dist/index.js').then(m => { try { m.backendInfo(); console.log('loaded') } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, tried: e.tried })) } })"],
      { cwd: root, env: { ...process.env, SIGVWAP_NATIVE_PATH: bad }, encoding: 'utf8' },
    );
    const j = JSON.parse(r.stdout.trim());
    expect(j).toMatchObject({ name: 'NativeLoadError', code: 'ERR_NATIVE_LOAD' });
    expect(j.tried.map((t: { path: string }) => t.path)).toEqual([bad]);
  });
});

describe('worker threads', () => {
  it('loads in the main thread, a piscina pool and a Worker of one process, which exits with code 0', () => {
    const r = spawnSync(process.execPath, [join(root, 'tests/fixtures/addonWorkerMain.mjs')], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.signal).toBeNull();
    const j = JSON.parse(r.stdout.trim());
    expect(j.fromPool).toEqual([j.main, j.main, j.main]);
    expect(j.fromWorker).toBe(j.main);
  });
});
