/**
 * Finite inputs whose signature overflows (issue I #7): the iterated
 * integrals grow like |z|^k, so 1e200 increments overflow float64 at level 2
 * and 3e38 overflows float32 when rounded. Such a call is ERR_NONFINITE
 * naming the output level and the path (forward) or the path point
 * (backward), never Infinity or NaN returned silently. The check is one
 * parallel scan of the result after the kernel (native/core signature
 * options.rs `check_output_finite`), not a test per operation.
 */
import { describe, expect, it } from 'vitest';

import { SigvwapError, signature, signatureAsync, signatureBackward, signatureBackwardAsync, sigLength, type SignatureOptions } from '../../src/index.js';

type Arr = Float32Array | Float64Array;

/**
 * Two paths of 3 points in R^2: path 0 of size 1, path 1 of size `big`
 * (points (a, a), (s, s), (-s, a + 2s) scaled from (0, 0), (1, 1), (-1, 2),
 * or starting at (-s, -s) with `from: -1`, so that level 1 spans 2s).
 */
function paths(T: typeof Float32Array | typeof Float64Array, big: number, from = 0): Arr {
  const p = new T(2 * 3 * 2);
  for (let b = 0; b < 2; b++) {
    const s = b === 1 ? big : 1;
    p.set(from === 0 ? [0, 0, s, s, -s, 2 * s] : [-s, -s, 0, 0, s, s], b * 6);
  }
  return p;
}

const forms = {
  signature: (p: Arr, o: SignatureOptions) => Promise.resolve().then(() => signature(p, o)),
  signatureAsync: (p: Arr, o: SignatureOptions) => signatureAsync(p, o),
  signatureBackward: (p: Arr, o: SignatureOptions) =>
    Promise.resolve().then(() => signatureBackward(p, new (p.constructor as typeof Float64Array)(o.batch * rows(o)).fill(1), o)),
  signatureBackwardAsync: (p: Arr, o: SignatureOptions) => signatureBackwardAsync(p, new (p.constructor as typeof Float64Array)(o.batch * rows(o)).fill(1), o),
};

function rows(o: SignatureOptions): number {
  return sigLength(o.channels, o.depth) * (o.stream ? o.length + (o.basepoint ? 1 : 0) - 1 : 1);
}

async function failure(p: Promise<unknown>): Promise<SigvwapError> {
  const got = await p.then(
    (v) => v,
    (e: unknown) => e,
  );
  expect(got).toBeInstanceOf(SigvwapError);
  return got as SigvwapError;
}

const o = (x: Partial<SignatureOptions> = {}): SignatureOptions => ({ batch: 2, length: 3, channels: 2, depth: 3, ...x });

describe('forward: a finite path whose signature overflows is ERR_NONFINITE naming level and path', () => {
  const cases = [
    { name: 'f64, 1e200: level 2', T: Float64Array, big: 1e200, opts: o(), level: 2, message: 'signature level 2 overflowed to Infinity for path 1' },
    { name: 'f64, 1e120: level 3 only', T: Float64Array, big: 1e120, opts: o(), level: 3, message: 'signature level 3 overflowed' },
    { name: 'f32, -3e38 to 3e38: level 1 rounds to Infinity', T: Float32Array, big: 3e38, from: -1, opts: o(), level: 1, message: 'pass a Float64Array' },
    { name: 'f32, 1e30: level 2', T: Float32Array, big: 1e30, opts: o(), level: 2, message: 'exceed the f32 range' },
    { name: 'f64 stream: names the step', T: Float64Array, big: 1e200, opts: o({ stream: true }), level: 2, step: 0, message: 'at stream step 0' },
    { name: 'f64 basepoint', T: Float64Array, big: 1e200, opts: o({ basepoint: true }), level: 2, message: 'level 2' },
  ];
  const byForm = (['signature', 'signatureAsync'] as const).flatMap((form) => cases.map((c) => ({ form, ...c })));
  it.each(byForm)('$form $name', async ({ form, T, big, from, opts, level, step, message }) => {
    const e = await failure(forms[form](paths(T, big, from), opts));
    expect(e.code).toBe('ERR_NONFINITE');
    expect(e.message).toContain(message);
    expect(e.data).toMatchObject({ argument: 'path', output: 'signature', level, batch: 1, ...(step === undefined ? {} : { step }) });
  });

  it('long paths split into chunks (glued with Chen) are checked too', () => {
    const length = 20_000;
    const p = new Float64Array(length);
    for (let i = 0; i < length; i++) p[i] = i % 2 ? 1e160 : 0;
    expect(() => signature(p, { batch: 1, length, channels: 1, depth: 2 })).toThrow(expect.objectContaining({ code: 'ERR_NONFINITE', data: expect.objectContaining({ level: 2 }) }));
  });

  it.each([
    { name: 'f64 1e100 at depth 3 (1e300 fits)', T: Float64Array, big: 1e100 },
    { name: 'f32 1e12 at depth 3 (1e36 fits)', T: Float32Array, big: 1e12 },
  ])('large but representable: $name is returned', ({ T, big }) => {
    const s = signature(paths(T, big), o());
    expect(s.every(Number.isFinite)).toBe(true);
  });
});

describe('backward: a gradient that overflows is ERR_NONFINITE naming the path point', () => {
  const cases = [
    { name: 'f64, 1e200', T: Float64Array, big: 1e200 },
    { name: 'f32, 1e30', T: Float32Array, big: 1e30 },
  ];
  const byForm = (['signatureBackward', 'signatureBackwardAsync'] as const).flatMap((form) => cases.map((c) => ({ form, ...c })));
  it.each(byForm)('$form $name', async ({ form, T, big }) => {
    const e = await failure(forms[form](paths(T, big), o()));
    expect(e.code).toBe('ERR_NONFINITE');
    expect(e.message).toMatch(/gradient at path\[1\]\[\d\]\[\d\] overflowed/);
    expect(e.data).toMatchObject({ argument: 'path', output: 'grad', batch: 1 });
  });
});
