/**
 * Rng: a small seeded pseudo-random generator whose whole state (four uint32 words) can be
 * saved in a checkpoint and restored, so a resumed training run draws exactly the same
 * numbers as an uninterrupted one.
 *
 * Math: xoshiro128** (Blackman & Vigna) over 2^128 - 1 states, seeded by splitmix32 from a
 * 32-bit integer seed. Floats in [0, 1) take the top 24 bits (exact in float32 and float64);
 * normals use Box-Muller without a cached second value (the state stays four words).
 * Cost: a few integer operations per draw; `permutation(n)` is O(n) (Fisher-Yates).
 */
import { SigvwapError } from './errors.js';

export type RngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

export class Rng {
  #s: Uint32Array;

  private constructor(state: ArrayLike<number>) {
    this.#s = Uint32Array.from(state);
  }

  /** A generator seeded from an integer (any integer; only its low 32 bits count). */
  static fromSeed(seed: number): Rng {
    if (!Number.isInteger(seed)) throw new SigvwapError('ERR_ARG', `seed: expected an integer, got ${seed}`, { argument: 'seed', value: seed });
    const next = splitmix32(seed);
    return new Rng([next(), next(), next(), next()]);
  }

  /** A generator continuing from a saved state. */
  static fromState(state: readonly number[]): Rng {
    if (!Array.isArray(state) || state.length !== 4 || !state.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff) || state.every((w) => w === 0)) {
      throw new SigvwapError('ERR_ARG', `rng state: expected four uint32 words, not all zero, got ${JSON.stringify(state)}`, { argument: 'state', value: state });
    }
    return new Rng(state);
  }

  /** The state, to store and pass to `fromState`. */
  state(): RngState {
    return [this.#s[0]!, this.#s[1]!, this.#s[2]!, this.#s[3]!];
  }

  /** An independent generator derived from this one (advances this one by four draws). */
  fork(): Rng {
    return new Rng([this.nextU32(), this.nextU32(), this.nextU32(), this.nextU32() | 1]);
  }

  nextU32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1), 24-bit resolution. */
  nextFloat(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1) throw new SigvwapError('ERR_ARG', `n: expected a positive integer, got ${n}`, { argument: 'n', value: n });
    // 53-bit product keeps the bias below 2^-21 for n < 2^32
    return Math.floor(((this.nextU32() * 2097152 + (this.nextU32() >>> 11)) / 9007199254740992) * n);
  }

  /** Standard normal (Box-Muller, one value per call). */
  nextNormal(): number {
    const u1 = (this.nextU32() + 1) / 4294967297;
    const u2 = this.nextFloat();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** A random permutation of 0 .. n-1. */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = out[i]!;
      out[i] = out[j]!;
      out[j] = tmp;
    }
    return out;
  }

  /** `k` distinct draws from `items` (all of them, shuffled, when k >= length). */
  sample(items: Int32Array, k: number): Int32Array {
    const n = items.length;
    if (k >= n) return this.permutation(n).map((i) => items[i]!);
    const idx = Int32Array.from(items);
    for (let i = 0; i < k; i++) {
      const j = i + this.nextInt(n - i);
      const tmp = idx[i]!;
      idx[i] = idx[j]!;
      idx[j] = tmp;
    }
    return idx.slice(0, k);
  }
}
