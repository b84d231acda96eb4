/**
 * Molchanov et al., "Pruning Convolutional Neural Networks for Resource Efficient Inference"
 * (ICLR 2017): the first-order Taylor estimate of how much the loss changes when a channel's
 * activation is set to zero. ΔL ≈ a · dL/da, averaged over positions and images; its absolute
 * value is the channel's importance.
 *
 * Here (activations.ts, collectTaylor): the loss is the batch-hard triplet loss on the pooled
 * features (the ReID training loss, margin option "margin", default 0.3), on P×K batches of the
 * given split, which must be a TRAINING split of the domain being pruned (its identities are
 * used as labels; evaluation identities must never be used to choose what to prune). Per batch,
 * the term is |mean over the batch's images and the group's positions of a_j · dL/da_j|; it is
 * averaged over the batches. For a trunk group the positions of all its sites (every residual
 * add of the chain) are pooled together, because its mask, and its removal, acts at all of them.
 * The model runs in evaluation mode (running BatchNorm statistics), so the gradient does not flow
 * through batch statistics.
 *
 * Global ranking: Molchanov normalises each layer's scores by their l2 norm (score / ‖scores‖₂)
 * so deep and shallow layers compare. That rescaling does not change any order within a layer, so
 * it is applied by default (option "normalise": "l2" | "none") and local ranking is unaffected.
 *
 * Options: margin (default 0.3), k = images per identity in a batch (default 4; P = batchSize / k
 * identities, at least 2), normalise ("l2" default, or "none" for the raw terms).
 */
import { LabError } from '../../errors';
import { PKSampler } from '../../train/sampler';
import type { Criterion, CriterionContext, GroupScores } from '../criterion';
import { checkScores, choiceOption, numberOption } from './context';
import { collectTaylor, requireData } from './activations';

const NAME = 'Molchanov (Taylor)';

/** Divide each group's scores by their l2 norm (an all-zero group stays zero). */
export function l2NormalisePerGroup(scores: GroupScores): GroupScores {
  const out: GroupScores = new Map();
  for (const [id, s] of scores) {
    const norm = Math.sqrt(s.reduce((a, v) => a + v * v, 0));
    out.set(id, norm > 0 ? s.map((v) => v / norm) : s.slice());
  }
  return out;
}

export const molchanov: Criterion = {
  id: 'taylor',
  name: NAME,
  needs: 'data+gradients',
  explanation:
    "Estimates how much the training loss would change if a channel were switched off, using the first term of a Taylor expansion: the channel's activation times the loss gradient with respect to it, averaged over images and positions. Channels whose removal barely moves the loss are pruned first. It needs a few batches of labelled training images and one backward pass per batch, and it sees what the data actually does, not just the weights.",
  formula: 'score_j = mean over batches of | (1 / (B·P)) Σ_{b, positions} a_j · ∂L/∂a_j |,  L = batch-hard triplet loss',
  globalNormalisation: 'l2 per layer',
  async score(ctx: CriterionContext): Promise<GroupScores> {
    const data = requireData(ctx, NAME);
    const margin = numberOption(ctx, NAME, 'margin', 0.3, { min: 0 });
    const k = numberOption(ctx, NAME, 'k', 4, { integer: true, min: 2 });
    const normalise = choiceOption(ctx, NAME, 'normalise', ['l2', 'none'] as const, 'l2');
    const p = Math.floor(data.batchSize / k);
    if (p < 2) {
      throw new LabError(
        'bad-argument',
        `${NAME} uses the triplet loss, which needs batches of at least 2 identities with ${k} images each (a batch size of ${2 * k} or more); the batch size is ${data.batchSize}.`,
      );
    }
    const sampler = new PKSampler(data.split.pids, p, k, ctx.seed);
    const batches = Array.from({ length: data.batches }, () => sampler.next());
    const terms = await collectTaylor(ctx, ctx.groups, batches, margin, NAME);
    const raw: GroupScores = new Map(ctx.groups.map((g) => [g.id, checkScores(g, Float32Array.from(terms.get(g.id)!))]));
    return normalise === 'l2' ? l2NormalisePerGroup(raw) : raw;
  },
};
