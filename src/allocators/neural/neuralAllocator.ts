/**
 * NeuralAllocator: the learned allocators (constCurve, static, dynamic, gft, gftSig) as tfjs computations over
 * named float32 parameters; the model config is the topology (modelConfig.ts).
 *
 * Parameters (names are shared across kinds so weights can warm-start another kind):
 *   features/mean, features/std [F]     standardizer of the static features (not trained)
 *   curve/logits [H]                    constCurve; learned base curve of `dynamic`
 *   map/dense{l}/kernel|bias, map/out/kernel [.., H], map/out/bias [H]   static map
 *   encoder/wx [C, 4U], encoder/wh [U, 4U], encoder/bias [4U]            LSTM (dynamic)
 *   head/wh [H-1, U, w]                  first layer of every step head, on h_t (batched)
 *   head{t}/wa [t, w], head{t}/b1 [w]    first layer on a_0..a_{t-1}, bias
 *   head{t}/ws [3, w], head{t}/wo [1, w] first layer on the execution state and the own
 *                                        running deviation (t >= 1, with executionState)
 *   head{t}/dense{l}/kernel|bias [w, w], head{t}/out/kernel [w, 1], head{t}/out/bias [1]
 *   gft/...                              the GFT encoder (gft, gftSig: gftEncoder.ts), whose layers
 *                                        own these variables; heads as dynamic with U = gft.hidden
 * Forward (B orders):
 *   constCurve  a = softmax(θ) for every row.
 *   static      a = softmax(map(x̂)), x̂ = (x - mean)/std.
 *   dynamic     b = softmax(map(x̂)) (base 'features') or softmax(θ) (base 'learned');
 *               h = LSTM(sequence) [S, B, U]; h_t = h[S-H+1+t] (the state after bar r+t-1+k);
 *               for t = 0 .. H-2: f_t = 1 + tanh(MLP_t([h_t; a_0..a_{t-1}; state_t])),
 *               state_t = execution state (sequenceFeatures.ts) and Σ_{s<t} a_s·x_{r+s},
 *               a_t = min(b_t·f_t, 1 - Σ_{s<t} a_s);  a_{H-1} = 1 - Σ_{s<H-1} a_s.
 *   gft, gftSig as dynamic with h = GftEncoder(sequence[, signature path]) instead of the LSTM.
 *   Output layers start at zero: a fresh static model is TWAP and a fresh dynamic model is
 *   its base curve (f_t = 1).
 *   Closed loop (ModelInputs.executed, first k bins): a_s is replaced by the executed fraction
 *   e_s for s < k wherever the model reads its own past (remaining, head inputs, own deviation).
 *   openClosedLoop computes the fill-independent part (base curve, encoder, execution state)
 *   once and each bin's head on the executed fractions: a closed-loop backtest costs one forward.
 * Layout: inputs x [B, F] and sequence [S, B, C] float32 (time-major); output [B, H].
 * Cost per order: static F·H (linear); dynamic: the LSTM (lstmSequence.ts) plus
 * (H-1)·(U·w + (H-1)·w/2 + layers·w² + w) multiply-adds for the heads.
 */
import { SigvwapError } from '../../errors.js';
import { type Allocator, type ClosedLoop, checkHorizon, fixedClosedLoop } from '../allocator.js';
import { type OrderBatch, sliceOrders } from '../../data/marketSeries.js';
import { type ModelConfig, encoderUnits, isAdaptive, isGftKind, modelHistoryBars, modelLabel, readsSignaturePath } from './modelConfig.js';
import { GftEncoder, type GftWeight } from './gftEncoder.js';
import { signaturePathShape } from '../../features/signaturePath.js';
import { lstmSequence } from '../../ops/lstmSequence.js';
import type { Rng } from '../../rng.js';
import { EXECUTION_STATE_CHANNELS, SEQUENCE_CHANNELS, sequenceSteps } from '../../features/sequenceFeatures.js';
import { type OrderInputSpec, type OrderInputs, buildOrderInputs } from '../../features/orderInputs.js';
import { computeStaticFeatures, staticFeatureCount } from '../../features/staticFeatures.js';
import { tf } from '../../ops/tf.js';

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}
export type NamedWeights = Map<string, NamedArray>;

