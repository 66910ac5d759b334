/**
 * The `sigvwap` tfjs backend against tfjs-backend-cpu: every CPU kernel is registered under
 * it, each native kernel gives the CPU kernel's result on named shapes (odd sizes, batch 1,
 * broadcasting, transposes, fused bias and activations, the fallbacks), and autodiff through
 * it gives a small model's gradients. Skips, saying why, where the addon lacks the kernels.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as tfc from '@tensorflow/tfjs-core';
import { tf } from '../../src/ops/tf.js';
import { lstmSequence } from '../../src/ops/lstmSequence.js';
import { tkanSequence } from '../../src/ops/tkanSequence.js';
import { causalAttention } from '../../src/ops/causalAttention.js';
import { grnOp } from '../../src/ops/grnOp.js';
import { activeBackend, chooseBackend, defaultBackend, nativeBackendStatus, useBackend } from '../../src/ops/backend.js';
import { NATIVE_BACKEND, nativeKernelNames } from '../../src/ops/nativeBackend.js';
import { Rng } from '../../src/rng.js';
import { loadBinding } from '../../src/native/binding.js';
import { TENSOR_KERNEL_FUNCTIONS } from '../../src/native/tensorKernels.js';
import { thrown } from '../helpers/errors.js';

const status = nativeBackendStatus();
if (!status.available) console.warn(`SKIPPED native backend parity: ${status.reason}`);
const initial = activeBackend();
afterAll(() => useBackend(initial));

function rnd(shape: number[], seed: number, dtype: 'float32' | 'int32' = 'float32'): { shape: number[]; data: Float32Array | Int32Array; dtype: 'float32' | 'int32' } {
  const r = Rng.fromSeed(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === 'int32' ? Int32Array.from({ length: n }, () => Math.floor(r.nextFloat() * 7) - 3) : Float32Array.from({ length: n }, () => r.nextFloat() * 2 - 1);
  return { shape, data, dtype };
}

type Spec = ReturnType<typeof rnd>;
/** Run `f` on fresh tensors of `specs` on one backend; its output values and shape. */
function on(backend: string, specs: Spec[], f: (...t: tf.Tensor[]) => tf.Tensor): { shape: number[]; values: Float32Array | Int32Array } {
  useBackend(backend);
  return tf.tidy(() => {
    const out = f(...specs.map((s) => tf.tensor(s.data, s.shape, s.dtype)));
    return { shape: out.shape, values: out.dataSync() as Float32Array };
  });
}

function expectSame(specs: Spec[], f: (...t: tf.Tensor[]) => tf.Tensor, tol: number): void {
  const want = on('cpu', specs, f);
  const got = on('native', specs, f);
  expect(got.shape).toEqual(want.shape);
  let d = 0;
  for (let i = 0; i < want.values.length; i++) d = Math.max(d, Math.abs(got.values[i]! - want.values[i]!));
  expect(d).toBeLessThanOrEqual(tol);
}

