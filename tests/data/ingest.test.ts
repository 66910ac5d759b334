import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SigvwapError } from '../../src/errors.js';
import { ingest } from '../../src/data/ingest.js';
import { encodeAssetFile, readManifest, readStoreAsset } from '../../src/data/store.js';
import { barsToCsv, HOUR_MS, removeDir, sliceBars, syntheticBars, T0_MS, tempDir, writeGzip, writeText, writeZip } from './helpers.js';

let dir: string;
let store: string;
beforeEach(() => {
  dir = tempDir();
  store = join(dir, 'store');
});
afterEach(() => removeDir(dir));

async function ingestError(inputs: string[], options: Parameters<typeof ingest>[1] = {}): Promise<SigvwapError> {
  try {
    await ingest(inputs, { store, ...options });
  } catch (e) {
    expect(e).toBeInstanceOf(SigvwapError);
    return e as SigvwapError;
  }
  throw new Error('expected ingest to fail');
}

describe('ingest formats', () => {
  it.each([
    { name: 'binance-ms-noheader', layout: 'binance' as const, header: false, microseconds: false },
    { name: 'binance-us-header', layout: 'binance' as const, header: true, microseconds: true },
    { name: 'sigvwap-gzip', layout: 'sigvwap' as const, header: true, microseconds: false },
  ])('$name stores the same bars', async ({ layout, header, microseconds }) => {
    const bars = syntheticBars(100, { seed: 5, trades: layout === 'binance' });
    const text = barsToCsv(bars, layout, { header, microseconds });
    const file = layout === 'sigvwap' ? writeGzip(dir, 'in/BTCUSDT.csv.gz', text) : writeText(dir, 'in/BTCUSDT-1h-2024-01.csv', text);
    const r = await ingest([file], { store });
    expect(r.assets).toMatchObject([{ symbol: 'BTCUSDT', status: 'created', interval: '1h', rows: 100 }]);
    const m = readManifest(store);
    const entry = m.assets.BTCUSDT!;
    expect(entry).toMatchObject({ rows: 100, interval: '1h', start: new Date(T0_MS).toISOString(), end: new Date(T0_MS + 99 * HOUR_MS).toISOString() });
    expect(entry.sources).toHaveLength(1);
    expect(entry.sources[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    const { bars: back } = readStoreAsset(store, entry);
    expect(Array.from(back.openTimeMs)).toEqual(Array.from(bars.openTimeMs));
    expect(Array.from(back.quoteVolume)).toEqual(Array.from(bars.quoteVolume));
    expect(Array.from(back.trades).map((t) => (Number.isNaN(t) ? null : t))).toEqual(Array.from(bars.trades).map((t) => (Number.isNaN(t) ? null : t)));
  });

  it('merges a zip holding several monthly files and several zips of one symbol, in any order', async () => {
    const bars = syntheticBars(300, { seed: 6, trades: true });
    writeZip(dir, 'in/ETHUSDT-1h-2024-b.zip', {
      'ETHUSDT-1h-2024-03.csv': barsToCsv(sliceBars(bars, 200, 300), 'binance', { microseconds: true }),
      'ETHUSDT-1h-2024-02.csv': barsToCsv(sliceBars(bars, 100, 200), 'binance', { header: true }),
    });
    writeZip(dir, 'in/ETHUSDT-1h-2024-a.zip', { 'ETHUSDT-1h-2024-01.csv': barsToCsv(sliceBars(bars, 0, 100), 'binance') });
    const r = await ingest([join(dir, 'in')], { store });
    expect(r.assets).toMatchObject([{ symbol: 'ETHUSDT', rows: 300, sourcesAdded: expect.any(Array) }]);
    const entry = readManifest(store).assets.ETHUSDT!;
    expect(entry.sources).toHaveLength(2);
    const { bars: back } = readStoreAsset(store, entry);
    expect(Array.from(back.openTimeMs)).toEqual(Array.from(bars.openTimeMs));
    expect(Array.from(back.close)).toEqual(Array.from(bars.close));
  });

  it('reads Arrow IPC input (columns by name, nullable trades)', async () => {
    const bars = syntheticBars(60, { seed: 12, trades: true });
    bars.trades[5] = NaN;
    const meta = { rows: 60, start: '', end: '', interval: '1h', file: 'x', hasTrades: true, sources: [], changes: [] };
    const file = writeText(dir, 'in/SOLUSDT-1h.arrow', encodeAssetFile(bars, meta));
    const r = await ingest([file], { store });
    expect(r.assets).toMatchObject([{ symbol: 'SOLUSDT', interval: '1h', rows: 60 }]);
    const back = readStoreAsset(store, readManifest(store).assets.SOLUSDT!).bars;
    expect(Array.from(back.openTimeMs)).toEqual(Array.from(bars.openTimeMs));
    expect(Array.from(back.high)).toEqual(Array.from(bars.high));
    expect(back.trades[5]).toBeNaN();
    expect(back.trades[6]).toBe(bars.trades[6]);
  });

  it('infers the interval from the median step when the name has none', async () => {
    const bars = syntheticBars(40, { stepMs: 15 * 60_000 });
    const file = writeText(dir, 'XRPUSDT.csv', barsToCsv(bars, 'sigvwap'));
    const r = await ingest([file], { store });
    expect(r.assets[0]!.interval).toBe('15m');
  });

  it('skips unrelated files found in folders and lists them', async () => {
    writeText(dir, 'in/QC.csv', 'symbol,rows,start\nX,1,2\n');
    writeText(dir, 'in/SOURCE.md', '# notes');
    writeGzip(dir, 'in/LTCUSDT.csv.gz', barsToCsv(syntheticBars(10), 'sigvwap'));
    const r = await ingest([join(dir, 'in')], { store });
    expect(r.assets.map((a) => a.symbol)).toEqual(['LTCUSDT']);
    expect(r.skipped.map((s) => s.file.replace(/^.*[\\/]/, ''))).toEqual(['QC.csv', 'SOURCE.md']);
  });
});

describe('ingest store updates', () => {
  it('re-ingesting the same files is a no-op (store file untouched)', async () => {
    const file = writeGzip(dir, 'BTCUSDT.csv.gz', barsToCsv(syntheticBars(50), 'sigvwap'));
    await ingest([file], { store });
    const arrow = join(store, 'BTCUSDT-1h.arrow');
    const before = { bytes: readFileSync(arrow), mtime: statSync(arrow).mtimeMs, manifest: readFileSync(join(store, 'manifest.json'), 'utf8') };
    const r = await ingest([file], { store });
    expect(r.assets).toMatchObject([{ symbol: 'BTCUSDT', status: 'unchanged', rowsAdded: 0, rows: 50 }]);
    expect(readFileSync(arrow).equals(before.bytes)).toBe(true);
    expect(statSync(arrow).mtimeMs).toBe(before.mtime);
    expect(readFileSync(join(store, 'manifest.json'), 'utf8')).toBe(before.manifest);
  });

  it('a newer file appends', async () => {
    const bars = syntheticBars(120, { seed: 9 });
    const jan = writeText(dir, 'BTCUSDT-1h-2024-01.csv', barsToCsv(sliceBars(bars, 0, 80), 'binance'));
    await ingest([jan], { store });
    const feb = writeText(dir, 'BTCUSDT-1h-2024-02.csv', barsToCsv(sliceBars(bars, 80, 120), 'binance', { microseconds: true }));
    const r = await ingest([jan, feb], { store });
    expect(r.assets).toMatchObject([{ status: 'appended', rowsAdded: 40, rows: 120 }]);
    const entry = readManifest(store).assets.BTCUSDT!;
    expect(entry.sources.map((s) => s.file.replace(/^.*[\\/]/, ''))).toEqual(['BTCUSDT-1h-2024-01.csv', 'BTCUSDT-1h-2024-02.csv']);
    expect(Array.from(readStoreAsset(store, entry).bars.openTimeMs)).toEqual(Array.from(bars.openTimeMs));
  });

  it('a failed ingest leaves the previous store file and manifest intact (atomic write, no temp files)', async () => {
    const good = writeGzip(dir, 'BTCUSDT.csv.gz', barsToCsv(syntheticBars(30), 'sigvwap'));
    await ingest([good], { store });
    const arrow = join(store, 'BTCUSDT-1h.arrow');
    const before = readFileSync(arrow);
    const manifestBefore = readFileSync(join(store, 'manifest.json'), 'utf8');
    const later = syntheticBars(10, { startMs: T0_MS + 30 * HOUR_MS });
    const text = barsToCsv(later, 'binance').replace(/\n([^\n]*)\n$/, '\n$1,extra\n');
    const bad = writeText(dir, 'BTCUSDT-1h-2024-02.csv', text);
    const e = await ingestError([good, bad]);
    expect(e.code).toBe('ERR_CSV');
    expect(e.data).toMatchObject({ file: bad, line: 10 });
    expect(readFileSync(arrow).equals(before)).toBe(true);
    expect(readFileSync(join(store, 'manifest.json'), 'utf8')).toBe(manifestBefore);
    expect(readdirSync(store).sort()).toEqual(['BTCUSDT-1h.arrow', 'manifest.json']);
  });

  it('refuses a second interval for a stored symbol', async () => {
    await ingest([writeText(dir, 'BTCUSDT-1h-2024-01.csv', barsToCsv(syntheticBars(10), 'binance'))], { store });
    const e = await ingestError([writeText(dir, 'BTCUSDT-1m-2024-01.csv', barsToCsv(syntheticBars(10, { stepMs: 60_000 }), 'binance'))]);
    expect(e.code).toBe('ERR_DATA');
    expect(e.message).toMatch(/store holds 1h bars/);
  });
});

describe('ingest policies', () => {
  function duplicated(): string {
    const bars = syntheticBars(20, { seed: 11 });
    const text = barsToCsv(bars, 'sigvwap');
    const lines = text.trimEnd().split('\n');
    // line 8 (row 7) again, with another close, right after it: file line 9
    const dup = lines[7]!.split(',');
    dup[4] = String(Number(dup[4]) + 1);
    lines.splice(8, 0, dup.join(','));
    return writeText(dir, 'BTCUSDT.csv', lines.join('\n') + '\n');
  }

  it('refuses duplicates by default with an error naming file and line', async () => {
    const file = duplicated();
    const e = await ingestError([file]);
    expect(e.code).toBe('ERR_DATA');
    expect(e.data).toMatchObject({ file, line: 9, firstLine: 8, identical: false });
    expect(e.message).toContain(`${file}:9: duplicate open time`);
  });

  it.each([
    { policy: 'keep-first' as const, keptLine: 8, droppedLine: 9 },
    { policy: 'keep-last' as const, keptLine: 9, droppedLine: 8 },
  ])('--on-duplicate $policy keeps one row and lists the change', async ({ policy, keptLine, droppedLine }) => {
    const file = duplicated();
    const r = await ingest([file], { store, onDuplicate: policy });
    expect(r.assets[0]!.rows).toBe(20);
    expect(r.assets[0]!.changes).toEqual([
      { kind: 'duplicate', policy, openTime: new Date(T0_MS + 6 * HOUR_MS).toISOString(), identical: false, kept: { file, line: keptLine }, dropped: [{ file, line: droppedLine }] },
    ]);
    expect(readManifest(store).assets.BTCUSDT!.changes).toEqual(r.assets[0]!.changes);
  });

  it('unsorted rows: error by default, sorted and listed with --on-unsorted sort', async () => {
    const bars = syntheticBars(10);
    const file = writeText(dir, 'BTCUSDT.csv', barsToCsv(bars, 'sigvwap', { rows: [0, 1, 2, 4, 3, 5, 6, 7, 8, 9] }));
    const e = await ingestError([file]);
    expect(e.code).toBe('ERR_DATA');
    expect(e.data).toMatchObject({ file, line: 6 });
    const r = await ingest([file], { store, onUnsorted: 'sort' });
    expect(r.assets[0]!.changes).toEqual([{ kind: 'unsorted', policy: 'sort', file, rows: 1, firstLine: 6 }]);
    expect(Array.from(readStoreAsset(store, readManifest(store).assets.BTCUSDT!).bars.openTimeMs)).toEqual(Array.from(bars.openTimeMs));
  });

  it('invalid bars: kept by default, dropped and listed with --on-invalid drop, refused with error', async () => {
    const bars = syntheticBars(10);
    bars.low[3] = -1;
    const file = writeText(dir, 'BTCUSDT.csv', barsToCsv(bars, 'sigvwap'));
    expect((await ingest([file], { store: join(dir, 's1') })).assets[0]!.rows).toBe(10);
    const r = await ingest([file], { store: join(dir, 's2'), onInvalid: 'drop' });
    expect(r.assets[0]!.rows).toBe(9);
    expect(r.assets[0]!.changes).toEqual([{ kind: 'invalid-bar', policy: 'drop', openTime: new Date(T0_MS + 3 * HOUR_MS).toISOString(), file, line: 5, reason: 'non-positive price' }]);
    const e = await ingestError([file], { store: join(dir, 's3'), onInvalid: 'error' });
    expect(e.data).toMatchObject({ file, line: 5 });
  });

  it.each([
    { name: 'onDuplicate', options: { onDuplicate: 'drop' } },
    { name: 'onUnsorted', options: { onUnsorted: 'ignore' } },
    { name: 'onInvalid', options: { onInvalid: 'fix' } },
    { name: 'interval', options: { interval: 'hourly' } },
  ])('bad option $name -> ERR_ARG naming it', async ({ name, options }) => {
    const file = writeText(dir, 'BTCUSDT.csv', barsToCsv(syntheticBars(3), 'sigvwap'));
    const e = await ingestError([file], options as never);
    expect(e.code).toBe('ERR_ARG');
    expect(e.data.argument).toBe(name);
  });
});

describe('damaged containers -> ERR_CSV naming file and line', () => {
  it('truncated gzip names the first missing line', async () => {
    const text = barsToCsv(syntheticBars(3000, { seed: 2 }), 'sigvwap');
    const full = writeGzip(dir, 'full.gz', text);
    const bytes = readFileSync(full);
    const file = writeText(dir, 'BTCUSDT.csv.gz', bytes.subarray(0, Math.floor(bytes.length / 2)));
    const e = await ingestError([file]);
    expect(e.code).toBe('ERR_CSV');
    expect(e.data.file).toBe(file);
    const line = e.data.line as number;
    expect(line).toBeGreaterThan(100);
    expect(line).toBeLessThan(3000);
    expect(e.message).toMatch(/truncated or corrupt gzip/);
  });

  it('truncated zip names the entry and line', async () => {
    const text = barsToCsv(syntheticBars(3000, { seed: 2 }), 'binance');
    writeZip(dir, 'full.zip', { 'BTCUSDT-1h-2024-01.csv': text });
    const bytes = readFileSync(join(dir, 'full.zip'));
    const file = writeText(dir, 'BTCUSDT-1h-2024-01.zip', bytes.subarray(0, Math.floor(bytes.length / 2)));
    const e = await ingestError([file]);
    expect(e.code).toBe('ERR_CSV');
    expect(e.data).toMatchObject({ file, entry: 'BTCUSDT-1h-2024-01.csv' });
    expect(e.data.line as number).toBeGreaterThan(100);
    expect(e.data.line as number).toBeLessThan(3000);
  });

  it.each([
    { name: 'empty-csv', file: 'BTCUSDT.csv', bytes: '' },
    { name: 'empty-gzip', file: 'BTCUSDT.csv.gz', bytes: '' },
    { name: 'not-a-zip', file: 'BTCUSDT-1h-2024-01.zip', bytes: 'hello' },
  ])('$name', async ({ file, bytes }) => {
    const path = writeText(dir, file, bytes);
    const e = await ingestError([path]);
    expect(e.code).toBe('ERR_CSV');
    expect(e.data).toMatchObject({ file: path, line: 1 });
  });

  it('a malformed row inside a zip entry names archive!entry and line', async () => {
    const text = barsToCsv(syntheticBars(5), 'binance').replace(/\n$/, '\n1704085200000,1,2\n');
    const path = writeZip(dir, 'BTCUSDT-1h-2024-01.zip', { 'BTCUSDT-1h-2024-01.csv': text });
    const e = await ingestError([path]);
    expect(e.code).toBe('ERR_CSV');
    expect(e.data).toMatchObject({ file: `${path}!BTCUSDT-1h-2024-01.csv`, line: 6 });
  });

  it('a missing path -> ERR_IO naming it', async () => {
    const e = await ingestError([join(dir, 'nope.csv')]);
    expect(e.code).toBe('ERR_IO');
    expect(e.data.file).toBe(join(dir, 'nope.csv'));
  });
});


describe('writeFileAtomic', () => {
  it('replaces a file whole, and on a failed rename throws ERR_IO and leaves no temporary file', async () => {
    const { writeFileAtomic } = await import('../../src/data/writeFileAtomic.js');
    const target = join(dir, 'a.json');
    writeFileAtomic(target, 'one');
    writeFileAtomic(target, 'two');
    expect(readFileSync(target, 'utf8')).toBe('two');
    const blocked = join(dir, 'blocked');
    writeText(blocked, 'inside.txt', 'x'); // a non-empty directory where the file should go
    expect(() => writeFileAtomic(blocked, 'three')).toThrow(expect.objectContaining({ code: 'ERR_IO', data: expect.objectContaining({ file: blocked }) }));
    expect(readdirSync(dir).sort()).toEqual(['a.json', 'blocked']);
    expect(readFileSync(join(blocked, 'inside.txt'), 'utf8')).toBe('x');
  });
});

// Issue I #3: two ingests into one store both reported success, but the manifest kept only
// one writer's assets (each wrote back the manifest it had read).
describe('one writer per store', () => {
  const csv = (symbol: string, seed: number) => writeText(dir, `in-${symbol}/${symbol}-1h-2024-01.csv`, barsToCsv(syntheticBars(50, { seed, trades: true }), 'binance'));

  it('two concurrent ingests of two assets each both land', async () => {
    const a = [csv('AAAUSDT', 1), csv('ABBUSDT', 2)];
    const b = [csv('BAAUSDT', 3), csv('BBBUSDT', 4)];
    const [ra, rb] = await Promise.all([ingest(a, { store }), ingest(b, { store })]);
    expect([...ra.assets, ...rb.assets].map((x) => x.symbol).sort()).toEqual(['AAAUSDT', 'ABBUSDT', 'BAAUSDT', 'BBBUSDT']);
    expect(Object.keys(readManifest(store).assets).sort()).toEqual(['AAAUSDT', 'ABBUSDT', 'BAAUSDT', 'BBBUSDT']);
    expect(readdirSync(store)).not.toContain('.lock');
  });

  it.each([
    ['a live writer (this process)', 'fails with ERR_IO naming the holder', () => process.pid, true],
    ['a writer that died (stale lock)', 'is broken and the ingest lands', () => deadPid(), false],
  ])('a lock held by %s: %s', async (_name, _what, pid, blocks) => {
    mkdirSync(store, { recursive: true });
    writeFileSync(join(store, '.lock'), JSON.stringify({ pid: pid(), host: hostname(), createdAt: '2026-01-01T00:00:00Z', what: 'test' }));
    const run = ingest([csv('CCCUSDT', 5)], { store, lockTimeoutMs: 200 });
    if (blocks) {
      await expect(run).rejects.toMatchObject({ code: 'ERR_IO', message: expect.stringMatching(/is being written by pid \d+ .* remove .*\.lock/) });
      expect(existsSync(join(store, '.lock'))).toBe(true);
    } else {
      expect((await run).assets[0]!.symbol).toBe('CCCUSDT');
      expect(existsSync(join(store, '.lock'))).toBe(false);
    }
  });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}
