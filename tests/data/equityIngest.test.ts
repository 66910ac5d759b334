/**
 * Bars without quote volume or trade count (US equity minute bars): parsing, ingest, the store's
 * nullable quote_volume (and stores written before it), the quality report, interval inference
 * on sparse minute data, one-letter symbols, and the bar-price rule of the series
 * (VWAP = quote / volume when the quote volume is known, else the typical price (H+L+C)/3).
 * The last block ingests the shared equity data (skipped with a message when ../shared is absent).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Field, Float64, Int32, Int64, RecordBatch, Schema, Struct, Table, makeData, tableFromIPC, tableToIPC } from 'apache-arrow';
import { afterAll, beforeAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allocBarTable, type BarTable } from '../../src/data/barTable.js';
import { buildAssetSeries, DEFAULT_DATASET_CONFIG } from '../../src/data/buildAssetSeries.js';
import { ingest } from '../../src/data/ingest.js';
import { inferIntervalMs } from '../../src/data/interval.js';
import { loadStoreAssets, loadStoreSeries } from '../../src/data/loadStoreSeries.js';
import { parseKlineCsv } from '../../src/data/parseKlineCsv.js';
import { parseSourceName } from '../../src/data/parseSourceName.js';
import { qualityReport } from '../../src/data/qualityReport.js';
import { decodeAssetFile, encodeAssetFile, readManifest, readStoreAsset } from '../../src/data/store.js';
import { sharedPath } from '../helpers/sharedDir.js';
import { equityBars, DST_WEEK, MINUTE_MS } from './equityHelpers.js';
import { removeDir, syntheticBars, tempDir, writeGzip, writeText } from './helpers.js';
import { thrown } from '../helpers/errors.js';

const enc = (s: string) => new TextEncoder().encode(s);
const HEADER = 'open_time_ms,open,high,low,close,volume,quote_volume,trades';

/** sigvwap CSV with empty quote_volume and trades where they are NaN. */
function equityCsv(b: BarTable): string {
  const cell = (x: number) => (Number.isNaN(x) ? '' : String(x));
  const lines = [HEADER];
  for (let i = 0; i < b.length; i++) {
    lines.push([b.openTimeMs[i], b.open[i], b.high[i], b.low[i], b.close[i], b.volume[i], cell(b.quoteVolume[i]!), cell(b.trades[i]!)].join(','));
  }
  return lines.join('\n') + '\n';
}


describe('parsing bars without quote volume or trades', () => {
  const t0 = Date.UTC(2019, 1, 11, 14, 30);
  it('empty quote_volume and trades parse as NaN (unknown), numbers as before', () => {
    const text = `${HEADER}\n${t0},271.19,271.34,271.07,271.34,1488804,,\n${t0 + MINUTE_MS},271.32,271.32,271.22,271.2399,251600,68240000.5,17\n`;
    const { bars } = parseKlineCsv(enc(text), 'SPY.csv');
    expect(bars.length).toBe(2);
    expect(bars.quoteVolume[0]).toBeNaN();
    expect(bars.trades[0]).toBeNaN();
    expect(bars.volume[0]).toBe(1488804);
    expect(bars.quoteVolume[1]).toBe(68240000.5);
    expect(bars.trades[1]).toBe(17);
  });

  it('the Binance layout accepts an empty quote volume too', () => {
    const text = `${t0},1,2,0.5,1.5,10,${t0 + 3_599_999},,,0,0,0\n`;
    expect(parseKlineCsv(enc(text), 'x.csv').bars.quoteVolume[0]).toBeNaN();
  });

  it.each([
    { field: 'volume', column: 6, row: `${t0},1,2,0.5,1.5,,,` },
    { field: 'close', column: 5, row: `${t0},1,2,0.5,,10,,` },
    { field: 'open', column: 2, row: `${t0},,2,0.5,1.5,10,,` },
  ])('an empty $field is still ERR_CSV naming column $column', ({ field, column, row }) => {
    const e = thrown(() => parseKlineCsv(enc(`${HEADER}\n${row}\n`), 'bad.csv'));
    expect(e.code).toBe('ERR_CSV');
    expect(e.data).toMatchObject({ file: 'bad.csv', line: 2, column, field });
  });

  it('a non-numeric quote volume is still ERR_CSV', () => {
    const e = thrown(() => parseKlineCsv(enc(`${HEADER}\n${t0},1,2,0.5,1.5,10,abc,\n`), 'bad.csv'));
    expect(e.data).toMatchObject({ column: 7, field: 'quote_volume' });
  });
});

