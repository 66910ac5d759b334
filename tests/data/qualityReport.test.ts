import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerIngestCommand, runIngest } from '../../src/cli/ingest.js';
import { useColor } from '../../src/cli/io.js';
import { registerQcCommand, runQc } from '../../src/cli/qc.js';
import type { BarTable } from '../../src/data/barTable.js';
import { ingest, type IngestOptions } from '../../src/data/ingest.js';
import { qcReportToJson, qualityReport, type AssetQc } from '../../src/data/qualityReport.js';
import { readManifest } from '../../src/data/store.js';
import { loadStoreSeries } from '../../src/data/loadStoreSeries.js';
import { buildDataset } from '../../src/data/buildDataset.js';
import { barsToCsv, HOUR_MS, removeDir, syntheticBars, T0_MS, tempDir, writeText } from './helpers.js';

let dir: string;
let store: string;
beforeEach(() => {
  dir = tempDir();
  store = join(dir, 'store');
});
afterEach(() => removeDir(dir));

const at = (h: number) => T0_MS + h * HOUR_MS;

interface DefectCase {
  name: string;
  /** edit the bars; return the rows to write */
  edit: (b: BarTable) => number[] | void;
  options?: IngestOptions;
  expect: (qc: AssetQc) => void;
}

const all = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('a crafted file per defect gives its QC entry', () => {
  const cases: DefectCase[] = [
    {
      name: 'missing-bars',
      edit: () => all(48).filter((i) => i < 5 || i > 7),
      expect: (qc) => {
        expect(qc.missingBars).toBe(3);
        expect(qc.gaps).toEqual([{ startMs: at(5), bars: 3, sharedBy: 1, listed: 1, exchangeWide: null }]);
        expect(qc.expectedRows).toBe(48);
      },
    },
    {
      name: 'zero-volume-run',
      edit: (b) => {
        for (const i of [4, 5, 6, 20]) {
          b.volume[i] = 0;
          b.quoteVolume[i] = 0;
        }
      },
      expect: (qc) => expect(qc.zeroVolume).toEqual({
        rows: 4, runs: 2, longestRun: { startMs: at(4), bars: 3 }, runsList: [{ startMs: at(4), bars: 3 }, { startMs: at(20), bars: 1 }],
      }),
    },
    {
      name: 'non-positive-price',
      edit: (b) => {
        b.open[2] = 0;
        b.low[2] = 0;
      },
      expect: (qc) => expect(qc.nonPositivePrice).toEqual({ count: 1, examplesMs: [at(2)] }),
    },
    {
      name: 'ohlc-inconsistent',
      edit: (b) => {
        b.high[3] = b.low[3]! * 0.99;
      },
      expect: (qc) => expect(qc.ohlcInconsistent).toEqual({ count: 1, examplesMs: [at(3)] }),
    },
    {
      name: 'negative-volume',
      edit: (b) => {
        b.volume[9] = -1;
      },
      expect: (qc) => expect(qc.negativeVolume).toEqual({ count: 1, examplesMs: [at(9)] }),
    },
    {
      name: 'vwap-outside-range',
      edit: (b) => {
        b.quoteVolume[5] = b.volume[5]! * b.high[5]! * 1.05;
        b.quoteVolume[6] = b.volume[6]! * b.high[6]! * 1.005; // inside the 1% tolerance
      },
      expect: (qc) => expect(qc.vwapOutsideRange).toEqual({ count: 1, examplesMs: [at(5)] }),
    },
    {
      name: 'misaligned-timestamp',
      edit: (b) => {
        b.openTimeMs[10] = at(10) + 30 * 60_000;
      },
      expect: (qc) => expect(qc.misalignedTimestamps).toEqual({ count: 1, examplesMs: [at(10) + 30 * 60_000] }),
    },
    {
      name: 'duplicate-keep-last',
      edit: () => [...all(12), 11, ...all(48).slice(12)],
      options: { onDuplicate: 'keep-last' },
      expect: (qc) => {
        expect(qc.rows).toBe(48);
        expect(qc.duplicateTimestamps.count).toBe(0);
        expect(qc.changes).toMatchObject([{ kind: 'duplicate', policy: 'keep-last', openTime: new Date(at(11)).toISOString(), identical: true, kept: { line: 14 }, dropped: [{ line: 13 }] }]);
      },
    },
    {
      name: 'unsorted-sort',
      edit: () => [0, 1, 3, 2, ...all(48).slice(4)],
      options: { onUnsorted: 'sort' },
      expect: (qc) => {
        expect(qc.unsortedTimestamps.count).toBe(0);
        expect(qc.changes).toMatchObject([{ kind: 'unsorted', policy: 'sort', rows: 1, firstLine: 5 }]);
      },
    },
    {
      name: 'clean',
      edit: () => undefined,
      expect: (qc) => {
        expect(qc).toMatchObject({ rows: 48, missingBars: 0, gaps: [], changes: [] });
        for (const k of ['duplicateTimestamps', 'unsortedTimestamps', 'misalignedTimestamps', 'nonPositivePrice', 'ohlcInconsistent', 'negativeVolume', 'vwapOutsideRange', 'nonFinite'] as const) {
          expect(qc[k].count, k).toBe(0);
        }
        expect(qc.zeroVolume.rows).toBe(0);
        expect(qc.checksum).toBe('ok');
      },
    },
  ];
  it.each(cases)('$name', async (c) => {
    const bars = syntheticBars(48, { seed: 21 });
    const rows = c.edit(bars) ?? undefined;
    const file = writeText(dir, 'BTCUSDT-1h-2024-01.csv', barsToCsv(bars, 'sigvwap', rows ? { rows } : {}));
    await ingest([file], { store, ...c.options });
    const report = qualityReport({ store });
    expect(report.assets).toHaveLength(1);
    c.expect(report.assets[0]!);
  });
});

