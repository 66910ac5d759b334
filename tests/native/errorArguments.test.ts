/**
 * Every error names the argument the caller got wrong (issue I #8), in the
 * sync and the Async form alike: `data.argument` is that argument, never
 * `out` when the caller passed no `out` or a correct one, and never an
 * internal name (`output`, `workspace`) for a size the caller chose.
 *
 * The native boundary checks in the caller's order: options, then the
 * inputs (path, gradOut / alloc, price, volume), then `out`, then values.
 * One table per op; each row runs through every form it applies to. Sizes
 * that used to hang (depth 2**40) are in hugeSizes.test.ts, in child processes.
 */
import { describe, expect, it } from 'vitest';

import {
  SigvwapError,
  sigLength,
  signature,
  signatureAsync,
  signatureBackward,
  signatureBackwardAsync,
  vwapLoss,
  vwapLossAndGrad,
  vwapLossAndGradAsync,
  vwapLossAsync,
  vwapLossGrad,
  vwapLossGradAsync,
} from '../../src/index.js';

/** The error of a call, sync or Async (a sync throw and a rejection alike). */
async function errorOf(call: () => unknown): Promise<SigvwapError> {
  let got: unknown;
  try {
    await call();
  } catch (e) {
    got = e;
  }
  expect(got, 'expected an error').toBeInstanceOf(SigvwapError);
  return got as SigvwapError;
}

// ---- signature, signatureBackward -------------------------------------------------------------
// [batch=2, length=3, channels=2], depth 2: siglen 6, path 12 elements, gradOut 12 elements.
const ok = { batch: 2, length: 3, channels: 2, depth: 2 };
const path = () => Float64Array.from({ length: 12 }, (_, i) => Math.sin(i));
const g = (n = 12) => new Float64Array(n).fill(0.5);

interface SigCase {
  name: string;
  /** Which ops the row applies to. */
  ops: ('forward' | 'backward')[];
  path?: () => unknown;
  gradOut?: () => unknown;
  opts?: Record<string, unknown>;
  /** `out` for the forward and the backward (by op). */
  out?: { forward?: () => unknown; backward?: () => unknown };
  code: string;
  argument: string;
}

const sigCases: SigCase[] = [
  { name: 'path one short', ops: ['forward', 'backward'], path: () => path().subarray(1), code: 'ERR_SHAPE', argument: 'path' },
  { name: 'path one short, correct out given', ops: ['forward', 'backward'], path: () => path().subarray(1), out: { forward: () => new Float64Array(12), backward: () => new Float64Array(12) }, code: 'ERR_SHAPE', argument: 'path' },
  { name: 'path detached', ops: ['forward', 'backward'], path: () => { const p = path(); structuredClone(p, { transfer: [p.buffer] }); return p; }, code: 'ERR_SHAPE', argument: 'path' },
  { name: 'path a plain array', ops: ['forward', 'backward'], path: () => Array.from(path()), code: 'ERR_ARG', argument: 'path' },
  { name: 'gradOut one long', ops: ['backward'], gradOut: () => g(13), code: 'ERR_SHAPE', argument: 'gradOut' },
  { name: 'gradOut one long, correct out given', ops: ['backward'], gradOut: () => g(13), out: { backward: () => new Float64Array(12) }, code: 'ERR_SHAPE', argument: 'gradOut' },
  { name: 'gradOut float32', ops: ['backward'], gradOut: () => new Float32Array(12), code: 'ERR_ARG', argument: 'gradOut' },
  { name: 'gradOut NaN', ops: ['backward'], gradOut: () => g().fill(NaN, 3, 4), code: 'ERR_NONFINITE', argument: 'gradOut' },
  { name: 'path NaN', ops: ['forward', 'backward'], path: () => path().fill(NaN, 5, 6), code: 'ERR_NONFINITE', argument: 'path' },
  { name: 'out one short', ops: ['forward', 'backward'], out: { forward: () => new Float64Array(11), backward: () => new Float64Array(11) }, code: 'ERR_SHAPE', argument: 'out' },
  { name: 'out float32', ops: ['forward', 'backward'], out: { forward: () => new Float32Array(12), backward: () => new Float32Array(12) }, code: 'ERR_ARG', argument: 'out' },
  { name: 'out detached', ops: ['forward', 'backward'], out: { forward: () => { const o = new Float64Array(12); structuredClone(o, { transfer: [o.buffer] }); return o; }, backward: () => { const o = new Float64Array(12); structuredClone(o, { transfer: [o.buffer] }); return o; } }, code: 'ERR_SHAPE', argument: 'out' },
  { name: 'depth 0', ops: ['forward', 'backward'], opts: { depth: 0 }, code: 'ERR_ARG', argument: 'depth' },
  { name: 'depth 1025', ops: ['forward', 'backward'], opts: { depth: 1025 }, code: 'ERR_ARG', argument: 'depth' },
  { name: 'depth 2.5', ops: ['forward', 'backward'], opts: { depth: 2.5 }, code: 'ERR_ARG', argument: 'depth' },
  { name: 'channels 0', ops: ['forward', 'backward'], opts: { channels: 0 }, code: 'ERR_ARG', argument: 'channels' },
  { name: 'length 0', ops: ['forward', 'backward'], opts: { length: 0 }, code: 'ERR_ARG', argument: 'length' },
  { name: 'batch -1', ops: ['forward', 'backward'], opts: { batch: -1 }, code: 'ERR_ARG', argument: 'batch' },
  { name: 'batch NaN', ops: ['forward', 'backward'], opts: { batch: NaN }, code: 'ERR_ARG', argument: 'batch' },
  { name: 'one signature too large (channels 1000, depth 6)', ops: ['forward', 'backward'], opts: { channels: 1000, depth: 6 }, code: 'ERR_ARG', argument: 'depth' },
  { name: 'signature size overflows (depth 70)', ops: ['forward', 'backward'], opts: { depth: 70 }, code: 'ERR_ARG', argument: 'depth' },
  { name: 'output too large for the batch', ops: ['forward', 'backward'], opts: { batch: 2 ** 31, depth: 4 }, code: 'ERR_ARG', argument: 'batch' },
  { name: 'stream too large for the length', ops: ['forward', 'backward'], opts: { length: 2 ** 31, depth: 4, stream: true }, code: 'ERR_ARG', argument: 'length' },
  { name: 'device gpu', ops: ['forward', 'backward'], opts: { device: 'gpu' }, code: 'ERR_ARG', argument: 'device' },
  { name: 'device 123', ops: ['forward', 'backward'], opts: { device: 123 }, code: 'ERR_ARG', argument: 'device' },
  { name: 'precision f16', ops: ['forward', 'backward'], opts: { precision: 'f16' }, code: 'ERR_ARG', argument: 'precision' },
  { name: 'precision 64', ops: ['forward', 'backward'], opts: { precision: 64 }, code: 'ERR_ARG', argument: 'precision' },
];

