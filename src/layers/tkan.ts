/**
 * TKAN: a recurrent layer whose cell is an LSTM with a KAN sub-layer (docs/method.md §5, after
 * Genet & Inzirillo's temporal Kolmogorov-Arnold network), or a plain LSTM (`cell: 'lstm'`)
 * behind the same interface. States start at zero; the layer is causal by construction (the
 * output at step t reads inputs 0..t only).
 *
 * `cell: 'kan'` (default), per step t, x_t [C], states h, c [U] and the KAN memory m [K]:
 *   s_t = x_t·A_x + m_{t-1}·A_m + a                         KAN input              [K]
 *   φ_t = base(s_t)·Φ_b + B(s_t)·Φ_s                         KAN layer K → K        [K]
 *   m_t = tanh(φ_t·M_φ + m_{t-1}·M_m + μ)                    the KAN's own state    [K]
 *   [i, f, g] = [σ, σ, tanh](x_t·W + h_{t-1}·W_h + b)        LSTM input/forget/cell gates
 *   o_t = σ(φ_t·W_o + b_o)                                   output gate from the KAN
 *   c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o_t ⊙ tanh(c_t)
 * base = SiLU (or ReLU, or identity: `baseActivation`). B(s) [K·(G+3)]: for every KAN input the
 * G + 3 cubic B-splines of a uniform grid of G = `gridSize` intervals on [gridMin, gridMax]
 * (knots extended by 3 intervals on each side, so the basis is a partition of unity on the
 * grid and vanishes beyond gridMin − 3·h .. gridMax + 3·h, h = (gridMax − gridMin)/G; the
 * base path carries inputs out there). Cardinal cubic B-spline of centre c_j:
 *   N(v) = 2/3 − v² + |v|³/2 (|v| < 1),  (2 − |v|)³/6 (1 ≤ |v| < 2),  0 else;  v = (s − c_j)/h,
 *   computed as ((2 − |v|)₊³ − 4·(1 − |v|)₊³)/6.
 * The KAN width K (`kanUnits`) defaults to the input width C. The memory m is squashed by tanh
 * (the published sub-layer memory is linear in m and φ): bounded, so sequences of hundreds of
 * steps cannot blow it up.
 *
 * `cell: 'lstm'`: the LSTM of src/ops/lstmSequence.ts (gates i, f, g, o; its weights are the
 * layer's `kernel` [C, 4U], `recurrentKernel` [U, 4U], `bias` [4U]), run by the fused
 * `lstmSequence` op: one native call forward and one backward on the native backend. It always
 * asks the op for the input gradient (a stacked layer trains through it), which costs the
 * op's 4U·C multiply-adds per step and row in the backward pass even over raw data.
 *
 * Layout: the tfjs-layers convention [batch, time, C] in, [batch, time, U] out
 * (`returnSequences`) or the last step [batch, U]. Inside, time-major [time, batch, ·]: each
 * step is then a contiguous slice, and the LSTM op reads that layout; the price is one
 * transpose of the input and one of the output sequence (time·batch·(C + U) copied values).
 *
 * Parameters, 'kan': 3U·(C + U + 1) + K·(C + K + 1) + K·K·(G + 3) + K·K + K·(2K + 1) + U·(K + 1);
 *             'lstm': 4U·(C + U + 1).
 * Cost per step and row, 'kan': 3U·(C + U) + K·(C + K) + K²·(G + 4) + 2K² + K·U multiply-adds
 * (the input products of all steps run as two GEMMs before the loop), run by the fused
 * `tkanSequence` op: one native call forward and one backward on the native backend, the tfjs
 * composition (about a dozen small kernels per step) elsewhere; 'lstm': 4U·(C + U), backward
 * about twice that.
 * Biases start at zero except the forget gate's (1, Keras' unit_forget_bias); kernels are
 * Glorot-uniform.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { lstmSequence } from '../ops/lstmSequence.js';
import { cubicBSplineBasis, tkanSequence } from '../ops/tkanSequence.js';
import { tf } from '../ops/tf.js';
import {
  type ConfigDict, type Kwargs, type LayerArgs, type LayerVariable, type Shape,
  argError, glorot, oneShape, oneTensor, positiveInt, shapeError, zeros,
} from './layerHelpers.js';

export const TKAN_CELLS = ['kan', 'lstm'] as const;
export type TkanCell = (typeof TKAN_CELLS)[number];
export const TKAN_BASE_ACTIVATIONS = ['silu', 'relu', 'linear'] as const;
export type TkanBaseActivation = (typeof TKAN_BASE_ACTIVATIONS)[number];

export interface TKANArgs extends LayerArgs {
  /** Hidden width U (of h and c). */
  units: number;
  /** 'kan' (default): LSTM gates with a KAN sub-layer; 'lstm': a plain LSTM (fused op). */
  cell?: TkanCell | null;
  /** Return every step's output [batch, time, U] instead of the last [batch, U]; default false. */
  returnSequences?: boolean | null;
  /** KAN width K; default the input width C. */
  kanUnits?: number | null;
  /** Grid intervals G of the B-spline basis; default 5. */
  gridSize?: number | null;
  /** Grid range; default [-1, 1]. */
  gridMin?: number | null;
  gridMax?: number | null;
  /** The KAN's base path; default 'silu'. */
  baseActivation?: TkanBaseActivation | null;
}

