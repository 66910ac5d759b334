/**
 * Trading sessions read off the exchange clock (src/data/sessions.ts): daylight saving, weekends
 * and holidays without bars, extended hours, the NYSE early-close rule, bars outside the data.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SigvwapError } from '../../src/errors.js';
import { ingest } from '../../src/data/ingest.js';
import { loadStoreSeries } from '../../src/data/loadStoreSeries.js';
import {
  isNyseEarlyClose, localDateOf, localMinuteOf, sessionIndexOfBar, tradingSessions, zonedTimeToUtcMs,
} from '../../src/data/sessions.js';
import { sharedPath } from '../helpers/sharedDir.js';
import { DST_WEEK, JULY_2025, MINUTE_MS, equityBars, minuteSeries, nyTime } from './equityHelpers.js';
import { removeDir, tempDir } from './helpers.js';

describe('the exchange clock', () => {
  it('09:30 New York is 14:30 UTC in winter and 13:30 UTC in summer', () => {
    expect(new Date(zonedTimeToUtcMs('2024-03-08', 570)).toISOString()).toBe('2024-03-08T14:30:00.000Z');
    expect(new Date(zonedTimeToUtcMs('2024-03-11', 570)).toISOString()).toBe('2024-03-11T13:30:00.000Z');
    expect(new Date(zonedTimeToUtcMs('2024-11-04', 960)).toISOString()).toBe('2024-11-04T21:00:00.000Z');
    expect(localDateOf(Date.UTC(2025, 6, 31, 0, 0))).toBe('2025-07-30'); // 20:00 EDT
    expect(localMinuteOf(Date.UTC(2025, 6, 1, 13, 30))).toBe(570);
  });

  it.each([
    ['2025-07-03', true], ['2024-07-03', true], ['2023-07-03', true], ['2019-07-03', true],
    ['2020-07-03', false], ['2022-07-01', false], ['2021-07-02', false],
    ['2024-11-29', true], ['2025-11-28', true], ['2019-11-29', true], ['2024-11-22', false],
    ['2019-12-24', true], ['2024-12-24', true], ['2025-12-24', true], ['2021-12-24', false], ['2022-12-23', false],
    ['2025-07-02', false],
  ] as const)('NYSE early close on %s: %s', (date, early) => {
    expect(isNyseEarlyClose(date)).toBe(early);
  });
});

describe('tradingSessions', () => {
  it('regular-session bars across a DST change: one session per trading day, 390 bars each, opens at the local 09:30', () => {
    const s = minuteSeries(equityBars(DST_WEEK));
    const sessions = tradingSessions(s);
    expect(sessions.map((x) => x.date)).toEqual(['2024-03-07', '2024-03-08', '2024-03-11', '2024-03-12']); // no weekend session
    sessions.forEach((x, i) => {
      expect(x.openMs).toBe(nyTime(DST_WEEK[i]!, 570));
      expect(x.closeMs).toBe(nyTime(DST_WEEK[i]!, 960));
      expect(x.closeBar - x.openBar).toBe(390);
      expect(x.presentBars).toBe(390);
      expect(s.openTimeMs[x.openBar]).toBe(x.openMs);
      expect(x.earlyClose).toBe(false);
    });
    // the overnight gaps are on the grid (missing bars) and belong to no session
    expect(sessions[1]!.openBar - sessions[0]!.closeBar).toBe(17.5 * 60);
    expect(sessions[2]!.openBar - sessions[1]!.closeBar).toBe(17.5 * 60 + 2 * 24 * 60 - 60); // weekend, one hour less (DST)
    expect(sessionIndexOfBar(sessions, sessions[2]!.openBar)).toBe(2);
    expect(sessionIndexOfBar(sessions, sessions[2]!.closeBar - 1)).toBe(2);
    expect(sessionIndexOfBar(sessions, sessions[2]!.closeBar)).toBe(-1);
    expect(sessionIndexOfBar(sessions, sessions[2]!.openBar - 1)).toBe(-1);
  });

  it('extended hours: the session is still 09:30-16:00; the holiday has no session; the early close ends at 13:00', () => {
    const s = minuteSeries(equityBars(JULY_2025, { extended: true }));
    const sessions = tradingSessions(s);
    expect(sessions.map((x) => x.date)).toEqual(['2025-06-30', '2025-07-01', '2025-07-02', '2025-07-03', '2025-07-07']);
    expect(sessions.map((x) => x.earlyClose)).toEqual([false, false, false, true, false]);
    expect(sessions.map((x) => x.closeBar - x.openBar)).toEqual([390, 390, 390, 210, 390]);
    expect(sessions[0]!.openBar).toBe(330); // 04:00 .. 09:29 before it
    // 'none' ignores the rule; a list of dates replaces it
    expect(tradingSessions(s, { earlyCloses: 'none' })[3]!.closeBar - sessions[3]!.openBar).toBe(390);
    expect(tradingSessions(s, { earlyCloses: ['2025-07-01'] }).map((x) => x.earlyClose)).toEqual([false, true, false, false, false]);
  });

  it('a session whose open is before the first bar has openBar < 0 and still counts its bars', () => {
    const bars = equityBars(DST_WEEK.slice(0, 2), { drop: [[0, 0], [0, 1]] });
    const s = minuteSeries(bars);
    const sessions = tradingSessions(s);
    expect(sessions[0]!.openBar).toBe(-2);
    expect(sessions[0]!.presentBars).toBe(388);
  });

  it('ERR_ARG for a time zone Node does not know and for bars off the session grid', () => {
    const s = minuteSeries(equityBars(DST_WEEK.slice(0, 1)));
    expect(() => tradingSessions(s, { timeZone: 'Mars/Olympus' })).toThrow(SigvwapError);
    expect(() => tradingSessions(s, { open: '9h30' })).toThrow(/open/);
    const hourly = { ...s, intervalMs: 7 * MINUTE_MS };
    expect(() => tradingSessions(hourly)).toThrow(/grid/);
  });
});

const SPY_2025 = sharedPath('data/us-equity-spy-1min-2025-07', 'tests/data/sessions.test.ts (SPY 2025-07 sessions)') ?? '';

describe.skipIf(SPY_2025 === '')('shared SPY 2025-07 sessions', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });
  afterAll(() => dir && removeDir(dir));

  it('21 sessions, every regular minute present, 2025-07-03 an early close (13:00)', async () => {
    await ingest([SPY_2025], { store: join(dir, 'store') });
    const s = loadStoreSeries(join(dir, 'store'), 'SPY');
    const sessions = tradingSessions(s);
    expect(sessions).toHaveLength(21);
    expect(sessions.filter((x) => x.earlyClose).map((x) => x.date)).toEqual(['2025-07-03']);
    for (const x of sessions) expect(x.presentBars, x.date).toBe(x.earlyClose ? 210 : 390);
  }, 60_000);
});
