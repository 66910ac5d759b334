/**
 * The wasm backend (tfjs-backend-wasm) against tfjs-backend-cpu: it loads from the installed
 * package (the binary it reports is the one it read, and under Node that is the SIMD build on
 * one thread), the backend choice switches to it and back, a named set of ops gives the CPU
 * backend's result (odd shapes, broadcasting, batch 1), and the custom ops (LSTM sequence,
 * VWAP loss, signature), which read tensors with dataSync, give the same values and gradients
 * on it. The package is a dependency: when it is missing or fails to load, these tests fail
 * (beforeAll rejects with the reason); they never skip.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/ops/tf.js';
import { activeBackend, chooseBackend, initBackend, useBackend, wasmBackendStatus, type WasmBackendStatus } from '../../src/ops/backend.js';
import { lstmImplementation, lstmSequence, lstmSequenceTfjs } from '../../src/ops/lstmSequence.js';
import { vwapLossTensor } from '../../src/ops/vwapLossOp.js';
import { signatureOp } from '../../src/ops/signatureOp.js';
import { Rng } from '../../src/rng.js';
import { thrown } from '../helpers/errors.js';

const initial = activeBackend();
/** .wasm files the emscripten loader read while initialising (fs is patched around it) */
const wasmReads: string[] = [];
let listenersBefore: number[] = [];
let status: WasmBackendStatus;

