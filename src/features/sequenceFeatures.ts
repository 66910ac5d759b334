/**
 * The per-bar input sequence of the dynamic allocator's recurrent encoder.
 *
 * For an order at bar r the window is bars j = r - L .. r + H - 3 + k (L = encoderLookback,
 * k = lookahead), S = L + H - 2 + k steps. The allocation a_t (t = 0 .. H-2; a_{H-1} is the
 * remainder) reads h_t = the encoder state after bar r + t - 1 + k: the last H - 1 states of
 * the window. With k = 0, h_t has read bars <= r + t - 1 only (method.md §4), by construction:
 * the encoder is causal and the window ends where the last state needed ends.
 * Channels per bar j (m, σ: mean volume and RMS log return over the W = baselineBars bars
 * ending at r - 1, so the scaling reads no bar of the order):
 *   0 logVolume   ln(max(V_j / m, 1e-3))         1 return   clip(lr_j / σ, ±8)
 *   2 hourSin     3 hourCos (2π·time of day)     4 weekdaySin 5 weekdayCos (2π·time of week)
 *   6 inOrder     1 for j >= r (the bar belongs to the order), else 0
 * Bars beyond the series end (live inference) read as volume 0 and return 0; they are never
 * used for an allocation they could influence.
 * Layout: Float32Array [S, batch, channels], time-major (what the LSTM kernel reads).
 *
 * Execution state (`computeExecutionState`), per step t = 0 .. H-2 with e = r + t - 1 + k the
 * last bar a_t may read (all zero at t = 0 when k = 0), x_j = (p_j / p_{r-1} - 1) / σ:
 *   0 cumVolume   Σ_{j=r..e} V_j / (m·H)        volume traded in the order's bars so far
 *   1 marketDev   (VWAP of bars r..e / p_{r-1} - 1) / σ
 *   2 lastDev     x_e                             3 prevDev  x_{r+t-1} (bar r+t-1 only)
 * The model forms its own running deviation Σ_{s<t} a_s·x_{r+s} from channel 3.
 * Layout: Float32Array [H-1, batch, 4].
 * Cost: O(S·channels + H²) per order.
 */
import { z } from 'zod';
import { DAY_MS, type OrderBatch, openTimeOf, seriesOf } from '../data/marketSeries.js';
import { meanVolume, rmsLogReturn, seriesStats } from './seriesStats.js';

export const sequenceFeatureSpecSchema = z.object({
  encoderLookback: z.number().int().min(1),
  baselineBars: z.number().int().min(2),
}).strict();

export type SequenceFeatureSpec = z.infer<typeof sequenceFeatureSpecSchema>;

export const SEQUENCE_CHANNELS = ['logVolume', 'return', 'hourSin', 'hourCos', 'weekdaySin', 'weekdayCos', 'inOrder'] as const;

export const DEFAULT_SEQUENCE_FEATURES: SequenceFeatureSpec = { encoderLookback: 24, baselineBars: 336 };

export function sequenceSteps(spec: SequenceFeatureSpec, horizon: number, lookahead: number): number {
  return spec.encoderLookback + horizon - 2 + lookahead;
}

const TWO_PI = 2 * Math.PI;

/** Order b's series and its scales: mean volume m and RMS log return σ over the W bars before r. */
function orderScale(orders: OrderBatch, b: number, W: number) {
  const s = seriesOf(orders, b);
  const st = seriesStats(s);
  const r = orders.bar[b]!;
  return { s, st, r, m: meanVolume(st, r - W, r - 1), sigma: rmsLogReturn(st, r - W, r - 1) };
}
const WEEK_MS = 7 * DAY_MS;

/** The encoder inputs of every order, [S, batch, channels]. */
export function computeSequenceFeatures(orders: OrderBatch, spec: SequenceFeatureSpec, lookahead = 0): Float32Array {
  const H = orders.horizon;
  const S = sequenceSteps(spec, H, lookahead);
  const C = SEQUENCE_CHANNELS.length;
  const n = orders.bar.length;
  const x = new Float32Array(S * n * C);
  const L = spec.encoderLookback;
  const W = spec.baselineBars;
  for (let b = 0; b < n; b++) {
    const { s, st, r, m, sigma } = orderScale(orders, b, W);
    const invM = m > 0 ? 1 / m : 0;
    const invSigma = sigma > 0 ? 1 / sigma : 0;
    for (let i = 0; i < S; i++) {
      const j = r - L + i;
      const o = (i * n + b) * C;
      const inData = j >= 0 && j < s.bars;
      const v = inData ? s.volume[j]! : 0;
      x[o] = Math.log(Math.max(v * invM, 1e-3));
      x[o + 1] = inData ? Math.max(-8, Math.min(8, st.logRet[j]! * invSigma)) : 0;
      const tMs = openTimeOf(s, j);
      const day = (((tMs % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS;
      const week = ((((tMs + 3 * DAY_MS) % WEEK_MS) + WEEK_MS) % WEEK_MS) / WEEK_MS;
      x[o + 2] = Math.sin(TWO_PI * day);
      x[o + 3] = Math.cos(TWO_PI * day);
      x[o + 4] = Math.sin(TWO_PI * week);
      x[o + 5] = Math.cos(TWO_PI * week);
      x[o + 6] = j >= r ? 1 : 0;
    }
  }
  return x;
}

export const EXECUTION_STATE_CHANNELS = ['cumVolume', 'marketDev', 'lastDev', 'prevDev'] as const;

/** The execution state of every order, [H-1, batch, 4]. */
export function computeExecutionState(orders: OrderBatch, spec: SequenceFeatureSpec, lookahead = 0): Float32Array {
  const H = orders.horizon;
  const n = orders.bar.length;
  const C = EXECUTION_STATE_CHANNELS.length;
  const out = new Float32Array((H - 1) * n * C);
  const W = spec.baselineBars;
  for (let b = 0; b < n; b++) {
    const { s, r, m, sigma } = orderScale(orders, b, W);
    const p0 = s.price[r - 1]!;
    const scale = sigma > 0 && p0 > 0 ? 1 / sigma : 0;
    const dev = (j: number) => (j >= 0 && j < s.bars && s.price[j]! > 0 && p0 > 0 ? Math.max(-50, Math.min(50, (s.price[j]! / p0 - 1) * scale)) : 0);
    let vol = 0;
    let notional = 0;
    let j = r; // next bar to accumulate
    for (let t = 0; t < H - 1; t++) {
      const e = Math.min(r + t - 1 + lookahead, s.bars - 1);
      for (; j <= e; j++) {
        const v = s.volume[j]!;
        if (v > 0) {
          vol += v;
          notional += v * s.price[j]!;
        }
      }
      const o = (t * n + b) * C;
      out[o] = m > 0 ? vol / (m * H) : 0;
      out[o + 1] = vol > 0 && p0 > 0 ? Math.max(-50, Math.min(50, (notional / vol / p0 - 1) * scale)) : 0;
      out[o + 2] = e >= r ? dev(e) : 0;
      out[o + 3] = t > 0 ? dev(r + t - 1) : 0;
    }
  }
  return out;
}
