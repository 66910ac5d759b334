/**
 * Typed wrapper of the native fused gated residual network (native/core/src/grn): one call for
 * the forward pass, one for the backward pass over a stack of S = `stack` GRNs (default 1),
 * each with its own weights over its own block of rows. float32, row-major, the stack index
 * first: x [S, rows, inDim] → y [S, rows, units]. The weights, their gradients and the
 * forward's saved activations each cross as one packed array (each part a stacked tensor's
 * data, as tfjs-layers holds VariableSelection's per-variable weights):
 *   params = W1 [S, in, h] | b1 [S, h] | W2 [S, h, h] | b2 [S, h] | Wv [S, h, u] | bv [S, u]
 *            | Wg [S, h, u] | bg [S, u] | (Ws [S, in, u] | bs [S, u], only when in ≠ u)
 *            | γ [S, u] | β [S, u]
 *   saved  = η [S, rows, h] | e [S, rows, h] | a [S, rows, u] | g [S, rows, u] | n [S, rows, u]
 *            | 1/√(var+ε) [S, rows]
 * This wrapper allocates the outputs; the native layer checks every length (ERR_SHAPE naming
 * the array) and that no output overlaps an input. Sync only: it serves a tfjs custom op
 * (src/ops/grnOp.ts).
 * Cost per row of each GRN: in·h + h² + 2·h·u (+ in·u) multiply-adds forward, about twice
 * backward.
 */
import { fromNative } from '../errors.js';
import { native } from './binding.js';
import { assertSize } from './checks.js';

export interface GrnDims {
  /** GRNs in the stack (default 1) */
  stack?: number;
  /** rows per GRN */
  rows: number;
  inDim: number;
  hidden: number;
  units: number;
  /** the LayerNorm's ε */
  epsilon: number;
}

export type GrnParamName = 'w1' | 'b1' | 'w2' | 'b2' | 'wv' | 'bv' | 'wg' | 'bg' | 'ws' | 'bs' | 'gamma' | 'beta';

function checkDims(dims: GrnDims): number {
  for (const k of ['rows', 'inDim', 'hidden', 'units'] as const) assertSize(k, dims[k]);
  const stack = dims.stack ?? 1;
  assertSize('stack', stack);
  return stack;
}

/** The packed params' parts, in order: [name, length of all S GRNs'] (ws, bs only when inDim ≠ units). */
export function grnParamParts(dims: Omit<GrnDims, 'rows' | 'epsilon'>): [name: GrnParamName, length: number][] {
  const { inDim: i, hidden: h, units: u } = dims;
  const parts: [GrnParamName, number][] = [
    ['w1', i * h], ['b1', h], ['w2', h * h], ['b2', h], ['wv', h * u], ['bv', u], ['wg', h * u], ['bg', u],
    ...(i !== u ? ([['ws', i * u], ['bs', u]] as [GrnParamName, number][]) : []),
    ['gamma', u], ['beta', u],
  ];
  const stack = dims.stack ?? 1;
  return parts.map(([name, n]) => [name, stack * n]);
}

/** The forward pass: y and the saved activations (fresh arrays). */
export function grnForwardF32(x: Float32Array, params: Float32Array, dims: GrnDims): { y: Float32Array; saved: Float32Array } {
  const stack = checkDims(dims);
  const { rows, hidden: h, units: u } = dims;
  const y = new Float32Array(stack * rows * u);
  const saved = new Float32Array(stack * rows * (2 * h + 3 * u + 1));
  try {
    native().grnForwardF32(x, params, y, saved, dims);
  } catch (e) {
    throw fromNative(e);
  }
  return { y, saved };
}

/** Gradients of Σ dy ⊙ y: dparams packed as params, and dx unless `inputGrad` is false. */
export function grnBackwardF32(x: Float32Array, params: Float32Array, saved: Float32Array, dy: Float32Array, dims: GrnDims, inputGrad = true): { dparams: Float32Array; dx?: Float32Array } {
  const stack = checkDims(dims);
  const dparams = new Float32Array(grnParamParts(dims).reduce((a, [, n]) => a + n, 0));
  const dx = inputGrad ? new Float32Array(stack * dims.rows * dims.inDim) : undefined;
  try {
    native().grnBackwardF32(x, params, saved, dy, dparams, dx, dims);
  } catch (e) {
    throw fromNative(e);
  }
  return dx ? { dparams, dx } : { dparams };
}