/** The batch's inputs (features/orderInputs.ts) plus, in a closed loop, what was executed. */
export interface ModelInputs extends OrderInputs {
  /**
   * Closed loop (execution backtests): the fractions of each order actually executed in bins
   * 0 .. executedSteps-1, [B, H] row-major (columns >= executedSteps are ignored). A dynamic
   * model then reads these instead of its own a_0 .. a_{k-1} (remaining quantity, the head
   * inputs and its own running deviation), so a_k reacts to capped or missed fills.
   */
  executed?: Float64Array;
  executedSteps?: number;
  /** a training forward: layers with batch statistics (gftSig's BatchNorm) use and update them */
  training?: boolean;
}

/** The fill-independent part of a dynamic forward (NeuralAllocator.#encode). */
interface DynamicEncoding {
  /** base curve, time-major [H, B] */
  baseT: tf.Tensor2D;
  /** encoder term of every head's first layer [H-1, B, w] */
  pre: tf.Tensor3D;
  /** execution state [H-1, B, K] when the config has it */
  state?: tf.Tensor3D;
}

/** Parameter shapes of a config, in a fixed order, with their initializer. */
interface ParamSpec {
  name: string;
  shape: number[];
  init: 'zeros' | 'ones' | 'glorot' | 'lstmBias';
  trainable: boolean;
  /** Glorot fans when not the last two dimensions */
  fans?: [number, number];
  /** gates of a recurrent bias (default 4) */
  gates?: number;
}

export function parameterSpecs(config: ModelConfig, gft?: readonly GftWeight[]): ParamSpec[] {
  const H = config.horizon;
  const F = staticFeatureCount(config.staticFeatures, H);
  const specs: ParamSpec[] = [];
  const add = (name: string, shape: number[], init: ParamSpec['init'], trainable = true) => specs.push({ name, shape, init, trainable });
  const usesMap = config.kind === 'static' || (isAdaptive(config) && config.dynamic.base === 'features');
  if (usesMap) {
    add('features/mean', [F], 'zeros', false);
    add('features/std', [F], 'ones', false);
    let width = F;
    config.staticHidden.forEach((w, l) => {
      add(`map/dense${l}/kernel`, [width, w], 'glorot');
      add(`map/dense${l}/bias`, [w], 'zeros');
      width = w;
    });
    add('map/out/kernel', [width, H], 'zeros');
    add('map/out/bias', [H], 'zeros');
  } else {
    add('curve/logits', [H], 'zeros');
  }
  if (config.kind === 'dynamic' || isGftKind(config)) {
    const d = config.dynamic;
    const C = SEQUENCE_CHANNELS.length;
    const U = encoderUnits(config);
    if (isGftKind(config)) {
      for (const w of gft ?? GftEncoder.weightInfo(config)) specs.push({ name: w.name, shape: w.shape, trainable: w.trainable, ...w.init });
    } else {
      add('encoder/wx', [C, 4 * U], 'glorot');
      add('encoder/wh', [U, 4 * U], 'glorot');
      add('encoder/bias', [4 * U], 'lstmBias');
    }
    const last = d.headLayers === 0;
    const w = last ? 1 : d.headHidden;
    add('head/wh', [H - 1, U, w], last ? 'zeros' : 'glorot');
    for (let t = 0; t < H - 1; t++) {
      if (t > 0) add(`head${t}/wa`, [t, w], last ? 'zeros' : 'glorot');
      if (t > 0 && d.executionState) {
        add(`head${t}/ws`, [3, w], last ? 'zeros' : 'glorot');
        add(`head${t}/wo`, [1, w], last ? 'zeros' : 'glorot');
      }
      add(`head${t}/b1`, [w], 'zeros');
      for (let l = 1; l < d.headLayers; l++) {
        add(`head${t}/dense${l}/kernel`, [w, w], 'glorot');
        add(`head${t}/dense${l}/bias`, [w], 'zeros');
      }
      if (!last) {
        add(`head${t}/out/kernel`, [w, 1], 'zeros');
        add(`head${t}/out/bias`, [1], 'zeros');
      }
    }
  }
  return specs;
}

