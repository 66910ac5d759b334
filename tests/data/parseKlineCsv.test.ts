import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { parseDecimal } from '../../src/data/parseDecimal.js';
import { parseKlineCsv } from '../../src/data/parseKlineCsv.js';
import { barsToCsv, rng, syntheticBars } from './helpers.js';
import { thrown as csvError } from '../helpers/errors.js';

const enc = (s: string) => new TextEncoder().encode(s);


describe('parseDecimal', () => {
  it('is bit-identical to Number() on random decimal strings, including the slow path', () => {
    const rand = rng(7);
    const cases: string[] = ['0', '-0', '1.', '.5', '1e3', '1.5E-7', '00012.3400', '123456789012345678', '0.000000012345', '9007199254740993', '-42.125'];
    for (let i = 0; i < 20000; i++) {
      const intDigits = Math.floor(rand() * 12);
      const fracDigits = Math.floor(rand() * 12);
      let s = rand() < 0.1 ? '-' : '';
      for (let k = 0; k < Math.max(1, intDigits); k++) s += Math.floor(rand() * 10);
      if (fracDigits > 0) {
        s += '.';
        for (let k = 0; k < fracDigits; k++) s += Math.floor(rand() * 10);
      }
      cases.push(s);
    }
    for (const s of cases) expect(Object.is(parseDecimal(enc(s), 0, s.length), Number(s)), s).toBe(true);
  });

  it.each(['', '-', 'abc', '1.2.3', '1,5', '0x10', 'Infinity', ' 1', 'NaN'])('rejects %j', (s) => {
    expect(parseDecimal(enc(s), 0, s.length)).toBeNaN();
  });
});

describe('parseKlineCsv matches csv-parse', () => {
  it.each([
    { name: 'sigvwap-header', layout: 'sigvwap' as const, header: true, microseconds: false },
    { name: 'binance-noheader-ms', layout: 'binance' as const, header: false, microseconds: false },
    { name: 'binance-header-us', layout: 'binance' as const, header: true, microseconds: true },
  ])('$name', ({ layout, header, microseconds }) => {
    const bars = syntheticBars(500, { seed: 3, trades: true });
    const text = barsToCsv(bars, layout, { header, microseconds });
    const parsed = parseKlineCsv(enc(text), 'x.csv');
    const records = parse(text, { from_line: header ? 2 : 1 }) as string[][];
    expect(parsed.bars.length).toBe(records.length);
    const cols = layout === 'sigvwap' ? [0, 1, 2, 3, 4, 5, 6, 7] : [0, 1, 2, 3, 4, 5, 7, 8];
    records.forEach((rec, i) => {
      const t = Number(rec[cols[0]!]);
      expect(parsed.bars.openTimeMs[i]).toBe(microseconds ? t / 1000 : t);
      expect(parsed.bars.open[i]).toBe(Number(rec[cols[1]!]));
      expect(parsed.bars.high[i]).toBe(Number(rec[cols[2]!]));
      expect(parsed.bars.low[i]).toBe(Number(rec[cols[3]!]));
      expect(parsed.bars.close[i]).toBe(Number(rec[cols[4]!]));
      expect(parsed.bars.volume[i]).toBe(Number(rec[cols[5]!]));
      expect(parsed.bars.quoteVolume[i]).toBe(Number(rec[cols[6]!]));
      expect(parsed.bars.trades[i]).toBe(Number(rec[cols[7]!]));
    });
    expect(parsed.microsecondRows).toBe(microseconds ? 500 : 0);
    expect(parsed.line[0]).toBe(header ? 2 : 1);
  });

  it('gives the same bars for ms and µs open times, with and without header', () => {
    const bars = syntheticBars(50, { seed: 4 });
    const a = parseKlineCsv(enc(barsToCsv(bars, 'binance', { header: false })), 'a.csv');
    const b = parseKlineCsv(enc(barsToCsv(bars, 'binance', { header: true, microseconds: true })), 'b.csv');
    expect(Array.from(b.bars.openTimeMs)).toEqual(Array.from(a.bars.openTimeMs));
    expect(Array.from(b.bars.close)).toEqual(Array.from(a.bars.close));
    expect(Array.from(a.bars.openTimeMs)).toEqual(Array.from(bars.openTimeMs));
  });

  it('reads empty trades as null (NaN) and CRLF line ends', () => {
    const text = 'open_time_ms,open,high,low,close,volume,quote_volume,trades\r\n1704067200000,1,2,0.5,1.5,10,15,\r\n1704070800000,1,2,0.5,1.5,10,15,7\r\n';
    const p = parseKlineCsv(enc(text), 'c.csv');
    expect(p.bars.trades[0]).toBeNaN();
    expect(p.bars.trades[1]).toBe(7);
    expect(p.bars.length).toBe(2);
  });
});

describe('malformed CSV -> ERR_CSV naming file and line', () => {
  const good = '1704067200000,1,2,0.5,1.5,10,15,\n';
  const header = 'open_time_ms,open,high,low,close,volume,quote_volume,trades\n';
  it.each([
    { name: 'empty-file', text: '', line: 1, message: /empty file/ },
    { name: 'header-only', text: header, line: 2, message: /no data rows/ },
    { name: 'wrong-column-count-first-line', text: '1,2,3\n', line: 1, message: /expected 8 columns .* or 12 columns/ },
    { name: 'wrong-column-count-row3', text: header + good + '1704070800000,1,2,0.5,1.5,10,15\n', line: 3, message: /expected 8 columns, got 7/ },
    { name: 'too-many-columns', text: header + good + '1704070800000,1,2,0.5,1.5,10,15,,9\n', line: 3, message: /expected 8 columns, got 9/ },
    { name: 'non-numeric-price', text: header + good + '1704070800000,1,abc,0.5,1.5,10,15,\n', line: 3, message: /column 3 \(high\): not a number: "abc"/ },
    { name: 'empty-volume', text: header + '1704067200000,1,2,0.5,1.5,,15,\n', line: 2, message: /column 6 \(volume\)/ },
    { name: 'non-integer-time', text: header + '1704067200000.5,1,2,0.5,1.5,10,15,\n', line: 2, message: /open time\): not an integer/ },
    { name: 'seconds-time', text: header + '1704067200,1,2,0.5,1.5,10,15,\n', line: 2, message: /looks like seconds/ },
    { name: 'bad-trades', text: header + '1704067200000,1,2,0.5,1.5,10,15,x\n', line: 2, message: /trades/ },
    { name: 'blank-line-inside', text: header + good + '\n' + good, line: 3, message: /blank line/ },
    { name: 'bad-header', text: 'time,open,high,low,close,volume,quote_volume,trades\n' + good, line: 1, message: /unexpected header/ },
  ])('$name', ({ text, line, message }) => {
    const e = csvError(() => parseKlineCsv(enc(text), 'bad.csv'));
    expect(e.code).toBe('ERR_CSV');
    expect(e.data.file).toBe('bad.csv');
    expect(e.data.line).toBe(line);
    expect(e.message).toMatch(message);
    expect(e.message).toContain(`bad.csv:${line}`);
  });
});
