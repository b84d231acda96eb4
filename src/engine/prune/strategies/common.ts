/**
 * What every pruning strategy shares: progress reports, cancellation, the fine-tuning data and
 * its identity check, partial targets for multi-step strategies, and in-place filter zeroing.
 *
 * Ownership: a strategy never changes the model it is given. It works on copies and returns a
 * new model; when cancelled it releases what it created and throws CancelledError, so the
 * caller's model is as before.
 */
import * as tf from '@tensorflow/tfjs';
import type { ReidModel } from '../../model/model';
import type { ReidSplit } from '../../data/types';
import { CancelledError, LabError } from '../../errors';
import { assertDisjointIdentities } from '../../train/identities';
import type { CancelSignal, TrainProgress } from '../../train/trainer';
import type { TrainConfigInput } from '../../train/config';
import type { CriterionData } from '../criterion';
import { groupLayout, producerConvs } from '../groups';
import { maskVectors } from '../masks';
import type { PruneSettings, PruneTarget } from '../settings';
import type { Cost } from '../target';
import type { PrunePlan } from '../plan';

export interface StrategyProgress {
  /** e.g. "score", "surgery", "fine-tune", "penalty", "evaluate", "harden". */
  phase: string;
  /** Overall progress of the strategy, 0..1. */
  fraction: number;
  message: string;
  /** The training step report when the phase trains. */
  train?: TrainProgress;
}

/** Fine-tuning data and its training configuration (fineTune's defaults fill the rest). */
export interface FineTuneSpec {
  /** A labelled training split of the target domain (never evaluation identities). */
  split: ReidSplit;
  config?: TrainConfigInput;
  /** Train a fresh ID classifier alongside the triplet loss (weight of the ID loss). */
  withIdLoss?: number;
}

export interface EvaluationIds {
  query: Pick<ReidSplit, 'pids'>;
  gallery: Pick<ReidSplit, 'pids'>;
}

export interface StrategyBase {
  signal?: CancelSignal;
  onProgress?: (p: StrategyProgress) => void;
  /** The set the result will be scored on: training data sharing its identities is refused. */
  evaluation?: EvaluationIds;
  /** Data for data-driven criteria (a training split). */
  criterionData?: CriterionData;
}

export interface StrategyResult {
  /** The new, physically pruned model (the caller owns it). */
  model: ReidModel;
  /** The plans carried out, in order. */
  plans: PrunePlan[];
  before: Cost;
  after: Cost;
}

export function checkCancelled(signal: CancelSignal | undefined, what: string): void {
  if (signal?.aborted) throw new CancelledError(what);
}

/** Refuse any training or scoring split that shares identities with the evaluation set. */
export function checkIdentities(evaluation: EvaluationIds | undefined, ...splits: (Pick<ReidSplit, 'pids'> | undefined)[]): void {
  if (!evaluation) return;
  for (const s of splits) if (s) assertDisjointIdentities(s, evaluation.query, evaluation.gallery);
}

/**
 * The target after a fraction `phi` of a multi-step schedule, on the ORIGINAL model's scale:
 * the rate rises linearly to the final rate; a cost target's kept share falls linearly from 1.
 */
export function partialTarget(target: PruneTarget, phi: number): PruneTarget {
  const f = Math.min(1, Math.max(0, phi));
  if (target.kind === 'rate') return { kind: 'rate', rate: f * target.rate };
  return { kind: target.kind, keep: 1 - f * (1 - target.keep) };
}

/** Settings with a different target. */
export function withTarget(settings: PruneSettings, target: PruneTarget): PruneSettings {
  return { ...settings, target };
}

export function positiveInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new LabError('bad-argument', `${what} must be a whole number of at least 1; found ${String(v)}.`);
  return v;
}

export function nonNegative(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new LabError('bad-argument', `${what} must be a number of at least 0; found ${String(v)}.`);
  return v;
}

/**
 * Soft pruning's zeroing step, in place: the dropped channels' producer conv filters are set to
 * zero; BatchNorm parameters are left alone. This is what SFP/FPGM do, and it matters: with a
 * zero filter and an intact BatchNorm the filter still receives gradient in training mode, so it
 * can grow back; zeroing the BatchNorm's gamma as well would cut its gradient to exactly zero.
 */
export function zeroProducerFilters(model: ReidModel, keep: ReadonlyMap<string, readonly number[]>): void {
  const vectors = maskVectors(model.spec, keep);
  tf.tidy(() => {
    for (const g of groupLayout(model.spec).groups) {
      const m = vectors.get(g.id);
      if (!m) continue;
      const mask = tf.tensor1d(m);
      // Conv weights are [kh, kw, in, out]: the mask broadcasts over the out axis.
      for (const name of producerConvs(g)) {
        const v = model.params.get(name)!;
        v.assign(tf.mul(v, mask));
      }
    }
  });
}

/** Steps of P x K images that make up about `images` images (at least one). */
export function stepsForImages(images: number, p: number, k: number): number {
  return Math.max(1, Math.round(images / (p * k)));
}