describe.skipIf(!status.available)('sigvwap backend', () => {
  it('registers every CPU kernel under its own name, and the native ones over them', () => {
    const cpu = tfc.getKernelsForBackend('cpu').map((k) => k.kernelName).sort();
    const native = new Set(tfc.getKernelsForBackend(NATIVE_BACKEND).map((k) => k.kernelName));
    expect(cpu.filter((k) => !native.has(k))).toEqual([]);
    for (const k of nativeKernelNames()) expect(tfc.getKernel(k, NATIVE_BACKEND)!.kernelFunc).not.toBe(tfc.getKernel(k, 'cpu')!.kernelFunc);
  });

  it('at training sizes every kernel family runs natively (the parity tests compare native code, not the fallback)', () => {
    const binding = loadBinding().binding as unknown as Record<string, (...a: unknown[]) => unknown>;
    const calls: Record<string, number> = {};
    const saved = TENSOR_KERNEL_FUNCTIONS.map((f) => [f, binding[f]!] as const);
    for (const [f, orig] of saved) binding[f] = (...a: unknown[]) => ((calls[f] = (calls[f] ?? 0) + 1), orig(...a));
    try {
      useBackend('native');
      tf.tidy(() => {
        const x = tf.tensor2d(rnd([1024, 12], 40).data, [1024, 12]);
        tf.matMul(x, tf.ones([12, 4]));
        tf.add(x, tf.ones([12]));
        tf.sigmoid(x);
        tf.transpose(x);
        tf.sum(x, 1);
        tf.softmax(x);
        // the fused LSTM: forward and backward are one call each
        const seq = tf.reshape(x, [4, 256, 12]) as tf.Tensor3D;
        tf.grad((w: tf.Tensor) => tf.sum(lstmSequence(seq, w as tf.Tensor2D, tf.ones([3, 12]) as tf.Tensor2D, tf.zeros([12]) as tf.Tensor1D)))(tf.ones([12, 12]));
        // the fused TKAN ('kan' cell): likewise
        const z = (rows: number, cols: number) => tf.fill([rows, cols], 0.1) as tf.Tensor2D;
        const tw = {
          kernel: z(12, 6), recurrentKernel: z(2, 6), bias: tf.zeros([6]) as tf.Tensor1D, kanKernel: z(12, 3), kanRecurrentKernel: z(3, 3), kanBias: tf.zeros([3]) as tf.Tensor1D,
          splineKernel: z(15, 3), baseKernel: z(3, 3), memoryKernel: z(3, 3), memoryRecurrentKernel: z(3, 3), memoryBias: tf.zeros([3]) as tf.Tensor1D, outputKernel: z(3, 2), outputBias: tf.zeros([2]) as tf.Tensor1D,
        };
        tf.grad((xs: tf.Tensor) => tf.sum(tkanSequence(xs as tf.Tensor3D, tw, { gridSize: 2, gridMin: -1, gridMax: 1, baseActivation: 'silu' })))(seq);
        // the fused attention and GRN: likewise
        const o = (shape: number[]) => tf.mul(tf.ones(shape), 0.1);
        tf.grad((t: tf.Tensor) => tf.sum(causalAttention(t as tf.Tensor3D, { wq: o([12, 6]), bq: o([6]), wk: o([12, 6]), wv: o([12, 6]), bv: o([6]), wo: o([6, 12]), bo: o([12]) }, 3)))(seq);
        tf.grad((t: tf.Tensor) => tf.sum(grnOp(t, { w1: o([12, 8]), b1: o([8]), w2: o([8, 8]), b2: o([8]), wv: o([8, 12]), bv: o([12]), wg: o([8, 12]), bg: o([12]), gamma: o([12]), beta: o([12]) }, 1e-3)))(seq);
      });
    } finally {
      for (const [f, orig] of saved) binding[f] = orig;
    }
    expect(Object.keys(calls).sort()).toEqual([...TENSOR_KERNEL_FUNCTIONS].sort());
  });

  it('chooseBackend: the default is native here; a request is honoured; an unknown one is ERR_ARG naming backend', async () => {
    expect(defaultBackend()).toEqual({ backend: 'native' });
    await expect(chooseBackend()).resolves.toEqual({ backend: 'native' });
    await expect(chooseBackend('cpu')).resolves.toEqual({ backend: 'cpu' });
    await expect(chooseBackend('webgl')).rejects.toMatchObject({ code: 'ERR_ARG', data: { argument: 'backend', value: 'webgl' } });
  });

  // wasm is never initialised in this file: switching to it synchronously says how to
  it('useBackend on a wasm backend not yet initialised is ERR_ARG saying to await initBackend', () => {
    const e = thrown(() => useBackend('wasm'));
    expect([e.code, e.data.argument]).toEqual(['ERR_ARG', 'backend']);
    expect(e.message).toMatch(/await initBackend\('wasm'\)/);
  });

  const matmuls: [string, number[], number[], boolean, boolean][] = [
    ['1x1 by 1x1', [1, 1], [1, 1], false, false],
    ['batch-1 row 1x7 by 7x5', [1, 7], [7, 5], false, false],
    ['odd 3x5 by 5x7', [3, 5], [5, 7], false, false],
    ['transposeA 5x3', [5, 3], [5, 7], true, false],
    ['transposeB 7x5', [3, 5], [7, 5], false, true],
    ['both transposed', [5, 3], [7, 5], true, true],
    ['dense 1024x77 by 77x12', [1024, 77], [77, 12], false, false],
    ['dW 1024x77 by 1024x12 (tA)', [1024, 77], [1024, 12], true, false],
    ['batched 11x64x16 by 11x16x3', [11, 64, 16], [11, 16, 3], false, false],
    ['broadcast a [1, 9, 4] by [5, 4, 6]', [1, 9, 4], [5, 4, 6], false, false],
    ['broadcast rank-2 b [2, 3, 9, 4] by [4, 6]', [2, 3, 9, 4], [4, 6], false, false],
    ['rank 4 both [2, 3, 5, 4] by [2, 3, 4, 6] (tB: [2,3,6,4])', [2, 3, 5, 4], [2, 3, 6, 4], false, true],
    ['large 129x257 by 257x131', [129, 257], [257, 131], false, false],
  ];
  it.each(matmuls)('matMul %s', (_, sa, sb, tA, tB) => {
    expectSame([rnd(sa, 1), rnd(sb, 2)], (a, b) => tf.matMul(a!, b!, tA, tB), 1e-5 * Math.max(8, sa[sa.length - (tA ? 2 : 1)]!));
  });

  it.each([
    ['int32 (CPU fallback)', rnd([3, 4], 3, 'int32'), rnd([4, 2], 4, 'int32')],
    ['[2, 1, 3, 4] by [3, 4, 2]: not batch-equal, CPU fallback', rnd([2, 1, 3, 4], 5), rnd([3, 4, 2], 6)],
  ])('matMul %s', (_, a, b) => {
    expectSame([a, b], (x, y) => tf.matMul(x!, y!), 1e-5);
  });

  const activations = ['linear', 'relu', 'relu6', 'sigmoid', 'elu', 'leakyrelu'] as const;
  it.each(activations.flatMap((act) => [
    [`${act} with bias [n]`, act, [5, 7], [7, 3], [3]],
    [`${act} with bias [1, n], batched`, act, [2, 5, 7], [2, 7, 3], [1, 3]],
    [`${act} without bias`, act, [5, 7], [7, 3], undefined],
  ] as const))('fused matMul %s', (_, act, sa, sb, sbias) => {
    const specs = [rnd([...sa], 7), rnd([...sb], 8), ...(sbias ? [rnd([...sbias], 9)] : [])];
    expectSame(specs, (a, b, bias) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation: act, leakyreluAlpha: 0.3 }), 1e-5 * 8);
  });

  it.each([
    ['prelu', [5, 7], [7, 3], [3], 'prelu'],
    ['full-size bias [5, 3]', [5, 7], [7, 3], [5, 3], 'relu'],
  ] as const)('fused matMul falls back to the CPU kernel: %s', (_, sa, sb, sbias, act) => {
    const specs = [rnd([...sa], 10), rnd([...sb], 11), rnd([...sbias], 12), rnd([3], 13)];
    expectSame(specs, (a, b, bias, alpha) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation: act, preluActivationWeights: act === 'prelu' ? alpha : undefined }), 1e-5 * 8);
  });

  // tfjs' CPU Cast keeps a bool or int32 tensor's storage under the float32 dtype: the native
  // kernels must see through the dtype (these crashed training once)
  it.each([
    ['add', (c: tf.Tensor, x: tf.Tensor) => tf.add(c, x)],
    ['mul (the Minimum gradient)', (c: tf.Tensor, x: tf.Tensor) => tf.mul(x, c)],
    ['matMul', (c: tf.Tensor, x: tf.Tensor) => tf.matMul(c, tf.transpose(x))],
    ['sigmoid', (c: tf.Tensor) => tf.sigmoid(c)],
    ['sum', (c: tf.Tensor) => tf.sum(c, 1)],
    ['transpose', (c: tf.Tensor) => tf.transpose(c)],
    ['softmax', (c: tf.Tensor) => tf.softmax(c)],
    ['concat', (c: tf.Tensor, x: tf.Tensor) => tf.concat([c, x], 1)],
  ] as const)('%s of a bool and an int32 tensor cast to float32', (_, f) => {
    for (const cast of [(x: tf.Tensor) => tf.cast(tf.greater(x, 0), 'float32'), (x: tf.Tensor) => tf.cast(tf.cast(tf.mul(x, 5), 'int32'), 'float32')]) {
      expectSame([rnd([256, 12], 35)], (x) => f(cast(x!), x!), 1e-6);
    }
  });

  it('inner sizes that do not match: the tfjs error on both backends', () => {
    for (const b of ['cpu', 'native']) {
      useBackend(b);
      expect(() => tf.matMul(tf.zeros([2, 3]), tf.zeros([4, 2]))).toThrow(/inner shapes \(3\) and \(4\)/);
    }
  });

  // element-wise: sizes above and below NATIVE_MIN_ELEMENTS (the native path and the fallback)
  const binaryShapes: [string, number[], number[]][] = [
    ['same shape, odd 37x41', [37, 41], [37, 41]],
    ['row broadcast [1024, 13] with [13]', [1024, 13], [13]],
    ['column broadcast [1024, 12] with [1024, 1]', [1024, 12], [1024, 1]],
    ['scalar [40, 40] with []', [40, 40], []],
    ['scalar first [] with [40, 40]', [], [40, 40]],
    ['batch 1 [1, 2048] with [1, 2048]', [1, 2048], [1, 2048]],
    ['both broadcast [4, 1, 300] with [1, 5, 300]', [4, 1, 300], [1, 5, 300]],
    ['small [3, 5] with [5] (CPU path)', [3, 5], [5]],
  ];
  const binaryOps: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ['add', tf.add], ['sub', tf.sub], ['mul', tf.mul], ['div', tf.div], ['maximum', tf.maximum], ['minimum', tf.minimum],
  ];
  it.each(binaryOps.flatMap(([op, f]) => binaryShapes.map(([name, sa, sb]) => [`${op} ${name}`, f, sa, sb] as const)))('%s', (_, f, sa, sb) => {
    expectSame([rnd(sa, 30), rnd(sb, 31)], (a, b) => f(a!, b!), 0);
  });

  const unaryOps: [string, (x: tf.Tensor) => tf.Tensor][] = [
    ['sigmoid', tf.sigmoid], ['tanh', tf.tanh], ['relu', tf.relu], ['exp', tf.exp], ['neg', tf.neg], ['abs', tf.abs], ['square', tf.square],
  ];
  it.each(unaryOps.flatMap(([op, f]) => [[`${op} [33, 64]`, f, [33, 64]], [`${op} [7] (CPU path)`, f, [7]]] as const))('%s', (_, f, shape) => {
    expectSame([rnd([...shape], 32)], (x) => f(tf.mul(x!, 3)), 1e-7);
  });

  it.each([
    ['transpose 2-d [64, 33]', [64, 33], (x: tf.Tensor) => tf.transpose(x)],
    ['transpose 3-d [4, 33, 17] perm [2, 0, 1]', [4, 33, 17], (x: tf.Tensor) => tf.transpose(x, [2, 0, 1])],
    ['slice a column of [1024, 12]', [1024, 12], (x: tf.Tensor) => tf.slice(x, [0, 3], [-1, 1])],
    ['slice an inner block of [70, 64, 7]', [70, 64, 7], (x: tf.Tensor) => tf.slice(x, [10, 5, 2], [11, 40, 3])],
    ['slice contiguous rows (CPU view)', [70, 64, 7], (x: tf.Tensor) => tf.slice(x, [10, 0, 0], [11, -1, -1])],
    ['concat 5 columns of [1024, 1]', [1024, 5], (x: tf.Tensor) => tf.concat(tf.split(x, 5, 1), 1)],
    ['concat along axis 0', [64, 33], (x: tf.Tensor) => tf.concat([x, tf.mul(x, 2)], 0)],
    ['pad [1024, 12] by [[0, 0], [2, 3]]', [1024, 12], (x: tf.Tensor) => tf.pad(x, [[0, 0], [2, 3]])],
    ['pad with a constant 1.5, rank 3', [3, 40, 12], (x: tf.Tensor) => tf.pad(x, [[1, 0], [0, 2], [3, 1]], 1.5)],
    ['split [1024, 64] in 4 (axis 1)', [1024, 64], (x: tf.Tensor) => tf.concat(tf.split(x, 4, 1).map((p) => tf.reshape(p, [-1])))],
    ['split sizes [3, 5, 4] along axis 1 of [300, 12]', [300, 12], (x: tf.Tensor) => tf.concat(tf.split(x, [3, 5, 4], 1).map((p) => tf.reshape(p, [-1])))],
    ['unstack [12, 1024] along axis 1', [12, 1024], (x: tf.Tensor) => tf.concat(tf.unstack(x, 1).slice(0, 50))],
    ['unstack [12, 1024] along axis 0', [12, 1024], (x: tf.Tensor) => tf.concat(tf.unstack(x, 0))],
    ['stack (concat of expanded) 11 x [1024, 1]', [1024, 11], (x: tf.Tensor) => tf.stack(tf.split(x, 11, 1), 1)],
  ] as const)('%s', (_, shape, f) => {
    expectSame([rnd([...shape], 33)], (x) => f(x!), 0);
  });

  it.each([
    ['sum over axis 1 of [1024, 12]', [1024, 12], (x: tf.Tensor) => tf.sum(x, 1)],
    ['sum over axis 0 of [1024, 12] (bias gradient)', [1024, 12], (x: tf.Tensor) => tf.sum(x, 0)],
    ['sum over axes [1, 2] of [4, 33, 17], keepDims', [4, 33, 17], (x: tf.Tensor) => tf.sum(x, [1, 2], true)],
    ['sum over everything', [33, 64], (x: tf.Tensor) => tf.sum(x)],
    ['sum over axes [0, 2] (not contiguous: CPU path)', [4, 33, 17], (x: tf.Tensor) => tf.sum(x, [0, 2])],
    ['mean over axis 1 of [1024, 12]', [1024, 12], (x: tf.Tensor) => tf.mean(x, 1)],
    ['mean over everything', [33, 64], (x: tf.Tensor) => tf.mean(x)],
    ['max over axis 1 of [1024, 12]', [1024, 12], (x: tf.Tensor) => tf.max(x, 1)],
    ['max over axis 0 keepDims', [1024, 12], (x: tf.Tensor) => tf.max(x, 0, true)],
    ['softmax [1024, 12]', [1024, 12], (x: tf.Tensor) => tf.softmax(tf.mul(x, 10))],
    ['softmax rank 3 [2, 600, 7]', [2, 600, 7], (x: tf.Tensor) => tf.softmax(x)],
    ['softmax batch 1 [1, 1500]', [1, 1500], (x: tf.Tensor) => tf.softmax(x)],
  ] as const)('%s', (_, shape, f) => {
    expectSame([rnd([...shape], 34)], (x) => f(x!), 1e-6);
  });

  it('autodiff: a small model has the same loss and gradients on both backends', () => {
    const specs = [rnd([65, 9], 20), rnd([9, 32], 21), rnd([32], 22), rnd([32, 20], 23)];
    const grads = (backend: string) => {
      useBackend(backend);
      return tf.tidy(() => {
        const [x, w1, b1, w2] = specs.map((s) => tf.tensor(s.data, s.shape));
        const f = (w1v: tf.Tensor, b1v: tf.Tensor, w2v: tf.Tensor) => {
          const h = tf.fused.matMul({ a: x as tf.Tensor2D, b: w1v as tf.Tensor2D, bias: b1v, activation: 'relu' });
          // column slices, concat, broadcasting, activations, softmax and reductions: every native family
          const z = tf.concat([tf.slice(h, [0, 0], [65, 16]), tf.mul(tf.slice(h, [0, 16], [65, 16]), tf.slice(tf.sigmoid(h), [0, 0], [65, 1]))], 1);
          const y = tf.softmax(tf.matMul(tf.tanh(z), w2v as tf.Tensor2D));
          return tf.add(tf.mean(tf.square(tf.sub(y, 0.05))), tf.mul(tf.max(tf.sum(tf.transpose(y), 1)), 1e-3));
        };
        const { value, grads: g } = tf.valueAndGrads(f)([w1!, b1!, w2!]);
        return [value.dataSync()[0]!, ...g.map((t) => Array.from(t.dataSync()))] as const;
      });
    };
    const [lossCpu, ...gCpu] = grads('cpu');
    const [lossNative, ...gNative] = grads('native');
    expect(Math.abs(lossNative - lossCpu)).toBeLessThan(1e-6);
    gCpu.forEach((g, i) => g.forEach((v, j) => expect(Math.abs(gNative[i]![j]! - v)).toBeLessThan(1e-6)));
  });
});