// Issue I #4: a flipped byte in a store file changed a price silently and qc stayed clean;
// `1e400` parsed to Infinity and was kept without a word.
describe('integrity', () => {
  const ingestOne = async (edit?: (csv: string) => string) => {
    const bars = syntheticBars(48, { seed: 21 });
    const csv = barsToCsv(bars, 'sigvwap');
    await ingest([writeText(dir, 'BTCUSDT-1h-2024-01.csv', edit ? edit(csv) : csv)], { store });
    return join(store, readManifest(store).assets.BTCUSDT!.file);
  };

  it('qc counts a value that parses to Infinity (1e400) as non-finite', async () => {
    await ingestOne((csv) => {
      const lines = csv.split('\n');
      const cells = lines[8]!.split(',');
      cells[5] = '1e400'; // the volume of the 8th bar
      lines[8] = cells.join(',');
      return lines.join('\n');
    });
    const qc = qualityReport({ store }).assets[0]!;
    expect(qc.nonFinite).toEqual({ count: 1, examplesMs: [at(7)] });
  });

  it('one flipped byte in a store file: qc reports the checksum mismatch, readers fail with ERR_DATA naming the file', async () => {
    const file = await ingestOne();
    const bytes = readFileSync(file);
    const closeAt = bytes.lastIndexOf(Buffer.from(new Float64Array([syntheticBars(48, { seed: 21 }).close[20]!]).buffer));
    expect(closeAt).toBeGreaterThan(0);
    bytes[closeAt + 3]! ^= 0x01; // a low mantissa bit of one close price: still a plausible price
    writeFileSync(file, bytes);
    expect(qualityReport({ store }).assets[0]!.checksum).toBe('mismatch');
    expect(() => loadStoreSeries(store, 'BTCUSDT')).toThrow(expect.objectContaining({ code: 'ERR_DATA', message: expect.stringContaining(file) }));
    await expect(buildDataset({ store, workers: 0 })).rejects.toMatchObject({ code: 'ERR_DATA', data: expect.objectContaining({ file }) });
  });
});

