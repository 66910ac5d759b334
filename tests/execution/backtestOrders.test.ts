/**
 * Backtest orders (src/execution/backtestOrders.ts): crypto anchors sized in ADV, one full-day
 * order per equity session (390 or 13 bins, skipping the first/last 15 minutes, never across
 * the overnight gap), orders files (CSV, JSON) and their errors naming the order, and every
 * session of the shared equity data (skipped with a message when ../shared is absent).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/data/ingest.js';
import { loadStoreAssets } from '../../src/data/loadStoreSeries.js';
import { tradingSessions } from '../../src/data/sessions.js';
import type { MarketSeries } from '../../src/data/marketSeries.js';
import {
  checkBacktestOrders, ordersFromAnchors, readOrdersFile, rollingAdv, sessionOrders, type BacktestOrders,
} from '../../src/execution/backtestOrders.js';
import { smallDataset } from '../helpers/market.js';
import { sharedPath } from '../helpers/sharedDir.js';
import { DST_WEEK, JULY_2025, MINUTE_MS, equityBars, minuteSeries, nyTime } from '../data/equityHelpers.js';
import { removeDir, tempDir, writeText } from '../data/helpers.js';
import { thrown } from '../helpers/errors.js';


/** Every bar of every order lies inside one regular session of its asset. */
function expectInsideSessions(orders: BacktestOrders, series: readonly MarketSeries[]): void {
  const span = orders.bins * orders.binBars;
  for (let b = 0; b < orders.assetIndex.length; b++) {
    const s = series[orders.assetIndex[b]!]!;
    const r = orders.startBar[b]!;
    const inside = tradingSessions(s).some((x) => x.openBar <= r && r + span <= x.closeBar);
    expect(inside, `order ${b}`).toBe(true);
  }
}

describe('ordersFromAnchors (crypto test anchors)', () => {
  const dataset = smallDataset(2, 1500);
  const test = dataset.anchors('test').index;

  it('one order per anchor at its bar, H bins of one bar, 1% of the rolling 20-day ADV by default', () => {
    const o = ordersFromAnchors(dataset, test);
    expect(o.assetIndex.length).toBe(test.length);
    expect(o.bins).toBe(dataset.horizon);
    expect(o.binBars).toBe(1);
    expect(o.symbols).toEqual(dataset.assets.map((a) => a.symbol));
    for (let i = 0; i < test.length; i += 17) {
      const a = test[i]!;
      expect(o.assetIndex[i]).toBe(dataset.anchorAsset[a]);
      expect(o.startBar[i]).toBe(dataset.anchorBar[a]);
      expect(o.side[i]).toBe(1);
      // brute force: Σ V over the 480 hours before the order, per day
      const s = dataset.series(o.assetIndex[i]!);
      const r = o.startBar[i]!;
      const n = Math.min(480, r);
      let v = 0;
      for (let k = r - n; k < r; k++) v += s.volume[k]!;
      expect(o.adv[i]).toBeCloseTo((v * 24) / n, 6);
      expect(o.quantity[i]).toBeCloseTo(0.01 * o.adv[i]!, 8);
    }
    expect(o.skipped).toEqual([]);
  });

  it('reads only bars before the order for its ADV', () => {
    const s = dataset.series(0);
    const r = 900;
    const before = rollingAdv(s, r, 5);
    const changed = { ...s, volume: s.volume.slice() };
    for (let k = r; k < s.bars; k++) changed.volume[k] = changed.volume[k]! * 7 + 1;
    expect(rollingAdv(changed, r, 5)).toBe(before);
    expect(rollingAdv(s, 0)).toBeNaN();
  });

  it('absolute quantity, sell side, coarser bins', () => {
    const o = ordersFromAnchors(dataset, test.subarray(0, 5), { quantity: 250, side: 'sell', bins: 4, binBars: 3 });
    expect(Array.from(o.quantity)).toEqual([250, 250, 250, 250, 250]);
    expect(Array.from(o.side)).toEqual([-1, -1, -1, -1, -1]);
    expect([o.bins, o.binBars]).toEqual([4, 3]);
  });

  it('ERR_ARG naming the order that runs past the data, and for bad options', () => {
    const last = test[test.length - 1]!;
    const e = thrown(() => ordersFromAnchors(dataset, [test[0]!, last], { bins: 100 }));
    expect(e.code).toBe('ERR_ARG');
    expect(e.data).toMatchObject({ index: 1, anchor: last });
    expect(thrown(() => ordersFromAnchors(dataset, [dataset.anchorCount]))!.data).toMatchObject({ argument: 'anchorIds', index: 0 });
    expect(thrown(() => ordersFromAnchors(dataset, test, { sizeAdv: 0.01, quantity: 5 })).data).toMatchObject({ argument: 'quantity' });
    expect(thrown(() => ordersFromAnchors(dataset, test, { side: 'short' as never })).data).toMatchObject({ argument: 'side' });
    expect(thrown(() => ordersFromAnchors(dataset, test, { sizeAdv: -1 })).data).toMatchObject({ argument: 'sizeAdv' });
  });
});

