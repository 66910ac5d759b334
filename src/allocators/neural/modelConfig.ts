/**
 * Model configurations (the "topology" stored in checkpoints), validated with zod; errors name
 * the option. Defaults follow method.md §5 where the machine allows; deviations are marked.
 *
 * kind        constCurve: a = softmax(θ), θ ∈ R^H, one curve for every order.
 *             static:     a = softmax(f(x)), x = staticFeatures of the order, f linear
 *                         (hidden = [], Temporal-Linear-Network style) or an MLP.
 *             dynamic:    LSTM encoder over the sequence features, base curve b, per-step
 *                         MLP heads, clip and remainder (method.md §5).
 *             gft:        the globally fitted transformer (method.md §5): per-variable embedding →
 *                         VariableSelection → two TKAN → gated skip + LayerNorm → GRN → causal
 *                         multi-head attention over the same sequence features, then the dynamic
 *                         model's head, base curve, clip and remainder (gftEncoder.ts).
 *             gftSig:     gft whose steps also read a learnable signature of the bars before the
 *                         order (`gft.signature`), repeated over the steps and concatenated to
 *                         every step's variables before the selection network.
 *             gft and gftSig read `dynamic` for the sequence (its encoderLookback is theirs),
 *             the heads, the base curve and the execution state; `gft` holds the encoder.
 * lookahead   0 = causal. k > 0 shifts every information cut-off k bars later (k = 1 is the
 *             one-bar leak of the published reference code); such models are labelled.
 */
import { z } from 'zod';
import { SigvwapError } from '../../errors.js';
import { DEFAULT_SEQUENCE_FEATURES, sequenceFeatureSpecSchema } from '../../features/sequenceFeatures.js';
import { DEFAULT_SIGNATURE_PATH, signaturePathSpecSchema } from '../../features/signaturePath.js';
import { DEFAULT_STATIC_FEATURES, staticFeatureSpecSchema, staticHistoryBars } from '../../features/staticFeatures.js';

export const MODEL_KINDS = ['constCurve', 'static', 'dynamic', 'gft', 'gftSig'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

const hiddenSchema = z.array(z.number().int().positive()).max(4);

/** The GFT encoder (gft, gftSig). */
export const gftConfigSchema = z.object({
  /** width of every layer of the encoder (paper: 200; 32 here to fit the CPU budget) */
  hidden: z.number().int().positive(),
  /** attention heads (paper: 3) */
  heads: z.number().int().positive(),
  /** per-variable embedding width of the selection network (paper: 3) */
  embedding: z.number().int().positive(),
  tkan: z.object({
    /** 'kan': LSTM gates with a KAN sub-layer (paper); 'lstm': the plain LSTM variant */
    cell: z.enum(['kan', 'lstm']),
    /** B-spline grid intervals of the KAN */
    gridSize: z.number().int().positive(),
    /** KAN width; null = the layer's input width (`hidden`) */
    kanUnits: z.number().int().positive().nullable(),
  }).strict(),
  /** gftSig: the path of the bars before the order, its signature depth, and whether the
   * branch reads the log-signature (Lyndon basis) instead of the signature; absent = false, so
   * configs written before the option parse to the same model */
  signature: z.object({
    path: signaturePathSpecSchema,
    depth: z.number().int().min(1).max(4),
    logSignature: z.boolean().default(false),
  }).strict(),
}).strict();
export type GftConfig = z.infer<typeof gftConfigSchema>;

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
  /** the GFT encoder: present for gft and gftSig only */
  gft: gftConfigSchema.optional(),
}).strict().superRefine((c, ctx) => {
  if (isGftKind(c) && !c.gft) ctx.addIssue({ code: 'custom', path: ['gft'], message: `a ${c.kind} model needs its gft block` });
});

export type ModelConfig = z.infer<typeof modelConfigSchema>;

export const DEFAULT_DYNAMIC = {
  sequence: DEFAULT_SEQUENCE_FEATURES,
  lstmUnits: 16,
  headHidden: 16,
  headLayers: 2,
  base: 'features',
  executionState: true,
} as const satisfies ModelConfig['dynamic'];

export const DEFAULT_GFT = {
  hidden: 32,
  heads: 3,
  embedding: 3,
  tkan: { cell: 'kan', gridSize: 5, kanUnits: null },
  signature: { path: DEFAULT_SIGNATURE_PATH, depth: 3, logSignature: false },
} as const satisfies GftConfig;

export function defaultModelConfig(kind: ModelKind, horizon = 12, intervalMs = 3_600_000): ModelConfig {
  const config: ModelConfig = {
    kind,
    horizon,
    intervalMs,
    lookahead: 0,
    staticFeatures: structuredClone(DEFAULT_STATIC_FEATURES),
    staticHidden: [],
    dynamic: structuredClone(DEFAULT_DYNAMIC),
  };
  if (isGftKind(config)) config.gft = structuredClone(DEFAULT_GFT) as GftConfig;
  return config;
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

/** The model is a GFT (its encoder is gftEncoder.ts; the rest is the dynamic model's). */
export function isGftKind(config: Pick<ModelConfig, 'kind'>): boolean {
  return config.kind === 'gft' || config.kind === 'gftSig';
}

/** The model reads the per-bar sequence of its encoder. */
export function readsSequence(config: Pick<ModelConfig, 'kind'>): boolean {
  return config.kind === 'dynamic' || isGftKind(config);
}

/** The model reads the signature path of the bars before the order (gftSig). */
export function readsSignaturePath(config: Pick<ModelConfig, 'kind'>): boolean {
  return config.kind === 'gftSig';
}

/** a_t reads the order's bars r .. r+t-1 (closed loop). */
export function isAdaptive(config: Pick<ModelConfig, 'kind'>): boolean {
  return config.kind === 'dynamic' || isGftKind(config);
}

/** Width of the encoder states h_t the dynamic heads read. */
export function encoderUnits(config: ModelConfig): number {
  return isGftKind(config) ? config.gft!.hidden : config.dynamic.lstmUnits;
}

/** Bars before the order's first bar that the model reads. */
export function modelHistoryBars(config: ModelConfig, intervalMs: number): number {
  const stat = readsStaticFeatures(config) ? staticHistoryBars(config.staticFeatures, intervalMs) : 0;
  const seq = readsSequence(config) ? config.dynamic.sequence.encoderLookback + config.dynamic.sequence.baselineBars : 0;
  const path = config.gft?.signature.path;
  const sig = readsSignaturePath(config) && path ? Math.max(path.length, path.baselineBars) : 0;
  return Math.max(stat, seq, sig);
}
