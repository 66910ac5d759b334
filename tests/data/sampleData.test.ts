/** The bundled sample in data/ ingests on a fresh clone and matches data/README.md. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDataset } from '../../src/data/buildDataset.js';
import { ingest, type IngestResult } from '../../src/data/ingest.js';
import { qualityReport } from '../../src/data/qualityReport.js';
import { REPO_ROOT, removeDir, tempDir } from './helpers.js';

describe('bundled sample data/', () => {
  let dir: string;
  let result: IngestResult;
  beforeAll(async () => {
    dir = tempDir();
    result = await ingest([join(REPO_ROOT, 'data')], { store: join(dir, 'store') });
  }, 120_000);
  afterAll(() => removeDir(dir));

  it('holds the ten pairs with the rows that README.md lists', () => {
    const readme = readFileSync(join(REPO_ROOT, 'data', 'README.md'), 'utf8');
    const table = [...readme.matchAll(/^\| (\w+)\.csv\.gz \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(table).toHaveLength(10);
    expect(result.assets.map((a) => [a.symbol, a.rows])).toEqual(table);
    expect(result.skipped.map((s) => s.file.replace(/^.*[\\/]/, ''))).toEqual(['README.md']);
    for (const a of result.assets) expect(a.end).toBe('2022-06-30T00:00:00.000Z');
  });

  it('has only exchange-wide gaps and builds a dataset', async () => {
    const qc = qualityReport({ store: join(dir, 'store') });
    for (const a of qc.assets) expect(a.gaps.filter((g) => g.exchangeWide !== true), a.symbol).toEqual([]);
    const ds = await buildDataset({ store: join(dir, 'store'), workers: 0 });
    expect(ds.assets).toHaveLength(10);
    expect(ds.anchors('test', 'train').index.length).toBeGreaterThan(1000);
  });
});
