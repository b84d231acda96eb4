/**
 * Iterative pruning: N rounds of "prune a slice, fine-tune a little", re-scoring the channels on
 * the fine-tuned model each round (Molchanov et al.'s original schedule).
 *
 * The target is split so round i reaches i/N of the way on the ORIGINAL model's scale (rate
 * i/N * r, or a kept cost share 1 - i/N * (1 - T)), so the last round lands on the final
 * target whatever the earlier rounds did:
 * - local rate: round i's kept counts are computed on the original group sizes, so the final
 *   counts are exactly those a single local prune at rate r would keep;
 * - global rate: round i removes channels until round(i/N * r * N0) of the original N0 are gone;
 * - cost target: round i's target is re-expressed as a share of the current model's cost.
 */
import type { ReidModel } from '../../model/model';
import { LabError } from '../../errors';
import { fineTune } from '../../train/finetune';
import { DEFAULT_FINETUNE_CONFIG } from '../../train/finetune';
import { resolveTrainConfig } from '../../train/config';
import type { TrainResult } from '../../train/trainer';
import type { Criterion } from '../criterion';
import { prunableGroups } from '../groups';
import { applyPlan, planPrune, type PrunePlan } from '../plan';
import { localKeepCounts } from '../ranking';
import { resolvePruneSettings, type PruneSettings, type PruneSettingsInput } from '../settings';
import { specCost } from '../target';
import { checkCancelled, checkIdentities, partialTarget, positiveInt, stepsForImages, withTarget, type FineTuneSpec, type StrategyBase, type StrategyResult } from './common';

export interface IterativeOptions extends StrategyBase {
  criterion: Criterion;
  settings: PruneSettingsInput | PruneSettings;
  /** Number of prune-and-fine-tune rounds (>= 1). */
  rounds: number;
  /** Fine-tuning after each round. */
  fineTune: FineTuneSpec & {
    /** Images' worth of fine-tuning per round (default 256); overrides config.steps. */
    imagesPerRound?: number;
    /** Images' worth after the last round (default: imagesPerRound). */
    imagesAfterLast?: number;
  };
}

export interface IterativeResult extends StrategyResult {
  fineTunes: TrainResult[];
}

function wholeAtLeastZero(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new LabError('bad-argument', `${what} must be a whole number of at least 0; found ${String(v)}.`);
  return v;
}

export async function pruneIterative(model: ReidModel, opts: IterativeOptions): Promise<IterativeResult> {
  const settings = resolvePruneSettings(opts.settings);
  const rounds = positiveInt(opts.rounds, 'The number of iterative pruning rounds');
  const ft = opts.fineTune;
  checkIdentities(opts.evaluation, ft.split, opts.criterionData?.split);
  const cfg = resolveTrainConfig({ seed: settings.seed, ...ft.config }, DEFAULT_FINETUNE_CONFIG);
  const perRound = positiveInt(ft.imagesPerRound ?? 256, 'Images per fine-tuning round');
  const afterLast = ft.imagesAfterLast === undefined ? perRound : wholeAtLeastZero(ft.imagesAfterLast, 'Images after the last round');
  const report = opts.onProgress ?? (() => {});

  const original = model.spec;
  const origGroups = prunableGroups(original, settings.scope, settings.protection);
  const origChannels = origGroups.reduce((a, g) => a + g.channels, 0);
  const origCost = specCost(original);
  const plans: PrunePlan[] = [];
  const fineTunes: TrainResult[] = [];
  let current = model;
  const release = () => {
    if (current !== model) current.dispose();
  };
  try {
    for (let i = 1; i <= rounds; i++) {
      checkCancelled(opts.signal, 'Iterative pruning');
      const base = (i - 1) / rounds;
      report({ phase: 'score', fraction: base, message: `Round ${i} of ${rounds}: scoring channels` });
      const phi = i / rounds;
      const t = partialTarget(settings.target, phi);
      let roundSettings: PruneSettings;
      let counts: Map<string, number> | undefined;
      if (t.kind === 'rate' && settings.ranking === 'local') {
        roundSettings = withTarget(settings, t);
        counts = localKeepCounts(origGroups, t.rate, settings);
      } else if (t.kind === 'rate') {
        const groups = prunableGroups(current.spec, settings.scope, settings.protection);
        const now = groups.reduce((a, g) => a + g.channels, 0);
        const goalKept = origChannels - Math.round(t.rate * origChannels);
        roundSettings = withTarget(settings, { kind: 'rate', rate: Math.min(Math.max(0, (now - goalKept) / now), 1 - 1e-9) });
      } else {
        const key = t.kind;
        const cur = specCost(current.spec)[key];
        roundSettings = withTarget(settings, { kind: t.kind, keep: Math.min(1, (t.keep * origCost[key]) / cur) });
      }
      const plan = await planPrune(current, opts.criterion, roundSettings, { data: opts.criterionData, signal: opts.signal, counts });
      const next = await applyPlan(current, plan, { criterion: opts.criterion, data: opts.criterionData, signal: opts.signal });
      release();
      current = next;
      plans.push(plan);

      const images = i === rounds ? afterLast : perRound;
      if (images > 0) {
        const steps = stepsForImages(images, cfg.p, cfg.k);
        const share = 1 / rounds;
        fineTunes.push(
          await fineTune(
            current,
            ft.split,
            { ...ft.config, seed: cfg.seed + i, steps },
            {
              signal: opts.signal,
              onProgress: (p) => report({ phase: 'fine-tune', fraction: base + share * (0.2 + (0.8 * p.step) / p.totalSteps), message: `Round ${i} of ${rounds}: fine-tuning, step ${p.step} of ${p.totalSteps}`, train: p }),
            },
            { withIdLoss: ft.withIdLoss, evaluation: opts.evaluation },
          ),
        );
      }
    }
  } catch (e) {
    release();
    throw e;
  }
  report({ phase: 'done', fraction: 1, message: 'Done' });
  return { model: current, plans, before: origCost, after: specCost(current.spec), fineTunes };
}
