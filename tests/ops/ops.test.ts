/**
 * The two custom tfjs ops against their pure-tfjs formulations: the VWAP loss (native forward
 * and gradient) and the LSTM sequence op (its TypeScript loops and the native fused kernel).
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/ops/tf.js';
import { vwapLossTensor, vwapLossTfjs } from '../../src/ops/vwapLossOp.js';
import { type LstmImplementation, lstmImplementation, lstmSequence, lstmSequenceTfjs } from '../../src/ops/lstmSequence.js';
import { activeBackend, nativeBackendStatus } from '../../src/ops/backend.js';
import { Rng } from '../../src/rng.js';
import { vwapLossReference } from '../helpers/vwapReference.js';

function orders(batch: number, horizon: number, seed: number) {
  const r = Rng.fromSeed(seed);
  const alloc = Float32Array.from({ length: batch * horizon }, () => 0.05 + r.nextFloat());
  const price = Float64Array.from({ length: batch * horizon }, () => 100 * (1 + 0.02 * (r.nextFloat() - 0.5)));
  const volume = Float64Array.from({ length: batch * horizon }, () => 1 + 50 * r.nextFloat());
  return { alloc, price, volume };
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const maxAbs = (a: ArrayLike<number>) => maxAbsDiff(a, new Float64Array(a.length));

describe('vwapLossTensor (native forward and gradient inside tf.customGrad)', () => {
  it.each([
    ['b1-h2-abs', 1, 2, 'abs'],
    ['b7-h12-abs', 7, 12, 'abs'],
    ['b64-h12-quad', 64, 12, 'quad'],
    ['b33-h5-quad', 33, 5, 'quad'],
  ] as const)('%s: value and gradient match the pure-tfjs loss', (_name, batch, horizon, kind) => {
    const { alloc, price, volume } = orders(batch, horizon, batch * 31 + horizon);
    const a = tf.tensor2d(alloc, [batch, horizon]);
    const native = tf.valueAndGrad((x: tf.Tensor) => vwapLossTensor(x as tf.Tensor2D, { price, volume }, kind))(a);
    const ref = tf.valueAndGrad((x: tf.Tensor) => vwapLossTfjs(x as tf.Tensor2D, { price, volume }, kind))(a);
    const v = native.value.dataSync()[0]!;
    const vr = ref.value.dataSync()[0]!;
    // the tfjs loss runs in float32: d = P_ach/P_mkt - 1 loses ~1e-7 absolute to rounding near 1
    expect(Math.abs(v - vr)).toBeLessThanOrEqual(5e-7);
    const exact = vwapLossReference(alloc, price, volume, batch, horizon, kind);
    expect(Math.abs(v - exact.mean)).toBeLessThanOrEqual(1e-6 * exact.mean);
    expect(maxAbsDiff(native.grad.dataSync(), exact.grad)).toBeLessThanOrEqual(1e-5 * maxAbs(exact.grad));
    const g = native.grad.dataSync();
    const gr = ref.grad.dataSync();
    // float32 reference: relative to the gradient's scale
    expect(maxAbsDiff(g, gr)).toBeLessThanOrEqual(2e-3 * maxAbs(gr) + 1e-9);
  });

  it('scales the gradient by the upstream gradient', () => {
    const { alloc, price, volume } = orders(4, 6, 5);
    const a = tf.tensor2d(alloc, [4, 6]);
    const g1 = tf.grad((x: tf.Tensor) => vwapLossTensor(x as tf.Tensor2D, { price, volume }))(a).dataSync();
    const g3 = tf.grad((x: tf.Tensor) => tf.mul(vwapLossTensor(x as tf.Tensor2D, { price, volume }), 3))(a).dataSync();
    expect(maxAbsDiff(Float32Array.from(g1, (x) => 3 * x), g3)).toBeLessThanOrEqual(1e-6 * maxAbs(g3));
  });

  it.each([
    ['price', { price: new Float64Array(5), volume: new Float64Array(6) }],
    ['volume', { price: new Float64Array(6), volume: new Float64Array(7) }],
  ])('names %s when its length does not match alloc', (name, targets) => {
    expect(() => vwapLossTensor(tf.ones([2, 3]) as tf.Tensor2D, targets)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE', message: expect.stringContaining(name) }));
  });
});

const nativeLstm = nativeBackendStatus();
if (!nativeLstm.available) console.warn(`SKIPPED lstmSequence native cases: ${nativeLstm.reason}`);
const implementations: LstmImplementation[] = nativeLstm.available ? ['typescript', 'native'] : ['typescript'];

describe('lstmSequence (fused forward and BPTT inside tf.customGrad)', () => {
  // tolerances relative to the scale of each result: the TypeScript loops sum in float64, the
  // native kernel in float32 (the bound is 1e-4 relative for both)
  const tolerance: Record<LstmImplementation, { h: number; grad: number }> = { typescript: { h: 1e-6, grad: 1e-5 }, native: { h: 1e-5, grad: 1e-4 }, tfjs: { h: 0, grad: 0 } };
  it.each(implementations.flatMap((impl) => [
    [impl, 's1-b1-c1-u1', 1, 1, 1, 1],
    [impl, 's2-b1-c3-u2', 2, 1, 3, 2],
    [impl, 's5-b3-c2-u4', 5, 3, 2, 4],
    [impl, 's12-b7-c7-u16', 12, 7, 7, 16],
    [impl, 's9-b101-c6-u16 (several row blocks)', 9, 101, 6, 16],
  ] as const))('%s %s: outputs and gradients match the tfjs-composed LSTM', (impl, _name, S, B, C, U) => {
    const r = Rng.fromSeed(S * 100 + U);
    const rnd = (n: number, s: number) => Float32Array.from({ length: n }, () => r.nextNormal() * s);
    const x = tf.tensor3d(rnd(S * B * C, 1), [S, B, C]);
    const wx = tf.tensor2d(rnd(C * 4 * U, 0.5), [C, 4 * U]);
    const wh = tf.tensor2d(rnd(U * 4 * U, 0.5), [U, 4 * U]);
    const bias = tf.tensor1d(rnd(4 * U, 0.5));
    const weights = tf.tensor3d(rnd(S * B * U, 1), [S, B, U]);
    const run = (x: tf.Tensor3D, wx: tf.Tensor2D, wh: tf.Tensor2D, b: tf.Tensor1D) => lstmSequence(x, wx, wh, b, { inputGrad: true, implementation: impl });
    const loss = (f: typeof run) => (...t: tf.Tensor[]) => tf.sum(tf.mul(f(t[0] as tf.Tensor3D, t[1] as tf.Tensor2D, t[2] as tf.Tensor2D, t[3] as tf.Tensor1D), weights));
    expect(maxAbsDiff(run(x, wx, wh, bias).dataSync(), lstmSequenceTfjs(x, wx, wh, bias).dataSync())).toBeLessThan(tolerance[impl].h);
    const g = tf.grads(loss(run))([x, wx, wh, bias]);
    const gr = tf.grads(loss(lstmSequenceTfjs))([x, wx, wh, bias]);
    ['x', 'wx', 'wh', 'bias'].forEach((name, i) => {
      expect(maxAbsDiff(g[i]!.dataSync(), gr[i]!.dataSync()), name).toBeLessThanOrEqual(tolerance[impl].grad * Math.max(1, maxAbs(gr[i]!.dataSync())));
    });
  });

  it('runs the native kernel on the native backend and the TypeScript loops on cpu', () => {
    expect(lstmImplementation()).toBe(({ native: 'native', wasm: 'tfjs', cpu: 'typescript' } as const)[activeBackend()]);
  });

  it('returns a zero input gradient unless inputGrad is set', () => {
    const x = tf.ones([3, 2, 2]) as tf.Tensor3D;
    const g = tf.grad((t: tf.Tensor) => tf.sum(lstmSequence(t as tf.Tensor3D, tf.ones([2, 4]) as tf.Tensor2D, tf.ones([1, 4]) as tf.Tensor2D, tf.zeros([4]) as tf.Tensor1D)))(x);
    expect(maxAbs(g.dataSync())).toBe(0);
  });

  it.each<[string, number[], number[], number[]]>([
    ['wx', [3, 8], [2, 4], [4]],
    ['wh', [2, 8], [2, 4], [8]],
    ['bias', [2, 4], [1, 4], [3]],
  ])('names %s when its shape is wrong', (name, wx, wh, b) => {
    const ones = (shape: number[]): tf.Tensor => tf.ones(shape);
    expect(() => lstmSequence(ones([3, 2, 2]) as tf.Tensor3D, ones(wx) as tf.Tensor2D, ones(wh) as tf.Tensor2D, ones(b) as tf.Tensor1D))
      .toThrow(expect.objectContaining({ code: 'ERR_SHAPE', message: expect.stringContaining(name) }));
  });
});
