/**
 * Training configuration: plain JSON (it is stored in checkpoints), with defaults following the
 * BNNeck "bag of tricks" recipe (Luo et al. 2019): Adam 3.5e-4, P=16 x K=4, triplet (margin
 * 0.3) on pooled features + label-smoothed ID loss, flip / pad-crop / random erasing.
 */
import { LabError } from '../errors';
import { DEFAULT_ADAM, type OptimizerConfig } from './optimizer';
import { DEFAULT_SCHEDULE, type ScheduleConfig } from './schedule';
import { DEFAULT_AUGMENT, type AugmentConfig } from './augment';

export interface LossConfig {
  /** Weight of the triplet loss on pooled features (0 disables). */
  triplet: number;
  /** Weight of the ID cross-entropy on the classifier's logits (0 disables; needs a classifier). */
  id: number;
  margin: number;
  /** Batch-hard mining, or one random triplet per anchor. */
  mining: 'batch-hard' | 'random';
  labelSmoothing: number;
}

export interface TrainConfig {
  /** Optimiser steps in total (a resumed run continues to this count). */
  steps: number;
  /** Identities per batch and images per identity. */
  p: number;
  k: number;
  seed: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  loss: LossConfig;
  augment: AugmentConfig;
  /**
   * The ID classifier: the model's own ("model", its numClasses must equal the number of
   * training identities), a fresh one for these identities owned by the trainer ("fresh", for
   * fine-tuning on new identities), or none (triplet only).
   */
  classifier: 'model' | 'fresh' | 'none';
  /**
   * Train from this stage on (1-4: layer1..layer4); the stem and the stages before it are
   * frozen (BatchNorm on running statistics, no gradients, computed outside the tape). 0 trains
   * everything.
   */
  trainFromStage: number;
}

export const DEFAULT_LOSS: LossConfig = { triplet: 1, id: 1, margin: 0.3, mining: 'batch-hard', labelSmoothing: 0.1 };

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  steps: 1000,
  p: 16,
  k: 4,
  seed: 1,
  optimizer: DEFAULT_ADAM,
  schedule: { ...DEFAULT_SCHEDULE, warmupSteps: 100 },
  loss: DEFAULT_LOSS,
  augment: DEFAULT_AUGMENT,
  classifier: 'model',
  trainFromStage: 0,
};

export type TrainConfigInput = Partial<Omit<TrainConfig, 'optimizer' | 'schedule' | 'loss' | 'augment'>> & {
  optimizer?: Partial<OptimizerConfig> & { kind?: OptimizerConfig['kind'] };
  schedule?: Partial<ScheduleConfig>;
  loss?: Partial<LossConfig>;
  augment?: Partial<AugmentConfig>;
};

/** Fill in defaults section by section and validate. */
export function resolveTrainConfig(input: TrainConfigInput = {}, base: TrainConfig = DEFAULT_TRAIN_CONFIG): TrainConfig {
  const kind = input.optimizer?.kind ?? base.optimizer.kind;
  const optBase: OptimizerConfig =
    kind === base.optimizer.kind ? base.optimizer : kind === 'adam' ? DEFAULT_ADAM : { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: false };
  const cfg: TrainConfig = {
    ...base,
    ...input,
    optimizer: { ...optBase, ...input.optimizer, kind } as OptimizerConfig,
    schedule: { ...base.schedule, ...input.schedule },
    loss: { ...base.loss, ...input.loss },
    augment: { ...base.augment, ...input.augment },
  } as TrainConfig;
  const bad = (msg: string): never => {
    throw new LabError('bad-argument', msg);
  };
  if (!Number.isInteger(cfg.steps) || cfg.steps < 0) bad(`The number of training steps must be a whole number >= 0; got ${cfg.steps}.`);
  if (!Number.isInteger(cfg.p) || cfg.p < 2) bad(`P (identities per batch) must be an integer >= 2; got ${cfg.p}.`);
  if (!Number.isInteger(cfg.k) || cfg.k < 1) bad(`K (images per identity) must be an integer >= 1; got ${cfg.k}.`);
  // Configs saved before the option existed (checkpoints, caches) say nothing: whole network.
  cfg.trainFromStage ??= 0;
  if (!Number.isInteger(cfg.trainFromStage) || cfg.trainFromStage < 0 || cfg.trainFromStage > 4) {
    bad(`The first trained stage must be a whole number from 1 to 4 (0 trains the whole network); got ${String(cfg.trainFromStage)}.`);
  }
  if (cfg.loss.triplet > 0 && cfg.k < 2) bad('The triplet loss needs K >= 2 images per identity in a batch.');
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (!finite(cfg.loss.triplet) || !finite(cfg.loss.id) || cfg.loss.triplet < 0 || cfg.loss.id < 0) {
    bad(`Each loss weight must be a finite number of at least 0; got triplet ${cfg.loss.triplet}, ID ${cfg.loss.id}.`);
  }
  if (!(cfg.loss.triplet >= 0 && cfg.loss.id >= 0) || cfg.loss.triplet + cfg.loss.id <= 0) bad('At least one loss (triplet or ID) needs a positive weight.');
  if (cfg.loss.id > 0 && cfg.classifier === 'none') bad('The ID loss needs a classifier; set classifier to "model" or "fresh", or the ID loss weight to 0.');
  if (!(cfg.loss.labelSmoothing >= 0 && cfg.loss.labelSmoothing < 1)) bad(`Label smoothing must be in [0, 1); got ${cfg.loss.labelSmoothing}.`);
  if (!finite(cfg.loss.margin) || cfg.loss.margin < 0) bad(`The triplet margin must be a finite number >= 0; got ${cfg.loss.margin}.`);
  const sc = cfg.schedule;
  // A NaN anywhere in the schedule makes the learning rate NaN and every weight NaN after one step.
  if (!Number.isInteger(sc.warmupSteps) || sc.warmupSteps < 0) bad(`The number of warm-up steps must be a whole number >= 0; got ${sc.warmupSteps}.`);
  if (!finite(sc.warmupFactor) || sc.warmupFactor < 0 || sc.warmupFactor > 1) bad(`The warm-up factor must be in [0, 1]; got ${sc.warmupFactor}.`);
  if (!['cosine', 'step', 'none'].includes(sc.decay)) bad(`The learning-rate decay must be "cosine", "step" or "none"; got ${JSON.stringify(sc.decay)}.`);
  if (!finite(sc.minFactor) || sc.minFactor < 0 || sc.minFactor > 1) bad(`The cosine floor (minFactor) must be in [0, 1]; got ${sc.minFactor}.`);
  if (sc.decay === 'step' && (!Number.isInteger(sc.stepSize) || sc.stepSize < 1 || !finite(sc.gamma) || sc.gamma <= 0)) {
    bad(`Step decay needs a whole stepSize >= 1 and a positive gamma; got stepSize ${sc.stepSize}, gamma ${sc.gamma}.`);
  }
  // The optimiser's own settings are validated by the Optimizer (validateOptimizerConfig).
  return cfg;
}
