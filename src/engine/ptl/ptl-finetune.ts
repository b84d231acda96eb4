/**
 * Fine-tuning with PTL: the lab's fine-tuning (train/finetune.ts: same defaults, losses,
 * sampler, augmentation, optimiser) with a side branch of BConv-Cells trained jointly with the
 * backbone. The trainer sees the branch as extra parameters and a forward pass; this module adds
 * the cell-state bookkeeping around each step: zero state at every epoch start, the step's new
 * state committed only after its optimiser step, zero state again at the end (evaluation).
 *
 * The branch is part of the fine-tuned model: evaluate with `result.branch.embedder(model)`.
 * The caller owns it and must dispose it. Not supported: resuming from a checkpoint (the trainer's
 * checkpoints do not hold the branch) and channel masks (the join would not respect them; apply
 * surgery first).
 */
import type { ReidModel } from '../model/model';
import type { ReidSplit } from '../data/types';
import { LabError } from '../errors';
import { assertDisjointIdentities } from '../train/identities';
import { resolveTrainConfig, type TrainConfigInput } from '../train/config';
import { DEFAULT_FINETUNE_CONFIG, type FineTuneOptions } from '../train/finetune';
import { runTrainer, Trainer, type TrainHooks, type TrainResult } from '../train/trainer';
import { PtlSideBranch, type PtlConfigInput } from './side-branch';
import { ptlCost, type PtlCost } from './ptl-cost';

export interface PtlFineTuneOptions extends FineTuneOptions {
  /** The branch's settings (side-branch.ts); ignored when `branch` is given. */
  ptl?: PtlConfigInput;
  /** Continue training this branch (built for this model) instead of creating a fresh one. */
  branch?: PtlSideBranch;
}

export interface PtlFineTuneResult extends TrainResult {
  /** The trained side branch, at the zero state. The caller disposes it. */
  branch: PtlSideBranch;
  /** The branch's MACs and parameters, next to the backbone's. */
  cost: PtlCost;
}

/**
 * Fine-tune `model` in place together with a PTL side branch; same arguments as fineTune plus
 * `opts.ptl`. Throws LabError('identity-leak') or 'bad-argument' before touching the model.
 */
export async function fineTunePtl(
  model: ReidModel,
  trainSplit: ReidSplit,
  config: TrainConfigInput = {},
  hooks: TrainHooks = {},
  opts: PtlFineTuneOptions = {},
): Promise<PtlFineTuneResult> {
  if (opts.evaluation) assertDisjointIdentities(trainSplit, opts.evaluation.query, opts.evaluation.gallery);
  if (opts.resume) throw new LabError('bad-argument', 'PTL fine-tuning cannot resume from a checkpoint: checkpoints do not hold the side branch. Start the fine-tuning again.');
  if (opts.masks && opts.masks.size > 0) throw new LabError('bad-argument', 'PTL fine-tuning needs a physically pruned model, not channel masks: apply the pruning (surgery) first.');
  if (opts.branch?.isDisposed) throw new LabError('bad-argument', 'The PTL side branch to continue has been disposed.');
  opts.branch?.checkSpec(model.spec);
  // As fineTune: triplet only unless a fresh ID classifier is asked for.
  const idWeight = opts.withIdLoss ?? 0;
  const input: TrainConfigInput = idWeight > 0 ? { classifier: 'fresh', ...config, loss: { ...config.loss, id: idWeight } } : config;
  const cfg = resolveTrainConfig(input, DEFAULT_FINETUNE_CONFIG);

  const branch = opts.branch ?? PtlSideBranch.create(model.spec, { seed: cfg.seed, ...opts.ptl });
  let trainer: Trainer | undefined;
  try {
    branch.reset();
    trainer = new Trainer(model, trainSplit, cfg, {
      regularizer: opts.regularizer,
      extraParams: branch.params,
      // The sampler has drawn this step's batch when the forward runs, so trainer.epoch is its epoch.
      forward: (spec, params, x, fopts) => {
        branch.startEpoch(trainer!.epoch);
        return branch.forward(spec, params, x, fopts);
      },
    });
    const result = await runTrainer(trainer, {
      ...hooks,
      afterStep: async (m, t) => {
        branch.commit();
        await hooks.afterStep?.(m, t);
      },
    });
    branch.reset();
    return { ...result, branch, cost: ptlCost(model.spec, branch.config) };
  } catch (e) {
    if (opts.branch) branch.reset();
    else branch.dispose();
    throw e;
  } finally {
    trainer?.dispose();
  }
}