describe('sessionOrders (minute equity data)', () => {
  const bars = equityBars(DST_WEEK, { seed: 3 });
  const s = minuteSeries(bars);
  const sessions = tradingSessions(s);

  it('one order of 390 one-minute bins per session from the open; the first session has no bar before it', () => {
    const o = sessionOrders(s, { quantity: 1000 });
    expect([o.bins, o.binBars]).toEqual([390, 1]);
    expect(o.assetIndex.length).toBe(3);
    expect(Array.from(o.startBar)).toEqual(sessions.slice(1).map((x) => x.openBar));
    expect(o.skipped).toEqual([{ asset: 'asset0', date: '2024-03-07', startMs: sessions[0]!.openMs, reason: 'noBarBefore' }]);
    expectInsideSessions(o, [s]);
    // the open is the local 09:30 on both sides of the DST change
    for (let b = 0; b < 3; b++) expect(s.openTimeMs[o.startBar[b]!]).toBe(nyTime(DST_WEEK[b + 1]!, 570));
  });

  it('13 bins of 30 minutes; skipping 15 minutes at both ends gives 360 one-minute bins from 09:45 (or 12 of 30)', () => {
    const o30 = sessionOrders(s, { binMinutes: 30, quantity: 1 });
    expect([o30.bins, o30.binBars]).toEqual([13, 30]);
    expectInsideSessions(o30, [s]);
    const skip = sessionOrders(s, { skipOpenMinutes: 15, skipCloseMinutes: 15, quantity: 1 });
    expect([skip.bins, skip.binBars]).toEqual([360, 1]);
    // skipping the open leaves a bar before the first session: it gets an order too
    expect(skip.assetIndex.length).toBe(4);
    expect(Array.from(skip.startBar)).toEqual(sessions.map((x) => x.openBar + 15));
    for (let b = 0; b < 4; b++) expect(skip.startBar[b]! + 360).toBe(sessions[b]!.closeBar - 15);
    expectInsideSessions(skip, [s]);
    expect([sessionOrders(s, { skipOpenMinutes: 15, skipCloseMinutes: 15, binMinutes: 30, quantity: 1 }).bins]).toEqual([12]);
  });

  it('no order spans the overnight gap: every order bar is a regular-session minute', () => {
    for (const binMinutes of [1, 5, 30, 390]) {
      const o = sessionOrders(s, { binMinutes, quantity: 1 });
      for (let b = 0; b < o.assetIndex.length; b++) {
        for (let k = o.startBar[b]!; k < o.startBar[b]! + o.bins * o.binBars; k++) expect(s.missing[k]).toBe(0);
      }
    }
  });

  it('size in ADV: the mean regular-session volume of the previous sessions (up to advDays)', () => {
    const o = sessionOrders(s, { sizeAdv: 0.05, advDays: 2 });
    const sessionVolume = sessions.map((x) => {
      let v = 0;
      for (let k = x.openBar; k < x.closeBar; k++) v += s.volume[k]!;
      return v;
    });
    expect(o.assetIndex.length).toBe(3);
    expect(o.adv[0]).toBeCloseTo(sessionVolume[0]!, 6);
    expect(o.adv[1]).toBeCloseTo((sessionVolume[0]! + sessionVolume[1]!) / 2, 6);
    expect(o.adv[2]).toBeCloseTo((sessionVolume[1]! + sessionVolume[2]!) / 2, 6);
    for (let b = 0; b < 3; b++) expect(o.quantity[b]).toBeCloseTo(0.05 * o.adv[b]!, 6);
    // skipping the open: the first session now has a bar before it but no earlier session
    const skip = sessionOrders(s, { sizeAdv: 0.05, skipOpenMinutes: 15 });
    expect(skip.skipped.map((x) => x.reason)).toEqual(['noAdv']);
  });

  it('extended-hours data: the early close and the data edges are skipped with their reason; several assets', () => {
    const a = minuteSeries(equityBars(JULY_2025, { extended: true, seed: 4 }));
    const b = minuteSeries(equityBars(JULY_2025.slice(1), { seed: 5, drop: [[0, 0]] }));
    const o = sessionOrders([a, b], { symbols: ['SPY', 'XLP'], quantity: 100, side: -1 });
    expect(o.skipped.map((x) => `${x.asset} ${x.date} ${x.reason}`)).toEqual([
      'SPY 2025-07-03 earlyClose',
      'XLP 2025-07-01 beforeData',
      'XLP 2025-07-03 earlyClose',
    ]);
    expect(o.assetIndex.length).toBe(4 + 2);
    expect(Array.from(o.side).every((x) => x === -1)).toBe(true);
    expectInsideSessions(o, [a, b]);
    // a series that ends before the close
    const cut = equityBars(DST_WEEK.slice(0, 2), { drop: Array.from({ length: 60 }, (_, m) => [1, 330 + m] as [number, number]) });
    const end = sessionOrders(minuteSeries(cut), { quantity: 1 });
    expect(end.skipped.map((x) => x.reason)).toEqual(['noBarBefore', 'afterData']);
  });

  it('ERR_ARG for bins that do not divide the session, skips that leave nothing, bins finer than the bars', () => {
    expect(thrown(() => sessionOrders(s, { binMinutes: 7, quantity: 1 })).data).toMatchObject({ argument: 'binMinutes' });
    expect(thrown(() => sessionOrders(s, { skipOpenMinutes: 200, skipCloseMinutes: 190, quantity: 1 })).data).toMatchObject({ argument: 'skipOpenMinutes' });
    const coarse = { ...s, intervalMs: 2 * MINUTE_MS };
    expect(thrown(() => sessionOrders(coarse, { binMinutes: 1, skipOpenMinutes: 0, quantity: 1, close: '16:00' })).data).toMatchObject({ argument: 'binMinutes' });
    expect(thrown(() => sessionOrders([s, s], { symbols: ['A'], quantity: 1 })).data).toMatchObject({ argument: 'symbols' });
  });
});