type AnyFn = (...a: unknown[]) => unknown;
const sigForms = [
  { form: 'signature', op: 'forward', call: (p: unknown, _g: unknown, o: object) => (signature as AnyFn)(p, o) },
  { form: 'signatureAsync', op: 'forward', call: (p: unknown, _g: unknown, o: object) => (signatureAsync as AnyFn)(p, o) },
  { form: 'signatureBackward', op: 'backward', call: (p: unknown, gr: unknown, o: object) => (signatureBackward as AnyFn)(p, gr, o) },
  { form: 'signatureBackwardAsync', op: 'backward', call: (p: unknown, gr: unknown, o: object) => (signatureBackwardAsync as AnyFn)(p, gr, o) },
] as const;

describe('signature family: data.argument names what the caller got wrong', () => {
  const rows = sigCases.flatMap((c) => sigForms.filter((f) => c.ops.includes(f.op)).map((f) => ({ ...c, form: f.form, call: f.call, op: f.op })));
  it.each(rows)('$form: $name -> $code naming $argument', async ({ call, op, path: p, gradOut, opts, out, code, argument }) => {
    const options = { ...ok, ...opts, out: out?.[op]?.() };
    const e = await errorOf(() => call((p ?? path)(), (gradOut ?? g)(), options));
    expect({ code: e.code, argument: e.data.argument }).toEqual({ code, argument });
    expect(e.message).toContain(argument);
  });

  it.each([
    { name: "channels '3'", args: ['3', 2], argument: 'channels' },
    { name: 'depth 1.5', args: [1, 1.5], argument: 'depth' },
    { name: 'depth 1025', args: [3, 1025], argument: 'depth' },
    { name: 'depth -1', args: [2, -1], argument: 'depth' },
    { name: 'd^2 overflows usize', args: [2 ** 40, 2], argument: 'channels' },
  ])('sigLength: $name -> ERR_ARG naming $argument', async ({ args, argument }) => {
    const e = await errorOf(() => (sigLength as AnyFn)(...args));
    expect({ code: e.code, argument: e.data.argument }).toEqual({ code: 'ERR_ARG', argument });
  });
});

