/**
 * The contract every pruning criterion implements (one file per criterion in criteria/).
 *
 * A criterion scores the channels of dependency groups: higher = more important, the lowest are
 * pruned. Scores are per group, one number per channel. How a criterion combines the group's
 * members (e.g. a trunk group has several producer convs) is documented in its file.
 *
 * Criteria that reconstruct (ThiNet, He et al.'s channel pruning) may also return new weights for
 * the consumers of the pruned channels (least-squares rescaling), applied after surgery.
 */
import type { ReidModel } from '../model/model';
import type { ReidSplit } from '../data/types';
import type { ParamArrays } from '../model/init';
import type { DependencyGroup } from './groups';
import type { KeepSets } from './keep-set';
import type { CancelSignal } from '../train/trainer';

export type CriterionId =
  | 'random'
  | 'l1'
  | 'l2'
  | 'bn-scale'
  | 'taylor'
  | 'entropy'
  | 'fpgm'
  | 'cop'
  | 'thinet'
  | 'channel-pruning';

/** What a criterion needs to compute its scores. */
export type CriterionNeeds = 'nothing' | 'weights' | 'data' | 'data+gradients';

/** Per group id, one importance score per channel (higher = keep). */
export type GroupScores = Map<string, Float32Array>;

export interface CriterionData {
  /** Images to run (a training split of the domain pruning happens in; never evaluation ids). */
  split: ReidSplit;
  /** Number of batches and images per batch to use (data-driven criteria). */
  batches: number;
  batchSize: number;
}

export interface CriterionContext {
  model: ReidModel;
  /** The groups to score (already filtered by scope and protection). */
  groups: readonly DependencyGroup[];
  /** Required when `needs` includes data. */
  data?: CriterionData;
  seed: number;
  signal?: CancelSignal;
  onProgress?: (fraction: number, message: string) => void;
  /** Criterion-specific options (e.g. COP's alpha/beta/gamma), documented in its file. */
  options?: Record<string, number | string | boolean>;
}

export interface Criterion {
  id: CriterionId;
  /** Display name, e.g. "Hao Li (L1)". */
  name: string;
  needs: CriterionNeeds;
  /**
   * Scores from data when a caller gives it, from weights otherwise (COP: activation correlations,
   * the COP paper's choice, else filter similarity). Callers with a training split pass it.
   */
  usesDataWhenGiven?: boolean;
  /** One paragraph for the UI: what it measures and why it is a sensible proxy. */
  explanation: string;
  /** The score as a formula (plain text / unicode, readable in the UI). */
  formula: string;
  /**
   * How scores of different layers are made comparable for global ranking (named in the UI and
   * the docs), e.g. "l2 per layer" (Molchanov), "max off-diagonal correlation" (COP), or "none".
   */
  globalNormalisation: string;
  score(ctx: CriterionContext): Promise<GroupScores>;
  /**
   * Optional: after the keep-sets are chosen, return adjusted consumer weights of the ORIGINAL
   * (unpruned) model for the kept channels (reconstruction criteria); surgery then slices them.
   */
  reconstruct?(ctx: CriterionContext, keep: KeepSets): Promise<ParamArrays>;
}

/** Scoring cannot run without images of the pruning domain. */
export function requiresData(c: Criterion): boolean {
  return c.needs === 'data' || c.needs === 'data+gradients';
}

/** A caller that has a training split should pass it: required, used when given, or needed to reconstruct. */
export function wantsData(c: Criterion): boolean {
  return requiresData(c) || !!c.usesDataWhenGiven || !!c.reconstruct;
}
