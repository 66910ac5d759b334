/**
 * The path whose signature GFT-Sig's signature branch reads (src/layers/signatureFeatures.ts):
 * the `length` bars before an order, j = e − length + 1 .. e with e = r − 1 + lookahead
 * (lookahead 0: strictly before the order, docs/method.md §4), as points in R^channels.
 * With m = mean volume over the W = baselineBars bars ending at e (no bar after e enters it):
 *   'volumeHour'       [V_j / m, hour_j]                 the paper's channels
 *   'timeVolumePrice'  [t_i, V_j / m, ln(p_j / p_e)]     t_i = i / (length − 1), i = 0 .. length−1
 * hour_j = time of day of bar j's open as a fraction of the day, in [0, 1) (hour / 24 on hourly
 * bars). The log price is relative to the window's last bar, so the path is scale-free and
 * near 0 (float32 keeps its increments). `leadLag` then maps [length, C] to [2·length − 1, 2·C]
 * (lead channels first; src/native/signature.ts `leadLag`), whose level-2 signature holds the
 * quadratic variation.
 * Bars before the series start read as bar 0 (repeated points: zero increments, so the
 * signature is that of the shorter path, apart from the time channel). A zero or undefined
 * m gives volume 0.
 * Layout: Float32Array [batch, length', channels'] row-major (the signature op's layout).
 * Cost: O(length · channels) per order (m from prefix sums in O(1)).
 */
import { z } from 'zod';

import { DAY_MS, type OrderBatch, openTimeOf, seriesOf } from '../data/marketSeries.js';
import { SigvwapError } from '../errors.js';
import { type PathShape, leadLag } from '../native/signature.js';
import { meanVolume, seriesStats } from './seriesStats.js';

export const SIGNATURE_PATH_CHANNELS = {
  volumeHour: ['volume', 'hour'],
  timeVolumePrice: ['time', 'volume', 'logPrice'],
} as const;
export type SignaturePathChannels = keyof typeof SIGNATURE_PATH_CHANNELS;

export const signaturePathSpecSchema = z.object({
  length: z.number().int().min(1),
  channels: z.enum(['volumeHour', 'timeVolumePrice']),
  leadLag: z.boolean(),
  baselineBars: z.number().int().min(2),
}).strict();

export type SignaturePathSpec = z.infer<typeof signaturePathSpecSchema>;

/** The paper's branch: 400 bars of normalized volume and hour. */
export const DEFAULT_SIGNATURE_PATH: SignaturePathSpec = { length: 400, channels: 'volumeHour', leadLag: false, baselineBars: 336 };

/** Channel names of a spec's path, in order (lead-lag: `lead.` then `lag.` copies). */
export function signaturePathChannelNames(spec: SignaturePathSpec): string[] {
  const base: readonly string[] = SIGNATURE_PATH_CHANNELS[spec.channels];
  return spec.leadLag ? [...base.map((c) => `lead.${c}`), ...base.map((c) => `lag.${c}`)] : [...base];
}

/** The path's shape for a batch. */
export function signaturePathShape(spec: SignaturePathSpec, batch: number): PathShape {
  const C = SIGNATURE_PATH_CHANNELS[spec.channels].length;
  return spec.leadLag ? { batch, length: 2 * spec.length - 1, channels: 2 * C } : { batch, length: spec.length, channels: C };
}

/** The paths of a batch of orders, [batch, length', channels'] (see the header). */
export function computeSignaturePath(orders: OrderBatch, spec: SignaturePathSpec, lookahead = 0): { path: Float32Array; shape: PathShape } {
  const L = spec.length;
  const names = SIGNATURE_PATH_CHANNELS[spec.channels];
  const C = names.length;
  const n = orders.bar.length;
  const path = new Float32Array(n * L * C);
  const withTime = spec.channels === 'timeVolumePrice';
  const dt = L > 1 ? 1 / (L - 1) : 0;
  for (let b = 0; b < n; b++) {
    const s = seriesOf(orders, b);
    const r = orders.bar[b]!;
    const e = r - 1 + lookahead;
    if (e < 0 || e >= s.bars) {
      throw new SigvwapError('ERR_ARG', `order ${b}: the path ends at bar ${e}, outside the series (${s.bars} bars)`, { argument: 'orders', index: b, bar: r });
    }
    const m = meanVolume(seriesStats(s), e - spec.baselineBars + 1, e);
    const invM = m > 0 ? 1 / m : 0;
    const pe = s.price[e]!;
    for (let i = 0; i < L; i++) {
      const j = Math.max(0, e - L + 1 + i);
      let o = (b * L + i) * C;
      if (withTime) path[o++] = i * dt;
      path[o++] = s.volume[j]! * invM;
      if (withTime) {
        const p = s.price[j]!;
        path[o] = p > 0 && pe > 0 ? Math.log(p / pe) : 0;
      } else {
        const tMs = openTimeOf(s, j);
        path[o] = (((tMs % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS;
      }
    }
  }
  const shape: PathShape = { batch: n, length: L, channels: C };
  return spec.leadLag ? leadLag(path, shape) : { path, shape };
}
