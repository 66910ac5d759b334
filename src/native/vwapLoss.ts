/**
 * Batched VWAP slippage loss and its gradient, computed natively.
 *
 * For order b over `horizon` bars (row-major [batch, horizon] arrays):
 *   P_ach = Σ a·p / Σ a   (allocations need not be normalized)
 *   P_mkt = Σ V·p / Σ V   (the market VWAP)
 *   d_b   = P_ach / P_mkt − 1            → `perOrder[b]`
 *   mean  = mean over orders of |d| ('abs') or d² ('quad').
 * The gradient is d(mean)/d(alloc), [batch, horizon], same float type as
 * `alloc`. The gradient of |d| at d = 0 is taken as 0 (a schedule that
 * matches VWAP exactly is a stationary point).
 * Inputs may be Float32Array or Float64Array; sums are in float64. Cost: one
 * pass over the three arrays, threaded over the batch (CUDA with device).
 */
import { fromNative } from '../errors.js';
import type { DeviceName } from './backend.js';
import { native } from './binding.js';
import { assertFloatArray, assertOneOf, assertSize, type FloatArray } from './checks.js';
import { outArg, resultArray } from './resultArray.js';

export type VwapLossKind = 'abs' | 'quad';

export interface VwapLossInput<A extends FloatArray = FloatArray> {
  /** Allocations a[b, t] >= 0, each row with a positive sum. */
  alloc: A;
  /** Bar prices p[b, t] > 0 (the bar VWAP). */
  price: FloatArray;
  /** Market volumes V[b, t] >= 0. */
  volume: FloatArray;
  batch: number;
  horizon: number;
  kind: VwapLossKind;
  /** 'error' (default): ERR_ZERO_VOLUME names the order; 'skip': leave it out of the mean. */
  onZeroVolume?: 'error' | 'skip';
  device?: DeviceName;
}

/**
 * Gradient calls only: where to write the gradient (same float type and
 * length as `alloc`, sharing no memory with the inputs). It is returned as
 * `grad`. Async forms copy alloc, price and volume when called and write
 * `out` when the promise settles, on this thread; if `out`'s buffer was
 * transferred (detached) meanwhile, the promise rejects with ERR_ARG naming
 * `out`. See README "Async forms".
 */
export interface VwapGradInput<A extends FloatArray = FloatArray> extends VwapLossInput<A> {
  out?: A;
}

export interface VwapLossOutput {
  /** Mean loss over the orders used (NaN when none). */
  mean: number;
  /** Relative slippage d per order (NaN for skipped orders). */
  perOrder: Float64Array;
  /** Orders in the mean. */
  used: number;
  /** Orders skipped for zero volume. */
  skipped: number;
  /** Device that ran the kernel. */
  device: 'cpu' | 'cuda';
}

export interface VwapLossGradOutput<A extends FloatArray = FloatArray> extends VwapLossOutput {
  /** d(mean)/d(alloc), [batch, horizon]. */
  grad: A;
}

function prepare(input: VwapLossInput) {
  if (input === null || typeof input !== 'object') {
    assertFloatArray('input', input);
  }
  assertFloatArray('alloc', input.alloc);
  assertFloatArray('price', input.price);
  assertFloatArray('volume', input.volume);
  assertSize('batch', input.batch);
  assertSize('horizon', input.horizon, 1);
  assertOneOf('kind', input.kind, ['abs', 'quad'] as const);
  if (input.onZeroVolume !== undefined) assertOneOf('onZeroVolume', input.onZeroVolume, ['error', 'skip'] as const);
  if (input.device !== undefined) assertOneOf('device', input.device, ['auto', 'cpu', 'cuda'] as const);
  const options = {
    batch: input.batch,
    horizon: input.horizon,
    kind: input.kind,
    onZeroVolume: input.onZeroVolume ?? 'error',
    device: input.device ?? 'auto',
  };
  return [input.alloc, input.price, input.volume, options] as const;
}

const asOutput = <T extends { device: string }>(r: T) => r as T & { device: 'cpu' | 'cuda' };

/** Mean VWAP loss and per-order slippage. */
export function vwapLoss(input: VwapLossInput): VwapLossOutput {
  try {
    return asOutput(native().vwapLoss(...prepare(input)));
  } catch (e) {
    throw fromNative(e);
  }
}

/** Same as `vwapLoss`, on the libuv thread pool (the inputs are copied when called). */
export async function vwapLossAsync(input: VwapLossInput): Promise<VwapLossOutput> {
  try {
    return asOutput(await native().vwapLossAsync(...prepare(input)));
  } catch (e) {
    throw fromNative(e);
  }
}

/** The forward results and the gradient in one pass. */
export function vwapLossAndGrad<A extends FloatArray>(input: VwapGradInput<A>): VwapLossGradOutput<A> {
  try {
    const args = prepare(input);
    return asOutput(native().vwapLossGrad(...args, resultArray(input.alloc, () => input.alloc.length, input))) as VwapLossGradOutput<A>;
  } catch (e) {
    throw fromNative(e);
  }
}

/** Same as `vwapLossAndGrad`, on the libuv thread pool (the inputs are copied when called; `out` written on settling). */
export async function vwapLossAndGradAsync<A extends FloatArray>(input: VwapGradInput<A>): Promise<VwapLossGradOutput<A>> {
  try {
    const args = prepare(input);
    return asOutput(await native().vwapLossGradAsync(...args, outArg(input))) as VwapLossGradOutput<A>;
  } catch (e) {
    throw fromNative(e);
  }
}

/** d(mean loss)/d(alloc), [batch, horizon], same float type as `alloc`. */
export function vwapLossGrad<A extends FloatArray>(input: VwapGradInput<A>): A {
  return vwapLossAndGrad(input).grad;
}

/** Same as `vwapLossGrad`, on the libuv thread pool. */
export async function vwapLossGradAsync<A extends FloatArray>(input: VwapGradInput<A>): Promise<A> {
  return (await vwapLossAndGradAsync(input)).grad;
}
