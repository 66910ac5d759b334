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
const options = { lookback: 24, horizon: 6, normalizerBars: 48 };

beforeAll(async () => {
  ensureFreshDist();
  api = (await import('../../dist/data/index.js' as string)) as DataApi;
  dir = tempDir();
  store = join(dir, 'store');
  symbols.forEach((s, k) => writeText(dir, `in/${s}.csv`, barsToCsv(syntheticBars(400 + 50 * k, { seed: 40 + k }), 'sigvwap')));
  await api.ingest([join(dir, 'in')], { store });
}, 180_000);
afterAll(() => removeDir(dir));

describe('series pool (dist)', () => {
  it.each([
    { name: 'w1', workers: 1 },
    { name: 'w2', workers: 2 },
  ])('pool with $name gives the same dataset as the in-process build', async ({ workers }) => {
    const pooled = await api.buildDataset({ store, ...options, workers });
    const local = await api.buildDataset({ store, ...options, workers: 0 });
    expect(pooled.assets).toEqual(local.assets);
    expect(pooled.anchorBar).toEqual(local.anchorBar);
    expect(pooled.anchorSplit).toEqual(local.anchorSplit);
    expect(pooled.anchorAsset).toEqual(local.anchorAsset);
    expect(pooled.anchorCount).toBeGreaterThan(0);
    expect(pooled.config).toEqual(local.config);
    for (let i = 0; i < symbols.length; i++) {
      const [p, l] = [pooled.series(i), local.series(i)];
      expect([p.intervalMs, p.bars]).toEqual([l.intervalMs, l.bars]);
      for (const k of ['openTimeMs', 'price', 'volume', 'quoteVolume', 'missing', 'normalizer'] as const) expect(p[k], `${symbols[i]} ${k}`).toEqual(l[k]);
    }
    for (let a = 0; a < pooled.anchorCount; a += 17) expect(pooled.normalizerOf(a)).toBe(local.normalizerOf(a));
  });

  it('a worker that crashes (out of memory) surfaces as ERR_WORKER naming the asset', async () => {
    const err = await api.buildDataset({ store, ...options, workers: 1, workerMemoryLimitMb: 1 }).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; data: { asset: string } },
    );
    expect(err).toBeDefined();
    expect(err!.code).toBe('ERR_WORKER');
    expect(symbols).toContain(err!.data.asset);
    expect(err!.message).toContain(err!.data.asset);
    expect(err!.message).toMatch(/memory/);
  });

  it.each([
    ['a store with checksums', 'ERR_DATA', false],
    ['a store written before checksums (Arrow decode fails)', 'ERR_IO', true],
  ])('a damaged store file fails the task of its asset, named in the error: %s -> %s', async (_name, code, dropChecksum) => {
    const file = join(store, 'BBBUSDT-1h.arrow');
    const manifestPath = join(store, 'manifest.json');
    const saved = readFileSync(file);
    const savedManifest = readFileSync(manifestPath, 'utf8');
    try {
      if (dropChecksum) {
        const m = JSON.parse(savedManifest) as { assets: Record<string, { fileSha256?: string }> };
        delete m.assets.BBBUSDT!.fileSha256;
        writeFileSync(manifestPath, JSON.stringify(m));
      }
      truncateSync(file, 600);
      const err = await api.buildDataset({ store, ...options, workers: 2 }).then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string; data: { asset: string } },
      );
      expect(err).toMatchObject({ code, data: { asset: 'BBBUSDT' } });
      expect(err!.message).toContain('BBBUSDT-1h.arrow');
    } finally {
      writeFileSync(file, saved);
      writeFileSync(manifestPath, savedManifest);
    }
  });
});
