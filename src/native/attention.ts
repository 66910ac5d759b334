/**
 * Typed wrapper of the native fused causal multi-head attention (native/core/src/attention):
 * one call for the forward pass, one for the backward pass, the attention core threaded over
 * the batch. float32, row-major: x [batch, time, width] → y [batch, time, units]. The weights,
 * their gradients and the forward's saved activations each cross as one packed array:
 *   params = Wq [width, HK] | bq [HK] | Wk [width, HK] | Wv [width, HK] | bv [HK] | Wo [HK, units] | bo [units]
 *   saved  = Q | Kp | V | M [batch, time, HK] each | A [batch, heads, time, time]     (HK = heads·keyDim)
 * This wrapper allocates the outputs; the native layer checks every length (ERR_SHAPE naming
 * the array) and that no output overlaps an input. Sync only: it serves a tfjs custom op
 * (src/ops/causalAttention.ts).
 * Cost: forward 3·B·T·width·HK + B·T·HK·units multiply-adds in the projections plus
 * B·heads·T(T+1)·keyDim in the causal core; backward about twice.
 */
import { fromNative } from '../errors.js';
import { native } from './binding.js';
import { assertSize } from './checks.js';

export interface AttentionDims {
  batch: number;
  time: number;
  width: number;
  heads: number;
  keyDim: number;
  units: number;
}

/** The sizes must be integers (heads, keyDim ≥ 1) before this wrapper allocates from them (ERR_ARG naming one). */
function checkDims(dims: AttentionDims): void {
  for (const k of ['batch', 'time', 'width', 'units'] as const) assertSize(k, dims[k]);
  for (const k of ['heads', 'keyDim'] as const) assertSize(k, dims[k], 1);
}

/** The packed params' parts, in order: [name, length]. */
export function attentionParamParts(dims: AttentionDims): [name: 'wq' | 'bq' | 'wk' | 'wv' | 'bv' | 'wo' | 'bo', length: number][] {
  const hk = dims.heads * dims.keyDim;
  return [['wq', dims.width * hk], ['bq', hk], ['wk', dims.width * hk], ['wv', dims.width * hk], ['bv', hk], ['wo', hk * dims.units], ['bo', dims.units]];
}

function savedLength(d: AttentionDims): number {
  return 4 * d.batch * d.time * d.heads * d.keyDim + d.batch * d.heads * d.time * d.time;
}

/** The forward pass: y and the saved activations (fresh arrays). */
export function attentionForwardF32(x: Float32Array, params: Float32Array, dims: AttentionDims): { y: Float32Array; saved: Float32Array } {
  checkDims(dims);
  const y = new Float32Array(dims.batch * dims.time * dims.units);
  const saved = new Float32Array(savedLength(dims));
  try {
    native().attentionForwardF32(x, params, y, saved, dims);
  } catch (e) {
    throw fromNative(e);
  }
  return { y, saved };
}

/** Gradients of Σ dy ⊙ y: dparams packed as params, and dx unless `inputGrad` is false. */
export function attentionBackwardF32(x: Float32Array, params: Float32Array, saved: Float32Array, dy: Float32Array, dims: AttentionDims, inputGrad = true): { dparams: Float32Array; dx?: Float32Array } {
  checkDims(dims);
  const dparams = new Float32Array(attentionParamParts(dims).reduce((a, [, n]) => a + n, 0));
  const dx = inputGrad ? new Float32Array(dims.batch * dims.time * dims.width) : undefined;
  try {
    native().attentionBackwardF32(x, params, saved, dy, dparams, dx, dims);
  } catch (e) {
    throw fromNative(e);
  }
  return dx ? { dparams, dx } : { dparams };
}
