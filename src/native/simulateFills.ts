/**
 * The batched execution simulator (method.md §8), computed natively: turns
 * schedules into fills bin by bin with a participation cap and carry-over, a
 * final sweep, half spread, temporary and permanent impact, fees, passive
 * fills, a limit-price collar and an emergency stop. The rules, their exact
 * order of operations and the TCA formulas built on these outputs are in
 * native/core/src/fills/mod.rs; in short, per order and bin t:
 *
 *   target = Q·a_t + carry;  cap = ρ·V_t (× passiveFillShare when passive)
 *   q = min(target, cap)  (last bin with finalBin 'sweep': q = target)
 *   x = q/V_t,  temp = η·σ·x^β (sweep above the cap: × 1 + (M−1)·(q−cap)/q),
 *   perm = γ·Σ_{s<t} q_s/V_s,  fill = p_t·(1 + side·(halfSpread + temp + perm))
 *   collar: side·(fill − limit) > 0 → nothing fills, the quantity carries;
 *   V_t = 0 → nothing fills, everything carries;
 *   after bin t < T−1: side·(avg fill / VWAP so far − 1)·1e4 > stopSlippageBps → stop.
 *
 * Units: quantities in base units, prices in quote per base, costs in quote
 * currency (positive = cost); `side` +1 buy, −1 sell. Per-bin arrays are
 * row-major [batch, horizon], per-order arrays [batch]; all Float64Array
 * except `side` (Int8Array), `passive` (Uint8Array) and the integer results
 * (Int32Array). Two entry points run the same per-order-per-bin function, so
 * they agree bit for bit: `simulateFills` (open loop: a whole schedule) and
 * `FillSimulator` (closed loop: one bin per `step`, for strategies that see
 * their fills before choosing the next bin).
 */
import { fromNative, SigvwapError } from '../errors.js';
import type { DeviceName } from './backend.js';
import { native } from './binding.js';
import { assertOneOf, assertSize } from './checks.js';
import { JS_RESULT_MAX_BYTES, uninitialized } from './resultArray.js';

export type FinalBin = 'sweep' | 'leave';

/** Cost and risk parameters (the second argument); every field is optional (see `FILL_DEFAULTS`). */
export interface FillParamsInput {
  /** ρ: most of a bin's market volume an order may take (> 0). */
  maxParticipation?: number;
  /** η: temporary impact coefficient (>= 0). */
  impactEta?: number;
  /** β: temporary impact exponent (> 0; 0.5 = square-root law). */
  impactBeta?: number;
  /** γ: permanent impact per unit of participation Σ q_s/V_s (>= 0). */
  permanentGamma?: number;
  /** Fee of aggressive fills (and the final sweep), bps of notional; < 0 = rebate. */
  takerFeeBps?: number;
  /** Fee of passive fills, bps of notional; < 0 = rebate. */
  makerFeeBps?: number;
  /** Last bin: 'sweep' takes all that is left, 'leave' leaves it unfilled. */
  finalBin?: FinalBin;
  /** M: factor on the temporary impact of the part of a sweep above the cap (>= 0). */
  sweepImpactMultiplier?: number;
  /** Emergency stop on the running slippage vs the running market VWAP, bps; Infinity = off. */
  stopSlippageBps?: number;
  /** Share of the cap a passive order fills, in [0, 1]. */
  passiveFillShare?: number;
}

/**
 * Defaults (justified in native/core/src/fills/mod.rs): ρ 10 % (method.md);
 * β 0.5 and η 0.5 (the square-root law per bin: η is the law's Y, of order
 * one, lower end); γ 0 (no value carries across markets: set it per market);
 * taker 2 bps, maker 0 bps (institutional tiers); sweep with M = 1; no stop;
 * a passive order fills at most half of the cap.
 */
export const FILL_DEFAULTS: Readonly<Required<FillParamsInput>> = Object.freeze({
  maxParticipation: 0.1,
  impactEta: 0.5,
  impactBeta: 0.5,
  permanentGamma: 0,
  takerFeeBps: 2,
  makerFeeBps: 0,
  finalBin: 'sweep',
  sweepImpactMultiplier: 1,
  stopSlippageBps: Infinity,
  passiveFillShare: 0.5,
});

