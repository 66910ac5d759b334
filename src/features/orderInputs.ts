/**
 * What a neural model reads of a batch of orders, built from plain data so that any thread can
 * build it: the model's part is a plain `OrderInputSpec` (feature specs, look-ahead, the
 * standardizer), no tensors. NeuralAllocator.inputs calls this on the training thread; the
 * batch workers (train/batchPipeline.ts) call the same function on prefetched batches, so both
 * paths give the same bytes.
 *
 *   x        [B, F]      static features standardized: x̂_f = (x_f - mean_f) / std_f (float32
 *                        storage, the subtraction and division in float64 as JavaScript does)
 *   sequence [S, B, C]   encoder inputs, time-major (sequenceFeatures.ts)
 *   state    [H-1, B, 4] execution state (sequenceFeatures.ts)
 *   signaturePath [B, L', C'] the bars before the order as a path (signaturePath.ts; gftSig)
 * Cost per order: the static features O(H·ΣN + windows), the sequence O(S·C), the state O(H),
 * the signature path O(L'·C').
 */
import { SigvwapError } from '../errors.js';
import type { OrderBatch } from '../data/marketSeries.js';
import { type SequenceFeatureSpec, computeExecutionState, computeSequenceFeatures } from './sequenceFeatures.js';
import { type SignaturePathSpec, computeSignaturePath } from './signaturePath.js';
import { type StaticFeatureSpec, computeStaticFeatures } from './staticFeatures.js';

/** Everything needed to build a model's inputs, as plain data (structured-cloneable). */
export interface OrderInputSpec {
  horizon: number;
  lookahead: number;
  /** static features and their standardizer (models that read features) */
  features?: { spec: StaticFeatureSpec; mean: Float32Array; std: Float32Array };
  /** encoder sequence (dynamic models), and whether the heads read the execution state */
  sequence?: { spec: SequenceFeatureSpec; executionState: boolean };
  /** the signature branch's path (gftSig) */
  signature?: { path: SignaturePathSpec };
}

/** The fill-independent inputs of a batch (NeuralAllocator's ModelInputs without the closed loop). */
export interface OrderInputs {
  batch: number;
  /** standardized static features [B, F] */
  x?: Float32Array;
  /** encoder inputs [S, B, C] */
  sequence?: Float32Array;
  /** execution state [H-1, B, 4] */
  state?: Float32Array;
  /** signature path [B, L', C'] */
  signaturePath?: Float32Array;
}

/** Build the inputs of a batch of orders. ERR_SHAPE when the orders' horizon is not the spec's. */
export function buildOrderInputs(orders: OrderBatch, spec: OrderInputSpec): OrderInputs {
  if (orders.horizon !== spec.horizon) {
    throw new SigvwapError('ERR_SHAPE', `orders: horizon ${orders.horizon} bars, the model was built for ${spec.horizon}`, { argument: 'orders', expected: spec.horizon, actual: orders.horizon });
  }
  const batch = orders.bar.length;
  const out: OrderInputs = { batch };
  if (spec.features) {
    const { mean, std } = spec.features;
    const x = computeStaticFeatures(orders, spec.features.spec, spec.lookahead);
    const F = mean.length;
    if (x.length !== batch * F) throw new SigvwapError('ERR_SHAPE', `features: expected ${batch * F} values [${batch}, ${F}], got ${x.length}`, { argument: 'features', expected: batch * F, actual: x.length });
    for (let i = 0; i < batch; i++) for (let f = 0; f < F; f++) x[i * F + f] = (x[i * F + f]! - mean[f]!) / std[f]!;
    out.x = x;
  }
  if (spec.sequence) {
    out.sequence = computeSequenceFeatures(orders, spec.sequence.spec, spec.lookahead);
    if (spec.sequence.executionState) out.state = computeExecutionState(orders, spec.sequence.spec, spec.lookahead);
  }
  if (spec.signature) out.signaturePath = computeSignaturePath(orders, spec.signature.path, spec.lookahead).path;
  return out;
}

/** The typed arrays of an OrderInputs (a worker's transfer list). */
export function orderInputBuffers(inputs: OrderInputs): ArrayBuffer[] {
  return [inputs.x, inputs.sequence, inputs.state, inputs.signaturePath].filter((a): a is Float32Array => a !== undefined).map((a) => a.buffer as ArrayBuffer);
}