describe('readOrdersFile', () => {
  let dir: string;
  const s = minuteSeries(equityBars(DST_WEEK, { seed: 6 }));
  const market = { symbols: ['SPY', 'JPM'], series: [s, s] };
  beforeAll(() => {
    dir = tempDir('sigvwap-orders-');
  });
  afterAll(() => dir && removeDir(dir));
  const open = (i: number) => new Date(nyTime(DST_WEEK[i]!, 570)).toISOString();

  it('CSV with a header: start times to bars, quantity or sizeAdv (a share or a percentage)', () => {
    const file = writeText(dir, 'orders.csv', [
      'asset,start,bins,binBars,side,quantity,sizeAdv',
      `SPY,${open(1)},13,30,buy,5000,`,
      `JPM,${open(2)},13,30,sell,,1%`,
      '',
      `SPY,${nyTime(DST_WEEK[3]!, 570)},13,30,-1,,0.02`,
    ].join('\n'));
    const o = readOrdersFile(file, market, { adv: 'sessions' });
    expect([o.bins, o.binBars]).toEqual([13, 30]);
    expect(Array.from(o.assetIndex)).toEqual([0, 1, 0]);
    const sessions = tradingSessions(s);
    expect(Array.from(o.startBar)).toEqual([sessions[1]!.openBar, sessions[2]!.openBar, sessions[3]!.openBar]);
    expect(Array.from(o.side)).toEqual([1, -1, -1]);
    expect(o.quantity[0]).toBe(5000);
    expect(o.quantity[1]).toBeCloseTo(0.01 * o.adv[1]!, 6);
    expect(o.quantity[2]).toBeCloseTo(0.02 * o.adv[2]!, 6);
    checkBacktestOrders(o, market.series);
  });

  it('JSON: an array or { orders: [...] }, bins defaulted from the options', () => {
    const rows = [{ asset: 'JPM', start: open(1), side: 'buy', quantity: 10 }, { asset: 'SPY', start: nyTime(DST_WEEK[2]!, 570), side: 'sell', quantity: 20 }];
    const a = readOrdersFile(writeText(dir, 'a.json', JSON.stringify(rows)), market, { bins: 390 });
    const b = readOrdersFile(writeText(dir, 'b.json', JSON.stringify({ orders: rows })), market, { bins: 390 });
    expect(Array.from(a.startBar)).toEqual(Array.from(b.startBar));
    expect([a.bins, a.binBars, a.assetIndex.length]).toEqual([390, 1, 2]);
  });

  it.each([
    { name: 'unknown asset', row: `MSFT,${new Date(nyTime(DST_WEEK[1]!, 570)).toISOString()},13,30,buy,1,`, match: /"MSFT" is not in the data/ },
    { name: 'runs past the data', row: `SPY,${new Date(nyTime(DST_WEEK[3]!, 900)).toISOString()},13,30,buy,1,`, match: /runs past the data/ },
    { name: 'before the data', row: `SPY,2024-03-06T14:30:00Z,13,30,buy,1,`, match: /before the data/ },
    { name: 'off the bar grid', row: `SPY,2024-03-08T14:30:30Z,13,30,buy,1,`, match: /not a bar open time/ },
    { name: 'start without a zone', row: `SPY,2024-03-08T14:30:00,13,30,buy,1,`, match: /zone/ },
    { name: 'another shape', row: `SPY,${new Date(nyTime(DST_WEEK[1]!, 570)).toISOString()},390,1,buy,1,`, match: /one batch has one shape/ },
    { name: 'both sizes', row: `SPY,${new Date(nyTime(DST_WEEK[1]!, 570)).toISOString()},13,30,buy,1,0.01`, match: /exactly one of quantity/ },
    { name: 'bad side', row: `SPY,${new Date(nyTime(DST_WEEK[1]!, 570)).toISOString()},13,30,long,1,`, match: /side/ },
  ])('ERR_ARG naming the order and its line: $name', ({ row, match }) => {
    const file = writeText(dir, 'bad.csv', ['asset,start,bins,binBars,side,quantity,sizeAdv', `SPY,${open(1)},13,30,buy,5,`, row].join('\n'));
    const e = thrown(() => readOrdersFile(file, market));
    expect(e.code).toBe('ERR_ARG');
    expect(e.message).toMatch(match);
    expect(e.message).toContain('order 1 (line 3)');
    expect(e.data).toMatchObject({ argument: 'orders', index: 1, line: 3, file });
  });

  it('ERR_IO for a file that cannot be read, ERR_ARG for one that holds no order', () => {
    expect(thrown(() => readOrdersFile(join(dir, 'nope.csv'), market)).code).toBe('ERR_IO');
    expect(thrown(() => readOrdersFile(writeText(dir, 'empty.json', '[]'), market)).code).toBe('ERR_ARG');
  });
});