/** The market and the orders. */
export interface FillMarketInput {
  batch: number;
  horizon: number;
  /** Bin price p (the bar VWAP), [batch, horizon], finite > 0. */
  price: Float64Array;
  /** Market volume V, [batch, horizon], finite >= 0. */
  volume: Float64Array;
  /** Causal per-bin relative volatility σ, [batch], finite >= 0. */
  sigma: Float64Array;
  /** Half spread in bps, [batch], finite >= 0. */
  halfSpreadBps: Float64Array;
  /** Order size Q in base units, [batch], finite >= 0. */
  quantity: Float64Array;
  /** +1 buy, −1 sell, [batch]. */
  side: Int8Array;
  /** Limit price, [batch]: NaN = no collar for that order. */
  limitPrice?: Float64Array;
  /** Arrival price, [batch], finite > 0: gives `shortfallCost` (NaN without it). */
  arrivalPrice?: Float64Array;
  /** true: every order rests passively; Uint8Array [batch]: 1 passive, 0 aggressive. */
  passive?: boolean | Uint8Array;
}

export interface SimulateFillsInput extends FillMarketInput {
  /** Fractions a[b, t] of each order's quantity, [batch, horizon], finite >= 0 (rows usually sum to 1). */
  schedule: Float64Array;
  device?: DeviceName;
  /**
   * Sync form only: arrays to write the results into (any subset; the rest is
   * allocated natively, huge-page backed when large, and returned). Each must
   * have its result's type and length and share no memory with an input or
   * another output. Reusing them in a loop saves the allocation and the
   * first-touch page faults.
   */
  out?: Partial<FillArrays>;
}

export interface FillArrays {
  /** Quantity filled per bin, [batch, horizon] (0 where nothing filled). */
  filled: Float64Array;
  /** Fill price per bin, [batch, horizon] (NaN where nothing filled). */
  fillPrice: Float64Array;
  /** Σ filled, [batch]. */
  filledQty: Float64Array;
  /** Σ filled·fillPrice, [batch]. */
  notional: Float64Array;
  /** Σ (p·q)·halfSpread, quote currency, [batch]. */
  spreadCost: Float64Array;
  /** Σ (p·q)·temp, [batch]. */
  temporaryImpactCost: Float64Array;
  /** Σ (p·q)·perm, [batch]. */
  permanentImpactCost: Float64Array;
  /** Σ feeRate·q·fillPrice (negative for rebates), [batch]. */
  feeCost: Float64Array;
  /** Quantity the collar blocked (summed over blocked bins; it carried on), [batch]. */
  collarBlockedQty: Float64Array;
  /** max over filled bins of q/V (0 when nothing filled), [batch]. */
  maxParticipation: Float64Array;
  /** Σ V over the order's bins, [batch]. */
  marketVolume: Float64Array;
  /** Σ V·p / Σ V over the order's bins (NaN when Σ V = 0), [batch]. */
  marketVwap: Float64Array;
  /** side·(notional − filledQty·arrivalPrice) (NaN without arrivalPrice), [batch]. */
  shortfallCost: Float64Array;
  /** Bins with zero market volume, [batch]. */
  zeroVolumeBins: Int32Array;
  /** Bin after which the emergency stop fired, −1 = never, [batch]. */
  stoppedAt: Int32Array;
}

export interface FillResult extends FillArrays {
  /** Device that ran the simulation. */
  device: 'cpu' | 'cuda';
}

/** What one `FillSimulator.step` returns. */
export interface FillStep {
  /** The bin just simulated. */
  bin: number;
  /** Quantity filled in this bin, [batch]. */
  filled: Float64Array;
  /** Fill price in this bin, [batch] (NaN where nothing filled). */
  fillPrice: Float64Array;
  /** Each order's carry into the next bin (target not filled so far), [batch]. */
  carry: Float64Array;
}

const PER_BIN = ['filled', 'fillPrice'] as const;
const PER_ORDER_F64 = [
  'filledQty',
  'notional',
  'spreadCost',
  'temporaryImpactCost',
  'permanentImpactCost',
  'feeCost',
  'collarBlockedQty',
  'maxParticipation',
  'marketVolume',
  'marketVwap',
  'shortfallCost',
] as const;
const PER_ORDER_I32 = ['zeroVolumeBins', 'stoppedAt'] as const;
const PARAMS = [
  'maxParticipation',
  'impactEta',
  'impactBeta',
  'permanentGamma',
  'takerFeeBps',
  'makerFeeBps',
  'sweepImpactMultiplier',
  'stopSlippageBps',
  'passiveFillShare',
] as const;

