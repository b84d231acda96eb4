/**
 * `lab prune`: prune a model folder with a criterion and a target (a channel rate or a share of
 * the MACs), by one of the strategies, optionally fine-tuning on a small labelled subset of the
 * target domain; print the cost and accuracy before and after; write the pruned model folder.
 * Data-driven criteria score on the dataset's TRAIN split (never its query/gallery identities).
 */
import { loadCliModel } from '../model';
import type { ReidModel } from '../../engine/model/model';
import { CRITERIA, getCriterion } from '../../engine/prune/criteria/index';
import { wantsData, type CriterionData } from '../../engine/prune/criterion';
import type { PruneScope } from '../../engine/prune/groups';
import { describeTarget, resolvePruneSettings, type RankingMode } from '../../engine/prune/settings';
import { pruneOnce } from '../../engine/prune/strategies/once';
import { pruneIterative } from '../../engine/prune/strategies/iterative';
import { pruneSoft } from '../../engine/prune/strategies/soft';
import { pruneAutoBalanced } from '../../engine/prune/strategies/auto-balanced';
import type { StrategyProgress, StrategyResult } from '../../engine/prune/strategies/common';
import { softEpochs } from '../../engine/scenarios/budget';
import { LabError } from '../../engine/errors';
import { serialisePlan, specDifference } from '../../engine/prune/plan-json';
import type { PrunePlan } from '../../engine/prune/plan';
import { PLAN_FILE } from './export';
import { ProgressBar } from '../progress';
import { bool, num, oneOf, str, type Flags } from '../args';
import { costOnly, fineTuneConfig, fineTuneData, formatBeforeAfter, saveDerived, snapshot } from './finetune';
import { derivedOutput } from '../derived-output';

