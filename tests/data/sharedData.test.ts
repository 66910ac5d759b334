/**
 * Checks against the project's shared data (`../shared` beside the repository root):
 * the quality report must reproduce the figures of the data set's own QC.csv.
 * Skips with a visible message when ../shared is absent (e.g. a clone elsewhere).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/data/ingest.js';
import { qualityReport, type QcReport } from '../../src/data/qualityReport.js';
import { sharedPath } from '../helpers/sharedDir.js';
import { removeDir, tempDir } from './helpers.js';

const SHARED_BINANCE_1H = sharedPath('data/binance-spot-usdt-1h', 'tests/data/sharedData.test.ts (QC against QC.csv)') ?? '';
const present = SHARED_BINANCE_1H !== '';

const SYMBOLS = ['BTCUSDT', 'BTCSTUSDT', 'IOTXUSDT', 'BANDUSDT', 'APEUSDT'];

describe.skipIf(!present)('shared binance-spot-usdt-1h: QC matches QC.csv', () => {
  let dir: string;
  let report: QcReport;
  let qcCsv: Map<string, Record<string, string>>;
  beforeAll(async () => {
    dir = tempDir();
    await ingest(SYMBOLS.map((s) => join(SHARED_BINANCE_1H, `${s}.csv.gz`)), { store: join(dir, 'store') });
    report = qualityReport({ store: join(dir, 'store') });
    const [header, ...rows] = readFileSync(join(SHARED_BINANCE_1H, 'QC.csv'), 'utf8').trim().split('\n');
    const names = header!.split(',');
    qcCsv = new Map(rows.map((r) => {
      const cells = r.split(',');
      return [cells[0]!, Object.fromEntries(names.map((n, i) => [n, cells[i] ?? '']))];
    }));
  }, 120_000);
  afterAll(() => dir && removeDir(dir));

  it.each(SYMBOLS)('%s', (symbol) => {
    const qc = report.assets.find((a) => a.symbol === symbol)!;
    const want = qcCsv.get(symbol)!;
    expect(qc.rows).toBe(Number(want.rows));
    expect(qc.expectedRows).toBe(Number(want.expected_rows));
    expect(qc.missingBars).toBe(Number(want.missing_bars));
    expect(qc.gaps.length).toBe(Number(want.gap_episodes));
    expect(Math.max(0, ...qc.gaps.map((g) => g.bars))).toBe(Number(want.longest_gap_h));
    expect(qc.zeroVolume.rows).toBe(Number(want.zero_volume_rows));
    expect(qc.zeroVolume.longestRun?.bars ?? 0).toBe(Number(want.longest_zero_volume_run_h));
    expect(qc.vwapOutsideRange.count).toBe(Number(want.implied_vwap_outside_low_high_1pct));
    expect(qc.nonPositivePrice.count + qc.ohlcInconsistent.count + qc.duplicateTimestamps.count).toBe(0);
    expect(new Date(qc.startMs).toISOString().slice(0, 16).replace('T', ' ')).toBe(want.start_utc);
  });

  it('BTCSTUSDT: the 96-hour trading suspension is asset-specific, the 2021-02-11 gap exchange-wide', () => {
    const btcst = report.assets.find((a) => a.symbol === 'BTCSTUSDT')!;
    const suspension = btcst.gaps.find((g) => g.bars === 96)!;
    expect(new Date(suspension.startMs).toISOString()).toBe('2021-03-15T07:00:00.000Z');
    expect(suspension.exchangeWide).toBe(false);
    const outage = btcst.gaps.find((g) => g.startMs === Date.UTC(2021, 1, 11, 4))!;
    expect(outage.exchangeWide).toBe(true);
  });
});