const EQ_2019 = sharedPath('data/us-equity-1min-2019-02', 'tests/execution/backtestOrders.test.ts (equity session orders)') ?? '';
const SPY_2025 = sharedPath('data/us-equity-spy-1min-2025-07', 'tests/execution/backtestOrders.test.ts (SPY 2025-07 session orders)') ?? '';

describe.skipIf(EQ_2019 === '' || SPY_2025 === '')('shared equity data: session orders', () => {
  let dir: string;
  beforeAll(async () => {
    dir = tempDir('sigvwap-eq-orders-');
    await ingest([EQ_2019], { store: join(dir, 'eq') });
    await ingest([SPY_2025], { store: join(dir, 'spy') });
  }, 60_000);
  afterAll(() => dir && removeDir(dir));

  it('SPY 2025-07: every full session gives a full-day order of 390 one-minute bins (2025-07-03 closes early)', () => {
    const { symbols, series } = loadStoreAssets(join(dir, 'spy'));
    const sessions = tradingSessions(series[0]!);
    expect(sessions).toHaveLength(21);
    const o = sessionOrders(series, { symbols, quantity: 10_000 });
    expect([o.bins, o.binBars]).toEqual([390, 1]);
    expect(o.assetIndex.length).toBe(20);
    expect(o.skipped).toEqual([{ asset: 'SPY', date: '2025-07-03', startMs: Date.UTC(2025, 6, 3, 13, 30), reason: 'earlyClose' }]);
    const full = sessions.filter((x) => !x.earlyClose);
    expect(Array.from(o.startBar)).toEqual(full.map((x) => x.openBar));
    for (let b = 0; b < 20; b++) {
      const start = series[0]!.openTimeMs[o.startBar[b]!]!;
      expect(new Date(start).toISOString().slice(11, 16)).toBe('13:30'); // 09:30 EDT
    }
    expectInsideSessions(o, series);
    // sized in ADV the first session has no earlier one
    const adv = sessionOrders(series, { symbols, sizeAdv: 0.01, binMinutes: 30 });
    expect(adv.bins).toBe(13);
    expect(adv.skipped.map((x) => `${x.date} ${x.reason}`)).toEqual(['2025-07-01 noAdv', '2025-07-03 earlyClose']);
  });

  it('us-equity-1min-2019-02: 390-bin orders for every ticker, none across a gap', () => {
    const { symbols, series } = loadStoreAssets(join(dir, 'eq'));
    expect(symbols).toHaveLength(18);
    const o = sessionOrders(series, { symbols, quantity: 100, skipOpenMinutes: 15, skipCloseMinutes: 15 });
    expect(o.bins).toBe(360);
    // 5 sessions per ticker; with the first 15 minutes skipped every session has a bar before it
    expect(o.assetIndex.length + o.skipped.length).toBe(18 * 5);
    expect(o.skipped).toEqual([]);
    expectInsideSessions(o, series);
  });
});