// ---- VWAP loss --------------------------------------------------------------------------------
// [batch=2, horizon=3].
const base = () => ({
  alloc: new Float64Array([1, 2, 3, 1, 1, 1]),
  price: new Float64Array([100, 101, 99, 50, 51, 52]),
  volume: new Float32Array([5, 1, 1, 2, 2, 2]),
  batch: 2,
  horizon: 3,
  kind: 'abs',
});
type Input = ReturnType<typeof base> & Record<string, unknown>;

const vwapCases: { name: string; grad?: boolean; mut: (x: Input) => Record<string, unknown>; code: string; argument: string }[] = [
  { name: 'alloc one short', mut: (x) => ({ alloc: x.alloc.subarray(1) }), code: 'ERR_SHAPE', argument: 'alloc' },
  { name: 'alloc one short, out of the declared shape given', grad: true, mut: (x) => ({ alloc: x.alloc.subarray(1), out: new Float64Array(6) }), code: 'ERR_SHAPE', argument: 'alloc' },
  { name: 'price one long', mut: () => ({ price: new Float64Array(7).fill(1) }), code: 'ERR_SHAPE', argument: 'price' },
  { name: 'volume one short, correct out given', mut: (x) => ({ volume: x.volume.subarray(1), out: new Float64Array(6) }), code: 'ERR_SHAPE', argument: 'volume' },
  { name: 'volume a plain array', mut: (x) => ({ volume: Array.from(x.volume) }), code: 'ERR_ARG', argument: 'volume' },
  { name: 'price NaN', mut: (x) => (x.price[4] = NaN, {}), code: 'ERR_NONFINITE', argument: 'price' },
  { name: 'price 0', mut: (x) => (x.price[1] = 0, {}), code: 'ERR_ARG', argument: 'price' },
  { name: 'volume negative', mut: (x) => (x.volume[2] = -1, {}), code: 'ERR_ARG', argument: 'volume' },
  { name: 'alloc row sums to 0', mut: (x) => (x.alloc.fill(0, 3), {}), code: 'ERR_ARG', argument: 'alloc' },
  { name: 'zero-volume order', mut: (x) => (x.volume.fill(0, 3), {}), code: 'ERR_ZERO_VOLUME', argument: 'volume' },
  { name: 'horizon 0', mut: () => ({ horizon: 0 }), code: 'ERR_ARG', argument: 'horizon' },
  { name: 'batch 1.5', mut: () => ({ batch: 1.5 }), code: 'ERR_ARG', argument: 'batch' },
  { name: 'batch 2**31 (alloc short)', mut: () => ({ batch: 2 ** 31 }), code: 'ERR_SHAPE', argument: 'alloc' },
  { name: 'kind', mut: () => ({ kind: 'l1' }), code: 'ERR_ARG', argument: 'kind' },
  { name: 'onZeroVolume', mut: () => ({ onZeroVolume: 'drop' }), code: 'ERR_ARG', argument: 'onZeroVolume' },
  { name: 'device', mut: () => ({ device: 'gpu' }), code: 'ERR_ARG', argument: 'device' },
  { name: 'out one short', grad: true, mut: () => ({ out: new Float64Array(5) }), code: 'ERR_SHAPE', argument: 'out' },
  { name: 'out float32 (alloc float64)', grad: true, mut: () => ({ out: new Float32Array(6) }), code: 'ERR_ARG', argument: 'out' },
  { name: 'out is price', grad: true, mut: (x) => ({ out: x.price }), code: 'ERR_ARG', argument: 'out' },
  { name: 'out a plain array', grad: true, mut: () => ({ out: [0, 0, 0, 0, 0, 0] }), code: 'ERR_ARG', argument: 'out' },
];

const vwapForms = [
  { form: 'vwapLoss', grad: false, call: vwapLoss as AnyFn },
  { form: 'vwapLossAsync', grad: false, call: vwapLossAsync as AnyFn },
  { form: 'vwapLossGrad', grad: true, call: vwapLossGrad as AnyFn },
  { form: 'vwapLossGradAsync', grad: true, call: vwapLossGradAsync as AnyFn },
  { form: 'vwapLossAndGrad', grad: true, call: vwapLossAndGrad as AnyFn },
  { form: 'vwapLossAndGradAsync', grad: true, call: vwapLossAndGradAsync as AnyFn },
];

describe('VWAP loss family: data.argument names what the caller got wrong', () => {
  const rows = vwapCases.flatMap((c) => vwapForms.filter((f) => f.grad || !c.grad).map((f) => ({ ...c, form: f.form, call: f.call })));
  it.each(rows)('$form: $name -> $code naming $argument', async ({ call, mut, code, argument }) => {
    const x = base() as Input;
    const e = await errorOf(() => call({ ...x, ...mut(x) }));
    expect({ code: e.code, argument: e.data.argument }).toEqual({ code, argument });
  });
});
