/**
 * AutoBalanced filter pruning (Ding et al., 2018): train with a penalty that shrinks the filters
 * chosen for pruning and lets the others grow, so that cutting them later costs little; then
 * prune them and retrain.
 *
 * Per layer (dependency group): M_i = l1 norm of filter i; the r kept filters are the r largest
 * M_i, theta = the r-th largest M_i; to-prune filters (P) get lambda_i = 1 + log(theta / M_i)
 * (> 1, larger for smaller filters), kept filters (R) get lambda_i = -1 - log(M_i / theta) (<= -1,
 * more negative for larger filters). The regulariser is
 *   alpha * sum_P lambda_i ||W_i||^2 + tau * sum_R lambda_i ||W_i||^2,
 * with tau chosen so the two sums cancel on the starting weights (the penalty starts at zero and
 * only redistributes magnitude from P to R). lambda and tau are fixed at the start; ||W_i||^2 is
 * live. log is the natural logarithm. A filter of a trunk group spans all its producer convs.
 */
import * as tf from '@tensorflow/tfjs';
import type { ReidModel } from '../../model/model';
import { listParams } from '../../model/names';
import { fineTune } from '../../train/finetune';
import type { TrainResult } from '../../train/trainer';
import type { ParamTensors } from '../../model/forward';
import { LabError } from '../../errors';
import type { Criterion, GroupScores } from '../criterion';
import { prunableGroups, producerConvs, type DependencyGroup } from '../groups';
import { applyPlan, planPrune } from '../plan';
import { resolvePruneSettings, type PruneSettings, type PruneSettingsInput } from '../settings';
import { checkCancelled, checkIdentities, nonNegative, type FineTuneSpec, type StrategyBase, type StrategyResult } from './common';

export interface BalancedCoefficients {
  lambda: Float64Array;
  theta: number;
  tau: number;
  /** sum_P lambda_i ||W_i||^2 and sum_R lambda_i ||W_i||^2 on the given norms. */
  pruneSum: number;
  keepSum: number;
  /** Per filter, the factor on ||W_i||^2 in the regulariser: alpha*lambda_i (P) or tau*lambda_i (R). */
  coef: Float64Array;
}

/**
 * The balanced penalty's coefficients for one layer. `l1` are the M_i, `sq` the ||W_i||^2,
 * `kept` the indices of R (the rest are P).
 */
export function balancedCoefficients(l1: ArrayLike<number>, sq: ArrayLike<number>, kept: readonly number[], alpha: number): BalancedCoefficients {
  const n = l1.length;
  const isKept = new Uint8Array(n);
  for (const i of kept) isKept[i] = 1;
  const r = kept.length;
  const sorted = Array.from(l1).sort((a, b) => b - a);
  const theta = r > 0 ? sorted[r - 1] : sorted[0];
  // A filter that is exactly zero would give log(theta / 0); clamp it far below theta instead.
  const tiny = Math.max(theta, 1e-30) * 1e-12;
  const lambda = new Float64Array(n);
  let pruneSum = 0;
  let keepSum = 0;
  for (let i = 0; i < n; i++) {
    const m = Math.max(l1[i], tiny);
    if (isKept[i]) {
      lambda[i] = -1 - Math.log(m / theta);
      keepSum += lambda[i] * sq[i];
    } else {
      lambda[i] = 1 + Math.log(theta / m);
      pruneSum += lambda[i] * sq[i];
    }
  }
  const tau = keepSum !== 0 ? (-alpha * pruneSum) / keepSum : 0;
  const coef = new Float64Array(n);
  for (let i = 0; i < n; i++) coef[i] = (isKept[i] ? tau : alpha) * lambda[i];
  return { lambda, theta, tau, pruneSum, keepSum, coef };
}

/** Per group, the l1 norm and squared l2 norm of every filter (over all producer convs). */
async function filterNorms(model: ReidModel, groups: readonly DependencyGroup[]): Promise<Map<string, { l1: Float64Array; sq: Float64Array }>> {
  const arrays = await model.toArrays();
  const shapes = new Map(listParams(model.spec).map((p) => [p.name, p.shape]));
  const out = new Map<string, { l1: Float64Array; sq: Float64Array }>();
  for (const g of groups) {
    const l1 = new Float64Array(g.channels);
    const sq = new Float64Array(g.channels);
    for (const name of producerConvs(g)) {
      const w = arrays.get(name)!;
      const outC = shapes.get(name)![3];
      for (let i = 0; i < w.length; i++) {
        const c = i % outC; // [kh, kw, in, out]: the out index varies fastest
        l1[c] += Math.abs(w[i]);
        sq[c] += w[i] * w[i];
      }
    }
    out.set(g.id, { l1, sq });
  }
  return out;
}

