/**
 * Trading sessions of an exchange with opening hours (US equities), found in a series on its
 * regular bar grid.
 *
 * Detection. Sessions are read off the exchange clock, not off gaps in the data: a local date
 * (in `timeZone`, America/New_York by default, daylight saving included) is a session when at
 * least one bar present in the data opens inside its regular window [open, close), 09:30 to
 * 16:00 local by default. Weekends and holidays have no bar there, so they need no calendar.
 * Gaps are not used because extended-hours data (pre-market from 04:00, post-market to 20:00)
 * run through the open and the close without one; regular-session-only data (a gap of about
 * 17.5 hours each night) give the same sessions.
 * Early closes. Days on which the exchange closes at `earlyClose` (13:00) cannot be told from
 * extended-hours data (post-market bars continue after 13:00), so they come from a rule:
 * `earlyCloses: 'nyse'` (default) marks July 3 when it falls Monday to Thursday, the day after
 * Thanksgiving (the fourth Thursday of November) and December 24 when it falls Monday to
 * Thursday; other unscheduled closes are not known. A list of local dates replaces the rule;
 * 'none' turns it off. Those sessions are flagged `earlyClose` and end at `earlyClose`.
 * Grid. `openBar`/`closeBar` are grid indices (bar k opens at openTimeMs[0] + k·intervalMs) of
 * the open and of the close (exclusive); they may lie outside 0 .. bars when the data start
 * after an open or end before a close. The interval must divide the time from the first bar to
 * every open and close (minute bars: any interval up to 30 minutes), else ERR_ARG.
 * Cost: O(bars) for the present-bar prefix count plus two time-zone conversions per day.
 */
import { SigvwapError } from '../errors.js';
import type { MarketSeries } from './marketSeries.js';

export const DEFAULT_SESSION_TIME_ZONE = 'America/New_York';

export interface SessionOptions {
  /** IANA time zone of the exchange clock (default America/New_York) */
  timeZone?: string;
  /** regular open, local HH:MM (default 09:30) */
  open?: string;
  /** regular close, local HH:MM (default 16:00) */
  close?: string;
  /** close on early-close days, local HH:MM (default 13:00) */
  earlyClose?: string;
  /** 'nyse' (rule-based NYSE half days, default), 'none', or the local dates YYYY-MM-DD that close early */
  earlyCloses?: 'nyse' | 'none' | readonly string[];
}

/** Session options with every default filled in; times as minutes after local midnight. */
export interface ResolvedSessionOptions {
  timeZone: string;
  openMinute: number;
  closeMinute: number;
  earlyCloseMinute: number;
  earlyCloses: 'nyse' | 'none' | ReadonlySet<string>;
}

export interface TradingSession {
  /** local date, YYYY-MM-DD */
  date: string;
  /** UTC epoch ms of the open and of the close (early close on early-close days) */
  openMs: number;
  closeMs: number;
  /** grid bar of the open, and of the close (exclusive); may lie outside 0 .. bars */
  openBar: number;
  closeBar: number;
  earlyClose: boolean;
  /** bars present in the data inside [open, close) */
  presentBars: number;
}

function argError(argument: string, message: string, value: unknown): SigvwapError {
  return new SigvwapError('ERR_ARG', `${argument}: ${message}`, { argument, value });
}

/** 'HH:MM' -> minutes after midnight; ERR_ARG naming the option otherwise. */
export function parseLocalTime(text: string, argument: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  const minutes = m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
  if (!m || Number(m[2]) > 59 || !(minutes >= 0 && minutes <= 24 * 60)) throw argError(argument, `expected a local time HH:MM, got ${JSON.stringify(text)}`, text);
  return minutes;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
      });
    } catch (err) {
      throw new SigvwapError('ERR_ARG', `timeZone: not a time zone this Node.js knows: ${JSON.stringify(timeZone)}`, { argument: 'timeZone', value: timeZone }, { cause: err });
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** Local wall-clock fields of an instant. */
function localFields(ms: number, timeZone: string): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const out = { y: 0, mo: 0, d: 0, h: 0, mi: 0, s: 0 };
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) {
    if (p.type === 'year') out.y = Number(p.value);
    else if (p.type === 'month') out.mo = Number(p.value);
    else if (p.type === 'day') out.d = Number(p.value);
    else if (p.type === 'hour') out.h = Number(p.value);
    else if (p.type === 'minute') out.mi = Number(p.value);
    else if (p.type === 'second') out.s = Number(p.value);
  }
  return out;
}

