/**
 * The paper's scenarios (its Figure 3: the order of pre-training, fine-tuning and pruning), as
 * the lab runs them with SynthReID source as the pre-training domain and SynthReID target as the
 * operational domain:
 *   1 prune-at-source: prune with criterion data from the source training split, then fine-tune
 *     on the target;
 *   2 finetune-prune-finetune: fine-tune on the target, prune on the target, fine-tune again;
 *   3 prune-while-finetuning: soft/progressive pruning (PSFP, soft FPGM) during target fine-tuning;
 *   4 finetune-only: fine-tune a model as it is (the small-network baseline, e.g. ResNet-18; the
 *     same pipeline gives the dense ResNet-34/50 references).
 * Results are plain data (numbers and strings), safe to store as JSON and send across a worker.
 */
import type { CriterionId } from '../prune/criterion';
import type { PruneScope } from '../prune/groups';
import type { RankingMode } from '../prune/settings';
import type { ReidSplit } from '../data/types';
import type { FineTuneBudget } from './budget';

export type ScenarioId = 'prune-at-source' | 'finetune-prune-finetune' | 'prune-while-finetuning' | 'finetune-only';

export const SCENARIO_NUMBER: Record<ScenarioId, 1 | 2 | 3 | 4> = {
  'prune-at-source': 1,
  'finetune-prune-finetune': 2,
  'prune-while-finetuning': 3,
  'finetune-only': 4,
};

export const SCENARIO_TITLE: Record<ScenarioId, string> = {
  'prune-at-source': 'prune at the source, then fine-tune on the target',
  'finetune-prune-finetune': 'fine-tune on the target, prune on the target, fine-tune again',
  'prune-while-finetuning': 'prune while fine-tuning on the target (soft pruning)',
  'finetune-only': 'fine-tune on the target, no pruning',
};

/** A one-shot criterion (scenarios 1 and 2), AutoBalanced's regularised pruning (2), or a soft method (3). */
export type PruneMethod = CriterionId | 'auto-balanced' | 'psfp' | 'fpgm-soft';

export const SOFT_METHODS: readonly PruneMethod[] = ['psfp', 'fpgm-soft'];

export interface ScenarioConfig {
  scenario: ScenarioId;
  /** Required for scenarios 1-3. */
  method?: PruneMethod;
  /** Share of the input model's MACs to keep (scenarios 1-3); see budget.equalCostKeep. */
  macsKeep?: number;
  scope?: PruneScope;
  ranking?: RankingMode;
  budget: FineTuneBudget;
  /** Data-driven criteria: batches x batch size of the pruning domain's images (default 4 x 32). */
  criterionBatches?: number;
  criterionBatchSize?: number;
  /** Scenario 3: soft-pruning epochs over the budget (default 5, adjusted to divide the steps). */
  softEpochs?: number;
  /** AutoBalanced's penalty weight alpha (default the strategy's). */
  alpha?: number;
  seed: number;
}

export interface ScenarioData {
  /** Target-domain fine-tuning subset: identities of the target TRAIN split only. */
  fineTune: ReidSplit;
  /** Target-domain evaluation sets. */
  evaluation: { query: ReidSplit; gallery: ReidSplit };
  /** Source-domain training split: scenario 1's criterion data (large pre-training data). */
  sourceTrain?: ReidSplit;
}

export type ScenarioStepKind = 'evaluate' | 'fine-tune' | 'prune' | 'penalty-train' | 'soft-prune-train';

/** One step a scenario performed, in order. */
export interface ScenarioStep {
  kind: ScenarioStepKind;
  /** The domain whose data the step used. */
  domain: 'source' | 'target';
  label: string;
  /** Optimiser steps and training images seen (0 for steps that do not train). */
  trainSteps: number;
  images: number;
  ms: number;
}

/** A model's cost and accuracy on the target evaluation set (accuracies as fractions 0..1). */
export interface Snapshot {
  macs: number;
  params: number;
  mAP: number;
  rank1: number;
  rank5: number;
}

export interface ScenarioResult {
  scenario: ScenarioId;
  scenarioNumber: 1 | 2 | 3 | 4;
  method?: PruneMethod;
  seed: number;
  config: ScenarioConfig;
  steps: ScenarioStep[];
  /** Training images seen across every training phase (optimiser steps x P x K). */
  imagesSeen: number;
  trainSteps: number;
  /** Identities of every split the scenario trained on (target fine-tuning subset only). */
  trainingIdentities: number[];
  /** The input model and the result, on the target evaluation set. */
  before: Snapshot;
  after: Snapshot;
  /** For pruning scenarios: the requested and reached share of the input model's MACs. */
  macsKeepRequested?: number;
  macsKeepReached?: number;
  pruneRate?: number;
  targetMet?: boolean;
  timingsMs: { total: number; training: number; pruning: number; evaluation: number };
}
