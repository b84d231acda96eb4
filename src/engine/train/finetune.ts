/**
 * Fine-tuning: the training loop on a small labelled subset of the target domain, starting
 * from a given (often pruned) model, with fewer steps and a lower learning rate. The
 * fine-tuning identities differ from those the model's classifier was trained on, so by default
 * it uses the triplet loss only; with `withIdLoss` a fresh classifier for the new identities is
 * trained alongside and discarded at the end (the model's own classifier is left untouched).
 */
import type { ReidModel } from '../model/model';
import type { ReidSplit } from '../data/types';
import { LabError } from '../errors';
import { assertDisjointIdentities } from './identities';
import { resolveTrainConfig, DEFAULT_TRAIN_CONFIG, type TrainConfig, type TrainConfigInput } from './config';
import { train, type TrainHooks, type TrainOptions, type TrainResult } from './trainer';

export const DEFAULT_FINETUNE_CONFIG: TrainConfig = {
  ...DEFAULT_TRAIN_CONFIG,
  steps: 100,
  p: 8,
  k: 4,
  optimizer: { kind: 'adam', lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 5e-4, decoupled: false },
  schedule: { ...DEFAULT_TRAIN_CONFIG.schedule, warmupSteps: 0, decay: 'cosine' },
  loss: { ...DEFAULT_TRAIN_CONFIG.loss, id: 0 },
  classifier: 'none',
};

export interface FineTuneOptions extends TrainOptions {
  /** Also train a fresh ID classifier for the fine-tuning identities (weight of the ID loss). */
  withIdLoss?: number;
  /** The evaluation set the model will be scored on: its identities must not be trained on. */
  evaluation?: { query: Pick<ReidSplit, 'pids'>; gallery: Pick<ReidSplit, 'pids'> };
}

/** Fine-tune `model` in place. Throws LabError('identity-leak') before touching the model. */
export async function fineTune(model: ReidModel, trainSplit: ReidSplit, config: TrainConfigInput = {}, hooks: TrainHooks = {}, opts: FineTuneOptions = {}): Promise<TrainResult> {
  if (opts.evaluation) assertDisjointIdentities(trainSplit, opts.evaluation.query, opts.evaluation.gallery);
  const idWeight = opts.withIdLoss ?? 0;
  const input: TrainConfigInput = idWeight > 0 ? { classifier: 'fresh', ...config, loss: { ...config.loss, id: idWeight } } : config;
  const cfg = resolveTrainConfig(input, DEFAULT_FINETUNE_CONFIG);
  // train() accepts 0 (a resumed run may be complete); a fine-tune asked for 0 steps is a mistake.
  if (cfg.steps < 1) throw new LabError('bad-argument', `The number of fine-tuning steps must be at least 1; got ${cfg.steps}.`);
  return train(model, trainSplit, cfg, hooks, opts);
}
