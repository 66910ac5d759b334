/**
 * The piscina pool runs compiled JS, so this file tests the library through dist/:
 * `ensureFreshDist` rebuilds dist with tsc when any src/data file is newer than its
 * compiled twin and fails when dist is still stale, so a stale build cannot pass silently.
 */
import { truncateSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { barsToCsv, ensureFreshDist, removeDir, syntheticBars, tempDir, writeText } from './helpers.js';

type DataApi = typeof import('../../src/data/index.js');
let api: DataApi;
let dir: string;
let store: string;
const symbols = ['AAAUSDT', 'BBBUSDT', 'CCCUSDT'];
const options = { lookback: 24, horizon: 6, normalizerBars: 48, features: ['volume', 'hour', 'weekday', 'return', 'log_quote_volume'] as const };

beforeAll(async () => {
  ensureFreshDist();
  api = (await import('../../dist/data/index.js' as string)) as DataApi;
  dir = tempDir();
  store = join(dir, 'store');
  symbols.forEach((s, k) => writeText(dir, `in/${s}.csv`, barsToCsv(syntheticBars(400 + 50 * k, { seed: 40 + k }), 'sigvwap')));
  await api.ingest([join(dir, 'in')], { store });
}, 180_000);
afterAll(() => removeDir(dir));

describe('feature pool (dist)', () => {
  it.each([
    { name: 'w1', workers: 1 },
    { name: 'w2', workers: 2 },
  ])('pool with $name gives the same dataset as the in-process build', async ({ workers }) => {
    const pooled = await api.buildDataset({ store, ...options, features: [...options.features], workers });
    const local = await api.buildDataset({ store, ...options, features: [...options.features], workers: 0 });
    expect(pooled.assets).toEqual(local.assets);
    expect(pooled.anchorBar).toEqual(local.anchorBar);
    expect(pooled.anchorSplit).toEqual(local.anchorSplit);
    for (let i = 0; i < symbols.length; i++) {
      expect(pooled.series(i).features).toEqual(local.series(i).features);
      expect(pooled.series(i).normalizer).toEqual(local.series(i).normalizer);
    }
    const ids = Int32Array.from({ length: 64 }, (_, i) => (i * 7) % pooled.anchorCount);
    expect(pooled.gather(ids).x).toEqual(local.gather(ids).x);
  });

  it('a worker that crashes (out of memory) surfaces as ERR_WORKER naming the asset', async () => {
    const err = await api.buildDataset({ store, ...options, features: [...options.features], workers: 1, workerMemoryLimitMb: 1 }).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; data: { asset: string } },
    );
    expect(err).toBeDefined();
    expect(err!.code).toBe('ERR_WORKER');
    expect(symbols).toContain(err!.data.asset);
    expect(err!.message).toContain(err!.data.asset);
    expect(err!.message).toMatch(/memory/);
  });

  it('a damaged store file fails the task of its asset, named in the error', async () => {
    const file = join(store, 'BBBUSDT-1h.arrow');
    const saved = readFileSync(file);
    try {
      truncateSync(file, 600);
      const err = await api.buildDataset({ store, ...options, features: [...options.features], workers: 2 }).then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string; data: { asset: string } },
      );
      expect(err).toMatchObject({ code: 'ERR_IO', data: { asset: 'BBBUSDT' } });
      expect(err!.message).toContain('BBBUSDT-1h.arrow');
    } finally {
      writeFileSync(file, saved);
    }
  });
});
