/**
 * The reference strategies (method.md §8), all open loop:
 *   immediate    a = (1, 0, ..., 0): everything in the first bin (caps carry the rest on)
 *   twap         a_t = 1/T
 *   passiveTwap  TWAP posted passively: no half spread, the maker fee, a smaller fill share;
 *                the honest baseline a strategy's "win" must also beat, net of fees
 *   pov          a_t = ρ_pov · V_{t-1} / Q: a fixed share of the previous bin's market volume
 *                (bin -1 is the bin before the order), so it reads only completed bins; rows
 *                sum to less than 1 when the market is thin, and the final bin sweeps the rest
 * Cost: O(B·T).
 */
import { SigvwapError } from '../../errors.js';
import type { Strategy, StrategyContext } from '../strategy.js';
import { registerStrategy } from '../strategy.js';

const fill = (ctx: StrategyContext, f: (t: number, T: number) => number): Float64Array => {
  const B = ctx.orders.assetIndex.length;
  const T = ctx.orders.bins;
  const out = new Float64Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[b * T + t] = f(t, T);
  return out;
};

export const immediateStrategy = (): Strategy => ({ name: 'immediate', loop: 'open', passive: false, schedule: (ctx) => fill(ctx, (t) => (t === 0 ? 1 : 0)) });
export const twapStrategy = (): Strategy => ({ name: 'twap', loop: 'open', passive: false, schedule: (ctx) => fill(ctx, (_t, T) => 1 / T) });
export const passiveTwapStrategy = (): Strategy => ({ name: 'passiveTwap', loop: 'open', passive: true, schedule: (ctx) => fill(ctx, (_t, T) => 1 / T) });

export function povStrategy(rate = 0.1): Strategy {
  if (!(rate > 0 && rate <= 1)) throw new SigvwapError('ERR_ARG', `povRate: expected a share in (0, 1], got ${rate}`, { argument: 'povRate', value: rate });
  return {
    name: 'pov',
    loop: 'open',
    passive: false,
    schedule(ctx) {
      const { orders, market } = ctx;
      const B = orders.assetIndex.length;
      const T = orders.bins;
      const out = new Float64Array(B * T);
      for (let b = 0; b < B; b++) {
        const Q = orders.quantity[b]!;
        let left = 1;
        for (let t = 0; t < T && left > 0; t++) {
          const prevVolume = t === 0 ? binVolumeBefore(ctx, b) : market.volume[b * T + t - 1]!;
          const a = Math.min(left, Q > 0 ? (rate * prevVolume) / Q : 0);
          out[b * T + t] = a;
          left -= a;
        }
      }
      return out;
    },
  };
}

/** Market volume of the bin right before order b (its binBars bars before the start bar). */
function binVolumeBefore(ctx: StrategyContext, b: number): number {
  const s = ctx.series[ctx.orders.assetIndex[b]!]!;
  const r = ctx.orders.startBar[b]!;
  let v = 0;
  for (let k = Math.max(0, r - ctx.orders.binBars); k < r; k++) v += s.volume[k]!;
  return v;
}

registerStrategy({ name: 'immediate', description: 'everything in the first bin', create: () => immediateStrategy() });
registerStrategy({ name: 'twap', description: 'a_t = 1/T', create: () => twapStrategy() });
registerStrategy({ name: 'passiveTwap', description: 'TWAP posted passively (maker fee, no spread, smaller fill share): the honest baseline', create: () => passiveTwapStrategy() });
registerStrategy({ name: 'pov', description: 'a fixed share (--pov-rate, default 10%) of the previous bin\'s volume', create: (o) => povStrategy(o.povRate) });
