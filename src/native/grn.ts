/**
 * Typed wrapper of the native fused gated residual network (native/core/src/grn): one call for
 * the forward pass, one for the backward pass over a block of rows. float32, row-major:
 * x [rows, inDim] → y [rows, units]. The weights, their gradients and the forward's saved
 * activations each cross as one packed array:
 *   params = W1 [in, h] | b1 [h] | W2 [h, h] | b2 [h] | Wv [h, u] | bv [u] | Wg [h, u] | bg [u]
 *            | (Ws [in, u] | bs [u], only when in ≠ u) | γ [u] | β [u]
 *   saved  = η [rows, h] | e [rows, h] | a [rows, u] | g [rows, u] | n [rows, u] | 1/√(var+ε) [rows]
 * This wrapper allocates the outputs; the native layer checks every length (ERR_SHAPE naming
 * the array) and that no output overlaps an input. Sync only: it serves a tfjs custom op
 * (src/ops/grnOp.ts).
 * Cost per row: in·h + h² + 2·h·u (+ in·u) multiply-adds forward, about twice backward.
 */
import { fromNative } from '../errors.js';
import { native } from './binding.js';
import { assertSize } from './checks.js';

export interface GrnDims {
  rows: number;
  inDim: number;
  hidden: number;
  units: number;
  /** the LayerNorm's ε */
  epsilon: number;
}

export type GrnParamName = 'w1' | 'b1' | 'w2' | 'b2' | 'wv' | 'bv' | 'wg' | 'bg' | 'ws' | 'bs' | 'gamma' | 'beta';

function checkDims(dims: GrnDims): void {
  for (const k of ['rows', 'inDim', 'hidden', 'units'] as const) assertSize(k, dims[k]);
}

/** The packed params' parts, in order: [name, length] (ws, bs only when inDim ≠ units). */
export function grnParamParts(dims: Omit<GrnDims, 'rows' | 'epsilon'>): [name: GrnParamName, length: number][] {
  const { inDim: i, hidden: h, units: u } = dims;
  return [
    ['w1', i * h], ['b1', h], ['w2', h * h], ['b2', h], ['wv', h * u], ['bv', u], ['wg', h * u], ['bg', u],
    ...(i !== u ? ([['ws', i * u], ['bs', u]] as [GrnParamName, number][]) : []),
    ['gamma', u], ['beta', u],
  ];
}

/** The forward pass: y and the saved activations (fresh arrays). */
export function grnForwardF32(x: Float32Array, params: Float32Array, dims: GrnDims): { y: Float32Array; saved: Float32Array } {
  checkDims(dims);
  const { rows, hidden: h, units: u } = dims;
  const y = new Float32Array(rows * u);
  const saved = new Float32Array(rows * (2 * h + 3 * u + 1));
  try {
    native().grnForwardF32(x, params, y, saved, dims);
  } catch (e) {
    throw fromNative(e);
  }
  return { y, saved };
}

/** Gradients of Σ dy ⊙ y: dparams packed as params, and dx unless `inputGrad` is false. */
export function grnBackwardF32(x: Float32Array, params: Float32Array, saved: Float32Array, dy: Float32Array, dims: GrnDims, inputGrad = true): { dparams: Float32Array; dx?: Float32Array } {
  checkDims(dims);
  const dparams = new Float32Array(grnParamParts(dims).reduce((a, [, n]) => a + n, 0));
  const dx = inputGrad ? new Float32Array(dims.rows * dims.inDim) : undefined;
  try {
    native().grnBackwardF32(x, params, saved, dy, dparams, dx, dims);
  } catch (e) {
    throw fromNative(e);
  }
  return dx ? { dparams, dx } : { dparams };
}
