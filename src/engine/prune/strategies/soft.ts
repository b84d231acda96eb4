/**
 * Soft (progressive) pruning: PSFP and soft FPGM.
 *
 * Every epoch the channels are re-scored on the current weights and the lowest fraction P'(t)
 * of filters is set to zero (zeroProducerFilters: conv filters only, so they keep receiving
 * gradient and may grow back); training continues with all filters. After the last epoch the
 * model is zeroed at the full target and hardened: the zeroed channels are physically removed
 * (surgery), so the hardened model computes what the masked soft model computes.
 *
 * - PSFP (He et al., "Progressive deep neural networks acceleration via soft filter pruning"):
 *   l2-norm selection, rate rising to the target P with decay D:
 *   P'(t) = P (1 - exp(-D t)) / (1 - exp(-D T)) over epochs t = 0..T (normalised so the final
 *   zeroing uses exactly P). The default D is the one for which a quarter of the epochs reach
 *   3/4 of P (our reading of the paper's choice; pass `decay` to set it).
 * - Soft FPGM (He et al., 2019): the same loop with FPGM's geometric-median selection at the
 *   full rate every epoch (schedule 'constant').
 * The selection is the criterion passed in (l2 for PSFP, fpgm for soft FPGM), so any
 * weight-based criterion can be run softly. Cost targets follow the same schedule on the kept
 * cost share.
 */
import type { ReidModel } from '../../model/model';
import { ReidModel as Model } from '../../model/model';
import { fineTune } from '../../train/finetune';
import { DEFAULT_FINETUNE_CONFIG } from '../../train/finetune';
import { resolveTrainConfig } from '../../train/config';
import { LabError } from '../../errors';
import type { TrainResult } from '../../train/trainer';
import type { Criterion } from '../criterion';
import type { KeepSets } from '../keep-set';
import { applyKeepSetsToArrays } from '../masks';
import { applyPlan, planPrune, type PrunePlan } from '../plan';
import { resolvePruneSettings, type PruneSettings, type PruneSettingsInput } from '../settings';
import { checkCancelled, checkIdentities, partialTarget, positiveInt, withTarget, zeroProducerFilters, type FineTuneSpec, type StrategyBase, type StrategyResult } from './common';

export type SoftVariant = 'psfp' | 'fpgm';

export interface SoftOptions extends StrategyBase {
  variant: SoftVariant;
  /** Selection criterion (weights only): l2 for PSFP, fpgm for soft FPGM. */
  criterion: Criterion;
  settings: PruneSettingsInput | PruneSettings;
  /** Training data and configuration (config.steps is replaced by epochs x stepsPerEpoch). */
  train: FineTuneSpec;
  epochs: number;
  /** Steps per epoch (default: one pass over the split's images, at least 1). */
  stepsPerEpoch?: number;
  /** 'progressive' (PSFP's rising rate) or 'constant' (the full rate every epoch). */
  schedule?: 'progressive' | 'constant';
  /** PSFP's decay D (per epoch). */
  decay?: number;
  /** Also return the soft model (zeroed at the final keep-set, unpruned); the caller disposes it. */
  keepSoftModel?: boolean;
}

export interface SoftResult extends StrategyResult {
  /** The final keep-set (on the original spec) used for hardening. */
  keep: KeepSets;
  /** The rate fraction of the schedule at each epoch's zeroing (0..1 of the target), and the final 1. */
  schedule: number[];
  training: TrainResult;
  softModel?: ReidModel;
}

/** Decay D for which P'(T/4) = 3/4 P under the normalised schedule. */
export function defaultPsfpDecay(epochs: number): number {
  // u = exp(-D T / 4) solves (1 - u) / (1 - u^4) = 3/4, i.e. u + u^2 + u^3 = 1/3.
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const u = (lo + hi) / 2;
    if (u + u * u + u * u * u > 1 / 3) hi = u;
    else lo = u;
  }
  return (-4 * Math.log((lo + hi) / 2)) / epochs;
}