/** Trainable parameters of a config by group, and their total. */
export interface ParameterSummary {
  kind: ModelConfig['kind'];
  total: number;
  /** map (static map / base curve), curve, encoder (LSTM), head (every step head), and the GFT
   * encoder's blocks: sig, vsn, tkan1, tkan2, skip (GLU and LayerNorm), grn, attention */
  groups: Record<string, number>;
}

/** The parameter counts of a config (trainable weights; standardizer and moving statistics excluded). */
export function parameterSummary(config: ModelConfig): ParameterSummary {
  const groups: Record<string, number> = {};
  let total = 0;
  for (const spec of parameterSpecs(config)) {
    if (!spec.trainable) continue;
    const parts = spec.name.split('/');
    const group = parts[0] === 'gft' ? parts[1]! : parts[0]!.replace(/\d+$/, '');
    const n = spec.shape.reduce((a, b) => a * b, 1);
    groups[group] = (groups[group] ?? 0) + n;
    total += n;
  }
  return { kind: config.kind, total, groups };
}

/** One line per group: `  vsn  26,848` …, then the total. */
export function formatParameterSummary(s: ParameterSummary): string {
  const rows = Object.entries(s.groups).map(([g, n]) => `  ${g.padEnd(10)} ${n.toLocaleString('en-US').padStart(11)}`);
  return [`parameters of ${s.kind}:`, ...rows, `  ${'total'.padEnd(10)} ${s.total.toLocaleString('en-US').padStart(11)}`].join('\n');
}

function initArray(spec: ParamSpec, rng: Rng): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  switch (spec.init) {
    case 'zeros':
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'lstmBias': {
      const U = size / (spec.gates ?? 4);
      out.fill(1, U, 2 * U); // forget gate starts open
      break;
    }
    case 'glorot': {
      const [fanIn, fanOut] = spec.fans ?? [spec.shape[spec.shape.length - 2]!, spec.shape[spec.shape.length - 1]!];
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < size; i++) out[i] = (2 * rng.nextFloat() - 1) * limit;
      break;
    }
  }
  return out;
}

export class NeuralAllocator implements Allocator {
  readonly config: ModelConfig;
  readonly label: string;
  readonly kind: string;
  readonly lookahead: number;
  readonly horizon: number;
  readonly adaptive: boolean;
  /** tfjs variables by name (trainable and not) */
  readonly variables: Map<string, tf.Variable>;
  readonly trainableNames: string[];
  readonly #specs: ParamSpec[];
  /** the GFT encoder (gft, gftSig), whose layers own the gft/... variables */
  readonly #gft: GftEncoder | null;

