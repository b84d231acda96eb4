/**
 * Prune once (Hao Li et al.'s recipe, and the paper's default): score every channel, plan the
 * keep-sets for the target, cut them out (surgery), then optionally fine-tune.
 */
import type { ReidModel } from '../../model/model';
import { fineTune } from '../../train/finetune';
import type { TrainResult } from '../../train/trainer';
import type { Criterion } from '../criterion';
import { applyPlan, planPrune } from '../plan';
import { resolvePruneSettings, type PruneSettings, type PruneSettingsInput } from '../settings';
import { checkCancelled, checkIdentities, type FineTuneSpec, type StrategyBase, type StrategyResult } from './common';

export interface PruneOnceOptions extends StrategyBase {
  criterion: Criterion;
  settings: PruneSettingsInput | PruneSettings;
  /** Fine-tune the pruned model afterwards. */
  fineTune?: FineTuneSpec;
}

export interface PruneOnceResult extends StrategyResult {
  fineTune?: TrainResult;
}

export async function pruneOnce(model: ReidModel, opts: PruneOnceOptions): Promise<PruneOnceResult> {
  const settings = resolvePruneSettings(opts.settings);
  checkIdentities(opts.evaluation, opts.fineTune?.split, opts.criterionData?.split);
  const report = opts.onProgress ?? (() => {});
  const ftShare = opts.fineTune ? 0.7 : 0;

  report({ phase: 'score', fraction: 0, message: `Scoring channels with ${opts.criterion.name}` });
  const plan = await planPrune(model, opts.criterion, settings, {
    data: opts.criterionData,
    signal: opts.signal,
    onProgress: (f, message) => report({ phase: 'score', fraction: f * (1 - ftShare) * 0.8, message }),
  });
  checkCancelled(opts.signal, 'Pruning');
  report({ phase: 'surgery', fraction: (1 - ftShare) * 0.8, message: 'Removing channels' });
  const pruned = await applyPlan(model, plan, { criterion: opts.criterion, data: opts.criterionData, signal: opts.signal });
  let ft: TrainResult | undefined;
  if (opts.fineTune) {
    try {
      const f = opts.fineTune;
      ft = await fineTune(
        pruned,
        f.split,
        { seed: settings.seed, ...f.config },
        {
          signal: opts.signal,
          onProgress: (p) => report({ phase: 'fine-tune', fraction: 1 - ftShare + (ftShare * p.step) / p.totalSteps, message: `Fine-tuning, step ${p.step} of ${p.totalSteps}`, train: p }),
        },
        { withIdLoss: f.withIdLoss, evaluation: opts.evaluation },
      );
    } catch (e) {
      pruned.dispose();
      throw e;
    }
  }
  report({ phase: 'done', fraction: 1, message: 'Done' });
  const result: PruneOnceResult = { model: pruned, plans: [plan], before: plan.before, after: plan.after };
  if (ft) result.fineTune = ft;
  return result;
}
