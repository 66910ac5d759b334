/**
 * Typed wrapper of the native fused TKAN sequence (native/core/src/tkan, the 'kan' cell of
 * src/layers/tkan.ts): one call runs a whole sequence forward, one call its back-propagation
 * through time, threaded over row blocks of the batch. float32, row-major, time-major:
 * x [steps, batch, channels]; the layer's 13 weights by its names (layouts in
 * native/core/src/tkan/mod.rs); the saved states h and c [steps, batch, units], the activated
 * gates i, f, g, o [steps, batch, 4·units] and the KAN's s, phi, m [steps, batch, kanUnits].
 * This wrapper allocates the outputs; the native layer checks every length (ERR_SHAPE naming
 * the array: a weight by its name, a gradient as `d` + the name) and that no output overlaps
 * an input. Sync only: it serves a tfjs custom op (src/ops/tkanSequence.ts).
 * Cost: forward 3U·(C + U) + K·(C + K) + K²·(G + 4) + 2K² + K·U multiply-adds per step and
 * row, backward about twice.
 */
import { fromNative } from '../errors.js';
import { native } from './binding.js';
import { assertOneOf, assertSize } from './checks.js';

export const TKAN_WEIGHT_NAMES = [
  'kernel', 'recurrentKernel', 'bias', 'kanKernel', 'kanRecurrentKernel', 'kanBias', 'splineKernel',
  'baseKernel', 'memoryKernel', 'memoryRecurrentKernel', 'memoryBias', 'outputKernel', 'outputBias',
] as const;
export type TkanWeightName = (typeof TKAN_WEIGHT_NAMES)[number];
export type TkanWeightArrays = Record<TkanWeightName, Float32Array>;

export interface TkanDims {
  steps: number;
  batch: number;
  channels: number;
  units: number;
  kanUnits: number;
  gridSize: number;
  gridMin: number;
  gridMax: number;
  baseActivation: 'silu' | 'relu' | 'linear';
}

/** What the forward pass writes and the backward pass reads. */
export interface TkanStateArrays {
  h: Float32Array;
  c: Float32Array;
  gates: Float32Array;
  s: Float32Array;
  phi: Float32Array;
  m: Float32Array;
}

/** The sizes must be non-negative integers (widths and grid positive) before this wrapper
 * allocates from them (ERR_ARG naming one). */
function checkDims(d: TkanDims): void {
  for (const k of ['steps', 'batch', 'channels'] as const) assertSize(k, d[k]);
  for (const k of ['units', 'kanUnits', 'gridSize'] as const) assertSize(k, d[k], 1);
  assertOneOf('baseActivation', d.baseActivation, ['silu', 'relu', 'linear'] as const);
}

/** Element counts of each weight, in TKAN_WEIGHT_NAMES order. */
export function tkanWeightSizes(d: TkanDims): Record<TkanWeightName, number> {
  const { channels: C, units: U, kanUnits: K, gridSize: G } = d;
  return {
    kernel: C * 3 * U, recurrentKernel: U * 3 * U, bias: 3 * U, kanKernel: C * K, kanRecurrentKernel: K * K, kanBias: K,
    splineKernel: K * (G + 3) * K, baseKernel: K * K, memoryKernel: K * K, memoryRecurrentKernel: K * K, memoryBias: K,
    outputKernel: K * U, outputBias: U,
  };
}

/** The forward pass: every state (fresh arrays); `h` is the layer's output sequence. */
export function tkanForwardF32(x: Float32Array, weights: TkanWeightArrays, dims: TkanDims): TkanStateArrays {
  checkDims(dims);
  const rows = dims.steps * dims.batch;
  const states: TkanStateArrays = {
    h: new Float32Array(rows * dims.units),
    c: new Float32Array(rows * dims.units),
    gates: new Float32Array(rows * 4 * dims.units),
    s: new Float32Array(rows * dims.kanUnits),
    phi: new Float32Array(rows * dims.kanUnits),
    m: new Float32Array(rows * dims.kanUnits),
  };
  try {
    native().tkanForwardF32(x, weights, states, dims);
  } catch (e) {
    throw fromNative(e);
  }
  return states;
}

/** Gradients of Σ dh ⊙ h with respect to every weight (and x with `inputGrad`). */
export function tkanBackwardF32(x: Float32Array, weights: TkanWeightArrays, saved: TkanStateArrays, dh: Float32Array, dims: TkanDims, inputGrad = true): { grads: TkanWeightArrays; dx?: Float32Array } {
  checkDims(dims);
  const sizes = tkanWeightSizes(dims);
  const grads = Object.fromEntries(TKAN_WEIGHT_NAMES.map((n) => [n, new Float32Array(sizes[n])])) as TkanWeightArrays;
  const dx = inputGrad ? new Float32Array(dims.steps * dims.batch * dims.channels) : undefined;
  try {
    native().tkanBackwardF32(x, weights, saved, dh, grads, dx, dims);
  } catch (e) {
    throw fromNative(e);
  }
  return dx ? { grads, dx } : { grads };
}