describe('ingest and store', () => {
  let dir: string;
  let store: string;
  beforeEach(() => {
    dir = tempDir();
    store = join(dir, 'store');
  });
  afterEach(() => removeDir(dir));

  it('stores bars without quote volume as null (NaN when read), trades as null', async () => {
    const bars = equityBars(DST_WEEK.slice(0, 2), { seed: 3 });
    bars.quoteVolume[10] = 1234.5; // one bar with a known quote volume
    const file = writeGzip(dir, 'in/SPY.csv.gz', equityCsv(bars));
    const r = await ingest([file], { store });
    expect(r.assets).toMatchObject([{ symbol: 'SPY', interval: '1m', rows: bars.length }]);
    const entry = readManifest(store).assets.SPY!;
    const back = readStoreAsset(store, entry).bars;
    expect(Array.from(back.openTimeMs)).toEqual(Array.from(bars.openTimeMs));
    expect(Array.from(back.volume)).toEqual(Array.from(bars.volume));
    expect(back.quoteVolume[10]).toBe(1234.5);
    expect(Array.from(back.quoteVolume).filter((q) => Number.isNaN(q))).toHaveLength(bars.length - 1);
    expect(Array.from(back.trades).every((t) => Number.isNaN(t))).toBe(true);
    expect(entry.hasTrades).toBe(false);
    // the Arrow file: quote_volume nullable with a null per unknown value (what pyarrow reads)
    const table = tableFromIPC(readFileSync(join(store, entry.file)));
    const field = table.schema.fields.find((f) => f.name === 'quote_volume')!;
    expect(field.nullable).toBe(true);
    expect(table.getChild('quote_volume')!.nullCount).toBe(bars.length - 1);
    expect(table.getChild('quote_volume')!.get(0)).toBeNull();
  });

  it('bars with quote volume keep the non-nullable field: byte-identical files as before', () => {
    const bars = syntheticBars(50, { seed: 4, trades: true });
    const meta = { rows: 50, start: '', end: '', interval: '1h', file: 'x', hasTrades: true, sources: [], changes: [] };
    const bytes = encodeAssetFile(bars, meta);
    const table = tableFromIPC(bytes);
    expect(table.schema.fields.find((f) => f.name === 'quote_volume')!.nullable).toBe(false);
    // the layout written before this change: every float column non-nullable, no validity bitmap
    expect(Array.from(decodeAssetFile(bytes, 'x').bars.quoteVolume)).toEqual(Array.from(bars.quoteVolume));
  });

  it('reads a store file written before (non-nullable quote_volume) and a nullable one whose null slots hold other values', () => {
    const bars = syntheticBars(20, { seed: 5 });
    const n = bars.length;
    const write = (nullable: boolean, validity: Uint8Array | null) => {
      const names = ['open', 'high', 'low', 'close', 'volume', 'quote_volume'] as const;
      const keys = ['open', 'high', 'low', 'close', 'volume', 'quoteVolume'] as const;
      const fields = [new Field('open_time_ms', new Int64(), false), ...names.map((c) => new Field(c, new Float64(), c === 'quote_volume' && nullable)), new Field('trades', new Int32(), true)];
      const time = BigInt64Array.from(bars.openTimeMs, (t) => BigInt(t));
      const children = [
        makeData({ type: new Int64(), length: n, data: time }),
        ...keys.map((k) => (k === 'quoteVolume' && validity
          ? makeData({ type: new Float64(), length: n, nullCount: 3, nullBitmap: validity, data: bars[k].slice() })
          : makeData({ type: new Float64(), length: n, data: bars[k].slice() }))),
        makeData({ type: new Int32(), length: n, nullCount: n, nullBitmap: new Uint8Array((n + 7) >> 3), data: new Int32Array(n) }),
      ];
      const schema = new Schema(fields);
      return tableToIPC(new Table([new RecordBatch(schema, makeData({ type: new Struct(fields), length: n, children }))]), 'file');
    };
    const old = decodeAssetFile(write(false, null), 'old.arrow').bars;
    expect(Array.from(old.quoteVolume)).toEqual(Array.from(bars.quoteVolume));
    const validity = new Uint8Array((n + 7) >> 3).fill(0xff);
    for (const i of [0, 7, 19]) validity[i >> 3]! &= ~(1 << (i & 7));
    const withNulls = decodeAssetFile(write(true, validity), 'nulls.arrow').bars;
    for (let i = 0; i < n; i++) {
      if ([0, 7, 19].includes(i)) expect(withNulls.quoteVolume[i]).toBeNaN();
      else expect(withNulls.quoteVolume[i]).toBe(bars.quoteVolume[i]);
    }
  });

  it('Arrow input without a quote_volume column, or with nulls in it, ingests as unknown', async () => {
    const bars = syntheticBars(30, { seed: 6, stepMs: MINUTE_MS });
    const n = bars.length;
    const fields = [new Field('open_time_ms', new Int64(), false), ...['open', 'high', 'low', 'close', 'volume'].map((c) => new Field(c, new Float64(), false))];
    const children = [
      makeData({ type: new Int64(), length: n, data: BigInt64Array.from(bars.openTimeMs, (t) => BigInt(t)) }),
      ...(['open', 'high', 'low', 'close', 'volume'] as const).map((k) => makeData({ type: new Float64(), length: n, data: bars[k].slice() })),
    ];
    const schema = new Schema(fields);
    const bytes = tableToIPC(new Table([new RecordBatch(schema, makeData({ type: new Struct(fields), length: n, children }))]), 'file');
    const file = writeText(dir, 'in/XLP.arrow', bytes);
    await ingest([file], { store });
    const back = readStoreAsset(store, readManifest(store).assets.XLP!).bars;
    expect(Array.from(back.quoteVolume).every((q) => Number.isNaN(q))).toBe(true);
    expect(Array.from(back.close)).toEqual(Array.from(bars.close));
  });

  it.each(['keep', 'drop', 'error'] as const)('a bar without quote volume is valid under --on-invalid %s', async (onInvalid) => {
    const bars = equityBars(DST_WEEK.slice(0, 1), { seed: 7 });
    const file = writeText(dir, 'in/MSFT.csv', equityCsv(bars));
    const r = await ingest([file], { store, onInvalid });
    expect(r.assets[0]!.rows).toBe(bars.length);
    expect(r.assets[0]!.changes).toEqual([]);
  });

  it('re-ingesting a file without quote volume is a no-op, and a later file appends', async () => {
    const bars = equityBars(DST_WEEK, { seed: 8 });
    const half = bars.openTimeMs.findIndex((t) => t >= Date.UTC(2024, 2, 9));
    const first = allocBarTable(half);
    const second = allocBarTable(bars.length - half);
    for (const k of ['openTimeMs', 'open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'trades'] as const) {
      first[k].set(bars[k].subarray(0, half));
      second[k].set(bars[k].subarray(half));
    }
    const a = writeText(dir, 'in/JPM-2024-03a.csv', equityCsv(first));
    await ingest([a], { store });
    expect((await ingest([a], { store })).assets[0]!.status).toBe('unchanged');
    const b = writeText(dir, 'in/JPM-2024-03b.csv', equityCsv(second));
    const r = await ingest([a, b], { store });
    expect(r.assets[0]).toMatchObject({ status: 'appended', rows: bars.length, interval: '1m' });
  });

  it('the quality report counts bars without quote volume, not as non-finite', async () => {
    const bars = equityBars(DST_WEEK.slice(0, 1), { seed: 9 });
    bars.quoteVolume[3] = bars.volume[3]! * bars.close[3]!;
    await ingest([writeText(dir, 'in/BK.csv', equityCsv(bars))], { store });
    const qc = qualityReport({ store }).assets[0]!;
    expect(qc.quoteVolumeAbsent).toBe(bars.length - 1);
    expect(qc.nonFinite.count).toBe(0);
    expect(qc.vwapOutsideRange.count).toBe(0);
  });

  it('a one-letter symbol (V) is a symbol; a one-digit name is not', async () => {
    expect(parseSourceName('V.csv.gz')).toEqual({ symbol: 'V' });
    expect(parseSourceName('v_1m.csv')).toEqual({ symbol: 'V', interval: '1m' });
    expect(parseSourceName('1.csv')).toBeUndefined();
    const bars = equityBars(DST_WEEK.slice(0, 1), { seed: 10 });
    writeGzip(dir, 'in/V.csv.gz', equityCsv(bars));
    const r = await ingest([join(dir, 'in')], { store });
    expect(r.assets.map((x) => x.symbol)).toEqual(['V']);
    expect(r.skipped).toEqual([]);
  });

  it('sparse minute bars (most minutes without a trade) are 1m bars, not their median step', async () => {
    // 1-minute steps are ~20% of the steps, 2- and 3-minute steps more common
    const bars = equityBars(DST_WEEK.slice(0, 2), { seed: 11 });
    const keep: number[] = [];
    for (let i = 0, gap = 0; i < bars.length; i += 1 + gap, gap = (gap + 1) % 3) keep.push(i);
    const sparse = allocBarTable(keep.length);
    for (const k of ['openTimeMs', 'open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'trades'] as const) keep.forEach((r, j) => (sparse[k][j] = bars[k][r]!));
    expect(inferIntervalMs(sparse.openTimeMs)).toBe(MINUTE_MS);
    const r = await ingest([writeText(dir, 'in/UGA.csv', equityCsv(sparse))], { store });
    expect(r.assets[0]!.interval).toBe('1m');
    // a dense hourly series still gives its median step (Binance files are unchanged)
    const hourly = syntheticBars(100, { seed: 2 });
    expect(inferIntervalMs(hourly.openTimeMs)).toBe(3_600_000);
    expect(inferIntervalMs(Float64Array.from([0, 3_600_000, 7_200_000, 7_260_000, 10_800_000, 14_400_000, 18_000_000, 21_600_000, 25_200_000, 28_800_000, 32_400_000, 36_000_000]))).toBe(3_600_000);
  });
});

describe('the bar price rule of the series', () => {
  const t0 = Date.UTC(2024, 0, 2, 14, 30);
  // bars: 0 quote known; 1 quote unknown; 2 zero volume (quote unknown); 3 missing; 4 quote known but 0 with volume; 5 quote unknown
  function table(): BarTable {
    const rows = [
      { i: 0, o: 10, h: 12, l: 9, c: 11, v: 100, q: 1050 },
      { i: 1, o: 11, h: 13, l: 10, c: 12.5, v: 50, q: NaN },
      { i: 2, o: 12, h: 12, l: 12, c: 12, v: 0, q: NaN },
      { i: 4, o: 12, h: 14, l: 11, c: 13, v: 10, q: 0 },
      { i: 5, o: 13, h: 16, l: 13, c: 14.5, v: 20, q: NaN },
    ];
    const b = allocBarTable(rows.length);
    rows.forEach((r, j) => {
      b.openTimeMs[j] = t0 + r.i * MINUTE_MS;
      b.open[j] = r.o;
      b.high[j] = r.h;
      b.low[j] = r.l;
      b.close[j] = r.c;
      b.volume[j] = r.v;
      b.quoteVolume[j] = r.q;
    });
    return b;
  }

  it('VWAP = quote / volume when known, typical price (H+L+C)/3 when unknown, carried forward otherwise', () => {
    const s = buildAssetSeries(table(), MINUTE_MS, { ...DEFAULT_DATASET_CONFIG, lookback: 1, horizon: 1, normalizerBars: 1 }).series;
    expect(s.bars).toBe(6);
    expect(s.price[0]).toBe(10.5); // 1050 / 100
    expect(s.price[1]).toBeCloseTo((13 + 10 + 12.5) / 3, 12);
    expect(s.price[2]).toBe(s.price[1]); // zero volume: carried
    expect(s.price[3]).toBe(s.price[1]); // missing: carried
    expect(s.price[4]).toBe(s.price[1]); // a known quote volume of 0: carried (as before)
    expect(s.price[5]).toBeCloseTo((16 + 13 + 14.5) / 3, 12);
    expect(s.quoteVolume[1]).toBeNaN(); // nothing invented
    expect(Array.from(s.missing)).toEqual([0, 0, 0, 1, 0, 0]);
    expect(Array.from(s.high)).toEqual([12, 13, 12, NaN, 14, 16]);
    expect(Array.from(s.low)).toEqual([9, 10, 12, NaN, 11, 13]);
  });

  it('a series of bars without quote volume has a finite liquidity (volume · price)', () => {
    const bars = equityBars(DST_WEEK, { seed: 12 });
    const { series, anchors } = buildAssetSeries(bars, MINUTE_MS, { ...DEFAULT_DATASET_CONFIG, lookback: 10, horizon: 5, normalizerBars: 30 });
    expect(Number.isFinite(anchors.liquidity) && anchors.liquidity > 0).toBe(true);
    for (let k = 0; k < series.bars; k++) expect(series.price[k]! > 0).toBe(true);
  });
});

const EQ_2019 = sharedPath('data/us-equity-1min-2019-02', 'tests/data/equityIngest.test.ts (shared equity ingest)') ?? '';
const SPY_2025 = sharedPath('data/us-equity-spy-1min-2025-07', 'tests/data/equityIngest.test.ts (shared SPY 2025-07 ingest)') ?? '';

describe.skipIf(EQ_2019 === '' || SPY_2025 === '')('shared US equity minute data ingest', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });
  afterAll(() => dir && removeDir(dir));

  it('us-equity-1min-2019-02: every ticker ingests as 1m bars, rows as in QC.csv, quote volume unknown', async () => {
    const store = join(dir, 'eq');
    const r = await ingest([EQ_2019], { store });
    const qcCsv = readFileSync(join(EQ_2019, 'QC.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    expect(r.assets.map((a) => a.symbol).sort()).toEqual(qcCsv.map((c) => c[0]!).sort());
    for (const a of r.assets) {
      expect(a.interval, a.symbol).toBe('1m');
      expect(a.rows, a.symbol).toBe(Number(qcCsv.find((c) => c[0] === a.symbol)![1]));
    }
    const qc = qualityReport({ store });
    for (const a of qc.assets) {
      expect(a.quoteVolumeAbsent, a.symbol).toBe(a.rows);
      expect(a.nonFinite.count + a.misalignedTimestamps.count + a.ohlcInconsistent.count, a.symbol).toBe(0);
    }
    const { series } = loadStoreAssets(store);
    // every bar from the first traded one on has a positive price (before it: the bar's close, NaN for missing bars)
    for (const s of series) {
      let k = 0;
      while (!(s.volume[k]! > 0)) k++;
      for (; k < s.bars; k++) if (!(s.price[k]! > 0)) throw new Error(`price ${s.price[k]} at ${k}`);
    }
  }, 60_000);

  it('us-equity-spy-1min-2025-07: 19,953 bars, the 09:30 ET bar priced at its typical price', async () => {
    const store = join(dir, 'spy');
    const r = await ingest([SPY_2025], { store });
    expect(r.assets).toMatchObject([{ symbol: 'SPY', interval: '1m', rows: 19953 }]);
    const s = loadStoreSeries(store, 'SPY');
    const bars = readStoreAsset(store, readManifest(store).assets.SPY!).bars;
    const i = bars.openTimeMs.indexOf(Date.UTC(2025, 6, 1, 13, 30)); // 09:30 EDT
    const k = (bars.openTimeMs[i]! - s.openTimeMs[0]!) / MINUTE_MS;
    expect(s.price[k]).toBeCloseTo((bars.high[i]! + bars.low[i]! + bars.close[i]!) / 3, 10);
  }, 60_000);
});
