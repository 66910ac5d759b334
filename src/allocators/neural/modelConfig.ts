/**
 * Model configurations (the "topology" stored in checkpoints), validated with zod; errors name
 * the option. Defaults follow method.md §5 where the machine allows; deviations are marked.
 *
 * kind        constCurve: a = softmax(θ), θ ∈ R^H, one curve for every order.
 *             static:     a = softmax(f(x)), x = staticFeatures of the order, f linear
 *                         (hidden = [], Temporal-Linear-Network style) or an MLP.
 *             dynamic:    LSTM encoder over the sequence features, base curve b, per-step
 *                         MLP heads, clip and remainder (method.md §5).
 * lookahead   0 = causal. k > 0 shifts every information cut-off k bars later (k = 1 is the
 *             one-bar leak of the published reference code); such models are labelled.
 */
import { z } from 'zod';
import { SigvwapError } from '../../errors.js';
import { DEFAULT_SEQUENCE_FEATURES, sequenceFeatureSpecSchema } from '../../features/sequenceFeatures.js';
import { DEFAULT_STATIC_FEATURES, staticFeatureSpecSchema, staticHistoryBars } from '../../features/staticFeatures.js';

export const MODEL_KINDS = ['constCurve', 'static', 'dynamic'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

const hiddenSchema = z.array(z.number().int().positive()).max(4);

export const modelConfigSchema = z.object({
  kind: z.enum(MODEL_KINDS),
  horizon: z.number().int().min(2),
  /** bar interval the model was trained on */
  intervalMs: z.number().int().positive(),
  lookahead: z.number().int().min(0).max(12),
  /** engineered order features (static model; base curve of the dynamic model) */
  staticFeatures: staticFeatureSpecSchema,
  /** hidden layer widths of the static map ([] = linear) */
  staticHidden: hiddenSchema,
  dynamic: z.object({
    sequence: sequenceFeatureSpecSchema,
    /** LSTM units (paper: larger; 16 here to fit the CPU budget) */
    lstmUnits: z.number().int().positive(),
    /** width and number of hidden layers of each per-step head (paper: Dense(hidden, relu) x2) */
    headHidden: z.number().int().positive(),
    headLayers: z.number().int().min(0).max(4),
    /** base curve: 'learned' = softmax of H free parameters (paper); 'features' = the static map of the order features */
    base: z.enum(['learned', 'features']),
    /** extension: also feed each head the execution state (volume so far, market and own price deviation) */
    executionState: z.boolean(),
  }).strict(),
}).strict();

export type ModelConfig = z.infer<typeof modelConfigSchema>;

export const DEFAULT_DYNAMIC = {
  sequence: DEFAULT_SEQUENCE_FEATURES,
  lstmUnits: 16,
  headHidden: 16,
  headLayers: 2,
  base: 'features',
  executionState: true,
} as const satisfies ModelConfig['dynamic'];

export function defaultModelConfig(kind: ModelKind, horizon = 12, intervalMs = 3_600_000): ModelConfig {
  return {
    kind,
    horizon,
    intervalMs,
    lookahead: 0,
    staticFeatures: structuredClone(DEFAULT_STATIC_FEATURES),
    staticHidden: [],
    dynamic: structuredClone(DEFAULT_DYNAMIC),
  };
}

/** Validate a model config; ERR_ARG naming the first bad option. */
export function parseModelConfig(value: unknown, what = 'model config'): ModelConfig {
  const r = modelConfigSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = issue.path.join('.') || '(root)';
    throw new SigvwapError('ERR_ARG', `${what}: ${path}: ${issue.message}`, { argument: path });
  }
  return r.data;
}

/** The label that names a model in reports: kind, plus the lookahead when not causal. */
export function modelLabel(config: Pick<ModelConfig, 'kind' | 'lookahead'>): string {
  return config.lookahead > 0 ? `${config.kind}+lookahead${config.lookahead}` : config.kind;
}

// What a configuration reads: the only kind-specific facts the rest of the pipeline needs
// (checkpoint expectations, schedule history, warm starts). A new kind states them here.

/** The model reads the engineered order features (static map; base curve of `dynamic`). */
export function readsStaticFeatures(config: Pick<ModelConfig, 'kind'>): boolean {
  return config.kind !== 'constCurve';
}

/** The model reads the per-bar sequence of its encoder. */
export function readsSequence(config: Pick<ModelConfig, 'kind'>): boolean {
  return config.kind === 'dynamic';
}

/** a_t reads the order's bars r .. r+t-1 (closed loop). */
export function isAdaptive(config: Pick<ModelConfig, 'kind'>): boolean {
  return config.kind === 'dynamic';
}

/** Bars before the order's first bar that the model reads. */
export function modelHistoryBars(config: ModelConfig, intervalMs: number): number {
  const stat = readsStaticFeatures(config) ? staticHistoryBars(config.staticFeatures, intervalMs) : 0;
  const seq = readsSequence(config) ? config.dynamic.sequence.encoderLookback + config.dynamic.sequence.baselineBars : 0;
  return Math.max(stat, seq);
}