export interface AutoBalancedOptions extends StrategyBase {
  /** The target and ranking; the selection is AutoBalanced's own (l1 norms), criterion 'l1'. */
  settings: Omit<PruneSettingsInput, 'criterion'> | PruneSettings;
  /** Weight of the penalty on the to-prune filters (default 1e-3). */
  alpha?: number;
  /** Training with the penalty (before pruning). */
  penalty: FineTuneSpec;
  /** Retraining after pruning (optional). */
  retrain?: FineTuneSpec;
  /** Also return the model right after the penalty training (unpruned); the caller disposes it. */
  keepPenalisedModel?: boolean;
}

export interface AutoBalancedResult extends StrategyResult {
  /** Per group, the coefficients used. */
  coefficients: Map<string, BalancedCoefficients>;
  penaltyTraining: TrainResult;
  retraining?: TrainResult;
  penalisedModel?: ReidModel;
}

export async function pruneAutoBalanced(model: ReidModel, opts: AutoBalancedOptions): Promise<AutoBalancedResult> {
  const settings = resolvePruneSettings({ ...opts.settings, criterion: 'l1' } as PruneSettingsInput);
  const alpha = nonNegative(opts.alpha ?? 1e-3, "AutoBalanced's alpha");
  checkIdentities(opts.evaluation, opts.penalty.split, opts.retrain?.split);
  const report = opts.onProgress ?? (() => {});
  const groups = prunableGroups(model.spec, settings.scope, settings.protection);
  if (groups.length === 0) throw new LabError('bad-argument', 'No group can be pruned with this scope and protection.');

  // Choose P and R on the starting weights, by l1 norm, with the settings' target and ranking.
  report({ phase: 'score', fraction: 0, message: 'Measuring filter norms' });
  const norms = await filterNorms(model, groups);
  const scores: GroupScores = new Map([...norms].map(([id, v]) => [id, Float32Array.from(v.l1)]));
  const l1Rule: Criterion = {
    id: 'l1',
    name: 'AutoBalanced (l1 norm)',
    needs: 'weights',
    explanation: 'AutoBalanced chooses the filters to prune by their l1 norm.',
    formula: 'M_i = sum |W_i|',
    globalNormalisation: 'none',
    score: async () => scores,
  };
  const plan = await planPrune(model, l1Rule, settings, { scores });
  const coefficients = new Map<string, BalancedCoefficients>();
  for (const g of groups) coefficients.set(g.id, balancedCoefficients(norms.get(g.id)!.l1, norms.get(g.id)!.sq, plan.keep.get(g.id)!, alpha));

  const work = await model.clone();
  const coefTensors = new Map<string, tf.Tensor1D>();
  for (const [id, c] of coefficients) coefTensors.set(id, tf.tensor1d(Float32Array.from(c.coef)));
  const regularizer = (params: ParamTensors): tf.Scalar =>
    tf.tidy(() => {
      let sum: tf.Scalar = tf.scalar(0);
      for (const g of groups) {
        const coef = coefTensors.get(g.id)!;
        for (const name of producerConvs(g)) {
          const w = params.get(name)!;
          // ||W_i||^2 per output filter, weighted by its coefficient.
          sum = tf.add(sum, tf.sum(tf.mul(tf.sum(tf.square(w), [0, 1, 2]), coef)));
        }
      }
      return sum;
    });

  let pruned: ReidModel | undefined;
  let handedOver = false;
  try {
    const pen = opts.penalty;
    const penaltyTraining = await fineTune(
      work,
      pen.split,
      { seed: settings.seed, ...pen.config },
      { signal: opts.signal, onProgress: (p) => report({ phase: 'penalty', fraction: (0.6 * p.step) / p.totalSteps, message: `Training with the balanced penalty, step ${p.step} of ${p.totalSteps}`, train: p }) },
      { withIdLoss: pen.withIdLoss, evaluation: opts.evaluation, regularizer },
    );
    checkCancelled(opts.signal, 'AutoBalanced pruning');
    report({ phase: 'surgery', fraction: 0.6, message: 'Removing the penalised filters' });
    pruned = await applyPlan(work, plan);
    let retraining: TrainResult | undefined;
    if (opts.retrain) {
      const rt = opts.retrain;
      retraining = await fineTune(
        pruned,
        rt.split,
        { seed: settings.seed + 1, ...rt.config },
        { signal: opts.signal, onProgress: (p) => report({ phase: 'fine-tune', fraction: 0.6 + (0.4 * p.step) / p.totalSteps, message: `Retraining, step ${p.step} of ${p.totalSteps}`, train: p }) },
        { withIdLoss: rt.withIdLoss, evaluation: opts.evaluation },
      );
    }
    report({ phase: 'done', fraction: 1, message: 'Done' });
    const result: AutoBalancedResult = { model: pruned, plans: [plan], before: plan.before, after: plan.after, coefficients, penaltyTraining };
    if (retraining) result.retraining = retraining;
    if (opts.keepPenalisedModel) {
      result.penalisedModel = work;
      handedOver = true;
    }
    return result;
  } catch (e) {
    pruned?.dispose();
    throw e;
  } finally {
    if (!handedOver) work.dispose();
    for (const t of coefTensors.values()) t.dispose();
  }
}
