/**
 * A prune plan: which channels a criterion and settings would keep, and the predicted cost
 * before and after, computed without touching the model. `planPrune` makes one (score, rank,
 * reach the target); `applyPlan` carries it out (optional reconstruction, then surgery) and
 * returns a new, physically smaller model. Splitting the two lets the UI show the predicted
 * cost before anything is cut, and lets strategies re-plan between fine-tuning steps.
 */
import { ReidModel } from '../model/model';
import type { ResNetSpec } from '../model/spec';
import { CancelledError, LabError } from '../errors';
import type { CancelSignal } from '../train/trainer';
import { requiresData, type Criterion, type CriterionData, type CriterionId, type GroupScores } from './criterion';
import { prunableGroups, type DependencyGroup } from './groups';
import { keepSetsFromScores, prunedSpec, validateKeepSets, type KeepSets } from './keep-set';
import { pruneArrays } from './surgery';
import { checkScores, removedFraction } from './ranking';
import { resolveTarget, specCost, type Cost } from './target';
import { resolvePruneSettings, type PruneSettings, type PruneSettingsInput } from './settings';

export const PLAN_FORMAT = 'prunability-lab/prune-plan@1';

export interface PlannedGroup {
  id: string;
  kind: DependencyGroup['kind'];
  channels: number;
  kept: number;
}

export interface PrunePlan {
  format: typeof PLAN_FORMAT;
  criterion: CriterionId;
  criterionName: string;
  /** The criterion reconstructs consumer weights (applyPlan then needs the criterion). */
  reconstructs: boolean;
  settings: PruneSettings;
  /** The spec the plan was made for; applyPlan refuses any other. */
  spec: ResNetSpec;
  /** Kept channel indices per prunable group. */
  keep: KeepSets;
  groups: PlannedGroup[];
  /** Rate used (the searched one for a cost target) and the fraction actually removed. */
  rate: number;
  removedFraction: number;
  /** The per-layer normalisation used for global ranking, named ("l2 per layer", or the criterion's own rule). */
  normalisation: string;
  before: Cost;
  after: Cost;
  targetMet: boolean;
  /** Set when the target could not be met: what was reached instead. */
  message?: string;
}

export interface PlanOptions {
  /** Data for data-driven criteria (a training split; never evaluation identities). */
  data?: CriterionData;
  signal?: CancelSignal;
  onProgress?: (fraction: number, message: string) => void;
  /** Scores already computed for these groups (skips the criterion's scoring). */
  scores?: GroupScores;
  /**
   * Kept counts decided by the caller instead of the target (iterative pruning uses it to reach
   * counts defined on the original model). Groups absent keep all.
   */
  counts?: ReadonlyMap<string, number>;
}

const NORMALISATION_NAMES = { none: 'none', l2: 'l2 per layer', max: 'max per layer' } as const;

function normalisationName(settings: PruneSettings, criterion: Criterion): string {
  if (settings.ranking === 'local') return 'not used (local ranking)';
  return settings.normalisation === 'criterion' ? `the criterion's own: ${criterion.globalNormalisation}` : NORMALISATION_NAMES[settings.normalisation];
}

function checkCancel(signal?: CancelSignal): void {
  if (signal?.aborted) throw new CancelledError('Pruning');
}

/** Score `model` with `criterion` and decide the keep-sets; the model is not changed. */
export async function planPrune(model: ReidModel, criterion: Criterion, input: PruneSettingsInput | PruneSettings, opts: PlanOptions = {}): Promise<PrunePlan> {
  if (model.isDisposed) throw new LabError('bad-argument', 'The model to prune has been disposed.');
  const settings = resolvePruneSettings(input);
  if (settings.criterion !== criterion.id) {
    throw new LabError('bad-argument', `The settings name the criterion "${settings.criterion}", but the criterion given is "${criterion.id}".`);
  }
  if (requiresData(criterion) && !opts.data && !opts.scores) {
    throw new LabError('bad-argument', `The ${criterion.name} criterion needs images to score channels; give it a training split.`);
  }
  const spec = model.spec;
  const groups = prunableGroups(spec, settings.scope, settings.protection);
  checkCancel(opts.signal);
  const scores =
    opts.scores ??
    (await criterion.score({
      model,
      groups,
      data: opts.data,
      seed: settings.seed,
      signal: opts.signal,
      onProgress: opts.onProgress,
      options: settings.criterionOptions,
    }));
  checkCancel(opts.signal);
  checkScores(groups, scores);

  let counts: Map<string, number>;
  let rate: number;
  let met = true;
  let message: string | undefined;
  if (opts.counts) {
    counts = new Map(groups.map((g) => [g.id, opts.counts!.get(g.id) ?? g.channels]));
    rate = removedFraction(groups, counts);
  } else {
    const r = resolveTarget(spec, groups, scores, settings.target, settings);
    ({ counts, rate, met, message } = r);
  }
  const keep = keepSetsFromScores(spec, scores, counts);
  const plan: PrunePlan = {
    format: PLAN_FORMAT,
    criterion: criterion.id,
    criterionName: criterion.name,
    reconstructs: typeof criterion.reconstruct === 'function',
    settings,
    spec: structuredClone(spec),
    keep,
    groups: groups.map((g) => ({ id: g.id, kind: g.kind, channels: g.channels, kept: counts.get(g.id)! })),
    rate,
    removedFraction: removedFraction(groups, counts),
    normalisation: normalisationName(settings, criterion),
    before: specCost(spec),
    after: specCost(prunedSpec(spec, counts)),
    targetMet: met,
  };
  if (message) plan.message = message;
  return plan;
}

export interface ApplyOptions {
  /** The plan's criterion; required when it reconstructs (ThiNet, channel pruning). */
  criterion?: Criterion;
  data?: CriterionData;
  signal?: CancelSignal;
  onProgress?: (fraction: number, message: string) => void;
}

/**
 * Carry out a plan: a new, physically pruned model. The input model is untouched and stays the
 * caller's. Refuses a plan made for another architecture or channel counts.
 */
export async function applyPlan(model: ReidModel, plan: PrunePlan, opts: ApplyOptions = {}): Promise<ReidModel> {
  if (model.isDisposed) throw new LabError('bad-argument', 'The model to prune has been disposed.');
  if (plan?.format !== PLAN_FORMAT) throw new LabError('bad-argument', 'This is not a prune plan.');
  if (JSON.stringify(plan.spec) !== JSON.stringify(model.spec)) {
    throw new LabError('bad-argument', 'The prune plan was made for a model with a different architecture or channel counts; plan again for this model.');
  }
  validateKeepSets(model.spec, plan.keep);
  let arrays = await model.toArrays();
  if (plan.reconstructs) {
    const c = opts.criterion;
    if (!c || c.id !== plan.criterion || !c.reconstruct) {
      throw new LabError('bad-argument', `The plan's criterion "${plan.criterionName}" reconstructs the next layers' weights; pass that criterion to apply the plan.`);
    }
    checkCancel(opts.signal);
    const groups = prunableGroups(model.spec, plan.settings.scope, plan.settings.protection);
    const adjusted = await c.reconstruct(
      { model, groups, data: opts.data, seed: plan.settings.seed, signal: opts.signal, onProgress: opts.onProgress, options: plan.settings.criterionOptions },
      plan.keep,
    );
    arrays = new Map([...arrays, ...adjusted]);
  }
  checkCancel(opts.signal);
  const pruned = pruneArrays(model.spec, arrays, plan.keep);
  return ReidModel.fromArrays(pruned.spec, pruned.arrays);
}
