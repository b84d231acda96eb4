/**
 * Equal budgets, so that differences between scenarios are the scenarios' own:
 * - cost: the pruned model's MACs target is the small baseline's MACs, computed from the two
 *   specs with the lab's cost model (e.g. ResNet-50 pruned to ResNet-18's MACs);
 * - fine-tuning: the same number of training images seen (optimiser steps x P x K), however a
 *   scenario splits it between phases (before/after pruning, penalty/retrain).
 */
import { LabError } from '../errors';
import type { ResNetSpec } from '../model/spec';
import { modelCost } from '../cost/macs';

/** Share of `large`'s MACs that equals `small`'s MACs (the cost target for pruning `large`). */
export function equalCostKeep(large: ResNetSpec, small: ResNetSpec): number {
  const big = modelCost(large).macs;
  const target = modelCost(small).macs;
  if (!(target < big)) {
    throw new LabError('bad-argument', `The model to prune must cost more than the small baseline; it has ${big} MACs and the baseline ${target}.`);
  }
  return target / big;
}

/** The fine-tuning budget of one scenario run, shared by every scenario compared. */
export interface FineTuneBudget {
  /** Optimiser steps in total, across every training phase of the scenario. */
  steps: number;
  /** P identities x K images per batch. */
  p: number;
  k: number;
  /** Adam's learning rate (cosine decay within each phase). */
  lr: number;
  /** Share of the steps spent before pruning in scenario 2 (and AutoBalanced's penalty phase). Default 0.5. */
  preShare?: number;
  /** Train a fresh ID classifier alongside the triplet loss (weight); default 0: triplet only. */
  withIdLoss?: number;
  /** Data augmentation during fine-tuning (default true: flip, pad-crop, erasing). */
  augment?: boolean;
}

export function validateBudget(b: FineTuneBudget): void {
  const whole = (v: number, min: number, what: string) => {
    if (!Number.isInteger(v) || v < min) throw new LabError('bad-argument', `${what} must be a whole number of at least ${min}; got ${String(v)}.`);
  };
  whole(b.steps, 1, 'The fine-tuning budget in steps');
  whole(b.p, 2, 'P (identities per batch)');
  whole(b.k, 2, 'K (images per identity in a batch)');
  if (!(b.lr > 0)) throw new LabError('bad-argument', `The fine-tuning learning rate must be above 0; got ${String(b.lr)}.`);
  const s = b.preShare ?? 0.5;
  if (!(s >= 0 && s < 1)) throw new LabError('bad-argument', `The share of fine-tuning before pruning must be in [0, 1); got ${String(s)}.`);
}

/** Images seen in `steps` optimiser steps. */
export function imagesFor(b: Pick<FineTuneBudget, 'p' | 'k'>, steps: number): number {
  return steps * b.p * b.k;
}

/** Scenario 2's split of the budget: steps before pruning, steps after (summing to the total). */
export function splitSteps(b: FineTuneBudget): { pre: number; post: number } {
  const pre = Math.min(b.steps - 1, Math.round(b.steps * (b.preShare ?? 0.5)));
  return { pre, post: b.steps - pre };
}

/**
 * Soft pruning's epochs: `wanted` (default 5) or the nearest smaller count that divides the
 * budget exactly, so epochs x steps per epoch = the budget's steps.
 */
export function softEpochs(steps: number, wanted = 5): number {
  let e = Math.max(1, Math.min(wanted, steps));
  while (steps % e !== 0) e--;
  return e;
}
