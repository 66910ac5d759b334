import { describe, expect, it } from 'vitest';
import { Adam } from '../../src/train/adam.js';

/** Adam by the textbook: bias-corrected moments. */
function reference(grads: number[][], lr: number, b1 = 0.9, b2 = 0.999, eps = 1e-7): number[] {
  let w = 0.5;
  let m = 0;
  let v = 0;
  grads.forEach(([g], i) => {
    const t = i + 1;
    m = b1 * m + (1 - b1) * g!;
    v = b2 * v + (1 - b2) * g! * g!;
    w -= (lr * Math.sqrt(1 - b2 ** t) / (1 - b1 ** t)) * m / (Math.sqrt(v) + eps);
  });
  return [w];
}

describe('Adam', () => {
  it.each([
    ['one step', [[0.3]]],
    ['five steps of changing sign', [[0.3], [-0.1], [2], [0.05], [-1]]],
  ])('%s matches the textbook update', (_name, grads) => {
    const adam = new Adam({ learningRate: 0.01 });
    const w = new Map([['w', Float32Array.of(0.5)]]);
    for (const g of grads) adam.apply(w, new Map([['w', Float32Array.from(g)]]));
    expect(w.get('w')![0]).toBeCloseTo(reference(grads, 0.01)[0]!, 6);
    expect(adam.step).toBe(grads.length);
  });

  it('a restored state continues bit for bit', () => {
    const grads = Array.from({ length: 20 }, (_, i) => Float32Array.of(Math.sin(i), Math.cos(3 * i)));
    const a = new Adam();
    const wa = new Map([['w', Float32Array.of(1, -1)]]);
    grads.slice(0, 10).forEach((g) => a.apply(wa, new Map([['w', g]])));
    const b = new Adam();
    b.setState(a.getState());
    const wb = new Map([['w', Float32Array.from(wa.get('w')!)]]);
    grads.slice(10).forEach((g) => {
      a.apply(wa, new Map([['w', g]]));
      b.apply(wb, new Map([['w', g]]));
    });
    expect(Array.from(wb.get('w')!)).toEqual(Array.from(wa.get('w')!));
  });

  it.each([
    ['learningRate', { learningRate: 0 }],
    ['beta1', { beta1: 1 }],
    ['beta2', { beta2: -0.1 }],
    ['epsilon', { epsilon: 0 }],
  ])('rejects a bad %s', (name, o) => {
    expect(() => new Adam(o)).toThrow(expect.objectContaining({ code: 'ERR_ARG', message: expect.stringContaining(name) }));
  });
});