/** Trainable parameters of a TKAN layer over C input channels. */
export function tkanParameterCount(cell: TkanCell, channels: number, units: number, kanUnits = channels, gridSize = 5): number {
  const C = channels;
  const U = units;
  const K = kanUnits;
  if (cell === 'lstm') return 4 * U * (C + U + 1);
  return 3 * U * (C + U + 1) + K * (C + K + 1) + K * K * (gridSize + 3) + K * K + K * (2 * K + 1) + U * (K + 1);
}

/** The cubic B-spline basis of the KAN (src/ops/tkanSequence.ts). */
export { cubicBSplineBasis };

interface KanWeights {
  kanKernel: LayerVariable;
  kanRecurrentKernel: LayerVariable;
  kanBias: LayerVariable;
  splineKernel: LayerVariable;
  baseKernel: LayerVariable;
  memoryKernel: LayerVariable;
  memoryRecurrentKernel: LayerVariable;
  memoryBias: LayerVariable;
  outputKernel: LayerVariable;
  outputBias: LayerVariable;
}

export class TKAN extends tfl.layers.Layer {
  static className = 'TKAN';
  readonly units: number;
  readonly cell: TkanCell;
  readonly returnSequences: boolean;
  readonly kanUnitsArg: number | null;
  readonly gridSize: number;
  readonly gridMin: number;
  readonly gridMax: number;
  readonly baseActivation: TkanBaseActivation;
  private kernel: LayerVariable | null = null;
  private recurrentKernel: LayerVariable | null = null;
  private bias: LayerVariable | null = null;
  private kan: KanWeights | null = null;

