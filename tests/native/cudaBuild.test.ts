/**
 * A binary built with `--features cuda` must load and run on a machine
 * without a GPU or driver: CUDA reported unavailable with a reason, `auto`
 * falling back to the CPU, `cuda` refused with ERR_CUDA_UNAVAILABLE.
 * Uses the CUDA build that .ci/run compiles into target/cuda (skips visibly
 * when it is absent).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { repoRoot } from '../helpers/sharedDir.js';

const built = join(repoRoot, 'target', 'cuda', 'release', 'libsigvwap_node.so');
const present = existsSync(built);
if (!present) console.warn(`SKIPPED cuda build test: ${built} not found (built by .ci/run)`);

describe.skipIf(!present)('CUDA-enabled binary without a GPU', () => {
  it('loads, reports why CUDA is unavailable, falls back on auto and refuses cuda', () => {
    const node = join(mkdtempSync(join(tmpdir(), 'sigvwap-cuda-')), 'sigvwap.node');
    copyFileSync(built, node);
    const script = `
      import('./dist/index.js').then((m) => {
        const info = m.backendInfo();
        const input = { alloc: new Float64Array([1, 1]), price: new Float64Array([1, 2]), volume: new Float64Array([1, 1]), batch: 1, horizon: 2, kind: 'abs' };
        const auto = m.vwapLoss(input).device;
        let code = 'none';
        try { m.vwapLoss({ ...input, device: 'cuda' }); } catch (e) { code = e.code; }
        let sigCode = 'none';
        try { m.signature(new Float64Array(4), { batch: 1, length: 2, channels: 2, depth: 2, device: 'cuda' }); } catch (e) { sigCode = e.code; }
        console.log(JSON.stringify({ cuda: info.cuda, auto, code, sigCode }));
      });`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: repoRoot,
      env: { ...process.env, SIGVWAP_NATIVE_PATH: node },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout.trim());
    expect(j.cuda.compiled).toBe(true);
    if (j.cuda.available) {
      console.warn('SKIPPED: a CUDA device is available here; the fallback path cannot be exercised');
      return;
    }
    expect(j.cuda.reason).toMatch(/libcuda|driver|device/);
    expect(j.auto).toBe('cpu');
    expect(j.code).toBe('ERR_CUDA_UNAVAILABLE');
    expect(j.sigCode).toBe('ERR_CUDA_UNAVAILABLE');
  });
});
