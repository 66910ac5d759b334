/**
 * Plain TypeScript reference of the fill simulator (native/core/src/fills):
 * one order at a time, one bin at a time, written from the rules in
 * native/core/src/fills/mod.rs with the same order of floating-point
 * operations, so that it matches the native results bit for bit for
 * impactBeta 0.5 and 1 (other β go through Math.pow vs libm pow: equal to
 * the last bit or two). Used by tests/native/simulateFills.test.ts and
 * bench/backtest.bench.ts.
 */
import type { FillArrays, FillMarketInput, FillParamsInput } from '../../src/native/simulateFills.js';
import { FILL_DEFAULTS } from '../../src/native/simulateFills.js';
import { rng } from './random.js';

export function simulateFillsReference(m: FillMarketInput, schedule: Float64Array, params: FillParamsInput = {}, orders?: number): FillArrays {
  const p = { ...FILL_DEFAULTS, ...params };
  const B = orders ?? m.batch;
  const T = m.horizon;
  const out: FillArrays = {
    filled: new Float64Array(B * T),
    fillPrice: new Float64Array(B * T),
    filledQty: new Float64Array(B),
    notional: new Float64Array(B),
    spreadCost: new Float64Array(B),
    temporaryImpactCost: new Float64Array(B),
    permanentImpactCost: new Float64Array(B),
    feeCost: new Float64Array(B),
    collarBlockedQty: new Float64Array(B),
    maxParticipation: new Float64Array(B),
    marketVolume: new Float64Array(B),
    marketVwap: new Float64Array(B),
    shortfallCost: new Float64Array(B),
    zeroVolumeBins: new Int32Array(B),
    stoppedAt: new Int32Array(B),
  };
  const takerRate = p.takerFeeBps * 1e-4;
  const makerRate = p.makerFeeBps * 1e-4;
  const sweepExtra = p.sweepImpactMultiplier - 1;
  const stopOn = p.stopSlippageBps !== Infinity;
  const stopRel = p.stopSlippageBps * 1e-4;
  const pow = (x: number) => (p.impactBeta === 0.5 ? Math.sqrt(x) : p.impactBeta === 1 ? x : Math.pow(x, p.impactBeta));
  for (let b = 0; b < B; b++) {
    const Q = m.quantity[b]!;
    const side = m.side[b]!;
    const etaSigma = p.impactEta * m.sigma[b]!;
    const hs = m.halfSpreadBps[b]! * 1e-4;
    const limit = m.limitPrice ? m.limitPrice[b]! : NaN;
    const isPassive = m.passive === true || (m.passive instanceof Uint8Array && m.passive[b] !== 0);
    let carry = 0, filled = 0, notional = 0, spreadCost = 0, tempCost = 0, permCost = 0, feeCost = 0;
    let partSum = 0, maxPart = 0, blocked = 0, mv = 0, mvp = 0, zeroBins = 0, stoppedAt = -1;
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      const price = m.price[i]!, v = m.volume[i]!, a = schedule[i]!;
      const last = t === T - 1;
      out.fillPrice[i] = NaN;
      mv += v;
      mvp += v * price;
      if (v === 0) zeroBins++;
      const target = Q * a + carry;
      carry = target;
      if (stoppedAt >= 0) continue;
      if (v > 0) {
        const sweep = last && p.finalBin === 'sweep';
        const passive = isPassive && !sweep;
        let cap = p.maxParticipation * v;
        if (passive) cap *= p.passiveFillShare;
        const q = sweep ? target : Math.min(target, cap);
        if (q > 0) {
          const x = q / v;
          let temp = etaSigma * pow(x);
          if (sweep && q > cap) temp *= 1 + sweepExtra * ((q - cap) / q);
          const perm = p.permanentGamma * partSum;
          const spread = passive ? 0 : hs;
          const f = price * (1 + side * (spread + temp + perm));
          if (side * (f - limit) > 0) {
            blocked += q;
          } else {
            const qf = q * f;
            const pq = price * q;
            filled += q;
            notional += qf;
            spreadCost += pq * spread;
            tempCost += pq * temp;
            permCost += pq * perm;
            feeCost += (passive ? makerRate : takerRate) * qf;
            partSum += x;
            maxPart = Math.max(maxPart, x);
            carry = target - q;
            out.filled[i] = q;
            out.fillPrice[i] = f;
          }
        }
      }
      if (stopOn && !last && filled > 0) {
        // side·(avg/VWAP − 1)·1e4 > S, multiplied out by filled·ΣVp > 0 (as the native rule).
        const fw = filled * mvp;
        if (side * (notional * mv - fw) > stopRel * fw) stoppedAt = t;
      }
    }
    out.filledQty[b] = filled;
    out.notional[b] = notional;
    out.spreadCost[b] = spreadCost;
    out.temporaryImpactCost[b] = tempCost;
    out.permanentImpactCost[b] = permCost;
    out.feeCost[b] = feeCost;
    out.collarBlockedQty[b] = blocked;
    out.maxParticipation[b] = maxPart;
    out.marketVolume[b] = mv;
    out.marketVwap[b] = mvp / mv;
    out.shortfallCost[b] = m.arrivalPrice ? side * (notional - filled * m.arrivalPrice[b]!) : NaN;
    out.zeroVolumeBins[b] = zeroBins;
    out.stoppedAt[b] = stoppedAt;
  }
  return out;
}

/** Random orders exercising every rule (caps, zero-volume bins, collars, passive orders, sells). */
export function randomFillMarket(batch: number, horizon: number, seed: number) {
  const r = rng(seed);
  const n = batch * horizon;
  const price = new Float64Array(n), volume = new Float64Array(n), schedule = new Float64Array(n);
  for (let b = 0; b < batch; b++) {
    let px = 100 * (0.5 + r());
    let sum = 0;
    for (let t = 0; t < horizon; t++) {
      const i = b * horizon + t;
      px *= 1 + 0.01 * (r() - 0.5);
      price[i] = px;
      volume[i] = r() < 0.05 ? 0 : 10 + 1000 * r();
      schedule[i] = r() < 0.1 ? 0 : r();
      sum += schedule[i]!;
    }
    for (let t = 0; t < horizon; t++) schedule[b * horizon + t]! /= Math.max(sum, 1e-9);
  }
  const side = Int8Array.from({ length: batch }, () => (r() < 0.5 ? 1 : -1));
  const market = {
    batch,
    horizon,
    price,
    volume,
    sigma: Float64Array.from({ length: batch }, () => 0.02 * r()),
    halfSpreadBps: Float64Array.from({ length: batch }, () => 5 * r()),
    quantity: Float64Array.from({ length: batch }, () => 2000 * r()),
    side,
    limitPrice: Float64Array.from({ length: batch }, (_, b) => (r() < 0.5 ? NaN : price[b * horizon]! * (1 + 0.008 * side[b]! * r()))),
    arrivalPrice: Float64Array.from({ length: batch }, (_, b) => price[b * horizon]!),
    passive: Uint8Array.from({ length: batch }, () => (r() < 0.3 ? 1 : 0)),
  } satisfies FillMarketInput;
  return { market, schedule };
}
