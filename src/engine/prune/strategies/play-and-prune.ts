/**
 * Play and Prune (Singh et al., 2019), as the lab runs it: rounds of
 *   1. split each layer's filters into important / unimportant by l1 norm (the unimportant set
 *      is the lowest `delta` of the current model, in the target's units, capped at the goal);
 *   2. train with an l1 penalty lambda * sum_{i unimportant} ||W_i||_1 that drives those filters
 *      toward zero;
 *   3. cut them out and measure accuracy on a held-out part of the TRAINING split (identities
 *      set aside from fine-tuning; never the evaluation identities);
 *   4. a controller keeps accuracy within a user tolerance of the starting accuracy: a round
 *      within tolerance is kept and the next one prunes more (delta x 1.5); a round beyond it is
 *      undone and retried smaller with a stronger push (delta / 2, lambda x 2), so the filters
 *      are nearer zero when cut.
 * It stops when the target is reached, when a round cannot remove a channel, or after
 * maxRounds. (The paper's controller sets the number of filters and lambda from the accuracy
 * slack; this keeps its shape with simple multiplicative rules.)
 */
import * as tf from '@tensorflow/tfjs';
import type { ReidModel } from '../../model/model';
import type { ReidSplit } from '../../data/types';
import { subsetSplit } from '../../data/types';
import type { ParamTensors } from '../../model/forward';
import { listParams } from '../../model/names';
import { LabError } from '../../errors';
import { Prng } from '../../util/prng';
import { evaluateModel } from '../../eval/evaluate';
import { fineTune } from '../../train/finetune';
import type { Criterion, GroupScores } from '../criterion';
import { prunableGroups, producerConvs } from '../groups';
import { maskVectors } from '../masks';
import { applyPlan, planPrune, type PrunePlan } from '../plan';
import { resolvePruneSettings, type PruneSettings, type PruneSettingsInput } from '../settings';
import { COST_TOLERANCE, specCost } from '../target';
import { checkCancelled, checkIdentities, nonNegative, positiveInt, withTarget, type FineTuneSpec, type StrategyBase, type StrategyResult } from './common';

export interface HeldOut {
  /** The images left for training. */
  fit: ReidSplit;
  query: ReidSplit;
  gallery: ReidSplit;
  ids: number[];
}

/**
 * Set aside a fraction of the training identities (at least 2) for accuracy checks: for each,
 * its first image is a query and the rest gallery (an identity seen by one camera only yields no
 * valid query under the Market-1501 protocol and is skipped by the ranking).
 */
export function holdOutIdentities(split: ReidSplit, fraction: number, seed: number): HeldOut {
  const byId = new Map<number, number[]>();
  for (let i = 0; i < split.count; i++) if (split.pids[i] > 0) (byId.get(split.pids[i]) ?? byId.set(split.pids[i], []).get(split.pids[i])!).push(i);
  const eligible = [...byId.keys()].filter((id) => byId.get(id)!.length >= 2).sort((a, b) => a - b);
  const n = Math.max(2, Math.round(fraction * byId.size));
  if (eligible.length < n || byId.size - n < 2) {
    throw new LabError('bad-dataset', `Play and Prune sets aside ${n} training identities with at least 2 images each to check accuracy and trains on the rest; the training split has ${byId.size} identities (${eligible.length} with 2+ images).`);
  }
  const ids = new Prng(seed).fork('held-out').shuffle(eligible.slice()).slice(0, n).sort((a, b) => a - b);
  const held = new Set(ids);
  const fit: number[] = [];
  const q: number[] = [];
  const g: number[] = [];
  for (let i = 0; i < split.count; i++) if (!held.has(split.pids[i])) fit.push(i);
  for (const id of ids) {
    const imgs = byId.get(id)!;
    const qi = imgs[0];
    q.push(qi);
    for (const i of imgs) if (i !== qi) g.push(i);
  }
  return { fit: subsetSplit(split, fit), query: subsetSplit(split, q), gallery: subsetSplit(split, g), ids };
}

export interface PlayAndPruneRound {
  round: number;
  delta: number;
  lambda: number;
  /** Held-out accuracy after the round's cut. */
  accuracy: number;
  accepted: boolean;
  /** Cost of the model after the round (the accepted one). */
  macs: number;
  params: number;
}

