/**
 * Training configuration, validated with zod (errors name the option). Defaults are the
 * paper's (method.md §6): Adam lr 1e-3, reduce-on-plateau ×0.25 after 6 epochs without
 * improvement down to 2.5e-5, early stopping after 13 (restoring the best weights), batch
 * 1024, absolute VWAP loss, up to 1000 epochs. Every epoch visits all training anchors unless
 * `samplesPerEpoch` subsamples them (a fresh seeded draw each epoch).
 */
import { z } from 'zod';
import { SigvwapError } from '../errors.js';

export const trainConfigSchema = z.object({
  seed: z.number().int(),
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  learningRate: z.number().positive(),
  plateauFactor: z.number().gt(0).lt(1),
  plateauPatience: z.number().int().positive(),
  minLearningRate: z.number().positive(),
  earlyStoppingPatience: z.number().int().positive(),
  /** an epoch improves when val < best·(1 - minRelativeImprovement) */
  minRelativeImprovement: z.number().min(0).lt(1),
  loss: z.enum(['abs', 'quad']),
  /** training anchors per epoch; 0 = all */
  samplesPerEpoch: z.number().int().min(0),
  /** validation anchors (a fixed seeded subset); 0 = all */
  validationSamples: z.number().int().min(0),
  /** anchors used to fit the feature standardizer */
  standardizerSamples: z.number().int().positive(),
  /** 'global' (GFD: one model for the training universe) or 'per-asset' (AFD) */
  mode: z.enum(['global', 'per-asset']),
  /** which assets' training anchors a global model learns from */
  universe: z.enum(['train', 'oos', 'all']),
  /** stop after the epoch in which this many minutes have passed; 0 = no limit */
  timeLimitMinutes: z.number().min(0),
  /** checkpoint to warm-start from (parameters with equal names and shapes are copied) */
  initFrom: z.string().nullable(),
}).strict();

export type TrainConfig = z.infer<typeof trainConfigSchema>;

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  seed: 1,
  epochs: 1000,
  batchSize: 1024,
  learningRate: 1e-3,
  plateauFactor: 0.25,
  plateauPatience: 6,
  minLearningRate: 2.5e-5,
  earlyStoppingPatience: 13,
  minRelativeImprovement: 1e-4,
  loss: 'abs',
  samplesPerEpoch: 0,
  validationSamples: 0,
  standardizerSamples: 65536,
  mode: 'global',
  universe: 'train',
  timeLimitMinutes: 0,
  initFrom: null,
};

export function parseTrainConfig(value: Partial<TrainConfig>): TrainConfig {
  const r = trainConfigSchema.safeParse({ ...DEFAULT_TRAIN_CONFIG, ...stripUndefined(value) });
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = issue.path.join('.') || '(root)';
    throw new SigvwapError('ERR_ARG', `train config: ${path}: ${issue.message}`, { argument: path });
  }
  return r.data;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