type TypedCtor = Float64ArrayConstructor | Int8ArrayConstructor | Uint8ArrayConstructor | Int32ArrayConstructor;

function typeName(value: unknown): string {
  return value === null ? 'null' : typeof value === 'object' ? ((value as object).constructor?.name ?? 'object') : typeof value;
}

function assertTyped(name: string, value: unknown, ctor: TypedCtor): void {
  if (!(value instanceof ctor)) {
    throw new SigvwapError('ERR_ARG', `${name}: expected a ${ctor.name}, got ${typeName(value)}`, { argument: name });
  }
}

/** The market, checked for JavaScript-level mistakes (types), as the binding takes it. */
function marketOf(input: FillMarketInput) {
  if (input === null || typeof input !== 'object') {
    throw new SigvwapError('ERR_ARG', `input: expected an object, got ${typeName(input)}`, { argument: 'input' });
  }
  assertSize('batch', input.batch);
  assertSize('horizon', input.horizon, 1);
  for (const name of ['price', 'volume', 'sigma', 'halfSpreadBps', 'quantity'] as const) assertTyped(name, input[name], Float64Array);
  assertTyped('side', input.side, Int8Array);
  if (input.limitPrice != null) assertTyped('limitPrice', input.limitPrice, Float64Array);
  if (input.arrivalPrice != null) assertTyped('arrivalPrice', input.arrivalPrice, Float64Array);
  if (input.passive != null && typeof input.passive !== 'boolean') assertTyped('passive', input.passive, Uint8Array);
  return {
    batch: input.batch,
    horizon: input.horizon,
    price: input.price,
    volume: input.volume,
    sigma: input.sigma,
    halfSpreadBps: input.halfSpreadBps,
    quantity: input.quantity,
    side: input.side,
    limitPrice: input.limitPrice ?? undefined,
    arrivalPrice: input.arrivalPrice ?? undefined,
    passive: input.passive ?? undefined,
  };
}

/** The cost parameters and device as the binding takes them (undefined = default). */
function optionsOf(params: FillParamsInput | undefined, device: DeviceName | undefined) {
  const o: Record<string, unknown> = {};
  if (device != null) {
    assertOneOf('device', device, ['auto', 'cpu', 'cuda'] as const);
    o.device = device;
  }
  if (params == null) return o;
  if (typeof params !== 'object') {
    throw new SigvwapError('ERR_ARG', `params: expected an object, got ${typeName(params)}`, { argument: 'params' });
  }
  const input = params;
  for (const name of PARAMS) {
    const v = input[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number') {
      throw new SigvwapError('ERR_ARG', `${name}: expected a number, got ${typeName(v)}`, { argument: name });
    }
    o[name] = v;
  }
  if (input.finalBin != null) {
    assertOneOf('finalBin', input.finalBin, ['sweep', 'leave'] as const);
    o.finalBin = input.finalBin;
  }
  return o;
}

/**
 * The output arrays of a sync call: the caller's `out` fields (type-checked,
 * ERR_ARG naming `out.<field>`), the rest allocated here. JavaScript allocates
 * them so that the garbage collector frees them in synchronous loops, and
 * uninitialized, because the kernels write every element of every output
 * (see resultArray.ts; tests/native/simulateFills.test.ts checks it over
 * sentinel-filled `out` arrays; the native side gives the large per-bin ones
 * huge pages before its first write). Measured (100,000 orders × 24 bins,
 * 2 threads, AMD EPYC Zen 4, median of 41 calls, three repeats): 13.6–14.3
 * ms per call uninitialized, 15.3–17.0 zeroed, 8.4–12.1 with a reused `out`.
 * Fields left out (inputs of inconsistent shape, or results over 2 GiB) are
 * allocated natively, after the native side has checked the inputs, so a
 * wrong input is reported before anything is allocated.
 */