export interface PlayAndPruneOptions extends StrategyBase {
  /** Target (the overall goal), scope, ranking...; selection is by l1 norm. */
  settings: Omit<PruneSettingsInput, 'criterion'> | PruneSettings;
  /** Training split: held-out identities are carved from it; the rest is trained on. */
  train: FineTuneSpec;
  /** Allowed drop of the held-out metric from the start (absolute, e.g. 0.02 = 2 points). */
  tolerance: number;
  metric?: 'mAP' | 'rank1';
  /** Share of training identities held out (default 0.25, at least 2 identities). */
  heldOutFraction?: number;
  /** Initial l1 penalty weight (default 1e-3) and share removed per round (default 0.1). */
  lambda?: number;
  delta?: number;
  maxRounds?: number;
  /** Training steps with the penalty per round (default 20), and after each cut (default 0). */
  penaltySteps?: number;
  recoverSteps?: number;
  /** Replace the held-out evaluation (tests of the controller); receives the held-out split. */
  evaluate?: (model: ReidModel, heldOut: HeldOut) => Promise<number>;
}

export interface PlayAndPruneResult extends StrategyResult {
  rounds: PlayAndPruneRound[];
  baseline: number;
  final: number;
  heldOutIds: number[];
  /** Whether the overall target was reached. */
  targetMet: boolean;
}

function l1Scores(arrays: Map<string, Float32Array>, model: ReidModel, settings: PruneSettings): GroupScores {
  const shapes = new Map(listParams(model.spec).map((p) => [p.name, p.shape]));
  const out: GroupScores = new Map();
  for (const g of prunableGroups(model.spec, settings.scope, settings.protection)) {
    const s = new Float32Array(g.channels);
    for (const name of producerConvs(g)) {
      const w = arrays.get(name)!;
      const outC = shapes.get(name)![3];
      for (let i = 0; i < w.length; i++) s[i % outC] += Math.abs(w[i]);
    }
    out.set(g.id, s);
  }
  return out;
}