beforeAll(async () => {
  const saved = { readFileSync: fs.readFileSync, readFile: fs.readFile };
  const note = (p: unknown) => {
    if (String(p).endsWith('.wasm')) wasmReads.push(String(p));
  };
  fs.readFileSync = ((p: fs.PathOrFileDescriptor, ...rest: unknown[]) => (note(p), (saved.readFileSync as (...a: unknown[]) => unknown)(p, ...rest))) as typeof fs.readFileSync;
  fs.readFile = ((p: fs.PathOrFileDescriptor, ...rest: unknown[]) => (note(p), (saved.readFile as (...a: unknown[]) => unknown)(p, ...rest))) as typeof fs.readFile;
  listenersBefore = [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')];
  try {
    await initBackend('wasm');
  } finally {
    Object.assign(fs, saved);
  }
  status = wasmBackendStatus()!;
});
afterAll(() => useBackend(initial));

describe('loading', () => {
  it('reads the SIMD binary from the installed package and runs it on one thread (Node: no wasm threads)', () => {
    expect(status).toMatchObject({ available: true, binary: 'tfjs-backend-wasm-simd.wasm', threads: 1 });
    expect(status.wasmDir).toMatch(/^file:\/\/.*\/node_modules\/@tensorflow\/tfjs-backend-wasm\/dist\/$/);
    // the binary it reports is the one the loader read, from that folder
    expect(wasmReads.map((p) => p.replace(/\\/g, '/'))).toEqual([`${status.wasmDir}${status.binary}`]);
  });

  it("leaves no emscripten process handlers behind", () => {
    expect([process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')]).toEqual(listenersBefore);
  });

  it.each([
    ['wasm after cpu', ['cpu', 'wasm'], 'wasm'],
    ['cpu after wasm', ['wasm', 'cpu'], 'cpu'],
    ['wasm after native', ['native', 'wasm'], 'wasm'],
  ])('useBackend switches synchronously once initialised: %s', (_, sequence, expected) => {
    for (const b of sequence) useBackend(b);
    expect([activeBackend(), tf.getBackend()]).toEqual([expected, expected]);
    expect(tf.add(tf.ones([2]), 1).dataSync()).toEqual(new Float32Array([2, 2]));
  });

  it('chooseBackend honours wasm; an unknown backend is ERR_ARG naming backend', async () => {
    await expect(chooseBackend('wasm')).resolves.toEqual({ backend: 'wasm' });
    const e = thrown(() => useBackend('webgl'));
    expect([e.code, e.data.argument, e.message]).toEqual(['ERR_ARG', 'backend', "backend: expected one of 'native', 'wasm', 'cpu', got 'webgl'"]);
    await expect(chooseBackend('webgl')).rejects.toMatchObject({ code: 'ERR_ARG', data: { argument: 'backend', value: 'webgl' } });
  });
});

// ---- ops: wasm against cpu ----------------------------------------------------------------

type Spec = { shape: number[]; data: Float32Array };
function rnd(shape: number[], seed: number): Spec {
  const r = Rng.fromSeed(seed);
  return { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.nextFloat() * 2 - 1) };
}

/** Run `f` on fresh tensors of `specs` on one backend; its output values and shape. */
function on(backend: string, specs: Spec[], f: (...t: tf.Tensor[]) => tf.Tensor): { shape: number[]; values: Float32Array } {
  useBackend(backend);
  // the comparison means something only if the backend really switched (no silent fallback)
  expect(tf.getBackend()).toBe(backend);
  return tf.tidy(() => {
    const out = f(...specs.map((s) => tf.tensor(s.data, s.shape)));
    return { shape: out.shape, values: Float32Array.from(out.dataSync() as ArrayLike<number>) };
  });
}

/** Largest |wasm - cpu| relative to the largest |cpu| value (at least 1). */
function wasmVsCpu(specs: Spec[], f: (...t: tf.Tensor[]) => tf.Tensor): number {
  const want = on('cpu', specs, f);
  const got = on('wasm', specs, f);
  expect(got.shape).toEqual(want.shape);
  let d = 0;
  let scale = 1;
  for (let i = 0; i < want.values.length; i++) {
    d = Math.max(d, Math.abs(got.values[i]! - want.values[i]!));
    scale = Math.max(scale, Math.abs(want.values[i]!));
  }
  return d / scale;
}

describe('ops on wasm give the CPU backend result', () => {
  const unary = (f: (x: tf.Tensor) => tf.Tensor) => (x?: tf.Tensor) => f(x!);
  const binary = (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (a?: tf.Tensor, b?: tf.Tensor) => f(a!, b!);
  // [name, input shapes, op]; XNNPACK sums and approximates transcendental functions
  // differently from the JavaScript loops: a few float32 ulps
  const cases: [string, number[][], (...t: tf.Tensor[]) => tf.Tensor][] = [
    ['matMul 1x1 by 1x1', [[1, 1], [1, 1]], binary((a, b) => tf.matMul(a, b))],
    ['matMul batch-1 row 1x7 by 7x5', [[1, 7], [7, 5]], binary((a, b) => tf.matMul(a, b))],
    ['matMul odd 3x5 by 5x7', [[3, 5], [5, 7]], binary((a, b) => tf.matMul(a, b))],
    ['matMul transposeA 5x3 by 5x7', [[5, 3], [5, 7]], binary((a, b) => tf.matMul(a, b, true, false))],
    ['matMul transposeB 3x5 by 7x5', [[3, 5], [7, 5]], binary((a, b) => tf.matMul(a, b, false, true))],
    ['matMul dense 1024x77 by 77x12', [[1024, 77], [77, 12]], binary((a, b) => tf.matMul(a, b))],
    ['matMul batched 11x64x16 by 11x16x3', [[11, 64, 16], [11, 16, 3]], binary((a, b) => tf.matMul(a, b))],
    ['matMul broadcast [1, 9, 4] by [5, 4, 6]', [[1, 9, 4], [5, 4, 6]], binary((a, b) => tf.matMul(a, b))],
    ['fused matMul + bias [3] + relu 5x7 by 7x3', [[5, 7], [7, 3], [3]], (a, b, bias) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation: 'relu' })],
    ['add same shape odd 37x41', [[37, 41], [37, 41]], binary(tf.add)],
    ['add row broadcast [1024, 13] with [13]', [[1024, 13], [13]], binary(tf.add)],
    ['sub column broadcast [1024, 12] with [1024, 1]', [[1024, 12], [1024, 1]], binary(tf.sub)],
    ['mul both broadcast [4, 1, 300] with [1, 5, 300]', [[4, 1, 300], [1, 5, 300]], binary(tf.mul)],
    ['div scalar first [] with [40, 40]', [[], [40, 40]], binary((a, b) => tf.div(a, tf.add(tf.abs(b), 0.5)))],
    ['maximum batch 1 [1, 2048] with [1, 2048]', [[1, 2048], [1, 2048]], binary(tf.maximum)],
    ['minimum [3, 5] with [5]', [[3, 5], [5]], binary(tf.minimum)],
    ['sigmoid [33, 64]', [[33, 64]], unary((x) => tf.sigmoid(tf.mul(x, 3)))],
    ['tanh [33, 64]', [[33, 64]], unary((x) => tf.tanh(tf.mul(x, 3)))],
    ['exp [7]', [[7]], unary((x) => tf.exp(tf.mul(x, 3)))],
    ['relu, abs, square, neg [1, 1]', [[1, 1]], unary((x) => tf.neg(tf.square(tf.abs(tf.relu(x)))))],
    ['log of a positive [129, 3]', [[129, 3]], unary((x) => tf.log(tf.add(tf.abs(x), 0.1)))],
    ['sum over axis 1 of [1024, 12]', [[1024, 12]], unary((x) => tf.sum(x, 1))],
    ['sum over axis 0 of [1024, 12] (bias gradient)', [[1024, 12]], unary((x) => tf.sum(x, 0))],
    ['mean over everything of [33, 64]', [[33, 64]], unary((x) => tf.mean(x))],
    ['max over axis 0 keepDims [1024, 12]', [[1024, 12]], unary((x) => tf.max(x, 0, true))],
    ['softmax [1024, 12]', [[1024, 12]], unary((x) => tf.softmax(tf.mul(x, 10)))],
    ['softmax batch 1 [1, 1500]', [[1, 1500]], unary((x) => tf.softmax(x))],
    ['transpose 3-d [4, 33, 17] perm [2, 0, 1]', [[4, 33, 17]], unary((x) => tf.transpose(x, [2, 0, 1]))],
    ['slice an inner block of [70, 64, 7]', [[70, 64, 7]], unary((x) => tf.slice(x, [10, 5, 2], [11, 40, 3]))],
    ['concat 5 columns of [1024, 1]', [[1024, 5]], unary((x) => tf.concat(tf.split(x, 5, 1), 1))],
    ['pad [3, 40, 12] with 1.5', [[3, 40, 12]], unary((x) => tf.pad(x, [[1, 0], [0, 2], [3, 1]], 1.5))],
    ['unstack [12, 1024] along axis 1, stack back', [[12, 1024]], unary((x) => tf.stack(tf.unstack(x, 1).slice(0, 50), 1))],
    ['cumsum along axis 1 of [64, 12]', [[64, 12]], unary((x) => tf.cumsum(x, 1))],
    ['where (x > 0) of [64, 12], cast int32 and back', [[64, 12]], unary((x) => tf.add(tf.where(tf.greater(x, 0), x, tf.neg(x)), tf.cast(tf.cast(tf.mul(x, 5), 'int32'), 'float32')))],
  ];
  it.each(cases)('%s', (_, shapes, f) => {
    expect(wasmVsCpu(shapes.map((s, i) => rnd(s, 30 + i)), f)).toBeLessThanOrEqual(2e-6);
  });
});

// ---- the custom ops: they read tensors with dataSync, so run on any backend ------------------

describe('custom ops on wasm', () => {
  it("lstmSequence runs as tfjs ops there, on wasm's own kernels (the fused native one is for the native backend)", () => {
    useBackend('wasm');
    expect(lstmImplementation()).toBe('tfjs');
  });

  const r = Rng.fromSeed(7);
  const normal = (n: number, s: number) => Float32Array.from({ length: n }, () => r.nextNormal() * s);
  const [S, B, C, U] = [5, 33, 3, 4];
  const lstmInputs: Spec[] = [
    { shape: [S, B, C], data: normal(S * B * C, 1) },
    { shape: [C, 4 * U], data: normal(C * 4 * U, 0.5) },
    { shape: [U, 4 * U], data: normal(U * 4 * U, 0.5) },
    { shape: [4 * U], data: normal(4 * U, 0.5) },
  ];
  const lstmWeights = tf.tensor3d(normal(S * B * U, 1), [S, B, U]);
  const horizon = 6;
  const price = Float64Array.from({ length: 17 * horizon }, () => 100 * (1 + 0.02 * (r.nextFloat() - 0.5)));
  const volume = Float64Array.from({ length: 17 * horizon }, () => 1 + 50 * r.nextFloat());
  const allocSpec: Spec = { shape: [17, horizon], data: Float32Array.from({ length: 17 * horizon }, () => 0.05 + r.nextFloat()) };
  // [name, inputs, scalar loss of the inputs]: value and gradient with respect to every input
  const ops: [string, Spec[], (...t: tf.Tensor[]) => tf.Scalar][] = [
    // on cpu the default is the TypeScript kernel, on wasm the tfjs composition: the model's path
    ['lstmSequence s5-b33-c3-u4 (each backend\'s default)', lstmInputs, (x, wx, wh, b) => tf.sum(tf.mul(lstmSequence(x as tf.Tensor3D, wx as tf.Tensor2D, wh as tf.Tensor2D, b as tf.Tensor1D, { inputGrad: true }), lstmWeights))],
    ['lstmSequence s5-b33-c3-u4 (TypeScript kernel on both)', lstmInputs, (x, wx, wh, b) => tf.sum(tf.mul(lstmSequence(x as tf.Tensor3D, wx as tf.Tensor2D, wh as tf.Tensor2D, b as tf.Tensor1D, { inputGrad: true, implementation: 'typescript' }), lstmWeights))],
    ['lstmSequence s5-b33-c3-u4 (native kernel on both)', lstmInputs, (x, wx, wh, b) => tf.sum(tf.mul(lstmSequence(x as tf.Tensor3D, wx as tf.Tensor2D, wh as tf.Tensor2D, b as tf.Tensor1D, { inputGrad: true, implementation: 'native' }), lstmWeights))],
    ['lstmSequenceTfjs s5-b33-c3-u4 (tfjs composition on both)', lstmInputs, (x, wx, wh, b) => tf.sum(tf.mul(lstmSequenceTfjs(x as tf.Tensor3D, wx as tf.Tensor2D, wh as tf.Tensor2D, b as tf.Tensor1D), lstmWeights))],
    ['vwapLossTensor b17-h6 abs', [allocSpec], (a) => vwapLossTensor(a as tf.Tensor2D, { price, volume }, 'abs')],
    ['vwapLossTensor b17-h6 quad', [allocSpec], (a) => vwapLossTensor(a as tf.Tensor2D, { price, volume }, 'quad')],
    ['signatureOp b4-l9-c3-m3', [rnd([4, 9, 3], 50)], (x) => tf.sum(tf.mul(signatureOp(x as tf.Tensor3D, 3), tf.linspace(-1, 1, 39)))],
    ['signatureOp stream with basepoint b1-l5-c2-m2', [rnd([1, 5, 2], 51)], (x) => tf.sum(tf.square(signatureOp(x as tf.Tensor3D, 2, { stream: true, basepoint: true })))],
  ];
  it.each(ops)('%s: value and gradients equal the CPU backend', (_, specs, loss) => {
    const run = (backend: string) => {
      useBackend(backend);
      expect(tf.getBackend()).toBe(backend);
      return tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads((...t: tf.Tensor[]) => loss(...t))(specs.map((s) => tf.tensor(s.data, s.shape)));
        return { value: value.dataSync()[0]!, grads: grads.map((g) => Float32Array.from(g.dataSync() as Float32Array)) };
      });
    };
    const cpu = run('cpu');
    const wasm = run('wasm');
    expect(Number.isFinite(cpu.value)).toBe(true);
    expect(Math.abs(wasm.value - cpu.value)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(cpu.value)));
    cpu.grads.forEach((g, i) => {
      let d = 0;
      let scale = 1e-12;
      for (let j = 0; j < g.length; j++) {
        d = Math.max(d, Math.abs(wasm.grads[i]![j]! - g[j]!));
        scale = Math.max(scale, Math.abs(g[j]!));
      }
      expect(d / scale, `gradient ${i}`).toBeLessThanOrEqual(1e-5);
    });
  });
});