/** PSFP's schedule as a fraction of the final rate: 0 at t = 0, 1 at t = epochs. */
export function psfpFraction(t: number, epochs: number, decay = defaultPsfpDecay(epochs)): number {
  if (!(decay > 0)) throw new LabError('bad-argument', `PSFP's decay must be a positive number; found ${decay}.`);
  return (1 - Math.exp(-decay * t)) / (1 - Math.exp(-decay * epochs));
}

export async function pruneSoft(model: ReidModel, opts: SoftOptions): Promise<SoftResult> {
  const settings = resolvePruneSettings(opts.settings);
  if (opts.variant !== 'psfp' && opts.variant !== 'fpgm') throw new LabError('bad-argument', `The soft pruning variant must be "psfp" or "fpgm"; found ${JSON.stringify(opts.variant)}.`);
  if (opts.criterion.needs !== 'weights' && opts.criterion.needs !== 'nothing') {
    throw new LabError('bad-argument', `Soft pruning re-scores every epoch from the weights; ${opts.criterion.name} needs data, so it cannot be used here.`);
  }
  const epochs = positiveInt(opts.epochs, 'The number of soft-pruning epochs');
  const schedule = opts.schedule ?? (opts.variant === 'psfp' ? 'progressive' : 'constant');
  const cfg = resolveTrainConfig({ seed: settings.seed, ...opts.train.config }, DEFAULT_FINETUNE_CONFIG);
  const spe = positiveInt(opts.stepsPerEpoch ?? Math.max(1, Math.floor(opts.train.split.count / (cfg.p * cfg.k))), 'Steps per epoch');
  const decay = opts.decay ?? defaultPsfpDecay(epochs);
  checkIdentities(opts.evaluation, opts.train.split);
  const report = opts.onProgress ?? (() => {});
  const fractions: number[] = [];

  const soft = await model.clone();
  const zeroAt = async (phi: number): Promise<PrunePlan> => {
    const plan = await planPrune(soft, opts.criterion, withTarget(settings, partialTarget(settings.target, phi)), { signal: opts.signal });
    zeroProducerFilters(soft, plan.keep);
    fractions.push(phi);
    return plan;
  };
  const fractionAt = (t: number) => (schedule === 'constant' ? 1 : psfpFraction(t, epochs, decay));

  try {
    report({ phase: 'soft', fraction: 0, message: 'Zeroing the lowest filters (epoch 1)' });
    await zeroAt(fractionAt(0));
    const total = epochs * spe;
    const training = await fineTune(
      soft,
      opts.train.split,
      { ...opts.train.config, seed: cfg.seed, steps: total },
      {
        signal: opts.signal,
        onProgress: (p) => report({ phase: 'soft', fraction: (0.9 * p.step) / total, message: `Training with soft pruning, epoch ${Math.ceil(p.step / spe)} of ${epochs}`, train: p }),
        afterStep: async (m) => {
          // Re-select and zero at every epoch boundary but the last (the final zeroing follows).
          if (m.step % spe === 0 && m.step < total) await zeroAt(fractionAt(m.step / spe));
        },
      },
      { withIdLoss: opts.train.withIdLoss, evaluation: opts.evaluation },
    );
    checkCancelled(opts.signal, 'Soft pruning');

    report({ phase: 'harden', fraction: 0.9, message: 'Hardening: removing the zeroed channels' });
    const plan = await zeroAt(1);
    // Zero the dropped channels' BatchNorms too, so the soft model itself computes the masked network.
    const arrays = applyKeepSetsToArrays(soft.spec, await soft.toArrays(), plan.keep);
    const finalSoft = Model.fromArrays(soft.spec, arrays);
    soft.dispose();
    let hardened: ReidModel;
    try {
      hardened = await applyPlan(finalSoft, plan, { criterion: opts.criterion });
    } catch (e) {
      finalSoft.dispose();
      throw e;
    }
    const result: SoftResult = { model: hardened, plans: [plan], before: plan.before, after: plan.after, keep: plan.keep, schedule: fractions, training };
    if (opts.keepSoftModel) result.softModel = finalSoft;
    else finalSoft.dispose();
    report({ phase: 'done', fraction: 1, message: 'Done' });
    return result;
  } catch (e) {
    soft.dispose();
    throw e;
  }
}