/** Offset of local time from UTC at an instant, ms (New York: -4 h in summer, -5 h in winter). */
export function timeZoneOffsetMs(ms: number, timeZone: string): number {
  const f = localFields(ms, timeZone);
  return Date.UTC(f.y, f.mo - 1, f.d, f.h, f.mi, f.s) - Math.floor(ms / 1000) * 1000;
}

/** Local date YYYY-MM-DD of an instant. */
export function localDateOf(ms: number, timeZone: string = DEFAULT_SESSION_TIME_ZONE): string {
  const f = localFields(ms, timeZone);
  return isoDate(f.y, f.mo, f.d);
}

/** Minutes after local midnight of an instant. */
export function localMinuteOf(ms: number, timeZone: string = DEFAULT_SESSION_TIME_ZONE): number {
  const f = localFields(ms, timeZone);
  return f.h * 60 + f.mi;
}

function isoDate(y: number, mo: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** UTC epoch ms of a local date and minute of the day in a time zone. */
export function zonedTimeToUtcMs(date: string, minuteOfDay: number, timeZone: string = DEFAULT_SESSION_TIME_ZONE): number {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const wall = Date.UTC(y, mo - 1, d, 0, minuteOfDay);
  let t = wall - timeZoneOffsetMs(wall, timeZone);
  const second = wall - timeZoneOffsetMs(t, timeZone); // across a DST change the first guess is an hour off
  if (second !== t) t = second;
  return t;
}

/** NYSE's rule-based early closes (13:00 ET): July 3 (Mon-Thu), the day after Thanksgiving, December 24 (Mon-Thu). */
export function isNyseEarlyClose(date: string): boolean {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const weekday = new Date(Date.UTC(y, mo - 1, d)).getUTCDay(); // 0 = Sunday
  if (mo === 7 && d === 3) return weekday >= 1 && weekday <= 4;
  if (mo === 12 && d === 24) return weekday >= 1 && weekday <= 4;
  if (mo === 11 && weekday === 5) {
    // the Friday after the fourth Thursday
    const firstWeekday = new Date(Date.UTC(y, 10, 1)).getUTCDay();
    const firstThursday = 1 + ((4 - firstWeekday + 7) % 7);
    return d === firstThursday + 21 + 1;
  }
  return false;
}

export function resolveSessionOptions(o: SessionOptions = {}): ResolvedSessionOptions {
  const timeZone = o.timeZone ?? DEFAULT_SESSION_TIME_ZONE;
  formatter(timeZone);
  const openMinute = parseLocalTime(o.open ?? '09:30', 'open');
  const closeMinute = parseLocalTime(o.close ?? '16:00', 'close');
  const earlyCloseMinute = parseLocalTime(o.earlyClose ?? '13:00', 'earlyClose');
  if (!(closeMinute > openMinute)) throw argError('close', `must be after the open (${o.open ?? '09:30'}), got ${o.close}`, o.close);
  if (!(earlyCloseMinute > openMinute && earlyCloseMinute <= closeMinute)) throw argError('earlyClose', `must lie after the open and not after the close, got ${o.earlyClose}`, o.earlyClose);
  const e = o.earlyCloses ?? 'nyse';
  let earlyCloses: ResolvedSessionOptions['earlyCloses'];
  if (e === 'nyse' || e === 'none') earlyCloses = e;
  else if (Array.isArray(e)) {
    for (const d of e) if (typeof d !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(d)) throw argError('earlyCloses', `expected local dates YYYY-MM-DD, got ${JSON.stringify(d)}`, d);
    earlyCloses = new Set(e);
  } else throw argError('earlyCloses', `expected 'nyse', 'none' or a list of dates, got ${JSON.stringify(e)}`, e);
  return { timeZone, openMinute, closeMinute, earlyCloseMinute, earlyCloses };
}

function closesEarly(date: string, o: ResolvedSessionOptions): boolean {
  if (o.earlyCloses === 'none') return false;
  if (o.earlyCloses === 'nyse') return isNyseEarlyClose(date);
  return o.earlyCloses.has(date);
}

/** Next local date (calendar arithmetic in UTC). */
function nextDate(date: string): string {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d + 1));
  return isoDate(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

const presentCache = new WeakMap<MarketSeries, Int32Array>();

/** presentPrefix[k] = bars present in the data among 0 .. k-1 (cached per series). */
export function presentPrefix(s: MarketSeries): Int32Array {
  let p = presentCache.get(s);
  if (p && p.length === s.bars + 1) return p;
  p = new Int32Array(s.bars + 1);
  for (let k = 0; k < s.bars; k++) p[k + 1] = p[k]! + (s.missing[k] === 0 ? 1 : 0);
  presentCache.set(s, p);
  return p;
}

const sessionCache = new WeakMap<MarketSeries, Map<string, TradingSession[]>>();

/** The trading sessions of a series, chronological (see the header for the rule). Cached per series and options. */
export function tradingSessions(s: MarketSeries, options: SessionOptions = {}): TradingSession[] {
  const o = resolveSessionOptions(options);
  const key = JSON.stringify([o.timeZone, o.openMinute, o.closeMinute, o.earlyCloseMinute, typeof o.earlyCloses === 'string' ? o.earlyCloses : [...o.earlyCloses].sort()]);
  let byKey = sessionCache.get(s);
  const hit = byKey?.get(key);
  if (hit) return hit;
  const out: TradingSession[] = [];
  if (s.bars > 0) {
    const t0 = s.openTimeMs[0]!;
    const step = s.intervalMs;
    const present = presentPrefix(s);
    const last = localDateOf(s.openTimeMs[s.bars - 1]!, o.timeZone);
    const toBar = (ms: number, what: string, date: string): number => {
      const k = (ms - t0) / step;
      if (!Number.isInteger(k)) {
        throw new SigvwapError('ERR_ARG', `intervalMs: the session ${what} of ${date} (${new Date(ms).toISOString()}) is not on the ${step} ms bar grid that starts at ${new Date(t0).toISOString()}`, { argument: 'intervalMs', value: step, date });
      }
      return k;
    };
    for (let date = localDateOf(t0, o.timeZone); date <= last; date = nextDate(date)) {
      const early = closesEarly(date, o);
      const openMs = zonedTimeToUtcMs(date, o.openMinute, o.timeZone);
      const closeMs = zonedTimeToUtcMs(date, early ? o.earlyCloseMinute : o.closeMinute, o.timeZone);
      const openBar = toBar(openMs, 'open', date);
      const closeBar = toBar(closeMs, 'close', date);
      const a = Math.min(Math.max(openBar, 0), s.bars);
      const b = Math.min(Math.max(closeBar, 0), s.bars);
      const presentBars = present[b]! - present[a]!;
      if (presentBars > 0) out.push({ date, openMs, closeMs, openBar, closeBar, earlyClose: early, presentBars });
    }
  }
  if (!byKey) {
    byKey = new Map();
    sessionCache.set(s, byKey);
  }
  byKey.set(key, out);
  return out;
}

/** Index of the session whose regular window [openBar, closeBar) holds bar k, or -1. */
export function sessionIndexOfBar(sessions: readonly TradingSession[], k: number): number {
  let lo = 0;
  let hi = sessions.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sessions[mid]!.closeBar <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo < sessions.length && sessions[lo]!.openBar <= k ? lo : -1;
}
