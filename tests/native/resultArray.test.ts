/**
 * Sync results are uninitialized JavaScript arrays (resultArray.ts): each must
 * own its ArrayBuffer, and the kernels must overwrite memory that held stale
 * values (here NaN left by earlier arrays of the same size, which glibc hands
 * back for the next allocation of that size).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { describe, expect, it } from 'vitest';

import { sigLength, signature, signatureBackward, vwapLossGrad } from '../../src/index.js';
import { uninitializedLike } from '../../src/native/resultArray.js';
import { centeredUniform, randomOrders } from '../helpers/random.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('uninitializedLike', () => {
  it.each([
    { name: 'f64 empty', like: new Float64Array(1), n: 0 },
    { name: 'f64 3 (pool-sized)', like: new Float64Array(1), n: 3 },
    { name: 'f32 5 (pool-sized)', like: new Float32Array(1), n: 5 },
    { name: 'f64 1M', like: new Float64Array(1), n: 1 << 20 },
  ])('$name: own ArrayBuffer of exactly the result, type of like', ({ like, n }) => {
    const a = uninitializedLike(like, n);
    const b = uninitializedLike(like, n);
    expect(a.constructor).toBe(like.constructor);
    expect([a.length, a.byteOffset, a.buffer.byteLength]).toEqual([n, 0, n * like.BYTES_PER_ELEMENT]);
    b.fill(2);
    structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
    expect(a.length).toBe(0);
    expect(Array.from(b).every((v) => v === 2)).toBe(true);
  });
});

describe('sync results over stale memory', () => {
  const o = { batch: 33, length: 9, channels: 8, depth: 4 };
  const path = centeredUniform(o.batch * o.length * o.channels, 1);
  const w = centeredUniform(o.batch * sigLength(o.channels, o.depth), 2);
  const orders = { batch: 40, horizon: 50 };
  const { alloc, price, volume } = randomOrders(orders.batch, orders.horizon, 3);
  volume.fill(0, 50, 100); // order 1 has no volume: its gradient row is written as zeros
  const cases: { name: string; like: Float64Array | Float32Array; call: (out?: Float64Array | Float32Array) => Float64Array | Float32Array }[] = [
    { name: 'signature f64', like: path, call: (out) => signature(path, { ...o, out }) },
    { name: 'signature f32', like: new Float32Array(1), call: (out) => signature(new Float32Array(path), { ...o, out }) },
    { name: 'signature stream', like: path, call: (out) => signature(path, { ...o, stream: true, out }) },
    { name: 'signatureBackward', like: path, call: (out) => signatureBackward(path, w, { ...o, out }) },
    {
      name: 'vwapLossGrad skip',
      like: alloc,
      call: (out) => vwapLossGrad({ alloc, price, volume, ...orders, kind: 'abs', onZeroVolume: 'skip', out: out as Float64Array }),
    },
  ];
  it.each(cases)('$name: equal to the result written into a NaN-filled out', ({ like, call }) => {
    const n = call().length;
    const want = call(uninitializedLike(like, n).fill(NaN));
    let differ = 0;
    for (let round = 0; round < 4; round++) {
      for (let k = 0; k < 8; k++) uninitializedLike(like, n).fill(NaN);
      gc();
      const got = call();
      for (let i = 0; i < n; i++) differ += Number(!Object.is(got[i], want[i]));
    }
    expect(want.some(Number.isNaN)).toBe(false);
    expect(differ).toBe(0);
  });
});
