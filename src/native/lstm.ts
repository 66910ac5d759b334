/**
 * Typed wrapper of the native fused LSTM (native/core/src/lstm): one call runs a whole
 * sequence forward, one call its back-propagation through time, threaded over row blocks of
 * the batch. float32, row-major, time-major: x [steps, batch, channels], wx [channels, 4·units],
 * wh [units, 4·units], bias [4·units]; h and c [steps, batch, units], activated gates
 * [steps, batch, 4·units] (gate order i, f, g, o). This wrapper allocates the outputs; the
 * native layer checks every length (ERR_SHAPE naming the array) and that no output overlaps
 * an input. Sync only: it serves a tfjs custom op (src/ops/lstmSequence.ts).
 * Cost: forward 4·units·(channels+units)·steps·batch multiply-adds, backward about twice.
 */
import { fromNative } from '../errors.js';
import { native } from './binding.js';
import { assertSize } from './checks.js';

export interface LstmDims {
  steps: number;
  batch: number;
  channels: number;
  units: number;
}

/** The sizes must be non-negative integers before this wrapper allocates from them (ERR_ARG naming one). */
function checkDims(dims: LstmDims): void {
  for (const k of ['steps', 'batch', 'channels', 'units'] as const) assertSize(k, dims[k]);
}

/** What the forward pass keeps for the backward pass. */
export interface LstmSavedArrays {
  x: Float32Array;
  wx: Float32Array;
  wh: Float32Array;
  h: Float32Array;
  gates: Float32Array;
  c: Float32Array;
}

export interface LstmGradArrays {
  dwx: Float32Array;
  dwh: Float32Array;
  dbias: Float32Array;
  /** ∂L/∂x, only when asked (the encoder's input is data) */
  dx?: Float32Array;
}

/** The forward pass: h, gates and c (fresh arrays). */
export function lstmForwardF32(x: Float32Array, wx: Float32Array, wh: Float32Array, bias: Float32Array, dims: LstmDims): { h: Float32Array; gates: Float32Array; c: Float32Array } {
  checkDims(dims);
  const rows = dims.steps * dims.batch;
  const h = new Float32Array(rows * dims.units);
  const gates = new Float32Array(rows * 4 * dims.units);
  const c = new Float32Array(rows * dims.units);
  try {
    native().lstmForwardF32(x, wx, wh, bias, h, gates, c, dims);
  } catch (e) {
    throw fromNative(e);
  }
  return { h, gates, c };
}

/** Gradients of Σ dh ⊙ h with respect to wx, wh, bias (and x with `inputGrad`). */
export function lstmBackwardF32(saved: LstmSavedArrays, dh: Float32Array, dims: LstmDims, inputGrad = false): LstmGradArrays {
  checkDims(dims);
  const G = 4 * dims.units;
  const out: LstmGradArrays = {
    dwx: new Float32Array(dims.channels * G),
    dwh: new Float32Array(dims.units * G),
    dbias: new Float32Array(G),
    ...(inputGrad ? { dx: new Float32Array(dims.steps * dims.batch * dims.channels) } : {}),
  };
  try {
    native().lstmBackwardF32(saved.x, saved.wx, saved.wh, saved.h, saved.gates, saved.c, dh, out.dwx, out.dwh, out.dbias, out.dx, dims);
  } catch (e) {
    throw fromNative(e);
  }
  return out;
}
