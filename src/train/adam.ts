/**
 * Adam with a state that is plain arrays (first and second moments, step count, learning
 * rate), so a checkpoint restores it exactly. tfjs' own AdamOptimizer recomputes β^t with a
 * float32 `pow` when its weights are set, which differs in the last bits from the running
 * product it keeps while training: a resumed run would drift. Here the bias corrections are
 * computed from the integer step in float64, identical before and after a resume.
 *
 * Math (Kingma & Ba, the Keras form): m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g²,
 *   w -= lr·√(1-β2^t)/(1-β1^t) · m / (√v + ε),   t = step count after the update.
 * Layout: one Float32Array per parameter for m, v (same order as `names`).
 * Cost: O(parameters) per step, in float64 arithmetic on float32 storage.
 */
import { SigvwapError } from '../errors.js';
import type { NamedWeights } from '../allocators/neural/neuralAllocator.js';

export interface AdamOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export const DEFAULT_ADAM: AdamOptions = { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

export interface AdamState {
  step: number;
  learningRate: number;
  m: NamedWeights;
  v: NamedWeights;
}

export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  learningRate: number;
  step = 0;
  readonly #m = new Map<string, Float32Array>();
  readonly #v = new Map<string, Float32Array>();

  constructor(options: Partial<AdamOptions> = {}) {
    const o = { ...DEFAULT_ADAM, ...options };
    for (const k of ['learningRate', 'epsilon'] as const) {
      if (!(o[k] > 0)) throw new SigvwapError('ERR_ARG', `${k}: expected a positive number, got ${o[k]}`, { argument: k, value: o[k] });
    }
    for (const k of ['beta1', 'beta2'] as const) {
      if (!(o[k] >= 0 && o[k] < 1)) throw new SigvwapError('ERR_ARG', `${k}: expected a number in [0, 1), got ${o[k]}`, { argument: k, value: o[k] });
    }
    this.learningRate = o.learningRate;
    this.beta1 = o.beta1;
    this.beta2 = o.beta2;
    this.epsilon = o.epsilon;
  }

  /** Update `params` (name -> values, modified in place) with gradients of the same names. */
  apply(params: Map<string, Float32Array>, grads: Map<string, ArrayLike<number>>): void {
    this.step++;
    const t = this.step;
    const lrT = (this.learningRate * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    const { beta1: b1, beta2: b2, epsilon: eps } = this;
    for (const [name, w] of params) {
      const g = grads.get(name);
      if (!g) continue;
      if (g.length !== w.length) throw new SigvwapError('ERR_SHAPE', `gradient of ${name}: expected ${w.length} values, got ${g.length}`, { argument: name });
      let m = this.#m.get(name);
      let v = this.#v.get(name);
      if (!m || !v) {
        m = new Float32Array(w.length);
        v = new Float32Array(w.length);
        this.#m.set(name, m);
        this.#v.set(name, v);
      }
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]!;
        const mi = b1 * m[i]! + (1 - b1) * gi;
        const vi = b2 * v[i]! + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i]! - (lrT * m[i]!) / (Math.sqrt(v[i]!) + eps);
      }
    }
  }

  getState(): AdamState {
    const m: NamedWeights = new Map();
    const v: NamedWeights = new Map();
    for (const [name, a] of this.#m) m.set(name, { shape: [a.length], data: Float32Array.from(a) });
    for (const [name, a] of this.#v) v.set(name, { shape: [a.length], data: Float32Array.from(a) });
    return { step: this.step, learningRate: this.learningRate, m, v };
  }

  setState(state: AdamState): void {
    this.step = state.step;
    this.learningRate = state.learningRate;
    this.#m.clear();
    this.#v.clear();
    for (const [name, a] of state.m) this.#m.set(name, Float32Array.from(a.data));
    for (const [name, a] of state.v) this.#v.set(name, Float32Array.from(a.data));
  }
}