export async function playAndPrune(model: ReidModel, opts: PlayAndPruneOptions): Promise<PlayAndPruneResult> {
  const settings = resolvePruneSettings({ ...opts.settings, criterion: 'l1' } as PruneSettingsInput);
  const tolerance = nonNegative(opts.tolerance, 'The accuracy tolerance');
  let lambda = nonNegative(opts.lambda ?? 1e-3, 'The initial penalty');
  let delta = opts.delta ?? 0.1;
  if (!(delta > 0 && delta < 1)) throw new LabError('bad-argument', `The share pruned per round must be between 0 and 1; found ${delta}.`);
  const maxRounds = positiveInt(opts.maxRounds ?? 8, 'The number of rounds');
  const penaltySteps = positiveInt(opts.penaltySteps ?? 20, 'Penalty steps per round');
  const recoverSteps = opts.recoverSteps ?? 0;
  const metric = opts.metric ?? 'mAP';
  checkIdentities(opts.evaluation, opts.train.split);
  const held = holdOutIdentities(opts.train.split, opts.heldOutFraction ?? 0.25, settings.seed);
  const report = opts.onProgress ?? (() => {});
  const measure = async (m: ReidModel) => (opts.evaluate ? opts.evaluate(m, held) : (await evaluateModel(m, held))[metric]);

  const origCost = specCost(model.spec);
  const origGroups = prunableGroups(model.spec, settings.scope, settings.protection);
  const origChannels = origGroups.reduce((a, g) => a + g.channels, 0);
  const target = settings.target;
  /** The round's target on the current model, or null when the goal is reached. */
  const roundTarget = (m: ReidModel): PruneSettings['target'] | null => {
    if (target.kind === 'rate') {
      const now = prunableGroups(m.spec, settings.scope, settings.protection).reduce((a, g) => a + g.channels, 0);
      const goalKept = origChannels - Math.round(target.rate * origChannels);
      if (now <= goalKept) return null;
      return { kind: 'rate', rate: Math.min(delta, (now - goalKept) / now) };
    }
    const cur = specCost(m.spec)[target.kind];
    const goal = target.keep * origCost[target.kind];
    if (cur <= goal * (1 + COST_TOLERANCE)) return null;
    return { kind: target.kind, keep: Math.max(1 - delta, goal / cur) };
  };

  report({ phase: 'evaluate', fraction: 0, message: 'Measuring the starting accuracy on held-out training identities' });
  const baseline = await measure(model);
  const rounds: PlayAndPruneRound[] = [];
  const plans: PrunePlan[] = [];
  let current = model;
  let accuracy = baseline;
  const release = (m: ReidModel | undefined) => {
    if (m && m !== model) m.dispose();
  };
  let targetMet = false;
  try {
    for (let round = 1; round <= maxRounds; round++) {
      checkCancelled(opts.signal, 'Play and Prune');
      const t = roundTarget(current);
      if (!t) {
        targetMet = true;
        break;
      }
      const scores = l1Scores(await current.toArrays(), current, settings);
      const rule: Criterion = { id: 'l1', name: 'Play and Prune (l1 norm)', needs: 'weights', explanation: '', formula: 'sum |W_i|', globalNormalisation: 'none', score: async () => scores };
      const plan = await planPrune(current, rule, withTarget(settings, t), { scores });
      if (plan.groups.every((g) => g.kept === g.channels)) break; // nothing left to cut at this delta
      const frac = (round - 1) / maxRounds;
      report({ phase: 'penalty', fraction: frac, message: `Round ${round}: pushing ${plan.groups.reduce((a, g) => a + g.channels - g.kept, 0)} filters toward zero` });

      // Penalty masks: 1 on the unimportant filters of each group.
      const dropped = new Map<string, tf.Tensor1D>();
      for (const [id, v] of maskVectors(current.spec, plan.keep)) dropped.set(id, tf.tensor1d(v.map((x) => 1 - x)));
      const groups = prunableGroups(current.spec, settings.scope, settings.protection);
      const lam = lambda;
      const regularizer = (params: ParamTensors): tf.Scalar =>
        tf.tidy(() => {
          let sum: tf.Scalar = tf.scalar(0);
          for (const g of groups) {
            const m = dropped.get(g.id);
            if (!m) continue;
            for (const name of producerConvs(g)) sum = tf.add(sum, tf.sum(tf.mul(tf.sum(tf.abs(params.get(name)!), [0, 1, 2]), m)));
          }
          return tf.mul(sum, lam);
        });
      const candidate = await current.clone();
      let pruned: ReidModel | undefined;
      try {
        await fineTune(candidate, held.fit, { seed: settings.seed + round, ...opts.train.config, steps: penaltySteps }, { signal: opts.signal }, { regularizer, withIdLoss: opts.train.withIdLoss });
        pruned = await applyPlan(candidate, plan);
        if (recoverSteps > 0) await fineTune(pruned, held.fit, { seed: settings.seed + 1000 + round, ...opts.train.config, steps: recoverSteps }, { signal: opts.signal }, { withIdLoss: opts.train.withIdLoss });
      } catch (e) {
        release(pruned);
        throw e;
      } finally {
        candidate.dispose();
        for (const m of dropped.values()) m.dispose();
      }
      report({ phase: 'evaluate', fraction: frac + 0.8 / maxRounds, message: `Round ${round}: checking accuracy` });
      let acc: number;
      try {
        acc = await measure(pruned);
      } catch (e) {
        release(pruned);
        throw e;
      }
      const accepted = baseline - acc <= tolerance;
      if (accepted) {
        release(current);
        current = pruned;
        accuracy = acc;
        plans.push(plan);
      } else {
        release(pruned);
      }
      const cost = specCost(current.spec);
      rounds.push({ round, delta, lambda, accuracy: acc, accepted, macs: cost.macs, params: cost.params });
      if (accepted) delta = Math.min(0.5, delta * 1.5);
      else {
        delta /= 2;
        lambda *= 2;
      }
    }
    if (!targetMet) targetMet = roundTarget(current) === null;
  } catch (e) {
    release(current);
    throw e;
  }
  if (current === model) current = await model.clone(); // the caller always gets a new model
  report({ phase: 'done', fraction: 1, message: 'Done' });
  return { model: current, plans, before: origCost, after: specCost(current.spec), rounds, baseline, final: accuracy, heldOutIds: held.ids, targetMet };
}