describe('exchange-wide gaps', () => {
  it('marks a gap shared by most listed assets and not one of a single asset', async () => {
    const drop = (skip: number[]) => all(48).filter((i) => !skip.includes(i));
    for (const [symbol, skip] of [['AAAUSDT', [10, 20]], ['BBBUSDT', [10]], ['CCCUSDT', [10]], ['DDDUSDT', []]] as const) {
      writeText(dir, `in/${symbol}.csv`, barsToCsv(syntheticBars(48, { seed: symbol.length }), 'sigvwap', { rows: drop([...skip]) }));
    }
    await ingest([join(dir, 'in')], { store });
    const report = qualityReport({ store });
    const a = report.assets.find((x) => x.symbol === 'AAAUSDT')!;
    expect(a.gaps).toEqual([
      { startMs: at(10), bars: 1, sharedBy: 3, listed: 4, exchangeWide: true },
      { startMs: at(20), bars: 1, sharedBy: 1, listed: 4, exchangeWide: false },
    ]);
    expect(report.exchangeWideGaps).toEqual([{ startMs: at(10), bars: 1, sharedBy: 3, listed: 4 }]);
    const json = qcReportToJson(report) as { exchangeWideGaps: unknown[]; assets: { gaps: unknown[]; start: string }[] };
    expect(json.exchangeWideGaps).toEqual([{ start: '2024-01-01T10:00:00.000Z', bars: 1, sharedBy: 3, listed: 4 }]);
    expect(json.assets[0]!.start).toBe('2024-01-01T00:00:00.000Z');
  });
});

class Capture extends Writable {
  text = '';
  constructor(readonly isTTY = false) {
    super();
  }
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

describe('CLI', () => {
  it('ingest --json then qc --json: results on stdout, ISO-8601 times', async () => {
    writeText(dir, 'in/ETHUSDT.csv', barsToCsv(syntheticBars(30), 'sigvwap', { rows: all(30).filter((i) => i !== 7) }));
    const io = { stdout: new Capture(), stderr: new Capture(), env: {} };
    await runIngest([join(dir, 'in')], { store, onDuplicate: 'error', onUnsorted: 'error', onInvalid: 'keep', json: true }, io);
    const result = JSON.parse(io.stdout.text) as { assets: { symbol: string; rows: number }[] };
    expect(result.assets).toMatchObject([{ symbol: 'ETHUSDT', rows: 29 }]);
    const qcIo = { stdout: new Capture(), stderr: new Capture(), env: {} };
    runQc({ store, json: true }, qcIo);
    const qc = JSON.parse(qcIo.stdout.text) as { assets: { gaps: { start: string; bars: number }[]; zeroVolume: { longestRun: unknown } }[] };
    expect(qc.assets[0]!.gaps).toMatchObject([{ start: '2024-01-01T07:00:00.000Z', bars: 1 }]);
    expect(qcIo.stderr.text).toBe('');
  });

  it.each([
    { name: 'tty-color', isTTY: true, env: {}, color: true },
    { name: 'tty-no-color', isTTY: true, env: { NO_COLOR: '1' }, color: false },
    { name: 'pipe', isTTY: false, env: {}, color: false },
  ])('colour: $name', async ({ isTTY, env, color }) => {
    expect(useColor({ isTTY }, env)).toBe(color);
    writeText(dir, 'in/ETHUSDT.csv', barsToCsv(syntheticBars(30), 'sigvwap'));
    await ingest([join(dir, 'in')], { store });
    const io = { stdout: new Capture(isTTY), stderr: new Capture(), env };
    runQc({ store }, io);
    expect(io.stdout.text.includes('\x1b[')).toBe(color);
    expect(io.stdout.text).toMatch(/^symbol\t|\x1b\[1msymbol/);
  });

  it('registers ingest and qc on a commander program with the policy flags', async () => {
    const program = new Command('sigvwap').exitOverride();
    registerIngestCommand(program);
    registerQcCommand(program);
    expect(program.commands.map((c) => c.name())).toEqual(['ingest', 'qc']);
    const ingestCmd = program.commands[0]!;
    expect(ingestCmd.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--store', '--on-duplicate', '--on-unsorted', '--on-invalid', '--json']));
    const file = writeText(dir, 'BTCUSDT.csv', barsToCsv(syntheticBars(5), 'sigvwap'));
    ingestCmd.configureOutput({ writeErr: () => undefined });
    await expect(program.parseAsync(['node', 'sigvwap', 'ingest', file, '--store', store, '--on-duplicate', 'sometimes'])).rejects.toThrow(/sometimes/);
  });
});