export const STRATEGIES = ['once', 'iterative', 'psfp', 'fpgm-soft', 'auto-balanced'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

/**
 * The plan as plan.json when it was made for the model that was read (prune once, soft
 * strategies), so `lab export --format plan` can hand it to the PyTorch companion; an iterative
 * run's last plan is for an intermediate model and would mislead there.
 */
function planFiles(plan: PrunePlan, source: ReidModel): Record<string, string> {
  return specDifference(plan.spec, source.spec) === undefined ? { [PLAN_FILE]: serialisePlan(plan) } : {};
}

export async function pruneCommand(flags: Flags, argv: string[]): Promise<void> {
  const dir = str(flags, 'model');
  const strategy = oneOf<StrategyName>(flags, 'strategy', STRATEGIES, 'once');
  const defaultCriterion = strategy === 'psfp' ? 'l2' : strategy === 'fpgm-soft' ? 'fpgm' : 'l1';
  const criterion = getCriterion(oneOf(flags, 'criterion', Object.keys(CRITERIA), defaultCriterion));
  const hasRate = flags.rate !== undefined;
  const hasMacs = flags['macs-target'] !== undefined;
  if (hasRate === hasMacs) throw new LabError('bad-argument', 'Give exactly one pruning target: --rate R (fraction of channels to remove) or --macs-target T (fraction of the MACs to keep).');
  const settings = resolvePruneSettings({
    criterion: criterion.id,
    ...(hasRate ? { rate: num(flags, 'rate', 0) } : { macsTarget: num(flags, 'macs-target', 1) }),
    scope: oneOf<PruneScope>(flags, 'scope', ['inner', 'inner+trunk'], 'inner'),
    ranking: oneOf<RankingMode>(flags, 'ranking', ['local', 'global'], 'local'),
    seed: num(flags, 'seed', 1, { integer: true, min: 0 }),
  });
  const steps = num(flags, 'finetune-steps', 0, { integer: true, min: 0 });
  if ((strategy === 'psfp' || strategy === 'fpgm-soft' || strategy === 'auto-balanced' || strategy === 'iterative') && steps < 2) {
    throw new LabError('bad-argument', `The ${strategy} strategy trains while it prunes; give --finetune-steps of at least 2.`);
  }
  const evaluate = !bool(flags, 'no-eval');
  const out = await derivedOutput(flags, dir);

  const { model } = await loadCliModel(flags);
  let result: StrategyResult | undefined;
  try {
    const data = await fineTuneData(flags, model.spec.input);
    const givesData = wantsData(criterion);
    const criterionData: CriterionData | undefined = givesData
      ? { split: data.dataset.train, batches: num(flags, 'criterion-batches', 4, { integer: true, min: 1 }), batchSize: num(flags, 'criterion-batch-size', 32, { integer: true, min: 2 }) }
      : undefined;
    const before = evaluate ? await snapshot(model, data.evaluation, 'before') : costOnly(model);
    const cfg = fineTuneConfig(flags, steps);
    const images = steps * cfg.p! * cfg.k!;
    const bar = new ProgressBar(`prune (${strategy}, ${criterion.name})`, 100);
    const onProgress = (p: StrategyProgress) => bar.update(Math.round(100 * p.fraction), p.message);
    const common = { evaluation: data.evaluation, criterionData, onProgress };
    const ft = { split: data.fineTune, config: cfg };
    switch (strategy) {
      case 'once':
        result = await pruneOnce(model, { ...common, criterion, settings, fineTune: steps > 0 ? ft : undefined });
        break;
      case 'iterative': {
        const rounds = num(flags, 'rounds', 3, { integer: true, min: 1 });
        result = await pruneIterative(model, { ...common, criterion, settings, rounds, fineTune: { ...ft, imagesPerRound: Math.max(1, Math.round(images / rounds)) } });
        break;
      }
      case 'psfp':
      case 'fpgm-soft': {
        const epochs = softEpochs(steps, num(flags, 'epochs', 5, { integer: true, min: 1 }));
        result = await pruneSoft(model, { ...common, variant: strategy === 'psfp' ? 'psfp' : 'fpgm', criterion, settings, train: ft, epochs, stepsPerEpoch: steps / epochs });
        break;
      }
      case 'auto-balanced': {
        const pre = Math.round(steps / 2);
        result = await pruneAutoBalanced(model, {
          ...common,
          settings,
          penalty: { split: data.fineTune, config: { ...cfg, steps: pre } },
          retrain: { split: data.fineTune, config: { ...cfg, steps: steps - pre, seed: (cfg.seed ?? 1) + 1 } },
        });
        break;
      }
    }
    bar.finish();
    const pruned: ReidModel = result!.model;
    const after = evaluate ? await snapshot(pruned, data.evaluation, 'after') : costOnly(pruned);
    const plan = result!.plans[result!.plans.length - 1];
    await saveDerived(pruned, out, {
      derivedFrom: dir,
      pruning: {
        command: `npm run lab -- ${argv.join(' ')}`,
        strategy,
        criterion: criterion.id,
        criterionName: criterion.name,
        target: describeTarget(settings.target),
        scope: settings.scope,
        ranking: settings.ranking,
        rate: plan.rate,
        targetMet: plan.targetMet,
        message: plan.message,
        criterionData: criterionData ? `${data.dataset.name} train split, ${criterionData.batches} x ${criterionData.batchSize} images` : 'weights only',
        fineTuning: steps > 0 ? { data: data.describe, images: data.fineTune.count, steps, imagesSeen: images } : 'none',
      },
    }, data.dataset.name, after, planFiles(plan, model));
    process.stdout.write(
      `${formatBeforeAfter(before, after)}\n${criterion.name}, ${strategy}: ${describeTarget(settings.target)} (${settings.scope}, ${settings.ranking}); channel rate ${(100 * plan.rate).toFixed(1)}%${plan.targetMet ? '' : ` — target not met: ${plan.message}`}; ${steps > 0 ? `${images} fine-tuning images seen` : 'no fine-tuning'}. Wrote ${out.given}.\n`,
    );
  } finally {
    model.dispose();
    result?.model.dispose();
  }
}