function outputsOf(input: SimulateFillsInput): Partial<FillArrays> {
  const out = input.out ?? {};
  if (out === null || typeof out !== 'object') {
    throw new SigvwapError('ERR_ARG', `out: expected an object of arrays, got ${typeName(out)}`, { argument: 'out' });
  }
  const n = input.batch * input.horizon;
  const fresh = Number.isSafeInteger(n) && input.price.length === n && n * 8 <= JS_RESULT_MAX_BYTES;
  const r: Record<string, Float64Array | Int32Array> = {};
  const take = (name: keyof FillArrays, ctor: Float64ArrayConstructor | Int32ArrayConstructor, len: number) => {
    const given = out[name];
    if (given != null) {
      assertTyped(`out.${name}`, given, ctor);
      r[name] = given;
    } else if (fresh) {
      r[name] = uninitialized<Float64Array | Int32Array>(ctor, len);
    }
  };
  for (const name of PER_BIN) take(name, Float64Array, n);
  for (const name of PER_ORDER_F64) take(name, Float64Array, input.batch);
  for (const name of PER_ORDER_I32) take(name, Int32Array, input.batch);
  return r as Partial<FillArrays>;
}

/** Simulate `schedule` open loop (threaded over orders; CUDA with `device`). */
export function simulateFills(input: SimulateFillsInput, params?: FillParamsInput): FillResult {
  try {
    const market = marketOf(input);
    assertTyped('schedule', input.schedule, Float64Array);
    const options = optionsOf(params, input.device);
    return native().simulateFills(market, input.schedule, options, outputsOf(input)) as FillResult;
  } catch (e) {
    throw fromNative(e);
  }
}

/** Same as `simulateFills`, on the libuv thread pool: the inputs are copied when called; results are fresh arrays (no `out`). */
export async function simulateFillsAsync(input: SimulateFillsInput, params?: FillParamsInput): Promise<FillResult> {
  try {
    const market = marketOf(input);
    assertTyped('schedule', input.schedule, Float64Array);
    const options = optionsOf(params, input.device);
    if (input.out != null) {
      throw new SigvwapError('ERR_ARG', 'out: not supported by simulateFillsAsync (its results are fresh arrays); use simulateFills', {
        argument: 'out',
      });
    }
    const r = await native().simulateFillsAsync(market, input.schedule, options);
    return r as FillResult;
  } catch (e) {
    throw fromNative(e);
  }
}

/**
 * The stepped (closed-loop) simulator. The constructor checks and copies the
 * market (later changes to its arrays do not matter); each `step(fractions)`
 * runs the next bin for every order (threaded) and returns its fills; after
 * `horizon` steps, `finish()` returns exactly what `simulateFills` returns for
 * the schedule whose column t was the fractions of step t. CPU only
 * (`device: 'cuda'` is ERR_ARG).
 */
export class FillSimulator {
  readonly batch: number;
  readonly horizon: number;
  readonly #sim: InstanceType<ReturnType<typeof native>['FillSimulator']>;

  constructor(input: FillMarketInput & { device?: DeviceName }, params?: FillParamsInput) {
    try {
      const market = marketOf(input);
      this.#sim = new (native().FillSimulator)(market, optionsOf(params, input.device));
      this.batch = input.batch;
      this.horizon = input.horizon;
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Bins simulated so far (the index of the next one). */
  get bin(): number {
    return this.#sim.bin;
  }

  /**
   * Run the next bin: `fractions[b]` is order b's fraction of its quantity
   * for this bin (finite >= 0; the carry is added to it). `out` may supply
   * the [batch] result arrays to reuse. A failed step changes nothing.
   */
  step(fractions: Float64Array, out?: Partial<Pick<FillStep, 'filled' | 'fillPrice' | 'carry'>>): FillStep {
    try {
      assertTyped('fractions', fractions, Float64Array);
      const bin = this.#sim.bin;
      const get = (name: 'filled' | 'fillPrice' | 'carry') => {
        const given = out?.[name];
        if (given != null) assertTyped(`out.${name}`, given, Float64Array);
        return given ?? new Float64Array(this.batch);
      };
      const r = { bin, filled: get('filled'), fillPrice: get('fillPrice'), carry: get('carry') };
      this.#sim.step(fractions, r.filled, r.fillPrice, r.carry);
      return r;
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** The results once every bin was stepped (ERR_ARG naming `finish` before). */
  finish(): FillResult {
    try {
      return this.#sim.finish() as FillResult;
    } catch (e) {
      throw fromNative(e);
    }
  }
}