  /** `weights`: every parameter by name, or (a fresh model) a draw per parameter spec. */
  private constructor(config: ModelConfig, weights: NamedWeights | ((spec: ParamSpec) => Float32Array)) {
    this.config = config;
    this.label = modelLabel(config);
    this.kind = config.kind;
    this.lookahead = config.lookahead;
    this.horizon = config.horizon;
    this.adaptive = isAdaptive(config);
    this.#gft = isGftKind(config) ? new GftEncoder(config) : null;
    this.#specs = parameterSpecs(config, this.#gft ? [...this.#gft.weights.values()].map((w) => w.info) : undefined);
    this.variables = new Map();
    try {
      for (const spec of this.#specs) {
        const w = typeof weights === 'function' ? { shape: spec.shape, data: weights(spec) } : weights.get(spec.name);
        if (!w) throw new SigvwapError('ERR_CHECKPOINT', `weights: ${spec.name} is missing for a ${config.kind} model`, { weight: spec.name });
        checkShape(spec.name, spec.shape, w.shape);
        checkFinite(spec.name, w.data);
        const owned = this.#gft?.weights.get(spec.name)?.variable;
        if (owned) {
          owned.assign(tf.tensor(w.data, spec.shape, 'float32'));
          this.variables.set(spec.name, owned);
        } else {
          this.variables.set(spec.name, tf.variable(tf.tensor(w.data, spec.shape, 'float32'), spec.trainable, `${spec.name}#${nextId++}`));
        }
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
    this.trainableNames = this.#specs.filter((s) => s.trainable).map((s) => s.name);
  }

  /** A fresh model: Glorot-uniform kernels from `rng`, zero output layers. */
  static create(config: ModelConfig, rng: Rng): NeuralAllocator {
    return new NeuralAllocator(config, (spec) => initArray(spec, rng));
  }

  /** A model with the given weights (every parameter of the config must be present). */
  static fromWeights(config: ModelConfig, weights: NamedWeights): NeuralAllocator {
    return new NeuralAllocator(config, weights);
  }

  historyBars(intervalMs: number): number {
    return modelHistoryBars(this.config, intervalMs);
  }

  /** The plan of an adaptive (dynamic) model: its base curve. */
  planCurve(orders: OrderBatch): Float64Array {
    return this.baseCurve(orders);
  }

  get parameterCount(): number {
    let n = 0;
    for (const name of this.trainableNames) n += this.variables.get(name)!.size;
    return n;
  }

  /** Current values of every parameter (copies). */
  getWeights(): NamedWeights {
    const out: NamedWeights = new Map();
    for (const spec of this.#specs) out.set(spec.name, { shape: [...spec.shape], data: Float32Array.from(this.variables.get(spec.name)!.dataSync() as Float32Array) });
    return out;
  }

  /** Overwrite parameters; names absent from `weights` keep their values unless `strict`. */
  setWeights(weights: NamedWeights, strict = true): void {
    for (const spec of this.#specs) {
      const w = weights.get(spec.name);
      if (!w) {
        if (strict) throw new SigvwapError('ERR_CHECKPOINT', `weights: ${spec.name} is missing`, { weight: spec.name });
        continue;
      }
      checkShape(spec.name, spec.shape, w.shape);
      this.variables.get(spec.name)!.assign(tf.tensor(w.data, spec.shape, 'float32'));
    }
  }

  /**
   * Copy the parameters whose name and shape match (warm start); returns the names copied.
   * With `from`, the configuration the weights were trained in, the step heads (head/..., whose
   * first layer reads h_t) are copied only from a model of the same kind: a dynamic model's
   * heads were fitted to its LSTM's states, which mean nothing to a GFT encoder of the same width.
   */
  copyMatchingWeights(weights: NamedWeights, from?: Pick<ModelConfig, 'kind'>): string[] {
    const copied: string[] = [];
    const sameEncoder = !from || from.kind === this.config.kind;
    for (const spec of this.#specs) {
      if (!sameEncoder && /^head\d*\//.test(spec.name)) continue;
      const w = weights.get(spec.name);
      if (!w || w.shape.length !== spec.shape.length || w.shape.some((d, i) => d !== spec.shape[i])) continue;
      this.variables.get(spec.name)!.assign(tf.tensor(w.data, spec.shape, 'float32'));
      copied.push(spec.name);
    }
    return copied;
  }

  get usesFeatures(): boolean {
    return this.variables.has('features/mean');
  }

  /** Set the standardizer from raw features [n, F] (column mean and std; std 1 for constant columns). */
  fitStandardizer(x: Float32Array, rows: number): void {
    if (!this.usesFeatures) return;
    const F = staticFeatureCount(this.config.staticFeatures, this.horizon);
    const mean = new Float64Array(F);
    const sq = new Float64Array(F);
    for (let i = 0; i < rows; i++) for (let f = 0; f < F; f++) mean[f]! += x[i * F + f]!;
    for (let f = 0; f < F; f++) mean[f]! /= Math.max(1, rows);
    for (let i = 0; i < rows; i++) for (let f = 0; f < F; f++) sq[f]! += (x[i * F + f]! - mean[f]!) ** 2;
    const std = new Float32Array(F);
    for (let f = 0; f < F; f++) {
      const s = Math.sqrt(sq[f]! / Math.max(1, rows));
      std[f] = s > 1e-6 ? s : 1;
    }
    this.variables.get('features/mean')!.assign(tf.tensor1d(Float32Array.from(mean)));
    this.variables.get('features/std')!.assign(tf.tensor1d(std));
  }

  /** Raw static features of the orders [B, F] (not standardized). */
  rawFeatures(orders: OrderBatch): Float32Array {
    return computeStaticFeatures(orders, this.config.staticFeatures, this.lookahead);
  }

  /**
   * What inputs() needs, as plain data (features/buffers a worker can build batches from: see
   * features/orderInputs.ts). The standardizer is a snapshot: refit it and take a new spec.
   */
  inputSpec(): OrderInputSpec {
    const spec: OrderInputSpec = { horizon: this.horizon, lookahead: this.lookahead };
    if (this.usesFeatures) {
      spec.features = {
        spec: this.config.staticFeatures,
        mean: Float32Array.from(this.variables.get('features/mean')!.dataSync() as Float32Array),
        std: Float32Array.from(this.variables.get('features/std')!.dataSync() as Float32Array),
      };
    }
    if (this.adaptive) spec.sequence = { spec: this.config.dynamic.sequence, executionState: this.config.dynamic.executionState };
    if (readsSignaturePath(this.config)) spec.signature = { path: this.config.gft!.signature.path };
    return spec;
  }

  /** The model inputs of a batch of orders. */
  inputs(orders: OrderBatch): ModelInputs {
    checkHorizon(this, orders);
    return buildOrderInputs(orders, this.inputSpec());
  }

  /** Allocations [B, H] as a tensor (call inside tf.tidy or a gradient scope). */
  forward(inputs: ModelInputs): tf.Tensor2D {
    const B = inputs.batch;
    const H = this.horizon;
    const base = tf.softmax(this.#baseLogits(inputs)) as tf.Tensor2D;
    if (!this.adaptive) return base;
    const enc = this.#encode(inputs, base);
    const state = enc.state;
    const executedSteps = inputs.executed ? (inputs.executedSteps ?? 0) : 0;
    const executedColumn = (t: number): tf.Tensor1D => tf.tensor1d(Float32Array.from({ length: B }, (_, b) => inputs.executed![b * H + t]!));
    let remaining: tf.Tensor1D = tf.ones([B]);
    let ownDev: tf.Tensor1D = tf.zeros([B]);
    const allocs: tf.Tensor1D[] = [];
    const columns: tf.Tensor2D[] = [];
    for (let t = 0; t < H - 1; t++) {
      // own running deviation Σ_{s<t} a_s·x_{r+s}: x_{r+t-1} is channel 3 of step t
      if (t > 0 && state) ownDev = tf.add(ownDev, tf.mul(allocs[t - 1]!, tf.reshape(tf.slice(state, [t, 0, 3], [1, B, 1]), [B])));
      const planned = this.#headStep(t, enc, t > 0 ? tf.concat(columns, 1) : undefined, ownDev, remaining);
      // what happened in bin t: the model's plan, or the executed fraction in a closed loop
      const a = executedSteps > t ? executedColumn(t) : planned;
      remaining = tf.sub(remaining, a);
      allocs.push(a);
      columns.push(tf.reshape(a, [B, 1]));
    }
    allocs.push(tf.relu(remaining));
    return tf.stack(allocs, 1) as tf.Tensor2D;
  }

  /** Logits of the base curve [B, H]: the static map of the features, or the learned curve. */
  #baseLogits(inputs: ModelInputs): tf.Tensor2D {
    const B = inputs.batch;
    const H = this.horizon;
    const v = (name: string) => this.variables.get(name)!;
    if (!this.usesFeatures) return tf.add(tf.zeros([B, H]), tf.reshape(v('curve/logits'), [1, H])) as tf.Tensor2D;
    let h: tf.Tensor2D = tf.tensor2d(inputs.x!, [B, v('features/mean').size]);
    this.config.staticHidden.forEach((_, l) => {
      h = tf.relu(tf.add(tf.matMul(h, v(`map/dense${l}/kernel`) as tf.Tensor2D), v(`map/dense${l}/bias`))) as tf.Tensor2D;
    });
    return tf.add(tf.matMul(h, v('map/out/kernel') as tf.Tensor2D), v('map/out/bias')) as tf.Tensor2D;
  }

  /** What the dynamic model's steps share and the fills cannot change: the base curve, the
   * encoder's contribution to every head's first layer and the execution state. */
  #encode(inputs: ModelInputs, base: tf.Tensor2D): DynamicEncoding {
    const B = inputs.batch;
    const H = this.horizon;
    const d = this.config.dynamic;
    const v = (name: string) => this.variables.get(name)!;
    const S = sequenceSteps(d.sequence, H, this.lookahead);
    const U = encoderUnits(this.config);
    const seq = tf.tensor3d(inputs.sequence!, [S, B, SEQUENCE_CHANNELS.length]);
    let hSeq: tf.Tensor3D;
    if (this.#gft) {
      const p = readsSignaturePath(this.config) ? signaturePathShape(this.config.gft!.signature.path, B) : null;
      const path = p ? tf.tensor3d(inputs.signaturePath!, [B, p.length, p.channels]) : null;
      hSeq = this.#gft.forward(seq, path, inputs.training === true);
    } else {
      hSeq = lstmSequence(seq, v('encoder/wx') as tf.Tensor2D, v('encoder/wh') as tf.Tensor2D, v('encoder/bias') as tf.Tensor1D);
    }
    // h_t = state after bar r+t-1+k: the last H-1 steps of the window
    const hLast = tf.slice(hSeq, [S - (H - 1), 0, 0], [H - 1, B, U]);
    const pre = tf.matMul(hLast, v('head/wh') as tf.Tensor3D) as tf.Tensor3D; // [H-1, B, w]
    const state = d.executionState ? tf.tensor3d(inputs.state!, [H - 1, B, EXECUTION_STATE_CHANNELS.length]) : undefined;
    return { baseT: tf.transpose(base) as tf.Tensor2D, pre, state };
  }

  /** Bin t's planned fraction a_t = min(b_t·f_t, relu(remaining)) (t < H-1), from a_0..a_{t-1}
   * as columns [B, t] (t > 0), the own running deviation [B] and the remaining share [B]. */
  #headStep(t: number, enc: DynamicEncoding, columns: tf.Tensor2D | undefined, ownDev: tf.Tensor1D, remaining: tf.Tensor1D): tf.Tensor1D {
    const d = this.config.dynamic;
    const v = (name: string) => this.variables.get(name)!;
    const [, B, w] = enc.pre.shape;
    let z = tf.reshape(tf.slice(enc.pre, [t, 0, 0], [1, B, w]), [B, w]) as tf.Tensor2D;
    if (t > 0) z = tf.add(z, tf.matMul(columns!, v(`head${t}/wa`) as tf.Tensor2D));
    if (t > 0 && enc.state) {
      const st = tf.reshape(tf.slice(enc.state, [t, 0, 0], [1, B, 3]), [B, 3]) as tf.Tensor2D;
      z = tf.add(z, tf.matMul(st, v(`head${t}/ws`) as tf.Tensor2D));
      z = tf.add(z, tf.matMul(tf.reshape(ownDev, [B, 1]), v(`head${t}/wo`) as tf.Tensor2D));
    }
    z = tf.add(z, v(`head${t}/b1`));
    if (d.headLayers > 0) {
      z = tf.relu(z);
      for (let l = 1; l < d.headLayers; l++) z = tf.relu(tf.add(tf.matMul(z, v(`head${t}/dense${l}/kernel`) as tf.Tensor2D), v(`head${t}/dense${l}/bias`))) as tf.Tensor2D;
      z = tf.add(tf.matMul(z, v(`head${t}/out/kernel`) as tf.Tensor2D), v(`head${t}/out/bias`));
    }
    const f = tf.add(tf.tanh(tf.reshape(z, [B])), 1);
    const bt = tf.reshape(tf.slice(enc.baseT, [t, 0], [1, B]), [B]);
    return tf.minimum(tf.mul(bt, f), tf.relu(remaining)) as tf.Tensor1D;
  }

  /** The base curve b [B, H] (float64): the whole allocation of constCurve and static models,
   * the plan a dynamic model adjusts as bars arrive. */
  baseCurve(orders: OrderBatch): Float64Array {
    checkHorizon(this, orders);
    const inputs = this.inputs(orders);
    const b = tf.tidy(() => tf.softmax(this.#baseLogits(inputs)));
    const out = Float64Array.from(b.dataSync());
    b.dispose();
    return out;
  }

  /**
   * Closed loop in one forward per step: allocations [B, H] given the fractions executed in bins
   * < steps (ModelInputs.executed). O(H) whole forwards for a backtest; it is the reference that
   * openClosedLoop must match (tests/allocators/closedLoop.test.ts).
   */
  allocateClosedLoop(orders: OrderBatch, executed: Float64Array, steps: number, batchSize = 4096): Float64Array {
    checkHorizon(this, orders);
    const n = orders.bar.length;
    const H = this.horizon;
    if (executed.length !== n * H) throw new SigvwapError('ERR_SHAPE', `executed: expected ${n * H} values [${n}, ${H}], got ${executed.length}`, { argument: 'executed', expected: n * H, actual: executed.length });
    const out = new Float64Array(n * H);
    for (let from = 0; from < n; from += batchSize) {
      const to = Math.min(n, from + batchSize);
      const inputs = { ...this.inputs(sliceOrders(orders, from, to)), executed: executed.subarray(from * H, to * H), executedSteps: steps };
      const a = tf.tidy(() => this.forward(inputs));
      out.set(a.dataSync(), from * H);
      a.dispose();
    }
    return out;
  }

  /**
   * A closed-loop session (Allocator.openClosedLoop). Opening computes every chunk's features,
   * base curve, encoder and the encoder's part of every head (kept as tensors: about
   * 4·B·(H + (H-1)·(w + 3)) bytes); step t then runs only head t on the executed fractions, so a
   * whole backtest costs one forward instead of H. constCurve and static models are not adaptive:
   * their session returns their fixed allocation.
   */
  openClosedLoop(orders: OrderBatch, batchSize = 4096): ClosedLoop {
    checkHorizon(this, orders);
    const n = orders.bar.length;
    const H = this.horizon;
    if (!this.adaptive) {
      return fixedClosedLoop(this.allocate(orders, batchSize), n, H);
    }
    const chunks: { from: number; to: number; enc: DynamicEncoding; ownDevX?: Float32Array }[] = [];
    for (let from = 0; from < n; from += batchSize) {
      const to = Math.min(n, from + batchSize);
      const inputs = this.inputs(sliceOrders(orders, from, to));
      const [baseT, pre, state] = tf.tidy(() => {
        const e = this.#encode(inputs, tf.softmax(this.#baseLogits(inputs)) as tf.Tensor2D);
        return e.state ? [e.baseT, e.pre, e.state] : [e.baseT, e.pre];
      });
      const enc: DynamicEncoding = { baseT: baseT as tf.Tensor2D, pre: pre as tf.Tensor3D, state: state as tf.Tensor3D | undefined };
      chunks.push({ from, to, enc, ownDevX: inputs.state });
    }
    const K = EXECUTION_STATE_CHANNELS.length;
    let expected = 0;
    const session: ClosedLoop = {
      next: (executed, t) => {
        if (executed.length !== n * H) throw new SigvwapError('ERR_SHAPE', `executed: expected ${n * H} values [${n}, ${H}], got ${executed.length}`, { argument: 'executed', expected: n * H, actual: executed.length });
        if (t !== expected) throw new SigvwapError('ERR_ARG', `t: closed-loop steps come in order; expected step ${expected}, got ${t}`, { argument: 't', expected, actual: t });
        expected = t + 1;
        const out = new Float64Array(n);
        for (const { from, to, enc, ownDevX } of chunks) {
          const B = to - from;
          // remaining share and own deviation as the forward accumulates them (float32, in order)
          const remaining = new Float32Array(B).fill(1);
          const ownDev = new Float32Array(B);
          const columns = new Float32Array(B * t);
          for (let b = 0; b < B; b++) {
            for (let s = 0; s < t; s++) {
              const e = Math.fround(executed[(from + b) * H + s]!);
              columns[b * t + s] = e;
              remaining[b] = Math.fround(remaining[b]! - e);
              if (ownDevX && s + 1 < H - 1) ownDev[b] = Math.fround(ownDev[b]! + Math.fround(e * ownDevX[((s + 1) * B + b) * K + 3]!));
            }
          }
          if (t === H - 1) {
            for (let b = 0; b < B; b++) out[from + b] = Math.max(0, remaining[b]!);
            continue;
          }
          const a = tf.tidy(() => this.#headStep(t, enc, t > 0 ? tf.tensor2d(columns, [B, t]) : undefined, tf.tensor1d(ownDev), tf.tensor1d(remaining)));
          out.set(a.dataSync(), from);
          a.dispose();
        }
        return out;
      },
      dispose: () => {
        for (const { enc } of chunks) tf.dispose([enc.baseT, enc.pre, ...(enc.state ? [enc.state] : [])]);
        chunks.length = 0;
      },
    };
    return session;
  }

  /** Allocations [B, H] (float64), computed in chunks of `batchSize` orders. */
  allocate(orders: OrderBatch, batchSize = 4096): Float64Array {
    checkHorizon(this, orders);
    const n = orders.bar.length;
    const H = this.horizon;
    const out = new Float64Array(n * H);
    for (let from = 0; from < n; from += batchSize) {
      const to = Math.min(n, from + batchSize);
      const inputs = this.inputs(sliceOrders(orders, from, to));
      const a = tf.tidy(() => this.forward(inputs));
      out.set(a.dataSync(), from * H);
      a.dispose();
    }
    return out;
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
    this.#gft?.dispose();
  }
}

let nextId = 0;

/** A model with a NaN or infinite weight computes NaN allocations: refuse it when it is built. */
function checkFinite(name: string, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new SigvwapError('ERR_CHECKPOINT', `weights: ${name}[${i}] is ${data[i]}; a model needs finite weights (was its training diverging?)`, { weight: name, index: i, value: String(data[i]) });
    }
  }
}

function checkShape(name: string, want: readonly number[], got: readonly number[]): void {
  if (want.length !== got.length || want.some((d, i) => d !== got[i])) {
    throw new SigvwapError('ERR_CHECKPOINT', `weights: ${name} has shape [${got}], the model config needs [${want}]`, { weight: name, expected: want, actual: got });
  }
}