  constructor(args: TKANArgs) {
    super(args);
    this.units = positiveInt('TKAN', 'units', args.units);
    this.cell = args.cell ?? 'kan';
    if (!TKAN_CELLS.includes(this.cell)) throw argError('TKAN', 'cell', `expected one of ${TKAN_CELLS.map((c) => `'${c}'`).join(', ')}, got '${this.cell}'`, this.cell);
    this.returnSequences = args.returnSequences ?? false;
    this.kanUnitsArg = args.kanUnits == null ? null : positiveInt('TKAN', 'kanUnits', args.kanUnits);
    this.gridSize = positiveInt('TKAN', 'gridSize', args.gridSize, 5);
    this.gridMin = args.gridMin ?? -1;
    this.gridMax = args.gridMax ?? 1;
    if (!(this.gridMax > this.gridMin)) throw argError('TKAN', 'gridMax', `expected gridMax > gridMin, got [${this.gridMin}, ${this.gridMax}]`, this.gridMax);
    this.baseActivation = args.baseActivation ?? 'silu';
    if (!TKAN_BASE_ACTIVATIONS.includes(this.baseActivation)) {
      throw argError('TKAN', 'baseActivation', `expected one of ${TKAN_BASE_ACTIVATIONS.map((c) => `'${c}'`).join(', ')}, got '${this.baseActivation}'`, this.baseActivation);
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    const s = oneShape('TKAN', inputShape);
    const C = s[2];
    if (s.length !== 3 || C == null) throw shapeError('TKAN', 'inputs', `expected [batch, time, channels] with known channels, got [${s}]`, { shape: s });
    const U = this.units;
    const add = (n: string, shape: number[], init: Parameters<typeof this.addWeight>[3]) => this.addWeight(n, shape, 'float32', init);
    const gates = this.cell === 'lstm' ? 4 : 3;
    this.kernel = add('kernel', [C, gates * U], glorot());
    this.recurrentKernel = add('recurrentKernel', [U, gates * U], glorot());
    this.bias = add('bias', [gates * U], zeros());
    // unit forget bias: gate order i, f, g(, o)
    this.bias.write(tf.tidy(() => tf.concat([tf.zeros([U]), tf.ones([U]), tf.zeros([(gates - 2) * U])])));
    if (this.cell === 'kan') {
      const K = this.kanUnitsArg ?? C;
      const nb = this.gridSize + 3;
      this.kan = {
        kanKernel: add('kanKernel', [C, K], glorot()),
        kanRecurrentKernel: add('kanRecurrentKernel', [K, K], glorot()),
        kanBias: add('kanBias', [K], zeros()),
        splineKernel: add('splineKernel', [K * nb, K], glorot()),
        baseKernel: add('baseKernel', [K, K], glorot()),
        memoryKernel: add('memoryKernel', [K, K], glorot()),
        memoryRecurrentKernel: add('memoryRecurrentKernel', [K, K], glorot()),
        memoryBias: add('memoryBias', [K], zeros()),
        outputKernel: add('outputKernel', [K, U], glorot()),
        outputBias: add('outputBias', [U], zeros()),
      };
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = oneShape('TKAN', inputShape);
    return this.returnSequences ? [s[0]!, s[1]!, this.units] : [s[0]!, this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = oneTensor('TKAN', inputs);
      if (x.rank !== 3) throw shapeError('TKAN', 'inputs', `expected [batch, time, channels], got [${x.shape}]`, { shape: x.shape });
      const xt = tf.transpose(x, [1, 0, 2]) as tf.Tensor3D;
      const seq = this.cell === 'lstm'
        ? lstmSequence(xt, this.kernel!.read() as tf.Tensor2D, this.recurrentKernel!.read() as tf.Tensor2D, this.bias!.read() as tf.Tensor1D, { inputGrad: true })
        : this.kanSequence(xt);
      if (this.returnSequences) return tf.transpose(seq, [1, 0, 2]);
      const [T, B] = seq.shape;
      return tf.reshape(tf.slice(seq, [T - 1, 0, 0], [1, B, this.units]), [B, this.units]);
    });
  }

  private kanSequence(xt: tf.Tensor3D): tf.Tensor3D {
    const w = this.kan!;
    const read = <T extends tf.Tensor>(v: LayerVariable) => v.read() as T;
    return tkanSequence(xt, {
      kernel: read(this.kernel!), recurrentKernel: read(this.recurrentKernel!), bias: read(this.bias!),
      kanKernel: read(w.kanKernel), kanRecurrentKernel: read(w.kanRecurrentKernel), kanBias: read(w.kanBias),
      splineKernel: read(w.splineKernel), baseKernel: read(w.baseKernel),
      memoryKernel: read(w.memoryKernel), memoryRecurrentKernel: read(w.memoryRecurrentKernel), memoryBias: read(w.memoryBias),
      outputKernel: read(w.outputKernel), outputBias: read(w.outputBias),
    }, { gridSize: this.gridSize, gridMin: this.gridMin, gridMax: this.gridMax, baseActivation: this.baseActivation });
  }

  override getConfig(): ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      cell: this.cell,
      returnSequences: this.returnSequences,
      kanUnits: this.kanUnitsArg,
      gridSize: this.gridSize,
      gridMin: this.gridMin,
      gridMax: this.gridMax,
      baseActivation: this.baseActivation,
    };
  }
}
tf.serialization.registerClass(TKAN, 'sigvwap');
